"""Builds the 3,500-participant events the load benchmark serves.

Two events from one seeded generator (the shape of a large partnering fair: two days of
20-minute meetings, clusters, companies, research bodies and public authorities from 20
countries, one in ten online, four wishes sent per participant):

- `<prefix>-agenda`: a published schedule, for agenda and calendar downloads. The schedule is
  placed greedily (first free slot and table for each accepted wish), which is quick and valid;
  the benchmark measures serving a schedule, not finding a good one.
- `<prefix>-wishes`: open for wishes with the cut-off minutes away, for the submission rush.

Both are stored through the project's own services (bundle import, `save_solution`,
`publish_version`). Every participant gets a personal token and a calendar token; they are
written to a tokens file (one `key organisation access_token calendar_token` line each) for the
load generator, and only their hashes are stored, as in production.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from api.routers.schedules import render_publication
from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import import_bundle
from matchmaking.planning.publishing import publish_version, queue_publication_mails
from matchmaking.planning.scheduling import problem_from_event, save_solution
from matchmaking.platform.models import (
    CalendarLink,
    Event,
    EventStatus,
    Organisation,
    Participant,
    Wish,
    utcnow,
)
from matchmaking.platform.security import (
    CALENDAR_TOKEN_PREFIX,
    PARTICIPANT_TOKEN_PREFIX,
    hash_token,
    new_token,
)
from matchmaking.platform.settings import Settings
from solver import problem as sp
from solver.check import evaluate

COUNTRIES = (
    "DE FR IT ES NL BE AT PL SE DK FI IE PT CZ GR HU RO LT CA US".split()  # noqa: SIM905
)
SECTORS = (
    "Artificial Intelligence",
    "Advanced Manufacturing",
    "Quantum Technology",
    "Energy",
    "Health",
    "Mobility",
    "Agrifood",
    "Digital",
)
KINDS = ("cluster",) * 2 + ("company",) * 6 + ("research", "public")
WISHES_PER_PARTICIPANT = 4
SLOTS_PER_SESSION = 9
TABLES = 450


@dataclass(frozen=True)
class LoadEvent:
    slug: str
    participants: int
    wishes: int
    meetings: int
    tokens_file: Path
    #: Seconds the publication took (its transaction: publish, mails, rendering, commit).
    publication_seconds: float = 0.0


def event_bundle(slug: str, participants: int, seed: int) -> dict[str, Any]:
    """A bundle of `participants` people; the same seed gives the same event."""
    rng = random.Random(seed)
    organisations, people = _organisations_and_people(rng, participants)
    return {
        "format": "matchmaking-bundle/1",
        "event": {
            "slug": slug,
            "name": "Partnering Fair (load benchmark)",
            "timezone": "Europe/Berlin",
            "venue": "Messe, Hall 4",
            "mode": "hybrid",
            # No break-difference cap: the greedy placement below does not balance breaks.
            "rules": {"max_meetings_per_participant": 10},
        },
        "sessions": _sessions(),
        "locations": [
            *({"id": f"t{i}", "name": f"Table {i}", "kind": "table"} for i in range(1, TABLES + 1)),
            {"id": "video", "name": "Video room", "kind": "online", "capacity": 500},
        ],
        "organisations": organisations,
        "participants": people,
        "wishes": _wishes(rng, people),
    }


def _sessions() -> list[dict[str, Any]]:
    sessions = []
    for day, date in enumerate(("2030-06-11", "2030-06-12"), start=1):
        for part, first_hour in (("am", 9), ("pm", 14)):
            slots = []
            for i in range(SLOTS_PER_SESSION):
                start = datetime.fromisoformat(f"{date}T{first_hour:02d}:00") + timedelta(
                    minutes=20 * i
                )
                slots.append(
                    {
                        "id": f"d{day}{part}{i + 1}",
                        "start": start.isoformat(timespec="minutes"),
                        "end": (start + timedelta(minutes=20)).isoformat(timespec="minutes"),
                    }
                )
            sessions.append({"id": f"d{day}-{part}", "name": f"Day {day} {part}", "slots": slots})
    return sessions


def _organisations_and_people(
    rng: random.Random, participants: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    organisations: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    while len(people) < participants:
        number = len(organisations) + 1
        organisations.append(
            {
                "id": f"o{number}",
                "name": f"Organisation {number}",
                "kind": rng.choice(KINDS),
                "country": rng.choice(COUNTRIES),
                "sectors": rng.sample(SECTORS, 2),
                "description": "Looking for partners in joint projects and supply chains.",
            }
        )
        for _ in range(min(rng.choice((1, 1, 2, 3)), participants - len(people))):
            key = f"p{len(people) + 1}"
            people.append(
                {
                    "id": key,
                    "name": f"Person {len(people) + 1}",
                    "organisation": f"o{number}",
                    "email": f"{key}@example.org",
                    "attendance": "online" if rng.random() < 0.1 else "onsite",
                }
            )
    return organisations, people


def _wishes(rng: random.Random, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wishes: list[dict[str, Any]] = []
    asked: set[tuple[str, str]] = set()
    for person in people:
        sent = 0
        while sent < WISHES_PER_PARTICIPANT:
            other = rng.choice(people)
            pair = (person["id"], other["id"])
            if other["organisation"] == person["organisation"] or pair in asked:
                continue
            asked.add(pair)
            sent += 1
            status = rng.choices(("accepted", "requested", "declined"), (85, 10, 5))[0]
            wishes.append(
                {
                    "id": f"w{len(wishes) + 1}",
                    "from": person["id"],
                    "to": other["id"],
                    "priority": rng.choice((1, 2, 2, 3)),
                    "status": status,
                }
            )
    return wishes


# --- the greedy schedule ---------------------------------------------------------------------


def greedy_solution(problem: sp.Problem) -> sp.Solution:
    """Each accepted wish in turn gets the first slot where both are free and below their
    cap, at a free table (online pairs: the video room); a wish in each direction between
    two people is one meeting."""
    cap = problem.max_meetings_per_participant or len(problem.slots)
    kinds = {p.id: p for p in problem.participants}
    busy: dict[str, set[str]] = {p.id: set() for p in problem.participants}
    tables = [loc.id for loc in problem.locations if loc.kind != "online"]
    online = next(loc for loc in problem.locations if loc.kind == "online")
    used: dict[str, int] = {}
    meetings: dict[frozenset[str], sp.Meeting] = {}
    unscheduled: list[sp.Unscheduled] = []
    for wish in problem.wishes:
        a, b = wish.sender, wish.recipient
        assert b is not None  # the generator only wishes to participants
        pair = frozenset((a, b))
        if pair in meetings:
            m = meetings[pair]
            meetings[pair] = sp.Meeting(
                wishes=(*m.wishes, wish.id),
                slot=m.slot,
                location=m.location,
                participants=m.participants,
                kind=m.kind,
            )
            continue
        place = _first_free(problem, busy, used, a, b, cap, tables, online, kinds)
        if place is None:
            unscheduled.append(
                sp.Unscheduled(wish.id, "no_common_slot", f"{a} and {b} share no free slot")
            )
            continue
        slot, location = place
        busy[a].add(slot)
        busy[b].add(slot)
        counter = f"{slot}/{online.id}" if location == online.id else f"{slot}/tables"
        used[counter] = used.get(counter, 0) + 1
        meetings[pair] = sp.Meeting(
            wishes=(wish.id,),
            slot=slot,
            location=location,
            participants=(a, b),
            kind=_kind(kinds[a].organisation_kind, kinds[b].organisation_kind),
        )
    placed = list(meetings.values())
    return sp.Solution(
        status="feasible",
        objective=evaluate(problem, placed),
        meetings=placed,
        unscheduled=unscheduled,
    )


def _first_free(
    problem: sp.Problem,
    busy: dict[str, set[str]],
    used: dict[str, int],
    a: str,
    b: str,
    cap: int,
    tables: list[str],
    online: sp.Location,
    people: dict[str, sp.Participant],
) -> tuple[str, str] | None:
    if len(busy[a]) >= cap or len(busy[b]) >= cap:
        return None
    is_online = people[a].online or people[b].online
    for slot in problem.slots:
        if slot.id in busy[a] or slot.id in busy[b]:
            continue
        if is_online:
            if used.get(f"{slot.id}/{online.id}", 0) < online.capacity:
                return slot.id, online.id
            continue
        # Tables fill in order, so a slot's count of meetings at tables names the next one.
        taken = used.get(f"{slot.id}/tables", 0)
        if taken < len(tables):
            return slot.id, tables[taken]
    return None


def _kind(first: str, second: str) -> sp.MeetingKind:
    kinds: tuple[sp.MeetingKind, ...] = ("B2B", "C2B", "C2C")
    return kinds[(first == "cluster") + (second == "cluster")]


# --- storing ---------------------------------------------------------------------------------


def build(
    sessions: sessionmaker[Session],
    prefix: str,
    participants: int,
    tokens_dir: Path,
    seed: int = 1,
    *,
    render: bool = True,
) -> tuple[LoadEvent, LoadEvent]:
    """Store both events; returns (agenda event, wishes event). `render`: the publication
    renders and stores every agenda and feed, as the API's does (False: as before that)."""
    agenda = _store(
        sessions, f"{prefix}-agenda", participants, seed, tokens_dir, publish=True, render=render
    )
    wishes = _store(sessions, f"{prefix}-wishes", participants, seed, tokens_dir, publish=False)
    return agenda, wishes


def _store(
    sessions: sessionmaker[Session],
    slug: str,
    participants: int,
    seed: int,
    tokens_dir: Path,
    *,
    publish: bool,
    render: bool = True,
) -> LoadEvent:
    bundle = event_bundle(slug, participants, seed)
    with sessions() as session:
        event = import_bundle(session, Bundle.model_validate(bundle))
        session.flush()
        # Everyone is in the public directory (wishes go only to listed participants).
        session.execute(
            update(Participant).where(Participant.event_id == event.id).values(listed=True)
        )
        event.status = EventStatus.open
        event.wish_cutoff = utcnow() + timedelta(minutes=10)
        tokens_file = _issue_tokens(session, event, tokens_dir / f"{slug}.tokens")
        session.commit()
        meetings, seconds = _publish_greedy_schedule(session, event, render) if publish else (0, 0)
    return LoadEvent(slug, participants, len(bundle["wishes"]), meetings, tokens_file, seconds)


def _issue_tokens(session: Session, event: Event, path: Path) -> Path:
    """Fresh tokens for everyone; the file gets `key organisation access calendar` lines."""
    lines = []
    people = session.execute(
        select(Participant, Organisation.key)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id)
        .order_by(Participant.id)
    )
    for person, organisation in people:
        access, calendar = new_token(PARTICIPANT_TOKEN_PREFIX), new_token(CALENDAR_TOKEN_PREFIX)
        person.access_token_hash = hash_token(access)
        session.add(CalendarLink(participant_id=person.id, token_hash=hash_token(calendar)))
        lines.append(f"{person.key} {organisation} {access} {calendar}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_wish_pairs(sessions: sessionmaker[Session], slug: str, path: Path) -> int:
    """Every stored `sender recipient` pair of the event, so the load generator avoids them."""
    sender, recipient = aliased(Participant), aliased(Participant)
    with sessions() as session:
        pairs = session.execute(
            select(sender.key, recipient.key)
            .join(Wish, Wish.sender_id == sender.id)
            .join(recipient, Wish.recipient_id == recipient.id)
            .join(Event, Wish.event_id == Event.id)
            .where(Event.slug == slug)
        ).all()
    path.write_text("".join(f"{a} {b}\n" for a, b in pairs))
    return len(pairs)


def _publish_greedy_schedule(session: Session, event: Event, render: bool) -> tuple[int, float]:
    """Plan greedily, then publish as `POST …/versions/{n}/publish` does: the publication,
    its e-mails in the outbox, (with `render`) every agenda and feed rendered and stored, the
    commit. Returns the meetings and the seconds of the publication (planning excluded)."""
    event.status = EventStatus.closed
    snapshot = problem_from_event(session, event)
    solution = greedy_solution(snapshot.problem)
    version = save_solution(session, event, snapshot, solution, {"builder": "greedy"})
    session.commit()
    settings = Settings(base_url="https://load.example.org")
    started = time.monotonic()
    result = publish_version(session, version)
    queue_publication_mails(session, event, result, settings.base_url)
    if render:
        render_publication(session, event, result, settings)
    session.commit()
    return len(solution.meetings), time.monotonic() - started
