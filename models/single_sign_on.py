"""Single sign-on with OpenID Connect providers (issue 23): being built."""

from typing import NamedTuple


class Provider(NamedTuple):
    name: str  # the key in the configuration and the URL: "entra", "idporten"
    display_name: str  # what the sign-in page's button says: "Jobbkonto (Microsoft)"


def configured() -> list[Provider]:
    """The providers configured, in the order configured; none by default."""
    return []
