"""The drill's notebook kernels: private Unix sockets, not TCP."""

from __future__ import annotations

import json
import os
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


@pytest.mark.slow
def test_a_warm_kernel_taken_gets_the_environment_of_the_runner_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel started before the emulator was up (the drill starts the first one early) runs
    its notebook with the runner's environment at hand-over: variables set since are set,
    changed ones changed, removed ones removed, and nothing of the hand-over shows in the
    notebook (its first cell is still count 1)."""
    from drlib.kernels import WarmKernel

    monkeypatch.setenv("DRLIB_TEST_CHANGED", "before")
    monkeypatch.setenv("DRLIB_TEST_REMOVED", "present")
    monkeypatch.delenv("DRLIB_TEST_ADDED", raising=False)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import json, os, sys\nfrom drlib.session import open_session\n"
        "print(json.dumps([os.environ.get(k) for k in "
        "('DRLIB_TEST_CHANGED', 'DRLIB_TEST_REMOVED', 'DRLIB_TEST_ADDED')]))\n"
        "print(sorted(k for k in globals() if k.startswith('_drlib')))\n"
        "print('sceptre.plan.plan' in sys.modules)")]
    source = tmp_path / "in.ipynb"
    nbformat.write(notebook, source)
    warm = WarmKernel(tmp_path)
    warm.prepare(source)  # what the notebook imports, and Sceptre's plan, imported ahead
    assert warm._start is not None
    warm._start.thread.join(120)  # started with the old environment
    monkeypatch.setenv("DRLIB_TEST_CHANGED", "after 'quoted' \"and\" \\ \u00e9")
    monkeypatch.delenv("DRLIB_TEST_REMOVED")
    monkeypatch.setenv("DRLIB_TEST_ADDED", "http://127.0.0.1:1")
    km = warm.take(env=os.environ)
    assert km is not None, warm.errors
    try:
        done = papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"),
                                          kernel_name="python3", progress_bar=False, km=km,
                                          **papermill_kernel_options())
    finally:
        warm.shutdown(km)
        warm.close()
    values, leftovers, preloaded = done.cells[0].outputs[0]["text"].splitlines()
    assert json.loads(values) == ["after 'quoted' \"and\" \\ \u00e9", None,
                                  "http://127.0.0.1:1"]
    assert (leftovers, preloaded) == ("[]", "True")
    assert done.cells[0].execution_count == 1


def test_a_warm_kernel_imports_what_its_notebook_imports(tmp_path: Path) -> None:
    """The imports run ahead are the notebook's own (modules only, relative ones skipped) and
    what those import on first use; an unreadable notebook falls back to the common set."""
    from drlib.kernels import PRELOAD, notebook_imports, preload_for

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("import nothing"),
        nbformat.v4.new_code_cell("import pandas as pd\nfrom drlib.cost import charts\n"
                                  "from .local import thing\nif True:\n    import json"),
        nbformat.v4.new_code_cell("from drlib.session import open_session\n%matplotlib"),
        nbformat.v4.new_code_cell("from drlib.drill import DrillRun")]
    source = tmp_path / "nb.ipynb"
    nbformat.write(notebook, source)
    assert notebook_imports(source) == [
        "pandas", "drlib.cost", "drlib.cost.charts", "json", "drlib.drill",
        "drlib.drill.DrillRun", "drlib.charts"]  # the magic's cell does not parse: skipped
    notebook.cells[2] = nbformat.v4.new_code_cell("from drlib.session import open_session")
    nbformat.write(notebook, source)
    modules = notebook_imports(source)
    assert modules[-3:] == ["sceptre.plan.plan", "drlib.stacks", "drlib.charts"]
    namespace: dict[str, object] = {}
    exec(preload_for(source)[0], namespace)  # the code a warm kernel runs ahead
    assert [k for k in namespace if k != "__builtins__"] == []
    import sys

    assert "drlib.cost.charts" in sys.modules
    assert preload_for(tmp_path / "missing.ipynb") == PRELOAD


@pytest.mark.parametrize("inside_a_running_loop", [False, True])
def test_kernel_io_runs_to_its_end_also_where_an_event_loop_runs(
        inside_a_running_loop: bool) -> None:
    """Handing a warm kernel over and stopping kernels run a coroutine to its end; from a thread
    whose event loop is running (a Jupyter kernel's cell, a test after another left one running)
    asyncio.run refuses, and the hand-over failed ("asyncio.run() cannot be called from a running
    event loop", seen in make test). Its value and its error come back either way."""
    import asyncio

    from drlib.kernels import _run_to_end

    async def answer(value: int) -> int:
        await asyncio.sleep(0)
        return value

    async def fail() -> None:
        raise ValueError("in the coroutine")

    def both() -> int:
        with pytest.raises(ValueError, match="in the coroutine"):
            _run_to_end(fail())
        return int(_run_to_end(answer(42)))

    async def in_loop() -> int:
        return both()

    assert (asyncio.run(in_loop()) if inside_a_running_loop else both()) == 42
