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
