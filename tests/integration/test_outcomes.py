"""Clinic outcome figures on the fixed clinic of ``outcomes_support``, against figures worked out
by hand (not re-derived with the service's code).

Quartiles interpolate linearly between order statistics: of n sorted values, quantile p sits at
0-based position p·(n − 1).
"""

from datetime import timedelta

import pytest

from outcomes_support import build_fixed_clinic, day

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def fixed(app, client):
    return build_fixed_clinic(app, client)


def outcomes(clinic, **params):
    response = clinic.as_director.get("/api/v1/outcomes", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def measure(group, code):
    return next(m for m in group["measures"] if m["measure"] == code)


def share(count, plans, low_n=False):
    return {"count": count, "plans": plans,
            "share": round(count / plans, 4) if plans else None, "low_n": low_n}


def test_clinic_plan_figures(fixed):
    clinic = outcomes(fixed)["clinic"]
    # Plans 1–8; discharged 1, 2, 4, 6, 7; active 3, 5, 8.
    assert clinic["plans"] == {"total": 8, "started": 8, "discharged": 5, "active": 3,
                               "on_hold": 0, "cancelled": 0, "low_n": False}
    # Visits 4,4,4,3,3,3,4,1 → sorted 1,3,3,3,4,4,4,4: Q1 at 1.75 → 3; median at 3.5 → 3.5;
    # Q3 at 5.25 → 4. Planned: seven of 16 and one of 12 → 16.
    assert clinic["visits"] == {"plans": 8, "median": 3.5, "q1": 3.0, "q3": 4.0,
                                "planned_median": 16.0, "low_n": False}
    # Goals on plans 1, 2, 3, 5, 6, 7, 8; all met on 1 and 7.
    assert clinic["goals_met"] == share(2, 7)
    # Assessable: all but plan 8 (one visit). Plateau: plan 2 (pain 6, 6, 6 with a goal).
    # Worsening: plan 3 (pain 6 → 8 over 14 days).
    assert clinic["plateau"] == share(1, 7)
    assert clinic["worsening"] == share(1, 7)
    # Retention per plan: 1 → 100 % (2/2 each visit), 2 → 0 (33, 0, 0), 5 → right SLR
    # (10/8 = 125 %, 12/7 = 171 %) median 148 %, 7 → 100 %; median of 0, 100, 100, 148 → 100.
    assert clinic["retention"] == {"plans": 4, "median": 100.0, "low_n": True}
    assert clinic["discharge_reasons"] == {
        "plans": 5, "low_n": False,
        "reasons": [{"reason": "goals_met", "count": 2, "share": 0.4},
                    {"reason": "plateau", "count": 1, "share": 0.2},
                    {"reason": "patient_request", "count": 1, "share": 0.2},
                    {"reason": "other", "count": 1, "share": 0.2}]}


def test_clinic_measure_figures(fixed):
    clinic = outcomes(fixed)["clinic"]
    assert [m["measure"] for m in clinic["measures"]] == ["pain", "slr"]
    pain = measure(clinic, "pain")
    # Plans with pain at two visits or more: 1–7. Change (lower is better), baseline → latest:
    # 8→2 = 6, 7→6 = 1, 5→8 = −3, 6→3 = 3, 9→5 = 4, 7→3 = 4, 6→1 = 5.
    # Sorted −3, 1, 3, 4, 4, 5, 6: mean 20/7; median 4; Q1 at 1.5 → 2; Q3 at 4.5 → 4.5.
    assert pain == {
        "measure": "pain", "label": "Pain now", "unit": "score", "better": "lower",
        "threshold": 2.0, "plans": 7, "low_n": False,
        "baseline_mean": round(48 / 7, 2), "latest_mean": 4.0,
        "mean_change": round(20 / 7, 2), "median_change": 4.0, "q1_change": 2.0,
        "q3_change": 4.5,
        # A change of 2 or more: plans 1, 4, 5, 6, 7.
        "mcid": share(5, 7),
        # Pain goals on 1, 2, 3, 5, 6, 7 (plan 4 has none); met on 1 (2 ≤ 2) and 7 (1 ≤ 2).
        "goal": share(2, 6),
    }
    slr = measure(clinic, "slr")
    # Plan 5 only, on the goal's (right) side: 40 → 62 = 22°, beyond 10°; goal 70 not met.
    assert (slr["plans"], slr["mean_change"], slr["median_change"], slr["low_n"]) == (
        1, 22.0, 22.0, True)
    assert slr["mcid"] == share(1, 1, low_n=True)
    assert slr["goal"] == share(0, 1, low_n=True)


def test_per_practitioner_table(fixed):
    body = outcomes(fixed)
    assert body["min_plans"] == 5
    pat, quinn = body["practitioners"]
    assert pat["practitioner"] == {"id": fixed.p.id, "name": "Pat Physio"}
    assert quinn["practitioner"] == {"id": fixed.q.id, "name": "Quinn Quest"}
    # Pat: plans 1–6.
    assert pat["plans"] == {"total": 6, "started": 6, "discharged": 4, "active": 2,
                            "on_hold": 0, "cancelled": 0, "low_n": False}
    # Visits 3,3,3,4,4,4: Q1 at 1.25 → 3; median 3.5; Q3 at 3.75 → 4. Planned 12,16×5 → 16.
    assert pat["visits"] == {"plans": 6, "median": 3.5, "q1": 3.0, "q3": 4.0,
                             "planned_median": 16.0, "low_n": False}
    assert pat["goals_met"] == share(1, 5)
    assert pat["plateau"] == share(1, 6)
    assert pat["worsening"] == share(1, 6)
    assert pat["retention"] == {"plans": 3, "median": 100.0, "low_n": True}
    pain = measure(pat, "pain")
    # Changes 6, 1, −3, 3, 4, 4 → sorted −3, 1, 3, 4, 4, 6: mean 2.5; median 3.5;
    # Q1 at 1.25 → 1.5; Q3 at 3.75 → 4. Baselines 8,7,5,6,9,7 → 7; latest 2,6,8,3,5,3 → 4.5.
    assert (pain["plans"], pain["mean_change"], pain["median_change"], pain["q1_change"],
            pain["q3_change"], pain["baseline_mean"], pain["latest_mean"]) == (
        6, 2.5, 3.5, 1.5, 4.0, 7.0, 4.5)
    assert pain["mcid"] == share(4, 6)
    assert pain["goal"] == share(1, 5)
    assert [r["reason"] for r in pat["discharge_reasons"]["reasons"]] == [
        "goals_met", "plateau", "patient_request", "other"]
    # Quinn: plans 7 and 8, fewer than 5: every figure is marked.
    assert quinn["plans"]["total"] == 2 and quinn["plans"]["low_n"] is True
    # Visits 4 and 1: Q1 at 0.25 → 1.75; median 2.5; Q3 at 0.75 → 3.25.
    assert quinn["visits"] == {"plans": 2, "median": 2.5, "q1": 1.75, "q3": 3.25,
                               "planned_median": 16.0, "low_n": True}
    assert quinn["goals_met"] == share(1, 2, low_n=True)
    assert quinn["plateau"] == share(0, 1, low_n=True)
    q_pain = measure(quinn, "pain")
    assert (q_pain["plans"], q_pain["median_change"], q_pain["low_n"]) == (1, 5.0, True)
    assert quinn["discharge_reasons"]["reasons"] == [
        {"reason": "goals_met", "count": 1, "share": 1.0}]


def test_filter_by_practitioner(fixed):
    clinic = outcomes(fixed, practitioner_id=fixed.q.id)["clinic"]
    assert clinic["plans"]["total"] == 2 and clinic["plans"]["discharged"] == 1
    assert clinic["visits"]["median"] == 2.5
    assert measure(clinic, "pain")["median_change"] == 5.0


def test_filter_by_diagnosis_group(fixed):
    body = outcomes(fixed, diagnosis="g57")  # categories are matched in capitals
    clinic = body["clinic"]
    # Plan 4 only: pain 6 → 3, no goals, discharged at the patient's request.
    assert clinic["plans"]["total"] == 1 and body["filters"]["diagnosis"] == "G57"
    pain = measure(clinic, "pain")
    assert (pain["mean_change"], pain["mcid"]["count"], pain["goal"]["plans"]) == (3.0, 1, 0)
    assert clinic["goals_met"] == share(0, 0, low_n=True)
    assert clinic["discharge_reasons"]["reasons"] == [
        {"reason": "patient_request", "count": 1, "share": 1.0}]
    assert outcomes(fixed, diagnosis="M51")["clinic"]["plans"]["total"] == 1  # plan 8


def test_filter_by_intervention(fixed):
    with_art = outcomes(fixed, intervention="art")["clinic"]
    # Plans 1, 2, 5, 6, 7: pain changes 6, 1, 4, 4, 5 → median 4, mean 4; MCID 4 of 5.
    assert with_art["plans"]["total"] == 5
    pain = measure(with_art, "pain")
    assert (pain["median_change"], pain["mean_change"]) == (4.0, 4.0)
    assert pain["mcid"] == share(4, 5)
    without = outcomes(fixed, intervention="art", intervention_used="false")["clinic"]
    # Plans 3, 4, 8: pain changes −3 and 3 (plan 8 has one visit) → median 0.
    assert without["plans"]["total"] == 3
    assert measure(without, "pain")["median_change"] == 0.0
    assert measure(without, "pain")["mcid"] == share(1, 2, low_n=True)


def test_filter_by_status(fixed):
    clinic = outcomes(fixed, status="discharged")["clinic"]
    # Plans 1, 2, 4, 6, 7: visits 4, 4, 3, 3, 4 → median 4.
    assert clinic["plans"] == {"total": 5, "started": 5, "discharged": 5, "active": 0,
                               "on_hold": 0, "cancelled": 0, "low_n": False}
    assert clinic["visits"]["median"] == 4.0
    active = outcomes(fixed, status="active")["clinic"]
    assert active["plans"]["total"] == 3 and active["plans"]["active"] == 3


def test_filter_by_dates(fixed):
    # The last 200 days: plan 6 (discharged 286 days ago) leaves the cohort.
    recent = outcomes(fixed, date_from=day(200).isoformat(),
                      date_to=day(0).isoformat())["clinic"]
    assert (recent["plans"]["total"], recent["plans"]["started"],
            recent["plans"]["discharged"]) == (7, 7, 4)
    # Days 45 to 35 ago: plans 3 (started 40 days ago, active), 4 (started 40, discharged
    # 26 days ago) and 7 (started 50, discharged 29 days ago) overlap; 1 and 2 ended 49 days
    # ago, 5 and 8 started later. Started within: 3 and 4; discharged within: none.
    window = outcomes(fixed, date_from=day(45).isoformat(),
                      date_to=day(35).isoformat())["clinic"]
    assert (window["plans"]["total"], window["plans"]["started"],
            window["plans"]["discharged"]) == (3, 2, 0)
    # Pain changes of 3, 4 and 7: −3, 3, 5 → median 3.
    assert measure(window, "pain")["median_change"] == 3.0


def test_filters_combine(fixed):
    clinic = outcomes(fixed, practitioner_id=fixed.p.id, intervention="art",
                      status="discharged")["clinic"]
    # Pat's discharged ART plans: 1, 2, 6 → pain changes 6, 1, 4 → median 4.
    assert clinic["plans"]["total"] == 3
    assert measure(clinic, "pain")["median_change"] == 4.0


def test_an_empty_cohort_has_no_figures(fixed):
    body = outcomes(fixed, date_from=day(1000).isoformat(), date_to=day(900).isoformat())
    assert body["practitioners"] == []
    clinic = body["clinic"]
    assert clinic["plans"]["total"] == 0 and clinic["plans"]["low_n"] is True
    assert clinic["visits"]["median"] is None and clinic["measures"] == []
    assert clinic["goals_met"] == share(0, 0, low_n=True)


def test_clinic_thresholds_override_the_catalog(app, client):
    fixed = build_fixed_clinic(app, client)
    app.config["PROGRESS_THRESHOLDS"] = {"pain": 4}
    try:
        pain = measure(outcomes(fixed)["clinic"], "pain")
    finally:
        app.config["PROGRESS_THRESHOLDS"] = {}
    # Changes of 4 or more: plans 1 (6), 5 (4), 6 (4), 7 (5).
    assert pain["threshold"] == 4.0 and pain["mcid"] == share(4, 7)


def test_summary_follows_changes_to_notes_and_plans(fixed):
    before = measure(outcomes(fixed, practitioner_id=fixed.q.id)["clinic"], "pain")
    # A second visit on plan 8 (pain 7 → 4) brings it into the pain figures.
    response = fixed.as_q.post(f"/api/v1/plans/{fixed.plans[8]}/visits", json={
        "visit_date": (day(20) + timedelta(days=7)).isoformat(), "subjective": "Better.",
        "objective": "Tested.", "assessment": "Improving.", "plan": "Continue.",
        "measurements": [{"measure": "pain", "value": 4}]})
    assert response.status_code == 201
    after = measure(outcomes(fixed, practitioner_id=fixed.q.id)["clinic"], "pain")
    assert (before["plans"], after["plans"]) == (1, 2)
    assert after["mean_change"] == 4.0  # (5 + 3) / 2
    # Discharging it moves it from active to discharged.
    ok = fixed.as_q.post(f"/api/v1/plans/{fixed.plans[8]}/discharge",
                         json={"discharge_date": (day(13)).isoformat(), "reason": "other"})
    assert ok.status_code == 200, ok.get_json()
    plans = outcomes(fixed, practitioner_id=fixed.q.id)["clinic"]["plans"]
    assert (plans["active"], plans["discharged"]) == (0, 2)
