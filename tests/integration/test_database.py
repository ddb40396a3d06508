"""The database connection settings issue 2 asks for."""

from notes_service.extensions import db


def test_connection_settings(app):
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
        else:
            assert connection.dialect.driver == "psycopg"  # psycopg 3
