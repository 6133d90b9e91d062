"""Agendas and calendar feeds rendered at publication and stored for every API process.

Publishing a version renders, in the publication's own transaction, every participant's
agenda (JSON) and calendar feed, every location's feed (all days and each day) and the
event's feed, and replaces the event's earlier documents with them (`store_event_documents`).
Every API process reads them from the `rendered_documents` table: after a publication a
participant's feed or agenda is one indexed statement (`matchmaking.delivery.serving`), with
nothing left to render.

Versions never mix: the documents are deleted and inserted in the transaction that publishes,
so a reader's statement sees either the old version and the old documents or the new version
and the new documents (PostgreSQL's snapshot of each statement; SQLite's of each read
transaction).

Never stale: a document is stored with the event's `serving_generation` as it stands when the
publication's writes are done, and read only while the event still has that generation. Every
change that shows in an agenda or a feed without a publication (the event, its time grid and
locations, a participant or organisation: names, time zones, attendance, erasure, tokens)
raises the generation in its own transaction (`matchmaking.platform.models.
bump_serving_generations`, and the bulk statements of sheet imports by hand), so the stored
documents stop being used the moment such a change commits, in every process; until the next
publication the API renders on request, as before (and keeps what it rendered per process).
A feed that holds a cancelled meeting changes by itself when the meeting leaves it
(`CANCELLED_RETENTION`): such a document carries `valid_until` and is not served after it.

Secrets: documents are keyed by the participant's id; a request finds its document through
the hash of its token (a calendar link's or the personal token's), which is all the database
holds of a token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.orm import Session

from matchmaking.delivery import calendars
from matchmaking.delivery.agenda import Agenda, agenda_from_json, published_agendas
from matchmaking.delivery.serving import Served, still_valid, strong_etag
from matchmaking.platform.models import Event, Location, Participant, RenderedDocument
from matchmaking.platform.settings import Settings

#: How an agenda becomes the JSON body the API serves (the API's own response model).
AgendaJson = Callable[[Agenda], bytes]


def location_key(location_id: int, day: date | None) -> str:
    """The key of a location's feed of all days (the id) or of one day ("id/YYYY-MM-DD")."""
    return f"{location_id}/{day.isoformat()}" if day else str(location_id)


def _row(kind: str, key: str, participant_id: int | None, served: Served) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": key,
        "participant_id": participant_id,
        "etag": served.etag,
        "last_modified": served.last_modified,
        "valid_until": served.valid_until,
        "body": served.body,
    }


def render_event_documents(
    session: Session,
    event: Event,
    agenda_json: AgendaJson,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every stored document of the event as it stands in the session, as rows to insert."""
    rows = []
    for (kind, of, day), feed in calendars.every_feed(session, event, settings=settings, now=now):
        if isinstance(of, Participant):
            rows.append(_row(kind, str(of.id), of.id, feed))
        elif isinstance(of, Location):
            rows.append(_row(kind, location_key(of.id, day), None, feed))
        else:
            rows.append(_row(kind, "", None, feed))
    for participant, agenda in published_agendas(session, event):
        body = agenda_json(agenda)
        rows.append(
            _row("agenda", str(participant.id), participant.id, Served(body, strong_etag(body)))
        )
    return rows


def store_event_documents(
    session: Session,
    event: Event,
    agenda_json: AgendaJson,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> int:
    """Render every document of the event and put them in place of its earlier ones, in the
    caller's transaction (call it after the publication's other writes, right before the
    commit: a write after it that raises the event's generation leaves them unused). Returns
    how many documents were stored."""
    session.flush()
    # The flush's raise of the generation is a Core statement that also stamps the event's
    # `updated_at` (which feeds show as Last-Modified): read the row as it now stands.
    session.refresh(event)
    rows = render_event_documents(session, event, agenda_json, settings=settings, now=now)
    session.flush()
    generation = session.scalar(select(Event.serving_generation).where(Event.id == event.id))
    session.execute(delete(RenderedDocument).where(RenderedDocument.event_id == event.id))
    if rows:
        for row in rows:
            row["event_id"], row["generation"] = event.id, generation
        session.execute(insert(RenderedDocument), rows)
    return len(rows)


def stored_document(session: Session, event: Event, kind: str, key: str) -> Served | None:
    """A document of the event stored at its current generation (and still valid), or None."""
    documents = RenderedDocument.__table__
    events = Event.__table__
    row = session.execute(
        select(
            documents.c.body,
            documents.c.etag,
            documents.c.last_modified,
            documents.c.valid_until,
        )
        .select_from(
            documents.join(
                events,
                and_(
                    events.c.id == documents.c.event_id,
                    events.c.serving_generation == documents.c.generation,
                ),
            )
        )
        .where(
            documents.c.event_id == event.id,
            documents.c.kind == kind,
            documents.c.key == key,
        )
    ).first()
    return still_valid(*row) if row is not None else None


def stored_agenda(session: Session, participant: Participant) -> Agenda | None:
    """The participant's agenda as publication stored it, while it still holds (else None:
    the caller builds it from the schedule)."""
    served = stored_document(session, participant.event, "agenda", str(participant.id))
    return agenda_from_json(served.body) if served is not None else None
