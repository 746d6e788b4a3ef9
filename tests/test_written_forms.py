"""Written forms: each person's mail in their own form (their choice, else their organisation's
målvedtak), bulk mail composed once per language, the language switch remembered for a member,
and the målvedtak kept in the register and loaded from a list."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Member, OutboxMessage
from models import newsletter as newsletters
from models import review as reviews
from models.language import LanguageDecision, mail_locale
from tests.conftest import post, postgres_only, sign_in, twice_at_once
from tests.helpers import form, says

NYNORSK_TITLE = "Nytt frå nettverka"
BOKMAL_TITLE = "Nytt fra nettverkene"


@pytest.fixture
def readers(create_member, municipality):
    """Nils chose nynorsk; Berit left it to Bergen (neutral: bokmål); Vera left it to Volda (nynorsk);
    Erik chose English though Volda writes nynorsk."""
    bergen, volda = municipality("4601"), municipality("1577")
    volda.language_decision = LanguageDecision.NYNORSK
    found = {
        "nils": create_member(bergen, name="Nils Nynorsk"),
        "berit": create_member(bergen, name="Berit Bokmål"),
        "vera": create_member(volda, name="Vera Volda"),
        "erik": create_member(volda, name="Erik English"),
    }
    found["nils"].language, found["erik"].language = "nn", "en"
    db.session.commit()
    return found


def outbox_to(member, **filters):
    return db.session.scalars(
        select(OutboxMessage).filter_by(recipient=member.email, **filters).order_by(OutboxMessage.id)
    ).all()


def test_a_member_s_written_form_is_their_own_choice_else_their_organisation_s(readers):
    assert {key: mail_locale(member) for key, member in readers.items()} == {
        "nils": "nn",
        "berit": "nb",
        "vera": "nn",
        "erik": "en",
    }


def test_each_member_gets_the_newsletter_review_and_call_in_in_their_own_form(
    app, client, readers, create_coordinator, networks
):
    coordinator = create_coordinator("NIK")
    nik = networks["NIK"]
    issue = newsletters.create(
        BOKMAL_TITLE,
        "Vi holder kurs for helsepersonell.",
        [nik],
        by=coordinator,
        language="nb",
        parallel_title=NYNORSK_TITLE,
        parallel_body="Vi held kurs for helsepersonell.",
    )
    newsletters.send(issue, coordinator)
    year = datetime.now(UTC).year + 1
    reviews.open_cycle(nik, year, datetime(year, 3, 1, 22, 59, tzinfo=UTC), datetime(year, 2, 20, tzinfo=UTC))
    db.session.commit()
    sign_in(client, coordinator.email)
    response = post(
        client,
        "/meetings/new",
        form(
            kind="emergency",
            networks=("NIK",),
            title="Smitteutbrudd",
            date=f"{datetime.now(UTC).year + 1}-01-20",
        ),
        page="/meetings/new",
    )
    assert response.status_code == 303

    def mails(member):
        return {row.template: row for row in outbox_to(member)}

    nils, berit, vera, erik = (mails(readers[k]) for k in ("nils", "berit", "vera", "erik"))
    # The newsletter: the parallel version to the nynorsk readers, the main text to the others.
    assert nils["newsletter"].subject == vera["newsletter"].subject == NYNORSK_TITLE
    assert "Vi held kurs" in nils["newsletter"].body_text and "Vi holder" not in nils["newsletter"].body_text
    assert berit["newsletter"].subject == erik["newsletter"].subject == BOKMAL_TITLE
    assert "Vi holder kurs" in berit["newsletter"].body_text
    assert (
        '<html lang="nn">' in nils["newsletter"].body_html
        and '<html lang="nb">' in berit["newsletter"].body_html
    )
    # The review request and the call-in: the catalogue's text, in each one's form.
    for template, nynorsk, bokmal, english in (
        ("review_request", "ikkje", "ikke", "Every year we go through"),
        ("emergency_call_in", "Stadfest", "Bekreft", "Confirm"),
    ):
        assert nynorsk in nils[template].body_text and nynorsk in vera[template].body_text, template
        assert bokmal in berit[template].body_text and nynorsk not in berit[template].body_text, template
        assert english.lower() in erik[template].body_text.lower(), template
        assert f'<html lang="{"nn"}">' in nils[template].body_html
    assert nils["emergency_call_in"].subject != berit["emergency_call_in"].subject  # the subject too
    assert "Nils Nynorsk" in nils["review_request"].body_text  # each copy still has its own values


def test_bulk_mail_is_composed_once_per_language_not_per_member(
    app, create_member, create_coordinator, municipality, count_queries, networks
):
    """The statements of a send stay the same for 4 or 40 members in three languages."""
    bergen = municipality("4601")
    coordinator = create_coordinator("NIK")
    counts = []
    for size in (4, 40):
        while db.session.scalar(select(func.count()).select_from(Member)) < size + 1:
            member = create_member(bergen)
            member.language = ("nb", "nn", "en", None)[member.id % 4]
        db.session.commit()
        issue = newsletters.create(f"Nr {size}", "Tekst", [networks["NIK"]], by=coordinator)
        db.session.commit()
        with count_queries() as statements:
            newsletters.send(issue, coordinator)
        db.session.commit()
        counts.append(len(statements))
        languages = db.session.scalars(
            select(func.count(func.distinct(OutboxMessage.body_text))).filter_by(batch=issue.batch)
        ).one()
        assert languages >= 3  # one text per language (and per unsubscribe link)
    assert counts[0] == counts[1], counts


def test_the_switch_offers_three_languages_and_remembers_a_member_s_choice(app, client, readers):
    page = client.get("/organisations/").get_data(as_text=True)
    for code, name in (("nn", "Norsk nynorsk"), ("en", "English")):
        assert f'name="locale" value="{code}" lang="{code}">{name}</button>' in page
        assert f'hreflang="{code}"' in page
    assert 'aria-current="true">Norsk bokmål<' in page

    nils = readers["berit"]
    sign_in(client, nils.email)
    response = post(client, "/language", {"locale": "nn", "next": "/organisations/?q=Bergen"}, page="/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/organisations/?q=Bergen")
    assert says(client.get("/organisations/").get_data(as_text=True), "Organisasjonar")
    db.session.refresh(nils)
    assert nils.language == "nn" and mail_locale(nils) == "nn"

    again = app.test_client()  # a new browser: the stored choice comes back at sign-in
    sign_in(again, nils.email)
    assert '<html lang="nn"' in again.get("/me/").get_data(as_text=True)


def test_a_page_in_another_language_by_its_address_changes_nothing_stored(client, readers):
    page = client.get("/organisations/?lang=nn").get_data(as_text=True)
    assert '<html lang="nn"' in page
    assert '<html lang="nb"' in client.get("/organisations/").get_data(as_text=True)


def test_the_written_form_is_chosen_at_registration_and_on_my_page(client, readers):
    member = readers["berit"]
    sign_in(client, member.email)
    page = client.get("/me/edit").get_data(as_text=True)
    assert 'name="language"' in page and "Norsk nynorsk" in page
    response = post(
        client,
        "/me/edit",
        {
            "name": member.name,
            "job_title": member.job_title or "Rådgiver",
            "unit": member.unit or "Enhet",
            "manager_name": member.manager_name or "Leder",
            "manager_email": member.manager_email or "leder@bergen.kommune.example",
            "language": "nn",
        },
        page="/me/edit",
    )
    assert response.status_code == 303
    db.session.refresh(member)
    assert member.language == "nn"


def test_a_coordinator_records_a_municipality_s_malvedtak_once(app, client, create_coordinator, municipality):
    bergen = municipality("4601")
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)
    listing = client.get("/organisations/?q=Bergen").get_data(as_text=True)
    assert f"/organisations/{bergen.id}/written-form" in listing and says(listing, "Nøytral")
    url = f"/organisations/{bergen.id}/written-form"
    first = post(client, url, {"language_decision": "nn"}, page=url)
    second = post(client, url, {"language_decision": "nn"}, page=url)
    assert first.status_code == second.status_code == 303
    db.session.refresh(bergen)
    assert bergen.language_decision is LanguageDecision.NYNORSK
    from models import AuditEntry

    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).filter_by(action="organisation.language_decided")
        )
        == 1
    )
    refused = post(client, url, {"language_decision": "latin"}, page=url)
    assert refused.status_code == 422
    db.session.refresh(bergen)
    assert bergen.language_decision is LanguageDecision.NYNORSK


def test_the_malvedtak_list_loads_with_a_dry_run_and_twice_changes_nothing(app, tmp_path, municipality):
    runner = app.test_cli_runner()

    def flask_command(app, *args):
        return runner.invoke(args=list(args))

    volda, bergen = municipality("1577"), municipality("4601")
    listing = tmp_path / "malvedtak.csv"
    listing.write_text("number,language_decision\n1577,nynorsk\n4601,Nøytral\n46,bokmål\n", encoding="utf-8")
    dry = flask_command(app, "reference", "load", "--written-forms", str(listing), "--dry-run")
    assert "Volda: Nøytral → Nynorsk" in dry.output and "Vestland: Nøytral → Bokmål" in dry.output, dry.output
    db.session.expire_all()
    assert volda.language_decision is LanguageDecision.NEUTRAL  # nothing kept
    first = flask_command(app, "reference", "load", "--written-forms", str(listing))
    assert "2 målvedtak changed" in first.output, first.output  # Bergen was neutral already
    db.session.expire_all()
    assert volda.language_decision is LanguageDecision.NYNORSK
    assert bergen.language_decision is LanguageDecision.NEUTRAL
    again = flask_command(app, "reference", "load", "--written-forms", str(listing))
    assert "nothing changed" in again.output

    listing.write_text("number,language_decision\n9999,nynorsk\n1577,latin\n", encoding="utf-8")
    bad = flask_command(app, "reference", "load", "--written-forms", str(listing))
    assert bad.exit_code != 0 and "line 2" in bad.output and "line 3" in bad.output


@pytest.mark.parametrize(
    "locale, written",
    [
        ("nb", "mandag 2. februar 2026 10:00"),
        ("nn", "måndag 2. februar 2026 10:00"),
        ("en", "Monday 2 February 2026 10:00"),
    ],
)
def test_dates_are_written_as_each_language_writes_them(app, locale, written):
    from flask import render_template_string

    with app.test_request_context(f"/?lang={locale}"):
        when = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
        assert (
            render_template_string('{{ when|datetimeformat("EEEE d. MMMM y HH:mm") }}', when=when) == written
        )


def signed_in_twice(app, member):
    clients = [app.test_client(), app.test_client()]
    for each in clients:
        assert sign_in(each, member.email).status_code == 303
    return clients


def test_the_malvedtak_saved_twice_at_once_is_recorded_once(app, create_coordinator, municipality):
    postgres_only(app)
    volda = municipality("1577")
    url = f"/organisations/{volda.id}/written-form"
    responses = twice_at_once(
        signed_in_twice(app, create_coordinator("NIK")), url, {"language_decision": "nn"}, page=url
    )
    assert [r.status_code for r in responses] == [303, 303]
    db.session.expire_all()
    assert db.session.get(type(volda), volda.id).language_decision is LanguageDecision.NYNORSK
    from models import AuditEntry

    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).filter_by(action="organisation.language_decided")
        )
        == 1
    )


def test_the_language_switch_pressed_twice_at_once_stores_the_choice_once(app, readers):
    postgres_only(app)
    berit = readers["berit"]
    responses = twice_at_once(
        signed_in_twice(app, berit), "/language", {"locale": "nn", "next": "/"}, page="/"
    )
    assert [r.status_code for r in responses] == [303, 303]
    db.session.expire_all()
    assert db.session.get(Member, berit.id).language == "nn"
