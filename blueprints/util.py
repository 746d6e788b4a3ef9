"""Helpers the blueprints share, so each common step of a view is written once:

- ``load``: an object by id (or code) or 404, then the policy (``models/policy.py``) – the
  first step of every view that acts on an object;
- ``carry_out``: the epilogue – call the operation, commit or roll back, flash, answer;
- ``token_link``: the routes a mailed link opens – the token resolved, or the 400 page;
- safe redirects, htmx fragments, the networks a coordinator works in.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import Field

from extensions import db
from models import DomainError, Network, tokens
from models.policy import require

T = TypeVar("T")
R = TypeVar("R")
# What to flash: a text (a success), a (text, category) pair, a list of those, or nothing.
Message = str | tuple[str, str] | list[Any] | None
Answer = ResponseReturnValue | None


def safe_next(target: str | None, default: str = "public.index") -> str:
    """A local path to go back to, never another site (no scheme, no host, no ``//``)."""
    if target:
        parts = urlsplit(target)
        local = not parts.scheme and not parts.netloc
        if local and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for(default)


def wants_fragment(target_id: str) -> bool:
    """True when htmx asks for the region ``target_id`` rather than the whole page."""
    htmx = request.htmx  # type: ignore[attr-defined]  # htmx-flask's request class
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request and htmx.target == target_id


def content_lang(written: str = "nb") -> Markup:
    """The ``lang`` attribute of text people wrote (meeting titles, newsletters, topics, questions,
    descriptions), in Norwegian ``written`` form, on a page in another language: `` lang="nb"`` on an
    English page, so a screen reader reads it as Norwegian (WCAG 3.1.2); nothing on a bokmål or
    nynorsk page, where it is the page's own language family.  In a template: ``<h1{{ content_lang() }}>``."""
    page = str(get_locale() or "nb")
    if page.split("_")[0] in ("nb", "nn", "no"):
        return Markup("")
    return Markup(' lang="%s"') % written


def remember_inbox(email: str) -> None:
    """The address a mail was just sent to, for the "check your inbox" page and the link to send
    it again: kept in the session, never in a URL (which access logs and browser history keep)."""
    session["inbox_email"] = email


def inbox_email() -> str:
    return str(session.get("inbox_email", ""))


class ListPage:
    """A page of a list counted elsewhere, shaped like Flask-SQLAlchemy's pagination for ``_pagination.html``."""

    def __init__(self, page: int, per_page: int, total: int) -> None:
        self.per_page, self.total = per_page, total
        self.pages = max(1, -(-total // per_page))
        self.page = min(max(1, page), self.pages)
        self.offset = (self.page - 1) * per_page
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


def load(
    model: type[T], ident: object, action: str | Callable[[T], str] | None = None, *, by: str = "id"
) -> T:
    """The object ``ident`` names, or 404; then ``action`` on it must be allowed
    (``policy.require``: the sign-in page for the anonymous, 403 for everyone else).

    404 only when the id names nothing – ids count up, so a 403 hides nothing a 404 would.
    ``by`` names another unique column (a network's ``code``); ``action`` may be a function of
    the object when the action depends on its state (a sent newsletter or a draft)."""
    obj: T = (
        db.get_or_404(model, ident) if by == "id" else db.one_or_404(select(model).filter_by(**{by: ident}))
    )
    if action is not None:
        require(action(obj) if callable(action) else action, obj)
    return obj


def network_or_404(code: str, action: str | None = None) -> Network:
    return load(Network, code, action, by="code")


def coordinated_networks() -> list[Network]:
    """The networks the signed-in user coordinates, in their fixed order."""
    return [
        n for n in db.session.scalars(select(Network).order_by(Network.id)) if current_user.coordinates(n)
    ]


def chosen_networks(codes: list[str]) -> list[Network]:
    """Of the networks the user coordinates, those ``codes`` name (a form's checkboxes)."""
    return [n for n in coordinated_networks() if n.code in codes]


def token_error(error: DomainError, retry: str | None = None) -> tuple[str, int]:
    """The page for a link that does not work: why, that nothing changed, where to get a new one."""
    return render_template("auth/token_error.html", error=error, retry=retry), 400


def token_link(
    resolve: Callable[[str], T], retry: str | None = None
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """For a route a mailed link opens (``/<token>``): ``resolve(token)`` finds what the link is
    for, or raises ``tokens.TokenError`` – then the 400 page says why, with ``retry`` (an
    endpoint) as the way to a new link.  The view is called with what was found and the token."""

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @wraps(view)
        def with_token(token: str, **kwargs: Any) -> ResponseReturnValue:
            try:
                found = resolve(token)
            except tokens.TokenError as error:
                return token_error(error, retry=url_for(retry) if retry else None)
            return view(found, token, **kwargs)

        return with_token

    return decorate


def form_refused(form: FlaskForm, redirect_to: str, fallback: str | None = None) -> ResponseReturnValue:
    """A form posted from a button or a small form on another page did not validate: nothing is
    done, its errors are flashed (or ``fallback``), and the answer goes back to that page."""
    messages = " ".join(str(e) for errors in form.errors.values() for e in errors)
    flash(messages or fallback or "", "error")
    return redirect(redirect_to, code=303)


def _flash_all(message: Message) -> None:
    """``message``: None, a text (flashed as a success), a (text, category) pair, or a list of those."""
    if message is None:
        return
    if isinstance(message, list):
        for each in message:
            _flash_all(each)
    elif isinstance(message, tuple):
        flash(*message)
    else:
        flash(message, "success")


def carry_out(
    operation: Callable[[], R],
    success: Message | Callable[[R], Message] = None,
    redirect_to: str | Callable[[R | None], Answer] | None = None,
    on_refusal: str | Field | Callable[[DomainError], Answer] = "error",
) -> Answer:
    """The epilogue of a view that changes state: call ``operation()``; on a ``DomainError``
    roll back (nothing of the request is kept), else commit, flash and answer.

    - ``success``: what to flash after the commit: a text, a (text, category) pair, a list of
      those, or a function of the operation's result returning one of these (or None).
    - ``redirect_to``: where to go (303) after success and, for a flashed refusal, also after
      the refusal: a URL; or a function of the result (None after a refusal) returning the
      whole response (an htmx fragment, the page that says it is done).
    - ``on_refusal``: a flash category (``"error"``, ``"info"``) – the refusal is flashed and
      the answer is the same redirect; a form field – the refusal is shown next to it and
      ``carry_out`` returns None, so the view draws the form again; or a function of the error
      returning the response (or None, to draw the form again).

    Returns the response, or None when the view is to draw its form again."""
    try:
        result = operation()
    except DomainError as error:
        db.session.rollback()
        if isinstance(on_refusal, Field):
            on_refusal.errors = [*on_refusal.errors, error.message]
            return None
        if callable(on_refusal):
            return on_refusal(error)
        flash(error.message, on_refusal)
        return _answer(redirect_to, None)
    db.session.commit()
    _flash_all(success(result) if callable(success) else success)
    return _answer(redirect_to, result)


def _answer(redirect_to: str | Callable[[Any], Answer] | None, result: object) -> Answer:
    if callable(redirect_to):
        return redirect_to(result)
    return None if redirect_to is None else redirect(redirect_to, code=303)
