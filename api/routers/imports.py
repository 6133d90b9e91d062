"""Spreadsheet imports of participants and wishes (docs/bundle-format.md, "Spreadsheets")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import WHO_STAFF_OTHERS_404 as STAFF
from api.deps import DbSession, StaffAccess
from api.problems import FieldError, ProblemError, problem_responses
from matchmaking.bundle import sheets

router = APIRouter(prefix="/api/v1/events", tags=["imports"])

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Counts(BaseModel):
    create: int
    update: int
    unchanged: int


class ImportOut(BaseModel):
    """What an import changed, or (dry run) would change."""

    dry_run: bool
    digest: str = Field(description="SHA-256 of the uploaded files; send it back as `digest` "
                        "to import exactly the files checked.")  # fmt: skip
    participants: Counts
    organisations: Counts
    wishes: Counts
    rows: dict[str, Any] = Field(
        description="Participants to create (`create`) and to update (`update`, with the "
        "fields that change), organisations to create and to update."
    )


def sheet_problem(error: sheets.SheetError) -> ProblemError:
    """422 with one `errors[]` entry per problem; `field` names sheet, row and column."""
    if any(p.sheet == "file" and "larger than" in p.message for p in error.problems):
        status, title = 413, "File too large"
    else:
        status, title = 422, "Invalid spreadsheet"
    return ProblemError(
        status,
        "The file was refused, nothing was stored: " + "; ".join(map(str, error.problems)),
        title=title,
        type_="/problems/invalid-spreadsheet",
        errors=[FieldError(field=p.where, message=p.message) for p in error.problems],
    )


async def read_upload_file(upload: UploadFile, what: str) -> bytes:
    """The uploaded file's bytes; refused beyond the size limit after reading at most one
    chunk more (Starlette spools large parts to disk, never holding them in memory)."""
    if upload.size is not None and upload.size > sheets.MAX_FILE_BYTES:
        raise sheet_problem(sheets.too_large(what))
    try:
        return sheets.read_limited(upload.file, what)
    except sheets.SheetError as error:
        raise sheet_problem(error) from None


@router.post(
    "/{slug}/imports",
    response_model=ImportOut,
    responses=problem_responses(401, 404, 409, 413, 422),
    summary="Import participants and wishes from a spreadsheet",
    description=STAFF + " Multipart upload: `file` is an .xlsx workbook (sheets "
    "`participants` and, optional, `wishes`) or a participants CSV file; `wishes` an optional "
    "wishes CSV file (with a CSV `file`). Participants are matched by e-mail, organisations "
    "by name: a second import updates, never duplicates. `dry_run=true` checks and answers "
    "what would change, storing nothing. A file with any bad row is refused whole (422) with "
    "one `errors[]` entry per problem, its `field` naming sheet, row and column "
    "(`participants row 17, column country`); files above 5 MB → 413. With `digest`, a file "
    "that is not the one checked → 409.",
)
async def import_sheet(
    access: StaffAccess,
    db: DbSession,
    file: Annotated[UploadFile, File(description="Workbook (.xlsx) or participants CSV.")],
    wishes: Annotated[UploadFile | None, File(description="Wishes CSV (optional).")] = None,
    dry_run: Annotated[bool, Query(description="Check only; store nothing.")] = False,
    digest: Annotated[
        str | None,
        Query(pattern=r"^[0-9a-f]{64}$", description="The `digest` a dry run answered."),
    ] = None,
) -> ImportOut:
    main = await read_upload_file(file, "file")
    extra = await read_upload_file(wishes, "wishes file") if wishes is not None else None
    try:
        upload = sheets.upload_from(main, extra, file.filename or "")
        if digest is not None and upload.digest != digest:
            raise ProblemError(
                409,
                "These files are not the ones checked (their digest differs); check them again.",
                type_="/problems/conflict",
                errors=[FieldError(field="query.digest", message="does not match the files")],
            )
        result = sheets.import_upload(db, access.event, upload, dry_run=dry_run)
    except sheets.SheetError as error:
        db.rollback()
        raise sheet_problem(error) from None
    if dry_run:
        db.rollback()
    else:
        db.commit()
    return ImportOut(dry_run=dry_run, digest=result.digest, **result.summary)


@router.get(
    "/{slug}/imports/template",
    response_class=Response,
    responses={
        200: {
            "description": "The template file.",
            "content": {
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(401, 404, 422),
    },
    summary="The spreadsheet template",
    description=STAFF + " `format=xlsx`: a workbook with the sheets participants and wishes, "
    "each with the columns and one example row; `format=csv`: one sheet (`sheet`) as CSV.",
)
def import_template(
    access: StaffAccess,
    format: Literal["xlsx", "csv"] = "xlsx",
    sheet: Literal["participants", "wishes"] = "participants",
) -> Response:
    return template_response(format, sheet)


def template_response(format: str, sheet: sheets.SheetName) -> Response:
    if format == "xlsx":
        return Response(
            sheets.template_xlsx(),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="matchmaking-import.xlsx"'},
        )
    return Response(
        sheets.template_csv(sheet),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{sheet}.csv"'},
    )
