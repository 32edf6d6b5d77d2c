"""The runner's guardrails: the environment's lock for the whole chain, and interrupts.

:class:`RunLock` takes the environment's drill lock for the run before any notebook that writes
(when the workload is not deployed yet there is nothing to lock: it is taken right after
``00_deploy``), renews it with a heartbeat while the runner lives, and releases it on every path.
The notebooks of the run *join* that lock (same run id); a drill started while another run holds
it is refused before anything runs.

:class:`Interrupts` turns Ctrl-C and SIGTERM into the abort path. papermill's kernel runs in its
own session, so a terminal's Ctrl-C never reaches it: the first signal is forwarded to the running
kernel as SIGINT (the cell raises KeyboardInterrupt and the drill's own abort runs), the chain
stops after that notebook, and the runner then settles the system itself
(:func:`drlib.abort.settle_after_interrupt`). A second signal, or a kernel that does not finish
its abort within :data:`ABORT_GRACE_S`, stops the notebook at once (its kernel is killed); the
runner's settling still runs, then the seal.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from drlib.errors import DrError
from drlib.processes import children, cmdline

log = logging.getLogger(__name__)

ABORT_GRACE_S = 900.0
"""How long an interrupted notebook may take to run its abort path before it is killed."""
STOP_FILE = "stop-requested.json"
"""Written into the run folder when the runner asks its notebooks to stop: a drill or failback
checks it before every step, so a kernel that was starting, or between cells, when the interrupt
came still stops before its next step (the SIGINT only reaches a cell that is running)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped at once (a second signal, or the abort grace ran out).

    A :class:`KeyboardInterrupt`: raised by the signal handler wherever the main thread is, it
    may land inside one of nbclient's asyncio tasks, and asyncio lets only KeyboardInterrupt
    and SystemExit out of a task (any other exception would be kept in the task while the loop
    went on waiting for the kernel's reply)."""


def kernel_pids() -> list[int]:
    """The notebook kernels this process started: the running notebook's, the next one's
    (started ahead, idle: a forwarded SIGINT is ignored there, or ends its preloading) and any
    still stopping."""
    return [pid for pid in children() if any("ipykernel" in arg for arg in cmdline(pid))]


class Interrupts:
    """Ctrl-C and SIGTERM for the duration of a run (see the module docstring)."""

    def __init__(self, progress: Callable[[str], None],
                 grace_s: float = ABORT_GRACE_S) -> None:
        self.progress = progress
        self.grace_s = grace_s
        self.reason: str | None = None
        self.in_notebook: str | None = None
        self.hard = False
        self._count = 0
        self._timer: threading.Timer | None = None
        self._previous: dict[int, Any] = {}
        self.run_dir: Any = None
        self.killed: list[int] = []
        """The kernels killed by a hard stop."""

    @property
    def requested(self) -> bool:
        return self.reason is not None

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[int(signum)] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous.clear()
        try:
            yield self
        finally:
            if self._timer is not None:
                self._timer.cancel()
            for number, previous in self._previous.items():
                signal.signal(number, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._count += 1
        if self.hard:  # already stopping at once: settling and sealing must finish
            self.progress("  still stopping: settling the system and sealing the evidence")
            return
        name = signal.Signals(signum).name
        if self._count == 1 and self.in_notebook is not None:
            self.stop(f"{name} during {self.in_notebook}")
            return
        self.hard = True
        self.reason = self.reason or f"{name}"
        # The kernel first: nothing may wait on a kernel that hangs (papermill's clean-up asks
        # it to shut down); the runner settles what it left running.
        self.killed = kill_kernels()
        raise Interrupted()

    def stop(self, reason: str) -> None:
        """Ask the running notebook to abort (any thread): forward SIGINT to its kernel and stop
        the chain after it."""
        if self.reason is None:
            self.reason = reason
        if self.run_dir is not None:
            import json
            from datetime import UTC, datetime

            (self.run_dir / STOP_FILE).write_text(json.dumps(
                {"reason": reason, "at": datetime.now(UTC).isoformat(timespec="milliseconds")}))
        self.progress(f"  interrupted ({reason}): the running notebook takes the abort path; "
                      "interrupt again to stop at once")
        for pid in kernel_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        if self._timer is None and self._previous:
            self._timer = threading.Timer(self.grace_s, self._grace_over)
            self._timer.daemon = True
            self._timer.start()

    def _grace_over(self) -> None:
        self.progress(f"  the notebook did not finish its abort within {self.grace_s:g} s: "
                      "stopping it")
        _thread.interrupt_main(signal.SIGINT)  # handled as a second signal

    def notebook(self, name: str | None) -> None:
        self.in_notebook = name


def kill_kernels() -> list[int]:
    """SIGKILL the kernels this process started (after a hard stop: a kernel left running
    would go on acting on the environment)."""
    killed = []
    for pid in kernel_pids():
        try:
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(
                pid, signal.SIGKILL)
            killed.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return killed


@dataclass
class RunLock:
    """The environment's lock for one run (see the module docstring)."""

    environment: str
    target_name: str
    project: Any
    on_lost: Callable[[str], None]
    target: Any = None
    workload: Any = None
    outputs: dict[str, Any] | None = None
    """Every stack's outputs as :meth:`locate` read them (deployed), by Sceptre path."""
    lock: Any = None
    heartbeat: Any = None
    deployed: bool = False
    took_over: str | None = None

    def locate(self) -> None:
        """Find the deployed workload (and so the lock's table); not deployed at all is fine
        (nothing to lock yet), partly deployed is refused (fail closed)."""
        from drlib.stacks import SimpleStatus
        from drlib.targets import open_target
        from drlib.workload import project_regions, workload_from_outputs

        regions = project_regions(self.project.variables)
        self.target = open_target(self.target_name, regions)
        infos = self.project.status("")
        if all(info.status == SimpleStatus.ABSENT for info in infos):
            self.deployed = False
            return
        try:
            self.outputs = {i.path: i.outputs for i in infos}
            self.workload = workload_from_outputs(self.environment, regions, self.outputs)
        except Exception as exc:
            states = ", ".join(f"{i.path}: {i.cfn_status or i.status}" for i in infos)
            raise DrError(
                f"The {self.environment} stacks are partly deployed: the drill lock cannot be "
                "checked, so the drill does not start",
                expected="every stack deployed (the lock lives in the workload's table) or none",
                found=f"{states}; {type(exc).__name__}: {exc}",
                fix=f"wait for a deployment in progress to finish, or run `drlib stacks launch "
                    f"--env {self.environment}`, then retry") from exc
        self.deployed = True

    def read_outputs(self) -> None:
        """Read every stack's outputs again (:attr:`outputs`), e.g. after a deploy under the
        lock."""
        self.outputs = dict(self.project.outputs(""))

    @property
    def held(self) -> bool:
        """Taken and not lost (a lock lost may be another run's now: never act under it)."""
        lost = self.heartbeat is not None and self.heartbeat.lost
        return self.lock is not None and self.lock.info is not None and not lost

    def take(self, run_id: str, owner: str) -> None:
        """Acquire for ``run_id`` (DrError naming the holder when another run has it) and start
        the heartbeat."""
        from drlib.drill import drill_lock
        from drlib.drill_lock import LockHeartbeat

        if self.workload is None:
            self.locate()
        if self.workload is None:
            raise DrError(f"The {self.environment} workload is not deployed: no drill lock",
                          expected="the deployed stacks", found="no stacks",
                          fix="deploy first (00_deploy, or drlib stacks launch)")
        self.lock = drill_lock(self.target, self.workload, run_id, owner)
        try:
            self.lock.acquire()
        except DrError:
            if not self._holder_dead():
                raise
            self.lock.acquire()
        self.heartbeat = LockHeartbeat(self.lock, on_lost=self.on_lost).start()

    def _holder_dead(self) -> bool:
        """Free the lock of a dead holder on this host (:func:`free_dead_holder`)."""
        self.took_over = free_dead_holder(self.lock, self.environment)
        return self.took_over is not None

    def release(self) -> None:
        """Stop the heartbeat and release; never raises."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if not self.held:
            return
        try:
            self.lock.release()
        except Exception as exc:
            log.error("could not release the %s drill lock: %s", self.environment, exc)


def free_dead_holder(lock: Any, environment: str) -> str | None:
    """Free ``lock`` when its holder ran on this host and its process is gone (kill -9, a
    crash); the holder's description when freed. A holder whose pid still runs, or on another
    host, keeps its lock until it expires (fail closed)."""
    from drlib.lock_cli import holder_alive

    holder = lock.backend.read(environment)
    if holder is None or holder_alive(holder) is not False:
        return None
    if lock.backend.delete(holder) is not None:
        return None
    log.warning("took over the %s drill lock of %s: its process is gone", environment,
                holder.describe())
    return str(holder.describe())
