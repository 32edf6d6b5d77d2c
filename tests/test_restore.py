"""The data-corruption scenario's arithmetic: RTO to the restored data readable, RPO record by
record against the restored copies (drlib.restore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from drlib.measure import CanaryRecord
from drlib.restore import lost_window_candidates, measure_restore_records, restore_names

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)
PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _records(acks: list[float | None], present: set[int], store: str = "dynamodb",
             ) -> list[CanaryRecord]:
    """One canary per acknowledgement time (None: not acknowledged), seq 1, 2, ...; those in
    ``present`` were found in the restored copy."""
    return [CanaryRecord(store=store, seq=seq, region_written=PRIMARY,
                         written_at=_at((ack or 0.0) - 0.01),
                         acked_at=None if ack is None else _at(ack),
                         present_after=seq in present)
            for seq, ack in enumerate(acks, start=1)]


@pytest.mark.parametrize(("acks", "present", "lost", "span"), [
    # Everything acknowledged before the corruption (at 10 s) is in the recovery point.
    ([1.0, 2.0, 3.0], {1, 2, 3}, (), 0.0),
    # The recovery point was taken between 2 s and 3 s: seq 3 and 4 are lost, spanning from
    # the first lost acknowledgement to the corruption.
    ([1.0, 2.0, 3.0, 9.5], {1, 2}, (3, 4), 7.0),
    # Writes acknowledged after the corruption went to the live store: never counted lost.
    ([1.0, 9.0, 10.5, 12.0], {1}, (2,), 1.0),
    # A write never acknowledged is not a loss, even when the restore lacks it.
    ([1.0, None, 4.0], {1, 3}, (), 0.0),
    # A write acknowledged exactly at the corruption is already outside the window.
    ([10.0], set(), (), 0.0),
    # One lost record spans its acknowledgement to the corruption, never 0 s.
    ([9.99], set(), (1,), 0.01),
])
def test_rpo_counts_acknowledged_writes_before_the_corruption_missing_from_the_restore(
        acks: list[float | None], present: set[int], lost: tuple[int, ...],
        span: float) -> None:
    """RPO is every canary acknowledged before the corruption and absent from the restored copy,
    spanning from the earliest lost acknowledgement to the corruption."""
    records = _records(acks, present)
    measured = measure_restore_records(
        records, ["dynamodb"], declared=_at(10.2), corrupted_at=_at(10.0),
        readable_at={"dynamodb": _at(40.2)}, restored={"dynamodb": "t-restore"},
        old_primary=PRIMARY, restore_region=SECONDARY)
    rpo = measured.rpo["dynamodb"]
    assert rpo.lost_seqs == lost
    assert rpo.lost_records == len(lost)
    assert rpo.span_seconds == pytest.approx(span)


@pytest.mark.parametrize(("readable", "expected"), [
    ({"dynamodb": 40.2, "s3": 35.2}, 30.0),  # the slowest store
    ({"dynamodb": 10.2, "s3": 12.7}, 2.5),
    ({"dynamodb": 40.2, "s3": None}, None),  # one store never readable: not measured
])
def test_rto_is_the_declaration_to_the_slowest_stores_restored_data_readable(
        readable: dict[str, float | None], expected: float | None) -> None:
    """RTO per store runs from the declaration to its restored data seen readable; overall it is
    the slowest store, and not measured when one store never became readable."""
    records = _records([1.0], {1}) + _records([1.0], {1}, store="s3")
    measured = measure_restore_records(
        records, ["dynamodb", "s3"], declared=_at(10.2), corrupted_at=_at(10.0),
        readable_at={s: None if t is None else _at(t) for s, t in readable.items()},
        restored={"dynamodb": "t", "s3": "b"}, old_primary=PRIMARY, restore_region=SECONDARY)
    assert measured.rto is not None
    if expected is None:
        assert measured.rto.seconds is None
    else:
        assert measured.rto.seconds == pytest.approx(expected)
        assert measured.rto_per_store["dynamodb"].new_primary_region == SECONDARY


def test_nothing_is_measured_before_the_disaster_is_declared() -> None:
    """Without a declaration (an aborted drill) RTO and RPO are not measured; writes still are."""
    measured = measure_restore_records(
        _records([1.0, 2.0], {1}), ["dynamodb"], declared=None, corrupted_at=_at(3.0),
        readable_at={}, restored={}, old_primary=PRIMARY, restore_region=SECONDARY)
    assert measured.rto is None
    assert measured.rpo == {}
    assert measured.writes["dynamodb"].acknowledged == 2


def test_the_lost_window_holds_only_writes_acknowledged_before_the_corruption() -> None:
    """Candidates are the acknowledged writes strictly before the corruption."""
    records = _records([1.0, None, 5.0, 6.0], set())
    assert [r.seq for r in lost_window_candidates(records, _at(5.0))] == [1]


def test_restored_names_are_unique_per_run_and_valid() -> None:
    """The restored table and bucket names differ per run; the bucket's fits S3's 63 characters."""
    workload = SimpleNamespace(table_name="acme-dev-data",
                               secondary=SimpleNamespace(bucket="a" * 63))
    table, bucket = restore_names(workload, "20260101T000000Z_dev_data-corruption")
    other = restore_names(workload, "20260101T000001Z_dev_data-corruption")
    assert table.startswith("acme-dev-data-restore-")
    assert len(bucket) <= 63
    assert bucket == bucket.lower()
    assert (table, bucket) != other


@pytest.mark.parametrize(("readable_s", "passed"), [(30.0, True), (1000.0, False)])
def test_the_verdict_judges_a_restore_against_the_environments_targets(
        readable_s: float, passed: bool) -> None:
    """A restore's RTO and RPO are judged against the environment's targets, with no failover
    figure quoted, and fail when the restore is slower than the RTO target (dev: 900 s)."""
    from drlib.verdict import evaluate, published_figures, targets_for

    records = [r for store in ("dynamodb", "s3")
               for r in _records([0.1 * i for i in range(1, 100)], set(range(1, 60)), store)]
    measured = measure_restore_records(
        records, ["dynamodb", "s3"], declared=_at(10.2), corrupted_at=_at(10.0),
        readable_at={"dynamodb": _at(10.2 + readable_s), "s3": _at(12.0)},
        restored={"dynamodb": "t", "s3": "b"}, old_primary=PRIMARY, restore_region=SECONDARY)
    verdict = evaluate(targets_for("dev"), measured, "data-corruption", published_figures())
    assert verdict.passed is passed
    rto = next(f for f in verdict.findings if f.check == "rto")
    assert "restored data readable" in rto.message
    assert "DNS" not in rto.message
    rpo = [f.message for f in verdict.findings if f.check == "rpo"]
    assert all("40 of 99 acknowledged records lost" in m for m in rpo), rpo


def test_the_scenario_is_offered_everywhere_a_scenario_is_chosen() -> None:
    """Notebook 20 accepts data-corruption and the dry run's plan names its steps, the dr-restore
    runbook among them, each with a timeout."""
    from drlib.drill import describe_plan
    from drlib.notebook_params import validate

    assert validate("20_failover_drill", {"scenario": "data-corruption"})["scenario"] == \
        "data-corruption"
    plan = describe_plan("data-corruption", "dev", "local")
    for step in ("record a recovery point", "corrupt the data in both regions",
                 "the data-corruption runbook", "restored data readable",
                 "put back and clean up"):
        assert step in plan
    assert "(timeout" in plan.splitlines()[3]
