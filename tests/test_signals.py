"""Members' signals: reported to an open emergency from a quick form, refused with personal data
about residents (identity numbers with valid check digits, phone numbers), refused to a closed
emergency, stored once per form; one's own signals and the coordinators' replies."""

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Emergency, Language, Signal, SignalReply
from models import emergency as emergencies
from models import signal as signals
from models.errors import DomainError
from models.personal_data import (
    PersonalData,
    identity_numbers_in,
    is_identity_number,
    phone_numbers_in,
    refuse_personal_data,
)
from models.signal import SignalKind, SignalStatus, Urgency
from tests.conftest import post, postgres_only, sign_in, table_snapshot, twice_at_once

LANGUAGES_CSV = Path(__file__).resolve().parent.parent / "data" / "reference" / "languages.csv"
VALID_ID = "01019000083"  # check digits valid
INVALID_ID = "01019000084"  # the last check digit wrong: not an identity number
A_DAY = (datetime.now(UTC) + timedelta(days=30)).strftime("%d.%m.%Y")


def form(**values):
    return {
        "kind": "information_need",
        "urgency": "urgent",
        "languages": ["so", "ti"],
        "text": "Mange i somaliske familier vet ikke hvor de kan teste seg.",
        **values,
    }


def report(client, emergency_id, **values):
    url = f"/emergencies/{emergency_id}/signals/new"
    return post(client, url, form(**values), page=url)


def signals_of(emergency_id):
    db.session.expire_all()
    return db.session.scalars(select(Signal).filter_by(emergency_id=emergency_id).order_by(Signal.id)).all()


def as_persona(app, people, persona):
    client = app.test_client()
    if persona != "anonymous":
        assert sign_in(client, people[persona].email).status_code == 303
    return client


# -- reporting -----------------------------------------------------------------------------------


def test_a_member_reports_and_the_signal_has_what_they_chose(client, world):
    people, ids = world
    member = people["member"]
    sign_in(client, member.email)
    page = client.get(f"/emergencies/{ids['emergency']}/signals/new").get_data(as_text=True)
    # The member's own municipality is chosen; the hint against personal data is above the text.
    assert re.search(rf'<option selected value="{ids["bergen"]}">Bergen</option>', page)
    assert page.index("fødselsnumre, telefonnumre") < page.index('name="text"')
    assert "<summary>Andre språk</summary>" in page

    response = report(client, ids["emergency"], municipality=str(ids["bergen"]))

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/emergencies/{ids['emergency']}")
    mine = [s for s in signals_of(ids["emergency"]) if s.reporter_id == member.id]
    assert len(mine) == 1
    signal = mine[0]
    assert signal.kind == SignalKind.INFORMATION_NEED and signal.urgency == Urgency.URGENT
    assert signal.status == SignalStatus.NEW
    assert [language.code for language in signal.languages] == ["so", "ti"]
    assert signal.organisation_id == ids["bergen"]
    assert signal.text == "Mange i somaliske familier vet ikke hvor de kan teste seg."
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Takk! Signalet ditt er kommet fram til koordinatorene." in shown
    # Among "your signals", linking to the signal's own page.
    assert f'href="/emergencies/signals/{signal.id}"' in shown


def test_an_observer_may_report_with_no_municipality_chosen(app, world):
    people, ids = world
    client = as_persona(app, people, "observer")
    page = client.get(f"/emergencies/{ids['emergency']}/signals/new").get_data(as_text=True)
    assert '<option selected value="">Ikke én bestemt kommune</option>' in page  # FHI is no municipality

    response = report(client, ids["emergency"], municipality="")

    assert response.status_code == 303
    (signal,) = [s for s in signals_of(ids["emergency"]) if s.reporter_id == people["observer"].id]
    assert signal.organisation_id is None


@pytest.mark.parametrize("persona", ["lapsed", "left", "coordinator_elsewhere", "anonymous"])
def test_those_outside_the_emergencys_networks_may_not_report(app, world, persona):
    people, ids = world
    client = as_persona(app, people, persona)
    before = table_snapshot()
    url = f"/emergencies/{ids['emergency']}/signals/new"
    token_page = "/privacy"
    response = post(client, url, form(), page=token_page)
    assert response.status_code == (302 if persona == "anonymous" else 403)
    assert table_snapshot() == before


def test_a_member_of_another_network_only_may_not_report(app, world, create_member):
    _people, ids = world
    from models import Organisation

    trust = db.session.scalar(select(Organisation).filter_by(name="Helse Bergen HF"))
    elsewhere = create_member(trust, networks=("NONEMI",))
    client = app.test_client()
    sign_in(client, elsewhere.email)
    before = table_snapshot()
    url = f"/emergencies/{ids['emergency']}/signals/new"
    assert client.get(url).status_code == 403
    assert post(client, url, form(), page="/privacy").status_code == 403
    assert table_snapshot() == before


@pytest.mark.parametrize(
    "text",
    [
        f"Pasient med fnr {VALID_ID} sier dette",
        "fødselsnummer 010190 00083 ble nevnt",
        "Ring 400 12 345",
        "tlf +47 40012345",
    ],
)
def test_a_text_with_an_identity_or_phone_number_is_refused_next_to_the_text(client, world, text):
    people, ids = world
    sign_in(client, people["member"].email)
    before = table_snapshot()
    response = report(client, ids["emergency"], text=text)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(r'<p class="ds-validation-message field-error" id="text-error">(.*?)</p>', page, re.S)
    assert error and "Fjern det: et signal skal ikke inneholde personopplysninger" in error.group(1)
    assert "00083" not in error.group(1) and "12 345" not in error.group(1)  # repeats none of it
    assert table_snapshot() == before


@pytest.mark.parametrize(
    "text",
    [
        f"Saksnummer {INVALID_ID} i kommunen",
        "Møte 24.03.2027 om vaksiner",
        f"Møte {A_DAY}",
        "Det koster 2500 3000 kr",
    ],
)
def test_a_text_with_numbers_that_identify_nobody_is_accepted(client, world, text):
    people, ids = world
    sign_in(client, people["member"].email)
    response = report(client, ids["emergency"], text=text)
    assert response.status_code == 303
    assert [s.text for s in signals_of(ids["emergency"]) if s.reporter_id == people["member"].id] == [text]


def test_a_language_not_in_the_list_is_refused_next_to_the_languages(client, world):
    people, ids = world
    sign_in(client, people["member"].email)
    before = table_snapshot()
    response = report(client, ids["emergency"], languages=["so", "xx-klingon"])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="languages-error">\s*Velg språkgrupper fra listen\.', page)
    assert table_snapshot() == before


def test_a_municipality_not_in_the_list_is_refused_next_to_it(client, world):
    people, ids = world
    sign_in(client, people["member"].email)
    before = table_snapshot()
    response = report(client, ids["emergency"], municipality=str(ids["observer"]))  # FHI: no municipality
    assert response.status_code == 422
    assert re.search(
        r'id="municipality-error">\s*Velg en kommune fra listen\.', response.get_data(as_text=True)
    )
    assert table_snapshot() == before


def test_the_model_refuses_an_organisation_that_is_not_an_active_municipality(app, world):
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    from models import Organisation

    fhi = db.session.get(Organisation, ids["observer"])
    with pytest.raises(signals.Refused) as refused:
        signals.report(emergency, people["member"], "other", "soon", "Noe", [], fhi)
    assert refused.value.field == "municipality"
    db.session.rollback()
    bergen = db.session.get(Organisation, ids["bergen"])
    bergen.active = False
    with pytest.raises(signals.Refused):
        signals.report(emergency, people["member"], "other", "soon", "Noe", [], bergen)
    db.session.rollback()


def test_a_closed_emergency_shows_no_form_and_refuses_a_signal(client, world):
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    emergencies.close(emergency, by=people["coordinator"])
    db.session.commit()
    sign_in(client, people["member"].email)
    url = f"/emergencies/{ids['emergency']}/signals/new"
    page = client.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Beredskapshendelsen er avsluttet" in text and 'name="text"' not in text
    before = table_snapshot()
    response = post(client, url, form(), page="/privacy")
    assert response.status_code == 422
    assert table_snapshot() == before
    # Nor does the emergency's page offer the button any longer.
    shown = client.get(f"/emergencies/{ids['emergency']}").get_data(as_text=True)
    assert f'href="{url}"' not in shown


def test_the_model_refuses_a_closed_emergency(app, world):
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    emergencies.close(emergency, by=people["coordinator"])
    db.session.commit()
    with pytest.raises(DomainError):
        signals.report(emergency, people["member"], "other", "soon", "Noe", [])
    db.session.rollback()


# -- the emergency's page, one's own signal, the home ------------------------------------------------


def test_the_emergencys_page_offers_the_button_and_lists_only_ones_own_signals(app, world):
    people, ids = world
    owner = as_persona(app, people, "owner")
    page = owner.get(f"/emergencies/{ids['emergency']}").get_data(as_text=True)
    assert f'href="/emergencies/{ids["emergency"]}/signals/new"' in page
    assert "Signalene dine" in page and f'href="/emergencies/signals/{ids["signal"]}"' in page
    assert "Rykte eller feilinformasjon" in page and "0 svar" in page
    member = as_persona(app, people, "member")
    page = member.get(f"/emergencies/{ids['emergency']}").get_data(as_text=True)
    assert "Signalene dine" not in page and f"/emergencies/signals/{ids['signal']}" not in page


def test_the_reporter_sees_their_signal_and_the_replies_newest_last(app, world):
    people, ids = world
    now = datetime.now(UTC)
    db.session.add_all(
        [
            SignalReply(
                signal_id=ids["signal"], by_id=people["coordinator"].id, body="Andre svar", sent_at=now
            ),
            SignalReply(
                signal_id=ids["signal"],
                by_id=people["coordinator"].id,
                body="Første svar",
                sent_at=now - timedelta(hours=2),
            ),
        ]
    )
    db.session.commit()
    owner = as_persona(app, people, "owner")
    page = owner.get(f"/emergencies/signals/{ids['signal']}").get_data(as_text=True)
    assert "Et rykte om vaksinen" in page and "Ny" in page
    assert page.index("Første svar") < page.index("Andre svar")
    listed = owner.get(f"/emergencies/{ids['emergency']}").get_data(as_text=True)
    assert "2 svar" in listed
    assert as_persona(app, people, "member").get(f"/emergencies/signals/{ids['signal']}").status_code == 403


def test_the_home_shows_an_open_emergency_first_with_the_report_button(app, world):
    people, ids = world
    client = as_persona(app, people, "member")
    page = client.get("/").get_data(as_text=True)
    attention = page[page.index('<ul class="attention">') :]
    first = attention[: attention.index("</li>")]
    assert 'data-kind="emergency"' in first and "Utbrudd" in first
    assert f'href="/emergencies/{ids["emergency"]}/signals/new"' in first
    emergencies.close(db.session.get(Emergency, ids["emergency"]), by=people["coordinator"])
    db.session.commit()
    assert 'data-kind="emergency"' not in client.get("/").get_data(as_text=True)


# -- the same form twice, two forms at once (PostgreSQL) ----------------------------------------------


def _two_clients(app, people, persona):
    return [as_persona(app, people, persona) for _ in range(2)]


def test_the_same_form_sent_twice_at_once_stores_one_signal(app, world):
    postgres_only(app)
    people, ids = world
    url = f"/emergencies/{ids['emergency']}/signals/new"
    before = len(signals_of(ids["emergency"]))
    responses = twice_at_once(_two_clients(app, people, "member"), url, form(), page=url, same_key=True)
    assert sorted(r.status_code for r in responses) == [303, 303]
    assert len(signals_of(ids["emergency"])) == before + 1


def test_two_forms_sent_at_once_store_two_signals(app, world):
    postgres_only(app)
    people, ids = world
    url = f"/emergencies/{ids['emergency']}/signals/new"
    before = len(signals_of(ids["emergency"]))
    responses = twice_at_once(_two_clients(app, people, "member"), url, form(), page=url)
    assert [r.status_code for r in responses] == [303, 303]
    assert len(signals_of(ids["emergency"])) == before + 2


def test_a_signal_and_the_close_at_once_store_it_only_while_open(app, world):
    """The report holds the emergency open (a shared lock); the close waits for it, and a report
    after the close is refused: whatever the order, a stored signal was reported while open."""
    postgres_only(app)
    people, ids = world
    url = f"/emergencies/{ids['emergency']}/signals/new"
    member, coordinator = as_persona(app, people, "member"), as_persona(app, people, "coordinator")
    from tests.conftest import at_once, csrf_token_from

    tokens = [
        csrf_token_from(c.get(url if c is member else f"/emergencies/{ids['emergency']}"))
        for c in (member, coordinator)
    ]

    def send(wait, client, target, data):
        wait()
        return client.post(target, data=data)

    before = len(signals_of(ids["emergency"]))
    reported, closed = at_once(
        send,
        [
            (member, url, {**form(), "csrf_token": tokens[0]}),
            (coordinator, f"/emergencies/{ids['emergency']}/close", {"csrf_token": tokens[1]}),
        ],
    )
    assert closed.status_code == 303 and reported.status_code in (303, 422)
    stored = signals_of(ids["emergency"])
    assert len(stored) == before + (1 if reported.status_code == 303 else 0)
    emergency = db.session.get(Emergency, ids["emergency"])
    assert not emergency.is_open
    assert all(s.created_at <= emergency.closed_at for s in stored)


# -- the personal-data guard itself ----------------------------------------------------------------


@pytest.mark.parametrize("number", [VALID_ID, "15076500565", "41019000077"])
def test_eleven_digits_with_valid_check_digits_are_an_identity_number(number):
    assert is_identity_number(number)


@pytest.mark.parametrize("number", [INVALID_ID, "01019000093", "0101900008", "010190000831", "0101900008a"])
def test_eleven_digits_whose_check_digits_do_not_add_up_are_not(number):
    assert not is_identity_number(number)


@pytest.mark.parametrize(
    "text",
    [
        f"fnr {VALID_ID}.",
        "fnr 010190 00083",
        "fnr 010190-00083",
        "400 12 345",
        "+47 40012345",
        "0047 40012345",
        "40 01 23 45",
        "22334455",
    ],
)
def test_the_guard_refuses_identity_and_phone_numbers(text):
    assert identity_numbers_in(text) or phone_numbers_in(text)
    with pytest.raises(PersonalData):
        refuse_personal_data(text)


@pytest.mark.parametrize(
    "text",
    [f"sak {INVALID_ID}", "24.03.2027", A_DAY, "2500 3000 kr", "1 000 000 kroner", "uke 12", "123 45 678"],
)
def test_the_guard_accepts_numbers_that_identify_nobody(text):
    assert refuse_personal_data(text) == text


# -- the language list -----------------------------------------------------------------------------


def test_the_language_list_has_unique_codes_and_three_names_each_and_is_loaded(app):
    with open(LANGUAGES_CSV, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["code", "rank", "name_nb", "name_nn", "name_en"]
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes))
    for row in rows:
        assert re.fullmatch(r"[a-z]{2,3}", row["code"]), row
        assert all(row[name].strip() for name in ("name_nb", "name_nn", "name_en")), row
    ranks = [int(row["rank"]) for row in rows if row["rank"]]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))  # the common ones: 1, 2, 3, … once each
    # The reference load (``flask reference load``) has put every one in, with its names.
    loaded = {language.code: language for language in db.session.scalars(select(Language))}
    assert set(codes) <= set(loaded)
    for row in rows:
        assert (loaded[row["code"]].name_nb, loaded[row["code"]].name_nn) == (row["name_nb"], row["name_nn"])
    from models.reference import load_languages

    assert load_languages() == 0  # a second load changes nothing


def test_the_flask_reference_load_command_loads_the_languages(app, runner):
    db.session.execute(Language.__table__.delete().where(Language.code == "nn"))
    db.session.commit()
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Language, "nn").name_nn == "norsk nynorsk"
    assert db.session.scalar(select(func.count()).select_from(Language)) >= 90


def test_the_form_shows_the_common_languages_first_and_the_rest_behind_other_languages(app, world):
    people, ids = world
    client = as_persona(app, people, "member")
    post(client, "/language", {"locale": "nn"})
    page = client.get(f"/emergencies/{ids['emergency']}/signals/new").get_data(as_text=True)
    details = page.index('<details class="other-languages"')
    assert page.index("polsk") < details and page.index("thai") < details  # ranks 1 and 15
    assert page.index("tagalog") > details and page.index("kviterussisk") > details
