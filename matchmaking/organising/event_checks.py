"""What an event's set-up must respect, field by field, in one place for every door in.

The API's schemas take their bounds from here, and the services of
`matchmaking.organising.events` run these checks on every write, so the organiser's pages
(which parse form text themselves) and the JSON API refuse the same values with the same
words. Each check returns every problem it
finds as a `Problem(field, message)`, `field` in the input's own plain name (`name`,
`rules.max_meetings_per_participant`); `refuse` raises them all at once as one `SetupInvalid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matchmaking.organising.timegrid import SLOT_YEARS, zone
from matchmaking.platform.errors import Invalid
from matchmaking.platform.models import EventMode, LocationKind, WishPolicy
from matchmaking.platform.text import ONE_LINE_FORBIDDEN, TEXT_FORBIDDEN, has_visible_character

SLUG_PATTERN = r"^[a-z0-9-]{3,64}$"
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
URL_PATTERN = r"^(https?://\S+)?$"
NAME_MAX = 200
VENUE_MAX = 300
DESCRIPTION_MAX = 20_000
URL_MAX = 500
FOCUS_AREAS_MAX = 100
FOCUS_AREA_MAX = 100
#: The solver's goals, in their default lexicographic order.
GOALS = ("required", "scheduled", "fairness", "breaks", "stability")
#: Bounds (inclusive) of the whole numbers an organiser sets.
MEETINGS_CAP = (0, 10_000)
MEETINGS_TOTAL_CAP = (0, 10_000_000)
BREAK_DIFFERENCE = (0, 10_000)
REQUESTS_CAP = (0, 100_000)
CAPACITY = (1, 100_000)
POSITION = (0, 1_000_000)
MEETING_MINUTES = (5, 480)
PAUSE_MINUTES = (0, 240)
#: A generated session spans less than this many days.
SESSION_DAYS = 2

#: The rules' whole-number fields with their bounds, in the order forms show them.
RULE_NUMBERS = {
    "max_meetings_per_participant": MEETINGS_CAP,
    "max_meetings_total": MEETINGS_TOTAL_CAP,
    "max_break_difference": BREAK_DIFFERENCE,
}


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


class SetupInvalid(Invalid):
    """Every problem of one set-up input; `field` (API form) names the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(
            "; ".join(f"{p.field}: {p.message}" for p in self.problems), field=f"body.{first.field}"
        )


def refuse(problems: list[Problem]) -> None:
    """Raise `SetupInvalid` with every problem, when there is any."""
    if problems:
        raise SetupInvalid(problems)


# --- single values ---------------------------------------------------------------------------


def _line(field: str, value: Any, maximum: int, *, required: bool) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(field, "must be text")]
    if required and not has_visible_character(value):
        return [Problem(field, "must contain a visible character, not only spaces")]
    if len(value) > maximum:
        return [Problem(field, f"must be at most {maximum} characters long")]
    if ONE_LINE_FORBIDDEN.search(value):
        return [Problem(field, "must be one line without control characters")]
    return []


def _whole(field: str, value: Any, bounds: tuple[int, int], *, optional: bool) -> list[Problem]:
    if value is None and optional:
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [Problem(field, "must be a whole number")]
    low, high = bounds
    if not low <= value <= high:
        return [Problem(field, f"must be between {low} and {high}")]
    return []


def _choice(field: str, value: Any, kind: type[Any]) -> list[Problem]:
    try:
        kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        return [Problem(field, f"must be one of {names}")]
    return []


def _url(field: str, value: Any) -> list[Problem]:
    if not isinstance(value, str) or len(value) > URL_MAX or not re.match(URL_PATTERN, value):
        return [Problem(field, "must be a web address starting with https:// (or be empty)")]
    return []


def check_name(value: Any, field: str = "name") -> list[Problem]:
    return _line(field, value, NAME_MAX, required=True)


# --- events ----------------------------------------------------------------------------------


def check_event(values: Mapping[str, Any]) -> list[Problem]:
    """The problems of the event fields present in `values` (a new event or changes)."""
    problems: list[Problem] = []
    if "slug" in values:
        slug = values["slug"]
        if not isinstance(slug, str) or not re.match(SLUG_PATTERN, slug):
            problems.append(Problem("slug", "must be 3 to 64 lower-case letters, digits or dashes"))
    if "name" in values:
        problems += check_name(values["name"])
    if "timezone" in values:
        try:
            zone(values["timezone"])
        except ValueError as error:
            problems.append(Problem("timezone", str(error)))
    if "venue" in values:
        problems += _line("venue", values["venue"], VENUE_MAX, required=False)
    if "description" in values:
        text = values["description"]
        if not isinstance(text, str) or TEXT_FORBIDDEN.search(text):
            problems.append(
                Problem("description", "must not contain control characters other than line breaks")
            )
        elif len(text) > DESCRIPTION_MAX:
            problems.append(
                Problem("description", f"must be at most {DESCRIPTION_MAX} characters long")
            )
    if "mode" in values:
        problems += _choice("mode", values["mode"], EventMode)
    if "focus_areas" in values:
        problems += check_focus_areas(values["focus_areas"])
    if "wish_policy" in values:
        problems += _choice("wish_policy", values["wish_policy"], WishPolicy)
    if "max_requests_per_participant" in values:
        problems += _whole(
            "max_requests_per_participant",
            values["max_requests_per_participant"],
            REQUESTS_CAP,
            optional=True,
        )
    for name in ("registration_closes", "wish_cutoff"):
        moment = values.get(name)
        if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
            problems.append(Problem(name, "must be a date and time with its time zone"))
    if "video_base_url" in values:
        problems += _url("video_base_url", values["video_base_url"])
    if isinstance(values.get("rules"), Mapping):
        problems += check_rules(values["rules"])
    elif "rules" in values:
        problems.append(Problem("rules", "must be an object of rules"))
    return problems


def check_focus_areas(areas: Any) -> list[Problem]:
    if not isinstance(areas, list):
        return [Problem("focus_areas", "must be a list of focus areas")]
    if len(areas) > FOCUS_AREAS_MAX:
        return [Problem("focus_areas", f"must hold at most {FOCUS_AREAS_MAX} focus areas")]
    for area in areas:
        found = _line("focus_areas", area, FOCUS_AREA_MAX, required=True)
        if found:
            shown = area[:40] if isinstance(area, str) else area
            return [Problem("focus_areas", f"“{shown}” {found[0].message}")]
    return []


def check_rules(rules: Mapping[str, Any]) -> list[Problem]:
    """The problems of the solver's rules (the bundle's `event.rules`); None means default."""
    problems: list[Problem] = []
    for name, bounds in RULE_NUMBERS.items():
        problems += _whole(f"rules.{name}", rules.get(name), bounds, optional=True)
    objective = rules.get("objective")
    if objective is not None:
        if not isinstance(objective, list) or any(goal not in GOALS for goal in objective):
            problems.append(Problem("rules.objective", "must list goals among " + ", ".join(GOALS)))
        elif len(set(objective)) != len(objective):
            problems.append(Problem("rules.objective", "names a goal more than once"))
    flag = rules.get("cross_delegation_only")
    if flag is not None and not isinstance(flag, bool):
        problems.append(Problem("rules.cross_delegation_only", "must be true or false"))
    return problems


# --- the time grid ---------------------------------------------------------------------------


def check_slot_times(start: datetime, end: datetime) -> list[Problem]:
    """A slot's local times: in SLOT_YEARS, ending after they start."""
    problems = [
        Problem(name, f"must be in the years {SLOT_YEARS[0]} to {SLOT_YEARS[1]}")
        for name, moment in (("start", start), ("end", end))
        if not SLOT_YEARS[0] <= moment.year <= SLOT_YEARS[1]
    ]
    if not problems and end <= start:
        problems.append(Problem("end", "must be after the start"))
    return problems


def check_span(start: datetime, end: datetime) -> list[Problem]:
    """A session's span for the slot generator: less than SESSION_DAYS days."""
    problems = check_slot_times(start, end)
    if not problems and (end - start).days >= SESSION_DAYS:
        problems.append(Problem("end", f"must be less than {SESSION_DAYS} days after the start"))
    return problems


def check_generation(
    start: datetime, end: datetime, meeting_minutes: Any, pause_minutes: Any
) -> list[Problem]:
    """The slot generator's input: its span and the lengths of meetings and pauses."""
    problems = check_span(start, end)
    problems += _whole("meeting_minutes", meeting_minutes, MEETING_MINUTES, optional=False)
    problems += _whole("pause_minutes", pause_minutes, PAUSE_MINUTES, optional=False)
    return problems


# --- locations -------------------------------------------------------------------------------


def check_location(values: Mapping[str, Any]) -> list[Problem]:
    """The problems of the location fields present in `values` (a new location or changes)."""
    problems: list[Problem] = []
    if "key" in values and (
        not isinstance(values["key"], str) or not re.match(KEY_PATTERN, values["key"])
    ):
        problems.append(Problem("key", "must be 1 to 64 letters, digits, '.', '_' or '-'"))
    if "name" in values:
        problems += check_name(values["name"])
    if "kind" in values:
        problems += _choice("kind", values["kind"], LocationKind)
    if "capacity" in values:
        problems += _whole("capacity", values["capacity"], CAPACITY, optional=False)
    if "url" in values:
        problems += _url("url", values["url"])
    if values.get("position") is not None:
        problems += _whole("position", values["position"], POSITION, optional=False)
    return problems
