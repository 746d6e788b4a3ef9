from flask import Blueprint

bp = Blueprint("newsletters", __name__, url_prefix="/newsletter")

from blueprints.newsletters import routes  # noqa: E402,F401
