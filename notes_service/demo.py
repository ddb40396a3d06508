"""A realistic demo clinic: practitioners, a director, and sciatica patients whose plans of care
improve, plateau, worsen, relapse or give relief that does not last.

Dates are laid out relative to today, so the demo always looks current.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from notes_service.auth.models import User
from notes_service.clock import clinic_today
from notes_service.extensions import db
from notes_service.patients.models import Patient
from notes_service.plans.models import Goal, PlanOfCare
from notes_service.visits.models import Addendum, Measurement, QuestionnaireResponse, VisitNote

DEMO_PASSWORD = "demo-clinic-2026"

#: Visit days within each week of a twice-weekly plan (Monday and Thursday).
TWICE_WEEKLY = (0, 3)


@dataclass(frozen=True)
class Course:
    """How one patient's plan goes: pain before treatment per visit, and how much a visit helps."""

    name: str
    pain: tuple[float, ...]
    #: Pain relief within a visit (pre − post), per visit.
    relief: float
    #: Straight-leg raise on the affected side, before treatment, per visit.
    slr: tuple[float, ...]
    slr_gain: float
    days_ago_started: int
    goal_pain: float = 2
    goal_slr: float = 70
    drafts: int = 1
    discharged: str | None = None


def _ramp(start: float, end: float, n: int) -> tuple[float, ...]:
    return tuple(round(start + (end - start) * i / max(n - 1, 1)) for i in range(n))


COURSES = (
    Course("improving", _ramp(8, 3, 10), 2, _ramp(35, 62, 10), 8, 33),
    Course("plateau", (7, 6, 5, 5, 5, 6, 5, 5, 5, 5), 1, (45, 48, 50, 50, 51, 50, 50, 51, 50, 50),
           3, 33),
    Course("worsening", (4, 4, 5, 5, 6, 7, 7, 7), 1, (55, 55, 52, 50, 46, 42, 40, 40), 2, 26),
    Course("relapse", (8, 7, 5, 4, 3, 3, 4, 5, 6, 6), 2, (40, 45, 52, 58, 62, 60, 55, 50, 48, 47),
           6, 33),
    Course("short-lived relief", (6, 6, 6, 6, 6, 6, 6, 6), 3, (40, 42, 40, 41, 42, 41, 40, 41),
           20, 26),
    Course("goal met", (6, 5, 4, 3, 2, 2, 1, 1), 2, _ramp(50, 75, 8), 6, 26, drafts=0),
    Course("new patient", (7, 7), 2, (38, 40), 8, 4),
    Course("ending soon", _ramp(7, 3, 14), 2, _ramp(42, 66, 14), 6, 51),
    Course("discharged", _ramp(7, 1, 16), 2, _ramp(45, 78, 16), 6, 70, drafts=0,
           discharged="goals_met"),
)

PATIENTS = (
    ("Maria", "Gonzalez", "1979-04-12", "female", "right"),
    ("David", "Okafor", "1968-09-30", "male", "left"),
    ("Priya", "Natarajan", "1985-01-22", "female", "right"),
    ("Tom", "Becker", "1972-06-03", "male", "left"),
    ("Linda", "Kowalski", "1961-11-17", "female", "left"),
    ("James", "Whitfield", "1990-02-08", "male", "right"),
    ("Aisha", "Rahman", "1983-07-25", "female", "right"),
    ("Robert", "Lindqvist", "1957-03-14", "male", "left"),
    ("Chloe", "Martin", "1994-12-01", "female", "right"),
)

STAFF = (
    ("director", "director@demo.clinic", "Dr. Helen Park", "PT, DPT, Clinic Director"),
    ("practitioner", "sam@demo.clinic", "Sam Rivera", "PT, DPT"),
    ("practitioner", "alex@demo.clinic", "Dr. Alex Chen", "DC"),
    ("practitioner", "jordan@demo.clinic", "Jordan Lee", "LMT, ART provider"),
)

SUBJECTIVE = {
    "better": "Reports the leg pain is easing; sat through a work meeting with less tingling "
              "down the {side} leg. Sleeping better.",
    "same": "Reports little change since last visit; pain still spreads into the {side} "
            "buttock and calf after sitting 20 minutes.",
    "worse": "Reports the pain is worse after a long drive; more numbness in the {side} foot "
             "this week.",
}


def _day_offsets(count: int) -> list[int]:
    return [week * 7 + day for week in range(26) for day in TWICE_WEEKLY][:count]


def _odi_items(pain: float, rng: random.Random) -> list[int]:
    """Ten ODI items whose score follows pain (about pain × 6 %)."""
    total = max(0, min(50, round(pain * 3 + rng.uniform(-2, 2))))
    items = [total // 10] * 10
    for i in range(total % 10):
        items[i] += 1
    return [min(5, v) for v in items]


def demo_logins() -> list[tuple[str, str, str]]:
    """The demo clinic's logins present in the database (role, e-mail, name)."""
    emails = [email for _, email, _, _ in STAFF] + ["patient@demo.clinic"]
    users = db.session.execute(select(User).where(User.email.in_(emails))).scalars()
    order = {email: i for i, email in enumerate(emails)}
    return [(u.role, u.email, u.name) for u in sorted(users, key=lambda u: order[u.email])]


def seed_demo(if_empty: bool = False) -> list[tuple[str, str, str]] | None:
    """Create the demo clinic; return the logins (role, e-mail, name) or None if skipped."""
    if if_empty and db.session.execute(select(func.count(User.id))).scalar():
        return None
    rng = random.Random(2026)
    today = clinic_today()
    staff = []
    for role, email, name, credentials in STAFF:
        user = User(email=email, name=name, role=role, credentials=credentials,
                    practices=role == "director")
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        staff.append(user)
    clinicians = staff[1:]
    logins = [(u.role, u.email, u.name) for u in staff]
    portal_user = None
    for index, ((given, family, born, sex, side), course) in enumerate(zip(PATIENTS, COURSES)):
        owner = clinicians[index % len(clinicians)]
        patient = Patient(given_name=given, family_name=family,
                          birth_date=datetime.strptime(born, "%Y-%m-%d").date(), sex=sex,
                          mrn=f"RSC-{10231 + index * 37}", phone=f"555-01{index:02d}",
                          care_team=[owner, staff[0]] if index % 3 == 0 else [owner])
        db.session.add(patient)
        start = today - timedelta(days=course.days_ago_started)
        code = {"right": "M54.41", "left": "M54.42"}[side]
        other = "left" if side == "right" else "right"
        plan = PlanOfCare(
            patient=patient, practitioner=owner, diagnosis_code=code,
            diagnosis_text=f"Lumbago with sciatica, {side} side", body_region="lumbar",
            side=side, start_date=start, weeks=8, visits_per_week=2,
            planned_interventions=["art", "nerve_glides", "therapeutic_exercise", "education"],
            tracked_measures=[{"measure": "pain", "side": None},
                              {"measure": "pain_worst", "side": None},
                              {"measure": "pain_best", "side": None},
                              {"measure": "odi", "side": None},
                              {"measure": "slr", "side": side},
                              {"measure": "slr", "side": other},
                              {"measure": "lumbar_flexion", "side": None}],
        )
        plan.goals = [
            Goal(measure="pain", target=course.goal_pain, term="long",
                 description="Sit through a 1-hour drive with pain at most 2/10"),
            Goal(measure="slr", side=side, target=course.goal_slr, term="short",
                 target_date=start + timedelta(days=27)),
            Goal(measure="odi", target=20, term="long"),
        ]
        db.session.add(plan)
        db.session.flush()
        offsets = [d for d in _day_offsets(len(course.pain)) if start + timedelta(d) <= today]
        for visit_index, offset in enumerate(offsets):
            is_draft = visit_index >= len(offsets) - course.drafts
            _add_visit(plan, owner, course, visit_index, start + timedelta(days=offset),
                       side, is_draft, rng)
        if course.discharged:
            plan.status = "discharged"
            plan.discharge_reason = course.discharged
            plan.discharge_date = start + timedelta(days=offsets[-1])
            plan.discharge_note = "Goals met; independent with the home programme."
        if course.name == "improving":
            portal_user = User(email="patient@demo.clinic", name=f"{given} {family}",
                               role="patient", patient_id=patient.id)
            portal_user.set_password(DEMO_PASSWORD)
            db.session.add(portal_user)
            logins.append(("patient", portal_user.email, portal_user.name))
    db.session.commit()
    return logins


def visit_values(pain: float, post_pain: float, slr: float, slr_post: float,
                 side: str) -> list[tuple[str, str | None, str, float]]:
    """One sciatica visit's measures (measure, side, phase, value), test and retest.

    The affected side's straight-leg raise is retested after treatment; the other side is the
    comparison; lumbar flexion follows the nerve's mobility. Shared by the demo and seed-scale.
    """
    other = "left" if side == "right" else "right"
    return [("pain", None, "pre", pain), ("pain", None, "post", post_pain),
            ("pain_worst", None, "pre", min(10, pain + 2)),
            ("pain_best", None, "pre", max(0, pain - 2)),
            ("slr", side, "pre", slr), ("slr", side, "post", slr_post),
            ("slr", other, "pre", min(85, slr + 25)),
            ("lumbar_flexion", None, "pre", round(min(60, 20 + slr / 3))),
            ("lumbar_flexion", None, "post", round(min(60, 24 + slr / 3)))]


def _add_visit(plan: PlanOfCare, owner: User, course: Course, index: int, visit_date, side: str,
               is_draft: bool, rng: random.Random) -> VisitNote:
    """Add one visit's note with pre/post measures that follow the course."""
    other = "left" if side == "right" else "right"
    pain = course.pain[index]
    previous = course.pain[index - 1] if index else pain
    trend = "better" if pain < previous else "worse" if pain > previous else "same"
    slr = course.slr[index]
    slr_post = min(120, slr + course.slr_gain + rng.choice((-2, 0, 2)))
    post_pain = max(0, pain - course.relief)
    note = VisitNote(
        plan_id=plan.id, patient_id=plan.patient_id, visit_date=visit_date, author=owner,
        subjective=SUBJECTIVE[trend].format(side=side),
        objective=(f"SLR {side} {slr:g}° reproducing {side} posterior thigh pain; {other} "
                   f"{min(85, slr + 25):g}° pain-free. Slump positive {side}. Tender {side} "
                   "piriformis and hamstring origin."),
        assessment=(f"Pain {pain:g}/10 before and {post_pain:g}/10 after treatment; SLR "
                    f"{slr_post - slr:+g}° within the session. "
                    + {"better": "Progressing toward goals.",
                       "same": "Limited change between visits.",
                       "worse": "Symptoms irritable this week."}[trend]),
        plan_text="Continue ART to piriformis and hamstrings, sciatic nerve sliders; progress "
                  "hip-hinge loading. Re-assess ODI in 2 weeks.",
        interventions=["art", "nerve_glides", "therapeutic_exercise"]
        + (["education"] if index == 0 else []),
        home_programme="Sciatic nerve sliders 2×10 twice daily; walk 15 minutes daily; avoid "
                       "sitting longer than 30 minutes without a break.",
        status="draft" if is_draft else "signed",
        created_at=datetime.combine(visit_date, time(15, 30), UTC),
    )
    values = visit_values(pain, post_pain, slr, slr_post, side)
    note.questionnaires = []
    if index % 4 == 0:
        items = _odi_items(pain, rng)
        score = round(sum(items) * 2.0, 1)
        note.questionnaires.append(QuestionnaireResponse(instrument="odi", items=items,
                                                         score=score))
        values.append(("odi", None, "pre", score))
    note.measurements = [Measurement(plan_id=plan.id, measure=m, side=s, phase=p, value=float(v))
                         for m, s, p, v in values]
    note.addenda = []
    if not is_draft:
        note.signed_by = owner
        note.signed_at = datetime.combine(visit_date, time(17, 45), UTC)
        if index == 1 and course.name == "improving":
            note.addenda.append(Addendum(
                author=owner, created_at=datetime.combine(visit_date, time(19, 5), UTC),
                text="Late entry: patient called after the visit to report 30 minutes of "
                     "symptom relief while walking."))
    db.session.add(note)
    return note
