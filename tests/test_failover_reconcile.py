"""After an unplanned failover, the templates and the world: the procedure of the README
("After an unplanned failover: drift and reconciliation") run on the emulator.

An unplanned failover (``drlib failover`` with the primary region down) leaves the global
database's writer in the secondary region and the secondary application tier scaled up.
``drlib stacks drift`` then shows the database stacks in sync (no template property says which
cluster writes) and the scaled-up Auto Scaling group as the only drift; ``drlib stacks launch``
and ``sceptre launch`` with unchanged settings change nothing; a launch with changed settings
updates the database resources in place (never replaced, the writer stays where it is); keeping
the secondary as the active region means writing its size into the var file; failing back and
launching the original settings brings everything back in sync.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.server import Emulator
from drlib.incident import FailoverRequest, run_failover
from drlib.runbook import start_runbook
from drlib.stacks import SceptreProject
from drlib.waiting import wait_until
from drlib.workload import Workload, pg_endpoints, project_regions, workload_from_outputs

pytestmark = pytest.mark.slow

SCEPTRE_DIR = Path(__file__).resolve().parents[1] / "sceptre"


@pytest.fixture
def deployed(emulator: Emulator) -> Iterator[tuple[SceptreProject, AwsClients, Workload]]:
    emulator.reset()
    project = SceptreProject("dev")
    project.launch("")
    clients = AwsClients(endpoint_url=emulator.endpoint_url,
                         credentials={"aws_access_key_id": "testing",
                                      "aws_secret_access_key": "testing"})
    workload = workload_from_outputs("dev", project_regions(project.variables),
                                     project.outputs(""))
    try:
        yield project, clients, workload
    finally:
        faults.clear()


def global_database(clients: AwsClients, workload: Workload) -> dict[str, Any]:
    """What must not change: the global cluster, its members, each cluster's resource id (a
    replaced cluster gets a new one), which one writes."""
    rds = clients.client("rds", workload.regions.secondary)
    found = rds.describe_global_clusters(GlobalClusterIdentifier=workload.global_cluster_id)[
        "GlobalClusters"][0]
    clusters = {}
    for member in found["GlobalClusterMembers"]:
        region = member["DBClusterArn"].split(":")[3]
        cluster = clients.client("rds", region).describe_db_clusters(
            DBClusterIdentifier=member["DBClusterArn"].rsplit(":", 1)[-1])["DBClusters"][0]
        clusters[cluster["DBClusterIdentifier"]] = {
            "resource_id": cluster["DbClusterResourceId"], "writer": member["IsWriter"],
            "status": cluster["Status"]}
    return {"id": found["GlobalClusterResourceId"], "status": found["Status"],
            "clusters": clusters}


def synchronized(clients: AwsClients, workload: Workload) -> bool:
    members = clients.client("rds", workload.regions.secondary).describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0][
        "GlobalClusterMembers"]
    return all(m["IsWriter"] or m.get("SynchronizationStatus") == "connected" for m in members)


def drifted(project: SceptreProject) -> dict[str, list[tuple[str, list[tuple[str, str, str]]]]]:
    """Every stack that is not in sync: its drifted resources and their differences."""
    found = {}
    for stack in project.drift(""):
        assert stack.detection == "DETECTION_COMPLETE", (stack.path, stack.reason)
        if stack.status != "IN_SYNC":
            found[stack.path] = [(r.logical_id, [(d.path, d.expected, d.actual)
                                                 for d in r.differences])
                                 for r in stack.drifted]
    return found


def statuses(project: SceptreProject) -> dict[str, str | None]:
    return {info.path: info.cfn_status for info in project.status("")}


def app_group(clients: AwsClients, workload: Workload) -> tuple[str, int]:
    name = workload.secondary.asg_name
    group = clients.client("autoscaling", workload.regions.secondary).describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return str(group["AutoScalingGroupName"]), int(group["DesiredCapacity"])


def backup_days(clients: AwsClients, workload: Workload) -> dict[str, int]:
    return {cluster: int(clients.client("rds", region).describe_db_clusters(
        DBClusterIdentifier=cluster)["DBClusters"][0]["BackupRetentionPeriod"])
        for cluster, region in ((workload.primary.cluster_id, workload.regions.primary),
                                (workload.secondary.cluster_id, workload.regions.secondary))}


def query(clients: AwsClients, workload: Workload, region: str, sql: str,
          *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    endpoint = pg_endpoints(clients, workload, reader=False)(region)
    with psycopg.connect(host=endpoint.host, port=endpoint.port, user=endpoint.user,
                         password=endpoint.password, dbname=endpoint.dbname, autocommit=True,
                         connect_timeout=5) as connection:
        cursor = connection.execute(sql, args)
        return list(cursor.fetchall()) if cursor.description else []


def launch_with(variables: Mapping[str, Any]) -> None:
    SceptreProject("dev", variables=variables).launch("")


def test_launch_after_an_unplanned_failover_keeps_the_global_database(
        deployed: tuple[SceptreProject, AwsClients, Workload], tmp_path: Path) -> None:
    project, clients, workload = deployed
    primary, secondary = workload.regions.primary, workload.regions.secondary

    # The incident: the primary region is lost; the on-call engineer runs drlib failover.
    faults.take_region_down(primary)
    result = run_failover(FailoverRequest("dev", "local", confirmed=True, outputs_dir=tmp_path),
                          progress=lambda line: None)
    assert result.status == "completed", result.record.get("error")
    query(clients, workload, secondary, "CREATE TABLE IF NOT EXISTS after_failover (note text)")
    query(clients, workload, secondary, "INSERT INTO after_failover VALUES (%s)", "written")
    # The region comes back; Aurora rebuilds its old primary as a secondary.
    faults.bring_region_up(primary)
    wait_until(lambda: synchronized(clients, workload), description="the old primary to resync",
               timeout=120, interval=0.5)
    world = global_database(clients, workload)
    assert world["clusters"][workload.secondary.cluster_id]["writer"] is True
    assert world["clusters"][workload.primary.cluster_id]["writer"] is False

    # Drift: no template property says which cluster writes, so the database stacks are in
    # sync; the standby application tier the runbook scaled up is the one difference.
    assert drifted(project) == {"secondary/app": [
        ("AutoScalingGroup", [("/DesiredCapacity", "1", "2")])]}

    # Launch with unchanged settings, drlib and the sceptre command line: nothing to update.
    before = statuses(project)
    project.launch("")
    command = [str(Path(sys.executable).parent / "sceptre"), "--var-file", "vars/dev.yaml",
               "launch", "--yes", "primary/database.yaml"]
    done = subprocess.run(command, cwd=SCEPTRE_DIR, capture_output=True, text=True, check=False,
                          env=dict(os.environ), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert statuses(project) == before
    assert global_database(clients, workload) == world
    assert app_group(clients, workload)[1] == 2

    # Keep operating from the secondary: its active size goes into the var file (with a
    # database setting changed meanwhile). The database resources are modified in place, the
    # writer stays, the data written since the failover is there, and everything is in sync.
    active = {"secondary_asg_desired": 2, "db_backup_retention_days": 3}
    group_name = app_group(clients, workload)[0]
    launch_with(active)
    assert global_database(clients, workload) == world
    assert backup_days(clients, workload) == {workload.primary.cluster_id: 3,
                                              workload.secondary.cluster_id: 3}
    assert app_group(clients, workload) == (group_name, 2)
    assert query(clients, workload, secondary, "SELECT note FROM after_failover") == [
        ("written",)]
    assert drifted(SceptreProject("dev", variables=active)) == {}

    # The hazard the README warns of: a launch that modifies the standby Auto Scaling group
    # without the active size sets it back to the template's size (CloudFormation's update).
    launch_with({**active, "secondary_asg_desired": 1, "secondary_asg_max": 5})
    assert app_group(clients, workload) == (group_name, 1)
    assert global_database(clients, workload) == world

    # Back in line: fail back (the failback runbook), then launch the original var file.
    start_runbook(clients, workload, "failback").wait(timeout=300)
    project.launch("")
    after = global_database(clients, workload)
    assert after["clusters"][workload.primary.cluster_id]["writer"] is True
    assert {k: v["resource_id"] for k, v in after["clusters"].items()} == {
        k: v["resource_id"] for k, v in world["clusters"].items()}
    assert query(clients, workload, primary, "SELECT note FROM after_failover") == [
        ("written",)]
    assert drifted(project) == {}
