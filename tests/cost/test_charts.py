"""Cost charts: titles, axis units, and what they plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from drlib.cost.charts import (
    actuals_vs_estimate_chart,
    estimate_by_component_chart,
    standby_share_chart,
)
from drlib.cost.estimate import CostEstimate, estimate_monthly_cost


@pytest.fixture(scope="module")
def estimate() -> CostEstimate:
    """The fixture project's dev estimate."""
    return estimate_monthly_cost("dev", Path(__file__).with_name("fixture_sceptre"))


def test_backend_is_agg() -> None:
    """Charts never need a display."""
    assert matplotlib.get_backend().lower() == "agg"


def test_component_chart_stacks_components_per_region(estimate: CostEstimate) -> None:
    """One bar per region per component, stacking to the region's total, in USD/month."""
    ax = estimate_by_component_chart(estimate).axes[0]
    assert "USD/month" in ax.get_ylabel()
    assert ax.get_xlabel() == "Region"
    assert "dev" in ax.get_title()
    heights: dict[float, float] = {}
    for patch in ax.patches:
        heights[patch.get_x()] = heights.get(patch.get_x(), 0) + patch.get_height()
    totals = estimate.by_region().set_index("region")["monthly_usd"]
    assert sorted(heights.values()) == pytest.approx(sorted(totals))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(estimate.by_component().index)


def test_standby_share_chart_labels_shares(estimate: CostEstimate) -> None:
    """The standby chart has a bar per role with its percentage."""
    ax = standby_share_chart(estimate).axes[0]
    assert "USD/month" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.texts]
    shares = estimate.standby_share()["share"]
    assert labels == [f"{s:.0%}" for s in shares]


def test_actuals_chart_draws_daily_line_and_dashed_estimate(estimate: CostEstimate) -> None:
    """Actual spend is a line per day; the estimate's daily rate a dashed line."""
    spend = pd.DataFrame({"start": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-02"]),
                          "amount": [1.0, 2.0, 0.5], "source": ["AWS Cost Explorer"] * 3})
    ax = actuals_vs_estimate_chart(spend, estimate).axes[0]
    actual, expected = ax.get_lines()
    assert list(actual.get_ydata()) == [1.0, 2.5]
    assert expected.get_linestyle() == "--"
    assert expected.get_ydata()[0] == pytest.approx(estimate.total_usd / (730 / 24))
    assert "USD/day" in ax.get_ylabel()
    assert "AWS Cost Explorer" in actual.get_label()
