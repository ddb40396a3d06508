"""Render the example progress charts of this folder.

Run from the repository root: ``.venv/bin/python docs/charts/make_examples.py``.
The data are the worked examples of ``tests/data/progress-cases.json`` (an 8-week plan
starting on Monday 2 March 2026), with retests and a worst/least pain band added for pain.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from notes_service.progress.charts import measure_chart, overview_chart  # noqa: E402
from notes_service.progress.rules import GoalSpec, PlanSnapshot, Point, plan_progress  # noqa: E402

START = date(2026, 3, 2)
END = START + timedelta(days=55)


def rows(*values) -> list[Point]:
    return [Point(START + timedelta(days=r[0]), r[1], r[2] if len(r) > 2 else None)
            for r in values]


SERIES = {
    ("pain", None): rows((0, 8, 6), (3, 7, 5), (7, 6, 4), (10, 5, 4), (14, 4, 3), (17, 3, 2),
                         (21, 3, 2)),
    ("odi", None): rows((0, 48), (14, 44), (28, 42), (42, 41)),
    ("slr", "left"): rows((0, 40, 60), (3, 42, 62), (7, 40, 58), (10, 41, 60), (14, 42, 61),
                          (17, 41, 60)),
    ("lumbar_flexion", None): rows((0, 30, 36), (3, 32, 38), (7, 35, 40), (10, 38, 42),
                                   (14, 40, 44), (17, 43, 46), (21, 44, 47)),
}
GOALS = {("pain", None): GoalSpec(2), ("odi", None): GoalSpec(20),
         ("slr", "left"): GoalSpec(70), ("lumbar_flexion", None): GoalSpec(50)}
BAND = (rows((0, 9), (3, 9), (7, 8), (10, 7), (14, 6), (17, 5), (21, 5)),
        rows((0, 5), (3, 5), (7, 4), (10, 3), (14, 2), (17, 2), (21, 1)))


def main() -> None:
    plan = PlanSnapshot(plan_id=1, status="active", start_date=START, end_date=END,
                        goals=GOALS, series=SERIES)
    progress = {(m.measure, m.side): m for m in plan_progress(plan, START + timedelta(42)).measures}
    span = {"plan_start": START, "plan_end": END}
    charts = {
        "pain-improving.png": measure_chart(progress["pain", None], band=BAND, **span),
        "pain-improving-patient.png": measure_chart(progress["pain", None], band=BAND,
                                                    patient_friendly=True, **span),
        "slr-left-short-lived-relief.png": measure_chart(progress["slr", "left"], **span),
        "odi-plateau.png": measure_chart(progress["odi", None], **span),
        "overview.png": overview_chart(list(progress.values()), **span),
    }
    for name, data in charts.items():
        (HERE / name).write_bytes(data)
        print(HERE / name)


if __name__ == "__main__":
    main()
