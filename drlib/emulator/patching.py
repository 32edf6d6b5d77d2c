"""Small helpers the extensions use to patch moto and to watch processes."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

Maker = Callable[[Callable[..., Any]], Callable[..., Any]]


def wrap_once(owner: Any, name: str, make: Maker, marker: str) -> None:
    """Replace ``owner.name`` by ``make(original)``, unless a wrapper marked ``marker`` is
    already there (installing twice must not wrap twice)."""
    original = getattr(owner, name)
    if getattr(original, marker, False):
        return
    wrapped = functools.wraps(original)(make(original))
    setattr(wrapped, marker, True)
    setattr(owner, name, wrapped)


def locked_by(lock: threading.RLock) -> Maker:
    """A wrapper maker that runs the original while holding ``lock``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)
        return call

    return make


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
