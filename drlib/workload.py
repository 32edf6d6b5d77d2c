"""The deployed workload a drill acts on, discovered from the stacks' outputs.

:func:`discover_workload` reads the outputs of both stack groups (through :mod:`drlib.stacks`)
and returns a :class:`Workload`: the global cluster and its regional clusters, the table, the
buckets, the load balancers, the Auto Scaling groups, the DNS name and health checks. Nothing here
knows the target: the same outputs exist on AWS and on the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients, RegionPair
from drlib.canary import PgEndpoint
from drlib.errors import ConfigError, StackError


@dataclass(frozen=True)
class RegionalStack:
    """What one region of the workload consists of."""

    region: str
    cluster_id: str
    bucket: str
    load_balancer_dns: str
    asg_name: str
    health_check_id: str | None = None


@dataclass(frozen=True)
class Workload:
    """The workload of one environment, as deployed."""

    environment: str
    regions: RegionPair
    global_cluster_id: str
    table_name: str
    database_secret_arn: str
    database_name: str
    hosted_zone_id: str
    app_dns_name: str
    primary: RegionalStack
    secondary: RegionalStack
    sns_topic_arn: str | None = None
    evidence_bucket: str | None = None
    runbooks: Mapping[str, str] = field(default_factory=dict)
    """The DR procedure's SSM Automation runbooks in the secondary region, by purpose
    (``planned-switchover``, ``unplanned-failover``, ``failback``)."""
    extra: Mapping[str, str] = field(default_factory=dict)

    def regional(self, region: str) -> RegionalStack:
        """The regional part of the workload in ``region``."""
        for part in (self.primary, self.secondary):
            if part.region == region:
                return part
        raise ConfigError(f"{region} is not a region of this workload",
                          expected=f"{self.regions.primary} or {self.regions.secondary}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (no secrets: the secret is named, not read)."""
        return asdict(self)


RUNBOOK_OUTPUTS: Mapping[str, str] = {
    "planned-switchover": "PlannedSwitchoverRunbookName",
    "unplanned-failover": "UnplannedFailoverRunbookName",
    "failback": "FailbackRunbookName",
    "data-corruption": "RestoreRunbookName",
}
"""The dr-automation stack outputs naming the procedure runbooks, by purpose."""


def _lookup(outputs: Mapping[str, Mapping[str, str]], group: str, *keys: str,
            required: bool = True) -> str | None:
    for path in sorted(outputs):
        if not path.startswith(f"{group}/"):
            continue
        for key in keys:
            value = outputs[path].get(key)
            if value:
                return value
    if not required:
        return None
    available = sorted({k for p, o in outputs.items() if p.startswith(f"{group}/") for k in o})
    raise StackError(f"The {group} stacks have no output {' or '.join(keys)}",
                     expected=f"an output named {keys[0]} in a {group}/ stack",
                     found=", ".join(available) or "no outputs (are the stacks deployed?)",
                     fix=f"deploy first: run notebook 00_deploy, or `drlib stacks launch "
                         f"--env <env> --group {group}`")


def workload_from_outputs(environment: str, regions: RegionPair,
                          outputs: Mapping[str, Mapping[str, str]]) -> Workload:
    """Build the :class:`Workload` from every stack's outputs, keyed by Sceptre path."""

    def get(group: str, *keys: str) -> str:
        value = _lookup(outputs, group, *keys)
        assert value is not None
        return value

    def maybe(group: str, *keys: str) -> str | None:
        return _lookup(outputs, group, *keys, required=False)

    primary = RegionalStack(
        region=regions.primary, cluster_id=get("primary", "ClusterIdentifier"),
        bucket=get("primary", "DataBucketName"),
        load_balancer_dns=get("primary", "LoadBalancerDNSName"),
        asg_name=get("primary", "AutoScalingGroupName"),
        health_check_id=maybe("secondary", "PrimaryHealthCheckId")
        or maybe("primary", "PrimaryHealthCheckId", "HealthCheckId"))
    secondary = RegionalStack(
        region=regions.secondary, cluster_id=get("secondary", "ClusterIdentifier"),
        bucket=get("secondary", "ReplicaBucketName"),
        load_balancer_dns=get("secondary", "LoadBalancerDNSName"),
        asg_name=get("secondary", "AutoScalingGroupName"),
        health_check_id=maybe("secondary", "SecondaryHealthCheckId"))
    return Workload(
        environment=environment, regions=regions,
        global_cluster_id=get("primary", "GlobalClusterIdentifier"),
        table_name=get("primary", "TableName"),
        database_secret_arn=get("primary", "DatabaseSecretArn"),
        database_name=maybe("primary", "DatabaseName") or "postgres",
        hosted_zone_id=get("secondary", "HostedZoneId"),
        app_dns_name=get("secondary", "AppDnsName", "ApplicationDnsName"),
        primary=primary, secondary=secondary,
        sns_topic_arn=maybe("primary", "TopicArn", "NotificationTopicArn", "DrTopicArn"),
        evidence_bucket=maybe("secondary", "EvidenceBucketName")
        or maybe("primary", "EvidenceBucketName"),
        runbooks={purpose: name for purpose, key in RUNBOOK_OUTPUTS.items()
                  if (name := maybe("secondary", key))},
        extra={"ReplicationRuleId": maybe("primary", "ReplicationRuleId") or "",
               "SecondaryTopicArn": maybe("secondary", "NotificationTopicArn") or ""})


STACK_OUTPUTS_FILE = "stack_outputs.json"
"""In a drill's run folder: every stack's outputs as the runner read them after the chain's
deploy, or as it took the drill lock when the chain deploys nothing (the workload the chain's
later notebooks act on)."""
STACK_OUTPUTS_VARIABLE = "DRLIB_STACK_OUTPUTS"
"""Set by the runner for the notebooks of its chain: the path of its :data:`STACK_OUTPUTS_FILE`."""


def record_stack_outputs(run_dir: Path, environment: str,
                         outputs: Mapping[str, Mapping[str, str]]) -> Path:
    """Write the stack outputs the runner read into ``run_dir`` (:data:`STACK_OUTPUTS_FILE`)."""
    from datetime import UTC, datetime

    path = run_dir / STACK_OUTPUTS_FILE
    path.write_text(json.dumps({
        "environment": environment, "read_at": datetime.now(UTC).isoformat(),
        "source": "CloudFormation DescribeStacks of every stack of the project, read by the "
                  "drill's runner after the chain's deploy (or, when the chain deploys "
                  "nothing, as it took the drill lock)",
        "stacks": {name: dict(values) for name, values in outputs.items()}}, indent=2))
    return path


def recorded_stack_outputs(environment: str, run_dir: Path
                           ) -> dict[str, dict[str, str]] | None:
    """The stack outputs the runner of this chain recorded (:func:`record_stack_outputs`), so
    the chain's notebooks do not each read every stack again (a second of each notebook); None
    (read the stacks) outside a chain, for another run folder or environment, or when the record
    cannot be read."""
    import os

    named = os.environ.get(STACK_OUTPUTS_VARIABLE)
    if not named:
        return None
    path = Path(named)
    try:
        if path.resolve() != (run_dir / STACK_OUTPUTS_FILE).resolve():
            return None
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("environment") != environment or \
            not isinstance(record.get("stacks"), dict):
        return None
    stacks = record["stacks"]
    return {str(name): {str(k): str(v) for k, v in values.items()}
            for name, values in stacks.items() if isinstance(values, dict)}


def chain_stack_outputs(environment: str, run_dir: Path | None, project: Any
                        ) -> Mapping[str, Mapping[str, str]]:
    """The stack outputs for a run in ``run_dir``: those its chain's runner recorded
    (:func:`recorded_stack_outputs`), else read from the stacks of ``project``."""
    recorded = recorded_stack_outputs(environment, run_dir) if run_dir is not None else None
    return recorded if recorded is not None else project.outputs("")


def discover_workload(environment: str, regions: RegionPair | None = None) -> Workload:
    """Read the deployed stacks of ``environment`` and describe its workload."""
    from drlib.stacks import SceptreProject

    project = SceptreProject(environment)
    regions = regions or project_regions(project.variables)
    return workload_from_outputs(environment, regions, project.outputs(""))


def project_regions(variables: Mapping[str, Any]) -> RegionPair:
    """The region pair an environment's var file declares (defaults when absent)."""
    defaults = RegionPair()
    return RegionPair(primary=str(variables.get("primary_region", defaults.primary)),
                      secondary=str(variables.get("secondary_region", defaults.secondary)))


# --- database access -----------------------------------------------------------------------------

def database_credentials(clients: AwsClients, workload: Workload) -> tuple[str, str]:
    """(username, password) from the cluster's master secret; the password is never logged.

    Read in the secret's own region, or, when that region does not answer (an outage: HTTP 5xx
    or no connection), from its replica in the other region of the pair, which Secrets Manager
    keeps under the same name (the templates replicate the secret to the secondary)."""
    arn = workload.database_secret_arn
    home = arn.split(":")[3] if arn.startswith("arn:") else workload.regions.primary
    others = [r for r in (workload.regions.primary, workload.regions.secondary) if r != home]
    try:
        value = _secret_value(clients, home, arn)
    except Exception as exc:
        if not others or not region_unreachable(exc):
            raise
        replica = arn.replace(f":{home}:", f":{others[0]}:") if arn.startswith("arn:") else arn
        value = _secret_value(clients, others[0], replica)
    try:
        document = json.loads(value["SecretString"])
        return str(document["username"]), str(document["password"])
    except (KeyError, ValueError) as exc:
        raise ConfigError("The database secret is not an RDS-style credential",
                          expected='JSON with "username" and "password"',
                          found=f"secret {arn} without them",
                          fix="point DatabaseSecretArn at the cluster's master secret") from exc


def _secret_value(clients: AwsClients, region: str, secret_id: str) -> dict[str, Any]:
    return dict(clients.client("secretsmanager", region).get_secret_value(SecretId=secret_id))


def region_unreachable(exc: BaseException) -> bool:
    """Whether an AWS call failed because the region's endpoint is unavailable (HTTP 5xx after
    the SDK's retries, or no connection), as in a regional outage, rather than a refusal."""
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status or 0) >= 500
    return False


def cluster_endpoint(clients: AwsClients, region: str, cluster_id: str,
                     reader: bool = False) -> tuple[str, int]:
    """(host, port) of a regional cluster's writer (or reader) endpoint, as RDS describes it."""
    cluster = clients.client("rds", region).describe_db_clusters(
        DBClusterIdentifier=cluster_id)["DBClusters"][0]
    host = cluster.get("ReaderEndpoint" if reader else "Endpoint") or cluster["Endpoint"]
    return str(host), int(cluster["Port"])


def pg_endpoints(clients: AwsClients, workload: Workload,
                 reader: bool) -> Callable[[str], PgEndpoint]:
    """A function region -> :class:`PgEndpoint` for the canaries (credentials read once)."""
    user, password = database_credentials(clients, workload)

    def endpoint(region: str) -> PgEndpoint:
        host, port = cluster_endpoint(clients, region, workload.regional(region).cluster_id,
                                      reader=reader)
        return PgEndpoint(host=host, port=port, user=user, password=password,
                          dbname=workload.database_name)

    return endpoint


def secret_values(clients: AwsClients, workload: Workload) -> Sequence[str]:
    """The secret values a run may have touched, for the evidence's leak check. Raises when
    they cannot be read: the caller records the scan as not performed (fail closed), never as
    clean."""
    return [database_credentials(clients, workload)[1]]
