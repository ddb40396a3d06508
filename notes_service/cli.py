"""Flask commands: init-db, create-user, seed-demo."""

from __future__ import annotations

import sys

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

    from notes_service.outcomes.cli import register_outcome_commands

    register_outcome_commands(app)
