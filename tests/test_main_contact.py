"""Main contacts: asking for the role, handing it over, the coordinator's say, and the flag."""

import re

import pytest
from sqlalchemy import func, select

from extensions import db
from models import ChangeRequest, ChangeStatus, Membership, MembershipStatus
from tests.conftest import PASSWORD, at_once, links_in, post, sign_in
from tests.helpers import Browser, nik, page_of


def test_a_member_asks_and_becomes_main_contact_at_once(
    client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    kari, _ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    coordinator = create_coordinator("NIK")
    sign_in(client, kari.email)
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert "trenger en hovedkontakt" in page and "Ola" in page
    assert "Kommunen din trenger en hovedkontakt" in client.get("/me/").get_data(as_text=True)
    response = post(client, f"{page_of(bergen)}/NIK/claim", page=page_of(bergen))
    assert response.status_code == 303
    db.session.expire_all()
    assert nik(kari).is_main_contact
    page = client.get(page_of(bergen)).get_data(as_text=True)
    assert "trenger en hovedkontakt" not in page and "Bli hovedkontakt" not in page
    deliver()
    assert sorted(m["To"] for m in mail_outbox) == sorted([kari.email, coordinator.email])


def test_a_second_claim_gets_a_clear_message(app, create_member, municipality):
    from models import DomainError, main_contact

    bergen = municipality("4601")
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    main_contact.claim(nik(kari))
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        main_contact.claim(nik(ola))
    assert "Kari" in str(refused.value.message)


def test_the_hand_over_moves_the_role_when_the_colleague_accepts(
    app, create_member, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    nik(kari).make_main_contact()
    db.session.commit()
    kari_client, ola_client = app.test_client(), app.test_client()
    sign_in(kari_client, kari.email)
    sign_in(ola_client, ola.email)
    response = post(
        kari_client, f"{page_of(bergen)}/NIK/handover", {"colleague": nik(ola).id}, page=page_of(bergen)
    )
    assert response.status_code == 303
    deliver()
    assert mail_outbox[-1]["To"] == ola.email and "hovedkontakt" in mail_outbox[-1]["Subject"]
    page = ola_client.get(page_of(bergen)).get_data(as_text=True)
    accept = re.search(r'action="(/municipality/handovers/\d+/accept)"', page).group(1)
    db.session.expire_all()
    assert nik(kari).is_main_contact  # until Ola accepts
    assert post(ola_client, accept, page=page_of(bergen)).status_code == 303
    db.session.expire_all()
    assert nik(ola).is_main_contact and not nik(kari).is_main_contact
    deliver()
    assert {m["To"] for m in mail_outbox[-2:]} == {kari.email, ola.email}
    assert post(ola_client, accept, page=page_of(bergen)).status_code == 303  # answered: a message, no change
    db.session.expire_all()
    assert nik(ola).is_main_contact


def test_only_the_main_contact_hands_over_and_only_to_a_colleague(app, client, create_member, municipality):
    bergen, oslo = municipality("4601"), municipality("0301")
    kari, ola = create_member(bergen), create_member(bergen)
    stranger = create_member(oslo)
    nik(kari).make_main_contact()
    db.session.commit()
    sign_in(client, ola.email)
    assert (
        post(
            client, f"{page_of(bergen)}/NIK/handover", {"colleague": nik(kari).id}, page=page_of(bergen)
        ).status_code
        == 403
    )
    other = app.test_client()
    sign_in(other, kari.email)
    assert (
        post(
            other, f"{page_of(bergen)}/NIK/handover", {"colleague": nik(stranger).id}, page=page_of(bergen)
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert nik(kari).is_main_contact and not nik(stranger).is_main_contact
    assert client.get(page_of(oslo)).status_code == 403  # another municipality's list


def test_a_main_contact_who_leaves_vacates_the_role_and_the_municipality_is_flagged(
    client, create_member, municipality
):
    bergen = municipality("4601")
    kari, _ola, _per = create_member(bergen), create_member(bergen), create_member(bergen)
    nik(kari).make_main_contact()
    db.session.commit()
    nik(kari).leave("ny jobb")
    db.session.commit()
    from models.main_contact import needing_main_contact

    flagged = db.session.execute(needing_main_contact()).all()
    assert [(org.number, active) for org, _network, active in flagged] == [("4601", 2)]


def test_the_coordinator_assigns_and_removes_but_not_in_another_network(
    app, client, create_member, create_coordinator, municipality
):
    bergen = municipality("4601")
    kari, ola = create_member(bergen), create_member(bergen)
    nik(kari).make_main_contact()
    db.session.commit()
    nifs = app.test_client()
    sign_in(nifs, create_coordinator("NIFS").email)
    assert nifs.get(page_of(bergen)).status_code == 403
    assert post(nifs, f"{page_of(bergen)}/NIK/assign/{nik(ola).id}").status_code == 403
    sign_in(client, create_coordinator("NIK").email)
    assert (
        post(client, f"{page_of(bergen)}/NIK/assign/{nik(ola).id}", page=page_of(bergen)).status_code == 303
    )
    db.session.expire_all()
    assert nik(ola).is_main_contact and not nik(kari).is_main_contact
    assert post(client, f"{page_of(bergen)}/NIK/remove", page=page_of(bergen)).status_code == 303
    db.session.expire_all()
    assert not nik(ola).is_main_contact


def test_the_main_contact_invites_a_colleague_with_the_organisation_filled_in(
    client, create_member, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    kari = create_member(bergen)
    nik(kari).make_main_contact()
    db.session.commit()
    sign_in(client, kari.email)
    assert (
        post(
            client,
            f"{page_of(bergen)}/NIK/invite",
            {"email": "ny.kollega@bergen.kommune.example"},
            page=page_of(bergen),
        ).status_code
        == 303
    )
    deliver()
    invitation = mail_outbox[-1]
    assert invitation["To"] == "ny.kollega@bergen.kommune.example"
    assert links_in(invitation)[0].endswith(f"/register/?organisation={bergen.id}")


def test_a_reported_removal_goes_to_the_coordinator_and_is_applied_without_deleting(
    app, client, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    sign_in(client, kari.email)
    bad = post(
        client,
        f"{page_of(bergen)}/NIK/report",
        {"action": "change", "email": ola.email},
        page=page_of(bergen),
    )
    assert bad.status_code == 422 and "Skriv den nye adressen" in bad.get_data(as_text=True)
    response = post(
        client,
        f"{page_of(bergen)}/NIK/report",
        {"action": "remove", "email": ola.email, "note": "Sluttet i oktober"},
        page=page_of(bergen),
    )
    assert response.status_code == 303
    change = db.session.scalar(select(ChangeRequest))
    coordinator_client = app.test_client()
    sign_in(coordinator_client, create_coordinator("NIK").email)
    page = coordinator_client.get("/coordinator/change-requests").get_data(as_text=True)
    assert ola.email in page and "Sluttet i oktober" in page
    assert (
        post(
            coordinator_client,
            f"/coordinator/change-requests/{change.id}/reject",
            {"note": ""},
            page="/coordinator/",
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert change.status == ChangeStatus.PENDING  # a rejection needs a reason
    assert (
        post(
            coordinator_client, f"/coordinator/change-requests/{change.id}/apply", page="/coordinator/"
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert change.status == ChangeStatus.APPLIED
    membership = db.session.scalar(select(Membership).filter_by(member_id=ola.id))
    assert (
        membership.status == MembershipStatus.LEFT and membership.end_reason == f"change request #{change.id}"
    )
    deliver()
    assert kari.email in [m["To"] for m in mail_outbox]


def test_fifty_members_asking_at_once_give_one_main_contact(live_server, app, create_member, municipality):
    bergen = municipality("4601")
    members = [create_member(bergen) for _ in range(50)]
    page = f"/municipality/{bergen.id}"
    browsers = []
    for member in members:
        browser = Browser(live_server.url)
        status, home = browser.post(
            "/sign-in", {"email": member.email, "password": PASSWORD}, page="/sign-in"
        )
        assert status == 200 and 'action="/sign-out"' in home  # the 303 followed to the home, signed in
        browsers.append(browser)

    def ask(ready, browser):
        ready()
        _status, answer = browser.post(f"{page}/NIK/claim", {}, page=page)  # a 500 raises here
        return (
            "won"
            if "Du er nå hovedkontakt" in answer
            else "refused"
            if "allerede hovedkontakt" in answer
            else answer
        )

    outcomes = at_once(ask, [(b,) for b in browsers])
    assert sorted(set(outcomes)) == ["refused", "won"] and outcomes.count("won") == 1, outcomes[:3]
    count = db.session.scalar(select(func.count()).select_from(Membership).where(Membership.is_main_contact))
    assert count == 1


def test_colleagues_see_who_signed_up_for_which_upcoming_meeting(
    client, create_member, networks, municipality
):
    from datetime import UTC, datetime, timedelta

    from models import meeting as meetings

    bergen = municipality("4601")
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    soon = datetime.now(UTC) + timedelta(days=7)
    meeting = meetings.plan(
        [networks["NIK"]],
        kind="professional_meeting",
        title="Fagmøte om tolking",
        format="digital",
        starts_at=soon,
        ends_at=soon + timedelta(hours=1),
    )
    meetings.sign_up(ola, meeting)
    db.session.commit()
    sign_in(client, kari.email)
    page = client.get(page_of(bergen)).get_data(as_text=True)
    ola_row = page.split(">Ola<")[0].rsplit("<tr>", 1)[-1] + page.split(">Ola<")[1].split("</tr>")[0]
    assert "Fagmøte om tolking" in ola_row


def test_the_municipality_page_shows_each_colleague_s_upcoming_meetings_under_their_network(
    client, create_member, municipality, networks
):
    from datetime import UTC, datetime, timedelta

    from models import Organisation, Signup
    from models import meeting as meetings
    from models.meeting import OSLO

    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))  # in NIK and NIFS both
    kari = create_member(fhi, networks=("NIK", "NIFS"), name="Kari Nordmann")
    start = datetime.now(UTC).astimezone(OSLO).replace(
        hour=10, minute=0, second=0, microsecond=0
    ) + timedelta(days=30)
    meeting = meetings.plan(
        [networks["NIFS"]],
        kind="professional_meeting",
        title="Fagmøte i NIFS",
        format="digital",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    db.session.add(Signup(meeting=meeting, member=kari))
    db.session.commit()
    sign_in(client, kari.email)
    page = client.get(f"/municipality/{fhi.id}").get_data(as_text=True)
    nik_part, nifs_part = page.split('id="network-NIK"')[1].split('id="network-NIFS"')
    assert "Fagmøte i NIFS" in nifs_part and "Fagmøte i NIK" not in nik_part
    assert "Fagmøte i NIFS" not in nik_part  # listed under the meeting's own network only
