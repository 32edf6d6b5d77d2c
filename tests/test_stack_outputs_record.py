"""The stack outputs a drill's runner records for its chain: read once under the lock, used by
the chain's notebooks, and by nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drlib import session as session_module
from drlib.aws import RegionPair
from drlib.session import Session
from drlib.workload import (
    STACK_OUTPUTS_FILE,
    STACK_OUTPUTS_VARIABLE,
    record_stack_outputs,
    recorded_stack_outputs,
)

OUTPUTS = {"primary/database": {"ClusterId": "acme-dev-primary"},
           "secondary/dns": {"RecordName": "app.dev.acme.example"}}


def test_the_chain_reads_what_its_runner_recorded(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = record_stack_outputs(tmp_path, "dev", OUTPUTS)
    record = json.loads(path.read_text())
    assert path.name == STACK_OUTPUTS_FILE
    assert record["environment"] == "dev"
    assert "after the chain's deploy" in record["source"]
    assert record["read_at"]
    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE, str(path))
    assert recorded_stack_outputs("dev", tmp_path) == OUTPUTS


@pytest.mark.parametrize("case", ["no variable", "another run folder", "another environment",
                                  "unreadable", "not a record"])
def test_outside_its_chain_the_record_is_not_used(case: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the chain's own run folder and environment use the record; anything else (a
    notebook run by hand, another run's leftover variable, a damaged file) reads the stacks."""
    path = record_stack_outputs(tmp_path, "dev", OUTPUTS)
    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE, str(path))
    run_dir, environment = tmp_path, "dev"
    if case == "no variable":
        monkeypatch.delenv(STACK_OUTPUTS_VARIABLE)
    elif case == "another run folder":
        run_dir = tmp_path / "other"
        run_dir.mkdir()
        (run_dir / STACK_OUTPUTS_FILE).write_text(path.read_text())
    elif case == "another environment":
        environment = "staging"
    elif case == "unreadable":
        path.write_text("{not json")
    else:
        path.write_text(json.dumps(["primary/database"]))
    assert recorded_stack_outputs(environment, run_dir) is None


def _session(tmp_path: Path, read: list[str]) -> Session:
    def outputs(path: str) -> dict[str, Any]:
        read.append(path)
        return {"primary/database": {"ClusterId": "read from the stacks"}}

    return Session(environment="dev", target=SimpleNamespace(regions=RegionPair()),  # type: ignore[arg-type]
                   project=SimpleNamespace(outputs=outputs), run_dir=tmp_path)  # type: ignore[arg-type]


def test_a_notebook_of_the_chain_uses_the_record_and_refresh_reads_the_stacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(session_module, "workload_from_outputs",
                        lambda environment, regions, outputs: seen.append(dict(outputs)))
    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE,
                       str(record_stack_outputs(tmp_path, "dev", OUTPUTS)))
    read: list[str] = []
    session = _session(tmp_path, read)
    session.workload()
    assert seen == [OUTPUTS]
    assert read == []
    session.workload(refresh=True)
    assert seen[-1] == {"primary/database": {"ClusterId": "read from the stacks"}}
    assert read == [""]


class _Chain:
    """What the runner's notebook loop touches besides papermill: a warm kernel, interrupts and
    the renderer, all doing nothing."""

    requested = False

    def take(self, env: object = None) -> None:
        return None

    def prepare(self, path: object) -> None: ...

    def shutdown(self, km: object) -> None: ...

    def notebook(self, name: object) -> None: ...

    def submit(self, path: object) -> None: ...


def _run_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_outputs: Any
               ) -> tuple[dict[str, Any], list[str]]:
    """The runner's loop over ``00_deploy`` and ``10_readiness`` with the lock held from the
    start (the workload was deployed before): what each notebook would read as the recorded
    outputs, and the runner's lines."""
    import papermill

    from drlib import runner

    monkeypatch.delenv(STACK_OUTPUTS_VARIABLE, raising=False)
    seen: dict[str, Any] = {}

    def execute(source: str, output: str, **kwargs: Any) -> None:
        seen[Path(output).stem] = recorded_stack_outputs("dev", tmp_path)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    chain = ("00_deploy", "10_readiness")
    lock = SimpleNamespace(held=True, deployed=True, outputs=None)
    lock.read_outputs = lambda: read_outputs(lock)
    lines: list[str] = []
    quiet = _Chain()
    runner._run_notebooks(runner.DrillRequest(chain=chain), {nb: {} for nb in chain}, tmp_path,
                          runner.RunResult(tmp_path, "aborted"), lines.append, lock, quiet,
                          quiet, quiet)
    return seen, lines


def test_a_deploy_under_the_lock_is_followed_by_the_outputs_it_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain's deploy may change the outputs of a workload deployed before (a replaced
    bucket or table): the notebooks after it get the outputs read after it, never those read
    before it."""
    after = {"primary/database": {"ClusterId": "after the deploy"}}

    def read(lock: Any) -> None:
        lock.outputs = after

    seen, _ = _run_chain(tmp_path, monkeypatch, read)
    assert seen == {"00_deploy": None, "10_readiness": after}


def test_outputs_that_cannot_be_read_after_the_deploy_are_read_by_each_notebook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read(lock: Any) -> None:
        raise RuntimeError("throttled")

    seen, lines = _run_chain(tmp_path, monkeypatch, read)
    assert seen == {"00_deploy": None, "10_readiness": None}
    assert any("could not read the stack outputs after deploying" in line for line in lines)


def test_a_refused_run_leaves_the_callers_variable_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run refused before its chain (here: the target does not answer) hands back the
    environment as it found it, the caller's DRLIB_STACK_OUTPUTS included."""
    from contextlib import nullcontext

    from drlib import runner
    from drlib.errors import ConfigError

    def refuse(*args: object) -> None:
        raise ConfigError("the target does not answer")

    monkeypatch.setenv(STACK_OUTPUTS_VARIABLE, "/somewhere/else/stack_outputs.json")
    monkeypatch.setattr(runner, "_local_emulator", lambda request: nullcontext(None))
    monkeypatch.setattr(runner, "check_target", refuse)
    with pytest.raises(ConfigError, match="does not answer"):
        runner.run_drill(runner.DrillRequest(outputs_dir=tmp_path, chain=()),
                         progress=lambda line: None)
    import os

    assert os.environ[STACK_OUTPUTS_VARIABLE] == "/somewhere/else/stack_outputs.json"
