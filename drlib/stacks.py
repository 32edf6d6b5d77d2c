"""Stack operations on the Sceptre project, through Sceptre's Python API.

A :class:`SceptreProject` is the ``sceptre/`` folder plus one environment's var file. It launches,
deletes and describes a stack group (``primary``, ``secondary``), one stack
(``primary/database.yaml``) or the whole project (``""``), in Sceptre's dependency order, and
detects their drift (:meth:`SceptreProject.drift`, CloudFormation's drift detection).

Sceptre runs with the patches of :mod:`drlib.sceptre_patches` for the duration of a call (drlib's
bounded, backing-off wait instead of Sceptre's 4 s polls; plugins looked up once; the
``!stack_output`` reads of a launch shared).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from drlib.errors import ConfigError, StackError
from drlib.preflight import Problem, preflight
from drlib.sceptre_patches import (
    adaptive_polling,
    cached_entry_points,
    clients_for_current_environment,
    sessions_from_the_aws_layer,
    shared_stack_outputs,
    stacks_as_soon_as_ready,
)
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "sceptre"
VAR_FILE_DIRS = ("vars", "config/vars")


class SimpleStatus:
    """CloudFormation stack statuses reduced to the few a drill cares about."""

    COMPLETE = "complete"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    ABSENT = "absent"


def simplify_status(status: str | None) -> str:
    """Reduce a CloudFormation stack status to :class:`SimpleStatus`; unknown ones raise."""
    if status is None or status in ("PENDING", "DELETE_COMPLETE"):
        return SimpleStatus.ABSENT
    if status.endswith("ROLLBACK_COMPLETE") or status.endswith("_FAILED"):
        return SimpleStatus.FAILED
    if status.endswith("_COMPLETE"):
        return SimpleStatus.COMPLETE
    if status.endswith("_IN_PROGRESS"):
        return SimpleStatus.IN_PROGRESS
    raise StackError(f"Unknown CloudFormation stack status {status!r}",
                     expected="a status ending in _COMPLETE, _IN_PROGRESS or _FAILED",
                     found=status, fix="upgrade drlib, or report this status")


CANCELLED_REASONS = ("Resource creation cancelled", "Resource update cancelled")
"""Reasons CloudFormation gives a resource it stopped because another failed (not a cause)."""
OPERATION_STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS")
"""Stack-level statuses that start an operation (the events after one are that operation's)."""


def _starts_operation(event: dict[str, Any]) -> bool:
    """The stack's own event that begins an operation (not a nested stack's)."""
    return (event.get("ResourceType") == "AWS::CloudFormation::Stack"
            and event.get("LogicalResourceId") == event.get("StackName")
            and event.get("ResourceStatus") in OPERATION_STARTS)


def root_cause(events: list[dict[str, Any]]) -> str | None:
    """The first resource failure of a stack's newest operation, from ``DescribeStackEvents``
    (newest first, as the API returns them): ``"<LogicalId> (<Type>) <STATUS>: <reason>"``."""
    start = next((index for index, event in enumerate(events) if _starts_operation(event)),
                 len(events))
    for event in reversed(events[:start]):
        status = str(event.get("ResourceStatus", ""))
        reason = str(event.get("ResourceStatusReason") or "")
        if status.endswith("_FAILED") and event.get("ResourceType") != \
                "AWS::CloudFormation::Stack" and not reason.startswith(CANCELLED_REASONS):
            return (f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}) {status}: "
                    f"{reason or 'no reason given'}")
    return None


@dataclass(frozen=True)
class StackInfo:
    """One stack of the project as CloudFormation sees it."""

    path: str  # Sceptre path, e.g. "primary/database"
    stack_name: str  # CloudFormation name
    region: str
    status: str  # SimpleStatus
    cfn_status: str | None
    outputs: Mapping[str, str] = field(default_factory=dict)


DRIFT_TIMEOUT_S = 30 * 60
"""How long drift detection of a stack may take (AWS: minutes for a large stack)."""
ABSENT = "ABSENT"
"""Drift status of a stack that is not deployed."""


@dataclass(frozen=True)
class PropertyDrift:
    """One ``PropertyDifference`` of a drifted resource."""

    path: str
    expected: str
    actual: str
    difference: str  # NOT_EQUAL | ADD | REMOVE

    def describe(self) -> str:
        if self.difference == "ADD":
            return f"{self.path}: added {self.actual}"
        if self.difference == "REMOVE":
            return f"{self.path}: removed (expected {self.expected})"
        return f"{self.path}: expected {self.expected}, actual {self.actual}"


@dataclass(frozen=True)
class ResourceDrift:
    """A stack resource's drift status (``IN_SYNC``, ``MODIFIED``, ``DELETED``,
    ``NOT_CHECKED``) and, when modified, its property differences."""

    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    differences: tuple[PropertyDrift, ...] = ()

    @classmethod
    def from_api(cls, drift: Mapping[str, Any]) -> ResourceDrift:
        return cls(drift["LogicalResourceId"], drift.get("PhysicalResourceId", ""),
                   drift["ResourceType"], drift["StackResourceDriftStatus"],
                   tuple(PropertyDrift(d["PropertyPath"], d.get("ExpectedValue", ""),
                                       d.get("ActualValue", ""), d["DifferenceType"])
                         for d in drift.get("PropertyDifferences") or []))

    @property
    def drifted(self) -> bool:
        return self.status in ("MODIFIED", "DELETED")


@dataclass(frozen=True)
class StackDrift:
    """One stack's drift: ``status`` is CloudFormation's ``StackDriftStatus`` (``IN_SYNC``,
    ``DRIFTED``) or ``ABSENT``; ``detection`` is ``DETECTION_COMPLETE`` or
    ``DETECTION_FAILED`` (with ``reason``: some resources could not be checked)."""

    path: str
    stack_name: str
    region: str
    status: str
    detection: str | None
    reason: str | None = None
    resources: tuple[ResourceDrift, ...] = ()

    @property
    def drifted(self) -> tuple[ResourceDrift, ...]:
        return tuple(r for r in self.resources if r.drifted)

    @property
    def not_checked(self) -> tuple[ResourceDrift, ...]:
        return tuple(r for r in self.resources if r.status == "NOT_CHECKED")


def read_var_file(path: Path) -> dict[str, Any]:
    """An environment's var file as a mapping; a file that is not one names itself."""
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the var file {_shown(path)}", found=str(exc),
                          expected="a readable YAML file", fix="check the file") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"The var file {_shown(path)} is not valid YAML{where}",
                          found=str(problem), expected="flat YAML, one `key: value` per line",
                          fix=f"correct {_shown(path)}{where}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"The var file {_shown(path)} is not a mapping",
                          found=f"a {type(loaded).__name__}",
                          expected="flat YAML, one `key: value` per line",
                          fix=f"correct {_shown(path)}")
    return loaded


def _shown(path: Path) -> str:
    """A path relative to the working folder when it is below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class SceptreProject:
    """The Sceptre project for one environment."""

    def __init__(self, environment: str, project_dir: Path | None = None,
                 variables: Mapping[str, Any] | None = None) -> None:
        # DRLIB_SCEPTRE_DIR: a copy of the project elsewhere (your own var files, a fork).
        self.project_dir = Path(project_dir or os.environ.get("DRLIB_SCEPTRE_DIR")
                                or DEFAULT_PROJECT_DIR).resolve()
        if not (self.project_dir / "config").is_dir():
            raise ConfigError(f"{self.project_dir} is not a Sceptre project",
                              expected="a folder with config/ and templates/",
                              fix="pass the sceptre/ folder of this repository")
        self.environment = environment
        self.var_file = self._find_var_file(environment)
        self.variables: dict[str, Any] = read_var_file(self.var_file)
        self.variables.update(variables or {})

    def check_settings(self, extra: Sequence[Problem] = ()) -> None:
        """Raise :class:`~drlib.preflight.SettingsError` naming every bad setting (and the
        ``extra`` problems the caller found); return when there is none."""
        preflight(f"environment {self.environment} ({_shown(self.var_file)})", self.variables,
                  _shown(self.var_file), self.environment, extra)

    def _find_var_file(self, environment: str) -> Path:
        for folder in VAR_FILE_DIRS:
            candidate = self.project_dir / folder / f"{environment}.yaml"
            if candidate.exists():
                return candidate
        known = sorted({p.stem for d in VAR_FILE_DIRS
                        for p in (self.project_dir / d).glob("*.yaml")})
        raise ConfigError(f"Unknown environment {environment!r}",
                          expected=f"one of {', '.join(known) or '(no var files found)'}",
                          found=environment,
                          fix="choose a known environment or add "
                              f"{VAR_FILE_DIRS[0]}/{environment}.yaml")

    def plan(self, path: str = "") -> Any:
        """A SceptrePlan for ``path`` (a group, a stack, or "" for everything)."""
        from sceptre.context import SceptreContext
        from sceptre.exceptions import SceptreException
        from sceptre.plan.plan import SceptrePlan

        clients_for_current_environment()
        sessions_from_the_aws_layer()
        context = SceptreContext(project_path=str(self.project_dir), command_path=path,
                                 user_variables=dict(self.variables))
        try:
            with cached_entry_points():
                return SceptrePlan(context)
        except SceptreException as exc:
            raise StackError(f"Sceptre cannot read the project for {path or 'all stacks'}",
                             found=str(exc), fix="check the path and the config files") from exc

    def _run(self, path: str, action: str, plan: Any = None) -> dict[str, str]:
        from sceptre.exceptions import SceptreException

        plan = plan or self.plan(path)
        try:
            with adaptive_polling(), cached_entry_points(), shared_stack_outputs(), \
                    stacks_as_soon_as_ready():
                result = getattr(plan, action)()
        except (SceptreException, ClientError, BotoCoreError) as exc:
            raise StackError(f"sceptre {action} of {path or 'all stacks'} failed "
                             f"({self.environment})", found=str(exc),
                             fix="see the stack events (drlib stacks status) and fix the cause"
                             ) from exc
        return {stack.name: str(status) for stack, status in result.items()}

    def check_rules(self, path: str = "", plan: Any = None) -> None:
        """Refuse, before anything is deployed, a plan in which CloudFormation would refuse a
        stack for its template's Rules (e.g. staging or prod without a certificate). ``plan``:
        the launch's own plan (read once: reading the project is a second of a deploy)."""
        from sceptre.resolvers import Resolver

        from drlib.cfn_rules import rule_violation
        from drlib.cfn_yaml import read_template

        plan = plan or self.plan(path)
        plan.resolve("launch")
        for stack in plan:
            template = read_template(self.project_dir / "templates" / Path(
                stack.template_handler_config["path"]).name)
            if not template.get("Rules"):
                continue
            declared = template.get("Parameters") or {}
            given = dict(getattr(stack, "_parameters", None) or {})
            values = {name: given.get(name, spec.get("Default", "")) for name, spec in
                      declared.items()} | {"AWS::Region": stack.region}
            unknown = {name for name, value in given.items() if isinstance(value, Resolver)}
            problem = rule_violation(template, values, unknown | {"AWS::AccountId"})
            if problem:
                raise ConfigError(f"{stack.name} ({self.environment}) would be refused by "
                                  "CloudFormation; nothing was deployed",
                                  found=problem, fix=f"set what it names in {self.var_file}")

    def launch(self, path: str = "") -> list[StackInfo]:
        """Create or update the stacks under ``path`` in dependency order; raise if any fails.
        Template Rules are checked first for every stack of the plan (:meth:`check_rules`)."""
        plan = self.plan(path)
        self.check_rules(path, plan)
        statuses = self._run(path, "launch", plan)
        failed = {name: s for name, s in statuses.items() if s not in ("complete",)}
        infos = self.status(path, plan=plan)
        if failed:
            causes = {stack.name: self.failure_cause(stack) for stack in plan
                      if failed.get(stack.name) == SimpleStatus.FAILED}
            raise StackError(f"Launch of {path or 'all stacks'} ({self.environment}) did not "
                             "complete", expected="every stack complete",
                             found=", ".join(f"{n}: {s}" + (f" ({causes[n]})" if causes.get(n)
                                                            else "")
                                             for n, s in sorted(failed.items())),
                             fix="read the failed stack's events; fix the template or parameters",
                             data={"stacks": infos, "causes": causes})
        return infos

    def failure_cause(self, stack: Any) -> str | None:
        """The root cause of ``stack``'s newest operation failing (:func:`root_cause`), or
        None when there is none or the events cannot be read."""
        call = self._cloudformation(stack)
        events: list[dict[str, Any]] = []
        kwargs = {"StackName": stack.external_name}
        try:  # newest first, page by page, back to the newest operation's start
            while True:
                page = call("describe_stack_events", **kwargs)
                read = page.get("StackEvents", [])
                events += read
                if any(_starts_operation(e) for e in read) or not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except Exception as exc:  # the cause is extra detail: the launch's error stands without
            log.debug("events of %s could not be read: %s", stack.external_name, exc)
            return None
        return root_cause(events)

    def launch_groups(self, groups: list[str]) -> list[StackInfo]:
        """Launch the named stack groups (both: the whole project in dependency order)."""
        if set(groups) >= {"primary", "secondary"}:
            return self.launch("")
        infos: list[StackInfo] = []
        for group in groups:
            infos += self.launch(group)
        return infos

    def delete(self, path: str = "") -> dict[str, str]:
        """Delete the stacks under ``path`` in reverse dependency order."""
        statuses = self._run(path, "delete")
        left = [i for i in self.status(path) if i.status != SimpleStatus.ABSENT]
        if left:
            raise StackError(f"Delete of {path or 'all stacks'} ({self.environment}) left stacks",
                             found=", ".join(f"{i.path}: {i.cfn_status}" for i in left),
                             fix="read the stack events, remove what blocks deletion, retry")
        return statuses

    def status(self, path: str = "", *, within: bool = False, plan: Any = None
               ) -> list[StackInfo]:
        """Every stack under ``path`` in launch order, with status and outputs; Sceptre adds
        the stacks they depend on (e.g. primary ones for ``secondary``) unless ``within``, which
        describes only the stacks under ``path`` (its region alone, e.g. while the other region
        is down). ``plan``: a plan of ``path`` already read (a launch's own)."""
        plan = plan or self.plan(path)
        plan.resolve(command="describe")
        return [self._describe(stack) for stack in plan
                if not within or stack.name.startswith(path)]

    def _describe(self, stack: Any) -> StackInfo:
        try:
            answer = self._cloudformation(stack)("describe_stacks", StackName=stack.external_name)
            described = answer["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return StackInfo(stack.name, stack.external_name, stack.region,
                                 SimpleStatus.ABSENT, None, {})
            raise
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
        return StackInfo(stack.name, stack.external_name, stack.region,
                         simplify_status(described["StackStatus"]), described["StackStatus"],
                         outputs)

    def outputs(self, path: str = "", *, within: bool = False) -> dict[str, Mapping[str, str]]:
        """The outputs of every stack under ``path``, keyed by Sceptre path (``within``: as
        :meth:`status`)."""
        return {info.path: info.outputs for info in self.status(path, within=within)}

    def diff(self, path: str = "") -> dict[str, bool]:
        """Whether each deployed stack differs from its template and config (True = differs)."""
        from sceptre.diffing.stack_differ import DeepDiffStackDiffer
        from sceptre.exceptions import SceptreException

        plan = self.plan(path)
        try:
            result = plan.diff(DeepDiffStackDiffer())
        except (SceptreException, ClientError, BotoCoreError) as exc:
            raise StackError(f"diff of {path or 'all stacks'} failed", found=str(exc)) from exc
        return {stack.name: bool(d.template_diff or d.config_diff or not d.is_deployed)
                for stack, d in result.items()}

    def drift(self, path: str = "", *, timeout_s: float = DRIFT_TIMEOUT_S) -> list[StackDrift]:
        """CloudFormation drift detection of every deployed stack under ``path`` (only those:
        a group's dependencies in the other region are not read), in launch order.

        All detections start at once (``DetectStackDrift``), then each is followed until it
        settles (``DescribeStackDriftDetectionStatus``) and its resources are read
        (``DescribeStackResourceDrifts``, and ``ListStackResources`` for those not checked).
        The same calls on every target; a stack that does not exist is reported ``ABSENT``.
        """
        plan = self.plan(path)
        plan.resolve(command="describe")
        prefix = path.removesuffix(".yaml")
        stacks = [stack for stack in plan if stack.name.startswith(prefix)]
        try:
            started = [(stack, self._start_drift_detection(stack)) for stack in stacks]
            return [self._finish_drift_detection(stack, detection, timeout_s)
                    for stack, detection in started]
        except (ClientError, BotoCoreError) as exc:
            raise StackError(f"drift detection of {path or 'all stacks'} failed "
                             f"({self.environment})", found=str(exc),
                             fix="check the credentials' cloudformation:DetectStackDrift and "
                                 "read permissions, and that the stacks are not being updated"
                             ) from exc

    @staticmethod
    def _cloudformation(stack: Any) -> Any:
        from sceptre.connection_manager import ConnectionManager

        manager = ConnectionManager(region=stack.region, profile=stack.profile,
                                    stack_name=stack.external_name)

        def call(command: str, **kwargs: Any) -> Any:
            return manager.call(service="cloudformation", command=command, kwargs=kwargs)

        return call

    def _start_drift_detection(self, stack: Any) -> str | None:
        call = self._cloudformation(stack)
        try:
            call("describe_stacks", StackName=stack.external_name)
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        answer = call("detect_stack_drift", StackName=stack.external_name)
        return str(answer["StackDriftDetectionId"])

    def _finish_drift_detection(self, stack: Any, detection: str | None,
                                timeout_s: float) -> StackDrift:
        if detection is None:
            return StackDrift(stack.name, stack.external_name, stack.region, ABSENT, None)
        call = self._cloudformation(stack)

        def settled() -> dict[str, Any] | None:
            status: dict[str, Any] = call("describe_stack_drift_detection_status",
                                          StackDriftDetectionId=detection)
            return None if status["DetectionStatus"] == "DETECTION_IN_PROGRESS" else status

        status = wait_until(settled, description=f"drift detection of "
                            f"{stack.external_name}", timeout=timeout_s, interval=0.1,
                            backoff=1.5, max_interval=10.0)
        checked: list[ResourceDrift] = []
        token: str | None = None
        while True:
            page = call("describe_stack_resource_drifts", StackName=stack.external_name,
                        **({"NextToken": token} if token else {}))
            checked += [ResourceDrift.from_api(d) for d in page.get("StackResourceDrifts", [])]
            token = page.get("NextToken")
            if not token:
                break
        seen = {r.logical_id for r in checked}
        unchecked: list[ResourceDrift] = []
        token = None
        while True:
            page = call("list_stack_resources", StackName=stack.external_name,
                        **({"NextToken": token} if token else {}))
            for summary in page.get("StackResourceSummaries", []):
                if summary["LogicalResourceId"] not in seen:
                    unchecked.append(ResourceDrift(
                        summary["LogicalResourceId"], summary.get("PhysicalResourceId", ""),
                        summary["ResourceType"], (summary.get("DriftInformation") or {}).get(
                            "StackResourceDriftStatus", "NOT_CHECKED")))
            token = page.get("NextToken")
            if not token:
                break
        return StackDrift(stack.name, stack.external_name, stack.region,
                          str(status.get("StackDriftStatus") or "UNKNOWN"),
                          str(status["DetectionStatus"]), status.get("DetectionStatusReason"),
                          tuple(sorted(checked + unchecked, key=lambda r: r.logical_id)))


def stacks_table(infos: list[StackInfo]) -> Any:
    """The stacks as a DataFrame: path, region, status, CloudFormation name, key outputs."""
    import pandas as pd

    return pd.DataFrame([{"stack": i.path, "region": i.region, "status": i.status,
                          "cloudformation": i.stack_name,
                          "outputs": ", ".join(sorted(i.outputs))} for i in infos])


def drift_table(drifts: list[StackDrift]) -> Any:
    """Drift as a DataFrame: one row per drifted resource (or per stack without drift)."""
    import pandas as pd

    rows = []
    for stack in drifts:
        for resource in stack.drifted or (None,):
            rows.append({"stack": stack.path, "region": stack.region, "stack drift": stack.status,
                         "resource": resource.logical_id if resource else "",
                         "type": resource.resource_type if resource else "",
                         "resource drift": resource.status if resource else "",
                         "differences": "; ".join(d.describe() for d in resource.differences)
                         if resource else ""})
    return pd.DataFrame(rows)
