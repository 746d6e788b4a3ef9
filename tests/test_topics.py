"""Topic proposals: members propose and support (once each); the coordinator accepts or declines."""

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import ProposalStatus, TopicProposal, TopicSupport
from models import meeting as meetings
from models.meeting import OSLO
from tests.conftest import post, sign_in


def test_propose_support_once_and_accept_into_a_meeting(app, client, create_member, create_coordinator, networks, municipality, deliver, mail_outbox):
    kari, ola = create_member(municipality("4601"), name="Kari"), create_member(municipality("0301"), name="Ola")
    meeting = meetings.plan([networks["NIK"]], kind="professional_meeting", title="Høstens fagmøte", format="digital",
                            starts_at=datetime(2027, 10, 5, 10, tzinfo=OSLO), ends_at=datetime(2027, 10, 5, 12, tzinfo=OSLO))
    db.session.commit()
    sign_in(client, kari.email)
    post(client, "/meetings/plan/NIK/topics", {"title": "Tolking i helsestasjonen", "description": "Erfaringer",
                                               "meeting_kind": "professional_meeting"}, page="/meetings/plan/NIK/2027")
    proposal = db.session.scalar(select(TopicProposal))
    assert proposal.meeting_kind == "professional_meeting"
    other = app.test_client()
    sign_in(other, ola.email)
    post(other, f"/meetings/topics/{proposal.id}/support", page="/meetings/plan/NIK/2027")
    post(other, f"/meetings/topics/{proposal.id}/support", page="/meetings/plan/NIK/2027")  # twice: counted once
    assert db.session.scalar(select(func.count()).select_from(TopicSupport)) == 1
    assert "1 støtter dette" in other.get("/meetings/plan/NIK/2027").get_data(as_text=True)

    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    assert post(client, f"/meetings/topics/{proposal.id}/accept", {"meeting": meeting.id}, page="/").status_code == 403
    post(coordinator, f"/meetings/topics/{proposal.id}/accept", {"meeting": meeting.id}, page="/meetings/plan/NIK/2027")
    db.session.expire_all()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.meeting_id == meeting.id
    deliver()
    assert [m["To"] for m in mail_outbox] == [kari.email]
    assert "Høstens fagmøte" in mail_outbox[0].get_body(("plain",)).get_content()


def test_a_decline_needs_a_reason(app, client, create_member, create_coordinator, municipality):
    kari = create_member(municipality("4601"))
    sign_in(client, kari.email)
    post(client, "/meetings/plan/NIK/topics", {"title": "Et tema", "meeting_kind": "network_meeting"},
         page="/meetings/plan/NIK/2027")
    proposal = db.session.scalar(select(TopicProposal))
    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    post(coordinator, f"/meetings/topics/{proposal.id}/decline", {"reason": ""}, page="/meetings/plan/NIK/2027")
    db.session.expire_all()
    assert proposal.status == ProposalStatus.WAITING
    post(coordinator, f"/meetings/topics/{proposal.id}/decline", {"reason": "Tatt opp i fjor"}, page="/meetings/plan/NIK/2027")
    db.session.expire_all()
    assert proposal.status == ProposalStatus.DECLINED and proposal.reason == "Tatt opp i fjor"


def test_the_database_holds_one_support_per_member(app, create_member, networks, municipality):
    kari = create_member(municipality("4601"))
    proposal = TopicProposal(network=networks["NIK"], proposed_by=kari, title="Tema", meeting_kind="network_meeting")
    db.session.add(proposal)
    db.session.flush()
    db.session.add_all([TopicSupport(proposal_id=proposal.id, member_id=kari.id),
                        TopicSupport(proposal_id=proposal.id, member_id=kari.id)])
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_a_topic_is_proposed_for_a_network_or_a_professional_meeting_and_never_a_call_in(app, client, create_member, municipality):
    kari = create_member(municipality("4601"))
    sign_in(client, kari.email)
    post(client, "/meetings/plan/NIK/topics", {"title": "Beredskapstema", "meeting_kind": "emergency"},
         page="/meetings/plan/NIK/2027")
    assert db.session.scalar(select(TopicProposal)) is None
    post(client, "/meetings/plan/NIK/topics", {"title": "Nettverkstema", "meeting_kind": "network_meeting"},
         page="/meetings/plan/NIK/2027")
    page = client.get("/meetings/plan/NIK/2027").get_data(as_text=True)
    assert "Nettverkstema" in page and "Forslag til nettverksmøte" in page
    proposal = TopicProposal(network=kari.memberships[0].network, proposed_by=kari, title="Feil", meeting_kind="emergency")
    db.session.add(proposal)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
