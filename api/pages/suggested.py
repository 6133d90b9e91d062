""" "Suggested for you": the partners a participant should meet next, on its directory and
inbox pages, each with a one-click wish (the directory's wish form, CSRF as every form).

The ranking is `matchmaking.participants.recommend`, the same as the API's and `recommend-file`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from matchmaking.participants.recommend import suggestions_for_participant
from matchmaking.platform.models import Event, Participant

#: Suggestions a page shows (the API gives up to 100).
SHOWN = 5


@dataclass(frozen=True)
class Suggested:
    person: Participant
    reasons: tuple[str, ...]


def suggested(db: Session, event: Event, me: Participant, count: int = SHOWN) -> list[Suggested]:
    """`me`'s best `count` suggestions with the people they name."""
    return [
        Suggested(person, suggestion.reasons)
        for suggestion, person in suggestions_for_participant(db, event, me.key, count)
    ]
