"""Flask extensions, created once and attached to the app in ``create_app``."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData

# Every constraint gets a predictable name, so migrations can address it on
# SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))

# The models' base class.  At run time it is ``db.Model``; Flask-SQLAlchemy builds that class
# at run time, so a type checker cannot see it – to the checker it is a SQLAlchemy declarative base,
# which is what ``db.Model`` derives from (``Mapped[...]`` columns, ``__table__``, ``__init__(**kw)``).
if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        pass

else:
    Model = db.Model
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()
mail = Mail()


def client_key() -> str:
    """The client a decorated rate limit counts by: a keyed digest of its address, so the storage
    (Redis) holds no address (``blueprints/auth/limits.py`` keys its budgets the same way)."""
    from models.tokens import fingerprint

    return fingerprint("rate-limit", get_remote_address() or "unknown")


limiter = Limiter(key_func=client_key)
login_manager = LoginManager()
htmx = Htmx()
compress = Compress()
