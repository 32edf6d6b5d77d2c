"""Run summaries: plain tables and the RPO figure across stores."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.evidence.summary import format_table, rpo_text


def test_format_table_aligns_columns_and_shows_none_as_dash() -> None:
    """Columns are padded to the widest cell; None prints as '-'."""
    text = format_table(["a", "bb"], [["xxx", None], ["y", 2]])
    assert text.splitlines() == ["a    bb", "---  --", "xxx  -", "y    2"]


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        ({}, None),
        ({"rpo": {}}, None),
        ({"rpo": {"aurora": {"lost_records": 0, "span_seconds": 0.0}}}, "0 lost / 0.0 s"),
        ({"rpo": {"aurora": {"lost_records": 3, "span_seconds": 1.25},
                  "s3": {"lost_records": 2, "span_seconds": 4.0}}}, "5 lost / 4.0 s"),
        ({"rpo": {"dynamodb": {"lost_records": None, "span_seconds": None}}}, "0 lost / 0.0 s"),
        ({"rpo": {"aurora": {"lost_records": 0, "span_seconds": 0.0, "tested": False},
                  "s3": {"lost_records": 0, "span_seconds": 0.0, "tested": True}}},
         "0 lost / 0.0 s (NOT TESTED: aurora)"),
    ],
)
def test_rpo_text(measured: dict[str, Any], expected: str | None) -> None:
    """RPO sums lost records over stores and takes the longest span."""
    assert rpo_text(measured) == expected


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        ("20261128T170102Z_dev_planned-switchover",
         {"started_at": "2026-11-28T17:01:02+00:00", "environment": "dev",
          "scenario": "planned-switchover"}),
        ("20261128T170102Z_prod_unplanned-failover-2",
         {"started_at": "2026-11-28T17:01:02+00:00", "environment": "prod",
          "scenario": "unplanned-failover"}),
        ("my-run", {}),
    ],
)
def test_parse_run_id(run_id: str, expected: dict[str, str]) -> None:
    """Run ids name the UTC start, environment and scenario (a -N suffix is a same-second run)."""
    from drlib.evidence.summary import parse_run_id

    assert parse_run_id(run_id) == expected


@pytest.mark.parametrize(("stamp", "places", "shown"), [
    ("2026-12-06T18:04:24.311+00:00", 3, "2026-12-06 18:04:24.311Z"),
    ("2026-12-06T19:04:24.311123+01:00", 3, "2026-12-06 18:04:24.311Z"),
    ("2026-12-06T18:04:24.9Z", 0, "2026-12-06 18:04:24Z"),
    ("2026-12-06T18:04:24.311123456Z", 3, "2026-12-06 18:04:24.311Z"),  # nanoseconds
    ("", 3, ""), (None, 0, ""),
])
def test_utc_clock_reads_the_iso_times_drlib_writes(stamp: object, places: int,
                                                    shown: str) -> None:
    """Times in the reports are UTC, to the millisecond or the second, from any offset."""
    from drlib.evidence.summary import utc_clock

    assert utc_clock(stamp, places) == shown
