"""Internal keys in words: the solver's sentences ("p107 already has 6 meetings", "both free
in s01, s02") name participants, organisations, slots, sessions and wishes by their keys;
people read names and times. `KeyNames` turns one into the other for the pages.

A word is replaced only when it is a whole key of the event (letters, digits and `_.:-`);
the word before it ("slot", "session", "wish", "organisation") says which kind of key it is,
otherwise participants come first, then slots, organisations and sessions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from matchmaking.platform.models import EventSession, Organisation, Participant, Slot, Wish

_KEY = re.compile(r"(?<![\w.:-])([A-Za-z0-9][\w.:-]*?)(?=[.,;:)]?(?:\s|$|[,;)]))")
_HINT = re.compile(r"(slot|slots|session|wish|wishes|organisation)\s+$", re.IGNORECASE)


def _among(column: Any, keys: set[str] | None) -> list[Any]:
    return [] if keys is None else [column.in_(sorted(keys))]


def fold(text: str) -> str:
    """Lower case without accents, for searching: "Montréal" → "montreal", "Åkesson" →
    "akesson", "Straße" → "strasse"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slot_label(start: datetime, end: datetime, *, with_day: bool = True) -> str:
    """'Tue 10 Mar 09:00–09:20' (event time)."""
    day = start.strftime("%a %d %b ") if with_day else ""
    return f"{day}{start.strftime('%H:%M')}–{end.strftime('%H:%M')}"


@dataclass
class KeyNames:
    participants: dict[str, str] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)
    slots: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    wishes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_event(cls, db: Session, event_id: int, *, keys: set[str] | None = None) -> KeyNames:
        """The names of an event's keys (only of `keys`, when given: the words of the texts
        to translate, so that an event of thousands is not read whole)."""
        people = {
            key: f"{name} ({organisation})"
            for key, name, organisation in db.execute(
                select(Participant.key, Participant.name, Organisation.name)
                .join(Organisation, Participant.organisation_id == Organisation.id)
                .where(Participant.event_id == event_id, *_among(Participant.key, keys))
            )
        }
        organisations = {
            key: name
            for key, name in db.execute(
                select(Organisation.key, Organisation.name).where(
                    Organisation.event_id == event_id, *_among(Organisation.key, keys)
                )
            )
        }
        slots = {
            key: slot_label(start, end)
            for key, start, end in db.execute(
                select(Slot.key, Slot.start, Slot.end).where(Slot.event_id == event_id)
            )
        }
        sessions = {
            key: name
            for key, name in db.execute(
                select(EventSession.key, EventSession.name).where(EventSession.event_id == event_id)
            )
        }
        names = cls(people, organisations, slots, sessions)
        if keys is None or keys:
            sender, recipient = aliased(Participant), aliased(Participant)
            rows = db.execute(
                select(Wish.key, sender.name, recipient.name, Organisation.name)
                .join(sender, Wish.sender_id == sender.id)
                .outerjoin(recipient, Wish.recipient_id == recipient.id)
                .outerjoin(Organisation, Wish.recipient_organisation_id == Organisation.id)
                .where(Wish.event_id == event_id, *_among(Wish.key, keys))
            )
            for key, sender_name, recipient_name, organisation_name in rows:
                names.wishes[key] = f"{sender_name} → {recipient_name or organisation_name or '?'}"
        return names

    def words(self, text: str) -> str:
        """`text` with every key of the event replaced by its name."""

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            hint = _HINT.search(text, 0, match.start())
            kind = hint.group(1).lower() if hint and hint.end() == match.start() else ""
            if kind in ("slot", "slots"):
                return self.slots.get(key, key)
            if kind == "session":
                return self.sessions.get(key, key)
            if kind in ("wish", "wishes"):
                return f"“{self.wishes[key]}”" if key in self.wishes else key
            if kind == "organisation":
                return self.organisations.get(key, key)
            for table in (self.participants, self.slots, self.organisations, self.sessions):
                if key in table:
                    return table[key]
            return f"“{self.wishes[key]}”" if key in self.wishes else key

        return _KEY.sub(replace, text)


#: The reasons a wish was not scheduled (codes of solver/explain/reasons.py), in words.
REASONS = {
    "no_common_slot": "no time when both can meet",
    "no_suitable_location": "no suitable table or room",
    "not_found": "not placed in the time the scheduler had",
    "already_meeting": "they already meet for another wish",
    "organisation_already_met": "already meeting that organisation",
    "participant_at_cap": "the most meetings allowed are reached",
    "fixed_slot_taken": "its fixed time is taken",
    "precedence": "the required order of meetings does not fit",
    "location_capacity": "every table or room is taken when both are free",
    "lost_to_higher_priority": "meetings of the same or higher priority came first",
    "participants_busy": "one of them is busy whenever both could meet",
    "event_cap": "the event holds its maximum of meetings",
    "breaks_limit": "it would give too many breaks between meetings",
    "fairness": "fairness between participants came first",
    "objective_order": "a goal the event ranks higher came first",
    "same_delegation": "the event only schedules meetings between delegations",
}


def reason_words(code: str) -> str:
    return REASONS.get(code, code.replace("_", " "))
