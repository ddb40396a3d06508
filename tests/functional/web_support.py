"""Helpers and fixtures of the web-page tests (imported by the test_web_* modules): signed-in
test clients of each role and patients with plans of care, arranged through the core services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from conftest import PASSWORD, make_account, make_app
from notes_service.extensions import db

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client, email: str, password: str = PASSWORD, **extra):
    """Post the sign-in form; return the response."""
    return client.post("/login", data={"email": email, "password": password, **extra})


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def pending_dir(app, tmp_path, monkeypatch):
    """Keep notes stashed by expired sessions in the test's own folder."""
    folder = tmp_path / "pending"
    monkeypatch.setitem(app.config, "PENDING_FORM_DIR", str(folder))
    return folder


@pytest.fixture
def web(app, practitioner, pending_dir):
    """A test client signed in as the practitioner."""
    client = app.test_client()
    response = sign_in(client, practitioner.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def other_web(app, other_practitioner, pending_dir):
    """A test client signed in as a practitioner off every care team."""
    client = app.test_client()
    assert sign_in(client, other_practitioner.email).status_code == 302
    return client


@pytest.fixture
def director_web(app, director, pending_dir):
    """A test client signed in as the clinic director."""
    client = app.test_client()
    assert sign_in(client, director.email).status_code == 302
    return client


@dataclass
class Chart:
    """A patient with an active plan of care, by id."""

    patient_id: int
    plan_id: int
    start: date


def user_of(account):
    """The User row of a test account (inside an app context)."""
    from notes_service.auth.models import User

    return db.session.get(User, account.id)


def make_chart(app, account, *, days_ago: int = 20, given: str = "Ana",
               family: str = "Silva", goals=None, tracked=None) -> Chart:
    """Register a patient and start a sciatica plan as ``account`` (through the services)."""
    from notes_service.patients.services import create_patient
    from notes_service.plans.schemas import PlanInputSchema
    from notes_service.plans.services import create_plan

    start = date.today() - timedelta(days=days_ago)
    with app.app_context():
        user = user_of(account)
        patient = create_patient(user, {"given_name": given, "family_name": family,
                                        "birth_date": date(1980, 5, 1), "sex": "female",
                                        "mrn": f"MRN-{given}-{family}"})
        data = PlanInputSchema().load({
            "start_date": start.isoformat(), "weeks": 8, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "side": "right", "body_region": "lumbar",
            "planned_interventions": ["art", "nerve_glides"],
            "tracked_measures": tracked if tracked is not None else [
                {"measure": "pain"}, {"measure": "slr", "side": "right"},
                {"measure": "odi"}],
            "goals": goals if goals is not None else [
                {"measure": "pain", "target": 2},
                {"measure": "slr", "side": "right", "target": 70, "term": "short"}]})
        plan = create_plan(user, patient.id, data)
        db.session.commit()
        return Chart(patient.id, plan.id, start)


def make_note(app, account, plan_id: int, visit_date: date, *, sign: bool = False,
              **fields) -> int:
    """Record a visit note through the services; return its id."""
    from notes_service.access import get_plan
    from notes_service.visits.schemas import VisitInputSchema, VisitSchema
    from notes_service.visits.services import record_visit_note, sign_note

    with app.app_context():
        user = user_of(account)
        plan = get_plan(user, plan_id)
        payload = {"visit_date": visit_date.isoformat(), "subjective": "Leg pain after sitting.",
                   "objective": "SLR right 40°.", "assessment": "Irritable sciatic nerve.",
                   "plan": "ART and nerve glides.", "interventions": ["art"],
                   "home_programme": "Nerve sliders 2×10 daily.",
                   "measurements": [{"measure": "pain", "value": 7},
                                    {"measure": "pain", "phase": "post", "value": 5},
                                    {"measure": "slr", "side": "right", "value": 40}],
                   **fields}
        note = record_visit_note(user, plan.id, VisitInputSchema(plan=plan).load(payload))
        if sign:
            sign_note(user, note.id, None, dump=VisitSchema().dump)
        db.session.commit()
        return note.id


@pytest.fixture
def chart(app, practitioner) -> Chart:
    """A patient of the practitioner with an active 8-week plan that started 20 days ago."""
    return make_chart(app, practitioner)


@pytest.fixture(scope="session")
def csrf_app(database_url, app):
    """The application with CSRF protection on (the other suites switch it off)."""
    application = make_app(database_url, WTF_CSRF_ENABLED=True)
    yield application
    with application.app_context():
        db.engine.dispose()


__all__ = ["Chart", "csrf_token", "make_account", "make_chart", "make_note", "sign_in"]


class _PageChecker:
    """A small structural HTML check: balanced tags, unique ids, labelled controls, one h1,
    heading levels in order, landmarks, and references (label ``for``, ``aria-describedby``)
    that point at elements of the page."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, html: str):
        from html.parser import HTMLParser

        self.problems: list[str] = []
        self.stack: list[str] = []
        self.ids: dict[str, int] = {}
        self.label_for: list[str] = []
        self.described: list[str] = []
        self.controls: list[tuple[str, str | None, bool]] = []
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.template_depth = 0
        self.label_depth = 0
        checker = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                checker.start(tag, dict(attrs))

            def handle_startendtag(self, tag, attrs):
                checker.start(tag, dict(attrs))
                if tag not in checker.VOID:
                    checker.end(tag)

            def handle_endtag(self, tag):
                checker.end(tag)

        if not html.lstrip().lower().startswith("<!doctype html>"):
            self.problems.append("missing <!doctype html>")
        parser = Parser(convert_charrefs=True)
        parser.feed(html)
        parser.close()
        self.finish()

    def start(self, tag, attrs):
        self.tags.append(tag)
        if tag == "html" and not attrs.get("lang"):
            self.problems.append("<html> without lang")
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "template":
            self.template_depth += 1
        if self.template_depth:
            return
        if tag == "label":
            self.label_depth += 1
            if attrs.get("for"):
                self.label_for.append(attrs["for"])
        if "id" in attrs:
            self.ids[attrs["id"]] = self.ids.get(attrs["id"], 0) + 1
        if attrs.get("aria-describedby"):
            self.described += attrs["aria-describedby"].split()
        if tag in ("input", "select", "textarea"):
            kind = attrs.get("type", "text")
            if tag != "input" or kind not in ("hidden", "submit", "button"):
                labelled = bool(attrs.get("aria-label") or attrs.get("aria-labelledby")
                                or self.label_depth)
                self.controls.append((attrs.get("name", "?"), attrs.get("id"), labelled))
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))

    def end(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> does not close <{self.stack[-1] if self.stack else '—'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "template":
            self.template_depth -= 1
        elif tag == "label" and not self.template_depth:
            self.label_depth -= 1

    def finish(self):
        if self.stack:
            self.problems.append(f"unclosed tags: {self.stack}")
        self.problems += [f"duplicate id {i!r}" for i, n in self.ids.items() if n > 1]
        self.problems += [f"label for missing id {i!r}" for i in self.label_for
                          if i not in self.ids]
        self.problems += [f"aria-describedby names missing id {i!r}" for i in self.described
                          if i not in self.ids]
        for name, control_id, labelled in self.controls:
            if not labelled and control_id not in self.label_for:
                self.problems.append(f"control {name!r} has no label")
        if self.headings.count(1) != 1:
            self.problems.append(f"{self.headings.count(1)} h1 elements")
        for before, after in zip(self.headings, self.headings[1:]):
            if after > before + 1:
                self.problems.append(f"heading h{before} followed by h{after}")
        for landmark in ("header", "main", "nav", "footer"):
            if landmark not in self.tags and not (landmark == "nav" and "login" in self.ids):
                self.problems.append(f"no <{landmark}> landmark")


def page_problems(html: str, *, signed_in: bool = True) -> list[str]:
    """Structural and accessibility problems of a page (empty when it passes)."""
    problems = _PageChecker(html).problems
    if not signed_in:
        problems = [p for p in problems if p != "no <nav> landmark"]
    return problems
