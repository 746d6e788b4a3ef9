"""Single sign-on with OpenID Connect providers (issue 23).

A provider is configured by the environment (``config.oidc_providers``; docs/single-sign-on.md).
A sign-in with one has three steps, each one operation here:

1. ``begin``: a ``ProviderSignIn`` row with the digest of a fresh ``state``, a ``nonce`` and a
   PKCE verifier, bound to the browser that began it (``browser_digest``);
2. ``spend``: the callback spends that row by a conditional UPDATE – not used yet, the same
   state, provider and browser, younger than ``SIGN_IN_MINUTES`` – whose row count decides, so a
   replayed state (or two callbacks at once) signs in once;
3. ``sign_in_with``: the checked ID token's claims name a member – through a stored
   (provider, ``sub``), or else a verified e-mail address of an active member, whereupon the
   identity is stored (the unique constraints decide a race) – or nobody (registration).

Talking to the provider (discovery, the code exchange, the ID token's signature and claims) is the
view's part, done with Authlib (``blueprints/auth/single_sign_on.py``).
"""

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import audit, guard
from models.member import Member, normalise_email
from models.sign_in import ProviderIdentity, ProviderSignIn
from models.types import utcnow

if TYPE_CHECKING:
    from flask_babel import LazyString

SIGN_IN_MINUTES = 10  # how long a begun sign-in may take to come back


class Provider(NamedTuple):
    name: str  # the key in the configuration and the URL: "entra", "idporten"
    display_name: str  # what the sign-in page's button says: "Jobbkonto (Microsoft)"


@dataclass(frozen=True)
class Settings:
    """One provider's configuration (``config.oidc_providers``)."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    acr_values: str
    trust_amr: frozenset[str]
    trust_acr: frozenset[str]
    trust_email: bool

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.display_name)

    def second_factor(self, claims: Mapping[str, Any]) -> bool:
        """Did the provider say a second factor was used, in a way this configuration trusts?
        ``amr`` values ∩ ``trust_amr``, or the ``acr`` in ``trust_acr``; nothing trusted by default."""
        amr = claims.get("amr")
        methods = {str(value) for value in amr} if isinstance(amr, list) else set()
        return bool(methods & self.trust_amr) or str(claims.get("acr") or "") in self.trust_acr


def all_settings() -> list[Settings]:
    return [
        Settings(
            name=p["name"],
            display_name=p["display_name"],
            issuer=p["issuer"],
            client_id=p["client_id"],
            client_secret=p.get("client_secret", ""),
            scopes=p.get("scopes", "openid email profile"),
            acr_values=p.get("acr_values", ""),
            trust_amr=frozenset(p.get("trust_amr", ())),
            trust_acr=frozenset(p.get("trust_acr", ())),
            trust_email=bool(p.get("trust_email")),
        )
        for p in current_app.config.get("OIDC_PROVIDERS", ())
    ]


def settings(name: str) -> Settings | None:
    return next((s for s in all_settings() if s.name == name), None)


def configured() -> list[Provider]:
    """The providers configured, in the order configured; none by default."""
    return [s.provider for s in all_settings()]


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Refused(Exception):
    """A provider sign-in that may not go on: ``why`` for the log, ``message`` for the person."""

    def __init__(self, why: str, message: "LazyString", status: int = 400) -> None:
        super().__init__(why)
        self.why = why
        self.message = message
        self.status = status


def start_again() -> "LazyString":
    return _l("This sign-in could not be completed. Start again from the sign-in page.")


class Begun(NamedTuple):
    state: str
    nonce: str
    code_verifier: str


def begin(provider: str, browser: str, next_url: str | None) -> Begun:
    """A new sign-in with ``provider`` from the browser whose cookie digest is ``browser``: the row
    keeps the state's digest (the state itself travels through the provider and back)."""
    begun = Begun(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))
    db.session.add(
        ProviderSignIn(
            state=digest(begun.state),
            provider=provider,
            nonce=begun.nonce,
            code_verifier=begun.code_verifier,
            browser=browser,
            next_url=(next_url or None) and next_url[:500],
        )
    )
    return begun


def spend(provider: str, state: str, browser: str) -> ProviderSignIn:
    """The begun sign-in ``state`` names, spent now; ``Refused`` if it is unknown, spent already,
    too old, begun with another provider or in another browser."""
    now = utcnow()
    row_state = digest(state)
    claimed = guard.claim(
        update(ProviderSignIn)
        .where(
            ProviderSignIn.state == row_state,
            ProviderSignIn.provider == provider,
            ProviderSignIn.browser == browser,
            ProviderSignIn.used_at.is_(None),
            ProviderSignIn.created_at > now - timedelta(minutes=SIGN_IN_MINUTES),
        )
        .values(used_at=now)
    )
    row = db.session.scalar(
        select(ProviderSignIn)
        .where(ProviderSignIn.state == row_state)
        .execution_options(populate_existing=True)
    )
    if claimed and row is not None:
        return row
    if row is None:
        why = "unknown state"
    elif row.used_at is not None:
        why = "state used already (a replay, or a second callback)"
    elif row.provider != provider:
        why = f"state begun with {row.provider}"
    elif row.browser != browser:
        why = "state begun in another browser"
    else:
        why = "state expired"
    raise Refused(why, start_again())


def verified_email(provider: Settings, claims: Mapping[str, Any]) -> str | None:
    """The e-mail address the provider vouches for: ``email`` with ``email_verified`` true; or, as
    Microsoft Entra ID sends it, with the optional claim ``xms_edov`` (the domain's owner verified
    it) true; or, when ``trust_email`` is configured, with no ``email_verified`` at all."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return None

    def true(value: Any) -> bool:
        return value is True or value in ("true", "1", 1)

    verified = claims.get("email_verified")
    if (
        true(verified)
        or true(claims.get("xms_edov"))
        or (provider.trust_email and verified is None and claims.get("xms_edov") is None)
    ):
        return normalise_email(email)
    return None


@dataclass
class Outcome:
    """Whom the claims name: ``member`` (signed in if active); or nobody – then ``email``, the
    verified address to register with, if the provider gave one."""

    member: Member | None = None
    email: str | None = None
    linked: bool = False  # the identity was stored now


def sign_in_with(provider: Settings, claims: Mapping[str, Any], signed_in: Member | None = None) -> Outcome:
    """Whom a checked ID token's claims are: the member linked to (provider, sub); else the member
    ``signed_in`` already (who began this sign-in to link the account: the way for a provider that
    gives no address, such as ID-porten), or the active member with the verified address – linked
    now (and audited); else nobody.  A deleted account is nobody, as for the password sign-in; one
    whose address is not confirmed is named (the caller refuses it as the password sign-in does)."""
    subject = str(claims["sub"])
    now = utcnow()
    email = verified_email(provider, claims)
    identity = db.session.scalar(
        select(ProviderIdentity).where(
            ProviderIdentity.provider == provider.name, ProviderIdentity.subject == subject
        )
    )
    if identity is not None:
        if identity.member.deleted_at is not None:
            return Outcome(email=email)
        if signed_in is not None and identity.member_id != signed_in.id:
            raise Refused(
                f"member {signed_in.id} asked to link the {provider.name} account of member {identity.member_id}",
                _l(
                    "That account with the provider is linked to another membership here. You are "
                    "still signed in as before."
                ),
                403,
            )
        identity.last_used_at = now
        return Outcome(member=identity.member)
    member = signed_in if signed_in is not None else Member.by_email(email) if email else None
    if member is None or member.deleted_at is not None:
        return Outcome(email=email)
    if not member.is_active:
        return Outcome(member=member)
    other = db.session.scalar(
        select(ProviderIdentity).where(
            ProviderIdentity.member_id == member.id, ProviderIdentity.provider == provider.name
        )
    )
    if other is not None and other.subject == subject:
        # Linked a moment ago by a sign-in at the same time (committed after this one looked).
        other.last_used_at = now
        return Outcome(member=member)
    if other is not None:
        raise Refused(
            f"member {member.id} is linked to another {provider.name} account",
            _l(
                "Your account here is linked to another account with this provider. Sign in with "
                "that one, or with your e-mail address."
            ),
            403,
        )
    try:
        with db.session.begin_nested():
            db.session.add(
                ProviderIdentity(member=member, provider=provider.name, subject=subject, last_used_at=now)
            )
    except IntegrityError:
        # Linked a moment ago by a sign-in at the same time: the stored row decides.
        current_app.logger.info("Single sign-on with %s: linked meanwhile by another sign-in", provider.name)
        identity = db.session.scalar(
            select(ProviderIdentity).where(
                ProviderIdentity.provider == provider.name, ProviderIdentity.subject == subject
            )
        )
        if identity is None or identity.member_id != member.id:
            raise Refused(f"linking member {member.id} lost a race", start_again(), 409) from None
        return Outcome(member=member)
    with audit.acting_as(member):
        audit.record(
            "member.provider_linked",
            member=member,
            subject=f"member:{member.id}",
            after={"provider": provider.name},
        )
    return Outcome(member=member, linked=True)


def accounts_of(member: Member) -> list[tuple[Provider, ProviderIdentity | None, bool]]:
    """My page's list: (provider, the member's link to it or None, whether it is configured now) for
    each configured provider, then for each provider no longer configured that they are linked to
    (the link can still be removed).  None at all while no provider is configured."""
    providers = configured()
    if not providers:
        return []
    linked = {
        identity.provider: identity
        for identity in db.session.scalars(
            select(ProviderIdentity).where(ProviderIdentity.member_id == member.id)
        )
    }
    rows: list[tuple[Provider, ProviderIdentity | None, bool]] = [
        (provider, linked.pop(provider.name, None), True) for provider in providers
    ]
    rows += [(Provider(name, name), identity, False) for name, identity in sorted(linked.items())]
    return rows


def unlink(member: Member, provider: str) -> bool:
    """The member's link to ``provider`` removed (audited); False if there was none (removed
    already, a second click)."""
    removed = guard.claim(
        delete(ProviderIdentity).where(
            ProviderIdentity.member_id == member.id, ProviderIdentity.provider == provider
        )
    )
    if removed:
        audit.record(
            "member.provider_unlinked",
            member=member,
            subject=f"member:{member.id}",
            before={"provider": provider},
        )
    return removed
