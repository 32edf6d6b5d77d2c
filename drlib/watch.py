"""Watch the world while a drill runs: a fault the drill did not cause fails the step at once.

A :class:`WorldWatch` thread probes, every second, the data plane of each region the drill has not
taken down itself (a DynamoDB read of the workload's table: the same regional data plane the
canaries write to) and the global database (its status, reported in either region). When a
condition the drill did not cause makes the step impossible (a region's data plane refusing
reads twice in a row; the global database reporting a failed operation) it records the observed
fault and its time on the timeline (``faults`` in ``metrics.json``) and the running step fails
within seconds: every wait (:func:`drlib.waiting.wait_until`) and every step start checks the watch,
and the error names the fault. Long waits print their progress while a watch is active.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from drlib import waiting
from drlib.errors import DrError

log = logging.getLogger(__name__)

TRIP_AFTER = 2
"""Consecutive failed probes of a region before its outage counts (one can be a blip)."""
FAILED_GLOBAL_STATES = frozenset({"failed", "inaccessible-encryption-credentials"})


class WorldFault(DrError):
    """A fault the drill did not cause made the running step impossible."""


class WorldWatch:
    """See the module docstring. ``expected_down`` names the regions the drill itself took down
    (an unplanned failover's primary), whose outage is the drill, not a fault."""

    def __init__(self, clients: Any, workload: Any, timeline: Any,
                 expected_down: Callable[[], set[str]], interval_s: float = 1.0) -> None:
        self.clients = clients
        self.workload = workload
        self.timeline = timeline
        self.expected_down = expected_down
        self.interval_s = interval_s
        self.fault: dict[str, Any] | None = None
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="drill-world-watch")
        self._registered = False

    def start(self) -> WorldWatch:
        regions = self.workload.regions
        self._probes = {r: self._probe_client(r) for r in (regions.primary, regions.secondary)}
        waiting.add_watch(self.check)
        self._registered = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the abort path, whose waits must not trip on the fault)."""
        self._stop.set()
        if self._registered:
            waiting.remove_watch(self.check)
            self._registered = False
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def check(self) -> None:
        """Raise :class:`WorldFault` naming the observed fault, if there is one."""
        fault = self.fault
        if fault is None:
            return
        raise WorldFault(
            f"{fault['fault']} in {fault['region']} (not caused by the drill) during step "
            f"{fault['during_step'] or '-'}: the step cannot complete",
            expected=f"the {fault['region']} data plane and the global database answering",
            found=f"{fault['fault']} observed at {fault['at']}: {fault['error']}",
            fix="find and clear the fault (drlib emulator fault list on the emulator; the AWS "
                "Health Dashboard on AWS), then run the printed command to return the system",
            data={"fault": fault})

    def explain(self, error: BaseException) -> None:
        """A call failed: probe every region now (once, no retries) and raise
        :class:`WorldFault` when an outage the drill did not cause explains it."""
        if self.fault is None:
            expected = self.expected_down()
            for region in (self.workload.regions.primary, self.workload.regions.secondary):
                if region in expected:
                    continue
                found = self._probe_data_plane(region)
                if found:
                    self._trip("region-down", region, f"{found} (and: {type(error).__name__}: "
                               f"{str(error)[:200]})")
                    break
        self.check()

    def _probe_client(self, region: str) -> Any:
        """A DynamoDB client that fails fast: one attempt, short timeouts (a blip is handled
        by :data:`TRIP_AFTER`, not by retries)."""
        if not hasattr(self.clients, "session"):
            return self.clients.client("dynamodb", region)
        from botocore.config import Config

        kwargs: dict[str, Any] = {"config": Config(retries={"max_attempts": 1,
                                                             "mode": "standard"},
                                                    connect_timeout=2, read_timeout=3)}
        if getattr(self.clients, "endpoint_url", None):
            kwargs["endpoint_url"] = self.clients.endpoint_url
        return self.clients.session(region).client("dynamodb", **kwargs)

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s) and self.fault is None:
            try:
                self._observe()
            except Exception as exc:  # the watch must never take the drill down itself
                log.warning("world watch probe failed: %s", exc)

    def _observe(self) -> None:
        expected = self.expected_down()
        regions = self.workload.regions
        for region in (regions.primary, regions.secondary):
            if region in expected:
                self._failures[region] = 0
                continue
            error = self._probe_data_plane(region)
            self._failures[region] = self._failures.get(region, 0) + 1 if error else 0
            if error and self._failures[region] >= TRIP_AFTER:
                self._trip("region-down", region, error)
                return
        status = self._global_status(expected)
        if status in FAILED_GLOBAL_STATES:
            self._trip("global-database-failed", regions.secondary,
                       f"global cluster {self.workload.global_cluster_id} status {status}")

    def _probe_data_plane(self, region: str) -> str | None:
        client = getattr(self, "_probes", {}).get(region) or self.clients.client("dynamodb",
                                                                                region)
        try:
            client.get_item(
                TableName=self.workload.table_name,
                Key={"pk": {"S": "drlib-world-watch"}, "sk": {"S": "probe"}})
        except Exception as exc:
            response = getattr(exc, "response", None) or {}
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if 400 <= status < 500:
                return None  # it answered (a client error): the data plane is up
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return None

    def _global_status(self, expected: set[str]) -> str | None:
        for region in (self.workload.regions.secondary, self.workload.regions.primary):
            if region in expected:
                continue
            try:
                cluster = self.clients.client("rds", region).describe_global_clusters(
                    GlobalClusterIdentifier=self.workload.global_cluster_id)["GlobalClusters"][0]
                return str(cluster.get("Status"))
            except Exception:
                continue
        return None

    def _trip(self, fault: str, region: str, error: str) -> None:
        running = [s.step for s in self.timeline.steps if s.ended_at is None]
        event = self.timeline.add_fault(
            f"observed {fault}", region,
            {"error": error, "caused_by_drill": False,
             "during_step": running[-1] if running else None})
        self.fault = {"fault": fault, "region": region, "error": error,
                      "at": event.to_record().get("at"),
                      "during_step": running[-1] if running else None}
        log.error("observed %s in %s during %s: %s", fault, region, self.fault["during_step"],
                  error)
