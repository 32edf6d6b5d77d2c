"""Watch the world while a drill runs: a fault the drill did not cause fails the step at once.

A :class:`WorldWatch` thread probes, every second, the data plane of each region the drill has not
taken down itself (a DynamoDB read of the workload's table: the same regional data plane the
canaries write to) and the global database: its status and ``FailoverState`` (reported in either
region) and the RDS events of its two clusters since the watch started (DescribeEvents, category
``global-failover``). When a condition the drill did not cause makes the step impossible (a
region's data plane refusing reads twice in a row; the global database in a failed state; a
switchover or failover being cancelled, ``FailoverState`` ``cancelling``, or told cancelled or
failed by its RDS event) it records the observed fault and its time on the timeline (``faults``
in ``metrics.json``) and the running step fails within seconds: every wait
(:func:`drlib.waiting.wait_until`) and every step start checks the watch, and the error names the
fault (for a failed operation, AWS's event message). Long waits print their progress while a
watch is active.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from drlib import waiting
from drlib.errors import DrError
from drlib.timeline import to_utc, utc_now

log = logging.getLogger(__name__)

TRIP_AFTER = 2
"""Consecutive failed probes of a region before its outage counts (one can be a blip)."""
FAILED_GLOBAL_STATES = frozenset({"failed", "inaccessible-encryption-credentials"})
FAILED_OPERATION = re.compile(
    r"^Global (?P<operation>switchover|failover) to DB cluster (?P<cluster>\S+) in Region "
    r"(?P<region>\S+) (?:is )?(?P<outcome>cancelled|failed)\.$")
"""AWS's RDS event messages for a switchover or failover that did not happen (RDS-EVENT-0186,
-0187, -0239)."""
EVENT_LOOKBACK = timedelta(minutes=10)
"""How far back the RDS events are read. The failures already there when the watch starts (an
earlier drill's) are remembered and never count; any other is new, whatever the clocks say."""


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
        self._tripped = threading.Lock()
        """The watch's thread and a failed call's :meth:`explain` may see one fault at once:
        it is recorded once, by the first."""
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="drill-world-watch")
        self._registered = False

    def start(self) -> WorldWatch:
        regions = self.workload.regions
        self.started_at = utc_now()
        self._known_events = {region: self._failure_events(region, cluster)
                              for region, cluster in self._clusters()}
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
        said = f" ({fault['error']})" if fault["fault"].startswith("global-") else ""
        raise WorldFault(
            f"{fault['fault']} in {fault['region']}{said} (not caused by the drill) during step "
            f"{fault['during_step'] or '-'}: the step cannot complete",
            expected=f"the {fault['region']} data plane and the global database answering, "
                     "its switchover or failover completing",
            found=f"{fault['fault']} observed at {fault['at']}: {fault['error']}",
            fix="find and clear the fault (drlib emulator fault list on the emulator; the AWS "
                "Health Dashboard on AWS), then run the printed command to return the system",
            data={"fault": fault})

    def explain(self, error: BaseException) -> None:
        """A call failed (a runbook step included): probe every region and the global database
        now (once, no retries) and raise :class:`WorldFault` when an outage or a failed
        switchover or failover the drill did not cause explains it."""
        if self.fault is None:
            expected = self.expected_down()
            also = f" (and: {type(error).__name__}: {str(error)[:200]})"
            for region in (self.workload.regions.primary, self.workload.regions.secondary):
                if region in expected:
                    continue
                found = self._probe_data_plane(region)
                if found:
                    self._trip("region-down", region, found + also)
                    break
            if self.fault is None:
                self._observe_global(expected, also)
        self.check()

    def _probe_client(self, region: str, service: str = "dynamodb") -> Any:
        """A client that fails fast: one attempt, short timeouts (a blip is handled by
        :data:`TRIP_AFTER`, not by retries; an unreachable region must not stall the watch)."""
        if not hasattr(self.clients, "session"):
            return self.clients.client(service, region)
        from botocore.config import Config

        kwargs: dict[str, Any] = {"config": Config(retries={"max_attempts": 1,
                                                             "mode": "standard"},
                                                    connect_timeout=2, read_timeout=3)}
        if getattr(self.clients, "endpoint_url", None):
            kwargs["endpoint_url"] = self.clients.endpoint_url
        return self.clients.session(region).client(service, **kwargs)

    def _rds(self, region: str) -> Any:
        """The watch's own fail-fast RDS client of ``region`` (made once)."""
        made = self.__dict__.setdefault("_rds_clients", {})
        if region not in made:
            made[region] = self._probe_client(region, "rds")
        return made[region]

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
        self._observe_global(expected)

    def _observe_global(self, expected: set[str], also: str = "") -> None:
        """Trip on the global database in a failed state, on a switchover or failover being
        cancelled, or on the RDS event of one that was cancelled or failed."""
        regions = self.workload.regions
        found = self._global_cluster(expected)
        status = None if found is None else found.get("Status")
        gid = self.workload.global_cluster_id
        if status in FAILED_GLOBAL_STATES:
            self._trip("global-database-failed", regions.secondary,
                       f"global cluster {gid} status {status}{also}")
            return
        state = (found or {}).get("FailoverState") or {}
        if state.get("Status") == "cancelling":
            operation = "failover" if state.get("IsDataLossAllowed") else "switchover"
            target = str(state.get("ToDbClusterArn") or "")
            self._trip(f"global-{operation}-cancelled",
                       target.split(":")[3] if target.count(":") >= 3 else regions.secondary,
                       f"global cluster {gid} FailoverState cancelling: its {operation} to "
                       f"{target or 'the target'} is being undone{also}",
                       told=f"FailoverState cancelling (its {operation} is being undone)")
            return
        event = self._failed_operation_event(expected)
        if event is not None:
            told = FAILED_OPERATION.match(event["Message"])
            assert told is not None
            self._trip(f"global-{told['operation']}-{told['outcome']}", told["region"],
                       f"{event['Message']} (RDS event of {event.get('SourceIdentifier')} at "
                       f"{event.get('Date')}){also}", told=str(event["Message"]))

    def _clusters(self) -> list[tuple[str, str]]:
        """(region, cluster identifier) of the global database's two clusters."""
        found = []
        for stack in (self.workload.secondary, self.workload.primary):
            region = getattr(stack, "region", None)
            cluster = getattr(stack, "cluster_id", None)
            if region and cluster:
                found.append((str(region), str(cluster)))
        return found

    def _failure_events(self, region: str, cluster: str) -> list[dict[str, Any]] | None:
        """The RDS events of ``cluster`` telling a cancelled or failed switchover or failover,
        over :data:`EVENT_LOOKBACK`; None when the region does not answer."""
        try:
            events = self._rds(region).describe_events(
                SourceType="db-cluster", SourceIdentifier=cluster,
                StartTime=utc_now() - EVENT_LOOKBACK,
                EventCategories=["global-failover"])["Events"]
        except Exception as exc:  # an unreadable region is the data-plane probe's to report
            log.debug("describe_events in %s failed: %s", region, exc)
            return None
        return [dict(e) for e in events if FAILED_OPERATION.match(str(e.get("Message", "")))]

    def _failed_operation_event(self, expected: set[str]) -> dict[str, Any] | None:
        """The first RDS event, new since the watch started, telling a cancelled or failed
        switchover or failover of either cluster (read in each cluster's region unless the
        drill took that region down)."""
        known: dict[str, list[dict[str, Any]] | None] = getattr(self, "_known_events", {})
        started = getattr(self, "started_at", None) or utc_now()
        for region, cluster in self._clusters():
            if region in expected:
                continue
            for event in self._failure_events(region, cluster) or []:
                before = known.get(region)
                if before is not None:
                    new = event not in before
                else:  # its region did not answer at the start: only what is dated after it
                    date = event.get("Date")
                    new = not isinstance(date, datetime) or to_utc(date) >= started
                if new:
                    return event
        return None

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

    def _global_cluster(self, expected: set[str]) -> dict[str, Any] | None:
        """The global cluster as DescribeGlobalClusters answers (in either region)."""
        for region in (self.workload.regions.secondary, self.workload.regions.primary):
            if region in expected:
                continue
            try:
                return dict(self._rds(region).describe_global_clusters(
                    GlobalClusterIdentifier=self.workload.global_cluster_id)["GlobalClusters"][0])
            except Exception:
                continue
        return None

    def _trip(self, fault: str, region: str, error: str, told: str | None = None) -> None:
        with self._tripped:
            if self.fault is not None:  # seen already (by the other of thread and explain)
                return
            running = [s.step for s in self.timeline.steps if s.ended_at is None]
            event = self.timeline.add_fault(
                f"observed {fault}", region,
                {"error": error, "caused_by_drill": False,
                 "during_step": running[-1] if running else None})
            self.fault = {"fault": fault, "region": region, "error": error,
                          "at": event.to_record().get("at"),
                          "during_step": running[-1] if running else None,
                          "summary": f"{fault} in {region}" + (f": {told}" if told else "")}
        log.error("observed %s in %s during %s: %s", fault, region, self.fault["during_step"],
                  error)
