"""Single sign-on with OpenID Connect providers (issue 23)."""

from blueprints.auth import bp  # noqa: F401
