"""The patient page's layout (``base.html`` around the page) is cached per viewer and page: the
same HTML as a full render, each request with its own CSRF token, flashed messages shown, and
any change of what the layout shows (the viewer's name, the page's title) on the next view."""

from __future__ import annotations

import re

from flask import render_template
from jinja2 import meta
from markupsafe import Markup

from conftest import Api
from web_support import (  # noqa: F401
    chart,
    csrf_app,
    director_web,
    pending_dir,
    sign_in,
    user_of,
    web,
)
from notes_service.extensions import db
from notes_service.web.fragments import (
    CONTENT_MARK,
    TOKEN_MARK,
    fragment_cache,
    layout_cache,
    render_in_layout,
)

CSRF_VALUE = re.compile(r'name="csrf_token" value="([^"]+)"')


def without_token(html: str) -> str:
    return CSRF_VALUE.sub('name="csrf_token" value=""', html)


def view(app, client, patient_id: int) -> tuple[str, bool]:
    """The page's HTML, and whether its layout came from the cache."""
    cache = layout_cache(app)
    hits = cache.hits
    response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True), cache.hits == hits + 1


def test_a_cached_layout_is_the_full_render(app, practitioner):
    """Around the same content, the layout from the cache (and the first one, rendered with
    marks) gives the very HTML of a full render, apart from the CSRF token."""
    from flask_login import login_user

    from notes_service.web.queries import PatientRow

    patient = PatientRow(1, "Ana <b>", "Silva & Co", None, "female", None, None, None)
    content = Markup("<section>the page's own <em>content</em> &amp; more</section>")
    with app.test_request_context("/patients/1"):
        login_user(user_of(practitioner))
        full = render_template("patients/detail.html", patient=patient, content=content)
        first = render_in_layout("patients/detail.html", content, patient.full_name,
                                 patient=patient).decode()
        again = render_in_layout("patients/detail.html", content, patient.full_name,
                                 patient=patient).decode()
    assert without_token(first) == without_token(again) == without_token(full)
    assert "Ana &lt;b&gt; Silva &amp; Co · " in full  # the title, escaped once
    assert CSRF_VALUE.search(again).group(1) == CSRF_VALUE.search(full).group(1)


def test_the_layout_is_cached_per_viewer_without_their_token(web, app, chart, director_web):
    layout_cache(app).clear()
    first, hit = view(app, web, chart.patient_id)
    assert not hit
    second, hit = view(app, web, chart.patient_id)
    assert hit and without_token(second) == without_token(first)
    theirs, hit = view(app, director_web, chart.patient_id)
    assert not hit  # another viewer: another layout
    assert "Dana Director" in theirs and "Dana Director" not in second
    tokens = {CSRF_VALUE.search(html).group(1) for html in (second, theirs)}
    assert len(tokens) == 2
    for html in layout_cache(app)._entries.values():
        assert html.count(TOKEN_MARK) == 1 and html.count(CONTENT_MARK) == 1
        assert not tokens & set(re.findall(r"[\w.-]{40,}", html))
        assert "Ana Silva" in html and "Visit history" not in html  # the title, no content
    for html in fragment_cache(app)._entries.values():
        assert "usermenu" not in html  # no fragment holds a viewer's layout


def test_the_token_of_a_cached_layout_is_the_sessions_own(csrf_app, practitioner):
    """With CSRF protection on, a form posted with the token of a page whose layout came from
    the cache is accepted: here, signing out."""
    from web_support import make_chart

    chart = make_chart(csrf_app, practitioner)
    client = csrf_app.test_client()
    login = client.get("/login").get_data(as_text=True)
    response = sign_in(client, practitioner.email,
                       csrf_token=CSRF_VALUE.search(login).group(1))
    assert response.status_code == 302
    view(csrf_app, client, chart.patient_id)
    html, hit = view(csrf_app, client, chart.patient_id)
    assert hit
    response = client.post("/logout", data={"csrf_token": CSRF_VALUE.search(html).group(1)})
    assert response.status_code == 302
    assert client.get(f"/patients/{chart.patient_id}").status_code == 302  # signed out


def test_flashed_messages_show_once(web, app, chart):
    view(app, web, chart.patient_id)
    response = web.post(f"/patients/{chart.patient_id}/edit", data={
        "given_name": "Ana", "family_name": "Silva", "birth_date": "1980-05-01",
        "sex": "female", "mrn": "MRN-Ana-Silva", "phone": "+1 555 0100"})
    assert response.status_code == 302
    html, hit = view(app, web, chart.patient_id)
    assert "Demographics saved." in html and not hit
    html, hit = view(app, web, chart.patient_id)
    assert "Demographics saved." not in html and hit and "+1 555 0100" in html


def test_a_renamed_viewer_and_patient_show_at_once(web, app, practitioner, chart, client):
    view(app, web, chart.patient_id)
    with app.app_context():
        user_of(practitioner).name = "Pat Renamed"
        db.session.commit()
    html, hit = view(app, web, chart.patient_id)
    assert not hit
    menu = html[html.index('class="usermenu"'):html.index("</details>")]
    assert "Pat Renamed" in menu
    response = Api(client, practitioner).patch(f"/api/v1/patients/{chart.patient_id}",
                                               json={"given_name": "Anna"})
    assert response.status_code == 200, response.get_json()
    html, hit = view(app, web, chart.patient_id)
    assert not hit and "<title>Anna Silva · " in html


def test_a_hit_answers_with_the_same_headers(web, app, chart):
    web.get(f"/patients/{chart.patient_id}")
    miss = web.get(f"/patients/{chart.patient_id}/edit")  # another page between
    first = web.get(f"/patients/{chart.patient_id}")
    second = web.get(f"/patients/{chart.patient_id}")
    assert miss.status_code == first.status_code == second.status_code == 200
    assert second.headers.get("Vary") == first.headers.get("Vary")
    assert "Cookie" in (second.headers.get("Vary") or "")


#: What ``base.html`` may read: the layout's key holds the context processors' values and the
#: signed-in user's attributes below; ``csrf_token`` and ``get_flashed_messages`` are the
#: request's own (filled in, or rendered in full); ``url_for`` depends on the URL root.
LAYOUT_VARIABLES = {"clinic_name", "nav_items", "current_endpoint", "current_user",
                    "csrf_token", "get_flashed_messages", "url_for"}
USER_ATTRIBUTES = {"is_authenticated", "name", "display_name", "email", "role"}


def test_the_layout_reads_only_what_its_key_holds(app):
    """A new variable or user attribute in ``base.html`` must join :func:`layout_key` (and this
    list): otherwise a cached layout would not show it."""
    env = app.jinja_env
    source = env.loader.get_source(env, "base.html")[0]
    assert meta.find_undeclared_variables(env.parse(source)) <= LAYOUT_VARIABLES
    assert set(re.findall(r"current_user\.(\w+)", source)) <= USER_ATTRIBUTES
    page = env.loader.get_source(env, "patients/detail.html")[0]
    assert meta.find_undeclared_variables(env.parse(page)) == {"patient", "content"}
    assert re.findall(r"patient\.(\w+)", page) == ["full_name"]  # the key: the title
