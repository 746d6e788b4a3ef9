"""The second factor for coordinators: set-up, the code asked at sign-in, recovery codes (issue 23)."""

from blueprints.auth import bp  # noqa: F401
