"""The listening post in an emergency: the emergencies themselves (``routes``), members' signals
(``signals``), the coordinators' situation board (``board``), the anonymised situation report
(``report``) and the information packages (``packages``)."""

from flask import Blueprint

bp = Blueprint("emergencies", __name__, url_prefix="/emergencies")

from blueprints.emergencies import board, packages, report, routes, signals  # noqa: E402,F401
