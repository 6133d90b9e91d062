"""`solve-file BUNDLE --replan-from SCHEDULE.json`: a schedule document as the published one,
and the solver's start of a re-plan (solver/replan.py) on its own."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.validate import parse_bundle
from matchmaking.commands.cli import app
from solver import SolveParameters, solve
from solver.check import check
from solver.problem import Meeting
from solver.replan import as_solution, kept_published
from tests.test_replan import small_fair

runner = CliRunner()
DETERMINISTIC = ["--deterministic", "--time-limit", "20", "--no-progress"]


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _places(schedule: dict[str, Any]) -> dict[tuple[str, ...], tuple[str, str]]:
    return {tuple(m["wishes"]): (m["slot"], m["location"]) for m in schedule["meetings"]}


def _published(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    bundle = _write(tmp_path / "bundle.json", small_fair())
    out = tmp_path / "published.json"
    result = runner.invoke(app, ["solve-file", str(bundle), "-o", str(out), *DETERMINISTIC])
    assert result.exit_code == 0, result.output
    return out, json.loads(out.read_text())


def test_replanning_an_unchanged_bundle_from_its_schedule_keeps_every_meeting(
    tmp_path: Path,
) -> None:
    published, before = _published(tmp_path)
    out = tmp_path / "again.json"
    result = runner.invoke(
        app,
        ["solve-file", str(tmp_path / "bundle.json"), "--replan-from", str(published),
         "-o", str(out), "--time-limit", "3", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    after = json.loads(out.read_text())
    assert after["objective"]["moved"] == 0
    assert _places(after).items() >= _places(before).items()
    assert "0 of them dropped" in result.output


def test_a_replan_of_a_changed_bundle_drops_what_no_longer_exists_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    published, before = _published(tmp_path)
    changed = copy.deepcopy(small_fair())
    # Person 1 cancelled, the last slot and table 2 are gone, one wish was declined.
    changed["participants"] = [p for p in changed["participants"] if p["id"] != "p1"]
    changed["wishes"] = [w for w in changed["wishes"] if "p1" not in (w["from"], w["to"])]
    changed["sessions"][0]["slots"] = changed["sessions"][0]["slots"][:-1]
    changed["locations"] = changed["locations"][:1]
    declined = next(
        m["wishes"][0]
        for m in before["meetings"]
        if "p1" not in m["participants"] and m["slot"] != "s5" and m["location"] == "t1"
    )
    next(w for w in changed["wishes"] if w["id"] == declined)["status"] = "declined"
    bundle = _write(tmp_path / "changed.json", changed)
    out = tmp_path / "replanned.json"
    result = runner.invoke(
        app,
        ["solve-file", str(bundle), "--replan-from", str(published), "-o", str(out),
         "--time-limit", "5", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "participant p1 no longer exists" in result.output
    assert "slot s5 no longer exists" in result.output
    assert "location t2 no longer exists" in result.output
    assert "none of its wishes is still accepted" in result.output
    survivors = {
        tuple(m["wishes"]): (m["slot"], m["location"])
        for m in before["meetings"]
        if declined not in m["wishes"]
        and "p1" not in m["participants"]
        and m["slot"] != "s5"
        and m["location"] == "t1"
    }
    assert survivors  # the change leaves meetings to keep
    replanned = json.loads(out.read_text())
    # Never worse than the surviving meetings; one of them gives way only to a wish of a
    # higher priority that lost its slot or table (here the room is smaller).
    weight = {w["id"]: {1: 3, 2: 2, 3: 1}[w.get("priority", 2)] for w in changed["wishes"]}
    kept_weight = sum(weight[w] for wishes in survivors for w in wishes)
    assert replanned["objective"]["scheduled_weight"] >= kept_weight
    after = _places(replanned)
    for wishes, place in survivors.items():
        if after.get(wishes) != place:
            taken = [m for m in replanned["meetings"] if (m["slot"], m["location"]) == place]
            assert taken, (wishes, place)
            assert sum(weight[w] for w in taken[0]["wishes"]) > sum(weight[w] for w in wishes), (
                wishes,
                place,
                taken,
            )


def test_a_replan_of_a_bundle_where_people_left_keeps_every_other_meeting_in_place(
    tmp_path: Path,
) -> None:
    published, before = _published(tmp_path)
    changed = copy.deepcopy(small_fair())
    changed["participants"] = [p for p in changed["participants"] if p["id"] != "p1"]
    changed["wishes"] = [w for w in changed["wishes"] if "p1" not in (w["from"], w["to"])]
    bundle = _write(tmp_path / "changed.json", changed)
    out = tmp_path / "replanned.json"
    result = runner.invoke(
        app,
        ["solve-file", str(bundle), "--replan-from", str(published), "-o", str(out),
         "--time-limit", "5", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    survivors = {
        tuple(m["wishes"]): (m["slot"], m["location"])
        for m in before["meetings"]
        if "p1" not in m["participants"]
    }
    after = _places(json.loads(out.read_text()))
    # Someone leaving only frees room: every other meeting stays where it was.
    assert {w: after.get(w) for w in survivors} == survivors


def test_a_schedule_file_that_cannot_be_replanned_from_is_refused_with_exit_2(
    tmp_path: Path,
) -> None:
    bundle = _write(tmp_path / "bundle.json", small_fair())
    cases = {
        "not-json.json": ("{", "is not JSON"),
        "other-event.json": (
            json.dumps({"format": "matchmaking-schedule/1", "event": "elsewhere",
                        "status": "feasible", "solve_seconds": 1}),
            'event: the schedule is of event "elsewhere"',
        ),
        "bad-meeting.json": (
            json.dumps({"format": "matchmaking-schedule/1", "event": "small-fair",
                        "status": "feasible", "solve_seconds": 1,
                        "meetings": [{"wishes": [], "slot": "s1", "location": "t1",
                                      "participants": ["p0", "p1"], "kind": "B2B"}]}),
            "meetings.0.wishes",
        ),
    }  # fmt: skip
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        out = tmp_path / f"out-{name}"
        result = runner.invoke(
            app, ["solve-file", str(bundle), "--replan-from", str(path), "-o", str(out)]
        )
        assert result.exit_code == 2, (name, result.output)
        assert message in result.output, (name, result.output)
        assert not out.exists()
    alone = runner.invoke(app, ["solve-file", str(bundle), "--move-published"])
    assert alone.exit_code == 2
    assert "--move-published: only with --replan-from" in alone.output


# --- the solver's start -----------------------------------------------------------------------


def _problem_with_published() -> tuple[Any, list[Meeting]]:
    problem = bundle_to_problem(parse_bundle(small_fair()))
    first = solve(problem, SolveParameters(time_limit_seconds=20, deterministic=True))
    return problem, first.meetings


def test_the_start_keeps_published_meetings_that_still_fit_and_leaves_out_the_rest() -> None:
    problem, meetings = _problem_with_published()
    # Person 0 can no longer come to the first slot of their meetings.
    theirs = next(m for m in meetings if "p0" in m.participants)
    people = tuple(
        dataclasses.replace(p, unavailable=frozenset({theirs.slot})) if p.id == "p0" else p
        for p in problem.participants
    )
    replan = dataclasses.replace(problem, participants=people, published=tuple(meetings))
    kept = kept_published(replan)
    assert theirs not in kept
    assert len(kept) == len(meetings) - 1
    assert check(replan, as_solution(replan, kept)).violations == []


def test_a_replan_with_almost_no_time_is_never_worse_than_the_published_schedule() -> None:
    problem, meetings = _problem_with_published()
    published_weight = sum(
        {1: 3, 2: 2, 3: 1}[w.priority]
        for w in problem.wishes
        if any(w.id in m.wishes for m in meetings)
    )
    replan = dataclasses.replace(
        problem,
        published=tuple(meetings),
        objective=("required", "scheduled", "stability", "fairness", "breaks"),
    )
    solution = solve(replan, SolveParameters(time_limit_seconds=0.05, workers=1))
    assert solution.status in ("optimal", "feasible")
    assert solution.objective["scheduled_weight"] >= published_weight
    assert solution.objective["moved"] == 0
    assert check(replan, solution).violations == []
