from flask import Blueprint

bp = Blueprint("anchorings", __name__, url_prefix="/anchoring")

from blueprints.anchorings import routes  # noqa: E402,F401
