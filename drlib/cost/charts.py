"""Cost charts (matplotlib, Agg backend): estimate by component, standby share, actuals."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # charts are written to files and notebooks, never to a window

import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first
import pandas as pd
from matplotlib.figure import Figure

from drlib.cost.actuals import daily_totals
from drlib.cost.estimate import CostEstimate

HOURS_PER_DAY = 24.0


def save_chart(fig: Figure, folder: Path, name: str) -> Path:
    """Write ``fig`` as ``<folder>/<name>.png`` (evidence) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    return path


def estimate_by_component_chart(estimate: CostEstimate) -> Figure:
    """Stacked bars: one bar per region, one segment per component (USD/month)."""
    table = estimate.by_component().T  # rows: regions, columns: components
    fig, ax = plt.subplots(figsize=(8, 5))
    bottom = pd.Series(0.0, index=table.index)
    palette = plt.get_cmap("tab20")  # 20 distinct colours: no component shares one
    colours = [palette(i) for i in range(20)]
    for i, component in enumerate(table.columns):
        ax.bar(table.index, table[component], bottom=bottom, label=component,
               color=colours[i % len(colours)])
        bottom = bottom + table[component]
    ax.set_title(f"Estimated monthly cost by component ({estimate.environment}, "
                 f"prices of {estimate.price_table_date})")
    ax.set_xlabel("Region")
    ax.set_ylabel("Cost (USD/month)")
    ax.legend(title="Component", fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def standby_share_chart(estimate: CostEstimate) -> Figure:
    """Bars of the primary and standby regions' USD/month, labelled with their share."""
    table = estimate.standby_share()
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [f"{r.role}\n{r.region}" for r in table.itertuples()]
    bars = ax.bar(labels, table["monthly_usd"], color=["tab:blue", "tab:orange"][:len(table)])
    for bar, share in zip(bars, table["share"], strict=True):
        ax.annotate(f"{share:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom")
    ax.set_title(f"Standby region's share of the monthly cost ({estimate.environment})")
    ax.set_xlabel("Region role")
    ax.set_ylabel("Cost (USD/month)")
    fig.tight_layout()
    return fig


def actuals_vs_estimate_chart(spend: pd.DataFrame, estimate: CostEstimate) -> Figure:
    """Daily actual spend (line) against the estimate's daily rate (dashed line)."""
    daily = daily_totals(spend)
    expected = estimate.total_usd / (estimate.assumptions.hours_per_month / HOURS_PER_DAY)
    fig, ax = plt.subplots(figsize=(8, 4))
    source = str(spend["source"].iloc[0]) if not spend.empty else "no data"
    ax.plot(daily["day"], daily["amount"], marker="o", label=f"actual ({source})")
    ax.axhline(expected, linestyle="--", color="tab:red",
               label=f"estimate: {expected:.2f} USD/day")
    ax.set_title(f"Daily spend against the estimate ({estimate.environment})")
    ax.set_xlabel("Day (UTC)")
    ax.set_ylabel("Cost (USD/day)")
    ax.legend(fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
