"""Teams: the workspace roster, and the channel the network's posts go to.

Teams itself is outside the tracker: the coordinator copies the addresses of those not yet
invited into Teams, then marks them invited here (in bulk, with the time and who did it).
A new active member appears as "to invite" until then.  A network may name its Teams
channel's incoming webhook: newsletters and emergency call-ins are then posted there through
the outbox (``outbox.queue_webhook``).
"""

import contextlib
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import LazyString, force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import selectinload

from extensions import db
from models import audit, cards, guard
from models.errors import DomainError
from models.member import Member
from models.membership import Membership, MembershipStatus
from models.outbox import OutboxMessage, queue_webhook
from models.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

    from models.network import Network


def _active(network: "Network") -> "Select[Membership]":
    return (
        select(Membership)
        .join(Member, Member.id == Membership.member_id)
        .where(
            Membership.network_id == network.id,
            Membership.status == MembershipStatus.ACTIVE,
            Member.deleted_at.is_(None),
        )
    )


def roster(network: "Network") -> tuple[list[Membership], list[Membership]]:
    """(to invite, invited): the network's active memberships, with member and organisation loaded."""
    memberships = db.session.scalars(
        _active(network)
        .options(
            selectinload(Membership.member).selectinload(Member.organisation),
            selectinload(Membership.teams_invited_by),
        )
        .order_by(Member.name)
    ).all()
    return (
        [m for m in memberships if m.teams_invited_at is None],
        [m for m in memberships if m.teams_invited_at is not None],
    )


def addresses_to_invite(network: "Network") -> Sequence[str]:
    """The e-mail addresses of those not yet invited, in the order Teams takes them."""
    return db.session.scalars(
        select(Member.email)
        .join(Membership, Membership.member_id == Member.id)
        .where(
            Membership.id.in_(_active(network).with_only_columns(Membership.id)),
            Membership.teams_invited_at.is_(None),
        )
        .order_by(Member.name)
    ).all()


def mark_invited(network: "Network", membership_ids: Iterable[int], by: Member) -> int:
    """Mark the chosen active, not yet invited memberships of ``network`` invited; returns how many.

    One conditional UPDATE: ids of other networks, of members no longer active, or already marked
    are left alone – so the same marking sent twice at the same moment marks (and audits) once.
    """
    now = utcnow()
    # Ids past the id column's range (INTEGER) name no membership; sent on, the database would refuse the query.
    membership_ids = [i for i in membership_ids if 0 < i <= 2**31 - 1]
    result = db.session.execute(
        update(Membership)
        .where(
            Membership.id.in_(membership_ids),
            Membership.network_id == network.id,
            Membership.teams_invited_at.is_(None),
            Membership.id.in_(_active(network).with_only_columns(Membership.id)),
        )
        .values(teams_invited_at=now, teams_invited_by_id=by.id)
        .execution_options(synchronize_session=False)
    )
    marked = cast("CursorResult[Any]", result).rowcount  # an UPDATE's result
    if marked:
        audit.record(
            "teams.invited", network=network, subject=f"teams:{network.code}", after={"invited": marked}
        )
    db.session.expire_all()
    return marked


# -- the webhook's address: https to a public host, checked when saved and again at every post --

# The hosts Microsoft gives incoming-webhook addresses on: Office 365 connectors
# (``https://<tenant>.webhook.office.com/webhookb2/…``) and the Workflows app that replaces them
# (``https://prod-NN.<region>.logic.azure.com:443/workflows/…`` and
# ``https://<environment>.environment.api.powerplatform.com:443/powerautomate/…``).
# ``TEAMS_WEBHOOK_HOSTS`` (comma-separated host suffixes) replaces the list; empty allows any host.
MICROSOFT_WEBHOOK_HOSTS = ("webhook.office.com", "logic.azure.com", "powerplatform.com")


class WebhookRefused(DomainError):
    """The address is not one the app posts to; ``message`` says why (shown next to the field)."""


def allowed_hosts() -> tuple[str, ...]:
    """The host suffixes a webhook address may have (empty: any public host)."""
    configured = current_app.config.get("TEAMS_WEBHOOK_HOSTS")
    if configured is None:
        return MICROSOFT_WEBHOOK_HOSTS
    if isinstance(configured, str):
        configured = configured.split(",")
    return tuple(h.strip().strip(".").lower() for h in configured if h.strip().strip("."))


def is_public(address: str) -> bool:
    """A global unicast address: not loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
    shared (100.64/10), link-local (169.254/16 – the cloud metadata service – and fe80::/10),
    multicast, reserved, documentation or unspecified; an IPv6 address that carries an IPv4
    address (mapped, NAT64, 6to4, Teredo) is judged by the IPv4 address too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inside: list[ipaddress.IPv4Address] = []
    if ip.version == 6:
        if ip in NAT64:
            inside.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        inside += [a for a in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if a is not None]
    return all(
        a.is_global
        and not (
            a.is_multicast
            or a.is_private
            or a.is_loopback
            or a.is_link_local
            or a.is_reserved
            or a.is_unspecified
        )
        for a in (ip, *inside)
    )


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _internal_allowed() -> bool:
    """Tests post to a server on 127.0.0.1 over http; nothing else may (and never in production)."""
    return current_app.testing and bool(current_app.config.get("WEBHOOK_ALLOW_INTERNAL", False))


def _parse(url: str | None) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an address the rules allow, else WebhookRefused."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:  # "https://[::1/", "https://host:99999/"
        parts, port = urlsplit(""), -1
    try:  # as DNS carries it (xn--… for a name in other letters); labels of 1–63 letters
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        host = ""
    if not host or port == -1 or parts.username is not None or parts.password is not None:
        raise WebhookRefused(_l("Give the whole address Teams gave you, starting with https://"))
    internal = _internal_allowed()
    if parts.scheme.lower() != "https" and not (internal and parts.scheme.lower() == "http"):
        raise WebhookRefused(_l("The address must start with https://, so that the posts travel encrypted."))
    if not internal:
        hosts = allowed_hosts()
        if hosts and not any(host == h or host.endswith("." + h) for h in hosts):
            raise WebhookRefused(
                _l(
                    "That is not an address of a Teams webhook (it must end in %(hosts)s).",
                    hosts=", ".join(hosts),
                )
            )
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public(host):
            raise WebhookRefused(
                _l("That address is on an internal network; the app posts only to public hosts.")
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme.lower(), host, port or (443 if parts.scheme.lower() == "https" else 80), path


def _resolve(host: str, port: int) -> list[str]:
    """Every address the name has now; WebhookRefused if any of them is not public."""
    addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    if not _internal_allowed() and not all(is_public(a) for a in addresses):
        raise WebhookRefused(
            _l("That address is on an internal network; the app posts only to public hosts.")
        )
    return addresses


def check_webhook_url(url: str | None) -> None:
    """Refuse (``WebhookRefused``) an address the app will not post to: not https, not on a
    Microsoft webhook host (``allowed_hosts``), or a name or number for an internal address.  A
    name is resolved now; one that does not resolve (yet) is let through – the address is checked
    again, resolved afresh, before every post (``WebhookTarget``)."""
    _scheme, host, port, _path = _parse(url)
    with contextlib.suppress(OSError):
        _resolve(host, port)


class WebhookTarget:
    """Where a post goes: the address as written, and the one checked IP address the connection is
    made to – so a name that resolves differently a moment later (DNS rebinding) cannot send the
    post elsewhere.  TLS is still checked against the host's name."""

    def __init__(self, url: str | None) -> None:
        self.scheme, self.host, self.port, self.path = _parse(url)
        self.address = _resolve(self.host, self.port)[0]

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "http":
            return _PinnedHTTPConnection(self.host, self.port, self.address, timeout)
        return _PinnedHTTPSConnection(self.host, self.port, self.address, timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    _context: ssl.SSLContext  # http.client's own, set by its __init__ (typeshed leaves it out)

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def set_channel(network: "Network", url: str | None) -> bool:
    """Set (or, with None, clear) the network's Teams channel webhook; audited without the secret
    address.  An address the app will not post to is refused (``WebhookRefused``, see
    ``check_webhook_url``).  The network's row is locked and read afresh: the same address saved
    twice at the same moment is saved (and audited) once.  True if it changed."""
    if url:
        check_webhook_url(url)
    guard.lock(network)
    if url == network.teams_webhook_url:
        return False
    network.teams_webhook_url = url
    audit.record(
        "teams.channel_set" if url else "teams.channel_cleared",
        network=network,
        subject=f"teams:{network.code}",
        after={"host": urlsplit(url).hostname} if url else None,
    )
    return True


def post(
    network: "Network",
    title: str | LazyString,
    text: "str | Sequence[cards.Block]",
    template: str,
    buttons: "Sequence[tuple[str | LazyString, str | None]]" = (),
    priority: int = 0,
    batch: str | None = None,
) -> OutboxMessage | None:
    """Post to the network's Teams channel, if it has one (through the outbox: retried, never lost):
    a card naming the network, with ``title``, the text shortened and a labelled button per
    (label, address) of ``buttons`` – links go there, not into the text.  The channels are the
    Directorate's: the title and the buttons' labels are written in bokmål."""
    if not network.teams_webhook_url:
        return None
    with force_locale("nb"):
        title = str(title)
        labelled = [(str(label), url) for label, url in buttons if url]
    return queue_webhook(
        network.teams_webhook_url,
        f"Teams: {network.code}",
        title,
        text,
        template,
        priority=priority,
        batch=batch,
        context=f"{network.code} – {network.name}",
        buttons=labelled,
    )
