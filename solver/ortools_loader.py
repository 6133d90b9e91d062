"""OR-Tools' CP-SAT module, loaded without pandas.

`ortools.sat.python.cp_model` imports pandas at load time (a quarter to a third of a second,
about a third of the start-up of `matchmaking solve-file`), for its `*_series` helpers only,
which the solver never calls. `load_cp_model` lets it load against a placeholder with the two
names it reads while loading (`pandas.Index` and `pandas.Series`, in type annotations), then
takes the placeholder away again and gives the module a stand-in that imports the real pandas
the first time a series helper asks for it. Nothing changes when pandas or cp_model is loaded
already.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

CP_MODEL = "ortools.sat.python.cp_model"


class _PandasOnFirstUse:
    """Stands for the `pd` name inside cp_model: the real pandas, imported on first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("pandas"), name)


def load_cp_model() -> None:
    if CP_MODEL in sys.modules or "pandas" in sys.modules:
        return
    placeholder = types.ModuleType("pandas")
    placeholder.Index = type("Index", (), {})  # type: ignore[attr-defined]
    placeholder.Series = type("Series", (), {})  # type: ignore[attr-defined]
    sys.modules["pandas"] = placeholder
    try:
        module = importlib.import_module(CP_MODEL)
    except Exception:  # an OR-Tools that reads more of pandas while loading: load it plainly
        for name in [n for n in sys.modules if n.startswith("ortools.sat.python")]:
            del sys.modules[name]
        if sys.modules.get("pandas") is placeholder:
            del sys.modules["pandas"]
        importlib.import_module(CP_MODEL)
        return
    finally:
        if sys.modules.get("pandas") is placeholder:
            del sys.modules["pandas"]
    if getattr(module, "pd", None) is placeholder:
        module.pd = _PandasOnFirstUse()  # type: ignore[attr-defined]
