"""Configuration defaults and their environment overrides."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def database_url(raw: str) -> str:
    """Normalise a database URL so PostgreSQL goes through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def instance_secret_key(instance_path: str) -> str:
    """Return a secret key kept in the instance folder, creating it on first use.

    Used only when ``SECRET_KEY`` is not set, so a development server keeps its sessions across
    restarts; production sets ``SECRET_KEY`` in the environment.
    """
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(app) -> None:
    """Fill ``app.config`` with defaults, then environment overrides."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    default_db = "sqlite:///" + str(Path(app.instance_path) / "notes.db")
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=database_url(os.environ.get("DATABASE_URL", default_db)),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        #: Largest request body accepted; larger ones answer 413.
        MAX_CONTENT_LENGTH=1024 * 1024,
        #: Werkzeug hash method for passwords (tests use a cheaper one).
        PASSWORD_HASH_METHOD="scrypt",
        #: Hours an API token stays valid.
        API_TOKEN_HOURS=12,
        #: Clinic name printed on pages and reports.
        CLINIC_NAME=os.environ.get("CLINIC_NAME", "Riverside Spine & Sports Clinic"),
        #: Per-clinic overrides of the catalog's change thresholds: {"pain": 2, ...}.
        PROGRESS_THRESHOLDS={},
        #: Overrides of the progress rule's settings (window_days, report_every_visits, ...).
        PROGRESS_SETTINGS={},
        #: Whether patients see the assessment text of their signed notes.
        PORTAL_SHOWS_ASSESSMENT=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    secret = os.environ.get("SECRET_KEY")
    app.config["SECRET_KEY"] = secret or instance_secret_key(app.instance_path)
    if os.environ.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True
