"""Fixtures shared by the emulator's Aurora tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drlib.aws import AwsClients
from drlib.emulator import faults

from .test_aurora import make_global_database


@pytest.fixture
def gdb(aws: AwsClients) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """A two-region global database; faults cleared afterwards."""
    yield make_global_database(aws)
    faults.reset()
