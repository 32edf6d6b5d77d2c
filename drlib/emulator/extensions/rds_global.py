"""The Aurora global database drill APIs moto lacks, on top of the PostgreSQL data plane.

- ``SwitchoverGlobalCluster`` (and ``FailoverGlobalCluster`` without ``AllowDataLoss``): returns
  at once with Status ``switching-over`` and a ``FailoverState``; a thread makes the old primary
  refuse writes, waits until the target's standby has replayed the primary's last WAL position
  (RPO 0), stops the old primary, promotes the standby (``pg_promote``), restarts the old primary
  as a standby of the new one (it follows the new timeline; ``pg_basebackup`` if it cannot) and
  flips ``IsWriter``; then Status
  ``available``. If the standby cannot catch up within ``CATCH_UP_TIMEOUT`` (replication paused)
  the switchover is cancelled; if the target becomes unavailable before it is promoted (its
  region down, its server stopped) the switchover fails. Either way ``FailoverState`` says
  ``cancelling`` while both clusters return to their previous roles (the old primary takes
  writes again), then the global cluster is ``available`` with its old writer. Once the target
  is promoted the writer has moved: a step after that which fails (the old primary cannot
  rejoin) leaves the old primary ``pending-resync``, rebuilt by the worker as after a failover.
- ``FailoverGlobalCluster`` with ``AllowDataLoss``: Status ``failing-over``; the standby is
  promoted as it is (what it has not received is lost) and the old primary is **fenced** (in
  recovery with no upstream: reads its old data, refuses every write; if its region is down it
  comes up fenced). It stays a member, not the writer, SynchronizationStatus ``pending-resync``,
  until the worker rebuilds it as a secondary (see ``aurora.RESYNC_DELAY``). A cluster snapshot
  ``rds:unplanned-global-failover-<cluster>-<time>`` of the old primary is recorded, as Aurora
  does.
- ``RemoveFromGlobalCluster``: the cluster leaves ``GlobalClusterMembers`` at once; a secondary's
  standby is promoted in the background (cluster Status ``promoting``, then ``available``) and
  becomes a standalone writable cluster.
- ``DescribeGlobalClusters`` honours ``GlobalClusterIdentifier`` and sees global clusters of every
  region; members carry ``SynchronizationStatus`` (``connected`` / ``pending-resync``).
- RDS events (``DescribeEvents``, SourceType ``db-cluster``, category ``global-failover``), with
  AWS's wording, on both the old and the new primary cluster, each in its own region:
  ``Global switchover to DB cluster X in Region R started.`` (RDS-EVENT-0181), ``Old primary DB
  cluster X in Region R successfully shut down.`` (0182), ``New primary DB cluster X in Region R
  was successfully promoted.`` (0184), ``... finished.`` (0185), ``... is cancelled.`` (0186),
  ``... failed.`` (0187); ``Global failover to DB cluster X in Region R completed.`` (0238) or
  ``... failed.`` (0239). ``DescribeEvents`` honours ``StartTime``, ``EndTime``, ``Duration``
  (default: the past hour, as AWS), ``EventCategories``, ``MaxRecords`` and ``Marker``, oldest
  first (moto ignores all of these).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from drlib.emulator import faults
from drlib.emulator.extensions import aurora
from drlib.emulator.extensions.aurora import FENCED, REPLICA, STANDALONE, WRITER, Backing
from drlib.emulator.pgpair import pg_lsn, rejoin_as_standby, reseed_as_standby
from drlib.errors import WaitTimeout
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

CATCH_UP_TIMEOUT = 60.0
IDLE = "available"


def _error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


def _global_cluster(account_id: str, identifier: str) -> Any:
    gc = aurora.find_global_cluster(account_id, identifier)
    if gc is None:
        raise _error("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")
    return gc


def _member(gc: Any, identifier: str) -> Any:
    for cluster in gc.members:
        if identifier in (cluster.db_cluster_arn, cluster.db_cluster_identifier):
            return cluster
    raise _error("DBClusterNotFoundFault",
                 f"DBCluster {identifier} is not a member of global cluster "
                 f"{gc.global_cluster_identifier}.")


def _writer(gc: Any) -> Any:
    writer = next((c for c in gc.members if c.is_writer), None)
    if writer is None:
        raise _error("InvalidGlobalClusterStateFault",
                     f"Global cluster {gc.global_cluster_identifier} has no primary cluster.")
    return writer


def _backing(cluster: Any) -> Backing:
    backing = aurora.backing_of(cluster.db_cluster_arn)
    if backing is None:
        raise _error("InvalidDBClusterStateFault",
                     f"DBCluster {cluster.db_cluster_identifier} has no aurora-postgresql "
                     "storage in the emulator (only aurora-postgresql is emulated).")
    return backing


def _check_idle(gc: Any) -> None:
    if gc.status != IDLE:
        raise _error("InvalidGlobalClusterStateFault",
                     f"Global cluster {gc.global_cluster_identifier} is {gc.status}; wait until "
                     "it is available.")


def _begin(gc: Any, status: str, old: Any, new: Any, data_loss: bool) -> None:
    gc.status = status
    gc.failover_state = {"Status": status, "FromDbClusterArn": old.db_cluster_arn,
                         "ToDbClusterArn": new.db_cluster_arn, "IsDataLossAllowed": data_loss}


def _cancelling(gc: Any) -> None:
    """The operation is being undone: both clusters return to their previous roles."""
    if gc.failover_state is not None:
        gc.failover_state = {**gc.failover_state, "Status": "cancelling"}


def _finish(gc: Any) -> None:
    gc.status = IDLE
    gc.failover_state = None


# --- RDS events ------------------------------------------------------------------------------

EVENT_CATEGORY = "global-failover"
SWITCHOVER_EVENTS = {
    "started": ("RDS-EVENT-0181", "Global switchover to DB cluster {target} in Region {region} "
                                  "started."),
    "old primary shut down": ("RDS-EVENT-0182", "Old primary DB cluster {old} in Region "
                                                "{old_region} successfully shut down."),
    "new primary promoted": ("RDS-EVENT-0184", "New primary DB cluster {target} in Region "
                                               "{region} was successfully promoted."),
    "finished": ("RDS-EVENT-0185", "Global switchover to DB cluster {target} in Region {region} "
                                   "finished."),
    "cancelled": ("RDS-EVENT-0186", "Global switchover to DB cluster {target} in Region "
                                    "{region} is cancelled."),
    "failed": ("RDS-EVENT-0187", "Global switchover to DB cluster {target} in Region {region} "
                                 "failed."),
}
FAILOVER_EVENTS = {
    "completed": ("RDS-EVENT-0238", "Global failover to DB cluster {target} in Region {region} "
                                    "completed."),
    "failed": ("RDS-EVENT-0239", "Global failover to DB cluster {target} in Region {region} "
                                 "failed."),
}
"""AWS's event IDs and messages (Amazon RDS event categories and event messages for Aurora,
DB cluster events, category global failover)."""


class ClusterEvent:
    """One RDS event of a DB cluster, shaped as moto's events are (moto serialises these
    attributes into DescribeEvents' ``Event``; ``event_id`` is AWS's RDS-EVENT id, which the API
    does not return but EventBridge does)."""

    source_type = "db-cluster"

    def __init__(self, cluster: Any, event_id: str, message: str) -> None:
        from moto.core.utils import utcnow

        self.source_identifier = cluster.db_cluster_identifier
        self.source_arn = cluster.db_cluster_arn
        self.message = message
        self.event_categories = [EVENT_CATEGORY]
        self.event_id = event_id
        self.date = utcnow()


def _event(table: dict[str, tuple[str, str]], which: str, old: Any, new: Any) -> None:
    """Record the event ``which`` on both clusters of the operation, each in its own region."""
    event_id, template = table[which]
    message = template.format(target=new.db_cluster_identifier, region=new.region,
                              old=old.db_cluster_identifier, old_region=old.region)
    for cluster in (old, new):
        try:
            cluster.backend.events.append(ClusterEvent(cluster, event_id, message))
        except Exception:  # a record only: never fail the operation for it
            log.exception("could not record %s on %s", event_id, cluster.db_cluster_identifier)
    log.info("%s: %s", event_id, message)


class TargetUnavailable(Exception):
    """The switchover's target became unavailable before it was promoted."""


def _require_available(backing: Backing, what: str) -> None:
    """Raise :class:`TargetUnavailable` when ``backing``'s region is down (the fault is
    registered at once; its server is stopped once the operation releases the plane) or its
    server is not running."""
    if backing.down or faults.region_down(backing.region):
        raise TargetUnavailable(f"{what} {backing.identifier}: region {backing.region} is down")
    if not backing.server.is_running():
        raise TargetUnavailable(f"{what} {backing.identifier}: its server is not running")


def _flip(old: Any, new: Any) -> None:
    old.is_writer, new.is_writer = False, True


# --- switchover ------------------------------------------------------------------------------

def _new_writer_request(account_id: str, global_id: str, target_id: str) -> tuple[Any, Any, Any]:
    """(global cluster, target member, current writer) of a request to move the writer; refuses
    a busy global cluster and a target that already is the writer, as RDS does."""
    gc = _global_cluster(account_id, global_id)
    target = _member(gc, target_id)
    _check_idle(gc)
    old = _writer(gc)
    if target is old:
        raise _error("InvalidParameterValue",
                     f"DBCluster {target.db_cluster_identifier} is already the primary "
                     "cluster of the global database.")
    return gc, target, old


def switchover(account_id: str, global_id: str, target_id: str) -> Any:
    """Start a switchover to ``target_id``; returns the global cluster, now switching-over."""
    with aurora.plane.lock:
        gc, target, old = _new_writer_request(account_id, global_id, target_id)
        old_b, new_b = _backing(old), _backing(target)
        if old_b.down or not old_b.server.is_running():
            raise _error("InvalidDBClusterStateFault",
                         f"The primary cluster {old.db_cluster_identifier} is unavailable; a "
                         "switchover needs a healthy primary. Use FailoverGlobalCluster with "
                         "AllowDataLoss.")
        if new_b.role != REPLICA or new_b.down:
            state = ("its region is down" if new_b.down else
                     "SynchronizationStatus pending-resync: it is being rebuilt after a "
                     "failover; wait until its GlobalClusterMembers entry says connected")
            raise _error("InvalidDBClusterStateFault",
                         f"DBCluster {target.db_cluster_identifier} is not a synchronized "
                         f"secondary cluster ({state}).")
        _begin(gc, "switching-over", old, target, data_loss=False)
        _event(SWITCHOVER_EVENTS, "started", old, target)
    aurora.run_task("switchover", _run_switchover, gc, old, target)
    return gc


def _run_switchover(gc: Any, old: Any, new: Any) -> None:
    began = time.monotonic()
    outcome = "failed"
    with aurora.plane.lock:
        try:
            outcome = _switch(gc, _backing(old), _backing(new), old, new)
        except Exception:
            log.exception("switchover of %s failed", gc.global_cluster_identifier)
        finally:
            _finish(gc)
            _event(SWITCHOVER_EVENTS, outcome, old, new)
    log.info("switchover of %s to %s %s in %.2f s", gc.global_cluster_identifier,
             new.db_cluster_identifier, outcome, time.monotonic() - began)


def _switch(gc: Any, old_b: Backing, new_b: Backing, old: Any, new: Any) -> str:
    """Run the switchover; ``finished``, ``cancelled`` or ``failed`` (both clusters back in
    their previous roles in the last two)."""
    try:
        _refuse_writes(old_b, True)
        _wait_caught_up(new_b, old_b)
    except Exception as exc:
        outcome = "cancelled" if isinstance(exc, WaitTimeout) else "failed"
        log.warning("switchover of %s %s before the old primary stopped: %s",
                    gc.global_cluster_identifier, outcome, exc)
        _cancelling(gc)
        _give_back(old_b, new_b)
        return outcome
    try:
        old_b.server.stop(mode="fast")
        _event(SWITCHOVER_EVENTS, "old primary shut down", old, new)
        _require_available(new_b, "the switchover's target")
        new_b.server.promote()
    except Exception as exc:
        log.warning("switchover of %s failed before the target was promoted: %s",
                    gc.global_cluster_identifier, exc)
        _cancelling(gc)
        _give_back(old_b, new_b)
        return "failed"
    new_b.role, new_b.probe, new_b.samples = WRITER, None, []
    _flip(old, new)
    _event(SWITCHOVER_EVENTS, "new primary promoted", old, new)
    # The writer has moved: from here the switchover finishes whatever happens to the old
    # primary (if it cannot rejoin, it is rebuilt later, as after a failover).
    try:
        _reseed_other_replicas(new_b, exclude=old_b)
        rejoin_as_standby(old_b.server, new_b.server)
        old_b.server.fence_clients(False)  # a reader again: in recovery, it cannot write
        old_b.role, old_b.probe = REPLICA, None
        aurora.apply_replication_faults(old_b)
    except Exception:
        log.exception("the old primary %s could not rejoin as a secondary; it is rebuilt later",
                      old_b.identifier)
        try:
            old_b.server.fence()
        except Exception:
            log.exception("could not fence %s", old_b.identifier)
        old_b.role, old_b.fenced_at, old_b.probe = FENCED, time.monotonic(), None
    return "finished"


def _wait_caught_up(new_b: Backing, old_b: Backing) -> None:
    """Wait (up to ``CATCH_UP_TIMEOUT``) until the target has replayed all of the primary's WAL;
    :class:`TargetUnavailable` at once when the target (or the primary) becomes unavailable."""
    def caught_up() -> bool:
        _require_available(new_b, "the switchover's target")
        _require_available(old_b, "the primary")
        try:
            return new_b.server.lsn() >= target
        except Exception as exc:  # its server stopped meanwhile: name that
            _require_available(new_b, "the switchover's target")
            raise TargetUnavailable(f"the switchover's target {new_b.identifier}: {exc}") \
                from exc

    _require_available(new_b, "the switchover's target")
    target = pg_lsn(old_b.server.value("SELECT pg_current_wal_lsn()::text"))
    wait_until(caught_up, description=f"standby {new_b.server.name} to replay up to the "
               "primary's WAL position", timeout=CATCH_UP_TIMEOUT, interval=0.01, backoff=1.2,
               max_interval=0.2)


def _give_back(old_b: Backing, new_b: Backing) -> None:
    """Undo a switchover that did not promote its target: the old primary takes writes again
    (started again unless its region is down) and the target follows it again."""
    try:
        if not old_b.down and not faults.region_down(old_b.region) and \
                not old_b.server.is_running():
            old_b.server.start()
        _refuse_writes(old_b, False)
    except Exception:
        log.exception("could not give %s its writes back", old_b.identifier)
    try:
        aurora.apply_replication_faults(new_b)  # reconnects it if it runs and is not paused
    except Exception:
        log.exception("could not reconnect %s to the writer", new_b.identifier)


def _refuse_writes(backing: Backing, refuse: bool) -> None:
    """Demote-in-place for the catch-up window: a real fence (no client can connect, sessions
    ended: a client setting ``default_transaction_read_only = off`` still cannot write), and new
    transactions read-only as a second line."""
    server = backing.server
    server.set_setting("default_transaction_read_only", "on" if refuse else None)
    server.fence_clients(refuse)  # reloads the configuration, ends client sessions


def _reseed_other_replicas(writer: Backing, exclude: Backing) -> None:
    """Point the other secondaries (three or more regions) at the new writer."""
    for backing in aurora.topology(writer.global_id or ""):
        if backing in (writer, exclude):
            continue
        if (backing.role == REPLICA and backing.server.is_running()
                and backing.server.in_recovery()):
            reseed_as_standby(backing.server, writer.server)
            backing.probe = None
            aurora.apply_replication_faults(backing)


# --- failover (data loss allowed) --------------------------------------------------------------

def failover(account_id: str, global_id: str, target_id: str, allow_data_loss: bool | None,
             switchover_flag: bool | None) -> Any:
    """FailoverGlobalCluster: a switchover unless ``AllowDataLoss``; then promote and fence."""
    if allow_data_loss and switchover_flag:
        raise _error("InvalidParameterCombination",
                     "AllowDataLoss and Switchover cannot be specified together.")
    if not allow_data_loss:
        return switchover(account_id, global_id, target_id)
    with aurora.plane.lock:
        gc, target, old = _new_writer_request(account_id, global_id, target_id)
        new_b = _backing(target)
        if new_b.down or not new_b.server.is_running() or new_b.role != REPLICA:
            raise _error("InvalidDBClusterStateFault",
                         f"DBCluster {target.db_cluster_identifier} is not available to promote.")
        _backing(old)
        _begin(gc, "failing-over", old, target, data_loss=True)
    aurora.run_task("failover", _run_failover, gc, old, target)
    return gc


def _run_failover(gc: Any, old: Any, new: Any) -> None:
    began = time.monotonic()
    outcome = "failed"
    with aurora.plane.lock:
        old_b, new_b = _backing(old), _backing(new)
        try:
            try:
                _require_available(new_b, "the failover's target")
                if new_b.server.in_recovery():
                    new_b.server.set_setting("primary_conninfo", None)  # receive nothing more
                    new_b.server.promote()
            except Exception:
                # Not promoted: nothing changed; the target follows the writer again.
                _cancelling(gc)
                aurora.apply_replication_faults(new_b)
                raise
            new_b.role, new_b.probe, new_b.samples, new_b.fenced_at = WRITER, None, [], None
            _flip(old, new)
            outcome = "completed"
            old_b.server.fence()
            old_b.role, old_b.fenced_at, old_b.probe = FENCED, time.monotonic(), None
            _record_failover_snapshot(old)
            _reseed_other_replicas(new_b, exclude=old_b)
        except Exception:
            log.exception("failover of %s failed%s", gc.global_cluster_identifier,
                          " after the promotion" if outcome == "completed" else "")
            if outcome == "completed":  # promoted: the old primary is rebuilt later
                old_b.role, old_b.fenced_at, old_b.probe = FENCED, time.monotonic(), None
        finally:
            _finish(gc)
            _event(FAILOVER_EVENTS, outcome, old, new)
    log.info("failover of %s to %s %s in %.2f s", gc.global_cluster_identifier,
             new.db_cluster_identifier, outcome, time.monotonic() - began)


def _record_failover_snapshot(old: Any) -> None:
    stamp = time.strftime("%Y-%m-%d-%H-%M", time.gmtime())
    try:
        old.backend.create_db_cluster_snapshot(
            old.db_cluster_identifier,
            f"rds:unplanned-global-failover-{old.db_cluster_identifier}-{stamp}",
            snapshot_type="automated")
    except Exception as exc:  # a record only: never fail the failover for it
        log.debug("no failover snapshot for %s: %s", old.db_cluster_identifier, exc)


# --- remove from global cluster --------------------------------------------------------------

def remove_from_global_cluster(account_id: str, global_id: str, cluster_id: str) -> Any:
    """Detach a cluster; a secondary becomes a standalone writable cluster (in the background)."""
    with aurora.plane.lock:
        gc = _global_cluster(account_id, global_id)
        if aurora.find_cluster(account_id, cluster_id) is None:
            raise _error("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.")
        if not any(cluster_id in (c.db_cluster_arn, c.db_cluster_identifier)
                   for c in gc.members):
            # An existing cluster that is not a member: AWS answers InvalidParameterValue.
            raise _error("InvalidParameterValue",
                         f"The cluster {cluster_id} is not a member of global cluster "
                         f"{gc.global_cluster_identifier}.")
        cluster = _member(gc, cluster_id)
        _check_idle(gc)
        if cluster.is_writer and len(gc.members) > 1:
            raise _error("InvalidDBClusterStateFault",
                         f"DBCluster {cluster.db_cluster_identifier} is the primary cluster; "
                         "remove the secondary clusters first.")
        gc.members.remove(cluster)
        cluster.global_cluster_identifier = None
        cluster.is_writer = False
        backing = aurora.backing_of(cluster.db_cluster_arn)
        if backing is not None:
            backing.global_id = None
            if backing.role in (REPLICA, FENCED):
                cluster.status = "promoting"
                aurora.run_task("detach", _run_detach, cluster, backing)
            else:
                backing.role = STANDALONE
    return gc


def _run_detach(cluster: Any, backing: Backing) -> None:
    with aurora.plane.lock:
        try:
            server = backing.server
            if not server.is_running():
                server.set_setting("primary_conninfo", None)
                (server.data_dir / "standby.signal").unlink(missing_ok=True)
            elif server.in_recovery():
                server.set_setting("primary_conninfo", None)
                server.promote()
            backing.role, backing.probe, backing.samples, backing.fenced_at = (
                STANDALONE, None, [], None)
        except Exception:
            log.exception("detaching %s failed", cluster.db_cluster_identifier)
        finally:
            cluster.status = "available"


# --- DescribeEvents -----------------------------------------------------------------------------

DEFAULT_EVENT_MINUTES = 60
"""Without StartTime or Duration, DescribeEvents returns the past hour's events (AWS)."""
MAX_RECORDS = 100


def _moment(value: Any) -> datetime:
    """A request timestamp (datetime, ISO 8601 text or epoch seconds) as an aware UTC datetime."""
    from datetime import UTC

    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) or (isinstance(value, str)
                                            and value.replace(".", "", 1).isdigit()):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select_events(events: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """The events a DescribeEvents request selects, oldest first, and the next Marker.

    As AWS: ``StartTime``/``EndTime`` bound the window; ``Duration`` (minutes) ends it now when
    no ``StartTime`` is given (``EndTime`` defaults to now); with neither, the past hour.
    ``SourceType``, ``SourceIdentifier`` and ``EventCategories`` (any of) filter;
    ``MaxRecords`` (20-100, default 100) and ``Marker`` page."""
    from moto.core.utils import utcnow

    now = _aware(utcnow())
    end = _moment(params["EndTime"]) if params.get("EndTime") else now
    if params.get("StartTime"):
        start = _moment(params["StartTime"])
    else:
        minutes = int(params.get("Duration") or DEFAULT_EVENT_MINUTES)
        start = end - timedelta(minutes=minutes)
    source_type, source_id = params.get("SourceType"), params.get("SourceIdentifier")
    categories = set(params.get("EventCategories") or [])
    chosen = [e for e in events
              if start <= _aware(e.date) <= end
              and (not source_type or e.source_type == source_type)
              and (not source_id or source_id in (e.source_identifier,
                                                  getattr(e, "source_arn", None)))
              and (not categories or categories & set(e.event_categories))]
    chosen.sort(key=lambda e: _aware(e.date))
    size = int(params.get("MaxRecords") or MAX_RECORDS)
    if not 20 <= size <= MAX_RECORDS:
        raise _error("InvalidParameterValue",
                     f"Invalid value {size} for MaxRecords. Must be between 20 and 100")
    offset = int(params.get("Marker") or 0)
    page = chosen[offset:offset + size]
    more = offset + size < len(chosen)
    return page, (str(offset + size) if more else None)


# --- moto patches ----------------------------------------------------------------------------

def _members_with_sync_status(original: Any) -> property:
    def get(self: Any) -> list[dict[str, Any]]:
        members: list[dict[str, Any]] = original.fget(self)
        for member in members:
            backing = aurora.backing_of(member["DBClusterArn"])
            if backing is not None and not member["IsWriter"]:
                member["SynchronizationStatus"] = (
                    "pending-resync" if backing.role == FENCED else "connected")
        return members
    return property(get)


_installed = False


def install() -> None:
    """Add the drill operations to moto's RDS API and fix describe/remove of global clusters."""
    global _installed
    if _installed:
        return
    from moto.core.responses import ActionResult
    from moto.rds.models import GlobalCluster
    from moto.rds.responses import RDSResponse

    def switchover_global_cluster(self: Any) -> ActionResult:
        gc = switchover(self.current_account, self.params["GlobalClusterIdentifier"],
                        self.params["TargetDbClusterIdentifier"])
        return ActionResult({"GlobalCluster": gc})

    def failover_global_cluster(self: Any) -> ActionResult:
        gc = failover(self.current_account, self.params["GlobalClusterIdentifier"],
                      self.params["TargetDbClusterIdentifier"],
                      self.params.get("AllowDataLoss"), self.params.get("Switchover"))
        return ActionResult({"GlobalCluster": gc})

    def remove_from_global_cluster_action(self: Any) -> ActionResult:
        gc = remove_from_global_cluster(self.current_account,
                                        self.params["GlobalClusterIdentifier"],
                                        self.params["DbClusterIdentifier"])
        return ActionResult({"GlobalCluster": gc})

    def describe_global_clusters(self: Any) -> ActionResult:
        wanted = self.params.get("GlobalClusterIdentifier")
        found = [gc for backend in aurora.rds_backends_of(self.current_account)
                 for gc in backend.global_clusters.values()]
        if wanted:
            found = [gc for gc in found
                     if gc.global_cluster_identifier == aurora.global_id_of(wanted)]
            if not found:
                raise _error("GlobalClusterNotFoundFault", f"Global cluster {wanted} not found.")
        return ActionResult({"GlobalClusters": found})

    def describe_events(self: Any) -> ActionResult:
        params = self.params
        if params.get("SourceIdentifier") and not params.get("SourceType"):
            raise _error("InvalidParameterCombination",
                         "Cannot specify source identifier without source type")
        events, marker = select_events(self.backend.events, params)
        return ActionResult({"Events": events, **({"Marker": marker} if marker else {})})

    RDSResponse.describe_events = describe_events  # type: ignore[method-assign]
    RDSResponse.switchover_global_cluster = switchover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.failover_global_cluster = failover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.remove_from_global_cluster = (  # type: ignore[method-assign]
        remove_from_global_cluster_action)
    RDSResponse.describe_global_clusters = describe_global_clusters  # type: ignore[method-assign]
    GlobalCluster.global_cluster_members = _members_with_sync_status(  # type: ignore[method-assign,assignment]
        GlobalCluster.global_cluster_members)
    GlobalCluster.failover_state = None  # type: ignore[attr-defined]
    _installed = True
