"""Preflight: every setting of an environment checked before anything starts or changes.

``drlib drill``, ``drlib stacks launch``, the notebooks (through :func:`drlib.session.open_session`)
and ``sceptre launch`` by hand (the ``!drlib_preflight`` hook of the first stacks of each group)
run the same rules over the environment's var file and the process environment. Every problem is
reported at once, each naming the file and key, what was found, what is expected and how to fix
it. The rules are pure; :func:`check_target_access` is the one check that calls AWS (the caller
identity in both regions) and runs once the target is up, before the drill chain starts.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError

PASSWORD_VARIABLE = "DR_DATABASE_MASTER_PASSWORD"
PASSWORD_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%^&*()_+=-")
PASSWORD_LENGTH = (12, 64)
# Fn::Cidr carves six /24 subnets (public, private, database in two AZs) out of the VPC range:
# a /21 holds eight, a /16 is the largest VPC range AWS allows.
VPC_PREFIX_RANGE = (16, 21)
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)


@dataclass(frozen=True)
class Problem:
    """One bad setting: where it is, what was found, what is expected, how to fix it."""

    where: str
    found: str
    expected: str
    fix: str


class SettingsError(ConfigError):
    """One or more bad settings; nothing was started or changed."""

    def __init__(self, subject: str, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            f"{count} bad setting{'s' if count != 1 else ''} for {subject}; "
            "nothing was started or changed",
            data={"problems": [vars(p) for p in self.problems]})

    def render(self) -> str:
        lines = [self.message]
        for index, problem in enumerate(getattr(self, "problems", []), start=1):
            lines += [f"  {index}. {problem.where}",
                      f"     found:    {problem.found}",
                      f"     expected: {problem.expected}",
                      f"     fix:      {problem.fix}"]
        return "\n".join(lines)


# --- one key at a time -------------------------------------------------------------------------

Check = Callable[[Any], str | None]
"""A key's rule: None when the value is fine, else what is wrong with it (the 'found' detail)."""


@dataclass(frozen=True)
class KeyRule:
    """The rule of one var-file key."""

    expected: str
    check: Check
    required: bool = True


def _integer(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} is not a whole number"
        if not low <= value <= high:
            return f"{value} is outside {low}..{high}"
        return None
    return check


def _one_of(*choices: Any) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and not all(isinstance(c, bool) for c in choices):
            return f"{value!r}"
        return None if value in choices else f"{value!r}"
    return check


def _pattern(regex: str, *, allow_empty: bool = False) -> Check:
    compiled = re.compile(regex)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{value!r} ({type(value).__name__}, not text)"
        if allow_empty and value == "":
            return None
        return None if compiled.fullmatch(value) else repr(value)
    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"{value!r} (not true or false)"


def _mapping(value: Any) -> str | None:
    return None if isinstance(value, Mapping) else f"{value!r} (not a mapping)"


def _cidr_list(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"{value!r} (not a list)"
    for item in value:
        problem = _network(item, prefixes=(0, 32))
        if problem:
            return problem
    return None


def _network(value: Any, prefixes: tuple[int, int] = VPC_PREFIX_RANGE) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} (not text)"
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ipaddress.AddressValueError as exc:
        return f"{value!r} ({exc})"
    except (ipaddress.NetmaskValueError, ValueError) as exc:
        return f"{value!r} ({exc})"
    if not prefixes[0] <= network.prefixlen <= prefixes[1]:
        return f"{value!r} (prefix /{network.prefixlen})"
    if prefixes == VPC_PREFIX_RANGE and not network.is_private:
        return f"{value!r} (not a private range)"
    return None


_regions_lock = threading.Lock()


@cache
def known_regions() -> frozenset[str]:
    """Every commercial AWS region botocore knows (its endpoint data, no AWS call)."""
    with _regions_lock:  # read once: the stacks of a Sceptre level check their settings at once
        return _known_regions()


@cache
def _known_regions() -> frozenset[str]:
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sts", partition_name=partition))
    return frozenset(regions)


def _region(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} (not text)"
    return None if value in known_regions() else f"{value!r} (not an AWS region)"


_COMPANY = "^[a-z][a-z0-9-]{1,18}[a-z0-9]$"
_INSTANCE_TYPE = (r"^(t3|t3a|m5|m6i|m7i|c5|c6i|c7i|r6i)\."
                  r"(nano|micro|small|medium|large|xlarge|[2-9]xlarge|1[0-9]xlarge)$")
_DB_CLASS = r"^db\.(r5|r6g|r6i|r7g|r7i|r8g|x2g)\.[0-9a-z]+$"
_ACM_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$"

KEY_RULES: dict[str, KeyRule] = {
    "environment": KeyRule("dev, staging or prod (the var file's own name)",
                           _one_of("dev", "staging", "prod")),
    "company_name": KeyRule("3-20 lower-case letters, digits and hyphens, starting with a letter",
                            _pattern(_COMPANY)),
    "primary_region": KeyRule("an AWS region such as us-east-1", _region, required=False),
    "secondary_region": KeyRule("an AWS region such as us-west-2", _region, required=False),
    "primary_vpc_cidr": KeyRule("a private IPv4 network (RFC 1918) of /16 to /21, written as its "
                                "network address, e.g. 10.10.0.0/16", _network),
    "secondary_vpc_cidr": KeyRule("a private IPv4 network (RFC 1918) of /16 to /21, written as "
                                  "its network address, e.g. 10.20.0.0/16", _network),
    "peer_cidrs": KeyRule("a list of IPv4 ranges the VPCs route to (on-premises, other VPCs)",
                          _cidr_list, required=False),
    "aurora_engine_version": KeyRule("an Aurora PostgreSQL major.minor version, 13.x to 17.x",
                                     _pattern(r"^1[3-7]\.\d{1,2}$")),
    "primary_db_instance_class": KeyRule("a memory-optimised Aurora class such as db.r6g.large",
                                         _pattern(_DB_CLASS)),
    "secondary_db_instance_class": KeyRule("a memory-optimised Aurora class such as db.r6g.large",
                                           _pattern(_DB_CLASS)),
    "secondary_db_instance_count": KeyRule("1 or 2", _integer(1, 2)),
    "primary_instance_type": KeyRule("an x86_64 instance type such as t3.small",
                                     _pattern(_INSTANCE_TYPE)),
    "secondary_instance_type": KeyRule("an x86_64 instance type such as t3.small",
                                       _pattern(_INSTANCE_TYPE)),
    "primary_asg_min": KeyRule("a whole number 0..50", _integer(0, 50)),
    "primary_asg_max": KeyRule("a whole number 1..50", _integer(1, 50)),
    "primary_asg_desired": KeyRule("a whole number 0..50", _integer(0, 50)),
    "secondary_asg_min": KeyRule("a whole number 0..50", _integer(0, 50)),
    "secondary_asg_max": KeyRule("a whole number 1..50", _integer(1, 50)),
    "secondary_asg_desired": KeyRule("a whole number 0..50", _integer(0, 50)),
    "deletion_protection": KeyRule("true or false", _boolean),
    "db_backup_retention_days": KeyRule("a whole number 1..35 (Aurora's limit)", _integer(1, 35)),
    "aws_backup_retention_days": KeyRule("a whole number 1..36500", _integer(1, 36500)),
    "log_retention_days": KeyRule(f"one of CloudWatch Logs' retention periods: "
                                  f"{', '.join(map(str, LOG_RETENTION_DAYS))}",
                                  _one_of(*LOG_RETENTION_DAYS)),
    "noncurrent_version_expiration_days": KeyRule("a whole number 1..36500", _integer(1, 36500)),
    "evidence_retention_days": KeyRule("a whole number 1..36500", _integer(1, 36500)),
    "health_check_interval": KeyRule("10 or 30 (the intervals Route 53 offers)", _one_of(10, 30)),
    "health_check_failure_threshold": KeyRule("a whole number 1..10", _integer(1, 10),
                                              required=False),
    "health_check_path": KeyRule("an HTTP path such as /health",
                                 _pattern(r"^/[A-Za-z0-9/_.-]*$"), required=False),
    "health_check_protocol": KeyRule("HTTP or HTTPS", _one_of("HTTP", "HTTPS"), required=False),
    "domain_name": KeyRule("a lower-case DNS domain without the trailing dot",
                           _pattern(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")),
    "hosted_zone_id": KeyRule("empty, or a Route 53 hosted zone id (Z...)",
                              _pattern(r"^Z[A-Z0-9]{1,31}$", allow_empty=True), required=False),
    "app_subdomain": KeyRule("a DNS label such as app", _pattern(r"^[a-z0-9]([a-z0-9-]{0,61}"
                                                                 r"[a-z0-9])?$"), required=False),
    "auto_start_failover": KeyRule("true or false", _boolean, required=False),
    "notification_email": KeyRule("empty, or an e-mail address",
                                  _pattern(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", allow_empty=True),
                                  required=False),
    "runbook_approvers": KeyRule("empty, or IAM user or role ARNs separated by commas (who may "
                                 "approve the DR runbooks)",
                                 _pattern(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=.@/:-]+"
                                          r"(,arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=.@/:-]+)*$",
                                          allow_empty=True), required=False),
    "primary_certificate_arn": KeyRule("empty, or an ACM certificate ARN",
                                       _pattern(_ACM_ARN, allow_empty=True), required=False),
    "secondary_certificate_arn": KeyRule("empty, or an ACM certificate ARN",
                                         _pattern(_ACM_ARN, allow_empty=True), required=False),
    "global_replication_lag_threshold_ms": KeyRule("a whole number of milliseconds 1..3600000",
                                                   _integer(1, 3_600_000), required=False),
    "primary_profile": KeyRule("a named AWS profile", _pattern(r"^[A-Za-z0-9_.@+-]{1,64}$"),
                               required=False),
    "secondary_profile": KeyRule("a named AWS profile", _pattern(r"^[A-Za-z0-9_.@+-]{1,64}$"),
                                 required=False),
    "secret_rotation_days": KeyRule("a whole number of days 1..365", _integer(1, 365),
                                    required=False),
    "organization_trail_arn": KeyRule(
        "empty, or the ARN of an organisation CloudTrail trail",
        _pattern(r"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail/[a-zA-Z0-9._-]+$",
                 allow_empty=True), required=False),
    "cost_assumptions": KeyRule("a mapping of cost assumptions (drlib/cost)", _mapping,
                                required=False),
}


def check_settings(variables: Mapping[str, Any], var_file: Path | str,
                   environment: str | None = None,
                   environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem with an environment's settings (the var file and the process environment)."""
    source = str(var_file)
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []

    def bad(key: str, found: str, expected: str, fix: str) -> None:
        problems.append(Problem(f"{source}: key {key}", found, expected, fix))

    for key in sorted(set(variables) - set(KEY_RULES)):
        close = _closest(key, KEY_RULES)
        bad(key, "an unknown key", f"one of the keys in sceptre/README.md{close}",
            "correct the spelling or remove the key (an unknown key is silently ignored by "
            "Sceptre)")
    for key, rule in KEY_RULES.items():
        if key not in variables:
            if rule.required:
                bad(key, "missing", rule.expected, f"add `{key}: ...` to {source}")
            continue
        detail = rule.check(variables[key])
        if detail is not None:
            bad(key, detail, rule.expected, f"correct {key} in {source}")
    if environment is not None and variables.get("environment") not in (None, environment):
        bad("environment", repr(variables.get("environment")),
            f"{environment!r}, the name of the var file", f"set environment: {environment}")
    _cross_checks(variables, bad)
    problems += check_password(environ)
    return problems


def _cross_checks(variables: Mapping[str, Any],
                  bad: Callable[[str, str, str, str], None]) -> None:
    """Rules across keys; they only look at keys that passed their own rule."""
    def valid(key: str) -> bool:
        return key in variables and KEY_RULES[key].check(variables[key]) is None

    if variables.get("environment") in ("staging", "prod"):
        for key in ("primary_certificate_arn", "secondary_certificate_arn"):
            if not variables.get(key):
                bad(key, "empty" if key in variables else "missing",
                    f"an ACM certificate ARN: {variables.get('environment')} serves HTTPS only",
                    f"import or request the certificate of domain_name in its region and set "
                    f"{key} (or pass it: --var {key}=arn:aws:acm:...)")
    primary = variables.get("primary_region", "us-east-1")
    secondary = variables.get("secondary_region", "us-west-2")
    if primary == secondary:
        bad("secondary_region", f"{secondary!r}, the same region as primary_region",
            "two different regions", "choose a secondary region other than the primary")
    ranges = {key: ipaddress.IPv4Network(variables[key])
              for key in ("primary_vpc_cidr", "secondary_vpc_cidr") if valid(key)}
    if len(ranges) == 2 and ranges["primary_vpc_cidr"].overlaps(ranges["secondary_vpc_cidr"]):
        bad("secondary_vpc_cidr",
            f"{variables['secondary_vpc_cidr']} overlaps primary_vpc_cidr "
            f"{variables['primary_vpc_cidr']}",
            "ranges that share no address (peered or routed regions need distinct ranges)",
            "choose a secondary range outside the primary one, e.g. 10.20.0.0/16")
    if valid("peer_cidrs"):
        for peer in variables["peer_cidrs"]:
            for key, network in ranges.items():
                if network.overlaps(ipaddress.IPv4Network(peer)):
                    bad(key, f"{variables[key]} overlaps peer range {peer}",
                        "VPC ranges outside every range in peer_cidrs",
                        f"choose {key} outside {peer}")
    for side in ("primary", "secondary"):
        keys = [f"{side}_asg_min", f"{side}_asg_desired", f"{side}_asg_max"]
        if all(valid(k) for k in keys):
            low, desired, high = (variables[k] for k in keys)
            if not low <= desired <= high:
                bad(f"{side}_asg_desired", f"min {low}, desired {desired}, max {high}",
                    f"{side}_asg_min <= {side}_asg_desired <= {side}_asg_max",
                    "adjust the three sizes so desired lies between min and max")
    if valid("secondary_asg_max") and valid("primary_asg_desired") and (
            variables["secondary_asg_max"] < variables["primary_asg_desired"]):
        bad("secondary_asg_max",
            f"{variables['secondary_asg_max']}, below primary_asg_desired "
            f"{variables['primary_asg_desired']}",
            "a standby that can scale to the primary's size after failover",
            "raise secondary_asg_max to at least primary_asg_desired")


def check_password(environ: Mapping[str, str]) -> list[Problem]:
    """The master password's length and characters, when one is given (never echoed)."""
    password = environ.get(PASSWORD_VARIABLE)
    if not password:
        return []
    found = []
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        found.append(f"{len(password)} characters")
    outside = sum(1 for char in password if char not in PASSWORD_CHARACTERS)
    if outside:
        found.append(f"{outside} character{'s' if outside != 1 else ''} outside the allowed set")
    if not found:
        return []
    return [Problem(f"environment variable {PASSWORD_VARIABLE}", ", ".join(found),
                    f"{low}-{high} characters of letters, digits and !#$%^&*()_+=- "
                    "(Aurora refuses /, @, \" and spaces)",
                    f"export a valid {PASSWORD_VARIABLE}, or unset it and Secrets Manager "
                    "generates one")]


def check_endpoint(target: str, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """``--target aws`` must not have AWS_ENDPOINT_URL set (every call would go there)."""
    endpoint = (os.environ if environ is None else environ).get("AWS_ENDPOINT_URL")
    if target != "aws" or not endpoint:
        return []
    return [Problem("environment variable AWS_ENDPOINT_URL",
                    f"{endpoint} (every AWS call would go there, not to AWS)",
                    "unset for --target aws",
                    "unset AWS_ENDPOINT_URL (it points at an emulator), or use --target local")]


def check_outputs_dir(outputs_dir: Path) -> list[Problem]:
    """The evidence folder can be created and written."""
    path = Path(outputs_dir)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if path.exists() and not path.is_dir():
        found = f"{path} is a file"
    elif not existing.is_dir():
        found = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        found = f"{existing} is not writable by this user"
    else:
        return []
    return [Problem("--outputs (the evidence folder)", found,
                    "a folder this user can create and write", "pass another --outputs folder")]


def preflight(subject: str, variables: Mapping[str, Any], var_file: Path | str,
              environment: str | None = None, extra: Sequence[Problem] = ()) -> None:
    """Raise :class:`SettingsError` listing every problem; return when there is none."""
    problems = [*check_settings(variables, var_file, environment), *extra]
    if problems:
        raise SettingsError(subject, problems)


def check_target_access(clients: Any, regions: Sequence[str], target: str) -> list[Problem]:
    """The caller identity in every region (credentials and endpoint reachable)."""
    problems = []
    for region in regions:
        try:
            clients.client("sts", region).get_caller_identity()
        except Exception as exc:  # any failure means nothing can start: report it
            problems.append(Problem(
                f"target {target}: credentials in {region}",
                f"{type(exc).__name__}: {_first_line(exc)}",
                "sts:GetCallerIdentity answers in both regions",
                "on AWS: configure credentials for the region (AWS_PROFILE, "
                "DRLIB_AWS_PROFILE_PRIMARY / _SECONDARY, or `aws sso login`); on the emulator: "
                "`drlib emulator start` and export what it prints, or unset AWS_ENDPOINT_URL"))
    return problems


def require_target_access(clients: Any, regions: Sequence[str], target: str) -> None:
    """Raise :class:`SettingsError` unless the caller identity answers in every region."""
    problems = check_target_access(clients, regions, target)
    if problems:
        raise SettingsError(f"target {target}", problems)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _closest(key: str, known: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {match[0]}?)" if match else ""
