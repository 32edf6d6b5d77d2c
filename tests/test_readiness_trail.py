"""Readiness of the audit trail: one logging trail records object events of both buckets."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.readiness import trail_coverage_verdict

BUCKETS = ["acme-dev-dr-data-1", "acme-dev-dr-replica-1"]


def _basic(*values: str, logging: bool = True) -> dict[str, Any]:
    return {"Name": "audit", "IsLogging": logging, "EventSelectors": [{
        "ReadWriteType": "All", "DataResources": [{"Type": "AWS::S3::Object",
                                                   "Values": list(values)}]}]}


def _advanced(*starts_with: str) -> dict[str, Any]:
    fields = [{"Field": "eventCategory", "Equals": ["Data"]},
              {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]
    if starts_with:
        fields.append({"Field": "resources.ARN", "StartsWith": list(starts_with)})
    return {"Name": "org", "IsLogging": True, "AdvancedEventSelectors": [
        {"FieldSelectors": fields}]}


@pytest.mark.parametrize(("trails", "status"), [
    ([_basic(*(f"arn:aws:s3:::{b}/" for b in BUCKETS))], "pass"),
    ([_basic("arn:aws:s3")], "pass"),  # every bucket
    ([_basic(f"arn:aws:s3:::{BUCKETS[0]}/")], "fail"),  # the replica is not recorded
    ([_basic(*(f"arn:aws:s3:::{b}/" for b in BUCKETS), logging=False)], "fail"),
    ([_basic(f"arn:aws:s3:::{BUCKETS[0]}/"), _basic(f"arn:aws:s3:::{BUCKETS[1]}/")], "fail"),
    ([_advanced()], "pass"),
    ([_advanced(*(f"arn:aws:s3:::{b}/" for b in BUCKETS))], "pass"),
    ([_advanced("arn:aws:s3:::other/")], "fail"),
    ([], "fail"),
])
def test_trail_coverage_verdict(trails: list[dict[str, Any]], status: str) -> None:
    """It passes only when a single logging trail covers both buckets, by basic or advanced
    selectors."""
    result = trail_coverage_verdict(trails, BUCKETS)
    assert result.status == status, result.evidence
    assert bool(result.remedy) is (status == "fail")
