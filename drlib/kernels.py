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

import shutil
import tempfile
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
