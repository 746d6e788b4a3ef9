"""Configuration from the environment, and a production setup that refuses to be unsafe."""

import pytest

from app import create_app
from config import database_url, from_environment


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": None,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_refuses_to_start_without_its_address(tmp_path):
    with pytest.raises(RuntimeError, match="BASE_URL"):
        create_app(
            {
                "ENV_NAME": "production",
                "SECRET_KEY": "s",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_development_needs_no_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_ENV", "development")
    for name in ("SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/tracker.sqlite"
    assert len(app.config["SECRET_KEY"]) == 64
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]  # kept across restarts
    assert not app.config["PRODUCTION"]


def test_production_cookies_are_secure(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "s",
            "BASE_URL": "https://nettverk.example",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_settings_come_from_the_environment():
    cfg = from_environment(
        {
            "DATABASE_URL": "postgres://u:p@db:5432/tracker",
            "SECRET_KEY": "k",
            "MAIL_SERVER": "smtp.example",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "true",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        }
    )
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/tracker"
    assert (cfg["MAIL_SERVER"], cfg["MAIL_PORT"], cfg["MAIL_USE_TLS"]) == ("smtp.example", 587, True)
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    assert cfg["ENV_NAME"] == "production"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgresql://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg_3(given, expected):
    assert database_url(given) == expected
