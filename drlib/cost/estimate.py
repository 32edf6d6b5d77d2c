"""Monthly cost estimate of an environment from its Sceptre templates, var file and price table.

The templates say what exists (NAT gateways per AZ, load balancers, Aurora instances and their
classes, keys, secrets, health checks, alarms, dashboards...); the var file says how big; usage
that no template states (data volumes, request rates) comes from :class:`CostAssumptions`, whose
defaults are documented and shown beside the result. Every line names the resource it prices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from drlib.cost.prices import HOURS_PER_MONTH, PriceTable, load_price_table
from drlib.cost.project import UNKNOWN, ResolvedProject, ResolvedResource, load_project
from drlib.errors import ConfigError

log = logging.getLogger(__name__)

COMPONENTS = ("database", "compute", "nat", "load_balancer", "storage", "dns_health_checks",
              "monitoring", "keys_secrets", "replication_transfer", "backup", "network")
LINE_COLUMNS = ["region", "role", "component", "service", "resource", "item", "variant",
                "quantity", "unit", "unit_price_usd", "monthly_usd", "basis"]


@dataclass(frozen=True)
class CostAssumptions:
    """Usage the templates cannot state; each field is a documented, overridable input."""

    hours_per_month: float = HOURS_PER_MONTH  # AWS's convention for monthly prices
    aurora_storage_gb: float = 50.0  # cluster volume per region (each region stores a copy)
    aurora_io_millions: float = 20.0  # Aurora Standard I/O requests per month, writer region
    aurora_backup_gb: float = 10.0  # backup storage beyond the free 100% of the volume
    aurora_serverless_acu: float = 1.0  # average ACUs of a db.serverless instance
    nat_gb_per_gateway: float = 20.0  # data processed by each NAT gateway per month
    alb_lcu: float = 1.0  # average LCUs per load balancer
    ebs_gb_per_instance: float = 8.0  # root volume when the launch template states none
    dynamodb_storage_gb: float = 5.0  # per table per replica region
    dynamodb_wru_millions: float = 10.0  # write request units per month, per table
    dynamodb_rru_millions: float = 20.0  # read request units per month, per table
    dynamodb_item_kb: float = 1.0  # average item size, for replication transfer
    s3_storage_gb: float = 20.0  # per bucket
    s3_put_thousands: float = 100.0  # PUT/COPY/LIST per bucket per month
    s3_get_thousands: float = 500.0  # GET per bucket per month
    s3_replicated_gb: float = 10.0  # new or changed data replicated per replicating bucket
    route53_queries_millions: float = 1.0  # per hosted zone
    health_check_endpoint: str = "aws"  # "aws" (ALB, CloudFront...) or "non-aws"
    log_ingest_gb: float = 1.0  # per log group per month
    kms_requests_10k: float = 10.0  # per key per month
    lambda_invocations_millions: float = 0.05  # per function per month
    lambda_duration_s: float = 1.0  # average duration per invocation
    sns_publishes_millions: float = 0.01  # per topic per month
    backup_storage_gb: float = 50.0  # per backup plan, in its region
    backup_copy_gb: float = 50.0  # copied cross-region per month by plans with copy actions
    interface_endpoint_gb: float = 5.0  # per interface endpoint per month

    def table(self) -> pd.DataFrame:
        """The assumptions as a two-column table (name, value) for the notebook."""
        return pd.DataFrame([{"assumption": f.name, "value": getattr(self, f.name)}
                             for f in fields(self)])

    def with_overrides(self, overrides: dict[str, Any] | None) -> CostAssumptions:
        """A copy with ``overrides``; unknown names raise ConfigError."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError("Unknown cost assumptions", found=", ".join(sorted(unknown)),
                              expected=", ".join(f.name for f in fields(self)))
        return replace(self, **overrides)


@dataclass
class _Context:
    prices: PriceTable
    assume: CostAssumptions
    project: ResolvedProject
    roles: dict[str, str]

    def role(self, region: str) -> str:
        return self.roles.get(region, "standby")


@dataclass(frozen=True)
class Line:
    """One priced quantity of one resource."""

    region: str
    role: str
    component: str
    service: str
    resource: str
    item: str
    variant: str | None
    quantity: float
    unit: str
    unit_price_usd: float
    monthly_usd: float
    basis: str


def _line(ctx: _Context, res: ResolvedResource, component: str, item: str, quantity: float,
          basis: str, *, variant: str | None = None, hourly: bool = False,
          region: str | None = None) -> Line:
    region = region or res.region
    entry = ctx.prices.entry(item, variant)
    price = ctx.prices.price(item, region, variant)
    hours = ctx.assume.hours_per_month if hourly else 1.0
    if res.condition_unknown:
        basis += "; its condition is unknown before deployment (counted)"
    return Line(region=region, role=ctx.role(region), component=component,
                service=entry.service, resource=res.name, item=item, variant=variant,
                quantity=quantity * hours, unit=entry.unit, unit_price_usd=price,
                monthly_usd=price * quantity * hours, basis=basis)


def _known(res: ResolvedResource, value: Any, what: str) -> Any:
    if value is UNKNOWN or value is None:
        raise ConfigError(f"{res.name}: {what} is not known from the templates and var file",
                          expected=f"{what} set by a parameter or literal",
                          found="an unresolved value (a resolver, GetAtt or missing parameter)",
                          fix="set it in the environment's var file")
    return value


# --- pricing per resource type -----------------------------------------------------------------


def _db_instance(ctx: _Context, res: ResolvedResource) -> list[Line]:
    cls = str(_known(res, res.prop("DBInstanceClass"), "DBInstanceClass"))
    if cls == "db.serverless":
        return [_line(ctx, res, "database", "aurora.serverless_v2",
                      ctx.assume.aurora_serverless_acu, "average ACUs x 730 h", variant="ACU",
                      hourly=True)]
    return [_line(ctx, res, "database", "aurora.instance", 1, "1 instance x 730 h",
                  variant=cls, hourly=True)]


def _db_cluster(ctx: _Context, res: ResolvedResource) -> list[Line]:
    a = ctx.assume
    lines = [_line(ctx, res, "storage", "aurora.storage", a.aurora_storage_gb,
                   "aurora_storage_gb (each region stores a copy)")]
    if ctx.role(res.region) == "primary":
        lines.append(_line(ctx, res, "database", "aurora.io", a.aurora_io_millions,
                           "aurora_io_millions (writer region)"))
        lines.append(_line(ctx, res, "backup", "aurora.backup_storage", a.aurora_backup_gb,
                           "aurora_backup_gb beyond the free allowance"))
    elif res.prop("GlobalClusterIdentifier") is not None:
        lines.append(_line(ctx, res, "replication_transfer", "aurora.replicated_write_io",
                           a.aurora_io_millions / 2,
                           "half of aurora_io_millions are writes, replicated to this region"))
    return lines


def _instance_type_of_asg(ctx: _Context, res: ResolvedResource) -> tuple[str, float | None]:
    spec = res.prop("LaunchTemplate") or res.prop("MixedInstancesPolicy", "LaunchTemplate",
                                                  "LaunchTemplateSpecification") or {}
    ref = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName") if spec else None
    if isinstance(ref, dict) and "Ref" in ref:
        stack = next(s for s in ctx.project.stacks if s.name == res.stack)
        for other in stack.resources:
            if other.logical_id == ref["Ref"]:
                data = other.prop("LaunchTemplateData") or {}
                mappings = data.get("BlockDeviceMappings") or []
                sizes = [m.get("Ebs", {}).get("VolumeSize") for m in mappings]
                gb = sum(float(s) for s in sizes if s not in (None, UNKNOWN)) or None
                return str(_known(res, data.get("InstanceType"), "InstanceType")), gb
    lc = res.prop("LaunchConfigurationName")
    raise ConfigError(f"{res.name}: cannot find the instance type", found=str(spec or lc),
                      expected="a LaunchTemplate in the same stack, referenced with Ref")


def _capacity(res: ResolvedResource) -> int:
    for key in ("DesiredCapacity", "MinSize"):
        value = res.prop(key)
        if value not in (None, UNKNOWN):
            return int(value)
    return int(_known(res, UNKNOWN, "DesiredCapacity or MinSize"))


def _asg(ctx: _Context, res: ResolvedResource) -> list[Line]:
    itype, gb = _instance_type_of_asg(ctx, res)
    count = _capacity(res)
    gb = gb or ctx.assume.ebs_gb_per_instance
    return [_line(ctx, res, "compute", "ec2.instance", count, f"{count} instances x 730 h",
                  variant=itype, hourly=True),
            _line(ctx, res, "compute", "ebs.gp3", count * gb, f"{count} x {gb:g} GB gp3")]


def _ec2_instance(ctx: _Context, res: ResolvedResource) -> list[Line]:
    itype = str(_known(res, res.prop("InstanceType"), "InstanceType"))
    return [_line(ctx, res, "compute", "ec2.instance", 1, "1 instance x 730 h", variant=itype,
                  hourly=True),
            _line(ctx, res, "compute", "ebs.gp3", ctx.assume.ebs_gb_per_instance,
                  "ebs_gb_per_instance")]


def _nat(ctx: _Context, res: ResolvedResource) -> list[Line]:
    return [_line(ctx, res, "nat", "nat.hour", 1, "1 gateway x 730 h", hourly=True),
            _line(ctx, res, "nat", "nat.gb", ctx.assume.nat_gb_per_gateway, "nat_gb_per_gateway")]


def _eip(ctx: _Context, res: ResolvedResource) -> list[Line]:
    return [_line(ctx, res, "network", "vpc.public_ipv4", 1, "1 address x 730 h", hourly=True)]


def _alb(ctx: _Context, res: ResolvedResource) -> list[Line]:
    kind = str(res.prop("Type", default="application"))
    basis = "" if kind == "application" else f" ({kind} priced as an ALB)"
    return [_line(ctx, res, "load_balancer", "alb.hour", 1, "1 load balancer x 730 h" + basis,
                  hourly=True),
            _line(ctx, res, "load_balancer", "alb.lcu", ctx.assume.alb_lcu, "alb_lcu x 730 h",
                  hourly=True)]


def _dynamodb_requests(ctx: _Context, res: ResolvedResource, region: str) -> list[Line]:
    a = ctx.assume
    return [_line(ctx, res, "database", "dynamodb.wru", a.dynamodb_wru_millions,
                  "dynamodb_wru_millions (writes in the writer region)", region=region),
            _line(ctx, res, "database", "dynamodb.rru", a.dynamodb_rru_millions,
                  "dynamodb_rru_millions", region=region)]


def _dynamodb_table(ctx: _Context, res: ResolvedResource) -> list[Line]:
    return [_line(ctx, res, "storage", "dynamodb.storage", ctx.assume.dynamodb_storage_gb,
                  "dynamodb_storage_gb"), *_dynamodb_requests(ctx, res, res.region)]


def _dynamodb_global_table(ctx: _Context, res: ResolvedResource) -> list[Line]:
    a = ctx.assume
    replicas = res.prop("Replicas") or []
    declared = [r.get("Region") for r in replicas if isinstance(r, dict)]
    regions = [str(r) for r in declared if r not in (None, UNKNOWN)] or [res.region]
    writer = next((r for r in regions if ctx.role(r) == "primary"), regions[0])
    lines = _dynamodb_requests(ctx, res, writer)
    gb = a.dynamodb_wru_millions * 1e6 * a.dynamodb_item_kb / 1024 / 1024
    for region in regions:
        lines.append(_line(ctx, res, "storage", "dynamodb.storage", a.dynamodb_storage_gb,
                           "dynamodb_storage_gb per replica", region=region))
        if region != writer:
            lines.append(_line(ctx, res, "replication_transfer", "dynamodb.replicated_wru",
                               a.dynamodb_wru_millions, "every write replicated",
                               region=region))
            lines.append(_line(ctx, res, "replication_transfer", "transfer.inter_region", gb,
                               "writes x dynamodb_item_kb, sent by the writer", region=writer))
    return lines


def _s3_bucket(ctx: _Context, res: ResolvedResource) -> list[Line]:
    a = ctx.assume
    lines = [_line(ctx, res, "storage", "s3.storage", a.s3_storage_gb, "s3_storage_gb"),
             _line(ctx, res, "storage", "s3.put", a.s3_put_thousands, "s3_put_thousands"),
             _line(ctx, res, "storage", "s3.get", a.s3_get_thousands, "s3_get_thousands")]
    rules = res.prop("ReplicationConfiguration", "Rules") or []
    if rules:
        lines.append(_line(ctx, res, "replication_transfer", "transfer.inter_region",
                           a.s3_replicated_gb, "s3_replicated_gb to the other region"))
        rtc = any(isinstance(r, dict) and (r.get("Destination") or {}).get(
            "ReplicationTime", {}).get("Status") == "Enabled" for r in rules)
        if rtc:
            lines.append(_line(ctx, res, "replication_transfer", "s3.rtc", a.s3_replicated_gb,
                               "s3_replicated_gb with Replication Time Control"))
    return lines


def _hosted_zone(ctx: _Context, res: ResolvedResource) -> list[Line]:
    return [_line(ctx, res, "dns_health_checks", "route53.hosted_zone", 1, "1 zone"),
            _line(ctx, res, "dns_health_checks", "route53.queries",
                  ctx.assume.route53_queries_millions, "route53_queries_millions")]


def health_check_features(config: dict[str, Any]) -> list[str]:
    """The optional (separately priced) features a HealthCheckConfig uses."""
    kind = str(config.get("Type", ""))
    features = []
    if kind.startswith("HTTPS"):
        features.append("HTTPS")
    if kind.endswith("STR_MATCH"):
        features.append("string matching")
    if str(config.get("RequestInterval", "30")) == "10":
        features.append("fast interval")
    if str(config.get("MeasureLatency", "false")).lower() == "true":
        features.append("latency measurement")
    return features


def _health_check(ctx: _Context, res: ResolvedResource) -> list[Line]:
    config = res.prop("HealthCheckConfig") or {}
    kind = str(config.get("Type", ""))
    endpoint = "aws" if kind in ("CALCULATED", "CLOUDWATCH_METRIC") else \
        ctx.assume.health_check_endpoint.replace("-", "_")
    lines = [_line(ctx, res, "dns_health_checks", f"route53.health_check_{endpoint}", 1,
                   f"1 {kind or 'health'} check, {endpoint.replace('_', '-')} endpoint")]
    features = health_check_features(config) if kind not in ("CALCULATED",
                                                             "CLOUDWATCH_METRIC") else []
    if features:
        lines.append(_line(ctx, res, "dns_health_checks",
                           f"route53.health_check_feature_{endpoint}", len(features),
                           "optional features: " + ", ".join(features)))
    return lines


def _alarm(ctx: _Context, res: ResolvedResource) -> list[Line]:
    period = res.prop("Period")
    high = period not in (None, UNKNOWN) and int(period) < 60
    item = "cloudwatch.alarm_high_resolution" if high else "cloudwatch.alarm"
    return [_line(ctx, res, "monitoring", item, 1, "1 alarm")]


def _single(component: str, item: str, basis: str,
            quantity: Callable[[CostAssumptions], float] | None = None
            ) -> Callable[[_Context, ResolvedResource], list[Line]]:
    def price(ctx: _Context, res: ResolvedResource) -> list[Line]:
        q = quantity(ctx.assume) if quantity else 1.0
        return [_line(ctx, res, component, item, q, basis)]
    return price


def _kms_key(ctx: _Context, res: ResolvedResource) -> list[Line]:
    return [_line(ctx, res, "keys_secrets", "kms.key", 1, "1 key"),
            _line(ctx, res, "keys_secrets", "kms.requests", ctx.assume.kms_requests_10k,
                  "kms_requests_10k")]


def _secret(ctx: _Context, res: ResolvedResource) -> list[Line]:
    lines = [_line(ctx, res, "keys_secrets", "secretsmanager.secret", 1, "1 secret")]
    for replica in res.prop("ReplicaRegions") or []:
        region = replica.get("Region") if isinstance(replica, dict) else None
        if region not in (None, UNKNOWN):
            lines.append(_line(ctx, res, "keys_secrets", "secretsmanager.secret", 1,
                               "replica secret", region=str(region)))
    return lines


def _lambda(ctx: _Context, res: ResolvedResource) -> list[Line]:
    a = ctx.assume
    memory = res.prop("MemorySize")
    memory_gb = (128 if memory in (None, UNKNOWN) else int(memory)) / 1024
    return [_line(ctx, res, "monitoring", "lambda.requests", a.lambda_invocations_millions,
                  "lambda_invocations_millions"),
            _line(ctx, res, "monitoring", "lambda.gb_second",
                  a.lambda_invocations_millions * 1e6 * a.lambda_duration_s * memory_gb,
                  f"invocations x lambda_duration_s x {memory_gb:g} GB")]


def _backup_plan(ctx: _Context, res: ResolvedResource) -> list[Line]:
    a = ctx.assume
    lines = [_line(ctx, res, "backup", "backup.aurora_storage", a.backup_storage_gb,
                   "backup_storage_gb")]
    rules = res.prop("BackupPlan", "BackupPlanRule") or []
    copies = any(isinstance(r, dict) and r.get("CopyActions") for r in rules)
    if copies:
        lines.append(_line(ctx, res, "backup", "transfer.inter_region", a.backup_copy_gb,
                           "backup_copy_gb copied to the other region"))
        other = next((r for r, role in ctx.roles.items() if r != res.region), None)
        if other:
            lines.append(_line(ctx, res, "backup", "backup.aurora_storage", a.backup_copy_gb,
                               "copies kept in the other region", region=other))
    return lines


def _vpc_endpoint(ctx: _Context, res: ResolvedResource) -> list[Line]:
    if str(res.prop("VpcEndpointType", default="Gateway")) != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    subnets = res.prop("SubnetIds")
    azs = len(subnets) if isinstance(subnets, list) else 2
    return [_line(ctx, res, "network", "vpc.interface_endpoint_hour", azs,
                  f"{azs} AZs x 730 h", hourly=True),
            _line(ctx, res, "network", "vpc.interface_endpoint_gb",
                  ctx.assume.interface_endpoint_gb, "interface_endpoint_gb")]


PRICERS: dict[str, Callable[[_Context, ResolvedResource], list[Line]]] = {
    "AWS::RDS::DBInstance": _db_instance,
    "AWS::RDS::DBCluster": _db_cluster,
    "AWS::AutoScaling::AutoScalingGroup": _asg,
    "AWS::EC2::Instance": _ec2_instance,
    "AWS::EC2::NatGateway": _nat,
    "AWS::EC2::EIP": _eip,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _alb,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::DynamoDB::GlobalTable": _dynamodb_global_table,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::Route53::HostedZone": _hosted_zone,
    "AWS::Route53::HealthCheck": _health_check,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _single("monitoring", "cloudwatch.composite_alarm",
                                               "1 composite alarm"),
    "AWS::CloudWatch::Dashboard": _single("monitoring", "cloudwatch.dashboard", "1 dashboard"),
    "AWS::Logs::LogGroup": _single("monitoring", "cloudwatch.logs_ingest", "log_ingest_gb",
                                   lambda a: a.log_ingest_gb),
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::ReplicaKey": _kms_key,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Lambda::Function": _lambda,
    "AWS::SNS::Topic": _single("monitoring", "sns.publish", "sns_publishes_millions",
                               lambda a: a.sns_publishes_millions),
    "AWS::Backup::BackupPlan": _backup_plan,
    "AWS::EC2::VPCEndpoint": _vpc_endpoint,
}


# --- the estimate ------------------------------------------------------------------------------


@dataclass
class CostEstimate:
    """An environment's estimated monthly cost, line by line, with its inputs."""

    environment: str
    price_table_date: str
    assumptions: CostAssumptions
    lines: pd.DataFrame
    unpriced: pd.DataFrame  # resource types counted but free or not modelled
    project: ResolvedProject = field(repr=False)

    @property
    def total_usd(self) -> float:
        """Estimated USD per month for both regions."""
        return float(self.lines["monthly_usd"].sum())

    def by_component(self) -> pd.DataFrame:
        """USD/month: one row per component, one column per region."""
        table = self.lines.pivot_table(index="component", columns="region",
                                       values="monthly_usd", aggfunc="sum", fill_value=0.0)
        order = [c for c in COMPONENTS if c in table.index]
        return table.loc[order]

    def by_region(self) -> pd.DataFrame:
        """USD/month per region with its role."""
        return (self.lines.groupby(["region", "role"], as_index=False)["monthly_usd"].sum()
                .sort_values("role", key=lambda s: s != "primary").reset_index(drop=True))

    def standby_share(self) -> pd.DataFrame:
        """The primary and standby regions' USD/month and share of the total."""
        table = self.by_region()
        table["share"] = table["monthly_usd"] / max(self.total_usd, 1e-12)
        return table

    def summary(self) -> dict[str, Any]:
        """Totals as JSON-able data (for evidence)."""
        return {"environment": self.environment, "price_table_date": self.price_table_date,
                "total_usd_per_month": round(self.total_usd, 2),
                "by_region": {r["region"]: round(float(r["monthly_usd"]), 2)
                              for r in self.by_region().to_dict("records")},
                "assumptions": asdict(self.assumptions)}


def price_project(project: ResolvedProject, prices: PriceTable,
                  assumptions: CostAssumptions | None = None) -> CostEstimate:
    """Price every resource of an already-resolved project."""
    assume = assumptions or CostAssumptions()
    ctx = _Context(prices=prices, assume=assume, project=project, roles=project.region_roles())
    lines: list[Line] = []
    unpriced: dict[tuple[str, str], int] = {}
    for res in project.resources():
        pricer = PRICERS.get(res.type)
        if pricer is None:
            unpriced[(res.region, res.type)] = unpriced.get((res.region, res.type), 0) + 1
            continue
        lines.extend(pricer(ctx, res))
    frame = pd.DataFrame([asdict(line) for line in lines], columns=LINE_COLUMNS)
    skipped = pd.DataFrame([{"region": r, "type": t, "count": n}
                            for (r, t), n in sorted(unpriced.items())],
                           columns=["region", "type", "count"])
    return CostEstimate(environment=project.environment, price_table_date=prices.date,
                        assumptions=assume, lines=frame, unpriced=skipped, project=project)


def estimate_monthly_cost(environment: str, sceptre_dir: Path,
                          price_table: PriceTable | None = None,
                          assumptions: CostAssumptions | None = None) -> CostEstimate:
    """The monthly cost of ``environment`` as its Sceptre project would deploy it.

    Without ``assumptions``, the defaults apply, overridden by the var file's optional
    ``cost_assumptions`` mapping (for example ``{aurora_storage_gb: 500}`` for prod).
    """
    project = load_project(environment, Path(sceptre_dir))
    if assumptions is None:
        overrides = project.variables.get("cost_assumptions") or {}
        assumptions = CostAssumptions().with_overrides(dict(overrides))
    return price_project(project, price_table or load_price_table(), assumptions)


# --- one drill ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillProfile:
    """What a drill adds on top of the steady state."""

    duration_hours: float = 2.0  # from scale-up to fail-back
    canary_writes_per_second: float = 5.0  # per data store (Aurora, DynamoDB, S3)
    canary_object_kb: float = 1.0


def _matching(resources: Iterable[ResolvedResource], logical_id: str,
              type_: str) -> ResolvedResource | None:
    return next((r for r in resources if r.logical_id == logical_id and r.type == type_), None)


def drill_cost(environment: str, sceptre_dir: Path, price_table: PriceTable | None = None,
               drill: DrillProfile | None = None,
               estimate: CostEstimate | None = None) -> pd.DataFrame:
    """The incremental cost of one drill: lines in USD for the drill, not per month.

    The standby's Auto Scaling groups run at the primary's capacity for the drill (matched by
    logical id), Aurora instances the primary has and the standby lacks run for the drill,
    canary writers add requests to every store and their replication.
    """
    drill = drill or DrillProfile()
    estimate = estimate or estimate_monthly_cost(environment, sceptre_dir, price_table)
    prices = price_table or load_price_table()
    project = estimate.project
    ctx = _Context(prices=prices, assume=replace(estimate.assumptions,
                                                 hours_per_month=drill.duration_hours),
                   project=project, roles=project.region_roles())
    primary = [r for s in project.stacks if s.role == "primary" for r in s.resources]
    lines: list[Line] = []
    for stack in project.stacks:
        if stack.role != "standby":
            continue
        for res in stack.resources:
            if res.type != "AWS::AutoScaling::AutoScalingGroup":
                continue
            twin = _matching(primary, res.logical_id, res.type)
            target = _capacity(twin) if twin else int(res.prop("MaxSize", default=0) or 0)
            extra = target - _capacity(res)
            if extra > 0:
                itype, _ = _instance_type_of_asg(ctx, res)
                lines.append(_line(ctx, res, "compute", "ec2.instance", extra,
                                   f"+{extra} instances for {drill.duration_hours:g} h "
                                   "(scaled to the primary's capacity)", variant=itype,
                                   hourly=True))
    standby_regions = [r for r, role in ctx.roles.items() if role == "standby"]
    primary_db = [r for r in primary if r.type == "AWS::RDS::DBInstance"]
    standby_db = [r for r in project.resources("AWS::RDS::DBInstance")
                  if ctx.role(r.region) == "standby"]
    for res in primary_db[len(standby_db):]:
        if standby_regions:
            cls = str(_known(res, res.prop("DBInstanceClass"), "DBInstanceClass"))
            lines.append(_line(ctx, res, "database", "aurora.instance", 1,
                               f"{cls} added in the standby for {drill.duration_hours:g} h",
                               variant=cls, hourly=True, region=standby_regions[0]))
    writes = drill.canary_writes_per_second * drill.duration_hours * 3600
    gb = writes * drill.canary_object_kb / 1024 / 1024
    first = next(iter(project.resources()), None)
    if first is not None and standby_regions:
        writer = next((r for r, role in ctx.roles.items() if role == "primary"), first.region)
        canary = replace(first, logical_id="canaries", stack="drill", condition_unknown=False)
        ctx.assume = replace(ctx.assume, hours_per_month=1.0)
        if project.resources("AWS::DynamoDB::GlobalTable") or project.resources(
                "AWS::DynamoDB::Table"):
            lines.append(_line(ctx, canary, "database", "dynamodb.wru", writes / 1e6,
                               f"{writes:.0f} canary writes", region=writer))
            lines.append(_line(ctx, canary, "replication_transfer", "dynamodb.replicated_wru",
                               writes / 1e6, "canary writes replicated",
                               region=standby_regions[0]))
        if project.resources("AWS::S3::Bucket"):
            lines.append(_line(ctx, canary, "storage", "s3.put", writes / 1000,
                               f"{writes:.0f} canary PUTs", region=writer))
        if project.resources("AWS::RDS::DBCluster"):
            lines.append(_line(ctx, canary, "database", "aurora.io", writes * 2 / 1e6,
                               "about 2 I/Os per canary insert", region=writer))
        lines.append(_line(ctx, canary, "replication_transfer", "transfer.inter_region", 3 * gb,
                           "canary data of three stores sent to the standby", region=writer))
    frame = pd.DataFrame([asdict(line) for line in lines], columns=LINE_COLUMNS)
    return frame.rename(columns={"monthly_usd": "drill_usd"})
