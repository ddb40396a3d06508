"""``GET /healthz``: for load balancers, and the benchmarks' trivial route."""

from sqlalchemy import event

from notes_service.extensions import db


def test_healthz_answers_without_a_session_token_or_query(app, client):
    statements = []
    with app.app_context():
        engine = db.engine

    def seen(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert statements == []
