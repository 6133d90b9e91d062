"""Proposals: meetings the organisers propose to fill participants' idle slots.

The plan is `matchmaking.planning.proposals` (from the recommendations); a proposal reaches
both sides by e-mail and in their inbox, and is scheduled only when both accept, after every
wish the participants sent themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from api.deps import AppSettings, DbSession, StaffAccess, committed
from api.problems import problem_responses
from matchmaking.planning import proposals as service

router = APIRouter(prefix="/api/v1/events/{slug}/proposals", tags=["proposals"])

WHO = "**Who:** owners and staff of the event (others 404, anonymous and participants 401)."


class ProposalsIn(BaseModel):
    per_participant: int = Field(
        service.DEFAULT_PER_PARTICIPANT,
        ge=1,
        le=service.MAX_PER_PARTICIPANT,
        description="The most proposals one participant gets in this round.",
    )


class ProposalOut(BaseModel):
    #: The participant whose recommendations made the proposal (the wish's sender).
    participant: str
    name: str
    organisation: str
    partner: str
    partner_name: str
    partner_organisation: str
    score: float
    reasons: list[str] = Field(description="Why, in the participant's words.")
    partner_reasons: list[str] = Field(description="Why, in the partner's words.")
    wish: str | None = Field(None, description="The proposed wish's key, once sent.")


class ProposalsAnswer(BaseModel):
    basis: str = Field(description="Where the free slots were read from, in words.")
    version: int | None = Field(description="The schedule version read (None: before a solve).")
    with_free_slots: int = Field(description="Participants with at least one free slot.")
    participants: int = Field(description="Participants the proposals go to (either side).")
    count: int
    proposals: list[ProposalOut]
    sent: bool = Field(description="False for a dry run: nothing was stored or queued.")
    mails: int = Field(description="E-mails queued (both sides of each proposal).")


def _answer(
    plan: service.ProposalPlan, wishes: list[str] | None, mails: int = 0
) -> ProposalsAnswer:
    return ProposalsAnswer(
        basis=plan.basis_words(),
        version=plan.basis.number if plan.basis is not None else None,
        with_free_slots=len(plan.free),
        participants=plan.participants,
        count=len(plan.proposals),
        proposals=[
            ProposalOut(
                participant=p.sender.key,
                name=p.sender.name,
                organisation=p.sender.organisation.name,
                partner=p.recipient.key,
                partner_name=p.recipient.name,
                partner_organisation=p.recipient.organisation.name,
                score=p.score,
                reasons=list(p.sender_reasons),
                partner_reasons=list(p.recipient_reasons),
                wish=wishes[i] if wishes is not None else None,
            )
            for i, p in enumerate(plan.proposals)
        ],
        sent=wishes is not None,
        mails=mails,
    )


@router.post(
    "",
    response_model=ProposalsAnswer,
    status_code=status.HTTP_200_OK,
    responses=problem_responses(401, 404, 409, 422),
    summary="Propose meetings to participants with free slots",
    description=WHO + " From each participant's recommendations, to those with free slots "
    "(after a solve: in the published, else the newest version; before: beyond their accepted "
    "wishes): never a pair that shares a wish, never someone at their cap, never within one "
    "delegation under `cross_delegation_only`, at most `per_participant` each, each pair once. "
    "`dry_run=true` only previews them. Otherwise each becomes a wish both sides must accept, "
    "in their inbox and by e-mail; accepted ones are scheduled after every wish the "
    "participants sent themselves. 409 before the event opens and after the wish cut-off.",
)
def propose(
    access: StaffAccess,
    db: DbSession,
    settings: AppSettings,
    body: ProposalsIn | None = None,
    dry_run: Annotated[bool, Query(description="Only preview the proposals.")] = False,
) -> ProposalsAnswer:
    per_participant = (body or ProposalsIn()).per_participant
    if dry_run:
        return _answer(service.plan_proposals(db, access.event, per_participant), None)
    sent = service.send_proposals(
        db, access.event, access.organiser, per_participant, base_url=settings.base_url
    )
    return committed(db, _answer(sent.plan, [w.key for w in sent.wishes], sent.mails))
