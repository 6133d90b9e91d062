"""Recommendations: the partners a participant should meet next (docs/profiles-and-sheets.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SuggestionOut(BaseModel):
    """A partner to meet, with why."""

    participant: str = Field(description="The suggested participant's key.", examples=["p17"])
    name: str = Field(examples=["Bea Roy"])
    job_title: str = ""
    organisation: str = Field(description="Its organisation's name.", examples=["Recyclo"])
    organisation_key: str = Field(examples=["o2"])
    score: float = Field(ge=0, le=1, description="0..1, higher is better.", examples=[0.82])
    reasons: list[str] = Field(
        min_length=1,
        description="Why, in words a participant understands; at least one.",
        examples=[["offers battery recycling services, which you seek"]],
    )


class SuggestionsOut(BaseModel):
    """The partners a participant should meet next, best first."""

    participant: str = Field(description="The participant the suggestions are for (key).")
    suggestions: list[SuggestionOut]
