"""Hand edits of a schedule version: move, add, cancel and pin meetings, and re-solve around
the pinned ones.

Only a version that is not published is edited. A published version is what participants
see: editing it is refused (`VersionIsPublished`, a conflict); `draft_copy` makes a new
unpublished version with the same meetings (planned from the published one), and the edits go
there. Every edit is judged by the solver's own rules: the version's meetings after the edit
go through the rule functions of `solver.check` (the independent checker every solve is
verified with) on the event as it is now, and an edit is refused when it breaks a rule the
meetings before it kept. The refusal says why in words, with names, times (event time) and
places ("Ana Côté already meets Bo Nowak at 10:20 at Table 4"); nothing is stored then.

Edits of one version are serialised by a row lock on the version (`SELECT … FOR NO KEY
UPDATE` on PostgreSQL; SQLite's writers queue on BEGIN IMMEDIATE), taken before the meetings
are read: of two edits at once the second sees the first and is judged against it.

A meeting moved or added by hand is marked `placed_by_hand`, a pinned one `pinned`; each edit
is logged as a `HandEdit` in words, and version diffs show those changes as made by hand.
`resolve_around_pins` solves the event again with the pinned meetings fixed (their wishes are
required in their slot, and they keep their place) and the version's other meetings kept
where they are as far as the goals allow (the `stability` goal of a re-plan). Cancelling a
meeting does not withdraw its wishes: a later solve may hold them again.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.organising.events import event_row
from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.rest_of_day import pinned_problem, without_who_left
from matchmaking.planning.scheduling import (
    goal_order,
    next_version_number,
    problem_from_event,
    save_solution,
)
from matchmaking.planning.snapshot import solver_wish, wish_rows
from matchmaking.planning.versions import SCHEDULE_STATUSES, load_meetings
from matchmaking.platform.db import lock_again
from matchmaking.platform.errors import Conflict, Invalid, NotFound
from matchmaking.platform.models import (
    Event,
    EventSession,
    HandEdit,
    Location,
    Meeting,
    MeetingWish,
    Organisation,
    Participant,
    ScheduleVersion,
    Slot,
    Wish,
    utcnow,
)
from solver import check as rules
from solver import problem as sp

#: Why a wish is unscheduled after its meeting was cancelled by hand.
CANCELLED_REASON = "cancelled_by_organiser"
EDIT_KINDS = ("moved", "added", "cancelled", "pinned", "unpinned", "copied", "resolved")


class VersionIsPublished(Conflict):
    title = "The version is published"


class EditRefused(Conflict):
    """An edit that breaks a rule of the event; `reasons` are sentences in words."""

    title = "The edit breaks a rule of the event"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(" ".join(reasons))
        self.reasons = reasons


# --- words -------------------------------------------------------------------------------


@dataclass(slots=True)
class Words:
    """Keys of an event in words: names of people, organisations, sessions and locations,
    and slot times (event time, with the day when the event has more than one)."""

    people: dict[str, str]
    organisations: dict[str, str]
    sessions: dict[str, str]
    locations: dict[str, str]
    slots: dict[str, tuple[datetime, datetime]]

    @classmethod
    def of_event(cls, session: Session, event: Event) -> Words:
        slots = {
            key: (start, end)
            for key, start, end in session.execute(
                select(Slot.key, Slot.start, Slot.end).where(Slot.event_id == event.id)
            )
        }

        def names(
            model: type[Participant | Organisation | EventSession | Location],
        ) -> dict[str, str]:
            rows = session.execute(select(model.key, model.name).where(model.event_id == event.id))
            return {key: name for key, name in rows}

        return cls(
            people=names(Participant),
            organisations=names(Organisation),
            sessions=names(EventSession),
            locations=names(Location),
            slots=slots,
        )

    @property
    def multi_day(self) -> bool:
        return len({start.date() for start, _ in self.slots.values()}) > 1

    def person(self, key: str) -> str:
        return self.people.get(key, "a participant who left")

    def time(self, slot: str) -> str:
        if slot not in self.slots:
            return "a slot that was removed"
        start = self.slots[slot][0]
        return start.strftime("%a %d %b %H:%M" if self.multi_day else "%H:%M")

    def place(self, location: str) -> str:
        return self.locations.get(location, "a location that was removed")

    def meeting(self, m: sp.Meeting) -> str:
        a, b = m.participants
        when, where = self.time(m.slot), self.place(m.location)
        return f"{self.person(a)} and {self.person(b)} at {when} at {where}"

    def wish(self, wish: sp.Wish) -> str:
        if wish.recipient is not None:
            target = self.person(wish.recipient)
        else:
            target = self.organisations.get(wish.recipient_organisation or "", "an organisation")
        return f"the wish of {self.person(wish.sender)} to meet {target}"


# --- the version as the checker sees it --------------------------------------------------


@dataclass(slots=True)
class Workbench:
    """A version's meetings locked for an edit, as solver meetings, with the problem they are
    judged on and the words to explain a refusal."""

    event: Event
    version: ScheduleVersion
    rows: list[Meeting]
    meetings: list[sp.Meeting]
    #: The event as it is now, plus the wishes the version meets that are no longer accepted
    #: (its meetings are judged with their own wishes).
    problem: sp.Problem
    #: The event as it is now, as a solve sees it (objective values are measured on it).
    accepted: sp.Problem
    words: Words

    def find(self, uid: str) -> int:
        for n, row in enumerate(self.rows):
            if row.uid == uid:
                return n
        raise NotFound(f"Version {self.version.number} has no meeting '{uid}'.", field="uid")


def as_solver_meeting(row: Meeting) -> sp.Meeting:
    return sp.Meeting(
        wishes=tuple(w.key for w in row.wishes),
        slot=row.slot.key,
        location=row.location.key,
        participants=(row.participant_a.key, row.participant_b.key),
        kind=row.kind,  # type: ignore[arg-type]
    )


def lock_version(session: Session, version: ScheduleVersion) -> ScheduleVersion:
    """Take the version's row lock (see the module docstring) and read it again."""
    return lock_again(session, version, f"There is no schedule version {version.number} any more.")


def ensure_editable(version: ScheduleVersion) -> None:
    if version.published_at is not None:
        raise VersionIsPublished(
            f"Version {version.number} is published: participants see it, so it is not edited "
            "in place. Make a draft copy of it and edit the copy."
        )
    if version.status not in SCHEDULE_STATUSES:
        raise Conflict(f"Version {version.number} holds no schedule to edit.")


def workbench(session: Session, event: Event, version: ScheduleVersion) -> Workbench:
    """Lock `version` for an edit and read what judging the edit needs."""
    version = lock_version(session, version)
    ensure_editable(version)
    rows = load_meetings(session, version)
    meetings = [as_solver_meeting(row) for row in rows]
    basis = session.get(ScheduleVersion, version.based_on_id) if version.based_on_id else None
    accepted = problem_from_event(session, event, replan_from=basis).problem
    return Workbench(
        event=event,
        version=version,
        rows=rows,
        meetings=meetings,
        problem=_with_met_wishes(session, event, accepted, meetings),
        accepted=accepted,
        words=Words.of_event(session, event),
    )


def _with_met_wishes(
    session: Session, event: Event, problem: sp.Problem, meetings: Sequence[sp.Meeting]
) -> sp.Problem:
    known = {w.id for w in problem.wishes}
    missing = {w for m in meetings for w in m.wishes} - known
    if not missing:
        return problem
    rows, after = wish_rows(session, event)
    extra = tuple(
        solver_wish(
            row, (k for k in after.get(row.id, ()) if k in known or k in missing), required=False
        )
        for row in rows
        if row.key in missing
    )
    return dataclasses.replace(problem, wishes=problem.wishes + extra)


# --- judging an edit ------------------------------------------------------------------------

Rule = Callable[[rules.EventIndex, list[sp.Meeting]], list[str]]

#: The checker's rules, by name (solver/check.py; references are checked first, as it does).
RULES: tuple[tuple[str, Rule], ...] = (
    ("partners", rules._check_wish_partners),
    ("kind", rules._check_kind),
    ("one_per_slot", rules._check_one_meeting_per_slot),
    ("unavailable", rules._check_unavailable),
    ("caps", rules._check_caps),
    ("capacity", rules._check_location_capacity),
    ("location", rules._check_location_suitability),
    ("session", rules._check_session_and_fixed_slot),
    ("after", rules._check_after),
    ("pairs", rules._check_pairs),
    ("breaks", rules._check_break_difference),
)


def broken_rules(
    problem: sp.Problem, before: list[sp.Meeting], after: list[sp.Meeting]
) -> list[str]:
    """Names of the rules `after` breaks more often than `before` does."""
    index = rules.EventIndex(problem)
    if rules._check_references(index, after):
        return ["references"]
    broken = []
    for name, rule in RULES:
        now, then = Counter(rule(index, after)), Counter(rule(index, before))
        if now - then:
            broken.append(name)
    met_before = rules.met_wishes(before)
    met_after = rules.met_wishes(after)
    if any(w.required and w.id in met_before and w.id not in met_after for w in problem.wishes):
        broken.append("required")
    return broken


def judge(bench: Workbench, after: list[sp.Meeting], touched: sp.Meeting | None) -> None:
    """Raise `EditRefused` (in words) when `after` breaks a rule `bench.meetings` kept."""
    broken = broken_rules(bench.problem, bench.meetings, after)
    if not broken:
        return
    index = rules.EventIndex(bench.problem)
    reasons: list[str] = []
    for rule in broken:
        for sentence in _explain(rule, index, bench.words, after, touched, bench.meetings):
            if sentence not in reasons:
                reasons.append(sentence)
    raise EditRefused(reasons)


_GENERIC = {
    "references": "The meeting names a person, wish, slot or location the event no longer has.",
    "partners": "The meeting is not between the people its wishes name.",
    "kind": "The meeting's kind does not match its participants' organisations.",
    "one_per_slot": "A participant would have two meetings at the same time.",
    "unavailable": "A participant is not available at that time.",
    "caps": "A participant would hold more meetings than their cap allows.",
    "capacity": "The location is full at that time.",
    "location": "The location does not suit the meeting (online, on site or host rules).",
    "session": "A wish of the meeting is for another session or time.",
    "after": "A wish of the meeting must come after another one.",
    "pairs": "The two participants would meet twice.",
    "breaks": "Breaks between meetings would become too uneven between participants.",
    "required": "The meeting meets a required wish; required wishes are always met.",
}


def _explain(
    rule: str,
    index: rules.EventIndex,
    words: Words,
    after: list[sp.Meeting],
    touched: sp.Meeting | None,
    before: list[sp.Meeting],
) -> list[str]:
    found: list[str] = []
    if touched is not None:
        found = _about_meeting(rule, index, words, after, touched)
    if rule == "required":
        met = rules.met_wishes(after)
        found = [
            f"The meeting meets {words.wish(w)}, a required wish; required wishes are always met."
            for w in index.problem.wishes
            if w.required and w.id in rules.met_wishes(before) and w.id not in met
        ]
    if rule == "breaks":
        found = _about_breaks(index, words, after)
    return found or [_GENERIC[rule]]


def _about_meeting(
    rule: str, index: rules.EventIndex, words: Words, after: list[sp.Meeting], m: sp.Meeting
) -> list[str]:
    others = [o for o in after if o is not m]
    when, where = words.time(m.slot), words.place(m.location)
    out: list[str] = []
    if rule == "one_per_slot":
        for p in m.participants:
            for o in others:
                if o.slot == m.slot and p in o.participants:
                    (partner,) = set(o.participants) - {p} or {p}
                    out.append(
                        f"{words.person(p)} already meets {words.person(partner)} at "
                        f"{words.time(o.slot)} at {words.place(o.location)}."
                    )
    elif rule == "unavailable":
        out = [
            f"{words.person(p)} is not available at {when}."
            for p in m.participants
            if m.slot in index.participants[p].unavailable
        ]
    elif rule == "caps":
        counts = Counter(p for o in after for p in o.participants)
        for p in m.participants:
            cap = index.cap(p)
            if cap is not None and counts[p] > cap:
                out.append(
                    f"{words.person(p)} would hold {counts[p]} meetings, above their cap of {cap}."
                )
        total = index.problem.max_meetings_total
        if not out and total is not None and len(after) > total:
            out.append(f"The event would hold {len(after)} meetings, above its cap of {total}.")
    elif rule == "capacity":
        there = [o for o in others if o.slot == m.slot and o.location == m.location]
        taken = "; ".join(
            f"{words.person(o.participants[0])} and {words.person(o.participants[1])}"
            for o in there
        )
        out.append(f"{where} is taken at {when} by {taken}." if taken else "")
    elif rule == "location":
        a, b = m.participants
        location = index.locations[m.location]
        if index.is_online_pair(a, b) and location.kind != "online":
            online = next(p for p in m.participants if index.participants[p].online)
            out.append(
                f"{words.person(online)} attends online, so the meeting is held in a video "
                f"room, not at {where}."
            )
        elif not index.is_online_pair(a, b) and location.kind == "online":
            out.append(
                f"{words.person(a)} and {words.person(b)} both attend on site, so the meeting "
                f"is not held in {where}, a video room."
            )
        for p in m.participants:
            host = index.participants[p].host_location
            if not index.is_online_pair(a, b) and host is not None and host != m.location:
                out.append(
                    f"{words.person(p)} hosts at {words.place(host)}, so their meetings are "
                    f"held there, not at {where}."
                )
    elif rule == "session":
        held = index.slots[m.slot]
        for wid in m.wishes:
            wish = index.wishes[wid]
            if wish.session is not None and held.session != wish.session:
                name = words.sessions.get(wish.session, wish.session)
                out.append(f"{_cap(words.wish(wish))} is for the session {name}, not {when}.")
            if wish.fixed_slot is not None and m.slot != wish.fixed_slot:
                out.append(
                    f"{_cap(words.wish(wish))} is fixed to {words.time(wish.fixed_slot)}, "
                    f"not {when}."
                )
    elif rule == "after":
        slot_of = {w: o.slot for o in after for w in o.wishes}
        position = index.slot_position
        for wid, slot in slot_of.items():
            for earlier in index.wishes[wid].after:
                if (
                    earlier in slot_of
                    and position[slot_of[earlier]] >= position[slot]
                    and (wid in m.wishes or earlier in m.wishes)
                ):
                    out.append(
                        f"{_cap(words.wish(index.wishes[wid]))} ({words.time(slot)}) must "
                        f"come after {words.wish(index.wishes[earlier])} "
                        f"({words.time(slot_of[earlier])})."
                    )
    elif rule == "pairs":
        for o in others:
            if set(o.participants) == set(m.participants):
                out.append(
                    f"{words.person(m.participants[0])} and {words.person(m.participants[1])} "
                    f"already meet at {words.time(o.slot)} at {words.place(o.location)}; two "
                    "participants meet once."
                )
    return [sentence for sentence in out if sentence]


def _about_breaks(index: rules.EventIndex, words: Words, after: list[sp.Meeting]) -> list[str]:
    d = index.problem.max_break_difference
    breaks = rules.breaks_per_participant(index.problem, after)
    if d is None or not breaks:
        return []
    most = max(breaks, key=lambda p: (breaks[p], p))
    fewest = min(breaks, key=lambda p: (breaks[p], p))
    return [
        f"{words.person(most)} would have {breaks[most]} breaks between meetings and "
        f"{words.person(fewest)} {breaks[fewest]}: the event allows a difference of {d}."
    ]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- recording -----------------------------------------------------------------------------


def _log(
    session: Session, version: ScheduleVersion, kind: str, uid: str, text: str, by: int | None
) -> HandEdit:
    edit = HandEdit(version_id=version.id, kind=kind, uid=uid, text=text, organiser_id=by)
    session.add(edit)
    return edit


def _refresh_results(session: Session, bench: Workbench, after: list[sp.Meeting]) -> None:
    """The version's goal values and unscheduled wishes after an edit."""
    version = bench.version
    version.objective = {**version.objective, **rules.evaluate(bench.accepted, after)}
    met = rules.met_wishes(after)
    kept = [u for u in version.unscheduled if u.get("wish") not in met]
    listed = {u.get("wish") for u in kept}
    was_met = rules.met_wishes(bench.meetings)
    for wish in bench.accepted.wishes:
        if wish.id in was_met and wish.id not in met and wish.id not in listed:
            kept.append(
                {
                    "wish": wish.id,
                    "reason": CANCELLED_REASON,
                    "detail": "The organiser cancelled this meeting by hand.",
                }
            )
    version.unscheduled = kept


@dataclass(frozen=True, slots=True)
class EditResult:
    version: ScheduleVersion
    edit: HandEdit
    meeting: Meeting | None


def move_meeting(
    session: Session,
    event: Event,
    version: ScheduleVersion,
    uid: str,
    *,
    slot: str,
    location: str,
    by: int | None = None,
) -> EditResult:
    """Move the meeting `uid` to another slot and/or location. Flushes; the caller commits
    (or rolls back on an error)."""
    new_slot = event_row(session, event, Slot, slot, "slot", "body.slot")
    new_location = event_row(session, event, Location, location, "location", "body.location")
    bench = workbench(session, event, version)
    n = bench.find(uid)
    old = bench.meetings[n]
    if old.slot == slot and old.location == location:
        raise Invalid("The meeting is already there.", field="body.slot")
    moved = dataclasses.replace(old, slot=slot, location=location)
    after = [*bench.meetings[:n], moved, *bench.meetings[n + 1 :]]
    judge(bench, after, moved)
    row = bench.rows[n]
    text = (
        f"Moved the meeting of {bench.words.person(old.participants[0])} and "
        f"{bench.words.person(old.participants[1])} from {bench.words.time(old.slot)} at "
        f"{bench.words.place(old.location)} to {bench.words.time(slot)} at "
        f"{bench.words.place(location)}."
    )
    row.slot_id, row.location_id, row.placed_by_hand = new_slot.id, new_location.id, True
    _refresh_results(session, bench, after)
    edit = _log(session, bench.version, "moved", uid, text, by)
    session.flush()
    return EditResult(bench.version, edit, row)


def cancel_meeting(
    session: Session, event: Event, version: ScheduleVersion, uid: str, *, by: int | None = None
) -> EditResult:
    """Cancel (remove) the meeting `uid`; its wishes are listed as unscheduled."""
    bench = workbench(session, event, version)
    n = bench.find(uid)
    old = bench.meetings[n]
    after = [*bench.meetings[:n], *bench.meetings[n + 1 :]]
    judge(bench, after, None)
    text = f"Cancelled the meeting of {bench.words.meeting(old)}."
    session.delete(bench.rows[n])
    _refresh_results(session, bench, after)
    edit = _log(session, bench.version, "cancelled", uid, text, by)
    session.flush()
    return EditResult(bench.version, edit, None)


def set_pinned(
    session: Session,
    event: Event,
    version: ScheduleVersion,
    uid: str,
    pinned: bool,
    *,
    by: int | None = None,
) -> EditResult:
    """Pin the meeting `uid` (a re-solve around pins keeps it where it is) or unpin it."""
    bench = workbench(session, event, version)
    n = bench.find(uid)
    row = bench.rows[n]
    if row.pinned == pinned:
        raise Invalid(
            f"The meeting is {'already' if pinned else 'not'} pinned.", field="body.pinned"
        )
    row.pinned = pinned
    what = "Pinned" if pinned else "Unpinned"
    text = f"{what} the meeting of {bench.words.meeting(bench.meetings[n])}."
    edit = _log(session, bench.version, "pinned" if pinned else "unpinned", uid, text, by)
    session.flush()
    return EditResult(bench.version, edit, row)


def add_meeting(
    session: Session,
    event: Event,
    version: ScheduleVersion,
    participants: tuple[str, str],
    *,
    slot: str,
    location: str,
    by: int | None = None,
) -> EditResult:
    """Add a meeting of two participants for their accepted wishes this version leaves
    unmet (a meeting meets wishes: without one, the edit is refused)."""
    first, second = participants
    a = event_row(session, event, Participant, first, "participant", "body.participants")
    b = event_row(session, event, Participant, second, "participant", "body.participants")
    if a.id == b.id:
        raise Invalid("A meeting is between two different participants.", field="body.participants")
    new_slot = event_row(session, event, Slot, slot, "slot", "body.slot")
    new_location = event_row(session, event, Location, location, "location", "body.location")
    bench = workbench(session, event, version)
    index = rules.EventIndex(bench.accepted)
    wishes = _unmet_wishes(index, bench.meetings, first, second)
    words = bench.words
    if not wishes:
        together = [m for m in bench.meetings if set(m.participants) == {first, second}]
        if together:
            m = together[0]
            raise EditRefused(
                [
                    f"{words.person(first)} already meets {words.person(second)} at "
                    f"{words.time(m.slot)} at {words.place(m.location)}."
                ]
            )
        raise EditRefused(
            [
                f"Neither {words.person(first)} nor {words.person(second)} has an accepted "
                "wish to meet the other that this version leaves unmet; a meeting meets a wish."
            ]
        )
    sender = index.wishes[wishes[0]].sender
    pair = (sender, second if sender == first else first)
    people = index.participants
    meeting = sp.Meeting(
        wishes=tuple(wishes),
        slot=slot,
        location=location,
        participants=pair,
        kind=rules.meeting_kind(people[pair[0]], people[pair[1]]),
    )
    after = [*bench.meetings, meeting]
    judge(bench, after, meeting)
    row = Meeting(
        version_id=bench.version.id,
        slot_id=new_slot.id,
        location_id=new_location.id,
        participant_a_id=a.id if pair[0] == first else b.id,
        participant_b_id=b.id if pair[0] == first else a.id,
        kind=meeting.kind,
        uid=_new_uid(session, event, bench, wishes),
        placed_by_hand=True,
    )
    session.add(row)
    session.flush()
    wish_ids = dict(
        session.execute(
            select(Wish.key, Wish.id).where(Wish.event_id == event.id, Wish.key.in_(wishes))
        )
        .tuples()
        .all()
    )
    for key in wishes:
        session.add(MeetingWish(meeting_id=row.id, wish_id=wish_ids[key]))
    _refresh_results(session, bench, after)
    text = f"Added a meeting of {words.meeting(meeting)}."
    edit = _log(session, bench.version, "added", row.uid, text, by)
    session.flush()
    return EditResult(bench.version, edit, row)


def _unmet_wishes(index: rules.EventIndex, meetings: list[sp.Meeting], a: str, b: str) -> list[str]:
    """Accepted wishes between `a` and `b` no meeting meets: the shared ones (in request
    order), else the first separate one alone."""
    met = rules.met_wishes(meetings)
    found = [
        w
        for w in index.problem.wishes
        if w.id not in met
        and w.sender in (a, b)
        and (b if w.sender == a else a) in index.candidates(w)
    ]
    shared = [w.id for w in found if not w.separate]
    if shared:
        return shared
    return [found[0].id] if found else []


def _new_uid(session: Session, event: Event, bench: Workbench, wishes: list[str]) -> str:
    used = {row.uid for row in bench.rows}
    published = current_published_version(session, event.id)
    candidates: list[str] = []
    if published is not None:
        candidates += session.scalars(
            select(Meeting.uid)
            .join(Meeting.wishes)
            .where(Meeting.version_id == published.id, Wish.key.in_(wishes))
        ).all()
    candidates += [f"{event.slug}-{key}" for key in wishes]
    for uid in candidates:
        if uid not in used:
            return uid
    n = 2
    while f"{candidates[0]}-{n}" in used:
        n += 1
    return f"{candidates[0]}-{n}"


# --- draft copies --------------------------------------------------------------------------


def draft_copy(
    session: Session, event: Event, version: ScheduleVersion, *, by: int | None = None
) -> ScheduleVersion:
    """A new unpublished version with `version`'s meetings (their uids, hand marks and pins)
    and results, to edit by hand. A copy of the published version is planned from it (so
    publishing the copy later keeps its promise); a copy of another version is planned from
    what that one was. Flushes; the caller commits."""
    if version.status not in SCHEDULE_STATUSES:
        raise Conflict(f"Version {version.number} holds no schedule to copy.")
    number = next_version_number(session, event)
    copy = ScheduleVersion(
        event_id=event.id,
        number=number,
        status=version.status,
        objective=dict(version.objective),
        bound=dict(version.bound),
        parameters={**version.parameters, "copy_of": version.number},
        solve_seconds=0.0,
        unscheduled=list(version.unscheduled),
        conflicts=list(version.conflicts),
        based_on_id=version.id if version.published_at is not None else version.based_on_id,
        snapshot_at=version.snapshot_at,
        snapshot_digest=dict(version.snapshot_digest),
        created_at=utcnow(),
    )
    session.add(copy)
    session.flush()
    for row in load_meetings(session, version):
        meeting = Meeting(
            version_id=copy.id,
            slot_id=row.slot_id,
            location_id=row.location_id,
            participant_a_id=row.participant_a_id,
            participant_b_id=row.participant_b_id,
            kind=row.kind,
            uid=row.uid,
            placed_by_hand=row.placed_by_hand,
            pinned=row.pinned,
        )
        session.add(meeting)
        session.flush()
        for wish in row.wishes:
            session.add(MeetingWish(meeting_id=meeting.id, wish_id=wish.id))
    # The edits made so far travel with the meetings, so a diff still shows them.
    for edit in session.scalars(
        select(HandEdit).where(HandEdit.version_id == version.id).order_by(HandEdit.id)
    ):
        session.add(
            HandEdit(
                version_id=copy.id,
                kind=edit.kind,
                uid=edit.uid,
                text=edit.text,
                organiser_id=edit.organiser_id,
                created_at=edit.created_at,
            )
        )
    _log(session, copy, "copied", "", f"Copied from version {version.number} to edit by hand.", by)
    session.flush()
    return copy


def hand_edits(session: Session, version: ScheduleVersion) -> list[HandEdit]:
    """The version's edit log, oldest first."""
    return list(
        session.scalars(
            select(HandEdit).where(HandEdit.version_id == version.id).order_by(HandEdit.id)
        )
    )


# --- re-solve around pins ----------------------------------------------------------------------


class PinsNotKept(Conflict):
    title = "The pinned meetings cannot all be kept"


def _same_place(a: sp.Meeting, b: sp.Meeting) -> bool:
    return (
        a.slot == b.slot
        and a.location == b.location
        and set(a.participants) == set(b.participants)
        and bool(set(a.wishes) & set(b.wishes))
    )


def _keep_uids(rows: list[Meeting], uids: dict[str, str]) -> None:
    """A meeting of the re-solve that holds a wish of a meeting of the version it started
    from keeps that meeting's uid (its identity in diffs and calendars); uids stay unique."""
    wanted: dict[int, str] = {}
    taken: set[str] = set()
    for row in rows:
        for wish in row.wishes:
            uid = uids.get(wish.key)
            if uid is not None and uid not in taken:
                wanted[row.id] = uid
                taken.add(uid)
                break
    for row in rows:
        if row.id in wanted:
            row.uid = wanted[row.id]
            continue
        uid, n = row.uid, 2
        while uid in taken:
            uid, n = f"{row.uid}-{n}", n + 1
        row.uid = uid
        taken.add(uid)


def resolve_around_pins(
    sessions: Callable[[], Session],
    event_id: int,
    number: int,
    parameters: sp.SolveParameters,
    *,
    by: int | None = None,
) -> ScheduleVersion:
    """Solve the event again keeping version `number`'s pinned meetings exactly where they
    are and its other meetings where the goals allow; store the result as a new version (its
    pins and hand-placed meetings marked as such). No transaction is open while the solver
    runs. `PinsNotKept` when a pin can no longer be held (its wish withdrawn, a person left)
    or the solve could not keep them all; nothing is stored then."""
    from solver import solve  # heavy to import; only solving needs it

    with sessions() as session, session.begin():
        event = session.get_one(Event, event_id)
        version = session.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.event_id == event_id, ScheduleVersion.number == number
            )
        )
        if version is None:
            raise NotFound(f"The event has no schedule version {number}.")
        if version.status not in SCHEDULE_STATUSES:
            raise Conflict(f"Version {number} holds no schedule to re-solve around.")
        rows = load_meetings(session, version)
        meetings = [as_solver_meeting(row) for row in rows]
        pins = [m for m, row in zip(meetings, rows, strict=True) if row.pinned]
        by_hand = [m for m, row in zip(meetings, rows, strict=True) if row.placed_by_hand]
        words = Words.of_event(session, event)
        uids = {w: row.uid for row in rows for w in (wish.key for wish in row.wishes)}
        snapshot = problem_from_event(
            session, event, objective=goal_order(event.rules, replan=True)
        )
        accepted = {w.id for w in snapshot.problem.wishes}
        lost = [pin for pin in pins if not set(pin.wishes) & accepted]
        if lost:
            raise PinsNotKept(
                " ".join(
                    f"The pinned meeting of {words.meeting(pin)} meets no wish that is still "
                    "accepted; unpin or cancel it first."
                    for pin in lost
                )
            )
        # People marked away get no meeting after they left here either.
        problem, _gone = without_who_left(
            session, event, pinned_problem(snapshot.problem, meetings, pins)
        )
        # The version records the event as read (its fingerprints judge staleness later), not
        # the pins' stricter copy the solver works on.
        snapshot = dataclasses.replace(snapshot, based_on_id=version.based_on_id)
    solution = solve(problem, parameters)
    missing = [pin for pin in pins if not any(_same_place(pin, m) for m in solution.meetings)]
    if missing or solution.status not in SCHEDULE_STATUSES:
        raise PinsNotKept(
            " ".join(
                f"The solve could not keep the pinned meeting of {words.meeting(pin)}."
                for pin in missing
            )
            or "The solve found no schedule that keeps the pinned meetings."
        )
    with sessions() as session, session.begin():
        event = session.get_one(Event, event_id)
        record = {
            "time_limit_seconds": parameters.time_limit_seconds,
            "workers": parameters.workers,
            "deterministic": parameters.deterministic,
            "around_pins_of": number,
        }
        new = save_solution(session, event, snapshot, solution, record)
        new_rows = load_meetings(session, new)
        _keep_uids(new_rows, uids)
        for row in new_rows:
            placed = as_solver_meeting(row)
            row.pinned = any(_same_place(pin, placed) for pin in pins)
            row.placed_by_hand = any(_same_place(hand, placed) for hand in by_hand)
        text = (
            f"Re-solved around the {len(pins)} pinned meeting{'s' * (len(pins) != 1)} of "
            f"version {number}."
        )
        _log(session, new, "resolved", "", text, by)
        session.flush()
    return new
