"""Flask commands: init-db, create-user, seed-demo, verify-audit, backup, restore,
prune-security-records."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from marshmallow import ValidationError

from notes_service.extensions import db


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def register_commands(app: Flask) -> None:
    """Attach the commands to ``app.cli``."""

    @app.cli.command("init-db")
    def init_db():
        """Create the schema, or upgrade it to the latest migration."""
        from flask_migrate import upgrade

        upgrade()
        click.echo("Database schema is up to date.")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True,
                  type=click.Choice(["practitioner", "director", "patient"]))
    @click.option("--credentials", default=None, help='Title on signed notes, e.g. "PT, DPT".')
    @click.option("--practices", is_flag=True, help="A director who also treats patients.")
    @click.option("--patient-id", type=int, default=None, help="For a patient user.")
    def create_user_command(email, name, role, credentials, practices, patient_id):
        """Create a user; the password is prompted for, or read from standard input."""
        from notes_service.auth.schemas import UserCreateSchema
        from notes_service.auth.services import create_user

        password = _read_password()
        try:
            data = UserCreateSchema().load({
                "email": email, "name": name, "role": role, "credentials": credentials,
                "practices": practices, "patient_id": patient_id, "password": password})
            user = create_user(data)
        except ValidationError as exc:
            db.session.rollback()
            for field, messages in exc.messages.items():
                click.echo(f"{field}: {' '.join(messages)}", err=True)
            raise SystemExit(1) from None
        db.session.commit()
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when users already exist.")
    def seed_demo_command(if_empty):
        """Fill the database with a realistic demo clinic and print its logins."""
        from notes_service.demo import DEMO_PASSWORD, seed_demo

        from notes_service.demo import demo_logins

        logins = seed_demo(if_empty=if_empty)
        if logins is None:
            logins = demo_logins()
            if not logins:
                click.echo("The database already has users; demo not loaded.")
                return
            click.echo("The demo clinic is already loaded.")
        else:
            click.echo("Demo clinic loaded.")
        click.echo(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for role, email, name in logins:
            click.echo(f"  {role:<13} {email:<28} {name}")

    register_security_commands(app)
    from notes_service.outcomes.cli import register_outcome_commands

    register_outcome_commands(app)


def _head_revision(app: Flask) -> str:
    from alembic.script import ScriptDirectory

    config = app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head()


def register_security_commands(app: Flask) -> None:
    """verify-audit, backup, restore and prune-security-records."""

    @app.cli.command("verify-audit")
    @click.option("--expect-head", default=None,
                  help="The head hash printed by an earlier run: also detects rows deleted "
                       "from the end of the log since then.")
    def verify_audit_command(expect_head):
        """Recompute the audit log's hash chain; exit 1 naming the first row that breaks it."""
        from notes_service.audit.chain import verify_chain

        with db.engine.connect() as connection:
            report = verify_chain(connection)
        if not report.ok:
            row_id, problem = report.first_bad
            click.echo(f"Audit log BROKEN at row {row_id}: {problem}. "
                       f"{report.rows - 1} rows before it are intact.", err=True)
            raise SystemExit(1)
        if expect_head and expect_head != report.head:
            click.echo(f"Audit log chain is intact ({report.rows} rows) but its head is "
                       f"{report.head}, not {expect_head}: rows were removed from the end, or "
                       "the expected head is not from this database.", err=True)
            raise SystemExit(1)
        click.echo(f"Audit log intact: {report.rows} rows, head {report.head}")

    @app.cli.command("prune-security-records")
    @click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
    def prune_security_records_command(dry_run):
        """Delete sign-in attempts and ended browser sessions past their retention (daily)."""
        from notes_service.config import ConfigError
        from notes_service.security.retention import prune_security_records

        try:
            pruned = prune_security_records(dry_run=dry_run)
        except ConfigError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from None
        counts = (f"{pruned.login_attempts} sign-in attempt(s) and {pruned.sessions} ended "
                  "browser session(s)")
        if dry_run:
            click.echo(f"Would delete {counts}; nothing deleted (dry run).")
            return
        db.session.commit()
        click.echo(f"Deleted {counts}.")

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(path):
        """Back up the database to PATH (SQLite online backup, or pg_dump on PostgreSQL)."""
        from notes_service.security.backup import BackupError, backup_sqlite, pg_dump

        url = app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            if url.startswith("sqlite"):
                backup_sqlite(url, path)
            else:
                pg_dump(url, path)
        except BackupError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from None
        click.echo(f"Backed up the database to {path}.")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="Really replace the current data.")
    def restore_command(path, yes):
        """Replace the SQLite database with the backup at PATH (checked first; needs --yes)."""
        from notes_service.security.backup import BackupError, check_sqlite_file, restore_sqlite

        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if not url.startswith("sqlite"):
            click.echo("On PostgreSQL restore with pg_restore while the service is stopped:\n"
                       f"  pg_restore --clean --if-exists --no-owner --dbname=DATABASE {path}",
                       err=True)
            raise SystemExit(2)
        problem = check_sqlite_file(path, _head_revision(app))
        if problem:
            click.echo(f"Refusing to restore {path}: {problem}", err=True)
            raise SystemExit(1)
        if not yes:
            click.echo(f"{path} is a sound backup. Restoring replaces every record in the "
                       "current database; run again with --yes to do it.", err=True)
            raise SystemExit(1)
        db.session.remove()
        db.engine.dispose()  # no pooled connection of this process holds the old pages
        try:
            saved = restore_sqlite(url, path, _head_revision(app))
        except BackupError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from None
        click.echo(f"Restored {path}. The database as it was before is in {saved}.")
