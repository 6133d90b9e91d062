"""What agendas and calendar feeds serve, kept once rendered until the event changes.

A participant's agenda and calendar feed change only when something they show changes: a
publication, the event, its time grid or locations, a participant or organisation (names,
erasure). Every such change raises the event's `serving_generation` in the same transaction
(`matchmaking.platform.models.bump_serving_generations`), so a rendered document is kept under
(participant, generation) and a request costs the lookup of its credentials, which reads
the current generation in the same indexed query, plus a dictionary look-up.

Staleness: none. Every request reads the generation from the database, the shared truth of
all API processes; once a change commits, the next request of any process sees the new
generation and renders again. Credentials are checked in the database on every request too
(the cache is keyed by participant id, never by a token), so a rotated, revoked or erased
token stops working at once. The only time-dependent part of a feed, a cancelled meeting
leaving it `CANCELLED_RETENTION` after its change, is kept as the entry's `valid_until`.

Each process keeps its own entries (least recently used dropped beyond `max_entries`).

First of all, the same statement returns the participant's document rendered at publication
and stored for every process (`matchmaking.delivery.rendered`), when one is stored for the
current generation: then nothing is rendered, by any process. The per-process cache serves
what a process rendered itself after a change that made the stored documents unusable.

The credentials lookup (`feed_owner`, `agenda_owner`) is one statement through `lean_read`,
without an ORM session, on the engine of `matchmaking.platform.db.make_lean_engine`: a cache
hit costs that round trip and little else (docs/calendars.md, "The lean path").
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, Row, Select, and_, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import KeyedColumnElement

from matchmaking.platform.models import CalendarLink, Event, Participant, RenderedDocument
from matchmaking.platform.security import hash_token, worth_looking_up

Kind = Literal["agenda", "calendar"]


@dataclass(frozen=True, slots=True)
class Served:
    """A rendered document with what HTTP caching needs."""

    body: bytes
    etag: str
    last_modified: datetime | None = None
    #: When the document changes by itself (a cancelled meeting leaves a feed); None: never.
    valid_until: datetime | None = None


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they are UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def still_valid(
    body: bytes | None,
    etag: str | None,
    last_modified: datetime | None,
    valid_until: datetime | None,
    now: datetime | None = None,
) -> Served | None:
    """A stored document's columns (`matchmaking.delivery.rendered`) as served; None when
    there is none, or it expired (a cancelled meeting left the feed)."""
    if body is None or etag is None:
        return None
    until = _aware(valid_until)
    if until is not None and (now or datetime.now(UTC)) >= until:
        return None
    return Served(body, etag, _aware(last_modified), until)


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class Owner:
    """Whom a secret belongs to, and the serving generation of their event."""

    participant_id: int
    event_slug: str
    generation: int
    #: Their document rendered at publication, when one is stored for this generation.
    stored: Served | None = None


_participants = Participant.__table__
_events = Event.__table__
_calendar_links = CalendarLink.__table__
_documents = RenderedDocument.__table__


def _owner_query(token_column: KeyedColumnElement[Any], kind: Kind) -> Select[tuple[Any, ...]]:
    """The participant of a token, their event's generation and their document of `kind`
    stored at that generation (NULL columns when there is none)."""
    joined = _participants.join(_events, _events.c.id == _participants.c.event_id)
    if token_column.table is _calendar_links:
        joined = joined.join(
            _calendar_links, _calendar_links.c.participant_id == _participants.c.id
        )
    joined = joined.outerjoin(
        _documents,
        and_(
            _documents.c.participant_id == _participants.c.id,
            _documents.c.kind == kind,
            _documents.c.generation == _events.c.serving_generation,
        ),
    )
    return (
        select(
            _participants.c.id,
            _events.c.slug,
            _events.c.serving_generation,
            _documents.c.body,
            _documents.c.etag,
            _documents.c.last_modified,
            _documents.c.valid_until,
        )
        .select_from(joined)
        .where(token_column == bindparam("token_hash"))
    )


#: Built once: SQLAlchemy compiles each of them once per process and caches the SQL.
#: A participant may hold several calendar links (each a row of calendar_links, found by
#: its unique hash); the personal link is one column of the participant.
_FEED_OWNER = _owner_query(_calendar_links.c.token_hash, "calendar")
_AGENDA_OWNER = _owner_query(_participants.c.access_token_hash, "agenda")


def lean_read(engine: Engine, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
    """The first row of one statement on a pooled connection, without an ORM session.

    Made for `matchmaking.platform.db.make_lean_engine`, whose pool does not ping connections before
    use: when the statement finds its connection dead, SQLAlchemy invalidates it (and every
    connection opened before it) and the statement runs once more on a fresh connection.
    A second failure is raised, an `OperationalError` that the API answers with 503."""
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                return connection.execute(statement, params).first()
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def must_connect(engine: Engine) -> bool:
    """Whether a lean read on `engine` would first open a connection over the network (no
    idle one in its pool). Opening one can wait for the network (up to the connect timeout),
    so callers on an event loop run such a read in a worker thread; the reads after it find
    the connection in the pool. SQLite files open locally: never."""
    if engine.dialect.name == "sqlite":
        return False
    idle = getattr(engine.pool, "checkedin", None)
    return idle is None or idle() == 0


def _owner(engine: Engine, statement: Executable, token: str | None) -> Owner | None:
    if not worth_looking_up(token):
        return None
    row = lean_read(engine, statement, {"token_hash": hash_token(token)})
    if row is None:
        return None
    participant_id, slug, generation, *document = row
    return Owner(participant_id, slug, generation, still_valid(*document))


def feed_owner(engine: Engine, token: str | None) -> Owner | None:
    """One indexed query: the participant of a calendar token, their event's generation and
    their feed stored at publication."""
    return _owner(engine, _FEED_OWNER, token)


def agenda_owner(engine: Engine, token: str | None) -> Owner | None:
    """One indexed query: the participant of a personal token, their event's generation and
    their agenda stored at publication."""
    return _owner(engine, _AGENDA_OWNER, token)


class ServingCache:
    """Rendered agendas and feeds of one process, keyed by (kind, participant, generation)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Kind, int, int], Served] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(
        self, kind: Kind, participant_id: int, generation: int, now: datetime | None = None
    ) -> Served | None:
        key = (kind, participant_id, generation)
        with self._lock:
            served = self._entries.get(key)
            if served is not None and (
                served.valid_until is None or (now or datetime.now(UTC)) < served.valid_until
            ):
                self._entries.move_to_end(key)
                self.hits += 1
                return served
            if served is not None:
                del self._entries[key]
            self.misses += 1
            return None

    def put(self, kind: Kind, participant_id: int, generation: int, served: Served) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            # Entries of older generations are never asked for again; they age out first.
            self._entries[(kind, participant_id, generation)] = served
            self._entries.move_to_end((kind, participant_id, generation))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
