"""Calendar subscription on the participant's pages: a new link never breaks an earlier one;
replacing them all is a separate action, confirmed, that says what it does."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matchmaking.delivery.calendars import MAX_CALENDAR_LINKS
from matchmaking.platform.models import CalendarLink
from tests.calendars.builders import add_version, at
from tests.pages.conftest import Site, csrf_of

FEED_URL = re.compile(r'id="feed-url" readonly value="([^"]+)"')


def _publish(site: Site) -> None:
    add_version(site.session, site.built, [("eu-w1", "s1", "t1", "p1", "p2")], published_at=at(20))
    site.session.commit()


def _subscribe(client: TestClient, site: Site) -> tuple[int, str, str]:
    """Press "Subscribe in your calendar app" on the agenda: status, page, feed path."""
    token = csrf_of(client, f"/e/{site.slug}/me")
    page = client.post(f"/e/{site.slug}/me/calendar", data={"csrf_token": token})
    found = FEED_URL.search(page.text)
    path = html.unescape(found.group(1)).removeprefix("http://testserver") if found else ""
    return page.status_code, page.text, path


def _links(site: Site) -> int:
    with site.read() as db:
        return db.scalar(select(func.count()).select_from(CalendarLink)) or 0


def test_subscribing_again_keeps_the_earlier_calendar_link_working(site: Site) -> None:
    _publish(site)
    client = site.client()
    site.sign_in(client, "p1")
    status, first_page, first = _subscribe(client, site)
    assert status == 200
    assert first.startswith("/calendars/participants/mmc_")
    assert "stopped working" not in first_page
    status, second_page, second = _subscribe(client, site)
    assert status == 200
    assert second != first

    assert "Links you made before keep working: you now have 2 working calendar links" in (
        second_page
    )
    assert "Replace my calendar link — the old ones stop working" in second_page
    for path in (first, second):
        feed = client.get(path)
        assert feed.status_code == 200
        assert b"BEGIN:VEVENT" in feed.content


def test_replacing_calendar_links_asks_first_then_ends_every_earlier_link(site: Site) -> None:
    _publish(site)
    client = site.client()
    site.sign_in(client, "p1")
    earlier = [_subscribe(client, site)[2] for _ in range(2)]

    confirm = client.get(f"/e/{site.slug}/me/calendar/replace")
    assert confirm.status_code == 200
    assert "You have 2 working calendar links" in confirm.text
    assert "every earlier link stops working at once" in confirm.text
    assert "Replace my calendar link — the old one stops working" in confirm.text
    token = csrf_of(client, f"/e/{site.slug}/me/calendar/replace")

    # Without the ticked box nothing changes, and the page says what is missing.
    refused = client.post(f"/e/{site.slug}/me/calendar/replace", data={"csrf_token": token})
    assert refused.status_code == 400
    assert 'id="confirm-error"' in refused.text
    assert "Tick the box" in refused.text
    assert [client.get(path).status_code for path in earlier] == [200, 200]
    assert _links(site) == 2

    replaced = client.post(
        f"/e/{site.slug}/me/calendar/replace", data={"csrf_token": token, "confirm": "yes"}
    )
    assert replaced.status_code == 200
    assert "2 earlier links stopped working just now" in replaced.text
    newest = html.unescape(FEED_URL.search(replaced.text).group(1))  # type: ignore[union-attr]
    assert [client.get(path).status_code for path in earlier] == [404, 404]
    assert client.get(newest.removeprefix("http://testserver")).status_code == 200
    assert _links(site) == 1


def test_at_the_most_links_subscribing_offers_to_replace_them_instead(site: Site) -> None:
    client = site.client()
    site.sign_in(client, "p1")
    for _ in range(MAX_CALENDAR_LINKS):
        assert _subscribe(client, site)[0] == 200
    status, page, path = _subscribe(client, site)
    assert status == 409
    assert not path
    assert f"You already have {MAX_CALENDAR_LINKS} calendar links" in page
    assert f"You have {MAX_CALENDAR_LINKS} working calendar links" in page
    assert _links(site) == MAX_CALENDAR_LINKS


def test_only_the_signed_in_participant_reaches_the_replace_page(site: Site) -> None:
    stranger = site.client()
    assert stranger.get(f"/e/{site.slug}/me/calendar/replace").status_code == 401
    token = csrf_of(stranger, f"/e/{site.slug}/register")
    refused = stranger.post(
        f"/e/{site.slug}/me/calendar/replace", data={"csrf_token": token, "confirm": "yes"}
    )
    assert refused.status_code == 401
