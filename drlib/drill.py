"""Drill scenarios: planned switchover, unplanned failover and failback, as timed steps.

A scenario is a sequence of named steps on a :class:`~drlib.timeline.Timeline`, each with a
timeout. The procedure itself is the scenario's SSM Automation runbook, started in the secondary
region and followed step by step (:func:`follow_runbook`, :mod:`drlib.runbook`): its step
executions are the timeline's steps under the runbook's own names. drlib's own steps are the
guardrails, the canaries, the injected disaster (unplanned) and what clients see (DNS as they
resolve it, the first write in the new primary). Canary writers run throughout; at the end the
records are reconciled against the new primary and the measurements (RTO, RPO, lag) and the
verdict are computed by :mod:`drlib.measure` and :mod:`drlib.verdict`. Any failure takes the abort
path (:func:`_abort`), which leaves the system in the documented state below and the evidence
marked aborted.

Documented state after an abort (:mod:`drlib.abort`): a runbook still running stopped
(StopAutomationExecution); canaries stopped; an injected disaster
lifted (the region's data plane given back); the global database's writer left where it is and
DNS moved to the writer's region (DNS follows the writer); both reported in ``metrics.json``
(``state_after``) with the one command that returns the system to the primary
(``drlib failback``); the drill lock released.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients
from drlib.canary import (
    AuroraCanary,
    CanaryFleet,
    DnsActiveRegion,
    DynamoDbCanary,
    S3Canary,
)
from drlib.drill_lock import HEARTBEAT_TTL_SECONDS, DrillLock, DynamoDbLockBackend, LockKeeper
from drlib.errors import ConfigError, DrError, DrillAborted
from drlib.measure import (
    STORES,
    iso_us,
    lag_series,
    lag_statistics,
    measure_rpo,
    measure_rto,
    overall_rto,
    reconciliation_from_records,
    records_frame,
    round_trip,
)
from drlib.readiness import assess
from drlib.references import dns_reference
from drlib.replication_report import sides_from_records
from drlib.rto_model import model_rto
from drlib.targets import Target
from drlib.time_scale import statement as time_scale_statement
from drlib.time_scale import time_scale_record
from drlib.timeline import Timeline, iso, utc_now
from drlib.timings import Timings, read_timings, step_timeouts
from drlib.verdict import (
    DnsReference,
    Measured,
    PublishedFigure,
    evaluate,
    figures_to_metrics,
    published_figures,
    targets_for,
)
from drlib.waiting import Stamper, wait_observed, wait_until
from drlib.workload import Workload, pg_endpoints
from drlib.write_outcomes import (
    RPO_EVIDENCE_RULE,
    count_writes,
    measure_write_outage,
    rpo_evidence,
)

log = logging.getLogger(__name__)

STEP_TIMEOUTS_S: Mapping[str, float] = step_timeouts(Timings())
"""Step timeouts at AWS's default timings (the dry run's plan); a drill derives its own from the
deployed health check, record TTL and AWS's published durations (:mod:`drlib.timings`)."""

RUNBOOK = "runbook"
"""Where a plan runs the scenario's SSM Automation runbook: its steps go on the timeline under
the runbook's own names (:mod:`drlib.runbook`)."""

PLANS: Mapping[str, tuple[str, ...]] = {
    # The procedure is the runbook; drlib's own steps are the guardrails, the canaries, the
    # injected disaster and what clients see (DNS, the first write in the new primary).
    "planned-switchover": ("guardrails", "baseline canaries", RUNBOOK,
                           "DNS answers the secondary", "first write in the new primary",
                           "observe", "reconcile"),
    "unplanned-failover": ("guardrails", "baseline canaries", "lose the primary region",
                           "detect the outage", RUNBOOK, "first write in the new primary",
                           "observe", "reconcile"),
    "failback": ("give the primary region back", "stop runbooks left running", RUNBOOK,
                 "DNS answers the primary", "writes on both sides"),
    # drlib.restore: the writer and DNS stay; the data comes back from a recovery point.
    "data-corruption": ("guardrails", "baseline canaries", "record a recovery point",
                        "corrupt the data in both regions", RUNBOOK, "restored data readable",
                        "observe", "reconcile", "put back and clean up"),
}


def describe_plan(scenario: str, environment: str, target: str) -> str:
    """The steps a scenario (then failback) would run, with their timeouts (the dry run)."""
    if scenario not in PLANS:
        raise ConfigError(f"Unknown scenario {scenario!r}", expected=", ".join(PLANS))
    lines = [f"plan: {scenario} on {environment} ({target}), then failback"]
    for phase in (scenario, "failback"):
        for index, step in enumerate(PLANS[phase], start=1):
            if step == RUNBOOK:
                step = (f"the {phase} runbook (SSM Automation, secondary region), "
                        f"its steps as declared in dr-automation.yaml")
                timeout = STEP_TIMEOUTS_S[runbook_timeout_key(phase)]
            else:
                timeout = STEP_TIMEOUTS_S[step]
            lines.append(f"  {phase} {index}. {step} (timeout {timeout:g} s)")
    return "\n".join(lines)


def runbook_timeout_key(purpose: str) -> str:
    """The step-timeout key bounding the whole ``purpose`` runbook (:mod:`drlib.timings`)."""
    return f"{purpose} runbook"


class _LockBackend(DynamoDbLockBackend):
    """Drill locks as items of the workload's own table (partition and sort key)."""

    @staticmethod
    def _key(environment: str) -> dict[str, Any]:
        return {"pk": {"S": f"drill-lock#{environment}"}, "sk": {"S": "lock"}}


def drill_lock(target: Target, workload: Workload, run_id: str, owner: str) -> DrillLock:
    """The environment's drill lock, kept in the table's secondary-region replica (it must
    survive the loss of the primary region)."""
    return environment_lock(target.clients, workload.environment, workload.regions.secondary,
                            workload.table_name, run_id, owner)


def environment_lock(clients: AwsClients, environment: str, secondary_region: str,
                     table_name: str, run_id: str, owner: str) -> DrillLock:
    """The lock of ``environment``: an item of its table, read in the secondary region (what
    :func:`drill_lock` takes, for callers that know only the secondary region's stacks)."""
    client = clients.client("dynamodb", secondary_region)
    return DrillLock(_LockBackend(client, table_name), environment, run_id=run_id, owner=owner,
                     ttl_seconds=HEARTBEAT_TTL_SECONDS)


#: A DNS server clients resolve through (``HOST:PORT``); unset means the system resolver. The
#: emulator's client environment sets it to the emulator's DNS server.
DNS_SERVER_VARIABLE = "DRLIB_DNS_SERVER"


AURORA_READ_INTERVAL_S = 0.01


def client_resolver(workload: Workload) -> DnsActiveRegion:
    """The application's name resolved as its clients resolve it: a caching, TTL-honouring
    resolver (the configured DNS server, else the system's) mapped to the region whose load
    balancer it points at."""
    regions = workload.regions
    return DnsActiveRegion(workload.app_dns_name,
                           {workload.primary.load_balancer_dns: regions.primary,
                            workload.secondary.load_balancer_dns: regions.secondary},
                           nameserver=os.environ.get(DNS_SERVER_VARIABLE) or None)


def build_canaries(clients: AwsClients, workload: Workload, run_id: str,
                   interval_s: float) -> tuple[CanaryFleet, DnsActiveRegion]:
    """Canary writers for every store, following the application's DNS answer as a client
    resolves it (one resolver cache for the fleet, like one application process)."""
    regions = workload.regions
    _failover_record_type(clients.client("route53", regions.primary), workload)
    active = client_resolver(workload)
    aurora = AuroraCanary(pg_endpoints(clients, workload, reader=False),
                          pg_endpoints(clients, workload, reader=True),
                          regions=[regions.primary, regions.secondary])
    # The canary database is created on whichever region holds the writer right now.
    aurora.prepare(writer_region(clients, workload, regions.secondary) or regions.primary)
    dynamodb = DynamoDbCanary(lambda r: clients.client("dynamodb", r),
                              lambda r: workload.table_name, "pk", "sk")
    s3 = S3Canary(lambda r: clients.client("s3", r), lambda r: workload.regional(r).bucket)
    # Aurora's reader is one indexed SELECT over an open connection: read it every 10 ms so
    # the lag (milliseconds locally) is resolved to about 10 ms; the HTTP stores read at half
    # the write interval.
    fleet = CanaryFleet(run_id, [aurora, dynamodb, s3], [regions.primary, regions.secondary],
                        active.resolve, interval_s=interval_s,
                        read_intervals={"aurora": AURORA_READ_INTERVAL_S})
    return fleet, active


def _failover_record_type(route53: Any, workload: Workload) -> str:
    name = workload.app_dns_name.rstrip(".") + "."
    records = route53.list_resource_record_sets(HostedZoneId=workload.hosted_zone_id)[
        "ResourceRecordSets"]
    types = [r["Type"] for r in records if r["Name"] == name and r.get("Failover")]
    if not types:
        raise ConfigError(f"No failover records for {name}",
                          expected="PRIMARY and SECONDARY records", found="none",
                          fix="deploy the DNS stack")
    return str(types[0])


@dataclass
class DrillState:
    """What the drill has changed so far (drives the abort path), and its instants.

    ``cutover_at``: the moment the old primary stopped being the writer (the switchover was
    requested; the region was lost), the reference of the RPO evidence. ``dns_moved_at``: the
    moment the application name was first seen answering with the new region.
    """

    injected: bool = False
    inverted: list[str] = field(default_factory=list)
    cutover_at: Any = None
    settled: Any = None  # the abort's drlib.abort.SystemState
    dns_moved_at: Any = None
    runbook: Any = None  # the drlib.runbook.RunbookExecution started (the abort stops it)
    restore: Any = None  # data-corruption: the drlib.restore.RestoreState


@dataclass
class DrillRun:
    """Everything one scenario run needs."""

    target: Target
    workload: Workload
    scenario: str
    run_dir: Path
    canary_interval_s: float = 0.2
    lag_threshold_s: float = 5.0
    timeline: Timeline = field(default_factory=Timeline)
    state: DrillState = field(default_factory=DrillState)
    before_disaster: Callable[[DrillRun, CanaryFleet], None] | None = None
    """Called after the baseline, before the disaster (tests set up known conditions here)."""
    measured: Measured | None = None
    records: list[Any] = field(default_factory=list)  # the canary records, once measured
    lag: Any = None  # the canary lag series (DataFrame)
    timeouts: dict[str, float] = field(default_factory=lambda: dict(STEP_TIMEOUTS_S))
    timings: Timings | None = None
    lock: LockKeeper | None = None
    """The environment's lock; checked before every step (no step runs without it)."""
    watch: Any = None
    """The drill's :class:`~drlib.watch.WorldWatch`; checked before every step."""
    runbook_parameters: dict[str, str] = field(default_factory=dict)
    """Runbook parameters passed beyond the document's defaults (e.g. another target cluster)."""

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @contextmanager
    def step(self, name: str) -> Iterator[Any]:
        """A timeline step that first checks its guards: the runner's stop request, the world
        watch, the lock (a failed check fails this step, recorded)."""
        with self.timeline.step(name, self.timeouts[name]) as handle:
            self._guard()
            yield handle

    def _guard(self) -> None:
        from drlib.run_guard import STOP_FILE

        stop = self.run_dir / STOP_FILE
        if stop.exists():  # the runner was interrupted: no next step
            raise DrillAborted("The drill runner asked this run to stop",
                               found=stop.read_text(), fix="the abort path runs now; the "
                               "console says where the system is")
        if self.watch is not None:
            self.watch.check()
        if self.lock is None:
            return
        try:
            self.lock.check()
        except DrError:
            raise
        except Exception as exc:  # the lock store did not answer: an outage?
            if self.watch is not None:
                self.watch.explain(exc)
            raise DrError("The drill lock cannot be read: no step runs without it",
                          found=f"{type(exc).__name__}: {str(exc)[:300]}",
                          fix="see `drlib lock status`") from exc

    def timeout(self, name: str) -> float:
        return self.timeouts[name]

    def use_environment_timings(self) -> None:
        """Derive every step's timeout from the deployment's timings."""
        self.timings = read_timings(self.clients, self.workload)
        self.timeouts = step_timeouts(self.timings)

    @property
    def clients(self) -> AwsClients:
        return self.target.clients


# --- the operations, each the same on every target ----------------------------------------------

def writer_region(clients: AwsClients, workload: Workload, region: str) -> str | None:
    """The region whose cluster is the global database's writer, once it is available."""
    cluster = clients.client("rds", region).describe_global_clusters(
        GlobalClusterIdentifier=workload.global_cluster_id)["GlobalClusters"][0]
    if cluster.get("Status") != "available":
        return None
    for member in cluster.get("GlobalClusterMembers", []):
        if member.get("IsWriter"):
            return str(member["DBClusterArn"].split(":")[3])
    return None


def follow_runbook(run: DrillRun, purpose: str,
                   on_poll: Callable[[], object] | None = None) -> Any:
    """Start the ``purpose`` runbook in the secondary region and follow it to its end: its step
    executions become the timeline's steps, under their own names. Raises
    :class:`DrillAborted` naming the failing step and AWS's message."""
    from drlib.runbook import start_runbook, transient_error

    if run.lock is not None:
        run.lock.check()
    if run.watch is not None:
        run.watch.check()
    execution = start_runbook(run.clients, run.workload, purpose, timeline=run.timeline,
                              parameters=run.runbook_parameters)
    run.state.runbook = execution
    checked = [time.monotonic()]

    def poll() -> None:
        if run.lock is not None and time.monotonic() - checked[0] >= 1.0:
            checked[0] = time.monotonic()
            try:
                run.lock.check()  # a step of the runbook runs only while the drill holds it
            except Exception as exc:
                # A region answering 5xx is the world watch's to report; a lock that could not
                # be renewed is counted lost by its heartbeat.
                if isinstance(exc, DrillAborted) or not transient_error(exc):
                    raise
                log.warning("could not check the drill lock: %s", exc)
        if on_poll is not None:
            on_poll()

    execution.wait(timeout=run.timeout(runbook_timeout_key(purpose)), on_poll=poll)
    return execution


def _observed_from(handle: Any, started: Any, stamp: Stamper[Any], timeout: float,
                   description: str) -> Any:
    """End ``handle``'s step when ``stamp``'s condition was seen true (waiting for it if it
    was not yet), the step starting at ``started`` (the runbook action it follows)."""
    if stamp.result is None:
        wait_until(stamp, description=description, timeout=timeout, interval=0.05,
                   backoff=1.0, max_interval=0.05)
    seen = stamp.observed()
    if started is not None and started <= seen.at:
        handle.record.started_at = started
    handle.condition_met(seen.at, seen.resolution_s)
    return seen


def first_write_in(run: DrillRun, fleet: CanaryFleet, region: str) -> dict[str, Any]:
    """Wait until every store has a canary write acknowledged in ``region`` after the
    declaration."""
    declared = run.timeline.disaster_declared_at

    def all_stores_written() -> bool:
        records = fleet.records()
        return all(any(r.store == store and r.acked_at is not None and r.region_written == region
                       and declared is not None and r.acked_at >= declared for r in records)
                   for store in fleet.stores)

    seen = wait_observed(all_stores_written, description=f"a canary write acknowledged in "
                         f"{region} for every store",
                         timeout=run.timeout("first write in the new primary"))
    return {"region": region, "observed_at": seen.at, "resolution_s": seen.resolution_s}


# --- the scenario -------------------------------------------------------------------------------

def run_scenario(run: DrillRun, *, confirm_production: bool = False) -> dict[str, Any]:
    """Run ``run.scenario``; write ``metrics.json`` and the CSVs; return the metrics.

    Raises :class:`DrillAborted` after the abort path when a step fails.
    """
    w, regions = run.workload, run.workload.regions
    if w.environment == "prod" and not confirm_production:
        raise ConfigError("A production drill needs explicit confirmation",
                          expected="confirm_production=True (drlib drill --yes)",
                          found="no confirmation", fix="get the change approved, then confirm")
    if run.scenario not in ("planned-switchover", "unplanned-failover", "data-corruption"):
        raise ConfigError(f"Unknown scenario {run.scenario!r}",
                          expected="planned-switchover, unplanned-failover or data-corruption")
    started = utc_now()
    keeper = LockKeeper(drill_lock(run.target, w, run.run_id,
                                   owner=_who(run.clients, regions.primary)))
    fleet: CanaryFleet | None = None
    status = "aborted"
    error: str | None = None
    metrics: dict[str, Any] = {}
    from drlib.watch import WorldWatch

    watch = WorldWatch(run.clients, w, run.timeline, expected_down=lambda: (
        {regions.primary} if run.state.injected else set()))
    try:
        with run.step("guardrails"):
            keeper.take()  # first: refuses, naming the holder, while another drill runs
            run.lock = keeper
            run.use_environment_timings()
            fleet, active = build_canaries(run.clients, w, run.run_id, run.canary_interval_s)
            report = assess(run.clients, w, lag_threshold_s=run.lag_threshold_s)
            report.require_ready()
        run.watch = watch.start()  # from here a fault the drill did not cause fails the step
        with run.step("baseline canaries"):
            fleet.start()
            # At least the RPO evidence window: the writes in flight before the cutover are
            # what an RPO claim rests on.
            _settle(fleet, seconds=max(RPO_EVIDENCE_RULE.window_s, 5 * run.canary_interval_s))
        if run.before_disaster is not None:
            run.before_disaster(run, fleet)
        if run.scenario == "planned-switchover":
            _planned(run, fleet, active)
        elif run.scenario == "data-corruption":
            from drlib.restore import run_data_corruption

            run_data_corruption(run)
        else:
            _unplanned(run, fleet, active)
        with run.step("observe"):
            _settle(fleet, seconds=max(1.0, 5 * run.canary_interval_s))
        with run.step("reconcile"):
            fleet.stop(drain_s=max(2.0, run.lag_threshold_s))
        if run.scenario == "data-corruption":
            from drlib.restore import put_back_and_clean_up

            put_back_and_clean_up(run)
        status = "completed"
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Exception) and run.watch is not None:
            try:  # a raw error caused by an outage the drill did not cause: name the outage
                run.watch.explain(exc)
            except DrError as explained:
                error = f"{type(explained).__name__}: {explained}"
                _name_the_fault(run.timeline, explained)
        watch.stop()  # the abort's own waits must not trip on the fault
        run.watch = None
        _abort(run, fleet)
        if not isinstance(exc, Exception):
            raise
    finally:
        try:
            metrics = _measure(run, fleet, started, status, error)
        except Exception as exc:  # must not mask the drill's error nor keep the lock
            log.exception("measuring the drill failed")
            error = error or f"measuring the drill failed: {type(exc).__name__}: {exc}"
        finally:
            watch.stop()
            run.watch = None
            keeper.release()
            run.lock = None
    if error is not None:
        raise DrillAborted(f"The {run.scenario} drill aborted", found=error,
                           fix="read the timeline in metrics.json; run failback",
                           data={"metrics": metrics})
    return metrics


def _planned(run: DrillRun, fleet: CanaryFleet, active: DnsActiveRegion) -> None:
    regions = run.workload.regions
    # The runbook scales up first (clients see nothing), requests the database switchover and
    # at once moves DNS, then waits for and verifies the writer. The disaster is declared, and
    # the old primary stops being the writer, when
    # its SwitchoverGlobalCluster step starts (AWS's time); DNS is watched as clients resolve it
    # all along.
    dns = Stamper(lambda: active.region_or_none() == regions.secondary)

    def poll() -> None:
        execution = run.state.runbook
        started = execution.step_started_at("SwitchoverGlobalCluster") if execution else None
        if started is not None and run.timeline.disaster_declared_at is None:
            run.timeline.declare_disaster("planned switchover started (runbook step "
                                          "SwitchoverGlobalCluster)", at=started)
            run.state.cutover_at = started
        if execution and execution.step_started_at("MoveDnsToSecondary"):
            dns()  # only an answer after the runbook moved DNS counts

    execution = follow_runbook(run, "planned-switchover", on_poll=poll)
    if run.timeline.disaster_declared_at is None:
        raise DrillAborted("The switchover runbook ended without a SwitchoverGlobalCluster step",
                           expected="a SwitchoverGlobalCluster step execution",
                           found=", ".join(execution.step_names()),
                           fix="check the runbook's steps in dr-automation.yaml")
    with run.step("DNS answers the secondary") as step:
        seen = _observed_from(step, execution.step_started_at("MoveDnsToSecondary"), dns,
                              run.timeout("DNS answers the secondary"),
                              f"{run.workload.app_dns_name} to answer with {regions.secondary}")
        run.state.dns_moved_at = seen.at
    with run.step("first write in the new primary") as step:
        first = first_write_in(run, fleet, regions.secondary)
        step.condition_met(first["observed_at"], first["resolution_s"])


def _unplanned(run: DrillRun, fleet: CanaryFleet, active: DnsActiveRegion) -> None:
    regions = run.workload.regions
    with run.step("lose the primary region"):
        # The region is lost from the moment the fault is asked for: the injector may answer
        # only later (the emulator stops the region's database first) while writes already fail,
        # so the RTO clock and the cutover start before the call, never after it.
        lost_at = utc_now()
        done = run.target.disaster.inject(
            regions.primary, [c for c in [run.workload.primary.health_check_id] if c])
        run.state.injected = True
        run.timeline.add_fault("region-down", regions.primary, done)
        declared = run.timeline.declare_disaster(run.target.disaster.description, at=lost_at)
        run.state.cutover_at = declared.at
    with run.step("detect the outage") as step:
        seen = wait_observed(lambda: active.region_or_none() == regions.secondary,
                             description=f"{run.workload.app_dns_name} to answer with "
                             f"{regions.secondary}", timeout=run.timeout("detect the outage"))
        step.condition_met(seen.at, seen.resolution_s)
        run.state.dns_moved_at = seen.at
    # The on-call engineer's runbook, started in the secondary region while the primary is down.
    follow_runbook(run, "unplanned-failover")
    with run.step("first write in the new primary") as step:
        first = first_write_in(run, fleet, regions.secondary)
        step.condition_met(first["observed_at"], first["resolution_s"])


def _name_the_fault(timeline: Timeline, explained: DrError) -> None:
    """The steps that failed because of a fault the watch found only afterwards (a runbook step
    failing on a switchover that was cancelled, say) name that fault too."""
    said = str((explained.data.get("fault") or {}).get("summary") or explained.message)
    for step in timeline.steps:
        if step.outcome == "failed" and said not in (step.detail or ""):
            step.detail = f"{step.detail}; {said}" if step.detail else said


def _settle(fleet: CanaryFleet, seconds: float) -> None:
    """Let the canaries run for ``seconds``: an observation period, not a wait for a condition."""
    time.sleep(seconds)


def _abort(run: DrillRun, fleet: CanaryFleet | None) -> None:
    """Take the system to the documented state (module docstring); never raises."""
    regions = run.workload.regions
    from drlib.abort import align_dns_with_writer

    actions: list[tuple[str, Callable[[], Any]]] = []
    if run.state.runbook is not None:  # first: a runbook left running would go on acting
        actions.append(("stop the runbook", run.state.runbook.stop))
    if fleet is not None:
        actions.append(("stop canaries", lambda: fleet.stop()))
    if run.state.injected:
        actions.append(("lift the injected disaster", lambda: run.target.disaster.restore(
            regions.primary, [c for c in [run.workload.primary.health_check_id] if c])))
    if run.state.restore is not None:
        from drlib.restore import undo_corruption

        actions.append(("lift the injected corruption", lambda: undo_corruption(run)))

    def align() -> Any:
        # DNS follows the writer, wherever the failed step left it (never split them).
        run.state.settled = align_dns_with_writer(run.clients, run.workload, run.target.name,
                                                  run.timings)
        return run.state.settled

    # Only a drill that holds the lock and has begun to change the system aligns DNS: a refused
    # or not-ready drill changes nothing.
    if run.lock is not None and (run.state.injected
                                 or run.timeline.disaster_declared_at is not None):
        actions.append(("move DNS to the writer's region", align))
    for name, action in actions:
        try:
            action()
            run.timeline.add_event("abort", name)
        except Exception as exc:
            log.error("abort action %s failed: %s", name, exc)
            run.timeline.add_event("abort", name, {"error": str(exc)[:300]})
    run.state.injected = False
    run.state.inverted = []


def _who(clients: AwsClients, region: str) -> str:
    try:
        return str(clients.client("sts", region).get_caller_identity()["Arn"])
    except Exception:
        return "unknown"


def _state_after(run: DrillRun) -> dict[str, Any]:
    """Where the writer and DNS are now, and the command back to the primary."""
    from drlib.abort import SystemState, active_region, return_command

    w = run.workload
    settled = run.state.settled
    if isinstance(settled, SystemState):
        return settled.to_metrics()
    state = SystemState(None, None, w.regions.primary,
                        return_command(w.environment, run.target.name))
    errors: dict[str, Any] = {}
    for region in (w.regions.secondary, w.regions.primary):
        try:
            state.writer_region = writer_region(run.clients, w, region)
            break
        except Exception as exc:
            errors["writer_region_error"] = str(exc)[:200]
    try:
        state.dns_region = active_region(run.clients, w).resolve()
    except Exception as exc:
        errors["dns_region_error"] = str(exc)[:200]
    return {**state.to_metrics(), **errors}


def _deployed_figures(run: DrillRun) -> dict[str, PublishedFigure]:
    """Reference figures with Route 53's derived from the deployed health check and TTL."""
    return published_figures(dns=_deployed_dns(run))


def _deployed_dns(run: DrillRun) -> DnsReference:
    """The deployed health check and failover record (AWS defaults when unreadable, saying so)."""
    w = run.workload
    try:
        dns = dns_reference(run.clients.client("route53", w.regions.primary), w.hosted_zone_id,
                            w.app_dns_name, w.primary.health_check_id)
    except Exception as exc:  # the deployment could not be read: say so in the figure
        dns = DnsReference(source=f"could not read the deployment ({type(exc).__name__}: "
                           f"{str(exc)[:120]}); AWS defaults")
    return dns


def measure_records(records: list[Any], stores: list[str], *, declared: Any, cutover: Any,
                    old_primary: str, new_primary: str) -> Measured:
    """Every figure of ``measured`` from canary records that carry their reconciliation
    (``present_after``) and the drill's instants: what a reviewer recomputes from canaries.csv
    and metrics.json (see tests/test_recompute_metrics.py)."""
    lag = lag_statistics(records)
    writes = count_writes(records, stores=stores)
    per_store, rpo, outage, evidence = {}, {}, {}, {}
    if declared is not None:
        per_store = {s: measure_rto(declared, records, new_primary, store=s) for s in stores}
        rpo = measure_rpo(records, new_primary, declared,
                          present_after=reconciliation_from_records(records), stores=stores)
        outage = {s: measure_write_outage(records, s, declared, new_primary) for s in stores}
        if cutover is not None:
            evidence = {s: rpo_evidence(records, s, cutover, old_primary) for s in stores}
    # per store and region written: writes, and those not (yet) seen in the other region
    replication = sides_from_records(records, [old_primary, new_primary])
    return Measured(rto=overall_rto(per_store), rpo=rpo, lag=lag, rto_per_store=per_store,
                    writes=writes, write_outage=outage, rpo_evidence=evidence,
                    extra={"replication": replication})


def _measure(run: DrillRun, fleet: CanaryFleet | None, started: Any, status: str,
             error: str | None) -> dict[str, Any]:
    """Compute and write metrics.json, canaries.csv and lag.csv (also for an aborted drill).

    The figures are computed on the records exactly as canaries.csv holds them, so a reviewer
    recomputes metrics.json from canaries.csv to the microsecond.
    """
    w = run.workload
    targets = targets_for(w.environment, {"lag_threshold_seconds": run.lag_threshold_s})
    records = round_trip(fleet.records()) if fleet is not None else []
    stores = list(fleet.stores) if fleet is not None else list(STORES)
    new_primary = w.regions.secondary
    declared = run.timeline.disaster_declared_at
    reconciled = status == "completed" and declared is not None and fleet is not None
    if run.scenario == "data-corruption":  # reconciled against the restored copies
        from drlib.restore import measure_run

        measured = measure_run(run, records, reconciled)
    else:
        if reconciled and fleet is not None:
            present = fleet.present_in(new_primary)
            for record in records:
                record.present_after = record.seq in present.get(record.store, set())
        measured = measure_records(records, stores, declared=declared if reconciled else None,
                                   cutover=run.state.cutover_at,
                                   old_primary=w.regions.primary, new_primary=new_primary)
    measured = Measured(**{**measured.__dict__, "extra": {
        **measured.extra,
        # microseconds, like canaries.csv: the figures are recomputed from these exactly
        "instants": {"disaster_declared_at": iso_us(declared),
                     "cutover_at": iso_us(run.state.cutover_at),
                     "dns_moved_at": iso_us(run.state.dns_moved_at),
                     **(run.state.restore.instants() if run.state.restore else {})},
        "resolution": {
            "canary_interval_s": run.canary_interval_s,
            "timestamps": "microseconds (canaries.csv); writes time-stamped by the canary's "
                          "clock before the request and after the acknowledgement",
            "rto_and_outage": "the store's attempt spacing (writes.<store>.attempt_spacing_s)",
            "rpo_evidence_rule": RPO_EVIDENCE_RULE.to_metrics()},
        "recompute": "every figure of measured (except lag from CloudWatch) follows from "
                     "canaries.csv and measured.instants: "
                     + ("drlib.restore.measure_restore_records" if run.state.restore
                        else "drlib.drill.measure_records; replication: "
                        "drlib.replication_report.sides_from_records")}})
    run.measured = measured
    run.records = records
    run.lag = lag_series(records)
    dns = _deployed_dns(run)
    figures = published_figures(dns=dns)
    rto_model = (model_rto(run.scenario, dns, _standby_instances(run), targets.rto_seconds)
                 if run.scenario in ("planned-switchover", "unplanned-failover") else None)
    verdict = evaluate(targets, measured, run.scenario, figures)
    final = ("passed" if verdict.passed else "failed") if status == "completed" else "aborted"
    verdict_record = verdict.to_metrics()
    if run.target.time_scale != 1.0:  # the figures are a rehearsal at that pace: say so
        verdict_record["findings"].append(
            {"severity": "info", "message": time_scale_statement(run.target.time_scale)})
    metrics = {
        "schema": "drlib.metrics/2", "run_id": run.run_id, "environment": w.environment,
        "scenario": run.scenario, "target": run.target.name,
        "regions": {"primary": w.regions.primary, "secondary": w.regions.secondary},
        "started_at": iso(started), "ended_at": iso(utc_now()), "status": final,
        "error": error, "targets": targets.to_metrics(), "measured": measured.to_metrics(),
        "verdict": verdict_record, "timeline": run.timeline.to_records(),
        "faults": [e.to_record() for e in run.timeline.faults],
        "events": run.timeline.events_to_records(),
        "published_figures": figures_to_metrics(figures),
        "state_after": _state_after(run), "workload": w.to_dict(),
        "runbook": run.state.runbook.to_record() if run.state.runbook else None,
        "emulator_version": run.target.emulator_version,
        "time_scale": time_scale_record(run.target.time_scale),
        "rto_model": rto_model.to_metrics() if rto_model else None,
        "restore": run.state.restore.to_metrics() if run.state.restore else None,
    }

    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    records_frame(records).to_csv(run.run_dir / "canaries.csv", index=False)
    run.lag.to_csv(run.run_dir / "lag.csv", index=False)
    return metrics


# --- failback -----------------------------------------------------------------------------------

def run_failback(run: DrillRun, *, confirm_production: bool = False) -> dict[str, Any]:
    """Return writer, DNS and app tier to the primary region; append to ``metrics.json``.

    Idempotent: each step checks the current state first, so failback after an aborted drill
    does only what is needed.
    """
    w, regions = run.workload, run.workload.regions
    if w.environment == "prod" and not confirm_production:
        raise ConfigError("A production failback needs explicit confirmation",
                          expected="confirm_production=True", found="no confirmation")
    _failover_record_type(run.clients.client("route53", regions.primary), w)
    active = client_resolver(w)
    keeper = LockKeeper(drill_lock(run.target, w, run.run_id,
                                   owner=_who(run.clients, regions.primary)))
    keeper.take()  # failback acts only while holding the environment's lock
    run.lock = keeper
    run.use_environment_timings()
    error = None
    replication: dict[str, Any] | None = None
    try:
        with run.step("give the primary region back") as step:
            run.target.disaster.restore(regions.primary,
                                        [c for c in [w.primary.health_check_id] if c])
            step.record.detail = "data plane restored"
        with run.step("stop runbooks left running") as step:
            # An abort cannot stop a runbook while its region is down; it would go on once the
            # region is back, and fight the failback.
            from drlib.runbook import stop_running

            stopped = stop_running(run.clients, w)
            step.record.detail = (f"stopped {', '.join(stopped)}" if stopped
                                  else "none was running")
        # The failback runbook: it waits until the primary's cluster is a synchronized
        # secondary, switches back (or skips that when the writer is already there), restores
        # the primary's health check and scales this region down to warm standby.
        dns = Stamper(lambda: active.region_or_none() == regions.primary)

        def poll() -> None:
            # Only an answer after the runbook restored the health check counts.
            if run.state.runbook and run.state.runbook.step_started_at(
                    "RestorePrimaryHealthCheck"):
                dns()

        execution = follow_runbook(run, "failback", on_poll=poll)
        with run.step("DNS answers the primary") as step:
            _observed_from(step, execution.step_started_at("RestorePrimaryHealthCheck"), dns,
                           run.timeout("DNS answers the primary"),
                           f"{w.app_dns_name} to answer with {regions.primary}")
        with run.step("writes on both sides") as step:
            replication = _writes_on_both_sides(run, step)
            if replication is not None and replication["left_behind"]:
                raise DrError(f"{replication['left_behind']} write(s) are left behind on one "
                              "side after failback", found=step.detail,
                              expected="every write of the drill in both regions",
                              fix="check both buckets' replication rules and the table's "
                                  "replicas; replication.csv names each write; "
                                  "`drlib failback` checks again")
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        if run.state.runbook is not None:  # a runbook left running would go on acting
            try:
                run.state.runbook.stop()
            except Exception as stop_error:
                log.error("stopping the failback runbook failed: %s", stop_error)
        if not isinstance(exc, Exception):
            raise
    finally:
        keeper.release()
        run.lock = None
    metrics_path = run.run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics.setdefault("timeline", []).extend(run.timeline.to_records())
    metrics["failback"] = {"completed": error is None, "error": error,
                           "replication": replication,
                           "state_after": _state_after(run),
                           "runbook": run.state.runbook.to_record() if run.state.runbook
                           else None}
    if error is not None:
        metrics["status"] = "aborted"
    metrics_path.write_text(json.dumps(metrics, indent=2, default=str))
    if error is not None:
        raise DrillAborted("Failback did not complete", found=error,
                           fix="read the failback steps in metrics.json and finish by hand")
    return metrics


def _writes_on_both_sides(run: DrillRun, step: Any) -> dict[str, Any] | None:
    """Every write the drill's canaries made (``canaries.csv``) is present in both regions once
    failed back: each side's writes replicated to the other (S3 and DynamoDB both ways).
    Waits (bounded) for replication to catch up, writes ``replication.csv`` and returns the
    counts per store and side (None without a drill's canary records)."""
    import pandas as pd

    from drlib.measure import CanaryRecord
    from drlib.replication_report import REPLICATION_CSV, check_after_failback

    csv = run.run_dir / "canaries.csv"
    try:
        rows = pd.read_csv(csv, keep_default_na=False).to_dict("records")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        rows = []
    records = [CanaryRecord.from_record(row) for row in rows]
    if not any(r.acked_at is not None for r in records):
        step.skip("no canary writes in this run folder (failback without a drill, or a drill "
                  "that stopped before writing)")
        return None
    w = run.workload
    regions = [w.regions.primary, w.regions.secondary]
    fleet, _ = build_canaries(run.clients, w, run.run_id, interval_s=1.0)
    try:
        report = check_after_failback(records, fleet.present_in, regions, run.run_dir,
                                      timeout_s=0.9 * run.timeout("writes on both sides"))
    finally:
        aurora = fleet.stores.get("aurora")
        if aurora is not None and hasattr(aurora.canary, "close"):
            aurora.canary.close()
    counts = "; ".join(
        f"{store}: " + ", ".join(f"{side['written']} written in {region}, "
                                 f"{side['not_replicated']} not in the other region"
                                 for region, side in by_region.items())
        for store, by_region in report["stores"].items())
    step.detail = f"{counts} ({REPLICATION_CSV})"
    return report


def _standby_instances(run: DrillRun) -> int:
    """The warm standby's configured size (the var file's; the drill scales the group up)."""
    from drlib.stacks import SceptreProject

    return int(SceptreProject(run.workload.environment).variables["secondary_asg_desired"])


def save_drill_charts(run: DrillRun) -> dict[str, Path]:
    """The drill's charts as PNG files in the run folder: timeline, write outcomes, lag, CDF,
    RTO/RPO, measured against the reference figures."""
    from drlib import charts

    targets = targets_for(run.workload.environment,
                          {"lag_threshold_seconds": run.lag_threshold_s})
    measured = run.measured
    rto = measured.rto if measured else None
    made = {"timeline": charts.timeline_chart(run.timeline, rto,
                                              title=f"{run.scenario} timeline")}
    if run.records:
        made["write_outcomes"] = charts.write_outcomes_chart(
            run.records, run.timeline, measured.write_outage if measured else None,
            cutover_at=run.state.cutover_at, dns_moved_at=run.state.dns_moved_at)
    if run.lag is not None and not run.lag.empty:
        made["lag_over_time"] = charts.lag_over_time_chart(run.lag, run.lag_threshold_s,
                                                           run.timeline)
        made["lag_cdf"] = charts.lag_cdf_chart(run.lag, run.lag_threshold_s)
    if measured is not None:
        made["rto_rpo"] = charts.rto_rpo_chart(
            rto, measured.rpo, targets, run.scenario,
            tested={s: measured.rpo_tested(s) for s in measured.rpo})
        made["measured_vs_aws"] = charts.published_comparison_chart(
            measured.lag, rto, _deployed_figures(run), targets)
    return {name: charts.save_png(figure, run.run_dir / f"{name}.png")
            for name, figure in made.items()}
