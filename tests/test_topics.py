"""Topic proposals: members propose and support (once each); the coordinator accepts or declines."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import ProposalStatus, TopicProposal, TopicSupport
from models import meeting as meetings
from models.meeting import OSLO
from tests.conftest import post, sign_in

YEAR = datetime.now(UTC).year + 1  # meetings ahead: a start in the past is refused
PLAN = f"/meetings/plan/NIK/{YEAR}"


def test_propose_support_once_and_accept_into_a_meeting(
    app, client, create_member, create_coordinator, networks, municipality, deliver, mail_outbox
):
    kari, ola = (
        create_member(municipality("4601"), name="Kari"),
        create_member(municipality("0301"), name="Ola"),
    )
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Høstens fagmøte",
        format="digital",
        starts_at=datetime(YEAR, 10, 5, 10, tzinfo=OSLO),
        ends_at=datetime(YEAR, 10, 5, 12, tzinfo=OSLO),
    )
    db.session.commit()
    sign_in(client, kari.email)
    assert (
        post(
            client,
            "/meetings/plan/NIK/topics",
            {
                "title": "Tolking i helsestasjonen",
                "description": "Erfaringer",
                "meeting_kind": "professional_meeting",
            },
            page=PLAN,
        ).status_code
        == 303
    )
    proposal = db.session.scalar(select(TopicProposal))
    assert proposal.meeting_kind == "professional_meeting"
    other = app.test_client()
    sign_in(other, ola.email)
    assert post(other, f"/meetings/topics/{proposal.id}/support", page=PLAN).status_code == 303
    assert (
        post(other, f"/meetings/topics/{proposal.id}/support", page=PLAN).status_code == 303
    )  # twice: counted once
    assert db.session.scalar(select(func.count()).select_from(TopicSupport)) == 1
    assert says(other.get(PLAN).get_data(as_text=True), "1 støtter dette")

    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    assert (
        post(client, f"/meetings/topics/{proposal.id}/accept", {"meeting": meeting.id}, page="/").status_code
        == 403
    )
    assert (
        post(
            coordinator,
            f"/meetings/topics/{proposal.id}/accept",
            {"meeting": meeting.id},
            page=PLAN,
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.meeting_id == meeting.id
    deliver()
    # The proposer and the supporter are each told which meeting.
    assert sorted(m["To"] for m in mail_outbox) == sorted([kari.email, ola.email])
    assert all("Høstens fagmøte" in m.get_body(("plain",)).get_content() for m in mail_outbox)


def test_a_decline_needs_a_reason(app, client, create_member, create_coordinator, municipality):
    kari = create_member(municipality("4601"))
    sign_in(client, kari.email)
    assert (
        post(
            client,
            "/meetings/plan/NIK/topics",
            {"title": "Et tema", "meeting_kind": "network_meeting"},
            page=PLAN,
        ).status_code
        == 303
    )
    proposal = db.session.scalar(select(TopicProposal))
    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    refused = post(coordinator, f"/meetings/topics/{proposal.id}/decline", {"reason": ""}, page=PLAN)
    assert refused.status_code == 303
    assert "Si hvorfor forslaget avslås." in coordinator.get(refused.headers["Location"]).get_data(
        as_text=True
    )
    db.session.expire_all()
    assert proposal.status == ProposalStatus.WAITING and proposal.reason is None
    assert (
        post(
            coordinator,
            f"/meetings/topics/{proposal.id}/decline",
            {"reason": "Tatt opp i fjor"},
            page=PLAN,
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert proposal.status == ProposalStatus.DECLINED and proposal.reason == "Tatt opp i fjor"


def test_the_database_holds_one_support_per_member(app, create_member, networks, municipality):
    kari = create_member(municipality("4601"))
    proposal = TopicProposal(
        network=networks["NIK"], proposed_by=kari, title="Tema", meeting_kind="network_meeting"
    )
    db.session.add(proposal)
    db.session.flush()
    db.session.add_all(
        [
            TopicSupport(proposal_id=proposal.id, member_id=kari.id),
            TopicSupport(proposal_id=proposal.id, member_id=kari.id),
        ]
    )
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_a_topic_is_proposed_for_a_network_or_a_professional_meeting_and_never_a_call_in(
    app, client, create_member, municipality
):
    kari = create_member(municipality("4601"))
    sign_in(client, kari.email)
    assert (
        post(
            client,
            "/meetings/plan/NIK/topics",
            {"title": "Beredskapstema", "meeting_kind": "emergency"},
            page=PLAN,
        ).status_code
        == 303
    )
    assert db.session.scalar(select(TopicProposal)) is None
    assert (
        post(
            client,
            "/meetings/plan/NIK/topics",
            {"title": "Nettverkstema", "meeting_kind": "network_meeting"},
            page=PLAN,
        ).status_code
        == 303
    )
    page = client.get(PLAN).get_data(as_text=True)
    assert "Nettverkstema" in page and "Forslag til nettverksmøte" in page
    proposal = TopicProposal(
        network=kari.memberships[0].network, proposed_by=kari, title="Feil", meeting_kind="emergency"
    )
    db.session.add(proposal)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# -- the same request twice at the same moment; the rules held by the model -----------------------------

from datetime import timedelta  # noqa: E402

from models import AuditEntry  # noqa: E402
from models import topic as topics  # noqa: E402
from tests.conftest import postgres_only, twice_at_once  # noqa: E402
from tests.helpers import answered, audited, says, tabs  # noqa: E402


def waiting_proposal(create_member, municipality, networks, title="Tolking i helsestasjonen"):
    kari = create_member(municipality("4601"), name="Kari")
    proposal = topics.propose(networks["NIK"], kari, title, "professional_meeting")
    db.session.commit()
    return proposal, kari


def autumn_meeting(networks, kind="professional_meeting"):
    return meetings.plan(
        [networks["NIK"]],
        kind=kind,
        title="Høstens fagmøte",
        format="digital",
        starts_at=datetime(YEAR, 10, 5, 10, tzinfo=OSLO),
        ends_at=datetime(YEAR, 10, 5, 12, tzinfo=OSLO),
    )


def test_a_proposal_sent_from_two_tabs_at_once_is_stored_once(app, create_member, municipality):
    postgres_only(app)
    kari = create_member(municipality("4601"))
    statuses = answered(
        twice_at_once(
            tabs(app, kari.email),
            "/meetings/plan/NIK/topics",
            {"title": "Tolking", "meeting_kind": "network_meeting"},
            page=PLAN,
        )
    )
    assert statuses == [303, 303]
    assert db.session.scalar(select(func.count()).select_from(TopicProposal)) == 1


def test_support_sent_twice_at_once_counts_once(app, create_member, municipality, networks):
    postgres_only(app)
    proposal, _kari = waiting_proposal(create_member, municipality, networks)
    ola = create_member(municipality("0301"))
    statuses = answered(
        twice_at_once(tabs(app, ola.email), f"/meetings/topics/{proposal.id}/support", page=PLAN)
    )
    assert statuses == [303, 303]
    assert db.session.scalar(select(func.count()).select_from(TopicSupport)) == 1


@pytest.mark.parametrize("second", ["accept", "decline"])
def test_a_decision_sent_twice_at_once_is_made_once_and_told_once(
    app, create_member, create_coordinator, municipality, networks, deliver, mail_outbox, second
):
    postgres_only(app)
    proposal, kari = waiting_proposal(create_member, municipality, networks)
    meeting = autumn_meeting(networks)
    db.session.commit()
    coordinator = create_coordinator("NIK")
    clients = tabs(app, coordinator.email)
    data = {"meeting": meeting.id, "reason": "Tatt opp i fjor"}
    if second == "accept":  # the same button twice
        responses = twice_at_once(clients, f"/meetings/topics/{proposal.id}/accept", data, page=PLAN)
    else:  # accept in one tab, decline in the other, at the same moment
        from tests.conftest import at_once, csrf_token_from

        forms = [{**data, "csrf_token": csrf_token_from(c.get(PLAN))} for c in clients]
        urls = [f"/meetings/topics/{proposal.id}/accept", f"/meetings/topics/{proposal.id}/decline"]
        responses = at_once(
            lambda wait, client, url, form: (wait(), client.post(url, data=form))[1],
            list(zip(clients, urls, forms, strict=True)),
        )
    assert answered(responses) == [303, 303]
    db.session.expire_all()
    assert db.session.get(TopicProposal, proposal.id).status in ("accepted", "declined")
    decisions = db.session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action.in_(["topic.accepted", "topic.declined"]))
    )
    assert decisions == 1
    deliver()
    assert [m["To"] for m in mail_outbox] == [kari.email]


def test_an_acceptance_sent_twice_at_once_tells_the_proposer_and_each_supporter_once(
    app, create_member, create_coordinator, municipality, networks, deliver, mail_outbox
):
    postgres_only(app)
    proposal, kari = waiting_proposal(create_member, municipality, networks)
    ola, per = create_member(municipality("0301")), create_member(municipality("1103"))
    topics.support(proposal, ola)
    topics.support(proposal, per)
    meeting = autumn_meeting(networks)
    db.session.commit()
    clients = tabs(app, create_coordinator("NIK").email)
    responses = twice_at_once(
        clients, f"/meetings/topics/{proposal.id}/accept", {"meeting": meeting.id}, page=PLAN
    )
    assert answered(responses) == [303, 303]
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted([kari.email, ola.email, per.email])


def test_a_topic_is_not_accepted_into_a_call_in_by_a_direct_post(
    app, client, create_member, create_coordinator, municipality, networks
):
    proposal, _kari = waiting_proposal(create_member, municipality, networks)
    call_in = meetings.plan(
        [networks["NIK"]],
        kind="emergency",
        title="Beredskap",
        format="digital",
        starts_at=datetime.now(UTC) + timedelta(hours=2),
        ends_at=datetime.now(UTC) + timedelta(hours=3),
    )
    autumn_meeting(networks)
    db.session.commit()
    sign_in(client, create_coordinator("NIK").email)
    page = client.get(PLAN).get_data(as_text=True)
    assert "Høstens fagmøte" in page.split('id="meeting-')[1] and "Beredskap (" not in page  # not offered
    response = post(client, f"/meetings/topics/{proposal.id}/accept", {"meeting": call_in.id}, page=PLAN)
    assert response.status_code == 303
    assert "ikke på en innkalling ved beredskapshendelse" in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    db.session.expire_all()
    proposal = db.session.get(TopicProposal, proposal.id)
    assert proposal.status == "waiting" and proposal.meeting_id is None
    assert audited("topic.accepted") == 0


# -- topics on the agenda: the meeting page, the invitation, the proposer's home -------------------


def test_accepted_topics_are_on_the_agenda_and_proposer_and_supporters_are_told_which_meeting_once(
    app, client, create_member, create_coordinator, municipality, networks, deliver, mail_outbox
):
    proposal, kari = waiting_proposal(create_member, municipality, networks)
    ola = create_member(municipality("0301"), name="Ola")
    per = create_member(municipality("1103"), name="Per", language="nn")
    for supporter in (ola, per, kari):  # the proposer supporting their own topic is told once
        topics.support(proposal, supporter)
    meeting = autumn_meeting(networks)
    other = topics.propose(networks["NIK"], ola, "Helsekompetanse", "professional_meeting")
    db.session.commit()

    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    url = f"/meetings/topics/{proposal.id}/accept"
    assert post(coordinator, url, {"meeting": meeting.id}, page=PLAN).status_code == 303
    again = post(coordinator, url, {"meeting": meeting.id}, page=PLAN)  # a second click: refused
    assert says(coordinator.get(again.headers["Location"]).get_data(as_text=True), "allerede avgjort")
    deliver()
    told = {m["To"]: m.get_body(("plain",)).get_content() for m in mail_outbox}
    assert sorted(m["To"] for m in mail_outbox) == sorted([kari.email, ola.email, per.email])
    assert says(
        told[kari.email],
        "Temaet ditt «Tolking i helsestasjonen» står på dagsordenen for «Høstens fagmøte» 5. oktober "
        f"{YEAR} 10:00.",
    )
    assert says(told[ola.email], "Temaet «Tolking i helsestasjonen», som du støtter, står på dagsordenen")
    assert says(told[per.email], "som du støttar, står på sakslista for «Høstens fagmøte»")  # nynorsk
    assert all(f"/meetings/{meeting.id}" in text for text in told.values())

    # The meeting page lists the accepted topic with its proposer, not the one still waiting.
    sign_in(client, ola.email)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    section = page.split('id="agenda-topics-heading"')[1].split("</section>")[0]
    assert says(section, "Temaer på dagsordenen") and says(section, "Tolking i helsestasjonen")
    assert says(section, "foreslått av Kari") and other.title not in section

    # The calendar entry carries them after the agenda.
    from icalendar import Calendar

    (event,) = Calendar.from_ical(client.get(f"/meetings/{meeting.id}.ics").data).walk("VEVENT")
    assert "– Tolking i helsestasjonen" in str(event["description"]) and other.title not in str(
        event["description"]
    )

    # The invitation a member gets on signing up lists the topics.
    mail_outbox.clear()
    assert post(client, f"/meetings/{meeting.id}/signup", page=f"/meetings/{meeting.id}").status_code == 303
    deliver()
    (invitation,) = mail_outbox
    text = invitation.get_body(("plain",)).get_content()
    assert says(text, "Temaer på dagsordenen:") and says(text, "Tolking i helsestasjonen (foreslått av Kari)")

    # The proposer's home says which meeting, and links to it.
    home = app.test_client()
    sign_in(home, kari.email)
    page = home.get("/").get_data(as_text=True)
    assert says(page, "Temaet ditt «Tolking i helsestasjonen» står på dagsordenen for «Høstens fagmøte»")
    assert f'href="/meetings/{meeting.id}"' in page and "er tatt med i et møte" not in page
