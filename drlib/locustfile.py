"""The canary load as a Locust test: the drill's own canary writers, driven by Locust users.

**Run only by Locust** (``python -m locust -f drlib/locustfile.py``, as :mod:`drlib.load` does):
importing Locust monkey-patches the process for gevent, which the drill's threads (and the
emulator a drill runs in its own process) must never see. Nothing in drlib imports this module.

One user class per store (:class:`AuroraWriter`, :class:`DynamoDbWriter`, :class:`S3Writer`);
each task is one canary write through the same writers the drill uses
(:func:`drlib.drill.build_canaries`: Aurora over the PostgreSQL wire protocol, DynamoDB and S3
through boto3), in the region the application's DNS name points at as a client resolves it.
Every attempt is counted: a failed write is a Locust failure *and* a record.

Each load process (the local runner, or each worker) writes its own *streams*: run ids
``<load id>-<process tag>.<segment>`` with sequence numbers from 1, one stream per store, cut
into segments of :data:`SEGMENT` records so a reader's query of one segment stays small however
long the run. A reader greenlet per store looks in every other region for the records the
process wrote and has not seen there yet (a set of awaited records, never a scan of all
records), and notes the first sighting and its resolution.

Records travel to the master (or, in one process, to the local runner) as Locust custom messages
in batches; the master appends them to ``writes.csv`` and ``sightings.csv`` in ``--drlib-out``
and prints a progress line. At the stop, each process drains (reads until every acknowledged
record was seen in every region, at most ``--drlib-drain`` seconds) and flushes before it
reports stopped, so the master has every record when it quits. The run's length is
``--drlib-duration`` (not Locust's ``--run-time``, whose stop does not wait for workers).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import User, constant_throughput, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

# drlib's modules are imported now, while Locust loads this file and before a worker connects
# to its master: imports hold the process without yielding, and a worker that sends no
# heartbeat for a few seconds is dropped by the master.
from drlib.canary import AuroraCanary, NoRoute, error_label
from drlib.drill import build_canaries
from drlib.load import workload_from_dict
from drlib.targets import open_target
from drlib.workload import discover_workload

log = logging.getLogger("drlib.load")

SEGMENT = 1000
"""Records per stream segment (one run id): the unit a reader queries."""
ROWS_MESSAGE = "drlib_rows"
DONE_MESSAGE = "drlib_done"
FLUSH_INTERVAL_S = 0.5
STARTUP_GRACE_S = 120.0
"""How long the master waits for the first record before it starts the clock anyway."""
FINISH_WRITES_S = 10.0
"""At the stop, how long writes in flight may take to end (when Locust has no stop timeout)."""
MAX_DRAIN_S = 50.0
"""The master waits 60 s for workers to stop: a drain must end before that."""
DEFAULT_READ_INTERVALS = {"aurora": 0.02, "dynamodb": 0.1, "s3": 0.25}
WRITE_COLUMNS = ["store", "stream", "seq", "region_written", "written_at_us", "acked_at_us",
                 "error"]
SIGHTING_COLUMNS = ["store", "stream", "seq", "region", "seen_at_us", "resolution_s"]


def now_us() -> int:
    """The wall clock in integer microseconds since the epoch (what the records hold)."""
    return time.time_ns() // 1000


def segment_run_id(stream: str, seq: int) -> str:
    """The run id a record of ``stream`` is written under: its stream and segment."""
    return f"{stream}.{seq // SEGMENT:05d}"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser  # (argument groups take no include_in_web_ui)
    group.add_argument("--drlib-environment", default="dev", include_in_web_ui=False,
                       help="the environment whose workload is loaded")
    group.add_argument("--drlib-target", default="local", include_in_web_ui=False,
                       help="local (the emulator AWS_ENDPOINT_URL names) or aws")
    group.add_argument("--drlib-workload", default="", include_in_web_ui=False,
                       help="the workload as JSON (drlib.load writes it); empty: read the "
                            "deployed stacks' outputs")
    group.add_argument("--drlib-load-id", default="", include_in_web_ui=False,
                       help="prefix of every stream of this run")
    group.add_argument("--drlib-rate-per-user", type=float, default=0.0,
                       include_in_web_ui=False,
                       help="writes per second of each user; 0: as fast as it can")
    group.add_argument("--drlib-duration", type=float, default=10.0, include_in_web_ui=False,
                       help="seconds of load (master or single process)")
    group.add_argument("--drlib-drain", type=float, default=10.0, include_in_web_ui=False,
                       help="seconds each process reads on after the stop for records not yet "
                            "seen in every region")
    group.add_argument("--drlib-out", default="", include_in_web_ui=False,
                       help="folder of writes.csv and sightings.csv (master or single process)")
    group.add_argument("--drlib-read-intervals", default="", include_in_web_ui=False,
                       help="seconds between a reader's looks, e.g. aurora=0.02,s3=0.25")


# --- one process's streams -----------------------------------------------------------------------

class Stream:
    """The writes of one store by this process: sequence numbers, awaited records per region,
    and the rows not yet sent to the master."""

    def __init__(self, store: str, name: str, regions: list[str]) -> None:
        self.store = store
        self.name = name
        self.regions = regions
        self.next_seq = 1
        self.awaiting: dict[str, dict[int, int]] = {r: {} for r in regions}
        """region -> {seq: acknowledged at (us)} of acknowledged records not seen there yet"""
        self.last_read_us: dict[str, int] = {}
        self.writes: list[list[Any]] = []
        self.sightings: list[list[Any]] = []
        self.attempted = 0
        self.acknowledged = 0

    def allocate(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def written(self, seq: int, region: str | None, started: int, acked: int | None,
                error: str) -> None:
        self.attempted += 1
        self.writes.append([self.store, self.name, seq, region or "unknown", started, acked,
                            error])
        if acked is not None and region is not None:
            self.acknowledged += 1
            for other in self.regions:
                if other != region:
                    self.awaiting[other][seq] = acked

    def read_once(self, present: Callable[[str, str, int], list[int]]) -> None:
        """Look in every region for the awaited records of this stream, segment by segment."""
        for region, waiting in self.awaiting.items():
            if not waiting:
                continue
            floors: dict[int, int] = {}
            for seq in waiting:
                segment = seq // SEGMENT
                floors[segment] = min(floors.get(segment, seq), seq)
            started = now_us()
            previous = self.last_read_us.get(region)
            complete = True
            for _segment, lowest in sorted(floors.items()):
                try:
                    seqs = present(region, segment_run_id(self.name, lowest), lowest - 1)
                except Exception as exc:  # a region that does not answer is simply not seen
                    log.debug("reader %s in %s: %s", self.store, region, exc)
                    complete = False
                    continue
                seen = now_us()
                for seq in seqs:
                    acked = waiting.pop(seq, None)
                    if acked is None:
                        continue
                    # visible after the last read that could not yet see it (or the ack)
                    after = max(acked, previous) if previous is not None else acked
                    self.sightings.append([self.store, self.name, seq, region, seen,
                                           round((seen - after) / 1e6, 6)])
            if complete:
                self.last_read_us[region] = started

    def waiting(self) -> int:
        return sum(len(w) for w in self.awaiting.values())

    def take_rows(self) -> tuple[list[list[Any]], list[list[Any]]]:
        writes, sightings = self.writes, self.sightings
        self.writes, self.sightings = [], []
        return writes, sightings


class LoadProcess:
    """What one load process (local runner or worker) holds: clients, canaries, streams."""

    def __init__(self, environment: Environment) -> None:
        options: Any = environment.parsed_options
        assert options is not None
        self.environment = environment
        self.options = options
        self.ready = Event()
        self.failed: BaseException | None = None
        self.streams: dict[str, Stream] = {}
        self.canaries: dict[str, Any] = {}
        self.read_intervals = {**DEFAULT_READ_INTERVALS,
                               **_intervals(options.drlib_read_intervals)}
        self.rate_per_user = float(options.drlib_rate_per_user)
        self.drain_s = min(float(options.drlib_drain), MAX_DRAIN_S)
        self._greenlets: list[Any] = []
        self.started = False
        self.stopped = False
        self.stopping = False
        """Set as the test stops: no new write starts; those in flight finish."""
        self.in_flight = 0

    def prepare(self) -> None:
        """Clients, canaries (the drill's own, :func:`drlib.drill.build_canaries`) and streams;
        network I/O only, so it runs in a greenlet while the worker keeps its heartbeat."""
        try:
            options: Any = self.options
            workload = _workload(options)
            target = open_target(options.drlib_target, workload.regions)
            tag = f"{os.getpid():x}{secrets.token_hex(2)}"
            name = f"{options.drlib_load_id or 'load'}-{tag}"
            fleet, self.active = _with_retries(
                lambda: build_canaries(target.clients, workload, name, 1.0))
            regions = [workload.regions.primary, workload.regions.secondary]
            self.canaries = {store: run.canary for store, run in fleet.stores.items()}
            self.streams = {store: Stream(store, name, regions) for store in self.canaries}
        except BaseException as exc:
            self.failed = exc
            log.exception("the load process could not prepare its canaries")
            raise
        finally:
            self.ready.set()

    def new_aurora(self) -> AuroraCanary:
        """A connection per user (a PostgreSQL connection serves one statement at a time);
        endpoints looked up once for the process."""
        base = self.canaries["aurora"]
        return AuroraCanary(lambda r: base.endpoint("writer", r),
                            lambda r: base.endpoint("reader", r))

    def canary_for(self, store: str) -> Any:
        self.ready.wait()
        if self.failed is not None:
            raise RuntimeError(f"the load process is not prepared: {self.failed}")
        return self.new_aurora() if store == "aurora" else self.canaries[store]

    def write(self, store: str, canary: Any) -> None:
        """One canary write, counted as a Locust request and kept as a record (none once the
        test is stopping: :meth:`finish_writes`)."""
        if self.stopping:
            return
        self.in_flight += 1
        try:
            self._write(store, canary)
        finally:
            self.in_flight -= 1

    def finish_writes(self, timeout_s: float) -> None:
        """As the test stops: start no new write and let those in flight end (at most
        ``timeout_s``), so that Locust stopping its users interrupts none mid-write (it kills a
        user between two writes at once, but one in a write too, once it is asked to stop)."""
        self.stopping = True
        deadline = time.monotonic() + timeout_s
        while self.in_flight and time.monotonic() < deadline:
            gevent.sleep(0.005)

    def _write(self, store: str, canary: Any) -> None:
        stream = self.streams[store]
        seq = stream.allocate()
        region: str | None = None
        started = now_us()
        began = time.perf_counter()
        error = ""
        acked: int | None = None
        failure: BaseException | None = None
        try:
            region = self.active.resolve()
            if region is None:
                raise NoRoute("the application name answers with no known region")
            canary.write(region, segment_run_id(stream.name, seq), seq,
                         _datetime(started))
            acked = now_us()
        except Exception as exc:
            failure = exc
            error = f"{error_label(exc)}: {exc}"[:300]
        except BaseException as exc:  # the user was stopped mid-write: still an attempt
            stream.written(seq, region, started, None, f"Interrupted: {type(exc).__name__}")
            raise
        stream.written(seq, region, started, acked, error)
        self.environment.events.request.fire(
            request_type=store, name="canary write", context={},
            response_time=(time.perf_counter() - began) * 1000.0, response_length=0,
            exception=failure, url=None)

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.ready.wait()
        for store in self.streams:
            self._greenlets.append(gevent.spawn(self._reader, store))
        self._greenlets.append(gevent.spawn(self._flusher))

    def _reader(self, store: str) -> None:
        canary, stream = self.canaries[store], self.streams[store]
        interval = self.read_intervals.get(store, 0.1)
        while not self.stopped:
            stream.read_once(canary.present)
            gevent.sleep(interval)

    def _flusher(self) -> None:
        while not self.stopped:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()

    def flush(self) -> None:
        writes: list[list[Any]] = []
        sightings: list[list[Any]] = []
        for stream in self.streams.values():
            w, s = stream.take_rows()
            writes += w
            sightings += s
        runner = self.environment.runner
        if (writes or sightings) and runner is not None:
            runner.send_message(ROWS_MESSAGE, {"writes": writes, "sightings": sightings})

    def drain_and_flush(self) -> None:
        """After the users stopped: read until every acknowledged record was seen in every
        region (at most the drain time), then send every row and this process's totals."""
        self.stopped = True
        gevent.killall(self._greenlets, block=True, timeout=5)
        deadline = time.monotonic() + self.drain_s
        while time.monotonic() < deadline:
            pending = [s for s in self.streams.values() if s.waiting()]
            if not pending:
                break
            for stream in pending:
                stream.read_once(self.canaries[stream.store].present)
            self.flush()
            gevent.sleep(0.05)
        self.flush()
        totals = {s.store: {"stream": s.name, "attempted": s.attempted,
                            "acknowledged": s.acknowledged, "not_seen_at_stop": s.waiting()}
                  for s in self.streams.values() if s.attempted}
        runner = self.environment.runner
        assert runner is not None
        runner.send_message(DONE_MESSAGE, {"pid": os.getpid(), "streams": totals})
        if isinstance(runner, WorkerRunner):
            # Locust's last statistics report of a worker goes out at "quit", which a master
            # waits only 0.5 s for: send it now, before the worker reports stopped.
            runner._send_stats()


def _with_retries(build: Callable[[], Any], attempts: int = 5) -> Any:
    """Workers starting together may race creating the canary database: try again."""
    for attempt in range(attempts):
        try:
            return build()
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            log.info("preparing the canaries failed (%s); trying again", exc)
            gevent.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _datetime(us: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _intervals(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        store, _, value = part.partition("=")
        out[store.strip()] = float(value)
    return out


def _workload(options: Any) -> Any:
    if options.drlib_workload:
        return workload_from_dict(json.loads(Path(options.drlib_workload).read_text()))
    return discover_workload(options.drlib_environment)


# --- the collector (master, or the single process) -----------------------------------------------

class Collector:
    """Appends every row the load processes send to CSV files and prints a progress line."""

    def __init__(self, out: Path, duration_s: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self._files = {name: (out / f"{name}.csv").open("w", newline="")
                       for name in ("writes", "sightings")}
        self._csv = {name: csv.writer(f) for name, f in self._files.items()}
        self._csv["writes"].writerow(WRITE_COLUMNS)
        self._csv["sightings"].writerow(SIGHTING_COLUMNS)
        self.duration_s = duration_s
        self.attempted: dict[str, int] = {}
        self.acknowledged: dict[str, int] = {}
        self.seen = 0
        self.done: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.first_row_at: float | None = None
        self._last = (self.started, 0)
        self.out = out

    def rows(self, environment: Environment, msg: Any, **_: Any) -> None:
        data = msg.data
        if self.first_row_at is None and data["writes"]:
            self.first_row_at = self.started = time.monotonic()
        self._csv["writes"].writerows(data["writes"])
        self._csv["sightings"].writerows(data["sightings"])
        for row in data["writes"]:
            store = row[0]
            self.attempted[store] = self.attempted.get(store, 0) + 1
            if row[5] is not None:
                self.acknowledged[store] = self.acknowledged.get(store, 0) + 1
        self.seen += len(data["sightings"])

    def finished(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.done.append(msg.data)

    def progress(self) -> str:
        now = time.monotonic()
        acked = sum(self.acknowledged.values())
        attempted = sum(self.attempted.values())
        last_time, last_acked = self._last
        self._last = (now, acked)
        rate = (acked - last_acked) / (now - last_time) if now > last_time else 0.0
        per_store = " ".join(f"{s} {self.acknowledged.get(s, 0):,}"
                             for s in sorted(self.attempted))
        return (f"[load] {now - self.started:5.1f}/{self.duration_s:g} s  acknowledged "
                f"{acked:,} ({rate:,.0f}/s now)  errors {attempted - acked:,}  "
                f"seen in the other region {self.seen:,}  |  {per_store}")

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        (self.out / "processes.json").write_text(json.dumps(self.done, indent=2))


PROCESS: LoadProcess | None = None
COLLECTOR: Collector | None = None


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    global PROCESS, COLLECTOR
    runner = environment.runner
    options = environment.parsed_options
    if runner is None or options is None:
        return
    if not isinstance(runner, WorkerRunner):
        COLLECTOR = Collector(Path(options.drlib_out or "load-records"),
                              float(options.drlib_duration))
        runner.register_message(ROWS_MESSAGE, COLLECTOR.rows)
        runner.register_message(DONE_MESSAGE, COLLECTOR.finished)
    if not isinstance(runner, MasterRunner):
        PROCESS = LoadProcess(environment)
        gevent.spawn(PROCESS.prepare).link_exception(lambda _: _fail(environment))


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    if PROCESS is not None:
        gevent.spawn(PROCESS.start)
    if COLLECTOR is not None and not isinstance(environment.runner, WorkerRunner):
        COLLECTOR.started = time.monotonic()
        gevent.spawn(_progress, COLLECTOR)
        options: Any = environment.parsed_options
        gevent.spawn(_stop_after, environment, float(options.drlib_duration))


@events.test_stopping.add_listener
def _test_stopping(environment: Environment, **_: Any) -> None:
    if PROCESS is not None:
        PROCESS.finish_writes(float(environment.stop_timeout or FINISH_WRITES_S))


@events.test_stop.add_listener
def _test_stop(environment: Environment, **_: Any) -> None:
    if PROCESS is not None and not PROCESS.stopped:
        PROCESS.drain_and_flush()


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if COLLECTOR is not None:
        print(COLLECTOR.progress(), flush=True)
        COLLECTOR.close()


def _fail(environment: Environment) -> None:
    environment.process_exit_code = 1
    if environment.runner is not None:
        environment.runner.quit()


def _progress(collector: Collector) -> None:
    while True:
        gevent.sleep(1.0)
        print(collector.progress(), flush=True)


def _stop_after(environment: Environment, seconds: float) -> None:
    """Stop ``seconds`` after the first record arrived (the processes prepare their canaries
    first, which takes a few seconds), or after a start-up grace when none ever arrives."""
    assert COLLECTOR is not None
    began = time.monotonic()
    while COLLECTOR.first_row_at is None and time.monotonic() - began < STARTUP_GRACE_S:
        gevent.sleep(0.1)
    first = COLLECTOR.first_row_at or time.monotonic()
    # a flush every FLUSH_INTERVAL_S: the first write started up to that long before it arrived
    gevent.sleep(max(0.0, first - FLUSH_INTERVAL_S + seconds - time.monotonic()))
    runner = environment.runner
    assert runner is not None
    runner.stop()  # a master waits for every worker to drain and report stopped
    runner.quit()


class _Writer(User):
    abstract = True
    store = ""

    def wait_time(self) -> float:
        # constant throughput per user (Locust's own pacing); no wait when the rate is 0
        return self._pace(self) if self._pace is not None else 0.0

    def on_start(self) -> None:
        assert PROCESS is not None
        self.canary = PROCESS.canary_for(self.store)
        rate = PROCESS.rate_per_user
        self._pace = constant_throughput(rate) if rate > 0 else None

    def on_stop(self) -> None:
        close = getattr(self.canary, "close", None)
        if close is not None and self.store == "aurora":
            close()

    @task
    def write(self) -> None:
        assert PROCESS is not None
        PROCESS.write(self.store, self.canary)


class AuroraWriter(_Writer):
    """Canary rows into Aurora's writer (its own connection per user)."""

    store = "aurora"


class DynamoDbWriter(_Writer):
    """Canary items into the DynamoDB global table."""

    store = "dynamodb"


class S3Writer(_Writer):
    """Canary objects into the region's data bucket."""

    store = "s3"


USER_CLASSES = {"aurora": "AuroraWriter", "dynamodb": "DynamoDbWriter", "s3": "S3Writer"}

if __name__ == "__main__":  # pragma: no cover - run by Locust, not as a script
    sys.exit("run with: python -m locust -f drlib/locustfile.py (see drlib.load)")
