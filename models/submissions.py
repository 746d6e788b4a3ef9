"""A form is done once, however often it is sent: the submission key.

Every form the app draws carries a fresh random key (``submission_field()``, beside the CSRF
token).  The key is written first thing in the request's transaction, so it is kept exactly when
what the form asked is committed (a refusal rolls both back).  A form sent again with a key
already stored – a double click, the back button, a retry after an answer lost on the way (the
database committed, then the connection was cut) – does nothing more and leads back to the page
it came from, saying so.  Two copies at the same moment: the second waits on the key's primary key
until the first ends, and is then told the same (or, if the first was refused, goes ahead).  A
form drawn again (after a refusal, or a reload) has a new key.

Keys hold no personal data; ``flask privacy purge`` forgets them after a day.
"""

import re
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from flask import flash, redirect, request
from flask_babel import lazy_gettext as _l
from htmx_flask import make_response as htmx_response
from markupsafe import Markup
from sqlalchemy import CursorResult, String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.wrappers import Response

from extensions import Model, db
from models.types import UTCDateTime, utcnow

FIELD = "submission"
KEEP = timedelta(days=1)
_FORMAT = re.compile(r"^[0-9a-f]{32}$")


class FormSubmission(Model):
    __tablename__ = "form_submissions"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def submission_field() -> Markup:
    """The hidden field every state-changing form carries (a Jinja global)."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{uuid.uuid4().hex}">')


def _key() -> str | None:
    key = request.form.get(FIELD, "") if request.method == "POST" else ""
    return key if _FORMAT.match(key) else None


def check_request() -> Response | None:
    """``before_request``: the form's key is written first thing in the request's transaction, so
    it is stored exactly when what the form asked is committed.  A key already stored – or being
    stored by a copy of the form running at this moment, which the database makes this one wait
    for – means the form was done: answer as such."""
    key = _key()
    if key is None:
        return None
    try:
        db.session.execute(insert(FormSubmission).values(key=key, at=utcnow()))
    except IntegrityError:
        db.session.rollback()
        return already_done()
    return None


def already_done() -> Response:
    """Back to the page the form was on, which shows how things stand now."""
    from blueprints.util import safe_next

    flash(_l("That form had already been sent, and it was done once. This is how it stands now."), "info")
    referrer = request.referrer or ""
    host = request.host_url.rstrip("/")
    target = safe_next(referrer[len(host) :] if referrer.startswith(host) else None)
    if request.htmx:  # type: ignore[attr-defined]  # htmx-flask's request class
        response: Response = htmx_response("", 200, redirect=target)  # htmx loads the page itself
        return response
    return redirect(target, code=303)


def forget_old(now: datetime | None = None) -> int:
    """Keys older than a day are forgotten (a form that old is drawn again before it is sent)."""
    cutoff = (now or utcnow()) - KEEP
    result = db.session.execute(delete(FormSubmission).where(FormSubmission.at < cutoff))
    return cast("CursorResult[Any]", result).rowcount  # a DELETE's result
