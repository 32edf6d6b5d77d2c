"""Cost policies per environment: allowed instance classes, Auto Scaling limits, a budget.

The policies live in ``drlib/cost/policies.yaml``. :func:`check_policies` checks what the Sceptre
project would deploy; :func:`check_deployed` checks what launched stacks actually run. Each
:class:`Violation` names the resource and the rule; :func:`enforce` turns them into a DrError.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from botocore.exceptions import ClientError

from drlib.aws import AwsClients, RegionPair
from drlib.cost.estimate import price_project
from drlib.cost.prices import PriceTable, load_price_table
from drlib.cost.project import UNKNOWN, ResolvedProject, ResolvedResource, load_project
from drlib.errors import ConfigError, DrError

DEFAULT_POLICIES = Path(__file__).with_name("policies.yaml")
RULES = ("aurora_instance_classes", "ec2_instance_types", "max_asg_size", "monthly_budget_usd")


@dataclass(frozen=True)
class CostPolicy:
    """One environment's limits."""

    environment: str
    aurora_instance_classes: tuple[str, ...]
    ec2_instance_types: tuple[str, ...]
    max_asg_size: int
    monthly_budget_usd: float

    def allows(self, rule: str, value: str) -> bool:
        """Whether ``value`` matches one of the rule's allowed patterns."""
        return any(fnmatch.fnmatchcase(value, p) for p in getattr(self, rule))


@dataclass(frozen=True)
class Violation:
    """A resource that breaks a rule."""

    environment: str
    resource: str
    rule: str
    expected: str
    found: str
    region: str = ""

    @property
    def message(self) -> str:
        """One line naming the resource, the rule, what is allowed and what was found."""
        where = f" ({self.region})" if self.region else ""
        return (f"{self.resource}{where} breaks cost policy {self.environment}.{self.rule}: "
                f"expected {self.expected}, found {self.found}")

    def to_error(self) -> DrError:
        """The violation as a DrError."""
        return DrError(self.message, expected=self.expected, found=self.found,
                       fix=f"change the resource, or the {self.rule} rule in policies.yaml",
                       data={"resource": self.resource, "rule": self.rule})


def load_policy(environment: str, policies_path: Path | None = None) -> CostPolicy:
    """The policy of ``environment``."""
    path = policies_path or DEFAULT_POLICIES
    raw = (yaml.safe_load(path.read_text()) or {}).get("environments", {})
    if environment not in raw:
        raise ConfigError(f"No cost policy for environment {environment!r}",
                          expected=", ".join(sorted(raw)), found=environment,
                          fix=f"add {environment} to {path}")
    spec = raw[environment]
    missing = [r for r in RULES if r not in spec]
    if missing:
        raise ConfigError(f"Cost policy {environment} lacks rules", found=", ".join(missing),
                          expected=", ".join(RULES))
    return CostPolicy(environment=environment,
                      aurora_instance_classes=tuple(spec["aurora_instance_classes"]),
                      ec2_instance_types=tuple(spec["ec2_instance_types"]),
                      max_asg_size=int(spec["max_asg_size"]),
                      monthly_budget_usd=float(spec["monthly_budget_usd"]))


def _class_violation(policy: CostPolicy, rule: str, resource: str, region: str,
                     value: Any) -> list[Violation]:
    if value in (None, UNKNOWN) or policy.allows(rule, str(value)):
        return []
    return [Violation(policy.environment, resource, rule, "one of " +
                      ", ".join(getattr(policy, rule)), str(value), region)]


def _size_violations(policy: CostPolicy, resource: str, region: str,
                     sizes: Mapping[str, Any]) -> list[Violation]:
    out = []
    for name, value in sizes.items():
        if value not in (None, UNKNOWN) and int(value) > policy.max_asg_size:
            out.append(Violation(policy.environment, resource, "max_asg_size",
                                 f"{name} <= {policy.max_asg_size}", f"{name} {value}", region))
    return out


def _template_violations(policy: CostPolicy, res: ResolvedResource) -> list[Violation]:
    if res.type == "AWS::RDS::DBInstance":
        return _class_violation(policy, "aurora_instance_classes", res.name, res.region,
                                res.prop("DBInstanceClass"))
    if res.type == "AWS::EC2::LaunchTemplate":
        return _class_violation(policy, "ec2_instance_types", res.name, res.region,
                                res.prop("LaunchTemplateData", "InstanceType"))
    if res.type == "AWS::EC2::Instance":
        return _class_violation(policy, "ec2_instance_types", res.name, res.region,
                                res.prop("InstanceType"))
    if res.type == "AWS::AutoScaling::AutoScalingGroup":
        return _size_violations(policy, res.name, res.region,
                                {"MaxSize": res.prop("MaxSize"),
                                 "DesiredCapacity": res.prop("DesiredCapacity")})
    return []


def check_project(project: ResolvedProject, policy: CostPolicy,
                  price_table: PriceTable | None = None) -> list[Violation]:
    """Violations of ``policy`` by a resolved project (including its estimated cost)."""
    violations = [v for res in project.resources() for v in _template_violations(policy, res)]
    try:
        total = price_project(project, price_table or load_price_table()).total_usd
    except ConfigError as exc:  # e.g. an unpriced class: the budget cannot be verified
        violations.append(Violation(policy.environment, f"environment {policy.environment}",
                                    "monthly_budget_usd", "an estimate within the budget",
                                    f"no estimate ({exc.message})"))
        return violations
    if total > policy.monthly_budget_usd:
        violations.append(Violation(policy.environment, f"environment {policy.environment}",
                                    "monthly_budget_usd",
                                    f"at most {policy.monthly_budget_usd:.2f} USD/month",
                                    f"an estimate of {total:.2f} USD/month"))
    return violations


def check_policies(environment: str, sceptre_dir: Path, policies_path: Path | None = None,
                   price_table: PriceTable | None = None) -> list[Violation]:
    """Violations of the environment's cost policy by its templates and var file."""
    return check_project(load_project(environment, Path(sceptre_dir)),
                         load_policy(environment, policies_path), price_table)


def violations_frame(violations: Sequence[Violation]) -> pd.DataFrame:
    """The violations as a table (resource, region, rule, expected, found)."""
    return pd.DataFrame([{"resource": v.resource, "region": v.region, "rule": v.rule,
                          "expected": v.expected, "found": v.found} for v in violations],
                        columns=["resource", "region", "rule", "expected", "found"])


def enforce(violations: Sequence[Violation]) -> None:
    """Raise a DrError listing every violation (nothing when there are none)."""
    if not violations:
        return
    if len(violations) == 1:
        raise violations[0].to_error()
    raise DrError(f"{len(violations)} cost policy violations:\n" +
                  "\n".join(f"  - {v.message}" for v in violations),
                  fix="change the resources, or the rules in policies.yaml",
                  data={"violations": [v.__dict__ for v in violations]})


# --- launched stacks ---------------------------------------------------------------------------


def _stack_resources(clients: AwsClients, region: str, stack: str) -> list[dict[str, Any]]:
    cfn = clients.client("cloudformation", region)
    try:
        return list(cfn.describe_stack_resources(StackName=stack)["StackResources"])
    except ClientError as exc:
        if "does not exist" in str(exc):
            return []
        raise


def _deployed_asg(clients: AwsClients, region: str, policy: CostPolicy, name: str,
                  physical_id: str) -> list[Violation]:
    autoscaling = clients.client("autoscaling", region)
    groups = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[physical_id])["AutoScalingGroups"]
    out: list[Violation] = []
    for group in groups:
        out += _size_violations(policy, name, region, {"MaxSize": group.get("MaxSize"),
                                                       "DesiredCapacity":
                                                       group.get("DesiredCapacity")})
        types = {i.get("InstanceType") for i in group.get("Instances", [])}
        template = group.get("LaunchTemplate")
        if template:
            ec2 = clients.client("ec2", region)
            versions = ec2.describe_launch_template_versions(
                LaunchTemplateId=template["LaunchTemplateId"],
                Versions=[str(template.get("Version", "$Default"))])["LaunchTemplateVersions"]
            types |= {v["LaunchTemplateData"].get("InstanceType") for v in versions}
        for itype in sorted(t for t in types if t):
            out += _class_violation(policy, "ec2_instance_types", name, region, itype)
    return out


def check_deployed(clients: AwsClients, stack_names: Sequence[str], environment: str,
                   regions: Sequence[str] | None = None,
                   policies_path: Path | None = None) -> list[Violation]:
    """Violations by the Aurora/RDS instances and Auto Scaling groups of launched stacks.

    Each stack name is looked up in every region of ``regions`` (the default pair); a stack
    absent from a region is skipped there.
    """
    policy = load_policy(environment, policies_path)
    pair = RegionPair()
    out: list[Violation] = []
    for region in regions or (pair.primary, pair.secondary):
        for stack in stack_names:
            for res in _stack_resources(clients, region, stack):
                name = f"{stack}/{res['LogicalResourceId']}"
                physical = res.get("PhysicalResourceId", "")
                if res["ResourceType"] == "AWS::RDS::DBInstance":
                    rds = clients.client("rds", region)
                    for db in rds.describe_db_instances(
                            DBInstanceIdentifier=physical)["DBInstances"]:
                        out += _class_violation(policy, "aurora_instance_classes", name, region,
                                                db["DBInstanceClass"])
                elif res["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup":
                    out += _deployed_asg(clients, region, policy, name, physical)
    return out
