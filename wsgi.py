"""The WSGI entry point: ``gunicorn wsgi:app``."""

from notes_service import create_app

app = create_app()
