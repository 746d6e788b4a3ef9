"""Operations: the load balancer's probes (``health``) and the metrics scrape (``metrics``)."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from blueprints.ops import health  # noqa: E402,F401
