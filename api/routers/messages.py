"""Organisers' messages to participants: who each segment reaches, and sending one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.deps import AppSettings, DbSession, StaffAccess
from api.problems import problem_responses
from api.schemas.common import Line, Paragraphs
from matchmaking.delivery import messages as service

router = APIRouter(
    prefix="/api/v1/events/{slug}/messages",
    tags=["messages"],
    responses=problem_responses(401, 404, 422),
)

WHO = "**Who:** owners and staff of the event (others 404, anonymous 401)."
SegmentKey = Literal["everyone", "no_wishes", "unanswered", "unscheduled", "online", "delegation"]


class SegmentOut(BaseModel):
    key: SegmentKey
    label: str
    description: str
    recipients: int = Field(description="People with an e-mail address it reaches now.")


class SegmentsOut(BaseModel):
    segments: list[SegmentOut]
    delegations: list[str] = Field(description="The delegations one may write to.")


class MessageIn(BaseModel):
    segment: SegmentKey
    delegation: Annotated[Line, Field(max_length=100)] = Field(
        "", description="For the segment `delegation`: which one (case ignored)."
    )
    subject: Annotated[Line, Field(max_length=service.SUBJECT_MAX)]
    body: Annotated[Paragraphs, Field(max_length=service.BODY_MAX)]


class AudienceOut(BaseModel):
    segment: SegmentKey
    delegation: str
    recipients: int
    names: list[str] = Field(description=f"The first {service.PREVIEW_NAMES} by name.")
    sent: bool = Field(description="False for a dry run: nothing was queued.")


@router.get(
    "/segments",
    response_model=SegmentsOut,
    summary="Whom each segment of participants reaches",
    description=WHO,
)
def list_segments(access: StaffAccess, db: DbSession) -> SegmentsOut:
    counts = service.segment_counts(db, access.event)
    return SegmentsOut(
        segments=[
            SegmentOut(
                key=s.key,  # type: ignore[arg-type]
                label=s.label,
                description=s.description,
                recipients=counts[s.key],
            )
            for s in service.SEGMENTS
        ],
        delegations=service.delegations(db, access.event),
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AudienceOut,
    summary="Write an e-mail to every participant of a segment",
    description=WHO + " The message goes out through the outbox (see `GET …/mails`), one mail "
    "per recipient with their name and a link to their page; `dry_run=true` only says whom it "
    "would reach. A wrong field → 422 naming it, and nothing is queued.",
)
def send_message(
    body: MessageIn,
    access: StaffAccess,
    db: DbSession,
    settings: AppSettings,
    dry_run: Annotated[bool, Query(description="Only count the recipients.")] = False,
) -> AudienceOut:
    if dry_run:
        service.check_message(body.subject, body.body)
        reached = service.audience(db, access.event, body.segment, body.delegation)
    else:
        reached = service.send_message(
            db,
            access.event,
            **body.model_dump(),
            base_url=settings.base_url,
            sender=access.organiser.name,
        )
        db.commit()
    return AudienceOut(
        segment=body.segment,
        delegation=reached.delegation,
        recipients=reached.count,
        names=list(reached.names),
        sent=not dry_run,
    )
