"""Fixtures of the cost tests: the small Sceptre project and a copy to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_PROJECT = Path(__file__).with_name("fixture_sceptre")


@pytest.fixture
def fixture_project() -> Path:
    """The read-only two-region fixture project (dev and prod var files)."""
    return FIXTURE_PROJECT


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture project."""
    target = tmp_path / "sceptre"
    shutil.copytree(FIXTURE_PROJECT, target)
    return target
