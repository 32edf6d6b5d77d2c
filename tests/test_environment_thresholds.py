"""Each environment's lag threshold reaches readiness and the verdict through the drill chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drlib.measure import CanaryRecord, lag_statistics
from drlib.runner import DrillRequest, chain_parameters
from drlib.verdict import DEFAULT_TARGETS, Measured, evaluate, targets_for

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("environment", "threshold"), [("dev", 5.0), ("staging", 3.0),
                                                         ("prod", 2.0)])
def test_chain_passes_the_environments_lag_threshold(environment: str, threshold: float) -> None:
    """Readiness (10) and the drill (20) get the environment's threshold, not the default."""
    request = DrillRequest(environment=environment, confirm_production=environment == "prod")
    params = chain_parameters(request, Path("/tmp/run"))
    assert params["10_readiness"]["lag_threshold_seconds"] == threshold
    assert params["20_failover_drill"]["lag_threshold_seconds"] == threshold
    assert DEFAULT_TARGETS[environment].lag_threshold_seconds == threshold


def test_prod_verdict_fails_a_lag_that_dev_accepts() -> None:
    """A p99 lag of 3 s passes dev's 5 s threshold and fails prod's 2 s, as the drill (which
    builds its targets from the chain's threshold) evaluates it."""
    records = []
    for i in range(5):
        record = CanaryRecord("aurora", i, "us-east-1", T0, T0 + timedelta(seconds=i))
        record.mark_visible("us-west-2", T0 + timedelta(seconds=i + 3.0))
        records.append(record)
    measured = Measured(rto=None, rpo={}, lag=lag_statistics(records, stores=["aurora"]))
    for environment, severity in (("dev", "warning"), ("prod", "failure")):
        params = chain_parameters(DrillRequest(environment=environment,
                                               confirm_production=True), Path("/tmp/run"))
        threshold = params["20_failover_drill"]["lag_threshold_seconds"]
        targets = targets_for(environment, {"lag_threshold_seconds": threshold})
        (lag,) = [f for f in evaluate(targets, measured, "planned-switchover").findings
                  if f.check == "lag"]
        assert lag.severity == severity, lag.message
        assert lag.target == threshold
