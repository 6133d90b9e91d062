"""Participants: self-registration, the personal link, their own profile, the directory.

Decisions (see docs/api.md):
- A registrant names its organisation; an organisation of the event with the same name (case
  and spaces ignored) is joined, otherwise a new one is made from the profile given. Joining
  keeps the existing organisation's profile, and is only *pending* (`membership_confirmed`
  false) until a confirmed member of the organisation or an organiser of the event confirms
  it: typing a name must not hand out the organisation's rights. A registrant with the
  organisation's invitation link (made by a confirmed member) joins confirmed. Only confirmed
  members edit the organisation's profile and read and answer wishes addressed to it; the
  organiser-run imports make confirmed members. Who creates an organisation is its first
  confirmed member. The same people may turn a pending member down instead: the registration
  is withdrawn (the person, their wishes and their personal link go), because someone who is
  not of the organisation registered under its name. Pending members never take meetings
  addressed to the organisation (the solver leaves them out of its representatives).
- One registration per e-mail address and event.
- The personal link token is returned once and e-mailed; only its SHA-256 is stored. Asking
  for a new link replaces the token, so an old link stops working.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

from sqlalchemy import CursorResult, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from matchmaking.organising.events import (
    event_row,
    get_location,
    lock_event,
    registration_is_open,
)
from matchmaking.platform.db import lock_again
from matchmaking.platform.errors import Conflict, Forbidden, Invalid, NotFound
from matchmaking.platform.mail import Mail
from matchmaking.platform.models import (
    Attendance,
    Event,
    EventMode,
    EventSession,
    Meeting,
    Organisation,
    OrganisationKind,
    Participant,
    Slot,
    Wish,
    utcnow,
)
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from matchmaking.platform.wording import fold

#: Prefix of organisation invitation tokens (like `mmp_` for personal links).
INVITATION_TOKEN_PREFIX = "mmi"  # noqa: S105 - a public prefix, not a secret


@dataclass
class OrganisationProfile:
    name: str
    kind: OrganisationKind = OrganisationKind.company
    country: str = ""
    sectors: list[str] = field(default_factory=list)
    focus_areas: list[str] = field(default_factory=list)
    description: str = ""
    website: str = ""
    offers: list[str] = field(default_factory=list)
    seeks: list[str] = field(default_factory=list)
    delegation: str = ""


@dataclass
class RegistrationForm:
    name: str
    email: str
    organisation: OrganisationProfile
    job_title: str = ""
    attendance: Attendance | None = None
    timezone: str = ""
    unavailable_slots: list[str] = field(default_factory=list)
    unavailable_sessions: list[str] = field(default_factory=list)
    listed: bool = False
    #: The token of an organisation's invitation link: joins that organisation, confirmed.
    invitation: str | None = None


@dataclass(frozen=True)
class Registration:
    participant: Participant
    #: The personal link token, in clear text this once.
    token: str
    link: str


def personal_link(base_url: str, event: Event, token: str) -> str:
    """The magic link that signs a participant in on the event's pages."""
    return f"{base_url.rstrip('/')}/e/{quote(event.slug)}/login?token={quote(token)}"


def participant_page(base_url: str, event: Event) -> str:
    return participant_link(base_url, event.slug)


def participant_link(base_url: str, slug: str) -> str:
    """`participant_page` by the event's slug (for callers that read no entity)."""
    return f"{base_url.rstrip('/')}/e/{quote(slug)}/me"


# --- registration ----------------------------------------------------------------------------


def register(
    session: Session,
    event: Event,
    form: RegistrationForm,
    base_url: str,
    now: datetime | None = None,
) -> Registration:
    """Register a participant while registration is open; flushes, the caller commits."""
    lock_event(session, event)  # serialises registrations of an event (e-mail, organisation)
    if not registration_is_open(event, now):
        raise Conflict(f"Registration for '{event.slug}' is not open.")
    if find_by_email(session, event, form.email) is not None:
        raise Conflict(
            f"'{form.email}' is registered already; ask for a new personal link instead.",
            field="body.email",
        )
    attendance = check_attendance(event, form.attendance, "body.attendance")
    unavailable = unavailable_slots(
        session, event, form.unavailable_slots, form.unavailable_sessions
    )
    if form.invitation:
        organisation, confirmed = _invited_organisation(session, event, form.invitation), True
    else:
        organisation, confirmed = _join_or_create_organisation(session, event, form.organisation)
    token = new_token(PARTICIPANT_TOKEN_PREFIX)
    participant = Participant(
        event_id=event.id,
        organisation_id=organisation.id,
        key=_new_key(session, Participant, event, "p"),
        name=form.name.strip(),
        email=form.email.strip(),
        job_title=form.job_title.strip(),
        attendance=attendance,
        timezone=form.timezone,
        listed=form.listed,
        membership_confirmed=confirmed,
        access_token_hash=hash_token(token),
        unavailable_slots=unavailable,
    )
    session.add(participant)
    session.flush()
    return Registration(participant, token, personal_link(base_url, event, token))


def registration_mail(event: Event, registration: Registration) -> Mail:
    return Mail(
        to=registration.participant.email,
        template="registration",
        context={
            "event_name": event.name,
            "venue": event.venue,
            "participant_name": registration.participant.name,
            "link": registration.link,
        },
    )


def renew_link(session: Session, event: Event, email: str, base_url: str) -> Registration | None:
    """A new personal link for the participant with `email` (the old one stops working);
    None when nobody of the event has that address."""
    participant = find_by_email(session, event, email)
    if participant is None:
        return None
    token = new_token(PARTICIPANT_TOKEN_PREFIX)
    participant.access_token_hash = hash_token(token)
    session.flush()
    return Registration(participant, token, personal_link(base_url, event, token))


def find_by_email(session: Session, event: Event, email: str) -> Participant | None:
    return session.scalar(
        select(Participant).where(
            Participant.event_id == event.id,
            func.lower(Participant.email) == email.strip().lower(),
        )
    )


def check_attendance(event: Event, attendance: Attendance | None, field_name: str) -> Attendance:
    """The attendance the event's mode allows; the mode's own when none is asked for."""
    if attendance is None:
        return Attendance.online if event.mode is EventMode.online else Attendance.onsite
    if event.mode is EventMode.onsite and attendance is Attendance.online:
        raise Invalid(
            "This event is held on site only; attendance must be 'onsite'.", field=field_name
        )
    if event.mode is EventMode.online and attendance is Attendance.onsite:
        raise Invalid(
            "This event is held online only; attendance must be 'online'.", field=field_name
        )
    return attendance


def unavailable_slots(
    session: Session, event: Event, slot_keys: Sequence[str], session_keys: Sequence[str]
) -> list[Slot]:
    """The slots named, plus every slot of the sessions named; unknown keys are refused."""
    slots = {s.key: s for s in session.scalars(select(Slot).where(Slot.event_id == event.id))}
    chosen: dict[str, Slot] = {}
    for index, key in enumerate(slot_keys):
        if key not in slots:
            raise Invalid(
                f"The event has no slot '{key}'.", field=f"body.unavailable_slots.{index}"
            )
        chosen[key] = slots[key]
    if session_keys:
        blocks = {
            b.key: b
            for b in session.scalars(
                select(EventSession)
                .where(EventSession.event_id == event.id)
                .options(selectinload(EventSession.slots))
            )
        }
        for index, key in enumerate(session_keys):
            if key not in blocks:
                raise Invalid(
                    f"The event has no session '{key}'.", field=f"body.unavailable_sessions.{index}"
                )
            chosen.update({s.key: s for s in blocks[key].slots})
    return sorted(chosen.values(), key=lambda s: (s.start, s.id))


def _invited_organisation(session: Session, event: Event, token: str) -> Organisation:
    organisation = session.scalar(
        select(Organisation).where(
            Organisation.event_id == event.id,
            Organisation.invitation_token_hash == hash_token(token.strip()),
        )
    )
    if organisation is None:
        raise Invalid(
            "This invitation link is unknown or was replaced by a newer one; ask the member "
            "who sent it for a new link, or register without it.",
            field="body.invitation",
        )
    return organisation


#: Dashes that look like "-": hyphens, non-breaking hyphen, figure dash, en and em dashes,
#: minus signs.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")


def organisation_match_key(name: str) -> str:
    """What a typed organisation name is matched by: compatibility forms, case and accents
    folded, invisible characters (zero-width spaces, bidi controls) dropped, dashes made "-",
    spaces collapsed. Look-alike names thus join the existing organisation as pending
    members instead of making a second, confirmed one that looks the same."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))
    return " ".join(fold(_DASHES.sub("-", text)).split())


def _join_or_create_organisation(
    session: Session, event: Event, profile: OrganisationProfile
) -> tuple[Organisation, bool]:
    """The organisation of that name and a pending membership, or a new organisation and a
    confirmed one."""
    name = " ".join(profile.name.split())
    wanted = organisation_match_key(name)
    for org_id, stored in session.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.event_id == event.id)
        .order_by(Organisation.id)
    ):
        if organisation_match_key(stored) == wanted:
            return session.get_one(Organisation, org_id), False
    check_focus_areas(event, profile.focus_areas, "body.organisation.focus_areas")
    organisation = Organisation(
        event_id=event.id,
        key=_new_key(session, Organisation, event, "o"),
        name=name,
        kind=profile.kind,
        country=profile.country.upper(),
        sectors=profile.sectors,
        focus_areas=profile.focus_areas,
        description=profile.description,
        website=profile.website,
        offers=list(dict.fromkeys(profile.offers)),
        seeks=list(dict.fromkeys(profile.seeks)),
        delegation=" ".join(profile.delegation.split()),
    )
    session.add(organisation)
    session.flush()
    return organisation, True


# --- organisation membership -----------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    #: The token in clear text, this once; only its SHA-256 is stored.
    token: str
    link: str


def invitation_link(base_url: str, event: Event, token: str) -> str:
    return f"{base_url.rstrip('/')}/e/{quote(event.slug)}/register?invitation={quote(token)}"


def check_confirmed_member(participant: Participant, action: str) -> None:
    if not participant.membership_confirmed:
        raise Forbidden(
            f"Only confirmed members of {participant.organisation.name} can {action}; a "
            "member of the organisation or an organiser has not confirmed your membership yet."
        )


def new_invitation(session: Session, participant: Participant, base_url: str) -> Invitation:
    """A new invitation link to the participant's organisation (the previous one stops
    working). Confirmed members only."""
    check_confirmed_member(participant, "invite people to join it")
    token = new_token(INVITATION_TOKEN_PREFIX)
    participant.organisation.invitation_token_hash = hash_token(token)
    session.flush()
    return Invitation(token, invitation_link(base_url, participant.event, token))


def organisation_members(session: Session, organisation: Organisation) -> list[Participant]:
    """Every member, the pending ones first."""
    return list(
        session.scalars(
            select(Participant)
            .where(Participant.organisation_id == organisation.id)
            .order_by(Participant.membership_confirmed, Participant.id)
        )
    )


def confirm_membership(
    session: Session, member: Participant, confirmed_by: Participant | None
) -> Participant:
    """Confirm `member`'s pending membership: by a confirmed member of the same organisation,
    or by an organiser of the event (`confirmed_by` None; the caller checked the role)."""
    locked = _locked_pending(session, member, confirmed_by, "confirm new members")
    locked.membership_confirmed = True
    locked.updated_at = utcnow()
    session.flush()
    return locked


def _locked_pending(
    session: Session, member: Participant, by: Participant | None, action: str
) -> Participant:
    """`member`'s row, locked, while its membership is pending; `by` (a participant, or None
    for an organiser whose role the caller checked) must be a confirmed member of the same
    organisation to `action`."""
    if by is not None:
        check_confirmed_member(by, action)
        if by.organisation_id != member.organisation_id:
            raise NotFound(f"Your organisation has no member '{member.key}'.")
    locked = lock_again(session, member, f"There is no participant '{member.key}' any more.")
    if locked.membership_confirmed:
        raise Conflict(f"{locked.name} is a confirmed member of the organisation already.")
    return locked


@dataclass(frozen=True)
class TurnedDown:
    """A pending registration withdrawn: who it was, and how many of their wishes went."""

    name: str
    organisation: str
    wishes_removed: int


def turn_down_membership(
    session: Session, member: Participant, turned_down_by: Participant | None
) -> TurnedDown:
    """Turn down `member`'s pending membership: by a confirmed member of the same organisation,
    or by an organiser of the event (`turned_down_by` None; the caller checked the role).

    The registration is withdrawn: the participant and every wish they sent or received are
    deleted. Someone already in a schedule version's meetings is refused (409): deleting them
    would rewrite the version's history; erase their personal data instead."""
    locked = _locked_pending(session, member, turned_down_by, "turn down new members")
    scheduled = session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(or_(Meeting.participant_a_id == locked.id, Meeting.participant_b_id == locked.id))
    )
    if scheduled:
        raise Conflict(
            f"{locked.name} already has meetings in a schedule version, which would change if "
            "the registration went; confirm the membership, or erase the person's data instead."
        )
    answer = TurnedDown(
        name=locked.name,
        organisation=locked.organisation.name,
        # A DELETE gives a CursorResult (with rowcount); Session.execute is typed as Result.
        wishes_removed=cast(
            "CursorResult[Any]",
            session.execute(
                delete(Wish).where(or_(Wish.sender_id == locked.id, Wish.recipient_id == locked.id))
            ),
        ).rowcount,
    )
    session.delete(locked)
    session.flush()
    return answer


def find_member(session: Session, participant: Participant, key: str) -> Participant:
    """A participant of the caller's own organisation (others: 404)."""
    found = session.scalar(
        select(Participant).where(
            Participant.organisation_id == participant.organisation_id, Participant.key == key
        )
    )
    if found is None:
        raise NotFound(f"Your organisation has no member '{key}'.")
    return found


def check_focus_areas(event: Event, chosen: Sequence[str], field_name: str) -> None:
    known = set(event.focus_areas)
    for index, area in enumerate(chosen):
        if area not in known:
            offered = ", ".join(event.focus_areas) or "none"
            raise Invalid(
                f"'{area}' is not a focus area of this event (it has: {offered}).",
                field=f"{field_name}.{index}",
            )


def _new_key(session: Session, model: Any, event: Event, prefix: str) -> str:
    # Random keys: registrations arrive concurrently, and sequential ones would collide.
    while True:
        key = f"{prefix}-{secrets.token_hex(4)}"
        taken = session.scalar(select(model.id).where(model.event_id == event.id, model.key == key))
        if taken is None:
            return key


# --- own profile -----------------------------------------------------------------------------

#: Fields of their own record that participants may change.
PROFILE_FIELDS = ("name", "email", "job_title", "attendance", "timezone", "listed")
ORGANISATION_FIELDS = (
    "name",
    "kind",
    "country",
    "sectors",
    "focus_areas",
    "description",
    "website",
    "offers",
    "seeks",
    "delegation",
)


def update_profile(
    session: Session,
    participant: Participant,
    changes: dict[str, Any],
    organisation_changes: dict[str, Any] | None = None,
    *,
    by_organiser: bool = False,
) -> Participant:
    """Apply a participant's changes to its own record and its organisation's profile (the
    latter: confirmed members and organisers only)."""
    event = participant.event
    if organisation_changes and not by_organiser:
        check_confirmed_member(participant, "edit its profile")
    if "email" in changes:
        other = find_by_email(session, event, changes["email"])
        if other is not None and other.id != participant.id:
            raise Conflict(f"'{changes['email']}' is registered already.", field="body.email")
    if "attendance" in changes:
        changes["attendance"] = check_attendance(event, changes["attendance"], "body.attendance")
    for name in PROFILE_FIELDS:
        if name in changes:
            setattr(participant, name, changes[name])
    if "unavailable_slots" in changes:
        participant.unavailable_slots = unavailable_slots(
            session, event, changes["unavailable_slots"], []
        )
    if organisation_changes:
        _update_organisation(session, participant.organisation, organisation_changes)
    participant.updated_at = utcnow()
    session.flush()
    return participant


def _update_organisation(
    session: Session, organisation: Organisation, changes: dict[str, Any]
) -> None:
    if "focus_areas" in changes:
        check_focus_areas(
            organisation.event, changes["focus_areas"], "body.organisation.focus_areas"
        )
    if "name" in changes:
        name = " ".join(changes["name"].split())
        clash = session.scalar(
            select(Organisation.id).where(
                Organisation.event_id == organisation.event_id,
                func.lower(Organisation.name) == name.lower(),
                Organisation.id != organisation.id,
            )
        )
        if clash is not None:
            raise Conflict(
                f"Another organisation is called '{name}'.", field="body.organisation.name"
            )
        changes["name"] = name
    if "country" in changes:
        changes["country"] = changes["country"].upper()
    for name in ("offers", "seeks"):
        if name in changes:
            changes[name] = list(dict.fromkeys(changes[name]))
    if "delegation" in changes:
        changes["delegation"] = " ".join(changes["delegation"].split())
    for name in ORGANISATION_FIELDS:
        if name in changes:
            setattr(organisation, name, changes[name])


# --- directory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryFilter:
    kind: OrganisationKind | None = None
    country: str | None = None
    sector: str | None = None
    focus_area: str | None = None
    attendance: Attendance | None = None
    #: The side an organisation attends with (its `delegation`), compared ignoring case.
    delegation: str | None = None
    #: Words searched in names, job titles, organisation names, descriptions, offers and seeks.
    q: str | None = None


def _searchable(row: Any) -> str:
    return fold(
        " ".join(
            (
                row.name,
                row.job_title or "",
                row.organisation_name,
                row.description or "",
                " ".join(row.offers or ()),
                " ".join(row.seeks or ()),
            )
        )
    )


def participants_in_order(session: Session, ids: list[int]) -> list[Participant]:
    """The participants of those ids (with their organisations), in the order of the ids; a
    page of a list filtered over plain rows is loaded this way."""
    loaded = {
        p.id: p
        for p in session.scalars(
            select(Participant)
            .where(Participant.id.in_(ids))
            .options(selectinload(Participant.organisation))
        )
    }
    return [loaded[i] for i in ids if i in loaded]


def directory(
    session: Session,
    event: Event,
    filters: DirectoryFilter,
    limit: int,
    offset: int,
    *,
    exclude: int | None = None,
) -> tuple[list[Participant], int]:
    """Listed participants of the event, filtered, ordered by organisation then name; the page
    `offset:offset + limit` and how many match in all. `exclude` leaves one participant out
    (the viewer).

    The filters run over plain rows (name, organisation and profile columns), and only the
    page's participants are loaded as objects: on a 3,500-person fair a page costs one light
    query instead of loading everyone.
    """
    words = fold(filters.q or "").split()
    # Only the columns the filters read: decoding four JSON lists of every organisation is
    # most of the cost of a directory page on a large fair.
    columns: list[Any] = [Participant.id]
    if words:
        columns += [
            Participant.name,
            Participant.job_title,
            Organisation.name.label("organisation_name"),
            Organisation.description,
            Organisation.offers,
            Organisation.seeks,
        ]
    if filters.sector:
        columns.append(Organisation.sectors)
    if filters.focus_area:
        columns.append(Organisation.focus_areas)
    if filters.delegation:
        columns.append(Organisation.delegation)
    query = (
        select(*columns)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id, Participant.listed.is_(True))
        .order_by(func.lower(Organisation.name), func.lower(Participant.name), Participant.id)
    )
    if exclude is not None:
        query = query.where(Participant.id != exclude)
    if filters.kind is not None:
        query = query.where(Organisation.kind == filters.kind)
    if filters.country:
        query = query.where(Organisation.country == filters.country.upper())
    if filters.attendance is not None:
        query = query.where(Participant.attendance == filters.attendance)
    rows = session.execute(query).all()
    # Words match whatever their accents and case ("montreal" finds Montréal): compared in
    # Python, the same on both databases.
    if words:
        rows = [r for r in rows if all(w in _searchable(r) for w in words)]
    # Sectors and focus areas are JSON lists; matching them here keeps one query for both
    # databases, and a directory holds at most a few thousand people.
    if filters.sector:
        wanted = filters.sector.lower()
        rows = [r for r in rows if wanted in (s.lower() for s in r.sectors or ())]
    if filters.focus_area:
        wanted = filters.focus_area.lower()
        rows = [r for r in rows if wanted in (a.lower() for a in r.focus_areas or ())]
    if filters.delegation:
        wanted = fold(filters.delegation.strip())
        rows = [r for r in rows if fold(r.delegation or "") == wanted]
    return participants_in_order(session, [r.id for r in rows[offset : offset + limit]]), len(rows)


def directory_choices(session: Session, event: Event) -> dict[str, list[str]]:
    """What the directory's filters offer: the countries, sectors and delegations of the
    organisations with someone listed."""
    rows = session.execute(
        select(Organisation.country, Organisation.sectors, Organisation.delegation).where(
            Organisation.event_id == event.id,
            Organisation.id.in_(
                select(Participant.organisation_id).where(
                    Participant.event_id == event.id, Participant.listed.is_(True)
                )
            ),
        )
    ).all()
    return {
        "countries": sorted({r.country for r in rows if r.country}),
        "sectors": sorted({s for r in rows for s in r.sectors or ()}),
        "delegations": sorted({r.delegation for r in rows if r.delegation}),
    }


# --- organisers' view ------------------------------------------------------------------------


def get_participant(session: Session, event: Event, key: str) -> Participant:
    return event_row(session, event, Participant, key, "participant")


def all_participants(
    session: Session, event: Event, q: str | None, limit: int, offset: int
) -> tuple[list[Participant], int]:
    query = (
        select(Participant)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id)
    )
    for word in (q or "").lower().split():
        pattern = f"%{word}%"
        query = query.where(
            or_(
                func.lower(Participant.name).like(pattern),
                func.lower(Participant.email).like(pattern),
                func.lower(Organisation.name).like(pattern),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(
            selectinload(Participant.organisation),
            selectinload(Participant.unavailable_slots),
            selectinload(Participant.host_location),
        )
        .order_by(Participant.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def organiser_update(
    session: Session,
    participant: Participant,
    changes: dict[str, Any],
    organisation_changes: dict[str, Any] | None = None,
) -> Participant:
    """Organisers change what participants may, plus the cap and the host location."""
    if "max_meetings" in changes:
        participant.max_meetings = changes.pop("max_meetings")
    if "host_location" in changes:
        key = changes.pop("host_location")
        participant.host_location_id = _location_id(session, participant.event, key)
    return update_profile(session, participant, changes, organisation_changes, by_organiser=True)


def _location_id(session: Session, event: Event, key: str | None) -> int | None:
    if not key:
        return None
    try:
        return get_location(session, event, key).id
    except NotFound as error:
        raise Invalid(error.detail, field="body.host_location") from None


def list_organisations(
    session: Session, event: Event, limit: int, offset: int
) -> tuple[list[Organisation], int]:
    query = select(Organisation).where(Organisation.event_id == event.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Organisation.id).limit(limit).offset(offset)).all()
    return list(rows), total
