"""The progress rule (``clinical-reference.md`` §3) and plan flags, with hand-computed numbers."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import pytest

from notes_service.progress.rules import (
    DEFAULT_SETTINGS,
    GoalSpec,
    PlanSnapshot,
    Point,
    measure_progress,
    plan_flags,
    plan_progress,
    resolve_settings,
)

START = date(2026, 3, 2)
END = START + timedelta(days=55)  # an 8-week plan: the last day is 26 Apr 2026
UTC = timezone.utc


def day(offset: int) -> date:
    """The plan day ``offset`` days after the start."""
    return START + timedelta(days=offset)


def rows(*values) -> list[Point]:
    """Points from ``(day, pre)`` or ``(day, pre, post)`` tuples."""
    return [Point(day(r[0]), r[1], r[2] if len(r) > 2 else None) for r in values]


def snapshot(series=None, goals=None, **overrides) -> PlanSnapshot:
    """An active 8-week plan; visits default to the days of the series."""
    series = series or {}
    visit_days = sorted({p.day for points in series.values() for p in points})
    values = dict(plan_id=1, status="active", start_date=START, end_date=END,
                  goals=goals or {}, series=series, visit_dates=visit_days)
    values.update(overrides)
    return PlanSnapshot(**values)


def codes(flags) -> set[str]:
    return {f.code for f in flags}


def only(flags, code):
    (flag,) = [f for f in flags if f.code == code]
    return flag


PAIN_IMPROVING = rows((0, 8), (3, 7), (7, 6), (10, 5), (14, 4), (17, 3))
PAIN_PLATEAU = rows((0, 7), (3, 6), (7, 5), (10, 5), (14, 5), (17, 5))
PAIN_WORSENING = rows((0, 4), (3, 4), (7, 5), (10, 6), (14, 7), (17, 7))
SLR_RELIEF = rows((0, 40, 60), (3, 42, 62), (7, 40, 58), (10, 41, 60), (14, 42, 61),
                  (17, 41, 60))
FLEXION_WORSENING = rows((0, 40), (7, 35), (14, 30))
FLEXION_PLATEAU = rows((0, 40), (7, 42), (14, 43))


# --- the window -------------------------------------------------------------------------


def test_window_is_the_14_days_ending_at_the_latest_point():
    mp = measure_progress("pain", None, PAIN_IMPROVING)
    assert (mp.window_start, mp.window_end) == (day(3), day(17))
    assert (mp.window_points, mp.window_days) == (5, 14)
    assert (mp.window_min, mp.window_max) == (3, 7)
    assert (mp.baseline, mp.latest, mp.change) == (8, 3, 4)  # 7 -> 3: 4 better
    assert mp.status == "improving"


def test_window_includes_the_point_exactly_14_days_before_the_latest():
    # With day 3 left out, days 10-17 would span 7 days: too short to judge.
    mp = measure_progress("pain", None, rows((0, 8), (3, 7), (10, 6), (14, 6), (17, 5)))
    assert mp.window_start == day(3) and mp.window_points == 4
    assert mp.change == 2 and mp.status == "improving"


def test_window_extends_backwards_until_it_holds_three_points():
    # Days 15 and 29 fall in the 14 days; day 1 is added, day 0 is not.
    mp = measure_progress("pain", None, rows((0, 6), (1, 8), (15, 5), (29, 4)))
    assert (mp.window_start, mp.window_points, mp.window_days) == (day(1), 3, 28)
    assert mp.change == 4 and mp.status == "improving"


def test_window_spanning_13_days_is_insufficient_and_14_days_is_judged():
    short = measure_progress("pain", None, rows((0, 8), (7, 6), (13, 4)))
    assert short.status == "insufficient_data"
    assert short.explanation == (
        "Pain now: the last 3 visits span only 13 days (8/10 to 4/10); progress is judged "
        "over at least 14 days.")
    assert measure_progress("pain", None, rows((0, 8), (7, 6), (14, 4))).status == "improving"


def test_fewer_than_three_points_is_insufficient_even_over_a_long_span():
    mp = measure_progress("pain", None, rows((0, 8), (30, 2)))
    assert mp.status == "insufficient_data"
    assert mp.explanation.startswith("Pain now: only 2 visits with a value (8/10, 2/10)")


def test_no_values_at_all():
    mp = measure_progress("odi", None, [])
    assert mp.status == "insufficient_data"
    assert (mp.baseline, mp.latest, mp.change, mp.window_points) == (None, None, None, 0)
    assert mp.explanation == "ODI: no pre-treatment values recorded yet."


def test_retest_without_a_pre_value_is_left_out_of_the_between_visit_series():
    points = rows((0, 8), (7, 7), (14, 6)) + [Point(day(16), None, 3)]
    mp = measure_progress("pain", None, points)
    assert mp.latest == 6 and mp.latest_date == day(14) and mp.status == "improving"
    assert len(mp.points) == 4 and len(mp.series) == 3


def test_a_change_of_exactly_the_threshold_is_real_despite_float_noise():
    assert 4.1 - 2.1 < 2  # what a naive comparison would see
    assert measure_progress("pain", None, rows((0, 4.1), (7, 3.1), (14, 2.1))).status \
        == "improving"


def test_goal_met_comes_first_even_with_one_visit():
    mp = measure_progress("pain", None, rows((0, 2)), GoalSpec(2))
    assert mp.status == "goal_met" and mp.goal_met is True
    assert mp.explanation == "Pain now is 2/10, meeting the goal ≤ 2/10."


def test_goal_met_is_none_without_a_goal():
    assert measure_progress("pain", None, PAIN_IMPROVING).goal_met is None
    assert measure_progress("pain", None, PAIN_IMPROVING, GoalSpec(2)).goal_met is False


def test_higher_is_better_measures():
    up = measure_progress("slr", "left", rows((0, 40), (7, 45), (14, 52)))
    down = measure_progress("slr", "left", rows((0, 52), (7, 45), (14, 40)))
    assert (up.status, up.change) == ("improving", 12)
    assert (down.status, down.change) == ("worsening", -12)
    assert up.label == "Left SLR"


def test_explanations_cite_the_numbers():
    assert measure_progress("pain", None, PAIN_PLATEAU, GoalSpec(2)).explanation == (
        "Pain now has stayed between 5 and 6/10 over the last 5 visits (14 days): a change of "
        "1 point for the better, below the minimal important change of 2 points; "
        "goal ≤ 2/10 not met.")
    assert measure_progress("pain", None, PAIN_IMPROVING, GoalSpec(2)).explanation == (
        "Pain now improved from 7/10 to 3/10 over the last 5 visits (14 days): a change of "
        "4 points for the better, at or above the minimal important change of 2 points; "
        "goal ≤ 2/10 not met yet.")
    assert measure_progress("lumbar_flexion", None, FLEXION_WORSENING).explanation == (
        "Lumbar flexion worsened from 40° to 30° over the last 3 visits (14 days): a change "
        "of 10° for the worse, beyond the minimal important change of 8°.")


# --- within-visit change and retention --------------------------------------------------


def test_within_visit_change_is_the_median_over_the_window_only():
    # Day 0 (a 40° gain) is outside the window; gains in it: 2, 2, 3, 1, 3 -> median 2.
    mp = measure_progress("slr", "left", rows((0, 40, 80), (3, 41, 43), (7, 42, 44),
                                              (10, 41, 44), (14, 42, 43), (17, 41, 44)))
    assert mp.within_visit_change == 2 and mp.within_visit_visits == 5


def test_within_visit_change_in_the_better_direction_with_an_even_count():
    # Pain gains 8->6 (2) and 7->3 (4); the visit without a retest does not count.
    mp = measure_progress("pain", None, rows((0, 8, 6), (7, 7), (14, 7, 3)))
    assert mp.within_visit_change == 3 and mp.within_visit_visits == 2


def test_no_retests_no_within_visit_change_or_retention():
    mp = measure_progress("pain", None, PAIN_IMPROVING)
    assert mp.within_visit_change is None and mp.within_visit_visits == 0
    assert mp.retention is None and mp.retention_pairs == 0


def test_retention_hand_computed():
    # Gains 40->50 (10), 46->49 (3, below half the 10° threshold: left out), 47->55 (8).
    # Kept at the next visit: 40->46 = 6 of 10 (60 %), 47->51 = 4 of 8 (50 %). Median 55 %.
    mp = measure_progress("slr", "left", rows((0, 40, 50), (3, 46, 49), (7, 47, 55),
                                              (10, 51, 60)))
    assert mp.retention == pytest.approx(55) and mp.retention_pairs == 2


def test_retention_of_the_short_lived_relief_case():
    # Kept: 2/20, -2/20, 1/18, 1/19, -1/19 -> median 1/19 = 5.26 %.
    mp = measure_progress("slr", "left", SLR_RELIEF)
    assert mp.retention == pytest.approx(100 / 19) and mp.retention_pairs == 5


def test_retention_for_a_lower_is_better_measure():
    # Pain 8 -> 4 on the table (4 better), 6 at the next visit: 2 of 4 kept.
    assert measure_progress("pain", None, rows((0, 8, 4), (3, 6))).retention == 50


def test_retention_uses_the_whole_plan_not_only_the_window():
    mp = measure_progress("slr", "left", rows((0, 40, 60), (20, 50), (27, 50), (34, 50)))
    assert mp.window_start == day(20)
    assert mp.retention == 50 and mp.retention_pairs == 1


# --- plateau ----------------------------------------------------------------------------


def test_plateau_flag_on_a_goal_measure():
    flags = plan_flags(snapshot({("pain", None): PAIN_PLATEAU}, {("pain", None): GoalSpec(2)}),
                       day(17))
    flag = only(flags, "plateau")
    assert (flag.severity, flag.measure, flag.side) == ("medium", "pain", None)
    assert "between 5 and 6/10" in flag.message and "2 points" in flag.message
    assert flag.message.endswith(
        "Re-assess the plan: modify it, refer, or document a maintenance plan.")


def test_no_plateau_flag_on_a_measure_without_a_goal_when_the_plan_has_goals():
    plan = snapshot({("pain", None): PAIN_IMPROVING, ("lumbar_flexion", None): FLEXION_PLATEAU},
                    {("pain", None): GoalSpec(2)})
    progress = plan_progress(plan, day(17))
    assert progress.measures[1].status == "plateau"
    assert "plateau" not in progress.flag_codes()


def test_pain_stands_in_for_goals_when_the_plan_has_none():
    flags = plan_flags(snapshot({("pain", None): PAIN_PLATEAU}), day(17))
    assert "The plan has no measurable goals yet." in only(flags, "plateau").message
    other = plan_flags(snapshot({("lumbar_flexion", None): FLEXION_PLATEAU}), day(14))
    assert "plateau" not in codes(other)


def test_maintenance_plan_suppresses_plateau_but_not_worsening():
    plan = snapshot({("pain", None): PAIN_PLATEAU, ("lumbar_flexion", None): FLEXION_WORSENING},
                    {("pain", None): GoalSpec(2)}, maintenance=True)
    assert codes(plan_flags(plan, day(17))) == {"worsening"}


def test_goal_met_is_not_a_plateau():
    points = rows((0, 5), (3, 4), (7, 3), (10, 2), (14, 2), (17, 2))
    flags = plan_flags(snapshot({("pain", None): points}, {("pain", None): GoalSpec(2)}), day(17))
    assert flags == []


# --- worsening --------------------------------------------------------------------------


def test_worsening_flag_on_any_tracked_measure():
    plan = snapshot({("pain", None): PAIN_IMPROVING, ("lumbar_flexion", None): FLEXION_WORSENING},
                    {("pain", None): GoalSpec(2)})
    flag = only(plan_flags(plan, day(17)), "worsening")
    assert (flag.severity, flag.measure) == ("high", "lumbar_flexion")
    assert "from 40° to 30°" in flag.message and "10° for the worse" in flag.message
    assert "modify the plan or refer" in flag.message


def test_no_worsening_flag_below_the_threshold():
    flex = rows((0, 40), (7, 36), (14, 33))  # 7° worse, threshold 8°
    assert plan_flags(snapshot({("lumbar_flexion", None): flex}), day(14)) == []


# --- short-lived relief -----------------------------------------------------------------


def test_short_lived_relief():
    plan = snapshot({("slr", "left"): SLR_RELIEF}, {("slr", "left"): GoalSpec(70)})
    flag = only(plan_flags(plan, day(17)), "short_lived_relief")
    assert (flag.severity, flag.measure, flag.side) == ("medium", "slr", "left")
    for number in ("median 19° better", "10°", "42° to 41° over 14 days", "5.3%"):
        assert number in flag.message
    assert "home exercise" in flag.message


def test_short_lived_relief_property_matches_the_flag():
    assert measure_progress("slr", "left", SLR_RELIEF).short_lived_relief is True
    assert measure_progress("pain", None, PAIN_PLATEAU).short_lived_relief is False


def test_no_short_lived_relief_when_the_within_visit_gain_is_below_the_threshold():
    slr = rows((0, 40, 48), (7, 41, 49), (14, 40, 48))  # 8° gains, threshold 10°
    flags = plan_flags(snapshot({("slr", "left"): slr}, {("slr", "left"): GoalSpec(70)}), day(14))
    assert codes(flags) == {"plateau"}


def test_no_short_lived_relief_when_the_gain_carries_over():
    slr = rows((0, 40, 60), (7, 46, 66), (14, 52, 72))
    flags = plan_flags(snapshot({("slr", "left"): slr}, {("slr", "left"): GoalSpec(70)}), day(14))
    assert "short_lived_relief" not in codes(flags)


def test_short_lived_relief_uses_the_clinic_threshold():
    plan = snapshot({("slr", "left"): SLR_RELIEF}, {("slr", "left"): GoalSpec(70)})
    assert codes(plan_flags(plan, day(17), {"slr": 25})) == {"plateau"}


# --- off track --------------------------------------------------------------------------

# 1 point better every 7 days: improving (2 points in 14 days), but from 6/10 on day 42 the
# trend reaches 6 - 13/7 = 4.14 on the last day (day 55), short of a goal of 2.
PAIN_SLOW = rows((28, 8), (31, 7.5), (35, 7), (38, 6.5), (42, 6))


def test_off_track_when_the_trend_misses_the_goal_by_the_plan_end():
    plan = snapshot({("pain", None): PAIN_SLOW}, {("pain", None): GoalSpec(2)})
    progress = plan_progress(plan, day(42))
    (mp,) = progress.measures
    assert mp.status == "improving"
    assert mp.trend_per_day == pytest.approx(-1 / 7)
    assert mp.projected == pytest.approx(6 - 13 / 7) and mp.projected_on == END
    flag = only(progress.flags, "off_track")
    assert flag.severity == "low"
    for text in ("8/10 to 6/10 over 14 days", "about 1 point a week", "about 4.1/10",
                 "26 Apr 2026 (plan end)", "goal ≤ 2/10"):
        assert text in flag.message


def test_off_track_projects_to_the_goal_date_when_there_is_one():
    plan = snapshot({("pain", None): PAIN_SLOW}, {("pain", None): GoalSpec(2, day(49))})
    progress = plan_progress(plan, day(42))
    assert progress.measures[0].projected == pytest.approx(5)
    assert "by 20 Apr 2026 (goal date)" in only(progress.flags, "off_track").message


def test_not_off_track_when_the_trend_reaches_the_goal():
    plan = snapshot({("pain", None): PAIN_IMPROVING}, {("pain", None): GoalSpec(2)})
    progress = plan_progress(plan, day(17))
    assert progress.measures[0].projected == 0  # kept within the 0-10 range
    assert progress.flags == []


def test_not_off_track_without_a_goal():
    assert plan_flags(snapshot({("pain", None): PAIN_SLOW}), day(42)) == []


# --- administrative flags ---------------------------------------------------------------


def test_progress_report_due_at_ten_visits():
    flag = only(plan_flags(snapshot(visits_since_report=10, visit_dates=[day(20)]), day(20)),
                "progress_report_due")
    assert flag.severity == "high" and flag.measure is None
    assert flag.message.startswith("10 visits since the plan started or the last progress")
    assert plan_flags(snapshot(visits_since_report=9, visit_dates=[day(20)]), day(20)) == []


def test_progress_report_interval_is_a_setting():
    plan = snapshot(visits_since_report=10, visit_dates=[day(20)])
    assert plan_flags(plan, day(20), settings={"report_every_visits": 12}) == []


def test_plan_ending_within_seven_days():
    recent = [END - timedelta(days=8)]
    flag = only(plan_flags(snapshot(visit_dates=recent), END - timedelta(days=7)),
                "plan_ending")
    assert flag.message == ("The plan of care ends on 26 Apr 2026, in 7 days. Re-certify, "
                            "extend, or discharge before it ends.")
    assert plan_flags(snapshot(visit_dates=recent), END - timedelta(days=8)) == []
    assert "today" in only(plan_flags(snapshot(visit_dates=recent), END), "plan_ending").message


def test_plan_expired_after_its_last_day():
    flags = plan_flags(snapshot(visit_dates=[END]), END + timedelta(days=1))
    assert codes(flags) == {"plan_expired"}
    assert only(flags, "plan_expired").severity == "high"
    assert "ended on 26 Apr 2026, 1 day ago" in flags[0].message


def test_unsigned_note_after_24_hours():
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    drafts = [(7, now - timedelta(hours=25)), (8, now - timedelta(hours=2)),
              (9, now - timedelta(days=3))]
    flag = only(plan_flags(snapshot(draft_notes=drafts, visit_dates=[day(17)]), now),
                "unsigned_note")
    assert flag.note_ids == (9, 7)
    assert flag.message.startswith("2 draft notes unsigned for more than 24 hours (oldest "
                                   "created 17 Mar 2026, 3 days ago)")
    fresh = [(8, now - timedelta(hours=23))]
    assert plan_flags(snapshot(draft_notes=fresh, visit_dates=[day(17)]), now) == []


def test_unsigned_note_with_a_date_counts_from_the_start_of_that_day():
    created = datetime(2026, 3, 19, 8, 0, tzinfo=UTC)
    plan = snapshot(draft_notes=[(1, created)], visit_dates=[day(17)])
    assert plan_flags(plan, date(2026, 3, 20)) == []  # 16 hours at midnight
    flag = only(plan_flags(plan, date(2026, 3, 21)), "unsigned_note")
    assert "40 hours ago" in flag.message


def test_naive_draft_times_are_utc():
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    plan = snapshot(draft_notes=[(1, datetime(2026, 3, 19, 11, 0))], visit_dates=[day(17)])
    assert codes(plan_flags(plan, now)) == {"unsigned_note"}


def test_no_recent_visit():
    flag = only(plan_flags(snapshot(visit_dates=[day(5)]), day(20)), "no_recent_visit")
    assert flag.message.startswith("No visit for 15 days (last visit 7 Mar 2026).")
    assert plan_flags(snapshot(visit_dates=[day(5)]), day(19)) == []
    assert plan_flags(snapshot(visit_dates=[day(5)]), day(20),
                      settings={"no_visit_days": 20}) == []


def test_no_visit_yet_counts_from_the_plan_start():
    flag = only(plan_flags(snapshot(), day(15)), "no_recent_visit")
    assert flag.message.startswith("No visit since the plan started on 2 Mar 2026, 15 days ago.")
    assert plan_flags(snapshot(), day(14)) == []


def test_inactive_plans_only_get_unsigned_note():
    now = datetime.combine(END + timedelta(days=30), datetime.min.time(), tzinfo=UTC)
    for status in ("on_hold", "discharged", "cancelled"):
        plan = snapshot({("pain", None): PAIN_WORSENING}, visits_since_report=15,
                        status=status, draft_notes=[(3, now - timedelta(days=2))])
        assert codes(plan_flags(plan, now)) == {"unsigned_note"}


# --- plan level -------------------------------------------------------------------------


def test_flags_are_ordered_by_severity():
    plan = snapshot({("pain", None): PAIN_SLOW, ("lumbar_flexion", None): FLEXION_PLATEAU,
                     ("odi", None): rows((28, 40), (35, 45), (42, 52))},
                    {("pain", None): GoalSpec(2), ("lumbar_flexion", None): GoalSpec(50)})
    flags = plan_flags(plan, day(42))
    assert [f.code for f in flags] == ["worsening", "plateau", "off_track"]


def test_measures_come_in_catalog_order_with_sides():
    series = {("slr", "right"): SLR_RELIEF, ("pain", None): PAIN_IMPROVING,
              ("slr", "left"): SLR_RELIEF, ("odi", None): rows((0, 40))}
    progress = plan_progress(snapshot(series), day(17))
    assert [(m.measure, m.side) for m in progress.measures] == [
        ("pain", None), ("odi", None), ("slr", "left"), ("slr", "right")]
    assert progress.plan_id == 1


def test_a_goal_without_a_side_applies_to_both_sides():
    series = {("slr", "left"): SLR_RELIEF, ("slr", "right"): SLR_RELIEF}
    progress = plan_progress(snapshot(series, {("slr", None): GoalSpec(70)}), day(17))
    assert [m.goal_target for m in progress.measures] == [70, 70]
    assert [f.side for f in progress.flags if f.code == "plateau"] == ["left", "right"]


def test_clinic_thresholds_override_the_catalog():
    points = rows((0, 6), (7, 5), (14, 4))  # 2 points better
    assert measure_progress("pain", None, points).status == "improving"
    mp = measure_progress("pain", None, points, thresholds={"pain": 3})
    assert (mp.status, mp.threshold) == ("plateau", 3)
    assert "minimal important change of 3 points" in mp.explanation
    plan = snapshot({("pain", None): points})
    assert codes(plan_flags(plan, day(14), {"pain": 3})) == {"plateau"}


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "2", True])
def test_thresholds_must_be_positive_numbers(bad):
    with pytest.raises(ValueError):
        measure_progress("pain", None, PAIN_IMPROVING, thresholds={"pain": bad})


def test_settings_defaults_and_overrides():
    assert dict(DEFAULT_SETTINGS) == {
        "window_days": 14, "min_points": 3, "report_every_visits": 10,
        "ending_within_days": 7, "unsigned_after_hours": 24, "no_visit_days": 14}
    assert resolve_settings({"window_days": 7}).window_days == 7
    mp = measure_progress("pain", None, PAIN_IMPROVING, settings={"window_days": 7})
    assert (mp.window_start, mp.window_points, mp.change) == (day(10), 3, 2)
    with pytest.raises(ValueError, match="window_dayz"):
        resolve_settings({"window_dayz": 7})
    with pytest.raises(ValueError):
        resolve_settings({"min_points": 1})


def test_snapshot_validation_and_derived_last_visit():
    with pytest.raises(ValueError):
        snapshot(status="open")
    with pytest.raises(ValueError):
        snapshot(end_date=START - timedelta(days=1))
    assert snapshot({("pain", None): PAIN_IMPROVING}, visit_dates=()).last_visit_date == day(17)
    assert snapshot(visit_dates=[day(3), day(9), day(1)]).last_visit_date == day(9)


def test_unknown_measure_codes_are_refused():
    with pytest.raises(ValueError, match="grip"):
        plan_progress(snapshot({("grip", None): PAIN_IMPROVING}), day(17))
