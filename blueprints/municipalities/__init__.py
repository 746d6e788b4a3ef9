from flask import Blueprint

bp = Blueprint("municipalities", __name__, url_prefix="/municipality")

from blueprints.municipalities import routes  # noqa: E402,F401
