"""The RTO clients would see on AWS, modelled from the configuration, component by component."""

from __future__ import annotations

import pytest

from drlib.cli import main
from drlib.rto_model import (
    check_modelled_rto,
    from_metrics,
    model_from_settings,
    model_rto,
)
from drlib.verdict import DnsReference


@pytest.mark.parametrize(("scenario", "interval", "threshold", "ttl", "desired", "total"), [
    # planned: the database switch and the DNS move run together
    ("planned-switchover", 10, 2, 60, 1, 80.0),     # max(60, 20 + 60)
    ("planned-switchover", 10, 1, 30, 1, 60.0),     # max(60, 10 + 30): the database dominates
    # unplanned: detected first, then the failover while caches expire
    ("unplanned-failover", 30, 3, 60, 2, 150.0),    # 90 + max(60, 60)
    ("unplanned-failover", 10, 3, 120, 1, 150.0),   # 30 + max(60, 120)
    ("unplanned-failover", 10, 2, 60, 0, 380.0),    # 20 + 60 + 300 (no standby instance)
])
def test_model_arithmetic(scenario: str, interval: int, threshold: int, ttl: int, desired: int,
                          total: float) -> None:
    """Each scenario's formula over detection, TTL, database and app tier, with sources."""
    model = model_rto(scenario, DnsReference(interval, threshold, ttl, source="test"), desired,
                      target_s=300.0)
    assert model.total_s == total
    assert [c.name for c in model.components][:2] == ["detection", "DNS TTL"]
    assert all(c.source and c.setting for c in model.components)
    assert model.exceeds_target is (total > 300.0)


def test_a_model_over_target_fails_readiness_naming_the_setting() -> None:
    """A modelled RTO above the target is a failed check whose remedy names what to change."""
    model = model_rto("unplanned-failover", DnsReference(30, 10, 60, source="t"), 1, 120.0)
    status, evidence, remedy = check_modelled_rto(model)
    assert status == "fail"
    assert "EXCEEDS the target 120 s" in evidence
    assert "health_check_interval" in remedy
    assert check_modelled_rto(model_rto("planned-switchover", DnsReference(10, 2, 60), 1,
                                        900.0))[0] == "pass"


def test_model_round_trips_through_metrics() -> None:
    """metrics.json's rto_model block gives the same model back (the report and notebook 20)."""
    model = model_from_settings("prod", {"health_check_interval": 10,
                                         "health_check_failure_threshold": 3,
                                         "secondary_asg_desired": 2}, "planned-switchover")
    again = from_metrics(model.to_metrics())
    assert again == model
    assert again.target_s == 300.0
    assert again.lines()[0].startswith("modelled RTO on AWS (planned-switchover): 90 s")


def test_dry_run_shows_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib drill --dry-run` prints the modelled RTO on AWS beside the plan."""
    assert main(["drill", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "modelled RTO on AWS (planned-switchover): 80 s" in out
    assert "detection: 20 s" in out
