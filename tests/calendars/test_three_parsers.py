"""Every calendar client places every meeting at the same instant, across daylight-saving changes.

Each feed is read by three independent parsers — `icalendar` (Python), `vobject` (Python, on
dateutil) and ical.js (JavaScript, run with node; the parser of many web and mobile calendar
apps) — and every start and end of every VEVENT must be the UTC instant zoneinfo gives for the
meeting's local time. The parsers must take the offsets from the feed's own VTIMEZONE:
icalendar through `Timezone.to_tz(lookup_tzid=False)`, vobject by the VTIMEZONE it registers
when it reads the feed, ical.js with its TimezoneService left empty.

ical.js is installed from tests/calendars/js/package-lock.json by tests/setup_services.py
(`npm ci`); without node these tests are skipped on a developer machine and fail in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from sqlalchemy.orm import Session

from matchmaking.delivery import calendars
from matchmaking.delivery.calendars import event_feed, location_feed, participant_feed
from matchmaking.platform.models import EventSession, Slot
from tests import setup_services
from tests.calendars.builders import Built, add_version, build_event

Instants = dict[str, tuple[datetime, datetime]]
NOW = datetime(2027, 1, 2, 12, tzinfo=UTC)
MEETING = timedelta(minutes=20)


@pytest.fixture(scope="module")
def icaljs() -> None:
    """ical.js ready to run (installed by tests/setup_services.py when missing)."""
    if setup_services.icaljs_missing() is not None:
        setup_services.ensure_icaljs()
    reason = setup_services.icaljs_missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the calendar tests need ical.js in CI: {reason}")
        pytest.skip(f"ical.js cannot run: {reason}")


def read_with_icaljs(body: bytes) -> Instants:
    result = subprocess.run(
        ["node", str(setup_services.CALENDAR_JS / "read_feed.mjs")],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return {e["uid"]: (_iso(e["start"]), _iso(e["end"])) for e in json.loads(result.stdout)}


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def read_with_icalendar(body: bytes) -> Instants:
    """Naive local times placed by the VTIMEZONE in the feed (not by icalendar's zoneinfo)."""
    calendar = icalendar.Calendar.from_ical(body)
    zones = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in calendar.walk("VTIMEZONE")}
    instants: Instants = {}
    for vevent in calendar.walk("VEVENT"):
        times = []
        for name in ("DTSTART", "DTEND"):
            prop = vevent[name]
            if "TZID" not in prop.params:  # a UTC time ("…Z"), the event's zone being UTC
                assert prop.dt.utcoffset() == timedelta(0)
                times.append(prop.dt.astimezone(UTC))
                continue
            local = prop.dt.replace(tzinfo=None)
            times.append(local.replace(tzinfo=zones[prop.params["TZID"]]).astimezone(UTC))
        instants[str(vevent["UID"])] = (times[0], times[1])
    return instants


def read_with_icalendar_zoneinfo(body: bytes) -> Instants:
    """icalendar's own reading: the TZID looked up in the zone database."""
    calendar = icalendar.Calendar.from_ical(body)
    return {
        str(v["UID"]): (
            v.decoded("DTSTART").astimezone(UTC),
            v.decoded("DTEND").astimezone(UTC),
        )
        for v in calendar.walk("VEVENT")
    }


def read_with_vobject(body: bytes) -> Instants:
    # vobject keeps the first VTIMEZONE it ever read for a TZID, process-wide, and ignores
    # later ones: forget the feed's zones so that this feed's own VTIMEZONE is the one read.
    registry: dict[str, object] = getattr(vobject.icalendar, "__tzidMap")
    for tzid in {str(tz["TZID"]) for tz in icalendar.Calendar.from_ical(body).walk("VTIMEZONE")}:
        registry.pop(tzid, None)
    calendar = vobject.readOne(body.decode("utf-8"))
    instants: Instants = {}
    for vevent in calendar.vevent_list:
        start, end = vevent.dtstart.value, vevent.dtend.value
        # The zone vobject resolved must come from the feed's VTIMEZONE, not from a database.
        assert not isinstance(start.tzinfo, ZoneInfo)
        instants[vevent.uid.value] = (start.astimezone(UTC), end.astimezone(UTC))
    return instants


def readings(body: bytes) -> dict[str, Instants]:
    return {
        "icalendar (VTIMEZONE)": read_with_icalendar(body),
        "icalendar (zoneinfo)": read_with_icalendar_zoneinfo(body),
        "vobject": read_with_vobject(body),
        "ical.js": read_with_icaljs(body),
    }


def disagreements(body: bytes, expected: Instants) -> list[str]:
    """Every instant a parser reads differently from zoneinfo, as readable lines."""
    wrong = []
    for parser, read in readings(body).items():
        assert set(read) == set(expected), parser
        for uid, (start, end) in sorted(expected.items()):
            got = read[uid]
            if got != (start, end):
                wrong.append(
                    f"{parser}: {uid} read {got[0]:%Y-%m-%d %H:%MZ}–{got[1]:%H:%MZ}, "
                    f"expected {start:%Y-%m-%d %H:%MZ}–{end:%H:%MZ}"
                )
    return wrong


def event_with_slots(session: Session, timezone: str, starts: list[datetime]) -> Built:
    """An event in `timezone` whose slots start at the given local times, one meeting in
    each (between the same two people, at table 1), published once."""
    built = build_event(
        session,
        slug=f"dst-{timezone.lower().replace('/', '-')}",
        timezone=timezone,
        days=0,
        participants=2,
    )
    block = EventSession(event=built.event, key="all", name="All days", position=0)
    session.add(block)
    for n, start in enumerate(sorted(starts), 1):
        built.slots[f"s{n}"] = Slot(
            event=built.event, session=block, key=f"s{n}", start=start, end=start + MEETING
        )
        session.add(built.slots[f"s{n}"])
    session.flush()
    add_version(
        session,
        built,
        [(f"m{n}", f"s{n}", "t1", "p1", "p2") for n in range(1, len(starts) + 1)],
        published_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return built


def expected_instants(built: Built) -> Instants:
    """What zoneinfo says each meeting's local time is in UTC."""
    zone = ZoneInfo(built.event.timezone)
    host = calendars.meeting_uid(built.event, built.event.versions[0].meetings[0]).split("@")[1]
    return {
        f"{slot.key.replace('s', 'm')}@{host}": (
            slot.start.replace(tzinfo=zone).astimezone(UTC),
            slot.end.replace(tzinfo=zone).astimezone(UTC),
        )
        for slot in built.slots.values()
    }


def around(*days: date, hours: tuple[int, ...] = (3, 9, 17)) -> list[datetime]:
    """Meetings on the day before, the day of and the day after each change, at 03:00 (just
    after every change of these zones, which all happen at 02:00 or 03:00), 09:00 and 17:00."""
    return [
        datetime.combine(day + timedelta(days=shift), datetime.min.time()) + timedelta(hours=h)
        for day in days
        for shift in (-1, 0, 1)
        for h in hours
    ]


# Each event spans both changes of its year, so its feed's VTIMEZONE must describe both.
ZONES = {
    # Spring forward 28 March 2027, fall back 31 October 2027.
    "Europe/Berlin": around(date(2027, 3, 28), date(2027, 10, 31)),
    # Spring forward 14 March 2027, fall back 7 November 2027; 10 March is the meeting
    # ical.js placed an hour early with the VTIMEZONE of icalendar's Timezone.from_tzid.
    "America/Toronto": [
        datetime(2027, 3, 10, 9, 50),
        *around(date(2027, 3, 14), date(2027, 11, 7)),
    ],
    # Southern hemisphere: falls back 4 April 2027, springs forward 3 October 2027, and the
    # event runs over New Year in summer time.
    "Australia/Sydney": [
        datetime(2026, 12, 31, 10, 0),
        datetime(2027, 1, 1, 10, 0),
        *around(date(2027, 4, 4), date(2027, 10, 3)),
    ],
    # Zones without daylight saving, one with a half-hour offset.
    "Asia/Taipei": around(date(2027, 3, 14), date(2027, 11, 7)),
    "Asia/Kolkata": around(date(2027, 3, 28), date(2027, 10, 31)),
    "UTC": around(date(2027, 3, 28), date(2027, 10, 31)),
}


@pytest.mark.parametrize("timezone", list(ZONES))
def test_three_parsers_place_every_meeting_at_the_zoneinfo_instant_across_dst_changes(
    session: Session, icaljs: None, timezone: str
) -> None:
    built = event_with_slots(session, timezone, ZONES[timezone])
    expected = expected_instants(built)
    feeds = {
        "participant": participant_feed(session, built.participants["p1"], now=NOW),
        "location": location_feed(session, built.locations["t1"], now=NOW),
        "event": event_feed(session, built.event, now=NOW),
    }
    for name, feed in feeds.items():
        assert disagreements(feed.body, expected) == [], name


def _vtimezone_text(body: bytes) -> bytes:
    start = body.index(b"BEGIN:VTIMEZONE")
    return body[start : body.index(b"END:VTIMEZONE", start)]


def test_feeds_of_one_event_carry_the_same_vtimezone_bytes(session: Session) -> None:
    built = event_with_slots(session, "America/Toronto", ZONES["America/Toronto"])
    bodies = [
        participant_feed(session, built.participants["p1"], now=NOW).body,
        participant_feed(session, built.participants["p2"], now=NOW).body,
        location_feed(session, built.locations["t1"], now=NOW).body,
        location_feed(session, built.locations["t1"], date(2027, 3, 10), now=NOW).body,
        event_feed(session, built.event, now=NOW).body,
    ]
    assert len({_vtimezone_text(body) for body in bodies}) == 1


@pytest.mark.parametrize(
    ("timezone", "changes"),
    [
        # Between 9 March 2026 and 7 November 2028 (the end of that day).
        (
            "Europe/Berlin",
            ["2026-03-29", "2026-10-25", "2027-03-28", "2027-10-31", "2028-03-26", "2028-10-29"],
        ),
        ("America/Toronto", ["2026-11-01", "2027-03-14", "2027-11-07", "2028-03-12", "2028-11-05"]),
        (
            "Australia/Sydney",
            ["2026-04-05", "2026-10-04", "2027-04-04", "2027-10-03", "2028-04-02", "2028-10-01"],
        ),
        ("Asia/Taipei", []),
        ("Asia/Kolkata", []),
        ("UTC", []),
    ],
)
def test_vtimezone_gives_each_observance_one_onset_at_the_local_time_of_its_change(
    timezone: str, changes: list[str]
) -> None:
    component = calendars._vtimezone(timezone, date(2026, 3, 9), date(2028, 11, 7))
    zone = ZoneInfo(timezone)
    first, *rest = component.subcomponents
    # The observance at the start of the range: no change, what the zone observes then.
    start = datetime(2026, 3, 9, tzinfo=zone)
    assert first.decoded("DTSTART") == datetime(2026, 3, 9)
    assert first.decoded("TZOFFSETFROM") == first.decoded("TZOFFSETTO") == start.utcoffset()
    assert str(first["TZNAME"]) == start.tzname()
    assert [sub.decoded("DTSTART").date().isoformat() for sub in rest] == changes
    previous_to = first.decoded("TZOFFSETTO")
    for sub in component.subcomponents:
        assert "RDATE" not in sub
        assert "RRULE" not in sub
    for sub in rest:
        offset_from, offset_to = sub.decoded("TZOFFSETFROM"), sub.decoded("TZOFFSETTO")
        assert offset_from == previous_to
        previous_to = offset_to
        # DTSTART is local time in the offset before the change: in UTC, the change itself.
        instant = (sub.decoded("DTSTART") - offset_from).replace(tzinfo=UTC)
        assert (instant - timedelta(seconds=1)).astimezone(zone).utcoffset() == offset_from
        assert instant.astimezone(zone).utcoffset() == offset_to
        assert str(sub["TZNAME"]) == instant.astimezone(zone).tzname()
        assert sub.name == ("DAYLIGHT" if instant.astimezone(zone).dst() else "STANDARD")


def test_the_check_catches_the_rdate_form_ical_js_misreads(
    session: Session, icaljs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The VTIMEZONE the feeds had before (icalendar's Timezone.from_tzid: DTSTART and RDATE
    in one sub-component) fails this check: ical.js reads 10 March 2027 in Toronto as EDT."""

    def from_tzid(tzid: str, first: date, last: date) -> icalendar.Timezone:
        return icalendar.Timezone.from_tzid(tzid, first_date=first, last_date=last)

    monkeypatch.setattr(calendars, "_vtimezone", from_tzid)
    built = event_with_slots(session, "America/Toronto", ZONES["America/Toronto"])
    feed = participant_feed(session, built.participants["p1"], now=NOW)
    assert b"RDATE" in feed.body
    wrong = disagreements(feed.body, expected_instants(built))
    host = "127.0.0.1"
    assert (
        f"ical.js: m1@{host} read 2027-03-10 13:50Z–14:10Z, expected 2027-03-10 14:50Z–15:10Z"
        in wrong
    )
