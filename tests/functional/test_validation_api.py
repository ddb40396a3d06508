"""Input validation at the API boundary: catalog ranges and sides, dates, strict numbers,
unknown fields, malformed and oversized bodies. Every refusal is ``{"errors": {...}}``."""

import json

import pytest

from conftest import iso_day
from notes_service.catalog import MEASURES


@pytest.fixture
def plan(clinic):
    return clinic.chart(start_days_ago=30)[1]


def post_visit(api, plan, **fields):
    return api.post(f"/api/v1/plans/{plan['id']}/visits",
                    json={"visit_date": iso_day(1), "subjective": "x", **fields})


def errors_of(response, status=422):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert list(body) == ["errors"] and isinstance(body["errors"], dict)
    return body["errors"]


def value_errors(response, index=0):
    return errors_of(response)["measurements"][str(index)]


@pytest.mark.parametrize("value", [-1, 11, 10.5, -0.1, 100])
def test_pain_outside_0_to_10_is_refused(api, plan, value):
    response = post_visit(api, plan, measurements=[{"measure": "pain", "value": value}])
    assert value_errors(response) == {"value": ["Pain now must be between 0 and 10 score."]}


@pytest.mark.parametrize("value", [0, 10, 4.5])
def test_pain_inside_0_to_10_is_kept(api, plan, value):
    response = post_visit(api, plan, measurements=[{"measure": "pain", "value": value}])
    assert response.status_code == 201
    assert response.get_json()["measurements"][0]["value"] == value


def _measurement(code, value):
    side = {"side": "left"} if MEASURES[code].sided else {}
    return {"measure": code, "value": value, **side}


@pytest.mark.parametrize("code", list(MEASURES))
def test_each_measure_is_held_to_its_catalog_range(api, plan, code):
    entry = MEASURES[code]
    for value in (entry.minimum - 1, entry.maximum + 1):
        response = post_visit(api, plan, measurements=[_measurement(code, value)])
        assert list(value_errors(response)) == ["value"], (code, value)
    response = post_visit(api, plan, measurements=[
        _measurement(code, entry.minimum),
        {**_measurement(code, entry.maximum), "phase": "post"}])
    assert response.status_code == 201, response.get_json()
    assert sorted(m["value"] for m in response.get_json()["measurements"]) == [
        entry.minimum, entry.maximum]


@pytest.mark.parametrize("code", list(MEASURES))
def test_goal_targets_are_held_to_the_catalog_range(api, clinic, code):
    entry = MEASURES[code]
    patient = clinic.patient()
    side = {"side": "right"} if entry.sided else {}
    for target, status in ((entry.maximum + 1, 422), (entry.minimum - 1, 422),
                           (entry.maximum, 201)):
        response = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
            "start_date": iso_day(1), "weeks": 6, "visits_per_week": 2,
            "diagnosis_code": "M54.41", "goals": [{"measure": code, "target": target, **side}]})
        assert response.status_code == status, (code, target, response.get_json())
        if status == 422:
            assert "target" in errors_of(response)["goals"]["0"]


def test_unknown_measure_code(api, plan):
    response = post_visit(api, plan, measurements=[{"measure": "grip", "value": 30}])
    assert value_errors(response) == {"measure": ["Unknown measure code 'grip'."]}


@pytest.mark.parametrize("code", [c for c, m in MEASURES.items() if m.sided])
def test_missing_side_on_a_sided_measure(api, plan, code):
    response = post_visit(api, plan, measurements=[{"measure": code, "value": 10}])
    assert list(value_errors(response)) == ["side"]


@pytest.mark.parametrize("code", [c for c, m in MEASURES.items() if not m.sided])
def test_side_on_an_unsided_measure(api, plan, code):
    response = post_visit(api, plan, measurements=[{"measure": code, "side": "left",
                                                    "value": 1}])
    assert list(value_errors(response)) == ["side"]


@pytest.mark.parametrize("measurement, field", [
    ({"measure": "slr", "side": "both", "value": 40}, "side"),
    ({"measure": "slr", "side": "left", "phase": "during", "value": 40}, "phase"),
    ({"measure": "slr", "side": "left"}, "value"),
    ({"side": "left", "value": 40}, "measure"),
    ({"measure": "slr", "side": "left", "value": 40, "unit": "deg"}, "unit"),
])
def test_measurement_fields(api, plan, measurement, field):
    response = post_visit(api, plan, measurements=[{"measure": "pain", "value": 1}, measurement])
    assert field in value_errors(response, 1)


@pytest.mark.parametrize("test, field", [
    ({"test": "slr_test", "result": "positive"}, "side"),
    ({"test": "lasegue", "side": "left", "result": "positive"}, "test"),
    ({"test": "slr_test", "side": "left", "result": "maybe"}, "result"),
    ({"test": "slr_test", "side": "left", "result": "positive", "angle": 130}, "angle"),
    ({"test": "slr_test", "side": "left", "result": "positive", "angle": "45"}, "angle"),
])
def test_special_test_fields(api, plan, test, field):
    response = post_visit(api, plan, special_tests=[test])
    assert field in errors_of(response)["special_tests"]["0"]


@pytest.mark.parametrize("day, message", [
    (31, "before the plan of care starts"),
    (-1, "cannot be in the future"),
])
def test_visit_date_before_the_plan_or_in_the_future(api, plan, day, message):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": iso_day(day)})
    [text] = errors_of(response)["visit_date"]
    assert message in text


def test_visit_date_after_the_plan_ended(api, clinic):
    _, plan = clinic.chart(start_days_ago=60, weeks=2)  # ended 47 days ago
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": iso_day(40)})
    [text] = errors_of(response)["visit_date"]
    assert "ended" in text
    on_last_day = api.post(f"/api/v1/plans/{plan['id']}/visits",
                           json={"visit_date": plan["end_date"]})
    assert on_last_day.status_code == 201


@pytest.mark.parametrize("day", ["2026-02-30", "yesterday", 20260101, None])
def test_visit_date_must_be_a_date(api, plan, day):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", json={"visit_date": day})
    assert "visit_date" in errors_of(response)


def raw_visit(plan, literal: str) -> str:
    """A visit body whose pain value is ``literal`` (a raw JSON token, valid or not)."""
    body = json.dumps({"visit_date": iso_day(1),
                       "measurements": [{"measure": "pain", "value": "@VALUE@"}]})
    return body.replace('"@VALUE@"', literal)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_nan_and_infinity_are_refused(api, plan, literal):
    response = api.post(f"/api/v1/plans/{plan['id']}/visits", data=raw_visit(plan, literal),
                        content_type="application/json")
    assert value_errors(response) == {"value": ["Must be a finite number."]}


@pytest.mark.parametrize("value", ["7", "7.0", True, False, None, [7], {"v": 7}])
def test_numbers_must_be_json_numbers(api, plan, value):
    response = post_visit(api, plan, measurements=[{"measure": "pain", "value": value}])
    assert "value" in value_errors(response)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e999", '"8"', "true", "8.0", "1e1"])
def test_integers_must_be_json_whole_numbers(api, clinic, literal):
    patient = clinic.patient()
    body = json.dumps({"start_date": iso_day(1), "weeks": "@W@", "visits_per_week": 2,
                       "diagnosis_code": "M54.41", "goals": [{"measure": "pain", "target": 2}]})
    response = api.post(f"/api/v1/patients/{patient['id']}/plans",
                        data=body.replace('"@W@"', literal), content_type="application/json")
    assert "weeks" in errors_of(response)


@pytest.mark.parametrize("literal", ["NaN", "true", '"2"', "1e999"])
def test_goal_targets_are_strict_numbers(api, clinic, literal):
    patient = clinic.patient()
    body = json.dumps({"start_date": iso_day(1), "weeks": 6, "visits_per_week": 2,
                       "diagnosis_code": "M54.41",
                       "goals": [{"measure": "pain", "target": "@T@"}]})
    response = api.post(f"/api/v1/patients/{patient['id']}/plans",
                        data=body.replace('"@T@"', literal), content_type="application/json")
    assert "target" in errors_of(response)["goals"]["0"]


@pytest.mark.parametrize("version", [True, "1", 1.0, None])
def test_version_must_be_a_whole_number(api, clinic, plan, version):
    note = clinic.visit(plan["id"])
    response = api.patch(f"/api/v1/visits/{note['id']}", json={"version": version})
    assert "version" in errors_of(response)


@pytest.mark.parametrize("url, body, field", [
    ("/api/v1/patients", {"given_name": "A", "family_name": "B", "birth_date": "1980-01-01",
                          "nickname": "Al"}, "nickname"),
    ("/api/v1/auth/token", {"email": "a@example.org", "password": "x", "otp": "1"}, "otp"),
])
def test_unknown_fields_are_refused(api, url, body, field):
    assert errors_of(api.post(url, json=body))[field] == ["Unknown field."]


def test_unknown_fields_in_visits_and_nested_lists(api, plan, clinic):
    response = post_visit(api, plan, signed=True,
                          measurements=[{"measure": "pain", "value": 1, "note": "x"}])
    errors = errors_of(response)
    assert errors["signed"] == ["Unknown field."]
    assert errors["measurements"]["0"]["note"] == ["Unknown field."]
    note = clinic.visit(plan["id"])
    patched = api.patch(f"/api/v1/visits/{note['id']}", json={"version": 1, "status": "signed"})
    assert errors_of(patched)["status"] == ["Unknown field."]
    plan_patch = api.patch(f"/api/v1/plans/{plan['id']}", json={"patient_id": 7})
    assert errors_of(plan_patch)["patient_id"] == ["Unknown field."]


@pytest.mark.parametrize("data", ['{"given_name": "Ana"', "{'given_name': 'Ana'}", "not json",
                                  '{"a": 1} trailing', "\xff\xfe"])
def test_malformed_json(api, data):
    response = api.post("/api/v1/patients", data=data, content_type="application/json")
    assert errors_of(response) == {"_schema": ["The body must be a JSON object."]}


@pytest.mark.parametrize("data", ["[]", '[{"given_name": "Ana"}]', '"Ana"', "42", "null",
                                  "true"])
def test_body_must_be_a_json_object(api, plan, data):
    for url in ("/api/v1/patients", f"/api/v1/plans/{plan['id']}/visits"):
        response = api.post(url, data=data, content_type="application/json")
        assert errors_of(response) == {"_schema": ["The body must be a JSON object."]}


@pytest.mark.parametrize("data", ["[" * 100_000 + "]" * 100_000,
                                  '{"a": ' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_too_deep_is_refused(api, data):
    response = api.post("/api/v1/patients", data=data, content_type="application/json")
    assert errors_of(response) == {"_schema": ["The body must be a JSON object."]}


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "ok\udfff"])
def test_text_no_database_can_store_is_refused(api, plan, text):
    """NUL fails on PostgreSQL and lone surrogates on both drivers: 422 everywhere instead."""
    patient = api.post("/api/v1/patients", json={
        "given_name": text, "family_name": "B", "birth_date": "1980-01-01"})
    assert list(errors_of(patient)) == ["given_name"]
    if "\x00" in text:  # the test client cannot put a lone surrogate in a URL
        assert "q" in errors_of(api.get("/api/v1/patients", query_string={"q": text}))
    top = errors_of(post_visit(api, plan, subjective=text, interventions=["art", text]))
    assert set(top) == {"subjective", "interventions"}
    nested = errors_of(post_visit(api, plan, measurements=[{"measure": text, "value": 1}]))
    assert "measure" in nested["measurements"]["0"]
    deeper = errors_of(post_visit(api, plan, questionnaires=[
        {"instrument": "psfs", "activities": [{"activity": text, "score": 3}]}]))
    assert "activity" in deeper["questionnaires"]["0"]["activities"]["0"]


def test_json_body_sent_as_another_content_type_is_refused(api):
    response = api.post("/api/v1/patients", data=json.dumps(
        {"given_name": "A", "family_name": "B", "birth_date": "1980-01-01"}),
        content_type="text/plain")
    assert "_schema" in errors_of(response)


@pytest.mark.parametrize("method, url", [
    ("post", "/api/v1/patients"), ("post", "/api/v1/auth/token"),
    ("post", "/api/v1/plans/{plan}/visits"), ("patch", "/api/v1/plans/{plan}"),
])
def test_oversized_bodies_are_413_json(app, api, plan, method, url):
    limit = app.config["MAX_CONTENT_LENGTH"]
    data = json.dumps({"subjective": "x" * (limit + 1)})
    response = getattr(api, method)(url.format(plan=plan["id"]), data=data,
                                    content_type="application/json")
    assert list(errors_of(response, 413)) == ["_request"]


def test_long_texts_under_the_body_limit_are_checked_per_field(api, plan):
    response = post_visit(api, plan, subjective="x" * 20_001)
    assert "subjective" in errors_of(response)


@pytest.mark.parametrize("url", [
    "/api/v1/patients/2147483648", "/api/v1/patients/99999999999999999999999",
    "/api/v1/plans/9223372036854775808", "/api/v1/visits/18446744073709551616",
    "/api/v1/patients/2147483648/plans", "/api/v1/plans/2147483648/visits",
])
def test_ids_too_large_for_the_database_are_404(api, url):
    response = api.get(url)
    assert list(errors_of(response, 404)) == ["_request"]


def test_ids_too_large_in_bodies_are_422(api, clinic, plan):
    for body in ({"user_id": 2**31}, {"user_id": 2**64}, {"user_id": -1}):
        response = api.post(f"/api/v1/patients/{plan['patient_id']}/care-team", json=body)
        assert "user_id" in errors_of(response)
    response = api.patch(f"/api/v1/plans/{plan['id']}", json={"practitioner_id": 2**63})
    assert "practitioner_id" in errors_of(response)


def test_an_intervention_listed_twice_is_refused(api, clinic):
    patient = clinic.patient()
    response = api.post(f"/api/v1/patients/{patient['id']}/plans", json={
        "start_date": iso_day(0), "weeks": 6, "visits_per_week": 2,
        "diagnosis_code": "M54.41", "tracked_measures": [{"measure": "pain"}],
        "planned_interventions": ["art", "education", "art"]})
    assert response.status_code == 422
    assert response.get_json()["errors"]["planned_interventions"] == [
        "Listed more than once: art."]
