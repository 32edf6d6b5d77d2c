"""Tests for drlib.charts: each chart's title, labelled units, lines, and a written PNG."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from drlib.charts import (
    lag_cdf_chart,
    lag_over_time_chart,
    published_comparison_chart,
    rto_rpo_chart,
    save_png,
    timeline_chart,
)
from drlib.measure import (
    STORES,
    CanaryRecord,
    RpoResult,
    RtoResult,
    lag_from_cloudwatch,
    lag_series,
    lag_statistics,
    measure_rpo,
    measure_rto,
)
from drlib.timeline import Timeline
from drlib.verdict import Targets, published_figures

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
EAST, WEST = "us-east-1", "us-west-2"
TARGETS = Targets(rto_seconds=300, rpo_seconds=5, lag_threshold_seconds=2)


@dataclass
class SyntheticDrill:
    """A drill's worth of synthetic measurements (labelled as such wherever shown)."""

    timeline: Timeline
    records: list[CanaryRecord]
    rto: RtoResult
    rpo: dict[str, RpoResult]
    series: pd.DataFrame


def synthetic_drill(seed: int = 7) -> SyntheticDrill:
    """An unplanned failover: canaries every 0.5 s, replication paused at 20 s, region lost at
    25 s, disaster declared at 26 s, secondary promoted and writing again from ~41 s."""
    rng = random.Random(seed)
    clock_at = {"t": 0.0}
    timeline = Timeline(clock=lambda: T0 + timedelta(seconds=clock_at["t"]))

    def run_step(name: str, start: float, end: float, timeout: float,
                 outcome: str = "ok") -> None:
        clock_at["t"] = start
        with timeline.step(name, timeout_s=timeout) as handle:
            clock_at["t"] = end
            if outcome == "skipped":
                handle.skip("nothing to scale")

    run_step("readiness", 0.0, 4.0, 60)
    run_step("canaries-start", 4.0, 5.0, 30)
    timeline.add_fault("replication-paused", "aurora", at=T0 + timedelta(seconds=20))
    timeline.add_fault("region-down", EAST, at=T0 + timedelta(seconds=25))
    timeline.declare_disaster("primary region lost", at=T0 + timedelta(seconds=26))
    run_step("failover-aurora", 26.0, 38.0, 10)  # ran over its timeout
    run_step("dns-failover", 38.0, 40.5, 120)
    run_step("scale-up-secondary", 40.5, 40.6, 300, outcome="skipped")
    run_step("reconcile", 60.0, 63.0, 120)

    records: list[CanaryRecord] = []
    for store, base in (("aurora", 0.05), ("dynamodb", 0.6), ("s3", 1.5)):
        for seq in range(1, 121):
            t = 5.0 + 0.5 * seq
            region = EAST if t < 25.0 else WEST
            if region == WEST and t < 41.0 + rng.random():
                continue  # nothing accepts writes between the loss and the promotion
            record = CanaryRecord(store, seq, region, T0 + timedelta(seconds=t - 0.01),
                                  T0 + timedelta(seconds=t))
            lag = rng.lognormvariate(0, 0.5) * base
            paused = store == "aurora" and 20.0 <= t < 25.0
            if region == EAST and not paused and t + lag < 25.0:
                record.mark_visible(WEST, T0 + timedelta(seconds=t + lag))
            records.append(record)
    present = {s: {r.seq for r in records if r.store == s and WEST in r.visible_at}
               for s in STORES}
    cutover = T0 + timedelta(seconds=38)
    rto = measure_rto(T0 + timedelta(seconds=26), records, WEST)
    rpo = measure_rpo(records, WEST, cutover, present)
    cloudwatch = lag_from_cloudwatch({
        "dynamodb": {"Timestamps": [T0 + timedelta(seconds=60 * i / 4) for i in range(1, 5)],
                     "Values": [620.0, 580.0, 700.0, 650.0]},
        "s3": {"Timestamps": [T0 + timedelta(seconds=15), T0 + timedelta(seconds=30)],
               "Values": [2.0, 1.0]},
    })
    series = pd.concat([lag_series(records), cloudwatch], ignore_index=True)
    return SyntheticDrill(timeline, records, rto, rpo, series)


@pytest.fixture(scope="module")
def drill() -> SyntheticDrill:
    """One synthetic drill shared by the chart tests."""
    return synthetic_drill()


def units_in(label: str) -> bool:
    """True when an axis label names a unit in parentheses."""
    return any(unit in label for unit in ("(s)", "(%)"))


def assert_png(figure: Figure, path: Path) -> None:
    """The figure saves to a real PNG of some size."""
    written = save_png(figure, path)
    data = written.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_synthetic_drill_is_a_real_failover(drill: SyntheticDrill) -> None:
    """The chart data itself is what the measurement functions make of the canaries."""
    assert drill.rto.seconds is not None
    assert 15.0 < drill.rto.seconds < 17.0
    assert drill.rpo["aurora"].lost_records > drill.rpo["dynamodb"].lost_records >= 0


def test_timeline_chart(drill: SyntheticDrill, tmp_path: Path) -> None:
    """The Gantt chart has a bar per step, event markers, declaration and RTO lines."""
    figure = timeline_chart(drill.timeline, drill.rto)
    (ax,) = figure.axes
    assert ax.get_title() == "Drill timeline"
    assert units_in(ax.get_xlabel())
    assert len(ax.patches) >= len(drill.timeline.steps)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["events"] + [s.step for s in drill.timeline.steps]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "disaster declared" in legend
    assert any(text.startswith("first write on new primary (RTO") for text in legend)
    # markers: two faults and one declaration, plus the two vertical lines
    assert len(ax.get_lines()) == 3 + 2
    assert_png(figure, tmp_path / "timeline.png")


def test_timeline_chart_without_declaration(tmp_path: Path) -> None:
    """A timeline with no disaster declared draws just the steps."""
    timeline = Timeline()
    with timeline.step("readiness", timeout_s=10):
        pass
    (ax,) = timeline_chart(timeline).axes
    assert len(ax.get_lines()) == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()].count("disaster declared") == 0


def test_lag_over_time_chart(drill: SyntheticDrill, tmp_path: Path) -> None:
    """One line per store and source, a dashed threshold, faults and declaration marked."""
    figure = lag_over_time_chart(drill.series, threshold_s=2.0, timeline=drill.timeline)
    (ax,) = figure.axes
    assert ax.get_title() == "Replication lag per store"
    assert units_in(ax.get_xlabel())
    assert units_in(ax.get_ylabel())
    pairs = drill.series.groupby(["store", "source"]).ngroups
    assert pairs == 5
    # data lines + threshold + 2 faults + declaration
    assert len(ax.get_lines()) == pairs + 1 + 2 + 1
    threshold = [ln for ln in ax.get_lines() if ln.get_label().startswith("lag threshold")]
    assert threshold[0].get_linestyle() == "--"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("fault") == 1
    assert "disaster declared" in legend
    assert_png(figure, tmp_path / "lag.png")


@pytest.mark.parametrize(("lags", "log"), [([0.01, 0.02, 5.0], True), ([0.5, 1.0, 2.0], False)])
def test_lag_axis_goes_logarithmic_for_wide_ranges(lags: list[float], log: bool) -> None:
    """The lag axis is logarithmic when lags span more than two orders of magnitude."""
    series = pd.DataFrame({"store": "aurora", "seq": range(3), "source": "canary",
                           "at": [T0 + timedelta(seconds=i) for i in range(3)], "lag_s": lags})
    ax = lag_over_time_chart(series).axes[0]
    assert (ax.get_yscale() == "log") is log


def test_lag_cdf_chart(drill: SyntheticDrill, tmp_path: Path) -> None:
    """The CDF has a step line per store and source ending at 100 %, threshold dashed."""
    figure = lag_cdf_chart(drill.series, threshold_s=2.0)
    (ax,) = figure.axes
    assert "CDF" in ax.get_title()
    assert units_in(ax.get_xlabel())
    assert units_in(ax.get_ylabel())
    lines = ax.get_lines()
    assert len(lines) == 5 + 1
    assert all(line.get_ydata()[-1] == pytest.approx(100.0) for line in lines[:-1])
    assert all(line.get_ydata()[0] == 0.0 for line in lines[:-1])
    assert_png(figure, tmp_path / "cdf.png")


def test_published_comparison_chart(drill: SyntheticDrill, tmp_path: Path) -> None:
    """A panel per comparison (3 stores and RTO), each with two bars and a dashed target."""
    stats = lag_statistics(drill.series[drill.series["source"] == "canary"])
    figure = published_comparison_chart(stats, drill.rto, published_figures(), TARGETS)
    assert figure.get_suptitle() == "Measured vs reference figures"
    assert [ax.get_title() for ax in figure.axes] == [
        "aurora lag (median)", "dynamodb lag (median)", "s3 lag (max)", "RTO"]
    # the DynamoDB figure is this project's design figure, never labelled AWS's
    assert [[t.get_text() for t in ax.get_xticklabels()] for ax in figure.axes] == [
        ["measured", "AWS"], ["measured", "design"], ["measured", "AWS"], ["measured", "AWS"]]
    for ax in figure.axes:
        assert units_in(ax.get_ylabel())
        assert len(ax.patches) == 2
        (target,) = ax.get_lines()
        assert target.get_linestyle() == "--"
    assert figure.axes[-1].get_lines()[0].get_ydata()[0] == TARGETS.rto_seconds
    # seconds of S3 lag next to RTC's 15 minutes need a logarithmic axis to be seen
    assert [ax.get_yscale() for ax in figure.axes] == ["linear", "linear", "log", "linear"]
    assert_png(figure, tmp_path / "aws.png")


def test_published_comparison_marks_unmeasured() -> None:
    """A store without samples and a missing RTO are drawn as 'not measured'."""
    figure = published_comparison_chart(lag_statistics([]), None, published_figures(), TARGETS)
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert texts.count("not measured") == 4


@pytest.mark.parametrize(("scenario", "target"), [("unplanned-failover", 5.0),
                                                  ("planned-switchover", 0.0)])
def test_rto_rpo_chart(drill: SyntheticDrill, tmp_path: Path, scenario: str,
                       target: float) -> None:
    """RTO bar and per-store RPO bars with lost counts; targets dashed (0 for a switchover)."""
    figure = rto_rpo_chart(drill.rto, drill.rpo, TARGETS, scenario=scenario)
    ax_rto, ax_rpo = figure.axes
    assert scenario in figure.get_suptitle()
    assert units_in(ax_rto.get_ylabel())
    assert units_in(ax_rpo.get_ylabel())
    assert ax_rto.get_lines()[0].get_ydata()[0] == TARGETS.rto_seconds
    assert ax_rpo.get_lines()[0].get_ydata()[0] == target
    assert len(ax_rpo.patches) == 3
    assert any(t.get_text().endswith("lost") for t in ax_rpo.texts)
    assert_png(figure, tmp_path / "rto_rpo.png")


# --- write outcomes over time ---------------------------------------------------------------------

def test_write_outcomes_chart_marks_every_outcome_and_the_switch() -> None:
    """One panel per store; acknowledged, rejected, timed out and lost writes are counted in the
    legend; the disaster, cutover, DNS move and the write outage are marked."""
    from drlib.charts import write_outcomes_chart
    from drlib.write_outcomes import measure_write_outage

    timeline = Timeline()
    timeline.declare_disaster("planned", at=T0 + timedelta(seconds=1))
    records = []
    for seq in range(1, 21):
        t = T0 + timedelta(seconds=0.2 * seq)
        region = EAST if seq <= 12 else WEST
        failed = 6 <= seq <= 12
        error = ("ConnectionTimeout: expired" if seq == 12 else
                 "ReadOnlySqlTransaction: read-only") if failed else None
        record = CanaryRecord("aurora", seq, region, t, None if failed else
                              t + timedelta(seconds=0.01), error=error)
        record.present_after = seq != 5 if not failed else False
        records.append(record)
    records.append(CanaryRecord("s3", 1, EAST, T0, T0 + timedelta(seconds=0.01),
                                present_after=True))
    outage = {"aurora": measure_write_outage(records, "aurora", T0 + timedelta(seconds=1), WEST)}
    figure = write_outcomes_chart(records, timeline, outage, cutover_at=T0 + timedelta(seconds=1.1),
                                  dns_moved_at=T0 + timedelta(seconds=2.5))
    aurora, s3 = figure.axes
    labels = [t.get_text() for t in aurora.get_legend().get_texts()]
    assert "acknowledged (13)" in labels
    assert "rejected (6)" in labels
    assert "timed out (1)" in labels
    assert "lost (1)" in labels
    assert any(label.startswith("write outage 1.6") for label in labels)
    assert {"disaster declared", "cutover", "DNS moved"} <= set(labels)
    assert s3.get_ylabel() == "s3"


def test_write_outcomes_chart_without_records_says_so() -> None:
    """No canary writes: a figure that says so rather than an empty axis."""
    from drlib.charts import write_outcomes_chart

    figure = write_outcomes_chart([])
    assert "no canary writes" in [t.get_text() for t in figure.axes[0].texts]
