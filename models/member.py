"""A member: the person and the account, their organisation and their line manager."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import Model, db
from models import audit, guard
from models.anchoring import Anchoring, AnchoringStatus
from models.errors import DomainError
from models.language import LOCALES
from models.membership import Membership, MembershipStatus
from models.organisation import fold
from models.role import CoordinatorRole
from models.search import KEY_LENGTH
from models.search import key as search_key
from models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.network import Network
    from models.organisation import Organisation


@overload
def normalise_email(address: str) -> str: ...
@overload
def normalise_email(address: str | None) -> str | None: ...
def normalise_email(address: str | None) -> str | None:
    """Addresses are compared without case: kept lower-cased and trimmed."""
    return address.strip().lower() if address else address


def new_session_key() -> str:
    """A fresh random key for ``Member.session_key`` (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def active_in(network_ids: Iterable[int]) -> "Select[Member]":
    """The members active in any of these networks, each once (someone in two networks gets one mail)."""
    return select(Member).where(
        Member.deleted_at.is_(None),
        # Correlated on member_id alone, so the (member_id, network_id) index serves it.
        exists().where(
            Membership.member_id == Member.id,
            Membership.network_id.in_(list(network_ids)),
            Membership.status == MembershipStatus.ACTIVE,
        ),
    )


# flask_login ships no types, so its UserMixin is Any to the checker (is_authenticated, get_id …).
class Member(UserMixin, Model):  # type: ignore[misc]
    """A person taking part in one or more networks on behalf of their organisation.

    The same row is the account: a password (hashed with scrypt), a verified address,
    ``auth_version``, which moves on when the password changes or the account is
    deleted, so that old sessions and reset links stop working, and ``session_key``, a random
    key every session cookie carries, made new at sign-out (``end_sessions``), so that signing
    out ends the account's sessions on every device.
    """

    __tablename__ = "members"
    __table_args__ = (
        # Referenced by memberships, so a membership always names its member's organisation.
        UniqueConstraint("id", "organisation_id"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint(
            "manager_email IS NULL OR manager_email = lower(manager_email)",
            name="manager_email_lower_case",
        ),
        CheckConstraint("manager_email IS NULL OR manager_email <> email", name="manager_is_someone_else"),
        CheckConstraint("language IS NULL OR language IN ('nb', 'nn', 'en')", name="member_language"),
        # Serves ``search.begins_a_word`` on PostgreSQL (trigrams); on SQLite a plain index.
        Index(
            "ix_members_search_key",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as the directory's search compares it (see ``organisation.fold``).
    name_folded: Mapped[str] = mapped_column(String(200), index=True)
    # The name as search finds it (``models.search.key``: " aile nuolja").
    search_key: Mapped[str] = mapped_column(String(KEY_LENGTH), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    job_title: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(200))
    # Indexed: the directory finds the members of the organisations a search word names.
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    manager_name: Mapped[str | None] = mapped_column(String(200))
    manager_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auth_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Carried by every session (and "keep me signed in") cookie of the account; see ``get_id``.
    session_key: Mapped[str] = mapped_column(String(32), default=new_session_key)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leadership_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Left out of the member directory (coordinators still see them).
    directory_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The written form of their pages and mail ("nb", "nn", "en"); none: their organisation's
    # (see ``models.language``).
    language: Mapped[str | None] = mapped_column(String(2))
    # The second factor (``models.second_factor``): the authenticator app's secret, confirmed once
    # a first code from it was right; the last time step a code was accepted for (a code works
    # once); and when coordinator pages begin to require it (the grace period's end).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    second_factor_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped["Organisation"] = relationship("Organisation", back_populates="members")
    memberships: Mapped[list["Membership"]] = relationship(
        "Membership",
        back_populates="member",
        primaryjoin="and_(Member.id == foreign(Membership.member_id), "
        "Member.organisation_id == foreign(Membership.organisation_id))",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    anchorings: Mapped[list["Anchoring"]] = relationship(
        "Anchoring",
        back_populates="member",
        foreign_keys="Anchoring.member_id",
        order_by="Anchoring.requested_at",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    coordinator_roles: Mapped[list["CoordinatorRole"]] = relationship(
        "CoordinatorRole",
        back_populates="member",
        foreign_keys="CoordinatorRole.member_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<Member {self.email}>"

    @validates("email", "manager_email")
    def _normalise_email(self, key: str, value: str | None) -> str | None:
        return normalise_email(value)

    @validates("name")
    def _fold_name(self, key: str, value: str) -> str:
        self.name_folded = fold(value)
        self.search_key = search_key(value)
        return value

    # -- the account ----------------------------------------------------------------------

    def get_id(self) -> str:
        """What a session cookie keeps: id, password generation and session key.  A cookie is
        honoured only while both still match the row (``for_session``)."""
        return f"{self.id}:{self.auth_version}:{self.session_key}"

    def end_sessions(self) -> None:
        """End every session of the account, on every device: a new ``session_key``, so every
        cookie made with the old one (copied or not, "keep me signed in" included) names no one.
        Two at once need no lock: whichever key is written last, both old cookies are dead."""
        self.session_key = new_session_key()

    def take(self) -> "Member":
        """Take the member's row for the rest of the transaction (``guard.lock``), and read their
        memberships (also taken) and anchoring requests afresh: every operation on a member's
        account, memberships or anchoring starts here, so two at the same moment run one after
        the other and the second sees what the first did.  Returns the member."""
        guard.lock(self)
        db.session.execute(
            select(Membership)
            .where(Membership.member_id == self.id)
            .with_for_update(of=Membership)
            .execution_options(populate_existing=True)
        ).scalars().all()
        db.session.execute(
            select(Anchoring).where(Anchoring.member_id == self.id).execution_options(populate_existing=True)
        ).scalars().all()
        return self

    @classmethod
    def for_session(cls, session_id: str | None) -> "Member | None":
        """The member a session cookie names, if that session is still valid."""
        member_id, version, key = [*(session_id or "").split(":"), "", ""][:3]
        if not (member_id.isdigit() and version.isdigit() and key):
            return None
        # The roles and memberships every page's menu asks about come in the same statement.
        member = (
            db.session.execute(
                select(cls)
                .where(cls.id == int(member_id))
                .options(joinedload(cls.coordinator_roles), joinedload(cls.memberships))
            )
            .unique()
            .scalar_one_or_none()
        )
        if member is None or member.auth_version != int(version) or not member.is_active:
            return None
        if not secrets.compare_digest(member.session_key or "", key):
            return None
        return member

    @classmethod
    def by_email(cls, email: str) -> "Member | None":
        return db.session.scalar(select(cls).where(cls.email == normalise_email(email)))

    @property
    def is_active(self) -> bool:
        return self.email_verified_at is not None and self.deleted_at is None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"]
        )
        self.auth_version = (self.auth_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    def verify_email(self) -> None:
        """The address is theirs: memberships move on to the line manager."""
        if self.email_verified_at is not None:
            raise DomainError(_l("This address has already been confirmed."))
        self.email_verified_at = utcnow()
        audit.record("member.email_verified", member=self, subject=f"member:{self.id}")
        for membership in self.memberships:
            if membership.status == MembershipStatus.PENDING_EMAIL:
                membership.confirm_email()

    # -- roles ---------------------------------------------------------------------------

    @property
    def coordinated_network_ids(self) -> set[int]:
        return {role.network_id for role in self.coordinator_roles}

    @property
    def is_coordinator(self) -> bool:
        return bool(self.coordinator_roles)

    def coordinates(self, network: "Network | None") -> bool:
        return network is not None and network.id in self.coordinated_network_ids

    def make_coordinator(self, network: "Network", granted_by: "Member | None" = None) -> None:
        if self.coordinates(network):
            raise DomainError(
                _l("%(name)s already coordinates %(network)s.", name=self.name, network=network.code)
            )
        self.coordinator_roles.append(CoordinatorRole(network=network, granted_by=granted_by))
        audit.record(
            "role.coordinator_granted",
            member=self,
            network=network,
            subject=f"member:{self.id}",
            after={"coordinator": network.code},
        )

    @property
    def active_network_ids(self) -> set[int]:
        """The networks the member takes part in now (memberships come with the signed-in member)."""
        return {m.network_id for m in self.memberships if m.status == MembershipStatus.ACTIVE}

    @property
    def is_main_contact(self) -> bool:
        return any(m.is_main_contact for m in self.memberships)

    @property
    def is_observer(self) -> bool:
        return not self.organisation.can_have_main_contact

    # -- anchoring -----------------------------------------------------------------------

    @property
    def pending_anchoring(self) -> Anchoring | None:
        return next((a for a in self.anchorings if a.status == AnchoringStatus.PENDING), None)

    @property
    def may_ask_again(self) -> bool:
        """May the member ask their line manager again?  Only after a decline, and only while
        nobody is being asked (``accounts.ask_again`` refuses otherwise)."""
        return (
            self.deleted_at is None
            and self.pending_anchoring is None
            and any(m.status == MembershipStatus.DECLINED for m in self.memberships)
        )

    def request_anchoring(self) -> Anchoring:
        """Ask the current line manager to confirm; an unanswered earlier request lapses."""
        if not self.manager_email:
            raise DomainError(_l("Give your line manager's e-mail address first."))
        previous = self.pending_anchoring
        if previous is not None:
            previous.supersede()
            db.session.flush()  # the partial unique index allows one pending request
        anchoring = Anchoring(manager_name=self.manager_name, manager_email=self.manager_email)
        self.anchorings.append(anchoring)
        audit.record(
            "anchoring.requested",
            member=self,
            subject=f"member:{self.id}",
            after={"manager_name": self.manager_name, "manager_email": self.manager_email},
        )
        return anchoring

    def change_manager(self, name: str | None, email: str | None) -> bool:
        """Record a new line manager; True if it changed (then anchoring is asked again,
        and the old anchoring stands until the new manager answers)."""
        before = {"manager_name": self.manager_name, "manager_email": self.manager_email}
        self.manager_name, self.manager_email = name, email
        after = {"manager_name": self.manager_name, "manager_email": self.manager_email}
        if before == after:
            return False
        audit.record(
            "member.manager_changed", member=self, subject=f"member:{self.id}", before=before, after=after
        )
        for membership in self.memberships:
            if membership.status == MembershipStatus.DECLINED:
                membership.ask_anchoring_again()
        return True

    # -- memberships ---------------------------------------------------------------------

    def join(self, network: "Network") -> Membership:
        """A new membership in ``network`` (pending email confirmation), if the network takes them."""
        if not network.accepts(self.organisation):
            raise DomainError(
                _l(
                    "%(network)s is not open to %(organisation)s.",
                    network=network.code,
                    organisation=self.organisation.name,
                )
            )
        if self.membership_in(network) is not None:
            raise DomainError(_l("You are already registered in %(network)s.", network=network.code))
        membership = Membership(network=network)
        self.memberships.append(membership)
        return membership

    def membership_in(self, network: "Network") -> Membership | None:
        return next((m for m in self.memberships if m.network_id == network.id), None)

    def move_to(self, organisation: "Organisation") -> None:
        """Move to another organisation: the memberships follow, main-contact roles do not."""
        for membership in self.memberships:
            membership.vacate_main_contact()
        db.session.flush()
        self.organisation = organisation

    # -- choices of their own -------------------------------------------------------------

    def set_directory_hidden(self, hidden: bool) -> bool:
        """Hide the member from the directory, or show them again; True if it changed.
        The row is taken first: the same choice sent twice changes (and is logged) once."""
        guard.lock(self)
        if hidden == self.directory_hidden:
            return False
        self.directory_hidden = hidden
        audit.record(
            "member.directory_hidden" if hidden else "member.directory_shown",
            member=self,
            subject=f"member:{self.id}",
        )
        return True

    def set_language(self, locale: str | None) -> bool:
        """The written form of their pages and mail (None: their organisation's); False if it
        already was (a conditional UPDATE: the switch pressed twice changes one row once)."""
        if locale is not None and locale not in LOCALES:
            raise DomainError(_l("Choose bokmål, nynorsk or English."))
        differs = (
            Member.language.is_not(None)
            if locale is None
            else or_(Member.language.is_(None), Member.language != locale)
        )
        changed = guard.claim(update(Member).where(Member.id == self.id, differs).values(language=locale))
        db.session.refresh(self, ["language"])
        return changed

    def set_newsletter(self, subscribed: bool, network_ids: Iterable[int] | None = None) -> bool:
        """Stop or restart the newsletter of ``network_ids`` (None: all the member's networks);
        True if it changed (logged once, however often it is sent: the row is taken first)."""
        from models.newsletter import set_subscribed

        return set_subscribed(self, subscribed, network_ids)

    def choose_newsletters(self, network_ids: Iterable[int]) -> bool:
        """My page's checkboxes: the newsletters of ``network_ids`` come, those of the member's other
        networks do not; True if anything changed."""
        from models.newsletter import choose_subscriptions

        return choose_subscriptions(self, network_ids)

    @property
    def newsletter_choices(self) -> list["Membership"]:
        """The memberships whose newsletter the member can choose (all but those they left), by network."""
        return sorted(
            (m for m in self.memberships if m.status != MembershipStatus.LEFT), key=lambda m: m.network_id
        )

    # -- erasure -------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Everything held about the member, for the member to download."""
        from models.advice import AdviceAnswer
        from models.email_change import EmailChange
        from models.newsletter import input_of
        from models.sign_in import ProviderIdentity, RecoveryCode, SignInLink

        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "job_title": self.job_title,
            "unit": self.unit,
            "organisation": self.organisation.name,
            "line_manager": {"name": self.manager_name, "email": self.manager_email},
            "registered_at": when(self.created_at),
            "email_verified_at": when(self.email_verified_at),
            "consented_at": when(self.consented_at),
            "leadership_informed_at": when(self.leadership_informed_at),
            "last_sign_in_at": when(self.last_sign_in_at),
            "memberships": [
                {
                    "network": m.network.code,
                    "status": m.status.value,
                    "main_contact": m.is_main_contact,
                    "since": when(m.created_at),
                    "activated_at": when(m.activated_at),
                    "ended_at": when(m.ended_at),
                    "end_reason": m.end_reason,
                }
                for m in self.memberships
            ],
            "anchorings": [
                {
                    "manager_name": a.manager_name,
                    "manager_email": a.manager_email,
                    "status": a.status.value,
                    "requested_at": when(a.requested_at),
                    "decided_at": when(a.decided_at),
                    "decided_by": a.decided_by_name,
                    "method": a.method.value if a.method else None,
                    "reason": a.reason,
                }
                for a in self.anchorings
            ],
            "email_changes": [
                {
                    "new_email": c.new_email,
                    "status": c.status.value,
                    "requested_at": when(c.requested_at),
                    "decided_at": when(c.decided_at),
                }
                for c in db.session.scalars(
                    select(EmailChange).where(EmailChange.member_id == self.id).order_by(EmailChange.id)
                )
            ],
            "coordinates": sorted(role.network.code for role in self.coordinator_roles),
            "newsletter_unsubscribed_at": {
                m.network.code: when(m.newsletter_unsubscribed_at) for m in self.memberships
            },
            "newsletter_input": [
                {
                    "title": i.title,
                    "text": i.body,
                    "link": i.link,
                    "to": i.network.code if i.network else "all",
                    "submitted_at": when(i.submitted_at),
                    "status": i.state,
                    "note": i.note,
                }
                for i in input_of(self)
            ],
            "advice_given": [
                {
                    "request": a.request.title,
                    "advice": a.body,
                    "answered_at": when(a.answered_at),
                    "changed_at": when(a.updated_at),
                }
                for a in db.session.scalars(select(AdviceAnswer).where(AdviceAnswer.member_id == self.id))
            ],
            # How they sign in (not the secrets: the authenticator's key and the codes stay here).
            "accounts_with_providers": [
                {
                    "provider": i.provider,
                    "subject": i.subject,
                    "linked_at": when(i.created_at),
                    "last_used_at": when(i.last_used_at),
                }
                for i in db.session.scalars(
                    select(ProviderIdentity)
                    .where(ProviderIdentity.member_id == self.id)
                    .order_by(ProviderIdentity.id)
                )
            ],
            "second_factor": {
                "set_up_at": when(self.totp_confirmed_at),
                "recovery_codes_unused": db.session.scalar(
                    select(func.count())
                    .select_from(RecoveryCode)
                    .where(RecoveryCode.member_id == self.id, RecoveryCode.used_at.is_(None))
                ),
            },
            "sign_in_links": [
                {"asked_at": when(link.created_at), "used_at": when(link.used_at)}
                for link in db.session.scalars(
                    select(SignInLink).where(SignInLink.member_id == self.id).order_by(SignInLink.id)
                )
            ],
        }

    def erase(self, reason: str | None = None) -> None:
        """Delete the account: personal data goes, the history stays without the person.

        The row is taken first; an account already deleted (twice at once, or the retention rule
        and the member at the same moment) is refused with DomainError: one erasure, one entry."""
        from models import privacy
        from models.advice import AdviceAnswer
        from models.email_change import EmailChange
        from models.newsletter import InputStatus, NewsInput
        from models.sign_in import ProviderIdentity, RecoveryCode, SignInLink

        self.take()
        if self.deleted_at is not None:
            raise DomainError(_l("This account has already been deleted."))
        names, addresses = privacy.known_identity(self)
        for membership in self.memberships:
            if membership.status not in (MembershipStatus.LEFT, MembershipStatus.DECLINED):
                membership.leave("account deleted")
        for anchoring in self.anchorings:
            if anchoring.is_pending:
                anchoring.supersede()
            anchoring.manager_name = anchoring.manager_email = None
            anchoring.decided_by_name = anchoring.decided_by_email = None
        self.coordinator_roles.clear()
        # What they wrote goes too, unless it has gone out in a newsletter or into an issue being prepared.
        db.session.execute(
            delete(NewsInput).where(NewsInput.member_id == self.id, NewsInput.status != InputStatus.INCLUDED)
        )
        db.session.execute(delete(AdviceAnswer).where(AdviceAnswer.member_id == self.id))
        # An address asked for and not (or already) confirmed is personal data too.
        db.session.execute(delete(EmailChange).where(EmailChange.member_id == self.id))
        # How they signed in: their accounts with providers, sign-in links, the second factor.
        for table in (ProviderIdentity, SignInLink, RecoveryCode):
            db.session.execute(delete(table).where(table.member_id == self.id))
        self.totp_secret = self.totp_confirmed_at = self.totp_last_step = self.second_factor_due_at = None
        audit.record("member.deleted", member=self, subject=f"member:{self.id}", reason=reason)
        self.name = "Slettet deltaker"
        self.email = f"slettet-{self.id}@invalid"
        self.phone = self.job_title = self.unit = None
        self.manager_name = self.manager_email = None
        self.password_hash = None
        self.deleted_at = utcnow()
        self.auth_version = (self.auth_version or 0) + 1
        # Their name and addresses out of mail, the audit log and what others wrote (``privacy.scrub``).
        privacy.scrub(self, names, addresses)
