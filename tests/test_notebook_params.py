"""The notebook parameter contract."""

from __future__ import annotations

from typing import Any

import pytest

from drlib.errors import ConfigError
from drlib.notebook_params import SCHEMAS, check_notebook_matches_schema, notebook_path, validate


def test_defaults_fill_what_is_not_given() -> None:
    """Validation returns every parameter, the missing ones at their defaults."""
    params = validate("20_failover_drill", {"scenario": "unplanned-failover"})
    assert params["scenario"] == "unplanned-failover"
    assert params["environment"] == "dev"
    assert params["dry_run"] is False


def test_ints_are_accepted_for_floats() -> None:
    """An int where a float is expected is converted, as papermill users write `-p x 5`."""
    assert validate("10_readiness", {"lag_threshold_seconds": 5})["lag_threshold_seconds"] == 5.0


@pytest.mark.parametrize(("notebook", "params", "message"), [
    ("20_failover_drill", {"scenaro": "x"}, "Unknown parameter.*scenaro"),
    ("20_failover_drill", {"scenario": "meteor"}, "value that is not allowed"),
    ("20_failover_drill", {"dry_run": "yes"}, "'dry_run' .* wrong type"),
    ("50_cost", {"period_days": True}, "'period_days' .* wrong type"),
    ("50_cost", {"period_days": 0}, "out of range"),
    ("00_deploy", {"groups": ["tertiary"]}, "not allowed"),
    ("99_nothing", {}, "Unknown notebook"),
])
def test_bad_parameters_fail_with_their_name(notebook: str, params: dict[str, Any],
                                             message: str) -> None:
    """Unknown names, wrong types and values outside the choices fail before anything runs."""
    with pytest.raises(ConfigError, match=message):
        validate(notebook, params)


@pytest.mark.parametrize("notebook", sorted(SCHEMAS))
def test_notebook_parameters_cell_matches_schema(notebook: str) -> None:
    """What papermill sees in each notebook's parameters cell is exactly the typed schema."""
    if not notebook_path(notebook).exists():
        pytest.fail(f"{notebook_path(notebook)} is missing")
    assert check_notebook_matches_schema(notebook) == []


NUMERIC = [(notebook, name, param) for notebook, schema in SCHEMAS.items()
           for name, param in schema.items() if param.type in (int, float)]


def _refused_values(param: Any) -> list[Any]:
    """NaN, both infinities, just below the minimum and just above the maximum."""
    step = 1 if param.type is int else 1e-3
    below = param.minimum - step
    above = param.maximum + step
    if param.type is int:
        return [int(below), int(above)]
    return [float("nan"), float("inf"), float("-inf"), -1.0, below, above]


@pytest.mark.parametrize(("notebook", "name", "param"), NUMERIC,
                         ids=[f"{nb}:{name}" for nb, name, _ in NUMERIC])
def test_every_numeric_parameter_refuses_nonfinite_and_out_of_range(notebook: str, name: str,
                                                                    param: Any) -> None:
    """NaN, inf, negative and out-of-range values are refused; the message names the notebook,
    the parameter, the value and the allowed range."""
    for value in _refused_values(param):
        with pytest.raises(ConfigError) as caught:
            validate(notebook, {name: value})
        text = caught.value.render()
        assert notebook in text
        assert name in text
        assert repr(value) in text
        assert f"from {param.minimum:g} to {param.maximum:g}" in text
    assert validate(notebook, {name: param.minimum})[name] == param.minimum
    assert validate(notebook, {name: param.maximum})[name] == param.maximum


def test_a_numeric_parameter_without_bounds_cannot_be_declared() -> None:
    """The schema itself refuses a number without both bounds."""
    from drlib.notebook_params import Param

    with pytest.raises(TypeError):
        Param(float, 1.0, "unbounded", minimum=0.0)
