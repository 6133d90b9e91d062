"""solver/ortools_loader.py: the solver loads CP-SAT without pandas, and cp_model's pandas
helpers still work when someone calls them."""

import subprocess
import sys

SCRIPT = """
import sys
import solver
from solver.problem import Problem
import matchmaking.bundle.validate
print("pandas" in sys.modules, "sqlalchemy" in sys.modules)
from ortools.sat.python import cp_model
model = cp_model.CpModel()
import pandas
series = model.new_bool_var_series("x", pandas.Index(range(3)))
print(type(series).__name__, len(series))
"""


def test_solver_loads_without_pandas_and_the_series_helpers_still_work() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:2] == ["False False", "Series 3"]
