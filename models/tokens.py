"""Signed, expiring tokens bound to one purpose.

A token is single-use by what it changes: the verification token names an address
that, once verified, cannot be verified again; the reset token carries the account's
``auth_version``, which a new password moves on; the anchoring token names a request
that, once answered, cannot be answered again; the change-of-address token names a request
that, once confirmed or superseded, cannot be confirmed again.  Each operation that spends a
token takes its row first (``models.guard``), so two clicks at the same moment spend it once.
"""

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models.errors import DomainError

LIFETIMES = {
    "verify_email": timedelta(hours=48),
    # A new sign-in address: the request it names, once confirmed, cannot be confirmed again.
    "change_email": timedelta(hours=48),
    "reset_password": timedelta(hours=2),
    "anchoring": timedelta(days=30),
    "acknowledge": timedelta(days=14),
    # A review answer: the cycle's deadline ends it sooner, the answer spends it.
    "review": timedelta(days=120),
    # A calendar subscription: long-lived, ended by a new password (the account's auth_version).
    "calendar_feed": timedelta(days=3650),
    # The newsletter's unsubscribe link: using it twice changes nothing more.
    "unsubscribe": timedelta(days=730),
}


class TokenError(DomainError):
    def __init__(self, message, expired=False):
        super().__init__(message)
        self.expired = expired


def _serializer(purpose):
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"nettverk-tracker/{purpose}")


def make(purpose, **payload):
    return _serializer(purpose).dumps(payload)


def read(purpose, token):
    """The payload of a valid token, or TokenError saying why not."""
    try:
        return _serializer(purpose).loads(token, max_age=int(LIFETIMES[purpose].total_seconds()))
    except SignatureExpired as exc:
        raise TokenError(_l("This link has expired."), expired=True) from exc
    except BadSignature as exc:
        raise TokenError(_l("This link is not valid. Check that you copied all of it.")) from exc
