"""Meeting wishes: participants send, edit, withdraw and answer them; organisers see and set
every wish of their event."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import WHO_PARTICIPANT_OTHERS_404 as PARTICIPANT
from api.deps import WHO_STAFF_OTHERS_404 as STAFF
from api.deps import (
    AppSettings,
    DbSession,
    EventParticipant,
    ParticipantTokenHeader,
    StaffAccess,
    committed,
    no_event,
    no_participant_token,
    participant_token_from,
    unknown_participant_token,
)
from api.problems import problem_responses, refuse_nulls
from api.ratelimit import PARTICIPANT_TOKEN, record_failed_guess
from api.schemas.common import Limit, Offset, Page
from api.schemas.wishes import (
    OrganisationRef,
    OrganiserWishUpdate,
    PersonRef,
    WishCreate,
    WishEdit,
    WishOut,
)
from matchmaking.participants import wishes as service
from matchmaking.platform import mail
from matchmaking.platform.models import Organisation, Participant, Wish, WishStatus
from matchmaking.platform.security import hash_token
from matchmaking.platform.settings import Settings

router = APIRouter(
    prefix="/api/v1/events/{slug}", tags=["wishes"], responses=problem_responses(401, 404, 422)
)

WINDOW = " Refused (409) before the event opens and after its `wish_cutoff`."


def _organisation_ref(organisation: Organisation | service.OrganisationFacts) -> OrganisationRef:
    return OrganisationRef(
        key=organisation.key,
        name=organisation.name,
        kind=organisation.kind,
        country=organisation.country,
    )


def _person_ref(person: Participant | service.PersonFacts) -> PersonRef:
    return PersonRef(
        key=person.key, name=person.name, organisation=_organisation_ref(person.organisation)
    )


def wish_out(wish: Wish, mutual: bool) -> WishOut:
    return WishOut(
        key=wish.key,
        sender=_person_ref(wish.sender),
        to=_person_ref(wish.recipient) if wish.recipient else None,
        to_organisation=_organisation_ref(wish.recipient_organisation)
        if wish.recipient_organisation
        else None,
        priority=wish.priority,
        status=wish.status,
        message=wish.message,
        mutual=mutual,
        required=wish.required,
        session=wish.session.key if wish.session else None,
        fixed_slot=wish.fixed_slot.key if wish.fixed_slot else None,
        created_at=wish.created_at,
        answered_at=wish.answered_at,
        proposed=wish.proposed,
        accepted_by=[
            person.key
            for person, accepted in (
                (wish.sender, wish.sender_accepted),
                (wish.recipient, wish.recipient_accepted),
            )
            if wish.proposed and accepted and person is not None
        ],
        reasons={k: list(v) for k, v in (wish.reasons or {}).items()} if wish.proposed else {},
    )


def _outs(db: Session, wishes: list[Wish]) -> list[WishOut]:
    mutual = service.mutual_keys(db, wishes)
    return [wish_out(w, w.key in mutual) for w in wishes]


# --- participants ----------------------------------------------------------------------------


@router.get(
    "/me/wishes",
    response_model=Page[WishOut],
    summary="My wishes, sent or received",
    description=PARTICIPANT + " `direction=received` includes wishes to the participant's "
    "organisation once its membership is confirmed.",
)
def my_wishes(
    participant: EventParticipant,
    db: DbSession,
    direction: Literal["sent", "received"] = "sent",
    wish_status: Annotated[WishStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[WishOut]:
    wishes, total = service.participant_wishes(
        db, participant, direction, wish_status, limit, offset
    )
    return Page(items=_outs(db, wishes), total=total, limit=limit, offset=offset)


@router.post(
    "/me/wishes",
    status_code=status.HTTP_201_CREATED,
    response_model=WishOut,
    responses=problem_responses(409),
    summary="Send a wish to meet someone",
    description=PARTICIPANT + WINDOW + " Exactly one of `to` (a listed participant's key) "
    "and `to_organisation` (an organisation's key). A second open wish to the same recipient "
    "or one beyond `max_requests_per_participant` → 409. With the `auto_accept` policy the "
    "wish is accepted at once. The recipient is e-mailed.",
)
async def send_wish(
    slug: str,
    body: WishCreate,
    request: Request,
    header_token: ParticipantTokenHeader,
) -> Response:
    # The busiest write of an event (the rush before the cut-off): the whole request runs in
    # one worker thread, with one session, instead of one thread hand-off per dependency.
    token = participant_token_from(request, header_token)
    if token is None:
        raise no_participant_token()
    return await run_in_threadpool(_send_wish, slug, body, request, token)


def _send_wish(slug: str, body: WishCreate, request: Request, token: str) -> Response:
    settings: Settings = request.app.state.settings
    wish_request = service.WishRequest(**body.model_dump())
    with request.app.state.sessionmaker() as db:
        # One statement: the sender by its token, locked, with its event and the recipient
        # the wish names; plain rows, no entities (the rush's CPU went into building them).
        found = service.locked_sender(db, hash_token(token), wish_request)
        if found is None:
            record_failed_guess(request, PARTICIPANT_TOKEN)
            raise unknown_participant_token()
        if found.event.slug != slug:
            raise no_event(slug)
        sent = service.send_locked(db, found, wish_request, settings.base_url)
        answer = _new_wish_out(sent)
        db.commit()
    # The answer as FastAPI would write it for `response_model=WishOut`, without validating
    # the model just built against that same model once more.
    return Response(
        answer.model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


def _new_wish_out(sent: service.NewWish) -> WishOut:
    """What `wish_out` answers for a wish just sent (never a proposal; no session or slot
    yet), from the plain rows of `send_locked`."""
    return WishOut(
        key=sent.key,
        sender=_person_ref(sent.sender),
        to=_person_ref(sent.recipient) if sent.recipient else None,
        to_organisation=_organisation_ref(sent.organisation)
        if sent.recipient is None and sent.organisation
        else None,
        priority=sent.priority,
        status=sent.status,
        message=sent.message,
        mutual=sent.mutual,
        required=False,
        session=None,
        fixed_slot=None,
        created_at=sent.created_at,
        answered_at=sent.answered_at,
    )


@router.get(
    "/me/wishes/{key}",
    response_model=WishOut,
    summary="One of my wishes",
    description=PARTICIPANT + " Only wishes the participant sent or received (else 404); "
    "wishes to its organisation once its membership is confirmed.",
)
def my_wish(key: str, participant: EventParticipant, db: DbSession) -> WishOut:
    return _outs(db, [service.readable_wish(db, participant, key)])[0]


@router.patch(
    "/me/wishes/{key}",
    response_model=WishOut,
    responses=problem_responses(403, 409),
    summary="Change the priority or message of a wish I sent",
    description=PARTICIPANT + WINDOW + " Only the sender (403 for the recipient), only "
    "open wishes (409).",
)
def edit_wish(key: str, body: WishEdit, participant: EventParticipant, db: DbSession) -> WishOut:
    wish = service.own_wish(db, participant, key)
    service.edit_wish(db, participant, wish, body.priority, body.message)
    return committed(db, _outs(db, [wish])[0])


@router.post(
    "/me/wishes/{key}/withdraw",
    response_model=WishOut,
    responses=problem_responses(403, 409),
    summary="Withdraw a wish I sent",
    description=PARTICIPANT + WINDOW + " Only the sender (403 for the recipient). The wish "
    "becomes `cancelled` and no longer counts against the cap.",
)
def withdraw_wish(key: str, participant: EventParticipant, db: DbSession) -> WishOut:
    wish = service.own_wish(db, participant, key)
    service.withdraw_wish(db, participant, wish)
    return committed(db, _outs(db, [wish])[0])


def _answer(
    key: str,
    accept: bool,
    participant: Participant,
    db: Session,
    settings: AppSettings,
) -> WishOut:
    wish = service.own_wish(db, participant, key)
    service.answer_wish(db, participant, wish, accept)
    mail.queue(
        db, [service.answered_mail(wish, participant, settings.base_url)], event_id=wish.event_id
    )
    return committed(db, _outs(db, [wish])[0])


@router.post(
    "/me/wishes/{key}/accept",
    response_model=WishOut,
    responses=problem_responses(403, 409),
    summary="Accept a wish I received",
    description=PARTICIPANT + WINDOW + " Only the recipient (for a wish to an organisation: "
    "any of its participants; 403 for the sender). A withdrawn wish → 409. A declined wish "
    "may be accepted after all. The sender is e-mailed.",
)
def accept_wish(
    key: str,
    participant: EventParticipant,
    db: DbSession,
    settings: AppSettings,
) -> WishOut:
    return _answer(key, True, participant, db, settings)


@router.post(
    "/me/wishes/{key}/decline",
    response_model=WishOut,
    responses=problem_responses(403, 409),
    summary="Decline a wish I received",
    description=PARTICIPANT + WINDOW + " Only the recipient (403 for the sender). A withdrawn "
    "wish → 409. The sender is e-mailed.",
)
def decline_wish(
    key: str,
    participant: EventParticipant,
    db: DbSession,
    settings: AppSettings,
) -> WishOut:
    return _answer(key, False, participant, db, settings)


# --- organisers ------------------------------------------------------------------------------


@router.get(
    "/wishes",
    response_model=Page[WishOut],
    summary="Every wish of the event",
    description=STAFF + " Filter by `status` and by `participant` (its key: wishes it sent or "
    "received).",
)
def event_wishes(
    access: StaffAccess,
    db: DbSession,
    wish_status: Annotated[WishStatus | None, Query(alias="status")] = None,
    participant: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[WishOut]:
    wishes, total = service.event_wishes(db, access.event, wish_status, participant, limit, offset)
    return Page(items=_outs(db, wishes), total=total, limit=limit, offset=offset)


@router.patch(
    "/wishes/{key}",
    response_model=WishOut,
    summary="Set a wish's status or scheduling rules",
    description=STAFF + " Any status; `priority`, `required`, `separate`; the `session` and "
    "`fixed_slot` it must be held in (keys; `null` clears). Not bound by the cut-off.",
)
def update_wish(key: str, body: OrganiserWishUpdate, access: StaffAccess, db: DbSession) -> WishOut:
    wish = service.get_wish(db, access.event, key)
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, frozenset({"session", "fixed_slot"}))
    service.organiser_update(db, access.event, wish, changes)
    return committed(db, _outs(db, [wish])[0])
