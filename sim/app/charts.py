"""Time charts for the explorer: readable names, units and percentages, a smoothed line
over the noisy daily series (the raw days on request), stacked node counts, and the
scenario's timeline events marked where they take effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from sim.scenario import Scenario

__all__ = ["SMOOTHING_DAYS", "TimelineMark", "area_chart", "share_chart", "timeline_marks"]

#: Days in the moving average drawn over daily series.
SMOOTHING_DAYS = 7
#: Colour-blind-safe palette (Okabe and Ito).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


@dataclass(frozen=True)
class TimelineMark:
    """A timeline event where it takes effect: the day after the step it fires at."""

    day: int
    label: str


def timeline_marks(spec: Scenario) -> list[TimelineMark]:
    """The scenario's timeline events that take effect within the run, labelled."""
    marks = []
    for event in spec.timeline:
        if event.step + 1 >= spec.steps:
            continue
        text = event.note.split(".")[0] if event.note else event.kind.replace("_", " ")
        marks.append(TimelineMark(event.step + 1, f"day {event.step + 1}: {text}"))
    return marks


def _mark(figure: go.Figure, marks: Sequence[TimelineMark]) -> None:
    for k, mark in enumerate(marks):
        figure.add_vline(x=mark.day, line_dash="dot", line_color="#555555")
        figure.add_annotation(
            x=mark.day,
            y=1.0 - 0.09 * (k % 3),
            yref="paper",
            text=mark.label,
            showarrow=False,
            xanchor="left",
            font={"size": 11},
            bgcolor="rgba(255,255,255,0.7)",
        )


def share_chart(
    metrics: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    title: str,
    marks: Sequence[TimelineMark] = (),
    raw: bool = False,
) -> go.Figure:
    """Daily shares (0–1) as percentages: a 7-day mean per column, optionally the raw
    days as faint lines.

    Args:
        metrics: The metrics table (``step`` and the columns).
        columns: Column -> readable name for the legend.
        title: The y axis title (what the percentage is of).
        marks: Timeline events to mark.
        raw: Also draw the daily values.
    """
    figure = go.Figure()
    days = metrics["step"] + 1
    for k, (column, name) in enumerate(columns.items()):
        colour = COLOURS[k % len(COLOURS)]
        series = metrics[column]
        if raw:
            figure.add_scatter(
                x=days,
                y=series,
                name=f"{name} (daily)",
                line={"color": colour, "width": 1},
                opacity=0.35,
                hovertemplate="day %{x}: %{y:.1%}<extra>" + name + " (daily)</extra>",
            )
        smooth = series.rolling(SMOOTHING_DAYS, min_periods=1).mean()
        figure.add_scatter(
            x=days,
            y=smooth,
            name=f"{name} ({SMOOTHING_DAYS}-day mean)",
            line={"color": colour, "width": 2.5},
            hovertemplate="day %{x}: %{y:.1%}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        xaxis_title="day",
        yaxis_title=title,
        yaxis_tickformat=".0%",
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 30, "b": 10},
        height=380,
    )
    _mark(figure, marks)
    return figure


def area_chart(table: pd.DataFrame, *, title: str, marks: Sequence[TimelineMark] = ()) -> go.Figure:
    """Counts per group stacked over days (``table``: index = step, one column per
    group), so the top of the stack is the total."""
    figure = go.Figure()
    for k, column in enumerate(table.columns):
        figure.add_scatter(
            x=table.index + 1,
            y=table[column],
            name=str(column),
            stackgroup="total",
            line={"color": COLOURS[k % len(COLOURS)], "width": 0.5},
            hovertemplate="day %{x}: %{y:,}<extra>" + str(column) + "</extra>",
        )
    figure.update_layout(
        xaxis_title="day",
        yaxis_title=title,
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 30, "b": 10},
        height=340,
    )
    _mark(figure, marks)
    return figure
