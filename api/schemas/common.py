"""Shapes shared by every router: pages of lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NaiveDatetime, WithJsonSchema

T = TypeVar("T")

#: Query parameters of every list.
Limit = Annotated[int, Query(ge=1, le=500, description="Largest number of items to return.")]
Offset = Annotated[int, Query(ge=0, description="Number of items to skip.")]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive UTC values; answers always carry the offset (RFC 3339).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: An instant in answers: UTC with offset, e.g. `2030-05-29T03:59:00Z`.
Instant = Annotated[datetime, AfterValidator(_utc)]

_LOCAL_TIME_SCHEMA = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$",
    "description": "Local wall-clock time in the event's time zone, without offset.",
    "examples": ["2030-09-10T09:00"],
}
#: A slot time: local wall-clock time in the event's zone, no offset (as in bundles).
LocalTime = Annotated[NaiveDatetime, WithJsonSchema(_LOCAL_TIME_SCHEMA)]


class Page(BaseModel, Generic[T]):
    """One page of a list: `items`, and `total` matching items over all pages."""

    items: list[T]
    total: int = Field(description="Number of matching items over all pages.")
    limit: int
    offset: int


class Orm(BaseModel):
    """Base of output schemas read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)
