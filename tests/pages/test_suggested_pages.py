""" "Suggested for you" on a participant's directory and inbox pages, with a one-click wish
(both databases)."""

from __future__ import annotations

import re

from sqlalchemy import select

from matchmaking.platform.models import Wish
from tests.pages.conftest import Site, csrf_of

FORM = re.compile(
    r'<li class="card" id="suggested-(?P<key>[^"]+)">.*?name="back" value="(?P<back>[^"]+)"',
    re.S,
)


def _profiles(site: Site) -> None:
    people = site.built.participants
    for person in people.values():
        person.organisation.sectors = []
    people["p1"].organisation.seeks = ["partners for battery recycling"]
    people["p2"].organisation.offers = ["battery recycling <b>services</b>"]
    people["p3"].organisation.offers = ["recycling of used batteries"]
    people["p4"].organisation.offers = ["cheese"]
    site.session.commit()


def test_the_directory_suggests_partners_with_reasons_and_a_one_click_wish(site: Site) -> None:
    _profiles(site)
    client = site.client()
    site.sign_in(client, "p1")
    path = f"/e/{site.slug}/directory"

    page = client.get(path).text

    section = page[page.index("Suggested for you") : page.index('role="status"')]
    assert [m["key"] for m in FORM.finditer(section)] == ["p2", "p3"]
    # Reasons name the matching offer and seek, escaped.
    assert (
        "offers battery recycling &lt;b&gt;services&lt;/b&gt;, which you seek "
        "(partners for battery recycling)" in section
    )
    assert "<b>services</b>" not in page
    back = next(FORM.finditer(section))["back"]
    sent = client.post(
        f"/e/{site.slug}/wishes",
        data={"csrf_token": csrf_of(client, path), "to": "p2", "priority": "2", "back": back},
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"{path}?page=1&sent=p2")
    with site.read() as db:
        wish = db.scalar(select(Wish))
        assert wish is not None
        assert (wish.recipient.key, wish.priority) == ("p2", 2)
    after = client.get(sent.headers["location"]).text
    assert "Your wish was sent." in after
    section = after[after.index("Suggested for you") : after.index('role="status"', 1000)]
    assert [m["key"] for m in FORM.finditer(section)] == ["p3"]
    # Filtering the directory hides the suggestions.
    assert "Suggested for you" not in client.get(path, params={"q": "company"}).text


def test_the_inbox_suggests_too_and_comes_back_after_the_wish(site: Site) -> None:
    _profiles(site)
    client = site.client()
    site.sign_in(client, "p1")
    path = f"/e/{site.slug}/inbox"

    page = client.get(path).text

    assert "Suggested for you" in page
    forms = list(FORM.finditer(page))
    assert [m["key"] for m in forms] == ["p2", "p3"]
    sent = client.post(
        f"/e/{site.slug}/wishes",
        data={"csrf_token": csrf_of(client, path), "to": "p3", "priority": "2",
              "back": forms[1]["back"]},
    )  # fmt: skip
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(f"{path}?")
    assert "Your wish was sent." in client.get(sent.headers["location"]).text
    # Without the CSRF token nothing is sent.
    refused = client.post(
        f"/e/{site.slug}/wishes", data={"to": "p2", "priority": "2", "back": forms[0]["back"]}
    )
    assert refused.status_code == 403
    with site.read() as db:
        assert [w.recipient.key for w in db.scalars(select(Wish))] == ["p3"]


def test_someone_without_a_profile_match_sees_no_suggestions(site: Site) -> None:
    _profiles(site)
    client = site.client()
    site.sign_in(client, "p5")

    assert "Suggested for you" not in client.get(f"/e/{site.slug}/directory").text
    assert "Suggested for you" not in client.get(f"/e/{site.slug}/inbox").text
