"""People and membership, tried the way real people and servers behave: a form sent twice at the
same moment (two tabs: different submission keys, so the model's own guard decides), a link
followed twice, two cron hosts.  Each gives one effect – one row, one mail per recipient, one
audit entry – and no 5xx.  And the rules the pages used to hold alone, posted directly.

The races run on PostgreSQL (``TEST_DATABASE_URL``), where row locks decide; the rest everywhere.
"""

from collections import Counter
from datetime import timedelta

import time_machine
from sqlalchemy import func, select, update

from extensions import db
from models import (
    Anchoring,
    AnchoringStatus,
    AuditEntry,
    ChangeRequest,
    ChangeStatus,
    Member,
    Membership,
    MembershipStatus,
    audit,
    tokens,
)
from models.accounts import verification_token
from models.email_change import EmailChange, EmailChangeStatus
from models.types import utcnow
from tests.conftest import (
    PASSWORD,
    at_once,
    csrf_token_from,
    links_in,
    post,
    postgres_only,
    sign_in,
    twice_at_once,
)
from tests.helpers import figure, path_of, registration_data

NEW_ADDRESS = "kari.ny@bergen.kommune.example"


def tabs(app, email, n=2):
    """``n`` browser tabs (clients) of one signed-in person."""
    clients = [app.test_client() for _ in range(n)]
    for client in clients:
        assert sign_in(client, email).status_code == 303
    return clients


def anonymous(app, n=2):
    return [app.test_client() for _ in range(n)]


def statuses(responses):
    codes = [r.status_code for r in responses]
    assert all(code < 500 for code in codes), codes
    return codes


def audit_count(action, **filters):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEntry).filter_by(action=action, **filters))


def count(model, *where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def delivered(deliver, mail_outbox):
    """Run the mail worker; {recipient: number of mails}."""
    deliver()
    return Counter(m["To"] for m in mail_outbox)


def waiting_for_manager(create_member, municipality, **fields):
    member = create_member(municipality("4601"), status="pending_anchoring", **fields)
    member.request_anchoring()
    db.session.commit()
    return member


def declined(create_member, municipality):
    member = waiting_for_manager(create_member, municipality)
    member.pending_anchoring.decline("Leder")
    db.session.commit()
    return member


# -- registration, verification, reset ----------------------------------------------------------


def test_registration_sent_twice_at_once_makes_one_account_and_one_mail(
    app, municipality, deliver, mail_outbox
):
    postgres_only(app)
    data = registration_data(municipality("4601"))
    responses = twice_at_once(anonymous(app), "/register/", data, page="/register/")
    assert statuses(responses) == [303, 303]  # the same answer: the page does not tell who is registered
    assert count(Member) == 1 and count(Membership) == 1
    assert audit_count("member.registered") == 1
    assert delivered(deliver, mail_outbox) == {"kari.nordmann@bergen.kommune.example": 1}
    assert "Bekreft" in mail_outbox[0]["Subject"]


def test_a_registration_repeated_soon_is_the_same_and_a_later_one_warns_the_owner(
    client, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    data = registration_data(bergen)
    for _ in range(2):
        assert post(client, "/register/", data, page="/register/").status_code == 303
    assert count(Member) == 1
    assert delivered(deliver, mail_outbox) == {"kari.nordmann@bergen.kommune.example": 1}
    db.session.execute(update(Member).values(created_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert post(client, "/register/", data, page="/register/").status_code == 303
    assert count(Member) == 1
    deliver()
    assert [m["Subject"] for m in mail_outbox][1:] == ["Noen prøvde å registrere seg med adressen din"]


def test_registering_a_taken_address_twice_at_once_warns_its_owner_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    owner = create_member(municipality("4601"), email="kari.nordmann@bergen.kommune.example")
    responses = twice_at_once(
        anonymous(app), "/register/", registration_data(municipality("0301")), page="/register/"
    )
    assert statuses(responses) == [303, 303]
    assert count(Member) == 1
    assert delivered(deliver, mail_outbox) == {owner.email: 1}


def test_an_owner_is_warned_of_attempts_at_most_once_in_a_while(
    client, create_member, municipality, deliver, mail_outbox
):
    owner = create_member(municipality("4601"), email="kari.nordmann@bergen.kommune.example")
    for _ in range(3):
        assert (
            post(client, "/register/", registration_data(municipality("0301")), page="/register/").status_code
            == 303
        )
    assert delivered(deliver, mail_outbox) == {owner.email: 1}


def test_a_verification_link_followed_twice_at_once_confirms_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = create_member(municipality("4601"), status="pending_email")
    url = f"/verify/{verification_token(member)}"
    responses = twice_at_once(anonymous(app), url, page=url)
    assert sorted(statuses(responses)) == [200, 400]
    assert audit_count("member.email_verified") == 1 and audit_count("anchoring.requested") == 1
    assert count(Anchoring) == 1
    assert delivered(deliver, mail_outbox) == {member.manager_email: 1}
    assert "allerede bekreftet" in next(r for r in responses if r.status_code == 400).get_data(as_text=True)


def test_a_reset_link_used_twice_at_once_sets_one_password(app, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"))
    version = member.auth_version
    url = f"/reset-password/{tokens.make('reset_password', member=member.id, version=version)}"
    responses = twice_at_once(anonymous(app), url, {"password": "et helt nytt langt passord"}, page=url)
    assert sorted(statuses(responses)) == [303, 400]
    db.session.expire_all()
    assert member.auth_version == version + 1
    assert audit_count("member.password_reset") == 1


# -- anchoring ------------------------------------------------------------------------------------


def test_a_manager_answering_twice_at_once_decides_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = waiting_for_manager(create_member, municipality)
    url = f"/anchoring/{tokens.make('anchoring', anchoring=member.pending_anchoring.id)}"
    responses = twice_at_once(anonymous(app), url, {"name": "Per Leder", "decision": "confirm"}, page=url)
    assert sorted(statuses(responses)) == [200, 400]
    assert audit_count("anchoring.confirmed") == 1
    assert (
        audit_count("membership.status", member_id=member.id) == 2
    )  # email confirmed (made so), + anchored once
    assert delivered(deliver, mail_outbox) == {member.email: 1}


def test_confirm_and_decline_at_once_in_two_tabs_give_one_decision(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = waiting_for_manager(create_member, municipality)
    url = f"/anchoring/{tokens.make('anchoring', anchoring=member.pending_anchoring.id)}"
    clients = anonymous(app)
    forms = [{"name": "Per Leder", "decision": "confirm"}, {"name": "Per Leder", "decision": "decline"}]

    def answer(wait, client, form):
        token = csrf_token_from(client.get(url))
        wait()
        return client.post(url, data={**form, "csrf_token": token})

    responses = at_once(answer, list(zip(clients, forms, strict=True)))
    assert sorted(statuses(responses)) == [200, 400]
    db.session.expire_all()
    decided = db.session.scalar(select(Anchoring))
    assert decided.status in (AnchoringStatus.CONFIRMED, AnchoringStatus.DECLINED)
    assert audit_count("anchoring.confirmed") + audit_count("anchoring.declined") == 1
    assert delivered(deliver, mail_outbox) == {member.email: 1}


def test_two_coordinators_recording_one_anchoring_at_once_record_it_once(
    app, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = waiting_for_manager(create_member, municipality)
    first, second = create_coordinator("NIK"), create_coordinator("NIK")
    clients = tabs(app, first.email, 1) + tabs(app, second.email, 1)
    url = f"/anchoring/{member.pending_anchoring.id}/record"
    responses = twice_at_once(clients, url, {"reason": "Bekreftet på telefon"}, page="/anchoring/pending")
    assert statuses(responses) == [303, 303]
    assert audit_count("anchoring.confirmed") == 1
    assert delivered(deliver, mail_outbox) == {member.email: 1}


def test_ask_again_twice_at_once_asks_the_manager_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = declined(create_member, municipality)
    responses = twice_at_once(tabs(app, member.email), "/me/anchoring/ask-again", page="/me/")
    assert statuses(responses) == [303, 303]
    assert count(Anchoring, Anchoring.status == AnchoringStatus.PENDING) == 1
    assert audit_count("anchoring.requested") == 2  # the first request, and this one
    assert delivered(deliver, mail_outbox) == {member.manager_email: 1}


def test_ask_again_is_refused_to_an_active_member_posting_directly(
    client, create_member, municipality, deliver, mail_outbox
):
    """The page offers the button only after a decline; the rule is the model's (``may_ask_again``)."""
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    assert "Spør lederen min på nytt" not in client.get("/me/").get_data(as_text=True)
    response = post(client, "/me/anchoring/ask-again", page="/me/")
    assert response.status_code == 303
    assert "ingenting å spørre" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert count(Anchoring) == 0 and audit_count("anchoring.requested") == 0
    db.session.expire_all()
    assert member.memberships[0].status == MembershipStatus.ACTIVE
    assert delivered(deliver, mail_outbox) == {}


def test_ask_again_after_a_decline_is_offered_and_works(
    client, create_member, municipality, deliver, mail_outbox
):
    member = declined(create_member, municipality)
    sign_in(client, member.email)
    assert "Spør lederen min på nytt" in client.get("/me/").get_data(as_text=True)
    assert post(client, "/me/anchoring/ask-again", page="/me/").status_code == 303
    db.session.expire_all()
    assert member.memberships[0].status == MembershipStatus.PENDING_ANCHORING
    assert member.pending_anchoring is not None
    assert delivered(deliver, mail_outbox) == {member.manager_email: 1}
    again = post(client, "/me/anchoring/ask-again", page="/me/")  # already asked: refused, nothing sent
    assert again.status_code == 303 and count(Anchoring, Anchoring.status == AnchoringStatus.PENDING) == 1


def test_a_new_manager_saved_twice_at_once_is_asked_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = create_member(municipality("4601"))
    data = {
        "name": member.name,
        "job_title": "Rådgiver",
        "unit": "Flyktningtjenesten",
        "manager_name": "Ny Leder",
        "manager_email": "ny.leder@bergen.kommune.example",
    }
    responses = twice_at_once(tabs(app, member.email), "/me/edit", data, page="/me/edit")
    assert statuses(responses) == [303, 303]
    assert count(Anchoring) == 1 and audit_count("member.manager_changed") == 1
    assert delivered(deliver, mail_outbox) == {"ny.leder@bergen.kommune.example": 1}


def test_anchoring_reminders_from_two_cron_hosts_at_once_go_once(
    app, app_factory, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    members = [waiting_for_manager(create_member, municipality) for _ in range(5)]
    db.session.execute(update(Anchoring).values(requested_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    from models.accounts import send_reminders

    def remind(wait, host):
        with host.app_context():
            wait()
            with audit.acting_as(label="flask anchorings remind"):
                sent = send_reminders()
            db.session.commit()
            return sent

    sent = at_once(remind, [(app_factory(),), (app_factory(),)])
    assert sum(sent) == 5
    assert delivered(deliver, mail_outbox) == {m.manager_email: 1 for m in members}


def test_the_remind_command_twice_reminds_once(runner, create_member, municipality, deliver, mail_outbox):
    member = waiting_for_manager(create_member, municipality)
    db.session.execute(update(Anchoring).values(requested_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    assert figure(runner.invoke(args=["anchorings", "remind"]).output, "Reminders written to the outbox") == 1
    assert figure(runner.invoke(args=["anchorings", "remind"]).output, "Reminders written to the outbox") == 0
    assert delivered(deliver, mail_outbox) == {member.manager_email: 1}


# -- leaving, deleting, the directory, the newsletter ---------------------------------------------


def test_leaving_twice_at_once_leaves_once(app, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"))
    membership = member.memberships[0]
    responses = twice_at_once(
        tabs(app, member.email), f"/me/memberships/{membership.id}/leave", {"reason": "Ny jobb"}, page="/me/"
    )
    assert statuses(responses) == [303, 303]
    assert audit_count("membership.status", member_id=member.id) == 3  # made active (2) + left once
    db.session.expire_all()
    assert membership.status == MembershipStatus.LEFT


def test_a_declined_membership_cannot_be_left_by_a_direct_post(client, create_member, municipality):
    """The page offers "leave" only while a membership runs; the rule is ``Membership.may_leave``."""
    member = declined(create_member, municipality)
    membership = member.memberships[0]
    sign_in(client, member.email)
    assert f"/me/memberships/{membership.id}/leave" not in client.get("/me/").get_data(as_text=True)
    before = audit_count("membership.status", member_id=member.id)
    response = post(client, f"/me/memberships/{membership.id}/leave", page="/me/")
    assert response.status_code == 303
    assert "er allerede avsluttet" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert membership.status == MembershipStatus.DECLINED and membership.ended_at is not None
    assert audit_count("membership.status", member_id=member.id) == before


def test_deleting_the_account_twice_at_once_erases_once(app, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"))
    responses = twice_at_once(
        tabs(app, member.email), "/me/delete", {"password": PASSWORD}, page="/me/delete"
    )
    assert all(code in (302, 303) for code in statuses(responses))
    assert audit_count("member.deleted") == 1
    assert audit_count("membership.status", member_id=member.id) == 3


def test_hiding_from_the_directory_twice_at_once_is_logged_once(app, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"))
    responses = twice_at_once(
        tabs(app, member.email), "/directory/visibility", {"hidden": "yes"}, page="/me/"
    )
    assert statuses(responses) == [303, 303]
    assert audit_count("member.directory_hidden") == 1
    db.session.expire_all()
    assert member.directory_hidden


def test_unsubscribing_on_my_page_twice_at_once_is_logged_once(app, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"))
    responses = twice_at_once(tabs(app, member.email), "/me/newsletter", {"subscribe": "no"}, page="/me/")
    assert statuses(responses) == [303, 303]
    assert audit_count("newsletter.unsubscribed") == 1


# -- member-list reports ----------------------------------------------------------------------------


def report_url(member):
    return f"/municipality/{member.organisation_id}/NIK/report"


def test_a_report_sent_twice_at_once_is_filed_once(
    app, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    postgres_only(app)
    bergen = municipality("4601")
    kari, ola = create_member(bergen), create_member(bergen)
    coordinator = create_coordinator("NIK")
    responses = twice_at_once(
        tabs(app, kari.email),
        report_url(kari),
        {"action": "remove", "email": ola.email},
        page=report_url(kari),
    )
    assert statuses(responses) == [303, 303]
    assert count(ChangeRequest) == 1
    assert delivered(deliver, mail_outbox) == {coordinator.email: 1}


def test_a_report_applied_twice_at_once_is_applied_once(
    app, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    postgres_only(app)
    bergen = municipality("4601")
    kari, ola = create_member(bergen), create_member(bergen)
    change = ChangeRequest(
        reported_by=kari,
        organisation=bergen,
        network=ola.memberships[0].network,
        action="remove",
        email=ola.email,
    )
    db.session.add(change)
    db.session.commit()
    coordinator = create_coordinator("NIK")
    responses = twice_at_once(
        tabs(app, coordinator.email),
        f"/coordinator/change-requests/{change.id}/apply",
        page="/coordinator/change-requests",
    )
    assert statuses(responses) == [303, 303]
    assert audit_count("change_request.applied") == 1
    assert audit_count("membership.status", member_id=ola.id) == 3
    assert delivered(deliver, mail_outbox) == {kari.email: 1}


def test_apply_and_reject_at_once_decide_once(
    app, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    postgres_only(app)
    bergen = municipality("4601")
    kari, ola = create_member(bergen), create_member(bergen)
    change = ChangeRequest(
        reported_by=kari,
        organisation=bergen,
        network=ola.memberships[0].network,
        action="remove",
        email=ola.email,
    )
    db.session.add(change)
    db.session.commit()
    coordinator = create_coordinator("NIK")
    clients = tabs(app, coordinator.email)
    tokens_ = [csrf_token_from(c.get("/coordinator/change-requests")) for c in clients]

    base = f"/coordinator/change-requests/{change.id}"

    def decide(wait, client, token, decision):
        wait()
        return client.post(f"{base}/{decision}", data={"csrf_token": token, "note": "Ja"})

    responses = at_once(decide, [(clients[0], tokens_[0], "apply"), (clients[1], tokens_[1], "reject")])
    assert statuses(responses) == [303, 303]
    assert audit_count("change_request.applied") + audit_count("change_request.rejected") == 1
    assert delivered(deliver, mail_outbox) == {kari.email: 1}


# -- a new sign-in address only with proof --------------------------------------------------------------


def ask_for_new_address(client, member, new=NEW_ADDRESS, password=PASSWORD):
    return post(client, "/me/email", {"new_email": new, "password": password}, page="/me/email")


def link_to_new_address(deliver, mail_outbox, new=NEW_ADDRESS):
    deliver()
    (mail,) = [m for m in mail_outbox if m["To"] == new]
    return path_of(links_in(mail)[0])


def test_a_new_address_changes_only_when_the_link_to_it_is_followed_once(
    client, app, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"), name="Kari")
    old = member.email
    sign_in(client, old)
    assert ask_for_new_address(client, member).status_code == 303
    db.session.expire_all()
    assert member.email == old  # unchanged until the link is followed
    assert audit_count("member.email_changed") == 0
    url = link_to_new_address(deliver, mail_outbox)
    assert url.startswith("/me/email/")
    assert [m["To"] for m in mail_outbox] == [NEW_ADDRESS]  # the old address is told only when it changes
    assert sign_in(app.test_client(), old).status_code == 303
    other = app.test_client()  # the link needs no sign-in: it is the key
    assert NEW_ADDRESS in other.get(url).get_data(as_text=True)
    db.session.expire_all()
    assert member.email == old  # a GET (a mail scanner) changes nothing
    response = post(other, url, page=url)
    assert response.status_code == 200 and NEW_ADDRESS in response.get_data(as_text=True)
    db.session.expire_all()
    assert member.email == NEW_ADDRESS
    entry = db.session.scalar(select(AuditEntry).filter_by(action="member.email_changed"))
    assert entry.before == {"email": old} and entry.after == {"email": NEW_ADDRESS}
    mail_outbox.clear()
    assert delivered(deliver, mail_outbox) == {old: 1}
    assert NEW_ADDRESS in mail_outbox[0].get_body(("plain",)).get_content()
    assert sign_in(app.test_client(), NEW_ADDRESS).status_code == 303
    assert sign_in(app.test_client(), old).status_code == 422
    # The link works once.
    again = post(app.test_client(), url, page="/")
    assert again.status_code == 400
    assert audit_count("member.email_changed") == 1


def test_a_new_address_needs_the_password_and_must_be_free(
    client, create_member, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    member, colleague = create_member(bergen), create_member(bergen)
    sign_in(client, member.email)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):  # no fresh sign-in: the password
        wrong = ask_for_new_address(client, member, password="ikke passordet mitt")
        assert wrong.status_code == 422
        taken = ask_for_new_address(client, member, new=colleague.email.upper())
        assert taken.status_code == 422 and "allerede i bruk" in taken.get_data(as_text=True)
        same = ask_for_new_address(client, member, new=member.email)
        assert same.status_code == 422
    assert count(EmailChange) == 0 and delivered(deliver, mail_outbox) == {}


def test_an_address_taken_before_the_link_is_followed_is_refused(
    client, app, create_member, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    member = create_member(bergen)
    old = member.email
    sign_in(client, old)
    ask_for_new_address(client, member)
    url = link_to_new_address(deliver, mail_outbox)
    create_member(bergen, email=NEW_ADDRESS)  # someone else registered it meanwhile
    response = post(app.test_client(), url, page=url)
    assert response.status_code == 400 and "uendret" in response.get_data(as_text=True)
    db.session.expire_all()
    assert member.email == old and audit_count("member.email_changed") == 0
    assert db.session.scalar(select(EmailChange)).status == EmailChangeStatus.PENDING


def test_a_newer_request_supersedes_the_earlier_link(
    client, app, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    ask_for_new_address(client, member)
    first = link_to_new_address(deliver, mail_outbox)
    ask_for_new_address(client, member, new="kari.annen@bergen.kommune.example")
    assert post(app.test_client(), first, page="/").status_code == 400
    db.session.expire_all()
    assert member.email != NEW_ADDRESS


def test_the_link_followed_twice_at_once_changes_the_address_once(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = create_member(municipality("4601"))
    old = member.email
    from models.email_change import request_change

    request_change(member, NEW_ADDRESS)
    db.session.commit()
    url = link_to_new_address(deliver, mail_outbox)
    mail_outbox.clear()
    responses = twice_at_once(anonymous(app), url, page=url)
    assert sorted(statuses(responses)) == [200, 400]
    assert audit_count("member.email_changed") == 1
    assert delivered(deliver, mail_outbox) == {old: 1}


def test_asking_for_a_new_address_twice_at_once_sends_one_link(
    app, create_member, municipality, deliver, mail_outbox
):
    postgres_only(app)
    member = create_member(municipality("4601"))
    responses = twice_at_once(
        tabs(app, member.email),
        "/me/email",
        {"new_email": NEW_ADDRESS, "password": PASSWORD},
        page="/me/email",
    )
    assert statuses(responses) == [303, 303]
    assert count(EmailChange) == 1 and audit_count("member.email_change_requested") == 1
    assert delivered(deliver, mail_outbox) == {NEW_ADDRESS: 1}


def test_an_applied_change_report_sends_the_confirmation_instead_of_rewriting_the_address(
    app, create_member, create_coordinator, municipality, deliver, mail_outbox
):
    bergen = municipality("4601")
    kari, ola = create_member(bergen, name="Kari"), create_member(bergen, name="Ola")
    old = ola.email
    reporter = app.test_client()
    sign_in(reporter, kari.email)
    assert (
        post(
            reporter,
            report_url(kari),
            {"action": "change", "email": ola.email, "new_email": NEW_ADDRESS},
            page=report_url(kari),
        ).status_code
        == 303
    )
    change = db.session.scalar(select(ChangeRequest))
    coordinator = app.test_client()
    sign_in(coordinator, create_coordinator("NIK").email)
    response = post(
        coordinator, f"/coordinator/change-requests/{change.id}/apply", page="/coordinator/change-requests"
    )
    assert response.status_code == 303
    told = coordinator.get(response.headers["Location"]).get_data(as_text=True)
    assert "lenke" in told and NEW_ADDRESS in told  # the coordinator sees what happened
    db.session.expire_all()
    assert change.status == ChangeStatus.APPLIED and change.awaits_confirmation
    assert ola.email == old and audit_count("member.email_changed") == 0  # nobody's address rewritten
    mail_outbox.clear()
    deliver()
    to = Counter(m["To"] for m in mail_outbox)
    assert to[NEW_ADDRESS] == 1 and to[kari.email] == 1 and to[old] == 0
    confirm = next(m for m in mail_outbox if m["To"] == NEW_ADDRESS)
    assert "Koordinator" in confirm.get_body(("plain",)).get_content()
    url = path_of(links_in(confirm)[0])
    assert post(app.test_client(), url, page=url).status_code == 200  # the colleague confirms
    db.session.expire_all()
    assert ola.email == NEW_ADDRESS
    mail_outbox.clear()
    assert delivered(deliver, mail_outbox) == {old: 1}
    assert (
        db.session.scalar(select(AuditEntry).filter_by(action="member.email_changed")).reason
        == f"change request #{change.id}"
    )


def test_privacy_purge_twice_at_once_erases_once(app, app_factory, create_member, municipality):
    postgres_only(app)
    member = create_member(municipality("4601"), status="left")
    db.session.execute(update(Membership).values(status_changed_at=utcnow() - timedelta(days=800)))
    db.session.commit()
    from models import privacy

    def purge(wait, host):
        with host.app_context():
            wait()
            erased = privacy.purge(365)
            db.session.commit()
            return erased

    assert sorted(at_once(purge, [(app_factory(),), (app_factory(),)])) == [0, 1]
    assert audit_count("member.deleted", member_id=member.id) == 1


def test_an_address_asked_for_is_in_the_export_and_erased_with_the_account(
    client, create_member, municipality, deliver, mail_outbox
):
    member = create_member(municipality("4601"))
    sign_in(client, member.email)
    ask_for_new_address(client, member)
    exported = client.get("/me/export.json").get_json(force=True)
    assert exported["email_changes"][0]["new_email"] == NEW_ADDRESS
    assert exported["email_changes"][0]["status"] == "pending"
    url = link_to_new_address(deliver, mail_outbox)
    assert post(client, "/me/delete", {"password": PASSWORD}, page="/me/delete").status_code == 303
    assert count(EmailChange) == 0
    assert post(client.application.test_client(), url, page="/").status_code == 400
