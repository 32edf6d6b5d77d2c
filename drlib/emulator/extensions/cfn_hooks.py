"""Run CloudFormation patches when moto first loads its CloudFormation engine, not at start.

Importing ``moto.cloudformation`` pulls in some thirty moto services (about 2 s here), which
would triple the emulator's start time. moto's server imports a service on its first request, so
the ``cfn_*`` extensions register their patches with :func:`when_cloudformation_loaded` and they
run right after ``moto.cloudformation.models`` executes, under the import lock, before any
CloudFormation request is served.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

TRIGGER_MODULE = "moto.cloudformation.models"

_callbacks: list[Callable[[], None]] = []
_done: list[Callable[[], None]] = []
_lock = threading.RLock()


def when_cloudformation_loaded(callback: Callable[[], None]) -> None:
    """Run ``callback`` once moto's CloudFormation engine is loaded (now, if it already is)."""
    with _lock:
        if callback in _callbacks or callback in _done:
            return
        if TRIGGER_MODULE in sys.modules and _fully_loaded():
            _run(callback)
        else:
            _callbacks.append(callback)
            _ensure_finder()


def _fully_loaded() -> bool:
    module = sys.modules.get(TRIGGER_MODULE)
    return module is not None and hasattr(module, "cloudformation_backends")


def _run(callback: Callable[[], None]) -> None:
    callback()
    _done.append(callback)


def _run_pending() -> None:
    with _lock:
        pending = list(_callbacks)
        _callbacks.clear()
        for callback in pending:
            _run(callback)


class _CloudFormationFinder(importlib.abc.MetaPathFinder):
    """Finds moto.cloudformation.models as usual, then runs the pending patches after it."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> Any:
        if fullname != TRIGGER_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            sys.modules[fullname] = module
            _run_pending()
            log.debug("CloudFormation extensions installed on first load")

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_finder = _CloudFormationFinder()


def _ensure_finder() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def install() -> None:
    """Nothing to patch by itself: the other ``cfn_*`` modules register through this one."""
    _ensure_finder()


_models: list[type] = []


def refresh_model_map(*models: type) -> None:
    """Keep ``models`` alive and forget moto's cached type -> model map so they are found.

    ``get_model_map`` is an ``lru_cache`` over ``CloudFormationModel.__subclasses__()``; a model
    class defined later would otherwise stay invisible and its resources be skipped. Models must
    subclass ``CloudFormationModel`` directly, and a reference is kept because
    ``__subclasses__`` holds only weak ones.
    """
    from moto.cloudformation import parsing

    _models.extend(m for m in models if m not in _models)
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def supported_resource_types() -> set[str]:
    """Every resource type the emulator's CloudFormation creates (loads the engine if needed).

    A type outside this set is skipped by moto with only a warning, leaving the stack without
    that resource. ``Custom::`` types are handled separately by moto and are not listed.
    """
    from drlib.emulator.extensions import install_all

    install_all()
    from moto.cloudformation import (
        models,  # noqa: F401 - loading it runs the cfn_* patches
        parsing,
    )

    return set(parsing.get_model_map()) | set(parsing.NULL_MODELS)
