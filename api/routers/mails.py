"""The event's e-mails as the outbox holds them: what was sent, what waits, what failed and why."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import WHO_STAFF, DbSession, StaffAccess, page_of
from api.problems import problem_responses
from api.schemas.common import Instant, Limit, Offset
from matchmaking.platform import mail as mail_service
from matchmaking.platform.models import MailStatus, OutboxMail

router = APIRouter(prefix="/api/v1/events/{slug}/mails", tags=["e-mail"])

MailState = Literal["waiting", "sending", "sent", "failed"]


class MailOut(BaseModel):
    recipient: str
    template: str = Field(description="Which mail: registration, wish_received, ...")
    status: MailState
    attempts: int
    created_at: Instant
    sent_at: Instant | None
    next_attempt_at: Instant | None = Field(description="For a waiting mail: not before this.")
    error: str = Field(description="Why the last attempt failed ('' when none did).")


class MailsOut(BaseModel):
    counts: dict[str, int] = Field(description="The event's mails per status.")
    items: list[MailOut]
    total: int = Field(description="Mails with the asked status over all pages.")
    limit: int
    offset: int


@router.get(
    "",
    response_model=MailsOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="The event's e-mails and their delivery",
    description=f"{WHO_STAFF} Every e-mail the event caused "
    "(registrations, personal links, wishes, publications), newest first, optionally only "
    "those with `status`: `waiting` (retried at `next_attempt_at`), `sending`, `sent` or "
    "`failed` (with the error). Never the mail's text: it holds personal links.",
)
def list_mails(
    access: StaffAccess,
    db: DbSession,
    status: MailState | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MailsOut:
    event_id = access.event.id
    condition = [OutboxMail.event_id == event_id]
    if status is not None:
        condition.append(OutboxMail.status == MailStatus(status))
    order = (OutboxMail.created_at.desc(), OutboxMail.id.desc())
    rows, total = page_of(db, OutboxMail, condition, order, limit, offset)
    items = [
        MailOut(
            recipient=row.recipient,
            template=row.template,
            status=row.status.value,
            attempts=row.attempts,
            created_at=row.created_at,
            sent_at=row.sent_at,
            next_attempt_at=row.next_attempt_at if row.status == MailStatus.waiting else None,
            error=row.error,
        )
        for row in rows
    ]
    return MailsOut(
        counts=mail_service.outbox_counts(db, event_id),
        items=items,
        total=total,
        limit=limit,
        offset=offset,
    )
