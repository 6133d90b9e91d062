"""Publishing: one current published version per event, history kept, atomic under races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.planning.publishing import (
    PublishedVersionChanged,
    PublishError,
    VersionHasNoSchedule,
    VersionIsStale,
    current_published_version,
    publication_history,
    publication_mails,
    publish_version,
)
from matchmaking.planning.versions import as_utc
from matchmaking.platform.mail import render
from matchmaking.platform.models import Event, EventStatus, ScheduleVersion, utcnow
from matchmaking.platform.settings import Settings
from tests.schedule_factory import add_wish, make_event, make_version

FIRST = [
    ("ev-w1", "s1", "t1", "p1", "p2", ["w1"]),
    ("ev-w2", "s2", "t1", "p3", "p4", ["w2"]),
]


def _event_with_wishes(session: Session) -> Event:
    event = make_event(session)
    add_wish(session, event, "w1", "p1", "p2")
    add_wish(session, event, "w2", "p3", "p4")
    add_wish(session, event, "w3", "p1", "p3")
    session.commit()
    return event


def test_first_publication_makes_the_version_current_and_tells_everyone(session: Session) -> None:
    event = _event_with_wishes(session)
    version = make_version(session, event, FIRST, unscheduled=[("w3", "no_common_slot")])

    result = publish_version(session, version)
    session.commit()

    assert current_published_version(session, event.id) == version
    assert version.published_at is not None
    assert version.superseded_at is None
    assert event.status == EventStatus.published
    assert result.previous is None
    assert {n.kind for n in result.notifications} == {"schedule_published"}
    assert len(result.notifications) == 4


def test_republishing_keeps_the_previous_version_in_history_and_notifies_only_the_affected(
    session: Session,
) -> None:
    event = _event_with_wishes(session)
    first = make_version(session, event, FIRST, unscheduled=[("w3", "no_common_slot")])
    publish_version(session, first)
    session.commit()
    second = make_version(
        session,
        event,
        [("ev-w1", "s3", "t2", "p1", "p2", ["w1"]), ("ev-w2", "s2", "t1", "p3", "p4", ["w2"])],
        based_on=first,
        unscheduled=[("w3", "no_common_slot")],
    )

    result = publish_version(session, second)
    session.commit()

    assert current_published_version(session, event.id) == second
    assert first.published_at is not None
    assert first.superseded_at is not None
    assert publication_history(session, event.id) == [first, second]
    assert result.diff is not None
    assert [c.uid for c in result.diff.moved] == ["ev-w1"]
    assert {n.kind for n in result.notifications} == {"meeting_changed"}
    keys = {n.participant_id for n in result.notifications}
    assert keys == {p.id for p in event.participants if p.key in {"p1", "p2"}}


def test_publishing_the_current_version_again_changes_nothing(session: Session) -> None:
    event = _event_with_wishes(session)
    version = make_version(session, event, FIRST, unscheduled=[("w3", "no_common_slot")])
    publish_version(session, version)
    session.commit()
    published_at = version.published_at

    result = publish_version(session, version)

    assert result.unchanged
    assert result.notifications == []
    assert version.published_at is not None
    assert published_at is not None
    assert as_utc(version.published_at) == as_utc(published_at)


def test_a_version_without_a_schedule_cannot_be_published_even_with_force(
    session: Session,
) -> None:
    event = _event_with_wishes(session)
    version = make_version(session, event, [], status="infeasible")

    with pytest.raises(VersionHasNoSchedule, match="infeasible"):
        publish_version(session, version, force=True)


def test_a_version_not_planned_from_the_published_one_needs_force(session: Session) -> None:
    event = _event_with_wishes(session)
    unscheduled = [("w3", "no_common_slot")]
    first = make_version(session, event, FIRST, unscheduled=unscheduled)
    from_scratch = make_version(session, event, FIRST, unscheduled=unscheduled)
    publish_version(session, first)
    session.commit()

    with pytest.raises(PublishedVersionChanged, match="version 1 is published"):
        publish_version(session, from_scratch)
    publish_version(session, from_scratch, force=True)
    session.commit()
    assert current_published_version(session, event.id) == from_scratch


def test_a_stale_version_names_the_wish_it_lacks_and_needs_force(session: Session) -> None:
    event = _event_with_wishes(session)
    version = make_version(
        session,
        event,
        FIRST,
        unscheduled=[("w3", "no_common_slot")],
    )
    session.commit()
    add_wish(session, event, "w4", "p2", "p4")
    session.commit()

    with pytest.raises(VersionIsStale) as refused:
        publish_version(session, version)
    assert [(c.kind, c.key) for c in refused.value.changes] == [("wish_added", "w4")]
    session.rollback()
    publish_version(session, version, force=True)
    session.commit()
    assert current_published_version(session, event.id) == version


def test_the_database_refuses_two_current_published_versions(session: Session) -> None:
    event = _event_with_wishes(session)
    make_version(session, event, FIRST)
    make_version(session, event, FIRST)
    session.commit()

    def publish_both() -> None:
        session.execute(
            update(ScheduleVersion)
            .where(ScheduleVersion.event_id == event.id)
            .values(published_at=utcnow())
        )
        session.flush()

    with pytest.raises(IntegrityError):
        publish_both()


def test_two_concurrent_publishers_exactly_one_wins(session: Session, engine: Engine) -> None:
    event = _event_with_wishes(session)
    unscheduled = [("w3", "no_common_slot")]
    ids = [make_version(session, event, FIRST, unscheduled=unscheduled).id for _ in range(2)]
    session.commit()
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def publish(version_id: int) -> None:
        with factory() as own:
            start.wait()
            try:
                publish_version(own, own.get_one(ScheduleVersion, version_id), force=False)
                own.commit()
                outcomes.append("published")
            except (PublishError, IntegrityError) as refused:
                own.rollback()
                outcomes.append(type(refused).__name__)

    threads = [threading.Thread(target=publish, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["PublishedVersionChanged", "published"]
    current = session.scalars(
        select(ScheduleVersion).where(
            ScheduleVersion.event_id == event.id,
            ScheduleVersion.published_at.is_not(None),
            ScheduleVersion.superseded_at.is_(None),
        )
    ).all()
    assert len(current) == 1


def test_the_changed_meeting_mail_says_where_the_meeting_moved(session: Session) -> None:
    event = _event_with_wishes(session)
    unscheduled = [("w3", "no_common_slot")]
    first = make_version(session, event, FIRST, unscheduled=unscheduled)
    publish_version(session, first)
    moved = [("ev-w1", "s3", "t2", "p1", "p2", ["w1"]), ("ev-w2", "s2", "t1", "p3", "p4", ["w2"])]
    second = make_version(session, event, moved, based_on=first, unscheduled=unscheduled)
    result = publish_version(session, second)

    mails = publication_mails(session, event, result, "http://matchmaking.test")

    assert sorted(m.to for m in mails) == ["p1@example.org", "p2@example.org"]
    text = render(mails[0], Settings(environment="test")).get_body(("plain",)).get_content()
    assert "moved from Tue 10 Sep 09:00 EDT, Table 1 to Tue 10 Sep 09:50 EDT, Table 2" in text
    assert "http://matchmaking.test/e/eu-canada-2024/me" in text
