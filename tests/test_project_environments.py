"""The real Sceptre project on the emulator, for every environment, both ways an engineer
launches it: through drlib (Sceptre's Python API) and through the `sceptre` command line.

Each launch is checked through the service APIs (global database members, replica bucket
versioning, table replicas, NAT gateway per AZ, health checks) and deleted again with nothing
left behind. A 5-character database password fails with CloudFormation's validation error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drlib.aws import AwsClients
from drlib.errors import StackError
from drlib.stacks import DEFAULT_PROJECT_DIR, SceptreProject, SimpleStatus
from drlib.workload import project_regions, workload_from_outputs
from tests.fresh_path import fresh_machine_environment

pytestmark = pytest.mark.slow

ENVIRONMENTS = ("dev", "staging", "prod")


def check_deployed(aws: AwsClients, project: SceptreProject) -> None:
    """What the templates declare is there, with its configuration, in both regions."""
    regions = project_regions(project.variables)
    workload = workload_from_outputs(project.environment, regions, project.outputs(""))
    members = aws.client("rds", regions.primary).describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0][
        "GlobalClusterMembers"]
    assert sorted(m["DBClusterArn"].split(":")[3] for m in members) == sorted(
        [regions.primary, regions.secondary])
    assert [m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"]] == [
        regions.primary]
    replica = aws.client("s3", regions.secondary)
    assert replica.get_bucket_versioning(Bucket=workload.secondary.bucket)["Status"] == "Enabled"
    table = aws.client("dynamodb", regions.primary).describe_table(
        TableName=workload.table_name)["Table"]
    assert {r["RegionName"] for r in table["Replicas"]} >= {regions.secondary}
    for region in (regions.primary, regions.secondary):
        nats = [n for n in aws.client("ec2", region).describe_nat_gateways()["NatGateways"]
                if n["State"] == "available"]
        subnets = aws.client("ec2", region).describe_subnets(
            SubnetIds=[n["SubnetId"] for n in nats])["Subnets"]
        assert len({s["AvailabilityZone"] for s in subnets}) == len(nats) >= 2
    protection = aws.client("rds", regions.primary).describe_db_clusters(
        DBClusterIdentifier=workload.primary.cluster_id)["DBClusters"][0]["DeletionProtection"]
    assert protection is bool(project.variables["deletion_protection"])
    assert workload.primary.health_check_id
    assert workload.secondary.health_check_id


def delete_everything(aws: AwsClients, project: SceptreProject) -> None:
    """Delete the project (lifting deletion protection first where the environment has it, as
    an engineer must) and check nothing but retained resources is left."""
    regions = project_regions(project.variables)
    if project.variables["deletion_protection"]:
        for region in (regions.primary, regions.secondary):
            rds = aws.client("rds", region)
            for cluster in rds.describe_db_clusters()["DBClusters"]:
                rds.modify_db_cluster(DBClusterIdentifier=cluster["DBClusterIdentifier"],
                                      DeletionProtection=False, ApplyImmediately=True)
    project.delete("")
    assert {i.status for i in project.status("")} == {SimpleStatus.ABSENT}
    for region in (regions.primary, regions.secondary):
        assert aws.client("rds", region).describe_db_clusters()["DBClusters"] == []
        vpcs = aws.client("ec2", region).describe_vpcs()["Vpcs"]
        assert [v for v in vpcs if not v.get("IsDefault")] == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_launch_through_drlib(environment: str, aws: AwsClients,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Both groups launch through drlib, every check holds, and delete leaves nothing."""
    monkeypatch.delenv("DR_DATABASE_MASTER_PASSWORD", raising=False)
    project = SceptreProject(environment)
    infos = project.launch("")
    assert {i.status for i in infos} == {SimpleStatus.COMPLETE}
    check_deployed(aws, project)
    delete_everything(aws, project)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_launch_through_the_sceptre_command_line(environment: str, aws: AwsClients,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`.venv/bin/sceptre --var-file vars/<env>.yaml launch --yes primary`, then `secondary`,
    works as an engineer runs it by hand, with a new machine's PATH and nothing activated."""
    monkeypatch.delenv("DR_DATABASE_MASTER_PASSWORD", raising=False)
    sceptre = str(Path(sys.executable).parent / "sceptre")
    env = fresh_machine_environment()
    for group in ("primary", "secondary"):
        done = subprocess.run([sceptre, "--var-file", f"vars/{environment}.yaml", "launch",
                               "--yes", group], cwd=DEFAULT_PROJECT_DIR, capture_output=True,
                              text=True, env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    project = SceptreProject(environment)
    check_deployed(aws, project)
    delete_everything(aws, project)


def test_short_password_fails_with_the_validation_error(aws: AwsClients,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5-character master password is refused before the stack changes (the preflight hook),
    naming the variable."""
    monkeypatch.setenv("DR_DATABASE_MASTER_PASSWORD", "abcde")
    project = SceptreProject("dev")
    with pytest.raises(StackError) as info:
        project.launch("primary/database.yaml")
    assert "DR_DATABASE_MASTER_PASSWORD" in info.value.render()
    assert "abcde" not in info.value.render()
    stacks = aws.client("cloudformation", "us-east-1").list_stacks()["StackSummaries"]
    assert not any(s["StackName"].endswith("primary-database") and
                   s["StackStatus"] == "CREATE_COMPLETE" for s in stacks)
