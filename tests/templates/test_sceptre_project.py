"""The Sceptre project: var files, stack configs, and the plan Sceptre builds (no AWS needed)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import yaml

from tests.templates.cfn import ENVIRONMENTS, SCEPTRE_DIR, TEMPLATES_DIR, load

REQUIRED_VAR_KEYS = {
    "environment", "company_name", "primary_region", "secondary_region", "primary_vpc_cidr",
    "secondary_vpc_cidr", "aurora_engine_version", "primary_db_instance_class",
    "secondary_db_instance_class", "secondary_db_instance_count", "primary_instance_type",
    "secondary_instance_type", "primary_asg_min", "primary_asg_max", "primary_asg_desired",
    "secondary_asg_min", "secondary_asg_max", "secondary_asg_desired", "deletion_protection",
    "db_backup_retention_days", "aws_backup_retention_days", "log_retention_days",
    "noncurrent_version_expiration_days", "evidence_retention_days", "health_check_interval",
    "domain_name",
}
PRIMARY_STACKS = {"kms", "artifacts", "network", "database", "dynamodb", "storage", "app",
                  "dr-automation", "monitoring", "backup", "audit"}
SECONDARY_STACKS = {"kms", "artifacts", "network", "recovery-storage", "database", "app",
                    "dr-automation", "monitoring", "dns", "backup", "audit"}
# (before, after): stacks whose outputs the later one needs.
ORDER = [
    ("secondary/kms", "primary/dynamodb"),
    ("secondary/kms", "primary/database"),
    ("secondary/recovery-storage", "primary/storage"),
    ("primary/database", "secondary/database"),
    ("primary/database", "secondary/dr-automation"),
    ("primary/dynamodb", "secondary/app"),
    ("primary/app", "secondary/dns"),
    ("secondary/app", "secondary/dns"),
    ("primary/artifacts", "primary/dr-automation"),
    ("secondary/artifacts", "secondary/dr-automation"),
    ("primary/dr-automation", "primary/monitoring"),
    ("primary/network", "primary/app"),
    ("primary/kms", "primary/network"),
    ("secondary/backup", "primary/backup"),
    ("primary/storage", "primary/backup"),
    ("primary/storage", "primary/audit"),
    ("primary/audit", "primary/app"),
    ("secondary/audit", "secondary/app"),
]


def _vars(environment: str) -> dict[str, Any]:
    return yaml.safe_load((SCEPTRE_DIR / "vars" / f"{environment}.yaml").read_text())


@cache
def _plan(environment: str, path: str = "", **overrides: Any) -> Any:
    from sceptre.context import SceptreContext
    from sceptre.plan.plan import SceptrePlan

    variables = {**_vars(environment), **overrides}
    context = SceptreContext(project_path=str(SCEPTRE_DIR), command_path=path,
                             user_variables=variables)
    plan = SceptrePlan(context)
    plan.resolve("launch")
    return plan


def _batches(plan: Any) -> list[set[str]]:
    return [{stack.name for stack in batch} for batch in plan.launch_order]


def _position(batches: list[set[str]], name: str) -> int:
    return next(i for i, batch in enumerate(batches) if name in batch)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_var_files_exist_with_required_keys(environment: str) -> None:
    """Each environment's var file exists, names itself, and sets every documented key."""
    variables = _vars(environment)
    assert variables["environment"] == environment
    assert set(variables) >= REQUIRED_VAR_KEYS, REQUIRED_VAR_KEYS - set(variables)
    readme = (SCEPTRE_DIR / "README.md").read_text()
    assert all(f"`{key}`" in readme for key in variables), "every key is documented"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_secondary_asg_is_smaller_than_primary(environment: str) -> None:
    """The secondary runs as a smaller warm standby but may grow to the primary's size."""
    v = _vars(environment)
    assert v["secondary_asg_desired"] < v["primary_asg_desired"]
    assert v["secondary_asg_min"] < v["primary_asg_min"]
    assert v["secondary_asg_max"] == v["primary_asg_max"]
    for role in ("primary", "secondary"):
        assert v[f"{role}_asg_min"] <= v[f"{role}_asg_desired"] <= v[f"{role}_asg_max"]


def test_environments_differ_in_sizing_and_protection() -> None:
    """Sizing, protection, retention and health-check interval grow from dev to prod."""
    dev, staging, prod = (_vars(e) for e in ENVIRONMENTS)
    assert (dev["deletion_protection"], prod["deletion_protection"]) == (False, True)
    assert prod["primary_db_instance_class"] != dev["primary_db_instance_class"]
    assert prod["primary_instance_type"] != dev["primary_instance_type"]
    assert dev["primary_asg_desired"] <= staging["primary_asg_desired"] <= prod[
        "primary_asg_desired"]
    assert dev["log_retention_days"] < staging["log_retention_days"] < prod["log_retention_days"]
    assert prod["health_check_interval"] == 10  # production detects an outage fastest
    cidrs = [v[k] for v in (dev, staging, prod) for k in ("primary_vpc_cidr",
                                                          "secondary_vpc_cidr")]
    assert len(set(cidrs)) == len(cidrs), "no two VPCs overlap, so environments can be peered"


def test_var_values_satisfy_template_constraints() -> None:
    """Var-file sizes are accepted by the templates' parameter constraints."""
    from tests.templates.cfn import pattern_accepts

    for environment in ENVIRONMENTS:
        v = _vars(environment)
        for key in ("primary_db_instance_class", "secondary_db_instance_class"):
            assert pattern_accepts(load("database.yaml")["Parameters"]["DBInstanceClass"], v[key])
        for key in ("primary_instance_type", "secondary_instance_type"):
            assert pattern_accepts(load("app.yaml")["Parameters"]["InstanceType"], v[key])
        assert v["health_check_interval"] in load("dns.yaml")["Parameters"][
            "HealthCheckInterval"]["AllowedValues"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_plan_builds_both_groups_in_their_regions(environment: str) -> None:
    """Sceptre's Python API builds every stack, in the region of its group, without AWS."""
    plan = _plan(environment)
    stacks = {stack.name: stack for stack in plan}
    assert set(stacks) == {f"primary/{s}" for s in PRIMARY_STACKS} | {
        f"secondary/{s}" for s in SECONDARY_STACKS}
    for name, stack in stacks.items():
        group = name.split("/")[0]
        assert stack.region == _vars(environment)[f"{group}_region"]
        assert stack.external_name == f"acme-{environment}-dr-{name.replace('/', '-')}"
        assert stack.tags["DRRole"] == group


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_plan_orders_cross_region_dependencies(environment: str) -> None:
    """Stacks come after every stack whose outputs they use, across the two groups."""
    batches = _batches(_plan(environment))
    for before, after in ORDER:
        assert _position(batches, before) < _position(batches, after), (before, after)


def test_launching_primary_brings_in_the_secondary_prerequisites() -> None:
    """`sceptre launch primary` also launches the secondary's kms, recovery storage and backup
    vault (the copy destination) first."""
    names = set().union(*_batches(_plan("dev", "primary")))
    prerequisites = {"secondary/kms", "secondary/recovery-storage", "secondary/backup"}
    assert prerequisites <= names
    assert not any(n.startswith("secondary/") for n in names - prerequisites)


def test_regions_come_from_the_var_file() -> None:
    """The stack groups' regions follow primary_region and secondary_region."""
    plan = _plan("dev", "", primary_region="eu-west-1", secondary_region="eu-central-1")
    regions = {stack.name.split("/")[0]: stack.region for stack in plan}
    assert regions == {"primary": "eu-west-1", "secondary": "eu-central-1"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stack_parameters_match_their_templates(environment: str) -> None:
    """Each stack passes only parameters its template declares, and every required one."""
    for stack in _plan(environment):
        template_path = stack.__dict__["_template_handler_config"]["path"]
        declared = load(template_path)["Parameters"]
        given = set(stack.__dict__["_parameters"])
        required = {p for p, spec in declared.items() if "Default" not in spec}
        assert given <= set(declared), (stack.name, given - set(declared))
        assert required <= given, (stack.name, required - given)
        assert (TEMPLATES_DIR / template_path).is_file()


def test_generate_renders_templates_without_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """`generate` needs no AWS: with an unreachable endpoint it still renders every template."""
    from sceptre.context import SceptreContext
    from sceptre.plan.plan import SceptrePlan

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "none")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "none")
    context = SceptreContext(project_path=str(SCEPTRE_DIR), command_path="",
                             user_variables=_vars("staging"))
    rendered = SceptrePlan(context).generate()
    assert len(rendered) == len(PRIMARY_STACKS) + len(SECONDARY_STACKS)
    for stack, body in rendered.items():
        path = stack.__dict__["_template_handler_config"]["path"]
        assert body.removeprefix("---\n") == (TEMPLATES_DIR / path).read_text()


@pytest.mark.parametrize("group", ["primary", "secondary"])
def test_dr_automation_builds_the_lambda_package_before_create_and_update(group: str) -> None:
    """The dr-automation stack checks the settings, then runs drlib's Lambda-package hook before
    create and update, and reads the key it wrote."""
    from drlib.sceptre_hooks import LambdaPackageHook, PreflightHook

    stack = next(s for s in _plan("dev") if s.name == f"{group}/dr-automation")
    hooks = stack.__dict__["_hooks"]
    key_file = f"{SCEPTRE_DIR}/.build/dr-orchestrator.s3key"
    for moment in ("before_create", "before_update"):
        preflight, package = hooks[moment]
        assert isinstance(preflight, PreflightHook)
        assert isinstance(package, LambdaPackageHook)
        assert package._argument["key_file"] == key_file
        assert package._argument["bucket"].argument == (
            f"{group}/artifacts.yaml::ArtifactsBucketName")
    code_key = stack.__dict__["_parameters"]["LambdaCodeKey"]
    assert type(code_key).__name__ == "FileContents"
    assert code_key.argument == key_file


def test_every_stack_checks_the_settings_before_it_changes() -> None:
    """Every stack of both groups runs the !drlib_preflight hook, first, before create and
    update, with the var file's values."""
    from drlib.sceptre_hooks import PreflightHook

    for stack in _plan("dev"):
        hooks = stack.__dict__["_hooks"]
        for moment in ("before_create", "before_update"):
            first = hooks[moment][0]
            assert isinstance(first, PreflightHook), (stack.name, moment)
            assert first._argument["primary_vpc_cidr"] == "10.10.0.0/16"
