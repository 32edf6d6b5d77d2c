"""Replication lag two ways, and a bounded load run.

Canary-measured lag (write acknowledged in one region to visible in the other) comes from a
:class:`~drlib.canary.CanaryFleet`; CloudWatch's own replication metrics are read over a window
and turned into the same series (:func:`drlib.measure.lag_from_cloudwatch`), so both can be
charted side by side. :func:`run_load` is the small in-process load (threads, at most 200 writes/s
per store); notebook 40's load run is :func:`drlib.load.run_load`, Locust driving the same canary
writers on one machine or many, every write reconciled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from drlib.canary import CanaryFleet
from drlib.drill import build_canaries
from drlib.measure import lag_from_cloudwatch, lag_series, lag_statistics
from drlib.session import Session

MAX_LOAD_SECONDS = 600.0
MAX_RATE_PER_SECOND = 200.0


@dataclass
class LoadResult:
    """What a load run achieved: per-store throughput, errors, losses and lag."""

    summary: pd.DataFrame
    series: pd.DataFrame
    statistics: pd.DataFrame
    duration_s: float

    def save_charts(self, run_dir: Path, cloudwatch: pd.DataFrame | None = None
                    ) -> dict[str, Path]:
        """Lag over time and CDF (canary and CloudWatch side by side) as PNGs."""
        from drlib import charts

        both = pd.concat([self.series, cloudwatch], ignore_index=True) if (
            cloudwatch is not None and not cloudwatch.empty) else self.series
        if both.empty:
            return {}
        made = {"load_lag_over_time": charts.lag_over_time_chart(
                    both, title="Replication lag under load, canary and CloudWatch"),
                "load_lag_cdf": charts.lag_cdf_chart(
                    both, title="Replication lag under load (CDF)")}
        return {name: charts.save_png(fig, run_dir / f"{name}.png") for name, fig in made.items()}


def load_summary(fleet: CanaryFleet, rate_per_second: float, duration_s: float) -> pd.DataFrame:
    """Per store: target and achieved write rates, acknowledged, errors, never replicated."""
    rows = []
    for store, run in fleet.stores.items():
        records = list(run.records.values())
        acked = [r for r in records if r.acked_at is not None]
        unreplicated = [r for r in acked if len(r.visible_at) < len(fleet.regions)]
        rows.append({"store": store, "target_rate_per_s": rate_per_second,
                     "achieved_rate_per_s": round(len(acked) / duration_s, 2)
                     if duration_s > 0 else 0.0,
                     "writes": len(records), "acknowledged": len(acked),
                     "errors": sum(1 for r in records if r.error),
                     "not_replicated": len(unreplicated)})
    return pd.DataFrame(rows).set_index("store")


def run_load(session: Session, *, stores: list[str], rate_per_second: float,
             duration_s: float, drain_s: float = 10.0) -> LoadResult:
    """Write to ``stores`` at ``rate_per_second`` each for ``duration_s``, then measure."""
    if rate_per_second <= 0 or duration_s <= 0:
        empty = lag_series([])
        return LoadResult(pd.DataFrame(), empty, lag_statistics(empty, stores), 0.0)
    rate = min(rate_per_second, MAX_RATE_PER_SECOND)
    duration = min(duration_s, MAX_LOAD_SECONDS)
    fleet, _ = build_canaries(session.target.clients, session.workload(),
                              f"{session.run_dir.name}-load", interval_s=1.0 / rate)
    for store in list(fleet.stores):
        if store not in stores:
            del fleet.stores[store]
    began = time.monotonic()
    fleet.start()
    time.sleep(duration)  # the load's duration: bounded, stops by itself
    fleet.stop(drain_s=drain_s)
    elapsed = time.monotonic() - began - drain_s
    records = fleet.records()
    series = lag_series(records)
    return LoadResult(load_summary(fleet, rate, duration), series,
                      lag_statistics(series, stores), max(elapsed, duration))


def cloudwatch_queries(session: Session) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Per store: (region, MetricStat, unit) of the replication metric AWS publishes."""
    w = session.workload()
    regions = w.regions
    return {
        "aurora": (regions.secondary, {"Metric": {
            "Namespace": "AWS/RDS", "MetricName": "AuroraGlobalDBReplicationLag",
            "Dimensions": [{"Name": "DBClusterIdentifier", "Value": w.secondary.cluster_id}]},
            "Period": 60, "Stat": "Maximum"}, "Milliseconds"),
        "dynamodb": (regions.primary, {"Metric": {
            "Namespace": "AWS/DynamoDB", "MetricName": "ReplicationLatency",
            "Dimensions": [{"Name": "TableName", "Value": w.table_name},
                           {"Name": "ReceivingRegion", "Value": regions.secondary}]},
            "Period": 60, "Stat": "Maximum"}, "Milliseconds"),
        "s3": (regions.primary, {"Metric": {
            "Namespace": "AWS/S3", "MetricName": "ReplicationLatency",
            "Dimensions": [d for d in (
                {"Name": "SourceBucket", "Value": w.primary.bucket},
                {"Name": "DestinationBucket", "Value": w.secondary.bucket},
                {"Name": "RuleId", "Value": w.extra.get("ReplicationRuleId", "")})
                if d["Value"]]},
            "Period": 60, "Stat": "Maximum"}, "Seconds"),
    }


def cloudwatch_lag_series(session: Session, window_minutes: float) -> pd.DataFrame:
    """CloudWatch's replication lag of every store over the last ``window_minutes``."""
    end = datetime.now(UTC)
    start = end - timedelta(minutes=window_minutes)
    results: dict[str, Any] = {}
    units: dict[str, str] = {}
    for store, (region, stat, unit) in cloudwatch_queries(session).items():
        answer = session.target.clients.client("cloudwatch", region).get_metric_data(
            MetricDataQueries=[{"Id": "lag", "MetricStat": stat, "ReturnData": True}],
            StartTime=start, EndTime=end)
        results[store] = answer["MetricDataResults"]
        units[store] = unit
    return lag_from_cloudwatch(results, units)
