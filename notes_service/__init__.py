"""notes_service: plans of care, SOAP visit notes with test/treat/retest measures and progress."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder="static")
    from notes_service.config import load_config

    load_config(app)
    if test_config:
        app.config.update(test_config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A database file does not drop connections: testing each one before use (a
        # ``SELECT 1`` per request) only guards a server connection (PostgreSQL).
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            key: value for key, value in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items()
            if key != "pool_pre_ping"}
    register_extensions(app)
    register_blueprints(app)
    register_health(app)
    from notes_service.errors import register_error_handlers

    register_error_handlers(app)
    from notes_service.cli import register_commands

    register_commands(app)
    from notes_service.security import register_security

    register_security(app)  # last: it wraps every view registered above
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions and import every model so the metadata is complete."""
    from notes_service import models  # noqa: F401
    from notes_service.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Register the API and the web pages."""
    from notes_service.api import register_api
    from notes_service.outcomes.views import bp as outcomes_pages
    from notes_service.web import register_web

    register_api(app)
    register_web(app)
    app.register_blueprint(outcomes_pages)


def register_health(app: Flask) -> None:
    """Add ``GET /healthz``: no session, no token, no database, for load balancers.

    It is also the benchmarks' floor: the cheapest JSON answer the app can give.
    """

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}
