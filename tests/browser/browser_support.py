"""Fixtures of the browser suite (imported by its test modules).

The app runs in a thread under werkzeug's ``make_server`` against a SQLite file of its own,
migrated with Flask-Migrate and seeded here, with CSRF protection on as in production. None of
these fixtures depends on ``app``, so the rolled-back-transaction isolation of the other suites
stays out of the way. One Chromium (Debian's, never a downloaded one) serves the whole session.

This is not a ``conftest.py`` on purpose: the other suites ``from conftest import ...`` the
top-level one, and a second ``conftest`` module would shadow it. Each test module imports the
fixtures, so pytest sees one session fixture per module: :class:`_Shared` keeps a single live
server and a single Chromium for all of them (two Playwright instances in one thread fail).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "browser tests password"
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


@dataclass
class LiveServer:
    """The running app: its base URL, the Flask app (for checks) and the seeded logins."""

    url: str
    app: object
    practitioner: str
    colleague: str


class _Shared:
    """One instance of a session resource for every module that imports its fixture.

    ``start`` returns ``(value, stop)``; the first user starts it, the last one stops it.
    """

    def __init__(self):
        self.value = None
        self.stop = None
        self.users = 0

    def use(self, start):
        if self.users == 0:
            self.value, self.stop = start()
        self.users += 1
        try:
            yield self.value
        finally:
            self.users -= 1
            if self.users == 0:
                stop, self.value, self.stop = self.stop, None, None
                stop()


_SERVER = _Shared()
_CHROMIUM = _Shared()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app served over HTTP from a thread, on a freshly migrated SQLite file."""
    yield from _SERVER.use(lambda: _start_server(tmp_path_factory))


def _start_server(tmp_path_factory):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from notes_service import create_app
    from notes_service.auth.services import create_user
    from notes_service.extensions import db

    folder = tmp_path_factory.mktemp("browser")
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "browser-tests"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'browser.db'}",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PENDING_FORM_DIR": str(folder / "pending"),
        "CLINIC_NAME": "Riverside Spine & Sports Clinic",
    })
    with app.app_context():
        upgrade()
        for email, name, credentials in (("pat@clinic.test", "Pat Physio", "PT, DPT"),
                                         ("cole@clinic.test", "Cole League", "DC")):
            create_user({"email": email, "name": name, "role": "practitioner",
                         "credentials": credentials, "password": PASSWORD})
        db.session.commit()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()

    return LiveServer(f"http://127.0.0.1:{server.server_port}", app, "pat@clinic.test",
                      "cole@clinic.test"), stop


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    yield from _CHROMIUM.use(_start_chromium)


def _start_chromium():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])

    def stop():
        browser.close()
        playwright.stop()

    return browser, stop


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context (no cookies) at laptop size."""
    context = chromium.new_context(viewport=LAPTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # the "leave with unsaved changes?" prompt
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def sign_in(page, server: LiveServer, email: str | None = None) -> None:
    """Sign in through the form."""
    page.goto(server.url + "/login")
    page.get_by_label("E-mail").fill(email or server.practitioner)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page, name: str, viewport: dict) -> Path:
    """Save a full-page screenshot at ``viewport`` width as a test artifact.

    The viewport is made as tall as the page first, so sticky bars sit at the bottom.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    previous = page.viewport_size
    page.set_viewport_size(viewport)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
    path = SCREENSHOTS / f"{name}-{viewport['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(previous)
    return path


#: Marks for every browser test module. The live server is werkzeug's development server (the
#: product runs under gunicorn): when Chromium aborts a request mid-answer (a favicon, say), that
#: server's thread can leave the static file unclosed, which surfaces as an unraisable-exception
#: warning in whichever test runs next. It says nothing about the product, so the browser suite
#: does not turn it into an error; every other warning still fails a test.
BROWSER_MARKS = [pytest.mark.browser,
                 pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
                 pytest.mark.filterwarnings("ignore::ResourceWarning")]
