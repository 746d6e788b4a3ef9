from flask import Blueprint

bp = Blueprint("advice", __name__, url_prefix="/advice")

from blueprints.advice import routes  # noqa: E402,F401
