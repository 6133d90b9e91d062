"""The event domain as a typed SQLAlchemy 2 ORM.

Bundle ids (`"p1"`, `"s3"`, ...) are stored as `key`, unique within an event; database rows
have integer primary keys. Times of slots are naive local times in the event's time zone,
exactly as the bundle writes them; other timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.orm import Session as OrmSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC instant. SQLite hands back naive values, which are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the value strings with a CHECK constraint, portable across SQLite and PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class EventMode(enum.StrEnum):
    onsite = "onsite"
    online = "online"
    hybrid = "hybrid"


class EventStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    scheduled = "scheduled"
    published = "published"


class WishPolicy(enum.StrEnum):
    #: The recipient must accept a wish before it is scheduled.
    recipient_accepts = "recipient_accepts"
    #: Wishes are accepted as soon as they are sent.
    auto_accept = "auto_accept"


class LocationKind(enum.StrEnum):
    table = "table"
    room = "room"
    online = "online"


class OrganisationKind(enum.StrEnum):
    cluster = "cluster"
    company = "company"
    research = "research"
    public = "public"
    other = "other"


class Attendance(enum.StrEnum):
    onsite = "onsite"
    online = "online"


class WishStatus(enum.StrEnum):
    requested = "requested"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"


class EventRoleName(enum.StrEnum):
    owner = "owner"
    staff = "staff"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class MailStatus(enum.StrEnum):
    waiting = "waiting"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class MeetingOutcome(enum.StrEnum):
    """What became of a published meeting on the day."""

    held = "held"
    no_show = "no_show"


class FollowUp(enum.StrEnum):
    yes = "yes"
    no = "no"
    maybe = "maybe"


class Cooperation(enum.StrEnum):
    """The kind of cooperation a participant expects from a meeting (feedback)."""

    project = "project"
    purchase = "purchase"
    partnership = "partnership"
    other = "other"


# --- organisers and access -------------------------------------------------------------


class Organiser(Base):
    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="organiser")
    roles: Mapped[list[EventRole]] = relationship(back_populates="organiser")


class ApiToken(Base):
    """An organiser's API token. Only its SHA-256 hash is stored; it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organisers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the token, so an organiser can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organiser: Mapped[Organiser] = relationship(back_populates="tokens")


class EventRole(Base):
    __tablename__ = "event_roles"
    __table_args__ = (UniqueConstraint("event_id", "organiser_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organisers.id", ondelete="CASCADE"))
    role: Mapped[EventRoleName] = mapped_column(_enum(EventRoleName, "event_role_name"))

    event: Mapped[Event] = relationship(back_populates="roles")
    organiser: Mapped[Organiser] = relationship(back_populates="roles")


# --- the event and its time grid ---------------------------------------------------------


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: IANA time zone; slot times are local times in it.
    timezone: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str] = mapped_column(String(300), default="")
    mode: Mapped[EventMode] = mapped_column(
        _enum(EventMode, "event_mode"), default=EventMode.onsite
    )
    registration_closes: Mapped[datetime | None]
    focus_areas: Mapped[list[str]] = mapped_column(default=list)
    #: The bundle's `event.rules` object (caps, max_break_difference, objective order).
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[EventStatus] = mapped_column(
        _enum(EventStatus, "event_status"), default=EventStatus.draft
    )
    wish_policy: Mapped[WishPolicy] = mapped_column(
        _enum(WishPolicy, "wish_policy"), default=WishPolicy.recipient_accepts
    )
    #: How many wishes one participant may send; None = no cap.
    max_requests_per_participant: Mapped[int | None]
    #: No wishes may be sent, withdrawn or answered after this instant.
    wish_cutoff: Mapped[datetime | None]
    #: Base URL of video rooms for online meetings (a meeting's link appends its id).
    video_base_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: Raised in the same transaction as every change to what agendas and calendar feeds
    #: show (see `bump_serving_generations` below); their caches are keyed by it.
    serving_generation: Mapped[int] = mapped_column(default=0)

    roles: Mapped[list[EventRole]] = relationship(
        back_populates="event", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[EventSession]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventSession.position"
    )
    slots: Mapped[list[Slot]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="(Slot.start, Slot.id)"
    )
    locations: Mapped[list[Location]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Location.position"
    )
    organisations: Mapped[list[Organisation]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Organisation.id"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Participant.id"
    )
    wishes: Mapped[list[Wish]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Wish.id"
    )
    versions: Mapped[list[ScheduleVersion]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="ScheduleVersion.number"
    )
    jobs: Mapped[list[SolveJob]] = relationship(
        back_populates="event", cascade="all, delete-orphan"
    )


class EventSession(Base):
    """A named block of consecutive slots (a morning, an afternoon)."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="sessions")
    slots: Mapped[list[Slot]] = relationship(back_populates="session", order_by="Slot.start")


class Slot(Base):
    """A meeting slot. No two slots of an event overlap (checked on write by the services)."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint("end_time > start_time", name="slot_ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    #: Local wall-clock time in the event's time zone (naive).
    start: Mapped[datetime] = mapped_column("start_time", DateTime(timezone=False))
    end: Mapped[datetime] = mapped_column("end_time", DateTime(timezone=False))

    event: Mapped[Event] = relationship(back_populates="slots")
    session: Mapped[EventSession] = relationship(back_populates="slots")


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LocationKind] = mapped_column(_enum(LocationKind, "location_kind"))
    capacity: Mapped[int] = mapped_column(default=1)
    #: Video link of an online location (optional).
    url: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(default=0)

    event: Mapped[Event] = relationship(back_populates="locations")


# --- who takes part ----------------------------------------------------------------------


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind, "organisation_kind"))
    #: ISO 3166-1 alpha-2 country code.
    country: Mapped[str] = mapped_column(String(2), default="")
    sectors: Mapped[list[str]] = mapped_column(default=list)
    #: Which of the event's focus areas the organisation works in (directory filter).
    focus_areas: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    #: SHA-256 of the organisation's invitation link token (made by a confirmed member; a
    #: new one replaces it). Registering with it joins as a confirmed member.
    invitation_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    #: Cooperation profile (docs/bundle-format.md): short phrases of what the organisation
    #: offers and what it looks for, and the side (delegation) it attends with; "" = none.
    offers: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    seeks: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    delegation: Mapped[str] = mapped_column(String(100), default="", server_default="")

    event: Mapped[Event] = relationship(back_populates="organisations")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="organisation", order_by="Participant.id"
    )


class ParticipantUnavailableSlot(Base):
    __tablename__ = "participant_unavailable_slots"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    slot_id: Mapped[int] = mapped_column(
        ForeignKey("slots.id", ondelete="CASCADE"), primary_key=True
    )


class Participant(Base):
    """A person of an organisation who takes part in the event."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint("max_meetings IS NULL OR max_meetings >= 0", name="cap_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    attendance: Mapped[Attendance] = mapped_column(
        _enum(Attendance, "attendance"), default=Attendance.onsite
    )
    max_meetings: Mapped[int | None]
    host_location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    #: The participant's own time zone (for online participants' agenda), IANA name.
    timezone: Mapped[str] = mapped_column(String(64), default="")
    #: Consent to be listed in the public directory of the event.
    listed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: False while a registrant who named an existing organisation waits for a confirmed
    #: member or an organiser to confirm it (`matchmaking.participants.registration`); only
    #: confirmed members edit the organisation's profile and answer its wishes.
    membership_confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: SHA-256 of the personal secret link token (magic link).
    access_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    event: Mapped[Event] = relationship(back_populates="participants")
    organisation: Mapped[Organisation] = relationship(back_populates="participants")
    host_location: Mapped[Location | None] = relationship()
    unavailable_slots: Mapped[list[Slot]] = relationship(
        secondary="participant_unavailable_slots", order_by="Slot.start"
    )
    #: The participant's active calendar subscription links (several: one per device or
    #: app, each kept until the participant replaces them all).
    calendar_links: Mapped[list[CalendarLink]] = relationship(
        back_populates="participant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="CalendarLink.id",
    )


class CalendarLink(Base):
    """One secret calendar feed URL of a participant; only the token's SHA-256 is stored."""

    __tablename__ = "calendar_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="calendar_links")


class RenderedDocument(Base):
    """An agenda or calendar feed rendered at publication, read by every API process.

    `key` tells the documents of one kind apart: a participant's id (kind `agenda` or
    `calendar`), a location's id with "/YYYY-MM-DD" for one day (kind `location`), "" for the
    event's feed (kind `event`). A document is good only while `generation` equals the
    event's `serving_generation` (every change that shows in agendas and feeds raises it) and,
    when set, before `valid_until`. Personal documents are found through the hash of the
    participant's token; no token is stored (see `matchmaking.delivery.rendered`)."""

    __tablename__ = "rendered_documents"
    __table_args__ = (
        UniqueConstraint("event_id", "kind", "key"),
        Index("ix_rendered_documents_participant_kind", "participant_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    generation: Mapped[int]
    etag: Mapped[str] = mapped_column(String(40))
    last_modified: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    body: Mapped[bytes] = mapped_column(LargeBinary)


class WishPrecedence(Base):
    """`wish` must be held strictly after `before` (the bundle's `after` list)."""

    __tablename__ = "wish_precedences"

    wish_id: Mapped[int] = mapped_column(
        ForeignKey("wishes.id", ondelete="CASCADE"), primary_key=True
    )
    before_id: Mapped[int] = mapped_column(
        ForeignKey("wishes.id", ondelete="CASCADE"), primary_key=True
    )


class Wish(Base):
    """A wish of one participant to meet another participant or an organisation."""

    __tablename__ = "wishes"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint(
            "(recipient_id IS NULL) <> (recipient_organisation_id IS NULL)",
            name="exactly_one_recipient",
        ),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_range"),
        Index("ix_wishes_sender", "sender_id"),
        Index("ix_wishes_recipient", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE")
    )
    recipient_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    priority: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[WishStatus] = mapped_column(
        _enum(WishStatus, "wish_status"), default=WishStatus.accepted
    )
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    separate: Mapped[bool] = mapped_column(Boolean, default=False)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    fixed_slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    answered_at: Mapped[datetime | None]
    #: Proposed by the organisers (`matchmaking.planning.proposals`), not sent by `sender`:
    #: it stays `requested` until both sides accept it (`sender_accepted` and
    #: `recipient_accepted`), and is `declined` as soon as either declines. A proposal is
    #: scheduled after every wish the participants sent themselves and does not count against
    #: `max_requests_per_participant`.
    proposed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The organiser who sent the proposal (None once that organiser's account is gone).
    proposed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )
    #: For a proposal: whether each side has accepted it (an ordinary wish: unused).
    sender_accepted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recipient_accepted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: For a proposal: why, in each side's words: {"sender": [...], "recipient": [...]}
    #: (the recommendation's reasons, "you" being that side).
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))

    event: Mapped[Event] = relationship(back_populates="wishes")
    sender: Mapped[Participant] = relationship(foreign_keys=[sender_id])
    recipient: Mapped[Participant | None] = relationship(foreign_keys=[recipient_id])
    recipient_organisation: Mapped[Organisation | None] = relationship()
    session: Mapped[EventSession | None] = relationship()
    fixed_slot: Mapped[Slot | None] = relationship()
    after: Mapped[list[Wish]] = relationship(
        secondary="wish_precedences",
        primaryjoin="Wish.id == WishPrecedence.wish_id",
        secondaryjoin="Wish.id == WishPrecedence.before_id",
        order_by="Wish.id",
    )


class SheetUpload(Base):
    """A spreadsheet an organiser uploaded to import, kept between its preview and the
    confirmation so that exactly the previewed file is imported (see
    `matchmaking.bundle.sheets`)."""

    __tablename__ = "sheet_uploads"
    __table_args__ = (UniqueConstraint("event_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    #: SHA-256 over the kind and the files' contents (hex), see `sheets.upload_digest`.
    digest: Mapped[str] = mapped_column(String(64))
    #: "xlsx" (one workbook in `main`) or "csv" (participants in `main`, wishes in `extra`).
    kind: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(300), default="")
    main: Mapped[bytes] = mapped_column(LargeBinary)
    extra: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- solving and schedules ---------------------------------------------------------------


class SolveJob(Base):
    """A solve, queued or run by the in-process runner or a Celery worker."""

    __tablename__ = "solve_jobs"
    __table_args__ = (
        # One active (queued or running) solve per event, held by the database under
        # concurrent starts (see `matchmaking.planning.jobs.create_solve_job`).
        Index(
            "uq_solve_jobs_one_active_per_event",
            "event_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4 hex with dashes
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.queued, index=True
    )
    #: Solve parameters (time limit, workers, re-plan from published, ...).
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Last sign of life of the worker running it; a stale heartbeat means the worker died.
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(200), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress_goal: Mapped[str] = mapped_column(String(32), default="")
    progress_objective: Mapped[float | None] = mapped_column(Float)
    progress_bound: Mapped[float | None] = mapped_column(Float)
    progress_elapsed: Mapped[float | None] = mapped_column(Float)
    progress_share: Mapped[float | None] = mapped_column(Float)
    #: Best objective and bound over time: [[elapsed, goal, objective, bound], ...].
    progress_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="SET NULL")
    )

    event: Mapped[Event] = relationship(back_populates="jobs")


class OutboxMail(Base):
    """An e-mail waiting to be sent, being sent, sent or given up (the mail outbox).

    Written in the transaction of the change that causes it and delivered after the commit
    (matchmaking/platform/mail.py). `context` holds the template values, personal links included,
    only until the mail is sent or given up; then it is emptied.
    """

    __tablename__ = "outbox_mails"
    __table_args__ = (Index("ix_outbox_mails_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random and unique: the left part of the Message-ID, the same on every attempt.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[MailStatus] = mapped_column(
        _enum(MailStatus, "mail_status"), default=MailStatus.waiting
    )
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Not before this moment (back-off after a failed attempt).
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The deliverer's claim while `sending`: a random token and when it was taken.
    claim: Mapped[str] = mapped_column(String(32), default="")
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    #: Why the last attempt failed (kept when the mail is sent after a retry).
    error: Mapped[str] = mapped_column(Text, default="")


class ScheduleVersion(Base):
    """The result of one solve. Publishing one is an explicit, atomic step."""

    __tablename__ = "schedule_versions"
    __table_args__ = (
        UniqueConstraint("event_id", "number"),
        # At most one current published version per event, enforced by the database too
        # (publishing also locks the event row, so concurrent publishers queue).
        Index(
            "uq_schedule_versions_current_published",
            "event_id",
            unique=True,
            sqlite_where=text("published_at IS NOT NULL AND superseded_at IS NULL"),
            postgresql_where=text("published_at IS NOT NULL AND superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    #: Solver status: optimal, feasible, infeasible, unknown.
    status: Mapped[str] = mapped_column(String(16))
    objective: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bound: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    solve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    #: Unscheduled accepted wishes: [{"wish": key, "reason": code, "detail": text}, ...].
    unscheduled: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: For an infeasible event: the small set of conflicting required wishes and rules.
    conflicts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: The published version this one re-planned from, if any.
    based_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="SET NULL")
    )
    #: When the solve's snapshot of wishes and registrations was taken.
    snapshot_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Fingerprints of what the snapshot held, {"participants": {key: digest}, "wishes":
    #: {key: digest}}, to tell later which changes a version does not include. Deferred:
    #: it is large (hundreds of KB at fair size) and only staleness checks read it, while
    #: every agenda and feed request loads the published version.
    snapshot_digest: Mapped[dict[str, Any]] = mapped_column(default=dict, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    #: When another version was published in its place; published and not superseded =
    #: the event's current published version (see `matchmaking.planning.publishing`).
    superseded_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(back_populates="versions")
    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="Meeting.id"
    )


class MeetingWish(Base):
    __tablename__ = "meeting_wishes"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    wish_id: Mapped[int] = mapped_column(
        ForeignKey("wishes.id", ondelete="CASCADE"), primary_key=True
    )


class Meeting(Base):
    """A meeting of a schedule version: two participants, a slot, a location."""

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_version_slot", "version_id", "slot_id"),
        # A calendar feed loads a meeting's rows across versions by its uid.
        Index("ix_meetings_version_uid", "version_id", "uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    participant_a_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    participant_b_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    #: C2C, C2B or B2B (derived from the organisations' kinds when the version was made).
    kind: Mapped[str] = mapped_column(String(3))
    #: Identity of the meeting across versions (stable calendar UID): its first wish's key.
    uid: Mapped[str] = mapped_column(String(200))
    #: Placed (moved or added) by an organiser's hand edit, not by the solver.
    placed_by_hand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Pinned by an organiser: a re-solve around pins keeps it exactly where it is.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    version: Mapped[ScheduleVersion] = relationship(back_populates="meetings")
    slot: Mapped[Slot] = relationship()
    location: Mapped[Location] = relationship()
    participant_a: Mapped[Participant] = relationship(foreign_keys=[participant_a_id])
    participant_b: Mapped[Participant] = relationship(foreign_keys=[participant_b_id])
    wishes: Mapped[list[Wish]] = relationship(secondary="meeting_wishes", order_by="Wish.id")


class HandEdit(Base):
    """One hand edit of a version's timetable, in words (see `matchmaking.planning.hand_edits`).

    `uid` is the meeting's uid (empty for edits of the whole version: a copy, a re-solve).
    """

    __tablename__ = "hand_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_versions.id", ondelete="CASCADE"), index=True
    )
    #: moved, added, cancelled, pinned, unpinned, copied or resolved.
    kind: Mapped[str] = mapped_column(String(16))
    uid: Mapped[str] = mapped_column(String(200), default="")
    #: What was done, as the organiser reads it (names, times, places).
    text: Mapped[str] = mapped_column(Text, default="")
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the event day and after -----------------------------------------------------------------


class CheckIn(Base):
    """A participant's arrival at the venue, marked by the event's staff (one per person;
    undoing it deletes the row). See `matchmaking.onsite.checkin`."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True
    )
    arrived_at: Mapped[datetime] = mapped_column(default=utcnow)
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )


class MeetingAttendance(Base):
    """Whether a published meeting was held or a no-show, marked by staff or either side.

    Keyed by the meeting's `uid` (its identity across versions), so a mark survives a
    re-plan that keeps the meeting. See `matchmaking.onsite.attendance`.
    """

    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("event_id", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[MeetingOutcome] = mapped_column(_enum(MeetingOutcome, "meeting_outcome"))
    #: For a no-show: who did not come (None: neither came, or nobody said).
    absent_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    #: Who marked it last: an organiser (staff or owner) or one of the two participants.
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)

    absent: Mapped[Participant | None] = relationship(foreign_keys=[absent_id])


class Absence(Base):
    """A participant who is not there from `absent_from` on (did not come, or left early),
    marked by the event's staff; a re-plan of the rest of the day gives them no meeting from
    then (see `matchmaking.onsite.absences` and `matchmaking.planning.rest_of_day`). One per
    person; marking again moves the time, and they are back when the row is deleted."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), unique=True
    )
    #: From when they are away (UTC).
    absent_from: Mapped[datetime]
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingFeedback(Base):
    """One side's answers about one meeting, given once (see `matchmaking.onsite.feedback`)."""

    __tablename__ = "meeting_feedback"
    __table_args__ = (
        UniqueConstraint("event_id", "uid", "participant_id"),
        CheckConstraint("usefulness BETWEEN 1 AND 5", name="usefulness_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(200))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    #: How useful the meeting was, 1 (not at all) to 5 (very).
    usefulness: Mapped[int]
    follow_up: Mapped[FollowUp] = mapped_column(_enum(FollowUp, "follow_up"))
    cooperation: Mapped[Cooperation] = mapped_column(_enum(Cooperation, "cooperation"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- serving generation --------------------------------------------------------------------

#: Rows whose changes show in agendas and calendar feeds: the event itself (name, venue, time
#: zone, video base URL), its time grid and locations, people and organisations (names,
#: countries, time zones, erasure, tokens), and publication (`published_at`/`superseded_at` of
#: a version). Wishes are not among them (an agenda shows only the keys of a published
#: meeting's wishes, which never change), nor are meetings: they are written once, with their
#: unpublished version, and changed only while it is unpublished (hand edits).
_SERVED = (Event, EventSession, Slot, Location, Organisation, Participant, ScheduleVersion)
#: New rows of these change nothing that is served yet: a new participant or organisation has
#: no meetings, a new version is not published (unless it arrives published).
_SERVED_WHEN_NEW = (Event, EventSession, Slot, Location)


def _served_event_id(row: Any) -> int | None:
    return row.id if isinstance(row, Event) else row.event_id


@sa_event.listens_for(OrmSession, "after_flush")
def bump_serving_generations(session: OrmSession, _context: Any) -> None:
    """Raise `Event.serving_generation` of every event whose served rows this flush changed,
    in the flush's own transaction: a cache entry keyed by the old value is never used again
    once the change commits, by any process. Bulk `update()` statements bypass this hook;
    the code that serves participants writes through the ORM only."""
    event_ids: set[int] = set()
    for row in session.dirty:
        if isinstance(row, _SERVED) and session.is_modified(row, include_collections=False):
            event_ids.add(_served_event_id(row))  # type: ignore[arg-type]
    for row in session.deleted:
        if isinstance(row, _SERVED):
            event_ids.add(_served_event_id(row))  # type: ignore[arg-type]
    for row in session.new:
        if isinstance(row, _SERVED_WHEN_NEW) and not isinstance(row, Event):
            event_ids.add(_served_event_id(row))  # type: ignore[arg-type]
        elif isinstance(row, ScheduleVersion) and row.published_at is not None:
            event_ids.add(row.event_id)
    event_ids.discard(None)
    # A brand-new event has no cache entries yet.
    event_ids -= {row.id for row in session.new if isinstance(row, Event)}
    if event_ids:
        table = cast(Table, Event.__table__)
        session.connection().execute(
            update(table)
            .where(table.c.id.in_(sorted(event_ids)))
            .values(serving_generation=table.c.serving_generation + 1)
        )


# --- browser sign-ins --------------------------------------------------------------------


class BrowserSession(Base):
    """One sign-in of a browser (the pages' cookie), for an organiser or a participant.

    The cookie carries a fresh session token (`mms_...`), never the API token or the personal
    link; only its SHA-256 hash is stored. A session ends at `expires_at`, at sign-out
    (`revoked_at`), when the organiser's API token it was opened with is revoked, or when the
    participant's personal link is replaced (`participant_token_hash` no longer matches).
    """

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    #: The personal link's hash when the participant signed in with it.
    participant_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
