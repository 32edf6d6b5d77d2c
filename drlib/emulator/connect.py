"""How drlib reaches the emulator from a notebook kernel or a command: the ``local`` target."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import requests

from drlib.errors import ConfigError, EmulatorError


class EmulatorRegionOutage:
    """The ``local`` disaster: the emulator's region-down fault (data plane refuses clients,
    the Aurora primary stops, replication from the region stops)."""

    description = "emulator fault: the region's data plane is down"

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(f"{self.endpoint_url}/_drlib/faults", json=body, timeout=30)
        if not answer.ok:
            raise EmulatorError("The emulator refused a fault", found=answer.text,
                                fix="check the emulator log")
        return dict(answer.json()["event"])

    def inject(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        return self._post({"action": "region-down", "region": region})

    def restore(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        return self._post({"action": "region-up", "region": region})

    def fault_log(self) -> list[dict[str, Any]]:
        """Every fault change the emulator recorded (for the evidence)."""
        answer = requests.get(f"{self.endpoint_url}/_drlib/faults", timeout=30)
        answer.raise_for_status()
        return list(answer.json()["log"])


def local_endpoint() -> str:
    """The running emulator's URL: ``AWS_ENDPOINT_URL``, else the background emulator's."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return endpoint
    from drlib.emulator.daemon import read_state

    proc = read_state()
    if proc is None:
        raise ConfigError("No emulator is running for the local target",
                          expected="AWS_ENDPOINT_URL set, or a background emulator",
                          fix="run `drlib emulator start` (or `make lab`), or use `drlib drill`, "
                              "which starts one")
    return proc.endpoint_url


def local_target_parts() -> tuple[str, str, EmulatorRegionOutage, float]:
    """Endpoint, version label, disaster injector and time scale of the local target."""
    endpoint = local_endpoint()
    try:
        health = requests.get(f"{endpoint}/_drlib/health", timeout=5).json()
    except (requests.RequestException, ValueError) as exc:
        raise EmulatorError(f"The emulator at {endpoint} does not answer", found=str(exc),
                            fix="start it again: drlib emulator start") from exc
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return (endpoint, str(health["version"]), EmulatorRegionOutage(endpoint),
            float(health.get("time_scale", 1.0)))
