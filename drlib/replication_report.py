"""Where each side's writes are: how many were written in each region, and which are not (yet)
in the other region.

Every store of the workload accepts writes in the region the application points at, so a drill
writes on both sides: in the primary before the disaster and again after failback, in the
secondary while failed over. Replication must carry each side's writes to the other (S3 and
DynamoDB both ways; Aurora through the global database). This module counts, per store and per
region written, from rows that say where each acknowledged write is present:

* ``written``: writes acknowledged in that region;
* ``replicated``: of those, present in every other region;
* ``not_replicated`` (and ``not_replicated_seqs``): present where written, missing elsewhere:
  left behind while it stays so;
* ``missing_where_written``: no longer present where it was acknowledged (a write lost with a
  failed region, which the RPO counts).

Two moments use it: the drill's reconciliation (:func:`sides_from_records`, from the
``visible_at:<region>`` columns of ``canaries.csv``: ``measured.replication`` in metrics.json),
and failback (:func:`check_after_failback`, which reads every store in both regions again and
writes ``replication.csv``, one row per acknowledged write with its presence in each region:
``failback.replication``). Both recompute from the CSV alone (:func:`sides`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from drlib.measure import CanaryRecord
from drlib.timeline import utc_now
from drlib.waiting import WaitTimeout, wait_until

log = logging.getLogger(__name__)

REPLICATION_CSV = "replication.csv"
SEQS_SHOWN = 50
"""At most this many sequence numbers are listed per side (the CSV has them all)."""


def presence_column(region: str) -> str:
    """The ``replication.csv`` column saying whether a write is present in ``region``."""
    return f"present:{region}"


def sides(rows: Iterable[Mapping[str, Any]], regions: Sequence[str]
          ) -> dict[str, dict[str, dict[str, Any]]]:
    """Per store, per region written: written, replicated, not_replicated (with the sequence
    numbers) and missing_where_written, from rows with ``store``, ``seq``, ``region_written``
    and one ``present:<region>`` truth value per region (acknowledged writes only)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        store, written_in = str(row["store"]), str(row["region_written"])
        side = out.setdefault(store, {r: _empty() for r in regions}).setdefault(
            written_in, _empty())
        present = {r: _truth(row.get(presence_column(r))) for r in regions}
        side["written"] += 1
        if not present.get(written_in, False):
            side["missing_where_written"] += 1
        elif all(present[r] for r in regions if r != written_in):
            side["replicated"] += 1
        else:
            side["not_replicated"] += 1
            side["not_replicated_seqs"].append(int(row["seq"]))
    for store_sides in out.values():
        for side in store_sides.values():
            side["not_replicated_seqs"] = sorted(side["not_replicated_seqs"])[:SEQS_SHOWN]
    return out


def _empty() -> dict[str, Any]:
    return {"written": 0, "replicated": 0, "not_replicated": 0, "not_replicated_seqs": [],
            "missing_where_written": 0}


def _truth(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1")


def left_behind(by_store: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> int:
    """Writes present where they were written and missing in another region, over every store
    and side."""
    return sum(int(side["not_replicated"]) for store in by_store.values()
               for side in store.values())


def sides_from_records(records: Iterable[CanaryRecord], regions: Sequence[str]
                       ) -> dict[str, dict[str, dict[str, Any]]]:
    """At the drill's reconciliation: a write is present in a region where a reader saw it
    (``visible_at``; the region that acknowledged it sees it at once)."""
    return sides(({"store": r.store, "seq": r.seq, "region_written": r.region_written,
                   **{presence_column(g): g in r.visible_at for g in regions}}
                  for r in records if r.acked_at is not None), regions)


def presence_rows(records: Iterable[CanaryRecord], present: Mapping[str, Mapping[str, set[int]]],
                  regions: Sequence[str], checked_at: str) -> list[dict[str, Any]]:
    """``replication.csv`` rows: each acknowledged write and whether each region holds it
    (``present``: region -> store -> sequence numbers found there)."""
    return [{"store": r.store, "seq": r.seq, "region_written": r.region_written,
             "checked_at": checked_at,
             **{presence_column(g): r.seq in present.get(g, {}).get(r.store, set())
                for g in regions}}
            for r in records if r.acked_at is not None]


def check_after_failback(records: list[CanaryRecord], read: Any, regions: Sequence[str],
                         run_dir: Path, timeout_s: float, interval_s: float = 0.5
                         ) -> dict[str, Any]:
    """Read every store in every region until each side's writes are on the other side too
    (or ``timeout_s`` passes), write ``replication.csv`` and return the summary.

    ``read(region)`` answers store -> sequence numbers present there (e.g.
    :meth:`drlib.canary.CanaryFleet.present_in`); a region that does not answer counts as
    holding nothing.
    """
    started = utc_now()
    state: dict[str, Any] = {}

    def caught_up() -> bool:
        present = {}
        for region in regions:
            try:
                present[region] = read(region)
            except Exception as exc:  # a region that does not answer holds nothing we can see
                log.info("replication check: %s did not answer: %s", region, exc)
                present[region] = {}
        state["rows"] = presence_rows(records, present, regions, utc_now().isoformat())
        state["sides"] = sides(state["rows"], regions)
        return left_behind(state["sides"]) == 0

    try:
        wait_until(caught_up, description="every write on both sides", timeout=timeout_s,
                   interval=interval_s, backoff=1.0)
    except WaitTimeout:
        log.info("replication check: writes still left behind after %.0f s", timeout_s)
    columns = ["store", "seq", "region_written", "checked_at",
               *(presence_column(r) for r in regions)]
    pd.DataFrame(state["rows"], columns=columns).to_csv(run_dir / REPLICATION_CSV, index=False)
    return {"checked_at": state["rows"][-1]["checked_at"] if state["rows"] else
            utc_now().isoformat(),
            "waited_s": round((utc_now() - started).total_seconds(), 3),
            "timeout_s": timeout_s, "left_behind": left_behind(state["sides"]),
            "stores": state["sides"],
            "recompute": f"{REPLICATION_CSV}: drlib.replication_report.sides"}


def sides_from_csv(path: Path, regions: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`sides` over a ``replication.csv``."""
    frame = pd.read_csv(path, keep_default_na=False)
    return sides(frame.to_dict("records"), regions)
