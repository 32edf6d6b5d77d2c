"""Readiness of the master secret's rotation: on, and within its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drlib.readiness import secret_rotation_verdict

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _secret(**fields: Any) -> dict[str, Any]:
    return {"Name": "acme-dev-aurora-master", "RotationEnabled": True,
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "CreatedDate": NOW - timedelta(days=100), **fields}


@pytest.mark.parametrize(("description", "status", "says"), [
    (_secret(LastRotatedDate=NOW - timedelta(days=3)), "pass", "last rotated 3 days ago"),
    (_secret(LastRotatedDate=NOW - timedelta(days=30, hours=12)), "pass", "window 30 days"),
    (_secret(LastRotatedDate=NOW - timedelta(days=32)), "fail", "overdue"),
    (_secret(CreatedDate=NOW - timedelta(days=5)), "pass", "last created 5 days ago"),
    (_secret(), "fail", "last created 100 days ago"),  # never rotated since creation
    (_secret(RotationEnabled=False, LastRotatedDate=NOW), "fail", "automatic rotation is off"),
    ({"Name": "s", "CreatedDate": NOW}, "fail", "automatic rotation is off"),
    (_secret(RotationRules={}), "fail", "no rotation window"),
])
def test_secret_rotation_verdict(description: dict[str, Any], status: str, says: str) -> None:
    """Readiness fails when rotation is off, or the secret is older than its window plus a day."""
    result = secret_rotation_verdict(description, NOW)
    assert result.status == status
    assert says in result.evidence
    assert bool(result.remedy) is (status == "fail")
