"""Notebook kernels that talk over private Unix sockets, not TCP.

A kernel started over TCP listens on loopback ports anyone on the machine can connect to, and
ipykernel warns about it once per notebook ("Kernel is running over TCP without encryption").
The drill's kernels use IPC transport instead: the sockets live in a fresh folder only this user
can open (mode 0700), removed with the kernel.

The manager is asynchronous (nbclient then uses an asynchronous client). With a blocking one,
nbclient's coroutines wait for the kernel in blocking ``zmq`` polls with no timeout: a kernel that
hangs or is killed then hangs the runner for good, even after a hard stop (its clean-up runs the
event loop again, and a pending poll blocks it).

They are shut down without the SIGINT jupyter_client sends first: papermill stops a kernel once
its last cell has finished, and that interrupt could only land in the kernel's own bookkeeping
after the cell ("[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." on the drill's
console). The shutdown request, then SIGTERM and SIGKILL, still follow as usual; a drill that is
itself interrupted kills its kernels outright (:func:`drlib.run_guard.kill_kernels`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class IpcKernelManager(AsyncKernelManager):
    """An asynchronous kernel manager whose kernels listen on Unix sockets in a private folder."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # Unix socket paths are limited to about 100 bytes: a short folder under the temp dir.
        return str(Path(tempfile.mkdtemp(prefix="drlib-kernel-")) / "k")

    def client(self, **kwargs: Any) -> Any:
        """A client of this kernel, remembered: a kernel started ahead is handed to papermill,
        whose client it then does not stop (it stops only clients of kernels it started);
        :func:`_ashutdown` stops them with the kernel."""
        made = super().client(**kwargs)
        self.__dict__.setdefault("_drlib_clients", []).append(made)
        return made

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # on the way out: no SIGINT into an idle kernel
            return
        await super()._async_interrupt_kernel()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(Path(self.ip).parent, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


def papermill_kernel_options() -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook`` that run the kernel over IPC."""
    return {"kernel_manager_class": IpcKernelManager}


PRELOAD = ("import drlib.session, drlib.notebook_params, drlib.drill, drlib.display, pandas",)
"""What a warm kernel imports before a notebook it was not told (the notebooks' common, slow
imports: about 2 s); silently, so the notebook's cells, counts and history are as without it (a
warning printed while importing goes to the runner's console, not the notebook's first cell)."""

FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "drlib.session": ("sceptre.plan.plan", "drlib.stacks"),
    "drlib.drill": ("drlib.charts",),
    "drlib.load": ("drlib.charts",),
    "drlib.lag": ("drlib.charts",),
}
"""Modules a notebook's imports import only when first used: a session reads the Sceptre project
(Sceptre's plan: about 1 s), the drill and the load draw charts (matplotlib: about 1.4 s)."""


def notebook_imports(notebook: Path) -> list[str]:
    """The modules ``notebook``'s code cells import (``from a import b``: ``a`` and, if it is a
    module, ``a.b``) and their :data:`FOLLOW_UPS`, in order, without repeats."""
    import ast
    import json

    found: list[str] = []
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    for module in list(found):
        found += FOLLOW_UPS.get(module, ())
    return list(dict.fromkeys(found))


def preload_for(notebook: Path | None) -> tuple[str, ...]:
    """The code a warm kernel runs ahead of ``notebook``: importing what it imports (names are
    not bound: the notebook's own cells bind them). :data:`PRELOAD` when there is no notebook or
    it cannot be read."""
    if notebook is None:
        return PRELOAD
    try:
        modules = notebook_imports(notebook)
    except Exception as exc:  # e.g. unreadable, not JSON, a cell ast cannot take
        import logging

        logging.getLogger(__name__).info("imports of %s not read (%s)", notebook, exc)
        return PRELOAD
    # A name imported from a module (not a module itself) is not found, and skipped.
    return ("import importlib as _drlib_importlib\n"
            f"for _drlib_module in {modules!r}:\n"
            "    try:\n"
            "        _drlib_importlib.import_module(_drlib_module)\n"
            "    except ImportError:\n"
            "        pass\n"
            "del _drlib_importlib" + (", _drlib_module" if modules else ""),)


SHUTDOWN_WAIT_S = 15.0
"""How long :meth:`WarmKernel.close` waits for each kernel being stopped (jupyter_client asks it
to shut down, then terminates and kills it within its own bounds)."""


class _Start:
    """One background start: its thread, and the kernel once started (or why not)."""

    def __init__(self) -> None:
        import threading

        self.thread: Any = None
        self.preload: tuple[str, ...] = ()
        self.env: dict[str, str] = {}
        """The environment the kernel was started with."""
        self.km: IpcKernelManager | None = None
        self.abandoned = False
        self.error: str | None = None
        self.lock = threading.Lock()
        """Guards handing over ``km`` against abandoning it (exactly one side stops it)."""


class WarmKernel:
    """The next notebook's kernel, started (and its imports done) while the current notebook
    runs: a chain of notebooks then waits for one kernel start, not one per notebook.

    :meth:`take` hands over the started kernel manager (``None`` when it could not start: the
    notebook then starts its own, as without a warm kernel); the caller passes it to papermill
    (``km=``) and, the notebook done, :meth:`shutdown` stops it. A kernel that was never taken
    is stopped by :meth:`close`."""

    def __init__(self, cwd: Path, preload: tuple[str, ...] = PRELOAD,
                 start_timeout: float = 120.0) -> None:
        self.cwd = cwd
        self.preload = preload
        self.start_timeout = start_timeout
        self._start: _Start | None = None
        self.errors: list[str] = []
        """Why warm kernels could not start (their notebooks started their own)."""
        self._stopping: list[Any] = []

    def prepare(self, notebook: Path | None = None) -> None:
        """Start a kernel in the background (if none is being prepared), importing ahead what
        ``notebook`` imports (:func:`preload_for`)."""
        import threading

        if self._start is not None:
            return
        start = self._start = _Start()
        start.env = dict(os.environ)
        start.preload = preload_for(notebook) if notebook is not None else self.preload
        start.thread = threading.Thread(target=self._run, args=(start,),
                                        name="drlib-warm-kernel", daemon=True)
        start.thread.start()

    def _run(self, start: _Start) -> None:
        import asyncio

        km = IpcKernelManager(kernel_name="python3")
        try:
            asyncio.run(self._astart(km, start.env, start.preload))
        except Exception as exc:  # the notebook starts its own kernel instead
            start.error = f"{type(exc).__name__}: {exc}"
            _stop(km)
            return
        with start.lock:
            abandoned = start.abandoned
            if not abandoned:
                start.km = km
        if abandoned:  # nobody will take it
            _stop(km)

    async def _astart(self, km: IpcKernelManager, env: dict[str, str],
                      preload: tuple[str, ...]) -> None:
        # As nbclient starts the kernels it owns: no IPython history file of the cells.
        await km.start_kernel(cwd=str(self.cwd), env=env,
                              extra_arguments=["--HistoryManager.hist_file=:memory:"])
        await self._arun(km, preload, wait_ready=True)

    async def _arun(self, km: IpcKernelManager, codes: tuple[str, ...],
                    wait_ready: bool = False) -> None:
        """Run ``codes`` in the kernel silently (no output, count or history)."""
        import asyncio

        client = km.client()
        client.start_channels()
        try:
            if wait_ready:
                await client.wait_for_ready(timeout=self.start_timeout)
            for code in codes:
                running = asyncio.ensure_future(client.execute_interactive(
                    code, silent=True, store_history=False, timeout=self.start_timeout))
                while not running.done():  # a kernel killed meanwhile never replies
                    await asyncio.wait({running}, timeout=0.5)
                    if not running.done() and not await km.is_alive():
                        running.cancel()
                        raise RuntimeError("the kernel died while running code ahead")
                reply = running.result()
                if reply["content"].get("status") != "ok":
                    raise RuntimeError(f"code run ahead failed: {reply['content'].get('evalue')}")
        finally:
            client.stop_channels()

    def take(self, wait_s: float | None = None,
             env: Mapping[str, str] | None = None) -> IpcKernelManager | None:
        """The warm kernel's manager (waiting for it to be ready, at most ``wait_s``), or
        None.

        With ``env`` (the runner's ``os.environ`` now) the kernel's environment is brought to
        it first: a kernel started before, say, the emulator was up then talks to the emulator
        as a kernel started now would. If that cannot be done the kernel is stopped and None
        returned (the notebook starts its own)."""
        km, start_env = self._take(wait_s)
        if km is None or env is None:
            return km
        changed = {key: value for key, value in env.items() if start_env.get(key) != value}
        removed = sorted(key for key in start_env if key not in env)
        if not changed and not removed:
            return km
        import json

        code = (f"import os as _drlib_os, json as _drlib_json\n"
                f"_drlib_os.environ.update(_drlib_json.loads({json.dumps(changed)!r}))\n"
                f"for _drlib_key in {removed!r}:\n"
                f"    _drlib_os.environ.pop(_drlib_key, None)\n"
                f"del _drlib_os, _drlib_json" + (", _drlib_key" if removed else ""))
        try:
            _run_to_end(self._arun(km, (code,)))
        except Exception as exc:  # fail closed: never hand over a kernel with a stale env
            self.errors.append(f"the environment could not be passed on: "
                               f"{type(exc).__name__}: {exc}")
            self.shutdown(km)
            return None
        except BaseException:  # interrupted while handing over: stopped, not left behind
            self.shutdown(km)
            raise
        return km

    def _take(self, wait_s: float | None) -> tuple[IpcKernelManager | None, dict[str, str]]:
        """The prepared kernel (None if none could be had) and the environment it started
        with."""
        start = self._start
        if start is None:
            return None, {}
        try:
            start.thread.join(self.start_timeout + 10 if wait_s is None else wait_s)
        finally:  # also when interrupted while waiting
            self._start = None
            with start.lock:
                km = start.km
                start.abandoned = km is None  # still starting: it stops itself once started
        if start.error:
            self.errors.append(start.error)
        return km, start.env

    def shutdown(self, km: IpcKernelManager | None) -> None:
        """Stop a taken kernel once its notebook is done (or failed), in the background: the
        next notebook need not wait for it (:meth:`close` does)."""
        import threading

        if km is not None:
            stopping = threading.Thread(target=_stop, args=(km,), name="drlib-kernel-stop",
                                        daemon=True)
            stopping.start()
            self._stopping.append(stopping)

    def close(self, wait_s: float | None = None) -> None:
        """Stop the kernel prepared and never taken (one still starting after ``wait_s`` stops
        itself once started), and wait for the kernels being stopped."""
        km, _ = self._take(wait_s)
        if km is not None:
            _stop(km)
        for stopping in self._stopping:
            stopping.join(SHUTDOWN_WAIT_S)
        self._stopping.clear()


def _run_to_end(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coroutine)``, also from a thread whose event loop is running (a Jupyter
    kernel's, where the runner may be called from a cell, or a test's), where asyncio.run refuses:
    there it runs to its end in a thread of its own."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drlib-kernel-io") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _stop(km: IpcKernelManager) -> None:
    """Shut the kernel down (its clients, the process, the socket folder); if that fails (its
    event loop could not even run), kill its process. Either way its socket folder is removed."""
    import contextlib
    import logging

    try:
        _run_to_end(_ashutdown(km))
    except Exception as exc:  # e.g. already dead: a hard stop kills kernels outright
        logging.getLogger(__name__).info("kernel shutdown failed (%s: %s); killing it",
                                         type(exc).__name__, exc)
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.kill()
                process.wait(5)
    shutil.rmtree(Path(km.ip).parent, ignore_errors=True)


async def _ashutdown(km: IpcKernelManager) -> None:
    import contextlib

    for client in km.__dict__.get("_drlib_clients", []):
        with contextlib.suppress(Exception):
            client.stop_channels()
    if km.has_kernel and await km.is_alive():
        await km.shutdown_kernel()  # its resources (the socket folder) included
    else:
        await km.cleanup_resources()
