"""What the application's clients saw: every canary write counted, the write outage, and whether
the RPO claim rests on enough writes in flight.

Pure functions over :class:`~drlib.measure.CanaryRecord` lists (the rows of ``canaries.csv``) and
the instants of the drill (disaster declared, cutover); no AWS calls. Every figure says what it
rests on: how many writes, and the resolution the canary cadence gives it.

Definitions (DESIGN.md section 5):

- an attempt is *acknowledged* when the store confirmed it, *timed out* when it failed with a
  timeout error class (:data:`TIMEOUT_ERRORS`), otherwise *rejected*, by error class;
- the *write outage* of a store is the time from the last acknowledgement before the first
  acknowledgement by the new primary (after the disaster was declared) to that first
  acknowledgement: what a client writing continuously saw as "no write succeeds"; its
  resolution is the store's attempt spacing (the outage began somewhere between the last
  acknowledgement and the next attempt);
- the *RPO evidence* of a store is the number of writes the old primary acknowledged in the
  ``window_s`` seconds before the cutover, and the blind spot (cutover minus the last of them):
  a loss confined to the blind spot could not be seen. With fewer than ``min_acknowledged``
  writes, or a blind spot over ``max_blind_s``, the store's RPO is "not tested".
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from drlib.measure import CanaryRecord
from drlib.timeline import iso, to_utc

Outcome = Literal["acknowledged", "rejected", "timed_out"]

#: Error classes that mean "no answer in time" rather than "the store said no": socket and
#: asyncio timeouts, botocore's connect/read timeouts, psycopg's connection timeout and a
#: statement cancelled by ``statement_timeout``, dnspython's resolver lifetime.
TIMEOUT_ERRORS: frozenset[str] = frozenset({
    "TimeoutError", "timeout", "ConnectTimeoutError", "ReadTimeoutError", "ConnectTimeout",
    "ReadTimeout", "ConnectionTimeout", "QueryCanceled", "LifetimeTimeout", "Timeout",
})


def error_class(record: CanaryRecord) -> str | None:
    """The error class of a failed write (the text before the first colon), None if acked."""
    if record.acked_at is not None:
        return None
    text = (record.error or "").strip()
    return text.split(":", 1)[0].strip() or "UnknownError"


def outcome(record: CanaryRecord) -> Outcome:
    """acknowledged, timed_out or rejected."""
    cls = error_class(record)
    if cls is None:
        return "acknowledged"
    return "timed_out" if cls in TIMEOUT_ERRORS else "rejected"


def _by_store(records: Iterable[CanaryRecord]) -> dict[str, list[CanaryRecord]]:
    out: dict[str, list[CanaryRecord]] = {}
    for record in records:
        out.setdefault(record.store, []).append(record)
    for rows in out.values():
        rows.sort(key=lambda r: (r.written_at, r.seq))
    return out


# --- counts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WriteCounts:
    """Every attempt of one store, by outcome."""

    store: str
    attempted: int
    acknowledged: int
    rejected: Mapping[str, int]
    timed_out: int
    acknowledged_by_region: Mapping[str, int]
    attempt_spacing_s: float | None

    @property
    def rejected_total(self) -> int:
        """All rejections, whatever their class."""
        return sum(self.rejected.values())

    def to_metrics(self) -> dict[str, Any]:
        """The store's ``measured.writes`` entry of metrics.json."""
        return {"attempted": self.attempted, "acknowledged": self.acknowledged,
                "rejected": self.rejected_total, "rejected_by_class": dict(self.rejected),
                "timed_out": self.timed_out,
                "acknowledged_by_region": dict(self.acknowledged_by_region),
                "attempt_spacing_s": _round(self.attempt_spacing_s)}


def count_writes(records: Iterable[CanaryRecord],
                 stores: Sequence[str] = ()) -> dict[str, WriteCounts]:
    """Per store: attempts, acknowledgements (per region), rejections by class, timeouts.

    ``stores`` lists stores to report even without records (all zero).
    """
    grouped = _by_store(records)
    out: dict[str, WriteCounts] = {}
    for store in list(stores) + sorted(set(grouped) - set(stores)):
        rows = grouped.get(store, [])
        rejected = Counter(error_class(r) for r in rows if outcome(r) == "rejected")
        acked = Counter(r.region_written for r in rows if r.acked_at is not None)
        out[store] = WriteCounts(
            store=store, attempted=len(rows), acknowledged=sum(acked.values()),
            rejected={str(k): v for k, v in sorted(rejected.items())},
            timed_out=sum(1 for r in rows if outcome(r) == "timed_out"),
            acknowledged_by_region=dict(sorted(acked.items())),
            attempt_spacing_s=attempt_spacing(rows))
    return out


def attempt_spacing(rows: Sequence[CanaryRecord]) -> float | None:
    """Median seconds between consecutive attempt starts: the cadence, i.e. the resolution of
    anything timed by these writes (None with fewer than two attempts)."""
    starts = sorted(r.written_at for r in rows)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    return statistics.median(gaps) if gaps else None


# --- write outage ------------------------------------------------------------------------------

@dataclass(frozen=True)
class WriteOutage:
    """The client-visible write outage of one store around the failover."""

    store: str
    seconds: float | None
    last_ack_before: datetime | None = None
    last_ack_region: str | None = None
    last_ack_seq: int | None = None
    first_ack_after: datetime | None = None
    first_ack_region: str | None = None
    first_ack_seq: int | None = None
    failed_attempts: int = 0
    failed_by_outcome: Mapping[str, int] = field(default_factory=dict)
    resolution_s: float | None = None
    reason: str = ""

    def to_metrics(self) -> dict[str, Any]:
        """The store's ``measured.write_outage`` entry of metrics.json."""
        return {"seconds": _round(self.seconds), "last_ack_before": iso(self.last_ack_before),
                "last_ack_region": self.last_ack_region, "last_ack_seq": self.last_ack_seq,
                "first_ack_after": iso(self.first_ack_after),
                "first_ack_region": self.first_ack_region, "first_ack_seq": self.first_ack_seq,
                "failed_attempts": self.failed_attempts,
                "failed_by_outcome": dict(self.failed_by_outcome),
                "resolution_s": _round(self.resolution_s), "reason": self.reason}


def measure_write_outage(records: Iterable[CanaryRecord], store: str,
                         disaster_declared_at: datetime, new_primary_region: str) -> WriteOutage:
    """The outage of ``store``: last acknowledgement before the first acknowledgement by
    ``new_primary_region`` at or after the declaration, to that first acknowledgement."""
    declared = to_utc(disaster_declared_at)
    rows = _by_store(records).get(store, [])
    spacing = attempt_spacing(rows)
    first_index = next((i for i, r in enumerate(rows)
                        if r.acked_at is not None and r.region_written == new_primary_region
                        and r.acked_at >= declared), None)
    if first_index is None:
        return WriteOutage(store=store, seconds=None, resolution_s=spacing,
                           reason=f"no {store} write was acknowledged by {new_primary_region} "
                           f"after {iso(declared)}: the outage has not ended")
    first = rows[first_index]
    last_index = next((i for i in range(first_index - 1, -1, -1)
                       if rows[i].acked_at is not None), None)
    if last_index is None:
        return WriteOutage(store=store, seconds=None, first_ack_after=first.acked_at,
                           first_ack_region=first.region_written, first_ack_seq=first.seq,
                           resolution_s=spacing,
                           reason=f"no {store} write was acknowledged before {first.seq}")
    last = rows[last_index]
    failed = rows[last_index + 1:first_index]
    assert first.acked_at is not None
    assert last.acked_at is not None
    return WriteOutage(
        store=store, seconds=(first.acked_at - last.acked_at).total_seconds(),
        last_ack_before=last.acked_at, last_ack_region=last.region_written, last_ack_seq=last.seq,
        first_ack_after=first.acked_at, first_ack_region=first.region_written,
        first_ack_seq=first.seq, failed_attempts=len(failed),
        failed_by_outcome=dict(sorted(Counter(outcome(r) for r in failed).items())),
        resolution_s=spacing,
        reason=f"{len(failed)} failed attempts between {last.region_written} #{last.seq} and "
               f"{first.region_written} #{first.seq}")


# --- RPO evidence ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RpoEvidenceRule:
    """How many writes in flight an RPO claim needs (the reasons are in README.md, "RPO needs
    writes in flight")."""

    window_s: float = 5.0
    min_acknowledged: int = 10
    max_blind_s: float = 1.0

    def to_metrics(self) -> dict[str, Any]:
        """The rule as recorded in metrics.json."""
        return asdict(self)


RPO_EVIDENCE_RULE = RpoEvidenceRule()


@dataclass(frozen=True)
class RpoEvidence:
    """The writes an RPO claim of one store rests on."""

    store: str
    cutover_at: datetime
    old_primary_region: str
    acknowledged_in_window: int
    attempted_in_window: int
    blind_s: float | None
    tested: bool
    rule: RpoEvidenceRule
    reason: str

    def to_metrics(self) -> dict[str, Any]:
        """The store's ``measured.rpo_evidence`` entry of metrics.json."""
        return {"tested": self.tested, "cutover_at": iso(self.cutover_at),
                "old_primary_region": self.old_primary_region,
                "acknowledged_in_window": self.acknowledged_in_window,
                "attempted_in_window": self.attempted_in_window,
                "blind_s": _round(self.blind_s), "window_s": self.rule.window_s,
                "reason": self.reason}


def rpo_evidence(records: Iterable[CanaryRecord], store: str, cutover_at: datetime,
                 old_primary_region: str,
                 rule: RpoEvidenceRule = RPO_EVIDENCE_RULE) -> RpoEvidence:
    """Whether enough writes acknowledged by ``old_primary_region`` were in flight in the
    ``rule.window_s`` seconds up to ``cutover_at`` (the moment the old primary stopped being
    the writer) to support an RPO claim for ``store``."""
    cutover = to_utc(cutover_at)
    start = cutover.timestamp() - rule.window_s
    rows = [r for r in _by_store(records).get(store, [])
            if r.region_written == old_primary_region
            and start <= r.written_at.timestamp() <= cutover.timestamp()]
    acks = sorted(r.acked_at for r in rows
                  if r.acked_at is not None and r.acked_at.timestamp() >= start
                  and r.acked_at <= cutover)
    blind = (cutover - acks[-1]).total_seconds() if acks else None
    problems = []
    if len(acks) < rule.min_acknowledged:
        problems.append(f"{len(acks)} writes acknowledged by {old_primary_region} in the "
                        f"{rule.window_s:g} s before the cutover (at least "
                        f"{rule.min_acknowledged} needed)")
    if blind is None or blind > rule.max_blind_s:
        shown = "no acknowledged write" if blind is None else f"{blind:.3f} s"
        problems.append(f"last acknowledgement before the cutover: {shown} before it (at most "
                        f"{rule.max_blind_s:g} s allowed)")
    tested = not problems
    reason = ("; ".join(problems) if problems else
              f"{len(acks)} writes acknowledged by {old_primary_region} in the "
              f"{rule.window_s:g} s before the cutover, the last {blind:.3f} s before it")
    return RpoEvidence(store=store, cutover_at=cutover, old_primary_region=old_primary_region,
                       acknowledged_in_window=len(acks), attempted_in_window=len(rows),
                       blind_s=blind, tested=tested, rule=rule, reason=reason)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
