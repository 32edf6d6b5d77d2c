"""Load that scales: the drill's canary writers driven by Locust, on one machine or many.

:func:`run_load` starts Locust headless on :mod:`drlib.locustfile` in processes of its own
(Locust's gevent monkey-patching never reaches the caller): one process, or a master and
``workers`` worker processes on loopback. Every write attempt is a record; after the run the
records are **reconciled record by record** against what each region holds (every segment of
every stream read back from every store in both regions, joined with sets, no scan of one list
inside another), and the figures are computed from the joined records only:

``<run_dir>/load/`` holds

* ``records.csv``: one row per write attempt (store, stream, seq, region written, microsecond
  start and acknowledgement, outcome, error class, first sighting in the other region and its
  resolution, ``present:<region>`` from the reconciliation): what every figure is computed from;
* ``load.json``: the figures (:func:`load_figures` of ``records.csv``, recomputable exactly),
  the run's settings, the host's load (``os.getloadavg``) and the reconciliation's own cost;
* ``locust_stats.csv``, ``locust_stats_history.csv``, ``locust_failures.csv``,
  ``locust_exceptions.csv``: Locust's own statistics; ``locust-*.log``: its logs;
* ``processes.json``: each load process's streams and totals; ``workload.json``: the workload
  the processes were given (no secret: the database password is read by each process).

A *lost* record is an acknowledged write that the reconciliation does not find in one of the
regions (the one that acknowledged it, or the other after the drain). Lag is first sighting in
the other region minus the acknowledgement (0 when seen before the acknowledgement came back),
known to within the sighting's resolution: the time since the last read that could not yet see
it (or since the acknowledgement).
"""

from __future__ import annotations

import json
import math
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drlib.aws import RegionPair
from drlib.errors import ConfigError, DrError
from drlib.measure import LAG_COLUMNS, STORES
from drlib.workload import RegionalStack, Workload
from drlib.write_outcomes import TIMEOUT_ERRORS

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SEGMENT = 1000
"""Records per stream segment; the same as :data:`drlib.locustfile.SEGMENT` (checked in tests;
that module is not imported here because importing Locust patches the process)."""
USER_CLASSES = {"aurora": "AuroraWriter", "dynamodb": "DynamoDbWriter", "s3": "S3Writer"}
MAX_DURATION_S = 3600.0
DEFAULT_USERS_MAX_RATE = 8
"""Users per store when the rate is unbounded (0): enough to keep every store busy."""
RECORD_COLUMNS = ["store", "stream", "seq", "region_written", "written_at", "acked_at",
                  "outcome", "error_class", "error"]
SCHEMA = "drlib.load/1"
STOP_TIMEOUT_S = 10
"""At the stop, users finish the write they are in (at most this long) rather than being killed
mid-write; a write interrupted all the same is recorded as ``Interrupted``."""


class LoadError(DrError):
    """The load processes failed (not a failed write: those are records)."""


# --- the workload, passed to the load processes ------------------------------------------------

def workload_from_dict(data: Mapping[str, Any]) -> Workload:
    """The inverse of :meth:`Workload.to_dict`."""
    regions = RegionPair(**data["regions"])
    fields = {k: v for k, v in data.items() if k not in ("regions", "primary", "secondary")}
    return Workload(regions=regions, primary=RegionalStack(**data["primary"]),
                    secondary=RegionalStack(**data["secondary"]), **fields)


# --- reconciliation ------------------------------------------------------------------------------

def segment_run_id(stream: str, seq: int) -> str:
    """The run id a record of ``stream`` was written under (see :mod:`drlib.locustfile`)."""
    return f"{stream}.{seq // SEGMENT:05d}"


Presence = Mapping[tuple[str, str], set[tuple[str, int]]]
"""(store, region) -> every (stream, seq) found there."""


def read_back(canaries: Mapping[str, Any], writes: pd.DataFrame, regions: Sequence[str],
              threads: int = 8) -> dict[tuple[str, str], set[tuple[str, int]]]:
    """Every segment of every stream in ``writes``, read back from every store in every
    region (``StoreCanary.present``): the reconciliation's raw data."""
    jobs: list[tuple[str, str, str, int]] = []
    if not writes.empty:
        segments = (writes[["store", "stream"]]
                    .assign(segment=writes["seq"].astype("int64") // SEGMENT)
                    .drop_duplicates())
        for store, stream, segment in segments.itertuples(index=False):
            for region in regions:
                jobs.append((str(store), str(region), str(stream), int(segment)))

    def one(job: tuple[str, str, str, int]) -> tuple[str, str, str, list[int]]:
        store, region, stream, segment = job
        run_id = segment_run_id(stream, segment * SEGMENT)
        return store, region, stream, canaries[store].present(region, run_id, 0)

    found: dict[tuple[str, str], set[tuple[str, int]]] = {
        (str(s), r): set() for s in writes["store"].unique() for r in regions} \
        if not writes.empty else {}
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for store, region, stream, seqs in pool.map(one, jobs):
            found[(store, region)].update((stream, int(s)) for s in seqs)
    return found


def reconcile(records: pd.DataFrame, present: Presence, regions: Sequence[str]) -> pd.DataFrame:
    """``records`` with a ``present:<region>`` column per region: whether the reconciliation
    found that record there. A set lookup per record and region: exact, and linear in the
    number of records."""
    out = records.copy()
    keys = list(zip(out["store"].astype(str).tolist(), out["stream"].astype(str).tolist(),
                    out["seq"].astype("int64").tolist(), strict=True))
    for region in regions:
        out[f"present:{region}"] = [
            (stream, seq) in present.get((store, region), ()) for store, stream, seq in keys]
    return out


# --- the records ---------------------------------------------------------------------------------

def _iso(us: pd.Series) -> pd.Series:
    """Integer microseconds (or NaN) as microsecond ISO text in UTC, "" when missing."""
    values = pd.to_numeric(us, errors="coerce")
    missing = values.isna().to_numpy()
    stamps = values.fillna(0).to_numpy(dtype="int64").astype("datetime64[us]")
    text = np.char.add(np.datetime_as_string(stamps, unit="us"), "+00:00")
    return pd.Series(np.where(missing, "", text), index=us.index, dtype=object)


def join_records(writes: pd.DataFrame, sightings: pd.DataFrame,
                 regions: Sequence[str]) -> pd.DataFrame:
    """One row per write attempt (the Collector's ``writes.csv``), with its first sighting in
    every region it was awaited in (``sightings.csv``) as ``visible_at:<region>`` and
    ``visible_resolution_s:<region>``; timestamps as microsecond ISO text."""
    w = writes.copy()
    w["error"] = w["error"].fillna("").astype(str)
    acked = w["acked_at_us"].notna()
    error_class = w["error"].str.split(":", n=1).str[0].str.strip()
    w["error_class"] = np.where(acked, "", error_class.replace("", "UnknownError"))
    w["outcome"] = np.where(acked, "acknowledged",
                            np.where(w["error_class"].isin(TIMEOUT_ERRORS), "timed_out",
                                     "rejected"))
    w["written_at"] = _iso(w["written_at_us"])
    w["acked_at"] = _iso(w["acked_at_us"])
    out = w[RECORD_COLUMNS].copy()
    first = (sightings.sort_values("seen_at_us", kind="stable")
             .drop_duplicates(["store", "stream", "seq", "region"], keep="first"))
    key = ["store", "stream", "seq"]
    for region in regions:
        seen = first.loc[first["region"] == region, [*key, "seen_at_us", "resolution_s"]]
        merged = out[key].merge(seen, on=key, how="left", validate="one_to_one")
        out[f"visible_at:{region}"] = _iso(merged["seen_at_us"]).to_numpy()
        out[f"visible_resolution_s:{region}"] = merged["resolution_s"].to_numpy()
    return out.sort_values(["store", "stream", "seq"], kind="stable").reset_index(drop=True)


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column].replace("", pd.NA) if column in frame else pd.Series(
        pd.NA, index=frame.index)
    return pd.to_datetime(values, utc=True, format="ISO8601")


def record_regions(records: pd.DataFrame) -> list[str]:
    """The regions a records frame has columns for (``present:<region>``)."""
    return sorted(c.split(":", 1)[1] for c in records.columns if c.startswith("present:"))


def lag_frame(records: pd.DataFrame) -> pd.DataFrame:
    """Per acknowledged record seen in another region: the lag series (the columns of
    :func:`drlib.measure.lag_series`: store, seq, at, lag_s, source, resolution_s) plus stream."""
    regions = sorted(c.split(":", 1)[1] for c in records.columns if c.startswith("visible_at:"))
    acked = _times(records, "acked_at")
    best_lag = pd.Series(np.nan, index=records.index)
    best_res = pd.Series(np.nan, index=records.index)
    for region in regions:
        seen = _times(records, f"visible_at:{region}")
        lag = (seen - acked).dt.total_seconds()
        lag = lag.where(records["region_written"] != region)
        res = pd.to_numeric(records[f"visible_resolution_s:{region}"], errors="coerce")
        better = lag.notna() & (best_lag.isna() | (lag < best_lag))
        best_lag = best_lag.where(~better, lag)
        best_res = best_res.where(~better, res)
    mask = best_lag.notna() & acked.notna()
    frame = pd.DataFrame({"store": records.loc[mask, "store"].astype(str),
                          "seq": records.loc[mask, "seq"].astype("int64"),
                          "at": acked[mask], "lag_s": best_lag[mask].clip(lower=0.0),
                          "source": "canary", "resolution_s": best_res[mask].astype(float),
                          "stream": records.loc[mask, "stream"].astype(str)})
    return frame[[*LAG_COLUMNS, "stream"]].sort_values(["store", "at"], kind="stable") \
        .reset_index(drop=True)


def _flags(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Boolean columns, whether pandas read them as booleans or as text."""
    return pd.DataFrame({c: frame[c] if frame[c].dtype == bool else
                         frame[c].astype(str).str.strip().str.lower().isin(("true", "1"))
                         for c in columns}, index=frame.index)


def per_second_lag(series: pd.DataFrame) -> pd.DataFrame:
    """The lag series thinned to one sample per store and second (the median of that second's
    samples, at the second's start): what a chart beside CloudWatch's minutely points needs."""
    if series.empty:
        return series[LAG_COLUMNS].copy()
    at = pd.to_datetime(series["at"], utc=True).dt.floor("s")
    grouped = series.assign(at=at).groupby(["store", "at"], sort=True)
    out = grouped.agg(lag_s=("lag_s", "median"), resolution_s=("resolution_s", "median"),
                      seq=("seq", "min")).reset_index()
    out["source"] = "canary"
    return out[LAG_COLUMNS]


def _r(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else round(float(value), 6)


def load_figures(records: pd.DataFrame) -> dict[str, Any]:
    """Every figure of ``load.json`` from the records (``records.csv`` as read by pandas):
    window, per store writes by outcome, acknowledged per second, lost records (by region) and
    lag percentiles with their resolution; totals across stores."""
    regions = record_regions(records)
    written = _times(records, "written_at")
    acked_at = _times(records, "acked_at")
    is_acked = acked_at.notna()
    start = written.min()
    end = max(acked_at.max() if is_acked.any() else written.max(), written.max())
    window_s = (end - start).total_seconds() if len(records) else 0.0
    lags = lag_frame(records)
    present = _flags(records, [f"present:{r}" for r in regions])
    seen_stores = {str(s) for s in records["store"].unique()}
    stores = [s for s in STORES if s in seen_stores] + sorted(seen_stores - set(STORES))
    out_stores: dict[str, Any] = {}
    for store in stores:
        rows = records["store"] == store
        acked = rows & is_acked
        missing = {r: int((acked & ~present[f"present:{r}"]).sum()) for r in regions}
        lost_mask = acked & ~present.all(axis=1)
        lost = records.loc[lost_mask, ["stream", "seq"]]
        unacked_present = rows & ~is_acked & present.any(axis=1)
        rejected = records.loc[rows & (records["outcome"] == "rejected"), "error_class"]
        values = lags.loc[lags["store"] == store, "lag_s"].to_numpy(dtype=float)
        resolution = lags.loc[lags["store"] == store, "resolution_s"].dropna().to_numpy(
            dtype=float)
        lag: dict[str, Any] = {"count": int(values.size), "not_seen": int(acked.sum())
                               - int(values.size)}
        if values.size:
            p50, p95, p99 = np.percentile(values, [50, 95, 99])
            lag.update(p50_s=_r(p50), p95_s=_r(p95), p99_s=_r(p99), max_s=_r(values.max()))
        else:
            lag.update(p50_s=None, p95_s=None, p99_s=None, max_s=None)
        lag.update(resolution_median_s=_r(float(np.median(resolution))) if resolution.size
                   else None,
                   resolution_max_s=_r(float(resolution.max())) if resolution.size else None)
        out_stores[store] = {
            "attempted": int(rows.sum()), "acknowledged": int(acked.sum()),
            "rejected": int(rejected.size),
            "rejected_by_class": {str(k): int(v) for k, v in
                                  sorted(rejected.value_counts().items())},
            "timed_out": int((rows & (records["outcome"] == "timed_out")).sum()),
            "acknowledged_per_s": _r(acked.sum() / window_s) if window_s > 0 else None,
            "lost": int(lost_mask.sum()), "missing_by_region": missing,
            "lost_examples": [[str(s), int(q)] for s, q in lost.head(20).itertuples(index=False)],
            "unacknowledged_present": int(unacked_present.sum()),
            "lag": lag,
        }
    per_second = throughput(records)
    totals = per_second.groupby("second")["acknowledged"].sum() if not per_second.empty \
        else pd.Series(dtype=int)
    interior = totals.iloc[1:-1] if len(totals) > 2 else totals
    acknowledged = int(is_acked.sum())
    return {
        "window": {"first_write_at": None if pd.isna(start) else start.isoformat(),
                   "last_acknowledged_at": None if pd.isna(end) else end.isoformat(),
                   "seconds": _r(window_s)},
        "stores": out_stores,
        "total": {"attempted": len(records), "acknowledged": acknowledged,
                  "errors": len(records) - acknowledged,
                  "lost": sum(s["lost"] for s in out_stores.values()),
                  "acknowledged_per_s": _r(acknowledged / window_s) if window_s > 0 else None,
                  "per_second_median": _r(float(interior.median())) if len(interior) else None,
                  "per_second_min": int(interior.min()) if len(interior) else None,
                  "per_second_note": "acknowledgements per whole second of the window, the "
                                     "first and last (partial) seconds left out"},
    }


def throughput(records: pd.DataFrame) -> pd.DataFrame:
    """Per store and second since the first write: acknowledgements (by acknowledgement time)
    and failed attempts (by start time)."""
    if records.empty:
        return pd.DataFrame(columns=["store", "second", "acknowledged", "errors"])
    written = _times(records, "written_at")
    acked = _times(records, "acked_at")
    origin = written.min()
    ack_second = ((acked - origin).dt.total_seconds() // 1).where(acked.notna())
    err_second = ((written - origin).dt.total_seconds() // 1).where(acked.isna())
    frames = []
    for name, seconds in (("acknowledged", ack_second), ("errors", err_second)):
        counted = (pd.DataFrame({"store": records["store"], "second": seconds}).dropna()
                   .astype({"second": "int64"}).groupby(["store", "second"]).size()
                   .rename(name))
        frames.append(counted)
    both = pd.concat(frames, axis=1).fillna(0).astype("int64").reset_index()
    return both.sort_values(["store", "second"]).reset_index(drop=True)


# --- the run -------------------------------------------------------------------------------------

@dataclass
class LoadRun:
    """A finished load run: its folder, the joined records and the figures."""

    folder: Path
    figures: dict[str, Any]
    records: pd.DataFrame = field(repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Per store: attempts, acknowledgements, errors, lost, writes per second."""
        rows = {store: {"attempted": f["attempted"], "acknowledged": f["acknowledged"],
                        "errors": f["attempted"] - f["acknowledged"], "lost": f["lost"],
                        "acknowledged_per_s": f["acknowledged_per_s"]}
                for store, f in self.figures["stores"].items()}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "store"
        total = self.figures["total"]
        frame.loc["total"] = [total["attempted"], total["acknowledged"], total["errors"],
                              total["lost"], total["acknowledged_per_s"]]
        return frame

    @property
    def statistics(self) -> pd.DataFrame:
        """Per store: lag percentiles and the resolution they rest on."""
        frame = pd.DataFrame.from_dict({s: f["lag"] for s, f in self.figures["stores"].items()},
                                       orient="index")
        frame.index.name = "store"
        return frame

    @property
    def series(self) -> pd.DataFrame:
        """The lag samples (one per acknowledged record seen in the other region)."""
        return lag_frame(self.records)

    def save_charts(self, run_dir: Path) -> dict[str, Path]:
        """Throughput and errors per second, lag percentiles per second, lag CDF (PNG)."""
        from drlib import charts

        made = {"load_throughput": charts.load_throughput_chart(throughput(self.records))}
        series = self.series
        if not series.empty:
            made["load_lag_over_time"] = charts.load_lag_percentiles_chart(series)
            made["load_lag_cdf"] = charts.lag_cdf_chart(
                series[LAG_COLUMNS], title="Replication lag under load (CDF)")
        return {name: charts.save_png(fig, run_dir / f"{name}.png") for name, fig in made.items()}


def users_for(rate_per_second: float, users_per_store: int | None) -> int:
    """Users per store: as given, else one per 50 writes/s of the target (each user paces
    itself), else :data:`DEFAULT_USERS_MAX_RATE` when the rate is unbounded."""
    if users_per_store:
        return int(users_per_store)
    if rate_per_second <= 0:
        return DEFAULT_USERS_MAX_RATE
    return max(1, math.ceil(rate_per_second / 50.0))


def locust_command(*, role: str, stores: Sequence[str], users: int, options: Mapping[str, Any],
                   folder: Path, master_port: int | None = None, workers: int = 0,
                   index: int = 0) -> list[str]:
    """The Locust command line of one process: ``role`` is local, master or worker."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--loglevel", "INFO",
           "--logfile", str(folder / f"locust-{role}{index if role == 'worker' else ''}.log")]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    if role in ("local", "master"):
        cmd += ["-u", str(users * len(stores)), "-r", str(users * len(stores)),
                "--only-summary", "--exit-code-on-error", "0", "--csv", str(folder / "locust"),
                "--stop-timeout", str(STOP_TIMEOUT_S)]
    if role == "master":
        cmd += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
                str(master_port), "--expect-workers", str(workers)]
    if role == "worker":
        cmd += ["--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)]
    return cmd + [USER_CLASSES[s] for s in stores]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_progress(line: str) -> None:
    """Progress lines of the load: rewritten in place on a terminal, one per line otherwise."""
    if line.startswith("[load]") and sys.stdout.isatty():
        print("\r" + line, end="", flush=True)
    else:
        print(line, flush=True)


def _relay(stream: Any, lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, ""):
        lines.put(raw.rstrip("\n"))
    lines.put(None)


def run_processes(commands: Sequence[list[str]], *, timeout_s: float,
                  progress: Callable[[str], None], env: Mapping[str, str]) -> None:
    """Start the processes (the first one's output is relayed to ``progress``, the others' go
    to their log files), wait for all of them at most ``timeout_s``, stop them otherwise."""
    procs: list[subprocess.Popen[str]] = []
    lines: queue.Queue[str | None] = queue.Queue()
    try:
        for n, cmd in enumerate(commands):
            procs.append(subprocess.Popen(
                cmd, stdout=subprocess.PIPE if n == 0 else subprocess.DEVNULL,
                stderr=subprocess.STDOUT, text=True, env=dict(env), start_new_session=True))
        assert procs[0].stdout is not None
        threading.Thread(target=_relay, args=(procs[0].stdout, lines), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = lines.get(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                progress(line)
            if time.monotonic() > deadline:
                raise LoadError(f"The load did not finish within {timeout_s:.0f} s",
                                fix="see the locust-*.log files in the load folder")
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs:  # only the processes started here, each by its own pid
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if procs and sys.stdout.isatty():
            print()
    failed = [(n, p.returncode) for n, p in enumerate(procs) if p.returncode not in (0, None)]
    if failed:
        raise LoadError("A load process failed: " + ", ".join(
            f"process {n} exit {code}" for n, code in failed),
            fix="see the locust-*.log files in the load folder")


def run_load(session: Any, *, stores: Sequence[str] = STORES, rate_per_second: float = 20.0,
             duration_s: float = 10.0, users_per_store: int | None = None, workers: int = 0,
             drain_s: float = 10.0, read_intervals: Mapping[str, float] | None = None,
             folder: Path | None = None,
             progress: Callable[[str], None] = default_progress) -> LoadRun:
    """Run the canary load with Locust and reconcile it; see the module's docstring.

    ``rate_per_second`` is the target per store (0: as fast as the users go);
    ``users_per_store`` defaults to :func:`users_for`; ``workers`` 0 runs one Locust process,
    N a master and N workers on loopback. The run stops by itself after ``duration_s`` plus the
    drain; the processes are stopped if they outlive that by two minutes.
    """
    from drlib.drill import build_canaries

    unknown = [s for s in stores if s not in USER_CLASSES]
    if unknown or not stores:
        raise ConfigError(f"Unknown or no stores to load: {unknown or 'none'}",
                          expected=", ".join(USER_CLASSES))
    if not 0 < duration_s <= MAX_DURATION_S or rate_per_second < 0 or workers < 0:
        raise ConfigError("The load needs 0 < duration <= 3600 s, a rate >= 0 and workers >= 0",
                          found=f"duration {duration_s}, rate {rate_per_second}, "
                                f"workers {workers}")
    workload: Workload = session.workload()
    folder = folder or Path(session.run_dir) / "load"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workload.json").write_text(json.dumps(workload.to_dict(), indent=2, default=str))
    load_id = f"load-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    # Prepared once here (the canary database and table), and kept for the reconciliation.
    fleet, _ = build_canaries(session.target.clients, workload, load_id, 1.0)
    canaries = {store: run.canary for store, run in fleet.stores.items()}
    users = users_for(rate_per_second, users_per_store)
    options = {"drlib_environment": workload.environment, "drlib_target": session.target.name,
               "drlib_workload": folder / "workload.json", "drlib_load_id": load_id,
               "drlib_rate_per_user": rate_per_second / users if rate_per_second > 0 else 0,
               "drlib_duration": duration_s, "drlib_drain": drain_s, "drlib_out": folder}
    if read_intervals:
        options["drlib_read_intervals"] = ",".join(f"{k}={v}" for k, v in read_intervals.items())
    if workers:
        port = _free_port()
        commands = [locust_command(role="master", stores=stores, users=users, options=options,
                                   folder=folder, master_port=port, workers=workers)]
        commands += [locust_command(role="worker", stores=stores, users=users, options=options,
                                    folder=folder, master_port=port, index=n + 1)
                     for n in range(workers)]
    else:
        commands = [locust_command(role="local", stores=stores, users=users, options=options,
                                   folder=folder)]
    load_before = os.getloadavg()
    began = time.monotonic()
    run_processes(commands, timeout_s=duration_s + drain_s + 120.0, progress=progress,
                  env=os.environ)
    wall_s = time.monotonic() - began
    load_after = os.getloadavg()

    aurora = canaries.get("aurora")
    try:
        return reconcile_folder(
            canaries, workload, folder, load_id=load_id,
            settings={"mode": f"master and {workers} workers on loopback" if workers
                      else "one process",
                      "workers": workers, "stores": list(stores), "users_per_store": users,
                      "target_rate_per_s_per_store": rate_per_second or None,
                      "duration_s": duration_s, "drain_s": drain_s,
                      "read_intervals_s": read_intervals or "defaults of drlib/locustfile.py",
                      "target": session.target.name},
            host={"cpu_count": os.cpu_count(), "loadavg_1_5_15_before": list(load_before),
                  "loadavg_1_5_15_after": list(load_after), "wall_s": round(wall_s, 3)})
    finally:
        if aurora is not None and hasattr(aurora, "close"):
            aurora.close()


def reconcile_folder(canaries: Mapping[str, Any], workload: Workload, folder: Path, *,
                     load_id: str = "", settings: Mapping[str, Any] | None = None,
                     host: Mapping[str, Any] | None = None) -> LoadRun:
    """Reconcile what a Locust master collected in ``folder`` (``writes.csv``,
    ``sightings.csv``) against both regions, write ``records.csv`` and ``load.json``.

    :func:`run_load` calls it; after a master started by hand (workers on other machines),
    call it with the canaries of :func:`drlib.drill.build_canaries` (see the README).
    """
    from importlib.metadata import version

    writes = pd.read_csv(folder / "writes.csv", dtype={"error": str, "stream": str,
                                                      "region_written": str})
    sightings = pd.read_csv(folder / "sightings.csv", dtype={"stream": str, "region": str})
    regions = [workload.regions.primary, workload.regions.secondary]
    reconcile_began = time.monotonic()
    present = read_back(canaries, writes[writes["acked_at_us"].notna()], regions)
    read_s = time.monotonic() - reconcile_began
    records = reconcile(join_records(writes, sightings, regions), present, regions)
    records.to_csv(folder / "records.csv", index=False)
    reconcile_s = time.monotonic() - reconcile_began
    for intermediate in ("writes.csv", "sightings.csv"):  # records.csv holds every field
        (folder / intermediate).unlink()
    figures = load_figures(records)
    document = {
        "schema": SCHEMA, "load_id": load_id,
        "settings": {"engine": f"locust {version('locust')}",
                     "environment": workload.environment, **(settings or {})},
        "host": dict(host or {"cpu_count": os.cpu_count(),
                              "loadavg_1_5_15_after": list(os.getloadavg())}),
        "reconciliation": {
            "method": "every segment of every stream read back from every store in both "
                      "regions; each acknowledged record looked up in the set found there",
            "read_back_s": round(read_s, 3), "seconds": round(reconcile_s, 3),
            "found": {f"{store}:{region}": len(seqs)
                      for (store, region), seqs in sorted(present.items())}},
        **figures,
        "recompute": "drlib.load.figures_of(folder), i.e. load_figures of records.csv, gives "
                     "window, stores and total exactly",
    }
    (folder / "load.json").write_text(json.dumps(document, indent=2, default=str))
    return LoadRun(folder, document, records)


def read_records(folder: Path) -> pd.DataFrame:
    """``records.csv`` of a load folder, typed as :func:`load_figures` expects."""
    return pd.read_csv(folder / "records.csv", dtype={"error": str, "error_class": str,
                                                     "stream": str}, keep_default_na=False)


def figures_of(folder: Path) -> dict[str, Any]:
    """The figures recomputed from a load folder's ``records.csv``."""
    return load_figures(read_records(folder))
