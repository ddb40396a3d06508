"""The Alembic migrations build exactly the schema the models declare, and downgrade cleanly."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from conftest import app_on
from notes_service.extensions import db


def test_migrations_match_the_models(app):
    """Autogenerate finds nothing to do against the migrated test database (both backends)."""
    with app.app_context():
        context = MigrationContext.configure(db.session.connection(),
                                             opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def _head(application) -> str:
    with application.app_context():
        config = application.extensions["migrate"].migrate.get_config()
        return ScriptDirectory.from_config(config).get_current_head()


def _version_and_tables(application):
    with application.app_context():
        inspector = sa.inspect(db.engine)
        tables = set(inspector.get_table_names())
        version = None
        if "alembic_version" in tables:
            with db.engine.connect() as connection:
                version = connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")).scalar()
    return version, tables - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_database):
    """Every revision's downgrade works: head → base → head leaves the same schema."""
    with app_on(empty_database) as application:
        with application.app_context():
            upgrade()
        version, tables = _version_and_tables(application)
        assert version == _head(application)
        assert tables == set(db.metadata.tables)
        with application.app_context():
            downgrade(revision="base")
        assert _version_and_tables(application) == (None, set())
        with application.app_context():
            upgrade()
        assert _version_and_tables(application) == (version, tables)
