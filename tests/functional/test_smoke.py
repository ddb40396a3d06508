def test_openapi_document_lists_routes(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/plans/{plan_id}/visits" in spec["paths"]
