"""Canary writers and readers, on an in-memory two-region store whose replication tests drive."""

from __future__ import annotations

import threading
from datetime import datetime

from drlib.canary import CanaryFleet
from drlib.measure import measure_rpo

EAST, WEST = "us-east-1", "us-west-2"


class TwoRegionStore:
    """A store with a record set per region; `replicate()` copies what is pending."""

    store = "dynamodb"

    def __init__(self) -> None:
        self.data: dict[str, set[int]] = {EAST: set(), WEST: set()}
        self.pending: list[tuple[str, int]] = []
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def write(self, region: str, run_id: str, seq: int, at: datetime) -> None:
        if region in self.down:
            raise ConnectionError(f"{region} is down")
        with self.lock:
            self.data[region].add(seq)
            self.pending.append((region, seq))

    def present(self, region: str, run_id: str, after_seq: int) -> list[int]:
        if region in self.down:
            raise ConnectionError(f"{region} is down")
        with self.lock:
            return sorted(s for s in self.data[region] if s > after_seq)

    def replicate(self) -> None:
        with self.lock:
            for region, seq in self.pending:
                if region not in self.down:
                    self.data[WEST if region == EAST else EAST].add(seq)
            self.pending = [(r, s) for r, s in self.pending if r in self.down]


def fleet_for(store: TwoRegionStore, active: list[str]) -> CanaryFleet:
    return CanaryFleet("run-1", [store], [EAST, WEST], lambda: active[0], interval_s=0.01)


def test_writes_follow_the_active_region_and_readers_see_replicas() -> None:
    """Each write goes to the active region; a replicated record is seen in the other region."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    first = fleet.write_once("dynamodb")
    active[0] = WEST
    second = fleet.write_once("dynamodb")
    store.replicate()
    fleet.read_once("dynamodb")
    assert (first.region_written, second.region_written) == (EAST, WEST)
    assert set(first.visible_at) == {EAST, WEST}
    assert set(second.visible_at) == {EAST, WEST}
    assert first.lag_seconds() is not None


def test_failed_writes_are_recorded_without_acknowledgement() -> None:
    """A write to a region that is down is kept as a record with an error and no ack."""
    store, active = TwoRegionStore(), [EAST]
    store.down.add(EAST)
    record = fleet_for(store, active).write_once("dynamodb")
    assert record.acked_at is None
    assert "is down" in (record.error or "")


def test_unreplicated_writes_are_the_rpo() -> None:
    """Writes acknowledged in the primary but never replicated are exactly the RPO."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    for _ in range(3):
        fleet.write_once("dynamodb")
    store.replicate()
    for _ in range(2):  # acknowledged, then the region is lost before replication
        fleet.write_once("dynamodb")
    store.down.add(EAST)
    cutover = datetime.now().astimezone()
    active[0] = WEST
    fleet.write_once("dynamodb")
    rpo = measure_rpo(fleet.records(), WEST, cutover, present_after=fleet.present_in(WEST))
    assert rpo["dynamodb"].lost_records == 2
    assert list(rpo["dynamodb"].lost_seqs) == [4, 5]


def test_threads_run_and_stop_with_a_drain() -> None:
    """Started threads write until stopped; the drain lets readers catch up with replicas."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active).start()
    replicator_stop = threading.Event()

    def replicate() -> None:
        while not replicator_stop.wait(0.005):
            store.replicate()

    replicator = threading.Thread(target=replicate, daemon=True)
    replicator.start()
    threading.Event().wait(0.2)
    fleet.stop(drain_s=2.0)
    replicator_stop.set()
    replicator.join()
    records = fleet.records()
    assert len(records) >= 5
    assert not fleet.missing_anywhere()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


def test_no_known_region_is_a_failed_write() -> None:
    """When the application name answers with no known region the write fails, recorded."""
    fleet = CanaryFleet("run-1", [TwoRegionStore()], [EAST, WEST], lambda: None)
    record = fleet.write_once("dynamodb")
    assert record.acked_at is None
    assert "no known region" in (record.error or "")


def test_records_arriving_out_of_order_are_all_seen() -> None:
    """A record replicated after a later one is still seen (replication keeps no order)."""
    store, active = TwoRegionStore(), [EAST]
    fleet = fleet_for(store, active)
    first, second = fleet.write_once("dynamodb"), fleet.write_once("dynamodb")
    store.data[WEST].add(second.seq)  # the later record arrives first
    fleet.read_once("dynamodb")
    store.data[WEST].add(first.seq)
    fleet.read_once("dynamodb")
    assert WEST in first.visible_at
    assert WEST in second.visible_at


# --- resolving like a client ---------------------------------------------------------------------

def test_clients_holding_the_old_answer_keep_failing_until_the_ttl_expires(aws, emulator) -> None:
    """Through the emulator's DNS and a TTL-honouring cache, canaries keep writing to the old
    region after Route 53 has moved the answer, until the TTL runs out: the measured outage
    includes the TTL (30 s scaled by 0.1 here; detection 10 s x 1, scaled)."""
    import time

    from drlib.canary import DnsActiveRegion
    from drlib.emulator import faults
    from drlib.emulator.extensions.route53_health import set_health_check_time_scale
    from drlib.timeline import utc_now
    from drlib.write_outcomes import measure_write_outage

    r53 = aws.client("route53", EAST)
    zone = r53.create_hosted_zone(Name="ttl.example.com", CallerReference="ttl")["HostedZone"]["Id"]
    check = r53.create_health_check(CallerReference="ttl-check", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "app.us-east-1.example.net", "Port": 443,
        "RequestInterval": 10, "FailureThreshold": 1})["HealthCheck"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "app.ttl.example.com", "Type": "A", "TTL": 30, "SetIdentifier": role,
            "Failover": role, "ResourceRecords": [{"Value": value}],
            **({"HealthCheckId": check} if role == "PRIMARY" else {})}}
        for role, value in (("PRIMARY", "192.0.2.10"), ("SECONDARY", "198.51.100.10"))]})
    set_health_check_time_scale(0.1)
    try:
        active = DnsActiveRegion("app.ttl.example.com", {"192.0.2.10": EAST,
                                                         "198.51.100.10": WEST},
                                 nameserver=emulator.dns_address)
        store = TwoRegionStore()
        fleet = CanaryFleet("run-ttl", [store], [EAST, WEST], active.resolve, interval_s=0.05)
        assert fleet.write_once("dynamodb").region_written == EAST  # the answer is now cached
        cached_at = time.monotonic()
        failed_at = utc_now()
        faults.fail_health_check(check)
        store.down.add(EAST)  # the old region stops taking writes
        route53_moved = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = r53.test_dns_answer(HostedZoneId=zone, RecordName="app.ttl.example.com",
                                         RecordType="A")["RecordData"]
            if route53_moved is None and answer == ["198.51.100.10"]:
                route53_moved = time.monotonic()
            if fleet.write_once("dynamodb").acked_at is not None:
                break
            time.sleep(0.05)
        client_moved = time.monotonic()
    finally:
        faults.restore_health_check(check)
        set_health_check_time_scale(1.0)
    assert route53_moved is not None
    # Route 53 moved within the detection window, the client only once the 3 s TTL expired
    assert route53_moved - cached_at < 2.5
    assert client_moved - cached_at >= 2.9
    outage = measure_write_outage(fleet.records(), "dynamodb", failed_at, WEST)
    assert outage.seconds is not None
    assert outage.seconds >= 2.9
    assert outage.failed_attempts > 0


class _FakeConnection:
    """A psycopg-like autocommit connection that accepts every statement."""

    closed = False

    def execute(self, sql: str, args: object = ()) -> _FakeConnection:
        self.description = None
        return self

    def fetchall(self) -> list[object]:
        return []

    def close(self) -> None:
        self.closed = True


def test_aurora_writer_never_waits_on_the_reader_and_looks_endpoints_up_once(
        monkeypatch) -> None:
    """While the reader is stuck looking up its endpoint, the writer still writes; endpoints
    are looked up once, so a reconnect does not call the RDS API on the write path."""
    import time

    from drlib.canary import AuroraCanary, PgEndpoint

    lookups: list[tuple[str, str]] = []
    reader_stuck, release = threading.Event(), threading.Event()

    def writer_endpoint(region: str) -> PgEndpoint:
        lookups.append(("writer", region))
        return PgEndpoint("127.0.0.1", 5432, "u", "p", "db")

    def reader_endpoint(region: str) -> PgEndpoint:
        reader_stuck.set()
        release.wait(10)
        return PgEndpoint("127.0.0.1", 5433, "u", "p", "db")

    canary = AuroraCanary(writer_endpoint, reader_endpoint)
    monkeypatch.setattr(canary, "_connect", lambda ep, dbname: _FakeConnection())
    reader = threading.Thread(target=canary.present, args=(EAST, "run", 0), daemon=True)
    reader.start()
    assert reader_stuck.wait(5)
    started = time.monotonic()
    canary.write(EAST, "run", 1, datetime.now())
    assert time.monotonic() - started < 1.0  # not blocked behind the reader's lookup
    canary._drop("writer", EAST)  # a broken connection: the next write reconnects
    canary.write(EAST, "run", 2, datetime.now())
    assert lookups == [("writer", EAST)]
    release.set()
    reader.join(5)


def test_bare_connection_failures_are_labelled_by_cause() -> None:
    """A bare OperationalError is labelled by the cause its message names (a timeout counts as
    timed out); other exceptions keep their class name."""
    import psycopg

    from drlib.canary import error_label
    from drlib.measure import CanaryRecord
    from drlib.write_outcomes import outcome

    cases = {
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
        'refused': "ConnectionRefused",
        "connection failed: FATAL:  the database system is shutting down": "CannotConnectNow",
        "connection timeout expired": "ConnectionTimeout",
        "something else": "OperationalError",
    }
    for message, label in cases.items():
        assert error_label(psycopg.OperationalError(message)) == label
    assert error_label(ConnectionError("us-east-1 is down")) == "ConnectionError"
    timed_out = CanaryRecord("aurora", 1, EAST, datetime.now(),
                             error=f"{error_label(psycopg.OperationalError('timeout expired'))}: x")
    assert outcome(timed_out) == "timed_out"
