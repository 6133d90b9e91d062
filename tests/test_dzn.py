"""The UdG B2B benchmark files convert into valid bundles, as bundle-format.md maps them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matchmaking.bundle.dzn import DznError, convert_dzn, convert_values, parse_dzn
from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.validate import parse_bundle

#: The shared data lies beside the repository (../shared/data/b2b-udg).
UDG = Path(__file__).resolve().parents[2] / "shared" / "data" / "b2b-udg"
INSTANCES = sorted(UDG.glob("*.dzn"))

TINY = """
% two businesses, one table, a morning of two slots and an afternoon of one
nBusiness = 3; nMeetings = 3; nTables = 1;
nTotalSlots = 3; nMorningSlots = 2;
requested = [| 1, 2, 1
             | 2, 3, 3
             | 2, 1, 2 |];
meetingsxBusiness = [{1,2,4}, {1..4}, {1,3}];
nMeetingsBusiness = [2, 3, 1];
forbidden = [{0}, {0, 3}, {}];
fixed = [0, 2, 0];
precedences = [{}, {1}, {1..2}];
"""


def _scalar(path: Path, name: str) -> int:
    match = re.search(rf"\b{name}\s*=\s*(\d+)\s*;", path.read_text())
    assert match, name
    return int(match.group(1))


def test_all_twenty_benchmark_instances_are_there() -> None:
    assert len(INSTANCES) == 20


@pytest.mark.parametrize("path", INSTANCES, ids=[p.stem for p in INSTANCES])
def test_benchmark_instance_converts_into_a_valid_bundle(path: Path) -> None:
    bundle = parse_bundle(convert_dzn(path))

    assert len(bundle.participants) == len(bundle.organisations) == _scalar(path, "nBusiness")
    assert len(bundle.locations) == _scalar(path, "nTables")
    assert len(bundle.wishes) == _scalar(path, "nMeetings")
    assert len(bundle.slots()) == _scalar(path, "nTotalSlots")
    assert len(bundle.sessions[0].slots) == _scalar(path, "nMorningSlots")
    assert all(w.required and w.status == "accepted" for w in bundle.wishes)
    assert bundle.event.rules.objective == ["required", "breaks"]
    assert bundle.event.rules.max_break_difference == 2
    assert len(bundle_to_problem(bundle).wishes) == len(bundle.wishes)


def test_tiny_file_maps_every_field() -> None:
    bundle = parse_bundle(convert_values(parse_dzn(TINY), "tiny"))

    assert [s.id for s in bundle.sessions] == ["am", "pm"]
    assert [slot.id for slot in bundle.sessions[1].slots] == ["s3"]
    assert [(p.id, p.organisation, p.unavailable) for p in bundle.participants] == [
        ("p1", "o1", []), ("p2", "o2", ["s3"]), ("p3", "o3", []),
    ]  # fmt: skip
    assert {o.kind for o in bundle.organisations} == {"company"}
    first, second, third = bundle.wishes
    assert (first.id, first.from_, first.to, first.session) == ("m1", "p1", "p2", "am")
    assert (second.session, second.fixed_slot, second.after) == (None, "s2", ["m1"])
    # The second meeting of the pair p1/p2 (asked the other way round) is held as well.
    assert (third.session, third.separate, third.after) == ("pm", True, ["m1", "m2"])
    assert first.separate is False


def test_converted_slots_have_plausible_times_and_a_lunch_pause() -> None:
    bundle = parse_bundle(convert_values(parse_dzn(TINY), "tiny"))
    times = [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in bundle.slots()]
    assert times == [("09:00", "09:20"), ("09:25", "09:45"), ("10:45", "11:05")]


def test_no_afternoon_session_when_every_slot_is_in_the_morning() -> None:
    text = TINY.replace("nMorningSlots = 2", "nMorningSlots = 3").replace(
        "| 2, 1, 2 |", "| 2, 1, 3 |"
    )
    bundle = parse_bundle(convert_values(parse_dzn(text), "tiny"))
    assert [s.id for s in bundle.sessions] == ["am"]


def test_slug_comes_from_the_file_name() -> None:
    assert convert_dzn(INSTANCES[0])["event"]["slug"] == INSTANCES[0].stem.replace(".", "-")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("nMeetings = 3", "nMeetings = 4"), "nMeetings = 4, but requested lists 3 meetings"),
        (
            ("nMeetingsBusiness = [2, 3, 1]", "nMeetingsBusiness = [2, 2, 1]"),
            "nMeetingsBusiness[2] = 2, but requested lists 3 meetings of business 2",
        ),
        (
            ("{1,2,4}, {1..4}", "{1,2,3}, {1..4}"),
            "meetingsxBusiness[1] disagrees with requested for business 1: missing meetings [3], "
            "extra meetings [2]",
        ),
        (("| 2, 3, 3", "| 2, 4, 3"), "requested row 2: business 4 is not in 1..3"),
        (
            ("forbidden = [{0}, {0, 3}", "forbidden = [{0}, {0, 9}"),
            "forbidden[2]: slot 9 is not in 1..3",
        ),
        (("fixed = [0, 2, 0]", "fixed = [0, 2]"), "fixed: has 2 entries, expected 3"),
        (
            ("precedences = [{}, {1}", "precedences = [{}, {2}"),
            "precedences[2]: meeting 2 is not another meeting in 1..3",
        ),
        (("nTables = 1;", ""), "nTables: missing or not a number"),
        (("nTables = 1;", "nTables = 1 1;"), "line 3: expected ';', found '1'"),
        (("nTables = 1;", "nTables = 1; ?"), "line 3: unexpected character '?'"),
    ],
)  # fmt: skip
def test_inconsistent_file_is_refused_with_a_clear_message(
    change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in TINY
    with pytest.raises(DznError) as caught:
        convert_values(parse_dzn(TINY.replace(old, new, 1)), "tiny")
    assert str(caught.value) == message


def test_dzn_syntax_variants_are_read() -> None:
    values = parse_dzn(
        "a = 3; % comment\nb = {}; c = 2..4; d = [{1, 3..4}, {}]; e = [| 1, 2, | 3, 4, |];"
    )
    assert values == {
        "a": 3,
        "b": frozenset(),
        "c": frozenset({2, 3, 4}),
        "d": [frozenset({1, 3, 4}), frozenset()],
        "e": [[1, 2], [3, 4]],
    }


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DznError, match=r"missing\.dzn: cannot read"):
        convert_dzn(tmp_path / "missing.dzn")
