"""Tests for drlib.verdict: targets, AWS's published figures and the drill verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from drlib.errors import ConfigError
from drlib.measure import CanaryRecord, RpoResult, RtoResult, lag_statistics
from drlib.verdict import (
    DEFAULT_TARGETS,
    Measured,
    Targets,
    evaluate,
    figures_to_metrics,
    published_figures,
    route53_failover_seconds,
    targets_for,
)
from drlib.write_outcomes import (
    RPO_EVIDENCE_RULE,
    RpoEvidence,
    count_writes,
    measure_write_outage,
)

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
TARGETS = Targets(rto_seconds=300, rpo_seconds=5, lag_threshold_seconds=2)


def rto(seconds: float | None) -> RtoResult:
    """An RTO result of ``seconds`` (None: not measured)."""
    return RtoResult(seconds=seconds, disaster_declared_at=T0, new_primary_region="us-west-2",
                     store="aurora", seq=1, reason="" if seconds is not None else "no write")


def rpo(lost: int, span: float = 0.0) -> RpoResult:
    """An RPO result with ``lost`` records over ``span`` seconds."""
    return RpoResult(store="aurora", lost_records=lost, span_seconds=span,
                     lost_seqs=tuple(range(1, lost + 1)), acknowledged=100)


def lag(*per_store: tuple[str, list[float]]) -> object:
    """Lag statistics from per-store lists of lag seconds."""
    records = []
    for store, lags in per_store:
        for i, value in enumerate(lags):
            record = CanaryRecord(store, i, "us-east-1", T0, T0 + timedelta(seconds=i))
            record.mark_visible("us-west-2", T0 + timedelta(seconds=i + value))
            records.append(record)
    return lag_statistics(records, stores=[s for s, _ in per_store])


def measured(rto_s: float | None = 30.0, lost: int = 0, span: float = 0.0,
             lags: tuple[tuple[str, list[float]], ...] = (("aurora", [0.1, 0.2, 0.3]),)
             ) -> Measured:
    """A Measured with one store unless told otherwise."""
    return Measured(rto=rto(rto_s), rpo={"aurora": rpo(lost, span)}, lag=lag(*lags))


def severities(verdict, check: str) -> list[str]:
    """The severities of the findings of one check."""
    return [f.severity for f in verdict.findings if f.check == check]


# --- targets --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("env", "rto_s", "rpo_s"), [("dev", 900, 60), ("staging", 600, 30), ("prod", 300, 5)],
)
def test_default_targets(env: str, rto_s: float, rpo_s: float) -> None:
    """Each environment has its default RTO and RPO, and a lag threshold below its RPO."""
    targets = targets_for(env)
    assert (targets.rto_seconds, targets.rpo_seconds) == (rto_s, rpo_s)
    assert targets.lag_threshold_seconds < targets.rpo_seconds


@pytest.mark.parametrize(
    ("overrides", "error"),
    [({"rto_seconds": 120}, None), ({"rto_secs": 1}, "Unknown target"),
     ({"rpo_seconds": -1}, "Negative"), ({"rpo_seconds": float("nan")}, "Negative")],
)
def test_target_overrides(overrides: dict, error: str | None) -> None:
    """Overrides replace single targets; unknown names and negative values are refused."""
    if error is None:
        targets = targets_for("prod", overrides)
        assert targets.rto_seconds == 120
        assert targets.rpo_seconds == DEFAULT_TARGETS["prod"].rpo_seconds
    else:
        with pytest.raises(ConfigError, match=error):
            targets_for("prod", overrides)


def test_unknown_environment() -> None:
    """An environment without targets is a ConfigError listing the known ones."""
    with pytest.raises(ConfigError, match="qa"):
        targets_for("qa")


# --- published figures ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("interval", "threshold", "ttl", "seconds"),
    [(30, 3, 60, 150.0), (10, 3, 60, 90.0), (10, 1, 0, 10.0), (30, 10, 300, 600.0)],
)
def test_route53_failover_time(interval: int, threshold: int, ttl: int, seconds: float) -> None:
    """Route 53 failover time is RequestInterval x FailureThreshold + TTL."""
    assert route53_failover_seconds(interval, threshold, ttl) == seconds


@pytest.mark.parametrize(("interval", "threshold", "ttl"), [(15, 3, 60), (30, 0, 60),
                                                          (30, 11, 60), (30, 3, -1)])
def test_route53_impossible_settings(interval: int, threshold: int, ttl: int) -> None:
    """Settings Route 53 does not allow are refused."""
    with pytest.raises(ConfigError):
        route53_failover_seconds(interval, threshold, ttl)


def test_published_figures_have_sources_and_values() -> None:
    """Every figure cites an https source; the numbers are the documented ones."""
    figures = published_figures(request_interval=10, failure_threshold=2, ttl=30)
    for figure in figures.values():
        assert figure.sources
        assert all(s.startswith("https://") for s in figure.sources)
    values = {k: f.value_seconds for k, f in figures.items()}
    assert values == {"aurora_lag": 1.0, "aurora_rto": 60.0, "aurora_switchover_rpo": 0.0,
                      "aurora_failover_rpo": None, "dynamodb_lag": 1.0, "s3_rtc": 900.0,
                      "route53_failover": 50.0}
    assert figures_to_metrics(figures)["s3_rtc"]["sources"] == list(figures["s3_rtc"].sources)


# --- verdict: RTO --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rto_s", "severity", "passed"),
    [(30.0, "info", True), (60.0, "info", True), (61.0, "warning", True), (300.0, "warning", True),
     (300.5, "failure", False), (None, "failure", False)],
)
def test_rto_against_target_and_aws(rto_s: float | None, severity: str, passed: bool) -> None:
    """RTO over target fails; within target but over AWS's 60 s warns; missing RTO fails."""
    verdict = evaluate(TARGETS, measured(rto_s=rto_s), "unplanned-failover")
    assert severities(verdict, "rto") == [severity]
    assert verdict.passed is passed


def test_rto_not_measured_at_all() -> None:
    """A drill that produced no RTO result fails with the reason."""
    verdict = evaluate(TARGETS, Measured(rto=None, rpo={"aurora": rpo(0)},
                                         lag=lag(("aurora", [0.1]))), "planned-switchover")
    (finding,) = [f for f in verdict.findings if f.check == "rto"]
    assert finding.severity == "failure"
    assert "not measured" in finding.message


def test_rto_message_quotes_measured_target_and_aws() -> None:
    """The RTO finding states the measured value, the target and AWS's figure."""
    verdict = evaluate(TARGETS, measured(rto_s=42.0), "planned-switchover")
    message = next(f.message for f in verdict.findings if f.check == "rto")
    assert "42.000 s" in message
    assert "300.000 s" in message
    assert "60.000 s" in message


# --- verdict: RPO --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("scenario", "lost", "span", "severity"),
    [
        ("planned-switchover", 0, 0.0, "info"),
        ("planned-switchover", 1, 0.0, "failure"),       # any loss fails a switchover
        ("unplanned-failover", 0, 0.0, "info"),
        ("unplanned-failover", 3, 4.0, "info"),          # loss within the RPO target
        ("unplanned-failover", 3, 5.0, "info"),          # exactly at the target
        ("unplanned-failover", 12, 5.5, "failure"),      # over the target
    ],
)
def test_rpo_by_scenario(scenario: str, lost: int, span: float, severity: str) -> None:
    """Switchover must lose nothing; unplanned failover may lose up to the RPO target."""
    verdict = evaluate(TARGETS, measured(lost=lost, span=span), scenario)
    assert severities(verdict, "rpo") == [severity]
    assert verdict.passed is (severity != "failure")


def test_rpo_in_every_store_is_checked() -> None:
    """A switchover loss in any one store fails the verdict and names that store."""
    m = Measured(rto=rto(10.0), rpo={"aurora": rpo(0), "s3": RpoResult("s3", 1, 0.0, (7,))},
                 lag=lag(("aurora", [0.1])))
    verdict = evaluate(TARGETS, m, "planned-switchover")
    (failure,) = verdict.failures()
    assert failure.store == "s3"
    assert "seq 7" in failure.message


def evidence(tested: bool) -> RpoEvidence:
    """RPO evidence for aurora: 25 writes in flight (tested) or 2 (not tested)."""
    return RpoEvidence(store="aurora", cutover_at=T0, old_primary_region="us-east-1",
                       acknowledged_in_window=25 if tested else 2,
                       attempted_in_window=25, blind_s=0.1 if tested else 3.0, tested=tested,
                       rule=RPO_EVIDENCE_RULE, reason="25 writes" if tested else "2 writes")


@pytest.mark.parametrize(
    ("environment", "scenario", "tested", "lost", "severity"),
    [
        ("prod", "planned-switchover", False, 0, "failure"),   # too few writes in flight
        ("staging", "planned-switchover", False, 0, "failure"),
        ("dev", "planned-switchover", False, 0, "warning"),    # dev warns, does not fail
        ("prod", "unplanned-failover", False, 0, "failure"),
        ("prod", "planned-switchover", True, 0, "info"),       # enough writes: a real claim
        ("prod", "planned-switchover", False, 2, "failure"),   # a loss is a loss, tested or not
        ("dev", "unplanned-failover", False, 1, "info"),       # a measured loss within target
    ],
)
def test_rpo_on_too_few_writes_in_flight_is_not_tested(environment: str, scenario: str,
                                                        tested: bool, lost: int,
                                                        severity: str) -> None:
    """With too few acknowledged writes before the cutover, "no loss" is reported "not
    tested", never 0, and fails the drill in staging and prod."""
    m = replace(measured(lost=lost, span=1.0), rpo_evidence={"aurora": evidence(tested)})
    verdict = evaluate(targets_for(environment), m, scenario)
    (finding,) = [f for f in verdict.findings if f.check == "rpo"]
    assert finding.severity == severity
    assert ("not tested" in finding.message) is (not tested and lost == 0)
    assert verdict.passed is (severity != "failure")
    assert m.to_metrics()["rpo"]["aurora"]["tested"] is tested


def test_writes_are_reported_per_store() -> None:
    """Every store's attempts, rejections by class and outage appear among the findings."""
    records = [CanaryRecord("aurora", 1, "us-east-1", T0, T0 + timedelta(seconds=0.01)),
               CanaryRecord("aurora", 2, "us-east-1", T0 + timedelta(seconds=1),
                            error="ReadOnlySqlTransaction: read-only"),
               CanaryRecord("aurora", 3, "us-west-2", T0 + timedelta(seconds=2),
                            T0 + timedelta(seconds=2.01))]
    m = replace(measured(), writes=count_writes(records),
                write_outage={"aurora": measure_write_outage(records, "aurora", T0,
                                                             "us-west-2")})
    (finding,) = [f for f in evaluate(TARGETS, m, "planned-switchover").findings
                  if f.check == "writes"]
    assert "3 writes attempted, 2 acknowledged, 1 rejected (1 ReadOnlySqlTransaction)" \
        in finding.message
    assert finding.measured == pytest.approx(2.0)
    assert m.to_metrics()["writes"]["aurora"]["rejected_by_class"] == {
        "ReadOnlySqlTransaction": 1}


def test_no_rpo_measured_fails() -> None:
    """A drill that reconciled no store fails."""
    verdict = evaluate(TARGETS, Measured(rto=rto(10.0), rpo={}, lag=lag(("aurora", [0.1]))),
                       "unplanned-failover")
    assert severities(verdict, "rpo") == ["failure"]


# --- verdict: lag --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("store", "lags", "severity"),
    [
        ("aurora", [0.01, 0.02, 0.03], "info"),
        ("aurora", [1.5, 1.5, 1.5], "warning"),          # median over AWS's 1 s, p99 under 2 s
        ("aurora", [0.1, 0.1, 3.0], "failure"),          # p99 over the 2 s threshold
        ("dynamodb", [1.2, 1.2, 1.2], "warning"),
        ("s3", [1.0, 1.5, 1.9], "info"),                 # S3 compared with RTC's 15 min
        ("efs", [0.5], "info"),                          # a store without an AWS figure
    ],
)
def test_lag_against_threshold_and_aws(store: str, lags: list[float], severity: str) -> None:
    """Lag p99 over the threshold fails; the typical value over AWS's figure warns."""
    verdict = evaluate(TARGETS, measured(lags=((store, lags),)), "planned-switchover")
    assert severities(verdict, "lag") == [severity]


def test_store_without_lag_samples_warns() -> None:
    """A store with no lag samples is a warning, not a pass in silence."""
    m = Measured(rto=rto(10.0), rpo={"aurora": rpo(0)}, lag=lag_statistics([], stores=["s3"]))
    verdict = evaluate(TARGETS, m, "planned-switchover")
    assert severities(verdict, "lag") == ["warning"]
    assert verdict.passed


def test_unknown_scenario() -> None:
    """Only the known drill scenarios can be evaluated."""
    with pytest.raises(ConfigError, match="scenario"):
        evaluate(TARGETS, measured(), "chaos-monkey")


def test_verdict_and_measured_metrics_blocks() -> None:
    """Verdict and Measured serialise to the metrics.json blocks."""
    m = measured(rto_s=12.3, lost=0)
    verdict = evaluate(TARGETS, m, "planned-switchover")
    block = verdict.to_metrics()
    assert block["passed"] is True
    assert {f["severity"] for f in block["findings"]} <= {"info", "warning", "failure"}
    metrics = m.to_metrics()
    assert metrics["rto_seconds"] == 12.3
    assert metrics["rpo"]["aurora"]["lost_records"] == 0
    assert metrics["lag"]["aurora"]["count"] == 3
