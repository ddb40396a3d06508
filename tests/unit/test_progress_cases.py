"""The worked examples of the progress rule (``progress-cases.json``) against the pure engine."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from notes_service.progress.rules import (
    MEASURE_FLAGS,
    GoalSpec,
    PlanSnapshot,
    Point,
    measure_progress,
    plan_progress,
)

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "progress-cases.json"
#: The shared original, next to the repository (``<repo>/../shared``), when present.
SHARED_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "examples" \
    / "progress-cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]

PLAN_START = date(2026, 3, 2)
PLAN_WEEKS = 8


def case_points(case: dict) -> list[Point]:
    """Turn ``[day, pre]`` / ``[day, pre, post]`` rows into points (days from plan start)."""
    return [Point(PLAN_START + timedelta(days=row[0]), row[1], row[2] if len(row) > 2 else None)
            for row in case["points"]]


def case_snapshot(case: dict) -> PlanSnapshot:
    """An active 8-week plan with the case's goal and series."""
    key = (case["measure"], case["side"])
    points = case_points(case)
    return PlanSnapshot(
        plan_id=case["name"], status="active", start_date=PLAN_START,
        end_date=PLAN_START + timedelta(days=PLAN_WEEKS * 7 - 1),
        goals={key: GoalSpec(case["goal"])} if case.get("goal") is not None else {},
        series={key: points}, visit_dates=[p.day for p in points], visits_since_report=0,
    )


def case_today(case: dict) -> date:
    """The day of the case's last visit: no administrative flag is due then."""
    return PLAN_START + timedelta(days=max(row[0] for row in case["points"]))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case):
    result = plan_progress(case_snapshot(case), case_today(case))
    (progress,) = result.measures
    codes = {flag.code for flag in result.flags}
    assert progress.status == case["expected_status"], progress.explanation
    assert set(case["expected_flags"]) <= codes, result.flags
    assert not set(case["forbidden_flags"]) & codes, result.flags
    assert codes <= MEASURE_FLAGS, "no administrative flag is expected on the last visit day"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case_status_does_not_depend_on_visit_order(case):
    points = case_points(case)
    goal = GoalSpec(case["goal"])
    forward = measure_progress(case["measure"], case["side"], points, goal)
    backward = measure_progress(case["measure"], case["side"], points[::-1], goal)
    assert forward == backward
    assert forward.status == case["expected_status"]


def test_every_status_is_covered_by_a_case():
    assert {case["expected_status"] for case in CASES} == {
        "improving", "plateau", "goal_met", "worsening", "insufficient_data"}


def test_copy_matches_the_shared_examples():
    if not SHARED_FILE.exists():
        pytest.skip("the shared examples are not next to this checkout")
    shared = json.loads(SHARED_FILE.read_text(encoding="utf-8"))
    assert json.loads(CASES_FILE.read_text(encoding="utf-8")) == shared, (
        f"tests/data/progress-cases.json drifted from {SHARED_FILE}; copy it again")
