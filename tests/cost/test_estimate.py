"""The monthly estimate from templates + var files, and the cost of one drill."""

from __future__ import annotations

from pathlib import Path

import pytest

from drlib.cost.estimate import (
    CostAssumptions,
    DrillProfile,
    drill_cost,
    estimate_monthly_cost,
    health_check_features,
)
from drlib.cost.prices import load_price_table
from drlib.errors import ConfigError

PRICES = load_price_table()


@pytest.mark.parametrize(("environment", "nat_gateways"), [("dev", 2), ("prod", 6)])
def test_nat_gateways_priced_per_az_and_region(fixture_project: Path, environment: str,
                                               nat_gateways: int) -> None:
    """Every NAT gateway the environment creates costs its hourly price x 730 h."""
    estimate = estimate_monthly_cost(environment, fixture_project, PRICES)
    hours = estimate.lines[estimate.lines["item"] == "nat.hour"]
    assert len(hours) == nat_gateways
    assert hours["monthly_usd"].sum() == pytest.approx(
        nat_gateways * PRICES.price("nat.hour", "us-east-1") * 730)


def test_aurora_instances_use_the_var_file_class(fixture_project: Path) -> None:
    """prod's two primary and one standby r6g.xlarge instances are priced at their class."""
    estimate = estimate_monthly_cost("prod", fixture_project, PRICES)
    db = estimate.lines[estimate.lines["item"] == "aurora.instance"]
    assert sorted(db["region"]) == ["us-east-1", "us-east-1", "us-west-2"]
    assert set(db["variant"]) == {"db.r6g.xlarge"}
    assert db["monthly_usd"].sum() == pytest.approx(
        3 * 730 * PRICES.price("aurora.instance", "us-east-1", "db.r6g.xlarge"))


def test_totals_agree_across_views(fixture_project: Path) -> None:
    """By component, by region and the standby share all add up to the same total."""
    estimate = estimate_monthly_cost("dev", fixture_project, PRICES)
    assert estimate.by_component().to_numpy().sum() == pytest.approx(estimate.total_usd)
    share = estimate.standby_share()
    assert share["share"].sum() == pytest.approx(1.0)
    assert list(share["role"]) == ["primary", "standby"]
    assert 0 < share.set_index("role").loc["standby", "share"] < 0.5


def test_replication_costs_fall_in_the_right_region(fixture_project: Path) -> None:
    """Replicated writes are charged in the standby; the transfer in the sending primary."""
    lines = estimate_monthly_cost("dev", fixture_project, PRICES).lines
    by_item = lines.groupby("item")["region"].agg(set)
    assert by_item["dynamodb.replicated_wru"] == {"us-west-2"}
    assert by_item["aurora.replicated_write_io"] == {"us-west-2"}
    assert by_item["transfer.inter_region"] == {"us-east-1"}
    assert by_item["s3.rtc"] == {"us-east-1"}


def test_assumptions_drive_usage_lines(fixture_project: Path) -> None:
    """Doubling a documented assumption doubles the lines it drives and nothing else."""
    base = estimate_monthly_cost("dev", fixture_project, PRICES)
    more = estimate_monthly_cost("dev", fixture_project, PRICES,
                                 CostAssumptions().with_overrides({"nat_gb_per_gateway": 40}))
    delta = more.total_usd - base.total_usd
    assert delta == pytest.approx(2 * 20 * PRICES.price("nat.gb", "us-east-1"))


def test_unknown_assumption_is_refused() -> None:
    """Overriding an assumption that does not exist raises, naming it."""
    with pytest.raises(ConfigError, match="nat_gb"):
        CostAssumptions().with_overrides({"nat_gb": 1})


def test_unpriced_instance_class_names_the_resource(project_copy: Path) -> None:
    """A class missing from the price table raises a ConfigError naming the class."""
    var_file = project_copy / "vars" / "dev.yaml"
    var_file.write_text(var_file.read_text().replace("db.t4g.medium", "db.x9.huge", 1))
    with pytest.raises(ConfigError, match=r"db\.x9\.huge"):
        estimate_monthly_cost("dev", project_copy, PRICES)


@pytest.mark.parametrize(("config", "features"), [
    ({"Type": "HTTP", "RequestInterval": 30}, []),
    ({"Type": "HTTPS", "RequestInterval": 10}, ["HTTPS", "fast interval"]),
    ({"Type": "HTTPS_STR_MATCH", "MeasureLatency": True},
     ["HTTPS", "string matching", "latency measurement"]),
    ({"Type": "TCP", "RequestInterval": "10"}, ["fast interval"]),
])
def test_health_check_optional_features(config: dict, features: list[str]) -> None:
    """HTTPS, string matching, the fast interval and latency measurement are priced features."""
    assert health_check_features(config) == features


def test_drill_cost_scales_the_standby_for_the_drill(fixture_project: Path) -> None:
    """prod's drill runs two more m6i.large and one more r6g.xlarge in the standby for 2 h."""
    drill = drill_cost("prod", fixture_project, PRICES, DrillProfile(duration_hours=2))
    compute = drill[drill["item"] == "ec2.instance"].iloc[0]
    assert (compute["region"], compute["quantity"]) == ("us-west-2", 4)
    assert compute["drill_usd"] == pytest.approx(4 * PRICES.price("ec2.instance", "us-west-2",
                                                                  "m6i.large"))
    db = drill[drill["item"] == "aurora.instance"].iloc[0]
    assert (db["region"], db["quantity"]) == ("us-west-2", 2)
    canary = drill[drill["item"] == "dynamodb.wru"].iloc[0]
    assert canary["quantity"] == pytest.approx(5 * 7200 / 1e6)


def test_drill_cost_grows_with_duration(fixture_project: Path) -> None:
    """A four-hour drill costs twice a two-hour drill."""
    two = drill_cost("dev", fixture_project, PRICES, DrillProfile(duration_hours=2))
    four = drill_cost("dev", fixture_project, PRICES, DrillProfile(duration_hours=4))
    assert four["drill_usd"].sum() == pytest.approx(2 * two["drill_usd"].sum())


REAL_PROJECT = Path(__file__).resolve().parents[2] / "sceptre"
REAL_ENVIRONMENTS = sorted(p.stem for p in (REAL_PROJECT / "vars").glob("*.yaml"))


@pytest.mark.parametrize("environment", REAL_ENVIRONMENTS)
def test_real_project_is_fully_priced(environment: str) -> None:
    """Every environment of the repository's project prices its NAT gateways, load balancers,
    Aurora instances, keys, secrets and alarms, in both regions."""
    estimate = estimate_monthly_cost(environment, REAL_PROJECT, PRICES)
    project = estimate.project
    for type_, items in [("AWS::EC2::NatGateway", ["nat.hour"]),
                         ("AWS::ElasticLoadBalancingV2::LoadBalancer", ["alb.hour"]),
                         ("AWS::RDS::DBInstance", ["aurora.instance", "aurora.serverless_v2"]),
                         ("AWS::KMS::Key", ["kms.key"]),
                         ("AWS::CloudWatch::Alarm",
                          ["cloudwatch.alarm", "cloudwatch.alarm_high_resolution"])]:
        declared = len(project.resources(type_))
        assert declared > 0, type_
        assert estimate.lines["item"].isin(items).sum() == declared, type_
    assert set(estimate.by_region()["role"]) == {"primary", "standby"}
    assert 0 < estimate.standby_share().set_index("role").loc["standby", "share"] < 1


def test_var_file_can_override_assumptions(fixture_project: Path) -> None:
    """prod's var file sets aurora_storage_gb: 500, which its storage lines use."""
    estimate = estimate_monthly_cost("prod", fixture_project, PRICES)
    assert estimate.assumptions.aurora_storage_gb == 500
    storage = estimate.lines[estimate.lines["item"] == "aurora.storage"]
    assert list(storage["quantity"]) == [500, 500]
