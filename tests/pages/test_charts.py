"""Server-side SVG charts: escaped labels, the progress of the goal that took the search."""

from __future__ import annotations

from api.pages.charts import bar_chart, progress_chart, progress_goal, progress_series


def test_bar_chart_escapes_labels_and_marks_the_capacity() -> None:
    svg = str(bar_chart("Use <per> slot", [("<s1>", 2), ("s2", 0)], maximum=3))
    assert "<s1>" not in svg and "&lt;s1&gt;" in svg
    assert "<title>Use &lt;per&gt; slot</title>" in svg
    assert 'stroke-dasharray="4 3"' in svg  # the capacity line
    assert svg.count("<rect") == 2


def test_progress_chart_follows_the_goal_with_most_reports() -> None:
    history = [
        [0.1, "scheduled", 10, 20],
        [0.2, "scheduled", 15, 18],
        [0.4, "scheduled", 17, 17],
        [0.5, "breaks", 4, 0],
    ]
    assert progress_goal(history) == "scheduled"
    assert progress_series(history) == [(0.1, 10.0, 20.0), (0.2, 15.0, 18.0), (0.4, 17.0, 17.0)]
    svg = str(progress_chart(history))
    assert "Search progress (scheduled)" in svg and svg.count("<polyline") == 2
    assert str(progress_chart([])) == ""
