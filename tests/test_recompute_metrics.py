"""A reviewer recomputes metrics.json's figures from canaries.csv, with plain pandas.

:func:`recompute` is deliberately independent of drlib's arithmetic (it reads the CSV with pandas
and applies the definitions of DESIGN.md section 5 directly), so it checks both the code and the
claim that the raw records are enough. The end-to-end drills call it on real run folders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from drlib.drill import measure_records
from drlib.measure import CanaryRecord, records_frame, round_trip

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
EAST, WEST = "us-east-1", "us-west-2"


def recompute(canaries_csv: Path, metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per store, from the CSV and metrics.json's instants only: write counts, RTO, RPO, write
    outage and the writes in flight before the cutover."""
    frame = pd.read_csv(canaries_csv, keep_default_na=False)
    for column in ("written_at", "acked_at"):
        frame[column] = pd.to_datetime(frame[column].replace("", None), utc=True,
                                       format="ISO8601")
    instants = metrics["measured"]["instants"]
    declared = pd.Timestamp(instants["disaster_declared_at"])
    cutover = pd.Timestamp(instants["cutover_at"])
    old, new = metrics["regions"]["primary"], metrics["regions"]["secondary"]
    window = metrics["measured"]["resolution"]["rpo_evidence_rule"]["window_s"]
    out: dict[str, dict[str, Any]] = {}
    for store, rows in frame.groupby("store"):
        rows = rows.sort_values(["written_at", "seq"]).reset_index(drop=True)
        acked = rows[rows["acked_at"].notna()]
        failed = rows[rows["acked_at"].isna()]
        result: dict[str, Any] = {
            "attempted": len(rows), "acknowledged": len(acked),
            "rejected": int((failed["outcome"] == "rejected").sum()),
            "timed_out": int((failed["outcome"] == "timed_out").sum()),
            "rejected_by_class": failed[failed["outcome"] == "rejected"]["error_class"]
            .value_counts().sort_index().to_dict(),
            "acknowledged_by_region": acked["region_written"].value_counts().sort_index()
            .to_dict(),
            "attempt_spacing_s": (None if len(rows) < 2 else
                                  rows["written_at"].sort_values().diff().dt.total_seconds()
                                  .median()),
        }
        after = acked[(acked["region_written"] == new) & (acked["acked_at"] >= declared)]
        first = after.sort_values(["acked_at", "seq"]).head(1)
        result["rto_seconds"] = (None if first.empty else
                                 (first["acked_at"].iloc[0] - declared).total_seconds())
        if not first.empty:
            position = rows.index[rows["seq"] == first["seq"].iloc[0]][0]
            before = rows.loc[:position - 1]
            before = before[before["acked_at"].notna()]
            result["outage_seconds"] = (None if before.empty else
                                        (first["acked_at"].iloc[0] - before["acked_at"].iloc[-1])
                                        .total_seconds())
            result["outage_ends"] = (
                None if before.empty else
                (before["region_written"].iloc[-1], int(before["seq"].iloc[-1]),
                 first["region_written"].iloc[0], int(first["seq"].iloc[0]),
                 int(position - before.index[-1] - 1)))
        present = acked["present_in_new_primary"].astype(str).str.lower() == "true"
        lost = acked[~present]
        result["lost_seqs"] = sorted(int(s) for s in lost["seq"])
        result["span_seconds"] = 0.0 if lost.empty else (
            max(declared, lost["acked_at"].max()) - lost["acked_at"].min()).total_seconds()
        start = cutover - pd.Timedelta(seconds=window)
        in_window = acked[(acked["region_written"] == old) & (acked["written_at"] >= start)
                          & (acked["acked_at"] >= start) & (acked["acked_at"] <= cutover)]
        result["acknowledged_in_window"] = len(in_window)
        rule = metrics["measured"]["resolution"]["rpo_evidence_rule"]
        blind = (None if in_window.empty else
                 (cutover - in_window["acked_at"].max()).total_seconds())
        result["blind_s"] = blind
        result["tested"] = (len(in_window) >= rule.get("min_acknowledged", 10)
                            and blind is not None and blind <= rule.get("max_blind_s", 1.0))
        out[str(store)] = result
    return out


def assert_metrics_recomputed(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every per-store figure of run_dir/metrics.json equals its recomputation from
    canaries.csv (to the microsecond); the overall RTO is the slowest store's."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    measured = metrics["measured"]
    recomputed = recompute(run_dir / "canaries.csv", metrics)
    for store, got in recomputed.items():
        writes = measured["writes"][store]
        for key in ("attempted", "acknowledged", "rejected", "timed_out", "rejected_by_class"):
            assert writes[key] == got[key], (store, key)
        assert writes["attempted"] == writes["acknowledged"] + writes["rejected"] + \
            writes["timed_out"], store
        rto = measured["rto_per_store"][store]["rto_seconds"]
        assert rto == (None if got["rto_seconds"] is None
                       else pytest.approx(got["rto_seconds"], abs=1e-6)), store
        outage = measured["write_outage"][store]["seconds"]
        assert outage == (None if got.get("outage_seconds") is None
                          else pytest.approx(got["outage_seconds"], abs=1e-6)), store
        assert measured["rpo"][store]["lost_seqs"] == got["lost_seqs"], store
        assert measured["rpo"][store]["span_seconds"] == pytest.approx(got["span_seconds"],
                                                                       abs=1e-6), store
        assert measured["rpo_evidence"][store]["acknowledged_in_window"] == \
            got["acknowledged_in_window"], store
        assert writes["acknowledged_by_region"] == got["acknowledged_by_region"], store
        assert writes["attempt_spacing_s"] == (None if got["attempt_spacing_s"] is None else
                                               pytest.approx(got["attempt_spacing_s"],
                                                             abs=1e-6)), store
        window = measured["write_outage"][store]
        if got.get("outage_ends") is not None:
            assert (window["last_ack_region"], window["last_ack_seq"],
                    window["first_ack_region"], window["first_ack_seq"],
                    window["failed_attempts"]) == got["outage_ends"], store
        evidence = measured["rpo_evidence"][store]
        assert evidence["blind_s"] == (None if got["blind_s"] is None
                                       else pytest.approx(got["blind_s"], abs=1e-6)), store
        assert evidence["tested"] == got["tested"], store
        assert measured["rpo"][store]["tested"] == got["tested"], store
    # each side's writes and those not yet seen on the other side, from visible_at columns
    frame = pd.read_csv(run_dir / "canaries.csv", keep_default_na=False)
    regions = [metrics["regions"]["primary"], metrics["regions"]["secondary"]]
    for store, rows in frame[frame["acked_at"] != ""].groupby("store"):
        for region in regions:
            mine = rows[rows["region_written"] == region]
            here, other = (f"visible_at:{r}" for r in (
                region, next(r for r in regions if r != region)))
            seen_here = (mine[here] != "") if here in mine else pd.Series(False, mine.index)
            seen_other = (mine[other] != "") if other in mine else pd.Series(False, mine.index)
            missing = seen_here & ~seen_other
            side = measured["replication"][store][region]
            assert (side["written"], side["not_replicated"]) == (len(mine), int(missing.sum())), (
                store, region)
    slowest = [g["rto_seconds"] for g in recomputed.values()]
    expected = None if None in slowest else max(slowest)
    assert measured["rto_seconds"] == (None if expected is None
                                       else pytest.approx(expected, abs=1e-6))
    return recomputed


def _synthetic_records() -> list[CanaryRecord]:
    """Aurora rejected between the switch and DNS, one lost record; S3 never interrupted."""
    records = []
    for seq in range(1, 61):
        t = T0 + timedelta(seconds=0.2 * seq + 0.0001 * seq)
        region = EAST if seq <= 40 else WEST
        error = None
        if 31 <= seq <= 40:
            error = "ConnectionTimeout: expired" if seq == 40 else \
                "ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction"
        record = CanaryRecord("aurora", seq, region, t,
                              None if error else t + timedelta(seconds=0.0123), error=error)
        record.present_after = error is None and seq != 29
        records.append(record)
        s3 = CanaryRecord("s3", seq, EAST if seq <= 33 else WEST, t, t + timedelta(seconds=0.05))
        s3.present_after = True
        s3.mark_visible(s3.region_written, t + timedelta(seconds=0.05))
        if seq < 55:  # the last six written in the west had not reached the east yet
            s3.mark_visible(EAST if s3.region_written == WEST else WEST, t + timedelta(seconds=1))
        records.append(s3)
    return records


def test_metrics_are_recomputable_from_canaries_csv(tmp_path: Path) -> None:
    """metrics.json's write counts, RTO, outage, RPO and evidence follow from canaries.csv and
    the recorded instants, by arithmetic independent of drlib's."""
    records = round_trip(_synthetic_records())
    declared, cutover = T0 + timedelta(seconds=6.1), T0 + timedelta(seconds=6.15)
    measured = measure_records(records, ["aurora", "s3"], declared=declared, cutover=cutover,
                               old_primary=EAST, new_primary=WEST)
    metrics = {"regions": {"primary": EAST, "secondary": WEST},
               "measured": {**measured.to_metrics(),
                            "instants": {"disaster_declared_at": declared.isoformat(),
                                         "cutover_at": cutover.isoformat()},
                            "resolution": {"rpo_evidence_rule": {
                                "window_s": 5.0, "min_acknowledged": 10, "max_blind_s": 1.0}}}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    records_frame(records).to_csv(tmp_path / "canaries.csv", index=False)
    got = assert_metrics_recomputed(tmp_path)
    assert got["aurora"]["lost_seqs"] == [29]
    assert measured.extra["replication"]["s3"][WEST]["not_replicated_seqs"] == list(range(55, 61))
    assert got["aurora"]["rejected_by_class"] == {"ReadOnlySqlTransaction": 9}
    assert got["aurora"]["timed_out"] == 1
    # one lost record spans from its acknowledgement to the disaster, not 0 s
    assert got["aurora"]["span_seconds"] > 0.2
    assert measured.rto is not None
    assert measured.rto.store == "aurora"


def test_recompute_catches_a_figure_that_does_not_follow(tmp_path: Path) -> None:
    """The check fails when metrics.json claims what canaries.csv does not support."""
    records = round_trip(_synthetic_records())
    declared = T0 + timedelta(seconds=6.1)
    measured = measure_records(records, ["aurora", "s3"], declared=declared, cutover=declared,
                               old_primary=EAST, new_primary=WEST)
    block = measured.to_metrics()
    block["rpo"]["aurora"]["lost_seqs"] = []  # a reconciliation that hides the loss
    metrics = {"regions": {"primary": EAST, "secondary": WEST},
               "measured": {**block, "instants": {"disaster_declared_at": declared.isoformat(),
                                                  "cutover_at": declared.isoformat()},
                            "resolution": {"rpo_evidence_rule": {"window_s": 5.0}}}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    records_frame(records).to_csv(tmp_path / "canaries.csv", index=False)
    with pytest.raises(AssertionError):
        assert_metrics_recomputed(tmp_path)
