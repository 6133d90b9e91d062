"""Browser sign-ins of the pages: a session token per sign-in, stored hashed, with an expiry.

Signing in (an organiser pasting an API token, a participant opening the personal link)
opens a session whose fresh token (`mms_...`) the browser keeps in a cookie; the API token or
personal link itself is never put in a cookie. Signing out revokes the session at once, so a
copied cookie stops working. A session also ends when it expires, when the organiser's API
token is revoked, and when the participant's personal link is replaced.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from matchmaking.platform.models import (
    ApiToken,
    BrowserSession,
    Organiser,
    Participant,
    as_utc,
    utcnow,
)
from matchmaking.platform.security import hash_token, new_token, worth_looking_up

#: Prefix of browser session tokens (the pages' cookies).
SESSION_TOKEN_PREFIX = "mms"  # noqa: S105 - a public prefix, not a secret
#: How long an organiser stays signed in on one browser.
ORGANISER_SESSION_LIFETIME = timedelta(days=14)
#: How long a participant stays signed in after opening the personal link.
PARTICIPANT_SESSION_LIFETIME = timedelta(days=60)


def _open(db: Session, row: BrowserSession, lifetime: timedelta) -> str:
    now = utcnow()
    # Expired sessions are of no use to anyone: each sign-in clears them away.
    db.execute(delete(BrowserSession).where(BrowserSession.expires_at < now))
    token = new_token(SESSION_TOKEN_PREFIX)
    row.token_hash = hash_token(token)
    row.created_at = now
    row.expires_at = now + lifetime
    db.add(row)
    db.flush()
    return token


def open_organiser_session(db: Session, api_token: ApiToken) -> str:
    """A new session of the organiser who signed in with `api_token`; its cookie token."""
    return _open(db, BrowserSession(api_token_id=api_token.id), ORGANISER_SESSION_LIFETIME)


def open_participant_session(db: Session, participant: Participant) -> str:
    """A new session of a participant who opened their personal link; its cookie token."""
    row = BrowserSession(
        participant_id=participant.id, participant_token_hash=participant.access_token_hash
    )
    return _open(db, row, PARTICIPANT_SESSION_LIFETIME)


def _live(db: Session, token: str, now: datetime | None = None) -> BrowserSession | None:
    if not worth_looking_up(token):
        return None
    row = db.scalar(select(BrowserSession).where(BrowserSession.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    expires = as_utc(row.expires_at)
    if expires is None or expires <= (now or utcnow()):
        return None
    return row


def organiser_of(db: Session, token: str) -> Organiser | None:
    """The organiser signed in with this session token, None when it is unknown, signed out,
    expired, or its API token was revoked."""
    row = _live(db, token)
    if row is None or row.api_token_id is None:
        return None
    api_token = db.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.organiser))
        .where(ApiToken.id == row.api_token_id)
    )
    if api_token is None or api_token.revoked_at is not None:
        return None
    return api_token.organiser


def participant_of(db: Session, token: str) -> Participant | None:
    """The participant signed in with this session token, None when it is unknown, signed
    out, expired, or the personal link it was opened with was replaced since."""
    row = _live(db, token)
    if row is None or row.participant_id is None:
        return None
    participant = db.scalar(
        select(Participant)
        .options(joinedload(Participant.event))
        .where(Participant.id == row.participant_id)
    )
    if (
        participant is None
        or participant.access_token_hash is None
        or participant.access_token_hash != row.participant_token_hash
    ):
        return None
    return participant


def close_session(db: Session, token: str) -> bool:
    """Sign out: the session stops working at once. False when there was none to close."""
    row = _live(db, token)
    if row is None:
        return False
    row.revoked_at = utcnow()
    db.flush()
    return True
