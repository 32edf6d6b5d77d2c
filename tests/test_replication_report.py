"""Each side's writes and those not (yet) on the other side: counted from presence rows, from
canary records, and after failback by reading both regions until they catch up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from drlib.measure import CanaryRecord
from drlib.replication_report import (
    REPLICATION_CSV,
    check_after_failback,
    left_behind,
    sides,
    sides_from_csv,
    sides_from_records,
)

EAST, WEST = "us-east-1", "us-west-2"
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _records() -> list[CanaryRecord]:
    """S3: seqs 1-4 acknowledged in the east, 5-8 in the west while failed over, 9 failed."""
    records = []
    for seq in range(1, 10):
        region = EAST if seq <= 4 else WEST
        at = T0 + timedelta(seconds=seq)
        record = CanaryRecord("s3", seq, region, at, acked_at=None if seq == 9 else at)
        if record.acked_at is not None:
            record.mark_visible(region, at)
            if seq <= 6:  # 7 and 8 were still on their way east at the reconciliation
                record.mark_visible(EAST if region == WEST else WEST, at + timedelta(seconds=1))
        records.append(record)
    return records


def test_each_side_counts_its_writes_and_those_not_on_the_other_side() -> None:
    """Written per region, replicated, not replicated (with seqs) and lost where written."""
    rows = [{"store": "s3", "seq": 1, "region_written": EAST, f"present:{EAST}": True,
             f"present:{WEST}": True},
            {"store": "s3", "seq": 2, "region_written": WEST, f"present:{EAST}": "False",
             f"present:{WEST}": "True"},
            {"store": "aurora", "seq": 3, "region_written": EAST, f"present:{EAST}": False,
             f"present:{WEST}": False}]
    counted = sides(rows, [EAST, WEST])
    assert counted["s3"][EAST] == {"written": 1, "replicated": 1, "not_replicated": 0,
                                   "not_replicated_seqs": [], "missing_where_written": 0}
    assert counted["s3"][WEST] == {"written": 1, "replicated": 0, "not_replicated": 1,
                                   "not_replicated_seqs": [2], "missing_where_written": 0}
    assert counted["aurora"][EAST]["missing_where_written"] == 1
    assert counted["aurora"][WEST]["written"] == 0
    assert left_behind(counted) == 1


def test_at_the_reconciliation_presence_is_what_the_readers_saw() -> None:
    """From canary records: the west's writes not yet seen in the east are not replicated."""
    counted = sides_from_records(_records(), [EAST, WEST])
    assert (counted["s3"][EAST]["written"], counted["s3"][EAST]["not_replicated"]) == (4, 0)
    assert (counted["s3"][WEST]["written"], counted["s3"][WEST]["not_replicated"]) == (4, 2)
    assert counted["s3"][WEST]["not_replicated_seqs"] == [7, 8]


def test_after_failback_the_check_waits_for_replication_and_writes_the_csv(tmp_path: Path
                                                                           ) -> None:
    """The check reads both regions until the west's writes reach the east, then the CSV
    recomputes the summary: nothing left behind."""
    calls = {"n": 0}

    def read(region: str) -> dict[str, set[int]]:
        calls["n"] += 1
        if region == EAST:
            return {"s3": {1, 2, 3, 4, 5, 6} | ({7, 8} if calls["n"] > 4 else set())}
        return {"s3": set(range(1, 9))}

    report = check_after_failback(_records(), read, [EAST, WEST], tmp_path, timeout_s=5,
                                  interval_s=0.01)
    assert report["left_behind"] == 0
    assert report["stores"]["s3"][WEST] == {"written": 4, "replicated": 4, "not_replicated": 0,
                                            "not_replicated_seqs": [],
                                            "missing_where_written": 0}
    frame = pd.read_csv(tmp_path / REPLICATION_CSV)
    assert sorted(frame["seq"]) == list(range(1, 9))  # acknowledged writes only
    assert sides_from_csv(tmp_path / REPLICATION_CSV, [EAST, WEST]) == report["stores"]


def test_writes_left_behind_are_reported_when_replication_does_not_catch_up(tmp_path: Path
                                                                            ) -> None:
    """A region that never receives the other side's writes: the check gives up at its bound
    and names what is left behind; a region that does not answer holds nothing."""
    def read(region: str) -> dict[str, set[int]]:
        if region == EAST:
            raise ConnectionError("region down")
        return {"s3": set(range(1, 9))}

    report = check_after_failback(_records(), read, [EAST, WEST], tmp_path, timeout_s=0.2,
                                  interval_s=0.05)
    assert report["left_behind"] == 4
    assert report["stores"]["s3"][WEST]["not_replicated_seqs"] == [5, 6, 7, 8]
    assert report["stores"]["s3"][EAST]["missing_where_written"] == 4
    assert sides_from_csv(tmp_path / REPLICATION_CSV, [EAST, WEST]) == report["stores"]


def test_failback_skips_the_check_when_the_run_made_no_canary_writes(tmp_path: Path) -> None:
    """A failback without a drill's writes (none, or a drill that stopped before writing)
    skips the check instead of failing on an empty canaries.csv."""
    from types import SimpleNamespace

    from drlib.drill import _writes_on_both_sides
    from drlib.measure import records_frame

    class Step:
        reason = ""

        def skip(self, reason: str) -> None:
            self.reason = reason

    for prepare in (lambda: None,
                    lambda: records_frame([]).to_csv(tmp_path / "canaries.csv", index=False)):
        prepare()
        step = Step()
        assert _writes_on_both_sides(SimpleNamespace(run_dir=tmp_path), step) is None  # type: ignore[arg-type]
        assert "no canary writes" in step.reason
