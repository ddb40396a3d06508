"""Schemathesis against /api/openapi.json, in-process (WSGI), as a signed-in practitioner with
a record of their own: no 500s, answers match their documented status codes, content types and
schemas, and invalid input (schemathesis's negative examples) is rejected.

Each operation is fuzzed three ways: any ids (mostly 404s), the fuzzer's own patient, plan and
notes (so the success paths run), and negative examples against those. Operations that revoke
the very token the fuzzer uses are left out here and tested in test_sessions.py.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import Api, ClinicBuilder, make_account

#: Examples per operation and pass: the whole API in about a minute.
MAX_EXAMPLES = 8
EXCLUDED = {"revoke_token", "change_own_password"}
#: What every answer must satisfy. Not ``positive_data_acceptance``: a schema-valid body can
#: still break a rule no schema states (a visit date before the plan starts, a practitioner id
#: that does not exist), and those answer 422 on purpose.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


def _fuzz(operation, headers, mode, path_parameters, failures):
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (collect them all)
        failures.append(f"{operation.label} [{mode.value}, ids={bool(path_parameters)}]: "
                        f"{str(exc)[:1500]}")


def test_api_conforms_to_its_openapi_document(app, client):
    account = make_account(app, "fuzz.pt@example.org", "practitioner")
    clinic = ClinicBuilder(Api(client, account))
    patient, plan = clinic.chart()
    signed = clinic.signed_visit(plan["id"], days_ago=3)
    clinic.visit(plan["id"])
    own = {"patient_id": patient["id"], "plan_id": plan["id"], "visit_id": signed["id"],
           "user_id": account.id}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures, fuzzed = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in EXCLUDED:
            continue
        fuzzed += 1
        names = {p.name for p in operation.path_parameters}
        ids = {name: own[name] for name in names if name in own}
        _fuzz(operation, account.headers, GenerationMode.POSITIVE, None, failures)
        if ids:
            _fuzz(operation, account.headers, GenerationMode.POSITIVE, ids, failures)
        _fuzz(operation, account.headers, GenerationMode.NEGATIVE, ids or None, failures)
    assert fuzzed > 30
    assert failures == [], "\n\n".join(failures)
