"""Starting a signed-in session, and what it remembers of how it was started.

Every way of signing in ends in ``start_session``: a password, a mailed sign-in link, a reset or
welcome link, single sign-on.  The session records the way (``METHODS``) and whether a second factor
was shown (an authenticator code, or a provider's ID token whose ``amr`` says one was used and is
trusted); the coordinator pages ask ``second_factor_shown`` (``models.second_factor``).  A session
restored from the "keep me signed in" cookie remembers neither: it is a password session without a
second factor.

The *browser cookie* binds a sign-in begun in one browser (a mailed link asked for, a provider
sign-in begun) to that browser: a random value in an HttpOnly cookie, of which the row keeps only a
digest.  A link opened in another browser (forwarded, or a phone's mail app) then asks for a
confirming click instead of signing in at once.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import after_this_request, current_app, g, request, session
from flask_login import login_user

from models.types import utcnow

METHODS = ("password", "link", "reset", "provider")
# A change that asks who is there (deleting the account, a new sign-in address) asks for the password
# unless the session began this recently, whichever way: a member who signs in by a link or a
# provider, and has forgotten the password or never used one, signs in again instead.
FRESH = timedelta(minutes=15)
BROWSER_COOKIE = "sign_in_browser"
BROWSER_COOKIE_AGE = 60 * 60 * 24 * 30


def start_session(member, *, method, remember=False, second_factor=False):
    """Sign ``member`` in on a new session: whatever the cookie held before (a session planted by
    someone else included) is dropped, only the chosen language is kept, so the signed-in
    session shares nothing with the one before it.  The cookie carries the account's session key
    (``Member.get_id``)."""
    assert method in METHODS, method
    locale = session.get("locale") or member.language  # a choice made now wins over the stored one
    session.clear()
    if locale:
        session["locale"] = locale
    session["signed_in_with"] = method
    session["signed_in_at"] = int(utcnow().timestamp())
    if second_factor:
        session["second_factor"] = True
    login_user(member, remember=remember)
    member.last_sign_in_at = utcnow()


def freshly_signed_in():
    """Did this session begin within ``FRESH``?  (Not one restored from "keep me signed in".)"""
    began = session.get("signed_in_at")
    return isinstance(began, int) and 0 <= utcnow().timestamp() - began < FRESH.total_seconds()


def second_factor_shown():
    return bool(session.get("second_factor"))


def mark_second_factor_shown():
    session["second_factor"] = True


def browser_digest(make=True):
    """The digest of this browser's sign-in cookie; a browser without one gets one with this
    response (``make``), or the digest of nothing, which no row keeps (not ``make``)."""
    value = request.cookies.get(BROWSER_COOKIE, "")
    if len(value) != 43:
        if not make:
            return ""
        value = g.get("new_browser_cookie")
        if value is None:
            value = g.new_browser_cookie = secrets.token_urlsafe(32)

            @after_this_request
            def set_cookie(response):
                response.set_cookie(
                    BROWSER_COOKIE,
                    value,
                    max_age=BROWSER_COOKIE_AGE,
                    httponly=True,
                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                    samesite="Lax",
                )
                return response

    return hashlib.sha256(value.encode()).hexdigest()
