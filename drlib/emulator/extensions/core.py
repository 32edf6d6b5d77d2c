"""Core control routes: health, version, reset, and the list of routes."""

from __future__ import annotations

from typing import Any

from drlib.emulator import control


def install() -> None:
    """Register the core routes."""

    @control.route("GET", "/_drlib/health")
    def health(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        from drlib.emulator.server import emulator_version

        return {"status": "ok", "version": emulator_version()}

    @control.route("POST", "/_drlib/reset")
    def reset(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        control.run_reset_hooks()
        return {"reset": True}

    @control.route("GET", "/_drlib/routes")
    def list_routes(body: dict[str, Any], query: dict[str, str]) -> list[str]:
        return [f"{method} {path}" for method, path in control.routes()]
