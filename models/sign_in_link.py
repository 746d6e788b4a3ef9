"""Sign-in links mailed on request: a member who forgot their password, or never wants one, asks
for a link and follows it.

- The link works once, for 15 minutes (``LIFETIME``), and only for the address it was mailed to
  (the token carries the address's fingerprint: a link to an address changed since opens nothing).
  The token names its row (ids only); the row is spent by a conditional ``UPDATE`` whose row count
  decides, so a double click or two tabs sign in once and the other is told the link is used.
- It signs in at once only in the browser that asked (``browser``: a digest of that browser's
  sign-in cookie, ``blueprints.auth.sessions.browser_digest``).  Opened anywhere else – a forwarded
  mail, the phone's mail app, a colleague's screen – it asks for a click first, and only that
  click spends it.  A mail scanner that opens links has no such cookie and clicks nothing.
- Asking tells nobody who is registered: an address without an active account gets the same page
  after the same work (a row is written, with no member and no mail); the mail budget per address
  is the caller's (``blueprints.auth.limits``).
"""

import hmac

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from extensions import db
from models import guard, language, tokens
from models.errors import DomainError
from models.language import mail_locale
from models.markdown import html_to_text
from models.member import Member, normalise_email
from models.outbox import link, queue
from models.sign_in import SignInLink
from models.types import utcnow

LIFETIME = tokens.LIFETIMES["sign_in_link"]  # 15 minutes


SUBJECT = _l("Your sign-in link")


class OtherBrowser(DomainError):
    """The link was asked for in another browser: it signs in here only after a click."""

    def __init__(self, link: SignInLink) -> None:
        super().__init__(_l("This link was asked for in another browser."))
        self.link = link


def request_link(email: str, browser: str, mail: bool = True) -> SignInLink:
    """Ask for a sign-in link to ``email`` from the browser whose cookie digest is ``browser``.

    The link is mailed (in the member's written form) when the address is an active account's and
    ``mail`` (the address's mail budget) allows; either way a row is written, so the answer takes
    the same work and says the same.  Part of the caller's transaction."""
    email = normalise_email(email)
    member = Member.by_email(email)
    mailed = member is not None and member.is_active and mail
    row = SignInLink(member_id=member.id if mailed and member else None, browser=browser)
    db.session.add(row)
    db.session.flush()
    token = tokens.make("sign_in_link", link=row.id, address=tokens.fingerprint("sign_in_link", email))
    mail_context = {
        "url": link("auth.sign_in_by_link", token=token),
        "minutes": int(LIFETIME.total_seconds() // 60),
    }
    if mailed and member is not None:
        queue(
            member.email,
            SUBJECT,
            "sign_in_link",
            locale=mail_locale(member),
            member=member,
            **mail_context,
        )
    else:
        # The same work as the mail – the token, the link, the text – thrown away, so the answer
        # takes about as long whether or not the address has an account.
        with force_locale(language.DEFAULT):
            html_to_text(
                render_template(
                    "email/sign_in_link.html",
                    lang=language.DEFAULT,
                    subject=str(SUBJECT),
                    member=Member(name=""),
                    **mail_context,
                )
            )
    return row


def link_for(token: str) -> SignInLink:
    """The unspent link a token names; TokenError saying why not (bad, expired, used, or for an
    address or account that has changed)."""
    payload = tokens.read("sign_in_link", token)
    row = db.session.get(SignInLink, payload["link"]) if isinstance(payload.get("link"), int) else None
    member = row.member if row is not None else None
    if (
        row is None
        or member is None
        or not member.is_active
        or not tokens.same_fingerprint("sign_in_link", member.email, payload.get("address"))
    ):
        raise tokens.TokenError(_l("This link is not valid. Check that you copied all of it."))
    if row.used_at is not None:
        raise tokens.TokenError(_l("This sign-in link has been used already. Ask for a new one."))
    return row


def sign_in_by_link(token: str, browser: str, confirmed: bool = False) -> Member:
    """Spend the link and return whom it signs in.

    In the browser that asked, at once; elsewhere only ``confirmed`` (the click on the page that
    says so), else ``OtherBrowser`` and nothing is spent.  The conditional UPDATE decides: of two
    uses at the same moment one signs in, the other gets TokenError (used)."""
    row = link_for(token)
    if not confirmed and not hmac.compare_digest(row.browser, browser):
        raise OtherBrowser(row)
    now = utcnow()
    spent = guard.claim(
        update(SignInLink)
        .where(
            SignInLink.id == row.id,
            SignInLink.used_at.is_(None),
            SignInLink.created_at > now - LIFETIME,
        )
        .values(used_at=now)
    )
    if not spent:
        raise tokens.TokenError(_l("This sign-in link has been used already. Ask for a new one."))
    member = row.member
    assert member is not None  # link_for checked
    return member
