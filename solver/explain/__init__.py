"""Why a wish was not scheduled, and which required wishes conflict, derived from the rules.

`explain_unscheduled` (reasons.py) asks, for every accepted wish a schedule leaves out, the exact
question "could this wish be added to this schedule with every other meeting left where it
is?" and names the rule that says no. With the other meetings fixed, that question decomposes
per candidate (partner, slot): the slot is blocked by the participants' own meetings, by the
full locations, by the `after` order, or it is free, and then only the caps and the break limit
can refuse it. Answering it by direct reasoning is exact and takes microseconds per wish, so no
solver call is needed even for partnering fairs with thousands of unscheduled wishes. The
schedule it reasons on is a `Timetable` (timetable.py), which greedy and re-plan share.

`find_conflicts` (conflicts.py) explains an infeasible event: a CP-SAT feasibility model of the
required wishes only (required_model.py), with one assumption literal per required wish and per
rule instance (a participant's cap, its unavailability, a wish's fixed slot or session, an
`after` order, the location capacity, the event cap). CP-SAT's
`SufficientAssumptionsForInfeasibility` gives a core, which deletion-based minimisation shrinks
to a small set where every member matters.
"""

from solver.explain.conflicts import find_conflicts
from solver.explain.reasons import explain_unscheduled
from solver.explain.timetable import Timetable, any_suitable_location, static_slots, wish_weight

__all__ = [
    "Timetable",
    "any_suitable_location",
    "explain_unscheduled",
    "find_conflicts",
    "static_slots",
    "wish_weight",
]
