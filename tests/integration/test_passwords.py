"""Passwords are stored as slow hashes: scrypt by default, never the password itself."""

import sqlalchemy as sa

from conftest import PASSWORD, make_account
from notes_service import create_app
from notes_service.auth.models import User
from notes_service.extensions import db


def test_production_default_is_scrypt():
    application = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    try:
        assert application.config["PASSWORD_HASH_METHOD"] == "scrypt"
        with application.app_context():
            user = User()
            user.set_password("correct horse battery")
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("correct horse battery")
        assert not user.check_password("Correct horse battery")
    finally:
        with application.app_context():
            db.engine.dispose()


def test_outside_an_app_the_hash_is_scrypt_too():
    user = User()
    user.set_password("correct horse battery")
    assert user.password_hash.startswith("scrypt:")


def test_hashes_are_salted_and_never_the_password(app):
    first, second = User(), User()
    with app.app_context():
        first.set_password(PASSWORD)
        second.set_password(PASSWORD)
    assert first.password_hash != second.password_hash
    for user in (first, second):
        assert PASSWORD not in user.password_hash and user.check_password(PASSWORD)


def test_stored_users_keep_only_the_hash(app, practitioner):
    with app.app_context():
        stored = db.session.execute(sa.select(User.password_hash)
                                    .where(User.id == practitioner.id)).scalar_one()
    assert PASSWORD not in stored and stored.startswith("pbkdf2:sha256:")
    other = make_account(app, "second@example.org", "director")
    with app.app_context():
        assert db.session.get(User, other.id).password_hash != stored
