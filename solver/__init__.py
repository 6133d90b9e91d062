"""Pure optimisation: a `Problem` in, a `Solution` out (see solver/problem.py)."""

from solver.ortools_loader import load_cp_model

load_cp_model()  # before any solver module imports cp_model: see solver/ortools_loader.py

from solver.problem import GOALS, Problem, Solution, SolveParameters  # noqa: E402
from solver.solve import solve  # noqa: E402

__all__ = ["GOALS", "Problem", "Solution", "SolveParameters", "solve"]
