"""The floor the pages are measured against: Flask + SQLAlchemy + Jinja rendering the same 50
member rows from the same database, with no layout, sign-in, session or CSRF.

    DATABASE_URL=… gunicorn --worker-class gthread --workers 2 --threads 4 'bench.floor:app'
"""

import os

from flask import Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

from config import database_url

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = database_url(os.environ["DATABASE_URL"])
db = SQLAlchemy(app)

PAGE = """<!doctype html><title>Deltakere</title><table>
{% for row in rows %}<tr><td>{{ row.name }}</td><td>{{ row.organisation }}</td><td>{{ row.unit }}</td>
<td>{{ row.email }}</td></tr>{% endfor %}</table>"""


@app.get("/")
def members():
    rows = db.session.execute(
        text(
            "SELECT m.name, m.email, m.unit, o.name AS organisation FROM members m "
            "JOIN organisations o ON o.id = m.organisation_id ORDER BY m.name_folded, m.id LIMIT 50"
        )
    ).all()
    return render_template_string(PAGE, rows=rows)
