"""Tests for drlib.measure: canary records, lag statistics, CloudWatch lag, RTO and RPO."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from drlib.errors import ConfigError
from drlib.measure import (
    CanaryRecord,
    lag_from_cloudwatch,
    lag_series,
    lag_statistics,
    lag_statistics_to_metrics,
    measure_rpo,
    measure_rto,
    records_frame,
)

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
EAST, WEST = "us-east-1", "us-west-2"


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def rec(store: str, seq: int, acked: float | None, seen: float | None = None,
        region: str = EAST, written: float | None = None) -> CanaryRecord:
    """A canary record acked at T0+acked in ``region`` and seen in the other region at T0+seen."""
    record = CanaryRecord(store=store, seq=seq, region_written=region,
                          written_at=at(written if written is not None else (acked or 0) - 0.01),
                          acked_at=None if acked is None else at(acked))
    if seen is not None:
        record.mark_visible(WEST if region == EAST else EAST, at(seen))
    return record


# --- canary records ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("acked", "seen", "lag"),
    [(1.0, 1.25, 0.25), (1.0, 1.0, 0.0), (1.0, 0.9, 0.0), (None, 2.0, None), (1.0, None, None)],
)
def test_record_lag(acked: float | None, seen: float | None, lag: float | None) -> None:
    """Lag is arrival elsewhere minus ack; arrival before the ack counts as 0; missing is None."""
    result = rec("aurora", 1, acked, seen).lag_seconds()
    assert result == (None if lag is None else pytest.approx(lag))


def test_sighting_in_the_writing_region_is_not_an_arrival() -> None:
    """Only sightings in another region count as replication."""
    record = rec("s3", 1, 1.0)
    record.mark_visible(EAST, at(1.1))
    assert record.lag_seconds() is None


def test_earliest_sighting_wins() -> None:
    """mark_visible keeps the first time a record was seen in a region."""
    record = rec("s3", 1, 1.0)
    record.mark_visible(WEST, at(3.0))
    record.mark_visible(WEST, at(2.0))
    record.mark_visible(WEST, at(4.0))
    assert record.lag_seconds() == pytest.approx(1.0)


def test_records_round_trip_through_csv_rows(tmp_path) -> None:
    """Records written as canaries.csv rows read back equal, missing values included."""
    records = [rec("aurora", 1, 1.0, 1.5), rec("dynamodb", 2, None), rec("s3", 3, 2.0)]
    records[1].error = "timeout"
    path = tmp_path / "canaries.csv"
    records_frame(records).to_csv(path, index=False)
    rows = pd.read_csv(path).to_dict("records")
    assert [CanaryRecord.from_record(r) for r in rows] == records


# --- lag statistics ------------------------------------------------------------------------------

def test_lag_statistics_per_store_with_empty_store() -> None:
    """Statistics are per store in seconds; a store without samples has count 0 and NaN."""
    records = [rec("aurora", i, float(i), float(i) + lag)
               for i, lag in enumerate([0.1, 0.2, 0.3, 0.4, 1.0], start=1)]
    records.append(rec("dynamodb", 1, 1.0, 1.5))
    records.append(rec("dynamodb", 2, 2.0))  # never arrived: no sample
    stats = lag_statistics(records)
    assert list(stats.index) == ["aurora", "dynamodb", "s3"]
    aurora = stats.loc["aurora"]
    assert aurora["count"] == 5
    assert aurora["median_s"] == pytest.approx(0.3)
    assert aurora["max_s"] == pytest.approx(1.0)
    assert aurora["p90_s"] == pytest.approx(0.76)
    assert stats.loc["dynamodb", "count"] == 1
    assert stats.loc["s3", "count"] == 0
    assert math.isnan(stats.loc["s3", "median_s"])


def test_lag_statistics_of_nothing() -> None:
    """No records at all still gives a row per store, all empty."""
    stats = lag_statistics([])
    assert list(stats["count"]) == [0, 0, 0]


def test_lag_metrics_turn_nan_into_null() -> None:
    """The metrics.json lag block has null where a store had no samples."""
    metrics = lag_statistics_to_metrics(lag_statistics([rec("aurora", 1, 1.0, 1.02)]))
    assert metrics["aurora"]["count"] == 1
    assert metrics["aurora"]["median_s"] == pytest.approx(0.02)
    assert metrics["s3"] == {"count": 0, "median_s": None, "p90_s": None, "p99_s": None,
                             "max_s": None, "resolution_s": None}


def test_lag_resolution_travels_through_csv_and_statistics() -> None:
    """Each arrival's resolution (time since the last read that missed it) is kept in
    canaries.csv and summarised per store as the median resolution."""
    records = [rec("aurora", i, float(i), float(i) + 0.05) for i in range(1, 4)]
    for record, resolution in zip(records, [0.01, 0.02, 0.03], strict=True):
        record.mark_visible(WEST, record.visible_at[WEST], resolution)
    again = [CanaryRecord.from_record(r.to_record()) for r in records]
    assert [r.lag_resolution() for r in again] == pytest.approx([0.01, 0.02, 0.03])
    stats = lag_statistics(again)
    assert stats.loc["aurora", "resolution_s"] == pytest.approx(0.02)
    assert math.isnan(stats.loc["dynamodb", "resolution_s"])


def test_unknown_store_is_appended() -> None:
    """A store outside the default list still gets statistics."""
    stats = lag_statistics([rec("efs", 1, 1.0, 2.0)])
    assert stats.loc["efs", "count"] == 1


# --- CloudWatch ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("unit", "values", "seconds"),
    [("Milliseconds", [250.0, 1000.0], [0.25, 1.0]), ("Seconds", [2.0, 3.0], [2.0, 3.0]),
     ("Microseconds", [500.0, 1.0e6], [0.0005, 1.0]), ("ms", [5.0, 10.0], [0.005, 0.01])],
)
def test_cloudwatch_units_become_seconds(unit: str, values: list[float],
                                         seconds: list[float]) -> None:
    """CloudWatch values in ms, s or µs become lag seconds, sorted by time."""
    result = {"Id": "m1", "Timestamps": [at(60), at(0)], "Values": values}
    frame = lag_from_cloudwatch({"dynamodb": result}, units={"dynamodb": unit})
    assert list(frame["lag_s"]) == pytest.approx(list(reversed(seconds)))
    assert set(frame["source"]) == {"cloudwatch"}
    assert list(frame.columns) == list(lag_series([]).columns)


def test_cloudwatch_default_units_and_lists() -> None:
    """Default units follow AWS (S3 in seconds, DynamoDB and Aurora in ms); lists are merged."""
    frame = lag_from_cloudwatch({
        "s3": [{"Timestamps": [at(0)], "Values": [4.0]}, {"Timestamps": [at(60)], "Values": [6.0]}],
        "aurora": {"Timestamps": [at(0)], "Values": [20.0]},
    })
    stats = lag_statistics(frame)
    assert stats.loc["s3", "max_s"] == pytest.approx(6.0)
    assert stats.loc["aurora", "max_s"] == pytest.approx(0.02)
    assert stats.loc["dynamodb", "count"] == 0


@pytest.mark.parametrize(
    ("result", "units", "match"),
    [({"Timestamps": [T0], "Values": [1.0]}, {"s3": "Bytes"}, "unit"),
     ({"Timestamps": [T0], "Values": [1.0]}, {}, "unit"),
     ({"Timestamps": [T0, T0], "Values": [1.0]}, {"s3": "Seconds"}, "timestamps")],
)
def test_cloudwatch_bad_input(result: dict, units: dict, match: str) -> None:
    """Unknown units and mismatched series are ConfigErrors naming the problem."""
    with pytest.raises(ConfigError, match=match):
        lag_from_cloudwatch({"s3": result}, units=units)


# --- RTO -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("records", "seconds", "first"),
    [
        # the first write acknowledged by the new primary after the declaration
        ([rec("aurora", 1, 5.0, region=EAST), rec("aurora", 2, 12.0, region=WEST),
          rec("dynamodb", 1, 11.5, region=WEST)], 1.5, ("dynamodb", 1)),
        # writes acked by the new primary before the declaration do not count
        ([rec("s3", 1, 9.0, region=WEST), rec("s3", 2, 14.0, region=WEST)], 4.0, ("s3", 2)),
        # clock tie with the declaration counts; ties between records pick the lowest store/seq
        ([rec("s3", 7, 10.0, region=WEST), rec("aurora", 9, 10.0, region=WEST)], 0.0,
         ("aurora", 9)),
        # unacknowledged writes to the new primary are not recovery
        ([rec("aurora", 1, None, region=WEST), rec("aurora", 2, 30.0, region=WEST)], 20.0,
         ("aurora", 2)),
    ],
)
def test_rto_first_ack_by_new_primary(records: list[CanaryRecord], seconds: float,
                                      first: tuple[str, int]) -> None:
    """RTO runs from the declaration to the first write acknowledged by the new primary."""
    result = measure_rto(at(10.0), records, WEST)
    assert result.seconds == pytest.approx(seconds)
    assert (result.store, result.seq) == first


@pytest.mark.parametrize(
    "records",
    [[], [rec("aurora", 1, 20.0, region=EAST)], [rec("aurora", 1, 5.0, region=WEST)],
     [rec("aurora", 1, None, region=WEST)]],
)
def test_rto_without_post_failover_write_is_none_with_reason(records: list[CanaryRecord]) -> None:
    """No acknowledged write by the new primary after the declaration gives None and a reason."""
    result = measure_rto(at(10.0), records, WEST)
    assert result.seconds is None
    assert WEST in result.reason
    assert "no canary write" in result.reason
    assert result.to_metrics()["rto_seconds"] is None


def test_rto_restricted_to_one_store() -> None:
    """With store=, only that store's canary counts."""
    records = [rec("dynamodb", 1, 11.0, region=WEST), rec("aurora", 1, 13.0, region=WEST)]
    assert measure_rto(at(10.0), records, WEST, store="aurora").seconds == pytest.approx(3.0)
    assert measure_rto(at(10.0), records, WEST, store="s3").seconds is None


# --- RPO -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("acks", "present", "lost", "span"),
    [
        # disaster at T0+5; span = from the earliest lost ack to max(disaster, last lost ack)
        ([1.0, 2.0, 3.0, 4.0], {1, 2, 3, 4}, (), 0.0),            # nothing lost
        ([1.0, 2.0, 3.0, 4.0], {2, 3, 4}, (1,), 4.0),             # one lost record is not 0 s
        ([1.0, 2.0, 3.0, 4.0], {1, 2, 3}, (4,), 1.0),             # lost at the last edge
        ([1.0, 2.0, 3.0, 4.0], {1, 4}, (2, 3), 3.0),              # a gap in the middle
        ([1.0, 2.0, 3.0, 4.0], set(), (1, 2, 3, 4), 4.0),         # everything lost
        ([1.0, 2.0, 10.0, 11.0], {1, 2}, (3, 4), 1.0),            # both acked after the disaster
        ([1.0, 2.0, 5.0], {1, 2}, (3,), 0.0),                     # acked at the disaster itself
        ([], set(), (), 0.0),                                      # no records
    ],
)
def test_rpo_reconciles_record_by_record(acks: list[float], present: set[int],
                                         lost: tuple[int, ...], span: float) -> None:
    """Every acknowledged record absent from the new primary is lost; the span runs from the
    earliest lost acknowledgement to the disaster (or the last lost acknowledgement if later)."""
    records = [rec("aurora", i, ack) for i, ack in enumerate(acks, start=1)]
    result = measure_rpo(records, WEST, at(5.0), {"aurora": present}, stores=["aurora"])["aurora"]
    assert result.lost_seqs == lost
    assert result.lost_records == len(lost)
    assert result.span_seconds == pytest.approx(span)
    assert result.acknowledged == len(acks)


def test_rpo_ignores_unacknowledged_writes_but_reports_those_that_landed() -> None:
    """A write without ack is not loss; if it landed anyway it is listed separately."""
    records = [rec("s3", 1, 1.0), rec("s3", 2, None), rec("s3", 3, None)]
    result = measure_rpo(records, WEST, at(5.0), {"s3": {1, 3}})["s3"]
    assert result.lost_records == 0
    assert result.unacknowledged_present == (3,)


def test_rpo_per_store_and_metrics() -> None:
    """Each store is reconciled on its own and reported in the metrics schema shape."""
    records = [rec("aurora", 1, 1.0), rec("aurora", 2, 2.5), rec("dynamodb", 1, 1.0)]
    results = measure_rpo(records, WEST, at(5.0), {"aurora": {1}, "dynamodb": {1}, "s3": set()})
    assert set(results) == {"aurora", "dynamodb", "s3"}
    assert results["aurora"].to_metrics()["lost_records"] == 1
    assert results["aurora"].to_metrics()["lost_seqs"] == [2]
    assert results["dynamodb"].lost_records == 0
    assert results["s3"].lost_records == 0


def test_rpo_without_reconciliation_for_a_store_is_an_error() -> None:
    """Measuring a store without its read-back sequence numbers is refused."""
    with pytest.raises(ConfigError, match="dynamodb"):
        measure_rpo([rec("dynamodb", 1, 1.0)], WEST, at(5.0), {"aurora": set()})
