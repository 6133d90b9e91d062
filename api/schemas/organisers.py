"""Organisers and API tokens."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from api.schemas.common import Instant, Line, Name, Orm


class OrganiserCreate(BaseModel):
    email: EmailStr = Field(examples=["anna.berg@cluster-events.eu"])
    name: Name = Field(min_length=1, max_length=200, examples=["Anna Berg"])


class OrganiserOut(Orm):
    id: int
    email: str
    name: str
    created_at: Instant


class TokenCreate(BaseModel):
    name: Line = Field(default="", max_length=100, examples=["laptop"])


class TokenOut(Orm):
    id: int
    name: str
    prefix: str = Field(description="First characters of the token, to tell tokens apart.")
    created_at: Instant
    last_used_at: Instant | None
    revoked_at: Instant | None


class TokenIssued(TokenOut):
    token: str = Field(
        description="The token itself. Shown only in this response; store it now.",
        examples=["mmo_9hZq3C5w0kT0b3m1kzqK3a4Yl0F2m9mQv8xK1cQeJbA"],
    )


class OrganiserCreated(BaseModel):
    organiser: OrganiserOut
    token: TokenIssued
