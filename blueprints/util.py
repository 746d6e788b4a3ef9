"""Helpers the blueprints share: safe redirects, fragments, the networks a coordinator works in.

Who may do what is ``models/policy.py``: a view calls ``require(action, obj)`` after loading."""

from urllib.parse import urlsplit

from flask import render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from extensions import db


def safe_next(target, default="public.index"):
    """A local path to go back to, never another site (no scheme, no host, no ``//``)."""
    if target:
        parts = urlsplit(target)
        local = not parts.scheme and not parts.netloc
        if local and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for(default)


def wants_fragment(target_id):
    """True when htmx asks for the region ``target_id`` rather than the whole page."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request and htmx.target == target_id


def remember_inbox(email):
    """The address a mail was just sent to, for the "check your inbox" page and the link to send
    it again: kept in the session, never in a URL (which access logs and browser history keep)."""
    session["inbox_email"] = email


def inbox_email():
    return session.get("inbox_email", "")


class ListPage:
    """A page of a list counted elsewhere, shaped like Flask-SQLAlchemy's pagination for ``_pagination.html``."""

    def __init__(self, page, per_page, total):
        self.per_page, self.total = per_page, total
        self.pages = max(1, -(-total // per_page))
        self.page = min(max(1, page), self.pages)
        self.offset = (self.page - 1) * per_page
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


def network_or_404(code):
    from models import Network

    return db.one_or_404(select(Network).filter_by(code=code))


def coordinated_networks():
    """The networks the signed-in user coordinates, in their fixed order."""
    from models import Network

    return [
        n for n in db.session.scalars(select(Network).order_by(Network.id)) if current_user.coordinates(n)
    ]


def chosen_networks(codes):
    """Of the networks the user coordinates, those ``codes`` name (a form's checkboxes)."""
    return [n for n in coordinated_networks() if n.code in codes]


def token_error(error, retry=None):
    """The page for a link that does not work: why, that nothing changed, where to get a new one."""
    return render_template("auth/token_error.html", error=error, retry=retry), 400
