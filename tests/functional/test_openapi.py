"""/api/openapi.json: a valid OpenAPI 3 document of every /api/v1 route."""

import re

import pytest

CONVERTER = re.compile(r"<(?:[^<>:]+:)?(\w+)>")


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def resolve(spec, ref):
    assert ref.startswith("#/"), ref
    node = spec
    for part in ref[2:].split("/"):
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_is_an_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http",
                                                               "scheme": "bearer"}


def test_validates_against_the_openapi_schema(spec):
    try:
        from openapi_spec_validator import validate
    except ImportError:  # optional: the structural tests below run regardless
        return
    validate(spec)


def test_every_api_route_is_documented_with_its_methods(app, spec):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = CONVERTER.sub(r"{\1}", rule.rule)
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path].get(method.lower())
            assert operation is not None, (method, path)
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == set(rule.arguments), (method, path)


def test_nothing_documented_that_does_not_exist(app, spec):
    routes = {(CONVERTER.sub(r"{\1}", r.rule), m.lower()) for r in app.url_map.iter_rules()
              for m in r.methods - {"HEAD", "OPTIONS"}}
    for path, operations in spec["paths"].items():
        for method in operations:
            assert (path, method) in routes, (method, path)


def test_every_ref_resolves(spec):
    found = list(refs(spec))
    assert found
    for ref in found:
        resolve(spec, ref)


def test_operations_are_complete(spec):
    operation_ids = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert operation["summary"] and operation["responses"], (method, path)
            if path != "/api/v1/auth/token":
                assert operation["security"] == [{"bearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)
            for code, answer in operation["responses"].items():
                if code.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Errors"}
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                body = resolve(spec, schema["$ref"])
                assert body["additionalProperties"] is False, (method, path)
    assert len(operation_ids) == len(set(operation_ids))


@pytest.mark.parametrize("path, method, body", [
    ("/api/v1/auth/token", "post", "TokenRequest"),
    ("/api/v1/patients", "post", "PatientInput"),
    ("/api/v1/patients/{patient_id}/plans", "post", "PlanInput"),
    ("/api/v1/plans/{plan_id}/visits", "post", "VisitInput"),
    ("/api/v1/visits/{visit_id}/addenda", "post", "AddendumInput"),
])
def test_request_bodies_come_from_the_schemas(spec, path, method, body):
    operation = spec["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{body}"}


def test_patch_bodies_require_only_the_version(spec):
    """PATCH changes only the fields given: the document must not demand the others."""
    for path, operations in spec["paths"].items():
        if "patch" not in operations:
            continue
        schema = operations["patch"]["requestBody"]["content"]["application/json"]["schema"]
        required = set(resolve(spec, schema["$ref"]).get("required", []))
        assert required <= {"version"}, (path, required)


def test_strict_numbers_and_catalog_codes_are_documented(spec):
    schemas = spec["components"]["schemas"]
    measurement = schemas["MeasurementInput"]["properties"]
    assert measurement["value"]["type"] == "number"
    assert set(measurement["side"]["enum"]) >= {"left", "right"}
    assert measurement["phase"]["enum"] == ["pre", "post"]
    plan = schemas["PlanInput"]["properties"]
    assert plan["weeks"]["type"] == "integer"
    assert (plan["weeks"]["minimum"], plan["weeks"]["maximum"]) == (1, 26)
