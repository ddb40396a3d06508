"""The busiest pages cost a constant number of queries, whatever the number of visits or
patients (relationships are lazy="raise", so an accidental lazy load fails outright)."""

from datetime import timedelta

import pytest

from web_support import make_chart, make_note, pending_dir, web  # noqa: F401


def document(app, practitioner, chart, visits):
    for index in range(visits):
        make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=index),
                  sign=index < visits - 1,  # the last one stays a draft
                  special_tests=[{"test": "slr_test", "side": "right", "result": "positive",
                                  "angle": 40}],
                  questionnaires=[{"instrument": "odi", "items": [2] * 10}])


def count(web, count_queries, url):
    with count_queries() as counter:
        response = web.get(url)
    assert response.status_code == 200
    return counter.count


@pytest.mark.parametrize("page", ["patient", "plan", "caseload"])
def test_page_queries_do_not_grow_with_the_record(web, app, practitioner, count_queries, page):
    counts = []
    for size, family in ((1, "Small"), (8, "Large")):
        for extra in range(size if page == "caseload" else 1):
            chart = make_chart(app, practitioner, family=f"{family}{extra}")
            document(app, practitioner, chart, size)
        url = {"patient": f"/patients/{chart.patient_id}", "plan": f"/plans/{chart.plan_id}",
               "caseload": "/"}[page]
        counts.append(count(web, count_queries, url))
    assert counts[0] == counts[1], counts
