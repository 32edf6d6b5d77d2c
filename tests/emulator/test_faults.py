"""The fault registry and its HTTP control API."""

from __future__ import annotations

import pytest
import requests

from drlib.emulator import faults
from drlib.emulator.server import Emulator


@pytest.fixture(autouse=True)
def _no_faults() -> None:
    faults.reset()


def test_changes_are_logged_with_timestamps() -> None:
    """Each change is appended to the log with an ISO UTC timestamp, in order."""
    faults.pause_replication("dynamodb")
    faults.set_replication_delay("s3", 2.5)
    log = faults.snapshot()["log"]
    assert [(e["action"], e["target"]) for e in log] == [("pause-replication", "dynamodb"),
                                                         ("set-delay", "s3")]
    assert log[1]["detail"] == {"seconds": 2.5}
    assert all(e["at"].endswith("+00:00") for e in log)


def test_queries_follow_changes() -> None:
    """Pausing, delaying, downing a region and failing a check are visible to the queries."""
    faults.pause_replication("aurora")
    faults.set_replication_delay("dynamodb", 1.0)
    faults.take_region_down("us-east-1")
    faults.fail_health_check("hc-1")
    assert faults.replication_paused("aurora")
    assert not faults.replication_paused("s3")
    assert faults.replication_delay("dynamodb") == 1.0
    assert faults.region_down("us-east-1")
    assert not faults.region_down("us-west-2")
    assert faults.health_check_failed("hc-1")
    faults.clear()
    assert not faults.replication_paused("aurora")
    assert not faults.region_down("us-east-1")
    assert faults.replication_delay("dynamodb") == faults.DEFAULT_REPLICATION_DELAY


@pytest.mark.parametrize(("call", "message"), [
    (lambda: faults.pause_replication("redis"), "unknown store 'redis'"),
    (lambda: faults.set_replication_delay("s3", -1), "cannot be negative"),
])
def test_bad_input_is_refused(call, message) -> None:  # type: ignore[no-untyped-def]
    """Unknown stores and negative delays are refused with a message saying what is expected."""
    with pytest.raises(ValueError, match=message):
        call()


def test_http_api_applies_and_reports(clean_emulator: Emulator) -> None:
    """POST /_drlib/faults applies a fault; GET returns the state; bad input gets a 400."""
    url = f"{clean_emulator.endpoint_url}/_drlib/faults"
    answer = requests.post(url, json={"action": "region-down", "region": "us-east-1"}, timeout=5)
    assert answer.ok, answer.text
    assert requests.get(url, timeout=5).json()["regions_down"] == ["us-east-1"]
    bad = requests.post(url, json={"action": "set-delay", "store": "s3"}, timeout=5)
    assert bad.status_code == 400
    assert "needs seconds" in bad.json()["error"]
    clean_emulator.reset()
    assert requests.get(url, timeout=5).json()["regions_down"] == []
