"""Short notices by mail (in each person's written form, through the outbox) to the people a change concerns."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models.language import mail_locale
from models.outbox import link, queue
from models.role import CoordinatorRole

if TYPE_CHECKING:
    from models.member import Member
    from models.network import Network
    from models.outbox import OutboxMessage


def notify(
    member: "Member | None",
    subject: str | LazyString,
    *lines: str | LazyString,
    endpoint: str | None = "account.index",
    link_text: str | LazyString | None = None,
    **values: Any,
) -> "OutboxMessage | None":
    """One mail to ``member``: a greeting, the lines, and a link into the app."""
    if member is None or member.deleted_at is not None:
        return None
    return queue(
        member.email,
        subject,
        "notice",
        locale=mail_locale(member),
        name=member.name,
        lines=lines,
        url=link(endpoint, **values) if endpoint else None,
        link_text=link_text or _l("Open the membership tracker"),
    )


def coordinators_of(network: "Network") -> Sequence[CoordinatorRole]:
    return db.session.scalars(select(CoordinatorRole).where(CoordinatorRole.network_id == network.id)).all()


def notify_coordinators(
    network: "Network", subject: str | LazyString, *lines: str | LazyString, **link_args: Any
) -> None:
    for role in coordinators_of(network):
        notify(role.member, subject, *lines, **link_args)
