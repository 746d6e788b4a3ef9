"""Ways to sign in without a password: a link mailed on request, and single sign-on with an
OpenID Connect provider.  The rules live in ``models.sign_in_link`` and ``models.single_sign_on``;
these are their rows."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from models.member import Member


class SignInLink(Model):
    """A sign-in link mailed on request.  The mailed token names the row (ids only); ``browser`` is
    a digest of the cookie of the browser that asked; ``used_at`` spends it.  ``member`` is empty
    when the address asked for has no account: the same work is done, nothing is mailed."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    browser: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped["Member | None"] = relationship("Member")


class ProviderSignIn(Model):
    """A sign-in begun with an OpenID provider: the digest of its ``state``, the nonce the ID token
    must carry, the PKCE verifier the code exchange sends, the browser that began it (a digest of
    its cookie) and where to go after.  ``used_at`` spends it: a callback works once."""

    __tablename__ = "provider_sign_ins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    browser: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderIdentity(Model):
    """A member's account with a provider (its ``sub``), linked at the first sign-in through it."""

    __tablename__ = "provider_identities"
    __table_args__ = (UniqueConstraint("provider", "subject"), UniqueConstraint("member_id", "provider"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    member: Mapped["Member"] = relationship("Member")


class RecoveryCode(Model):
    """One of a coordinator's ten one-time recovery codes for the second factor, kept hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def forget_old(now: datetime | None = None) -> int:
    """Delete sign-in links and begun provider sign-ins older than a day (``flask privacy purge``,
    daily): spent or expired long since, they only say who asked to sign in when.  Returns how many."""
    from datetime import timedelta

    from sqlalchemy import delete

    from extensions import db

    before = (now or utcnow()) - timedelta(days=1)
    forgotten = 0
    for table in (SignInLink, ProviderSignIn):
        result = db.session.execute(
            delete(table).where(table.created_at < before).execution_options(synchronize_session=False)
        )
        forgotten += result.rowcount  # type: ignore[attr-defined]  # a DELETE's CursorResult
    return forgotten
