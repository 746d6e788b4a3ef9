from flask import Blueprint

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")

from blueprints.coordinator import routes  # noqa: E402,F401
