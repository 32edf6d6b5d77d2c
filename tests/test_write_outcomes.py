"""Tests for drlib.write_outcomes: every write counted, the write outage, RPO evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drlib.measure import CanaryRecord
from drlib.write_outcomes import (
    RpoEvidenceRule,
    count_writes,
    error_class,
    measure_write_outage,
    outcome,
    rpo_evidence,
)

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
EAST, WEST = "us-east-1", "us-west-2"


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def write(seq: int, start: float, region: str = EAST, ack: float | None = 0.01,
          error: str | None = None, store: str = "aurora") -> CanaryRecord:
    """A write started at T0+start, acknowledged ``ack`` s later (or failed with ``error``)."""
    return CanaryRecord(store=store, seq=seq, region_written=region, written_at=at(start),
                        acked_at=None if error else at(start + (ack or 0.0)), error=error)


def stream(pattern: str, start: float = 0.0, step: float = 0.2) -> list[CanaryRecord]:
    """Writes from a pattern, one character per attempt: E/W acked by east/west, R rejected
    (ReadOnlySqlTransaction), T timed out (ConnectionTimeout), N no route."""
    errors = {"R": "ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction",
              "T": "ConnectionTimeout: connection timeout expired",
              "N": "NoRoute: the application name answers with no known region"}
    out = []
    for i, c in enumerate(pattern, start=1):
        region = WEST if c == "W" else EAST
        out.append(write(i, start + (i - 1) * step, region, error=errors.get(c)))
    return out


@pytest.mark.parametrize(("error", "expected_class", "expected_outcome"), [
    (None, None, "acknowledged"),
    ("ReadOnlySqlTransaction: cannot execute INSERT", "ReadOnlySqlTransaction", "rejected"),
    ("AdminShutdown: terminating connection", "AdminShutdown", "rejected"),
    ("ConnectionTimeout: connection timeout expired", "ConnectionTimeout", "timed_out"),
    ("ReadTimeoutError: Read timeout on endpoint URL", "ReadTimeoutError", "timed_out"),
    ("QueryCanceled: canceling statement due to statement timeout", "QueryCanceled",
     "timed_out"),
    ("", "UnknownError", "rejected"),
])
def test_outcome_and_error_class(error: str | None, expected_class: str | None,
                                 expected_outcome: str) -> None:
    """A write is acknowledged, timed out (timeout classes) or rejected by its error class."""
    record = write(1, 0.0, error=error) if error is not None else write(1, 0.0)
    if error == "":
        record = CanaryRecord("aurora", 1, EAST, at(0.0), error=None)
    assert error_class(record) == expected_class
    assert outcome(record) == expected_outcome


def test_count_writes_per_store_by_outcome_and_region() -> None:
    """Attempts, acknowledgements per region, rejections by class and timeouts add up."""
    records = [*stream("EEERRRTNWW"), write(1, 0.0, store="s3")]
    counts = count_writes(records, stores=["aurora", "dynamodb", "s3"])
    aurora = counts["aurora"]
    assert (aurora.attempted, aurora.acknowledged, aurora.timed_out) == (10, 5, 1)
    assert dict(aurora.rejected) == {"NoRoute": 1, "ReadOnlySqlTransaction": 3}
    assert aurora.rejected_total == 4
    assert dict(aurora.acknowledged_by_region) == {EAST: 3, WEST: 2}
    assert aurora.attempted == aurora.acknowledged + aurora.rejected_total + aurora.timed_out
    assert aurora.attempt_spacing_s == pytest.approx(0.2)
    assert counts["dynamodb"].attempted == 0
    assert counts["dynamodb"].attempt_spacing_s is None
    assert counts["s3"].to_metrics()["acknowledged"] == 1


@pytest.mark.parametrize(("pattern", "declared", "seconds", "last", "first", "failed"), [
    # rejected between the database switch and DNS moving: outage from east #3 to west #8
    ("EEERRRRWW", 0.5, 1.0, (EAST, 3), (WEST, 8), 4),
    # no failure: the outage is one attempt spacing (what a continuous writer saw)
    ("EEEEWWW", 0.5, 0.2, (EAST, 4), (WEST, 5), 0),
    # failures before the declaration count too, once they are part of the same gap
    ("ERRRRW", 0.9, 1.0, (EAST, 1), (WEST, 6), 4),
    # west acknowledged before the declaration: the first one after it ends the outage
    ("WWERW", 0.5, 0.4, (EAST, 3), (WEST, 5), 1),
])
def test_write_outage_from_last_ack_to_first_ack_by_the_new_primary(
        pattern: str, declared: float, seconds: float, last: tuple[str, int],
        first: tuple[str, int], failed: int) -> None:
    """The outage runs from the last acknowledgement before the first acknowledgement by the
    new primary (after the declaration) to that acknowledgement."""
    outage = measure_write_outage(stream(pattern), "aurora", at(declared), WEST)
    assert outage.seconds == pytest.approx(seconds)
    assert (outage.last_ack_region, outage.last_ack_seq) == last
    assert (outage.first_ack_region, outage.first_ack_seq) == first
    assert outage.failed_attempts == failed
    assert outage.resolution_s == pytest.approx(0.2)


@pytest.mark.parametrize("pattern", ["EEERRR", "RRRW", ""])
def test_write_outage_not_measured_says_why(pattern: str) -> None:
    """Without a first acknowledgement by the new primary, or an acknowledgement before it, the
    outage is not measured and the reason says which."""
    outage = measure_write_outage(stream(pattern), "aurora", at(0.0), WEST)
    assert outage.seconds is None
    assert outage.reason


RULE = RpoEvidenceRule(window_s=5.0, min_acknowledged=10, max_blind_s=1.0)


@pytest.mark.parametrize(("pattern", "step", "cutover", "tested", "acks"), [
    # 25 writes acked every 0.2 s up to the cutover: tested
    ("E" * 25, 0.2, 5.0, True, 25),
    # the dev run of issue 11: nothing acknowledged in the seconds before the cutover
    ("EEEEEE" + "R" * 100, 0.2, 21.0, False, 0),
    # dense, but nothing in the last 2 s before the cutover: a blind spot over 1 s
    ("E" * 20 + "R" * 10, 0.2, 6.0, False, 15),
    # only 9 acknowledgements in the window
    ("E" * 9, 0.5, 4.5, False, 9),
    # exactly the minimum, the last one 0.5 s before the cutover: tested
    ("E" * 10, 0.5, 5.0, True, 10),
    # acknowledgements by the other region do not count
    ("W" * 25, 0.2, 5.0, False, 0),
])
def test_rpo_evidence_needs_writes_in_flight(pattern: str, step: float, cutover: float,
                                             tested: bool, acks: int) -> None:
    """An RPO claim is tested only with enough writes acknowledged by the old primary in the
    window before the cutover, the last within the allowed blind spot."""
    evidence = rpo_evidence(stream(pattern, step=step), "aurora", at(cutover), EAST, RULE)
    assert evidence.tested is tested, evidence.reason
    assert evidence.acknowledged_in_window == acks
    assert evidence.to_metrics()["tested"] is tested
