"""Agendas and feeds rendered at publication (`matchmaking.delivery.rendered`), on both
backends: a publication stores every participant's agenda and feed, each location's and the
event's feed; a request after it is one statement and renders nothing, in any process; what
is stored is byte for byte what the API renders on request; any change the documents show
makes them unused at once; no raw token is stored; and a re-publication replaces them
atomically while readers read (PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from api.schemas.schedules import agenda_json
from matchmaking.delivery import rendered
from matchmaking.delivery.agenda import participant_agenda
from matchmaking.delivery.calendars import (
    CANCELLED_RETENTION,
    _text_line,
    build_calendar,
    calendar_entries,
    event_feed,
    location_feed,
    participant_feed,
    published_versions,
    slot_days,
)
from matchmaking.delivery.serving import ServingCache, agenda_owner, feed_owner, still_valid
from matchmaking.participants.privacy import erase_participant
from matchmaking.planning.publishing import publish_version
from matchmaking.platform.models import (
    Attendance,
    Participant,
    RenderedDocument,
    ScheduleVersion,
)
from matchmaking.platform.settings import Settings
from tests.api.test_request_statements import statements
from tests.calendars.builders import add_version, at
from tests.calendars.test_http import World


def _app(world: World) -> FastAPI:
    app: FastAPI = world.client.app  # type: ignore[assignment]
    return app


def _settings(world: World) -> Settings:
    settings: Settings = _app(world).state.settings
    return settings


def _publish(world: World, version: ScheduleVersion, day: int | datetime) -> None:
    """Publish and store the documents in one transaction, as the API does."""
    moment = day if isinstance(day, datetime) else at(day)
    publish_version(world.session, version, force=True, now=moment)
    rendered.store_event_documents(
        world.session, world.built.event, agenda_json, settings=_settings(world)
    )
    world.session.commit()


def _second_version(world: World) -> ScheduleVersion:
    return add_version(
        world.session,
        world.built,
        [("eu-w1", "s3", "t1", "p1", "p2"), ("eu-w2", "s2", "video", "p1", "p4")],
    )


def _feed_url(world: World) -> str:
    return f"/calendars/participants/{world.calendar_token}.ics"


def _agenda_url(world: World) -> str:
    return f"/api/v1/events/{world.built.event.slug}/me/agenda"


def test_publishing_over_the_api_stores_every_agenda_and_feed(world: World) -> None:
    version = _second_version(world)
    world.session.commit()
    staff = {"Authorization": f"Bearer {world.organiser_token}"}
    response = world.client.post(
        f"/api/v1/events/{world.built.event.slug}/versions/{version.number}/publish",
        json={"force": True},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    kinds = dict(
        world.session.execute(
            select(RenderedDocument.kind, func.count())
            .where(RenderedDocument.event_id == world.built.event.id)
            .group_by(RenderedDocument.kind)
        ).all()
    )
    people = len(world.built.participants)
    locations = len(world.built.locations)
    days = len(slot_days(world.built.event))
    assert kinds == {
        "agenda": people,
        "calendar": people,
        "location": locations * (1 + days),
        "event": 1,
    }


def test_after_publication_a_feed_or_agenda_is_one_statement_and_nothing_is_rendered(
    world: World,
) -> None:
    _publish(world, _second_version(world), 22)
    app = _app(world)
    cache: ServingCache = app.state.serving_cache
    headers = {"X-Participant-Token": world.participant_token}
    with statements(app) as seen:
        feed = world.client.get(_feed_url(world))
        agenda = world.client.get(_agenda_url(world), headers=headers)
    assert feed.status_code == 200
    assert agenda.status_code == 200
    assert seen == ["SELECT", "SELECT"]
    assert cache.misses == 0
    assert cache.hits == 0
    assert (
        world.client.get(
            _feed_url(world), headers={"If-None-Match": feed.headers["etag"]}
        ).status_code
        == 304
    )
    again = world.client.get(
        _agenda_url(world), headers={**headers, "If-None-Match": agenda.headers["etag"]}
    )
    assert again.status_code == 304


def test_stored_documents_are_what_the_api_renders_on_request(world: World) -> None:
    _publish(world, _second_version(world), 22)
    session, event, settings = world.session, world.built.event, _settings(world)
    session.expire_all()
    for participant in world.built.participants.values():
        stored = rendered.stored_document(session, event, "calendar", str(participant.id))
        assert stored is not None
        assert stored == participant_feed(session, participant, settings=settings)
        agenda = rendered.stored_document(session, event, "agenda", str(participant.id))
        assert agenda is not None
        assert agenda.body == agenda_json(participant_agenda(session, participant))
        # The pages read it back as the domain's agenda, the same field by field.
        back = rendered.stored_agenda(session, participant)
        assert back is not None
        assert agenda_json(back) == agenda.body
        assert back.meetings == participant_agenda(session, participant).meetings
    for location in world.built.locations.values():
        for day in [None, *slot_days(event)]:
            key = rendered.location_key(location.id, day)
            stored = rendered.stored_document(session, event, "location", key)
            assert stored == location_feed(session, location, day, settings=settings)
    assert rendered.stored_document(session, event, "event", "") == event_feed(
        session, event, settings=settings
    )
    expected = event_feed(session, event, settings=settings).body
    session.commit()
    # Over HTTP too: the organisers' feeds come from what is stored.
    staff = {"Authorization": f"Bearer {world.organiser_token}"}
    whole = world.client.get(f"/api/v1/events/{event.slug}/calendar.ics", headers=staff)
    assert whole.content == expected


def test_no_token_is_stored_and_documents_are_found_by_the_token_hash_only(world: World) -> None:
    _publish(world, _second_version(world), 22)
    rows = world.session.scalars(select(RenderedDocument)).all()
    for row in rows:
        for token in (world.calendar_token, world.participant_token):
            assert token.encode() not in row.body
            assert token not in row.key
    engine = _app(world).state.lean_engine
    owner = feed_owner(engine, world.calendar_token)
    assert owner is not None
    assert owner.stored is not None
    person = agenda_owner(engine, world.participant_token)
    assert person is not None
    assert person.stored is not None
    assert feed_owner(engine, "mmc_guess") is None


def test_a_change_without_publication_is_served_at_once_never_the_stored_document(
    world: World,
) -> None:
    _publish(world, _second_version(world), 22)
    headers = {"X-Participant-Token": world.participant_token}
    stored_feed = world.client.get(_feed_url(world))
    stored_agenda = world.client.get(_agenda_url(world), headers=headers)
    # The counterpart renames themself and goes online: p1's agenda and feed show it.
    p2 = world.session.get_one(Participant, world.built.participants["p2"].id)
    p2.name = "Renamed Person"
    world.session.commit()
    feed = world.client.get(_feed_url(world))
    agenda = world.client.get(_agenda_url(world), headers=headers)
    assert b"Renamed Person" in feed.content
    assert b"Renamed Person" not in stored_feed.content
    assert "Renamed Person" in agenda.text
    assert "Renamed Person" not in stored_agenda.text
    assert feed.headers["etag"] != stored_feed.headers["etag"]
    # The organisers' feeds as well.
    staff = {"Authorization": f"Bearer {world.organiser_token}"}
    whole = world.client.get(f"/api/v1/events/{world.built.event.slug}/calendar.ics", headers=staff)
    assert b"Renamed Person" in whole.content
    # The next publication stores documents that hold again.
    third = add_version(
        world.session,
        world.built,
        [("eu-w1", "s1", "t1", "p1", "p2"), ("eu-w2", "s2", "video", "p1", "p4")],
    )
    _publish(world, third, 23)
    owner = feed_owner(_app(world).state.lean_engine, world.calendar_token)
    assert owner is not None
    assert owner.stored is not None
    assert b"Renamed Person" in owner.stored.body


def test_a_stored_feed_is_not_served_after_a_cancelled_meeting_left_it(world: World) -> None:
    # Version 2 drops p1's meeting eu-w2: p1's feed shows it cancelled, for a while only.
    dropped = add_version(world.session, world.built, [("eu-w1", "s1", "t1", "p1", "p2")])
    published_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    _publish(world, dropped, published_at)
    owner = feed_owner(_app(world).state.lean_engine, world.calendar_token)
    assert owner is not None
    assert owner.stored is not None
    assert owner.stored.valid_until == published_at + CANCELLED_RETENTION
    row = world.session.execute(
        select(
            RenderedDocument.body,
            RenderedDocument.etag,
            RenderedDocument.last_modified,
            RenderedDocument.valid_until,
        ).where(
            RenderedDocument.kind == "calendar",
            RenderedDocument.participant_id == owner.participant_id,
        )
    ).one()
    assert still_valid(*row) is not None
    later = published_at + CANCELLED_RETENTION + timedelta(seconds=1)
    assert still_valid(*row, now=later) is None


def test_stored_location_and_event_feeds_are_not_served_after_a_cancelled_meeting_left_them(
    world: World,
) -> None:
    # Version 2 drops eu-w2 (the video room): the event's feed and the room's show it
    # cancelled for a while only, as the participant's does.
    dropped = add_version(world.session, world.built, [("eu-w1", "s1", "t1", "p1", "p2")])
    published_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    _publish(world, dropped, published_at)
    video = world.built.locations["video"]
    later = published_at + CANCELLED_RETENTION + timedelta(seconds=1)
    for kind, key in (("event", ""), ("location", rendered.location_key(video.id, None))):
        row = world.session.execute(
            select(
                RenderedDocument.body,
                RenderedDocument.etag,
                RenderedDocument.last_modified,
                RenderedDocument.valid_until,
            ).where(RenderedDocument.kind == kind, RenderedDocument.key == key)
        ).one()
        assert b"STATUS:CANCELLED" in row.body
        assert still_valid(*row) is not None
        assert still_valid(*row, now=later) is None, kind


def test_a_second_api_process_serves_the_stored_documents_without_rendering(
    world: World, db_url: str
) -> None:
    _publish(world, _second_version(world), 22)
    other = create_app(
        Settings(database_url=db_url, environment="test", base_url="https://mm.example.org")
    )
    with TestClient(other) as client:
        response = client.get(_feed_url(world))
        assert response.status_code == 200
        assert response.content == world.client.get(_feed_url(world)).content
        cache: ServingCache = other.state.serving_cache
        assert cache.misses == 0
    other.state.engine.dispose()
    other.state.lean_engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_readers_during_republications_see_one_whole_version_and_never_a_stale_one(
    world: World, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent readers beside a publisher: PostgreSQL")
    # Versions that alternate p1's meeting eu-w1 between slots s1 and s3 (and its table).
    versions = [
        add_version(
            world.session,
            world.built,
            [
                ("eu-w1", "s3" if n % 2 else "s1", "t1", "p1", "p2"),
                ("eu-w2", "s2", "video", "p1", "p4"),
            ],
        )
        for n in range(8)
    ]
    world.session.commit()
    engine = _app(world).state.lean_engine
    p1 = str(world.built.participants["p1"].id)
    published: dict[int, tuple[int, str, str]] = {}  # generation -> (version, feed ETag, agenda)
    seen: list[tuple[int, str, str]] = []
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            feed = feed_owner(engine, world.calendar_token)
            agenda = agenda_owner(engine, world.participant_token)
            if feed is None or agenda is None:
                problems.append("a token was not found")
            elif feed.stored is None or agenda.stored is None:
                problems.append(f"nothing stored for generation {feed.generation}")
            else:
                seen.append((feed.generation, "feed", feed.stored.etag))
                seen.append((agenda.generation, "agenda", agenda.stored.body.decode()))

    sessions = sessionmaker(bind=_app(world).state.engine, expire_on_commit=False)

    def publish(version: ScheduleVersion, day: int) -> None:
        _publish(world, version, day)
        with sessions() as check:
            generation = check.scalar(select(func.max(RenderedDocument.generation)))
            feed = rendered.stored_document(check, world.built.event, "calendar", p1)
            agenda = rendered.stored_document(check, world.built.event, "agenda", p1)
            assert generation is not None
            assert feed is not None
            assert agenda is not None
            published[generation] = (version.number, feed.etag, agenda.body.decode())

    publish(versions[0], 10)
    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for day, version in enumerate(versions[1:], start=11):
            publish(version, day)
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert not problems, problems[:5]
    assert len(seen) > 20
    # Every read is the whole of the version published at its generation: the feed and the
    # agenda of that very publication, never those of the one before.
    assert {generation for generation, _, _ in seen} <= set(published)
    assert len({generation for generation, _, _ in seen}) > 1
    for generation, kind, value in seen:
        number, etag, agenda_body = published[generation]
        if kind == "feed":
            assert value == etag
        else:
            assert value == agenda_body
            assert f'"version":{number}' in value


TRICKY = [
    "Ana, Bo; Cé\\dric",
    "Zoë Çelik-Ünal – Forschungsgesellschaft für angewandte Quantentechnologie mbH, Berlin",
    'Caret ^ and "quotes" and a very long name that goes on and on past the fold of seventy-five',
    "日本語の名前と長い組織名がここに続きます、折り返しの境界を越えて",
    "Back\\slash at the fold " + "x" * 50 + "\\;",
]


def test_feeds_are_written_byte_for_byte_as_icalendar_writes_them(world: World) -> None:
    session, event, settings = world.session, world.built.event, _settings(world)
    event.name = 'Fair, 2024; "EU–Canada" ^ ' + "é" * 30
    event.venue = "Hall 1, Level 2; Centre des congrès"
    for participant, name in zip(world.built.participants.values(), TRICKY, strict=False):
        participant.name = name
        participant.organisation.name = name[::-1]
        participant.job_title = name[:20]
    session.commit()
    _publish(world, _second_version(world), 22)
    versions = published_versions(session, event)
    for participant in world.built.participants.values():
        entries = calendar_entries(
            session,
            event,
            lambda m, pid=participant.id: pid in (m.participant_a_id, m.participant_b_id),
            versions=versions,
        )
        name = f"{event.name} – {participant.name}"
        expected = build_calendar(
            event, entries, name=name, viewer=participant, settings=settings
        ).to_ical()
        assert participant_feed(session, participant, settings=settings).body == expected
    entries = calendar_entries(session, event, lambda m: True, versions=versions)
    expected = build_calendar(event, entries, name=event.name, settings=settings).to_ical()
    assert event_feed(session, event, settings=settings).body == expected
    assert rendered.stored_document(session, event, "event", "") is not None


def test_texts_are_escaped_and_folded_as_icalendar_does() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        alphabet = rng.choice(["ab\\^;, xy:", "ab\\^;,\n é日–"])
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 240)))
        component = icalendar.Event()
        component.add("summary", value)
        expected = component.to_ical()[len(b"BEGIN:VEVENT\r\n") : -len(b"END:VEVENT\r\n")]
        assert _text_line("SUMMARY", value) == expected, value


def _erase_counterpart(world: World) -> None:
    erase_participant(world.session, world.built.participants["p2"])


def _counterpart_goes_online(world: World) -> None:
    world.built.participants["p2"].attendance = Attendance.online


def _table_renamed(world: World) -> None:
    world.built.locations["t1"].name = "Table One"


def _organisation_renamed(world: World) -> None:
    world.built.participants["p2"].organisation.name = "Renamed Organisation"


def _venue_moved(world: World) -> None:
    world.built.event.venue = "Another Hall"


def _slot_moved(world: World) -> None:
    world.built.slots["s3"].start += timedelta(minutes=5)
    world.built.slots["s3"].end += timedelta(minutes=5)


@pytest.mark.parametrize(
    "change",
    [
        _erase_counterpart,
        _counterpart_goes_online,
        _table_renamed,
        _organisation_renamed,
        _venue_moved,
        _slot_moved,
    ],
)
def test_every_change_an_agenda_or_feed_shows_leaves_the_stored_documents_unused(
    world: World, change: Callable[[World], None]
) -> None:
    _publish(world, _second_version(world), 22)
    engine = _app(world).state.lean_engine
    stored_feed = feed_owner(engine, world.calendar_token)
    stored_agenda = agenda_owner(engine, world.participant_token)
    assert stored_feed is not None
    assert stored_feed.stored is not None
    assert stored_agenda is not None
    assert stored_agenda.stored is not None
    change(world)
    world.session.commit()
    feed = feed_owner(engine, world.calendar_token)
    agenda = agenda_owner(engine, world.participant_token)
    assert feed is not None
    assert agenda is not None
    assert feed.stored is None
    assert agenda.stored is None
    assert rendered.stored_document(world.session, world.built.event, "event", "") is None
    world.session.commit()
    # What the API serves instead is rendered from the changed rows (attendance shows in the
    # agenda only).
    served_feed = world.client.get(_feed_url(world))
    served_agenda = world.client.get(
        _agenda_url(world), headers={"X-Participant-Token": world.participant_token}
    )
    assert served_feed.status_code == 200
    assert served_agenda.status_code == 200
    assert (served_feed.content, served_agenda.content) != (
        stored_feed.stored.body,
        stored_agenda.stored.body,
    )
