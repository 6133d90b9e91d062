"""Proposals: meetings the organisers propose to fill participants' idle slots.

Who has room. After a solve, a participant's free slots are read from the schedule: the
current published version, else the newest version (`basis`): the event's slots the
participant is available in, up to its cap (its own `max_meetings`, else the rule
`max_meetings_per_participant`), less its meetings in that version and the proposals made to
it since that version's snapshot that are still open. Before any solve, the slots up to the
cap less its accepted wishes (sent, or received in person) and its open proposals.

What is proposed. For each participant with room (the most free slots first), its
recommendations (`matchmaking.participants.recommend`) best first, keeping a partner only
when the two share no wish in either direction (of any status: a wish to an organisation
counts for each of its members), the partner has room too, the event's rule
`cross_delegation_only` allows the pair, and neither has been given `per_participant`
proposals in this round. Each pair is proposed once. The reasons are each side's own ("you"
being that side): the recommendation's for the participant whose ranking made it, the
ranking's reasons for the pair the other way round for the partner.

A sent proposal is a `Wish` with `proposed` set, from the participant whose ranking made it
to the partner, at priority 3: it waits until both accept (`answer_proposal` in
`matchmaking.participants.wishes`) and is scheduled after every wish the participants sent
themselves (`solver.problem.scheduled_weights`). Sending locks the event row and plans again
under the lock, so two organisers sending at once never propose one pair twice.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.organising.events import lock_event
from matchmaking.participants.recommend import delegation_key, recommender_for_event
from matchmaking.participants.registration import participant_page
from matchmaking.participants.wishes import OPEN_STATUSES, check_wishes_allowed
from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.versions import latest_version
from matchmaking.platform.errors import Invalid
from matchmaking.platform.mail import Mail, queue
from matchmaking.platform.models import (
    Event,
    Meeting,
    Organisation,
    Organiser,
    Participant,
    ParticipantUnavailableSlot,
    ScheduleVersion,
    Slot,
    Wish,
    WishStatus,
)

#: Proposals per participant in one round, unless the organiser chooses.
DEFAULT_PER_PARTICIPANT = 2
MAX_PER_PARTICIPANT = 20
#: How many of a participant's recommendations are looked through.
_LOOK_THROUGH = 40


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed meeting between `sender` (whose ranking made it) and `recipient`."""

    sender: Participant
    recipient: Participant
    score: float
    #: Why, in the sender's words and in the recipient's.
    sender_reasons: tuple[str, ...]
    recipient_reasons: tuple[str, ...]


@dataclass(slots=True)
class ProposalPlan:
    """A preview: which meetings would be proposed, and why."""

    #: The version the free slots were read from (None: before any solve).
    basis: ScheduleVersion | None
    per_participant: int
    #: Participants with room, by id, and how many free slots each has.
    free: dict[int, int] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)

    @property
    def participants(self) -> int:
        """How many participants the proposals go to (either side)."""
        return len({p.sender.id for p in self.proposals} | {p.recipient.id for p in self.proposals})

    def basis_words(self) -> str:
        if self.basis is None:
            return "no schedule yet: free slots are the slots beyond each one's accepted wishes"
        state = "published" if self.basis.published_at is not None else "newest"
        return f"version {self.basis.number} ({state}): free slots are those without a meeting"


def check_per_participant(value: int, field_name: str = "body.per_participant") -> int:
    if not 1 <= value <= MAX_PER_PARTICIPANT:
        raise Invalid(
            f"Propose between 1 and {MAX_PER_PARTICIPANT} meetings per participant.",
            field=field_name,
        )
    return value


def plan_proposals(
    session: Session, event: Event, per_participant: int = DEFAULT_PER_PARTICIPANT
) -> ProposalPlan:
    """The proposals a round would send now (reads only)."""
    check_per_participant(per_participant)
    basis = current_published_version(session, event.id) or latest_version(session, event)
    plan = ProposalPlan(basis=basis, per_participant=per_participant)
    people = {
        p.id: p
        for p in session.scalars(
            select(Participant).where(Participant.event_id == event.id).order_by(Participant.id)
        )
    }
    if not people:
        return plan
    organisations = {
        o.id: o
        for o in session.scalars(select(Organisation).where(Organisation.event_id == event.id))
    }
    free = _free_slots(session, event, people, basis)
    plan.free = {pid: n for pid, n in free.items() if n > 0}
    linked = _linked_pairs(session, event, people)
    by_key = {p.key: p for p in people.values()}
    cross_only = bool((event.rules or {}).get("cross_delegation_only"))
    recommender = recommender_for_event(session, event)
    given: Counter[int] = Counter()
    # The most free slots first (ties: registration order), so the emptiest agendas choose.
    for pid in sorted(plan.free, key=lambda i: (-plan.free[i], i)):
        me = people[pid]
        if given[pid] >= per_participant or free[pid] <= 0:
            continue
        excluded = {people[o].key for o in linked.get(pid, ())}
        for suggestion in recommender.suggest(me.key, _LOOK_THROUGH, excluded=excluded):
            if given[pid] >= per_participant or free[pid] <= 0:
                break
            other = by_key.get(suggestion.participant)
            if other is None or other.id == pid or other.id in linked.get(pid, ()):
                continue
            if free.get(other.id, 0) <= 0 or given[other.id] >= per_participant:
                continue
            if other.organisation_id == me.organisation_id:
                continue
            if cross_only and _same_delegation(organisations, me, other):
                continue
            plan.proposals.append(
                Proposal(
                    sender=me,
                    recipient=other,
                    score=suggestion.score,
                    sender_reasons=suggestion.reasons,
                    recipient_reasons=recommender.reasons_between(other.key, me.key),
                )
            )
            for side in (pid, other.id):
                given[side] += 1
                free[side] -= 1
                linked.setdefault(side, set())
            linked[pid].add(other.id)
            linked[other.id].add(pid)
    return plan


def _same_delegation(
    organisations: dict[int, Organisation], a: Participant, b: Participant
) -> bool:
    mine = delegation_key(organisations[a.organisation_id].delegation)
    return bool(mine) and mine == delegation_key(organisations[b.organisation_id].delegation)


def _free_slots(
    session: Session,
    event: Event,
    people: dict[int, Participant],
    basis: ScheduleVersion | None,
) -> dict[int, int]:
    """Participant id -> free slots (see the module's docstring); 0 or less = no room."""
    slots = session.scalar(select(func.count(Slot.id)).where(Slot.event_id == event.id)) or 0
    unavailable: Counter[int] = Counter()
    for pid, count in session.execute(
        select(ParticipantUnavailableSlot.participant_id, func.count())
        .where(ParticipantUnavailableSlot.participant_id.in_(list(people)))
        .group_by(ParticipantUnavailableSlot.participant_id)
    ):
        unavailable[pid] = count
    default_cap = (event.rules or {}).get("max_meetings_per_participant")
    used: Counter[int] = Counter()
    open_proposals = [
        Wish.event_id == event.id,
        Wish.proposed.is_(True),
        Wish.status.in_(OPEN_STATUSES),
    ]
    if basis is not None:
        for a, b in session.execute(
            select(Meeting.participant_a_id, Meeting.participant_b_id).where(
                Meeting.version_id == basis.id
            )
        ):
            used.update((a, b))
        # Proposals the version could not have held yet.
        open_proposals.append(Wish.created_at >= basis.snapshot_at)
    else:
        for sender, recipient in session.execute(
            select(Wish.sender_id, Wish.recipient_id).where(
                Wish.event_id == event.id,
                Wish.status == WishStatus.accepted,
                Wish.proposed.is_(False),
            )
        ):
            used.update([sender] if recipient is None else [sender, recipient])
    for sender, recipient in session.execute(
        select(Wish.sender_id, Wish.recipient_id).where(*open_proposals)
    ):
        used.update(p for p in (sender, recipient) if p is not None)
    free: dict[int, int] = {}
    for pid, person in people.items():
        room = slots - unavailable[pid]
        cap = person.max_meetings if person.max_meetings is not None else default_cap
        if cap is not None:
            room = min(room, int(cap))
        free[pid] = room - used[pid]
    return free


def _linked_pairs(
    session: Session, event: Event, people: dict[int, Participant]
) -> dict[int, set[int]]:
    """Participant id -> those it shares a wish with, in either direction, of any status."""
    members: dict[int, list[int]] = {}
    for person in people.values():
        members.setdefault(person.organisation_id, []).append(person.id)
    linked: dict[int, set[int]] = {}
    for sender, recipient, organisation in session.execute(
        select(Wish.sender_id, Wish.recipient_id, Wish.recipient_organisation_id).where(
            Wish.event_id == event.id
        )
    ):
        others = [recipient] if recipient is not None else members.get(organisation, [])
        for other in others:
            linked.setdefault(sender, set()).add(other)
            linked.setdefault(other, set()).add(sender)
    return linked


def send_proposals(
    session: Session,
    event: Event,
    organiser: Organiser,
    per_participant: int = DEFAULT_PER_PARTICIPANT,
    *,
    base_url: str,
    now: datetime | None = None,
) -> SentRound:
    """Send a round of proposals: plan again under the event's lock, add one proposed wish
    per proposal and queue the e-mails to both sides, in the session's transaction (the
    caller commits: nothing is stored or sent if it rolls back)."""
    check_per_participant(per_participant)
    check_wishes_allowed(event, now)
    lock_event(session, event)
    plan = plan_proposals(session, event, per_participant)
    taken = set(session.scalars(select(Wish.key).where(Wish.event_id == event.id)))
    wishes = []
    for proposal in plan.proposals:
        key = f"w-{secrets.token_hex(4)}"
        while key in taken:
            key = f"w-{secrets.token_hex(4)}"
        taken.add(key)
        wish = Wish(
            event_id=event.id,
            key=key,
            sender_id=proposal.sender.id,
            recipient_id=proposal.recipient.id,
            priority=3,
            status=WishStatus.requested,
            proposed=True,
            proposed_by_id=organiser.id,
            reasons={
                "sender": list(proposal.sender_reasons),
                "recipient": list(proposal.recipient_reasons),
            },
        )
        session.add(wish)
        wishes.append(wish)
    session.flush()
    queued = queue(session, proposal_mails(event, plan.proposals, base_url), event_id=event.id)
    return SentRound(plan, wishes, queued)


@dataclass(frozen=True, slots=True)
class SentRound:
    plan: ProposalPlan
    #: The proposed wishes, in the plan's order.
    wishes: list[Wish]
    #: E-mails queued.
    mails: int


def proposal_mails(event: Event, proposals: Iterable[Proposal], base_url: str) -> list[Mail]:
    """'The organisers propose you meet …' to both sides of every proposal."""
    mails = []
    for proposal in proposals:
        for me, other, reasons in (
            (proposal.sender, proposal.recipient, proposal.sender_reasons),
            (proposal.recipient, proposal.sender, proposal.recipient_reasons),
        ):
            if not me.email:
                continue
            mails.append(
                Mail(
                    to=me.email,
                    template="proposal_received",
                    context={
                        "event_name": event.name,
                        "recipient_name": me.name,
                        "other_name": other.name,
                        "other_organisation": other.organisation.name,
                        "other_country": other.organisation.country or "",
                        "reasons": list(reasons),
                        "page_url": inbox_page(base_url, event),
                    },
                )
            )
    return mails


def inbox_page(base_url: str, event: Event) -> str:
    return participant_page(base_url, event).removesuffix("/me") + "/inbox"


def open_proposals(session: Session, event: Event) -> int:
    """How many proposals wait for an answer from one side or both."""
    return (
        session.scalar(
            select(func.count(Wish.id)).where(
                Wish.event_id == event.id,
                Wish.proposed.is_(True),
                Wish.status == WishStatus.requested,
            )
        )
        or 0
    )
