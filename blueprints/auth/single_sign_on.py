"""Single sign-on with OpenID Connect providers (issue 23; docs/single-sign-on.md).

The sign-in page posts to ``provider_sign_in``, which begins a sign-in (``single_sign_on.begin``)
and sends the browser to the provider's authorization endpoint; the provider sends it back to
``provider_callback``, which spends the begun sign-in (once), exchanges the code with the PKCE
verifier, checks the ID token with Authlib (its signature against the provider's JWKS – fetched
again when the key id is unknown –, ``iss``, ``aud``, ``exp``, ``nonce``) and signs in the member
the claims name (``single_sign_on.sign_in_with``).

The way to the provider is a page that moves on by itself (a ``Refresh`` header) with a link to
follow, not a redirect: the pages' Content-Security-Policy has ``form-action 'self'``, and
Chromium holds a form's redirect to another site to that too.

The provider's discovery document (and its JWKS) is read at the first sign-in with it and kept
for the life of the process (Authlib's client keeps it); a provider that does not answer then
costs that sign-in a clear page (502), not the app's start, and the next sign-in asks again.
"""

import re
import threading

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.oauth2 import OAuth2Error
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from joserfc.errors import JoseError

from blueprints.auth import bp, second_factor
from blueprints.auth.sessions import browser_digest, start_session
from blueprints.util import remember_inbox, safe_next
from extensions import db, limiter
from models import guard, normalise_email, single_sign_on
from models.single_sign_on import Refused

REGISTER_EMAIL = "provider_email"  # the verified address a newcomer registers with (the session)
REGISTER_IDENTITY = "provider_identity"  # and the provider's account it came with: [provider, subject]
TIMEOUT = 10  # seconds for each request to a provider
LEEWAY = 60  # seconds of clock difference allowed in the ID token's times
ENTRA_TENANT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_lock = threading.Lock()


def client(provider):
    """Authlib's client for ``provider``, one per app (so per process), made at first use; it keeps
    the discovery document and the JWKS it has read."""
    oauth = current_app.extensions.get("single_sign_on")
    if oauth is None:
        with _lock:
            oauth = current_app.extensions.get("single_sign_on")
            if oauth is None:
                oauth = OAuth()
                oauth.init_app(current_app)
                current_app.extensions["single_sign_on"] = oauth
    found = oauth.create_client(provider.name)
    if found is None:
        with _lock:
            found = oauth.create_client(provider.name) or oauth.register(
                provider.name,
                client_id=provider.client_id,
                client_secret=provider.client_secret or None,
                server_metadata_url=provider.issuer.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={
                    "scope": provider.scopes,
                    "code_challenge_method": "S256",
                    "default_timeout": TIMEOUT,
                    **({} if provider.client_secret else {"token_endpoint_auth_method": "none"}),
                },
            )
    return found


def metadata(provider, oauth_client):
    """The provider's discovery document (read once); its ``issuer`` must be the one configured,
    but for Microsoft Entra ID's multi-tenant template ("…/{tenantid}/v2.0")."""
    found = oauth_client.load_server_metadata()
    issuer = found.get("issuer") or ""
    if "{tenantid}" not in issuer and issuer.rstrip("/") != provider.issuer.rstrip("/"):
        raise Refused(f"discovery names issuer {issuer!r}", unreachable(provider), 502)
    return found


def unreachable(provider):
    return _l(
        "We could not reach %(provider)s just now. Try again in a little while, or sign in another way.",
        provider=provider.display_name,
    )


def issuer_option(issuer):
    """How the ID token's ``iss`` is checked: the discovered issuer; for Entra ID's multi-tenant
    endpoints that issuer with the token's own ``tid`` (a tenant's id) in place of "{tenantid}"."""
    if "{tenantid}" not in issuer:
        return {"essential": True, "values": [issuer]}

    def valid(claims, value):
        tid = claims.get("tid")
        return (
            isinstance(tid, str)
            and bool(ENTRA_TENANT.match(tid))
            and value == issuer.replace("{tenantid}", tid)
        )

    return {"essential": True, "validate": valid}


def refused(provider, error):
    """One page for every refusal: why is logged, the person is told plainly; nothing but the spent
    sign-in is kept."""
    db.session.rollback()
    current_app.logger.warning(
        "Single sign-on with %s refused: %s", provider.name if provider else "?", error.why
    )
    return render_template("auth/provider_error.html", message=error.message, provider=provider), error.status


@bp.post("/sign-in/with/<provider>")
@limiter.limit("30 per 15 minutes")
def provider_sign_in(provider):
    """Begin a sign-in with ``provider``: state, nonce and PKCE verifier kept (the state as a digest),
    bound to this browser; then on to the provider."""
    settings = single_sign_on.settings(provider)
    if settings is None:
        abort(404)
    oauth_client = client(settings)
    try:
        metadata(settings, oauth_client)
    except Refused as error:
        return refused(settings, error)
    except (requests.RequestException, ValueError) as error:
        return refused(settings, Refused(f"discovery failed: {error!r}", unreachable(settings), 502))
    next_url = safe_next(request.form.get("next"), "public.index")
    begun = single_sign_on.begin(settings.name, browser_digest(), next_url)
    extra = {"acr_values": settings.acr_values} if settings.acr_values else {}
    authorization = oauth_client.create_authorization_url(
        callback_url(settings.name),
        state=begun.state,
        nonce=begun.nonce,
        code_verifier=begun.code_verifier,
        **extra,
    )
    db.session.commit()
    response = current_app.make_response(
        render_template("auth/provider_redirect.html", provider=settings, url=authorization["url"])
    )
    response.headers["Refresh"] = f"0; url={authorization['url']}"
    response.headers["Cache-Control"] = "no-store"
    return response


def callback_url(provider):
    """The redirect URI registered with the provider: ``BASE_URL`` and the callback's path."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for("auth.provider_callback", provider=provider)


@bp.get("/sign-in/with/<provider>/callback")
@limiter.limit("30 per 15 minutes")
def provider_callback(provider):
    settings = single_sign_on.settings(provider)
    if settings is None:
        abort(404)
    state = request.args.get("state", "")
    if not state or len(state) > 200:
        return refused(settings, Refused("callback without a state", single_sign_on.start_again()))
    try:
        begun = single_sign_on.spend(settings.name, state, browser_digest())
    except Refused as error:
        return refused(settings, error)
    next_url = begun.next_url
    nonce, verifier = begun.nonce, begun.code_verifier
    db.session.commit()  # spent, whatever follows
    try:
        claims = checked_claims(settings, nonce, verifier)
        signed_in = guard.real(current_user) if current_user.is_authenticated else None
        outcome = single_sign_on.sign_in_with(settings, claims, signed_in)
    except Refused as error:
        return refused(settings, error)
    if outcome.member is None:
        db.session.commit()
        return to_registration(settings, outcome.email, str(claims["sub"]))
    member = outcome.member
    if not member.is_active:  # the address is not confirmed: told as the password sign-in tells it
        db.session.rollback()
        current_app.logger.info(
            "Single sign-on with %s: member %s has not confirmed their address", provider, member.id
        )
        remember_inbox(member.email)
        return render_template("auth/provider_error.html", provider=settings, unverified=True), 403
    start_session(member, method="provider", second_factor=settings.second_factor(claims))
    db.session.commit()
    if outcome.linked:
        flash(
            _(
                "Your %(provider)s account is now linked to your membership: next time it signs you in directly.",
                provider=settings.display_name,
            ),
            "success",
        )
    target = safe_next(next_url, "public.index")
    # A coordinator whose provider did not vouch for a second factor is asked for the app's code.
    return second_factor.after_sign_in(member, target) or redirect(target, code=303)


def checked_claims(settings, nonce, verifier):
    """The provider's answer, checked: no error, a code exchanged for tokens, the ID token's
    signature and claims (Authlib).  Refused otherwise, saying why in the log."""
    if request.args.get("error"):
        error = request.args.get("error", "")[:100]
        description = request.args.get("error_description", "")[:300]
        message = (
            _l("You cancelled the sign-in. Nothing was changed.")
            if error == "access_denied"
            else single_sign_on.start_again()
        )
        raise Refused(f"the provider answered {error!r}: {description!r}", message)
    code = request.args.get("code", "")
    if not code or len(code) > 2000:
        raise Refused("callback without a code", single_sign_on.start_again())
    oauth_client = client(settings)
    try:
        found = metadata(settings, oauth_client)
        token = oauth_client.fetch_access_token(
            redirect_uri=callback_url(settings.name), code=code, code_verifier=verifier
        )
    except (OAuthError, OAuth2Error) as error:
        raise Refused(
            f"the token endpoint refused the code: {error!r}", single_sign_on.start_again()
        ) from None
    except (requests.RequestException, ValueError) as error:
        raise Refused(f"the token endpoint failed: {error!r}", unreachable(settings), 502) from None
    if "id_token" not in token:
        raise Refused("no ID token in the token response", single_sign_on.start_again())
    options = {
        "iss": issuer_option(found["issuer"]),
        "aud": {"essential": True, "values": [settings.client_id]},
        "sub": {"essential": True},
    }
    try:
        claims = oauth_client.parse_id_token(token, nonce=nonce, claims_options=options, leeway=LEEWAY)
    except JoseError as error:
        raise Refused(f"the ID token was refused: {error!r}", single_sign_on.start_again()) from None
    except (requests.RequestException, ValueError, RuntimeError) as error:
        raise Refused(
            f"the provider's keys could not be read: {error!r}", unreachable(settings), 502
        ) from None
    if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
        raise Refused("the ID token's sub is not a usable string", single_sign_on.start_again())
    return claims


def to_registration(settings, email, subject):
    """Someone the provider knows and we do not: the registration form with the verified address
    (kept in the session, not the URL) – which then needs no password, confirms the address at once
    and links the provider's account (``accounts.register``'s ``vouched_by``); without an address
    (ID-porten sends none), a page that says how."""
    if not email:
        current_app.logger.info("Single sign-on with %s: no member and no verified address", settings.name)
        return render_template("auth/provider_error.html", provider=settings, no_address=True), 403
    session[REGISTER_EMAIL] = email
    session[REGISTER_IDENTITY] = [settings.name, subject]
    flash(
        _(
            "No member has the address %(email)s yet. Register below – the address is filled in for you.",
            email=email,
        ),
        "info",
    )
    return redirect(url_for("registration.register_page"), code=303)


@bp.post("/sign-in/with/<provider>/unlink")
@login_required
def provider_unlink(provider):
    """Remove the signed-in member's link to ``provider`` (My page); a second click finds none."""
    member = guard.real(current_user)
    name = (single_sign_on.settings(provider) or single_sign_on.Provider(provider, provider)).display_name
    if single_sign_on.unlink(member, provider):
        db.session.commit()
        flash(_("The link to %(provider)s is removed: it no longer signs you in.", provider=name), "success")
    else:
        flash(_("There is no link to %(provider)s to remove.", provider=name), "info")
    return redirect(url_for("account.index"), code=303)


@bp.app_context_processor
def provider_list():
    """``provider_accounts(member)`` for My page (templates/auth/provider_accounts.html)."""
    return {"provider_accounts": single_sign_on.accounts_of}


def address_to_register():
    """The verified address a provider gave someone sent to registration, if any."""
    return session.get(REGISTER_EMAIL)


def vouched_registration(email):
    """(provider, subject) when ``email`` is the address a provider vouched for in this session
    (the newcomer kept it on the registration form), else None; with the provider's display name."""
    identity = session.get(REGISTER_IDENTITY)
    vouched = session.get(REGISTER_EMAIL)
    if not (vouched and identity and email) or normalise_email(email) != vouched:
        return None
    settings = single_sign_on.settings(identity[0])
    return (identity[0], identity[1], settings.display_name) if settings else None


def forget_registration():
    session.pop(REGISTER_EMAIL, None)
    session.pop(REGISTER_IDENTITY, None)
