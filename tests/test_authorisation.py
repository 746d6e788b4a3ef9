"""Every route × every role: who may do what is checked on the server.

The table lists every endpoint of the URL map; a new route without a row fails
``test_every_route_is_in_the_table``.  ``login`` means a redirect to sign-in.
"""

import pytest
from sqlalchemy import select

from extensions import db
from models import Organisation, outbox, tokens
from tests.conftest import csrf_token_from, sign_in

ROLES = (
    "anonymous",
    "member",  # of Bergen, in NIK
    "member_elsewhere",  # of Oslo
    "main_contact",  # of Bergen
    "main_contact_elsewhere",  # of Oslo
    "coordinator_elsewhere",  # of NIFS and NONEMI, not NIK
    "coordinator",  # of NIK
)
# Roles that are not coordinators of any network.
COORDINATED = {"member": 403, "member_elsewhere": 403, "main_contact": 403, "main_contact_elsewhere": 403}
OUTSIDERS = {"member_elsewhere": 403, "main_contact_elsewhere": 403, "coordinator_elsewhere": 403}
BAD_TOKEN = "not-a-valid-token"

# endpoint: (method, url (formatted with the ids below), {role: expected}, default for other roles)
TABLE = {
    "public.index": ("GET", "/", {}, 200),
    "public.set_language": ("POST", "/language", {}, 303),
    "organisations.index": ("GET", "/organisations/", {}, 200),
    "public.privacy": ("GET", "/privacy", {}, 200),
    "public.accessibility": ("GET", "/accessibility", {}, 200),
    "auth.sign_in": ("GET", "/sign-in", {"anonymous": 200}, 302),
    "auth.sign_out": ("POST", "/sign-out", {}, 303),
    "auth.forgot_password": ("GET", "/reset-password", {}, 200),
    "auth.reset_password": ("GET", f"/reset-password/{BAD_TOKEN}", {}, 400),
    "auth.verify_email": ("GET", f"/verify/{BAD_TOKEN}", {}, 400),
    "auth.resend_verification": ("GET", "/verify", {}, 200),
    "registration.register_page": ("GET", "/register/", {"anonymous": 200}, 302),
    "registration.check_field": ("POST", "/register/check/name", {}, 200),
    "registration.organisation_choices": ("GET", "/register/organisations?organisation_query=Bergen", {}, 200),
    "registration.sent": ("GET", "/register/sent?email=a@b.no", {}, 200),
    "anchorings.decide": ("GET", f"/anchoring/{BAD_TOKEN}", {}, 400),
    "anchorings.pending": ("GET", "/anchoring/pending", {"anonymous": "login", **COORDINATED}, 200),
    "anchorings.record": (
        "POST", "/anchoring/{anchoring}/record",
        {"anonymous": "login", "coordinator_elsewhere": 404, "coordinator": 422}, 403,
    ),
    "account.index": ("GET", "/me/", {"anonymous": "login"}, 200),
    "account.edit": ("GET", "/me/edit", {"anonymous": "login"}, 200),
    "account.leave": ("POST", "/me/memberships/{others_membership}/leave", {"anonymous": "login"}, 404),
    "account.ask_again": ("POST", "/me/anchoring/ask-again", {"anonymous": "login"}, 303),
    "account.export": ("GET", "/me/export.json", {"anonymous": "login"}, 200),
    "account.delete": ("GET", "/me/delete", {"anonymous": "login"}, 200),
    "account.change_email": ("GET", "/me/email", {"anonymous": "login"}, 200),
    "account.confirm_email": ("GET", f"/me/email/{BAD_TOKEN}", {}, 400),
    "coordinator.index": ("GET", "/coordinator/", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.outbox": ("GET", "/coordinator/outbox", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.retry": ("POST", "/coordinator/outbox/{message}/retry", {"anonymous": "login", **COORDINATED}, 303),
    "coordinator.audit_log": ("GET", "/coordinator/audit", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.coordinators": ("GET", "/coordinator/coordinators", {"anonymous": "login", **COORDINATED}, 200),
    "organisations.manage": ("GET", "/organisations/manage", {"anonymous": "login", **COORDINATED}, 200),
    "organisations.edit": ("GET", "/organisations/{observer}/edit", {"anonymous": "login", **COORDINATED}, 200),
    "organisations.set_active": (
        "POST", "/organisations/{observer}/reactivate", {"anonymous": "login", **COORDINATED}, 303,
    ),
    "meetings.year_plan": ("GET", "/meetings/plan/NIK/2027", {"anonymous": "login", "coordinator_elsewhere": 403}, 200),
    "meetings.new": ("GET", "/meetings/new", {"anonymous": "login", **COORDINATED}, 200),
    "meetings.show": ("GET", "/meetings/{meeting}", {"anonymous": "login", "coordinator_elsewhere": 403}, 200),
    "meetings.calendar_file": ("GET", "/meetings/{meeting}.ics", {"anonymous": "login", "coordinator_elsewhere": 403}, 200),
    "meetings.sign_up": ("POST", "/meetings/{meeting}/signup", {"anonymous": "login", "coordinator_elsewhere": 403}, 303),
    "meetings.withdraw": ("POST", "/meetings/{meeting}/withdraw", {"anonymous": "login", "coordinator_elsewhere": 403}, 303),
    "meetings.cancel": ("POST", "/meetings/{other_meeting}/cancel", {"anonymous": "login", "coordinator": 303}, 403),
    "meetings.attendance": ("POST", "/meetings/{meeting}/attendance", {"anonymous": "login", "coordinator": 303}, 403),
    "meetings.minutes": ("POST", "/meetings/{meeting}/minutes", {"anonymous": "login", "coordinator": 303}, 403),
    "meetings.acknowledge": ("GET", f"/meetings/received/{BAD_TOKEN}", {}, 400),
    "meetings.acknowledgements": ("GET", "/meetings/{other_meeting}/acknowledgements", {"anonymous": "login", "coordinator": 200}, 403),
    "meetings.remind_unacknowledged": (
        "POST", "/meetings/{other_meeting}/acknowledgements/remind", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "topics.propose": ("POST", "/meetings/plan/NIK/topics", {"anonymous": "login", "coordinator_elsewhere": 403}, 303),
    "topics.support": ("POST", "/meetings/topics/{proposal}/support", {"anonymous": "login", "coordinator_elsewhere": 403}, 303),
    "topics.decide": (
        "POST", "/meetings/topics/{proposal}/decline", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "meetings.edit": ("GET", "/meetings/{meeting}/edit", {"anonymous": "login", "coordinator": 200}, 403),
    "meetings.calendar_feed": ("GET", f"/meetings/calendar/{BAD_TOKEN}.ics", {}, 400),
    "coordinator.overview": ("GET", "/coordinator/overview?network=NIK", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.export": ("GET", "/coordinator/overview/members.xlsx?network=NIK", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.change_requests": ("GET", "/coordinator/change-requests", {"anonymous": "login", **COORDINATED}, 200),
    "coordinator.decide_change": (
        "POST", "/coordinator/change-requests/{change}/apply",
        {"anonymous": "login", **COORDINATED, "coordinator_elsewhere": 404}, 303,
    ),
    "reviews.index": ("GET", "/reviews/NIK/", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.new": ("GET", "/reviews/NIK/new", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.cycle": ("GET", "/reviews/cycle/{review}", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.report": ("GET", "/reviews/cycle/{review}/report", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.export": ("GET", "/reviews/cycle/{review}/export.csv", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.close": ("GET", "/reviews/cycle/{review}/close", {"anonymous": "login", "coordinator": 200}, 403),
    "reviews.restore": ("POST", "/reviews/response/{response}/restore", {"anonymous": "login", "coordinator": 303}, 403),
    "reviews.answer": ("GET", f"/reviews/answer/{BAD_TOKEN}", {}, 400),
    "reviews.take_me_back": ("POST", "/reviews/mine/{response}/restore", {"anonymous": "login"}, 404),
    "reviews.mandate": ("GET", "/mandate/NIK", {}, 200),
    "reviews.new_mandate": ("GET", "/mandate/NIK/new", {"anonymous": "login", "coordinator": 200}, 403),
    "coordinator.teams": ("GET", "/coordinator/teams/NIK", {"anonymous": "login", "coordinator": 200}, 403),
    "coordinator.teams_addresses": (
        "GET", "/coordinator/teams/NIK/to-invite.txt", {"anonymous": "login", "coordinator": 200}, 403,
    ),
    "coordinator.teams_mark": ("POST", "/coordinator/teams/NIK/invited", {"anonymous": "login", "coordinator": 303}, 403),
    "coordinator.teams_channel": ("POST", "/coordinator/teams/NIK/channel", {"anonymous": "login", "coordinator": 303}, 403),
    "account.newsletter": ("POST", "/me/newsletter", {"anonymous": "login"}, 303),
    "newsletters.submit_input": ("GET", "/newsletter/input", {"anonymous": "login"}, 200),
    "newsletters.archive": ("GET", "/newsletter/", {"anonymous": "login"}, 200),
    # A draft is seen only by the coordinator who manages it; sent issues by their networks' members.
    "newsletters.show": ("GET", "/newsletter/{newsletter}", {"anonymous": "login", "coordinator": 200}, 404),
    "newsletters.queue": ("GET", "/newsletter/queue", {"anonymous": "login", **COORDINATED}, 200),
    "newsletters.edit_input": (
        "GET", "/newsletter/input/{news_input}/edit", {"anonymous": "login", "coordinator": 200}, 403,
    ),
    "newsletters.include": (
        "POST", "/newsletter/input/{news_input}/include", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "newsletters.decline": (
        "POST", "/newsletter/input/{news_input}/decline", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "newsletters.withdraw": (
        "POST", "/newsletter/input/{news_input}/withdraw", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "newsletters.new": ("GET", "/newsletter/new", {"anonymous": "login", **COORDINATED}, 200),
    "newsletters.edit": ("GET", "/newsletter/{newsletter}/edit", {"anonymous": "login", "coordinator": 200}, 403),
    "newsletters.send_test": ("POST", "/newsletter/{newsletter}/test", {"anonymous": "login", "coordinator": 303}, 403),
    "newsletters.send": ("POST", "/newsletter/{newsletter}/send", {"anonymous": "login", "coordinator": 303}, 403),
    "newsletters.unsubscribe": ("GET", f"/newsletter/unsubscribe/{BAD_TOKEN}", {}, 400),
    "advice.index": ("GET", "/advice/", {"anonymous": "login"}, 200),
    "advice.new": ("GET", "/advice/new", {"anonymous": "login", **COORDINATED}, 200),
    # Asked: the active members of NIK; the coordinator manages it; a coordinator of other networks is neither.
    "advice.show": ("GET", "/advice/{advice}", {"anonymous": "login", "coordinator_elsewhere": 404}, 200),
    "advice.answers": ("GET", "/advice/{advice}/answers", {"anonymous": "login", "coordinator": 200}, 403),
    "advice.export": ("GET", "/advice/{advice}/answers.csv", {"anonymous": "login", "coordinator": 200}, 403),
    "public.network": ("GET", "/networks/NIK", {}, 200),
    "directory.index": ("GET", "/directory/", {"anonymous": "login"}, 200),
    "directory.visibility": ("POST", "/directory/visibility", {"anonymous": "login"}, 303),
    "municipalities.mine": ("GET", "/municipality/", {"anonymous": "login"}, 302),
    "municipalities.show": ("GET", "/municipality/{bergen}", {"anonymous": "login", **OUTSIDERS}, 200),
    "municipalities.report": ("GET", "/municipality/{bergen}/NIK/report", {"anonymous": "login", **OUTSIDERS}, 200),
    "municipalities.claim": (
        "POST", "/municipality/{bergen}/NIK/claim", {"anonymous": "login", **OUTSIDERS, "coordinator": 403}, 303,
    ),
    "municipalities.handover": (
        "POST", "/municipality/{bergen}/NIK/handover", {"anonymous": "login", "main_contact": 303}, 403,
    ),
    "municipalities.answer_handover": ("POST", "/municipality/handovers/{handover}/decline", {"anonymous": "login"}, 403),
    "municipalities.invite": (
        "POST", "/municipality/{bergen}/NIK/invite", {"anonymous": "login", "main_contact": 303, "coordinator": 303}, 403,
    ),
    "municipalities.assign": (
        "POST", "/municipality/{bergen}/NIK/assign/{others_membership}", {"anonymous": "login", "coordinator": 303}, 403,
    ),
    "municipalities.remove": ("POST", "/municipality/{bergen}/NIK/remove", {"anonymous": "login", "coordinator": 303}, 403),
}


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints == set(TABLE)


@pytest.fixture
def world(app, create_member, create_coordinator, municipality):
    from models import ChangeRequest, Network, main_contact

    bergen, oslo = municipality("4601"), municipality("0301")
    waiting = create_member(bergen, status="pending_anchoring")
    anchoring = waiting.request_anchoring()
    other = create_member(bergen)
    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    people = {
        "member": create_member(bergen),
        "member_elsewhere": create_member(oslo),
        "main_contact": create_member(bergen),
        "main_contact_elsewhere": create_member(oslo),
        "coordinator_elsewhere": create_coordinator("NIFS", "NONEMI"),
        "coordinator": create_coordinator("NIK"),
    }
    for role in ("main_contact", "main_contact_elsewhere"):
        people[role].memberships[0].make_main_contact()
    db.session.flush()
    handover = main_contact.offer(people["main_contact"].memberships[0], other.memberships[0])
    create_member(trust, networks=("NONEMI",))
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    change = ChangeRequest(organisation=bergen, network=nik, action="remove", email=other.email,
                           reported_by=people["member"])
    db.session.add(change)
    from datetime import UTC, datetime, timedelta

    from models import meeting as meetings

    soon = datetime.now(UTC) + timedelta(days=3)
    nik_meeting = meetings.plan([nik], kind="professional_meeting", title="Fagmøte", format="digital",
                                starts_at=soon, ends_at=soon + timedelta(hours=1))
    other_meeting = meetings.plan([nik], kind="emergency", title="Beredskap", format="digital",
                                  starts_at=soon, ends_at=soon + timedelta(hours=1))
    from models import TopicProposal

    proposal = TopicProposal(network=nik, proposed_by=other, title="Tema", meeting_kind="professional_meeting")
    db.session.add(proposal)
    message = outbox.queue("x@kommune.example", "Test", "reset_password", member=other, url="http://localhost/")
    from models import ReviewResponse
    from models import review as reviews

    review = reviews.open_cycle(nik, soon.year, soon + timedelta(days=21), soon + timedelta(days=14))
    from models import advice
    from models import newsletter as newsletters

    news_input = newsletters.submit(other, nik, "Kurs", "Et kurs i Bergen.")
    draft = newsletters.create("Nytt fra NIK", "Hei alle", [nik], by=people["coordinator"])
    request, _count = advice.post("Veileder", "Les og svar", None, [nik], soon + timedelta(days=21),
                                  soon + timedelta(days=14), by=people["coordinator"])
    db.session.commit()
    response = db.session.scalar(select(ReviewResponse).filter_by(cycle_id=review.id, member_id=other.id))
    ids = {"anchoring": anchoring.id, "others_membership": other.memberships[0].id, "message": message.id,
           "bergen": bergen.id, "handover": handover.id, "change": change.id,
           "observer": db.session.scalar(select(Organisation.id).filter_by(short_name="FHI")),
           "meeting": nik_meeting.id, "other_meeting": other_meeting.id, "proposal": proposal.id,
           "review": review.id, "response": response.id, "news_input": news_input.id, "newsletter": draft.id,
           "advice": request.id}
    return people, ids


def signed_in(app, people, role):
    client = app.test_client()
    if role != "anonymous":
        assert sign_in(client, people[role].email).status_code == 303
    return client


def mismatch(response, expected):
    if expected == "login":
        return not (response.status_code == 302 and response.headers["Location"].startswith("/sign-in?next="))
    return response.status_code != expected


def test_each_role_gets_what_the_table_says_on_every_page(app, world):
    """The GET routes change nothing, so one world and one signed-in client per role serve them all."""
    people, ids = world
    clients = {role: signed_in(app, people, role) for role in ROLES}
    wrong = []
    for endpoint in sorted(e for e, row in TABLE.items() if row[0] == "GET"):
        _method, url, expectations, default = TABLE[endpoint]
        for role in ROLES:
            expected = expectations.get(role, default)
            response = clients[role].get(url.format(**ids))
            if mismatch(response, expected):
                wrong.append((endpoint, role, expected, response.status_code))
    assert wrong == [], "(endpoint, role, expected, got)"


@pytest.mark.parametrize("endpoint", sorted(e for e, row in TABLE.items() if row[0] == "POST"))
def test_each_role_gets_what_the_table_says_when_changing_something(app, world, endpoint):
    """One world per endpoint; the roles take their turns in it (the coordinator last, so
    its successful changes cannot change what the others get)."""
    people, ids = world
    _method, url, expectations, default = TABLE[endpoint]
    url = url.format(**ids)
    wrong = []
    for role in ROLES:
        expected = expectations.get(role, default)
        client = signed_in(app, people, role)
        token = csrf_token_from(client.get("/"))
        response = client.post(url, data={"csrf_token": token, "locale": "en"})
        if mismatch(response, expected):
            wrong.append((role, expected, response.status_code))
    assert wrong == [], f"{endpoint}: (role, expected, got)"


@pytest.mark.parametrize("endpoint", sorted(e for e, row in TABLE.items() if row[0] == "POST"))
def test_no_state_change_without_a_csrf_token(app, world, endpoint):
    people, ids = world
    client = app.test_client()
    sign_in(client, people["coordinator"].email)
    response = client.post(TABLE[endpoint][1].format(**ids), data={"locale": "en"})
    assert response.status_code == 400


def test_tokens_cannot_be_forged_with_another_key(app, world):
    _, ids = world
    app.config["SECRET_KEY"] = "another key"
    forged = tokens.make("anchoring", anchoring=ids["anchoring"])
    app.config["SECRET_KEY"] = "test-secret"
    assert app.test_client().get(f"/anchoring/{forged}").status_code == 400
