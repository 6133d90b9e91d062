"""A bundle is checked whole, and every problem is named by its JSON path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from matchmaking.bundle.schemas import Instant, LocalDateTime
from matchmaking.bundle.validate import BundleError, BundleProblem, parse_bundle

Doc = dict[str, Any]


def problems_of(document: Doc | bytes | str) -> list[str]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(document)
    return [str(problem) for problem in caught.value.problems]


def test_example_bundle_of_the_format_document_parses(example_bytes: bytes) -> None:
    bundle = parse_bundle(example_bytes)

    assert bundle.event.slug == "eu-canada-2024"
    assert bundle.event.registration_closes == datetime(2024, 5, 29, 3, 59, tzinfo=UTC)
    assert bundle.event.rules.max_break_difference == 2
    assert [s.id for s in bundle.slots()] == ["s1", "s2"]
    assert bundle.locations[1].capacity == 500
    assert bundle.locations[0].capacity == 1
    assert bundle.participants[0].name == "Kristina Šermukšnytė-Alešiūnienė"
    second = bundle.wishes[1]
    assert (second.from_, second.to_organisation, second.after) == ("p3", "o1", ["w1"])
    assert bundle.wishes[0].required is False
    assert bundle.wishes[0].separate is False


def test_attendance_defaults_to_onsite_at_a_hybrid_event(example: Doc) -> None:
    bundle = parse_bundle(example)
    assert [p.attendance for p in bundle.participants] == ["onsite", "online", "onsite"]


def test_attendance_defaults_to_online_at_an_online_event(example: Doc) -> None:
    example["event"]["mode"] = "online"
    del example["participants"][0]["attendance"]
    bundle = parse_bundle(example)
    assert [p.attendance for p in bundle.participants] == ["online", "online", "online"]


def test_defaults_of_the_format_apply(example: Doc) -> None:
    del example["event"]["mode"]
    example["wishes"] = [{"id": "w1", "from": "p1", "to": "p2"}]
    bundle = parse_bundle(example)
    assert bundle.event.mode == "onsite"
    assert (bundle.wishes[0].priority, bundle.wishes[0].status) == (2, "accepted")


def test_the_python_name_of_from_is_not_part_of_the_format(example: Doc) -> None:
    example["wishes"][0]["from_"] = example["wishes"][0].pop("from")
    assert problems_of(example) == ["/wishes/0/from: is required"]


def test_unknown_fields_are_ignored(example: Doc) -> None:
    example["event"]["colour"] = "teal"
    example["wishes"][0]["note_from_other_tool"] = {"x": 1}
    bundle = parse_bundle(example)
    assert "colour" not in bundle.event.model_dump()


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(document: Doc) -> None:
        *parents, last = path.strip("/").split("/")
        target: Any = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()


def _second_slot_overlapping(document: Doc) -> None:
    document["sessions"][0]["slots"][1]["start"] = "2024-09-10T09:10"


def _slots_out_of_order(document: Doc) -> None:
    document["sessions"][0]["slots"].append(
        {"id": "s3", "start": "2024-09-10T08:00", "end": "2024-09-10T08:20"}
    )


def _slot_id_twice_across_sessions(document: Doc) -> None:
    document["sessions"].append(
        {"id": "d1-pm", "name": "Day 1 afternoon", "slots": [
            {"id": "s1", "start": "2024-09-10T14:00", "end": "2024-09-10T14:20"}
        ]}
    )  # fmt: skip


def _fixed_slot_outside_session(document: Doc) -> None:
    _slot_id_twice_across_sessions(document)
    document["sessions"][1]["slots"][0]["id"] = "s9"
    document["wishes"][1]["fixed_slot"] = "s9"


def _after_cycle(document: Doc) -> None:
    document["wishes"][0]["after"] = ["w2"]


INVALID: list[tuple[str, Callable[[Doc], None], str]] = [
    ("wrong_format", _set("/format", "matchmaking-bundle/2"),
     "/format: must be 'matchmaking-bundle/1'; got \"matchmaking-bundle/2\""),
    ("bad_slug", _set("/event/slug", "EU Canada"),
     '/event/slug: must be 3-64 lowercase letters, digits or "-", like "eu-canada-2024"; '
     'got "EU Canada"'),
    ("unknown_time_zone", _set("/event/timezone", "Europe/Atlantis"),
     '/event/timezone: unknown time zone "Europe/Atlantis"; use an IANA name like '
     '"Europe/Berlin"'),
    ("registration_close_without_offset",
     _set("/event/registration_closes", "2024-05-28T23:59:00"),
     '/event/registration_closes: must be an RFC 3339 date-time with offset, like '
     '"2024-05-28T23:59:00-04:00"; got "2024-05-28T23:59:00"'),
    ("slot_time_with_offset", _set("/sessions/0/slots/0/start", "2024-09-10T09:00-04:00"),
     '/sessions/0/slots/0/start: must be a local time "YYYY-MM-DDTHH:MM" in the event time '
     'zone, without offset; got "2024-09-10T09:00-04:00"'),
    ("slot_ending_before_it_starts", _set("/sessions/0/slots/0/end", "2024-09-10T08:50"),
     "/sessions/0/slots/0/end: must be after the slot's start"),
    ("overlapping_slots", _second_slot_overlapping,
     '/sessions/0/slots/1/start: slot "s2" overlaps slot "s1" (2024-09-10T09:00–2024-09-10T09:20)'),
    ("slots_of_a_session_out_of_order", _slots_out_of_order,
     '/sessions/0/slots/2/start: slots of a session must be listed in chronological order: '
     '"s3" starts before "s2"'),
    ("duplicate_location_id", _set("/locations/1/id", "t1"),
     '/locations/1/id: duplicate id "t1" (also at /locations/0)'),
    ("slot_id_twice_across_sessions", _slot_id_twice_across_sessions,
     '/sessions/1/slots/0/id: duplicate id "s1" (also at /sessions/0/slots/0)'),
    ("unknown_organisation", _set("/participants/1/organisation", "o9"),
     '/participants/1/organisation: unknown organisation "o9"'),
    ("unknown_host_location", _set("/participants/0/host_location", "t7"),
     '/participants/0/host_location: unknown location "t7"'),
    ("unknown_unavailable_slot", _set("/participants/0/unavailable", ["s2", "s5"]),
     '/participants/0/unavailable/1: unknown slot "s5"'),
    ("wish_to_unknown_participant", _set("/wishes/0/to", "p99"),
     '/wishes/0/to: unknown participant "p99"'),
    ("wish_from_unknown_participant", _set("/wishes/0/from", "p0"),
     '/wishes/0/from: unknown participant "p0"'),
    ("wish_to_unknown_organisation", _set("/wishes/1/to_organisation", "o7"),
     '/wishes/1/to_organisation: unknown organisation "o7"'),
    ("wish_to_both", _set("/wishes/1/to", "p1"),
     '/wishes/1/to_organisation: give exactly one of "to" and "to_organisation"'),
    ("wish_to_nobody", _set("/wishes/0/to", _DELETE),
     '/wishes/0: give exactly one of "to" and "to_organisation"'),
    ("wish_to_oneself", _set("/wishes/0/to", "p1"),
     '/wishes/0/to: "p1" cannot wish to meet themselves'),
    ("wish_to_own_organisation", _set("/wishes/1/from", "p1"),
     '/wishes/1/to_organisation: "o1" is the organisation of the sender "p1" itself'),
    ("unknown_session", _set("/wishes/1/session", "d2-am"),
     '/wishes/1/session: unknown session "d2-am"'),
    ("unknown_fixed_slot", _set("/wishes/1/fixed_slot", "s7"),
     '/wishes/1/fixed_slot: unknown slot "s7"'),
    ("fixed_slot_outside_the_wish_session", _fixed_slot_outside_session,
     '/wishes/1/fixed_slot: slot "s9" is in session "d1-pm", not in the wish\'s session '
     '"d1-am"'),
    ("after_unknown_wish", _set("/wishes/1/after", ["w1", "w8"]),
     '/wishes/1/after/1: unknown wish "w8"'),
    ("after_cycle", _after_cycle,
     '/wishes/0/after: the wishes form a cycle of "after": w1 → w2 → w1'),
    ("priority_out_of_range", _set("/wishes/0/priority", 4),
     "/wishes/0/priority: must be 1, 2 or 3; got 4"),
    ("unknown_status", _set("/wishes/0/status", "maybe"),
     "/wishes/0/status: must be 'accepted', 'requested', 'declined' or 'cancelled'; "
     'got "maybe"'),
    ("capacity_zero", _set("/locations/1/capacity", 0),
     "/locations/1/capacity: must be greater than or equal to 1; got 0"),
    ("negative_cap", _set("/participants/0/max_meetings", -1),
     "/participants/0/max_meetings: must be greater than or equal to 0; got -1"),
    ("negative_break_difference", _set("/event/rules/max_break_difference", -2),
     "/event/rules/max_break_difference: must be greater than or equal to 0; got -2"),
    ("unknown_goal", _set("/event/rules/objective", ["required", "happiness"]),
     "/event/rules/objective/1: must be 'required', 'scheduled', 'fairness', 'breaks' or "
     "'stability'; got \"happiness\""),
    ("goal_twice", _set("/event/rules/objective", ["breaks", "required", "breaks"]),
     '/event/rules/objective/2: "breaks" is listed twice'),
    ("country_not_two_letters", _set("/organisations/0/country", "DNK"),
     '/organisations/0/country: must be a two-letter ISO 3166-1 country code in capitals, '
     'like "DK"; got "DNK"'),
    ("unknown_organisation_kind", _set("/organisations/0/kind", "ngo"),
     "/organisations/0/kind: must be 'cluster', 'company', 'research', 'public' or 'other'; "
     'got "ngo"'),
    ("offer_too_long", _set("/organisations/0/offers", ["ok", "x" * 201]),
     "/organisations/0/offers/1: must have at most 200 characters"),
    ("too_many_seeks", _set("/organisations/0/seeks", [f"s{i}" for i in range(31)]),
     "/organisations/0/seeks: must have at most 30 items after validation, not 31"),
    ("empty_offer", _set("/organisations/0/offers", [""]),
     "/organisations/0/offers/0: must have at least 1 character"),
    ("delegation_too_long", _set("/organisations/0/delegation", "E" * 101),
     "/organisations/0/delegation: must have at most 100 characters"),
    ("cross_delegation_not_boolean", _set("/event/rules/cross_delegation_only", "yes"),
     '/event/rules/cross_delegation_only: must be true or false; got "yes"'),
    ("name_too_long", _set("/participants/1/name", "x" * 301),
     "/participants/1/name: must have at most 300 characters"),
    ("control_character_in_name", _set("/participants/1/name", "Eve\u0007"),
     "/participants/1/name: must not contain control characters (tabs, line breaks, ...)"),
    ("blank_participant_name", _set("/participants/1/name", "  \u200b "),
     "/participants/1/name: must contain a visible character, not only spaces or invisible ones"),
    ("blank_event_name", _set("/event/name", "   "),
     "/event/name: must contain a visible character, not only spaces or invisible ones"),
    ("malformed_email", _set("/participants/0/email", "k at example.org"),
     '/participants/0/email: must be an e-mail address; got "k at example.org"'),
    ("description_too_long", _set("/organisations/0/description", "x" * 20_001),
     "/organisations/0/description: must have at most 20000 characters"),
    ("required_not_a_boolean", _set("/wishes/0/required", "yes"),
     '/wishes/0/required: must be true or false; got "yes"'),
    ("capacity_not_a_whole_number", _set("/locations/1/capacity", 2.5),
     "/locations/1/capacity: must be a whole number; got 2.5"),
    ("location_not_an_object", _set("/locations/1", "video"),
     '/locations/1: must be a JSON object; got "video"'),
    ("unavailable_not_an_array", _set("/participants/0/unavailable", "s2"),
     '/participants/0/unavailable: must be a JSON array; got "s2"'),
    ("missing_name", _set("/participants/1/name", _DELETE), "/participants/1/name: is required"),
    ("string_where_number_belongs", _set("/wishes/0/priority", "1"),
     '/wishes/0/priority: must be 1, 2 or 3; got "1"'),
    ("bad_id", _set("/locations/1/id", "video room"),
     '/locations/1/id: must be an id of 1-64 letters, digits, ".", "_", ":" or "-", starting '
     'with a letter or digit; got "video room"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_bundle_is_refused_with_the_path_of_the_problem(
    example: Doc, change: Callable[[Doc], None], expected: str
) -> None:
    change(example)
    assert problems_of(example) == [expected]


def test_every_problem_is_reported_at_once(example: Doc) -> None:
    example["wishes"][0]["to"] = "p99"
    example["wishes"][1]["priority"] = 0
    example["participants"][2]["organisation"] = "o9"
    example["locations"][0]["kind"] = "desk"

    assert problems_of(example) == [
        "/locations/0/kind: must be 'table', 'room' or 'online'; got \"desk\"",
        '/participants/2/organisation: unknown organisation "o9"',
        '/wishes/0/to: unknown participant "p99"',
        "/wishes/1/priority: must be 1, 2 or 3; got 0",
    ]


def test_problems_are_in_document_order_with_numeric_indexes(example: Doc) -> None:
    example["wishes"] = [
        {"id": f"w{i}", "from": "p1", "to": "p2" if i != 10 else "p77"} for i in range(12)
    ]
    example["wishes"][2]["to"] = "p66"
    assert problems_of(example) == [
        '/wishes/2/to: unknown participant "p66"',
        '/wishes/10/to: unknown participant "p77"',
    ]


def test_json_syntax_error_names_line_and_column(example_bytes: bytes) -> None:
    broken = example_bytes.replace(b'"mode": "hybrid",', b'"mode": "hybrid"', 1)
    assert problems_of(broken) == [
        "/: is not valid JSON: Expecting ',' delimiter at line 9 column 5"
    ]


def test_invalid_utf8_is_refused(example_bytes: bytes) -> None:
    broken = example_bytes.replace("Montréal".encode(), b"Montr\xe9al", 1)
    assert problems_of(broken) == ["/: is not valid UTF-8 (byte 0xe9 at offset 203)"]


def test_absurdly_deep_nesting_is_refused() -> None:
    assert problems_of('{"event": ' + "[" * 100_000 + "]" * 100_000 + "}") == [
        "/: is nested too deeply"
    ]


def test_document_must_be_an_object() -> None:
    assert problems_of("[1, 2]") == ["/: must be a JSON object"]


def test_a_key_twice_in_one_object_is_refused(example: Doc) -> None:
    text = json.dumps(example).replace('"priority": 1,', '"priority": 1, "priority": 3,', 1)
    assert problems_of(text) == ['/: the key "priority" appears twice in one object']


def test_slot_in_a_daylight_saving_gap_is_refused(example: Doc) -> None:
    example["sessions"][0]["slots"] = [
        {"id": "s1", "start": "2024-03-10T02:10", "end": "2024-03-10T02:30"},
        {"id": "s2", "start": "2024-03-10T03:10", "end": "2024-03-10T03:30"},
    ]
    assert problems_of(example) == [
        "/sessions/0/slots/0/end: 2024-03-10T02:30 does not exist in America/Toronto "
        "(clocks jump forward over it)",
        "/sessions/0/slots/0/start: 2024-03-10T02:10 does not exist in America/Toronto "
        "(clocks jump forward over it)",
    ]


def test_too_many_slots_are_refused(example: Doc) -> None:
    example["sessions"][0]["slots"] = [{"id": f"s{i}"} for i in range(10_001)]
    problems = problems_of(example)
    assert (
        problems[0]
        == "/sessions/0/slots: must have at most 10000 items after validation, not 10001"
    )


def test_problem_prints_as_path_and_message() -> None:
    assert str(BundleProblem("/wishes/17/to", 'unknown participant "p99"')) == (
        '/wishes/17/to: unknown participant "p99"'
    )


def test_slots_are_checked_even_when_the_time_zone_is_unknown(example: Doc) -> None:
    example["event"]["timezone"] = "Moon/Base"
    example["sessions"][0]["slots"][1]["end"] = "2024-09-10T09:25"
    assert problems_of(example) == [
        '/event/timezone: unknown time zone "Moon/Base"; use an IANA name like "Europe/Berlin"',
        "/sessions/0/slots/1/end: must be after the slot's start",
    ]


def test_slots_that_are_not_a_list_are_reported_with_the_references_they_break(
    example: Doc,
) -> None:
    example["sessions"][0]["slots"] = 5
    assert problems_of(example) == [
        '/participants/0/unavailable/0: unknown slot "s2"',
        "/sessions/0/slots: must be a JSON array; got 5",
        '/wishes/1/fixed_slot: unknown slot "s1"',
    ]


def test_a_time_zone_name_too_long_for_a_file_name_is_a_problem_not_a_crash(
    example: Doc,
) -> None:
    # ZoneInfo raised OSError ("File name too long"): `POST /api/v1/events/import` answered 500.
    example["event"]["timezone"] = "x" * 10_000
    assert problems_of(example) == ["/event/timezone: must have at most 64 characters"]


def test_time_fields_given_as_datetimes_must_carry_or_lack_an_offset_as_their_kind_says() -> None:
    local, instant = TypeAdapter(LocalDateTime), TypeAdapter(Instant)
    naive, aware = datetime(2024, 9, 10, 9, 0), datetime(2024, 9, 10, 9, 0, tzinfo=UTC)
    assert local.validate_python(naive) == naive
    assert instant.validate_python(aware) == aware
    assert instant.validate_python("2024-09-10t09:00:00z") == aware
    with pytest.raises(ValidationError, match="must be a local time without offset"):
        local.validate_python(aware)
    with pytest.raises(ValidationError, match="must have a UTC offset"):
        instant.validate_python(naive)
    with pytest.raises(ValidationError, match="is not a valid date and time"):
        local.validate_python("2024-13-10T09:00")
