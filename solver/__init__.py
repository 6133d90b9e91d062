"""Pure optimisation: a `Problem` in, a `Solution` out (see solver/problem.py)."""

from solver.problem import GOALS, Problem, Solution, SolveParameters
from solver.solve import solve

__all__ = ["GOALS", "Problem", "Solution", "SolveParameters", "solve"]
