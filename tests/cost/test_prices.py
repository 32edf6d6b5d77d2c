"""The shipped price table and the Price List API parsing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.stub import Stubber

from drlib.aws import AwsClients
from drlib.cost.prices import (
    PriceEntry,
    PriceTable,
    load_price_table,
    on_demand_price,
    refresh_prices,
)
from drlib.errors import ConfigError

REGIONS = ("us-east-1", "us-west-2")


def price_list_product(sku: str, usd: str, unit: str = "Hrs", tiers: int = 1) -> str:
    """A Price List product in the documented get_products PriceList format (a JSON string)."""
    dimensions = {}
    for tier in range(tiers):
        code = f"{sku}.JRTCKXETXF.6YS6EN2CT{tier}"
        dimensions[code] = {"rateCode": code, "description": f"tier {tier}", "unit": unit,
                            "beginRange": str(tier * 10), "endRange": "Inf",
                            "appliesTo": [], "pricePerUnit": {"USD": str(float(usd) / (tier + 1))}}
    return json.dumps({
        "product": {"productFamily": "Database Instance", "sku": sku,
                    "attributes": {"instanceType": "db.r6g.large", "regionCode": "us-east-1"}},
        "serviceCode": "AmazonRDS",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "priceDimensions": dimensions, "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"})


def test_shipped_table_is_dated_and_every_entry_states_source_and_confidence() -> None:
    """Every entry of the shipped table has a source URL or offer and a known confidence."""
    table = load_price_table()
    dt.date.fromisoformat(table.date)
    levels = set(table.meta["confidence_levels"])
    for entry in table.entries:
        assert entry.source.startswith("https://aws.amazon.com/"), entry.key
        assert entry.confidence in levels, entry.key
        assert set(REGIONS) <= set(entry.prices), entry.key
        assert all(p >= 0 for p in entry.prices.values()), entry.key


@pytest.mark.parametrize(("item", "variant"), [
    ("aurora.instance", "db.r6g.large"), ("aurora.instance", "db.t4g.medium"),
    ("aurora.storage", None), ("aurora.io", None), ("aurora.replicated_write_io", None),
    ("aurora.backup_storage", None), ("ec2.instance", "t3.medium"), ("ebs.gp3", None),
    ("nat.hour", None), ("nat.gb", None), ("alb.hour", None), ("alb.lcu", None),
    ("dynamodb.wru", None), ("dynamodb.replicated_wru", None), ("dynamodb.storage", None),
    ("s3.storage", None), ("s3.rtc", None), ("transfer.inter_region", None),
    ("route53.hosted_zone", None), ("route53.health_check_aws", None),
    ("route53.health_check_non_aws", None), ("route53.health_check_feature_aws", None),
    ("cloudwatch.alarm", None), ("cloudwatch.dashboard", None), ("cloudwatch.custom_metric", None),
    ("cloudwatch.logs_ingest", None), ("kms.key", None), ("kms.requests", None),
    ("secretsmanager.secret", None), ("lambda.requests", None), ("sns.publish", None),
    ("backup.aurora_storage", None), ("vpc.interface_endpoint_hour", None),
])
def test_table_prices_what_the_stack_uses(item: str, variant: str | None) -> None:
    """Each item the stack uses has a price in both regions of the pair."""
    table = load_price_table()
    for region in REGIONS:
        assert table.price(item, region, variant) > 0


def test_missing_variant_raises_naming_the_known_ones() -> None:
    """Looking up an unpriced class raises a ConfigError that lists the priced classes."""
    with pytest.raises(ConfigError, match=r"db\.x2g\.16xlarge") as err:
        load_price_table().price("aurora.instance", "us-east-1", "db.x2g.16xlarge")
    assert "db.r6g.large" in str(err.value)


def test_duplicate_entries_are_rejected() -> None:
    """A table with two entries for the same item and variant is refused."""
    entry = PriceEntry("nat.hour", None, "Hrs", "EC2 - Other", {"us-east-1": 0.045}, "x", "u")
    with pytest.raises(ConfigError, match="duplicate"):
        PriceTable(date="2026-11-28", entries=(entry, entry))


@pytest.mark.parametrize(("product", "expected"), [
    (price_list_product("ABC", "0.26"), (0.26, "Hrs", "ABC")),
    (price_list_product("DEF", "0.10", unit="GB-Mo", tiers=3), (0.10, "GB-Mo", "DEF")),
    (json.loads(price_list_product("GHI", "1.5")), (1.5, "Hrs", "GHI")),
])
def test_on_demand_price_reads_the_first_tier(product: Any, expected: tuple) -> None:
    """The on-demand price is the first tier's USD price, with its unit and SKU."""
    assert on_demand_price(product) == expected


def test_on_demand_price_without_on_demand_terms_raises() -> None:
    """A product without on-demand terms (reserved only) is an error, not a zero price."""
    doc = json.loads(price_list_product("R1", "1"))
    doc["terms"] = {"Reserved": doc["terms"]["OnDemand"]}
    with pytest.raises(ConfigError, match="no on-demand price"):
        on_demand_price(doc)


def test_refresh_prices_queries_the_price_list_and_replaces_entries() -> None:
    """refresh_prices sends get_products with the entry's filters and stores the offer's price."""
    clients = AwsClients(credentials={"aws_access_key_id": "x", "aws_secret_access_key": "x"})
    pricing = clients.client("pricing", "us-east-1")
    base = load_price_table()
    spec_entries = [e for e in base.entries if e.price_list]
    small = PriceTable(date=base.date, entries=tuple(
        [e for e in spec_entries if e.key == ("aurora.instance", "db.r6g.large")] +
        [e for e in base.entries if e.key == ("nat.gb", None)]))
    with Stubber(pricing) as stub:
        stub.add_response("get_products", {"PriceList": [price_list_product("SKU1", "0.31")],
                                           "FormatVersion": "aws_v1"},
                          {"ServiceCode": "AmazonRDS", "MaxResults": 10, "Filters": [
                              {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
                              {"Type": "TERM_MATCH", "Field": "instanceType",
                               "Value": "db.r6g.large"},
                              {"Type": "TERM_MATCH", "Field": "databaseEngine",
                               "Value": "Aurora PostgreSQL"},
                              {"Type": "TERM_MATCH", "Field": "deploymentOption",
                               "Value": "Single-AZ"}]})
        fresh = refresh_prices(clients, "us-west-2", small)
        stub.assert_no_pending_responses()
    entry = fresh.entry("aurora.instance", "db.r6g.large")
    assert entry.prices["us-west-2"] == pytest.approx(0.31)
    assert entry.prices["us-east-1"] == base.price("aurora.instance", "us-east-1", "db.r6g.large")
    assert entry.confidence == "price-list-api"
    assert "SKU1" in entry.source
    assert fresh.entry("nat.gb") == base.entry("nat.gb")  # no spec: kept as it was
    assert fresh.date == dt.date.today().isoformat()
