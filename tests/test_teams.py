"""The Teams workspace roster: who is invited; the rest exported and marked invited in bulk."""

from sqlalchemy import select

from extensions import db
from models import AuditEntry
from tests.conftest import post, sign_in
from tests.helpers import says


def test_the_not_yet_invited_are_exported_and_marked_in_bulk(
    app, client, create_member, create_coordinator, municipality
):
    bergen = municipality("4601")
    kari, ola, per = (create_member(bergen, name=name) for name in ("Kari", "Ola", "Per"))
    lapsed = create_member(bergen, name="Lise", status="lapsed")
    nifs_only = create_member(bergen, name="Nina", networks=())
    coordinator = create_coordinator("NIK")
    sign_in(client, coordinator.email)

    page = client.get("/coordinator/teams/NIK").get_data(as_text=True)
    assert says(page, "3 skal inviteres") and lapsed.email not in page and nifs_only.email not in page
    assert (
        client.get("/coordinator/teams/NIK/to-invite.txt").get_data(as_text=True)
        == f"{kari.email}; {ola.email}; {per.email}\n"
    )

    # Two are chosen; an id of a lapsed member's or another network's membership is ignored.
    chosen = [kari.memberships[0].id, ola.memberships[0].id, lapsed.memberships[0].id]
    response = post(
        client, "/coordinator/teams/NIK/invited", {"membership": chosen}, page="/coordinator/teams/NIK"
    )
    assert response.status_code == 303
    page = client.get("/coordinator/teams/NIK").get_data(as_text=True)
    assert says(page, "2 medlemmer er merket som invitert i Teams.")
    assert says(page, "1 skal inviteres") and says(page, "2 invitert") and f"av {coordinator.name}" in page
    assert client.get("/coordinator/teams/NIK/to-invite.txt").get_data(as_text=True) == f"{per.email}\n"

    # Marking again changes nothing; a new active member appears as "to invite".
    assert (
        post(
            client, "/coordinator/teams/NIK/invited", {"membership": chosen}, page="/coordinator/teams/NIK"
        ).status_code
        == 303
    )
    create_member(bergen, name="Ny")
    page = client.get("/coordinator/teams/NIK").get_data(as_text=True)
    assert says(page, "2 skal inviteres")
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "teams.invited")).all()
    assert [e.after for e in entries] == [{"invited": 2}]


def test_another_networks_coordinator_cannot_mark_nik(
    client, create_member, create_coordinator, municipality
):
    kari = create_member(municipality("4601"))
    sign_in(client, create_coordinator("NIFS").email)
    response = post(
        client, "/coordinator/teams/NIK/invited", {"membership": [kari.memberships[0].id]}, page="/"
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert kari.memberships[0].teams_invited_at is None
