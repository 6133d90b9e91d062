"""Request and response shapes of the event day: check-in, attendance, door lists, feedback."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.common import Instant, Page


class CheckInOut(BaseModel):
    participant: str = Field(description="The participant's key.", examples=["p17"])
    name: str
    organisation: str
    country: str
    arrived: bool
    arrived_at: Instant | None = Field(description="When staff marked them arrived (UTC).")


class CheckInPage(Page[CheckInOut]):
    arrived_total: int = Field(description="How many participants of the event have arrived.")
