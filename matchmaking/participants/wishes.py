"""Meeting wishes between participants: send, edit, withdraw, accept, decline.

Rules (see docs/api.md):
- Wishes can be sent, withdrawn and answered once the event is no longer a draft, until its
  `wish_cutoff` (also after registration closes, so late arrivals can still be met).
- A wish goes to a listed participant or to an organisation with a listed participant; never
  to oneself or one's own organisation; at most one open wish per sender and recipient.
- `max_requests_per_participant` caps a sender's open wishes (requested or accepted);
  declined and withdrawn ones free their place. The cap holds under concurrent requests: the
  sender's row is locked (PostgreSQL `SELECT … FOR UPDATE`; SQLite's BEGIN IMMEDIATE
  serialises writers) before counting.
- With `auto_accept` a wish is accepted when sent; with `recipient_accepts` it waits for the
  recipient (or, for a wish to an organisation, any of its participants) to answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import (
    BindParameter,
    Boolean,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    column,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from matchmaking.organising.events import event_row, get_slot
from matchmaking.organising.events import get_session as get_event_session
from matchmaking.participants.recommend import delegation_key
from matchmaking.participants.registration import participant_link, participant_page
from matchmaking.platform.db import lock_again
from matchmaking.platform.errors import Conflict, Forbidden, Invalid, NotFound
from matchmaking.platform.mail import Mail, for_each_parameters, insert_for_each, queue, queued
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Organisation,
    OrganisationKind,
    Participant,
    Wish,
    WishPolicy,
    WishStatus,
    as_utc,
    utcnow,
)

OPEN_STATUSES = (WishStatus.requested, WishStatus.accepted)


def _table(model: type[Any]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):
        raise AssertionError(f"{model.__name__}.__table__ is a Table")
    return table


@dataclass(frozen=True)
class WishRequest:
    to: str | None = None
    to_organisation: str | None = None
    priority: int = 2
    message: str = ""


def check_wishes_allowed(event: Event, now: datetime | None = None) -> None:
    """Refuse wish changes before the event opens and after its cut-off."""
    check_window(event.status, event.wish_cutoff, now)


def check_window(status: EventStatus, wish_cutoff: datetime | None, now: datetime | None) -> None:
    """`check_wishes_allowed` on the event's status and cut-off as read."""
    if status is EventStatus.draft:
        raise Conflict("The event is not open yet; wishes can be sent once it opens.")
    cutoff = as_utc(wish_cutoff)
    if cutoff is not None and (now or utcnow()) >= cutoff:
        raise Conflict(
            f"The cut-off for wishes was {cutoff.isoformat(timespec='minutes')}; "
            "wishes can no longer be sent, withdrawn or answered."
        )


@dataclass(frozen=True)
class SentWish:
    wish: Wish
    #: The recipient has an open wish to the sender (or the sender's organisation) as well.
    mutual: bool


def send_wish(
    session: Session, sender: Participant, request: WishRequest, now: datetime | None = None
) -> Wish:
    """A new wish of `sender`; the caller commits."""
    return send(session, sender, request, now).wish


def send(
    session: Session, sender: Participant, request: WishRequest, now: datetime | None = None
) -> SentWish:
    """A new wish of `sender` (an entity, as the participant's pages have it) and whether it
    is mutual; the caller commits. The API sends with `locked_sender` and `send_locked`
    instead: the same rules on plain rows, in one statement fewer.

    Three statements and the caller's commit: the sender's lock, the recipient, and the
    insert, which inserts only when the rules that depend on other wishes hold. Only a
    refused insert costs one more query, to name the rule that refused it."""
    event = sender.event
    check_wishes_allowed(event, now)
    _check_one_recipient(request)
    # Lock the sender first: caps and duplicates are then checked against a stable count (on
    # PostgreSQL every later statement of the transaction sees what committed before the
    # lock was granted). FOR NO KEY UPDATE, not FOR UPDATE: inserting a wish takes a key-share
    # lock on the recipient's row, which FOR UPDATE would block, deadlocking two people
    # wishing each other.
    session.execute(_LOCK_SENDER, {"sender_id": sender.id})
    target = _target(session, sender, request)
    recipient, organisation = _recipient(
        request,
        sender.id,
        sender.organisation_id,
        target.recipient,
        target.organisation,
        target.listed,
    )
    check_delegations(event.rules, target.sender_organisation, target.organisation, request)
    cap = event.max_requests_per_participant
    accepted = event.wish_policy is WishPolicy.auto_accept
    _key, row = _insert(
        session,
        _INSERTS,
        event_id=event.id,
        sender_id=sender.id,
        sender_organisation_id=sender.organisation_id,
        recipient_id=recipient.id if recipient else None,
        organisation_id=organisation.id if organisation else None,
        request=request,
        accepted=accepted,
        cap=cap,
    )
    wish, wished_back = row
    # Hand the rows already loaded to the wish, so that the e-mail and the answer need no
    # further query (the session itself keeps only weak references to unchanged rows).
    if target.sender_organisation is not None:
        set_committed_value(sender, "organisation", target.sender_organisation)
    for name, value in (
        ("sender", sender),
        ("recipient", recipient),
        ("recipient_organisation", organisation),
    ):
        set_committed_value(wish, name, value)
    return SentWish(wish, mutual=recipient is not None and bool(wished_back))


def _check_one_recipient(request: WishRequest) -> None:
    if (request.to is None) == (request.to_organisation is None):
        raise Invalid(
            "Name exactly one of 'to' (a participant) and 'to_organisation'.", field="body.to"
        )


def _insert(
    session: Session,
    inserts: Mapping[tuple[bool, bool], Any],
    *,
    event_id: int,
    sender_id: int,
    sender_organisation_id: int,
    recipient_id: int | None,
    organisation_id: int | None,
    request: WishRequest,
    accepted: bool,
    cap: int | None,
    more: Mapping[str, Any] | None = None,
) -> tuple[str, Any]:
    """The new wish's key and the row its insert returned (one of `inserts`, see
    `_insert_statement`; `more`: parameters of their own); a Conflict naming the rule when
    the insert was refused."""
    # The insert checks the rules that depend on other wishes (no open wish to the same
    # recipient, the cap, a free key) in its own WHERE: one statement when they hold, and
    # the check query below only to name the rule that refused it.
    to_participant = recipient_id is not None
    for _ in range(8):
        key = f"w-{secrets.token_hex(4)}"
        row = session.execute(
            inserts[to_participant, cap is not None],
            {
                "event_id": event_id,
                "key": key,
                "sender_id": sender_id,
                "sender_organisation_id": sender_organisation_id,
                "recipient_id": recipient_id,
                "recipient_organisation_id": organisation_id,
                "priority": request.priority,
                "status": WishStatus.accepted if accepted else WishStatus.requested,
                "message": request.message.strip(),
                "answered_at": utcnow() if accepted else None,
                "cap": cap,
                **(more or {}),
            },
        ).first()
        if row is not None:
            return key, row
        checks = _checks(session, event_id, sender_id, sender_organisation_id, request, key)
        if checks.duplicate_key is not None:
            field = "body.to" if to_participant else "body.to_organisation"
            raise Conflict(
                f"You have sent this wish already (wish '{checks.duplicate_key}', "
                f"{checks.duplicate_status}).",
                field=field,
            )
        if cap is not None and checks.open_sent >= cap:
            raise Conflict(
                f"You have {checks.open_sent} open wishes, the most this event allows "
                f"({cap}). Withdraw one to send another."
            )
        # Only the key was taken (one chance in billions): again with another.
    raise AssertionError("no free wish key in eight tries")


@dataclass(frozen=True)
class Target:
    """Whom a new wish goes to, as stored (None: no such listed participant, or no such
    organisation), and the sender's organisation."""

    recipient: Participant | None
    organisation: Organisation | None
    #: Listed participants of the recipient organisation (organisation wishes only).
    listed: int
    sender_organisation: Organisation | None


def _listed_members(organisation_id: Any) -> Any:
    """How many listed participants the organisation has (a scalar subquery)."""
    participants = _table(Participant)
    return (
        select(func.count())
        .select_from(participants)
        .where(
            participants.c.organisation_id == organisation_id,
            participants.c.listed.is_(True),
        )
        .scalar_subquery()
    )


def _target_statement(to_participant: bool) -> Select[Any]:
    """The recipient a wish names (by `to`) and the sender's organisation."""
    sender = aliased(Participant, name="sender")
    sender_organisation = aliased(Organisation, name="sender_organisation")
    recipient = aliased(Participant, name="recipient")
    organisation = aliased(Organisation, name="recipient_organisation")
    if to_participant:
        # The recipient's organisation comes along: inner-joined to the outer-joined
        # recipient, so that a missing recipient leaves both NULL.
        recipient_join = and_(
            recipient.event_id == sender.event_id,
            recipient.key == bindparam("to"),
            recipient.listed.is_(True),
        )
        organisation_join = organisation.id == recipient.organisation_id
        listed: Any = literal(0)
    else:
        recipient_join = literal(False)
        organisation_join = and_(
            organisation.event_id == sender.event_id, organisation.key == bindparam("to")
        )
        listed = _listed_members(organisation.id)
    return (
        select(recipient, organisation, listed, sender_organisation)
        .select_from(sender)
        .join(sender_organisation, sender_organisation.id == sender.organisation_id)
        .outerjoin(recipient, recipient_join)
        .outerjoin(organisation, organisation_join)
        .where(sender.id == bindparam("sender_id"))
    )


_TARGETS = {to_participant: _target_statement(to_participant) for to_participant in (True, False)}


def _target(session: Session, sender: Participant, request: WishRequest) -> Target:
    to_participant = request.to is not None
    recipient, organisation, listed, sender_organisation = session.execute(
        _TARGETS[to_participant],
        {"sender_id": sender.id, "to": request.to if to_participant else request.to_organisation},
    ).one()
    if recipient is not None:
        set_committed_value(recipient, "organisation", organisation)
    return Target(recipient, organisation, int(listed or 0), sender_organisation)


# --- sending from the API: plain rows --------------------------------------------------------
# The rush before the cut-off is the API's busiest write. Turning rows into entities cost
# most of a wish's CPU (five entities, 79 columns, for one lookup; the insert returning all
# 21 columns of a wish as an entity), so the API reads the few columns a wish needs as plain
# rows and builds its answer and its mail from them (benchmarks/LOAD.md, round 7).


@dataclass(frozen=True, slots=True)
class OrganisationFacts:
    """What a new wish needs of an organisation: its answer shows it, its rules use it."""

    id: int
    key: str
    name: str
    kind: OrganisationKind
    country: str
    delegation: str


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What a new wish needs of a participant (`email`: the recipient's only)."""

    id: int
    key: str
    name: str
    email: str
    organisation: OrganisationFacts

    @property
    def organisation_id(self) -> int:
        return self.organisation.id


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a new wish needs of its event: the window, the cap, the policy, the rules; the
    name and slug for the mail."""

    id: int
    slug: str
    name: str
    status: EventStatus
    wish_cutoff: datetime | None
    max_requests_per_participant: int | None
    wish_policy: WishPolicy
    rules: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LockedSender:
    """The sender of a personal token, its row locked (see `send`), with its event and the
    recipient a wish names (None: no such listed participant, or no such organisation)."""

    sender: PersonFacts
    event: EventFacts
    recipient: PersonFacts | None
    organisation: OrganisationFacts | None
    #: Listed participants of the recipient organisation (organisation wishes only).
    listed: int


@dataclass(frozen=True, slots=True)
class NewWish:
    """A wish `send_locked` stored, as its answer shows it."""

    key: str
    event_id: int
    sender: PersonFacts
    recipient: PersonFacts | None
    organisation: OrganisationFacts | None
    priority: int
    status: WishStatus
    message: str
    created_at: datetime
    answered_at: datetime | None
    #: The recipient has an open wish to the sender (or the sender's organisation) as well.
    mutual: bool


_ORGANISATION_COLUMNS = ("id", "key", "name", "kind", "country", "delegation")
_EVENT_COLUMNS = (
    "id",
    "slug",
    "name",
    "status",
    "wish_cutoff",
    "max_requests_per_participant",
    "wish_policy",
    "rules",
)


def _lookup_statement(to_participant: bool) -> Select[Any]:
    """The sender of a personal token (`token_hash`) with its event and organisation, its
    row locked, and the recipient `to` names: one statement, columns only (Core tables, no
    entities). Built once per kind of recipient; bound per request."""
    participants, organisations = _table(Participant), _table(Organisation)
    sender = participants.alias("sender")
    sender_organisation = organisations.alias("sender_organisation")
    event = _table(Event).alias("event")
    recipient = participants.alias("recipient")
    organisation = organisations.alias("recipient_organisation")
    if to_participant:
        # The recipient's organisation comes along: inner-joined to the outer-joined
        # recipient, so that a missing recipient leaves both NULL.
        recipient_join = and_(
            recipient.c.event_id == sender.c.event_id,
            recipient.c.key == bindparam("to"),
            recipient.c.listed.is_(True),
        )
        organisation_join = organisation.c.id == recipient.c.organisation_id
        listed: Any = literal(0)
    else:
        recipient_join = literal(False)
        organisation_join = and_(
            organisation.c.event_id == sender.c.event_id, organisation.c.key == bindparam("to")
        )
        listed = _listed_members(organisation.c.id)
    return (
        select(
            sender.c.id,
            sender.c.key,
            sender.c.name,
            *(sender_organisation.c[name] for name in _ORGANISATION_COLUMNS),
            *(event.c[name] for name in _EVENT_COLUMNS),
            recipient.c.id,
            recipient.c.key,
            recipient.c.name,
            recipient.c.email,
            *(organisation.c[name] for name in _ORGANISATION_COLUMNS),
            listed,
        )
        .select_from(sender)
        .join(sender_organisation, sender_organisation.c.id == sender.c.organisation_id)
        .join(event, event.c.id == sender.c.event_id)
        .outerjoin(recipient, recipient_join)
        .outerjoin(organisation, organisation_join)
        .where(sender.c.access_token_hash == bindparam("token_hash"))
        .with_for_update(key_share=True, of=sender)
    )


_LOOKUPS = {to_participant: _lookup_statement(to_participant) for to_participant in (True, False)}


def locked_sender(session: Session, token_hash: str, request: WishRequest) -> LockedSender | None:
    """The participant of a personal token with its event, its row locked as `send` needs,
    and the recipient `request` names, in one statement; None for an unknown token.

    A request that names no recipient or two finds none (`send_locked` refuses it), but its
    token is still checked: 401 before 422, as for any body."""
    to_participant = request.to is not None
    one_named = to_participant != (request.to_organisation is not None)
    to = (request.to if to_participant else request.to_organisation) if one_named else ""
    row = (
        session.connection()
        .execute(_LOOKUPS[to_participant or not one_named], {"token_hash": token_hash, "to": to})
        .first()
    )
    if row is None:
        return None
    # Columns: the sender (0-2), its organisation (3-8), the event (9-16), the recipient
    # (17-20), the recipient organisation (21-26), the organisation's listed members (27).
    organisation = _organisation_facts(row, 21)
    sender_organisation = _organisation_facts(row, 3)
    if sender_organisation is None:
        raise AssertionError("a participant has an organisation")
    recipient = None
    if row[17] is not None and organisation is not None:
        recipient = PersonFacts(row[17], row[18], row[19], row[20], organisation)
    return LockedSender(
        sender=PersonFacts(row[0], row[1], row[2], "", sender_organisation),
        event=EventFacts(*row[9:17]),
        recipient=recipient,
        organisation=organisation,
        listed=int(row[27] or 0),
    )


def _organisation_facts(row: Any, start: int) -> OrganisationFacts | None:
    if row[start] is None:
        return None
    return OrganisationFacts(*row[start : start + len(_ORGANISATION_COLUMNS)])


def send_locked(
    session: Session,
    found: LockedSender,
    request: WishRequest,
    base_url: str,
    now: datetime | None = None,
) -> NewWish:
    """The new wish of the sender `locked_sender` found, by the rules of `send` (and in
    their order), its 'wish received' mails queued; the caller commits.

    One statement when the rules hold: the insert, which on PostgreSQL writes the
    recipient's mail too (`_MAILED_INSERTS`); elsewhere, and for a wish to an organisation,
    the mails are a statement of their own (and the organisation's members one more). A
    refused insert costs one more query, to name the rule that refused it."""
    event, sender = found.event, found.sender
    check_window(event.status, event.wish_cutoff, now)
    _check_one_recipient(request)
    recipient, organisation = _recipient(
        request,
        sender.id,
        sender.organisation.id,
        found.recipient,
        found.organisation,
        found.listed,
    )
    check_delegations(event.rules, sender.organisation, found.organisation, request)
    accepted = event.wish_policy is WishPolicy.auto_accept
    message = request.message.strip()

    to_organisation = organisation.name if organisation else ""
    received = _wish_received(event, sender, to_organisation, message, accepted, base_url)
    mails = [received(recipient.email, recipient.name)] if recipient and recipient.email else []
    folded = bool(mails) and session.connection().dialect.name == "postgresql"
    key, (created_at, answered_at, wished_back) = _insert(
        session,
        _MAILED_INSERTS if folded else _LEAN_INSERTS,
        event_id=event.id,
        sender_id=sender.id,
        sender_organisation_id=sender.organisation.id,
        recipient_id=recipient.id if recipient else None,
        organisation_id=organisation.id if organisation else None,
        request=request,
        accepted=accepted,
        cap=event.max_requests_per_participant,
        more=for_each_parameters(mails[0], event_id=event.id) if folded else None,
    )
    if folded:
        queued(session)
    else:
        if organisation is not None:
            members = session.connection().execute(
                _CONFIRMED_MEMBERS, {"organisation_id": organisation.id}
            )
            mails = [received(email, name) for name, email in members if email]
        queue(session, mails, event_id=event.id)
    return NewWish(
        key=key,
        event_id=event.id,
        sender=sender,
        recipient=recipient,
        organisation=organisation,
        priority=request.priority,
        status=WishStatus.accepted if accepted else WishStatus.requested,
        message=message,
        created_at=created_at,
        answered_at=answered_at,
        mutual=recipient is not None and bool(wished_back),
    )


def _insert_statement(to_participant: bool, capped: bool, *, lean: bool) -> Any:
    """The insert of a new wish that inserts nothing unless the rules that depend on other
    wishes hold (see `send`); it returns the wish (`lean`: its two times only, for
    `send_locked`) and whether its recipient wished back. Built once per kind of recipient
    and cap; bound per request."""
    table = _table(Wish)
    columns = table.c
    names = (
        "event_id",
        "key",
        "sender_id",
        "recipient_id",
        "recipient_organisation_id",
        "priority",
        "status",
        "message",
        "answered_at",
    )
    values = {name: bindparam(name, type_=columns[name].type) for name in names}
    sender_id = values["sender_id"]
    if to_participant:
        same_recipient = columns.recipient_id == values["recipient_id"]
    else:
        same_recipient = columns.recipient_organisation_id == values["recipient_organisation_id"]
    rules = [
        ~select(columns.id)
        .where(
            columns.sender_id == sender_id,
            same_recipient,
            columns.status != WishStatus.cancelled,
        )
        .exists(),
        ~select(columns.id)
        .where(columns.event_id == values["event_id"], columns.key == values["key"])
        .exists(),
    ]
    if capped:
        # Proposals (made by the organisers) do not count against the sender's cap.
        open_sent = (
            select(func.count())
            .select_from(table)
            .where(
                columns.sender_id == sender_id,
                columns.status.in_(OPEN_STATUSES),
                columns.proposed.is_(False),
            )
            .scalar_subquery()
        )
        rules.append(open_sent < bindparam("cap", type_=Integer))
    back = table.alias("back").c
    # Whether the recipient wished to meet the sender (or the sender's organisation) too.
    wished_back = (
        select(back.id)
        .where(
            back.sender_id == values["recipient_id"],
            back.status.in_(OPEN_STATUSES),
            or_(
                back.recipient_id == sender_id,
                back.recipient_organisation_id
                == bindparam("sender_organisation_id", type_=Integer),
            ),
        )
        .exists()
        .label("wished_back")
    )
    inserted = insert(table).from_select(
        [columns[name] for name in names], select(*values.values()).where(*rules)
    )
    if lean:
        return inserted.returning(columns.created_at, columns.answered_at, wished_back)
    # The inserted row as the ORM's Wish (in the session, as a flush would leave it).
    return select(Wish, column("wished_back", Boolean)).from_statement(
        inserted.returning(*columns, wished_back)
    )


_INSERTS = {
    (to_participant, capped): _insert_statement(to_participant, capped, lean=False)
    for to_participant in (True, False)
    for capped in (True, False)
}
_LEAN_INSERTS = {
    (to_participant, capped): _insert_statement(to_participant, capped, lean=True)
    for to_participant in (True, False)
    for capped in (True, False)
}


def _mailed_insert_statement(capped: bool) -> Any:
    """The lean insert of a wish to a participant that also writes the recipient's mail to
    the outbox when (and only when) it inserts the wish: one statement and round trip
    instead of two (PostgreSQL only: a data-modifying CTE; see `mail.insert_for_each`)."""
    new = _insert_statement(True, capped, lean=True).cte("new")
    return select(new.c.created_at, new.c.answered_at, new.c.wished_back).add_cte(
        insert_for_each(new).cte("mailed")
    )


_MAILED_INSERTS = {(True, capped): _mailed_insert_statement(capped) for capped in (True, False)}
#: The members of a recipient organisation who may answer a wish to it: not registrants
#: still waiting to be confirmed.
_CONFIRMED_MEMBERS = select(_table(Participant).c.name, _table(Participant).c.email).where(
    _table(Participant).c.organisation_id == bindparam("organisation_id"),
    _table(Participant).c.membership_confirmed.is_(True),
)


@dataclass(frozen=True)
class _Checks:
    recipient: Participant | None
    organisation: Organisation | None
    sender_organisation: Organisation | None
    #: Listed participants of the recipient organisation (organisation wishes only).
    listed: int
    duplicate_key: str | None
    duplicate_status: WishStatus | None
    open_sent: int
    key_taken: bool
    wished_back: bool


def _check_statement(to_participant: bool) -> Select[Any]:
    """The one query of `_checks`, built once per kind of recipient: its parameters are
    bound per request (`sender_id`, `sender_organisation_id`, `event_id`, `to`, `key`), so a
    request neither builds nor compiles SQL."""
    sender_organisation = aliased(Organisation)
    sender_id: BindParameter[int] = bindparam("sender_id")
    sender_organisation_id: BindParameter[int] = bindparam("sender_organisation_id")
    event_id: BindParameter[int] = bindparam("event_id")
    own = Wish.sender_id == sender_id
    # Proposals (made by the organisers) do not count against the sender's cap.
    open_sent = (
        select(func.count())
        .where(own, Wish.status.in_(OPEN_STATUSES), Wish.proposed.is_(False))
        .scalar_subquery()
    )
    key_taken = select(Wish.id).where(Wish.event_id == event_id, Wish.key == bindparam("key"))
    back: Any
    target: Select[Any]
    if to_participant:
        to = Wish.recipient_id == Participant.id
        back = (
            select(Wish.id)
            .where(
                Wish.sender_id == Participant.id,
                Wish.status.in_(OPEN_STATUSES),
                or_(
                    Wish.recipient_id == sender_id,
                    Wish.recipient_organisation_id == sender_organisation_id,
                ),
            )
            .exists()
        )
        target = (
            select(Participant, Organisation)
            .join(Organisation, Organisation.id == Participant.organisation_id)
            .where(
                Participant.event_id == event_id,
                Participant.key == bindparam("to"),
                Participant.listed.is_(True),
            )
        )
        listed: Any = literal(0)
    else:
        to = Wish.recipient_organisation_id == Organisation.id
        back = literal(False)
        target = select(literal(None), Organisation).where(
            Organisation.event_id == event_id,
            Organisation.key == bindparam("to"),
        )
        listed = (
            select(func.count())
            .select_from(Participant)
            .where(Participant.organisation_id == Organisation.id, Participant.listed.is_(True))
            .scalar_subquery()
        )
    duplicate = select(Wish.key, Wish.status).where(own, to, Wish.status != WishStatus.cancelled)
    return target.join(
        sender_organisation, sender_organisation.id == sender_organisation_id
    ).add_columns(
        listed,
        duplicate.with_only_columns(Wish.key).limit(1).scalar_subquery(),
        duplicate.with_only_columns(Wish.status).limit(1).scalar_subquery(),
        open_sent,
        key_taken.exists(),
        back,
        sender_organisation,
    )


_CHECKS = {True: _check_statement(True), False: _check_statement(False)}
#: The sender's row lock (see `send`).
_LOCK_SENDER = (
    select(Participant.id)
    .where(Participant.id == bindparam("sender_id"))
    .with_for_update(key_share=True)
)


def _checks(
    session: Session,
    event_id: int,
    sender_id: int,
    sender_organisation_id: int,
    request: WishRequest,
    key: str,
) -> _Checks:
    """One query for every rule of a new wish. The sender's organisation comes along (into
    the session) for the e-mail and the answer."""
    to_participant = request.to is not None
    row = session.execute(
        _CHECKS[to_participant],
        {
            "sender_id": sender_id,
            "sender_organisation_id": sender_organisation_id,
            "event_id": event_id,
            "to": request.to if to_participant else request.to_organisation,
            "key": key,
        },
    ).first()
    if row is None:
        # No such recipient: the sender's own facts still decide nothing, the recipient does.
        return _Checks(None, None, None, 0, None, None, 0, False, False)
    if row[0] is not None:
        set_committed_value(row[0], "organisation", row[1])
    return _Checks(
        recipient=row[0],
        organisation=row[1],
        sender_organisation=row[8],
        listed=int(row[2] or 0),
        duplicate_key=row[3],
        duplicate_status=row[4],
        open_sent=int(row[5] or 0),
        key_taken=bool(row[6]),
        wished_back=bool(row[7]),
    )


class _Member(Protocol):
    """A participant as the rules read it: an entity or `PersonFacts`."""

    @property
    def id(self) -> int: ...

    @property
    def organisation_id(self) -> int: ...


class _Side(Protocol):
    """An organisation as the rules read it: an entity or `OrganisationFacts`."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def delegation(self) -> str: ...


MemberT = TypeVar("MemberT", bound=_Member)
SideT = TypeVar("SideT", bound=_Side)


def _recipient(
    request: WishRequest,
    sender_id: int,
    sender_organisation_id: int,
    recipient: MemberT | None,
    organisation: SideT | None,
    listed: int,
) -> tuple[MemberT | None, SideT | None]:
    """The recipient (`to`) or the organisation (`to_organisation`) a wish goes to, as read
    with the lookup (`organisation`: the recipient's, or the one named; `listed`: that
    organisation's listed members); Invalid when the directory has no such recipient or it
    is the sender's own side."""
    if request.to is not None:
        if recipient is None:
            raise Invalid(f"The directory has no participant '{request.to}'.", field="body.to")
        if recipient.id == sender_id:
            raise Invalid("You cannot send a wish to yourself.", field="body.to")
        if recipient.organisation_id == sender_organisation_id:
            raise Invalid(
                "You cannot send a wish to someone of your own organisation.", field="body.to"
            )
        return recipient, None
    if organisation is None or not listed:
        raise Invalid(
            f"The directory has no organisation '{request.to_organisation}'.",
            field="body.to_organisation",
        )
    if organisation.id == sender_organisation_id:
        raise Invalid(
            "You cannot send a wish to your own organisation.", field="body.to_organisation"
        )
    return None, organisation


def check_delegations(
    rules: Mapping[str, Any] | None,
    sender_organisation: _Side | None,
    recipient_organisation: _Side | None,
    request: WishRequest,
) -> None:
    """Under the event's rule `cross_delegation_only` (`rules`), refuse a wish between two
    organisations of the same delegation (those without a delegation may meet anyone)."""
    if not (rules or {}).get("cross_delegation_only"):
        return
    if sender_organisation is None or recipient_organisation is None:
        return
    mine = delegation_key(sender_organisation.delegation)
    if mine and mine == delegation_key(recipient_organisation.delegation):
        raise Conflict(
            "This event's rule cross_delegation_only allows meetings between delegations "
            f"only, and {recipient_organisation.name} attends with your delegation "
            f"({sender_organisation.delegation}).",
            field="body.to" if request.to is not None else "body.to_organisation",
        )


# --- reading ---------------------------------------------------------------------------------


def get_wish(session: Session, event: Event, key: str) -> Wish:
    return event_row(session, event, Wish, key, "wish")


def is_recipient(wish: Wish, participant: Participant) -> bool:
    """Whether the participant answers the wish: its recipient, or either side of a
    proposal."""
    if wish.proposed and wish.sender_id == participant.id:
        return True
    if wish.recipient_id is not None:
        return wish.recipient_id == participant.id
    return wish.recipient_organisation_id == participant.organisation_id


def readable_wish(session: Session, participant: Participant, key: str) -> Wish:
    """A wish the participant may read: sent or received, and a wish to its organisation only
    once its membership is confirmed (whoever typed the organisation's name does not read the
    messages written to it); others are not found (404)."""
    wish = own_wish(session, participant, key)
    if (
        wish.recipient_organisation_id is not None
        and wish.sender_id != participant.id
        and not participant.membership_confirmed
    ):
        raise NotFound(f"You have no wish '{key}'.")
    return wish


def own_wish(session: Session, participant: Participant, key: str) -> Wish:
    """A wish the participant sent or received; others' wishes are not found (404)."""
    wish = session.scalar(
        select(Wish).where(Wish.event_id == participant.event_id, Wish.key == key)
    )
    if wish is None or not (wish.sender_id == participant.id or is_recipient(wish, participant)):
        raise NotFound(f"You have no wish '{key}'.")
    return wish


Direction = Literal["sent", "received"]


def participant_wishes(
    session: Session,
    participant: Participant,
    direction: Direction,
    status: WishStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Wish], int]:
    # A proposal is the organisers', not its sender's: both sides receive it.
    if direction == "sent":
        query = select(Wish).where(Wish.sender_id == participant.id, Wish.proposed.is_(False))
    elif participant.membership_confirmed:
        query = select(Wish).where(
            or_(
                Wish.recipient_id == participant.id,
                Wish.recipient_organisation_id == participant.organisation_id,
                and_(Wish.sender_id == participant.id, Wish.proposed.is_(True)),
            )
        )
    else:
        # A pending member does not read the organisation's wishes (see `readable_wish`).
        query = select(Wish).where(
            or_(
                Wish.recipient_id == participant.id,
                and_(Wish.sender_id == participant.id, Wish.proposed.is_(True)),
            )
        )
    return _page(session, query, status, limit, offset)


def event_wishes(
    session: Session,
    event: Event,
    status: WishStatus | None,
    participant_key: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Wish], int]:
    """Every wish of the event, optionally those a participant sent or received."""
    query = select(Wish).where(Wish.event_id == event.id)
    if participant_key:
        person = session.scalar(
            select(Participant).where(
                Participant.event_id == event.id, Participant.key == participant_key
            )
        )
        if person is None:
            return [], 0
        query = query.where(
            or_(
                Wish.sender_id == person.id,
                Wish.recipient_id == person.id,
                Wish.recipient_organisation_id == person.organisation_id,
            )
        )
    return _page(session, query, status, limit, offset)


def _page(
    session: Session, query: Select[tuple[Wish]], status: WishStatus | None, limit: int, offset: int
) -> tuple[list[Wish], int]:
    if status is not None:
        query = query.where(Wish.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(
            selectinload(Wish.sender).selectinload(Participant.organisation),
            selectinload(Wish.recipient).selectinload(Participant.organisation),
            selectinload(Wish.recipient_organisation),
        )
        .order_by(Wish.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def waiting_for_answer(session: Session, participant: Participant) -> int:
    """How many received wishes wait for the participant's answer: a proposal only while
    this side has not accepted it."""
    accepted_here = or_(
        and_(Wish.sender_id == participant.id, Wish.sender_accepted.is_(True)),
        and_(Wish.recipient_id == participant.id, Wish.recipient_accepted.is_(True)),
    )
    query = select(func.count(Wish.id)).where(
        Wish.event_id == participant.event_id,
        Wish.status == WishStatus.requested,
        or_(
            Wish.recipient_id == participant.id,
            Wish.recipient_organisation_id == participant.organisation_id,
            and_(Wish.sender_id == participant.id, Wish.proposed.is_(True)),
        ),
        ~and_(Wish.proposed.is_(True), accepted_here),
    )
    return session.scalar(query) or 0


def mutual_keys(session: Session, wishes: list[Wish]) -> set[str]:
    """Keys of the wishes whose recipient also wishes to meet the sender (open wishes)."""
    candidates = [w for w in wishes if w.recipient_id is not None and w.status in OPEN_STATUSES]
    if not candidates:
        return set()
    # One query for the whole page: every open wish sent by one of the recipients.
    back = session.execute(
        select(Wish.sender_id, Wish.recipient_id, Wish.recipient_organisation_id).where(
            Wish.sender_id.in_({w.recipient_id for w in candidates}),
            Wish.status.in_(OPEN_STATUSES),
        )
    ).all()
    to_people = {(row.sender_id, row.recipient_id) for row in back}
    to_organisations = {(row.sender_id, row.recipient_organisation_id) for row in back}
    return {
        w.key
        for w in candidates
        if (w.recipient_id, w.sender_id) in to_people
        or (w.recipient_id, w.sender.organisation_id) in to_organisations
    }


# --- changing --------------------------------------------------------------------------------
#
# Every change of a wish starts by taking the wish's row lock and reading the row again under
# it (`_lock`): PostgreSQL `SELECT … FOR NO KEY UPDATE`; SQLite's writers hold the database's
# write lock from their first statement (BEGIN IMMEDIATE, see `matchmaking.platform.db`).
# The state the change starts from is then checked on what is stored now, not on what the
# request read before another change committed, so of two changes at once the second sees the
# first, and is refused (409, naming the state the wish is in now) when it no longer applies.

#: How a state reads in a sentence.
_STATE_WORDS = {
    WishStatus.requested: "waiting for an answer",
    WishStatus.accepted: "accepted",
    WishStatus.declined: "declined",
    WishStatus.cancelled: "withdrawn",
}


def state_words(status: WishStatus) -> str:
    return _STATE_WORDS[status]


def lock_wish(session: Session, wish: Wish) -> Wish:
    """Take the wish's row lock and refresh it from the database (see above); it is gone when
    the sender's erasure deleted it meanwhile."""
    return lock_again(session, wish, f"There is no wish '{wish.key}' any more.")


def _senders_own(
    session: Session,
    participant: Participant,
    wish: Wish,
    now: datetime | None,
    verb: str,
    instead: str,
) -> Wish:
    """`wish` locked, when the wish window is open and `participant` sent it themselves (not
    the organisers by proposing it): only then may they `verb` it; else what to do `instead`."""
    check_wishes_allowed(participant.event, now)
    if wish.sender_id != participant.id:
        raise Forbidden(f"Only the sender of a wish can {verb} it.")
    if wish.proposed:
        raise Forbidden(f"The organisers proposed this meeting; {instead} instead.")
    return lock_wish(session, wish)


def edit_wish(
    session: Session,
    participant: Participant,
    wish: Wish,
    priority: int | None,
    message: str | None,
    now: datetime | None = None,
) -> Wish:
    """The sender changes the priority or message of an open wish."""
    wish = _senders_own(session, participant, wish, now, "change", "accept or decline it")
    if wish.status not in OPEN_STATUSES:
        raise Conflict(
            f"Wish '{wish.key}' is {state_words(wish.status)} now; only open wishes can be changed."
        )
    if priority is not None:
        wish.priority = priority
    if message is not None:
        wish.message = message.strip()
    session.flush()
    return wish


def withdraw_wish(
    session: Session, participant: Participant, wish: Wish, now: datetime | None = None
) -> Wish:
    wish = _senders_own(session, participant, wish, now, "withdraw", "decline it")
    if wish.status is WishStatus.cancelled:
        raise Conflict(f"Wish '{wish.key}' is withdrawn already.")
    wish.status = WishStatus.cancelled
    session.flush()
    return wish


def answer_wish(
    session: Session,
    participant: Participant,
    wish: Wish,
    accept: bool,
    now: datetime | None = None,
) -> Wish:
    """The recipient accepts or declines; a recipient may change its mind until the cut-off.
    Accepting a declined wish opens it again, which the sender's cap must allow."""
    check_wishes_allowed(participant.event, now)
    if not is_recipient(wish, participant):
        raise Forbidden("Only the recipient of a wish can answer it.")
    if wish.proposed:
        return answer_proposal(session, participant, wish, accept)
    check_may_answer(participant, wish)
    wish = lock_wish(session, wish)
    if wish.status is WishStatus.cancelled:
        raise Conflict(f"Wish '{wish.key}' is withdrawn now: its sender withdrew it.")
    if accept and wish.status is WishStatus.declined:
        _check_cap_to_reopen(session, participant.event, wish)
    wish.status = WishStatus.accepted if accept else WishStatus.declined
    wish.answered_at = utcnow()
    session.flush()
    return wish


def answer_proposal(session: Session, participant: Participant, wish: Wish, accept: bool) -> Wish:
    """One side of a proposal accepts or declines it (the caller checked the window and
    that `participant` is a side). Under the wish's lock, on the row as stored now: the
    proposal is accepted when the other side has accepted too, and declined as soon as
    either side declines; a declined proposal stays declined (409), as the organisers
    proposed it once and the other side may have been told. An accepted proposal may still
    be declined by either side until the cut-off."""
    wish = lock_wish(session, wish)
    if wish.status is WishStatus.cancelled:
        raise Conflict(f"Wish '{wish.key}' is withdrawn now.")
    if wish.status is WishStatus.declined:
        raise Conflict(
            f"Wish '{wish.key}' is declined now: one of you declined the proposal, so it "
            "can no longer be accepted."
        )
    mine = "sender_accepted" if wish.sender_id == participant.id else "recipient_accepted"
    setattr(wish, mine, accept)
    if not accept:
        wish.status = WishStatus.declined
        wish.answered_at = utcnow()
    elif wish.sender_accepted and wish.recipient_accepted:
        wish.status = WishStatus.accepted
        wish.answered_at = utcnow()
    session.flush()
    return wish


def proposal_words(wish: Wish, participant: Participant) -> str:
    """The state of a proposal as one side reads it."""
    if wish.status is WishStatus.requested:
        mine = wish.sender_accepted if wish.sender_id == participant.id else wish.recipient_accepted
        return "waiting for the other side" if mine else "waiting for your answer"
    return state_words(wish.status)


def check_may_answer(participant: Participant, wish: Wish) -> None:
    """A wish to an organisation is answered by its confirmed members only."""
    if wish.recipient_organisation_id is not None and not participant.membership_confirmed:
        raise Forbidden(
            "Only confirmed members of the organisation can answer its wishes; a member of "
            "the organisation or an organiser has not confirmed your membership yet."
        )


def _check_cap_to_reopen(session: Session, event: Event, wish: Wish) -> None:
    cap = event.max_requests_per_participant
    if cap is None:
        return
    # The sender's lock, as sending takes it: the count is then stable (see `send`).
    session.execute(_LOCK_SENDER, {"sender_id": wish.sender_id})
    open_sent = session.scalar(
        select(func.count()).where(
            Wish.sender_id == wish.sender_id,
            Wish.status.in_(OPEN_STATUSES),
            Wish.proposed.is_(False),
        )
    )
    if (open_sent or 0) >= cap:
        raise Conflict(
            f"Wish '{wish.key}' is declined now, and its sender has {open_sent} open wishes, "
            f"the most this event allows ({cap}); it cannot be accepted unless the sender "
            "withdraws one."
        )


# --- organisers ------------------------------------------------------------------------------


def organiser_update(
    session: Session, event: Event, wish: Wish, changes: dict[str, object]
) -> Wish:
    """Organisers may set any status, the priority, and the scheduling rules of a wish."""
    wish = lock_wish(session, wish)
    for name in ("status", "priority", "required", "separate"):
        if name in changes:
            setattr(wish, name, changes[name])
    try:
        if "session" in changes:
            key = changes["session"]
            wish.session_id = get_event_session(session, event, str(key)).id if key else None
        if "fixed_slot" in changes:
            key = changes["fixed_slot"]
            wish.fixed_slot_id = get_slot(session, event, str(key)).id if key else None
    except NotFound as error:
        field = "body.session" if "session" in error.detail else "body.fixed_slot"
        raise Invalid(error.detail, field=field) from None
    if "status" in changes and wish.answered_at is None:
        wish.answered_at = utcnow()
    session.flush()
    return wish


# --- e-mails ---------------------------------------------------------------------------------


def received_mails(session: Session, wish: Wish, base_url: str) -> list[Mail]:
    """'Wish received' to the recipient, or to every confirmed member of the recipient
    organisation."""
    event = wish.event
    recipients: Sequence[tuple[str, str]]
    if wish.recipient is not None:
        recipients = [(wish.recipient.name, wish.recipient.email)]
    else:
        recipients = (
            session.execute(_CONFIRMED_MEMBERS, {"organisation_id": wish.recipient_organisation_id})
            .tuples()
            .all()
        )
    to_organisation = wish.recipient_organisation.name if wish.recipient_organisation else ""
    accepted = wish.status is WishStatus.accepted
    received = _wish_received(event, wish.sender, to_organisation, wish.message, accepted, base_url)
    return [received(email, name) for name, email in recipients if email]


def _wish_received(
    event: Event | EventFacts,
    sender: Participant | PersonFacts,
    to_organisation: str,
    message: str,
    accepted: bool,
    base_url: str,
) -> Callable[[str, str], Mail]:
    """The 'wish received' mail of one wish, to be addressed (e-mail, name) to each person
    told of it: for `received_mails` (entities) and `send_locked` (plain rows) alike."""
    about = {
        "sender_name": sender.name,
        "sender_organisation": sender.organisation.name,
        "sender_country": sender.organisation.country,
        "to_organisation": to_organisation,
        "message": message,
        "accepted": accepted,
        "page_url": participant_link(base_url, event.slug),
    }

    def to(email: str, name: str) -> Mail:
        context = {"event_name": event.name, "recipient_name": name, **about}
        return Mail(to=email, template="wish_received", context=context)

    return to


def answered_mail(wish: Wish, answered_by: Participant, base_url: str) -> Mail:
    """'Wish answered' to the sender; for a proposal, to the other side."""
    told = wish.sender
    if wish.proposed and wish.sender_id == answered_by.id and wish.recipient is not None:
        told = wish.recipient
    return Mail(
        to=told.email,
        template="wish_answered",
        context={
            "event_name": wish.event.name,
            "sender_name": told.name,
            "recipient_name": answered_by.name,
            "recipient_organisation": answered_by.organisation.name,
            "accepted": wish.status is WishStatus.accepted
            or (wish.proposed and wish.status is WishStatus.requested),
            "proposal": wish.proposed,
            "both_accepted": wish.status is WishStatus.accepted,
            "page_url": participant_page(base_url, wish.event),
        },
    )
