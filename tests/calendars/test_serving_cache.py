"""The serving cache of agendas and calendar feeds (matchmaking.delivery.serving), over HTTP,
on both backends: a repeated download costs one query; every change a participant could see — a
publication, a rotated token, an erasure, an edit of the event or of a person — shows in the
very next request, of this process and of any other one over the same database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.delivery.calendars import CANCELLED_RETENTION, participant_feed
from matchmaking.delivery.serving import Served, ServingCache
from matchmaking.participants.privacy import ERASED_NAME, erase_participant
from matchmaking.planning.publishing import publish_version
from matchmaking.platform.db import ReadOnlySessionError, read_only_sessionmaker
from matchmaking.platform.models import Event, ScheduleVersion
from matchmaking.platform.settings import Settings
from tests.api.test_request_statements import statements
from tests.calendars.builders import add_version, at
from tests.calendars.test_http import World


def _feed_url(world: World) -> str:
    return f"/calendars/participants/{world.calendar_token}.ics"


def _agenda(client: TestClient, world: World) -> dict[str, object]:
    response = client.get(
        f"/api/v1/events/{world.built.event.slug}/me/agenda",
        headers={"X-Participant-Token": world.participant_token},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _counterparts(world: World) -> set[str]:
    meetings: list[dict[str, dict[str, str]]] = _agenda(world.client, world)["meetings"]  # type: ignore[assignment]
    return {m["counterpart"]["name"] for m in meetings}


def _app(world: World) -> FastAPI:
    app: FastAPI = world.client.app  # type: ignore[assignment]
    return app


def _publish_move(world: World, day: int = 22) -> ScheduleVersion:
    """p1's meeting eu-w1 moves from s1 to s3, published through the publishing service."""
    version = add_version(
        world.session,
        world.built,
        [("eu-w1", "s3", "t1", "p1", "p2"), ("eu-w2", "s2", "video", "p1", "p4")],
    )
    publish_version(world.session, version, force=True, now=at(day))
    world.session.commit()
    return version


def test_a_repeated_feed_or_agenda_costs_one_query_and_a_revalidation_no_body(
    world: World,
) -> None:
    app, url = _app(world), _feed_url(world)
    cache: ServingCache = app.state.serving_cache
    first = world.client.get(url)
    agenda = _agenda(world.client, world)
    assert first.status_code == 200
    assert cache.misses == 2
    with statements(app) as seen:
        again = world.client.get(url)
        revalidated = world.client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert _agenda(world.client, world) == agenda
    # Token and serving generation in one query each; nothing rendered again.
    assert seen == ["SELECT", "SELECT", "SELECT"]
    assert cache.hits == 3
    assert cache.misses == 2
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == first.headers["etag"]


def test_the_agenda_has_an_etag_and_answers_304_while_unchanged(world: World) -> None:
    path = f"/api/v1/events/{world.built.event.slug}/me/agenda"
    headers = {"X-Participant-Token": world.participant_token}
    first = world.client.get(path, headers=headers)
    assert first.headers["content-type"] == "application/json"
    assert first.headers["cache-control"] == "private, no-cache"
    etag = first.headers["etag"]
    same = world.client.get(path, headers={**headers, "If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    _publish_move(world)
    changed = world.client.get(path, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["version"] == 2


def test_a_publication_shows_in_the_next_feed_and_agenda(world: World) -> None:
    url = _feed_url(world)
    before = world.client.get(url)
    assert _agenda(world.client, world)["version"] == 1
    _publish_move(world)
    after = world.client.get(url)
    assert after.headers["etag"] != before.headers["etag"]
    assert b"SEQUENCE:1" in after.content
    agenda = _agenda(world.client, world)
    assert agenda["version"] == 2
    assert [m["slot"] for m in agenda["meetings"]] == ["s2", "s3"]  # type: ignore[index]


def test_a_revoked_calendar_token_stops_at_once_though_its_feed_is_cached(world: World) -> None:
    old_url = _feed_url(world)
    cached = world.client.get(old_url)
    assert world.client.get(old_url).status_code == 200  # served from the cache
    links = f"/api/v1/events/{world.built.event.slug}/me/calendar-links"
    headers = {"X-Participant-Token": world.participant_token}
    added = world.client.post(links, headers=headers)
    assert added.status_code == 201
    assert world.client.get(old_url).status_code == 200  # a new link leaves the old one be
    replaced = world.client.post(links + "?replace=true", headers=headers)
    assert replaced.status_code == 201
    assert world.client.get(old_url).status_code == 404
    assert world.client.get("/" + added.json()["url"].split("/", 3)[3]).status_code == 404
    new_path = "/" + replaced.json()["url"].split("/", 3)[3]
    fresh = world.client.get(new_path)
    assert fresh.status_code == 200
    assert fresh.content == cached.content


def test_an_erasure_shows_in_the_counterparts_feed_and_ends_the_erased_persons_links(
    world: World,
) -> None:
    url = _feed_url(world)
    assert b"Person 2" in world.client.get(url).content
    assert any(
        m["counterpart"]["name"] == "Person 2" for m in _agenda(world.client, world)["meetings"]
    )  # type: ignore[index,attr-defined]
    p1 = world.built.participants["p1"]
    erase_participant(world.session, world.built.participants["p2"])
    world.session.commit()
    feed = world.client.get(url).content
    assert b"Person 2" not in feed
    assert ERASED_NAME.encode() in feed
    assert "Person 2" not in _counterparts(world)
    assert ERASED_NAME in _counterparts(world)
    # The erased participant's own feed and agenda end with the erasure, cached or not.
    erase_participant(world.session, p1)
    world.session.commit()
    assert world.client.get(url).status_code == 404
    response = world.client.get(
        f"/api/v1/events/{world.built.event.slug}/me/agenda",
        headers={"X-Participant-Token": world.participant_token},
    )
    assert response.status_code == 401


def test_an_edit_of_the_event_or_of_a_person_shows_in_the_next_feed_and_agenda(
    world: World,
) -> None:
    url = _feed_url(world)
    assert b"Palais des congr" in world.client.get(url).content
    staff = {"Authorization": f"Bearer {world.organiser_token}"}
    slug = world.built.event.slug
    response = world.client.patch(
        f"/api/v1/events/{slug}", json={"venue": "Maison du Canada"}, headers=staff
    )
    assert response.status_code == 200, response.text
    feed = world.client.get(url).content
    assert b"Maison du Canada" in feed
    assert b"Palais des congr" not in feed

    assert all(m["start_own_zone"] is None for m in _agenda(world.client, world)["meetings"])  # type: ignore[index,attr-defined]
    response = world.client.patch(
        f"/api/v1/events/{slug}/me",
        json={"timezone": "America/Toronto"},
        headers={"X-Participant-Token": world.participant_token},
    )
    assert response.status_code == 200, response.text
    meetings = _agenda(world.client, world)["meetings"]
    assert all(m["start_own_zone"].endswith("-04:00") for m in meetings)  # type: ignore[attr-defined,index,union-attr]


def test_two_api_processes_over_one_database_both_see_a_publication(
    world: World, db_url: str
) -> None:
    other = create_app(
        Settings(database_url=db_url, environment="test", base_url="https://mm.example.org")
    )
    url = _feed_url(world)
    try:
        with TestClient(other) as second:
            # Both processes hold the feed and the agenda of version 1.
            for client in (world.client, second):
                assert client.get(url).status_code == 200
                assert _agenda(client, world)["version"] == 1
                assert b"SEQUENCE:1" not in client.get(url).content
            _publish_move(world)
            for client in (world.client, second):
                assert b"SEQUENCE:1" in client.get(url).content
                assert _agenda(client, world)["version"] == 2
            assert other.state.serving_cache.hits == 1  # the repeated feed of version 1
    finally:
        other.state.engine.dispose()


def test_the_generation_rises_with_served_changes_only(world: World) -> None:
    session = world.session

    def generation() -> int:
        session.expire_all()
        value = session.scalar(
            select(Event.serving_generation).where(Event.id == world.built.event.id)
        )
        assert value is not None
        return value

    start = generation()
    # A new wish or an unpublished version changes nothing anybody is served.
    add_version(session, world.built, [("eu-w1", "s4", "t2", "p1", "p2")])
    session.commit()
    assert generation() == start
    world.built.participants["p3"].job_title = "Director"
    session.commit()
    assert generation() == start + 1
    world.built.locations["t1"].name = "Table One"
    session.commit()
    assert generation() == start + 2
    session.rollback()


def test_a_cancelled_meeting_leaves_the_cached_feed_when_its_retention_ends(world: World) -> None:
    add_version(
        world.session,
        world.built,
        [("eu-w2", "s2", "video", "p1", "p4")],  # eu-w1 dropped: cancelled in p1's feed
        published_at=at(22),
    )
    world.session.commit()
    feed = participant_feed(world.session, world.built.participants["p1"], now=at(23))
    assert b"STATUS:CANCELLED" in feed.body
    assert feed.valid_until == at(22) + CANCELLED_RETENTION
    cache = ServingCache(10)
    cache.put("calendar", 1, 7, feed)
    assert cache.get("calendar", 1, 7, now=at(22) + timedelta(days=59)) is not None
    assert cache.get("calendar", 1, 7, now=at(22) + CANCELLED_RETENTION) is None
    assert len(cache) == 0


def test_the_cache_keeps_at_most_its_size_dropping_the_least_recently_used() -> None:
    cache = ServingCache(2)
    for participant in (1, 2):
        cache.put("agenda", participant, 0, Served(b"{}", '"x"'))
    assert cache.get("agenda", 1, 0) is not None
    cache.put("agenda", 3, 0, Served(b"{}", '"y"'))
    assert cache.get("agenda", 2, 0) is None  # least recently used
    assert cache.get("agenda", 1, 0) is not None
    assert cache.get("agenda", 3, 0) is not None
    off = ServingCache(0)
    off.put("agenda", 1, 0, Served(b"{}", '"x"'))
    assert off.get("agenda", 1, 0) is None


def test_feeds_are_served_while_a_writer_holds_the_database(world: World) -> None:
    """Feed downloads read in a read-only transaction: on SQLite a plain BEGIN, which WAL
    lets run beside the writer's BEGIN IMMEDIATE instead of queueing behind it."""
    url = _feed_url(world)
    writer = sessionmaker(bind=_app(world).state.engine)()
    try:
        writer.get_one(Event, world.built.event.id).venue = "Somewhere else"
        writer.flush()  # holds the write lock (SQLite) / the event row (PostgreSQL)
        response = world.client.get(url)
        assert response.status_code == 200
        assert b"Palais des congr" in response.content  # the committed state
    finally:
        writer.rollback()
        writer.close()


def test_a_read_only_session_refuses_to_write(world: World) -> None:
    reader = read_only_sessionmaker(_app(world).state.engine)()
    try:
        event = reader.get_one(Event, world.built.event.id)
        event.venue = "Elsewhere"
        with pytest.raises(ReadOnlySessionError):
            reader.flush()
    finally:
        reader.rollback()
        reader.close()
