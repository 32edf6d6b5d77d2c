"""One CloudFormation stack operation at a time in the emulator, and how a holder sets its turn
aside while it waits on work that touches no AWS state.

moto's models are not thread-safe, and a launch runs several stacks at once: the IAM backend is
shared by both regions, and a role created by one stack while another stack's role creation was
looking its roles up failed that stack ("dictionary changed size during iteration": an "Internal
Failure" and a rollback, seen in CI). So each stack operation (create, update, delete, a change
set's execution) holds :data:`STACK_OPERATIONS` while it changes resources. CloudFormation on
AWS runs them concurrently; here each still has its own events and statuses, only the emulator
applies them in turn. The Aurora stand-in sets its turn aside while PostgreSQL copies and starts
a server (about half a second per cluster), so the other stacks go on meanwhile.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class TurnLock:
    """A reentrant lock whose holder can set its turn aside (:meth:`set_aside`) and take it
    back afterwards, however deeply it holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    def _depth(self) -> int:
        depth: int = getattr(self._local, "depth", 0)
        return depth

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._depth() > 0

    def __enter__(self) -> TurnLock:
        if not self._depth():
            self._lock.acquire()
        self._local.depth = self._depth() + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.depth = self._depth() - 1
        if not self._local.depth:
            self._lock.release()

    @contextmanager
    def set_aside(self) -> Iterator[None]:
        """Let other threads take the lock while the block runs (a no-op for a thread that does
        not hold it). The block must touch nothing the lock guards, and must not hold another
        lock that a holder of this one may wait for (it takes this one back at the end)."""
        depth = self._depth()
        if depth:
            self._local.depth = 0
            self._lock.release()
        try:
            yield
        finally:
            if depth:
                self._lock.acquire()
                self._local.depth = depth


STACK_OPERATIONS = TurnLock()
"""Held by each stack operation while it changes resources."""


def one_at_a_time(operation: Callable[..., Any]) -> Callable[..., Any]:
    """``operation`` run under :data:`STACK_OPERATIONS`."""

    @functools.wraps(operation)
    def serialised(*args: Any, **kwargs: Any) -> Any:
        with STACK_OPERATIONS:
            return operation(*args, **kwargs)

    return serialised
