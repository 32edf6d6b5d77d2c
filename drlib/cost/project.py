"""What an environment's Sceptre project would deploy, read without touching AWS.

Sceptre's own config reader renders the stack configs with the environment's var file (the same
inheritance and Jinja rendering ``sceptre launch`` uses); resolvers such as ``!stack_output`` are
left unresolved (they would call AWS) and become :data:`UNKNOWN`. Each stack's template is then
evaluated for that stack's parameters and region: conditions decide which resources exist, and
the properties the cost and policy code needs (instance classes, capacities, replica lists) are
resolved through ``Ref``, ``Fn::If``, ``Fn::FindInMap``, ``Fn::Select`` and ``Fn::Sub``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from drlib.cfn_yaml import read_template
from drlib.errors import ConfigError

log = logging.getLogger(__name__)


class _Unknown:
    """A value that cannot be known before deployment (a resolver, a GetAtt, an import)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()

STANDBY_GROUPS = ("secondary", "standby", "dr")


@dataclass(frozen=True)
class ResolvedResource:
    """One resource a stack creates, with its properties resolved as far as possible."""

    stack: str
    region: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    condition_unknown: bool = False  # its Condition could not be decided before deployment

    @property
    def name(self) -> str:
        """``stack/LogicalId``: how messages name the resource."""
        return f"{self.stack}/{self.logical_id}"

    def prop(self, *path: str, default: Any = None) -> Any:
        """A nested property (``prop("LaunchTemplateData", "InstanceType")``)."""
        value: Any = self.properties
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return default
            value = value[key]
        return value


@dataclass(frozen=True)
class ResolvedStack:
    """One stack of the project for one environment."""

    name: str  # the Sceptre path, e.g. "primary/database"
    group: str  # the top-level stack group, e.g. "primary"
    region: str
    template: Path
    parameters: Mapping[str, Any]
    resources: tuple[ResolvedResource, ...]
    stack_name: str = ""  # the CloudFormation name Sceptre gives it

    @property
    def role(self) -> str:
        """``standby`` for the secondary group's stacks, ``primary`` otherwise."""
        return "standby" if self.group in STANDBY_GROUPS else "primary"


@dataclass(frozen=True)
class ResolvedProject:
    """Every stack of a Sceptre project, rendered for one environment."""

    environment: str
    sceptre_dir: Path
    variables: Mapping[str, Any]
    stacks: tuple[ResolvedStack, ...] = field(default_factory=tuple)

    def resources(self, type_: str | None = None) -> list[ResolvedResource]:
        """Every resource (of ``type_``), in stack order."""
        return [r for s in self.stacks for r in s.resources if type_ in (None, r.type)]

    def stack_names(self) -> list[str]:
        """The CloudFormation names of the project's stacks."""
        return [s.stack_name for s in self.stacks if s.stack_name]

    def region_roles(self) -> dict[str, str]:
        """Region -> ``primary`` / ``standby``."""
        return {s.region: s.role for s in self.stacks}


# --- reading the Sceptre project ---------------------------------------------------------------


def _raw(stack: Any, name: str) -> Any:
    """A Sceptre resolvable property without resolving it (resolving may call AWS)."""
    return stack.__dict__.get(f"_{name}", getattr(stack, name, None) if name == "region" else None)


def _unresolve(value: Any) -> Any:
    """Replace Sceptre resolver objects with UNKNOWN, recursively."""
    from sceptre.resolvers import Resolver

    if isinstance(value, Resolver):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unresolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unresolve(v) for v in value]
    return value


def _template_path(stack: Any, sceptre_dir: Path) -> Path:
    config = _unresolve(_raw(stack, "template_handler_config")) or {}
    relative = config.get("path") if isinstance(config, dict) else None
    if not isinstance(relative, str):
        raise ConfigError(f"Stack {stack.name} has no file template",
                          expected="template: {path: <file>} or template_path", found=str(config))
    path = Path(relative)
    for candidate in (path, sceptre_dir / "templates" / path, sceptre_dir / path):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"Template of {stack.name} not found", expected=str(path),
                      found="no such file under templates/")


def load_project(environment: str, sceptre_dir: Path) -> ResolvedProject:
    """Render every stack of ``sceptre_dir`` for ``environment`` and resolve its template."""
    from sceptre.config.reader import ConfigReader
    from sceptre.context import SceptreContext
    from sceptre.exceptions import SceptreException

    from drlib.stacks import SceptreProject

    sceptre_dir = Path(sceptre_dir).resolve()
    project = SceptreProject(environment, sceptre_dir)
    context = SceptreContext(project_path=str(sceptre_dir), command_path="",
                             user_variables=dict(project.variables))
    try:
        all_stacks, _ = ConfigReader(context).construct_stacks()
    except SceptreException as exc:
        raise ConfigError(f"Sceptre cannot render the project for {environment}",
                          found=str(exc), fix="check the var file and the stack configs") from exc
    stacks = []
    for stack in sorted(all_stacks, key=lambda s: s.name):
        template = _template_path(stack, sceptre_dir)
        parameters = _unresolve(dict(_raw(stack, "parameters") or {}))
        resolved = resolve_stack(stack.name, stack.region, template, parameters)
        stacks.append(replace(resolved, stack_name=str(stack.external_name)))
    return ResolvedProject(environment=environment, sceptre_dir=sceptre_dir,
                           variables=project.variables, stacks=tuple(stacks))


def resolve_stack(name: str, region: str, template: Path,
                  parameters: Mapping[str, Any]) -> ResolvedStack:
    """Evaluate ``template`` for ``parameters`` in ``region``: the resources it would create."""
    try:
        body = read_template(template)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Cannot parse template {template}", found=str(exc)) from exc
    evaluator = TemplateEvaluator(body, parameters, region)
    resources = tuple(
        ResolvedResource(stack=name, region=region, logical_id=logical_id, type=rtype,
                         properties=props, condition_unknown=unknown)
        for logical_id, rtype, props, unknown in evaluator.resources())
    return ResolvedStack(name=name, group=name.split("/")[0], region=region, template=template,
                         parameters=dict(parameters), resources=resources)


# --- evaluating a template ---------------------------------------------------------------------




_AZ_COUNT = 3  # Fn::GetAZs answers three zones in both regions of the pair


class TemplateEvaluator:
    """Evaluates conditions and property values of one CloudFormation template."""

    def __init__(self, body: Mapping[str, Any], parameters: Mapping[str, Any],
                 region: str) -> None:
        self.body = body
        self.region = region
        self.params: dict[str, Any] = {}
        for pname, spec in (body.get("Parameters") or {}).items():
            value = parameters.get(pname, spec.get("Default", UNKNOWN))
            ptype = str(spec.get("Type", "String"))
            if isinstance(value, str) and ("List" in ptype or ptype == "CommaDelimitedList"):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)  # CloudFormation parameters are strings
            self.params[pname] = value
        self._conditions: dict[str, Any] = {}

    def pseudo(self, name: str) -> Any:
        """The value of a pseudo parameter."""
        return {"AWS::Region": self.region, "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}.get(name, UNKNOWN)

    def condition(self, name: str) -> Any:
        """True, False or UNKNOWN."""
        if name not in self._conditions:
            spec = (self.body.get("Conditions") or {}).get(name)
            if spec is None:
                raise ConfigError(f"Undefined condition {name}", expected="a name in Conditions")
            self._conditions[name] = self.evaluate(spec)
        return self._conditions[name]

    def evaluate(self, node: Any) -> Any:
        """Resolve intrinsic functions in ``node`` as far as the inputs allow."""
        if isinstance(node, list):
            return [self.evaluate(v) for v in node]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1:
            return {k: self.evaluate(v) for k, v in node.items()}
        (fn, arg), = node.items()
        if fn == "Ref":
            if arg in self.params:
                return self.params[arg]
            if str(arg).startswith("AWS::"):
                return self.pseudo(str(arg))
            return {"Ref": arg}  # a resource: kept so callers can follow it
        if fn == "Condition":
            return self.condition(str(arg))
        if fn == "Fn::Equals":
            left, right = (self.evaluate(v) for v in arg)
            if left is UNKNOWN or right is UNKNOWN:
                return UNKNOWN
            return str(left) == str(right)
        if fn == "Fn::Not":
            value = self.evaluate(arg[0])
            return UNKNOWN if value is UNKNOWN else not value
        if fn in ("Fn::And", "Fn::Or"):
            values = [self.evaluate(v) for v in arg]
            if fn == "Fn::And" and any(v is False for v in values):
                return False
            if fn == "Fn::Or" and any(v is True for v in values):
                return True
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            return all(values) if fn == "Fn::And" else any(values)
        if fn == "Fn::If":
            cond = self.condition(str(arg[0]))
            if cond is UNKNOWN:
                return UNKNOWN
            chosen = self.evaluate(arg[1] if cond else arg[2])
            return None if chosen == {"Ref": "AWS::NoValue"} else chosen
        if fn == "Fn::FindInMap":
            keys = [self.evaluate(v) for v in arg[:3]]
            if any(k is UNKNOWN for k in keys):
                return UNKNOWN
            try:
                return self.evaluate(self.body["Mappings"][keys[0]][keys[1]][keys[2]])
            except KeyError:
                return UNKNOWN
        if fn == "Fn::Select":
            index, items = self.evaluate(arg[0]), self.evaluate(arg[1])
            if index is UNKNOWN or not isinstance(items, list):
                return UNKNOWN
            return items[int(index)] if int(index) < len(items) else UNKNOWN
        if fn == "Fn::GetAZs":
            return [f"{self.region}{c}" for c in "abc"[:_AZ_COUNT]]
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join":
            parts = self.evaluate(arg[1])
            if not isinstance(parts, list) or any(p is UNKNOWN for p in parts):
                return UNKNOWN
            return str(arg[0]).join(str(p) for p in parts)
        if fn.startswith("Fn::"):
            return UNKNOWN  # GetAtt, ImportValue, Cidr, Split, Base64: known only after deploy
        return {fn: self.evaluate(arg)}

    def _sub(self, arg: Any) -> Any:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.evaluate(v) for k, v in extra.items()}
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            end = text.find("}", start)
            out.append(text[i:start])
            name = text[start + 2:end]
            if name.startswith("!"):
                value: Any = "${" + name[1:] + "}"
            elif name in values:
                value = values[name]
            elif name in self.params:
                value = self.params[name]
            else:
                value = self.pseudo(name) if name.startswith("AWS::") else UNKNOWN
            if value is UNKNOWN:
                return UNKNOWN
            out.append(str(value))
            i = end + 1
        return "".join(out)

    def resources(self) -> list[tuple[str, str, dict[str, Any], bool]]:
        """``(logical id, type, resolved properties, condition unknown)`` of created resources."""
        out = []
        for logical_id, spec in (self.body.get("Resources") or {}).items():
            unknown = False
            if "Condition" in spec:
                cond = self.condition(str(spec["Condition"]))
                if cond is False:
                    continue
                unknown = cond is UNKNOWN
            props = self.evaluate(spec.get("Properties") or {})
            props = {k: v for k, v in props.items() if v is not None}
            out.append((logical_id, str(spec["Type"]), props, unknown))
        return out
