"""Plain-language wording of the patient portal: pure functions, no Flask, no database.

Patients read these sentences, so they use everyday words and cite their own numbers. The
encouragement follows the progress engine's status of each measure (never a happier story
than the numbers tell): improving, holding steady, getting worse (with a prompt to tell the
practitioner) or too early to tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from notes_service.catalog import HIGHER, INTERVENTIONS, MEASURES, Measure
from notes_service.progress.rules import MeasureProgress

#: What a diagnosis means, by ICD-10-CM code prefix (the longest matching prefix wins).
CONDITION_WORDS = MappingProxyType({
    "M54.3": "sciatica: pain that travels from the lower back or buttock down the leg, along "
             "the sciatic nerve",
    "M54.4": "low back pain with sciatica: back pain together with pain that travels down the "
             "leg, along the sciatic nerve",
    "M54.5": "low back pain",
    "M51.1": "a disc in the lower back irritating a nerve, which causes pain down the leg "
             "(sciatica)",
    "G57.0": "irritation of the sciatic nerve in the buttock or the leg",
    "M99.03": "stiffness and restricted movement of the joints of the lower back",
})

#: Treatments in everyday words; every coded intervention has one.
INTERVENTION_WORDS = MappingProxyType({
    "art": "Active Release Technique: hands-on treatment that frees up tight muscles and "
           "soft tissue",
    "manual_therapy": "Manual therapy: hands-on movement of stiff joints",
    "spinal_manipulation": "Spinal manipulation: a quick, controlled push to free a stiff "
                           "joint of the spine",
    "nerve_glides": "Nerve glides: gentle movements that help the nerve slide freely",
    "dry_needling": "Dry needling: very fine needles that relax tight muscle",
    "cupping": "Cupping: suction cups that lift and loosen soft tissue",
    "instrument_assisted": "Soft-tissue work with a smooth hand-held tool",
    "therapeutic_exercise": "Exercises to build strength and flexibility",
    "neuromuscular_reeducation": "Balance and movement-control exercises",
    "therapeutic_activities": "Practising everyday movements such as lifting and bending",
    "traction": "Traction: gentle stretching of the spine",
    "e_stim": "Electrical stimulation: mild electrical pulses that ease pain",
    "heat_ice": "Heat or ice to ease pain",
    "education": "Advice about your condition and how to look after it",
})
assert set(INTERVENTION_WORDS) == set(INTERVENTIONS), "every intervention needs plain words"

_SIDE_WORDS = {"left": "on your left side", "right": "on your right side",
               "bilateral": "on both sides"}


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an abbreviation ("ACL tear")."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def number_words(value: float) -> str:
    """4.0 → "4", 4.5 → "4.5" (one decimal at most, as values are entered)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def plain_name(code: str, side: str | None = None) -> str:
    """The measure's everyday name, from the catalog's patient-facing label.

    The catalog's ``plain_label`` may end with a scale hint in brackets ("Pain (0 = no pain,
    10 = worst imaginable)"); a sentence uses the name before it.
    """
    m = MEASURES[code]
    name = (m.plain_label or m.short_label).split(" (")[0]
    return f"{name} ({side})" if side else name


def scale_hint(code: str) -> str | None:
    """The scale hint of the catalog's patient-facing label, if any ("0 = no pain, ...")."""
    label = MEASURES[code].plain_label or ""
    return label.split(" (", 1)[1].rstrip(")") if " (" in label else None


def value_words(m: Measure, value: float, *, bare: bool = False) -> str:
    """A value as a patient reads it: "4 out of 10", "60 out of 80", "30%", "45°".

    ``bare`` drops "out of 10" once a sentence has named the scale ("you are at 4").
    """
    text = number_words(value)
    if m.unit in ("score", "points"):
        return text if bare else f"{text} out of {number_words(m.maximum)}"
    return m.format_value(value)


def comparator_words(m: Measure) -> str:
    """"at least" for measures where higher is better, else "at most"."""
    return "at least" if m.better == HIGHER else "at most"


def goal_sentence(code: str, side: str | None, target: float, baseline: float | None,
                  latest: float | None, *, measured_once: bool = False) -> str:
    """The goal and where the patient stands, e.g.
    "Pain at most 2 out of 10 — you are at 4, down from 8 at the start."
    """
    m = MEASURES[code]
    goal = f"{plain_name(code, side)} {comparator_words(m)} {value_words(m, target)}"
    if latest is None:
        return f"{goal} — not measured yet."
    now = value_words(m, latest, bare=True)
    if baseline is None or measured_once:
        where = f"you were at {now} when it was first measured"
    elif latest < baseline:
        where = f"you are at {now}, down from {value_words(m, baseline, bare=True)} at the start"
    elif latest > baseline:
        where = f"you are at {now}, up from {value_words(m, baseline, bare=True)} at the start"
    else:
        where = f"you are at {now}, the same as at the start"
    text = f"{goal} — {where}."
    if m.meets(latest, target):
        text += " You have reached this goal."
    return text


def condition_words(diagnosis_code: str, diagnosis_text: str, side: str | None) -> str:
    """What the plan treats, in everyday words (the clinic's wording when the code is unknown)."""
    code = (diagnosis_code or "").upper()
    matches = [prefix for prefix in CONDITION_WORDS if code.startswith(prefix)]
    words = CONDITION_WORDS[max(matches, key=len)] if matches else _lower_first(diagnosis_text)
    where = _SIDE_WORDS.get(side or "")
    return f"{words} ({where})" if where else words


def intervention_words(code: str) -> str:
    """A treatment in everyday words."""
    return INTERVENTION_WORDS.get(code) or INTERVENTIONS.get(code, (code,))[0]


@dataclass(frozen=True)
class Encouragement:
    """The message about the patient's trend: a tone for styling, a title and sentences."""

    #: ``worse`` (tell your practitioner), ``reached``, ``better``, ``steady`` or ``early``.
    tone: str
    title: str
    lines: tuple[str, ...] = field(default_factory=tuple)


def _window_first(mp: MeasureProgress) -> float | None:
    """The first pre-treatment value in the status window (where the recent trend starts)."""
    for point in mp.series:
        if mp.window_start is not None and point.day >= mp.window_start:
            return point.pre
    return None


def _span_words(start: date | None, end: date | None) -> str:
    if start is None or end is None:
        return "recently"
    days = (end - start).days
    if days >= 7 and days % 7 == 0:
        weeks = days // 7
        return f"over the last {weeks} week{'s' if weeks != 1 else ''}"
    return f"over the last {days} days"


def encouragement(measures: Sequence[MeasureProgress], goal_keys: Sequence[tuple],
                  practitioner: str) -> Encouragement:
    """The encouragement that the engine's statuses support, most important first.

    Key measures are the goals' measures (or pain, or every tracked measure, when the plan has
    no goals). Worsening of *any* tracked measure comes first: the patient should tell their
    practitioner. Then all goals reached, improving, holding steady, and too early to tell.
    """
    by_key = {(mp.measure, mp.side): mp for mp in measures}
    keys = [k for k in goal_keys if k in by_key]
    if not keys:
        keys = [k for k in by_key if k[0] == "pain"] or list(by_key)
    key_measures = [by_key[k] for k in keys]
    worse = [mp for mp in measures if mp.status == "worsening"]
    if worse:
        lines = []
        for mp in worse:
            m = mp.catalog
            start = _window_first(mp)
            name = plain_name(mp.measure, mp.side)
            if start is not None and mp.latest is not None:
                lines.append(f"{name} has gone from {value_words(m, start, bare=True)} to "
                             f"{value_words(m, mp.latest)} "
                             f"{_span_words(mp.window_start, mp.window_end)}.")
            else:
                lines.append(f"{name} has got worse recently.")
        lines.append(f"Please tell {practitioner} about this at your next visit, or call the "
                     "clinic sooner if it keeps getting worse.")
        return Encouragement("worse", "Some things have got worse", tuple(lines))
    goals = [mp for mp in key_measures if mp.goal_target is not None]
    if goals and all(mp.status == "goal_met" for mp in goals):
        return Encouragement("reached", "You have reached your goals", (
            "Your latest measurements meet every goal of your plan: well done.",
            f"{practitioner} will talk with you about what comes next.",
        ))
    improving = [mp for mp in key_measures if mp.status in ("improving", "goal_met")]
    if any(mp.status == "improving" for mp in key_measures):
        lines = []
        for mp in improving:
            m = mp.catalog
            name = plain_name(mp.measure, mp.side)
            if mp.status == "goal_met":
                lines.append(f"{name}: you have reached your goal.")
            elif mp.baseline is not None and mp.latest is not None:
                lines.append(f"{name} has improved from {value_words(m, mp.baseline, bare=True)}"
                             f" at the start to {value_words(m, mp.latest)} now.")
        lines.append("That is a real change, bigger than day-to-day ups and downs. "
                     "Keep going with your home programme.")
        return Encouragement("better", "You are making progress", tuple(lines))
    steady = [mp for mp in key_measures if mp.status == "plateau"]
    if steady:
        lines = []
        for mp in steady:
            m = mp.catalog
            name = plain_name(mp.measure, mp.side)
            if mp.window_min is not None and mp.window_max is not None:
                if mp.window_min == mp.window_max:
                    span = f"stayed at {value_words(m, mp.window_min)}"
                else:
                    span = (f"stayed between {number_words(mp.window_min)} and "
                            f"{value_words(m, mp.window_max)}")
                lines.append(f"{name} has {span} over your last {mp.window_points} visits.")
        lines.append("Progress often comes in steps. Keep up your home programme, and talk "
                     f"with {practitioner} at your next visit about how it is going: they may "
                     "adjust your plan.")
        return Encouragement("steady", "Holding steady", tuple(lines))
    lines = ["We need a few more visits, over at least two weeks, before a trend shows. "
             "This page will tell you how you are doing as your visits are recorded."]
    for mp in key_measures:  # the numbers so far, without calling them a trend
        if len(mp.series) >= 2 and mp.baseline is not None and mp.latest is not None:
            m = mp.catalog
            lines.append(f"So far: {_lower_first(plain_name(mp.measure, mp.side))} "
                         f"{value_words(m, mp.baseline, bare=True)} at your first visit, "
                         f"{value_words(m, mp.latest)} at your latest.")
    return Encouragement("early", "Too early to tell", tuple(lines))
