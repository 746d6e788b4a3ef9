from flask import Blueprint

bp = Blueprint("registration", __name__, url_prefix="/register")

from blueprints.registration import routes  # noqa: E402,F401
