"""Reading a bundle: the whole document is checked first, and every problem is reported.

`parse_bundle` returns a `Bundle` or raises `BundleError` whose `problems` name each problem
by its JSON path (RFC 6901 pointer, "/" for the document itself):
`/wishes/17/to: unknown participant "p99"`. Shape problems (types, patterns, ranges) come from
the Pydantic models; problems that need the whole document (duplicate ids, references,
overlapping slots, `after` cycles) are found on the raw JSON, so a document with both kinds
gets both lists in one go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from matchmaking.bundle.schemas import Attendance, Bundle


@dataclass(frozen=True, slots=True)
class BundleProblem:
    """One problem of a document: where (JSON pointer) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class BundleError(ValueError):
    """A bundle that is refused whole; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[BundleProblem]) -> None:
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the bundle has {count} problem{'s' * (count != 1)}:\n{lines}")


def parse_bundle(data: bytes | str | dict[str, Any]) -> Bundle:
    """The bundle in `data` (JSON bytes or text, or the decoded object), fully checked."""
    raw = data if isinstance(data, dict) else _load_json(data)
    if not isinstance(raw, dict):
        raise BundleError([BundleProblem("/", "must be a JSON object")])
    problems = document_problems(raw)
    bundle: Bundle | None = None
    try:
        # Documents use the format's names only ("from", never the Python name "from_").
        bundle = Bundle.model_validate(raw, strict=True, by_alias=True, by_name=False)
    except ValidationError as error:
        problems.extend(_translate(error))
    if problems or bundle is None:
        raise BundleError(_ordered(problems))
    _fill_attendance(bundle)
    return bundle


def _fill_attendance(bundle: Bundle) -> None:
    # "default from the event mode": an online event's people attend online; hybrid and
    # onsite events expect them on site unless they say otherwise.
    default: Attendance = "online" if bundle.event.mode == "online" else "onsite"
    for participant in bundle.participants:
        if participant.attendance is None:
            participant.attendance = default


# --- JSON text ------------------------------------------------------------------------------


def _load_json(data: bytes | str) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            message = f"is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})"
            raise BundleError([BundleProblem("/", message)]) from None
    data = data.removeprefix("\ufeff")
    duplicates: list[str] = []

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    try:
        raw = json.loads(data, object_pairs_hook=pairs, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        message = f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise BundleError([BundleProblem("/", message)]) from None
    except ValueError as error:
        raise BundleError([BundleProblem("/", f"is not valid JSON: {error}")]) from None
    except RecursionError:
        raise BundleError([BundleProblem("/", "is nested too deeply")]) from None
    if duplicates:
        problems = [
            BundleProblem("/", f'the key "{key}" appears twice in one object')
            for key in sorted(set(duplicates))
        ]
        raise BundleError(problems)
    return raw


# --- Pydantic's errors in our words -----------------------------------------------------------

_PATTERN_MESSAGES = {
    "slug": 'must be 3-64 lowercase letters, digits or "-", like "eu-canada-2024"',
    "country": 'must be a two-letter ISO 3166-1 country code in capitals, like "DK"',
    "email": "must be an e-mail address",
    "url": "must be an http:// or https:// address",
    "website": "must be an http:// or https:// address",
    "video_base_url": "must be an http:// or https:// address",
}
_ID_MESSAGE = (
    'must be an id of 1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit'
)


def _pointer(location: tuple[str | int, ...]) -> str:
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in location]
    return "/" + "/".join(parts) if parts else "/"


def _got(value: Any) -> str:
    if isinstance(value, dict | list):
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"; got {text}" if len(text) <= 80 else ""


#: Type errors in JSON's words (Pydantic speaks of dictionaries and model classes).
_TYPE_MESSAGES = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
}


def _message(error: Any) -> str:
    kind = error["type"]
    field = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch":
        return _PATTERN_MESSAGES.get(field, _ID_MESSAGE) + _got(error["input"])
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind] + _got(error["input"])
    message: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    for subject in ("Input", "String", "List", "Value", "Dictionary"):
        message = message.replace(f"{subject} should", "must")
    if kind in {"literal_error", "greater_than_equal", "less_than_equal", "greater_than"}:
        message += _got(error["input"])
    return message


def _translate(error: ValidationError) -> list[BundleProblem]:
    return [BundleProblem(_pointer(e["loc"]), _message(e)) for e in error.errors()]


def _ordered(problems: list[BundleProblem]) -> list[BundleProblem]:
    def key(problem: BundleProblem) -> list[tuple[int, int | str]]:
        return [(0, int(p)) if p.isdigit() else (1, p) for p in problem.path.split("/")]

    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=key)


# --- whole-document checks on the raw JSON ------------------------------------------------------


def _items(raw: dict[str, Any], collection: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a top-level list (others are reported by the models)."""
    value = raw.get(collection)
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _slots(raw: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for s, session in _items(raw, "sessions"):
        slots = session.get("slots")
        if isinstance(slots, list):
            for j, slot in enumerate(slots):
                if isinstance(slot, dict):
                    yield f"/sessions/{s}/slots/{j}", slot


def _string(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


@dataclass
class _Index:
    """Ids of each collection, with the path of the first item that has each."""

    sessions: dict[str, str]
    slots: dict[str, str]
    slot_session: dict[str, str]
    locations: dict[str, str]
    organisations: dict[str, str]
    participants: dict[str, str]
    participant_organisation: dict[str, str]
    wishes: dict[str, str]


def _register(
    ids: dict[str, str], item: dict[str, Any], path: str, out: list[BundleProblem]
) -> None:
    key = _string(item, "id")
    if key is None:
        return
    if key in ids:
        out.append(BundleProblem(f"{path}/id", f'duplicate id "{key}" (also at {ids[key]})'))
    else:
        ids[key] = path


def _index(raw: dict[str, Any], out: list[BundleProblem]) -> _Index:
    index = _Index({}, {}, {}, {}, {}, {}, {}, {})
    for s, session in _items(raw, "sessions"):
        _register(index.sessions, session, f"/sessions/{s}", out)
    for path, slot in _slots(raw):
        _register(index.slots, slot, path, out)
        session_id = _string(raw["sessions"][int(path.split("/")[2])], "id")
        slot_id = _string(slot, "id")
        if slot_id is not None and session_id is not None:
            index.slot_session.setdefault(slot_id, session_id)
    for name in ("locations", "organisations", "participants", "wishes"):
        for i, item in _items(raw, name):
            _register(getattr(index, name), item, f"/{name}/{i}", out)
    for _, participant in _items(raw, "participants"):
        key, organisation = _string(participant, "id"), _string(participant, "organisation")
        if key is not None and organisation is not None:
            index.participant_organisation.setdefault(key, organisation)
    return index


def _reference(
    out: list[BundleProblem], path: str, value: Any, known: dict[str, str], what: str
) -> None:
    if isinstance(value, str) and value not in known:
        out.append(BundleProblem(path, f'unknown {what} "{value}"'))


def _references(
    out: list[BundleProblem], path: str, values: Any, known: dict[str, str], what: str
) -> None:
    """`_reference` for each item of `values` when it is a list (the model reports others)."""
    if isinstance(values, list):
        for j, value in enumerate(values):
            _reference(out, f"{path}/{j}", value, known, what)


def document_problems(raw: dict[str, Any]) -> list[BundleProblem]:
    """Problems that need the whole document; shape problems are left to the models."""
    out: list[BundleProblem] = []
    index = _index(raw, out)
    out.extend(_objective_problems(raw))
    out.extend(_time_grid_problems(raw))
    out.extend(_participant_problems(raw, index))
    out.extend(_wish_problems(raw, index))
    out.extend(_after_cycles(raw, index))
    return out


def _objective_problems(raw: dict[str, Any]) -> list[BundleProblem]:
    event = raw.get("event")
    rules = event.get("rules") if isinstance(event, dict) else None
    objective = rules.get("objective") if isinstance(rules, dict) else None
    if not isinstance(objective, list):
        return []
    seen: set[str] = set()
    out = []
    for i, goal in enumerate(objective):
        if isinstance(goal, str) and goal in seen:
            out.append(BundleProblem(f"/event/rules/objective/{i}", f'"{goal}" is listed twice'))
        if isinstance(goal, str):
            seen.add(goal)
    return out


def _local_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) not in (16, 19) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is None else None


def _time_grid_problems(raw: dict[str, Any]) -> list[BundleProblem]:
    # Imported here: the time grid module also serves the database layer (SQLAlchemy), which
    # file-only commands such as `convert-dzn` need not load.
    from matchmaking.organising.timegrid import SlotTimes, is_valid_zone, slot_problems

    out: list[BundleProblem] = []
    checked: list[tuple[str, SlotTimes]] = []
    for s, session in _items(raw, "sessions"):
        previous: tuple[str, datetime] | None = None
        slots = session.get("slots")
        for j, slot in enumerate(slots if isinstance(slots, list) else []):
            if not isinstance(slot, dict):
                continue
            start, end = _local_time(slot.get("start")), _local_time(slot.get("end"))
            if start is None or end is None:
                continue  # the model reports the malformed time
            key = _string(slot, "id") or f"#{j}"
            if previous is not None and start < previous[1]:
                out.append(
                    BundleProblem(
                        f"/sessions/{s}/slots/{j}/start",
                        f'slots of a session must be listed in chronological order: "{key}" '
                        f'starts before "{previous[0]}"',
                    )
                )
            previous = (key, start)
            checked.append((f"/sessions/{s}/slots/{j}", SlotTimes(key, start, end)))
    event = raw.get("event")
    timezone = event.get("timezone") if isinstance(event, dict) else None
    if not isinstance(timezone, str) or not is_valid_zone(timezone):
        # The model reports the zone; the slots are still checked, on wall-clock times.
        timezone = "UTC"
    for problem in slot_problems(timezone, [times for _, times in checked]):
        out.append(BundleProblem(f"{checked[problem.index][0]}/{problem.field}", problem.message))
    return out


def _participant_problems(raw: dict[str, Any], index: _Index) -> list[BundleProblem]:
    out: list[BundleProblem] = []
    for i, participant in _items(raw, "participants"):
        path = f"/participants/{i}"
        _reference(
            out,
            f"{path}/organisation",
            participant.get("organisation"),
            index.organisations,
            "organisation",
        )
        _reference(
            out,
            f"{path}/host_location",
            participant.get("host_location"),
            index.locations,
            "location",
        )
        _references(out, f"{path}/unavailable", participant.get("unavailable"), index.slots, "slot")
    return out


def _wish_problems(raw: dict[str, Any], index: _Index) -> list[BundleProblem]:
    out: list[BundleProblem] = []
    for i, wish in _items(raw, "wishes"):
        path = f"/wishes/{i}"
        sender, to, to_org = wish.get("from"), wish.get("to"), wish.get("to_organisation")
        _reference(out, f"{path}/from", sender, index.participants, "participant")
        _reference(out, f"{path}/to", to, index.participants, "participant")
        _reference(out, f"{path}/to_organisation", to_org, index.organisations, "organisation")
        if (to is None) == (to_org is None):
            where = path if to is None else f"{path}/to_organisation"
            out.append(BundleProblem(where, 'give exactly one of "to" and "to_organisation"'))
        elif isinstance(sender, str) and to == sender:
            out.append(BundleProblem(f"{path}/to", f'"{sender}" cannot wish to meet themselves'))
        elif to_org is not None and index.participant_organisation.get(str(sender)) == to_org:
            out.append(
                BundleProblem(
                    f"{path}/to_organisation",
                    f'"{to_org}" is the organisation of the sender "{sender}" itself',
                )
            )
        out.extend(_wish_time_problems(wish, path, index))
    return out


def _wish_time_problems(wish: dict[str, Any], path: str, index: _Index) -> list[BundleProblem]:
    out: list[BundleProblem] = []
    session, fixed = wish.get("session"), wish.get("fixed_slot")
    _reference(out, f"{path}/session", session, index.sessions, "session")
    _reference(out, f"{path}/fixed_slot", fixed, index.slots, "slot")
    in_session = index.slot_session.get(fixed) if isinstance(fixed, str) else None
    if isinstance(session, str) and in_session not in (None, session) and session in index.sessions:
        out.append(
            BundleProblem(
                f"{path}/fixed_slot",
                f'slot "{fixed}" is in session "{in_session}", '
                f'not in the wish\'s session "{session}"',
            )
        )
    _references(out, f"{path}/after", wish.get("after"), index.wishes, "wish")
    return out


def _after_cycles(raw: dict[str, Any], index: _Index) -> list[BundleProblem]:
    """Each cycle of `after` once, at the first wish of the cycle in the document."""
    earlier: dict[str, list[str]] = {}
    for _, wish in _items(raw, "wishes"):
        key, after = _string(wish, "id"), wish.get("after")
        if key is not None and isinstance(after, list) and key not in earlier:
            earlier[key] = [a for a in after if isinstance(a, str) and a in index.wishes]
    out: list[BundleProblem] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in earlier:
        if state.get(start):
            continue
        # Iterative depth-first search: `after` chains can be long in real bundles.
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(earlier.get(start, [])))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                cycle = [n for n, _ in stack]
                cycle = [*cycle[cycle.index(child) :], child]
                first = min(cycle[:-1], key=lambda k: _position(index.wishes[k]))
                out.append(
                    BundleProblem(
                        f"{index.wishes[first]}/after",
                        'the wishes form a cycle of "after": ' + " → ".join(cycle),
                    )
                )
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(earlier.get(child, []))))
    return out


def _position(path: str) -> int:
    return int(path.rsplit("/", 1)[1])
