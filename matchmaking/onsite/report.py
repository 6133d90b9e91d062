"""The report organisers give their funders: meetings planned and held by kind (C2C / C2B /
B2B), by delegation pair, by country pair and by sector, no-shows, participants with at least one
meeting, check-ins, satisfaction and follow-ups — as figures, and as a workbook's sheets.

"Planned" is a meeting of the published version; "held" and "no-show" are its attendance
marks (unmarked meetings are neither); feedback counts the answers about planned meetings.
A meeting counts once under every sector either organisation works in (so the sector lines
add up to more than the meetings when organisations name several), and under "no sector"
when neither names one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.delivery.exports import Cellvalue, Sheet
from matchmaking.onsite.attendance import marks, published_meetings
from matchmaking.platform.models import (
    CheckIn,
    Event,
    MeetingFeedback,
    MeetingOutcome,
    Participant,
)

KINDS = ("C2C", "C2B", "B2B")
#: The delegation of an organisation that names none.
NO_DELEGATION = "no delegation"
#: The sector line of a meeting whose two organisations name none.
NO_SECTOR = "no sector"


@dataclass(frozen=True, slots=True)
class Line:
    """Planned, held and no-show meetings of one kind or one delegation pair."""

    label: str
    planned: int = 0
    held: int = 0
    no_shows: int = 0


@dataclass(slots=True)
class Report:
    participants: int
    checked_in: int
    planned: int
    held: int
    no_shows: int
    unmarked: int
    #: People with at least one planned meeting, and with at least one held one.
    with_a_meeting: int
    with_a_held_meeting: int
    by_kind: list[Line]
    by_delegation_pair: list[Line]
    #: The same by the organisations' country pair ("CA–DE"; "?" for no country).
    by_country_pair: list[Line]
    #: The same by the sectors either side works in (a meeting under each of them).
    by_sector: list[Line]
    answers: int
    #: Mean usefulness (1–5) over the answers, None without answers.
    usefulness_mean: float | None
    usefulness: dict[int, int] = field(default_factory=dict)
    follow_up: dict[str, int] = field(default_factory=dict)
    cooperation: dict[str, int] = field(default_factory=dict)


def delegation_pair(first: str, second: str) -> str:
    """'Canada–EU' whichever side is which."""
    a, b = sorted((first or NO_DELEGATION, second or NO_DELEGATION))
    return f"{a}–{b}"


def meeting_sectors(first: list[str] | None, second: list[str] | None) -> list[str]:
    """The sectors a meeting counts under: those of either side, once each, by name."""
    sectors = sorted({s for s in [*(first or []), *(second or [])] if s})
    return sectors or [NO_SECTOR]


def event_report(session: Session, event: Event) -> Report:
    meetings = published_meetings(session, event)
    outcome = {uid: row.outcome for uid, row in marks(session, event).items()}
    kinds: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    pairs: dict[str, Counter[str]] = {}
    countries: dict[str, Counter[str]] = {}
    sectors: dict[str, Counter[str]] = {}
    people: set[int] = set()
    met: set[int] = set()
    for m in meetings:
        state = outcome.get(m.uid)
        pair = delegation_pair(
            m.participant_a.organisation.delegation, m.participant_b.organisation.delegation
        )
        country = "–".join(
            sorted(
                (
                    m.participant_a.organisation.country or "?",
                    m.participant_b.organisation.country or "?",
                )
            )
        )
        for counter in (
            kinds.setdefault(m.kind, Counter()),
            pairs.setdefault(pair, Counter()),
            countries.setdefault(country, Counter()),
            *(
                sectors.setdefault(sector, Counter())
                for sector in meeting_sectors(
                    m.participant_a.organisation.sectors, m.participant_b.organisation.sectors
                )
            ),
        ):
            counter["planned"] += 1
            counter["held"] += state is MeetingOutcome.held
            counter["no_shows"] += state is MeetingOutcome.no_show
        people.update((m.participant_a_id, m.participant_b_id))
        if state is MeetingOutcome.held:
            met.update((m.participant_a_id, m.participant_b_id))
    planned_uids = {m.uid for m in meetings}
    answers = [
        row
        for row in session.scalars(
            select(MeetingFeedback).where(MeetingFeedback.event_id == event.id)
        )
        if row.uid in planned_uids
    ]
    held = sum(c["held"] for c in kinds.values())
    no_shows = sum(c["no_shows"] for c in kinds.values())

    def line(label: str, c: Counter[str]) -> Line:
        return Line(label, c["planned"], c["held"], c["no_shows"])

    return Report(
        participants=session.scalar(
            select(func.count()).select_from(Participant).where(Participant.event_id == event.id)
        )
        or 0,
        checked_in=session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event.id)
        )
        or 0,
        planned=len(meetings),
        held=held,
        no_shows=no_shows,
        unmarked=len(meetings) - held - no_shows,
        with_a_meeting=len(people),
        with_a_held_meeting=len(met),
        by_kind=[line(kind, c) for kind, c in kinds.items()],
        by_delegation_pair=[line(pair, pairs[pair]) for pair in sorted(pairs)],
        by_country_pair=[line(pair, countries[pair]) for pair in sorted(countries)],
        by_sector=[line(sector, sectors[sector]) for sector in sorted(sectors)],
        answers=len(answers),
        usefulness_mean=(
            round(sum(a.usefulness for a in answers) / len(answers), 2) if answers else None
        ),
        usefulness={n: sum(1 for a in answers if a.usefulness == n) for n in range(1, 6)},
        follow_up={
            v: sum(1 for a in answers if a.follow_up.value == v) for v in ("yes", "maybe", "no")
        },
        cooperation={
            v: sum(1 for a in answers if a.cooperation.value == v)
            for v in ("project", "purchase", "partnership", "other")
        },
    )


def report_sheets(report: Report) -> list[Sheet]:
    """The report as spreadsheet sheets: figures, by kind, by delegation pair, by country
    pair, by sector, feedback."""
    figures: list[list[Cellvalue]] = [
        ["Participants", report.participants],
        ["Checked in", report.checked_in],
        ["Meetings planned", report.planned],
        ["Meetings held", report.held],
        ["No-shows", report.no_shows],
        ["Not marked", report.unmarked],
        ["Participants with at least one meeting", report.with_a_meeting],
        ["Participants with at least one held meeting", report.with_a_held_meeting],
        ["Feedback answers", report.answers],
        [
            "Mean usefulness (1–5)",
            "" if report.usefulness_mean is None else str(report.usefulness_mean),
        ],
    ]
    feedback: list[list[Cellvalue]] = [
        ["How useful", str(n), count] for n, count in report.usefulness.items()
    ]
    feedback += [["Follow-up planned", v, count] for v, count in report.follow_up.items()]
    feedback += [["Cooperation expected", v, count] for v, count in report.cooperation.items()]
    columns = ("Planned", "Held", "No-shows")
    return [
        Sheet("Figures", ("Figure", "Value"), figures),
        Sheet(
            "By kind",
            ("Kind", *columns),
            [[line.label, line.planned, line.held, line.no_shows] for line in report.by_kind],
        ),
        Sheet(
            "By delegation pair",
            ("Delegations", *columns),
            [
                [line.label, line.planned, line.held, line.no_shows]
                for line in report.by_delegation_pair
            ],
        ),
        Sheet(
            "By country pair",
            ("Countries", *columns),
            [
                [line.label, line.planned, line.held, line.no_shows]
                for line in report.by_country_pair
            ],
        ),
        Sheet(
            "By sector",
            ("Sector", *columns),
            [[line.label, line.planned, line.held, line.no_shows] for line in report.by_sector],
        ),
        Sheet("Feedback", ("Question", "Answer", "Answers"), feedback),
    ]
