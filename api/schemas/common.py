"""Shapes shared by every router: pages of lists."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NaiveDatetime,
    WithJsonSchema,
)

from matchmaking.organising.timegrid import SLOT_YEARS
from matchmaking.platform.text import ONE_LINE_FORBIDDEN, TEXT_FORBIDDEN, has_visible_character

T = TypeVar("T")

#: Query parameters of every list.
Limit = Annotated[int, Query(ge=1, le=500, description="Largest number of items to return.")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Number of items to skip.")]
#: A database row id in a path (organisers, tokens); bounded like the columns that hold it.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive UTC values; answers always carry the offset (RFC 3339).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: An instant in answers: UTC with offset, e.g. `2030-05-29T03:59:00Z`.
Instant = Annotated[datetime, AfterValidator(_utc)]

_LOCAL_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"
_LOCAL_TIME_SCHEMA = {
    "type": "string",
    "pattern": _LOCAL_TIME,
    "description": "Local wall-clock time in the event's time zone, without offset.",
    "examples": ["2030-09-10T09:00"],
}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    # Pydantic's lax mode reads a number such as "1.5e9" as a Unix time; a day in a URL is
    # only ever written as YYYY-MM-DD.
    if not isinstance(value, date) and not (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        raise ValueError("must be a day written as YYYY-MM-DD")
    return value


#: A calendar day in a query string, only as `YYYY-MM-DD`.
IsoDay = Annotated[date, BeforeValidator(_iso_day)]


def _local_time(value: object) -> object:
    # Held to the published pattern: no date alone, no space for "T", no Unix time.
    if not isinstance(value, datetime) and not (
        isinstance(value, str) and re.fullmatch(_LOCAL_TIME, value)
    ):
        raise ValueError("must be a local time written as YYYY-MM-DDTHH:MM")
    return value


#: A slot time: local wall-clock time in the event's zone, no offset (as in bundles).
LocalTime = Annotated[
    NaiveDatetime, BeforeValidator(_local_time), WithJsonSchema(_LOCAL_TIME_SCHEMA)
]


def _in_slot_years(value: datetime) -> datetime:
    if not SLOT_YEARS[0] <= value.year <= SLOT_YEARS[1]:
        raise ValueError(f"must be in the years {SLOT_YEARS[0]} to {SLOT_YEARS[1]}")
    return value


#: A slot time sent by a client: a LocalTime within SLOT_YEARS (2000-2100), far from the
#: limits of date arithmetic, so no zone offset can overflow.
SlotTime = Annotated[LocalTime, AfterValidator(_in_slot_years)]


def _iso_instant(value: object) -> object:
    # Pydantic's lax mode reads a JSON number as a Unix time; instants are only accepted as
    # RFC 3339 strings, as documented.
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be a date and time with offset, e.g. 2030-05-28T23:59:00+02:00")
    return value


#: An instant sent by a client: an RFC 3339 string with offset (no numbers).
InstantIn = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]


# Text rules shared with the bundle format (matchmaking/bundle/schemas.py), so that whatever
# the API stores can be exported as a valid bundle.


def _single_line(value: str) -> str:
    if ONE_LINE_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or line breaks (tabs, U+2028, ...)")
    return value


def _visible(value: str) -> str:
    if not has_visible_character(value):
        raise ValueError("must contain a visible character, not only spaces or invisible ones")
    return value


def _paragraphs(value: str) -> str:
    if TEXT_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters other than line breaks")
    return value


#: One line of text: names, titles, venues (combine with Field(max_length=...)).
Line = Annotated[str, AfterValidator(_single_line)]
#: A name: one line with at least one visible character (combine with Field(max_length=...)).
Name = Annotated[str, AfterValidator(_single_line), AfterValidator(_visible)]
#: Free text that may hold line breaks: descriptions, messages.
Paragraphs = Annotated[str, AfterValidator(_paragraphs)]
#: An http(s) link, or "" for none.
WebUrl = Annotated[str, Field(max_length=500, pattern=r"^(https?://\S+)?$")]


def _keys_of(rows: object) -> object:
    # Rows read from the database (a participant's unavailable slots) are shown by their key.
    if isinstance(rows, list):
        return [getattr(row, "key", row) for row in rows]
    return rows


#: Keys of rows of the event, read from the rows themselves when validating ORM objects.
Keys = Annotated[list[str], BeforeValidator(_keys_of)]


class Page(BaseModel, Generic[T]):
    """One page of a list: `items`, and `total` matching items over all pages."""

    items: list[T]
    total: int = Field(description="Number of matching items over all pages.")
    limit: int
    offset: int


class Orm(BaseModel):
    """Base of output schemas read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)
