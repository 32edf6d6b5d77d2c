"""What a drill measures, from canary records: replication lag, RTO and RPO.

Pure functions over :class:`CanaryRecord` lists; no AWS calls. Canary writers create a record per
write (``written_at`` when the write starts, ``acked_at`` when the store acknowledges it), readers
fill ``visible_at`` when they first see it in a region. The same arithmetic serves the emulator and
AWS. CloudWatch replication metrics are converted to the same lag series so both can be compared.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from drlib.errors import ConfigError
from drlib.timeline import iso, to_utc

log = logging.getLogger(__name__)

#: The data stores canaries write to, in display order.
STORES: tuple[str, ...] = ("aurora", "dynamodb", "s3")

LAG_COLUMNS = ["store", "seq", "at", "lag_s", "source", "resolution_s"]
STAT_COLUMNS = ["count", "median_s", "p90_s", "p99_s", "max_s", "resolution_s"]


@dataclass
class CanaryRecord:
    """One sequence-numbered canary write and where it was seen.

    ``region_written`` is the region whose endpoint acknowledged the write; ``acked_at`` is None
    when the write got no acknowledgement (error or timeout; ``error`` says which). ``visible_at``
    maps a region to the first time a reader saw the record there.
    """

    store: str
    seq: int
    region_written: str
    written_at: datetime
    acked_at: datetime | None = None
    visible_at: dict[str, datetime] = field(default_factory=dict)
    error: str | None = None
    present_after: bool | None = None
    """Whether the record was found in the new primary when reconciled (None: not reconciled)."""
    visible_resolution: dict[str, float] = field(default_factory=dict)
    """Per region, how precisely ``visible_at`` is known: the record became visible after
    ``visible_at - resolution`` (the start of the last read that did not see it)."""

    def mark_visible(self, region: str, at: datetime, resolution_s: float | None = None) -> None:
        """Note that the record was seen in ``region`` at ``at`` (the earliest sighting wins),
        known to within ``resolution_s``."""
        at = to_utc(at)
        if region not in self.visible_at or at < self.visible_at[region]:
            self.visible_at[region] = at
            if resolution_s is None:
                self.visible_resolution.pop(region, None)
            else:
                self.visible_resolution[region] = max(0.0, float(resolution_s))
        elif at == self.visible_at[region] and resolution_s is not None:
            known = self.visible_resolution.get(region)
            if known is None or resolution_s < known:
                self.visible_resolution[region] = max(0.0, float(resolution_s))

    def lag_resolution(self) -> float | None:
        """The resolution of :meth:`lag_seconds`: that of the arrival elsewhere."""
        arrival = self.arrival_elsewhere()
        regions = [r for r, t in self.visible_at.items()
                   if r != self.region_written and t == arrival]
        values = [self.visible_resolution[r] for r in regions if r in self.visible_resolution]
        return min(values) if values else None

    def arrival_elsewhere(self) -> datetime | None:
        """First time the record was seen in a region other than the one that acknowledged it."""
        times = [t for r, t in self.visible_at.items() if r != self.region_written]
        return min(times) if times else None

    def lag_seconds(self) -> float | None:
        """Replication lag: arrival in the other region minus the acknowledgement.

        A reader can see the record before the writer's acknowledgement travels back; that lag is
        below what the canaries can resolve and counts as 0.
        """
        arrival = self.arrival_elsewhere()
        if self.acked_at is None or arrival is None:
            return None
        return max(0.0, (arrival - self.acked_at).total_seconds())

    def to_record(self) -> dict[str, Any]:
        """A flat row for canaries.csv (visible_at as one column per region).

        ``outcome`` and ``error_class`` are derived (:mod:`drlib.write_outcomes`) and written so
        a reader can count without code; ``present_in_new_primary`` is the reconciliation.
        """
        from drlib.write_outcomes import error_class, outcome

        row: dict[str, Any] = {
            "store": self.store, "seq": self.seq, "region_written": self.region_written,
            "written_at": iso_us(self.written_at), "acked_at": iso_us(self.acked_at),
            "outcome": outcome(self), "error_class": error_class(self) or "",
            "error": self.error or "",
            "present_in_new_primary": "" if self.present_after is None else self.present_after,
        }
        for region, at in sorted(self.visible_at.items()):
            row[f"visible_at:{region}"] = iso_us(at)
            if region in self.visible_resolution:
                row[f"visible_resolution_s:{region}"] = self.visible_resolution[region]
        return row

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> CanaryRecord:
        """Rebuild a record from a canaries.csv row (empty cells are missing values)."""
        def present(value: Any) -> bool:
            return value is not None and value != "" and not (
                isinstance(value, float) and math.isnan(value))

        record = cls(
            store=str(row["store"]), seq=int(row["seq"]), region_written=str(row["region_written"]),
            written_at=to_utc(row["written_at"]),
            acked_at=to_utc(row["acked_at"]) if present(row.get("acked_at")) else None,
            error=str(row["error"]) if present(row.get("error")) else None,
        )
        reconciled = row.get("present_in_new_primary")
        if present(reconciled):
            record.present_after = str(reconciled).strip().lower() in ("true", "1")
        for key, value in row.items():
            if str(key).startswith("visible_at:") and present(value):
                region = str(key).split(":", 1)[1]
                resolution = row.get(f"visible_resolution_s:{region}")
                record.mark_visible(region, value, float(resolution)
                                    if resolution is not None and present(resolution) else None)
        return record


def iso_us(value: datetime | None) -> str | None:
    """Microsecond ISO text: canaries.csv keeps the full clock resolution, so every figure of
    metrics.json can be recomputed from it exactly."""
    return None if value is None else to_utc(value).isoformat(timespec="microseconds")


def round_trip(records: Iterable[CanaryRecord]) -> list[CanaryRecord]:
    """The records exactly as canaries.csv will give them back (what metrics are computed on)."""
    return [CanaryRecord.from_record(r.to_record()) for r in records]


def records_frame(records: Iterable[CanaryRecord]) -> pd.DataFrame:
    """The records as canaries.csv rows."""
    return pd.DataFrame([r.to_record() for r in records])


def lag_series(records: Iterable[CanaryRecord]) -> pd.DataFrame:
    """Per-record lag samples: store, seq, at (acknowledgement time), lag_s, source="canary"."""
    rows = [
        {"store": r.store, "seq": r.seq, "at": r.acked_at, "lag_s": lag, "source": "canary",
         "resolution_s": r.lag_resolution()}
        for r in records
        if (lag := r.lag_seconds()) is not None
    ]
    return _lag_frame(rows)


def _lag_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=LAG_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["lag_s"] = frame["lag_s"].astype(float)
    frame["resolution_s"] = pd.to_numeric(frame["resolution_s"], errors="coerce").astype(float)
    return frame.sort_values(["store", "at"], kind="stable").reset_index(drop=True)


def lag_statistics(records_or_series: Iterable[CanaryRecord] | pd.DataFrame,
                   stores: Sequence[str] = STORES) -> pd.DataFrame:
    """Per store: count, median, p90, p99 and max lag in seconds, and the median resolution of
    the samples (how precisely each arrival was timed; NaN when unknown, e.g. CloudWatch).

    Accepts canary records or a lag series (:func:`lag_series`, :func:`lag_from_cloudwatch`).
    Every store in ``stores`` gets a row; a store without samples has count 0 and NaN statistics.
    Stores not listed but present in the data are appended.
    """
    series = (records_or_series if isinstance(records_or_series, pd.DataFrame)
              else lag_series(records_or_series))
    names = list(stores) + sorted(set(series["store"]) - set(stores))
    rows = []
    for store in names:
        values = series.loc[series["store"] == store, "lag_s"].to_numpy(dtype=float)
        if values.size == 0:
            rows.append({"count": 0, "median_s": math.nan, "p90_s": math.nan,
                         "p99_s": math.nan, "max_s": math.nan, "resolution_s": math.nan})
            continue
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        resolution = (series.loc[series["store"] == store, "resolution_s"].dropna()
                      .to_numpy(dtype=float) if "resolution_s" in series else np.array([]))
        rows.append({"count": int(values.size), "median_s": float(p50), "p90_s": float(p90),
                     "p99_s": float(p99), "max_s": float(values.max()),
                     "resolution_s": float(np.median(resolution)) if resolution.size
                     else math.nan})
    frame = pd.DataFrame(rows, index=pd.Index(names, name="store"), columns=STAT_COLUMNS)
    return frame.astype({"count": int})


def lag_statistics_to_metrics(stats: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """The ``measured.lag`` block of metrics.json (NaN becomes null)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for store, row in stats.iterrows():
        out[str(store)] = {
            col: (int(row[col]) if col == "count" else
                  None if math.isnan(float(row[col])) else round(float(row[col]), 6))
            for col in STAT_COLUMNS
        }
    return out


# --- CloudWatch --------------------------------------------------------------------------------

_UNIT_SECONDS = {"milliseconds": 1e-3, "ms": 1e-3, "seconds": 1.0, "s": 1.0,
                 "microseconds": 1e-6, "us": 1e-6}

#: Units AWS publishes the replication metrics in: DynamoDB ReplicationLatency (ms), S3
#: ReplicationLatency (seconds), Aurora AuroraGlobalDBReplicationLag (ms).
CLOUDWATCH_UNITS: Mapping[str, str] = {"aurora": "Milliseconds", "dynamodb": "Milliseconds",
                                       "s3": "Seconds"}


def lag_from_cloudwatch(results: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]],
                        units: Mapping[str, str] = CLOUDWATCH_UNITS) -> pd.DataFrame:
    """Turn ``get_metric_data`` results per store into the lag series canaries give.

    ``results`` maps a store to one ``MetricDataResults`` entry (``Timestamps``, ``Values``) or a
    list of them; ``units`` gives each store's unit (Milliseconds, Seconds, Microseconds). The
    result has the columns of :func:`lag_series` with ``source="cloudwatch"`` and ``seq`` -1.
    """
    rows: list[dict[str, Any]] = []
    for store, entries in results.items():
        factor = _unit_factor(store, units)
        for entry in [entries] if isinstance(entries, Mapping) else entries:
            stamps, values = list(entry.get("Timestamps", [])), list(entry.get("Values", []))
            if len(stamps) != len(values):
                raise ConfigError(
                    f"CloudWatch result for {store} has {len(stamps)} timestamps and "
                    f"{len(values)} values",
                    expected="one value per timestamp", found=f"{len(stamps)} vs {len(values)}",
                    fix="pass the MetricDataResults entries unchanged",
                )
            rows.extend({"store": store, "seq": -1, "at": to_utc(at),
                         "lag_s": float(value) * factor, "source": "cloudwatch",
                         "resolution_s": None}
                        for at, value in zip(stamps, values, strict=True))
    return _lag_frame(rows)


def _unit_factor(store: str, units: Mapping[str, str]) -> float:
    unit = units.get(store)
    factor = None if unit is None else _UNIT_SECONDS.get(unit.lower())
    if factor is None:
        raise ConfigError(
            f"No usable unit for the CloudWatch lag metric of {store}: {unit!r}",
            expected="Milliseconds, Seconds or Microseconds",
            found=repr(unit),
            fix="pass units={store: 'Milliseconds'} (or the unit the metric is published in)",
        )
    return factor


# --- RTO ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RtoResult:
    """Disaster declared to the first write acknowledged by the new primary."""

    seconds: float | None
    disaster_declared_at: datetime
    new_primary_region: str
    first_write_at: datetime | None = None
    store: str | None = None
    seq: int | None = None
    reason: str = ""

    def to_metrics(self) -> dict[str, Any]:
        """The RTO facts for metrics.json."""
        return {"rto_seconds": None if self.seconds is None else round(self.seconds, 6),
                "first_write_at": iso(self.first_write_at), "store": self.store, "seq": self.seq,
                "reason": self.reason}


def measure_rto(disaster_declared_at: datetime, records: Iterable[CanaryRecord],
                new_primary_region: str, *, store: str | None = None) -> RtoResult:
    """RTO from the canaries: the first write acknowledged by ``new_primary_region`` at or after
    the declaration (a write acknowledged at the very instant counts).

    ``store`` restricts the search to one store's canary (e.g. the one that goes through the
    application's DNS name). Returns ``seconds=None`` with a reason when there is no such write.
    """
    declared = to_utc(disaster_declared_at)
    candidates = [r for r in records
                  if r.acked_at is not None and r.region_written == new_primary_region
                  and r.acked_at >= declared and (store is None or r.store == store)]
    if not candidates:
        scope = f" to {store}" if store else ""
        return RtoResult(
            seconds=None, disaster_declared_at=declared, new_primary_region=new_primary_region,
            reason=(f"no canary write{scope} was acknowledged by {new_primary_region} after the "
                    f"disaster was declared at {iso(declared)}"),
        )
    # Ties on the acknowledgement time resolve to the lowest (store, seq) so the result is stable.
    acked_at, first = min(((r.acked_at, r) for r in candidates if r.acked_at is not None),
                          key=lambda pair: (pair[0], pair[1].store, pair[1].seq))
    return RtoResult(
        seconds=(acked_at - declared).total_seconds(), disaster_declared_at=declared,
        new_primary_region=new_primary_region, first_write_at=acked_at, store=first.store,
        seq=first.seq,
        reason=f"first write acknowledged by {new_primary_region}: {first.store} #{first.seq}",
    )


def overall_rto(per_store: Mapping[str, RtoResult]) -> RtoResult | None:
    """The slowest store's RTO; not measured (seconds None) as soon as one store is not."""
    if not per_store:
        return None
    unmeasured = [r for r in per_store.values() if r.seconds is None]
    if unmeasured:
        return unmeasured[0]
    return max(per_store.values(), key=lambda r: (r.seconds or 0.0, r.store or ""))


# --- RPO ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RpoResult:
    """Acknowledged canaries of one store that never reached the new primary."""

    store: str
    lost_records: int
    span_seconds: float
    lost_seqs: tuple[int, ...] = ()
    first_lost_ack: datetime | None = None
    last_lost_ack: datetime | None = None
    acknowledged: int = 0
    unacknowledged_present: tuple[int, ...] = ()
    span_to: datetime | None = None

    def to_metrics(self) -> dict[str, Any]:
        """The store's ``measured.rpo`` entry for metrics.json."""
        return {"lost_records": self.lost_records, "span_seconds": round(self.span_seconds, 6),
                "lost_seqs": list(self.lost_seqs), "first_lost_ack": iso(self.first_lost_ack),
                "last_lost_ack": iso(self.last_lost_ack), "span_to": iso(self.span_to),
                "acknowledged": self.acknowledged,
                "unacknowledged_present": list(self.unacknowledged_present)}


def measure_rpo(records: Iterable[CanaryRecord], new_primary_region: str,
                disaster_declared_at: datetime, present_after: Mapping[str, Iterable[int]],
                stores: Sequence[str] | None = None) -> dict[str, RpoResult]:
    """RPO per store, reconciled record by record.

    Every acknowledged write is a candidate, whichever region acknowledged it and whenever
    (a client still holding the old DNS answer writes the old region after the cutover, and
    that write must survive too); ``present_after`` gives, per store, the sequence numbers
    actually found in ``new_primary_region`` after the failover. A candidate not found there is
    lost. The span runs from the earliest lost acknowledgement to the disaster (or to the last
    lost acknowledgement when that came later), so a single lost record spans the time between
    its acknowledgement and the disaster, never 0 s. ``stores`` defaults to the stores present
    in ``records`` or ``present_after``; a store to measure without reconciliation data is an
    error, because treating it as empty would report every record lost.
    """
    declared = to_utc(disaster_declared_at)
    by_store: dict[str, list[CanaryRecord]] = {}
    for record in records:
        by_store.setdefault(record.store, []).append(record)
    names = list(stores) if stores is not None else sorted(set(by_store) | set(present_after))
    missing = [s for s in names if s not in present_after]
    if missing:
        raise ConfigError(
            f"No reconciliation data for {', '.join(missing)} in {new_primary_region}",
            expected="present_after with the sequence numbers read back from every store",
            found=f"present_after for {sorted(present_after) or 'no store'}",
            fix="read the canary records back from the new primary for every store measured",
        )
    return {store: _rpo_for_store(store, by_store.get(store, []), declared,
                                  set(present_after[store]))
            for store in names}


def reconciliation_from_records(records: Iterable[CanaryRecord]) -> dict[str, set[int]]:
    """``present_after`` rebuilt from records that carry their reconciliation (canaries.csv)."""
    out: dict[str, set[int]] = {}
    for record in records:
        seqs = out.setdefault(record.store, set())
        if record.present_after:
            seqs.add(record.seq)
    return out


def _rpo_for_store(store: str, records: list[CanaryRecord], declared: datetime,
                   present: set[int]) -> RpoResult:
    acked = [r for r in records if r.acked_at is not None]
    lost = sorted((r for r in acked if r.seq not in present), key=lambda r: (r.acked_at, r.seq))
    # Writes whose acknowledgement never came but that did land: not loss, worth reporting.
    ghosts = tuple(sorted(r.seq for r in records if r.acked_at is None and r.seq in present))
    if not lost:
        return RpoResult(store=store, lost_records=0, span_seconds=0.0, acknowledged=len(acked),
                         unacknowledged_present=ghosts)
    lost_acks = [r.acked_at for r in lost if r.acked_at is not None]
    first, last = lost_acks[0], lost_acks[-1]
    end = max(declared, last)
    log.info("%s: %d acknowledged canaries lost", store, len(lost))
    return RpoResult(
        store=store, lost_records=len(lost), span_seconds=(end - first).total_seconds(),
        lost_seqs=tuple(sorted(r.seq for r in lost)), first_lost_ack=first, last_lost_ack=last,
        acknowledged=len(acked), unacknowledged_present=ghosts, span_to=end,
    )
