"""Core control routes (health, version, reset, the list of routes) and moto's reset.

moto's ``POST /moto-api/reset`` is what moto's own tests and many users' fixtures call between
tests. It must reset the whole emulator, not only moto: otherwise the extensions keep what moto
forgot (the PostgreSQL servers behind Aurora clusters keep running, and a new cluster with a
reused identifier meets the stale server). So moto's reset runs every extension's reset first,
then clears moto's backends; ``POST /_drlib/reset`` does exactly the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drlib.emulator import control
from drlib.emulator.patching import wrap_once


def reset_everything() -> None:
    """Reset every extension, then every moto backend (what both reset routes do)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()  # wrapped by install(): the extensions' hooks run first


def _reset_extensions_first(original: Callable[..., Any]) -> Callable[..., Any]:
    def reset(self: Any) -> Any:
        # Extensions first: their workers stop before moto's state goes, so nothing they
        # replicate or publish lands in the freshly reset backends.
        control.run_reset_hooks()
        return original(self)
    return reset


def install() -> None:
    """Register the core routes and make moto's reset reset the extensions too."""
    from moto.moto_api._internal.models import MotoAPIBackend

    wrap_once(MotoAPIBackend, "reset", _reset_extensions_first, "_drlib_resets_extensions")

    @control.route("GET", "/_drlib/health")
    def health(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        from drlib.emulator.extensions.route53_health import health_check_time_scale
        from drlib.emulator.server import emulator_version

        # time_scale: the pace of the emulated AWS waits (Route 53 detection, DNS TTLs) against
        # AWS's own (1.0); every drill records it with its figures.
        return {"status": "ok", "version": emulator_version(),
                "time_scale": health_check_time_scale()}

    @control.route("POST", "/_drlib/reset")
    def reset(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        reset_everything()
        return {"reset": True}

    @control.route("GET", "/_drlib/routes")
    def list_routes(body: dict[str, Any], query: dict[str, str]) -> list[str]:
        return [f"{method} {path}" for method, path in control.routes()]
