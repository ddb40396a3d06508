"""A synthetic clinic at scale, for benchmarks: ``flask seed-scale --patients N``.

About 1.3 plans of care per patient over the last two years (15 visit notes and 140
measurements per patient on average), written with bulk ``INSERT`` statements in batches, then
the outcome summaries built in bulk by the same code that keeps them current. Trajectories
follow the demo clinic's: improving, slowly improving, plateau, worsening, relapse and relief
that does not last, with pre/post retests; ART is used in some plans and not in others; a few
plans are left expired, on hold or cancelled, and some recent notes are left as drafts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, text
from werkzeug.security import generate_password_hash

from notes_service.auth.models import User
from notes_service.catalog import ICD10_CODES
from notes_service.clock import clinic_today
from notes_service.demo import visit_values
from notes_service.extensions import db
from notes_service.outcomes.summary import refresh_summaries
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import Goal, PlanOfCare
from notes_service.visits.models import Measurement, VisitNote

#: Password of every account of the synthetic clinic.
SCALE_PASSWORD = "scale-clinic-2026"
#: The synthetic clinic's director (for benchmarks and demos at scale).
SCALE_DIRECTOR = "director@scale.clinic"

GIVEN = ("Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal",
         "Kate", "Luis", "Mei", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tara")
FAMILY = ("Silva", "Okafor", "Nguyen", "Becker", "Kowalski", "Rahman", "Martin", "Lindqvist",
          "Moreau", "Haddad", "Ito", "Novak", "Brennan", "Costa", "Dubois", "Evans", "Fischer",
          "Garcia", "Hughes", "Jensen", "Khan", "Lopez", "Murphy", "Olsen", "Patel")
DIAGNOSES = (("M54.41", 25), ("M54.42", 25), ("M54.31", 10), ("M54.32", 10), ("M51.16", 8),
             ("M51.17", 7), ("G57.01", 3), ("G57.02", 2), ("M99.03", 5), ("M54.50", 5))
#: (course, weight): how a plan goes.
COURSES = (("improving", 40), ("slow", 17), ("plateau", 20), ("worsening", 8), ("relapse", 8),
           ("short_relief", 7))
OTHER_INTERVENTIONS = ("manual_therapy", "nerve_glides", "therapeutic_exercise", "dry_needling",
                       "spinal_manipulation", "education", "heat_ice")
TEXTS = {
    "subjective": "Leg pain {pain:g}/10 on arrival; symptoms after sitting.",
    "objective": "SLR {side} {slr:g} deg; slump positive {side}.",
    "assessment": "Pain {pain:g}/10 before, {post:g}/10 after treatment.",
    "plan_text": "Continue plan; progress loading.",
    "home_programme": "Nerve sliders 2x10 daily.",
}


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _pain_course(course: str, n: int, rng: random.Random) -> list[float]:
    """Pre-treatment pain (0–10, whole numbers) at each of ``n`` visits."""
    start = rng.uniform(5.5, 9)
    shape: Callable[[float], float]
    if course == "improving":
        end = rng.uniform(0.5, 3)
        shape = lambda t: start + (end - start) * t  # noqa: E731
    elif course == "slow":
        end = start - rng.uniform(1.5, 3)
        shape = lambda t: start + (end - start) * t  # noqa: E731
    elif course == "plateau":
        drop = rng.uniform(0.5, 1.5)
        shape = lambda t: start - drop * min(1, t * 3)  # noqa: E731
    elif course == "worsening":
        start = rng.uniform(3.5, 6)
        rise = rng.uniform(2.5, 3.5)
        shape = lambda t: start + rise * t  # noqa: E731
    elif course == "relapse":
        low = rng.uniform(2, 3.5)
        shape = lambda t: start + (low - start) * (t / 0.5) if t < 0.5 \
            else low + (start - 1 - low) * (t - 0.5) / 0.5  # noqa: E731
    else:  # short-lived relief: flat
        shape = lambda t: start  # noqa: E731
    noise = 0.35
    return [round(_clamp(shape(i / max(n - 1, 1)) + rng.gauss(0, noise), 0, 10))
            for i in range(n)]


def _visit_offsets(count: int, rng: random.Random) -> list[int]:
    """Day offsets of twice-weekly visits (Monday, Thursday), with an occasional miss."""
    offsets, week = [], 0
    while len(offsets) < count:
        for day in (0, 3):
            if len(offsets) < count and rng.random() > 0.08:
                offsets.append(week * 7 + day)
        week += 1
    return offsets


class _Ids:
    """Next free id of each table written with explicit ids."""

    def __init__(self):
        self.next = {model: (db.session.execute(select(func.max(model.id))).scalar() or 0) + 1
                     for model in (Patient, PlanOfCare, VisitNote)}

    def take(self, model) -> int:
        value = self.next[model]
        self.next[model] += 1
        return value


def seed_scale(patients: int, *, seed: int = 2026, batch_patients: int = 500,
               echo: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Build a synthetic clinic of ``patients`` patients; return what was written."""
    if db.session.execute(select(func.count(Patient.id))).scalar():
        raise ValueError("The database already has patients: seed the scale clinic into an "
                         "empty database.")
    rng = random.Random(seed)
    today = clinic_today()
    started = time.perf_counter()
    now = datetime.now(UTC)
    password_hash = generate_password_hash(SCALE_PASSWORD, method="scrypt")
    staff = [{"email": SCALE_DIRECTOR, "name": "Dr. Morgan Hale", "role": "director",
              "credentials": "PT, DPT, Clinic Director"}]
    for i in range(max(3, patients // 500)):
        staff.append({"email": f"pt{i + 1:03d}@scale.clinic",
                      "name": f"{GIVEN[i % len(GIVEN)]} {FAMILY[(i * 7) % len(FAMILY)]}",
                      "role": "practitioner", "credentials": ("PT, DPT", "DC", "LMT")[i % 3]})
    for row in staff:
        row.update(practices=False, password_hash=password_hash, active=True, patient_id=None,
                   created_at=now)
    db.session.execute(insert(User), staff)
    practitioner_ids = list(db.session.execute(
        select(User.id).where(User.email.like("pt%@scale.clinic")).order_by(User.id)).scalars())
    ids = _Ids()
    totals = {"patients": 0, "plans": 0, "visits": 0, "measurements": 0}
    for first in range(0, patients, batch_patients):
        rows = _batch(min(batch_patients, patients - first), rng, ids, practitioner_ids, today,
                      now)
        for model, key in ((Patient, "patients"), (care_team, None), (PlanOfCare, "plans"),
                           (Goal, None), (VisitNote, "visits"), (Measurement, "measurements")):
            table_rows = rows[model]
            for start in range(0, len(table_rows), 20_000):
                db.session.execute(insert(model), table_rows[start:start + 20_000])
            if key:
                totals[key] += len(table_rows)
        db.session.commit()
        echo(f"  {totals['patients']:>7} patients, {totals['visits']:>8} notes, "
             f"{totals['measurements']:>9} measurements ({time.perf_counter() - started:.0f} s)")
    _advance_sequences()
    plan_ids = list(db.session.execute(select(PlanOfCare.id)).scalars())
    for start in range(0, len(plan_ids), 2000):
        refresh_summaries(plan_ids[start:start + 2000])
        db.session.commit()
    echo(f"  outcome summaries of {len(plan_ids)} plans built "
         f"({time.perf_counter() - started:.0f} s)")
    totals["practitioners"] = len(practitioner_ids)
    return totals


def _advance_sequences() -> None:
    """On PostgreSQL, move the id sequences past the ids written explicitly."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("patients", "plans_of_care", "visit_notes"):
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    db.session.commit()


def _batch(count: int, rng: random.Random, ids: _Ids, practitioner_ids: list[int],
           today: date, now: datetime) -> dict:
    rows: dict = {m: [] for m in (Patient, care_team, PlanOfCare, Goal, VisitNote, Measurement)}
    for _ in range(count):
        patient_id = ids.take(Patient)
        owner = rng.choice(practitioner_ids)
        rows[Patient].append({
            "id": patient_id, "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
            "birth_date": date(rng.randint(1938, 2006), rng.randint(1, 12), rng.randint(1, 28)),
            "sex": rng.choice(("female", "male")), "mrn": f"SC-{patient_id:07d}",
            "phone": None, "email": None, "created_at": now})
        rows[care_team].append({"patient_id": patient_id, "user_id": owner, "added_at": now})
        start = today - timedelta(days=rng.randint(3, 730))
        starts = [start]
        if rng.random() < 0.3:  # an earlier, finished episode
            starts.insert(0, start - timedelta(days=rng.randint(80, 200)))
        for plan_start in starts:
            _plan(rows, rng, ids, patient_id, owner, plan_start, today, now)
    return rows


def _plan(rows: dict, rng: random.Random, ids: _Ids, patient_id: int, owner: int,
          start: date, today: date, now: datetime) -> None:
    plan_id = ids.take(PlanOfCare)
    weeks = rng.choice((6, 6, 8, 8, 8))
    end = start + timedelta(days=weeks * 7 - 1)
    code = _pick(rng, [(c, w) for c, w in DIAGNOSES])
    lateral = code[:3] in ("M54", "G57") and code[-1] in "12"
    side = ("right" if code[-1] == "1" else "left") if lateral else rng.choice(("left", "right"))
    other = "left" if side == "right" else "right"
    course = _pick(rng, COURSES)
    art = rng.random() < 0.6
    if art and course in ("plateau", "worsening") and rng.random() < 0.3:
        course = "improving"  # ART helps a little in the synthetic clinic
    planned = weeks * 2
    finished = end < today - timedelta(days=10)
    early_drop = finished and rng.random() < 0.12
    visits = rng.randint(3, planned // 2) if early_drop else planned - rng.randint(0, 3)
    offsets = [d for d in _visit_offsets(visits, rng) if start + timedelta(days=d) < today]
    status, reason = "active", None
    if finished:
        roll = rng.random()
        status = ("discharged" if roll < 0.92 else "active" if roll < 0.95
                  else "cancelled" if roll < 0.98 else "on_hold")
    elif rng.random() < 0.04:
        status = "on_hold"
    pains = _pain_course(course, len(offsets), rng)
    goals = rng.random() > 0.1
    if status == "discharged":
        met = bool(pains) and pains[-1] <= 2
        reason = ("non_attendance" if early_drop and rng.random() < 0.6
                  else "patient_request" if early_drop
                  else "goals_met" if met
                  else "plateau" if course == "plateau" and rng.random() < 0.6
                  else "referred" if course == "worsening" and rng.random() < 0.6
                  else rng.choice(("patient_request", "insurance", "other")))
    interventions = (["art"] if art else []) + rng.sample(OTHER_INTERVENTIONS, 2)
    rows[PlanOfCare].append({
        "id": plan_id, "patient_id": patient_id, "practitioner_id": owner,
        "diagnosis_code": code, "diagnosis_text": ICD10_CODES[code], "body_region": "lumbar",
        "side": side, "start_date": start, "weeks": weeks, "visits_per_week": 2,
        "planned_interventions": interventions,
        "tracked_measures": [{"measure": "pain", "side": None},
                             {"measure": "pain_worst", "side": None},
                             {"measure": "pain_best", "side": None},
                             {"measure": "odi", "side": None},
                             {"measure": "slr", "side": side}, {"measure": "slr", "side": other},
                             {"measure": "lumbar_flexion", "side": None}],
        "status": status,
        "discharge_date": (start + timedelta(days=offsets[-1] if offsets else 0)
                           if status == "discharged" else None),
        "discharge_reason": reason, "discharge_note": None, "maintenance_since": None,
        "created_at": now, "updated_at": now, "version": 1})
    if goals:
        rows[Goal] += [
            {"plan_id": plan_id, "measure": "pain", "side": None, "target": 2.0,
             "target_date": None, "term": "long", "description": None},
            {"plan_id": plan_id, "measure": "slr", "side": side, "target": 70.0,
             "target_date": start + timedelta(days=27), "term": "short", "description": None},
            {"plan_id": plan_id, "measure": "odi", "side": None, "target": 20.0,
             "target_date": None, "term": "long", "description": None}]
    relief = 3 if course == "short_relief" else rng.choice((1, 2, 2))
    slr_start = rng.uniform(28, 52)
    for index, (offset, pain) in enumerate(zip(offsets, pains)):
        day = start + timedelta(days=offset)
        note_id = ids.take(VisitNote)
        draft = status == "active" and index == len(offsets) - 1 and rng.random() < 0.25
        created = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=15.5)
        slr = round(_clamp(slr_start + (8 - pain) * 4 + rng.gauss(0, 2), 10, 90))
        post_pain = max(0, pain - relief)
        slr_post = min(120, slr + (12 if course == "short_relief" else 6) + rng.choice((-2, 0, 2)))
        values = {"pain": pain, "post": post_pain, "slr": slr, "side": side}
        rows[VisitNote].append({
            "id": note_id, "plan_id": plan_id, "patient_id": patient_id, "visit_date": day,
            "author_id": owner, **{k: v.format(**values) for k, v in TEXTS.items()},
            "interventions": interventions + (["education"] if index == 0 else []),
            "status": "draft" if draft else "signed",
            "signed_by_id": None if draft else owner,
            "signed_at": None if draft else created + timedelta(hours=2),
            "copied_from_id": None, "created_at": created, "updated_at": created, "version": 1})
        measures = visit_values(pain, post_pain, slr, slr_post, side)
        if index % 4 == 0 or index == len(offsets) - 1:
            measures.append(("odi", None, "pre",
                             2 * round(_clamp(pain * 3 + rng.gauss(0, 2), 0, 50))))
        rows[Measurement] += [{"visit_id": note_id, "plan_id": plan_id, "measure": m,
                               "side": s, "phase": p, "value": float(v)}
                              for m, s, p, v in measures]
