"""Signed, expiring tokens bound to one purpose.

A token carries ids only – never an address or a name: its payload is signed, not encrypted, and
links end up in access logs and browser history (``make`` refuses anything else).  Where a token
must stop working when an address changes, it carries the address's ``fingerprint`` (a keyed
digest that cannot be read back).

A token is single-use by what it changes: the verification token names a member and the
fingerprint of their address, which once verified cannot be verified again (and which a new
address no longer matches); the reset token carries the account's
``auth_version``, which a new password moves on; the anchoring token names a request
that, once answered, cannot be answered again; the change-of-address token names a request
that, once confirmed or superseded, cannot be confirmed again.  Each operation that spends a
token takes its row first (``models.guard``), so two clicks at the same moment spend it once.
"""

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models.errors import DomainError

LIFETIMES = {
    "verify_email": timedelta(hours=48),
    # A new sign-in address: the request it names, once confirmed, cannot be confirmed again.
    "change_email": timedelta(hours=48),
    "reset_password": timedelta(hours=2),
    # A sign-in link asked for on the sign-in page: the row it names is spent by its first use.
    "sign_in_link": timedelta(minutes=15),
    # A new coordinator's first password: bound to auth_version like the reset link, so it works once.
    "welcome": timedelta(days=7),
    "anchoring": timedelta(days=30),
    "acknowledge": timedelta(days=14),
    # A review answer: the cycle's deadline ends it sooner, the answer spends it.
    "review": timedelta(days=120),
    # A calendar subscription: long-lived, ended by a new password (the account's auth_version).
    "calendar_feed": timedelta(days=3650),
    # A lapsed member's way back (models.review.GRACE, 90 days): the restore it makes works once.
    "take_back": timedelta(days=90),
    # The newsletter's unsubscribe link: using it twice changes nothing more.
    "unsubscribe": timedelta(days=730),
}


class TokenError(DomainError):
    def __init__(self, message: str | LazyString, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    # itsdangerous signs with the last key and accepts any: the fallbacks (oldest first), then the key.
    return URLSafeTimedSerializer(
        [*reversed(_fallback_keys()), current_app.config["SECRET_KEY"]], salt=f"nettverk-tracker/{purpose}"
    )


def _fallback_keys() -> list[str | bytes]:
    """``SECRET_KEY_FALLBACKS``, newest first: links mailed before the key was rotated still open."""
    return list(current_app.config.get("SECRET_KEY_FALLBACKS") or ())


FINGERPRINT = re.compile(r"[0-9a-f]{20}")


def fingerprint(purpose: str, value: object, key: str | bytes | None = None) -> str:
    """A keyed digest of ``value`` (an address) for a token of ``purpose``: it binds the token to the
    value without carrying it, and nobody without the secret key can test a guess against it."""
    key = current_app.config["SECRET_KEY"] if key is None else key
    key = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()[:20]


def same_fingerprint(purpose: str, value: object, carried: object) -> bool:
    """Made with the key or one of its fallbacks (a link mailed before the key was rotated)."""
    keys = [current_app.config["SECRET_KEY"], *_fallback_keys()]
    return isinstance(carried, str) and any(
        hmac.compare_digest(fingerprint(purpose, value, key), carried) for key in keys
    )


def _id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make(purpose: str, **payload: int | str | list[int]) -> str:
    """A token whose payload holds ids (integers, or a list of them) and fingerprints only."""
    for name, value in payload.items():
        if not (
            _id(value)
            or (isinstance(value, list) and all(_id(each) for each in value))
            or (isinstance(value, str) and FINGERPRINT.fullmatch(value))
        ):
            raise ValueError(f"a token carries ids and fingerprints only, not {name}={value!r}")
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a valid token, or TokenError saying why not."""
    try:
        payload: dict[str, Any] = _serializer(purpose).loads(
            token, max_age=int(LIFETIMES[purpose].total_seconds())
        )
        return payload
    except SignatureExpired as exc:
        raise TokenError(_l("This link has expired."), expired=True) from exc
    except BadSignature as exc:
        raise TokenError(_l("This link is not valid. Check that you copied all of it.")) from exc
