"""The authorisation matrix: every (endpoint, method) of the URL map × every persona, the expected
outcome read from the policy table (``models/policy.py``), each cell asserting the effect.

``MATRIX`` maps each (endpoint, method) to the policy action the view asks for, a URL in the
world below, the kind of scope its object has (``none``, ``network``: NIK; ``place``: Bergen in
NIK), the persona that owns the object, and a valid form.  ``PERSONA_ROLES`` says which policy
roles each persona holds towards each kind of scope (checked against ``policy.roles_of`` in
``test_the_personas_hold_the_roles_the_matrix_says``).  A cell is then:

- allowed (``POLICY[action]`` admits the persona's roles): the success status; a GET changes no
  row; the first allowed POST with ``changes`` changes some row;
- refused: the sign-in page for the anonymous, 403 for anyone signed in, and no row of any
  table changed (every table of the metadata, dumped before and after).

A route or method of the URL map without a row, an action without a rule, or a persona without
roles fails ``test_every_route_method_and_persona_is_in_the_matrix``.
"""

from contextlib import contextmanager

from sqlalchemy import event, select

from extensions import db
from models import Organisation, outbox, policy, tokens
from models.policy import (
    OWNER,
    PENDING_ANCHORING,
    POLICY,
    SIGNED_IN,
)
from tests.matrix import (
    ALLOWED_ORDER,
    ANY,
    CANNOT_SIGN_IN,
    GET,
    INSIDE_PAGES,
    MATRIX,
    PERSONA_ROLES,
    PERSONAS,
    World,
    allowed,
    client_of,
    expected,
)

IGNORED_TABLES = {"form_submissions"}  # the double-submit bookkeeping; and any session store


def snapshot():
    """Every row of every table (but bookkeeping), as sorted text: a refused request may change none."""
    db.session.expire_all()
    rows = {}
    for table in db.metadata.sorted_tables:
        if table.name in IGNORED_TABLES or "session" in table.name:
            continue
        rows[table.name] = sorted(repr(tuple(row)) for row in db.session.execute(table.select()))
    db.session.rollback()
    return rows


def changed(before, after):
    return sorted(name for name in before if before[name] != after.get(name))


@contextmanager
def writes():
    """The statements that write to a table (but bookkeeping) run inside: cheaper than a snapshot per
    request, and stricter – a refused request runs none.  The snapshots around a run of requests
    confirm it."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        words = statement.split(None, 3)
        if words and words[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            target = (words[2] if words[0].upper() != "UPDATE" else words[1]).strip('"').lower()
            if target not in IGNORED_TABLES and "session" not in target:
                statements.append(statement.split("\n")[0][:80])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def is_login(response):
    return response.status_code == 302 and response.headers["Location"].startswith("/sign-in?next=")


def outcome_is(response, want):
    if want == "login":
        return is_login(response)
    if want == 403:
        return response.status_code == 403
    if response.status_code >= 500 or response.status_code == 403 or is_login(response):
        return False
    if want is ANY:
        return True
    return response.status_code in (want if isinstance(want, tuple) else (want,))


def post_as(client_and_token, url, data):
    client, token = client_and_token
    return client.post(url, data={**data, "csrf_token": token})


def fill(values, ids):
    return {k: v.format(**ids) if isinstance(v, str) else v for k, v in (values or {}).items()}


# -- the tests ------------------------------------------------------------------------------------------


def test_every_route_method_and_persona_is_in_the_matrix(app):
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - set(MATRIX) == set(), "routes without a row"
    assert set(MATRIX) - routes == set(), "rows without a route"
    assert {row.action for row in MATRIX.values()} <= set(POLICY), "actions without a rule"
    assert set(POLICY) - INSIDE_PAGES <= {row.action for row in MATRIX.values()}, "rules no route asks for"
    assert set(PERSONA_ROLES) == set(PERSONAS) == set(ALLOWED_ORDER)
    held = {role for kinds in PERSONA_ROLES.values() for roles in kinds.values() for role in roles} | {OWNER}
    named = {role for rule in POLICY.values() for role in rule.who | rule.but_not}
    assert named <= held, "a role of the policy that no persona holds"


def test_the_personas_hold_the_roles_the_matrix_says(app, world):
    """The test's declaration of each persona's roles is what the policy computes for them."""
    from models import Network

    people, _ids = world
    nik = db.session.scalar(select(Network).filter_by(code="NIK"))
    bergen = db.session.get(Organisation, _ids["bergen"])
    scopes = {"none": None, "network": nik, "place": policy.Place(bergen, nik)}
    for persona, kinds in PERSONA_ROLES.items():
        if persona in CANNOT_SIGN_IN:
            continue
        for kind, roles in kinds.items():
            assert policy.roles_of(people[persona], scopes[kind]) == roles, (persona, kind)
    assert policy.roles_of(people["pending_anchoring"], db.session.get(Organisation, _ids["bergen"])) == {
        SIGNED_IN,
        PENDING_ANCHORING,
    }


def test_every_page_answers_each_persona_as_the_policy_says(app, world):
    """GET changes nothing, so one world and one signed-in client per persona serve every page."""
    _people, ids = world
    clients = {persona: client_of(app, persona)[0] for persona in PERSONAS}
    before = snapshot()
    wrong = []
    for (endpoint, method), row in sorted(MATRIX.items()):
        if method != "GET":
            continue
        for persona in PERSONAS:
            want = expected(persona, row)
            with writes() as written:
                response = clients[persona].get(row.url.format(**ids))
            if not outcome_is(response, want):
                wrong.append((endpoint, persona, want, response.status_code))
            elif written:
                wrong.append((endpoint, persona, "wrote", written))
    assert wrong == [], "(endpoint, persona, expected, got)"
    assert changed(before, snapshot()) == []


def test_every_form_answers_each_persona_as_the_policy_says(app, world):
    """Each POST in the world as it was built (put back before each): without a CSRF token it is
    refused and changes nothing; then the refused personas take their turns and change nothing;
    then the allowed, the one the action is made for first, whose request has its effect.  One
    test for all, so the world and the sign-ins are made once (each failure names its endpoint)."""
    wrong = []
    for endpoint in sorted(e for e, m in MATRIX if m == "POST"):
        if endpoint != sorted(e for e, m in MATRIX if m == "POST")[0]:
            World.restore()
        wrong += [(endpoint, *failure) for failure in post_cells(app, endpoint)]
    assert wrong == [], "(endpoint, persona, expected, got)"


def post_cells(app, endpoint):
    """The failures of one endpoint's POST cells, as (persona, expected, got)."""
    row, ids = MATRIX[(endpoint, "POST")], World.ids
    url, data = row.url.format(**ids), fill(row.data, ids)
    refused = [p for p in PERSONAS if not allowed(p, row)]
    admitted = sorted(
        (p for p in PERSONAS if allowed(p, row)), key=lambda p: (p != row.first, ALLOWED_ORDER.index(p))
    )
    clients = {persona: client_of(app, persona) for persona in PERSONAS}
    wrong = []
    before = snapshot()
    with writes() as written:
        response = clients["coordinator"][0].post(url, data=data)  # no CSRF token
    if response.status_code != 400 or written:
        wrong.append(("coordinator", "400 without a CSRF token, nothing written", response.status_code))
    for persona in refused:
        with writes() as written:
            response = post_as(clients[persona], url, data)
        if not outcome_is(response, expected(persona, row)):
            wrong.append((persona, expected(persona, row), response.status_code))
        elif written:
            wrong.append((persona, "refused but wrote", written))
    if changed(before, after := snapshot()):
        wrong.append(("refused", "no row changed", changed(before, after)))
    for turn, persona in enumerate(admitted):
        response = post_as(clients[persona], url, data)
        # The first allowed gets the row's answer; the later ones are let through (their form may
        # still refuse them: a network they do not coordinate is no choice of theirs).
        if not outcome_is(response, expected(persona, row) if turn == 0 else ANY):
            wrong.append((persona, expected(persona, row), response.status_code))
        elif turn == 0 and row.changes and not changed(before, snapshot()):
            wrong.append((persona, "allowed but changed nothing", response.status_code))
    return wrong


def test_tokens_cannot_be_forged_with_another_key(app, world):
    _, ids = world
    app.config["SECRET_KEY"] = "another key"
    forged = tokens.make("anchoring", anchoring=ids["anchoring"])
    app.config["SECRET_KEY"] = "test-secret"
    assert app.test_client().get(f"/anchoring/{forged}").status_code == 400


# -- what the pages show: scoped to the viewer ----------------------------------------------------------


def page_of(app, persona, url):
    client, _token = client_of(app, persona)
    response = client.get(url)
    assert response.status_code == 200, (persona, url, response.status_code)
    return response.get_data(as_text=True)


def test_the_outbox_shows_and_sends_again_only_the_mail_of_the_coordinators_networks(app, world):
    """A coordinator of NIFS and NONEMI alone saw every network's mail and could send any again."""
    people, _ids = world
    other_network = people["owner"].email  # the failed mail of the world goes to a member of NIK
    nobodys = outbox.queue(
        "ukjent@example.org",
        "Tilbakestill passordet",
        "reset_password",
        member=people["coordinator"],
        url="http://x/",
    )
    db.session.commit()
    assert other_network not in page_of(app, "coordinator_elsewhere", "/coordinator/outbox")
    mine = page_of(app, "coordinator", "/coordinator/outbox")
    assert other_network in mine and "ukjent@example.org" not in mine  # mail concerning no network: nobody's
    assert "ukjent@example.org" not in page_of(app, "coordinator_elsewhere", "/coordinator/outbox")
    assert not policy.allows(people["coordinator"], "outbox.retry", nobodys)


def test_the_audit_log_shows_only_the_coordinators_networks(app, world):
    people, _ids = world
    owner = people["owner"]
    url = f"/coordinator/audit?member={owner.id}"
    assert owner.name in page_of(app, "coordinator", url)
    assert owner.name not in page_of(app, "coordinator_elsewhere", url)
    assert "NIK" not in [
        c[0] for c in page_choices(page_of(app, "coordinator_elsewhere", "/coordinator/audit"))
    ]


def page_choices(body):
    import re

    return re.findall(r'<option value="([A-Z]+)"', body)


def test_a_member_not_yet_confirmed_sees_no_colleague(app, world):
    """The municipality page lists colleagues' names and addresses to active members and the
    network's coordinators; a member whose line manager has not confirmed them sees their own row."""
    people, ids = world
    colleague = people["member"]
    waiting = page_of(app, "pending_anchoring", f"/municipality/{ids['bergen']}")
    assert colleague.email not in waiting and colleague.name not in waiting
    assert people["main_contact"].email not in waiting
    assert people["pending_anchoring"].name in waiting
    for persona in ("member", "coordinator"):
        assert colleague.email in page_of(app, persona, f"/municipality/{ids['bergen']}")


def test_a_sent_issue_is_read_by_the_members_of_its_networks(app, world):
    from models import Newsletter
    from models import newsletter as newsletters

    people, ids = world
    newsletters.send(db.session.get(Newsletter, ids["newsletter"]), people["coordinator"])
    db.session.commit()
    row = GET("newsletter.read", "/newsletter/{newsletter}", "network")
    wrong = []
    for persona in PERSONAS:
        response = client_of(app, persona)[0].get(row.url.format(**ids))
        if not outcome_is(response, expected(persona, row)):
            wrong.append((persona, expected(persona, row), response.status_code))
    assert wrong == []
