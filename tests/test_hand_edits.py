"""Hand edits of a schedule version (matchmaking/planning/hand_edits.py) on both databases:
each edit's happy path, refusals in words with nothing stored, published versions and their
draft copies, pins kept by a real re-solve, diffs that show hand edits, and two edits at
once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.planning import hand_edits
from matchmaking.planning.versions import diff_versions, load_meetings, version_staleness
from matchmaking.platform.models import (
    Attendance,
    Event,
    HandEdit,
    Meeting,
    Participant,
    ParticipantUnavailableSlot,
    ScheduleVersion,
    Slot,
    Wish,
    utcnow,
)
from solver.problem import SolveParameters
from tests.schedule_factory import add_wish, make_event, make_version


def _setup(session: Session) -> tuple[Event, ScheduleVersion]:
    """p1–p2 at 09:00 at Table 1, p3–p4 at 09:00 at Table 2; p1's wish to meet p3 unmet."""
    event = make_event(session, slug="fair", participants=4, slots=4, tables=2)
    add_wish(session, event, "w1", "p1", "p2")
    add_wish(session, event, "w2", "p3", "p4", required=True)
    add_wish(session, event, "w3", "p1", "p3")
    version = make_version(
        session,
        event,
        [
            ("fair-w1", "s1", "t1", "p1", "p2", ["w1"]),
            ("fair-w2", "s1", "t2", "p3", "p4", ["w2"]),
        ],
        unscheduled=[("w3", "participant_at_cap")],
    )
    session.commit()
    return event, version


def _where(session: Session, version: ScheduleVersion) -> dict[str, tuple[str, str, bool, bool]]:
    session.expire_all()
    return {
        m.uid: (m.slot.key, m.location.key, m.placed_by_hand, m.pinned)
        for m in load_meetings(session, version)
    }


def _edits(session: Session, version: ScheduleVersion) -> int:
    return session.scalar(select(func.count()).where(HandEdit.version_id == version.id)) or 0


def test_move_a_meeting(session: Session) -> None:
    event, version = _setup(session)
    result = hand_edits.move_meeting(session, event, version, "fair-w1", slot="s2", location="t2")
    session.commit()
    assert _where(session, version)["fair-w1"] == ("s2", "t2", True, False)
    assert result.edit.text == (
        "Moved the meeting of Person p1 and Person p2 from 09:00 at Table 1 to 09:25 at Table 2."
    )
    assert version.objective["scheduled"] == 2


def test_a_refused_move_says_why_and_stores_nothing(session: Session) -> None:
    event, version = _setup(session)
    before = _where(session, version)
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.move_meeting(session, event, version, "fair-w2", slot="s1", location="t1")
    session.rollback()
    assert refused.value.reasons == ["Table 1 is taken at 09:00 by Person p1 and Person p2."]
    assert "p1" not in refused.value.detail.replace("Person p1", "")  # names, never keys
    assert _where(session, version) == before
    assert _edits(session, version) == 0


def test_a_move_onto_a_busy_participant_names_the_meeting(session: Session) -> None:
    event, version = _setup(session)
    hand_edits.add_meeting(session, event, version, ("p1", "p3"), slot="s2", location="t1")
    session.commit()
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.move_meeting(session, event, version, "fair-w3", slot="s1", location="video")
    session.rollback()
    reasons = refused.value.reasons
    assert "Person p1 already meets Person p2 at 09:00 at Table 1." in reasons
    assert "Person p3 already meets Person p4 at 09:00 at Table 2." in reasons
    # Both are onsite: a video room does not suit them either.
    assert any("video room" in r for r in reasons)


def _row(session: Session, model: Any, key: str) -> Any:
    return session.scalar(select(model).where(model.key == key))


def test_each_rule_is_refused_in_words(session: Session) -> None:
    event, version = _setup(session)

    def refused(edit: Any) -> list[str]:
        with pytest.raises(hand_edits.EditRefused) as caught:
            edit()
        session.rollback()
        return caught.value.reasons

    def add(slot: str = "s2", location: str = "t1") -> Any:
        return lambda: hand_edits.add_meeting(
            session, event, version, ("p1", "p3"), slot=slot, location=location
        )

    p1, p3 = _row(session, Participant, "p1"), _row(session, Participant, "p3")
    session.add(
        ParticipantUnavailableSlot(participant_id=p1.id, slot_id=_row(session, Slot, "s2").id)
    )
    session.commit()
    assert refused(add()) == ["Person p1 is not available at 09:25."]
    session.execute(delete(ParticipantUnavailableSlot))
    p1.max_meetings = 1
    session.commit()
    assert refused(add()) == ["Person p1 would hold 2 meetings, above their cap of 1."]
    p1.max_meetings = None
    w3 = _row(session, Wish, "w3")
    w3.fixed_slot_id = _row(session, Slot, "s3").id
    session.commit()
    assert refused(add()) == [
        "The wish of Person p1 to meet Person p3 is fixed to 09:50, not 09:25."
    ]
    w3.fixed_slot_id = None
    p3.attendance = Attendance.online
    session.commit()
    assert refused(add()) == [
        "Person p3 attends online, so the meeting is held in a video room, not at Table 1."
    ]
    # In a video room it fits.
    hand_edits.add_meeting(session, event, version, ("p1", "p3"), slot="s2", location="video")
    session.commit()


def test_add_a_meeting(session: Session) -> None:
    event, version = _setup(session)
    result = hand_edits.add_meeting(session, event, version, ("p3", "p1"), slot="s2", location="t1")
    session.commit()
    assert result.meeting is not None
    assert _where(session, version)["fair-w3"] == ("s2", "t1", True, False)
    # The sender of the wish comes first; the wish is no longer unscheduled.
    assert result.meeting.participant_a.key == "p1"
    assert [u["wish"] for u in version.unscheduled] == []
    assert version.objective["scheduled"] == 3


def test_adding_without_a_wish_or_at_a_busy_time_is_refused(session: Session) -> None:
    event, version = _setup(session)
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.add_meeting(session, event, version, ("p2", "p4"), slot="s2", location="t1")
    session.rollback()
    assert "Neither Person p2 nor Person p4 has an accepted wish" in refused.value.detail
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.add_meeting(session, event, version, ("p1", "p3"), slot="s1", location="video")
    session.rollback()
    assert "Person p1 already meets Person p2 at 09:00 at Table 1." in refused.value.reasons
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.add_meeting(session, event, version, ("p1", "p2"), slot="s3", location="t1")
    session.rollback()
    assert refused.value.reasons == ["Person p1 already meets Person p2 at 09:00 at Table 1."]
    assert len(_where(session, version)) == 2
    assert _edits(session, version) == 0


def test_cancel_a_meeting(session: Session) -> None:
    event, version = _setup(session)
    hand_edits.cancel_meeting(session, event, version, "fair-w1")
    session.commit()
    assert set(_where(session, version)) == {"fair-w2"}
    reasons = {u["wish"]: u["reason"] for u in version.unscheduled}
    assert reasons == {"w3": "participant_at_cap", "w1": hand_edits.CANCELLED_REASON}


def test_cancelling_a_required_meeting_is_refused(session: Session) -> None:
    event, version = _setup(session)
    with pytest.raises(hand_edits.EditRefused) as refused:
        hand_edits.cancel_meeting(session, event, version, "fair-w2")
    session.rollback()
    assert refused.value.reasons == [
        "The meeting meets the wish of Person p3 to meet Person p4, a required wish; required "
        "wishes are always met."
    ]
    assert set(_where(session, version)) == {"fair-w1", "fair-w2"}


def test_pin_and_unpin(session: Session) -> None:
    event, version = _setup(session)
    hand_edits.set_pinned(session, event, version, "fair-w1", True)
    session.commit()
    assert _where(session, version)["fair-w1"] == ("s1", "t1", False, True)
    with pytest.raises(hand_edits.Invalid):
        hand_edits.set_pinned(session, event, version, "fair-w1", True)
    session.rollback()
    hand_edits.set_pinned(session, event, version, "fair-w1", False)
    session.commit()
    assert _where(session, version)["fair-w1"][3] is False
    assert [e.kind for e in hand_edits.hand_edits(session, version)] == ["pinned", "unpinned"]


def test_a_published_version_is_edited_through_a_draft_copy(session: Session) -> None:
    event, version = _setup(session)
    version.published_at = utcnow()
    session.commit()
    with pytest.raises(hand_edits.VersionIsPublished):
        hand_edits.move_meeting(session, event, version, "fair-w1", slot="s2", location="t1")
    session.rollback()
    copy = hand_edits.draft_copy(session, event, version)
    session.commit()
    assert (copy.number, copy.published_at, copy.based_on_id) == (2, None, version.id)
    assert _where(session, copy) == _where(session, version)
    hand_edits.move_meeting(session, event, copy, "fair-w1", slot="s2", location="t1")
    hand_edits.add_meeting(session, event, copy, ("p1", "p3"), slot="s3", location="t1")
    session.commit()
    diff = diff_versions(session, version, copy)
    assert [(c.uid, c.by_hand) for c in diff.moved] == [("fair-w1", True)]
    assert [(c.uid, c.by_hand) for c in diff.added] == [("fair-w3", True)]
    # A copy of the copy carries the hand edits: its diff still shows them as such.
    again = hand_edits.draft_copy(session, event, copy)
    hand_edits.cancel_meeting(session, event, again, "fair-w3")
    session.commit()
    diff = diff_versions(session, version, again)
    assert [(c.uid, c.by_hand) for c in diff.moved] == [("fair-w1", True)]
    assert diff.added == []
    removed = diff_versions(session, copy, again).removed
    assert [(c.uid, c.by_hand) for c in removed] == [("fair-w3", True)]


def test_pins_survive_a_resolve_around_them(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        event, version = _setup(session)
        # An odd place, kept only because it is pinned: the last slot, the second table.
        hand_edits.move_meeting(session, event, version, "fair-w1", slot="s4", location="t2")
        hand_edits.set_pinned(session, event, version, "fair-w1", True)
        session.commit()
        event_id, number = event.id, version.number
    params = SolveParameters(time_limit_seconds=5, workers=1, deterministic=True)
    new = hand_edits.resolve_around_pins(factory, event_id, number, params)
    with factory() as session:
        meetings = {
            m.uid: (m.slot.key, m.location.key, m.pinned, m.placed_by_hand)
            for m in load_meetings(session, session.get_one(ScheduleVersion, new.id))
        }
        assert meetings["fair-w1"] == ("s4", "t2", True, True)
        # The rest is optimised: the unmet wish of p1 to meet p3 is now met.
        assert "fair-w3" in meetings
        assert meetings["fair-w3"][0] != "s4"
        assert new.parameters["around_pins_of"] == number
        # Pins are the organiser's choice, not a change of the event: the version is not stale.
        assert not version_staleness(session, session.get_one(ScheduleVersion, new.id)).stale
        assert [e.kind for e in hand_edits.hand_edits(session, new)] == ["resolved"]


def test_two_conflicting_edits_at_once_do_not_both_succeed(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        event, version = _setup(session)
        event_id, version_id = event.id, version.id
    outcome: dict[str, object] = {}

    def second() -> None:
        with factory() as other:
            try:
                hand_edits.add_meeting(
                    other,
                    other.get_one(Event, event_id),
                    other.get_one(ScheduleVersion, version_id),
                    ("p1", "p3"),
                    slot="s2",
                    location="t1",
                )
                other.commit()
                outcome["second"] = "stored"
            except hand_edits.EditRefused as refused:
                outcome["second"] = refused.reasons

    with factory() as first:
        hand_edits.move_meeting(
            first,
            first.get_one(Event, event_id),
            first.get_one(ScheduleVersion, version_id),
            "fair-w1",
            slot="s2",
            location="t1",
        )
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # waits for the version's lock
        first.commit()
    thread.join(30)
    assert outcome["second"] == [
        "Person p1 already meets Person p2 at 09:25 at Table 1.",
        "Table 1 is taken at 09:25 by Person p1 and Person p2.",
    ]
    with factory() as session:
        rows = session.scalars(select(Meeting).where(Meeting.version_id == version_id)).all()
        assert len(rows) == 2
