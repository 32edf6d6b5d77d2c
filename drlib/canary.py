"""Canary traffic: sequence-numbered writes to every data store, and readers in the other region.

Writers put one record per interval into Aurora (SQL), DynamoDB and S3 in the region the
application's DNS name points at for a client *now* (:class:`DnsActiveRegion`: a caching
resolver that honours TTL), so after a failover they follow the application to the new primary.
Readers watch the other region for the records and note when each first appears. The resulting
:class:`~drlib.measure.CanaryRecord` lists are what RTO, RPO and replication lag are computed from
(:mod:`drlib.measure`).

Every store client speaks the public APIs only (PostgreSQL wire protocol, boto3), so the same
canaries measure the emulator and AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from drlib.errors import WaitTimeout
from drlib.measure import CanaryRecord
from drlib.timeline import utc_now
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

CANARY_PREFIX = "drlib-canary"
CANARY_DATABASE = "drlib_canary"


class StoreCanary(Protocol):
    """Writes and finds canary records in one kind of store, in any region."""

    store: str

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        """Write record ``seq``; return once the store acknowledges it (raise otherwise)."""

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        """Sequence numbers greater than ``after_seq`` that are visible in ``region``."""


class NoRoute(RuntimeError):
    """The application's name gave no answer the canary can write to (counted as rejected)."""


# --- Aurora ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PgEndpoint:
    """Where and how to connect to one regional cluster (writer or reader endpoint)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str


class AuroraCanary:
    """Canary records in a table ``drlib_canary`` of the workload's database."""

    store = "aurora"

    def __init__(self, writer_endpoint: Callable[[str], PgEndpoint],
                 reader_endpoint: Callable[[str], PgEndpoint],
                 connect_timeout_s: int = 2, statement_timeout_ms: int = 2000,
                 regions: Sequence[str] = ()) -> None:
        self._writer = writer_endpoint
        self._regions_to_warm = list(regions)
        self._reader = reader_endpoint
        self._timeout = connect_timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self._connections: dict[tuple[str, str], Any] = {}
        self._endpoints: dict[tuple[str, str], PgEndpoint] = {}
        # One lock per (role, region): the writer never waits while the reader looks up an
        # endpoint or connects (and the other way round).
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _connect(self, ep: PgEndpoint, dbname: str) -> Any:
        import psycopg

        # Connect, statement and socket (TCP user) timeouts: a canary write never hangs on a
        # region that stopped answering; it fails with a timeout class and is counted as such.
        return psycopg.connect(host=ep.host, port=ep.port, user=ep.user, password=ep.password,
                               dbname=dbname, connect_timeout=self._timeout, autocommit=True,
                               options=f"-c statement_timeout={self._statement_timeout_ms}",
                               tcp_user_timeout=self._statement_timeout_ms + 1000,
                               keepalives=1, keepalives_idle=1, keepalives_interval=1,
                               keepalives_count=2)

    def endpoint(self, role: str, region: str) -> PgEndpoint:
        """The cluster endpoint of ``role`` in ``region``, looked up once: cluster endpoints are
        stable names (a failover changes what they point at, not the name), so a reconnect on
        the write path never waits on the RDS API."""
        key = (role, region)
        known = self._endpoints.get(key)
        if known is None:
            known = (self._writer if role == "writer" else self._reader)(region)
            self._endpoints[key] = known
        return known

    def _connection(self, role: str, region: str) -> Any:
        key = (role, region)
        with self._lock_for(key):
            conn = self._connections.get(key)
            if conn is not None and not conn.closed:
                return conn
            conn = self._connect(self.endpoint(role, region), CANARY_DATABASE)
            self._connections[key] = conn
            return conn

    def _drop(self, role: str, region: str) -> None:
        with self._lock_for((role, region)):
            conn = self._connections.pop((role, region), None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken connection may fail again; it is gone anyway
                log.debug("closing a broken %s connection in %s failed", role, region)

    def prepare(self, region: str) -> None:
        """Create the canary database and table on the writer of ``region``.

        A database of its own: the master user owns it (it has CREATEDB on RDS), so the table
        can be created whatever the privileges on the application's schemas. Physical
        replication carries both to the secondary.
        """
        ep = self._writer(region)
        with self._connect(ep, ep.dbname) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                   (CANARY_DATABASE,)).fetchone()
            if not exists:
                admin.execute(f"CREATE DATABASE {CANARY_DATABASE}")
        for other in self._regions_to_warm:
            for role in ("writer", "reader"):
                try:  # endpoint discovery off the write path: look every endpoint up now
                    self.endpoint(role, other)
                except Exception as exc:  # looked up again on first use
                    log.debug("canary endpoint %s in %s: %s", role, other, exc)
        self._execute("writer", region,
                      "CREATE TABLE IF NOT EXISTS drlib_canary (run_id text NOT NULL, "
                      "seq integer NOT NULL, written_at timestamptz NOT NULL, "
                      "region text NOT NULL, PRIMARY KEY (run_id, seq))", ())

    def _execute(self, role: str, region: str, sql: str, args: Sequence[Any]) -> list[Any]:
        try:
            cur = self._connection(role, region).execute(sql, args)
            return cur.fetchall() if cur.description else []
        except Exception:
            self._drop(role, region)
            raise

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        self._execute("writer", region,
                      "INSERT INTO drlib_canary (run_id, seq, written_at, region) "
                      "VALUES (%s, %s, %s, %s)", (run_id, seq, at, region))

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        rows = self._execute("reader", region,
                             "SELECT seq FROM drlib_canary WHERE run_id = %s AND seq > %s "
                             "ORDER BY seq", (run_id, after_seq))
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        """Close every connection."""
        for role, region in list(self._connections):
            self._drop(role, region)


# --- DynamoDB ----------------------------------------------------------------------------------

class DynamoDbCanary:
    """Canary items in the global table, under partition key ``drlib-canary#<run>``."""

    store = "dynamodb"

    def __init__(self, client_for: Callable[[str], Any], table_for: Callable[[str], str],
                 partition_key: str, sort_key: str | None,
                 key_types: Mapping[str, str] | None = None) -> None:
        self._client = client_for
        self._table = table_for
        self._pk = partition_key
        self._sk = sort_key
        self._types = dict(key_types or {})

    def _key(self, run_id: str, seq: int) -> dict[str, Any]:
        if self._sk is None:
            return {self._pk: {"S": f"{CANARY_PREFIX}#{run_id}#{seq:08d}"}}
        sort_type = self._types.get(self._sk, "S")
        sort_value = str(seq) if sort_type == "N" else f"{seq:08d}"
        return {self._pk: {"S": f"{CANARY_PREFIX}#{run_id}"}, self._sk: {sort_type: sort_value}}

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        item = {**self._key(run_id, seq), "written_at": {"S": at.isoformat()},
                "region": {"S": region}, "seq": {"N": str(seq)}}
        self._client(region).put_item(TableName=self._table(region), Item=item)

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        client, table = self._client(region), self._table(region)
        if self._sk is None:
            # Without a sort key there is no range to query: read the keys we still expect.
            raise NotImplementedError("the canary table needs a sort key")
        sort_type = self._types.get(self._sk, "S")
        floor = str(after_seq) if sort_type == "N" else f"{after_seq:08d}"
        seqs: list[int] = []
        kwargs: dict[str, Any] = {
            "TableName": table, "ConsistentRead": False,
            "KeyConditionExpression": "#pk = :pk AND #sk > :floor",
            "ExpressionAttributeNames": {"#pk": self._pk, "#sk": self._sk},
            "ExpressionAttributeValues": {":pk": {"S": f"{CANARY_PREFIX}#{run_id}"},
                                          ":floor": {sort_type: floor}},
            "ProjectionExpression": "#sk",
        }
        while True:
            page = client.query(**kwargs)
            seqs.extend(int(item[self._sk][sort_type]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(seqs)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- S3 ----------------------------------------------------------------------------------------

class S3Canary:
    """Canary objects ``drlib-canary/<run>/<seq>`` in the region's data bucket."""

    store = "s3"

    def __init__(self, client_for: Callable[[str], Any], bucket_for: Callable[[str], str]) -> None:
        self._client = client_for
        self._bucket = bucket_for

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        body = f'{{"seq": {seq}, "written_at": "{at.isoformat()}", "region": "{region}"}}'
        self._client(region).put_object(Bucket=self._bucket(region),
                                        Key=f"{CANARY_PREFIX}/{run_id}/{seq:08d}",
                                        Body=body.encode(), ContentType="application/json")

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        prefix = f"{CANARY_PREFIX}/{run_id}/"
        kwargs = {"Bucket": self._bucket(region), "Prefix": prefix,
                  "StartAfter": f"{prefix}{after_seq:08d}"}
        seqs: list[int] = []
        while True:
            page = self._client(region).list_objects_v2(**kwargs)
            seqs.extend(int(o["Key"].rsplit("/", 1)[1]) for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return seqs
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


# --- where the application points --------------------------------------------------------------

class DnsActiveRegion:
    """The region the application's DNS name points at, as a client resolves it.

    Resolves through a caching resolver that honours TTL (dnspython): a client holding the old
    answer keeps writing where it pointed until the TTL runs out, exactly what the canaries must
    measure. The resolver is ``nameserver`` (``HOST:PORT``, e.g. the emulator's DNS server as
    exported in ``DRLIB_DNS_SERVER``) or the system's. Each endpoint is an address or a name
    (a load balancer's DNS name), resolved through the same cache at each look-up, so rotating
    load balancer addresses are followed without a table built at start.
    """

    def __init__(self, record_name: str, endpoint_regions: Mapping[str, str],
                 nameserver: str | None = None, timeout_s: float = 1.0) -> None:
        import dns.resolver

        if nameserver:
            host, _, port = nameserver.rpartition(":")
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [host or nameserver]
            resolver.port = int(port) if host else 53
        else:
            resolver = dns.resolver.Resolver()
        resolver.cache = dns.resolver.Cache()  # entries live for the answer's TTL
        resolver.lifetime = timeout_s
        resolver.timeout = timeout_s
        self._resolver = resolver
        self._name = record_name.rstrip(".") + "."
        self._endpoints = dict(endpoint_regions)
        self.nameserver = nameserver or "system resolver"

    def addresses(self, name: str) -> set[str]:
        """The A records of ``name`` (from the cache while its TTL lasts)."""
        answer = self._resolver.resolve(name.rstrip(".") + ".", "A")
        return {str(r) for r in answer}

    def resolve(self) -> str | None:
        """The region the name points at; None when the answer matches no endpoint. Resolver
        errors (NXDOMAIN, timeouts) propagate: a client that cannot resolve cannot write."""
        app = self.addresses(self._name)
        for endpoint, region in self._endpoints.items():
            if endpoint in app or (not _is_address(endpoint) and app & self.addresses(endpoint)):
                return region
        return None

    def region_or_none(self) -> str | None:
        """:meth:`resolve`, with resolver errors as None (for waiting on a change)."""
        try:
            return self.resolve()
        except Exception as exc:
            log.debug("resolving %s: %s", self._name, exc)
            return None


def _is_address(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


#: psycopg raises a bare OperationalError (no SQLSTATE) when it cannot connect; the message says
#: why. These name the cause so the counts separate a refused connection, a server going down and
#: a timeout (which counts as timed out, not rejected).
_CONNECT_FAILURES: tuple[tuple[str, str], ...] = (
    ("timeout expired", "ConnectionTimeout"),
    ("connection refused", "ConnectionRefused"),
    ("the database system is shutting down", "CannotConnectNow"),
    ("the database system is starting up", "CannotConnectNow"),
    ("server closed the connection unexpectedly", "ServerClosedConnection"),
)


def error_label(exc: BaseException) -> str:
    """The error class recorded for a failed write: the exception's class, or for a bare
    connection failure the cause its message names."""
    name = type(exc).__name__
    if name == "OperationalError":
        text = str(exc).lower()
        for needle, label in _CONNECT_FAILURES:
            if needle in text:
                return label
    return name


# --- the fleet ---------------------------------------------------------------------------------

@dataclass
class StoreRun:
    """The records of one store during one canary run, and its threads."""

    canary: StoreCanary
    records: dict[int, CanaryRecord] = field(default_factory=dict)
    next_seq: int = 1
    seen: dict[str, int] = field(default_factory=dict)  # region -> highest seq seen there
    awaiting: dict[str, set[int]] = field(default_factory=dict)
    """region -> acknowledged records not seen there yet: what a reader looks for, without
    scanning every record of a long run"""
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CanaryFleet:
    """Writers and readers for every store, running in background threads until stopped."""

    def __init__(self, run_id: str, canaries: Sequence[StoreCanary], regions: Sequence[str],
                 active_region: Callable[[], str | None], interval_s: float = 0.2,
                 read_interval_s: float | None = None,
                 read_intervals: Mapping[str, float] | None = None) -> None:
        self.run_id = run_id
        self.regions = list(regions)
        self._active = active_region
        self._interval = interval_s
        self._read_interval = read_interval_s or max(interval_s / 2, 0.02)
        #: per store, a faster reader where reads are cheap (the lag's resolution is the read
        #: interval plus the read's own duration)
        self._read_intervals = dict(read_intervals or {})
        self.stores = {c.store: StoreRun(c) for c in canaries}
        # when the last read of each (store, region) started: a record first seen now became
        # visible after that, which bounds the resolution of its visibility time
        self._last_read: dict[tuple[str, str], datetime] = {}
        self._stop = threading.Event()
        self._writing = threading.Event()
        self._writing.set()
        self._threads: list[threading.Thread] = []

    # writers ---------------------------------------------------------------------------------
    def write_once(self, store: str) -> CanaryRecord:
        """One canary write to ``store`` in the active region (a failed write is recorded too)."""
        run = self.stores[store]
        with run.lock:
            seq = run.next_seq
            run.next_seq += 1
        region = None
        started = utc_now()
        try:
            region = self._active()
            if region is None:
                raise NoRoute("the application name answers with no known region")
            run.canary.write(region, self.run_id, seq, started)
            record = CanaryRecord(store=store, seq=seq, region_written=region,
                                  written_at=started, acked_at=utc_now())
            record.mark_visible(region, record.acked_at)  # type: ignore[arg-type]
        except Exception as exc:
            record = CanaryRecord(store=store, seq=seq, region_written=region or "unknown",
                                  written_at=started, error=f"{error_label(exc)}: {exc}"[:300])
            with run.lock:
                run.errors += 1
        with run.lock:
            run.records[seq] = record
            if record.acked_at is not None:
                for other in self.regions:
                    if other not in record.visible_at:
                        run.awaiting.setdefault(other, set()).add(seq)
        return record

    def _writer(self, store: str) -> None:
        while not self._stop.is_set():
            if self._writing.is_set():
                self.write_once(store)
            self._stop.wait(self._interval)

    def hold_writes(self) -> None:
        """Stop starting new writes (readers go on) until :meth:`resume_writes`."""
        self._writing.clear()

    def resume_writes(self) -> None:
        """Start writing again after :meth:`hold_writes`."""
        self._writing.set()

    # readers ---------------------------------------------------------------------------------
    def read_once(self, store: str) -> int:
        """Look for new records of ``store`` in every region; returns how many were new."""
        run = self.stores[store]
        found = 0
        for region in self.regions:
            # Replication does not keep order across records: look from the oldest record
            # still awaited in this region, not from the newest one seen.
            with run.lock:
                waiting = run.awaiting.get(region)
                floor = min(waiting) - 1 if waiting else run.seen.get(region, 0)
            started = utc_now()
            try:
                seqs = run.canary.present(region, self.run_id, floor)
            except Exception as exc:  # a region that is down is simply not seen
                log.debug("canary reader %s in %s: %s", store, region, exc)
                continue
            now = utc_now()
            previous = self._last_read.get((store, region))
            self._last_read[(store, region)] = started
            with run.lock:
                for seq in seqs:
                    record = run.records.get(seq)
                    if record is not None and region not in record.visible_at:
                        # visible after the last read that could not yet see it (or the ack)
                        after = max(t for t in (previous, record.acked_at, record.written_at)
                                    if t is not None)
                        record.mark_visible(region, now, (now - after).total_seconds())
                        run.awaiting.get(region, set()).discard(seq)
                        found += 1
                if seqs:
                    run.seen[region] = max(run.seen.get(region, 0), max(seqs))
        return found

    def _reader(self, store: str) -> None:
        interval = self._read_intervals.get(store, self._read_interval)
        while not self._stop.is_set():
            self.read_once(store)
            self._stop.wait(interval)

    # control ---------------------------------------------------------------------------------
    def start(self) -> CanaryFleet:
        """Start a writer and a reader thread per store."""
        self._stop.clear()
        for store in self.stores:
            for role, target in (("writer", self._writer), ("reader", self._reader)):
                thread = threading.Thread(target=target, args=(store,), daemon=True,
                                          name=f"canary-{role}-{store}")
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop the writers, let readers look ``drain_s`` longer, then stop everything."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if drain_s > 0:

            def drained() -> bool:
                for store in self.stores:
                    self.read_once(store)
                return not self.missing_anywhere()

            try:
                wait_until(drained, description="canary records to reach every region",
                           timeout=drain_s, interval=self._read_interval, backoff=1.0)
            except WaitTimeout:
                log.info("canary drain ended with records still missing in some region")

    def missing_anywhere(self) -> bool:
        """Whether some acknowledged record has not been seen in every region yet."""
        return any(waiting for run in self.stores.values() for waiting in run.awaiting.values())

    def records(self) -> list[CanaryRecord]:
        """Every record of every store, in store and sequence order."""
        out: list[CanaryRecord] = []
        for run in self.stores.values():
            with run.lock:
                out.extend(run.records[s] for s in sorted(run.records))
        return out

    def present_in(self, region: str) -> dict[str, set[int]]:
        """Reconcile: every sequence number of this run found in ``region``, per store."""
        return {store: set(run.canary.present(region, self.run_id, 0))
                for store, run in self.stores.items()}
