"""The MaxSAT peer of the B2B benchmark: our own MaxSAT encoding, solved by PySAT's RC2.

Benchmark only (the `bench` extra): the product never imports PySAT. `benchmarks/b2b_udg.py
--peer rc2` runs it side by side with our solver, instance after instance in the same command,
and checks every schedule it returns with our checker (`solver/check.py`).

The encoding, from the same `Problem` our solver gets (`convert_dzn` -> bundle -> `Problem`):

- Meetings: one per pair of participants for their wishes that are not `separate` (both
  directions share it), one of its own per `separate` wish. Its slots: those every one of its
  wishes allows (session, fixed slot) that neither participant is unavailable in.
- `x[m, t]`: meeting m is held in slot t. Every wish is required, so each meeting is held
  exactly once (an exactly-one constraint over its slots).
- `busy[p, t]` <=> some meeting of p is held in t, and at most one meeting of p per slot.
- p is busy in exactly as many slots as it has meetings (implied; a totalizer).
- Per slot, the meetings held and the participants busy are each counted in unary both ways
  (`_counts`: "at least j" literals with both halves of a totalizer), and the counts are linked,
  busy >= 2j - 1 <=> busy >= 2j <=> meetings >= j (implied: each meeting makes two
  participants busy). The meetings' count carries the location capacity: at most as many
  meetings in a slot as the locations hold at once.
- Breaks, exactly as `solver/breaks.py` and `solver/check.py` define them: a break of p is a
  maximal run of slots without a meeting of p between two of its meetings on the same day. Per
  participant and day, with the day's slots t_1..t_n in order, `later[p, i]` <=> p meets in
  t_i or after it that day, and `gap[p, i]` <=> busy at t_(i-1), free at t_i and meeting later:
  a break begins at t_i. Each break begins exactly once, so p's breaks are the number of its
  true `gap` literals.
- The objective: p's `gap` literals are counted in unary both ways (`_counts`): `breaks[p, j]`
  <=> p has at least j breaks, j = 1..(its `gap` literals); the soft literals are every
  `not breaks[p, j]`, weight 1, so the cost is the total of breaks. RC2's cores are then over
  "p has a j-th break" rather than over single break starts: a soft `not gap` per possible
  break start (this module before) proved ticf-13crafb and forum-13crafb in none of 25 s, the
  count in 14 and 18 s (CaDiCaL 1.5.3). Counting groups of consecutive meetings instead of
  breaks (the paper's objective; groups = breaks + 1 on a day with a meeting, every UdG
  instance is one day) did no better: 25+ / 20.6 s on those two.
- The fairness cap d, hard: over the participants that hold a meeting, breaks_p <= fewest + d.
  With K the fewest `gap` literals of any of them, literals `fewest >= k` (k = 1..K, each
  implying the one below) give `fewest >= k` -> breaks_p >= k and not `fewest >= k+1` ->
  breaks_p <= k + d for every such participant: satisfiable exactly when the most breaks are
  at most the fewest + d (K = 0: breaks_p <= d). It uses the objective's counts: no two "at
  most" totalizers per participant and level as before (forum-14: 174,000 clauses of 683,000).

Only what the benchmark's events use is encoded: every wish required and addressed to a
person, onsite tables, no `after` rules, caps, delegations, online participants or host
locations; anything else raises `Unsupported`.

Run as a script, it solves one bundle and prints the result as JSON on its last line
(`solve_rc2` runs it in a process of its own and kills it at the time limit):

    .venv/bin/python benchmarks/b2b_maxsat.py BUNDLE.json
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from solver.check import meeting_kind  # noqa: E402
from solver.problem import Meeting, Problem, slots_by_day  # noqa: E402

#: RC2 (verbose 2) prints its cost so far, a lower bound, on each core it relaxes ("c cost: N;
#: core sz: ...") and after its preprocessing ("c unit cores found: ...; cost: N").
_COST = re.compile(r"^c .*?cost: (\d+)", re.MULTILINE)


#: The SAT solver under RC2: CaDiCaL 1.5.3. With this encoding (5 Dec, single runs of 25 s) it
#: proved tic-13crafc in 9-10 s and forum-14 in 12-16 s, where Glucose 3 (RC2's default, kept
#: before) proved neither; Glucose 4, MapleChrono and MiniSat-GH not tic-13crafc either, and
#: CaDiCaL 1.9.5 ("cd19") reached no bound on forum-14 (the reason it was dropped before: with
#: the older encoding it proved none of the first seven instances in a full run).
SAT_SOLVER = "cd15"
#: RC2's options (see `solve_in_process`).
RC2_OPTIONS: dict[str, Any] = {"adapt": True, "exhaust": True, "minz": True}
#: RC2Stratified instead of RC2 (only matters with weights other than 1).
STRATIFIED = False


class Unsupported(ValueError):
    """A rule of the problem this encoding leaves out."""


@dataclass
class PeerMeeting:
    wishes: tuple[str, ...]
    #: (sender of the first wish, the other participant), as `solver.problem.Meeting` orders.
    participants: tuple[str, str]
    #: Slot indices (into `Problem.slots`) it may be held in.
    slots: list[int]


@dataclass
class Encoding:
    problem: Problem
    meetings: list[PeerMeeting]
    #: (meeting index, slot index) -> variable.
    held: dict[tuple[int, int], int]
    #: participant -> its `gap` literals (one true literal per break).
    gaps: dict[str, list[int]]
    hard: list[list[int]] = field(default_factory=list)
    soft: list[int] = field(default_factory=list)
    #: participant -> unary count of its breaks (`_counts` of its `gap` literals).
    counts: dict[str, list[int]] = field(default_factory=dict)
    top: int = 0


def group_meetings(problem: Problem) -> list[PeerMeeting]:
    """The meetings every schedule holds (all wishes required), with their possible slots."""
    if problem.cross_delegation_only or problem.max_meetings_per_participant is not None:
        raise Unsupported("delegations and meeting caps are not encoded")
    if problem.max_meetings_total is not None:
        raise Unsupported("a cap on the event's meetings is not encoded")
    people = {p.id: p for p in problem.participants}
    for person in people.values():
        if person.online or person.host_location or person.max_meetings is not None:
            raise Unsupported(f"participant {person.id}: online, host or cap not encoded")
    if any(location.kind == "online" for location in problem.locations):
        raise Unsupported("online locations are not encoded")
    shared: dict[frozenset[str], list[str]] = {}
    groups: list[list[str]] = []
    wishes = {w.id: w for w in problem.wishes}
    for wish in problem.wishes:
        if not wish.required or wish.recipient is None or wish.after:
            raise Unsupported(f"wish {wish.id}: only required wishes to a person are encoded")
        if wish.separate:
            groups.append([wish.id])
            continue
        pair = frozenset((wish.sender, wish.recipient))
        if pair not in shared:
            shared[pair] = []
            groups.append(shared[pair])
        shared[pair].append(wish.id)
    meetings = []
    for ids in groups:
        first = wishes[ids[0]]
        assert first.recipient is not None
        a, b = people[first.sender], people[first.recipient]
        slots = [
            t
            for t, slot in enumerate(problem.slots)
            if slot.id not in a.unavailable
            and slot.id not in b.unavailable
            and all(
                (wishes[w].session is None or wishes[w].session == slot.session)
                and (wishes[w].fixed_slot is None or wishes[w].fixed_slot == slot.id)
                for w in ids
            )
        ]
        meetings.append(PeerMeeting(tuple(ids), (a.id, b.id), slots))
    return meetings


def encode(problem: Problem) -> Encoding:
    """The weighted CNF of the problem (see the module docstring): hard clauses and the soft
    literals (`not gap`, weight 1 each)."""
    from pysat.card import CardEnc, EncType

    meetings = group_meetings(problem)
    enc = Encoding(problem, meetings, {}, {})

    def new() -> int:
        enc.top += 1
        return enc.top

    def add_card(clauses: list[list[int]], top: int) -> None:
        enc.hard.extend(clauses)
        enc.top = max(enc.top, top)

    for m, meeting in enumerate(meetings):
        for t in meeting.slots:
            enc.held[m, t] = new()
    for m, meeting in enumerate(meetings):
        literals = [enc.held[m, t] for t in meeting.slots]
        if not literals:
            enc.hard.append([])  # a meeting without a possible slot: no schedule
            continue
        card = CardEnc.equals(literals, 1, top_id=enc.top, encoding=EncType.ladder)
        add_card(card.clauses, card.nv)

    # Busy literals, one meeting per participant and slot.
    of_person: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    at_slot: dict[int, list[int]] = defaultdict(list)
    for (m, t), var in enc.held.items():
        for person in meetings[m].participants:
            of_person[person][t].append(var)
        at_slot[t].append(var)
    busy: dict[str, dict[int, int]] = {}
    for person, by_slot in of_person.items():
        busy[person] = {}
        for t, literals in by_slot.items():
            b = new()
            busy[person][t] = b
            enc.hard.append([-b, *literals])
            enc.hard.extend([-x, b] for x in literals)
            if len(literals) > 1:
                card = CardEnc.atmost(literals, 1, top_id=enc.top, encoding=EncType.ladder)
                add_card(card.clauses, card.nv)

    # Implied (as in the paper's encoding): p is busy in exactly as many slots as it has
    # meetings.
    own_meetings: dict[str, int] = defaultdict(int)
    for meeting in meetings:
        for person in meeting.participants:
            own_meetings[person] += 1
    for person, busy_by_slot in busy.items():
        literals = list(busy_by_slot.values())
        if own_meetings[person] < len(literals):
            card = CardEnc.equals(
                literals, own_meetings[person], top_id=enc.top, encoding=EncType.kmtotalizer
            )
            add_card(card.clauses, card.nv)
    capacity = sum(location.capacity for location in problem.locations)
    # Per slot, the meetings held and the participants busy, each counted in unary both ways
    # (`_counts`), and linked: at least 2j - 1 (so 2j) busy <=> at least j meetings. The
    # meetings' count carries the tables' capacity. A one-way "at most" totalizer on each
    # side alone was far weaker (tic-14crafa, optimum 0: 20.8 s against 3.5 s linked).
    busy_at: dict[int, list[int]] = defaultdict(list)
    for busy_by_slot in busy.values():
        for t, b in busy_by_slot.items():
            busy_at[t].append(b)
    for t, literals in at_slot.items():
        held = _counts(enc, new, literals, capacity + 1)
        if len(held) > capacity:
            enc.hard.append([-held[capacity]])
        people = _counts(enc, new, busy_at[t], 2 * len(held) + 1)
        for j, at_least in enumerate(people):
            # at least j + 1 busy <=> at least j // 2 + 1 meetings
            if j // 2 < len(held):
                enc.hard += [[-at_least, held[j // 2]], [at_least, -held[j // 2]]]
            else:
                enc.hard.append([-at_least])

    for person, own in busy.items():
        enc.gaps[person] = []
        for day in slots_by_day(problem):
            if sum(1 for t in day if t in own) >= 2:
                enc.gaps[person] += _day_gaps(enc, new, [own.get(t) for t in day])
    # The objective on each participant's count of breaks, not on its `gap` literals: a core
    # is then "one of these participants has a break" (or a second one), where with a soft
    # `not gap` per possible break start it was one of all their possible starts.
    enc.counts = {p: _counts(enc, new, gaps, len(gaps)) for p, gaps in enc.gaps.items()}
    enc.soft = [-c for count in enc.counts.values() for c in count]
    if problem.max_break_difference is not None:
        _cap_difference(enc, new, problem.max_break_difference)
    return enc


def _counts(enc: Encoding, new: Any, literals: list[int], most: int) -> list[int]:
    """Unary count of `literals`, both ways: `out[j]` <=> at least j + 1 of them are true, for
    j < min(len, most) (a totalizer with its "at most" half as well as its "at least" half)."""
    if len(literals) <= 1:
        return list(literals)
    half = len(literals) // 2
    left = _counts(enc, new, literals[:half], most)
    right = _counts(enc, new, literals[half:], most)
    out = [new() for _ in range(min(len(left) + len(right), most))]
    for i in range(len(left) + 1):
        for j in range(len(right) + 1):
            # at least i on the left and j on the right -> at least i + j
            if 0 < i + j <= len(out):
                up = [-left[i - 1]] if i else []
                up += [-right[j - 1]] if j else []
                enc.hard.append([*up, out[i + j - 1]])
            # at most i on the left and j on the right -> at most i + j
            if i + j < len(out):
                down = [left[i]] if i < len(left) else []
                down += [right[j]] if j < len(right) else []
                enc.hard.append([*down, -out[i + j]])
    return out


def _day_gaps(enc: Encoding, new: Any, busy: list[int | None]) -> list[int]:
    """The `gap` literals of one participant's day (`busy[i]` None: never busy in slot i)."""
    n = len(busy)
    later: list[int | None] = [None] * (n + 1)  # None: false
    for i in range(n - 1, -1, -1):
        here, after = busy[i], later[i + 1]
        if here is None:
            later[i] = after
        elif after is None:
            later[i] = here
        else:
            z = new()
            enc.hard += [[-z, here, after], [-here, z], [-after, z]]
            later[i] = z
    gaps = []
    for i in range(1, n):
        before, here, after = busy[i - 1], busy[i], later[i + 1] if i + 1 <= n else None
        if before is None or after is None:
            continue  # nobody meets right before, or nothing follows: no break starts here
        g = new()
        # g <=> before and not here and after (here None: never busy there, so free).
        enc.hard += [[-g, before], [-g, after]]
        if here is None:
            enc.hard.append([g, -before, -after])
        else:
            enc.hard += [[-g, -here], [g, -before, here, -after]]
        gaps.append(g)
    return gaps


def _cap_difference(enc: Encoding, new: Any, d: int) -> None:
    """breaks_p <= fewest + d for every participant that holds a meeting (module docstring),
    on one unary count of each participant's `gap` literals (`_counts`)."""
    # Every wish is required, so the participants that hold a meeting are those with one.
    counts = [enc.counts.get(p, []) for p in {p for m in enc.meetings for p in m.participants}]
    if not counts:
        return
    most_fewest = min(len(count) for count in counts)
    # fewest[k - 1] is "fewest >= k", k = 1..most_fewest.
    fewest = [new() for _ in range(most_fewest)]
    for k in range(1, most_fewest):
        enc.hard.append([-fewest[k], fewest[k - 1]])
    for count in counts:
        for k in range(1, most_fewest + 1):
            enc.hard.append([-fewest[k - 1], count[k - 1]])  # fewest >= k -> breaks >= k
        for k in range(most_fewest + 1):
            if k + d < len(count):
                # fewest <= k (not "fewest >= k + 1") -> breaks <= k + d
                unless = [fewest[k]] if k < most_fewest else []
                enc.hard.append([*unless, -count[k + d]])


def decode(enc: Encoding, model: list[int]) -> list[Meeting]:
    """The schedule of a model: each meeting in its slot, tables handed out slot by slot."""
    true = {v for v in model if v > 0}
    problem = enc.problem
    people = {p.id: p for p in problem.participants}
    tables = [loc.id for loc in problem.locations for _ in range(loc.capacity)]
    used: dict[int, int] = defaultdict(int)
    meetings = []
    for m, meeting in enumerate(enc.meetings):
        t = next(t for t in meeting.slots if enc.held[m, t] in true)
        a, b = meeting.participants
        meetings.append(
            Meeting(
                wishes=meeting.wishes,
                slot=problem.slots[t].id,
                location=tables[used[t]],
                participants=(a, b),
                kind=meeting_kind(people[a], people[b]),
            )
        )
        used[t] += 1
    return meetings


@dataclass
class PeerResult:
    #: "optimal", "infeasible" or "unknown" (killed at the time limit).
    status: str
    breaks: int | None
    #: The lower bound RC2 had reached (its cost so far), None before its first core.
    bound: int | None
    meetings: list[Meeting]
    seconds: float
    cpu_seconds: float
    variables: int = 0
    clauses: int = 0


def solve_in_process(problem: Problem, verbose: int = 0) -> dict[str, Any]:
    """Encode and solve with RC2 (one thread) in this process; the result as a JSON-able dict."""
    from pysat.examples.rc2 import RC2
    from pysat.formula import WCNF

    enc = encode(problem)
    wcnf = WCNF()
    for clause in enc.hard:
        wcnf.append(clause)
    for literal in enc.soft:
        wcnf.append([literal], weight=1)
    print(f"c encoded: {enc.top} variables, {len(enc.hard)} hard clauses", flush=True)
    from pysat.examples.rc2 import RC2Stratified

    kind = RC2Stratified if STRATIFIED else RC2
    with kind(wcnf, solver=SAT_SOLVER, verbose=verbose, **RC2_OPTIONS) as rc2:
        model = rc2.compute()
        cost = rc2.cost
    result: dict[str, Any] = {"variables": enc.top, "clauses": len(enc.hard)}
    if model is None:
        return {**result, "status": "infeasible", "breaks": None, "meetings": []}
    meetings = decode(enc, list(model))
    return {
        **result,
        "status": "optimal",
        "breaks": cost,
        "meetings": [
            {
                "wishes": list(m.wishes),
                "slot": m.slot,
                "location": m.location,
                "participants": list(m.participants),
                "kind": m.kind,
            }
            for m in meetings
        ],
    }


def solve_rc2(bundle: Path, time_limit: float) -> PeerResult:
    """Solve the bundle file in a process of its own (start-up included in the wall time),
    killed at `time_limit` seconds of wall time."""
    command = [sys.executable, "-u", str(Path(__file__).resolve()), str(bundle)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    ) as process:
        try:
            out, err = process.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    costs = [int(c) for c in _COST.findall(out)]
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        if process.returncode not in (0, -9):
            raise RuntimeError(f"the MaxSAT peer failed ({process.returncode}): {err[-2000:]}")
        return PeerResult("unknown", None, max(costs, default=None), [], seconds, cpu)
    answer = json.loads(lines[-1])
    meetings = meetings_of(answer)
    breaks = answer["breaks"]
    return PeerResult(
        answer["status"],
        breaks,
        breaks,
        meetings,
        seconds,
        cpu,
        answer["variables"],
        answer["clauses"],
    )


def meetings_of(document: dict[str, Any]) -> list[Meeting]:
    """The meetings a schedule document or the peer's answer lists, as the solver's; `kind`
    is B2B where left out (schedules of older trees)."""
    return [
        Meeting(
            wishes=tuple(m["wishes"]),
            slot=m["slot"],
            location=m["location"],
            participants=(m["participants"][0], m["participants"][1]),
            kind=m.get("kind", "B2B"),
        )
        for m in document["meetings"]
    ]


def main() -> int:
    from matchmaking.bundle.problem import bundle_to_problem
    from matchmaking.bundle.validate import parse_bundle

    problem = bundle_to_problem(parse_bundle(Path(sys.argv[1]).read_bytes()))
    result = solve_in_process(problem, verbose=int(os.environ.get("B2B_MAXSAT_VERBOSE", "2")))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
