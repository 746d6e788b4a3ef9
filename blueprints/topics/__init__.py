"""Topic proposals: members propose and support topics for the year plan's meetings; coordinators decide.

The pages live under /meetings/ beside the year plan they are drawn on.
"""

from flask import Blueprint

bp = Blueprint("topics", __name__, url_prefix="/meetings")

from blueprints.topics import routes  # noqa: E402,F401
