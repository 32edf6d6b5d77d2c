"""Patch a moto module when it is first imported, not when the emulator starts.

moto's server imports a service's modules on the service's first request; importing them all at
start would slow the emulator's start by seconds. :func:`when_imported` runs a patch right after
the named module executes (under the import lock, before it serves anything), or at once if it is
already loaded. (The CloudFormation extensions use the same idea, :mod:`.extensions.cfn_hooks`.)
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

_pending: dict[str, list[Callable[[], None]]] = {}
_lock = threading.RLock()


def when_imported(module_name: str, patch: Callable[[], None]) -> None:
    """Run ``patch`` once ``module_name`` is imported (now, if it already is)."""
    with _lock:
        if module_name in sys.modules:
            patch()
            return
        _pending.setdefault(module_name, []).append(patch)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds a watched module as usual and runs its pending patches after it executes."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> Any:
        if fullname not in _pending:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        original_exec = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            sys.modules[fullname] = module
            with _lock:
                patches = _pending.pop(fullname, [])
            for patch in patches:
                patch()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_finder = _Finder()
