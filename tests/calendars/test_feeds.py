"""Calendar feeds stay right: stable UIDs, SEQUENCE on change, cancellations, time zones.

Every feed is parsed twice, by `icalendar` and by the independent `vobject` parser.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar
import pytest
import vobject
from sqlalchemy.orm import Session

from matchmaking.delivery.calendars import (
    CANCELLED_RETENTION,
    MAX_CALENDAR_LINKS,
    TooManyCalendarLinks,
    event_feed,
    issue_calendar_token,
    location_feed,
    participant_by_calendar_token,
    participant_feed,
    replace_calendar_links,
    revoke_calendar_links,
)
from matchmaking.platform.security import hash_token
from tests.calendars.builders import add_version, at, build_event

NOW = datetime(2024, 10, 25, 12, tzinfo=UTC)


def parse(body: bytes) -> tuple[icalendar.Calendar, object]:
    """The same feed through both parsers; both must accept it."""
    first = icalendar.Calendar.from_ical(body)
    second = vobject.readOne(body.decode("utf-8"))
    return first, second


def events_by_uid(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_participant_feed_describes_each_meeting_with_every_property(session: Session) -> None:
    built = build_event(session)
    add_version(
        session,
        built,
        [
            ("w1", "s1", "t1", "p1", "p2"),
            ("w2", "s2", "video", "p1", "p4"),
            ("w3", "s1", "t2", "p3", "p4"),
        ],
        published_at=at(20),
    )
    feed = participant_feed(session, built.participants["p1"], now=NOW)
    calendar, other = parse(feed.body)

    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    meetings = events_by_uid(calendar)
    assert set(meetings) == {"w1@127.0.0.1", "w2@127.0.0.1"}

    table = meetings["w1@127.0.0.1"]
    assert table["SEQUENCE"] == 0
    assert table["STATUS"] == "CONFIRMED"
    assert table["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert table.decoded("DTSTART") == datetime(
        2024, 10, 26, 9, 0, tzinfo=table.decoded("DTSTART").tzinfo
    )
    assert table.decoded("DTSTART").utcoffset().total_seconds() == 2 * 3600
    assert table.decoded("DTEND") - table.decoded("DTSTART") == (
        datetime(2024, 1, 1, 0, 20) - datetime(2024, 1, 1)
    )
    assert str(table["LOCATION"]) == "Table 1, Palais des congrès, Montréal"
    assert str(table["SUMMARY"]) == "C2B meeting with Person 2, Company 2, DE"
    description = str(table["DESCRIPTION"])
    assert "Counterpart: Person 2" in description
    assert "Organisation: Company 2 (company, DE)" in description
    assert "Meeting kind: C2B" in description
    assert str(table["ORGANIZER"]).startswith("mailto:")
    assert table["ORGANIZER"].params["CN"] == "EU–Canada Cluster Matchmaking"
    assert "ATTENDEE" not in table
    assert table.decoded("DTSTAMP") == at(20)
    assert "URL" not in table

    online = meetings["w2@127.0.0.1"]
    link = "https://video.example.org/rooms/w2"
    assert str(online["URL"]) == link
    assert f"Video link: {link}" in str(online["DESCRIPTION"])
    assert str(online["LOCATION"]) == "Video room (online)"

    # The second parser sees the same events, times and texts.
    parsed = {e.uid.value: e for e in other.vevent_list}
    assert set(parsed) == set(meetings)
    assert parsed["w1@127.0.0.1"].dtstart.value.astimezone(UTC) == datetime(
        2024, 10, 26, 7, 0, tzinfo=UTC
    )
    assert parsed["w2@127.0.0.1"].url.value == link
    assert parsed["w1@127.0.0.1"].summary.value == str(table["SUMMARY"])
    assert not hasattr(parsed["w1@127.0.0.1"], "attendee")


@pytest.mark.parametrize(
    ("timezone", "first_day", "offsets"),
    [
        # DST ends on Sunday 27 October 2024 in Berlin and on Sunday 3 November in Toronto.
        ("Europe/Berlin", datetime(2024, 10, 26, 9, 0), (2, 1)),
        ("America/Toronto", datetime(2024, 11, 2, 9, 0), (-4, -5)),
    ],
)
def test_meetings_on_both_sides_of_a_daylight_saving_change_keep_their_local_time(
    session: Session, timezone: str, first_day: datetime, offsets: tuple[int, int]
) -> None:
    built = build_event(session, timezone=timezone, first_slot=first_day, slots_per_day=2)
    # s1 is on the day before the change, s3 on the day of the change.
    add_version(
        session,
        built,
        [("w1", "s1", "t1", "p1", "p2"), ("w2", "s3", "t1", "p1", "p3")],
        published_at=at(20),
    )
    calendar, other = parse(participant_feed(session, built.participants["p1"], now=NOW).body)

    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == timezone
    assert {c.name for c in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    by_uid = {e.uid.value.split("@")[0]: e for e in other.vevent_list}
    before = by_uid["w1"].dtstart.value
    after = by_uid["w2"].dtstart.value
    assert (before.hour, after.hour) == (9, 9)
    assert before.utcoffset().total_seconds() / 3600 == offsets[0]
    assert after.utcoffset().total_seconds() / 3600 == offsets[1]
    assert after.astimezone(UTC).hour - before.astimezone(UTC).hour == 1
    for vevent in calendar.walk("VEVENT"):
        assert vevent["DTSTART"].params["TZID"] == timezone


def test_republishing_raises_sequence_only_of_meetings_that_changed(session: Session) -> None:
    built = build_event(session)
    add_version(
        session,
        built,
        [
            ("w1", "s1", "t1", "p1", "p2"),
            ("w2", "s2", "t1", "p1", "p3"),
            ("w3", "s3", "t1", "p1", "p4"),
            ("w4", "s4", "t1", "p1", "p2"),
        ],
        published_at=at(20),
    )
    # A solved but unpublished version changes nothing in the feeds.
    add_version(session, built, [("w1", "s4", "t2", "p1", "p2")])
    add_version(
        session,
        built,
        [
            ("w1", "s1", "t1", "p1", "p2"),  # unchanged
            ("w2", "s5", "t1", "p1", "p3"),  # moved in time
            ("w4", "s4", "t2", "p1", "p2"),  # moved to another table
        ],
        published_at=at(22),
    )
    calendar, _ = parse(participant_feed(session, built.participants["p1"], now=NOW).body)
    meetings = {uid.split("@")[0]: e for uid, e in events_by_uid(calendar).items()}

    assert {uid: int(e["SEQUENCE"]) for uid, e in meetings.items()} == {
        "w1": 0,
        "w2": 1,
        "w3": 1,
        "w4": 1,
    }
    assert meetings["w1"]["STATUS"] == "CONFIRMED"
    assert meetings["w1"].decoded("DTSTAMP") == at(20)
    assert meetings["w2"].decoded("DTSTART").day == 27
    assert meetings["w2"].decoded("LAST-MODIFIED") == at(22)
    assert str(meetings["w4"]["LOCATION"]).startswith("Table 2")
    # The dropped meeting stays as cancelled, with its last time and a higher SEQUENCE.
    assert meetings["w3"]["STATUS"] == "CANCELLED"
    assert str(meetings["w3"]["SUMMARY"]).startswith("Cancelled: ")
    assert meetings["w3"].decoded("DTSTART").hour == 9
    assert meetings["w3"].decoded("DTSTART").minute == 50

    # Publishing the same schedule again changes nothing at all.
    before = participant_feed(session, built.participants["p1"], now=NOW)
    add_version(
        session,
        built,
        [
            ("w1", "s1", "t1", "p1", "p2"),
            ("w2", "s5", "t1", "p1", "p3"),
            ("w4", "s4", "t2", "p1", "p2"),
        ],
        published_at=at(23),
    )
    again, _ = parse(participant_feed(session, built.participants["p1"], now=NOW).body)
    assert {str(e["UID"]): int(e["SEQUENCE"]) for e in again.walk("VEVENT")} == {
        str(e["UID"]): int(e["SEQUENCE"]) for e in calendar.walk("VEVENT")
    }
    assert before.body != b""


def test_cancelled_meeting_comes_back_with_a_higher_sequence_and_leaves_after_retention(
    session: Session,
) -> None:
    built = build_event(session)
    add_version(session, built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))
    add_version(session, built, [], published_at=at(21))
    p1 = built.participants["p1"]
    (cancelled,) = parse(participant_feed(session, p1, now=NOW).body)[0].walk("VEVENT")
    assert (cancelled["STATUS"], cancelled["SEQUENCE"]) == ("CANCELLED", 1)

    later = at(21) + CANCELLED_RETENTION + (at(2) - at(1))
    assert parse(participant_feed(session, p1, now=later).body)[0].walk("VEVENT") == []

    add_version(session, built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(24))
    (back,) = parse(participant_feed(session, p1, now=later).body)[0].walk("VEVENT")
    assert (back["STATUS"], back["SEQUENCE"]) == ("CONFIRMED", 2)


def test_meeting_handed_to_a_colleague_is_cancelled_for_the_one_who_no_longer_attends(
    session: Session,
) -> None:
    built = build_event(session)
    add_version(session, built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))
    add_version(session, built, [("w1", "s1", "t1", "p1", "p4")], published_at=at(21))
    (old,) = parse(participant_feed(session, built.participants["p2"], now=NOW).body)[0].walk(
        "VEVENT"
    )
    (new,) = parse(participant_feed(session, built.participants["p4"], now=NOW).body)[0].walk(
        "VEVENT"
    )
    (host,) = parse(participant_feed(session, built.participants["p1"], now=NOW).body)[0].walk(
        "VEVENT"
    )
    assert old["STATUS"] == "CANCELLED"
    assert new["STATUS"] == "CONFIRMED"
    assert old["UID"] == new["UID"] == host["UID"]
    assert int(old["SEQUENCE"]) == int(new["SEQUENCE"]) == int(host["SEQUENCE"]) == 1
    assert "Person 4" in str(host["SUMMARY"])


def test_user_provided_names_cannot_inject_lines_or_properties(session: Session) -> None:
    built = build_event(session)
    evil = built.participants["p2"]
    evil.name = (
        "Mallory\r\nATTENDEE:mailto:x@evil.example\r\nEND:VEVENT\r\nBEGIN:VEVENT\x07\x1b\u2028"
    )
    evil.organisation.name = 'Evil; Inc, "Ltd"\nURL:https://evil.example'
    built.event.name = 'Fair"\r\nX-INJECTED:1'
    add_version(session, built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))

    for feed in (
        participant_feed(session, built.participants["p1"], now=NOW),
        event_feed(session, built.event, now=NOW),
    ):
        text = feed.body.decode()
        assert "\x07" not in text
        assert "\x1b" not in text
        assert "\u2028" not in text
        for line in text.split("\r\n"):
            assert not line.startswith(
                ("ATTENDEE", "URL:https://evil", "X-INJECTED", "END:VEVENT\\")
            )
        calendar, other = parse(feed.body)
        (vevent,) = calendar.walk("VEVENT")
        assert "ATTENDEE" not in vevent
        assert "X-INJECTED" not in vevent
        assert "URL" not in vevent
        assert "Mallory ATTENDEE:mailto:x@evil.example END:VEVENT" in str(vevent["SUMMARY"])
        assert 'Evil; Inc, "Ltd" URL:https://evil.example' in str(vevent["DESCRIPTION"])
        assert len(other.vevent_list) == 1


def test_location_feed_holds_one_tables_meetings_of_one_day_and_moves_away_as_cancelled(
    session: Session,
) -> None:
    built = build_event(session)
    add_version(
        session,
        built,
        [
            ("w1", "s1", "t1", "p1", "p2"),
            ("w2", "s5", "t1", "p1", "p3"),
            ("w3", "s1", "t2", "p3", "p4"),
        ],
        published_at=at(20),
    )
    table = built.locations["t1"]
    first_day, _ = parse(location_feed(session, table, date(2024, 10, 26), now=NOW).body)
    assert [str(e["UID"]).split("@")[0] for e in first_day.walk("VEVENT")] == ["w1"]
    (vevent,) = first_day.walk("VEVENT")
    assert "Person 1, Cluster 1 – Person 2, Company 2" in str(vevent["SUMMARY"])

    add_version(
        session,
        built,
        [("w1", "s1", "t2", "p1", "p2"), ("w2", "s5", "t1", "p1", "p3")],
        published_at=at(21),
    )
    every_day, _ = parse(location_feed(session, table, now=NOW).body)
    statuses = {str(e["UID"]).split("@")[0]: str(e["STATUS"]) for e in every_day.walk("VEVENT")}
    assert statuses == {"w1": "CANCELLED", "w2": "CONFIRMED"}


def test_event_feed_lists_every_published_meeting_and_nothing_before_publication(
    session: Session,
) -> None:
    built = build_event(session)
    add_version(session, built, [("w1", "s1", "t1", "p1", "p2")])
    assert parse(event_feed(session, built.event, now=NOW).body)[0].walk("VEVENT") == []
    add_version(
        session,
        built,
        [("w1", "s1", "t1", "p1", "p2"), ("w3", "s1", "t2", "p3", "p4")],
        published_at=at(20),
    )
    feed = event_feed(session, built.event, now=NOW)
    assert len(parse(feed.body)[0].walk("VEVENT")) == 2
    assert feed.last_modified is not None
    assert feed.last_modified >= at(20)
    assert feed.etag.startswith('"')
    assert feed.etag == event_feed(session, built.event, now=NOW).etag


def test_calendar_tokens_find_their_participant_and_only_their_hashes_are_stored(
    session: Session,
) -> None:
    built = build_event(session)
    p1 = built.participants["p1"]
    token = issue_calendar_token(p1)
    session.flush()
    assert [link.token_hash for link in p1.calendar_links] == [hash_token(token)]
    assert participant_by_calendar_token(session, token) is p1
    assert participant_by_calendar_token(session, token + "x") is None
    second = issue_calendar_token(p1)
    session.flush()
    # Both links work: subscribing in a second app does not break the first.
    assert participant_by_calendar_token(session, token) is p1
    assert participant_by_calendar_token(session, second) is p1
    assert all(token not in link.token_hash for link in p1.calendar_links)


def test_replacing_calendar_links_revokes_every_earlier_one(session: Session) -> None:
    built = build_event(session)
    p1, p2 = built.participants["p1"], built.participants["p2"]
    earlier = [issue_calendar_token(p1) for _ in range(3)]
    others = issue_calendar_token(p2)
    session.flush()
    newest = replace_calendar_links(p1)
    session.flush()
    assert [participant_by_calendar_token(session, t) for t in earlier] == [None] * 3
    assert participant_by_calendar_token(session, newest) is p1
    assert participant_by_calendar_token(session, others) is p2  # someone else's are kept
    assert revoke_calendar_links(p1) == 1
    session.flush()
    assert participant_by_calendar_token(session, newest) is None


def test_a_participant_holds_at_most_the_maximum_of_calendar_links(session: Session) -> None:
    p1 = build_event(session).participants["p1"]
    for _ in range(MAX_CALENDAR_LINKS):
        issue_calendar_token(p1)
    with pytest.raises(TooManyCalendarLinks, match="Replace your links"):
        issue_calendar_token(p1)
    assert len(p1.calendar_links) == MAX_CALENDAR_LINKS
    replace_calendar_links(p1)
    assert len(p1.calendar_links) == 1
