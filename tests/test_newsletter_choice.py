"""The newsletter chosen per network (My page, the mail's link, a mail program's one-click
unsubscribe, RFC 8058), and what the newsletter's Markdown does with tables, images and refused
links – in the preview, the HTML mail and the text mail."""

import re

import pytest
from sqlalchemy import func, select

from extensions import db
from models import AuditEntry, Member, Membership, Network, Newsletter, Organisation, tokens
from models import newsletter as newsletters
from tests.conftest import post, postgres_only, sign_in, twice_at_once
from tests.helpers import says, tabs


@pytest.fixture
def people(create_member, create_coordinator, municipality):
    fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))
    return {
        "nik": create_member(municipality("4601"), name="Nora NIK"),
        "nifs": create_member(fhi, networks=("NIFS",), name="Frida NIFS"),
        "both": create_member(fhi, networks=("NIK", "NIFS"), name="Berit Begge"),
        "coordinator": create_coordinator("NIK", "NIFS", name="Kora Koordinator"),
    }


def network(code):
    return db.session.scalar(select(Network).filter_by(code=code))


def stopped(member):
    """The codes of the networks whose newsletter ``member`` has stopped, as the database has it."""
    db.session.expire_all()
    return sorted(
        db.session.scalars(
            select(Network.code)
            .join(Membership, Membership.network_id == Network.id)
            .where(Membership.member_id == member.id, Membership.newsletter_unsubscribed_at.is_not(None))
        )
    )


def audited(action):
    return db.session.scalar(select(func.count()).select_from(AuditEntry).filter_by(action=action))


def issue(codes, by, title="Nytt"):
    newsletter = newsletters.create(title, "Tekst", [network(c) for c in codes], by)
    db.session.commit()
    return newsletter


def recipients(newsletter):
    return sorted(db.session.scalars(newsletters.recipients(newsletter).with_only_columns(Member.name)))


# -- who gets an issue -------------------------------------------------------------------------


def test_recipients_are_chosen_per_network(app, people):
    by = people["coordinator"]
    to_nik, to_nifs, to_both = issue(["NIK"], by), issue(["NIFS"], by), issue(["NIK", "NIFS"], by)
    assert recipients(to_nik) == ["Berit Begge", "Nora NIK"]

    assert newsletters.set_subscribed(people["both"], False, [network("NIK").id])
    db.session.commit()
    assert stopped(people["both"]) == ["NIK"]
    # Stopped NIK's letter: not an issue to NIK, still one to NIFS, and one to both (once).
    assert recipients(to_nik) == ["Nora NIK"]
    assert recipients(to_nifs) == ["Berit Begge", "Frida NIFS"]
    assert recipients(to_both) == ["Berit Begge", "Frida NIFS", "Nora NIK"]

    assert newsletters.set_subscribed(people["both"], False, [network("NIFS").id])
    db.session.commit()
    assert recipients(to_both) == ["Frida NIFS", "Nora NIK"]
    assert newsletters.count_recipients(to_both) == 2


def test_my_page_has_a_checkbox_per_network(app, client, people):
    berit = people["both"]
    sign_in(client, berit.email)
    page = client.get("/me/").get_data(as_text=True)
    boxes = re.findall(r'<input[^>]*name="networks"[^>]*>', page)
    assert len(boxes) == 2 and all("checked" in box for box in boxes)
    assert "Nyhetsbrevet til NIK" in page and "Nyhetsbrevet til NIFS" in page

    # Unticking NIK keeps NIFS.
    answer = post(client, "/me/newsletter", {"networks": [str(network("NIFS").id)]}, page="/me/")
    assert answer.status_code == 303
    assert stopped(berit) == ["NIK"]
    page = client.get("/me/").get_data(as_text=True)
    assert says(page, "Valget ditt av nyhetsbrev er lagret.")
    nik_box = re.search(rf'<input[^>]*value="{network("NIK").id}"[^>]*>', page).group(0)
    assert "checked" not in nik_box
    assert audited("newsletter.unsubscribed") == 1

    # The same choice again changes nothing; both ticked starts NIK again.
    post(client, "/me/newsletter", {"networks": [str(network("NIFS").id)]}, page="/me/")
    assert audited("newsletter.unsubscribed") == 1
    post(client, "/me/newsletter", {"networks": [str(network(c).id) for c in ("NIK", "NIFS")]}, page="/me/")
    assert stopped(berit) == [] and audited("newsletter.subscribed") == 1


# -- the mail's links ----------------------------------------------------------------------------


def mailed(people, deliver, mail_outbox, codes, who="both"):
    """An issue to ``codes`` sent and delivered; the mail ``who`` got."""
    newsletters.send(issue(codes, people["coordinator"]), people["coordinator"])
    db.session.commit()
    deliver()
    return next(m for m in mail_outbox if m["To"] == people[who].email)


def one_click_url(message):
    header = " ".join(message["List-Unsubscribe"].split())
    mailto, https = re.fullmatch(r"<(mailto:[^>]+)>, <(https?://[^>]+)>", header).groups()
    assert mailto.startswith("mailto:") and https.endswith("/one-click")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return https.removeprefix("http://localhost")


def test_the_mail_link_stops_that_issues_network_and_all_is_one_more_click(app, people, deliver, mail_outbox):
    message = mailed(people, deliver, mail_outbox, ["NIK"])
    body = message.get_body(("plain",)).get_content()
    path = re.findall(r"http://localhost(/newsletter/unsubscribe/\S+)", body)[0]
    berit = people["both"]
    stranger = app.test_client()  # no sign-in

    page = stranger.get(path).get_data(as_text=True)
    assert "Meld meg av nyhetsbrevet til NIK" in page and stopped(berit) == []
    assert post(stranger, path, {"subscribe": "no"}, page=path).status_code == 303
    page = stranger.get(path).get_data(as_text=True)
    assert says(page, "Du får ikke lenger nyhetsbrevet til NIK.")
    assert stopped(berit) == ["NIK"]  # NIFS's letter still comes
    assert "Få nyhetsbrevet til NIK igjen" in page and "Meld meg av alle nyhetsbrevene" in page

    assert post(stranger, path, {"subscribe": "no", "scope": "all"}, page=path).status_code == 303
    assert stopped(berit) == ["NIFS", "NIK"]
    assert "Meld meg av alle nyhetsbrevene" not in stranger.get(path).get_data(as_text=True)
    assert [
        e.after for e in db.session.scalars(select(AuditEntry).filter_by(action="newsletter.unsubscribed"))
    ] == [
        {"networks": ["NIK"]},
        {"networks": ["NIFS"]},
    ]


def test_one_click_unsubscribe_needs_no_sign_in_nor_csrf_and_is_harmless_twice(
    app, people, deliver, mail_outbox
):
    message = mailed(people, deliver, mail_outbox, ["NIFS"])
    url = one_click_url(message)
    mail_program = app.test_client()
    # As RFC 8058 says a mail program sends it: no cookie, no CSRF token, only this body.
    answer = mail_program.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert says(answer.get_data(as_text=True), "Du får ikke lenger nyhetsbrevet til NIFS.")
    assert stopped(people["both"]) == ["NIFS"]
    assert mail_program.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert stopped(people["both"]) == ["NIFS"] and audited("newsletter.unsubscribed") == 1
    # A browser opening the address is asked, not unsubscribed from more.
    opened = mail_program.get(url).get_data(as_text=True)
    assert (
        f'action="{url.removesuffix("/one-click")}"' in opened and "Få nyhetsbrevet til NIFS igjen" in opened
    )


def test_a_tampered_or_foreign_token_is_refused_and_changes_nothing(app, people):
    good = tokens.make("unsubscribe", member=people["both"].id, networks=[network("NIK").id])
    payload, rest = good.split(".", 1)
    forged = tokens.make("reset_password", member=people["both"].id, networks=[network("NIK").id])
    mail_program = app.test_client()
    for token in (f"{payload}x.{rest}", good[:-2], forged, "not-a-token"):
        answer = mail_program.post(
            f"/newsletter/unsubscribe/{token}/one-click", data={"List-Unsubscribe": "One-Click"}
        )
        assert answer.status_code == 400
    # Another member's id under the signature: the signature no longer holds.
    other = tokens.make("unsubscribe", member=people["nik"].id, networks=[network("NIK").id])
    mixed = f"{other.split('.', 1)[0]}.{rest}"
    assert mail_program.post(f"/newsletter/unsubscribe/{mixed}/one-click").status_code == 400
    assert stopped(people["both"]) == [] and stopped(people["nik"]) == []
    assert audited("newsletter.unsubscribed") == 0


def test_a_link_mailed_before_the_choice_per_network_stops_every_network(app, people):
    old = f"/newsletter/unsubscribe/{tokens.make('unsubscribe', member=people['both'].id)}"
    client = app.test_client()
    assert "Meld meg av nyhetsbrevet til NIK, NIFS" in client.get(old).get_data(as_text=True)
    assert post(client, old, {"subscribe": "no"}, page=old).status_code == 303
    assert stopped(people["both"]) == ["NIFS", "NIK"]


def test_one_click_twice_at_once_stops_once(app, people):
    postgres_only(app)
    token = tokens.make("unsubscribe", member=people["both"].id, networks=[network("NIK").id])
    answers = twice_at_once(
        [app.test_client(), app.test_client()],
        f"/newsletter/unsubscribe/{token}/one-click",
        {"List-Unsubscribe": "One-Click"},
        page="/",
    )
    assert [a.status_code for a in answers] == [200, 200]
    assert stopped(people["both"]) == ["NIK"] and audited("newsletter.unsubscribed") == 1


def test_my_page_choice_twice_at_once_is_logged_once(app, people):
    postgres_only(app)
    nifs = str(network("NIFS").id)
    answers = twice_at_once(
        tabs(app, people["both"].email), "/me/newsletter", {"networks": [nifs]}, page="/me/"
    )
    assert [a.status_code for a in answers] == [303, 303]
    assert stopped(people["both"]) == ["NIK"] and audited("newsletter.unsubscribed") == 1


# -- Markdown: tables, images, refused links -----------------------------------------------------

BODY = """Årets møter:

| Kommune | Deltakere | Merknad |
|:--|--:|---|
| Bergen | 12 | **god** oppslutning |
| Oslo | 3 | |

![Kart over kommunene](https://example.no/kart.png)

Les [mer](javascript:alert(1)) eller [her](https://www.helsedirektoratet.no/).
"""


def test_tables_images_and_refused_links_in_preview_html_mail_and_text_mail(
    app, client, people, deliver, mail_outbox
):
    coordinator = people["coordinator"]
    sign_in(client, coordinator.email)
    # "Save and preview" on a new issue lands on the preview.
    answer = post(
        client,
        "/newsletter/new",
        {"title": "Tabell", "body": BODY, "networks": ["NIK"], "then": "preview"},
        page="/newsletter/new",
    )
    newsletter = db.session.scalar(select(Newsletter).order_by(Newsletter.id.desc()))
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/newsletter/{newsletter.id}")
    preview = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Forhåndsvisning" in preview

    # The table, as a table.
    assert '<th scope="col">Kommune</th>' in preview and "<td>Bergen</td>" in preview
    assert "<td><strong>god</strong> oppslutning</td>" in preview and "style=" not in preview
    # The image is not shown but linked, and the preview says so.
    assert "<img" not in preview
    assert (
        '<a href="https://example.no/kart.png" rel="noopener noreferrer">Kart over kommunene</a>' in preview
    )
    assert says(
        preview, "Bilder vises ikke i nyhetsbrevet: «Kart over kommunene» (https://example.no/kart.png)"
    )
    # The refused link: its words as plain text, and the preview names it.
    assert "Les mer eller" in preview and ">mer</a>" not in preview
    assert says(preview, "Denne lenken ble fjernet: «mer» (javascript:alert(1)).")

    newsletters.send(newsletter, coordinator)
    db.session.commit()
    deliver()
    message = next(m for m in mail_outbox if m["To"] == people["nik"].email)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "<td>Bergen</td>" in html and "<img" not in html and "javascript" not in html
    assert "Les mer eller" in html and "Fjernet" not in html  # the notes are for the writer only
    assert "Kommune | Deltakere | Merknad\n------" in text
    assert "\nBergen | 12 | god oppslutning\nOslo | 3 |" in text
    assert "Kart over kommunene: https://example.no/kart.png" in text
    assert "Les mer eller her." in text and "javascript" not in text
    # The published issue no longer shows the notes.
    assert "Denne lenken ble fjernet" not in client.get(f"/newsletter/{newsletter.id}").get_data(as_text=True)


# -- the migration -------------------------------------------------------------------------------


def test_the_migration_carries_the_members_choice_to_each_membership_and_back(databases, smtpd):
    from alembic.script import ScriptDirectory
    from flask import current_app
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from app import create_app
    from models import reference
    from tests.conftest import app_config

    app = create_app(app_config(databases.create(), smtpd))
    with app.app_context():
        upgrade()
        reference.load()
        fhi = db.session.scalar(select(Organisation).filter_by(short_name="FHI"))  # in NIK and NIFS
        for name in ("Una", "Ola"):
            member = Member(
                organisation=fhi, name=name, email=f"{name}@x.example", manager_email="l@x.example"
            )
            db.session.add(member)
            for code in ("NIK", "NIFS"):
                member.join(network(code))
        db.session.commit()
        db.session.remove()
        config = current_app.extensions["migrate"].migrate.get_config()
        before = ScriptDirectory.from_config(config).get_revision("c3f8a2d61e07").down_revision
        downgrade(revision=before)
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE members SET newsletter_unsubscribed_at = CURRENT_TIMESTAMP WHERE name = 'Una'")
            )
        upgrade()
        rows = db.session.execute(
            select(Member.name, Network.code, Membership.newsletter_unsubscribed_at.is_not(None))
            .join(Membership, Membership.member_id == Member.id)
            .join(Network, Network.id == Membership.network_id)
            .order_by(Member.name, Network.code)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("Ola", "NIFS", False),
            ("Ola", "NIK", False),
            ("Una", "NIFS", True),
            ("Una", "NIK", True),
        ]
        # Stopped from one network only: the downgrade refuses (it would lose that choice).
        db.session.execute(
            text(
                "UPDATE memberships SET newsletter_unsubscribed_at = NULL WHERE member_id = "
                "(SELECT id FROM members WHERE name = 'Una') AND network_id = (SELECT id FROM networks WHERE code = 'NIK')"
            )
        )
        db.session.commit()
        db.session.remove()
        from alembic import command

        with pytest.raises(Exception, match="members who stopped some of their networks' newsletters"):
            command.downgrade(config, before)
        db.session.remove()
        db.engine.dispose()
