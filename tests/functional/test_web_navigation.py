"""Every role reaches its pages from the navigation bar, not only by typing addresses."""

from conftest import PASSWORD, make_account


def nav_links(client, email):
    client.post("/login", data={"email": email, "password": PASSWORD})
    page = client.get("/").get_data(as_text=True)
    nav = page[page.index("<nav"):page.index("</nav>")]
    return nav


def test_director_navigation_reaches_outcomes_worklist_and_audit(app, client):
    make_account(app, "nav.director@example.org", "director")
    nav = nav_links(client, "nav.director@example.org")
    for href in ('href="/outcomes"', 'href="/worklist"', 'href="/audit/"'):
        assert href in nav
    for url in ("/outcomes", "/worklist", "/audit/"):
        assert client.get(url).status_code == 200


def test_practitioner_navigation_reaches_the_worklist(app, client):
    make_account(app, "nav.pt@example.org", "practitioner")
    nav = nav_links(client, "nav.pt@example.org")
    assert 'href="/worklist"' in nav and 'href="/outcomes"' not in nav
    assert client.get("/worklist").status_code == 200
