"""The typed parameter contract of every notebook.

Each notebook's first cell is tagged ``parameters``; the names, defaults and types papermill sees
there (``papermill --help-notebook``) must match the schema here (a test checks). The runner and
``drlib drill`` validate what they pass against it *before* any notebook runs, so an unknown or
ill-typed parameter fails at once with a message that names it and says what is expected.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

ENVIRONMENTS = ("dev", "staging", "prod")
TARGETS = ("local", "aws")
SCENARIOS = ("planned-switchover", "unplanned-failover", "data-corruption")
STORES = ("aurora", "dynamodb", "s3")


@dataclass(frozen=True)
class Param:
    """One notebook parameter: its type, default, allowed values and meaning."""

    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type in (int, float) and (self.minimum is None or self.maximum is None):
            raise TypeError("a numeric parameter needs both a minimum and a maximum")

    def check(self, name: str, value: Any, notebook: str) -> Any:
        """The value, converted where harmless (int to float); raise ConfigError otherwise."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, self.type) and not (
                self.type is int and isinstance(value, bool))
        if not ok:
            raise ConfigError(
                f"Parameter {name!r} of {notebook} has the wrong type",
                expected=f"{self.type.__name__}: {self.help}",
                found=f"{value!r} ({type(value).__name__})",
                fix=f"pass {name} as a {self.type.__name__}, e.g. {self.default!r}")
        values = value if self.type is list else [value]
        if self.choices is not None:
            bad = [v for v in values if v not in self.choices]
            if bad:
                raise ConfigError(
                    f"Parameter {name!r} of {notebook} has a value that is not allowed",
                    expected=f"one of {', '.join(map(str, self.choices))}",
                    found=", ".join(map(repr, bad)),
                    fix=f"choose {name} from the expected values")
        if self.minimum is not None and self.maximum is not None and not (
                math.isfinite(value) and self.minimum <= value <= self.maximum):
            allowed = f"{self.minimum:g} to {self.maximum:g}"
            raise ConfigError(
                f"Parameter {name!r} of notebook {notebook} is out of range: {value!r}",
                expected=f"a finite number from {allowed} ({self.help})", found=repr(value),
                fix=f"pass {name} from {allowed}, e.g. -p {name} {self.default!r}")
        return value


_COMMON = {
    "environment": Param(str, "dev", "environment: dev, staging or prod", ENVIRONMENTS),
    "target": Param(str, "local", "local (embedded emulator) or aws", TARGETS),
    "run_dir": Param(str, "", "folder of this run's evidence; '' makes a new one under outputs/"),
}

SCHEMAS: dict[str, dict[str, Param]] = {
    "00_deploy": {
        **_COMMON,
        "groups": Param(list, ["primary", "secondary"], "stack groups to launch",
                        ("primary", "secondary")),
    },
    "10_readiness": {
        **_COMMON,
        "lag_threshold_seconds": Param(float, 0.0, "largest replication lag allowed to start; "
                                       "0: the environment's (dev 5, staging 3, prod 2)",
                                       minimum=0.0, maximum=900.0),
    },
    "20_failover_drill": {
        **_COMMON,
        "scenario": Param(str, "planned-switchover", "the drill scenario", SCENARIOS),
        "confirm_production": Param(bool, False, "must be True to drill prod"),
        "dry_run": Param(bool, False, "show the plan and change nothing"),
        "canary_interval_seconds": Param(float, 0.2, "seconds between canary writes per store",
                                         minimum=0.01, maximum=10.0),
        "lag_threshold_seconds": Param(float, 0.0, "largest replication lag allowed to start; "
                                       "0: the environment's (dev 5, staging 3, prod 2)",
                                       minimum=0.0, maximum=900.0),
    },
    "30_failback": {
        **_COMMON,
        "confirm_production": Param(bool, False, "must be True to fail back prod"),
        "dry_run": Param(bool, False, "show the plan and change nothing"),
    },
    "40_replication_lag": {
        **_COMMON,
        "window_minutes": Param(float, 30.0, "CloudWatch window to read, minutes",
                                minimum=1.0, maximum=1440.0),
        "stores": Param(list, list(STORES), "stores to measure", STORES),
        "rate_per_second": Param(float, 20.0, "load: target writes per second per store; 0: as "
                                 "fast as the users go", minimum=0.0, maximum=100000.0),
        "duration_seconds": Param(float, 10.0, "load: how long to write",
                                  minimum=1.0, maximum=3600.0),
        "users_per_store": Param(int, 0, "load: Locust users per store; 0: one per 50 writes/s "
                                 "of the target (8 when unbounded)", minimum=0, maximum=1000),
        "workers": Param(int, 0, "load: 0 runs one Locust process; N a master and N worker "
                         "processes on loopback", minimum=0, maximum=32),
    },
    "50_cost": {
        **_COMMON,
        "period_days": Param(int, 7, "days of actual spend to read", minimum=1,
                            maximum=365),
    },
    "60_incident_failover": {
        "environment": _COMMON["environment"],
        "target": _COMMON["target"],
        "outputs_dir": Param(str, "outputs", "where the incident's evidence folder is made"),
        "confirm": Param(bool, False, "True: start the failover runbook now (a real event, prod "
                         "included)"),
        "require_approval": Param(bool, False, "True: leave the decision to the runbook's "
                                  "approvers"),
    },
    "90_report": {
        "run_dir": Param(str, "",
                         "the run folder to report on; empty means the newest sealed drill run"),
        "outputs_dir": Param(str, "outputs", "the outputs folder"),
    },
    "95_history": {
        "outputs_dir": Param(str, "outputs", "the outputs folder"),
    },
}


def notebook_path(name: str) -> Path:
    """The source notebook ``notebooks/<name>.ipynb``."""
    return NOTEBOOK_DIR / f"{name}.ipynb"


def validate(notebook: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``notebook``: the given ones checked, the others at their default."""
    if notebook not in SCHEMAS:
        raise ConfigError(f"Unknown notebook {notebook!r}",
                          expected=f"one of {', '.join(SCHEMAS)}", found=notebook)
    schema = SCHEMAS[notebook]
    unknown = sorted(set(parameters) - set(schema))
    if unknown:
        raise ConfigError(f"Unknown parameter(s) for {notebook}: {', '.join(unknown)}",
                          expected=f"some of {', '.join(schema)}",
                          found=", ".join(unknown),
                          fix="check the spelling; `papermill --help-notebook "
                              f"notebooks/{notebook}.ipynb` lists them")
    checked = {name: param.default for name, param in schema.items()}
    for name, value in parameters.items():
        checked[name] = schema[name].check(name, value, notebook)
    return checked


def check_notebook_matches_schema(notebook: str) -> list[str]:
    """Differences between a notebook's parameters cell and its schema (empty when they match)."""
    from papermill.inspection import inspect_notebook

    declared = inspect_notebook(str(notebook_path(notebook)))
    schema = SCHEMAS[notebook]
    problems = []
    for name in sorted(set(declared) | set(schema)):
        if name not in schema:
            problems.append(f"{notebook}: {name} is in the notebook but not in the schema")
        elif name not in declared:
            problems.append(f"{notebook}: {name} is in the schema but not in the notebook")
        else:
            default = ast.literal_eval(declared[name]["default"])
            if default != schema[name].default:
                problems.append(f"{notebook}: {name} defaults to {default!r} in the notebook, "
                                f"{schema[name].default!r} in the schema")
            if not declared[name].get("help"):
                problems.append(f"{notebook}: {name} has no comment in the parameters cell")
    return problems
