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


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


class ConfigError(ValueError):
    """A setting whose value the service cannot work with."""


#: The largest number of days a retention setting takes (a century): a date that far back
#: is still a date.
MAX_DAYS = 36_500


def positive_int(name: str, value, maximum: int = MAX_DAYS) -> int:
    """``value`` of the setting ``name`` as a whole number from 1 to ``maximum``.

    Raises :class:`ConfigError` naming the setting otherwise: a retention of 0 days, or a
    typing slip such as ``9O``, must stop the command, not delete everything.
    """
    number = int(value) if isinstance(value, str) and value.strip().isdecimal() else value
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= maximum:
        raise ConfigError(f"{name} must be a whole number from 1 to {maximum} (got {value!r}).")
    return number


def _env_positive_int(name: str, default: int) -> int:
    return positive_int(name, os.environ.get(name) or default)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


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
        #: Hours after writing a pain-diary entry during which the patient may correct or
        #: withdraw it; after that it is locked, since the practitioner may have acted on it.
        PORTAL_DIARY_CHANGE_HOURS=24,
        #: Fsync every read's audit row before answering (else within a second; SECURITY.md).
        AUDIT_READS_DURABLE=_env_flag("AUDIT_READS_DURABLE"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        # --- Sessions (see SECURITY.md) ---
        #: Minutes without activity before a signed-in session ends (HIPAA automatic logoff).
        SESSION_IDLE_MINUTES=_env_int("SESSION_IDLE_MINUTES", 15),
        #: Hours after sign-in when a session ends however active it is.
        SESSION_MAX_HOURS=_env_int("SESSION_MAX_HOURS", 12),
        #: Seconds between two writes of a session's last-seen time.
        SESSION_TOUCH_SECONDS=30,
        # --- Sign-in throttling ---
        #: Failed sign-ins of one account within the window before it answers 429.
        LOGIN_MAX_FAILURES_PER_ACCOUNT=_env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
        #: Failed sign-ins from one address within the window before it answers 429.
        LOGIN_MAX_FAILURES_PER_ADDRESS=_env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20),
        #: Minutes the failures are counted over (and the longest wait a 429 asks for).
        LOGIN_THROTTLE_MINUTES=_env_int("LOGIN_THROTTLE_MINUTES", 15),
        # --- Housekeeping (flask prune-security-records) ---
        #: Days sign-in attempts are kept (never fewer than the throttle still counts).
        LOGIN_ATTEMPT_RETENTION_DAYS=_env_positive_int("LOGIN_ATTEMPT_RETENTION_DAYS", 90),
        #: Days an ended browser session's record is kept after it ended.
        SESSION_RETENTION_DAYS=_env_positive_int("SESSION_RETENTION_DAYS", 90),
        # --- Break-glass access ---
        #: Hours a break-glass grant lets a clinician off the care team read the record.
        BREAK_GLASS_HOURS=_env_int("BREAK_GLASS_HOURS", 4),
        # --- Transport ---
        #: Number of reverse proxies in front of the service whose X-Forwarded-For/-Proto to
        #: trust (0: none; the client address and HTTPS are taken from the connection).
        TRUSTED_PROXY_COUNT=_env_int("TRUSTED_PROXY_COUNT", 0),
        #: max-age of Strict-Transport-Security, sent on HTTPS answers only.
        HSTS_SECONDS=_env_int("HSTS_SECONDS", 31536000),
        # --- Database failures ---
        #: Retry-After (seconds) of the 503 answered while the database is unreachable.
        DATABASE_RETRY_AFTER=_env_int("DATABASE_RETRY_AFTER", 5),
    )
    secret = os.environ.get("SECRET_KEY")
    app.config["SECRET_KEY"] = secret or instance_secret_key(app.instance_path)
    # Secure cookies whenever the service is configured for HTTPS (behind a TLS proxy set
    # TRUSTED_PROXY_COUNT too, so HTTPS is recognised and HSTS sent).
    if _env_flag("SESSION_COOKIE_SECURE") or _env_flag("HTTPS"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
