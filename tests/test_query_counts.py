"""The key pages run the same small number of SQL statements at 100 and at 10,000 members (no N+1)."""

from sqlalchemy import event

from extensions import db
from models import demo
from tests.conftest import ReferenceRows

LIMIT = 10


def statements_per_page(app):
    client = app.test_client()
    response = client.post(
        "/sign-in",
        data={"email": demo.COORDINATOR, "password": demo.DEMO_PASSWORD},
        headers={"X-CSRFToken": ""},
    )
    assert response.status_code == 303
    counts = {}
    for name, (path, headers) in demo.key_pages().items():
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany, statements=statements):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            response = client.get(path, headers=headers)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(statements)
    return counts


def test_key_pages_take_the_same_few_statements_at_100_and_10000_members(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=False)
    with app.app_context():
        demo.seed(members=100, years=2)
        small = statements_per_page(app)
        db.session.remove()
        ReferenceRows.restore()
        demo.seed(members=10_000, years=2)
        large = statements_per_page(app)
        db.session.remove()
    assert large == small
    assert max(large.values()) <= LIMIT, large
