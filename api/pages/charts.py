"""Small server-side SVG charts (no JavaScript, no external library): bars and lines.

Every label is escaped; each chart carries a <title> and <desc> for screen readers and
the pages also show the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 40


def _frame(title: str, description: str, body: str, width: int = WIDTH) -> Markup:
    # title and description are escaped here; body is SVG markup this module builds from
    # numbers and escaped labels.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {width} {HEIGHT}" width="{width}" '
        f'height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{width - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#4a5360"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#4a5360"/>'
        f"{body}</svg>"
    )


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    maximum: float | None = None,
    description: str = "",
    titles: Sequence[str] = (),
) -> Markup:
    """Vertical bars with a label under each (labels thinned out when there are many); a
    bar's tooltip says `titles[i]` (default: its label)."""
    if not bars:
        return Markup("")
    top = max(maximum or 0, *(v for _, v in bars), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(bars)
    # Labels never overlap: every n-th bar is labelled, n from the longest label's width.
    label_width = 7 * max(len(label) for label, _ in bars) + 8
    every = max(1, math.ceil(label_width / step))
    parts = [
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{_number(top)}</text>'
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end">0</text>'
    ]
    if maximum:
        y = TOP + plot_h * (1 - maximum / top)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#a4161a" stroke-dasharray="4 3"/>'
        )
    for i, (label, value) in enumerate(bars):
        h = plot_h * value / top
        x = LEFT + i * step
        parts.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.8:.1f}" '
            f'height="{h:.1f}" fill="#0b5cad">'
            f"<title>{escape(titles[i] if titles else label)}: {_number(value)}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    return _frame(title, description or title, "".join(parts))


def line_chart(
    title: str,
    series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]],
    description: str = "",
) -> Markup:
    """Lines over time: (name, colour, [(x, y), ...]) each, with a small legend."""
    points = [p for _, _, values in series for p in values]
    if not points:
        return Markup("")
    x_max = max(x for x, _ in points) or 1.0
    y_min = min(y for _, y in points)
    y_max = max(y for _, y in points)
    if y_max == y_min:
        y_max = y_min + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(x: float, y: float) -> str:
        px = LEFT + plot_w * x / x_max
        py = TOP + plot_h * (1 - (y - y_min) / (y_max - y_min))
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{_number(y_max)}</text>',
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end">{_number(y_min)}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end">'
        f"{x_max:.1f} s</text>",
    ]
    for n, (name, colour, values) in enumerate(series):
        if values:
            path = " ".join(xy(x, y) for x, y in values)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            # Dots too: a short search may report a single point.
            for x, y in values[-50:]:
                cx, cy = xy(x, y).split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        parts.append(
            f'<rect x="{LEFT + 10 + n * 120}" y="{HEIGHT - 14}" width="12" height="4" '
            f'fill="{colour}"/><text x="{LEFT + 26 + n * 120}" y="{HEIGHT - 10}">'
            f"{escape(name)}</text>"
        )
    return _frame(title, description or title, "".join(parts))


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


#: The goals a solve optimises one after the other, in words, and whether more is better.
GOALS = {
    "required": ("Required meetings", "placing every required meeting", True),
    "scheduled": ("Met wishes", "weighted number of met wishes (higher is better)", True),
    "fairness": (
        "Fairness",
        "share of wishes met for the least-served participant (higher is better)",
        True,
    ),
    "breaks": ("Breaks", "idle breaks between meetings (lower is better)", False),
    "stability": (
        "Stability",
        "published meetings moved or cancelled (lower is better)",
        False,
    ),
}


def goal_label(goal: str) -> str:
    return GOALS.get(goal, (goal.replace("_", " ").capitalize(), "", True))[0]


def goal_description(goal: str) -> str:
    return GOALS.get(goal, ("", goal.replace("_", " "), True))[1]


def progress_goal(history: Sequence[Sequence[Any]]) -> str:
    """The goal of the newest report (a lexicographic solve optimises one goal after another)."""
    rows = [r for r in history if len(r) >= 4 and r[2] is not None]
    return str(rows[-1][1]) if rows else ""


def progress_stages(history: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Each goal the search worked on, in order: its name in words, what it measures, the
    latest value found and proven bound, and its (elapsed, value, bound) points."""
    stages: dict[str, dict[str, Any]] = {}
    for row in history:
        if len(row) < 4 or row[2] is None:
            continue
        goal = str(row[1])
        stage = stages.setdefault(
            goal,
            {
                "goal": goal,
                "label": goal_label(goal),
                "description": goal_description(goal),
                "points": [],
            },
        )
        stage["points"].append(
            (float(row[0]), float(row[2]), float(row[3]) if row[3] is not None else None)
        )
    for stage in stages.values():
        _, value, bound = stage["points"][-1]
        stage["value"], stage["bound"] = value, bound
        stage["proven"] = bound is not None and abs(value - bound) < 1e-9
    return list(stages.values())


def progress_series(history: Sequence[Sequence[Any]]) -> list[tuple[float, float, float | None]]:
    """The newest goal's (elapsed, best, bound) points from a job's progress history."""
    goal = progress_goal(history)
    stages = [s for s in progress_stages(history) if s["goal"] == goal]
    return stages[0]["points"] if stages else []


def stage_chart(stage: dict[str, Any]) -> Markup:
    points = stage["points"]
    return line_chart(
        f"{stage['label']}: {stage['description']}",
        [
            ("best found", "#0b5cad", [(t, b) for t, b, _ in points]),
            ("proven bound", "#a4161a", [(t, d) for t, _, d in points if d is not None]),
        ],
        f"{stage['label']} ({stage['description']}): the best value found and the proven "
        "bound over the elapsed seconds of the solve.",
    )


def progress_chart(history: Sequence[Sequence[Any]]) -> Markup:
    """One chart per stage (goal) of the solve, in the order they ran."""
    return Markup("").join(
        Markup('<figure class="stage"><figcaption>{}</figcaption>{}</figure>').format(
            f"Stage {n}: {stage['label']}", stage_chart(stage)
        )
        for n, stage in enumerate(progress_stages(history), start=1)
    )
