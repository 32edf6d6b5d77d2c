"""Tests for drlib.drill_lock: one drill per environment, expiring, released by its holder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.drill_lock import (
    DrillLock,
    DynamoDbLockBackend,
    FileLockBackend,
    LockBackend,
    LockHeartbeat,
    LockKeeper,
)
from drlib.errors import DrError
from drlib.waiting import wait_until

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
TABLE = "drlib-drill-locks"


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


def make_lock(backend: LockBackend, clock: Clock, run_id: str, env: str = "prod",
              ttl: float = 600) -> DrillLock:
    """A lock for ``run_id`` with fixed host and pid."""
    return DrillLock(backend, env, run_id=run_id, owner=f"owner-{run_id}", ttl_seconds=ttl,
                     clock=clock, host="host-a", pid=4242)


def file_backend(tmp_path: Path) -> FileLockBackend:
    """A file backend in a fresh directory."""
    return FileLockBackend(tmp_path / "locks")


@pytest.fixture
def dynamodb_backend(aws: AwsClients) -> DynamoDbLockBackend:
    """A DynamoDB backend on a table created through the API in the emulator."""
    client = aws.client("dynamodb", "us-east-1")
    client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    return DynamoDbLockBackend(client, TABLE)


BackendFactory = Callable[[], LockBackend]


@pytest.fixture(params=["file", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> LockBackend:
    """Each backend in turn (the DynamoDB one against the emulator)."""
    if request.param == "file":
        return file_backend(tmp_path)
    return request.getfixturevalue("dynamodb_backend")


def test_acquire_then_conflict_names_holder(backend: LockBackend) -> None:
    """A second drill is refused with the holder, since when and when it expires."""
    clock = Clock()
    first = make_lock(backend, clock, "run-1")
    first.acquire()
    clock.advance(10)
    with pytest.raises(DrError) as caught:
        make_lock(backend, clock, "run-2").acquire()
    message = str(caught.value)
    assert "run-1" in message
    assert "owner-run-1" in message
    assert "host-a" in message
    assert "2026-11-28T17:00:00.000+00:00" in message  # since
    assert "2026-11-28T17:10:00.000+00:00" in message  # expires
    assert caught.value.data["holder"]["run_id"] == "run-1"


@pytest.mark.parametrize(("elapsed", "taken_over"), [(599, False), (600, False), (601, True)])
def test_expired_lock_is_taken_over(backend: LockBackend, elapsed: float,
                                    taken_over: bool) -> None:
    """A lock past its expiry (not at it) is taken over by the next drill."""
    clock = Clock()
    make_lock(backend, clock, "crashed", ttl=600).acquire()
    clock.advance(elapsed)
    second = make_lock(backend, clock, "next")
    if taken_over:
        assert second.acquire().run_id == "next"
        assert backend.read("prod").run_id == "next"
    else:
        with pytest.raises(DrError, match="crashed"):
            second.acquire()


def test_release_only_by_holder(backend: LockBackend) -> None:
    """Another run cannot release the lock; the holder can, after which it is free."""
    clock = Clock()
    holder = make_lock(backend, clock, "run-1")
    holder.acquire()
    with pytest.raises(DrError, match="held by drill run-1"):
        make_lock(backend, clock, "run-2").release()
    holder.release()
    assert backend.read("prod") is None
    make_lock(backend, clock, "run-2").acquire()


def test_release_after_takeover_is_refused(backend: LockBackend) -> None:
    """A drill whose lock expired and was taken over cannot release the new holder's lock."""
    clock = Clock()
    slow = make_lock(backend, clock, "slow", ttl=60)
    slow.acquire()
    clock.advance(61)
    make_lock(backend, clock, "fast").acquire()
    with pytest.raises(DrError, match="fast"):
        slow.release()


def test_same_run_renews(backend: LockBackend) -> None:
    """The holding run can acquire again, which moves its expiry."""
    clock = Clock()
    lock = make_lock(backend, clock, "run-1", ttl=60)
    lock.acquire()
    clock.advance(30)
    renewed = lock.acquire()
    assert renewed.expires_at == T0 + timedelta(seconds=90)
    assert backend.read("prod").expires_at == renewed.expires_at


def test_environments_are_independent(backend: LockBackend) -> None:
    """Locks of different environments do not conflict."""
    clock = Clock()
    make_lock(backend, clock, "run-1", env="dev").acquire()
    make_lock(backend, clock, "run-2", env="prod").acquire()
    assert backend.read("dev").run_id == "run-1"
    assert backend.read("prod").run_id == "run-2"


def test_context_manager_releases_even_on_error(backend: LockBackend) -> None:
    """The lock is held inside the with block and released after it, also on error."""
    clock = Clock()
    lock = make_lock(backend, clock, "run-1")
    seen: list[str | None] = []

    def drill() -> None:
        with lock:
            holder = lock.holder()
            seen.append(None if holder is None else holder.run_id)
            raise RuntimeError("drill failed")

    with pytest.raises(RuntimeError, match="drill failed"):
        drill()
    assert seen == ["run-1"]
    assert backend.read("prod") is None
    assert lock.holder() is None


def test_release_of_absent_lock_is_quiet(backend: LockBackend) -> None:
    """Releasing a lock nobody holds does nothing."""
    make_lock(backend, Clock(), "run-1").release()
    assert backend.read("prod") is None


def test_file_lock_document(tmp_path: Path) -> None:
    """The file holds the JSON document with owner, run id, host, pid and times."""
    backend = file_backend(tmp_path)
    make_lock(backend, Clock(), "run-1").acquire()
    doc = json.loads((tmp_path / "locks" / "prod.lock").read_text())
    assert doc == {"environment": "prod", "owner": "owner-run-1", "run_id": "run-1",
                   "host": "host-a", "pid": 4242, "acquired_at": "2026-11-28T17:00:00.000+00:00",
                   "expires_at": "2026-11-28T17:10:00.000+00:00"}
    # no temporary file is left behind
    assert [p.name for p in (tmp_path / "locks").iterdir()] == ["prod.lock"]


def test_corrupt_lock_file_is_reported(tmp_path: Path) -> None:
    """An unreadable lock file is an error saying how to clear it."""
    backend = file_backend(tmp_path)
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "prod.lock").write_text("{not json")
    with pytest.raises(DrError, match="unreadable"):
        make_lock(backend, Clock(), "run-1").acquire()


def test_concurrent_acquires_have_one_winner(tmp_path: Path) -> None:
    """Of many drills acquiring at once, exactly one gets the lock."""
    backend = file_backend(tmp_path)
    clock = Clock()
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            make_lock(backend, clock, f"run-{i}").acquire()
            winners.append(f"run-{i}")
        except DrError:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert backend.read("prod").run_id == winners[0]


def test_lock_survives_a_crashed_process(tmp_path: Path) -> None:
    """A process that dies holding the lock leaves it in place until it expires."""
    directory = tmp_path / "locks"
    script = (
        "import os; from drlib.drill_lock import DrillLock, FileLockBackend\n"
        f"DrillLock(FileLockBackend({str(directory)!r}), 'prod', run_id='dead', owner='x',"
        " ttl_seconds=3600).acquire()\n"
        "os._exit(9)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == 9
    backend = FileLockBackend(directory)
    holder = backend.read("prod")
    assert holder is not None
    assert holder.run_id == "dead"
    with pytest.raises(DrError, match="dead"):
        DrillLock(backend, "prod", run_id="next", owner="y").acquire()
    later = Clock()
    later.now = holder.expires_at + timedelta(seconds=1)
    assert make_lock(backend, later, "next").acquire().run_id == "next"


def test_ttl_must_be_positive(tmp_path: Path) -> None:
    """A lock that expires immediately is refused."""
    with pytest.raises(ValueError, match="ttl"):
        DrillLock(file_backend(tmp_path), "prod", run_id="r", owner="o", ttl_seconds=0)


# --- renewal, heartbeat, joining -----------------------------------------------------------------

def test_renewal_moves_the_expiry(backend: LockBackend) -> None:
    """Renewing a held lock moves its expiry to now + ttl and keeps when it was acquired."""
    clock = Clock()
    lock = make_lock(backend, clock, "run-1", ttl=60)
    lock.acquire()
    clock.advance(45)
    renewed = lock.renew()
    assert renewed.expires_at == T0 + timedelta(seconds=105)
    assert renewed.acquired_at == T0
    assert backend.read("prod").expires_at == renewed.expires_at


def test_renewal_never_recreates_a_released_lock(backend: LockBackend) -> None:
    """A lock released by someone else is lost: renewing it raises and leaves no lock."""
    clock = Clock()
    lock = make_lock(backend, clock, "run-1", ttl=60)
    info = lock.acquire()
    backend.delete(info)
    with pytest.raises(DrError, match="lost the prod drill lock"):
        lock.renew()
    assert backend.read("prod") is None


def test_renewal_after_takeover_is_refused(backend: LockBackend) -> None:
    """A lock that expired and was taken over cannot be renewed by its old holder."""
    clock = Clock()
    slow = make_lock(backend, clock, "slow", ttl=60)
    slow.acquire()
    clock.advance(61)
    make_lock(backend, clock, "fast").acquire()
    with pytest.raises(DrError, match="fast"):
        slow.renew()
    assert backend.read("prod").run_id == "fast"


def test_heartbeat_keeps_a_short_lock_alive_then_it_expires(tmp_path: Path) -> None:
    """With a heartbeat a 0.6 s lock outlives many ttls; once the heartbeat stops it expires."""
    backend = file_backend(tmp_path)
    lock = DrillLock(backend, "prod", run_id="run-1", owner="o", ttl_seconds=0.6)
    lock.acquire()
    beat = LockHeartbeat(lock, interval_s=0.1).start()
    time.sleep(2.0)
    assert lock.holder() is not None
    assert beat.renewals >= 5
    beat.stop()
    time.sleep(0.8)
    assert lock.holder() is None  # expired: the next drill may take it
    assert beat.lost is None


def test_heartbeat_reports_a_lost_lock(tmp_path: Path) -> None:
    """A lock released behind the holder's back is reported lost, once, naming why."""
    backend = file_backend(tmp_path)
    lock = DrillLock(backend, "prod", run_id="run-1", owner="o", ttl_seconds=30)
    info = lock.acquire()
    lost: list[str] = []
    beat = LockHeartbeat(lock, interval_s=0.05, on_lost=lost.append).start()
    backend.delete(info)
    wait_until(lambda: lost, description="the loss to be reported", timeout=5)
    time.sleep(0.2)
    beat.stop()
    assert len(lost) == 1
    assert "lost" in lost[0]
    assert backend.read("prod") is None


def test_keeper_joins_the_runners_lock_and_leaves_it(backend: LockBackend) -> None:
    """A notebook of the run joins the runner's lock and does not release it; another run is
    refused."""
    clock = Clock()
    runner = make_lock(backend, clock, "run-1")
    runner.acquire()
    keeper = LockKeeper(make_lock(backend, clock, "run-1"))
    keeper.take()
    assert keeper.joined
    assert keeper.heartbeat is None
    keeper.check()
    keeper.release()
    assert backend.read("prod").run_id == "run-1"
    with pytest.raises(DrError, match="run-1"):
        LockKeeper(make_lock(backend, clock, "run-2")).take()


def test_keeper_acquires_alone_and_releases(tmp_path: Path) -> None:
    """Without a runner the keeper acquires with a heartbeat and releases at the end."""
    backend = file_backend(tmp_path)
    keeper = LockKeeper(DrillLock(backend, "prod", run_id="solo", owner="o", ttl_seconds=30))
    keeper.take()
    assert not keeper.joined
    assert keeper.heartbeat is not None
    assert backend.read("prod").run_id == "solo"
    keeper.release()
    assert backend.read("prod") is None


def test_keeper_check_fails_once_the_lock_is_gone(backend: LockBackend) -> None:
    """No step runs without the lock: the check before a step raises when it was taken away."""
    clock = Clock()
    runner = make_lock(backend, clock, "run-1", ttl=60)
    info = runner.acquire()
    keeper = LockKeeper(make_lock(backend, clock, "run-1", ttl=60))
    keeper.take()
    clock.advance(61)
    with pytest.raises(DrError, match="no longer holds"):
        keeper.check()
    backend.delete(info)
    with pytest.raises(DrError, match="no lock"):
        keeper.check()
