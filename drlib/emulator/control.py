"""The emulator's own control API, served beside moto on the same port under ``/_drlib/``.

Extensions register JSON routes (``@route("POST", "/_drlib/faults")``) and lifecycle hooks
(``on_reset``, ``on_shutdown``). The middleware answers those paths and hands every other request
to moto unchanged.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

PREFIX = "/_drlib/"

Handler = Callable[[dict[str, Any], dict[str, str]], Any]
"""A control route: (JSON body, query parameters) -> JSON-serialisable answer."""


class ControlError(Exception):
    """Raised by a handler to answer with a 4xx status and a message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Registry:
    routes: dict[tuple[str, str], Handler]
    reset_hooks: list[Callable[[], None]]
    shutdown_hooks: list[Callable[[], None]]


_registry = _Registry(routes={}, reset_hooks=[], shutdown_hooks=[])


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` ``path`` (the path must start with ``/_drlib/``)."""
    if not path.startswith(PREFIX):
        raise ValueError(f"control routes live under {PREFIX}, got {path}")

    def register(handler: Handler) -> Handler:
        _registry.routes[(method.upper(), path.rstrip("/"))] = handler
        return handler

    return register


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` when the emulator is reset (``/moto-api/reset`` or ``/_drlib/reset``), just
    before moto's backends are cleared."""
    if hook not in _registry.reset_hooks:
        _registry.reset_hooks.append(hook)
    return hook


def on_shutdown(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` when the emulator stops (stop data-plane processes, flush state)."""
    if hook not in _registry.shutdown_hooks:
        _registry.shutdown_hooks.append(hook)
    return hook


def run_reset_hooks() -> None:
    """Reset every extension; a failing hook is logged and the others still run."""
    _run_all(_registry.reset_hooks, "reset")


def run_shutdown_hooks() -> None:
    """Shut every extension down; a failing hook is logged and the others still run."""
    _run_all(_registry.shutdown_hooks, "shutdown")


def _run_all(hooks: Iterable[Callable[[], None]], what: str) -> None:
    for hook in list(hooks):
        try:
            hook()
        except Exception:
            log.exception("emulator %s hook %s failed", what, getattr(hook, "__qualname__", hook))


def routes() -> list[tuple[str, str]]:
    """Every registered (method, path), sorted: the control API's table of contents."""
    return sorted(_registry.routes)


class ControlMiddleware:
    """WSGI middleware: ``/_drlib/*`` to the registered handlers, everything else to moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        handler = _registry.routes.get((method, path.rstrip("/")))
        if handler is None:
            return _respond(start_response, 404, {"error": f"no control route {method} {path}",
                                                  "routes": [f"{m} {p}" for m, p in routes()]})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ControlError("the request body must be a JSON object")
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            answer = handler(body, query)
        except ControlError as exc:
            return _respond(start_response, exc.status, {"error": str(exc)})
        except json.JSONDecodeError as exc:
            return _respond(start_response, 400, {"error": f"the request body is not JSON: {exc}"})
        except Exception as exc:
            log.error("control route %s %s failed:\n%s", method, path, traceback.format_exc())
            return _respond(start_response, 500, {"error": f"{type(exc).__name__}: {exc}"})
        return _respond(start_response, 200, answer if answer is not None else {"ok": True})


def _respond(start_response: Callable[..., Any], status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
              500: "Internal Server Error"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))])
    return [body]
