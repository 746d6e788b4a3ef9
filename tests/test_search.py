"""Forgiving search (models/search.py): accents and case aside, ø as o or oe, å as a or aa, every
word in any order and as the start of a word – in the directory, the registration picker, the
organisation register, the coordinator's overview and the audit search; and on PostgreSQL the
directory's search is served by the trigram index, not a pass over every member."""

import random
import re

import pytest
from sqlalchemy import insert, select, text
from werkzeug.security import generate_password_hash

from extensions import db
from models import directory, search
from models.member import Member
from models.membership import Membership
from models.network import Network
from tests.conftest import post, sign_in
from tests.helpers import says

DIRECTORY = {"HX-Request": "true", "HX-Target": "directory-results"}
PICKER = {"HX-Request": "true", "HX-Target": "organisation-results"}


@pytest.mark.parametrize(
    "written, folded",
    [
        ("Áile Ŋuolja", " aile nuolja"),
        ("Kárášjohka - Karasjok", " karasjohka karasjok"),
        ("Čáhcesuolu Žalvi Šilju", " cahcesuolu zalvi silju"),
        ("Müller Öberg", " muller oberg"),
        ("Bærum", " baerum"),
        ("Tromsø", " tromso"),
        ("TROMSOE", " tromso"),  # "oe" typed for ø
        ("Åsen", " asen"),
        ("aasen", " asen"),  # "aa" typed for å
        ("Đuro Þór Straße", " duro thor strasse"),
        ("Œuvre Łódź ð ʒ ǯ ı ŧ", " ouvre lodz d z z i t"),
        ("Trondheim - Tråante", " trondheim trante"),  # "aa" is "a", whichever way it came
        ("  Anne-Marie  O'Neill (Vestland) ", " anne marie o neill vestland"),
        ("%_\\", ""),  # punctuation only: no words
    ],
)
def test_the_folding_table(written, folded):
    assert search.key(written) == folded


def test_the_key_and_the_query_meet_however_the_letters_were_typed():
    for stored, typed in (
        ("Tromsø", "tromso"),
        ("Tromsø", "tromsoe"),
        ("Tromsø", "Tromsø"),
        ("Åsen", "aasen"),
        ("Åsen", "asen"),
        ("Bærum", "baerum"),
        ("Kárášjohka - Karasjok", "karasjohka"),
        ("Áile Ŋuolja", "aile"),
        ("Áile Ŋuolja", "nuolja"),
        ("Áile Ŋuolja", "ŋuo"),
    ):
        assert all(f" {word}" in search.key(stored) for word in search.terms(typed)), (stored, typed)
    assert search.terms("   ") is None  # nothing typed: no search
    assert search.terms("%_") == [] and search.terms("x" * 201) == []  # can match nothing
    assert search.terms("anne ANNE anne drammensen") == ["anne", "drammensen"]


@pytest.fixture
def people(create_member, create_coordinator, municipality):
    bergen, oslo, tromso = municipality("4601"), municipality("0301"), municipality("5501")
    return {
        "aile": create_member(tromso, name="Áile Ŋuolja"),
        "anne": create_member(oslo, name="Anne Drammensen"),
        "annette": create_member(bergen, name="Annette Berg"),
        "kari": create_member(bergen, name="Kari Østensen"),
        "coordinator": create_coordinator("NIK", name="Koordinator Koord"),
    }


def directory_names(client, query):
    page = client.get("/directory/", query_string={"q": query}, headers=DIRECTORY).get_data(as_text=True)
    return {
        name for name in ("Áile Ŋuolja", "Anne Drammensen", "Annette Berg", "Kari Østensen") if name in page
    }


@pytest.mark.parametrize(
    "query, found",
    [
        ("aile", {"Áile Ŋuolja"}),
        ("nuolja", {"Áile Ŋuolja"}),
        ("NUOL", {"Áile Ŋuolja"}),
        ("Drammensen Anne", {"Anne Drammensen"}),  # any order
        ("dram ann", {"Anne Drammensen"}),  # each word the start of a word
        ("anne-drammensen", {"Anne Drammensen"}),  # a dash breaks words
        ("ann", {"Anne Drammensen", "Annette Berg"}),
        ("ostensen", {"Kari Østensen"}),
        ("oestensen", {"Kari Østensen"}),
        ("tromso", {"Áile Ŋuolja"}),  # her municipality
        ("romsa aile", {"Áile Ŋuolja"}),  # her county ("Troms - Romsa - Tromssa") and her name
        ("bergen kari", {"Kari Østensen"}),  # organisation and name, each a word
        ("vestland", {"Annette Berg", "Kari Østensen"}),  # Bergen's county
        # Not found: a word in the middle of a word, words of two people, a word nobody has.
        ("ensen", set()),
        ("uolja", set()),
        ("anne nuolja", set()),
        ("oslo kari", set()),
        ("drammensenx", set()),
        ("%_", set()),
    ],
)
def test_the_directory_finds_people_however_they_are_typed(client, people, query, found):
    sign_in(client, people["kari"].email)
    assert directory_names(client, query) == found


def test_the_directory_counts_what_it_finds(client, people):
    sign_in(client, people["coordinator"].email)
    page = client.get("/directory/", query_string={"q": "drammensen anne"}).get_data(as_text=True)
    assert says(page, "1 deltaker funnet") and "Anne Drammensen" in page and "Annette Berg" not in page
    assert says(client.get("/directory/?q=ann").get_data(as_text=True), "2 deltakere funnet")


def picker(client, query):
    return client.get(
        "/register/organisations", query_string={"organisation_query": query}, headers=PICKER
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Tromso", "Tromsø"),
        ("tromsoe", "Tromsø"),
        ("Baerum", "Bærum"),
        ("Karasjohka", "Kárášjohka - Karasjok"),
        ("karasjok", "Kárášjohka - Karasjok"),
        ("kautokeino guovda", "Guovdageaidnu - Kautokeino"),
        ("aalesund", "Ålesund"),
        ("3201", "Bærum"),  # the number still
    ],
)
def test_the_registration_picker_finds_municipalities_however_they_are_typed(client, query, expected):
    body = picker(client, query)
    assert "<html" not in body and expected in body


def test_the_registration_picker_does_not_find_what_was_not_typed(client):
    assert "Bærum" not in picker(client, "aerum")  # not the middle of a word
    assert "Tromsø" not in picker(client, "tromso bergen")  # every word must match
    assert "Bærum" not in picker(client, "barum")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("baerum", "Bærum"),
        ("TROMSOE", "Tromsø"),
        ("karasjohka", "Kárášjohka - Karasjok"),
        ("aalesund", "Ålesund"),
    ],
)
def test_the_organisation_register_finds_them_too(client, query, expected):
    page = client.get("/organisations/", query_string={"q": query}).get_data(as_text=True)
    assert f'<th scope="row">{expected}</th>' in page


def test_the_organisation_register_leaves_out_what_does_not_match(client):
    page = client.get("/organisations/", query_string={"q": "baerum oslo"}).get_data(as_text=True)
    assert says(page, "0 organisasjoner funnet")


def test_the_overview_finds_organisations_however_they_are_typed(
    client, create_member, create_coordinator, municipality
):
    create_member(municipality("5610"))
    create_member(municipality("3201"))
    sign_in(client, create_coordinator("NIK").email)
    headers = {"HX-Request": "true", "HX-Target": "overview-results"}
    found = client.get("/coordinator/overview?network=NIK&q=karasjohka", headers=headers).get_data(
        as_text=True
    )
    assert says(found, "1 organisasjon") and "Kárášjohka - Karasjok" in found and "Bærum" not in found
    found = client.get("/coordinator/overview?network=NIK&q=baerum", headers=headers).get_data(as_text=True)
    assert "Bærum" in found and "Kárášjohka" not in found
    found = client.get("/coordinator/overview?network=NIK&q=5610", headers=headers).get_data(as_text=True)
    assert "Kárášjohka - Karasjok" in found  # the number still


def test_the_audit_search_finds_a_member_however_the_name_is_typed(client, people, networks):
    from models import audit

    with audit.acting_as(label="test"):
        for member in (people["aile"], people["anne"]):
            audit.record(
                "member.directory_hidden",
                member=member,
                network=networks["NIK"],
                subject=f"member:{member.id}",
            )
    db.session.commit()
    sign_in(client, people["coordinator"].email)
    for typed, member in (("nuolja aile", people["aile"]), ("drammensen", people["anne"])):
        found = post(client, "/coordinator/audit", {"q": typed}, page="/coordinator/audit")
        assert found.status_code == 303 and f"member={member.id}" in found.headers["Location"], typed
    none = post(client, "/coordinator/audit", {"q": "anne nuolja"}, page="/coordinator/audit")
    assert none.status_code == 422 and "Ingen deltaker i endringsloggen passer" in none.get_data(as_text=True)


def test_a_renamed_member_is_found_by_the_new_name_only(app, people):
    anne = people["anne"]
    anne.name = "Anne Ødegård"
    db.session.commit()
    assert db.session.scalar(select(Member.search_key).where(Member.id == anne.id)) == " anne odegard"
    viewer = people["coordinator"]
    found = {e.name for e in directory.entries(directory.matching(viewer, "odegaard"))}
    assert found == {"Anne Ødegård"} and directory.entries(directory.matching(viewer, "drammensen")) == []


def test_the_directory_reads_an_organisation_renamed_a_moment_ago(app, people):
    """The organisations a word names are read with each search: a rename counts at once."""
    from sqlalchemy import update

    from models.organisation import Organisation

    viewer, oslo = people["coordinator"], people["anne"].organisation
    assert [e.name for e in directory.entries(directory.matching(viewer, "oslove"))] == ["Anne Drammensen"]
    db.session.execute(
        update(Organisation).where(Organisation.id == oslo.id).values(search_key=" christiania")
    )
    assert directory.entries(directory.matching(viewer, "oslove")) == []
    assert [e.name for e in directory.entries(directory.matching(viewer, "christiania"))] == [
        "Anne Drammensen"
    ]
    oslo.name = "Oslo - Oslove"
    db.session.flush()
    assert [e.name for e in directory.entries(directory.matching(viewer, "oslove"))] == ["Anne Drammensen"]
    db.session.rollback()


# -- the index ---------------------------------------------------------------------------------------


def explain(statement):
    compiled = statement.compile(db.engine)
    rows = db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
    return "\n".join(row[0] for row in rows)


def test_the_directory_search_uses_the_trigram_index_on_postgresql(app, people):
    """Ten thousand members (inserted in bulk, as the demo does), sequential scans left on: the
    count and the page of a search find the members through ix_members_search_key."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's (TEST_DATABASE_URL)")
    from models.organisation import Organisation, OrganisationKind

    places = db.session.scalars(
        select(Organisation.id)
        .where(Organisation.kind == OrganisationKind.MUNICIPALITY)
        .order_by(Organisation.id)
    ).all()
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    rng = random.Random(22)

    def word():
        return "".join(
            rng.choice("bdfghjklmnprstv") + rng.choice("aeiouyæøå") for _ in range(rng.randrange(2, 5))
        )

    hashed = generate_password_hash("bulk bulk bulk bulk")
    names = [f"{word().title()} {word().title()}" for _ in range(10_000)]
    people_rows = [
        {
            "name": name,
            "name_folded": name.lower(),
            "search_key": search.key(name),
            "email": f"p{i}@bulk.example",
            "organisation_id": places[i % len(places)],
            "phone": "+47 400 00 000",
            "unit": "Helsestasjon for ungdom",
            "job_title": "Helsesykepleier",
            "manager_name": f"Leder {i}",
            "manager_email": f"leder{i}@bulk.example",
            "password_hash": hashed,  # as wide as the demo's rows
        }
        for i, name in enumerate(names)
    ]
    db.session.execute(insert(Member), people_rows)
    ids = db.session.execute(
        select(Member.id, Member.organisation_id).where(Member.email.like("p%@bulk.example"))
    )
    db.session.execute(
        insert(Membership),
        [{"member_id": i, "organisation_id": o, "network_id": nik.id, "_status": "active"} for i, o in ids],
    )
    db.session.commit()
    # What autovacuum does soon after a bulk insert: the GIN index's pending list (where fast
    # updates wait) merged into the index proper, and the tables' statistics taken.
    db.session.execute(text("SELECT gin_clean_pending_list('ix_members_search_key')"))
    for table in ("members", "memberships", "organisations"):
        db.session.execute(text(f"ANALYZE {table}"))
    viewer = people["coordinator"]
    assert db.session.scalar(text("SHOW enable_seqscan")) == "on"

    for query in ("drammensen", "nuolja aile"):
        count_plan = explain(directory.count(directory.matching(viewer, query)))
        assert "ix_members_search_key" in count_plan, count_plan
        assert not re.search(r"Seq Scan on members\b", count_plan), count_plan
    page = select(Member.id).where(*directory.matching(viewer, "drammensen")).order_by(Member.name_folded)
    page_plan = explain(page.limit(50))
    assert "ix_members_search_key" in page_plan and not re.search(r"Seq Scan on members\b", page_plan), (
        page_plan
    )

    # And what the index finds is right.
    assert db.session.scalar(directory.count(directory.matching(viewer, "drammensen"))) == 1
    assert db.session.scalar(directory.count(directory.matching(viewer, "nuolja aile"))) == 1
    first = names[0].split()[0]
    expected = sum(
        1 for n in names if any(w.startswith(search.key(first).strip()) for w in search.key(n).split())
    )
    assert db.session.scalar(directory.count(directory.matching(viewer, first))) == min(
        expected, directory.COUNT_CAP + 1
    )
    assert (
        db.session.scalar(directory.count(directory.matching(viewer, "a"))) == directory.COUNT_CAP + 1
    )  # capped


def test_the_migration_keeps_the_search_indexes_where_the_models_say():
    """The trigram indexes are declared on the models (so that alembic's comparison knows them)."""
    from models.organisation import Organisation

    for table in (Member.__table__, Organisation.__table__):
        (index,) = [i for i in table.indexes if i.name == f"ix_{table.name}_search_key"]
        assert index.dialect_options["postgresql"]["using"] == "gin"
        assert index.dialect_options["postgresql"]["ops"] == {"search_key": "gin_trgm_ops"}
