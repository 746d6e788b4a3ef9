from flask import Blueprint

bp = Blueprint("auth", __name__)

from blueprints.auth import routes, second_factor, single_sign_on  # noqa: E402,F401
