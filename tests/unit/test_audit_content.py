"""The hashed text of an audit row never changes: every stored chain is verified against it.
Fixed vectors pin it (a change of format would fail every existing chain's verification)."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from notes_service.audit.chain import GENESIS, content_of, row_hash

ROW = {"at": datetime(2026, 11, 21, 20, 1, 2, 345678), "user_id": 5, "patient_id": 1001,
       "kind": "visit", "action": "list", "object_id": None, "outcome": "ok",
       "ip": "127.0.0.1", "user_agent": "Mozilla/5.0 (Ünïcode)", "request": "GET /patients/1001",
       "detail": "24 notes of patient 1001"}


def test_the_content_of_a_row_is_its_fixed_json_text():
    assert content_of(ROW) == (
        '\n["2026-11-21T20:01:02.345678",5,1001,"visit","list",null,"ok","127.0.0.1",'
        '"Mozilla/5.0 (Ünïcode)","GET /patients/1001","24 notes of patient 1001"]')
    assert row_hash(GENESIS, ROW) == (
        "cb5d8ca0bdba8726124527e45e571a6bc9e18a6861868d37d2d349700907ef0b")


def test_an_aware_time_is_hashed_as_its_utc_wall_time():
    aware = ROW["at"].replace(tzinfo=timezone(timedelta(hours=2))) + timedelta(hours=2)
    assert content_of({**ROW, "at": aware}) == content_of(ROW)
    assert content_of({**ROW, "at": ROW["at"].replace(tzinfo=UTC)}) == content_of(ROW)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_time_is_written_as_strftime_writes_it(moment):
    written = content_of({**ROW, "at": moment})
    assert written.startswith(f'\n["{moment.strftime("%Y-%m-%dT%H:%M:%S.%f")}",')
