"""The organiser's proposals page: preview the meetings the service would propose to fill
participants' free slots (how many, to whom, why), then send them. Like the messages page,
sending needs a preview of the same round: the form carries the count the organiser saw."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import DbSession
from api.pages.common import organiser_event, redirect, render
from api.pages.forms import PostedForm
from matchmaking.planning import proposals as service
from matchmaking.platform.errors import DomainError, Invalid
from matchmaking.platform.models import Event

router = APIRouter()


def _page(
    request: Request,
    event: Event,
    organiser: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    plan: service.ProposalPlan | None = None,
    notice: str = "",
    open_proposals: int = 0,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "pages/proposals.html",
        {
            "title": f"Proposals · {event.name}",
            "event": event,
            "organiser": organiser,
            "values": values or {"per_participant": str(service.DEFAULT_PER_PARTICIPANT)},
            "errors": errors or {},
            "plan": plan,
            "notice": notice,
            "open_proposals": open_proposals,
            "max_per_participant": service.MAX_PER_PARTICIPANT,
        },
        status=status,
    )


@router.get("/organiser/e/{slug}/proposals", response_class=HTMLResponse, include_in_schema=False)
def proposals_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    sent = request.query_params.get("sent", "")
    notice = ""
    if sent.isdigit():
        count = f"{sent} proposal" if sent == "1" else f"{sent} proposals"
        notice = f"Sent {count}: both sides find each in their inbox and by e-mail."
    return _page(
        request, event, organiser, notice=notice, open_proposals=service.open_proposals(db, event)
    )


@router.post("/organiser/e/{slug}/proposals", include_in_schema=False)
def proposals_post(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    return _proposals_post(slug, request, db, values)


def _per_participant(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise Invalid("Give a whole number.", field="body.per_participant") from None
    return service.check_per_participant(value)


def _proposals_post(slug: str, request: Request, db: Session, values: dict[str, Any]) -> Response:
    """`action=preview` shows the round; `action=send` sends it when it is still the round
    the organiser saw (the same count), else shows it again."""
    event, organiser, _ = organiser_event(request, db, slug, values)
    form = {name: str(values.get(name, "")) for name in ("per_participant", "seen")}
    opened = service.open_proposals(db, event)
    try:
        per_participant = _per_participant(form["per_participant"])
        plan = service.plan_proposals(db, event, per_participant)
    except Invalid as error:
        field = (error.field or "body.per_participant").removeprefix("body.")
        return _page(
            request,
            event,
            organiser,
            values=form,
            errors={field: error.detail},
            open_proposals=opened,
            status=422,
        )
    if values.get("action") != "send" or form["seen"] != str(len(plan.proposals)):
        notice = (
            "The proposals changed since you looked: check them again before sending."
            if values.get("action") == "send"
            else ""
        )
        return _page(
            request, event, organiser, values=form, plan=plan, notice=notice, open_proposals=opened
        )
    try:
        sent = service.send_proposals(
            db, event, organiser, per_participant, base_url=request.app.state.settings.base_url
        )
    except DomainError as error:
        db.rollback()
        return _page(
            request,
            event,
            organiser,
            values=form,
            plan=plan,
            notice=error.detail,
            open_proposals=opened,
            status=409,
        )
    db.commit()
    return redirect(f"/organiser/e/{event.slug}/proposals?sent={len(sent.wishes)}")
