"""The report's wording (pure) and the PDF layout (pure): numbers, signs, statuses, pages."""

import io
from datetime import UTC, date, datetime, timedelta

from pypdf import PdfReader

from notes_service.catalog import MEASURES
from notes_service.progress import charts
from notes_service.progress.rules import GoalSpec, Point, measure_progress
from notes_service.reports.document import (
    Chart,
    ReportDocument,
    change_text,
    goal_rows,
    measure_rows,
)
from notes_service.reports.pdf import render_report

START = date(2026, 3, 2)


def series(*pairs, posts=None):
    posts = posts or {}
    return [Point(START + timedelta(days=d), v, posts.get(d)) for d, v in pairs]


def test_change_text_signs_and_direction():
    pain, slr, odi = MEASURES["pain"], MEASURES["slr"], MEASURES["odi"]
    assert change_text(pain, 8, 4) == "−4 points (better)"
    assert change_text(pain, 3, 4) == "+1 point (worse)"
    assert change_text(slr, 35, 60) == "+25° (better)"
    assert change_text(slr, 60, 52.5) == "−7.5° (worse)"
    assert change_text(odi, 40, 40) == "no change"
    assert change_text(odi, None, 40) == "—"


def test_goal_and_measure_rows():
    pain = measure_progress("pain", None, series((0, 8), (4, 7), (7, 6), (11, 5), (14, 4),
                                                 posts={0: 6, 11: 3}), GoalSpec(2))
    slr = measure_progress("slr", "right", series((0, 35), (7, 50), (14, 72)), GoalSpec(70))
    flexion = measure_progress("lumbar_flexion", None, series((0, 30), (7, 31), (14, 32)))
    empty = measure_progress("odi", None, [], GoalSpec(20))
    rows = goal_rows([pain, slr, flexion, empty])
    assert [(r.label, r.baseline, r.current, r.target, r.change, r.minimal_change, r.status)
            for r in rows] == [
        ("Pain now", "8/10", "4/10", "≤ 2/10", "−4 points (better)", "2 points", "Progressing"),
        ("Right SLR", "35°", "72°", "≥ 70°", "+37° (better)", "10°", "Met"),
        ("ODI", "—", "—", "≤ 20%", "—", "10 points", "Too early to judge"),
    ]
    measures = measure_rows([pain, slr, flexion, empty])
    assert [r.label for r in measures] == ["Pain now", "Right SLR", "Lumbar flexion"]
    # Within the visit pain fell by 2 both times; half of it was still there next time.
    assert measures[0].within_visit == "−2, 50% kept"
    assert measures[2].status == "Plateau" and measures[2].change == "+2° (better)"
    assert goal_rows([flexion, pain], maintenance=True)[0].status == "Progressing"
    assert measure_rows([flexion], maintenance=True)[0].status == "Maintained"


def document(**extra) -> ReportDocument:
    pain = measure_progress("pain", None, series((0, 8), (7, 6), (14, 4)), GoalSpec(2))
    png = charts.measure_chart(pain, plan_start=START, plan_end=START + timedelta(days=55),
                               width=700, height=240, dpi=100)
    fields = dict(
        kind="progress", clinic_name="Clínica Ñandú", patient_name="Zoë Ødegård",
        birth_date=date(1980, 5, 1), sex="female", mrn="A-1", diagnosis_code="M54.41",
        diagnosis_text="Lumbago with sciatica, right side", plan_start=START,
        plan_end=START + timedelta(days=55), weeks=8, visits_per_week=2, visits_attended=3,
        visits_planned=16, visits_in_period=3, period_start=START,
        period_end=START + timedelta(days=14), practitioner="Pat Physio, PT",
        assessment="Range of motion 40°–60°; pain ≤ 4/10.", plan_text="Continue.",
        signer="Pat Physio, PT", signed_at=datetime(2026, 3, 16, 17, 5, tzinfo=UTC),
        signed_at_text="16 Mar 2026, 17:05 UTC", goals=goal_rows([pain]),
        measures=measure_rows([pain]), findings=[pain.explanation],
        interventions=[("Active Release Technique", "97140", 3)],
        charts=[Chart("Pain", png, "Pain chart.")])
    return ReportDocument(**{**fields, **extra})


def test_pdf_pages_text_and_unicode():
    data = render_report(document())
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2
    first = reader.pages[0].extract_text()
    for text in ("Clínica Ñandú", "PROGRESS REPORT", "Zoë Ødegård", "1 May 1980 (age 45)",
                 "Pain now 8/10 4/10 ≤ 2/10 −4 points (better) 2 points Progressing",
                 "Range of motion 40°–60°; pain ≤ 4/10.", "3 attended of 16 planned",
                 "Active Release Technique (3 visits, CPT 97140)", "Page 1 of 2"):
        assert text in first, text
    assert len(reader.pages[1].images) == 1
    assert reader.metadata.title.startswith("Progress report — Zoë Ødegård")


def test_pdf_is_reproducible_and_discharge_variant():
    assert render_report(document()) == render_report(document())
    data = render_report(document(kind="discharge", discharge_date=START + timedelta(days=14),
                                  discharge_reason="goals_met", home_programme="Walk daily.",
                                  charts=()), page_format="A4")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "DISCHARGE SUMMARY" in text and "Reason: Goals met" in text
    assert "Home programme" in text and "Walk daily." in text
    assert "REFERRING PHYSICIAN REVIEW" not in text
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(width), round(height)) == (595, 842)  # A4 in points
