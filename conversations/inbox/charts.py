"""Server-rendered SVG bar charts: the page needs no JavaScript and nothing from a CDN.
This computes the geometry; templates/inbox/_bar_chart.html draws it."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_BAR_WIDTH = 48


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    value_label: str
    title: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    baseline: float
    empty: bool
    title: str


def bar_chart(
    series: list[tuple[str, float]], *, title: str, width: int = 860, height: int = 180, value_format: str = "{:g}"
) -> BarChart:
    label_space, top_space = 18, 16
    plot_height = height - label_space - top_space
    peak = max((value for _, value in series), default=0) or 1
    slot = width / max(len(series), 1)
    bar_width = min(MAX_BAR_WIDTH, max(2.0, slot * 0.7))
    # Axis labels only as often as they fit (about 48 px each); every bar keeps its tooltip.
    label_every = max(1, math.ceil(len(series) * 48 / width))
    bars = []
    for index, (label, value) in enumerate(series):
        bar_height = plot_height * value / peak
        bars.append(
            Bar(
                x=index * slot + (slot - bar_width) / 2,
                y=top_space + plot_height - bar_height,
                width=bar_width,
                height=bar_height,
                label=label if index % label_every == 0 else "",
                value=value,
                value_label=value_format.format(value),
                title=label,
            )
        )
    return BarChart(
        width=width,
        height=height,
        bars=bars,
        baseline=top_space + plot_height,
        empty=not any(value for _, value in series),
        title=title,
    )
