"""Charts of a drill: timeline, replication lag, lag distribution, AWS comparison, RTO/RPO.

Each function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (no pyplot, so
no global state and no display needed; notebooks show the returned figure) and
:func:`save_png` writes it. Times are plotted as seconds since the drill started; every axis says
its unit; targets are dashed lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from drlib.measure import STORES, CanaryRecord, RpoResult, RtoResult
from drlib.timeline import Timeline
from drlib.verdict import LAG_FIGURES, PublishedFigure, Targets
from drlib.write_outcomes import WriteOutage

OUTCOME_COLOURS: Mapping[str | None, str] = {
    "ok": "#2e7d32", "failed": "#c62828", "aborted": "#ef6c00", "skipped": "#9e9e9e",
    None: "#1565c0",  # still running when drawn
}
STORE_COLOURS: Mapping[str, str] = {"aurora": "#1f77b4", "dynamodb": "#9467bd", "s3": "#ff7f0e"}
TARGET_STYLE: dict[str, Any] = {"color": "#c62828", "linestyle": "--", "linewidth": 1.4}
FAULT_COLOUR = "#5d4037"
AWS_COLOUR = "#7f7f7f"
MEASURED_COLOUR = "#1f77b4"


def new_figure(width: float = 10.0, height: float = 5.0, **kwargs: object) -> Figure:
    """A figure on its own Agg canvas."""
    figure = Figure(figsize=(width, height), layout="constrained", **kwargs)  # type: ignore[arg-type]
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path | str, dpi: int = 120) -> Path:
    """Write ``figure`` as a PNG at ``path`` (parents created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png", dpi=dpi)
    return target


def _store_colour(store: str) -> str:
    return STORE_COLOURS.get(store, "#2ca02c")


def _seconds_since(times: pd.Series | Sequence[datetime], origin: datetime) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(list(times)), utc=True)
    return ((stamps - pd.Timestamp(origin)).dt.total_seconds()).to_numpy(dtype=float)


def _origin(timeline: Timeline | None, series: pd.DataFrame | None = None) -> datetime:
    """Time zero of a chart: the first step or event, else the first sample."""
    candidates: list[datetime] = []
    if timeline is not None:
        candidates += [s.started_at for s in timeline.steps] + [e.at for e in timeline.events]
    if not candidates and series is not None and not series.empty:
        candidates.append(pd.Timestamp(series["at"].min()).to_pydatetime())
    if not candidates:
        raise ValueError("nothing to chart: no steps, events or samples")
    return min(candidates)


# --- timeline -------------------------------------------------------------------------------------

def timeline_chart(timeline: Timeline, rto: RtoResult | None = None,
                   title: str = "Drill timeline") -> Figure:
    """Gantt chart of the steps coloured by outcome, faults and events as markers, RTO marked."""
    origin = _origin(timeline)
    steps = sorted(timeline.steps, key=lambda s: s.started_at)
    last = max([s.ended_at or s.started_at for s in steps] + [e.at for e in timeline.events]
               + ([rto.first_write_at] if rto and rto.first_write_at else []))
    figure = new_figure(11, 1.6 + 0.45 * (len(steps) + 1))
    ax = figure.add_subplot()
    labels = ["events"] + [s.step for s in steps]
    # The events row gets extra room below it for its labels.
    rows = [0.0] + [i + 1.0 for i in range(1, len(steps) + 1)]
    for row, step in zip(rows[1:], steps, strict=True):
        start = (step.started_at - origin).total_seconds()
        end = ((step.ended_at or last) - origin).total_seconds()
        ax.barh(row, max(end - start, 1e-3), left=start, height=0.6,
                color=OUTCOME_COLOURS.get(step.outcome, OUTCOME_COLOURS[None]),
                hatch="//" if step.timed_out else None, edgecolor="black", linewidth=0.5)
    for i, event in enumerate(sorted(timeline.events, key=lambda e: e.at)):
        x = (event.at - origin).total_seconds()
        marker, colour = ("X", FAULT_COLOUR) if event.kind == "fault" else ("o", "#424242")
        ax.plot([x], [0], marker=marker, color=colour, markersize=9, linestyle="none")
        # Labels cycle over three lines under the marker row so neighbours stay readable.
        ax.annotate(f"{event.action} {event.target}".strip(), (x, 0),
                    xytext=(5, -8 - 9 * (i % 3)), textcoords="offset points", fontsize=7,
                    ha="left", va="top")
    handles: list[Any] = [
        Patch(color=OUTCOME_COLOURS[o], label=o) for o in ("ok", "failed", "aborted", "skipped")
    ]
    handles += [
        Patch(facecolor="white", edgecolor="black", hatch="//", label="over its timeout"),
        Line2D([], [], marker="X", color=FAULT_COLOUR, linestyle="none", label="fault"),
        Line2D([], [], marker="o", color="#424242", linestyle="none", label="event"),
    ]
    declared = timeline.disaster_declared_at
    if declared is not None:
        x0 = (declared - origin).total_seconds()
        handles.append(ax.axvline(x0, color="black", linestyle=":", label="disaster declared"))
        if rto is not None and rto.first_write_at is not None and rto.seconds is not None:
            x1 = (rto.first_write_at - origin).total_seconds()
            label = f"first write on new primary (RTO {rto.seconds:.1f} s)"
            handles.append(ax.axvline(x1, color="#2e7d32", linestyle=":", label=label))
            ax.axvspan(x0, x1, color="#2e7d32", alpha=0.08)
    ax.set_yticks(rows, labels)
    ax.invert_yaxis()
    ax.set_xlabel("time since drill start (s)")
    ax.set_ylabel("step")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# --- lag over time --------------------------------------------------------------------------------

def _mark_drill(ax: Axes, timeline: Timeline | None, origin: datetime) -> None:
    """Steps as shaded spans with their names, faults and the declaration as vertical lines."""
    if timeline is None:
        return
    steps = [s for s in sorted(timeline.steps, key=lambda s: s.started_at) if s.ended_at]
    if steps:
        extent = max((s.ended_at - origin).total_seconds() for s in steps  # type: ignore[operator]
                     ) - (steps[0].started_at - origin).total_seconds()
        min_gap = 0.06 * max(extent, 1e-9)
    labels: list[tuple[float, list[str]]] = []  # steps that start close together share a label
    for i, step in enumerate(steps):
        start = (step.started_at - origin).total_seconds()
        end = (step.ended_at - origin).total_seconds()  # type: ignore[operator]
        ax.axvspan(start, end, color="#9e9e9e", alpha=0.12 if i % 2 else 0.2, linewidth=0)
        if labels and start - labels[-1][0] < min_gap:
            labels[-1][1].append(step.step)
        else:
            labels.append((start, [step.step]))
    for x, names in labels:
        text = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} steps)"
        ax.text(x, 1.0, text, transform=ax.get_xaxis_transform(), fontsize=7,
                rotation=30, va="bottom", ha="left", clip_on=False)
    for i, fault in enumerate(timeline.faults):
        ax.axvline((fault.at - origin).total_seconds(), color=FAULT_COLOUR, linewidth=1.0,
                   linestyle="-.", label="fault" if i == 0 else "_nolegend_")
    declared = timeline.disaster_declared_at
    if declared is not None:
        ax.axvline((declared - origin).total_seconds(), color="black", linestyle=":",
                   label="disaster declared")


def lag_over_time_chart(series: pd.DataFrame, threshold_s: float | None = None,
                        timeline: Timeline | None = None, *, log_scale: bool | None = None,
                        title: str = "Replication lag per store") -> Figure:
    """Lag samples over time, one line per store and source (canary, CloudWatch).

    ``series`` has the columns of :func:`drlib.measure.lag_series`. Drill steps are shaded, faults
    and the declaration are vertical lines, the lag threshold is dashed. ``log_scale`` defaults
    to on when the lags span more than two orders of magnitude.
    """
    origin = _origin(timeline, series)
    figure = new_figure(11, 5)
    ax = figure.add_subplot()
    for (store, source), group in series.groupby(["store", "source"], sort=True):
        x = _seconds_since(group["at"], origin)
        style = {"linestyle": "-", "marker": "."} if source == "canary" else {
            "linestyle": ":", "marker": "s", "markersize": 4}
        ax.plot(x, group["lag_s"].to_numpy(), color=_store_colour(str(store)),
                label=f"{store} ({source})", **style)
    if threshold_s is not None:
        ax.axhline(threshold_s, label=f"lag threshold {threshold_s:g} s", **TARGET_STYLE)
    _mark_drill(ax, timeline, origin)
    positive = series.loc[series["lag_s"] > 0, "lag_s"]
    if log_scale is None:
        log_scale = bool(len(positive)) and positive.max() / positive.min() > 100
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("time since drill start (s)")
    ax.set_ylabel("replication lag (s)")
    # Room above the axes for the rotated step names.
    ax.set_title(title, pad=90 if timeline is not None and timeline.steps else 6)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure


# --- lag distribution -----------------------------------------------------------------------------

def lag_cdf_chart(series: pd.DataFrame, threshold_s: float | None = None, *,
                  log_scale: bool | None = None,
                  title: str = "Replication lag distribution (CDF)") -> Figure:
    """Cumulative distribution of lag per store and source, with the threshold dashed."""
    figure = new_figure(8, 5)
    ax = figure.add_subplot()
    for (store, source), group in series.groupby(["store", "source"], sort=True):
        values = np.sort(group["lag_s"].to_numpy(dtype=float))
        share = np.arange(1, values.size + 1) / values.size * 100.0
        # Start each curve at 0 % at its smallest sample so the first step is drawn.
        values, share = np.concatenate([values[:1], values]), np.concatenate([[0.0], share])
        ax.step(values, share, where="post", color=_store_colour(str(store)),
                linestyle="-" if source == "canary" else ":",
                label=f"{store} ({source}, n={values.size})")
    if threshold_s is not None:
        ax.axvline(threshold_s, label=f"lag threshold {threshold_s:g} s", **TARGET_STYLE)
    positive = series.loc[series["lag_s"] > 0, "lag_s"]
    if log_scale is None:
        log_scale = bool(len(positive)) and positive.max() / positive.min() > 100
    if log_scale:
        ax.set_xscale("log")
    ax.set_ylim(0, 101)
    ax.set_xlabel("replication lag (s)")
    ax.set_ylabel("samples at or below (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return figure


# --- measured vs AWS ------------------------------------------------------------------------------

def published_comparison_chart(lag_stats: pd.DataFrame, rto: RtoResult | None,
                               figures: Mapping[str, PublishedFigure], targets: Targets,
                               title: str = "Measured vs reference figures") -> Figure:
    """One panel per comparison: measured and the reference figure as bars (labelled AWS,
    deployed or design by its origin), the target dashed.

    Lag panels use the statistic each figure is about (median for Aurora and DynamoDB, maximum
    for S3 RTC) against the lag threshold; the RTO panel uses the RTO target.
    """
    panels: list[tuple[str, float | None, PublishedFigure, float, str]] = []
    for store in [s for s in STORES if s in lag_stats.index] + sorted(
            set(lag_stats.index) - set(STORES)):
        if store not in LAG_FIGURES or LAG_FIGURES[store][0] not in figures:
            continue
        key, statistic = LAG_FIGURES[store]
        count = int(lag_stats.loc[store, "count"])
        value = None if count == 0 else float(lag_stats.loc[store, statistic])
        panels.append((f"{store} lag ({statistic.removesuffix('_s')})", value, figures[key],
                       targets.lag_threshold_seconds, "lag threshold"))
    if "aurora_rto" in figures:
        panels.append(("RTO", None if rto is None else rto.seconds, figures["aurora_rto"],
                       targets.rto_seconds, "RTO target"))
    figure = new_figure(3.0 * max(len(panels), 1) + 1, 4.5)
    axes = figure.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, (name, value, figure_, target, target_name) in zip(axes, panels, strict=False):
        aws = figure_.value_seconds
        heights = [value if value is not None else 0.0, aws if aws is not None else 0.0]
        bars = ax.bar(["measured", figure_.label], heights, color=[MEASURED_COLOUR, AWS_COLOUR])
        for bar, number in zip(bars, [value, aws], strict=True):
            ax.annotate("not measured" if number is None else f"{number:.3g} s",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        ax.axhline(target, label=f"{target_name} {target:g} s", **TARGET_STYLE)
        shown: list[float] = [h for h in [*heights, target] if h > 0]
        if shown and max(shown) / min(shown) > 100:
            # e.g. S3 seconds against RTC's 15 minutes: a linear axis would hide the measurement
            ax.set_yscale("log")
            ax.set_ylim(min(shown) / 3, max(shown) * 3)
        else:
            ax.set_ylim(0, max(shown, default=1.0) * 1.25)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("seconds (s)")
        ax.legend(loc="upper left", fontsize=7)
    figure.suptitle(title)
    return figure


# --- RTO and RPO against target -------------------------------------------------------------------

def rto_rpo_chart(rto: RtoResult | None, rpo: Mapping[str, RpoResult], targets: Targets,
                  scenario: str = "", title: str = "RTO and RPO against target",
                  tested: Mapping[str, bool] | None = None) -> Figure:
    """RTO as a bar against its target; per store, the RPO span with the count of lost records
    ("not tested" under it when too few writes were in flight, see ``tested``).

    For a planned switchover the RPO target is zero lost records, drawn at 0 s.
    """
    figure = new_figure(10, 4.5)
    ax_rto, ax_rpo = figure.subplots(1, 2, width_ratios=[1, 2])
    rto_value = None if rto is None else rto.seconds
    bar = ax_rto.bar(["RTO"], [rto_value or 0.0], color=MEASURED_COLOUR)[0]
    ax_rto.annotate("not measured" if rto_value is None else f"{rto_value:.1f} s",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=9)
    ax_rto.axhline(targets.rto_seconds, label=f"target {targets.rto_seconds:g} s",
                   **TARGET_STYLE)
    ax_rto.set_ylim(0, max(rto_value or 0.0, targets.rto_seconds) * 1.2)
    ax_rto.set_ylabel("recovery time (s)")
    ax_rto.set_title("RTO")
    ax_rto.legend(loc="upper left", fontsize=8)

    planned = scenario == "planned-switchover"
    rpo_target = 0.0 if planned else targets.rpo_seconds
    stores = [s for s in STORES if s in rpo] + sorted(set(rpo) - set(STORES))
    spans = [rpo[s].span_seconds for s in stores]
    bars = ax_rpo.bar(stores, spans, color=[_store_colour(s) for s in stores])
    for store, rect in zip(stores, bars, strict=True):
        note = "" if (tested or {}).get(store, True) else "\nnot tested"
        ax_rpo.annotate(f"{rpo[store].lost_records} lost{note}",
                        (rect.get_x() + rect.get_width() / 2,
                        rect.get_height()), xytext=(0, 3), textcoords="offset points",
                        ha="center", fontsize=9)
    label = "target: 0 lost records" if planned else f"target {rpo_target:g} s"
    ax_rpo.axhline(rpo_target, label=label, **TARGET_STYLE)
    ax_rpo.set_ylim(0, max([*spans, rpo_target, 1.0]) * 1.25)
    ax_rpo.set_ylabel("data-loss span, earliest lost write to disaster (s)")
    ax_rpo.set_title("RPO per store")
    ax_rpo.legend(loc="upper left", fontsize=8)
    figure.suptitle(f"{title}{f' ({scenario})' if scenario else ''}")
    return figure


# --- write outcomes over time ----------------------------------------------------------------

WRITE_OUTCOME_STYLE: Mapping[str, dict[str, Any]] = {
    "acknowledged": {"color": "#2e7d32", "marker": "o", "s": 10},
    "rejected": {"color": "#c62828", "marker": "x", "s": 18},
    "timed_out": {"color": "#ef6c00", "marker": "^", "s": 18},
    "lost": {"color": "black", "marker": "D", "s": 30},
}


def write_outcomes_chart(records: Sequence[CanaryRecord], timeline: Timeline | None = None,
                         outage: Mapping[str, WriteOutage] | None = None, *,
                         cutover_at: datetime | None = None, dns_moved_at: datetime | None = None,
                         title: str = "Canary writes over time per store") -> Figure:
    """One panel per store: every write attempt at its start time, on the row of the region it
    went to, marked acknowledged, rejected, timed out or lost (acknowledged, then missing from
    the new primary); the disaster, the cutover, DNS moving and the write outage marked."""
    from drlib.write_outcomes import outcome

    stores = [s for s in STORES if any(r.store == s for r in records)] + sorted(
        {r.store for r in records} - set(STORES))
    origin = _origin(timeline) if timeline is not None and (timeline.steps or timeline.events) \
        else min((r.written_at for r in records), default=None)
    figure = new_figure(10.0, 1.8 + 1.6 * max(len(stores), 1))
    if origin is None or not stores:
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no canary writes", ha="center", va="center")
        ax.set_axis_off()
        return figure
    axes = figure.subplots(len(stores), 1, sharex=True, squeeze=False)[:, 0]
    regions = sorted({r.region_written for r in records})
    for ax, store in zip(axes, stores, strict=True):
        rows = [r for r in records if r.store == store]
        for kind, style in WRITE_OUTCOME_STYLE.items():
            if kind == "lost":
                chosen = [r for r in rows if r.acked_at is not None and r.present_after is False]
            else:
                chosen = [r for r in rows if outcome(r) == kind]
            if not chosen:
                continue
            xs = [(r.written_at - origin).total_seconds() for r in chosen]
            ys = [regions.index(r.region_written) for r in chosen]
            ax.scatter(xs, ys, label=f"{kind.replace('_', ' ')} ({len(chosen)})", zorder=3,
                       **style)
        window = (outage or {}).get(store)
        if window is not None and window.last_ack_before and window.first_ack_after:
            ax.axvspan((window.last_ack_before - origin).total_seconds(),
                       (window.first_ack_after - origin).total_seconds(), color="#c62828",
                       alpha=0.12, linewidth=0,
                       label=f"write outage {window.seconds:.3g} s")
        declared = timeline.disaster_declared_at if timeline is not None else None
        for when, name, dash in ((declared, "disaster declared", ":"),
                                 (cutover_at, "cutover", "--"), (dns_moved_at, "DNS moved", "-.")):
            if when is not None:
                ax.axvline((when - origin).total_seconds(), color="black", linestyle=dash,
                           linewidth=1.0, label=name)
        ax.set_yticks(range(len(regions)), regions, fontsize=8)
        ax.set_ylim(-0.6, len(regions) - 0.4)
        ax.set_ylabel(store)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    axes[-1].set_xlabel("seconds since the drill started (write attempt start)")
    figure.suptitle(title)
    return figure


# --- load ---------------------------------------------------------------------------------------

def load_throughput_chart(per_second: pd.DataFrame,
                          title: str = "Canary writes under load, per second") -> Figure:
    """Two panels over the seconds of a load run: acknowledged writes per second per store
    (and their total), failed attempts per second per store.

    ``per_second`` has the columns of :func:`drlib.load.throughput` (store, second,
    acknowledged, errors).
    """
    figure = new_figure(11, 6)
    ack_ax, err_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    if per_second.empty:
        ack_ax.text(0.5, 0.5, "no writes", ha="center", va="center")
    for store, group in per_second.groupby("store", sort=True):
        colour = _store_colour(str(store))
        ack_ax.plot(group["second"], group["acknowledged"], color=colour, marker=".",
                    label=f"{store} ({int(group['acknowledged'].sum()):,} acknowledged)")
        err_ax.plot(group["second"], group["errors"], color=colour, marker=".",
                    label=f"{store} ({int(group['errors'].sum()):,} failed)")
    if not per_second.empty:
        total = per_second.groupby("second")["acknowledged"].sum()
        ack_ax.plot(total.index, total.to_numpy(), color="black", linewidth=1.6,
                    label=f"all stores ({int(total.sum()):,})")
    ack_ax.set_ylabel("acknowledged writes / s")
    err_ax.set_ylabel("failed writes / s")
    err_ax.set_xlabel("seconds since the first write")
    for ax in (ack_ax, err_ax):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    figure.suptitle(title)
    return figure


def load_lag_percentiles_chart(series: pd.DataFrame,
                               title: str = "Replication lag under load, per second") -> Figure:
    """Per store and second of acknowledgement: median, 99th percentile and maximum lag (one
    point per second however many samples; a log scale when they span two orders)."""
    figure = new_figure(11, 5)
    ax = figure.add_subplot()
    origin = pd.Timestamp(series["at"].min())
    seconds = ((pd.to_datetime(series["at"], utc=True) - origin).dt.total_seconds() // 1)
    frame = series.assign(second=seconds)
    for store, group in frame.groupby("store", sort=True):
        by_second = group.groupby("second")["lag_s"]
        colour = _store_colour(str(store))
        stats = pd.DataFrame({"p50": by_second.median(), "p99": by_second.quantile(0.99),
                              "max": by_second.max()})
        ax.plot(stats.index, stats["p50"], color=colour, linestyle="-", marker=".",
                label=f"{store} median")
        ax.plot(stats.index, stats["p99"], color=colour, linestyle="--", label=f"{store} p99")
        ax.plot(stats.index, stats["max"], color=colour, linestyle=":", label=f"{store} max")
    positive = series.loc[series["lag_s"] > 0, "lag_s"]
    if len(positive) and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("seconds since the first acknowledgement")
    ax.set_ylabel("replication lag (s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure
