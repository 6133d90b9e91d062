"""solver/ortools_loader.py: the solver loads CP-SAT without pandas, and cp_model's pandas
helpers still work when someone calls them."""

import subprocess
import sys
from pathlib import Path

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


FALLBACK = """
import importlib, importlib.util, sys
# The loader on its own: importing the `solver` package would already have loaded cp_model.
spec = importlib.util.spec_from_file_location("loader", "solver/ortools_loader.py")
ortools_loader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ortools_loader)

real = importlib.import_module
calls = []

def picky(name, *args):
    # An OR-Tools that reads more of pandas while loading than the placeholder offers.
    calls.append(name)
    if name == ortools_loader.CP_MODEL and len(calls) == 1:
        real(name, *args)
        raise AttributeError("module 'pandas' has no attribute 'DataFrame'")
    return real(name, *args)

ortools_loader.importlib.import_module = picky
ortools_loader.load_cp_model()
from ortools.sat.python import cp_model
model = cp_model.CpModel()
x = model.new_bool_var("x")
model.add(x == 1)
solver = cp_model.CpSolver()
asked = calls.count(ortools_loader.CP_MODEL)
print(solver.solve(model) == cp_model.OPTIMAL, "pandas" in sys.modules, asked)
"""


def test_an_or_tools_that_needs_more_of_pandas_is_loaded_plainly() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK], capture_output=True, text=True, check=True, cwd=root
    )
    optimal, pandas_loaded, calls = done.stdout.split()
    assert optimal == "True"
    assert pandas_loaded == "True"  # loaded plainly, with the real pandas
    assert calls == "2"
