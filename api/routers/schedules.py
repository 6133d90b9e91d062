"""Schedule versions over HTTP: list, inspect (statistics, unscheduled wishes, staleness),
diff, publish, and the schedule document of a version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import WHO_STAFF as WHO
from api.deps import AppSettings, DbSession, StaffAccess, page_of
from api.problems import PROBLEM_MEDIA_TYPE, ProblemDetails, problem_responses
from api.routers.jobs import version_url
from api.schemas.common import Limit, Offset, Page
from api.schemas.schedules import (
    ChangeOut,
    DiffOut,
    GoalChangeOut,
    ImpactOut,
    MeetingChangeOut,
    Person,
    PersonImpactOut,
    PlacementOut,
    PublishOut,
    PublishRequest,
    StalenessOut,
    StatisticsOut,
    UnscheduledWish,
    VersionDetail,
    VersionSummary,
    agenda_json,
)
from matchmaking.bundle.schemas import ScheduleDoc
from matchmaking.delivery import rendered
from matchmaking.planning import publishing as publishing_service
from matchmaking.planning import versions as version_service
from matchmaking.planning.publishing import PublishResult
from matchmaking.platform.models import Event, Meeting, Participant, ScheduleVersion
from matchmaking.platform.settings import Settings

router = APIRouter(
    prefix="/api/v1/events/{slug}/versions",
    tags=["schedule versions"],
    responses=problem_responses(401, 403, 404, 422),
)


# --- lookups and views ---------------------------------------------------------------------------


def find_version(db: DbSession, event: Event, number: int) -> ScheduleVersion:
    return version_service.numbered_version(db, event, number)


def _meeting_counts(db: DbSession, versions: list[ScheduleVersion]) -> dict[int, int]:
    rows = db.execute(
        select(Meeting.version_id, func.count())
        .where(Meeting.version_id.in_([v.id for v in versions]))
        .group_by(Meeting.version_id)
    )
    return {version_id: count for version_id, count in rows}


def _numbers(db: DbSession, event: Event) -> dict[int, int]:
    rows = db.execute(
        select(ScheduleVersion.id, ScheduleVersion.number).where(
            ScheduleVersion.event_id == event.id
        )
    )
    return {version_id: number for version_id, number in rows}


def summary(
    version: ScheduleVersion, slug: str, meetings: int, numbers: dict[int, int]
) -> VersionSummary:
    return VersionSummary(
        number=version.number,
        status=version.status,
        objective=version.objective,
        solve_seconds=version.solve_seconds,
        meetings=meetings,
        based_on=numbers.get(version.based_on_id) if version.based_on_id else None,
        snapshot_at=version.snapshot_at,
        created_at=version.created_at,
        published_at=version.published_at,
        superseded_at=version.superseded_at,
        current=version.published_at is not None and version.superseded_at is None,
        url=version_url(slug, version.number),
    )


def _person(participant: Participant | None) -> Person | None:
    if participant is None:
        return None
    return Person(
        key=participant.key, name=participant.name, organisation=participant.organisation.name
    )


def _unscheduled(db: DbSession, event: Event, version: ScheduleVersion) -> list[UnscheduledWish]:
    return [
        UnscheduledWish(
            wish=entry.key,
            reason=entry.reason,
            detail=entry.detail,
            sender=_person(entry.wish.sender) if entry.wish else None,
            recipient=_person(entry.wish.recipient) if entry.wish else None,
            recipient_organisation=(
                entry.wish.recipient_organisation.name
                if entry.wish is not None and entry.wish.recipient_organisation is not None
                else None
            ),
        )
        for entry in version_service.unscheduled_wishes(db, event, version.unscheduled)
    ]


def _statistics(db: DbSession, version: ScheduleVersion) -> StatisticsOut:
    stats = version_service.version_statistics(db, version)
    return StatisticsOut.model_validate(stats, from_attributes=True)


def _change_out(change: version_service.SnapshotChange) -> ChangeOut:
    return ChangeOut(kind=change.kind, key=change.key, at=change.at, detail=change.detail)


def _placement(placement: version_service.Placement | None) -> PlacementOut | None:
    if placement is None:
        return None
    return PlacementOut(
        slot=placement.slot,
        location=placement.location,
        participants=list(placement.participants),
        starts=placement.starts,
        ends=placement.ends,
        location_name=placement.location_name,
        names=list(placement.names),
        organisations=list(placement.organisations),
    )


def _impact(impact: version_service.VersionImpact) -> ImpactOut:
    diff = impact.diff
    return ImpactOut(
        moved=len(diff.moved),
        cancelled=len(diff.removed),
        added=len(diff.added),
        participants=[
            PersonImpactOut.model_validate(p, from_attributes=True) for p in impact.people
        ],
        goals=[GoalChangeOut.model_validate(g, from_attributes=True) for g in impact.goals],
        needs_confirmation=impact.needs_confirmation,
    )


def _changes(changes: list[version_service.MeetingChange]) -> list[MeetingChangeOut]:
    return [
        MeetingChangeOut(
            uid=c.uid,
            change=c.change,
            wishes=list(c.wishes),
            old=_placement(c.old),
            new=_placement(c.new),
            by_hand=c.by_hand,
        )
        for c in changes
    ]


# --- endpoints -----------------------------------------------------------------------------------


@router.get(
    "",
    response_model=Page[VersionSummary],
    summary="List the event's schedule versions",
    description=f"{WHO} Newest first; `current` marks the published one.",
)
def list_versions(
    access: StaffAccess, db: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[VersionSummary]:
    event = access.event
    where = [ScheduleVersion.event_id == event.id]
    order = [ScheduleVersion.number.desc()]
    versions, total = page_of(db, ScheduleVersion, where, order, limit, offset)
    counts, numbers = _meeting_counts(db, versions), _numbers(db, event)
    items = [summary(v, event.slug, counts.get(v.id, 0), numbers) for v in versions]
    return Page[VersionSummary](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{number}",
    response_model=VersionDetail,
    summary="A schedule version in full",
    description=f"{WHO} Statistics, unscheduled wishes with their reasons and the people "
    "concerned, conflicts of an infeasible event, and staleness: the changes to wishes and "
    "registrations made after the version's snapshot, which it does not include.",
)
def get_version(access: StaffAccess, db: DbSession, number: int) -> VersionDetail:
    event = access.event
    version = find_version(db, event, number)
    staleness = version_service.version_staleness(db, version)
    base = summary(
        version, event.slug, _meeting_counts(db, [version]).get(version.id, 0), _numbers(db, event)
    )
    return VersionDetail(
        **base.model_dump(),
        bound=version.bound,
        parameters=version.parameters,
        statistics=_statistics(db, version),
        unscheduled=_unscheduled(db, event, version),
        conflicts=version.conflicts,
        staleness=StalenessOut(
            stale=staleness.stale,
            snapshot_at=staleness.snapshot_at,
            changes=[_change_out(c) for c in staleness.changes],
        ),
    )


@router.get(
    "/{number}/diff",
    response_model=DiffOut,
    summary="Compare two versions",
    description=f"{WHO} Meetings (by their stable uid) added, moved (other slot, location or "
    "participant) and removed between version `against` and this one, with names, times and "
    "locations, and the `impact` of publishing it: participants affected and each goal "
    "better or worse. `against=published` (default) compares with the current published "
    "version (nothing published: every meeting is added).",
)
def diff_version(
    access: StaffAccess,
    db: DbSession,
    number: int,
    against: Annotated[
        str,
        Query(pattern=r"^(published|[1-9][0-9]{0,8})$", description="`published` or a number."),
    ] = "published",
) -> DiffOut:
    event = access.event
    version = find_version(db, event, number)
    if against == "published":
        old = publishing_service.current_published_version(db, event.id)
    else:
        old = find_version(db, event, int(against))
    impact = version_service.version_impact(db, old, version)
    diff = impact.diff
    return DiffOut(
        version=version.number,
        against=old.number if old is not None else None,
        added=_changes(diff.added),
        moved=_changes(diff.moved),
        removed=_changes(diff.removed),
        unchanged=diff.unchanged,
        impact=_impact(impact),
    )


@router.post(
    "/{number}/publish",
    response_model=PublishOut,
    responses=problem_responses(409),
    summary="Publish a version",
    description=f"{WHO} Makes this version the one participants see, atomically (the previous "
    "published version stays in the history). Refused with 409: a version without a schedule "
    "(infeasible, unknown) always; a stale version (the problem lists `changes`) or one not "
    "planned from the current published version, unless `force` is true. Concurrent "
    "publications: exactly one wins, the other gets 409. After the commit, participants are "
    "e-mailed: everyone on the first publication, those whose meetings changed later.",
)
def publish(
    access: StaffAccess,
    db: DbSession,
    settings: AppSettings,
    request: Request,
    number: int,
    body: PublishRequest | None = None,
) -> Any:
    body = body or PublishRequest()
    event = access.event
    version = find_version(db, event, number)
    try:
        result = publishing_service.publish_version(db, version, force=body.force)
    except publishing_service.PublishError as refused:
        db.rollback()
        return _refusal(request, refused)
    # In the publication's transaction: sent after the commit, never for a rolled-back one.
    notified = publishing_service.queue_publication_mails(db, event, result, settings.base_url)
    render_publication(db, event, result, settings)
    db.commit()
    diff = result.diff
    return PublishOut(
        version=summary(
            version,
            event.slug,
            _meeting_counts(db, [version]).get(version.id, 0),
            _numbers(db, event),
        ),
        previous=result.previous.number if result.previous is not None else None,
        unchanged=result.unchanged,
        added=len(diff.added) if diff else 0,
        moved=len(diff.moved) if diff else 0,
        removed=len(diff.removed) if diff else 0,
        notified=notified,
    )


def render_publication(
    db: Session, event: Event, result: PublishResult, settings: Settings
) -> None:
    """Render every agenda and feed of a publication and store them for every API process,
    in its transaction (after its other writes, right before its commit)."""
    if not result.unchanged:
        rendered.store_event_documents(db, event, agenda_json, settings=settings)


def _refusal(request: Request, refused: publishing_service.PublishError) -> JSONResponse:
    extra: dict[str, Any] = {"code": refused.code}
    if isinstance(refused, publishing_service.VersionIsStale):
        extra["changes"] = [_change_out(c).model_dump(mode="json") for c in refused.changes]
    body = ProblemDetails(
        type="/problems/conflict",
        title="The version cannot be published",
        status=409,
        detail=str(refused),
        instance=request.url.path,
        **extra,
    )
    return JSONResponse(jsonable_encoder(body), status_code=409, media_type=PROBLEM_MEDIA_TYPE)


@router.get(
    "/{number}/schedule",
    response_model=ScheduleDoc,
    # Only the fields the document has: `conflicts` is written only when there are some.
    response_model_exclude_unset=True,
    summary="The version as a schedule document",
    description=f"{WHO} The version in the public `matchmaking-schedule/1` format "
    "(docs/bundle-format.md): meetings by slot and location, unscheduled wishes with reasons.",
)
def schedule_document(access: StaffAccess, db: DbSession, number: int) -> dict[str, Any]:
    event = access.event
    return version_service.schedule_document(db, event, find_version(db, event, number))
