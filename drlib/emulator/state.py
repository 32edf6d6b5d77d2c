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


def configure(*, state_dir: Path, endpoint_url: str) -> None:
    """Record the running emulator's state directory and URL."""
    current.state_dir = state_dir
    current.endpoint_url = endpoint_url


def state_dir() -> Path:
    """The running emulator's state directory (raises if none is running in this process)."""
    if current.state_dir is None:
        raise RuntimeError("no emulator has been started in this process")
    return current.state_dir
