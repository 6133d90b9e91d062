"""Agendas (times with the right offset, video links, own time zone) and version analysis
(diff by meeting uid, statistics, staleness) on real databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from matchmaking.delivery.agenda import participant_agenda
from matchmaking.organising.events import delete_location, delete_slot, get_location, get_slot
from matchmaking.planning.versions import diff_versions, version_staleness, version_statistics
from matchmaking.platform.errors import Conflict
from matchmaking.platform.models import Attendance, Slot, WishStatus
from tests.schedule_factory import add_participant, add_wish, make_event, make_version, participant


def test_agenda_times_carry_the_offset_of_their_day_across_a_dst_change(session: Session) -> None:
    event = make_event(
        session,
        slug="berlin-autumn",
        timezone="Europe/Berlin",
        first_slot=datetime(2024, 10, 26, 9),
    )
    after_change = datetime(2024, 10, 28, 9)
    block = event.sessions[0]
    session.add(
        Slot(
            event=event,
            session=block,
            key="s9",
            start=after_change,
            end=after_change + timedelta(minutes=20),
        )
    )
    session.flush()
    add_wish(session, event, "w1", "p1", "p2")
    add_wish(session, event, "w2", "p1", "p3")
    version = make_version(
        session,
        event,
        [("u1", "s1", "t1", "p1", "p2", ["w1"]), ("u2", "s9", "t1", "p1", "p3", ["w2"])],
    )

    agenda = participant_agenda(session, participant(session, event, "p1"), version)

    assert [m.start for m in agenda.meetings] == [
        "2024-10-26T09:00:00+02:00",
        "2024-10-28T09:00:00+01:00",
    ]
    assert [m.kind for m in agenda.meetings] == ["C2B", "C2B"]


def test_online_meetings_get_a_video_link_and_times_in_the_participants_own_zone(
    session: Session,
) -> None:
    event = make_event(session)
    far = add_participant(session, event, "p9", attendance=Attendance.online)
    far.timezone = "Asia/Taipei"
    add_wish(session, event, "w1", "p9", "p2")
    version = make_version(
        session, event, [("eu-canada-2024-w1", "s1", "video", "p9", "p2", ["w1"])]
    )

    (meeting,) = participant_agenda(session, far, version).meetings

    assert meeting.video_url == "https://video.example.org/rooms/eu-canada-2024-w1"
    assert meeting.start == "2024-09-10T09:00:00-04:00"
    assert meeting.start_own_zone == "2024-09-10T21:00:00+08:00"
    assert meeting.counterpart.key == "p2"


def test_a_diff_tells_added_moved_and_removed_meetings_apart(session: Session) -> None:
    event = make_event(session)
    for key, a, b in [
        ("w1", "p1", "p2"),
        ("w2", "p3", "p4"),
        ("w3", "p1", "p3"),
        ("w4", "p2", "p4"),
    ]:
        add_wish(session, event, key, a, b)
    old = make_version(
        session,
        event,
        [
            ("u1", "s1", "t1", "p1", "p2", ["w1"]),
            ("u2", "s1", "t2", "p3", "p4", ["w2"]),
            ("u3", "s2", "t1", "p1", "p3", ["w3"]),
        ],
    )
    new = make_version(
        session,
        event,
        [
            ("u1", "s1", "t1", "p1", "p2", ["w1"]),
            ("u2", "s3", "t2", "p3", "p4", ["w2"]),
            ("u4", "s2", "t2", "p2", "p4", ["w4"]),
        ],
    )

    diff = diff_versions(session, old, new)

    assert [c.uid for c in diff.added] == ["u4"]
    assert [(c.uid, c.old.slot, c.new.slot) for c in diff.moved if c.old and c.new] == [
        ("u2", "s1", "s3")
    ]
    assert [c.uid for c in diff.removed] == ["u3"]
    assert diff.unchanged == 1


def test_statistics_count_participants_without_meetings_and_unscheduled_reasons(
    session: Session,
) -> None:
    event = make_event(session)
    add_wish(session, event, "w1", "p1", "p2")
    add_wish(session, event, "w2", "p3", "p4")
    add_wish(session, event, "w3", "p1", "p4", status=WishStatus.declined)
    session.commit()
    version = make_version(
        session,
        event,
        [("u1", "s1", "t1", "p1", "p2", ["w1"])],
        unscheduled=[("w2", "participant_at_cap")],
    )

    stats = version_statistics(session, version)

    assert (stats.requested, stats.accepted, stats.scheduled) == (3, 2, 1)
    assert stats.scheduled_share == 0.5
    assert stats.meetings_per_participant == {0: 2, 1: 2}
    assert stats.unscheduled_by_reason == {"participant_at_cap": 1}
    assert [u.meetings for u in stats.location_use] == [1, 0, 0, 0]
    assert stats.location_use[0].by_location == {"t1": 1}


def test_staleness_lists_withdrawn_wishes_and_late_registrations(session: Session) -> None:
    event = make_event(session)
    wish = add_wish(session, event, "w1", "p1", "p2")
    session.commit()
    version = make_version(session, event, [("u1", "s1", "t1", "p1", "p2", ["w1"])])
    session.commit()

    wish.status = WishStatus.cancelled
    add_participant(session, event, "p7")
    session.commit()

    changes = version_staleness(session, version).changes
    assert sorted((c.kind, c.key) for c in changes) == [
        ("participant_registered", "p7"),
        ("wish_withdrawn", "w1"),
    ]


def test_a_slot_or_location_a_version_meets_in_cannot_be_removed_unlike_an_unused_one(
    session: Session,
) -> None:
    event = make_event(session)
    add_wish(session, event, "w1", "p1", "p2")
    make_version(session, event, [("u1", "s1", "t1", "p1", "p2", ["w1"])])

    with pytest.raises(Conflict) as slot_refused:
        delete_slot(session, get_slot(session, event, "s1"))
    assert str(slot_refused.value) == (
        "Slot 's1' holds 1 meetings of schedule versions; it cannot be removed."
    )
    with pytest.raises(Conflict) as location_refused:
        delete_location(session, get_location(session, event, "t1"))
    assert str(location_refused.value) == (
        "Location 't1' holds 1 meetings of schedule versions; it cannot be removed."
    )

    delete_slot(session, get_slot(session, event, "s2"))
    delete_location(session, get_location(session, event, "t2"))
    session.commit()
    session.refresh(event)
    assert {s.key for s in event.slots} == {"s1", "s3", "s4"}
    assert {loc.key for loc in event.locations} == {"t1", "video"}
