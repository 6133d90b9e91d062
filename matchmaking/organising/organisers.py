"""Organiser accounts and their API tokens (shown once, stored as SHA-256, revocable)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchmaking.platform.errors import Conflict, NotFound
from matchmaking.platform.models import ApiToken, Organiser, utcnow
from matchmaking.platform.security import (
    ORGANISER_TOKEN_PREFIX,
    display_prefix,
    hash_token,
    new_token,
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_organiser(session: Session, email: str) -> Organiser | None:
    return session.scalar(
        select(Organiser).where(func.lower(Organiser.email) == normalise_email(email))
    )


def create_organiser(
    session: Session,
    email: str,
    name: str,
    token_name: str = "initial",  # noqa: S107 - the token's label, not a secret
) -> tuple[Organiser, ApiToken, str]:
    """A new organiser with a first API token; the token text is returned once, never stored."""
    if find_organiser(session, email) is not None:
        raise Conflict(f"An organiser with e-mail '{email}' exists already.", field="body.email")
    organiser = Organiser(email=normalise_email(email), name=name.strip())
    session.add(organiser)
    session.flush()
    token, secret = issue_token(session, organiser, token_name)
    return organiser, token, secret


def issue_token(session: Session, organiser: Organiser, name: str) -> tuple[ApiToken, str]:
    """A new API token of the organiser; returns the row and the token text (shown once)."""
    secret = new_token(ORGANISER_TOKEN_PREFIX)
    token = ApiToken(
        organiser_id=organiser.id,
        name=name.strip(),
        token_hash=hash_token(secret),
        prefix=display_prefix(secret),
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session, organiser: Organiser) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.organiser_id == organiser.id).order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, organiser: Organiser, token_id: int) -> ApiToken:
    """Revoke one of the organiser's own tokens; revoking twice keeps the first time."""
    token = session.get(ApiToken, token_id)
    if token is None or token.organiser_id != organiser.id:
        raise NotFound(f"You have no API token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
