"""Server-side SVG charts: escaped labels, the progress of the goal that took the search."""

from __future__ import annotations

from api.pages.charts import (
    bar_chart,
    progress_chart,
    progress_goal,
    progress_series,
    progress_stages,
)


def test_bar_chart_escapes_labels_and_marks_the_capacity() -> None:
    svg = str(bar_chart("Use <per> slot", [("<s1>", 2), ("s2", 0)], maximum=3))
    assert "<s1>" not in svg
    assert "&lt;s1&gt;" in svg
    assert "<title>Use &lt;per&gt; slot</title>" in svg
    assert 'stroke-dasharray="4 3"' in svg  # the capacity line
    assert svg.count("<rect") == 2


def test_progress_keeps_a_chart_for_every_stage_with_the_goal_in_words() -> None:
    history = [
        [0.1, "scheduled", 10, 20],
        [0.2, "scheduled", 15, 18],
        [0.4, "scheduled", 17, 17],
        [0.5, "breaks", 4, 0],
        [0.9, "breaks", 2, 1],
    ]
    assert progress_goal(history) == "breaks"  # the stage running now
    assert progress_series(history) == [(0.5, 4.0, 0.0), (0.9, 2.0, 1.0)]
    stages = progress_stages(history)
    assert [s["label"] for s in stages] == ["Met wishes", "Breaks"]
    assert (stages[0]["value"], stages[0]["bound"], stages[0]["proven"]) == (17.0, 17.0, True)
    assert (stages[1]["value"], stages[1]["bound"], stages[1]["proven"]) == (2.0, 1.0, False)
    svg = str(progress_chart(history))
    assert svg.count("<svg") == 2
    assert svg.count("<polyline") == 4
    assert "Stage 1: Met wishes" in svg
    assert "Stage 2: Breaks" in svg
    assert "weighted number of met wishes" in svg
    assert "lower is better" in svg
    assert str(progress_chart([])) == ""
