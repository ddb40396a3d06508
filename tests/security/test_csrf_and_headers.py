"""CSRF-less posts are refused (CSRF on, as in production); every answer carries the security
headers; no template or static file has inline script, event-handler attributes,
``javascript:`` URLs or inline styles (the Content-Security-Policy would block them)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from attack_support import build_url, world  # noqa: F401
from conftest import PASSWORD, make_app
from notes_service import ROOT
from notes_service.extensions import db
from security_support import csrf_token


@pytest.fixture
def csrf_client(database_url, app, world, tmp_path):
    application = make_app(database_url, WTF_CSRF_ENABLED=True,
                           PENDING_FORM_DIR=str(tmp_path / "pending"))
    client = application.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": world.accounts["owner"].email,
                                           "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    yield application, client
    with application.app_context():
        db.engine.dispose()


def _state(app, ids):
    from test_attacks import victim_state

    return victim_state(app, ids)


def test_posts_without_a_csrf_token_are_refused(app, csrf_client, world):
    application, client = csrf_client
    before = _state(app, world.ids)
    tried = 0
    for rule in application.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/") or "token" in rule.arguments:
            continue
        url = build_url(application, rule, world.ids)
        response = client.post(url, data={"subjective": "forged", "reason": "goals_met",
                                           "text": "forged", "version": "1"})
        tried += 1
        if response.status_code == 302:
            # A note form with a bad token is kept for review, never saved (issue 3).
            assert response.headers["Location"].split("?")[0] in (url, url.replace(
                "/merge", "/edit")), url
        else:
            assert response.status_code == 400, (url, response.status_code)
    assert tried >= 10
    assert _state(app, world.ids) == before
    assert client.get("/patients/").status_code == 200  # and still signed in


def test_the_api_ignores_session_cookies(csrf_client, world):
    """A cookie is not a credential for the API: cross-site requests cannot use it."""
    _, client = csrf_client
    assert client.get("/api/v1/patients").status_code == 401
    assert client.post("/api/v1/patients", json={"given_name": "X", "family_name": "Y",
                                                 "birth_date": "1990-01-01"}).status_code == 401


def _header_targets(app, ids):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "token" in rule.arguments or rule.endpoint == "static":
            continue
        yield rule, build_url(app, rule, ids)


def test_every_answer_carries_the_security_headers(app, world):
    checked = 0
    for rule, url in _header_targets(app, world.ids):
        api = rule.rule.startswith("/api/")
        client = world.api["director"] if api else world.web["director"]
        response = client.get(url)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, url
        assert "'unsafe-inline'" not in csp.split("style-src")[0], url  # never for scripts
        assert "'unsafe-eval'" not in csp, url
        assert headers.get("X-Content-Type-Options") == "nosniff", url
        assert headers.get("Referrer-Policy") == "same-origin", url
        assert headers.get("X-Frame-Options") == "DENY", url
        assert "Strict-Transport-Security" not in headers, url  # plain HTTP here
        cache = headers.get("Cache-Control", "")
        if response.mimetype in ("image/png", "image/svg+xml") and "ETag" in headers:
            assert cache == "private, no-cache", url  # revalidated with the server every time
        else:
            assert "no-store" in cache, (url, cache)
        if response.mimetype == "text/html":
            assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        checked += 1
    assert checked > 30
    for response in (world.web["director"].get("/no/such/page"), world.api["owner"].get(
            "/api/v1/visits/999999"), world.web["owner"].get("/login")):
        assert "no-store" in response.headers["Cache-Control"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_static_files_keep_revalidation_and_get_the_headers(client):
    response = client.get("/static/app.js")
    response.close()
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_over_https(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://clinic.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Behind a TLS proxy: believed only when the proxy is configured as trusted.
    forwarded = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forwarded.headers
    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXY_COUNT=1)
    from notes_service.security import register_security  # noqa: F401  (applied in create_app)

    answer = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https",
                                                          "X-Forwarded-For": "203.0.113.5"})
    assert "Strict-Transport-Security" in answer.headers
    with proxied.app_context():
        db.engine.dispose()


class _InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if "src" not in attrs:
                self.problems.append("inline <script>")
            self._in_script = True
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"{name}= attribute on <{tag}>")
            if name == "style":
                self.problems.append(f"style= attribute on <{tag}>")
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in <{tag} {name}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("inline script text")


def test_templates_have_no_inline_script_or_style():
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        text = re.sub(r"{#.*?#}", "", text, flags=re.S)
        finder = _InlineFinder()
        finder.feed(re.sub(r"{[{%].*?[%}]}", "x", text, flags=re.S))
        problems += [f"{path.relative_to(ROOT)}: {p}" for p in finder.problems]
        if re.search(r"\son[a-z]+\s*=", text):
            problems.append(f"{path.relative_to(ROOT)}: on*= handler")
    for path in (ROOT / "notes_service" / "static").glob("*.js"):
        text = path.read_text()
        for pattern in (r"\beval\(", r"new Function\(", r"setAttribute\(\s*['\"]on",
                        r"setAttribute\(\s*['\"]style", r"javascript:", r"\.innerHTML\s*=\s*[^;]*\+"):
            if re.search(pattern, text):
                problems.append(f"{path.name}: {pattern}")
    assert problems == []


def test_rendered_pages_have_no_inline_script_or_style(app, world):
    problems = []
    for rule, url in _header_targets(app, world.ids):
        if rule.rule.startswith("/api/"):
            continue
        for who in ("owner", "director", "patient"):
            response = world.web[who].get(url)
            if response.mimetype != "text/html":
                continue
            finder = _InlineFinder()
            finder.feed(response.get_data(as_text=True))
            problems += [f"{url} as {who}: {p}" for p in finder.problems]
    assert problems == []


def test_static_files_need_no_inline_anything():
    css = (ROOT / "notes_service" / "static" / "app.css").read_text()
    assert "expression(" not in css and "javascript:" not in css


