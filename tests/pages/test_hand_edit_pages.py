"""The organiser's hand-edit page (api/pages/hand_edits.py): move, add, cancel, pin, draft
copies of a published version, re-solve around pins, refusals in words, who may not."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matchmaking.platform.models import (
    ApiToken,
    HandEdit,
    Meeting,
    Organiser,
    ScheduleVersion,
    Wish,
    WishStatus,
)
from matchmaking.platform.security import hash_token, new_token
from tests.calendars.builders import add_version, at
from tests.pages.conftest import Site, csrf_of


def _version(site: Site, *, published: bool = False) -> None:
    """Person 1 & 2 at 09:00 at Table 1, Person 3 & 4 at 09:00 at Table 2 (day 1); Person 1's
    wish to meet Person 3 is unmet."""
    wishes = {}
    for key, a, b in [("w1", "p1", "p2"), ("w2", "p3", "p4"), ("w3", "p1", "p3")]:
        wishes[key] = Wish(
            event=site.built.event,
            key=key,
            sender=site.built.participants[a],
            recipient=site.built.participants[b],
            priority=2,
            status=WishStatus.accepted,
        )
        site.session.add(wishes[key])
    version = add_version(
        site.session,
        site.built,
        [("m-a", "s1", "t1", "p1", "p2"), ("m-b", "s1", "t2", "p3", "p4")],
        published_at=at(20) if published else None,
    )
    version.meetings[0].wishes = [wishes["w1"]]
    version.meetings[1].wishes = [wishes["w2"]]
    site.session.commit()


def _signed_in(site: Site) -> tuple[TestClient, str]:
    client = site.client()
    site.sign_in_organiser(client)
    path = f"/organiser/e/{site.slug}/versions/1/edit"
    return client, csrf_of(client, path)


def _post(client: TestClient, site: Site, number: int, action: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(f"/organiser/e/{site.slug}/versions/{number}/edit/{action}", data=data)


def _places(site: Site, number: int = 1) -> dict[str, tuple[str, str, bool, bool]]:
    with site.read() as db:
        version = db.scalar(select(ScheduleVersion).where(ScheduleVersion.number == number))
        assert version is not None
        return {
            m.uid: (m.slot.key, m.location.key, m.placed_by_hand, m.pinned)
            for m in db.scalars(select(Meeting).where(Meeting.version_id == version.id))
        }


def test_a_refused_move_says_why_in_words_and_a_good_one_is_stored(site: Site) -> None:
    _version(site)
    client, csrf = _signed_in(site)
    page = client.get(f"/organiser/e/{site.slug}/versions/1/edit").text
    assert 'id="move-meeting"' in page
    assert "Person 1 &amp; Person 2" in page

    refused = _post(
        client, site, 1, "move", csrf_token=csrf, meeting="m-b", slot="s1", location="t1"
    )
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "Table 1 is taken at Sat 26 Oct 09:00 by Person 1 and Person 2." in text
    assert "Nothing was changed." in text
    assert _places(site)["m-b"] == ("s1", "t2", False, False)

    moved = _post(client, site, 1, "move", csrf_token=csrf, meeting="m-b", slot="s2", location="t1")
    assert moved.status_code == 303
    after = client.get(moved.headers["location"]).text
    assert "Moved the meeting of Person 3 and Person 4 from Sat 26 Oct 09:00 at Table 2 to" in (
        html.unescape(after)
    )
    assert "placed by hand" in after
    assert _places(site)["m-b"] == ("s2", "t1", True, False)


def test_add_pin_and_cancel_from_the_page(site: Site) -> None:
    _version(site)
    client, csrf = _signed_in(site)
    busy = _post(
        client, site, 1, "add", csrf_token=csrf, first="p3", second="p1", slot="s1", location="t1"
    )
    assert busy.status_code == 409
    assert "Person 1 already meets Person 2 at Sat 26 Oct 09:00 at Table 1." in html.unescape(
        busy.text
    )
    added = _post(
        client, site, 1, "add", csrf_token=csrf, first="p3", second="p1", slot="s2", location="t1"
    )
    assert added.status_code == 303
    assert _places(site)["eu-canada-2024-w3"] == ("s2", "t1", True, False)

    page = html.unescape(client.get(f"/organiser/e/{site.slug}/versions/1/edit").text)
    assert "no meeting is pinned yet, so the meetings stay where they are" in page
    assert _post(client, site, 1, "pin", csrf_token=csrf, meeting="m-a").status_code == 303
    assert _places(site)["m-a"][3] is True
    page = html.unescape(client.get(f"/organiser/e/{site.slug}/versions/1/edit").text)
    assert "the pinned meeting stays exactly where it is" in page
    # The version's timetable marks the pinned meeting, and only that one.
    review = client.get(f"/organiser/e/{site.slug}/versions/1").text
    assert review.count('<span class="tag pinned">pinned</span>') == 1
    assert _post(client, site, 1, "cancel", csrf_token=csrf, meeting="m-b").status_code == 303
    assert "m-b" not in _places(site)
    log = client.get(f"/organiser/e/{site.slug}/versions/1/edit").text
    assert "Cancelled the meeting of Person 3 and Person 4" in html.unescape(log)


def test_a_published_version_is_copied_before_editing(site: Site) -> None:
    _version(site, published=True)
    client, csrf = _signed_in(site)
    page = client.get(f"/organiser/e/{site.slug}/versions/1/edit").text
    assert 'id="copy"' in page
    assert 'id="move"' not in page
    refused = _post(
        client, site, 1, "move", csrf_token=csrf, meeting="m-a", slot="s2", location="t1"
    )
    assert refused.status_code == 409
    assert "draft copy" in refused.text
    copied = _post(client, site, 1, "copy", csrf_token=csrf)
    assert copied.status_code == 303
    assert copied.headers["location"].startswith(f"/organiser/e/{site.slug}/versions/2/edit")
    moved = _post(client, site, 2, "move", csrf_token=csrf, meeting="m-a", slot="s2", location="t1")
    assert moved.status_code == 303
    review = html.unescape(client.get(f"/organiser/e/{site.slug}/versions/2").text)
    assert 'moved <strong class="by-hand">by hand</strong>' in review
    assert _places(site, 1)["m-a"] == ("s1", "t1", False, False)


def test_resolve_around_pins_from_the_page_keeps_the_pin(site: Site) -> None:
    _version(site)
    client, csrf = _signed_in(site)
    _post(client, site, 1, "move", csrf_token=csrf, meeting="m-a", slot="s4", location="t2")
    _post(client, site, 1, "pin", csrf_token=csrf, meeting="m-a")
    resolved = _post(client, site, 1, "resolve", csrf_token=csrf, time_limit="5")
    assert resolved.status_code == 303, resolved.text
    assert resolved.headers["location"].startswith(f"/organiser/e/{site.slug}/versions/2")
    places = _places(site, 2)
    assert places["m-a"] == ("s4", "t2", True, True)
    assert "eu-canada-2024-w3" in places  # the unmet wish is met by the re-solve


def test_who_may_not_edit(site: Site) -> None:
    _version(site)
    path = f"/organiser/e/{site.slug}/versions/1/edit"
    anonymous = site.client()
    assert anonymous.get(path).status_code == 401
    # A participant signed in with their personal link is no organiser.
    person = site.client()
    site.sign_in(person, "p1")
    assert person.get(path).status_code == 401
    stranger = Organiser(email="else@example.org", name="Else")
    token = new_token("mmo")
    site.session.add_all(
        [stranger, ApiToken(organiser=stranger, token_hash=hash_token(token), prefix="x")]
    )
    site.session.commit()
    other = site.client()
    login = csrf_of(other, "/organiser/login")
    other.post("/organiser/login", data={"csrf_token": login, "token": token})
    assert other.get(path).status_code == 404
    csrf = csrf_of(other, "/organiser")
    refused = _post(other, site, 1, "cancel", csrf_token=csrf, meeting="m-a")
    assert refused.status_code == 404
    assert "m-a" in _places(site)
    with site.read() as db:
        assert db.scalar(select(func.count()).select_from(HandEdit)) == 0
