"""Shapes shared by every router: pages of lists."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

#: Query parameters of every list.
Limit = Annotated[int, Query(ge=1, le=500, description="Largest number of items to return.")]
Offset = Annotated[int, Query(ge=0, description="Number of items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list: `items`, and `total` matching items over all pages."""

    items: list[T]
    total: int = Field(description="Number of matching items over all pages.")
    limit: int
    offset: int


class Orm(BaseModel):
    """Base of output schemas read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)
