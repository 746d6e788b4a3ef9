"""Privacy: the retention rule (``flask privacy purge``), the privacy and accessibility statements."""

from sqlalchemy import select

from extensions import db
from models import AuditEntry, Member
from tests.helpers import ended_ago, figure


def test_purge_erases_former_members_past_the_period_and_no_one_else(
    runner, create_member, create_coordinator, municipality
):
    bergen = municipality("4601")
    left_long_ago = create_member(bergen, status="left")
    lapsed_long_ago = create_member(bergen, status="lapsed")
    declined_long_ago = create_member(bergen, status="declined")
    left_lately = create_member(bergen, status="left")
    active = create_member(bergen, status="active")
    waiting = create_member(bergen, status="pending_anchoring")  # not a former member: still on the way in
    coordinator = create_coordinator("NIK")
    coordinator_who_left = create_member(bergen, status="left")
    coordinator_who_left.make_coordinator(coordinator.coordinator_roles[0].network)
    db.session.commit()
    for member in (
        left_long_ago,
        lapsed_long_ago,
        declined_long_ago,
        active,
        waiting,
        coordinator,
        coordinator_who_left,
    ):
        ended_ago(member, 400)
    ended_ago(left_lately, 300)
    gone = [left_long_ago.id, lapsed_long_ago.id, declined_long_ago.id]
    emails = {m.id: m.email for m in (left_long_ago, lapsed_long_ago, declined_long_ago)}

    result = runner.invoke(args=["privacy", "purge", "--days", "365"])
    assert result.exit_code == 0, result.output
    assert figure(result.output, "Former members erased") == 3
    db.session.expire_all()
    for member_id in gone:
        member = db.session.get(Member, member_id)
        assert member.deleted_at is not None and member.name == "Slettet deltaker"
        assert member.email != emails[member_id] and member.phone is None and member.password_hash is None
        # The networks' history stays, without the person.
        assert member.memberships and all(
            m.status in ("left", "lapsed", "declined") for m in member.memberships
        )
    for member in (left_lately, active, waiting, coordinator, coordinator_who_left):
        assert db.session.get(Member, member.id).deleted_at is None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "member.deleted")).all()
    assert sorted(e.member_id for e in entries) == sorted(gone)
    assert all(e.actor_label == "flask privacy purge" and "365" in e.reason for e in entries)

    # Run again: nothing more to do.
    again = runner.invoke(args=["privacy", "purge", "--days", "365"])
    assert again.exit_code == 0 and figure(again.output, "Former members erased") == 0


def test_the_retention_period_comes_from_the_configuration(app, runner, create_member, municipality):
    member = create_member(municipality("4601"), status="left")
    ended_ago(member, 40)
    app.config["PRIVACY_RETENTION_DAYS"] = 60
    assert runner.invoke(args=["privacy", "purge"]).exit_code == 0
    assert db.session.get(Member, member.id).deleted_at is None
    app.config["PRIVACY_RETENTION_DAYS"] = 30
    assert runner.invoke(args=["privacy", "purge"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Member, member.id).deleted_at is not None


def test_the_privacy_statement_says_purpose_basis_retention_and_contact(app, client):
    app.config["PRIVACY_RETENTION_DAYS"], app.config["MAIL_BODY_RETENTION_DAYS"] = 200, 45
    page = client.get("/privacy").get_data(as_text=True)
    assert '<h1 class="ds-heading" data-size="lg">Personvernerklæring</h1>' in page
    assert "Hva opplysningene brukes til" in page and "artikkel 6 nr. 1 bokstav e" in page
    assert "slettes personopplysningene dine 200 dager senere" in page
    assert "Teksten i en e-post vi sender deg, slettes 45 dager etter at den ble sendt" in page
    assert "Deltakere i et nettverk (bekreftet av lederen sin) ser navn" in page
    assert 'href="mailto:postmottak@helsedir.no"' in page and "Datatilsynet" in page
    # Every page links to both statements.
    front = client.get("/").get_data(as_text=True)
    assert 'href="/privacy"' in front and 'href="/accessibility"' in front


def test_the_accessibility_statement_names_the_standard_and_where_to_complain(client):
    page = client.get("/accessibility").get_data(as_text=True)
    assert (
        '<h1 class="ds-heading" data-size="lg">Tilgjengelighetserklæring</h1>' in page
        and "(WCAG) 2.1 på nivå AA" in page
    )
    assert "Tilsynet for universell utforming av ikt" in page and 'href="mailto:' in page


def test_no_address_in_a_url_or_a_log_line(app_factory, caplog, municipality):
    """Access logs and browser history keep URLs: an e-mail address goes in the session instead.
    The app's own log lines carry ids, never an address."""
    import logging

    from models import outbox
    from tests.conftest import free_port, post
    from tests.helpers import registration_data

    caplog.set_level(logging.DEBUG)
    app = app_factory(MAIL_PORT=free_port())  # the SMTP server is down: its failure is logged too
    client = app.test_client()
    with app.app_context():
        data = registration_data(municipality("4601"))
        response = post(client, "/register/", data, page="/register/")
        assert response.status_code == 303 and "@" not in response.headers["Location"]
        inbox = client.get(response.headers["Location"]).get_data(as_text=True)
        assert data["email"].lower() in inbox.lower()  # still shown to the one who registered
        assert 'href="/verify"' in inbox  # "send it again", without the address in the link
        assert data["email"].lower() in client.get("/verify").get_data(as_text=True).lower()  # prefilled
        unverified = post(
            client, "/sign-in", {"email": data["email"], "password": data["password"]}, page="/sign-in"
        )
        assert unverified.status_code == 422 and 'href="/verify"' in unverified.get_data(as_text=True)
        assert (
            post(
                client, "/sign-in", {"email": "nobody@kommune.example", "password": "wrong"}, page="/sign-in"
            ).status_code
            == 422
        )
        outbox.deliver(worker="w")
    addresses = ("kari.nordmann", "per.leder", "nobody@")
    leaked = [r.getMessage() for r in caplog.records if any(a in r.getMessage().lower() for a in addresses)]
    assert leaked == []
