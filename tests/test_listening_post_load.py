"""The listening post under load, on PostgreSQL: 500 members report within a minute over HTTP
(a real threaded server, 25 clients at a time, each member's own session), every signal is stored
once, and the board's counts equal the rows."""

import http.client
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import pytest
from flask import g, session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, insert, select

from extensions import db
from models import Emergency, Network, Signal
from models import emergency as emergencies
from models import signal as signals
from tests.conftest import LiveServer, postgres_only

pytestmark = pytest.mark.timeout(600)

MEMBERS = 500
CLIENTS = 25
# Eight municipalities in six counties (kommunenummer), so the counts spread over the table.
PLACES = ("4601", "0301", "1103", "5001", "1508", "3301", "4204", "5501")
KINDS = ("rumour", "information_need", "interpretation", "barrier", "good_example", "other")
LANGUAGES = ("ar", "so", "ti", "uk", "pl", "prs")


def active_members(places, network, n):
    """``n`` members active in ``network``, spread over ``places``, made in one flush."""
    from werkzeug.security import generate_password_hash

    from models import Anchoring, Member, Membership
    from models.types import utcnow

    now, password = utcnow(), generate_password_hash("x", method="pbkdf2:sha256:1000")
    members = []
    for i in range(n):
        place = places[i % len(places)]
        member = Member(
            organisation=place,
            name=f"Lytter {i}",
            email=f"lytter{i}@{place.number}.kommune.example",
            manager_name="Leder",
            manager_email=f"leder{i}@kommune.example",
            password_hash=password,
            auth_version=1,
            email_verified_at=now,
        )
        anchoring = Anchoring(
            member=member,
            manager_name="Leder",
            manager_email=f"leder{i}@kommune.example",
            status="confirmed",
            requested_at=now,
            decided_at=now,
            method="manager_link",
        )
        db.session.add_all([member, anchoring])
        members.append((member, anchoring))
    db.session.flush()
    # Straight to active, as the demo seed does (the transitions are under test elsewhere).
    db.session.execute(
        insert(Membership),
        [
            {
                "member_id": member.id,
                "organisation_id": member.organisation_id,
                "network_id": network.id,
                "_status": "active",
                "is_main_contact": False,
                "created_at": now,
                "status_changed_at": now,
                "activated_at": now,
                "anchoring_id": anchoring.id,
            }
            for member, anchoring in members
        ],
    )
    members = [member for member, _anchoring in members]
    db.session.commit()
    return members


def test_500_members_report_within_a_minute_and_the_board_counts_every_signal_once(
    app, create_coordinator, municipality
):
    postgres_only(app)
    places = [municipality(number) for number in PLACES]
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    coordinator = create_coordinator("NIK")
    emergency = emergencies.open_emergency([nik], "Utbrudd", by=coordinator)
    db.session.commit()
    members = active_members(places, nik, MEMBERS)

    # Each member's own signed-in session (as the sign-in form leaves it: flask_login's keys and a
    # CSRF token), made in-process before the minute starts – the sign-in is not under test here.
    name = app.config["SESSION_COOKIE_NAME"]
    serializer = app.session_interface.get_signing_serializer(app)
    sessions = []
    for member in members:
        with app.test_request_context():
            login_user(member)
            g.pop("csrf_token", None)  # g is the app context's: the token of the member before
            token = generate_csrf()
            sessions.append((serializer.dumps(dict(session)), token, member.organisation_id))

    url = f"/emergencies/{emergency.id}/signals/new"
    with LiveServer(app) as server:
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        local = threading.local()

        def report(i):
            cookie, token, organisation_id = sessions[i]
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection(host, port, timeout=60)
            body = urlencode(
                {
                    "csrf_token": token,
                    "submission": uuid.uuid4().hex,
                    "kind": KINDS[i % len(KINDS)],
                    "languages": LANGUAGES[i % len(LANGUAGES)],
                    "municipality": str(organisation_id),
                    "urgency": "soon",
                    "text": f"Melding nummer {i}: spørsmål om vaksinen på arabisk",
                }
            )
            local.connection.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"{name}={cookie}"},
            )
            response = local.connection.getresponse()
            response.read()
            return response.status

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(report, range(MEMBERS)))
        took = time.monotonic() - started

    assert statuses == [303] * MEMBERS, {s: statuses.count(s) for s in set(statuses)}
    assert took < 60, f"{MEMBERS} reports took {took:.1f} s"
    print(f"{MEMBERS} reports over HTTP from {CLIENTS} clients in {took:.1f} s")
    db.session.expire_all()
    stored = db.session.scalar(select(func.count()).select_from(Signal).filter_by(emergency_id=emergency.id))
    assert stored == MEMBERS
    # Once each: every member's report is there, and only once.
    per_member = db.session.execute(
        select(Signal.reporter_id, func.count())
        .filter_by(emergency_id=emergency.id)
        .group_by(Signal.reporter_id)
    ).all()
    assert len(per_member) == MEMBERS and {n for _id, n in per_member} == {1}
    emergency = db.session.get(Emergency, emergency.id)
    assert sum(signals.counts_by_county(emergency).values()) == MEMBERS
    assert sum(signals.counts_by_language(emergency).values()) == MEMBERS
