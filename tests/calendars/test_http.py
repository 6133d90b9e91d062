"""Calendar feeds over HTTP: media type, secret URLs, access, ETag/Last-Modified and 304."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import icalendar
import pytest
import vobject
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.delivery.calendars import MAX_CALENDAR_LINKS, issue_calendar_token
from matchmaking.platform.models import ApiToken, EventRole, EventRoleName, Organiser
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from matchmaking.platform.settings import Settings
from tests.calendars.builders import Built, add_version, at, build_event


@dataclass
class World:
    client: TestClient
    built: Built
    calendar_token: str
    participant_token: str
    organiser_token: str
    outsider_token: str
    session: Session


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    settings = Settings(database_url=db_url, environment="test", base_url="https://mm.example.org")
    app = create_app(settings)
    session = sessionmaker(bind=app.state.engine, expire_on_commit=False)()
    built = build_event(session)
    add_version(
        session,
        built,
        [("eu-w1", "s1", "t1", "p1", "p2"), ("eu-w2", "s2", "video", "p1", "p4")],
        published_at=at(20),
    )
    p1 = built.participants["p1"]
    calendar_token = issue_calendar_token(p1)
    participant_token = new_token(PARTICIPANT_TOKEN_PREFIX)
    p1.access_token_hash = hash_token(participant_token)
    tokens = {}
    for name, role in (("staff", EventRoleName.staff), ("outsider", None)):
        organiser = Organiser(email=f"{name}@example.org", name=name)
        tokens[name] = new_token("mmo")
        session.add_all(
            [
                organiser,
                ApiToken(organiser=organiser, token_hash=hash_token(tokens[name]), prefix="x"),
            ]
        )
        if role is not None:
            session.add(EventRole(event=built.event, organiser=organiser, role=role))
    session.commit()
    with TestClient(app) as client:
        yield World(
            client,
            built,
            calendar_token,
            participant_token,
            tokens["staff"],
            tokens["outsider"],
            session,
        )
    session.close()
    app.state.engine.dispose()


def _parse_both(body: bytes) -> icalendar.Calendar:
    vobject.readOne(body.decode("utf-8"))
    return icalendar.Calendar.from_ical(body)


def test_secret_feed_url_serves_the_agenda_as_text_calendar_with_cache_validators(
    world: World,
) -> None:
    response = world.client.get(f"/calendars/participants/{world.calendar_token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    calendar = _parse_both(response.content)
    assert {str(e["UID"]) for e in calendar.walk("VEVENT")} == {
        "eu-w1@mm.example.org",
        "eu-w2@mm.example.org",
    }


def test_unchanged_feed_answers_304_to_if_none_match_and_if_modified_since(world: World) -> None:
    url = f"/calendars/participants/{world.calendar_token}.ics"
    first = world.client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = world.client.get(url, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    by_date = world.client.get(url, headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    # A different ETag wins over a matching date (RFC 9110).
    stale = world.client.get(url, headers={"If-None-Match": '"old"', "If-Modified-Since": modified})
    assert stale.status_code == 200


def test_republished_schedule_changes_the_etag_and_the_feed(world: World) -> None:
    url = f"/calendars/participants/{world.calendar_token}.ics"
    etag = world.client.get(url).headers["etag"]
    add_version(
        world.session,
        world.built,
        [("eu-w1", "s3", "t1", "p1", "p2"), ("eu-w2", "s2", "video", "p1", "p4")],
        published_at=at(22),
    )
    world.session.commit()
    response = world.client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["etag"] != etag
    sequences = {
        str(e["UID"]): int(e["SEQUENCE"]) for e in _parse_both(response.content).walk("VEVENT")
    }
    assert sequences == {"eu-w1@mm.example.org": 1, "eu-w2@mm.example.org": 0}


def test_unknown_or_replaced_calendar_token_is_not_found(world: World) -> None:
    response = world.client.get("/calendars/participants/mmc_guess.ics")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_participant_downloads_own_feed_and_gets_new_subscription_links(world: World) -> None:
    slug = world.built.event.slug
    headers = {"X-Participant-Token": world.participant_token}
    own = world.client.get(f"/api/v1/events/{slug}/me/calendar.ics", headers=headers)
    assert own.status_code == 200
    assert len(_parse_both(own.content).walk("VEVENT")) == 2

    links = world.client.post(f"/api/v1/events/{slug}/me/calendar-links", headers=headers)
    assert links.status_code == 201
    body = links.json()
    assert body["url"].startswith("https://mm.example.org/calendars/participants/mmc_")
    assert body["webcal_url"] == "webcal://" + body["url"].removeprefix("https://")
    assert (body["active_links"], body["revoked_links"]) == (2, 0)
    token = body["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert world.client.get(f"/calendars/participants/{token}.ics").status_code == 200
    old = world.client.get(f"/calendars/participants/{world.calendar_token}.ics")
    assert old.status_code == 200  # the earlier link keeps working

    anonymous = world.client.get(f"/api/v1/events/{slug}/me/calendar.ics")
    assert anonymous.status_code == 401


def test_event_and_location_feeds_are_for_the_events_organisers_only(world: World) -> None:
    slug = world.built.event.slug
    staff = {"Authorization": f"Bearer {world.organiser_token}"}
    event = world.client.get(f"/api/v1/events/{slug}/calendar.ics", headers=staff)
    assert event.status_code == 200
    assert len(_parse_both(event.content).walk("VEVENT")) == 2

    day = world.client.get(
        f"/api/v1/events/{slug}/locations/t1/calendar.ics?day=2024-10-26", headers=staff
    )
    assert day.status_code == 200
    assert [str(e["UID"]) for e in _parse_both(day.content).walk("VEVENT")] == [
        "eu-w1@mm.example.org"
    ]
    assert (
        world.client.get(
            f"/api/v1/events/{slug}/locations/nowhere/calendar.ics", headers=staff
        ).status_code
        == 404
    )
    # A number is not a day, even though Pydantic would read it as a Unix time (found by fuzzing).
    for bad in ("26.10.2024", "2.040600790821383e-300", "1729900800", "2024-10-26T00:00"):
        bad_day = world.client.get(
            f"/api/v1/events/{slug}/locations/t1/calendar.ics?day={bad}", headers=staff
        )
        assert bad_day.status_code == 422, bad
        assert "day" in bad_day.text
        assert "YYYY-MM-DD" in bad_day.text

    outsider = {"Authorization": f"Bearer {world.outsider_token}"}
    assert (
        world.client.get(f"/api/v1/events/{slug}/calendar.ics", headers=outsider).status_code == 404
    )
    assert world.client.get(f"/api/v1/events/{slug}/calendar.ics").status_code == 401


def test_participant_lists_and_revokes_their_calendar_links(world: World) -> None:
    slug = world.built.event.slug
    headers = {"X-Participant-Token": world.participant_token}
    links = f"/api/v1/events/{slug}/me/calendar-links"
    world.client.post(links, headers=headers)
    listed = world.client.get(links, headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert len(body["links"]) == 2
    assert body["max_links"] == MAX_CALENDAR_LINKS
    assert "mmc_" not in listed.text  # the secrets are never shown again
    assert all(link["created_at"].endswith(("Z", "+00:00")) for link in body["links"])

    revoked = world.client.delete(links, headers=headers)
    assert revoked.status_code == 200
    assert revoked.json() == {"revoked_links": 2}
    old = world.client.get(f"/calendars/participants/{world.calendar_token}.ics")
    assert old.status_code == 404
    assert world.client.get(links, headers=headers).json()["links"] == []
    assert world.client.delete(links).status_code == 401
    assert world.client.get(links).status_code == 401


def test_a_new_calendar_link_beyond_the_maximum_is_refused_with_a_problem(world: World) -> None:
    slug = world.built.event.slug
    headers = {"X-Participant-Token": world.participant_token}
    links = f"/api/v1/events/{slug}/me/calendar-links"
    for _ in range(MAX_CALENDAR_LINKS - 1):  # the world's participant has one already
        assert world.client.post(links, headers=headers).status_code == 201
    refused = world.client.post(links, headers=headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "Replace your links" in refused.json()["detail"]
    replaced = world.client.post(links, params={"replace": "true"}, headers=headers)
    assert replaced.status_code == 201
    assert (replaced.json()["active_links"], replaced.json()["revoked_links"]) == (
        1,
        MAX_CALENDAR_LINKS,
    )
    not_a_flag = world.client.post(links, params={"replace": "maybe"}, headers=headers)
    assert not_a_flag.status_code == 422
    assert "replace" in not_a_flag.text
