"""Information packages in an emergency: posted by coordinators (observers' members only where the
coordinators allow it), mailed once to each active member in their own written form, marked
*shared locally* once per member of a municipality, and counted per county and language."""

from email.header import decode_header, make_header

from sqlalchemy import func, select

from extensions import db
from models import (
    AuditEntry,
    Emergency,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    Package,
    PackageLink,
    PackageShare,
)
from models import emergency as emergencies
from models import package as packages
from models import signal as signals
from models.member import Member, active_in
from tests.conftest import post, postgres_only, sign_in, table_snapshot, twice_at_once


def signed_in(app, member):
    client = app.test_client()
    sign_in(client, member.email)
    return client


def package_form(**rows):
    """A valid form: the title, the purpose and the given rows ({index: (url, language, source)})."""
    data = {"title": "Vaksine på mange språk", "purpose": "Til helsestasjonene og voksenopplæringen"}
    for index, (url, language, source) in (
        rows or {0: ("https://www.fhi.no/ar/vaksine", "ar", "FHI")}
    ).items():
        data |= {
            f"links-{index}-url": url,
            f"links-{index}-language": language,
            f"links-{index}-source": source,
        }
    return data


def new_url(emergency_id):
    return f"/emergencies/{emergency_id}/packages/new"


def subject_of(message):
    return str(make_header(decode_header(message["Subject"])))


def text_of(message):
    return message.get_body(("plain",)).get_content()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_package_is_mailed_once_to_each_active_member_in_their_own_written_form(
    app, world, deliver, mail_outbox
):
    people, ids = world
    people["member"].language = "nn"
    people["owner"].language = "en"
    db.session.commit()
    coordinator = signed_in(app, people["coordinator"])
    form = package_form(
        **{
            "0": ("https://www.helsenorge.no/ar/vaksine", "ar", "Helsenorge"),
            "1": ("", "", ""),  # an empty row is skipped
            "2": ("https://www.fhi.no/be/vaksine", "be", "FHI"),
        }
    )
    response = post(coordinator, new_url(ids["emergency"]), form, page=new_url(ids["emergency"]))
    assert response.status_code == 303
    package = db.session.scalar(select(Package).where(Package.title == "Vaksine på mange språk"))
    assert response.headers["Location"].endswith(f"/emergencies/packages/{package.id}")
    assert sorted((link.language_code, link.source) for link in package.links) == [
        ("ar", "Helsenorge"),
        ("be", "FHI"),
    ]
    assert package.posted_by_id == people["coordinator"].id
    assert len(db.session.scalars(select(AuditEntry).filter_by(action="package.posted")).all()) == 1

    deliver()
    mails = [m for m in mail_outbox if "akke" in subject_of(m) or "package" in subject_of(m)]
    active = set(
        db.session.scalars(
            active_in([n.id for n in package.emergency.networks]).with_only_columns(Member.email)
        )
    )
    recipients = [r for m in mails for r in m.envelope_recipients]
    assert sorted(recipients) == sorted(active)  # every active member, each once
    by_recipient = {m.envelope_recipients[0]: m for m in mails}
    nynorsk, english = by_recipient[people["member"].email], by_recipient[people["owner"].email]
    bokmal = by_recipient[people["main_contact"].email]
    assert subject_of(nynorsk) == "Informasjonspakke: Vaksine på mange språk"
    assert subject_of(english) == "Information package: Vaksine på mange språk"
    assert "kviterussisk" in text_of(nynorsk) and "arabisk" in text_of(nynorsk)
    assert "Belarusian" in text_of(english) and "Arabic" in text_of(english)
    assert "hviterussisk" in text_of(bokmal) and "kviterussisk" not in text_of(bokmal)
    for message in (nynorsk, english, bokmal):
        body = text_of(message)
        assert "https://www.fhi.no/be/vaksine" in body and "Til helsestasjonene" in body
        assert f"/emergencies/packages/{package.id}" in body
    # The page lists the links by language, each with its hreflang.
    page = coordinator.get(f"/emergencies/packages/{package.id}").get_data(as_text=True)
    assert 'hreflang="be"' in page and "hviterussisk" in page and "Helsenorge" in page


def test_an_observer_may_post_only_where_the_coordinators_allow_it(app, world):
    people, ids = world
    observer = signed_in(app, people["observer"])
    page = observer.get(new_url(ids["emergency"]))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "har ikke gitt observatørorganisasjoner lov" in text and 'name="links-0-url"' not in text
    before = table_snapshot()
    # A form drawn for a coordinator, sent by the observer: the operation refuses it.
    response = post(observer, new_url(ids["emergency"]), package_form(), page="/privacy")
    assert response.status_code == 422
    assert "har ikke gitt observatørorganisasjoner lov" in response.get_data(as_text=True)
    assert table_snapshot() == before

    emergency = db.session.get(Emergency, ids["emergency"])
    emergency.observers_may_post = True
    db.session.commit()
    assert 'name="links-0-url"' in observer.get(new_url(ids["emergency"])).get_data(as_text=True)
    response = post(observer, new_url(ids["emergency"]), package_form(), page=new_url(ids["emergency"]))
    assert response.status_code == 303
    assert db.session.scalar(
        select(Package.posted_by_id).where(Package.title == "Vaksine på mange språk")
    ) == (people["observer"].id)


def test_a_closed_emergency_takes_no_package_and_no_share(app, world):
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    emergencies.close(emergency, by=people["coordinator"])
    db.session.commit()
    coordinator, member = signed_in(app, people["coordinator"]), signed_in(app, people["member"])
    assert "Beredskapshendelsen er avsluttet" in coordinator.get(new_url(emergency.id)).get_data(as_text=True)
    before = table_snapshot()
    response = post(coordinator, new_url(emergency.id), package_form(), page="/privacy")
    assert response.status_code == 422
    assert table_snapshot() == before
    share_url = f"/emergencies/packages/{ids['package']}/share"
    response = post(member, share_url, {"note": "Helsestasjonen"}, page="/privacy")
    assert response.status_code == 303
    assert table_snapshot() == before
    assert "Marker som delt lokalt" not in member.get(f"/emergencies/packages/{ids['package']}").get_data(
        as_text=True
    )


def test_addresses_that_are_not_https_are_refused_next_to_their_field(app, world):
    people, ids = world
    coordinator = signed_in(app, people["coordinator"])
    before = table_snapshot()
    form = package_form(
        **{
            "0": ("http://www.fhi.no/ar/vaksine", "ar", "FHI"),
            "1": ("javascript:alert(1)", "so", ""),
            "2": ("https://www.fhi.no/ur/vaksine", "", ""),
        }
    )
    response = post(coordinator, new_url(ids["emergency"]), form, page=new_url(ids["emergency"]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert table_snapshot() == before
    https_only = "Gi en adresse som begynner med https:// (en sikker forbindelse)."
    assert f'id="links-0-url-error">{https_only}<' in page
    assert 'id="links-1-url-error">Skriv en fullstendig adresse' in page
    assert 'id="links-2-language-error">Velg språket i materiellet.<' in page
    assert 'href="#links-0-url"' in page  # the summary leads to the field

    response = post(coordinator, new_url(ids["emergency"]), {"title": "Tom"}, page=new_url(ids["emergency"]))
    assert response.status_code == 422
    assert 'id="links-0-url-error">Gi minst én lenke til materiell.<' in response.get_data(as_text=True)
    assert table_snapshot() == before


def test_more_rows_draws_the_form_again_with_three_more_and_posts_nothing(app, world):
    people, ids = world
    coordinator = signed_in(app, people["coordinator"])
    before = table_snapshot()
    response = post(
        coordinator,
        new_url(ids["emergency"]),
        {**package_form(), "more": "1"},
        page=new_url(ids["emergency"]),
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="links-5-url"' in page and 'name="links-6-url"' not in page
    assert 'value="https://www.fhi.no/ar/vaksine"' in page and 'value="Vaksine på mange språk"' in page
    assert table_snapshot() == before


def test_a_member_of_a_municipality_marks_a_package_shared_once(app, world, create_member):
    people, ids = world
    url = f"/emergencies/packages/{ids['package']}/share"
    for persona in ("observer", "coordinator"):  # not theirs to mark (the policy)
        client = signed_in(app, people[persona])
        before = table_snapshot()
        response = post(client, url, {"note": "x"}, page="/privacy")
        assert response.status_code == 403
        assert table_snapshot() == before
    # A member of a county municipality passes the policy, but shares in no municipality.
    county = db.session.scalar(
        select(Organisation).filter_by(kind=OrganisationKind.COUNTY_MUNICIPALITY, number="46")
    )
    county_member = signed_in(app, create_member(county))
    assert "Marker som delt lokalt" not in county_member.get(
        f"/emergencies/packages/{ids['package']}"
    ).get_data(as_text=True)
    before = table_snapshot()
    response = post(county_member, url, {"note": "Fylkeshuset"}, page="/privacy", follow_redirects=True)
    assert "Bare deltakere fra en kommune" in response.get_data(as_text=True)
    assert table_snapshot() == before
    member = signed_in(app, people["member"])
    page = member.get(f"/emergencies/packages/{ids['package']}").get_data(as_text=True)
    assert "Marker som delt lokalt" in page
    assert post(member, url, {"note": "Helsestasjonen"}, page="/privacy").status_code == 303
    assert post(member, url, {"note": "Voksenopplæringen"}, page="/privacy").status_code == 303
    shares = db.session.scalars(select(PackageShare)).all()
    assert [(s.member_id, s.organisation_id, s.note) for s in shares] == [
        (people["member"].id, ids["bergen"], "Voksenopplæringen")
    ]
    page = member.get(f"/emergencies/packages/{ids['package']}").get_data(as_text=True)
    assert "allerede markert" in page and "Voksenopplæringen" in page
    shown = member.get(f"/emergencies/{ids['emergency']}").get_data(as_text=True)
    assert "Delt lokalt av deg" in shown


def test_coverage_counts_municipalities_per_county_and_language_as_the_rows_say(
    app, world, create_member, municipality, count_queries
):
    people, ids = world
    emergency = db.session.get(Emergency, ids["emergency"])
    kinn = create_member(municipality("4602"))  # a second municipality in Vestland, not sharing
    world_package = db.session.get(Package, ids["package"])  # Arabic material
    belarusian, _mailed = packages.post(
        emergency,
        "Hviterussisk",
        None,
        [packages.LinkIn("https://www.fhi.no/be/", "be", "FHI")],
        by=people["coordinator"],
    )
    packages.share(world_package, people["member"], "Bergen")
    packages.share(belarusian, people["main_contact"], None)  # Bergen again: counts once
    packages.share(belarusian, people["member_elsewhere"], "Oslo")
    signals.report(emergency, people["owner"], "information_need", "soon", "Trenger info", ["so", "ar"])
    db.session.commit()

    with count_queries() as statements:
        coverage = packages.coverage(emergency)
    assert len(statements) <= 8
    counties = {c.name: (c.shared, c.municipalities) for c in coverage.counties}
    assert counties == {"Oslo": (1, 1), "Vestland": (1, 2)}
    assert [(row.language.code, row.shared) for row in coverage.languages] == [("ar", 1), ("be", 2)]
    assert [language.code for language in coverage.missing] == ["so"]
    assert coverage.packages == 2 and (coverage.shared, coverage.municipalities) == (2, 3)
    # The same numbers from the rows themselves.
    shared_orgs = {s.organisation_id for s in db.session.scalars(select(PackageShare))}
    assert coverage.shared == len(shared_orgs)
    by_language = {}
    for link in db.session.scalars(select(PackageLink)):
        orgs = {
            s.organisation_id
            for s in db.session.scalars(select(PackageShare).filter_by(package_id=link.package_id))
        }
        by_language.setdefault(link.language_code, set()).update(orgs)
    assert {code: len(orgs) for code, orgs in by_language.items()} == {
        row.language.code: row.shared for row in coverage.languages
    }
    assert kinn.organisation.county_number == "46"
    # More rows, the same number of queries.
    packages.share(world_package, people["member_elsewhere"], None)
    db.session.commit()
    with count_queries() as again:
        packages.coverage(emergency)
    assert len(again) == len(statements)


def test_a_package_form_sent_twice_at_once_posts_one_package_and_mails_each_once(app, world):
    postgres_only(app)
    people, ids = world
    tabs = [signed_in(app, people["coordinator"]) for _ in range(2)]
    responses = twice_at_once(
        tabs, new_url(ids["emergency"]), package_form(), page=new_url(ids["emergency"]), same_key=True
    )
    assert sorted(r.status_code for r in responses) == [303, 303]
    db.session.expire_all()
    posted = db.session.scalars(select(Package).where(Package.title == "Vaksine på mange språk")).all()
    assert len(posted) == 1
    recipients = db.session.scalars(
        select(OutboxMessage.recipient).where(OutboxMessage.batch == f"package:{posted[0].id}")
    ).all()
    assert recipients and len(recipients) == len(set(recipients))
    assert len(db.session.scalars(select(AuditEntry).filter_by(action="package.posted")).all()) == 1


def test_shared_twice_at_once_is_one_row(app, world):
    postgres_only(app)
    people, ids = world
    tabs = [signed_in(app, people["member"]) for _ in range(2)]
    responses = twice_at_once(
        tabs, f"/emergencies/packages/{ids['package']}/share", {"note": "Helsestasjonen"}, page="/privacy"
    )
    assert sorted(r.status_code for r in responses) == [303, 303]
    db.session.expire_all()
    assert count(PackageShare) == 1
