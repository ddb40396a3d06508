"""The world the attack suite attacks: a patient record of one practitioner, with every kind
of object, and attackers around it (a practitioner off the team, another patient, a
director), each with an API token and a signed-in browser."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import Api, ClinicBuilder, make_account
from security_support import sign_in

#: Unmistakable text in the victim's record: no answer to an attacker may contain it.
MARKERS = ("Zebulonia", "Quartermaine", "MRN-VICTIM-7731", "SECRET-SUBJECTIVE-4412",
           "SECRET-ADDENDUM-9981")


@dataclass
class World:
    """Ids of the victim's objects and the attackers' clients."""

    ids: dict[str, int]
    api: dict[str, Api]
    web: dict[str, object]
    accounts: dict[str, object] = field(default_factory=dict)


def build_world(app, client) -> World:
    """Create the victim's record through the API, and the attackers."""
    owner = make_account(app, "owner.pt@example.org", "practitioner", name="Owner Physio")
    off_team = make_account(app, "off.team@example.org", "practitioner", name="Off Team")
    director = make_account(app, "boss@example.org", "director", name="Boss Director")
    owner_api = Api(client, owner)
    clinic = ClinicBuilder(owner_api)
    victim = clinic.patient(given_name="Zebulonia", family_name="Quartermaine",
                            mrn="MRN-VICTIM-7731")
    plan = clinic.plan(victim["id"])
    signed = clinic.signed_visit(plan["id"], subjective="SECRET-SUBJECTIVE-4412 signed",
                                 days_ago=3)
    assert owner_api.post(f"/api/v1/visits/{signed['id']}/addenda",
                          json={"text": "SECRET-ADDENDUM-9981"}).status_code == 201
    report = owner_api.post(f"/api/v1/plans/{plan['id']}/reports", json={
        "kind": "progress", "assessment": "SECRET-SUBJECTIVE-4412 report",
        "plan": "Continue."})
    assert report.status_code == 201, report.get_json()
    draft = clinic.visit(plan["id"], subjective="SECRET-SUBJECTIVE-4412 draft")
    other_patient = ClinicBuilder(Api(client, off_team)).patient(given_name="Other",
                                                                 family_name="Person")
    patient_user = make_account(app, "other.person@example.org", "patient",
                                patient_id=other_patient["id"])
    ids = {"patient_id": victim["id"], "plan_id": plan["id"], "visit_id": draft["id"],
           "signed_visit_id": signed["id"], "user_id": owner.id,
           "report_id": report.get_json()["id"]}
    accounts = {"owner": owner, "off_team": off_team, "director": director,
                "patient": patient_user}
    apis = {name: Api(client, account) for name, account in accounts.items()}
    webs = {}
    for name, account in accounts.items():
        browser = app.test_client()
        assert sign_in(browser, account.email).status_code == 302
        webs[name] = browser
    return World(ids, apis, webs, accounts)


@pytest.fixture
def world(app, client, tmp_path, monkeypatch) -> World:
    monkeypatch.setitem(app.config, "PENDING_FORM_DIR", str(tmp_path / "pending"))
    return build_world(app, client)


def leaks(response) -> list[str]:
    """The victim's markers found in an answer."""
    body = response.get_data().decode("utf-8", "replace")
    return [m for m in MARKERS if m in body]


_SAMPLES = {"measure": "pain", "fmt": "png", "name": "change"}


def object_rules(app):
    """Every rule whose URL names an object by id (API and pages), with its methods."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not any(
                arg.endswith("_id") for arg in rule.arguments):
            continue
        if set(rule.arguments) - set(_SAMPLES) - {a for a in rule.arguments
                                                  if a.endswith("_id")}:
            continue  # e.g. a token in the URL: no object id to swap
        yield rule


def build_url(app, rule, ids: dict[str, int], **overrides) -> str:
    values = {}
    for arg in rule.arguments:
        if arg in overrides:
            values[arg] = overrides[arg]
        elif arg.endswith("_id"):
            values[arg] = ids.get(arg, ids["patient_id"])
        else:
            values[arg] = _SAMPLES[arg]
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)
