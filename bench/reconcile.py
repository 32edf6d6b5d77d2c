"""RPO reconciliation at volume: record by record and exact over 100,000 canary records.

    uv run python bench/reconcile.py [--records 100000]

Two reconciliations, each on synthetic records with exactly one acknowledged record per store
missing from the region it is checked against, so exactness is checked as well as speed:

* **drill**: the drill's own path (``drlib.drill._measure``): records as canaries.csv gives them
  back (``round_trip``), marked with the set of sequence numbers found in the new primary,
  then every figure of ``measured`` (``measure_records``: RTO, RPO record by record, write
  outage, RPO evidence, lag), then canaries.csv written and the RPO recomputed from it;
* **load**: the Locust load's path (``drlib.load``): writes and sightings joined, reconciled
  against what both regions hold, figures computed, records.csv written and recomputed.

Time is wall time without tracing; peak memory is tracemalloc's peak for a second, traced run
(Python allocations made by the step, not the process's resident size).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drlib import load
from drlib.drill import measure_records
from drlib.measure import CanaryRecord, records_frame, round_trip

EAST, WEST = "us-east-1", "us-west-2"
STORES = ("aurora", "dynamodb", "s3")


def drill_records(n: int) -> tuple[list[CanaryRecord], datetime, dict[str, set[int]]]:
    """``n`` canary records over the three stores, one every 200 us, acknowledged by the
    primary until the disaster (half-way), by the secondary after it; each seen in the other
    region 30 ms after its acknowledgement. The secondary holds all but one per store."""
    t0 = datetime(2027, 1, 1, tzinfo=UTC)
    declared = t0 + timedelta(microseconds=200 * (n // 2))
    records: list[CanaryRecord] = []
    present: dict[str, set[int]] = {s: set() for s in STORES}
    for i in range(n):
        store = STORES[i % 3]
        seq = i // 3 + 1
        written = t0 + timedelta(microseconds=200 * i)
        acked = written + timedelta(milliseconds=2)
        region = EAST if written < declared else WEST
        record = CanaryRecord(store=store, seq=seq, region_written=region, written_at=written,
                              acked_at=acked)
        record.mark_visible(region, acked)
        other = WEST if region == EAST else EAST
        record.mark_visible(other, acked + timedelta(milliseconds=30), 0.01)
        records.append(record)
        present[store].add(seq)
    for store in STORES:
        present[store].discard(1_000)  # one acknowledged record lost per store
    return records, declared, present


def drill_reconciliation(records: list[CanaryRecord], declared: datetime,
                         present: dict[str, set[int]], folder: Path) -> dict[str, int]:
    rows = round_trip(records)
    for record in rows:
        record.present_after = record.seq in present.get(record.store, set())
    measured = measure_records(rows, list(STORES), declared=declared, cutover=declared,
                               old_primary=EAST, new_primary=WEST)
    records_frame(rows).to_csv(folder / "canaries.csv", index=False)
    again = pd.read_csv(folder / "canaries.csv")
    recomputed = [CanaryRecord.from_record(r) for r in again.to_dict("records")]
    measured_again = measure_records(recomputed, list(STORES), declared=declared,
                                     cutover=declared, old_primary=EAST, new_primary=WEST)
    lost = {s: r.lost_records for s, r in measured.rpo.items()}
    assert lost == {s: r.lost_records for s, r in measured_again.rpo.items()}
    assert all(r.lost_seqs == (1_000,) for r in measured.rpo.values()), measured.rpo
    return lost


def load_inputs(n: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str], Any]]:
    idx = np.arange(n)
    store = np.array(STORES)[idx % 3]
    stream = np.where((idx // 3) % 2 == 0, "load-a", "load-b")
    seq = idx // 6 + 1
    written = 1_800_000_000_000_000 + idx * 100
    writes = pd.DataFrame({"store": store, "stream": stream, "seq": seq,
                           "region_written": EAST, "written_at_us": written,
                           "acked_at_us": written + 2000, "error": ""})
    sightings = pd.DataFrame({"store": store, "stream": stream, "seq": seq, "region": WEST,
                              "seen_at_us": written + 32000, "resolution_s": 0.01})
    present: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for s, st, q in zip(store.tolist(), stream.tolist(), seq.tolist(), strict=True):
        for region in (EAST, WEST):
            present.setdefault((s, region), set()).add((st, q))
    for s in STORES:
        present[(s, WEST)].discard(("load-b", 1_000))
    return writes, sightings, present


def load_reconciliation(writes: pd.DataFrame, sightings: pd.DataFrame,
                        present: dict[tuple[str, str], Any], folder: Path) -> dict[str, int]:
    records = load.reconcile(load.join_records(writes, sightings, [EAST, WEST]), present,
                             [EAST, WEST])
    figures = load.load_figures(records)
    records.to_csv(folder / "records.csv", index=False)
    assert load.figures_of(folder)["total"] == figures["total"]
    lost = {s: f["lost"] for s, f in figures["stores"].items()}
    assert all(f["lost_examples"] == [["load-b", 1_000]] for f in figures["stores"].values())
    return lost


def measure(step: Callable[[], dict[str, int]]) -> tuple[float, float, dict[str, int]]:
    gc.collect()
    began = time.perf_counter()
    lost = step()
    seconds = time.perf_counter() - began
    gc.collect()
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    n = args.records
    print(f"{n:,} canary records; host: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'path':<8} {'records':>9} {'seconds':>8} {'peak MiB':>9}  lost (exactly 1 per store "
          "expected)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        records, declared, present = drill_records(n)
        seconds, peak, lost = measure(
            lambda: drill_reconciliation(records, declared, present, folder))
        print(f"{'drill':<8} {n:>9,} {seconds:>8.2f} {peak:>9.1f}  {lost}")
        writes, sightings, found = load_inputs(n)
        seconds, peak, lost = measure(
            lambda: load_reconciliation(writes, sightings, found, folder))
        print(f"{'load':<8} {n:>9,} {seconds:>8.2f} {peak:>9.1f}  {lost}")


if __name__ == "__main__":
    main()
