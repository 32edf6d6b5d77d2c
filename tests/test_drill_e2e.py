"""End-to-end drills on the emulator: the whole dev stack deployed through drlib, then drilled.

These are the drill's acceptance tests (issue: planned switchover RPO 0 and failback; unplanned
failover RPO equal to exactly the writes made while replication was paused; refusals; abort).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from drlib import drill as drill_module
from drlib.aws import AwsClients
from drlib.canary import CanaryFleet
from drlib.drill import DrillRun, drill_lock, run_failback, run_scenario, writer_region
from drlib.emulator import faults
from drlib.emulator.extensions.route53_health import set_health_check_time_scale
from drlib.emulator.server import Emulator
from drlib.errors import ConfigError, DrError, DrillAborted
from drlib.replication_report import REPLICATION_CSV, sides_from_csv
from drlib.stacks import SceptreProject
from drlib.targets import Target, open_target
from drlib.timeline import to_utc, utc_now
from drlib.verdict import evaluate, targets_for
from drlib.waiting import wait_until
from drlib.workload import Workload, project_regions, workload_from_outputs
from drlib.write_outcomes import RPO_EVIDENCE_RULE
from tests.test_recompute_metrics import assert_metrics_recomputed

pytestmark = pytest.mark.slow

# The runbooks' step executions as dr-automation.yaml declares them (no approval in dev).
PLANNED_STEPS = ["CheckGlobalCluster", "DescribeMembers", "CheckTarget", "ChooseApproval",
                 "ScaleUpAppTier", "WaitForAppTier", "SwitchoverGlobalCluster",
                 "MoveDnsToSecondary", "WaitForSwitchover", "DescribeMembersAfter",
                 "VerifyWriter"]
UNPLANNED_STEPS = ["DescribeMembers", "CheckTarget", "ChooseApproval", "FailoverGlobalCluster",
                   "WaitForFailover", "DescribeMembersAfter", "VerifyWriter", "ScaleUpAppTier",
                   "WaitForAppTier"]
FAILBACK_STEPS = ["WaitForPrimarySynchronized", "ChooseSwitchover", "SwitchoverToPrimary",
                  "WaitForFailback", "DescribeMembersAfter", "VerifyWriter",
                  "RestorePrimaryHealthCheck", "ScaleDownAppTier"]


def runbook_steps_on_the_timeline(clients: AwsClients, workload: Workload,
                                  timeline: list[dict[str, object]],
                                  runbook: dict[str, object]) -> list[str]:
    """The runbook's steps of a metrics.json timeline, checked against what SSM itself reports
    for the execution (names, order, start and end times)."""
    ssm = clients.client("ssm", workload.regions.secondary)
    executed = ssm.describe_automation_step_executions(
        AutomationExecutionId=runbook["execution_id"])["StepExecutions"]
    steps = [s for s in timeline if s["runbook"] == runbook["document"]]
    assert [s["step"] for s in steps] == [e["StepName"] for e in executed]
    for step, execution in zip(steps, executed, strict=True):
        for ours, theirs in (("started_at", "ExecutionStartTime"),
                             ("ended_at", "ExecutionEndTime")):
            gap = to_utc(str(step[ours])) - execution[theirs]
            assert abs(gap) < timedelta(milliseconds=1), (step, execution)
        assert step["outcome"] == ("ok" if execution["StepStatus"] == "Success" else "failed")
    return [str(s["step"]) for s in steps]


@pytest.fixture(scope="module")
def deployed(emulator: Emulator) -> Iterator[tuple[Target, Workload]]:
    """The dev stack launched once for this module on a freshly reset emulator.

    Route 53 health-check timing is scaled down (20x faster) so DNS moves in about a second:
    these tests check the drill's logic; `make drill` runs at AWS's real timing.
    """
    emulator.reset()
    set_health_check_time_scale(0.05)
    project = SceptreProject("dev")
    project.launch("")
    regions = project_regions(project.variables)
    target = open_target("local", regions)
    yield target, workload_from_outputs("dev", regions, project.outputs(""))
    faults.clear()
    set_health_check_time_scale(1.0)


@pytest.fixture(autouse=True)
def starts_at_home(deployed: tuple[Target, Workload], tmp_path: Path) -> Iterator[None]:
    """Each test leaves the world as the next one expects: a test that failed half-way (its
    own failback never ran) must not fail the rest of the module with its fault or its writer."""
    yield
    faults.clear()
    target, workload = deployed
    regions = workload.regions
    if writer_region(target.clients, workload, regions.primary) != regions.primary:
        run_failback(drill(deployed, "failback", tmp_path / "cleanup"))


def drill(deployed: tuple[Target, Workload], scenario: str, tmp_path: Path,
          **kwargs: object) -> DrillRun:
    target, workload = deployed
    return DrillRun(target=target, workload=workload, scenario=scenario,
                    run_dir=tmp_path / f"run_{scenario}", canary_interval_s=0.05,
                    lag_threshold_s=5.0, **kwargs)  # type: ignore[arg-type]


def app_answer(clients: AwsClients, workload: Workload) -> list[str]:
    """What the application name answers with, normalised as DNS names compare."""
    answer = clients.client("route53", workload.regions.primary).test_dns_answer(
        HostedZoneId=workload.hosted_zone_id, RecordName=workload.app_dns_name, RecordType="A")
    return [a.rstrip(".").lower() for a in answer["RecordData"]]


def dns_name(name: str) -> str:
    return name.rstrip(".").lower()


def test_planned_switchover_loses_nothing_and_fails_back(deployed: tuple[Target, Workload],
                                                         tmp_path: Path) -> None:
    """Switchover: RPO 0 in every store, RTO within target, writer and DNS in the secondary;
    failback restores the original roles."""
    target, workload = deployed
    run = drill(deployed, "planned-switchover", tmp_path)
    metrics = run_scenario(run)
    assert metrics["status"] == "passed", metrics["verdict"]
    for store, rpo in metrics["measured"]["rpo"].items():
        assert rpo["lost_records"] == 0, store
    assert 0 < metrics["measured"]["rto_seconds"] <= metrics["targets"]["rto_seconds"]
    assert writer_region(target.clients, workload, workload.regions.secondary) == \
        workload.regions.secondary
    assert dns_name(workload.secondary.load_balancer_dns) in app_answer(target.clients, workload)
    assert (run.run_dir / "canaries.csv").exists()
    measured = metrics["measured"]
    # the RPO claim rests on writes in flight: at least 10 Aurora acks in the 5 s before cutover
    evidence = measured["rpo_evidence"]["aurora"]
    assert evidence["tested"], evidence
    assert evidence["acknowledged_in_window"] >= 10
    assert all(measured["rpo"][s]["tested"] for s in measured["rpo"])
    # every write counted; the rejected ones classified
    for store, writes in measured["writes"].items():
        assert writes["attempted"] == writes["acknowledged"] + writes["rejected"] + \
            writes["timed_out"], store
        assert sum(writes["rejected_by_class"].values()) == writes["rejected"], store
        assert measured["write_outage"][store]["first_ack_region"] == workload.regions.secondary
    assert_metrics_recomputed(run.run_dir)
    # the procedure is the runbook: its step executions are the timeline's steps, by name
    assert metrics["runbook"]["status"] == "Success"
    assert runbook_steps_on_the_timeline(target.clients, workload, metrics["timeline"],
                                         metrics["runbook"]) == PLANNED_STEPS
    # the disaster is declared when the runbook's switchover step started (AWS's time)
    switch = next(s for s in metrics["runbook"]["steps"]
                  if s["step"] == "SwitchoverGlobalCluster")
    assert metrics["measured"]["instants"]["disaster_declared_at"][:23] == \
        switch["started_at"][:23]
    # DNS as clients see it: from the runbook's DNS move to the answer, to within the poll
    steps = {s["step"]: s for s in metrics["timeline"] if s["runbook"] is None}
    dns_step = steps["DNS answers the secondary"]
    assert "condition observed true within" in dns_step["detail"]
    move = next(s for s in metrics["runbook"]["steps"] if s["step"] == "MoveDnsToSecondary")
    assert dns_step["started_at"] == move["started_at"]

    back = drill(deployed, "failback", tmp_path)
    back.run_dir = run.run_dir
    after = run_failback(back)
    assert after["failback"]["completed"]
    assert after["failback"]["replication"]["left_behind"] == 0
    assert runbook_steps_on_the_timeline(
        target.clients, workload, back.timeline.to_records(),
        after["failback"]["runbook"]) == FAILBACK_STEPS
    assert writer_region(target.clients, workload, workload.regions.primary) == \
        workload.regions.primary
    assert dns_name(workload.primary.load_balancer_dns) in app_answer(target.clients, workload)


def test_too_few_writes_in_flight_is_not_tested_and_fails_in_prod(
        deployed: tuple[Target, Workload], tmp_path: Path) -> None:
    """With no write in flight in the seconds before the cutover the RPO is "not tested":
    a warning in dev, a failure under prod's targets."""

    def go_quiet(run: DrillRun, fleet: CanaryFleet) -> None:
        fleet.hold_writes()  # resumed right after the cutover, below
        time.sleep(RPO_EVIDENCE_RULE.window_s + 0.5)

    run = drill(deployed, "planned-switchover", tmp_path, before_disaster=go_quiet)
    declare = run.timeline.declare_disaster

    def declare_then_resume(*args: object, **kwargs: object) -> object:
        try:
            return declare(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            fleet_holder["fleet"].resume_writes()

    fleet_holder: dict[str, CanaryFleet] = {}
    original_build = drill_module.build_canaries

    def build(*args: object, **kwargs: object) -> object:
        fleet, active = original_build(*args, **kwargs)  # type: ignore[arg-type]
        fleet_holder["fleet"] = fleet
        return fleet, active

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run.timeline, "declare_disaster", declare_then_resume)
        patch.setattr(drill_module, "build_canaries", build)
        metrics = run_scenario(run)
    not_tested = [f for f in metrics["verdict"]["findings"] if "RPO not tested" in f["message"]]
    assert {f["store"] for f in not_tested} == set(metrics["measured"]["rpo"])
    assert all(f["severity"] == "warning" for f in not_tested)
    assert metrics["status"] == "passed"
    assert all(not r["tested"] for r in metrics["measured"]["rpo"].values())
    assert run.measured is not None
    prod = evaluate(targets_for("prod"), run.measured, "planned-switchover")
    assert not prod.passed
    assert {f.store for f in prod.failures() if f.check == "rpo"} == \
        set(metrics["measured"]["rpo"])
    assert all("RPO not tested" in f.message for f in prod.failures() if f.check == "rpo")

    back = drill(deployed, "failback", tmp_path)
    back.run_dir = run.run_dir
    assert run_failback(back)["failback"]["completed"]


def test_unplanned_failover_rpo_is_exactly_the_paused_writes(deployed: tuple[Target, Workload],
                                                             tmp_path: Path) -> None:
    """With replication paused for a known set of writes, the reported RPO is exactly those
    writes, store by store."""
    _, workload = deployed
    marks: dict[str, object] = {}

    def pause_replication(run: DrillRun, fleet: CanaryFleet) -> None:
        fleet.hold_writes()
        wait_until(lambda: not fleet.missing_anywhere(), description="replication to settle",
                   timeout=30, interval=0.05)
        for store in faults.STORES:
            faults.pause_replication(store)
        marks["paused_at"] = utc_now()
        fleet.resume_writes()
        wait_until(lambda: all(sum(1 for r in s.records.values() if r.acked_at is not None
                                   and r.acked_at > marks["paused_at"]) >= 5  # type: ignore
                               for s in fleet.stores.values()),
                   description="5 writes per store while paused", timeout=30, interval=0.05)

    run = drill(deployed, "unplanned-failover", tmp_path, before_disaster=pause_replication)
    try:
        metrics = run_scenario(run)
    finally:
        for store in faults.STORES:
            faults.resume_replication(store)
    paused_at = marks["paused_at"]
    declared = run.timeline.disaster_declared_at
    assert declared is not None
    # the RTO clock and the cutover start when the region was lost, not when the injector answered
    lost = next(e for e in run.timeline.faults if e.action == "region-down")
    assert declared <= to_utc(str(lost.detail["at"]))
    assert to_utc(metrics["measured"]["instants"]["cutover_at"]) == declared
    for store, rpo in metrics["measured"]["rpo"].items():
        expected = sorted(r.seq for r in run.records if r.store == store
                          and r.acked_at is not None and r.region_written ==
                          workload.regions.primary and r.acked_at > paused_at)
        assert expected, store
        assert list(rpo["lost_seqs"]) == expected, store
        lost_acks = [r.acked_at for r in run.records if r.store == store and r.seq in expected]
        assert rpo["span_seconds"] == pytest.approx(
            (max(declared, *lost_acks) - min(lost_acks)).total_seconds(), abs=1e-6), store
        assert rpo["tested"], store
    assert_metrics_recomputed(run.run_dir)
    assert runbook_steps_on_the_timeline(deployed[0].clients, workload, metrics["timeline"],
                                         metrics["runbook"]) == UNPLANNED_STEPS
    # the failover runbook started after the outage was detected, in the secondary region
    detected = next(s for s in metrics["timeline"] if s["step"] == "detect the outage")
    assert metrics["runbook"]["steps"][0]["started_at"] >= detected["ended_at"]
    assert metrics["runbook"]["region"] == workload.regions.secondary

    back = drill(deployed, "failback", tmp_path)
    back.run_dir = run.run_dir
    after = run_failback(back)
    assert after["failback"]["completed"]
    # Each side's writes are on the other side after failback: the S3 objects written to the
    # replica bucket while failed over replicated back (two-way), none is left behind.
    replication = after["failback"]["replication"]
    assert replication["left_behind"] == 0, replication
    s3 = replication["stores"]["s3"]
    assert s3[workload.regions.secondary]["written"] > 0
    assert s3[workload.regions.secondary]["replicated"] == \
        s3[workload.regions.secondary]["written"]
    assert sides_from_csv(run.run_dir / REPLICATION_CSV, [
        workload.regions.primary, workload.regions.secondary]) == replication["stores"]
    # at the reconciliation (primary still down) the evidence named them as not yet replicated
    at_reconcile = metrics["measured"]["replication"]["s3"][workload.regions.secondary]
    assert at_reconcile["written"] > 0


def test_replica_bucket_writes_and_deletes_while_failed_over_reach_the_data_bucket(
        deployed: tuple[Target, Workload]) -> None:
    """With the primary region down, an object written to the replica bucket and a delete of a
    replicated object there both reach the data bucket once the region is back (the templates'
    two-way rules, delete-marker replication included)."""
    target, workload = deployed
    primary = target.clients.client("s3", workload.regions.primary)
    secondary = target.clients.client("s3", workload.regions.secondary)
    data, replica = workload.primary.bucket, workload.secondary.bucket
    primary.put_object(Bucket=data, Key="two-way/doomed", Body=b"before")
    wait_until(lambda: secondary.list_objects_v2(Bucket=replica, Prefix="two-way/doomed").get(
        "KeyCount"), description="the object in the replica bucket", timeout=10, interval=0.05)
    faults.take_region_down(workload.regions.primary)
    try:
        written = secondary.put_object(Bucket=replica, Key="two-way/during-failover",
                                       Body=b"written while failed over")["VersionId"]
        marker = secondary.delete_object(Bucket=replica, Key="two-way/doomed")["VersionId"]
    finally:
        faults.bring_region_up(workload.regions.primary)

    def arrived() -> bool:
        versions = primary.list_object_versions(Bucket=data, Prefix="two-way/")
        return (any(v["VersionId"] == written for v in versions.get("Versions", []))
                and any(m["VersionId"] == marker for m in versions.get("DeleteMarkers", [])))

    wait_until(arrived, description="the write and the delete in the data bucket", timeout=10,
               interval=0.05)
    copy = primary.get_object(Bucket=data, Key="two-way/during-failover")
    assert copy["Body"].read() == b"written while failed over"
    assert copy["ReplicationStatus"] == "REPLICA"
    with pytest.raises(primary.exceptions.ClientError):
        primary.head_object(Bucket=data, Key="two-way/doomed")


def test_refuses_production_without_confirmation(deployed: tuple[Target, Workload],
                                                 tmp_path: Path) -> None:
    """A prod drill without confirmation is refused before anything changes."""
    target, workload = deployed
    prod = DrillRun(target=target, workload=workload.__class__(**{
        **workload.__dict__, "environment": "prod"}), scenario="planned-switchover",
        run_dir=tmp_path / "prod")
    with pytest.raises(ConfigError, match="production drill needs explicit confirmation"):
        run_scenario(prod)
    assert writer_region(target.clients, workload, workload.regions.primary) == \
        workload.regions.primary


def test_refuses_while_another_drill_holds_the_lock(deployed: tuple[Target, Workload],
                                                    tmp_path: Path) -> None:
    """A drill refuses to start while another run holds the environment's lock."""
    target, workload = deployed
    other = drill_lock(target, workload, "other-run", "someone else")
    other.acquire()
    try:
        with pytest.raises(DrillAborted, match="aborted") as info:
            run_scenario(drill(deployed, "planned-switchover", tmp_path))
        assert "other-run" in info.value.render()
    finally:
        other.release()


def test_refuses_when_lag_exceeds_the_threshold(deployed: tuple[Target, Workload],
                                                tmp_path: Path) -> None:
    """With replication delayed past the threshold, readiness fails and the drill refuses."""
    faults.set_replication_delay("s3", 3.0)
    try:
        run = drill(deployed, "planned-switchover", tmp_path)
        run.lag_threshold_s = 0.5
        with pytest.raises(DrillAborted) as info:
            run_scenario(run)
        assert "S3 replication" in info.value.render() or "lag" in info.value.render()
    finally:
        faults.set_replication_delay("s3", 0.0)


def test_failure_mid_step_aborts_to_the_documented_state(deployed: tuple[Target, Workload],
                                                         tmp_path: Path) -> None:
    """A failure inside a step aborts: disaster lifted, canaries stopped, evidence marked
    aborted with the writer's region reported."""
    _, workload = deployed

    def explode(run: DrillRun, fleet: CanaryFleet) -> None:
        raise DrError("injected failure in the middle of the drill")

    run = drill(deployed, "unplanned-failover", tmp_path, before_disaster=explode)
    # Earlier tests paused replication: CloudWatch still shows that minute's lag peak, which
    # is not what this test is about.
    run.lag_threshold_s = 300.0
    with pytest.raises(DrillAborted):
        run_scenario(run)
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "aborted"
    assert "injected failure" in metrics["error"]
    assert metrics["state_after"]["writer_region"] == workload.regions.primary
    assert not faults.region_down(workload.regions.primary)


def test_a_failing_runbook_step_aborts_the_drill_naming_it(deployed: tuple[Target, Workload],
                                                           tmp_path: Path) -> None:
    """A runbook step that fails (a wrong global cluster identifier) aborts the drill: the error
    names the step and RDS's message, the timeline shows the step failed, nothing moved."""
    target, workload = deployed
    run = drill(deployed, "planned-switchover", tmp_path,
                runbook_parameters={"GlobalClusterIdentifier": "no-such-global-cluster"})
    run.lag_threshold_s = 300.0  # earlier tests' lag peaks are not what this test is about
    with pytest.raises(DrillAborted) as caught:
        run_scenario(run)
    message = caught.value.render()
    assert "at step CheckGlobalCluster" in message
    assert ("GlobalClusterNotFoundFault) when calling the DescribeGlobalClusters operation: "
            "Global cluster no-such-global-cluster not found") in message
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "aborted"
    assert metrics["runbook"]["status"] == "Failed"
    [failed] = [s for s in metrics["timeline"] if s["outcome"] == "failed"]
    assert failed["step"] == "CheckGlobalCluster"
    assert failed["runbook"] == workload.runbooks["planned-switchover"]
    assert "Global cluster no-such-global-cluster not found" in failed["detail"]
    assert metrics["state_after"]["writer_region"] == workload.regions.primary
    assert writer_region(target.clients, workload, workload.regions.primary) == \
        workload.regions.primary


def test_the_abort_path_stops_a_running_runbook(deployed: tuple[Target, Workload],
                                                tmp_path: Path) -> None:
    """A runbook still running when the drill aborts (here: waiting for an approval past the
    drill's bound) is cancelled by the abort path; nothing moved."""
    target, workload = deployed
    run = drill(deployed, "planned-switchover", tmp_path,
                runbook_parameters={"RequireApproval": "true"})
    run.lag_threshold_s = 300.0
    original = run.use_environment_timings

    def short_runbook_bound() -> None:
        original()
        run.timeouts["planned-switchover runbook"] = 3.0

    run.use_environment_timings = short_runbook_bound  # type: ignore[method-assign]
    with pytest.raises(DrillAborted, match="Timed out"):
        run_scenario(run)
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    ssm = target.clients.client("ssm", workload.regions.secondary)

    def cancelled() -> dict[str, object] | None:
        found: dict[str, object] = ssm.get_automation_execution(
            AutomationExecutionId=metrics["runbook"]["execution_id"])["AutomationExecution"]
        return found if found["AutomationExecutionStatus"] == "Cancelled" else None

    found = wait_until(cancelled, description="the runbook to be cancelled", timeout=30)
    assert found["StepExecutions"][-1]["StepName"] == "ApproveSwitchover"  # type: ignore[index]
    assert any(e["action"] == "abort" and e["target"] == "stop the runbook"
               and "error" not in e["detail"] for e in metrics["events"])
    approve = next(s for s in metrics["timeline"] if s["step"] == "ApproveSwitchover")
    assert approve["outcome"] == "failed"
    assert "Timed out" in approve["detail"]
    assert writer_region(target.clients, workload, workload.regions.primary) == \
        workload.regions.primary


def test_load_run_lag_matches_the_configured_delay(deployed: tuple[Target, Workload],
                                                   tmp_path: Path) -> None:
    """A modest load run loses no write; with 0.5 s of replication delay configured the
    canary-measured median lag of DynamoDB and S3 is 0.5 s within 0.3 s (the canary readers
    poll every 25 ms; the rest is the emulator's apply cycle); CloudWatch series are found.
    It runs 5 s, so that the median rests on at least 20 writes per store even on a machine
    busy enough to reach only a quarter of the asked rate (5.3 of 20 writes/s seen there)."""
    from drlib.lag import cloudwatch_lag_series, run_load
    from drlib.session import Session

    target, workload = deployed
    session = Session("dev", target, SceptreProject("dev"), tmp_path, _workload=workload)
    for store in ("dynamodb", "s3"):
        faults.set_replication_delay(store, 0.5)
    try:
        load = run_load(session, stores=["dynamodb", "s3"], rate_per_second=20,
                        duration_s=5, drain_s=5)
    finally:
        for store in ("dynamodb", "s3"):
            faults.set_replication_delay(store, 0.0)
    summary = load.summary
    assert (summary["acknowledged"] >= 20).all(), summary
    assert (summary["errors"] == 0).all(), summary
    assert (summary["not_replicated"] == 0).all(), summary
    for store in ("dynamodb", "s3"):
        assert abs(load.statistics.loc[store, "median_s"] - 0.5) <= 0.3, load.statistics
    cloudwatch = cloudwatch_lag_series(session, window_minutes=10)
    assert {"dynamodb", "s3"} <= set(cloudwatch["store"]), cloudwatch


RESTORE_STEPS = ["FindRecoveryPoints", "ChooseApproval", "RestoreTable", "RestoreBucket",
                 "WaitForRestores"]


def test_data_corruption_restores_from_the_cross_region_recovery_point(
        deployed: tuple[Target, Workload], tmp_path: Path) -> None:
    """data-corruption: the item and object deleted in both regions come back from the recovery
    point copied to the secondary's vault, through the dr-restore runbook; RTO and RPO are
    reported and recomputed from canaries.csv; the victim is put back, the copies removed."""
    import pandas as pd

    target, workload = deployed
    secondary = workload.regions.secondary
    run = drill(deployed, "data-corruption", tmp_path)
    metrics = run_scenario(run)
    assert metrics["status"] == "passed", metrics["verdict"]
    measured, restore = metrics["measured"], metrics["restore"]
    assert {(d["store"], d["region"]) for d in restore["deleted"]} == {
        (s, r) for s in ("dynamodb", "s3") for r in (workload.regions.primary, secondary)}
    for point in restore["recovery_points"].values():
        assert point["copy"].split(":")[3] == secondary  # restored from the cross-region copy
    assert runbook_steps_on_the_timeline(target.clients, workload, metrics["timeline"],
                                         metrics["runbook"]) == RESTORE_STEPS
    outputs = metrics["runbook"]["steps"][0]["outputs"]
    assert outputs["TableRecoveryPoint"] == [restore["recovery_points"]["dynamodb"]["copy"]]
    # No step ends before it begins (the probes may see the data readable before the runbook
    # ends, before the readable step is opened).
    assert all(to_utc(s["ended_at"]) >= to_utc(s["started_at"]) for s in metrics["timeline"])
    assert 0 < measured["rto_seconds"] <= metrics["targets"]["rto_seconds"]

    # Recomputed with plain pandas from canaries.csv and the instants.
    frame = pd.read_csv(run.run_dir / "canaries.csv")
    instants = measured["instants"]
    declared = pd.Timestamp(instants["disaster_declared_at"])
    corrupted = pd.Timestamp(instants["corrupted_at"])
    frame["acked"] = pd.to_datetime(frame["acked_at"], format="ISO8601")
    for store in ("dynamodb", "s3"):
        rows = frame[(frame["store"] == store) & frame["acked"].notna()
                     & (frame["acked"] < corrupted)]
        present = rows["present_in_new_primary"].astype(str).str.lower() == "true"
        lost = rows[~present]
        assert sorted(lost["seq"]) == measured["rpo"][store]["lost_seqs"], store
        # Canaries wrote while the backup was copied: records after the recovery point are
        # lost, those before it came back.
        assert len(lost) >= 1, store
        assert present.sum() >= 1, store
        span = (corrupted - lost["acked"].min()).total_seconds()
        assert measured["rpo"][store]["span_seconds"] == pytest.approx(span, abs=1e-6)
        readable = pd.Timestamp(instants["restored_readable_at"][store])
        assert measured["rto_per_store"][store]["rto_seconds"] == pytest.approx(
            (readable - declared).total_seconds(), abs=1e-6)

    # Put back in the live data of both regions; the restored copies are gone.
    key = {"pk": {"S": restore["victim_key"]}, "sk": {"S": "item"}}
    for region in (workload.regions.primary, secondary):
        dynamodb = target.clients.client("dynamodb", region)
        wait_until(lambda d=dynamodb: "Item" in d.get_item(TableName=workload.table_name,
                                                            Key=key),
                   description=f"the victim item back in {region}", timeout=10)
    target.clients.client("s3", workload.regions.primary).head_object(
        Bucket=workload.primary.bucket, Key=restore["victim_key"])
    tables = target.clients.client("dynamodb", secondary).list_tables()["TableNames"]
    assert restore["restored_into"]["dynamodb"] not in tables


def test_a_failed_restore_aborts_and_lifts_the_corruption(deployed: tuple[Target, Workload],
                                                          tmp_path: Path) -> None:
    """A restore runbook that fails (no such vault) aborts the drill naming its step, and the
    abort path writes the victim item and object back into the live data."""
    target, workload = deployed
    run = drill(deployed, "data-corruption", tmp_path,
                runbook_parameters={"BackupVaultName": "no-such-vault"})
    with pytest.raises(DrillAborted) as caught:
        run_scenario(run)
    assert "at step FindRecoveryPoints" in caught.value.render()
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["status"] == "aborted"
    assert "victim" in metrics["restore"]["cleaned_up"][0]
    key = metrics["restore"]["victim_key"]
    item = target.clients.client("dynamodb", workload.regions.primary).get_item(
        TableName=workload.table_name, Key={"pk": {"S": key}, "sk": {"S": "item"}})
    assert "Item" in item
    target.clients.client("s3", workload.regions.primary).head_object(
        Bucket=workload.primary.bucket, Key=key)
