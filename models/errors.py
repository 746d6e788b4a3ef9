"""Errors a user may see: raised by model operations when a rule would be broken."""

from flask_babel import LazyString


class DomainError(Exception):
    """A rule of the domain refused an operation; ``message`` is shown to the user."""

    def __init__(self, message: str | LazyString) -> None:
        super().__init__(str(message))
        self.message = message


class InvalidTransition(DomainError):
    """A membership cannot move from its current status to the one asked for."""
