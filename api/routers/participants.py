"""Participants: self-registration, the personal link, own profile, directory, organisers' view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from api.deps import WHO_PARTICIPANT_OTHERS_404 as PARTICIPANT
from api.deps import WHO_STAFF_OTHERS_404 as STAFF
from api.deps import (
    AppSettings,
    DbSession,
    EventParticipant,
    OwnerAccess,
    StaffAccess,
    Viewer,
    committed,
)
from api.problems import ProblemError, problem_responses, refuse_nulls
from api.schemas.common import Limit, Offset, Page
from api.schemas.participants import (
    Accepted,
    DirectoryEntry,
    ErasureOut,
    InvitationOut,
    LinkRequest,
    MemberOut,
    OrganisationOut,
    OrganiserParticipantUpdate,
    ParticipantMe,
    ParticipantOut,
    ProfileUpdate,
    RegistrationIn,
    RegistrationOut,
)
from matchmaking.organising import events as event_service
from matchmaking.participants import privacy
from matchmaking.participants import registration as service
from matchmaking.platform import mail
from matchmaking.platform.models import (
    Attendance,
    Event,
    EventStatus,
    Organisation,
    OrganisationKind,
    Participant,
)

router = APIRouter(
    prefix="/api/v1/events/{slug}", tags=["participants"], responses=problem_responses(404, 422)
)


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(organisation)


def me_out(participant: Participant) -> ParticipantMe:
    return ParticipantMe.model_validate(participant, from_attributes=True)


def participant_out(participant: Participant) -> ParticipantOut:
    host = participant.host_location
    return ParticipantOut(
        **me_out(participant).model_dump(), host_location=host.key if host else None
    )


def _open_event(db: DbSession, slug: str) -> Event:
    event = event_service.find_event(db, slug)
    if event is None or event.status is EventStatus.draft:
        raise ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")
    return event


def _profile_changes(body: ProfileUpdate) -> tuple[dict[str, Any], dict[str, Any] | None]:
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, frozenset({"max_meetings", "host_location"}))
    organisation = changes.pop("organisation", None)
    if "email" in changes:
        changes["email"] = str(changes["email"])
    return changes, organisation


# --- registration ----------------------------------------------------------------------------


@router.post(
    "/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
    responses=problem_responses(409),
    summary="Register for the event",
    description="**Who:** anyone, while registration is open (else 409; draft events 404). "
    "Answers the personal token once and e-mails the personal link. An e-mail registered "
    "already → 409 (ask for a new link instead). Naming an existing organisation (case and "
    "spaces ignored) joins it as a pending member (`membership_confirmed` false) until a "
    "confirmed member or an organiser confirms; an `invitation` token from one of its "
    "confirmed members joins it confirmed.",
)
def register(
    slug: str,
    body: RegistrationIn,
    db: DbSession,
    settings: AppSettings,
) -> RegistrationOut:
    event = _open_event(db, slug)
    form = service.RegistrationForm(
        name=body.name,
        email=str(body.email),
        organisation=service.OrganisationProfile(**body.organisation.model_dump()),
        job_title=body.job_title,
        attendance=body.attendance,
        timezone=body.timezone,
        unavailable_slots=body.unavailable_slots,
        unavailable_sessions=body.unavailable_sessions,
        listed=body.listed,
        invitation=body.invitation,
    )
    registration = service.register(db, event, form, settings.base_url)
    mail.queue(db, [service.registration_mail(event, registration)], event_id=event.id)
    return committed(
        db,
        RegistrationOut(
            participant=me_out(registration.participant),
            access_token=registration.token,
            link=registration.link,
        ),
    )


@router.post(
    "/registrations/link",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="E-mail a new personal link",
    description="**Who:** anyone. When the address is registered, a new personal link is "
    "e-mailed to it and the old one stops working. The answer is the same either way, so it "
    "does not tell who is registered.",
)
def renew_link(
    slug: str,
    body: LinkRequest,
    db: DbSession,
    settings: AppSettings,
) -> Accepted:
    event = _open_event(db, slug)
    renewed = service.renew_link(db, event, str(body.email), settings.base_url)
    if renewed is not None:
        mail.queue(db, [service.registration_mail(event, renewed)], event_id=event.id)
        db.commit()
    return Accepted(detail="If this address is registered, a new personal link is on its way.")


# --- own profile -----------------------------------------------------------------------------


@router.get(
    "/me",
    response_model=ParticipantMe,
    responses=problem_responses(401),
    summary="My registration",
    description=PARTICIPANT,
)
def get_me(participant: EventParticipant) -> ParticipantMe:
    return me_out(participant)


@router.patch(
    "/me",
    response_model=ParticipantMe,
    responses=problem_responses(401, 409),
    summary="Edit my registration and my organisation's profile",
    description=PARTICIPANT + " Only the fields sent change. `organisation` fields: confirmed "
    "members only (403 while the membership is pending).",
)
def update_me(body: ProfileUpdate, participant: EventParticipant, db: DbSession) -> ParticipantMe:
    changes, organisation = _profile_changes(body)
    service.update_profile(db, participant, changes, organisation)
    return committed(db, me_out(participant))


# --- organisation membership -----------------------------------------------------------------

MEMBER = PARTICIPANT + " Confirmed members of the organisation only (403 while pending)."


def member_out(member: Participant) -> MemberOut:
    return MemberOut(
        key=member.key,
        name=member.name,
        job_title=member.job_title,
        membership_confirmed=member.membership_confirmed,
    )


@router.get(
    "/me/organisation/members",
    response_model=list[MemberOut],
    responses=problem_responses(401, 403),
    summary="The members of my organisation, confirmed or waiting",
    description=MEMBER,
)
def my_organisation_members(participant: EventParticipant, db: DbSession) -> list[MemberOut]:
    service.check_confirmed_member(participant, "see who asks to join it")
    return [member_out(p) for p in service.organisation_members(db, participant.organisation)]


@router.post(
    "/me/organisation/members/{key}/confirm",
    response_model=MemberOut,
    responses=problem_responses(401, 403, 409),
    summary="Confirm someone who registered with my organisation's name",
    description=MEMBER + " The person must be a pending member of the caller's organisation "
    "(else 404); confirmed already → 409.",
)
def confirm_member(key: str, participant: EventParticipant, db: DbSession) -> MemberOut:
    service.check_confirmed_member(participant, "confirm new members")
    member = service.find_member(db, participant, key)
    return committed(db, member_out(service.confirm_membership(db, member, participant)))


@router.post(
    "/me/organisation/members/{key}/turn-down",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 409),
    summary="Turn down someone who registered with my organisation's name",
    description=MEMBER + " The person must be a pending member of the caller's organisation "
    "(else 404); their registration is withdrawn with every wish they sent or received. "
    "Confirmed already, or already in a schedule version's meetings → 409.",
)
def turn_down_member(key: str, participant: EventParticipant, db: DbSession) -> Response:
    service.check_confirmed_member(participant, "turn down new members")
    member = service.find_member(db, participant, key)
    service.turn_down_membership(db, member, participant)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/organisation/invitation",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationOut,
    responses=problem_responses(401, 403),
    summary="A new invitation link to my organisation",
    description=MEMBER + " Whoever registers with the link joins the organisation as a "
    "confirmed member. A new link replaces the previous one. Only its SHA-256 is stored.",
)
def new_invitation(
    participant: EventParticipant, db: DbSession, settings: AppSettings
) -> InvitationOut:
    invitation = service.new_invitation(db, participant, settings.base_url)
    db.commit()
    return InvitationOut(token=invitation.token, link=invitation.link)


# --- directory -------------------------------------------------------------------------------


@router.get(
    "/directory",
    response_model=Page[DirectoryEntry],
    responses=problem_responses(401),
    summary="The participant directory",
    description="**Who:** participants of this event and its organisers (others 404, "
    "anonymous 401). Lists only participants who consented to be listed, without e-mail "
    "addresses; filters combine (organisation `kind`, `country`, `sector`, `focus_area`, "
    "`attendance`, `delegation`, and words `q` searched in names, job titles and organisation "
    "profiles: descriptions, what they offer and what they seek).",
)
def directory(
    viewer: Viewer,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: OrganisationKind | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    focus_area: Annotated[str | None, Query(max_length=100)] = None,
    attendance: Attendance | None = None,
    delegation: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[DirectoryEntry]:
    filters = service.DirectoryFilter(
        kind=kind,
        country=country,
        sector=sector,
        focus_area=focus_area,
        attendance=attendance,
        delegation=delegation,
        q=q,
    )
    people, total = service.directory(db, viewer.event, filters, limit, offset)
    items = [
        DirectoryEntry(
            key=p.key,
            name=p.name,
            job_title=p.job_title,
            attendance=p.attendance,
            organisation=organisation_out(p.organisation),
        )
        for p in people
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


# --- organisers' view ------------------------------------------------------------------------


@router.get(
    "/participants",
    response_model=Page[ParticipantOut],
    responses=problem_responses(401),
    summary="Every participant of the event",
    description=STAFF + " Listed or not; `q` searches names, e-mails and organisations.",
)
def list_participants(
    access: StaffAccess,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[ParticipantOut]:
    people, total = service.all_participants(db, access.event, q, limit, offset)
    return Page(items=[participant_out(p) for p in people], total=total, limit=limit, offset=offset)


@router.get(
    "/participants/{key}",
    response_model=ParticipantOut,
    responses=problem_responses(401),
    summary="A participant",
    description=STAFF,
)
def get_participant(key: str, access: StaffAccess, db: DbSession) -> ParticipantOut:
    return participant_out(service.get_participant(db, access.event, key))


@router.patch(
    "/participants/{key}",
    response_model=ParticipantOut,
    responses=problem_responses(401, 409),
    summary="Edit a participant",
    description=STAFF + " Besides the participant's own fields: its meeting cap "
    "`max_meetings` and `host_location` (`null` clears them).",
)
def update_participant(
    key: str, body: OrganiserParticipantUpdate, access: StaffAccess, db: DbSession
) -> ParticipantOut:
    participant = service.get_participant(db, access.event, key)
    changes, organisation = _profile_changes(body)
    service.organiser_update(db, participant, changes, organisation)
    return committed(db, participant_out(participant))


@router.post(
    "/participants/{key}/confirm-membership",
    response_model=ParticipantOut,
    responses=problem_responses(401, 409),
    summary="Confirm a participant's membership of its organisation",
    description=STAFF + " For someone who registered with an existing organisation's name; "
    "confirmed already → 409.",
)
def confirm_membership(key: str, access: StaffAccess, db: DbSession) -> ParticipantOut:
    participant = service.get_participant(db, access.event, key)
    confirmed = service.confirm_membership(db, participant, None)
    return committed(db, participant_out(confirmed))


@router.post(
    "/participants/{key}/turn-down-membership",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 409),
    summary="Turn down a participant's pending membership of its organisation",
    description=STAFF + " For someone who registered with an existing organisation's name and "
    "does not belong to it: the registration is withdrawn with every wish they sent or "
    "received. Confirmed already, or already in a schedule version's meetings → 409.",
)
def turn_down_membership(key: str, access: StaffAccess, db: DbSession) -> Response:
    participant = service.get_participant(db, access.event, key)
    service.turn_down_membership(db, participant, None)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/organisations",
    response_model=Page[OrganisationOut],
    responses=problem_responses(401),
    summary="Every organisation of the event",
    description=STAFF,
)
def list_organisations(
    access: StaffAccess, db: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[OrganisationOut]:
    rows, total = service.list_organisations(db, access.event, limit, offset)
    return Page(items=[organisation_out(o) for o in rows], total=total, limit=limit, offset=offset)


@router.delete(
    "/participants/{key}",
    response_model=ErasureOut,
    responses=problem_responses(401, 403),
    summary="Erase a participant's personal data (GDPR request)",
    description="**Who:** owners of the event; staff get 403, others 404 (anonymous: 401). "
    "Removes the person's name, e-mail, job title, time zone, directory listing, personal link "
    "and calendar feed, and the messages of their wishes, everywhere and at once; the "
    "organisation is emptied too when nobody else represents it. The participant stays as an "
    "anonymous placeholder so that meetings, wishes and statistics stay consistent.",
)
def erase_participant(key: str, access: OwnerAccess, db: DbSession) -> ErasureOut:
    participant = service.get_participant(db, access.event, key)
    erasure = privacy.erase_participant(db, participant)
    return committed(
        db,
        ErasureOut(
            participant=erasure.participant,
            wishes_kept=erasure.wishes_kept,
            meetings_kept=erasure.meetings_kept,
            organisation_erased=erasure.organisation_erased,
        ),
    )
