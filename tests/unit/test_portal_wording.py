"""The portal's plain-language wording: goal sentences with hand-computed numbers, and
encouragement that follows the progress engine's status (never a happier story than the data)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from notes_service.catalog import INTERVENTIONS, MEASURES
from notes_service.portal import wording
from notes_service.progress.rules import Point, measure_progress

START = date(2026, 3, 2)


def series(*values, every: int = 7) -> list[Point]:
    """One pre-treatment point every ``every`` days from START."""
    return [Point(START + timedelta(days=i * every), v) for i, v in enumerate(values)]


# --------------------------------------------------------------------------- goal sentences

def test_goal_sentence_of_the_issue():
    # pain 8 at the start, 4 now, goal at most 2: the issue's own example
    assert wording.goal_sentence("pain", None, 2, 8, 4) == (
        "Pain at most 2 out of 10 — you are at 4, down from 8 at the start.")


def test_goal_sentence_higher_is_better_and_side():
    assert wording.goal_sentence("slr", "right", 70, 35, 55) == (
        "Leg raise before symptoms start (right) at least 70° — you are at 55°, up from 35° at "
        "the start.")


def test_goal_sentence_reached_says_so():
    assert wording.goal_sentence("pain", None, 2, 7, 1.5) == (
        "Pain at most 2 out of 10 — you are at 1.5, down from 7 at the start. "
        "You have reached this goal.")


def test_goal_sentence_getting_worse_is_not_dressed_up():
    # 4 → 6 on pain: "up from", and no "reached"
    assert wording.goal_sentence("pain", None, 2, 4, 6) == (
        "Pain at most 2 out of 10 — you are at 6, up from 4 at the start.")


def test_goal_sentence_unchanged_unmeasured_and_measured_once():
    assert wording.goal_sentence("odi", None, 20, 40, 40) == (
        "Back-pain disability score at most 20% — you are at 40%, the same as at the start.")
    assert wording.goal_sentence("lefs", None, 60, None, None) == (
        "Leg function score at least 60 out of 80 — not measured yet.")
    assert wording.goal_sentence("pain", None, 2, 7, 7, measured_once=True) == (
        "Pain at most 2 out of 10 — you were at 7 when it was first measured.")


def test_value_words_per_unit():
    assert wording.value_words(MEASURES["pain"], 4.0) == "4 out of 10"
    assert wording.value_words(MEASURES["lefs"], 52) == "52 out of 80"
    assert wording.value_words(MEASURES["odi"], 34) == "34%"
    assert wording.value_words(MEASURES["hip_ir"], 27.5) == "27.5°"
    assert wording.value_words(MEASURES["pain"], 4.0, bare=True) == "4"


def test_plain_names_drop_the_scale_hint_and_keep_it_separately():
    assert wording.plain_name("pain") == "Pain"
    assert wording.scale_hint("pain") == "0 = no pain, 10 = worst imaginable"
    assert wording.plain_name("lumbar_flexion") == "Bending forward"
    assert wording.scale_hint("lumbar_flexion") is None


def test_condition_in_plain_words():
    assert wording.condition_words("M54.41", "Lumbago with sciatica, right side", "right") == (
        "low back pain with sciatica: back pain together with pain that travels down the "
        "leg, along the sciatic nerve (on your right side)")
    assert wording.condition_words("G57.01", "Lesion of sciatic nerve", None).startswith(
        "irritation of the sciatic nerve")
    # an unknown code keeps the clinic's wording
    assert wording.condition_words("S33.5", "Sprain of lumbar ligaments", "bilateral") == (
        "sprain of lumbar ligaments (on both sides)")


def test_every_intervention_has_plain_words():
    for code in INTERVENTIONS:
        assert wording.intervention_words(code)
    assert wording.intervention_words("nerve_glides").startswith("Nerve glides: gentle")


# --------------------------------------------------------------------------- encouragement

def progress(measure, values, goal=None, side=None, every=7):
    return measure_progress(measure, side, series(*values, every=every), goal)


def test_improving_names_the_real_change():
    # pain 8, 7, 6, 5, 4 once a week: the window is the last 14 days (6, 5, 4): a change of 2
    pain = progress("pain", [8, 7, 6, 5, 4], goal=2)
    assert pain.status == "improving"
    cheer = wording.encouragement([pain], [("pain", None)], "Pat Physio")
    assert cheer.tone == "better"
    assert cheer.lines[0] == "Pain has improved from 8 at the start to 4 out of 10 now."


def test_plateau_is_holding_steady_not_praise():
    pain = progress("pain", [6, 5, 6, 5, 6], goal=2)
    assert pain.status == "plateau"
    cheer = wording.encouragement([pain], [("pain", None)], "Pat Physio")
    assert cheer.tone == "steady" and cheer.title == "Holding steady"
    assert cheer.lines[0] == "Pain has stayed between 5 and 6 out of 10 over your last 3 visits."
    assert "Pat Physio" in cheer.lines[-1]
    assert not any(word in " ".join(cheer.lines).lower() for word in ("great", "well done"))


def test_worsening_prompts_to_tell_the_practitioner():
    pain = progress("pain", [3, 4, 5, 6, 7], goal=2)
    assert pain.status == "worsening"
    slr = progress("slr", [40, 45, 50, 55, 60], goal=70, side="right")
    assert slr.status == "improving"
    cheer = wording.encouragement([pain, slr], [("pain", None), ("slr", "right")], "Pat Physio")
    assert cheer.tone == "worse"  # worse comes first, even with another measure improving
    # the window is the last 14 days (days 14–28): 5 → 7
    assert cheer.lines[0] == "Pain has gone from 5 to 7 out of 10 over the last 2 weeks."
    assert cheer.lines[-1].startswith("Please tell Pat Physio about this")


def test_goals_reached():
    pain = progress("pain", [6, 4, 3, 2, 1], goal=2)
    assert pain.status == "goal_met"
    cheer = wording.encouragement([pain], [("pain", None)], "Pat Physio")
    assert cheer.tone == "reached"


def test_too_early_reports_numbers_without_calling_them_a_trend():
    pain = progress("pain", [8, 6], goal=2)
    assert pain.status == "insufficient_data"
    cheer = wording.encouragement([pain], [("pain", None)], "Pat Physio")
    assert cheer.tone == "early" and cheer.title == "Too early to tell"
    assert cheer.lines[1] == "So far: pain 8 at your first visit, 6 out of 10 at your latest."


def test_without_goals_pain_is_the_key_measure():
    pain = progress("pain", [8, 7, 6, 5, 4])
    flexion = progress("lumbar_flexion", [30, 31, 30, 31, 30])
    cheer = wording.encouragement([pain, flexion], [], "Pat Physio")
    assert cheer.tone == "better"


@pytest.mark.parametrize("values, tone", [
    ([8, 7, 6, 5, 4], "better"), ([6, 5, 6, 5, 6], "steady"), ([3, 4, 5, 6, 7], "worse"),
    ([8, 6], "early"),
])
def test_tone_follows_the_engine_status(values, tone):
    pain = progress("pain", values)
    assert wording.encouragement([pain], [], "P").tone == tone
