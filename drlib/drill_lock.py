"""One drill at a time per environment: a lock that survives a crash and expires.

The lock is a small JSON document (owner, run id, host, pid, acquired_at, expires_at) kept by a
:class:`LockBackend`:

- :class:`FileLockBackend`: a file per environment in a directory (tests, single-host use);
- :class:`DynamoDbLockBackend`: an item per environment in a DynamoDB table, written with a
  conditional ``put_item`` so that two drills on different hosts cannot both win.

A lock whose ``expires_at`` has passed belongs to nobody: the next drill takes it over, so a
crashed drill blocks its environment only until its lock expires. Only the holder (same run id)
releases a lock. :class:`DrillLock` is the context manager drills use.

The holder keeps its lock alive with a :class:`LockHeartbeat` (a thread that renews it every
``ttl / 6``), so the time-to-live is short (:data:`HEARTBEAT_TTL_SECONDS`) and a dead holder's
lock expires shortly after its renewals stop, however long the drill. A renewal never re-creates
a lock that was released or taken over: the heartbeat reports it lost instead. A notebook whose
runner already holds the lock for the same run *joins* it (:class:`LockKeeper`): it checks the lock
is still its run's before each step and leaves renewal and release to the runner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from drlib.errors import DrError
from drlib.timeline import iso, to_utc, utc_now

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 2 * 3600.0
HEARTBEAT_TTL_SECONDS = 90.0
"""Time-to-live of a heartbeat-renewed lock: how long a crashed holder blocks its environment."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds an environment's drill lock, and until when."""

    environment: str
    owner: str
    run_id: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        """True once ``expires_at`` has passed (a lock expiring exactly now is still held)."""
        return now > self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The lock document."""
        return {**asdict(self), "acquired_at": iso(self.acquired_at),
                "expires_at": iso(self.expires_at)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LockInfo:
        """Parse a lock document."""
        return cls(environment=str(doc["environment"]), owner=str(doc["owner"]),
                   run_id=str(doc["run_id"]), host=str(doc["host"]), pid=int(doc["pid"]),
                   acquired_at=to_utc(doc["acquired_at"]), expires_at=to_utc(doc["expires_at"]))

    def describe(self) -> str:
        """Human-readable holder: run, owner, host and pid."""
        return f"drill {self.run_id} of {self.owner} on {self.host} (pid {self.pid})"


class LockBackend(Protocol):
    """Where lock documents live. Implementations make ``try_acquire`` atomic."""

    def try_acquire(self, info: LockInfo, now: datetime) -> LockInfo | None:
        """Store ``info`` unless a live lock of another run exists; return that holder, or None
        on success. An expired lock, or one of the same run id, is replaced."""
        ...

    def read(self, environment: str) -> LockInfo | None:
        """The current lock document of ``environment`` (expired or not), or None."""
        ...

    def delete(self, info: LockInfo) -> LockInfo | None:
        """Delete the lock if ``info.run_id`` holds it. Returns the other holder if another run
        holds it, None if deleted or already absent."""
        ...

    def renew(self, info: LockInfo) -> bool:
        """Replace the lock document with ``info`` only if ``info.run_id`` holds it now; False
        when the lock is absent or another run's (a renewal never re-creates a lock)."""
        ...


def lock_conflict(holder: LockInfo, wanted_by: str) -> DrError:
    """The error for a lock held by someone else."""
    return DrError(
        f"The {holder.environment} environment is locked by {holder.describe()} since "
        f"{iso(holder.acquired_at)}; the lock expires at {iso(holder.expires_at)}",
        expected=f"no other drill holding the {holder.environment} lock",
        found=f"{holder.describe()}, acquired {iso(holder.acquired_at)}, "
              f"expires {iso(holder.expires_at)}",
        fix=(f"wait for that drill to finish, or for its lock to expire at "
             f"{iso(holder.expires_at)} (a crashed drill's lock expires by itself); "
             f"{wanted_by} can retry then"),
        data={"holder": holder.to_json()},
    )


# --- local file ----------------------------------------------------------------------------------

class FileLockBackend:
    """Lock files ``<environment>.lock`` in ``directory``.

    The lock file is published with ``os.link`` from a fully written temporary file (itself
    created with ``O_CREAT | O_EXCL``): link creation is as exclusive as ``O_EXCL`` but a reader
    never sees a half-written document. Taking over an expired lock and releasing happen under
    an ``flock`` on a guard file, which the kernel drops if the process dies.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _path(self, environment: str) -> Path:
        return self.directory / f"{environment}.lock"

    @contextlib.contextmanager
    def _guard(self, environment: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / f".{environment}.guard", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _publish(self, info: LockInfo) -> bool:
        """Create the lock file with ``info``; False if it already exists."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{info.environment}.{uuid.uuid4().hex}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(info.to_json(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self._path(info.environment))
            except FileExistsError:
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def read(self, environment: str) -> LockInfo | None:
        """The lock document, or None when there is no lock file."""
        path = self._path(environment)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            return LockInfo.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise DrError(
                f"The drill lock file {path} is unreadable: {exc}",
                expected="a JSON lock document", found=repr(text[:200]),
                fix=f"check no drill is running on {environment}, then delete {path}",
            ) from exc

    def try_acquire(self, info: LockInfo, now: datetime) -> LockInfo | None:
        """Create the lock file, or take over an expired (or our own) lock."""
        if self._publish(info):
            return None
        with self._guard(info.environment):
            current = self.read(info.environment)
            if current is not None and not current.expired(now) and (
                    current.run_id != info.run_id):
                return current
            if current is not None:
                log.warning("taking over the %s lock of %s (expired %s)", info.environment,
                            current.describe(), iso(current.expires_at))
            self._path(info.environment).unlink(missing_ok=True)
            # A plain acquire may win the race between the unlink and this publish: it holds.
            if self._publish(info):
                return None
            return self.read(info.environment)

    def delete(self, info: LockInfo) -> LockInfo | None:
        """Remove the lock file if ``info.run_id`` holds it."""
        with self._guard(info.environment):
            current = self.read(info.environment)
            if current is None:
                return None
            if current.run_id != info.run_id:
                return current
            self._path(info.environment).unlink(missing_ok=True)
            return None

    def renew(self, info: LockInfo) -> bool:
        """Rewrite the lock file with ``info`` if ``info.run_id`` holds it."""
        with self._guard(info.environment):
            current = self.read(info.environment)
            if current is None or current.run_id != info.run_id:
                return False
            tmp = self.directory / f".{info.environment}.{uuid.uuid4().hex}.tmp"
            tmp.write_text(json.dumps(info.to_json(), indent=2))
            os.replace(tmp, self._path(info.environment))
            return True


# --- DynamoDB ------------------------------------------------------------------------------------

class DynamoDbLockBackend:
    """Lock items in a DynamoDB table with a string partition key ``pk``.

    ``client`` is a boto3 DynamoDB client (from :class:`drlib.aws.AwsClients`). The conditional
    put succeeds only when no item exists, the existing one has expired, or it is our own run.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    @staticmethod
    def _key(environment: str) -> dict[str, Any]:
        return {"pk": {"S": f"drill-lock#{environment}"}}

    def _item(self, info: LockInfo) -> dict[str, Any]:
        doc = info.to_json()
        return {**self._key(info.environment),
                **{k: {"S": str(v)} for k, v in doc.items() if k != "pid"},
                "pid": {"N": str(info.pid)},
                "expires_epoch": {"N": str(Decimal(str(info.expires_at.timestamp())))}}

    def renew(self, info: LockInfo) -> bool:
        """Conditional put: only while the item exists and is ``info.run_id``'s."""
        try:
            self.client.put_item(
                TableName=self.table_name, Item=self._item(info),
                ConditionExpression="run_id = :run_id",
                ExpressionAttributeValues={":run_id": {"S": info.run_id}})
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def try_acquire(self, info: LockInfo, now: datetime) -> LockInfo | None:
        """Conditional put of the lock item."""
        item = self._item(info)
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item,
                ConditionExpression=("attribute_not_exists(pk) OR expires_epoch < :now "
                                     "OR run_id = :run_id"),
                ExpressionAttributeValues={":now": {"N": str(Decimal(str(now.timestamp())))},
                                           ":run_id": {"S": info.run_id}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            holder = self.read(info.environment)
            if holder is None:  # released between our put and read: try once more
                return self.try_acquire(info, now)
            return holder
        return None

    def read(self, environment: str) -> LockInfo | None:
        """The lock item, read strongly consistent."""
        response = self.client.get_item(TableName=self.table_name, Key=self._key(environment),
                                        ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        return LockInfo.from_json({k: next(iter(v.values())) for k, v in item.items()})

    def delete(self, info: LockInfo) -> LockInfo | None:
        """Conditional delete: only the holding run id removes the item."""
        try:
            self.client.delete_item(
                TableName=self.table_name, Key=self._key(info.environment),
                ConditionExpression="attribute_not_exists(pk) OR run_id = :run_id",
                ExpressionAttributeValues={":run_id": {"S": info.run_id}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return self.read(info.environment)
        return None


# --- the lock -----------------------------------------------------------------------------------

class DrillLock:
    """The drill lock of one environment, for one run.

    ``with DrillLock(backend, "prod", run_id="...", owner="alice"):`` acquires on entry (raising
    :class:`DrError` naming the holder if another live drill has it) and releases on exit.
    """

    def __init__(self, backend: LockBackend, environment: str, *, run_id: str, owner: str,
                 ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 clock: Callable[[], datetime] = utc_now, host: str | None = None,
                 pid: int | None = None) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self.backend = backend
        self.environment = environment
        self.run_id = run_id
        self.owner = owner
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.info: LockInfo | None = None

    def acquire(self) -> LockInfo:
        """Take the lock (or renew our own); raise DrError naming the current holder."""
        now = to_utc(self._clock())
        info = LockInfo(self.environment, self.owner, self.run_id, self.host, self.pid,
                        acquired_at=now, expires_at=now + timedelta(seconds=self.ttl_seconds))
        holder = self.backend.try_acquire(info, now)
        if holder is not None:
            raise lock_conflict(holder, wanted_by=f"drill {self.run_id}")
        self.info = info
        log.info("acquired the %s drill lock for %s until %s", self.environment, self.run_id,
                 iso(info.expires_at))
        return info

    def renew(self) -> LockInfo:
        """Move our lock's expiry to now + ttl; raise DrError when it is no longer ours (released
        by hand, or expired and taken over)."""
        if self.info is None:
            raise DrError(f"Drill {self.run_id} holds no {self.environment} lock to renew",
                          expected="an acquired lock", found="none",
                          fix="acquire the lock before renewing it")
        now = to_utc(self._clock())
        info = dataclasses.replace(self.info, expires_at=now + timedelta(
            seconds=self.ttl_seconds))
        if not self.backend.renew(info):
            current = self.backend.read(self.environment)
            raise DrError(
                f"Drill {self.run_id} lost the {self.environment} drill lock",
                expected=f"the lock held by drill {self.run_id}",
                found=current.describe() if current else "no lock (released by someone else)",
                fix="stop acting on the environment; find out who released or took the lock "
                    "(drlib lock status)")
        self.info = info
        return info

    def join(self) -> LockInfo | None:
        """Use the lock our run already holds (the runner took it for this run id): the live
        lock document if it is ours, else None. A joined lock is neither renewed nor released
        by this process."""
        current = self.backend.read(self.environment)
        if current is None or current.run_id != self.run_id or current.expired(
                to_utc(self._clock())):
            return None
        self.info = current
        return current

    def check_held(self) -> None:
        """Raise DrError unless the environment's live lock is our run's."""
        current = self.backend.read(self.environment)
        if current is None or current.run_id != self.run_id or current.expired(
                to_utc(self._clock())):
            raise DrError(
                f"Drill {self.run_id} no longer holds the {self.environment} drill lock",
                expected=f"the lock held by drill {self.run_id}",
                found=(current.describe() + (" (expired)" if current.expired(
                    to_utc(self._clock())) else "")) if current else "no lock",
                fix="no step may run without the lock: the drill stops here; see "
                    "`drlib lock status`")

    def release(self) -> None:
        """Give the lock back; only the holder can. Raises DrError if another run holds it."""
        info = self.info or LockInfo(self.environment, self.owner, self.run_id, self.host,
                                     self.pid, acquired_at=to_utc(self._clock()),
                                     expires_at=to_utc(self._clock()))
        holder = self.backend.delete(info)
        if holder is not None:
            raise DrError(
                f"Cannot release the {self.environment} drill lock: it is held by "
                f"{holder.describe()}, not by drill {self.run_id}",
                expected=f"the lock held by drill {self.run_id}",
                found=f"{holder.describe()} since {iso(holder.acquired_at)}",
                fix="only the drill that holds the lock releases it; if ours expired during "
                    "the drill, raise ttl_seconds",
                data={"holder": holder.to_json()},
            )
        self.info = None
        log.info("released the %s drill lock of %s", self.environment, self.run_id)

    def holder(self) -> LockInfo | None:
        """The live holder of this environment's lock, if any (expired locks count as free)."""
        current = self.backend.read(self.environment)
        if current is None or current.expired(to_utc(self._clock())):
            return None
        return current

    def __enter__(self) -> LockInfo:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.release()
            return
        # The drill's own error matters more than a failed release: log that one, keep this one.
        try:
            self.release()
        except DrError as release_error:
            log.error("could not release the %s drill lock: %s", self.environment,
                      release_error.message)


# --- keeping the lock ---------------------------------------------------------------------------

class LockHeartbeat:
    """A daemon thread that renews a held lock every ``interval_s`` (default ttl / 6).

    When a renewal is refused (the lock was released or taken over), or renewals keep failing
    until the lock would have expired, the lock is *lost*: ``lost`` holds the reason and
    ``on_lost`` is called once (the runner interrupts the running step)."""

    def __init__(self, lock: DrillLock, *, interval_s: float | None = None,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.lock = lock
        self.interval_s = interval_s or lock.ttl_seconds / 6
        self.on_lost = on_lost
        self.lost: str | None = None
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"drill-lock-heartbeat-{lock.environment}")

    def start(self) -> LockHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.lock.renew()
                self.renewals += 1
                continue
            except DrError as exc:
                reason = exc.message + (f": {exc.found}" if exc.found else "")
            except Exception as exc:  # the lock store did not answer: retry until expiry
                info = self.lock.info
                if info is None or not info.expired(to_utc(self.lock._clock())):
                    log.warning("could not renew the %s drill lock (will retry): %s",
                                self.lock.environment, exc)
                    continue
                reason = f"the lock expired while it could not be renewed ({exc})"
            self.lost = reason
            log.error("drill lock lost: %s", reason)
            if self.on_lost is not None:
                self.on_lost(reason)
            return


class LockKeeper:
    """How a drill or failback holds its environment's lock: join the run's lock when the runner
    holds it, else acquire it and keep it alive with a heartbeat; check it before each step;
    release on every path (only what it acquired itself)."""

    def __init__(self, lock: DrillLock) -> None:
        self.lock = lock
        self.joined = False
        self.heartbeat: LockHeartbeat | None = None

    def take(self) -> LockInfo:
        """Join or acquire; raises DrError naming the holder when another run holds it."""
        joined = self.lock.join()
        if joined is not None:
            self.joined = True
            return joined
        info = self.lock.acquire()
        self.heartbeat = LockHeartbeat(self.lock).start()
        return info

    def check(self) -> None:
        """Raise DrError unless the lock is still this run's (before every step)."""
        if self.lock.info is None:
            return
        if self.heartbeat is not None and self.heartbeat.lost:
            raise DrError(f"Drill {self.lock.run_id} lost the {self.lock.environment} lock",
                          found=self.heartbeat.lost, fix="see `drlib lock status`")
        self.lock.check_held()

    def release(self) -> None:
        """Stop renewing and release what we acquired; never raises (logs instead)."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.joined or self.lock.info is None:
            return
        try:
            self.lock.release()
        except Exception as exc:
            log.error("could not release the %s drill lock: %s", self.lock.environment, exc)
