"""The Aurora stand-in through the RDS API: real PostgreSQL behind clusters, credentials, faults."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests
from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.emulator import faults
from drlib.emulator.extensions import aurora
from drlib.errors import WaitTimeout
from drlib.waiting import wait_until

PASSWORD = "aurora-test-password"
GLOBAL_ID = "drill-gdb"
EAST, WEST = "us-east-1", "us-west-2"


def connect(cluster: dict[str, Any], password: str = PASSWORD, user: str = "master",
            dbname: str = "app", reader: bool = False) -> psycopg.Connection:
    """Connect as an application would: endpoint, port and master credentials from RDS."""
    host = cluster["ReaderEndpoint"] if reader else cluster["Endpoint"]
    return psycopg.connect(host=host, port=cluster["Port"], user=user, password=password,
                           dbname=dbname, autocommit=True, connect_timeout=5)


def describe(aws: AwsClients, region: str, identifier: str) -> dict[str, Any]:
    """describe_db_clusters for one cluster."""
    clusters = aws.client("rds", region).describe_db_clusters(DBClusterIdentifier=identifier)
    return clusters["DBClusters"][0]


def make_global_database(aws: AwsClients) -> tuple[dict[str, Any], dict[str, Any]]:
    """A global database: writer cluster in us-east-1, secondary in us-west-2."""
    east, west = aws.client("rds", EAST), aws.client("rds", WEST)
    east.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-postgresql")
    primary = east.create_db_cluster(
        DBClusterIdentifier="app-east", Engine="aurora-postgresql",
        GlobalClusterIdentifier=GLOBAL_ID, MasterUsername="master",
        MasterUserPassword=PASSWORD, DatabaseName="app")["DBCluster"]
    secondary = west.create_db_cluster(
        DBClusterIdentifier="app-west", Engine="aurora-postgresql",
        GlobalClusterIdentifier=GLOBAL_ID)["DBCluster"]
    return primary, secondary


def global_cluster(aws: AwsClients, region: str = EAST) -> dict[str, Any]:
    """The global cluster as DescribeGlobalClusters returns it (asked in ``region``)."""
    answer = aws.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)
    return answer["GlobalClusters"][0]


def wait_available(aws: AwsClients, timeout: float = 60, region: str = EAST) -> dict[str, Any]:
    """Poll the global cluster, as a drill does, until its operation has finished."""
    return wait_until(lambda: (gc if (gc := global_cluster(aws, region))["Status"] == "available"
                               else None),
                      description="the global cluster to be available", timeout=timeout,
                      interval=0.05)


def writer_arn(gc: dict[str, Any]) -> str:
    """The ARN of the member that is the writer."""
    return next(m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"])


def rows(cluster: dict[str, Any], reader: bool = False) -> list[int]:
    """The ids in the canary table, read through the cluster's endpoint."""
    with connect(cluster, reader=reader) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM canary ORDER BY id").fetchall()]


def wait_rows(cluster: dict[str, Any], expected: list[int], timeout: float = 10) -> None:
    """Wait until the cluster's reader endpoint shows exactly ``expected``."""
    def shows() -> bool:
        try:
            return rows(cluster, reader=True) == expected
        except psycopg.errors.UndefinedTable:  # the table itself has not arrived yet
            return False

    wait_until(shows,
               description=f"rows {expected} on {cluster['DBClusterIdentifier']}",
               timeout=timeout, interval=0.01)


def write(cluster: dict[str, Any], *ids: int) -> None:
    """Insert canary rows through the cluster's writer endpoint."""
    with connect(cluster) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS canary (id int PRIMARY KEY)")
        for i in ids:
            conn.execute("INSERT INTO canary VALUES (%s)", [i])


@pytest.mark.slow
def test_standalone_cluster_has_reachable_endpoint_and_master_user(aws: AwsClients) -> None:
    """A standalone cluster's endpoint reaches PostgreSQL; the master user owns DatabaseName."""
    rds = aws.client("rds", EAST)
    created = rds.create_db_cluster(DBClusterIdentifier="solo", Engine="aurora-postgresql",
                                    MasterUsername="master", MasterUserPassword=PASSWORD,
                                    DatabaseName="app")["DBCluster"]
    assert created["Status"] == "creating"
    cluster = describe(aws, EAST, "solo")
    assert cluster["Status"] == "available"
    assert cluster["Endpoint"] == cluster["ReaderEndpoint"] == "127.0.0.1"
    with connect(cluster) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (
            "app", "master")
        conn.execute("CREATE TABLE t (id int)")
    with pytest.raises(psycopg.OperationalError):
        connect(cluster, password="not-the-password")


@pytest.mark.slow
def test_global_cluster_from_existing_cluster_makes_it_the_writer(aws: AwsClients) -> None:
    """A global cluster made from an existing cluster: it writes, a new secondary reads."""
    east = aws.client("rds", EAST)
    source = east.create_db_cluster(
        DBClusterIdentifier="solo", Engine="aurora-postgresql", MasterUsername="master",
        MasterUserPassword=PASSWORD, DatabaseName="app")["DBCluster"]
    east.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID,
                               SourceDBClusterIdentifier=source["DBClusterArn"])
    assert writer_arn(global_cluster(aws)) == source["DBClusterArn"]
    aws.client("rds", WEST).create_db_cluster(
        DBClusterIdentifier="solo-west", Engine="aurora-postgresql",
        GlobalClusterIdentifier=GLOBAL_ID)
    write(describe(aws, EAST, "solo"), 1)
    wait_rows(describe(aws, WEST, "solo-west"), [1])


@pytest.mark.slow
def test_template_style_secret_gets_connection_fields(aws: AwsClients) -> None:
    """A secret holding the cluster's username/password gains host, port, dbname and engine."""
    sm = aws.client("secretsmanager", EAST)
    arn = sm.create_secret(Name="app/db", SecretString=json.dumps(
        {"username": "master", "password": PASSWORD}))["ARN"]
    sm.create_secret(Name="other", SecretString=json.dumps(
        {"username": "master", "password": "another-password"}))
    aws.client("rds", EAST).create_db_cluster(
        DBClusterIdentifier="solo", Engine="aurora-postgresql", MasterUsername="master",
        MasterUserPassword=PASSWORD, DatabaseName="app")
    secret = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    cluster = describe(aws, EAST, "solo")
    assert secret == {"username": "master", "password": PASSWORD, "engine": "postgres",
                      "host": "127.0.0.1", "port": cluster["Port"], "dbname": "app",
                      "dbClusterIdentifier": "solo"}
    other = json.loads(sm.get_secret_value(SecretId="other")["SecretString"])
    assert "host" not in other
    with psycopg.connect(host=secret["host"], port=secret["port"], user=secret["username"],
                         password=secret["password"], dbname=secret["dbname"],
                         connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.slow
def test_managed_master_password_lives_in_the_rds_secret(aws: AwsClients) -> None:
    """With ManageMasterUserPassword the MasterUserSecret holds a working username/password."""
    rds = aws.client("rds", EAST)
    created = rds.create_db_cluster(
        DBClusterIdentifier="managed", Engine="aurora-postgresql", MasterUsername="boss",
        ManageMasterUserPassword=True, DatabaseName="app")["DBCluster"]
    secret_arn = created["MasterUserSecret"]["SecretArn"]
    value = aws.client("secretsmanager", EAST).get_secret_value(SecretId=secret_arn)
    secret = json.loads(value["SecretString"])
    assert set(secret) == {"username", "password"}
    assert secret["username"] == "boss"
    cluster = describe(aws, EAST, "managed")
    with connect(cluster, password=secret["password"], user="boss") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("boss",)


@pytest.mark.slow
def test_modify_master_password_changes_the_postgres_password(aws: AwsClients) -> None:
    """ModifyDBCluster with a new MasterUserPassword changes what PostgreSQL accepts."""
    rds = aws.client("rds", EAST)
    rds.create_db_cluster(DBClusterIdentifier="solo", Engine="aurora-postgresql",
                          MasterUsername="master", MasterUserPassword=PASSWORD,
                          DatabaseName="app")
    rds.modify_db_cluster(DBClusterIdentifier="solo", MasterUserPassword="a-new-password",
                          ApplyImmediately=True)
    cluster = describe(aws, EAST, "solo")
    with pytest.raises(psycopg.OperationalError):
        connect(cluster)
    with connect(cluster, password="a-new-password") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.slow
def test_instances_and_control_route_point_at_the_cluster_server(
        aws: AwsClients, clean_emulator: Any) -> None:
    """A cluster's DB instance endpoint is its server; /_drlib/aurora lists the server."""
    rds = aws.client("rds", EAST)
    rds.create_db_cluster(DBClusterIdentifier="solo", Engine="aurora-postgresql",
                          MasterUsername="master", MasterUserPassword=PASSWORD,
                          DatabaseName="app")
    rds.create_db_instance(DBInstanceIdentifier="solo-1", DBClusterIdentifier="solo",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    cluster = describe(aws, EAST, "solo")
    instance = rds.describe_db_instances(DBInstanceIdentifier="solo-1")["DBInstances"][0]
    assert instance["Endpoint"]["Address"] == "127.0.0.1"
    assert instance["Endpoint"]["Port"] == cluster["Port"]
    servers = requests.get(f"{clean_emulator.endpoint_url}/_drlib/aurora", timeout=10).json()
    assert [(s["cluster"], s["role"], s["port"], s["running"]) for s in servers["servers"]] == [
        ("solo", "standalone", cluster["Port"], True)]


@pytest.mark.slow
def test_row_written_to_writer_is_visible_on_secondary_reader(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A commit on the writer endpoint shows on the secondary's reader endpoint; it is read-only."""
    primary, secondary = gdb
    assert secondary["Port"] != primary["Port"]
    write(primary, 1, 2)
    wait_rows(secondary, [1, 2], timeout=5)
    with connect(secondary) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO canary VALUES (3)")
    members = {m["DBClusterArn"]: m for m in global_cluster(aws)["GlobalClusterMembers"]}
    assert members[primary["DBClusterArn"]]["IsWriter"] is True
    assert members[secondary["DBClusterArn"]]["SynchronizationStatus"] == "connected"


@pytest.mark.slow
def test_switchover_and_failback_lose_nothing(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Switchover moves the writer west with RPO 0; switching back restores roles and rows."""
    primary, secondary = gdb
    write(primary, 1, 2, 3)
    east = aws.client("rds", EAST)
    started = east.switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID,
        TargetDbClusterIdentifier=secondary["DBClusterArn"])["GlobalCluster"]
    assert started["Status"] == "switching-over"
    assert started["FailoverState"]["ToDbClusterArn"] == secondary["DBClusterArn"]
    assert started["FailoverState"]["IsDataLossAllowed"] is False
    done = wait_available(aws)
    assert writer_arn(done) == secondary["DBClusterArn"]
    assert "FailoverState" not in done
    assert rows(secondary) == [1, 2, 3]
    write(secondary, 4)
    wait_rows(primary, [1, 2, 3, 4])
    with connect(primary) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO canary VALUES (5)")

    aws.client("rds", WEST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=primary["DBClusterArn"])
    assert writer_arn(wait_available(aws)) == primary["DBClusterArn"]
    write(primary, 5)
    wait_rows(secondary, [1, 2, 3, 4, 5])


@pytest.mark.slow
def test_failover_with_data_loss_loses_exactly_the_paused_rows_and_fences(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows written while replication is paused are lost; the old primary refuses writes."""
    monkeypatch.setattr(aurora, "RESYNC_DELAY", 120.0)  # keep it fenced while we look
    primary, secondary = gdb
    write(primary, 1, 2)
    wait_rows(secondary, [1, 2])
    faults.pause_replication("aurora")
    write(primary, 3, 4)
    started = aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"],
        AllowDataLoss=True)["GlobalCluster"]
    assert started["Status"] == "failing-over"
    assert started["FailoverState"]["IsDataLossAllowed"] is True
    done = wait_available(aws)
    members = {m["DBClusterArn"]: m for m in done["GlobalClusterMembers"]}
    assert members[secondary["DBClusterArn"]]["IsWriter"] is True
    assert members[primary["DBClusterArn"]]["IsWriter"] is False
    assert members[primary["DBClusterArn"]]["SynchronizationStatus"] == "pending-resync"
    assert rows(secondary) == [1, 2]
    write(secondary, 5)
    assert rows(primary) == [1, 2, 3, 4]  # the old primary still shows what was lost
    with connect(primary) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO canary VALUES (6)")


@pytest.mark.slow
def test_old_primary_is_resynced_after_failover_and_failback_works(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failover the old primary is rebuilt as a secondary; a switchover then fails back."""
    monkeypatch.setattr(aurora, "RESYNC_DELAY", 0.5)
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"],
        AllowDataLoss=True)
    wait_available(aws)
    write(secondary, 2)

    def resynced() -> bool:
        members = global_cluster(aws)["GlobalClusterMembers"]
        old = next(m for m in members if m["DBClusterArn"] == primary["DBClusterArn"])
        return old.get("SynchronizationStatus") == "connected"

    wait_until(resynced, description="the old primary to be resynchronised", timeout=30,
               interval=0.2)
    wait_rows(primary, [1, 2])
    aws.client("rds", EAST).switchover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=primary["DBClusterArn"])
    assert writer_arn(wait_available(aws)) == primary["DBClusterArn"]
    write(primary, 3)
    wait_rows(secondary, [1, 2, 3])


@pytest.mark.slow
def test_paused_replication_delivers_on_resume_and_delay_holds_rows_back(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Rows wait while aurora replication is paused and arrive on resume; a delay delays them."""
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.pause_replication("aurora")
    write(primary, 2)
    with pytest.raises(WaitTimeout):
        wait_rows(secondary, [1, 2], timeout=1)
    faults.resume_replication("aurora")
    wait_rows(secondary, [1, 2])
    faults.set_replication_delay("aurora", 1.0)
    began = time.monotonic()
    write(primary, 3)
    wait_rows(secondary, [1, 2, 3])
    assert time.monotonic() - began >= 0.9
    faults.clear()
    began = time.monotonic()
    write(primary, 4)
    wait_rows(secondary, [1, 2, 3, 4])
    assert time.monotonic() - began < 0.9


@pytest.mark.slow
def test_region_down_stops_the_primary_and_up_starts_it(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Losing the writer's region refuses connections; bringing it back serves the data again."""
    primary, _ = gdb
    write(primary, 1)
    faults.take_region_down(EAST)
    with pytest.raises(psycopg.OperationalError, match="refused"):
        connect(primary)
    faults.bring_region_up(EAST)
    assert rows(primary) == [1]
    write(primary, 2)


@pytest.mark.slow
def test_failover_while_region_down_fences_old_primary_when_it_returns(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An unplanned failover during a region outage leaves the old primary read-only on return."""
    monkeypatch.setattr(aurora, "RESYNC_DELAY", 120.0)  # keep it fenced while we look
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    faults.take_region_down(EAST)
    aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary["DBClusterArn"],
        AllowDataLoss=True)
    wait_available(aws, region=WEST)  # the downed region's RDS API does not answer
    write(secondary, 2)
    faults.bring_region_up(EAST)
    assert rows(primary) == [1]
    with connect(primary) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO canary VALUES (3)")


@pytest.mark.slow
def test_lag_metric_is_published_for_the_secondary(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """AuroraGlobalDBReplicationLag (AWS/RDS, Milliseconds) appears for the secondary's region."""
    monkeypatch.setattr(aurora, "PUBLISH_INTERVAL", 1.0)
    _, secondary = gdb
    cloudwatch = aws.client("cloudwatch", WEST)
    dimensions = [{"Name": "DBClusterIdentifier", "Value": secondary["DBClusterIdentifier"]}]

    def datapoints() -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS", MetricName="AuroraGlobalDBReplicationLag",
            Dimensions=dimensions, StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1), Period=60,
            Statistics=["Maximum", "SampleCount"])["Datapoints"]

    points = wait_until(datapoints, description="lag datapoints", timeout=20, interval=0.5)
    assert points[0]["Unit"] == "Milliseconds"
    assert 0 <= points[0]["Maximum"] < 1000
    names = {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="AWS/RDS", Dimensions=dimensions)["Metrics"]}
    assert names == {"AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"}
    assert aws.client("cloudwatch", EAST).list_metrics(Namespace="AWS/RDS")["Metrics"] == []


@pytest.mark.slow
def test_remove_from_global_cluster_makes_secondary_standalone_writer(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A detached secondary leaves the members and becomes writable with the replicated rows."""
    primary, secondary = gdb
    write(primary, 1)
    wait_rows(secondary, [1])
    answer = aws.client("rds", WEST).remove_from_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=secondary["DBClusterArn"])
    arns = [m["DBClusterArn"] for m in answer["GlobalCluster"]["GlobalClusterMembers"]]
    assert arns == [primary["DBClusterArn"]]
    wait_until(lambda: describe(aws, WEST, "app-west")["Status"] == "available",
               description="the detached cluster to be available", timeout=30, interval=0.1)
    write(secondary, 2)
    assert rows(secondary) == [1, 2]
    assert rows(primary) == [1]


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"GlobalClusterIdentifier": "nope", "AllowDataLoss": True}, "GlobalClusterNotFoundFault"),
    ({"GlobalClusterIdentifier": GLOBAL_ID, "AllowDataLoss": True, "Switchover": True},
     "InvalidParameterCombination"),
])
@pytest.mark.slow
def test_failover_rejects_bad_requests(aws: AwsClients,
                                       gdb: tuple[dict[str, Any], dict[str, Any]],
                                       kwargs: dict[str, Any], code: str) -> None:
    """FailoverGlobalCluster answers unknown clusters and conflicting flags with AWS's errors."""
    _, secondary = gdb
    with pytest.raises(ClientError) as caught:
        aws.client("rds", WEST).failover_global_cluster(
            TargetDbClusterIdentifier=secondary["DBClusterArn"], **kwargs)
    assert caught.value.response["Error"]["Code"] == code


@pytest.mark.slow
def test_failover_without_data_loss_is_a_switchover(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Without AllowDataLoss, FailoverGlobalCluster is a switchover: no data is lost."""
    primary, secondary = gdb
    write(primary, 1)
    started = aws.client("rds", WEST).failover_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID,
        TargetDbClusterIdentifier=secondary["DBClusterArn"])["GlobalCluster"]
    assert started["Status"] == "switching-over"
    assert writer_arn(wait_available(aws)) == secondary["DBClusterArn"]
    assert rows(secondary) == [1]


@pytest.mark.slow
def test_delete_refuses_a_writer_with_secondaries_then_cleans_up(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Deleting the writer first is refused; deleting in order stops every server."""
    east, west = aws.client("rds", EAST), aws.client("rds", WEST)
    with pytest.raises(ClientError, match="InvalidDBClusterStateFault"):
        east.delete_db_cluster(DBClusterIdentifier="app-east")
    west.delete_db_cluster(DBClusterIdentifier="app-west")
    east.delete_db_cluster(DBClusterIdentifier="app-east")
    east.delete_global_cluster(GlobalClusterIdentifier=GLOBAL_ID)
    assert list(aurora.iter_backings()) == []
    assert aurora.running_servers() == []


@pytest.mark.slow
def test_reset_leaves_no_postgres_running(aws: AwsClients, clean_emulator: Any) -> None:
    """An emulator reset stops every PostgreSQL server it started (CI shares the machine)."""
    make_global_database(aws)
    assert len(aurora.running_servers()) == 2
    clean_emulator.reset()
    assert aurora.running_servers() == []
    assert list(aurora.iter_backings()) == []


@pytest.mark.slow
def test_moto_reset_route_resets_aurora_and_reused_identifiers_work(
        aws: AwsClients, clean_emulator: Any) -> None:
    """moto's own /moto-api/reset stops every server, and reused identifiers meet no stale one."""
    make_global_database(aws)
    faults.take_region_down(WEST)
    assert len(aurora.running_servers()) == 1
    requests.post(f"{clean_emulator.endpoint_url}/moto-api/reset", timeout=60).raise_for_status()
    assert aurora.running_servers() == []
    assert list(aurora.iter_backings()) == []
    assert faults.snapshot()["regions_down"] == []
    primary, secondary = make_global_database(aws)
    write(primary, 1)
    wait_rows(secondary, [1])
    requests.post(f"{clean_emulator.endpoint_url}/moto-api/reset", timeout=60).raise_for_status()
    mysql = aws.client("rds", EAST).create_db_cluster(
        DBClusterIdentifier="app-east", Engine="aurora-mysql", MasterUsername="master",
        MasterUserPassword=PASSWORD)["DBCluster"]
    assert mysql["DBClusterArn"] == primary["DBClusterArn"]
    assert mysql["Endpoint"] != "127.0.0.1"
    assert describe(aws, EAST, "app-east")["Endpoint"].endswith(".rds.amazonaws.com")


def test_remove_from_global_cluster_refuses_a_non_member_as_aws_does(aws: AwsClients) -> None:
    """Removing a cluster that is not a member answers InvalidParameterValue; an unknown
    cluster DBClusterNotFoundFault; the global cluster keeps its members."""
    rds = aws.client("rds", EAST)
    rds.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-mysql")
    member = rds.create_db_cluster(DBClusterIdentifier="member", Engine="aurora-mysql",
                                   GlobalClusterIdentifier=GLOBAL_ID, MasterUsername="admin",
                                   MasterUserPassword=PASSWORD)["DBCluster"]
    other = rds.create_db_cluster(DBClusterIdentifier="other", Engine="aurora-mysql",
                                  MasterUsername="admin", MasterUserPassword=PASSWORD)["DBCluster"]
    for arn, code in [(other["DBClusterArn"], "InvalidParameterValue"),
                      (other["DBClusterArn"].replace(":other", ":nowhere"),
                       "DBClusterNotFoundFault")]:
        with pytest.raises(ClientError) as caught:
            rds.remove_from_global_cluster(GlobalClusterIdentifier=GLOBAL_ID,
                                           DbClusterIdentifier=arn)
        assert caught.value.response["Error"]["Code"] == code
    members = global_cluster(aws)["GlobalClusterMembers"]
    assert [m["DBClusterArn"] for m in members] == [member["DBClusterArn"]]


@pytest.mark.slow
def test_master_user_owns_postgres_and_database_name_as_on_aurora(
        aws: AwsClients, gdb: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The master user creates tables in postgres and in DatabaseName on the writer (they reach
    the secondary), owns template1, holds rds_superuser, and is not a PostgreSQL superuser."""
    primary, secondary = gdb
    for dbname in ("postgres", "app"):
        with connect(primary, dbname=dbname) as conn:
            conn.execute("CREATE TABLE public.users_table (id int PRIMARY KEY, db text)")
            conn.execute("INSERT INTO users_table VALUES (1, current_database())")
    for dbname in ("postgres", "app"):
        def replicated(dbname: str = dbname) -> bool:
            try:
                with connect(secondary, dbname=dbname, reader=True) as conn:
                    return conn.execute("SELECT db FROM users_table").fetchall() == [(dbname,)]
            except psycopg.errors.UndefinedTable:
                return False
        wait_until(replicated, description=f"the {dbname} table on the secondary",
                   timeout=10, interval=0.05)
    with connect(primary, dbname="postgres") as conn:
        owners = dict(conn.execute(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
            "WHERE datname IN ('postgres', 'template1', 'app')").fetchall())
        assert owners == {"postgres": "master", "template1": "master", "app": "master"}
        super_, createdb, createrole = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user").fetchone()
        assert (super_, createdb, createrole) == (False, True, True)
        assert conn.execute("SELECT pg_has_role('rds_superuser', 'MEMBER')").fetchone() == (True,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER SYSTEM SET work_mem = '8MB'")  # superuser-only, as on Aurora


@pytest.mark.slow
def test_requested_port_is_honoured_when_free_and_replaced_when_taken(aws: AwsClients) -> None:
    """A cluster listens on the Port it asked for when loopback has it free, else on another."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        free = aurora.usable_port(taken + 1) or aurora.usable_port(taken + 2)
        assert free is not None
        assert aurora.usable_port(taken) is None
        rds = aws.client("rds", EAST)
        for identifier, port in (("on-free", free), ("on-taken", taken)):
            rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-postgresql",
                                  MasterUsername="master", MasterUserPassword=PASSWORD,
                                  DatabaseName="app", Port=port)
        assert describe(aws, EAST, "on-free")["Port"] == free
        fallback = describe(aws, EAST, "on-taken")
        assert fallback["Port"] != taken
        with connect(fallback) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize(("free_gib", "in_memory"), [(8, True), (1, False)])
def test_server_data_goes_to_memory_only_where_there_is_room(
        free_gib: int, in_memory: bool, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers' throwaway data goes to the memory folder (a tmpfs) while it has 4 GiB free,
    else to the temporary folder; one folder per emulator process either way, and both places
    are swept of dead emulators' data."""
    import os
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    from drlib.emulator import state

    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setattr(state.current, "state_dir", tmp_path / "state")
    monkeypatch.setattr(aurora, "MEMORY_DIR", memory)
    monkeypatch.setattr(aurora.os, "statvfs", lambda path: SimpleNamespace(
        f_bavail=free_gib * 1024**3 // 4096, f_frsize=4096))
    root = aurora.data_root()
    parents = aurora.root_parents()
    assert parents[0].parent == memory
    assert parents[1].parent == Path(tempfile.gettempdir())
    if os.geteuid() != 0 and not in_memory:
        assert root.name == "aurora"  # a user's data stays in the state dir
        return
    assert root.parent == parents[0 if in_memory else 1]
    assert root.name.endswith(f"-{os.getpid()}")
