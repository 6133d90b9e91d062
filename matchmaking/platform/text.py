"""Rules for text people type: what a one-line field may hold, and what counts as visible.

The API refuses names that break these rules; exports use the same rules to write stored
text that predates them (or was written to the database directly) in a form every reader
takes as one line.
"""

from __future__ import annotations

import re
import unicodedata

#: Never in a one-line field: C0 and C1 control characters (tabs, line breaks, NUL, ESC,
#: U+0085) and the Unicode line and paragraph separators U+2028 and U+2029, which many
#: readers (CSV, JavaScript, editors) take for line breaks.
ONE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Never in multi-line text: the same, but tabs and line feeds / carriage returns are allowed.
TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Characters that show nothing: spaces, separators, controls and format characters (bidi
#: controls such as U+202E, zero-width spaces and joiners, U+FEFF).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def has_visible_character(value: str) -> bool:
    """False for text made only of spaces, bidi controls and other invisible characters."""
    return any(unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in value)


def one_line(value: str) -> str:
    """`value` with every forbidden character of a one-line field replaced by a space."""
    return ONE_LINE_FORBIDDEN.sub(" ", value)
