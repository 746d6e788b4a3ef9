"""The second factor for coordinators: an authenticator app (TOTP, RFC 6238) and ten one-time
recovery codes (issue 23).

The secret (``Member.totp_secret``, base32) is made when a member begins the set-up and stays
unconfirmed (``totp_confirmed_at`` empty) until a first right code from the app confirms it; only
then is it asked at sign-in.  A code works once: ``totp_last_step`` is the last 30-second step a
code was accepted for, and the conditional UPDATE ``WHERE totp_last_step IS NULL OR
totp_last_step < :step`` decides, so the same code posted twice at the same moment signs in once.
A recovery code works once the same way (``RecoveryCode.used_at``).

When coordinator pages ask for the factor (``required``): once it is confirmed, or once the grace
period has ended (``Member.second_factor_due_at``: set when a coordinator role is first granted,
or – for coordinators from before – at their next sign-in or coordinator page, ``start_grace``).
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

import pyotp
import segno
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult

from extensions import db
from models import audit, guard
from models.errors import DomainError
from models.member import Member
from models.notices import notify
from models.sign_in import RecoveryCode
from models.types import utcnow

ISSUER = "Helsedirektoratet – nettverkene"
STEP_SECONDS = 30
# A code of the step before or after now is accepted too: a phone's clock a little off, a code
# typed as it changed.
WINDOW = 1
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32: no 0/1/8/9 to mistake for O/I/B/g
RECOVERY_LENGTH = 10  # 50 bits, written as two groups of five: ABCDE-FGH23
DEFAULT_GRACE_DAYS = 14

APP_CODE = re.compile(r"^\d{6}$")
RECOVERY_CODE = re.compile(rf"^[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}$")


class WrongCode(DomainError):
    """The code is not a right one (neither the app's now nor an unused recovery code): the
    caller counts it against the sign-in budgets."""


# -- reading the state ---------------------------------------------------------------------------


def is_confirmed(member: Member) -> bool:
    return member.totp_confirmed_at is not None and member.totp_secret is not None


def grace_days() -> int:
    if has_app_context():
        return int(current_app.config.get("TWO_FACTOR_GRACE_DAYS", DEFAULT_GRACE_DAYS))
    return DEFAULT_GRACE_DAYS


def demanded() -> bool:
    """Does the installation demand the factor of every coordinator once their grace period ends
    (``TWO_FACTOR_REQUIRED``, on by default)?  Off, only those who set it up are asked for it."""
    return bool(current_app.config.get("TWO_FACTOR_REQUIRED", True))


def required(member: Member, now: datetime | None = None) -> bool:
    """Must this coordinator show the factor for coordinator pages?  Once it is confirmed, or once
    the grace period has ended (where the installation demands it)."""
    if is_confirmed(member):
        return True
    if not demanded():
        return False
    due = member.second_factor_due_at
    return due is not None and (now or utcnow()) >= due


def days_left(member: Member, now: datetime | None = None) -> int:
    """Whole days (rounded up) until the grace period ends; 0 when it has."""
    due = member.second_factor_due_at
    if due is None:
        return grace_days()
    left = due - (now or utcnow())
    if left <= timedelta(0):
        return 0
    return left.days + (1 if left - timedelta(days=left.days) > timedelta(0) else 0)


def unused_recovery_codes(member: Member) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.member_id == member.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


# -- the grace period ----------------------------------------------------------------------------


def start_grace(member: Member, now: datetime | None = None) -> bool:
    """Begin the coordinator's grace period if it has not begun (``second_factor_due_at`` empty):
    a conditional UPDATE, so two requests at once set it once.  True if this call set it."""
    if member.second_factor_due_at is not None:
        return False
    due = (now or utcnow()) + timedelta(days=grace_days())
    done = guard.claim(
        update(Member)
        .where(Member.id == member.id, Member.second_factor_due_at.is_(None))
        .values(second_factor_due_at=due)
    )
    db.session.expire(member, ["second_factor_due_at"])
    return done


# -- the app's codes -------------------------------------------------------------------------------


def _normalised(code: str) -> str:
    """What was typed, without spaces and dashes, in capitals (recovery codes are shown so)."""
    return re.sub(r"[\s\-–]", "", code or "").upper()


def _step_of(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step within the window whose code ``code`` is, or None."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step  # no early exit: the same work whichever step matches
    return found


def new_secret() -> str:
    return pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends


def provisioning_uri(member: Member) -> str:
    assert member.totp_secret is not None
    return pyotp.TOTP(member.totp_secret).provisioning_uri(name=member.email, issuer_name=ISSUER)


def qr_code(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` address (the CSP allows ``img-src data:``),
    drawn on the server: no script, no image service."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff"))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# -- set-up ----------------------------------------------------------------------------------------


def begin(member: Member) -> str:
    """Give ``member`` a secret to set up their app with, unconfirmed; one that waits already is
    kept (a second click shows the same QR code).  Refused when the factor is on."""
    done = guard.claim(
        update(Member)
        .where(Member.id == member.id, Member.totp_secret.is_(None), Member.totp_confirmed_at.is_(None))
        .values(totp_secret=new_secret(), totp_last_step=None)
    )
    db.session.expire(member, ["totp_secret", "totp_confirmed_at", "totp_last_step"])
    if not done and member.totp_confirmed_at is not None:
        raise DomainError(_l("The second factor is on already."))
    assert member.totp_secret is not None
    return member.totp_secret


def confirm(member: Member, code: str, now: datetime | None = None) -> list[str]:
    """Confirm the waiting secret with a first right ``code`` from the app; returns the ten new
    recovery codes, to be shown once.  The conditional UPDATE decides: of two confirmations at
    once, one gets the codes, the other is told it is on already."""
    now = now or utcnow()
    secret = member.totp_secret
    if member.totp_confirmed_at is not None:
        raise DomainError(_l("The second factor is on already."))
    if secret is None:
        raise DomainError(_l("Begin the set-up again: no app is waiting to be confirmed."))
    step = _step_of(secret, _normalised(code), now)
    if step is None:
        raise WrongCode(_l("That code is not right. Type the six digits the app shows now."))
    done = guard.claim(
        update(Member)
        .where(Member.id == member.id, Member.totp_secret == secret, Member.totp_confirmed_at.is_(None))
        .values(totp_confirmed_at=now, totp_last_step=step)
    )
    db.session.expire(member, ["totp_secret", "totp_confirmed_at", "totp_last_step"])
    if not done:
        raise DomainError(_l("The second factor is on already."))
    codes = _replace_recovery_codes(member, now)
    audit.record("second_factor.set_up", member=member, subject=f"member:{member.id}")
    return codes


# -- recovery codes ----------------------------------------------------------------------------------


def recovery_hash(code: str) -> str:
    """The stored form of a recovery code: a plain SHA-256 of the normalised code.

    A slow, salted password hash is for what people choose, which can be guessed from lists; these
    codes are 50 random bits each, so nothing is gained by slowing the hash down, and a plain
    digest lets the conditional UPDATE find the row by it (``WHERE code_hash = :hash AND used_at
    IS NULL``).  It is not keyed with ``SECRET_KEY``: rotating the key would void every code, and
    a key would add nothing – whoever reads the table can read the app's secret beside it
    (``totp_secret``), which is worth more than a recovery code."""
    return hashlib.sha256(f"recovery-code\0{_normalised(code)}".encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _replace_recovery_codes(member: Member, now: datetime) -> list[str]:
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.member_id == member.id))
    db.session.execute(
        insert(RecoveryCode),
        [{"member_id": member.id, "code_hash": recovery_hash(c), "created_at": now} for c in codes],
    )
    return codes


def renew_recovery_codes(member: Member, now: datetime | None = None) -> list[str]:
    """Ten new recovery codes; the old ones stop working.  The member's row is taken first, so
    two at once run one after the other and ten codes work afterwards: the last ones made."""
    guard.lock(member)
    if not is_confirmed(member):
        raise DomainError(_l("Turn the second factor on first."))
    codes = _replace_recovery_codes(member, now or utcnow())
    audit.record("second_factor.recovery_codes_renewed", member=member, subject=f"member:{member.id}")
    return codes


# -- a code at sign-in (and before turning the factor off) ------------------------------------------


def kind_of(code: str) -> str | None:
    """ "app" for six digits, "recovery" for a recovery code's form, None for anything else."""
    typed = _normalised(code)
    if APP_CODE.match(typed):
        return "app"
    if RECOVERY_CODE.match(typed):
        return "recovery"
    return None


def verify(member: Member, code: str, now: datetime | None = None, *, tell: bool = True) -> str:
    """Spend ``code`` – the app's code for now, or an unused recovery code – and say which it was
    ("app" or "recovery").  A code works once: the conditional UPDATE decides, so of two uses at
    the same moment one succeeds.  A wrong code raises ``WrongCode`` (to be counted), a used one
    a plain ``DomainError``.  A recovery code used is recorded and (``tell``) mailed to the member."""
    now = now or utcnow()
    secret = member.totp_secret
    if not is_confirmed(member) or secret is None:
        raise DomainError(_l("The second factor is not on for this account."))
    typed = _normalised(code)
    kind = kind_of(typed)
    if kind == "app":
        step = _step_of(secret, typed, now)
        if step is None:
            raise WrongCode(_l("That code is not right. Type the six digits the app shows now."))
        done = guard.claim(
            update(Member)
            .where(
                Member.id == member.id,
                Member.totp_secret == secret,
                Member.totp_confirmed_at.is_not(None),
                or_(Member.totp_last_step.is_(None), Member.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        db.session.expire(member, ["totp_last_step"])
        if not done:
            raise DomainError(_l("That code has been used already. Wait for the app to show the next one."))
        return "app"
    if kind == "recovery":
        digest = recovery_hash(typed)
        result = cast(
            "CursorResult[Any]",
            db.session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.member_id == member.id,
                    RecoveryCode.code_hash == digest,
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            used = db.session.scalar(
                select(RecoveryCode.id).where(
                    RecoveryCode.member_id == member.id, RecoveryCode.code_hash == digest
                )
            )
            if used is not None:
                raise DomainError(_l("That recovery code has been used already. Each one works once."))
            raise WrongCode(_l("That recovery code is not right. Check it against your list."))
        left = unused_recovery_codes(member)
        audit.record(
            "second_factor.recovery_used", member=member, subject=f"member:{member.id}", after={"left": left}
        )
        if tell:
            notify(
                member,
                _l("A recovery code was used to sign in"),
                _l(
                    "One of your recovery codes was used to sign in to your account just now. "
                    "%(left)s of them are left.",
                    left=left,
                ),
                _l(
                    "Was it not you? Choose a new password at once and tell the coordinators: "
                    "someone knows your password and has your list of recovery codes."
                ),
                endpoint="auth.two_factor",
                link_text=_l("Your second factor"),
            )
        return "recovery"
    raise WrongCode(_l("Type the six digits from the app, or a recovery code."))


# -- turning it off ------------------------------------------------------------------------------------


def turn_off(member: Member, code: str, *, replace: bool = False, now: datetime | None = None) -> None:
    """Turn the factor off, after a right code (the app's or a recovery code): the secret and the
    recovery codes are gone.  ``replace``: a new unconfirmed secret takes the old one's place at
    once (moving to a new phone).  Recorded, and mailed to the member either way."""
    now = now or utcnow()
    verify(member, code, now, tell=False)
    _remove(member, replace=replace)


def reset(member: Member, reason: str) -> None:
    """An operator's reset for a coordinator who lost both the app and the recovery codes (``flask
    second-factor reset``, after confirming who asks): as ``turn_off`` without a code, the
    ``reason`` in the audit log.  They set it up again at their next sign-in."""
    _remove(member, replace=False, reason=reason)


def _remove(member: Member, *, replace: bool, reason: str | None = None) -> None:
    """The secret and the recovery codes gone (a new unconfirmed secret in place, ``replace``), by a
    conditional UPDATE – a second at the same moment is refused – recorded and mailed."""
    done = guard.claim(
        update(Member)
        .where(Member.id == member.id, Member.totp_confirmed_at.is_not(None))
        .values(
            totp_secret=new_secret() if replace else None,
            totp_confirmed_at=None,
            totp_last_step=None,
        )
    )
    db.session.expire(member, ["totp_secret", "totp_confirmed_at", "totp_last_step"])
    if not done:
        raise DomainError(_l("The second factor is off already."))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.member_id == member.id))
    audit.record(
        "second_factor.replaced" if replace else "second_factor.turned_off",
        member=member,
        subject=f"member:{member.id}",
        reason=reason,
    )
    notify(
        member,
        _l("Your second factor was turned off"),
        _l(
            "The authenticator app was removed from your account just now, and your recovery codes no longer work."
        ),
        _l(
            "A new app is being set up in its place; until its first code confirms it, only your password protects your account."
        )
        if replace
        else _l("Without it, only your password protects your account. Set it up again on your page."),
        _l(
            "Was it not you? Choose a new password at once and tell the coordinators: someone "
            "has signed in to your account."
        ),
        endpoint="auth.two_factor",
        link_text=_l("Your second factor"),
    )
