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
    ("50_cost", {"period_days": 0}, "too small"),
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
