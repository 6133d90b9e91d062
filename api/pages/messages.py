"""The organiser's messages page: choose who (a segment, with how many it reaches), write,
see the recipients, send. Sending goes through the outbox like every mail of the service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import DbSession
from api.pages.common import organiser_event, redirect, render
from api.pages.forms import PostedForm
from matchmaking.delivery import messages as service
from matchmaking.platform.errors import Invalid
from matchmaking.platform.models import Event

router = APIRouter()


def _page(
    request: Request,
    db: Session,
    event: Event,
    organiser: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    audience: service.Audience | None = None,
    notice: str = "",
    status: int = 200,
) -> HTMLResponse:
    counts = service.segment_counts(db, event)
    return render(
        request,
        "pages/messages.html",
        {
            "title": f"Messages · {event.name}",
            "event": event,
            "organiser": organiser,
            "segments": [(s, counts[s.key]) for s in service.SEGMENTS],
            "delegations": service.delegations(db, event),
            "values": values or {"segment": "everyone"},
            "errors": errors or {},
            "audience": audience,
            "notice": notice,
            "subject_max": service.SUBJECT_MAX,
        },
        status=status,
    )


@router.get("/organiser/e/{slug}/messages", response_class=HTMLResponse, include_in_schema=False)
def messages_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    sent = request.query_params.get("sent", "")
    notice = (
        f"Your message is on its way to {sent} participant{'s' if sent != '1' else ''}."
        if sent.isdigit()
        else ""
    )
    return _page(request, db, event, organiser, notice=notice)


@router.post("/organiser/e/{slug}/messages", include_in_schema=False)
def messages_post(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    return _messages_post(slug, request, db, values)


def _messages_post(slug: str, request: Request, db: Session, values: dict[str, Any]) -> Response:
    """`action=preview` shows whom the message reaches; `action=send` sends it (only after a
    preview of the same segment: the form carries the count the organiser saw)."""
    event, organiser, _ = organiser_event(request, db, slug, values)
    form = {
        name: str(values.get(name, ""))
        for name in ("segment", "delegation", "subject", "body", "seen")
    }
    try:
        service.check_message(form["subject"], form["body"])
        audience = service.audience(db, event, form["segment"], form["delegation"])
    except Invalid as error:
        field = (error.field or "body.body").removeprefix("body.")
        return _page(
            request, db, event, organiser, values=form, errors={field: error.detail}, status=422
        )
    if values.get("action") != "send" or form["seen"] != str(audience.count):
        # A first look, or the segment changed since the preview: show whom it reaches now.
        changed = values.get("action") == "send"
        notice = (
            "The recipients changed since you looked: check them again before sending."
            if changed
            else ""
        )
        return _page(request, db, event, organiser, values=form, audience=audience, notice=notice)
    reached = service.send_message(
        db,
        event,
        segment=form["segment"],
        delegation=form["delegation"],
        subject=form["subject"],
        body=form["body"],
        base_url=request.app.state.settings.base_url,
        sender=organiser.name,
    )
    db.commit()
    return redirect(f"/organiser/e/{event.slug}/messages?sent={reached.count}")
