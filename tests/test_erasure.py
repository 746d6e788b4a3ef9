"""Erasure leaves no name or address behind: not in mail (sent, waiting, about them), not in the
audit log (as actor, as subject, in the values), not in what they or others wrote; the events stay."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, LargeBinary, String, Text, select

from extensions import db
from models import AuditEntry, Member, Membership, OutboxMessage, OutboxStatus, ReviewResponse, audit, privacy
from models import advice as advices
from models import emergency as emergencies
from models import newsletter as newsletters
from models import package as packages
from models import review as reviews
from models import signal as signals
from models.accounts import request_anchoring, send_password_reset
from models.change_request import ChangeAction, report
from models.email_change import request_change
from models.topic import propose
from tests.conftest import PASSWORD, post, sign_in
from tests.helpers import figure

NAME = "Vilde Slettemo"
EMAIL = "vilde.slettemo@bergen.kommune.example"
NEW_EMAIL = "vilde.privat@bergen.kommune.example"
SECRETS = (NAME.lower(), EMAIL, NEW_EMAIL)


def leftovers():
    """Every text, JSON and binary cell of every table holding one of the person's identifiers."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON, LargeBinary))]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)).all():
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                if isinstance(value, bytes):
                    text = value.decode("utf-8", "replace").replace("\r\n ", "")
                elif isinstance(value, str):
                    text = value
                else:
                    text = json.dumps(value, ensure_ascii=False)
                if any(secret in text.lower() for secret in SECRETS):
                    found.append(f"{table.name}.{column.name}: {text[:120]!r}")
    return found


def a_life_here(member, colleague, coordinator, networks, deliver):
    """Mail, audit entries, answers, inputs, proposals, reports and an address change, as the app makes them."""
    nik = networks["NIK"]
    now = datetime.now(UTC)
    send_password_reset(member)  # a mail that goes …
    db.session.commit()
    deliver()
    send_password_reset(member)  # … and one still waiting
    with audit.acting_as(member):
        member.take()
        member.change_manager("Ny Leder", "ny.leder@kommune.example")
        request_anchoring(member)  # mail to the manager, with the member's name in the subject
        request_change(member, NEW_EMAIL)  # mail to the new address, audit entry with both
        propose(
            nik, member, f"Tolking – forslag fra {NAME}", "network_meeting", description=f"Kontakt {EMAIL}"
        )
        item = newsletters.submit(member, nik, "Nytt fra Bergen", f"Skrevet av {NAME}.")
        newsletters.submit(member, None, "Enda mer", "Kø")
    db.session.commit()
    with audit.acting_as(coordinator):
        issue = newsletters.create("Desember", f"Takk til {NAME} ({EMAIL})!", [nik], by=coordinator)
        db.session.flush()
        newsletters.include(item, issue, by=coordinator)
        request, _count = advices.post(
            "Veileder",
            "Hva mangler?",
            None,
            [nik],
            now + timedelta(days=14),
            now + timedelta(days=7),
            by=coordinator,
        )
        cycle = reviews.open_cycle(
            nik, now.year, now + timedelta(days=21), now + timedelta(days=14), opened_by=coordinator
        )
        audit.record(
            "main_contact.offered", member=colleague, subject="membership:0", after={"from": member.name}
        )
    db.session.commit()
    with audit.acting_as(member):
        advices.answer(request, member, f"Hilsen {NAME}")
        reviews.answer(
            db.session.scalar(select(ReviewResponse).filter_by(cycle_id=cycle.id, member_id=member.id)),
            True,
            {},
            {"competence": f"Jeg ({NAME}) vil ha mer tolking"},
        )
    with audit.acting_as(colleague):
        advices.answer(request, colleague, f"Enig med {NAME}")
        report(
            colleague,
            member.organisation,
            nik,
            ChangeAction.REMOVE,
            EMAIL,
            name=NAME,
            note=f"{NAME} har sluttet",
        )
    # The listening post: her signal, a colleague's that names her, the coordinators' note and reply,
    # a package that names her as contact, and her note on sharing it.
    with audit.acting_as(coordinator):
        emergency = emergencies.open_emergency([nik], "Utbrudd", f"Meldt av {NAME}", by=coordinator)
        signal = signals.report(emergency, member, "rumour", "soon", f"Jeg, {NAME}, hørte et rykte", ["ar"])
        signals.report(
            emergency, colleague, "barrier", "soon", f"{NAME} på helsestasjonen mangler tolk", ["so"]
        )
        db.session.flush()
        signals.handle(signal, "followed_up", f"Ringt {NAME} ({EMAIL})", by=coordinator)
        signals.reply(signal, f"Takk, {NAME}!", by=coordinator)
        package, _mailed = packages.post(
            emergency,
            f"Materiell fra {NAME}",
            f"Kontakt {EMAIL}",
            [packages.LinkIn("https://www.helsenorge.no/ar/", "ar", f"{NAME} i Bergen")],
            by=coordinator,
        )
    packages.share(package, member, f"Delt av {NAME}")
    db.session.commit()
    with audit.acting_as(label=f"{NAME} <{EMAIL}> (leder)"):  # as a colleague's line manager, by link
        audit.record("anchoring.confirmed", member=colleague, subject=f"member:{colleague.id}")
    db.session.commit()
    deliver()  # most of it goes: the rest waits
    send_password_reset(member)
    # How she signs in: a sign-in link asked for, her work account, an authenticator app.
    from models import ProviderIdentity, RecoveryCode, sign_in_link
    from models.types import utcnow

    sign_in_link.request_link(EMAIL, browser="0" * 64)
    db.session.add(ProviderIdentity(member_id=member.id, provider="entra", subject="00000000-vilde"))
    member.totp_secret, member.totp_confirmed_at = "JBSWY3DPEHPK3PXP", utcnow()
    db.session.add(RecoveryCode(member_id=member.id, code_hash="0" * 64))
    db.session.commit()


def test_erasing_a_member_leaves_their_name_and_address_nowhere(
    app, client, create_member, create_coordinator, municipality, networks, deliver, mail_outbox
):
    bergen = municipality("4601")
    member = create_member(bergen, name=NAME, email=EMAIL)
    colleague = create_member(bergen, name="Kollega Hansen")
    coordinator = create_coordinator("NIK")
    a_life_here(member, colleague, coordinator, networks, deliver)
    member_id = member.id
    statuses = set(db.session.scalars(select(OutboxMessage.status).where(OutboxMessage.recipient == EMAIL)))
    assert statuses == {OutboxStatus.SENT, OutboxStatus.PENDING}
    assert leftovers()  # the scan sees them before
    entries_before = db.session.scalar(select(db.func.count()).select_from(AuditEntry))

    sign_in(client, EMAIL)
    deleted = post(client, "/me/delete", {"password": PASSWORD}, page="/me/delete")
    assert deleted.status_code == 303
    db.session.expire_all()

    assert leftovers() == []
    # The events stay, without the person.
    erased = db.session.get(Member, member_id)
    assert erased.deleted_at is not None and erased.name == privacy.ERASED_NAME
    entries = db.session.scalars(select(AuditEntry)).all()
    assert len(entries) > entries_before and any(
        e.action == "member.deleted" and e.member_id == member_id for e in entries
    )
    mine = [e for e in entries if e.actor_id == member_id]
    assert mine and all(e.actor_label == privacy.ERASED_NAME for e in mine)
    assert db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "member.email_change_requested")
    ).after == {"email": None}
    # Mail that went keeps its row without the text; mail that had not gone is gone.
    to_them = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == f"slettet-{member_id}@invalid")
    )
    assert {(m.status, m.body_text, m.body_html, m.ics) for m in to_them} == {
        (OutboxStatus.SENT, "", None, None)
    }
    assert (
        db.session.scalar(
            select(db.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.recipient.like("%vilde%"))
        )
        == 0
    )
    # What others wrote stays, with the name replaced.
    kept = db.session.scalar(
        select(OutboxMessage.subject).where(OutboxMessage.template == "anchoring_request")
    )
    assert privacy.ERASED_NAME in kept
    assert db.session.scalar(select(Membership.status).where(Membership.member_id == member_id)) == "left"
    # How she signed in is gone: no link, no account with a provider, no second factor.
    from models import ProviderIdentity, RecoveryCode, SignInLink

    for table in (SignInLink, ProviderIdentity, RecoveryCode):
        assert not db.session.scalars(select(table.id).where(table.member_id == member_id)).all(), table
    assert (erased.totp_secret, erased.totp_confirmed_at) == (None, None)


def test_the_purge_scrubs_too_and_forgets_old_mail_texts(
    app, runner, create_member, municipality, deliver, mail_outbox
):
    from tests.helpers import ended_ago

    bergen = municipality("4601")
    member = create_member(bergen, name=NAME, email=EMAIL, status="left")
    other = create_member(bergen)
    send_password_reset(member)
    send_password_reset(other)
    db.session.commit()
    deliver()
    with audit.acting_as(member):
        audit.record(
            "member.manager_changed",
            member=member,
            subject=f"member:{member.id}",
            before={"manager_email": "x@kommune.example", "email": EMAIL},
        )
    db.session.commit()
    ended_ago(member, 400)
    recent = runner.invoke(args=["privacy", "purge"])
    assert recent.exit_code == 0, recent.output
    assert figure(recent.output, "Texts of mail sent more than 90 days ago forgotten") == 0
    db.session.expire_all()
    assert leftovers() == []
    # The other member's mail keeps its text until it is older than MAIL_BODY_RETENTION_DAYS.
    theirs = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == other.email))
    assert theirs.body_text
    db.session.execute(
        OutboxMessage.__table__.update().values(sent_at=datetime.now(UTC) - timedelta(days=91))
    )
    db.session.commit()
    later = runner.invoke(args=["privacy", "purge"])
    assert figure(later.output, "Texts of mail sent more than 90 days ago forgotten") == 1
    db.session.expire_all()
    theirs = db.session.get(OutboxMessage, theirs.id)
    assert theirs.body_text == "" and theirs.body_html is None and theirs.recipient == other.email
