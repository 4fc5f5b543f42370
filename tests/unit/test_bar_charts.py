"""The inbox's server-rendered bar charts (conversations/inbox/charts.py): geometry only."""

from __future__ import annotations

import pytest

from conversations.inbox.charts import MAX_BAR_WIDTH, bar_chart


def test_the_tallest_bar_fills_the_plot_and_the_others_scale_to_it():
    chart = bar_chart([("mon", 10), ("tue", 5), ("wed", 0)], title="Chats", height=180)
    plot_height = chart.baseline - 16  # the top margin
    tallest, half, zero = chart.bars
    assert tallest.height == pytest.approx(plot_height) and tallest.y == pytest.approx(16)
    assert half.height == pytest.approx(plot_height / 2)
    assert zero.height == 0 and zero.y == pytest.approx(chart.baseline)
    assert all(bar.y + bar.height == pytest.approx(chart.baseline) for bar in chart.bars)


def test_an_empty_series_is_flagged_empty_without_dividing_by_zero():
    chart = bar_chart([], title="Nothing yet")
    assert chart.empty and chart.bars == []


def test_a_series_of_zeros_is_empty_with_flat_bars():
    chart = bar_chart([("a", 0), ("b", 0)], title="Quiet")
    assert chart.empty
    assert [bar.height for bar in chart.bars] == [0, 0]


def test_bars_stay_inside_the_width_and_do_not_overlap():
    chart = bar_chart([(str(day), day) for day in range(1, 31)], title="Month", width=860)
    for left, right in zip(chart.bars, chart.bars[1:]):
        assert left.x + left.width < right.x
    assert chart.bars[0].x >= 0 and chart.bars[-1].x + chart.bars[-1].width <= chart.width


def test_a_bar_is_never_wider_than_the_maximum_nor_thinner_than_two_pixels():
    few = bar_chart([("a", 1), ("b", 2)], title="Few", width=860)
    many = bar_chart([(str(i), i) for i in range(1000)], title="Many", width=860)
    assert {bar.width for bar in few.bars} == {MAX_BAR_WIDTH}
    assert {bar.width for bar in many.bars} == {2.0}


def test_axis_labels_thin_out_when_they_would_not_fit_but_every_bar_keeps_its_tooltip():
    series = [(f"d{i}", i) for i in range(60)]
    chart = bar_chart(series, title="Busy", width=860)  # 60 * 48 px of labels in 860 px: every 4th
    labelled = [bar.label for bar in chart.bars if bar.label]
    assert labelled == [f"d{i}" for i in range(0, 60, 4)]
    assert [bar.title for bar in chart.bars] == [label for label, _ in series]


def test_values_are_shown_in_the_given_format():
    chart = bar_chart([("mon", 0.25), ("tue", 1.0)], title="CSAT", value_format="{:.0%}")
    assert [bar.value_label for bar in chart.bars] == ["25%", "100%"]
