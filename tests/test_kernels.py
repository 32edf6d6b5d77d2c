"""The drill's notebook kernels: private Unix sockets, not TCP."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import nbformat
import papermill
import pytest

from drlib.kernels import IpcKernelManager, papermill_kernel_options


@pytest.mark.slow
def test_a_notebook_runs_over_ipc_in_a_private_folder_removed_afterwards(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """papermill with the IPC kernel manager runs a notebook; the socket folder is mode 0700
    while the kernel lives and is gone afterwards; no TCP warning is printed, and the finished
    kernel is shut down without a SIGINT (no "KeyboardInterrupt caught in kernel")."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getpid())")]
    source = tmp_path / "in.ipynb"
    nbformat.write(notebook, source)
    seen: list[Path] = []
    signals: list[int] = []

    class Recording(IpcKernelManager):
        async def _async_signal_kernel(self, signum: int) -> None:
            signals.append(signum)
            await super()._async_signal_kernel(signum)

        async def start_kernel(self, **kwargs: object) -> None:  # type: ignore[override]
            await super().start_kernel(**kwargs)
            folder = Path(self.ip).parent
            seen.append(folder)
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert self.transport == "ipc"

    options = papermill_kernel_options()
    assert options["kernel_manager_class"] is IpcKernelManager
    done = papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"),
                                      kernel_name="python3", progress_bar=False,
                                      kernel_manager_class=Recording)
    assert done.cells[0].outputs[0]["text"].strip().isdigit()
    assert len(seen) == 1
    assert not seen[0].exists()
    err = capfd.readouterr().err
    assert "without encryption" not in err
    assert signal.SIGINT not in signals
    assert "KeyboardInterrupt" not in err


@pytest.mark.slow
def test_a_warm_kernel_runs_the_next_notebook_as_a_cold_one_would(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A kernel started ahead (drlib already imported, silently) runs a notebook: the notebook's
    cells, counts and outputs are as in a fresh kernel and it runs in the given folder; once
    the chain closes, neither that kernel nor the next one, prepared and never taken, leaves a
    process or a socket folder."""
    import os

    from drlib.kernels import WarmKernel

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import os, sys\nprint(os.getpid(), os.getcwd(), 'drlib.session' in sys.modules, "
        "get_ipython().history_manager.hist_file)")]
    source = tmp_path / "in.ipynb"
    nbformat.write(notebook, source)
    folder = tmp_path / "cwd"
    folder.mkdir()
    warm = WarmKernel(folder)
    warm.prepare()
    km = warm.take()
    assert km is not None, warm.errors
    sockets = [Path(km.ip).parent]
    warm.prepare()  # the next notebook's, never taken
    try:
        done = papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"),
                                          kernel_name="python3", progress_bar=False, km=km,
                                          **papermill_kernel_options())
    finally:
        warm.shutdown(km)
    pid, cwd, preloaded, history = done.cells[0].outputs[0]["text"].split()
    assert (cwd, preloaded, history) == (str(folder), "True", ":memory:")
    assert done.cells[0].execution_count == 1
    start = warm._start
    assert start is not None
    start.thread.join(120)
    assert start.km is not None
    sockets.append(Path(start.km.ip).parent)
    next_pid = start.km.provisioner.process.pid  # type: ignore[union-attr]
    warm.close()
    assert not [folder for folder in sockets if folder.exists()]
    clients = km.__dict__["_drlib_clients"]  # papermill's own client of the kernel included
    assert len(clients) >= 2
    assert not [client for client in clients if client.channels_running]
    for gone in (int(pid), next_pid):
        with pytest.raises(ProcessLookupError):
            os.kill(gone, 0)
    assert "without encryption" not in capfd.readouterr().err
