"""A small fixed clinic for the outcomes and worklist tests, built through the JSON API.

Its figures are worked out by hand in ``tests/integration/test_outcomes.py``. Day offsets are
counted back from today (``T``); every plan is 8 weeks at 2 visits a week (16 planned visits)
except plan 6 (6 weeks, 12 planned).

====  ============  =====  =======  ======  =========================  ==================
plan  practitioner  dx     ART      start   pain pre (post) on days     end
====  ============  =====  =======  ======  =========================  ==================
1     P             M54    yes      T-70    0:8(6) 7:6(4) 14:4(2)       discharged day 21,
                                            21:2(1)                     goals_met
2     P             M54    yes      T-70    0:7(4) 7:6(4) 14:6(4) 21:6  discharged day 21,
                                                                        plateau
3     P             M54    no       T-40    0:5 7:6 14:7 21:8           active
4     P             G57    no       T-40    0:6 7:5 14:3 (no goals)     discharged day 14,
                                                                        patient_request
5     P             M54    yes      T-30    0:9 7:7 14:5; SLR right     active
                                            40(48) 50(57) 62, left 70
6     P             M54    yes      T-300   0:7 7:5 14:3 (6 weeks)      discharged day 14,
                                                                        other
7     Q             M54    yes      T-50    0:6(4) 7:4(2) 14:2(1) 21:1  discharged day 21,
                                                                        goals_met
8     Q             M51    no       T-20    0:7                         active
====  ============  =====  =======  ======  =========================  ==================

Goals: pain ≤ 2 on plans 1, 2, 3, 6, 7, 8; pain ≤ 3 and right SLR ≥ 70 on plan 5; none on 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from conftest import Api, make_account

ART = ["art", "nerve_glides"]
NO_ART = ["manual_therapy", "therapeutic_exercise"]

#: (practitioner, diagnosis, interventions, start days ago, weeks, goals,
#:  visits as (day, pain, pain post, extra measurements), discharge (day, reason) or None)
PLANS = {
    1: ("P", "M54.41", ART, 70, 8, [("pain", None, 2)],
        [(0, 8, 6, []), (7, 6, 4, []), (14, 4, 2, []), (21, 2, 1, [])], (21, "goals_met")),
    2: ("P", "M54.42", ART, 70, 8, [("pain", None, 2)],
        [(0, 7, 4, []), (7, 6, 4, []), (14, 6, 4, []), (21, 6, None, [])], (21, "plateau")),
    3: ("P", "M54.41", NO_ART, 40, 8, [("pain", None, 2)],
        [(0, 5, None, []), (7, 6, None, []), (14, 7, None, []), (21, 8, None, [])], None),
    4: ("P", "G57.01", NO_ART, 40, 8, [],
        [(0, 6, None, []), (7, 5, None, []), (14, 3, None, [])], (14, "patient_request")),
    5: ("P", "M54.41", ART, 30, 8, [("pain", None, 3), ("slr", "right", 70)],
        [(0, 9, None, [("slr", "right", "pre", 40), ("slr", "right", "post", 48),
                       ("slr", "left", "pre", 70)]),
         (7, 7, None, [("slr", "right", "pre", 50), ("slr", "right", "post", 57),
                       ("slr", "left", "pre", 70)]),
         (14, 5, None, [("slr", "right", "pre", 62), ("slr", "left", "pre", 70)])], None),
    6: ("P", "M54.41", ART, 300, 6, [("pain", None, 2)],
        [(0, 7, None, []), (7, 5, None, []), (14, 3, None, [])], (14, "other")),
    7: ("Q", "M54.41", ART, 50, 8, [("pain", None, 2)],
        [(0, 6, 4, []), (7, 4, 2, []), (14, 2, 1, []), (21, 1, None, [])], (21, "goals_met")),
    8: ("Q", "M51.16", NO_ART, 20, 8, [("pain", None, 2)], [(0, 7, None, [])], None),
}


def day(days_ago: int) -> date:
    """The date ``days_ago`` days before today."""
    return date.today() - timedelta(days=days_ago)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


@dataclass
class FixedClinic:
    """The built clinic: accounts, API clients and plan ids by the numbers above."""

    p: object
    q: object
    director: object
    as_p: Api
    as_q: Api
    as_director: Api
    plans: dict[int, int] = field(default_factory=dict)
    patients: dict[int, int] = field(default_factory=dict)
    notes: dict[int, list[int]] = field(default_factory=dict)


def add_visit(api: Api, plan_id: int, visit_day: date, pain: float, post: float | None,
              extra=(), interventions=ART) -> dict:
    """Record a draft visit with pain (and optional post value and extra measurements)."""
    measurements = [{"measure": "pain", "value": pain}]
    if post is not None:
        measurements.append({"measure": "pain", "phase": "post", "value": post})
    for measure, side, phase, value in extra:
        item = {"measure": measure, "phase": phase, "value": value}
        if side:
            item["side"] = side
        measurements.append(item)
    return ok(api.post(f"/api/v1/plans/{plan_id}/visits", json={
        "visit_date": visit_day.isoformat(), "subjective": "Leg pain.", "objective": "Tested.",
        "assessment": "Assessed.", "plan": "Continue.", "interventions": interventions,
        "measurements": measurements}), 201)


def build_fixed_clinic(app, client, prefix: str = "") -> FixedClinic:
    """Create the practitioners, director, patients, plans and notes of the table above."""
    p = make_account(app, f"{prefix}pat@fixed.example", "practitioner", name="Pat Physio")
    q = make_account(app, f"{prefix}quinn@fixed.example", "practitioner", name="Quinn Quest")
    director = make_account(app, f"{prefix}dana@fixed.example", "director", name="Dana Director")
    clinic = FixedClinic(p, q, director, Api(client, p), Api(client, q), Api(client, director))
    for number, (who, code, interventions, start, weeks, goals, visits, end) in PLANS.items():
        api = clinic.as_p if who == "P" else clinic.as_q
        patient = ok(api.post("/api/v1/patients", json={
            "given_name": f"Case{number}", "family_name": "Fixed",
            "birth_date": f"19{50 + number}-03-04"}), 201)
        plan = ok(api.post(f"/api/v1/patients/{patient['id']}/plans", json={
            "start_date": day(start).isoformat(), "weeks": weeks, "visits_per_week": 2,
            "diagnosis_code": code, "side": "right", "tracked_measures": [{"measure": "pain"}],
            "goals": [{"measure": m, "target": t, **({"side": s} if s else {})}
                      for m, s, t in goals]}), 201)
        clinic.plans[number] = plan["id"]
        clinic.patients[number] = patient["id"]
        clinic.notes[number] = [
            add_visit(api, plan["id"], day(start - offset), pain, post, extra,
                      interventions)["id"]
            for offset, pain, post, extra in visits]
        if end is not None:
            offset, reason = end
            ok(api.post(f"/api/v1/plans/{plan['id']}/discharge", json={
                "discharge_date": day(start - offset).isoformat(), "reason": reason}))
    return clinic
