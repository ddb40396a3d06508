"""Every page is well-formed and accessible in structure: balanced tags, unique ids, a label on
every control, one h1 and headings in order, landmarks, and references that resolve."""

from datetime import timedelta

import pytest

from web_support import (  # noqa: F401
    chart,
    director_web,
    make_note,
    page_problems,
    pending_dir,
    web,
)


def test_sign_in_page_is_valid(client):
    assert page_problems(client.get("/login").get_data(as_text=True), signed_in=False) == []


def test_error_page_is_valid(web):
    response = web.get("/no-such-page")
    assert response.status_code == 404
    assert page_problems(response.get_data(as_text=True)) == []


@pytest.mark.parametrize("path", [
    "/", "/patients/", "/patients/new", "/patients/{patient}", "/patients/{patient}/edit",
    "/patients/{patient}/plans/new", "/plans/{plan}", "/plans/{plan}/edit",
    "/plans/{plan}/discharge", "/plans/{plan}/visits/new", "/visits/{draft}",
    "/visits/{draft}/edit", "/visits/{draft}/sign", "/visits/{signed}",
])
def test_practitioner_pages_are_valid(web, app, practitioner, chart, path):
    signed = make_note(app, practitioner, chart.plan_id, chart.start, sign=True,
                       special_tests=[{"test": "slr_test", "side": "right",
                                       "result": "positive", "angle": 40}],
                       questionnaires=[{"instrument": "odi",
                                        "items": [3, 2, 3, 2, 4, 2, 3, None, 2, 3]}])
    draft = make_note(app, practitioner, chart.plan_id, chart.start + timedelta(days=3))
    url = path.format(patient=chart.patient_id, plan=chart.plan_id, draft=draft, signed=signed)
    response = web.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    assert page_problems(html) == [], url
    assert html.count('method="post"') == html.count('name="csrf_token"'), "form without CSRF"


def test_director_pages_are_valid(director_web, chart):
    for url in ("/", f"/patients/{chart.patient_id}", f"/plans/{chart.plan_id}"):
        response = director_web.get(url)
        assert response.status_code == 200
        assert page_problems(response.get_data(as_text=True)) == [], url


def test_note_form_with_errors_is_valid(web, chart):
    response = web.post(f"/plans/{chart.plan_id}/visits/new", data={
        "visit_date": chart.start.isoformat(), "m-pain-pre": "11", "m-pain-post": "nan",
        "st-0-test": "slr_test", "st-0-result": "positive", "odi-1": "9", "psfs-1-score": "4"})
    assert response.status_code == 422
    assert page_problems(response.get_data(as_text=True)) == []


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("text, background", [
    ("ink", "bg"), ("ink-2", "surface-2"), ("muted", "surface"), ("muted", "surface-2"),
    ("muted", "bg"), ("brand", "surface"), ("brand", "brand-soft"), ("brand-dark", "brand-soft"),
    ("ok", "ok-soft"), ("warn", "warn-soft"), ("info", "info-soft"), ("danger", "danger-soft"),
    ("danger", "surface"), ("#ffffff", "brand"), ("#ffffff", "danger"), ("#ffffff", "nav"),
])
def test_text_colours_have_sufficient_contrast(text, background):
    """WCAG AA: at least 4.5:1 for every text colour on the backgrounds it is used on."""
    import re
    from pathlib import Path

    import notes_service

    css = (Path(notes_service.__file__).parent / "static" / "app.css").read_text()
    palette = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))
    colour = palette.get(text, text)
    assert contrast(colour, palette[background]) >= 4.5, (text, background)


def test_merge_page_is_valid(web, app, practitioner, chart):
    note = make_note(app, practitioner, chart.plan_id, chart.start)
    form = {"visit_date": chart.start.isoformat(), "subjective": "A", "version": "1"}
    assert web.post(f"/visits/{note}/edit", data=form).status_code == 302
    response = web.post(f"/visits/{note}/edit", data={**form, "subjective": "B"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert page_problems(html) == []
    assert html.count('method="post"') == html.count('name="csrf_token"')
