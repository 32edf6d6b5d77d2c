"""``drlib failover`` on the emulator: the unplanned-failover runbook for a real incident, run
from the secondary region while the primary region is down, with confirmation, preflight and a
sealed evidence record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.cli import main
from drlib.drill import _LockBackend
from drlib.drill_lock import DrillLock
from drlib.emulator import faults
from drlib.emulator.server import Emulator
from drlib.errors import ConfigError, DrError
from drlib.evidence import read_manifest, verify
from drlib.incident import FailoverRequest, run_failover
from drlib.stacks import SceptreProject
from drlib.workload import Workload, project_regions, workload_from_outputs

pytestmark = pytest.mark.slow

UNPLANNED_STEPS = ["DescribeMembers", "CheckTarget", "ChooseApproval", "FailoverGlobalCluster",
                   "WaitForFailover", "DescribeMembersAfter", "VerifyWriter", "ScaleUpAppTier",
                   "WaitForAppTier"]


@pytest.fixture(scope="module")
def deployed(emulator: Emulator) -> Iterator[tuple[AwsClients, Workload]]:
    """The dev environment launched once for this module on a freshly reset emulator."""
    emulator.reset()
    project = SceptreProject("dev")
    project.launch("")
    regions = project_regions(project.variables)
    clients = AwsClients(endpoint_url=emulator.endpoint_url,
                         credentials={"aws_access_key_id": "testing",
                                      "aws_secret_access_key": "testing"})
    yield clients, workload_from_outputs("dev", regions, project.outputs(""))
    faults.clear()


def writer_region(clients: AwsClients, workload: Workload) -> str:
    members = clients.client("rds", workload.regions.secondary).describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0][
        "GlobalClusterMembers"]
    return next(m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"])


def executions(clients: AwsClients, workload: Workload) -> list[dict[str, object]]:
    found: list[dict[str, object]] = clients.client(
        "ssm", workload.regions.secondary).describe_automation_executions()[
        "AutomationExecutionMetadataList"]
    return found


def test_prod_without_yes_is_refused_before_anything(
        deployed: tuple[AwsClients, Workload], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib failover --env prod` without --yes exits non-zero, saying how to confirm, and
    starts nothing."""
    clients, workload = deployed
    before = len(executions(clients, workload))
    code = main(["failover", "--env", "prod", "--target", "local",
                 "--outputs", str(tmp_path / "out")])
    assert code == 2
    assert "needs explicit confirmation" in capsys.readouterr().err
    assert len(executions(clients, workload)) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_settings_are_refused_before_anything(deployed: tuple[AwsClients, Workload],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The settings preflight runs first: prod (confirmed) without its certificates is refused
    naming every bad setting, and nothing starts."""
    clients, workload = deployed
    before = len(executions(clients, workload))
    code = main(["failover", "--env", "prod", "--target", "local", "--yes",
                 "--outputs", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad settings for environment prod" in err
    assert "nothing was started or changed" in err
    assert len(executions(clients, workload)) == before


def test_a_wrong_answer_at_the_prompt_changes_nothing(deployed: tuple[AwsClients, Workload],
                                                       tmp_path: Path) -> None:
    """In dev the prompt asks for the environment's name; anything else refuses."""
    clients, workload = deployed
    before = len(executions(clients, workload))
    with pytest.raises(ConfigError, match="Failover not confirmed"):
        run_failover(FailoverRequest("dev", "local", outputs_dir=tmp_path),
                     ask=lambda prompt: "yes", progress=lambda line: None)
    assert len(executions(clients, workload)) == before
    assert writer_region(clients, workload) == workload.regions.primary


def lock_of(clients: AwsClients, workload: Workload, run_id: str = "drlib-test") -> DrillLock:
    """The environment's lock, as a drill holds it (the workload's table, secondary region)."""
    backend = _LockBackend(clients.client("dynamodb", workload.regions.secondary),
                           workload.table_name)
    return DrillLock(backend, workload.environment, run_id=run_id, owner="a drill")


def test_failover_is_refused_while_a_drill_holds_the_lock(
        deployed: tuple[AwsClients, Workload], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """While a drill holds the environment's lock, `drlib failover` is refused naming the
    holder and how to free it; nothing starts, no run folder is left."""
    clients, workload = deployed
    before = len(executions(clients, workload))
    drill = lock_of(clients, workload, "20990101T000000Z_dev_planned-switchover")
    drill.acquire()
    try:
        with pytest.raises(DrError, match=r"Failover refused.*20990101T000000Z_dev_planned") as \
                caught:
            run_failover(FailoverRequest("dev", "local", confirmed=True,
                                         outputs_dir=tmp_path / "out"),
                         progress=lambda line: None)
        assert "drlib lock release --env dev" in (caught.value.fix or "")
        code = main(["failover", "--env", "dev", "--target", "local", "--yes",
                     "--outputs", str(tmp_path / "out")])
        assert code == 2
        err = capsys.readouterr().err
        assert "20990101T000000Z_dev_planned-switchover" in err
        assert "Traceback" not in err
    finally:
        drill.release()
    assert len(executions(clients, workload)) == before
    assert not [p for p in (tmp_path / "out").glob("*") if p.is_dir()]
    assert writer_region(clients, workload) == workload.regions.primary


def test_failover_runs_the_runbook_from_the_secondary_while_the_primary_is_down(
        deployed: tuple[AwsClients, Workload], tmp_path: Path) -> None:
    """With the primary region down, `drlib failover` runs the unplanned-failover runbook in the
    secondary and records every step with AWS's times in a sealed, verifiable run folder; a
    second failover fails at CheckTarget with the runbook's message, its evidence sealed
    as failed."""
    clients, workload = deployed
    lines: list[str] = []
    refusals: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if "runbook" in line and "started in" in line:  # the runbook runs: a drill now?
            try:
                lock_of(clients, workload, "a-drill").acquire()
                refusals.append("NOT refused")
            except DrError as exc:
                refusals.append(exc.message)

    faults.take_region_down(workload.regions.primary)
    try:
        result = run_failover(FailoverRequest("dev", "local", confirmed=True,
                                              outputs_dir=tmp_path), progress=progress)
        assert result.status == "completed", lines
        # Taken like a drill's for the whole failover (a drill was refused meanwhile, naming
        # it), released at its end.
        [refused] = refusals
        assert result.run_dir.name in refused
        assert "drlib failover: a real incident" in refused
        assert lock_of(clients, workload).holder() is None
        assert writer_region(clients, workload) == workload.regions.secondary
        record = json.loads((result.run_dir / "incident.json").read_text())
        runbook = record["runbook"]
        assert runbook["document"] == workload.runbooks["unplanned-failover"]
        assert runbook["region"] == workload.regions.secondary
        assert runbook["parameters"]["RequireApproval"] == ["false"]
        assert [s["step"] for s in runbook["steps"]] == UNPLANNED_STEPS
        assert all(s["status"] == "Success" and s["started_at"] <= s["ended_at"]
                   for s in runbook["steps"])
        assert record["started_at"] <= runbook["started_at"] <= runbook["ended_at"] <= \
            record["ended_at"]
        assert record["writer_after"].endswith(f":cluster:{workload.secondary.cluster_id}")
        assert record["kind"] == "real incident (not a drill)"
        assert read_manifest(result.run_dir).status == "passed"
        assert any(line == "  FailoverGlobalCluster: Success" for line in lines), lines

        again = run_failover(FailoverRequest("dev", "local", confirmed=True,
                                             outputs_dir=tmp_path), progress=lines.append)
        assert again.status == "failed"
        assert again.exit_code == 2
        assert lock_of(clients, workload).holder() is None  # released on the failed path too
        assert "at step CheckTarget" in again.record["error"]
        assert "is already the writer" in again.record["error"]
        assert read_manifest(again.run_dir).status == "failed"
    finally:
        faults.bring_region_up(workload.regions.primary)
    assert verify(tmp_path).exit_code == 0


def _run_notebook(tmp_path: Path, **parameters: object) -> str:
    """Execute notebook 60 with papermill; the text of its outputs."""
    import nbformat
    import papermill

    from drlib.notebook_params import notebook_path

    executed = tmp_path / "60_incident_failover.ipynb"
    papermill.execute_notebook(str(notebook_path("60_incident_failover")), str(executed),
                               parameters=parameters, kernel_name="python3",
                               progress_bar=False,
                               cwd=str(notebook_path("60_incident_failover").parents[1]))
    return "\n".join(str(output.get("text", "")) for cell in nbformat.read(
        executed, as_version=4).cells for output in cell.get("outputs", []))


def test_the_incident_notebook_without_confirm_only_says_what_it_would_do(
        tmp_path: Path) -> None:
    """Notebook 60 with confirm False names the runbook, its region and the CLI command, and
    starts nothing (no evidence folder)."""
    text = _run_notebook(tmp_path, environment="dev", target="local",
                         outputs_dir=str(tmp_path / "outputs"))
    assert "runbook acme-dev-dr-unplanned-failover (SSM Automation) in us-west-2" in text
    assert "aws ssm start-automation-execution --region us-west-2" in text
    assert "nothing was started" in text
    assert not (tmp_path / "outputs").exists()


def test_the_incident_notebook_runs_the_same_runbook_as_drlib_failover(
        deployed: tuple[AwsClients, Workload], tmp_path: Path) -> None:
    """Notebook 60 with confirm True runs the unplanned-failover runbook through drlib failover's
    path: once the secondary is the writer (the failover above) it fails at CheckTarget with the
    runbook's message and seals its evidence as failed; otherwise it fails over."""
    clients, workload = deployed
    already = writer_region(clients, workload) == workload.regions.secondary
    before = len(executions(clients, workload))
    text = _run_notebook(tmp_path, environment="dev", target="local",
                         outputs_dir=str(tmp_path / "outputs"), confirm=True)
    if already:
        assert "failover failed" in text
        assert "is already the writer" in text
    else:
        assert "failover completed" in text
        assert writer_region(clients, workload) == workload.regions.secondary
    found = executions(clients, workload)
    assert len(found) == before + 1
    assert found[0]["DocumentName"] == workload.runbooks["unplanned-failover"]
    runs = [path for path in (tmp_path / "outputs").iterdir() if path.is_dir()]
    assert len(runs) == 1
    assert runs[0].name.endswith("_dev_failover")
    assert read_manifest(runs[0]).status == ("failed" if already else "passed")
