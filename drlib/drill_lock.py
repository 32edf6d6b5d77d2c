"""One drill at a time per environment: a lock that survives a crash and expires.

The lock is a small JSON document (owner, run id, host, pid, acquired_at, expires_at) kept by a
:class:`LockBackend`:

- :class:`FileLockBackend`: a file per environment in a directory (tests, single-host use);
- :class:`DynamoDbLockBackend`: an item per environment in a DynamoDB table, written with a
  conditional ``put_item`` so that two drills on different hosts cannot both win.

A lock whose ``expires_at`` has passed belongs to nobody: the next drill takes it over, so a
crashed drill blocks its environment only until its lock expires. Only the holder (same run id)
releases a lock. :class:`DrillLock` is the context manager drills use.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
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

    def try_acquire(self, info: LockInfo, now: datetime) -> LockInfo | None:
        """Conditional put of the lock item."""
        doc = info.to_json()
        item = {**self._key(info.environment),
                **{k: {"S": str(v)} for k, v in doc.items() if k != "pid"},
                "pid": {"N": str(info.pid)},
                "expires_epoch": {"N": str(Decimal(str(info.expires_at.timestamp())))}}
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
