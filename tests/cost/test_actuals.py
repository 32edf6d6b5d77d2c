"""Actual spend from Cost Explorer as a DataFrame."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.cost.actuals import (
    AWS_SOURCE,
    actual_spend,
    daily_totals,
    group_definitions,
    rows_from_response,
)
from drlib.emulator.extensions import cost_explorer
from drlib.errors import ConfigError

AWS_LIKE: dict[str, Any] = {
    "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": "Env"}],
    "ResultsByTime": [{"TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"}, "Total": {},
                       "Groups": [{"Keys": ["Amazon Route 53", "Env$prod"], "Metrics": {
                           "UnblendedCost": {"Amount": "1.5", "Unit": "USD"}}},
                           {"Keys": ["AWS Backup", "Env$"], "Metrics": {
                               "UnblendedCost": {"Amount": "0.25", "Unit": "USD"}}}],
                       "Estimated": False}],
    "DimensionValueAttributes": []}


@pytest.mark.parametrize(("group_by", "expected"), [
    (["SERVICE"], [{"Type": "DIMENSION", "Key": "SERVICE"}]),
    (["region", "TAG:Environment"], [{"Type": "DIMENSION", "Key": "REGION"},
                                      {"Type": "TAG", "Key": "Environment"}]),
    ([], []),
])
def test_group_definitions(group_by: list[str], expected: list[dict[str, str]]) -> None:
    """Group names map to Cost Explorer DIMENSION and TAG definitions."""
    assert group_definitions(group_by) == expected


@pytest.mark.parametrize("group_by", [["SERVICE", "REGION", "TAG:x"], ["COLOUR"]])
def test_bad_groups_are_refused(group_by: list[str]) -> None:
    """More than two groups, or an unknown dimension, is a ConfigError."""
    with pytest.raises(ConfigError):
        group_definitions(group_by)


def test_rows_from_an_aws_answer() -> None:
    """An answer without the emulator's marker is AWS's; tag keys lose their ``key$`` prefix."""
    rows = rows_from_response(AWS_LIKE, "UnblendedCost")
    assert [(r["service"], r["tag:Env"], r["amount"], r["source"]) for r in rows] == [
        ("Amazon Route 53", "prod", 1.5, AWS_SOURCE), ("AWS Backup", "", 0.25, AWS_SOURCE)]


def test_actual_spend_on_the_emulator_says_where_it_comes_from(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spend on the emulator is grouped by service and region, and labelled as emulated."""
    ec2 = aws.client("ec2", "us-east-1")
    ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.medium", MinCount=1, MaxCount=1)
    launched = ec2.describe_instances()["Reservations"][0]["Instances"][0]["LaunchTime"]
    monkeypatch.setattr(cost_explorer, "_now", lambda: launched + dt.timedelta(hours=48))
    start = launched.date()
    spend = actual_spend(aws, start, start + dt.timedelta(days=4), ["SERVICE", "REGION"])
    assert list(spend.columns) == ["start", "end", "service", "region", "amount", "unit",
                                   "estimated", "source"]
    assert set(spend["service"].dropna()) == {"Amazon Elastic Compute Cloud - Compute"}
    assert spend["amount"].sum() == pytest.approx(48 * 0.0416, rel=1e-4)
    assert spend["source"].iloc[0].startswith("emulator (derived from deployed resources")
    daily = daily_totals(spend)
    assert list(daily["amount"] > 0) == [True, True, True, False]  # day 4 is after the clock


def test_periods_without_spend_appear_at_zero() -> None:
    """A grouped period with no groups gives a zero row, so every day is charted."""
    empty = {**AWS_LIKE, "ResultsByTime": [
        {"TimePeriod": {"Start": "2026-11-03", "End": "2026-11-04"}, "Total": {}, "Groups": [],
         "Estimated": True}]}
    rows = rows_from_response(empty, "UnblendedCost")
    assert [(r["service"], r["amount"]) for r in rows] == [(None, 0.0)]
