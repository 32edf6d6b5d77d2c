"""Process-wide facts about the running emulator that extensions need.

Extensions read where to keep files (PostgreSQL data directories, logs) and the server's own URL
from here; :class:`drlib.emulator.server.Emulator` sets them before installing the extensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class EmulatorState:
    state_dir: Path | None = None
    endpoint_url: str | None = None


current = EmulatorState()
# Every emulator started in this process and not yet stopped, the newest last. Tests run a second
# emulator beside the session's; when it stops, ``current`` must name the one still serving, not
# the stopped one's port (a stale URL sent every later runbook script to a dead endpoint).
_running: list[EmulatorState] = []


def configure(*, state_dir: Path, endpoint_url: str) -> EmulatorState:
    """Record a starting emulator's state directory and URL; return the token to release."""
    entry = EmulatorState(state_dir=state_dir, endpoint_url=endpoint_url)
    _running.append(entry)
    _point_at(entry)
    return entry


def release(entry: EmulatorState) -> None:
    """Forget a stopped (or never bound) emulator: ``current`` names the newest one still
    running; with none left it keeps the last values (background workers finishing up)."""
    _running[:] = [e for e in _running if e is not entry]
    if _running:
        _point_at(_running[-1])


def _point_at(entry: EmulatorState) -> None:
    current.state_dir = entry.state_dir
    current.endpoint_url = entry.endpoint_url


def state_dir() -> Path:
    """The running emulator's state directory (raises if none is running in this process)."""
    if current.state_dir is None:
        raise RuntimeError("no emulator has been started in this process")
    return current.state_dir
