"""Which process is which: a pid plus its start time and command line, never a pid alone.

A pid is reused after its process exits; a pid recorded in a file (an emulator's state file, a
run's marker) names the same process only while the process with that pid also started at the
recorded time (``/proc/<pid>/stat`` field 22, clock ticks since boot) and runs the expected
command. :func:`identify` records that; :func:`same_process` checks it before anyone signals a pid
or declares a run dead.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as recorded: host, pid, start time (ticks since boot), command line."""

    pid: int
    start_ticks: int | None
    cmdline: tuple[str, ...]
    host: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cmdline": list(self.cmdline)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ProcessIdentity:
        ticks = doc.get("start_ticks")
        return cls(pid=int(doc["pid"]), start_ticks=None if ticks is None else int(ticks),
                   cmdline=tuple(str(a) for a in doc.get("cmdline") or ()),
                   host=str(doc.get("host") or ""))


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot), or None when there is no such process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19])


def cmdline(pid: int) -> tuple[str, ...]:
    """The command line of ``pid`` (empty when unreadable)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def identify(pid: int | None = None) -> ProcessIdentity:
    """The identity of ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return ProcessIdentity(pid, start_ticks(pid), cmdline(pid), socket.gethostname())


def same_process(recorded: ProcessIdentity) -> bool | None:
    """True while the recorded process still runs; False once it is gone (or its pid now
    names another process); None when it cannot be told (another host)."""
    if recorded.host and recorded.host != socket.gethostname():
        return None
    ticks = start_ticks(recorded.pid)
    if ticks is None:
        return False
    if recorded.start_ticks is not None and ticks != recorded.start_ticks:
        return False
    return not (recorded.cmdline and cmdline(recorded.pid) != recorded.cmdline)


def children(pid: int | None = None) -> list[int]:
    """The pids whose parent is ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found
