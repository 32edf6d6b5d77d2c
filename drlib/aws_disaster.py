"""The ``aws`` target's disaster: invert the primary's Route 53 health check.

On AWS a drill must not really destroy a region. The standard controlled way to make traffic
leave the primary is to invert its health check (Route 53 then answers with the secondary), then
promote the secondary with data loss allowed. An FIS experiment can be added by setting
``DRLIB_FIS_TEMPLATE_ID``: it is started on inject and stopped on restore.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from drlib.aws import AwsClients


class HealthCheckInversion:
    """Invert the given health checks of the primary region, and run an FIS experiment if set."""

    description = "Route 53 health-check inversion (plus an FIS experiment when configured)"

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self.fis_template = os.environ.get("DRLIB_FIS_TEMPLATE_ID")
        self._experiment: str | None = None

    def inject(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        route53 = self.clients.client("route53", "us-east-1")
        for check_id in health_check_ids:
            route53.update_health_check(HealthCheckId=check_id, Inverted=True)
        done: dict[str, Any] = {"inverted": list(health_check_ids)}
        if self.fis_template:
            fis = self.clients.client("fis", region)
            started = fis.start_experiment(experimentTemplateId=self.fis_template)
            self._experiment = started["experiment"]["id"]
            done["fis_experiment"] = self._experiment
        return done

    def restore(self, region: str, health_check_ids: Sequence[str] = ()) -> dict[str, Any]:
        route53 = self.clients.client("route53", "us-east-1")
        for check_id in health_check_ids:
            route53.update_health_check(HealthCheckId=check_id, Inverted=False)
        done: dict[str, Any] = {"restored": list(health_check_ids)}
        if self._experiment:
            self.clients.client("fis", region).stop_experiment(id=self._experiment)
            done["fis_experiment_stopped"] = self._experiment
        return done
