"""The organiser's spreadsheet import: upload, preview (to create, to update, problems by
row), confirm. The uploaded files are kept in the database by digest between the preview and
the confirmation, and the confirmation imports them only when the changes are still exactly
the ones previewed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, select
from starlette.datastructures import UploadFile

from api.deps import DbSession
from api.pages.common import (
    CSRF_FIELD,
    PageError,
    check_csrf,
    organiser_event,
    redirect,
    render,
)
from api.pages.forms import PostedFormData
from api.routers.imports import template_response
from matchmaking.bundle import sheets
from matchmaking.platform.models import Event, SheetUpload, utcnow

router = APIRouter()

#: Uploads not confirmed within this time are removed (at the next upload of the event).
KEEP_UPLOADS = timedelta(days=1)


def _page(
    request: Request,
    event: Event,
    organiser: Any,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    values = {
        "title": f"Import participants · {event.name}",
        "event": event,
        "organiser": organiser,
        "max_mb": sheets.MAX_FILE_BYTES // (1024 * 1024),
        "columns": sheets.COLUMNS,
        "required": sheets.REQUIRED,
        "problems": [],
        "result": None,
        "notice": "",
        **context,
    }
    return render(request, "pages/import.html", values, status=status)


@router.get("/organiser/e/{slug}/import", response_class=HTMLResponse, include_in_schema=False)
def import_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    return _page(request, event, organiser)


def _file(value: Any, what: str) -> bytes | None:
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    if value.size is not None and value.size > sheets.MAX_FILE_BYTES:
        raise sheets.too_large(what)
    return sheets.read_limited(value.file, what)


@router.post("/organiser/e/{slug}/import", response_class=HTMLResponse, include_in_schema=False)
def upload(slug: str, request: Request, db: DbSession, form: PostedFormData) -> HTMLResponse:
    token = form.get(CSRF_FIELD)
    check_csrf(request, token if isinstance(token, str) else "")
    event, organiser, _ = organiser_event(request, db, slug)
    try:
        main = _file(form.get("file"), "file")
        if main is None:
            return _page(
                request,
                event,
                organiser,
                status=422,
                notice="Choose a workbook or a CSV file to import.",
            )
        extra = _file(form.get("wishes"), "wishes file")
        name = getattr(form.get("file"), "filename", "") or ""
        files = sheets.upload_from(main, extra, name[:300])
        result = sheets.import_upload(db, event, files, dry_run=True)
    except sheets.SheetError as error:
        db.rollback()
        return _page(
            request, event, organiser, status=422, problems=error.problems, filename=_name(form)
        )
    db.rollback()
    _keep(db, event, files)
    db.commit()
    return _page(request, event, organiser, result=result, filename=files.filename)


def _name(form: Any) -> str:
    return str(getattr(form.get("file"), "filename", "") or "")[:300]


def _keep(db: DbSession, event: Event, files: sheets.Upload) -> None:
    """Store the files by digest until they are confirmed (old, unconfirmed ones go)."""
    db.execute(
        delete(SheetUpload).where(
            SheetUpload.event_id == event.id, SheetUpload.created_at < utcnow() - KEEP_UPLOADS
        )
    )
    kept = db.scalar(
        select(SheetUpload.id).where(
            SheetUpload.event_id == event.id, SheetUpload.digest == files.digest
        )
    )
    if kept is None:
        db.add(SheetUpload(event_id=event.id, digest=files.digest, **dataclasses.asdict(files)))


@router.post(
    "/organiser/e/{slug}/import/confirm", response_class=HTMLResponse, include_in_schema=False
)
def confirm(slug: str, request: Request, db: DbSession, form: PostedFormData) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get(CSRF_FIELD, ""))
    event, organiser, _ = organiser_event(request, db, slug)
    digest, fingerprint = values.get("digest", ""), values.get("fingerprint", "")
    kept = db.scalar(
        select(SheetUpload).where(SheetUpload.event_id == event.id, SheetUpload.digest == digest)
    )
    if kept is None:
        raise PageError(
            404,
            "Upload not found",
            "This upload was imported already or is too old. Upload the file again.",
        )
    kept_id = kept.id
    files = sheets.Upload(kept.kind, kept.main, kept.extra, kept.filename)  # type: ignore[arg-type]
    try:
        result = sheets.import_upload(db, event, files, expect_fingerprint=fingerprint)
    except sheets.SheetError as error:
        db.rollback()
        return _page(
            request, event, organiser, status=422, problems=error.problems, filename=files.filename
        )
    except sheets.StalePreview as stale:
        db.rollback()
        try:
            fresh = sheets.import_upload(db, event, files, dry_run=True)
        except sheets.SheetError as error:
            db.rollback()
            return _page(
                request, event, organiser, status=409, problems=error.problems,
                filename=files.filename, notice=stale.detail,
            )  # fmt: skip
        db.rollback()
        return _page(
            request,
            event,
            organiser,
            status=409,
            result=fresh,
            filename=files.filename,
            notice=stale.detail,
        )
    db.execute(delete(SheetUpload).where(SheetUpload.id == kept_id))
    db.commit()
    counts = result.summary["participants"]
    wishes = result.summary["wishes"]
    flash = (
        f"Imported {files.filename or 'the file'}: {counts['create']} new and "
        f"{counts['update']} updated participants, {wishes['create']} new and "
        f"{wishes['update']} updated wishes."
    )
    return redirect(f"/organiser/e/{event.slug}?flash={_quote(flash)}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/organiser/e/{slug}/import/{name}", response_class=Response, include_in_schema=False)
def template(slug: str, name: str, request: Request, db: DbSession) -> Response:
    organiser_event(request, db, slug)
    if name == "template.xlsx":
        return template_response("xlsx", "participants")
    if name == "participants.csv":
        return template_response("csv", "participants")
    if name == "wishes.csv":
        return template_response("csv", "wishes")
    raise PageError(404, "Not found", "There is no such template.")
