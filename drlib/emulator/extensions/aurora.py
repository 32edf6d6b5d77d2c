"""The Aurora PostgreSQL data plane: a real PostgreSQL server behind each aurora-postgresql cluster.

Hooks on moto's RDS *backend* methods, so clusters made by the API and by CloudFormation alike
get a server:

- a standalone cluster, or the first (writer) cluster of a global database, gets a PostgreSQL
  primary; a secondary cluster of a global database gets a hot standby streaming from the
  writer's server (``pg_basebackup -R``). Data lives, linked from
  ``<state dir>/aurora/<global id or cluster id>/<region>``, in memory where there is room
  (``/dev/shm``, a tmpfs, with at least 4 GiB free: on this project's VM disk every copy of a
  data directory cost about a second of writeback, which made creating a global database 3 s
  instead of 0.7 s), else in the temporary folder: ``drlib-aurora-root/<hash>-<pid>`` (as root,
  run by the ``postgres`` account, since PostgreSQL refuses to run as root) or
  ``drlib-aurora-<uid>/<hash>-<pid>``; without /dev/shm a non-root user's data stays in the
  state dir. It is throwaway: deleted when the emulator stops;
- ``describe_db_clusters`` returns ``Endpoint`` and ``ReaderEndpoint`` ``127.0.0.1`` and the
  server's ``Port``: the requested ``Port`` when it is free on loopback, else a free one (every
  cluster shares one address here). Writer and reader endpoints of a cluster reach the same
  server: the writer's is writable, a secondary's is a read-only hot standby, as Aurora's
  inactive secondary writer endpoint would refuse writes;
- master credentials: ``MasterUsername``/``MasterUserPassword`` become a PostgreSQL role as on
  Aurora (not a superuser: LOGIN CREATEDB CREATEROLE, member of ``rds_superuser``) that owns
  ``postgres``, ``template1`` and the ``DatabaseName`` database. With
  ``ManageMasterUserPassword`` a random password is generated and written to the RDS-managed
  secret (``MasterUserSecret.SecretArn``, JSON ``{"username","password"}``,
  as AWS). Any Secrets Manager secret of the cluster's region whose JSON holds that
  username/password pair gets ``host``, ``port``, ``dbname``, ``engine`` and
  ``dbClusterIdentifier`` added, as ``AWS::SecretsManager::SecretTargetAttachment`` does;
- faults: region-down stops every server of the region (connections refused), region-up starts
  them again as they were; pausing ``aurora`` replication disconnects each standby from its
  upstream (``primary_conninfo`` cleared) and pauses replay (``pg_wal_replay_pause``), so a
  failover then loses what was written meanwhile; resuming reconnects and resumes; a delay sets
  ``recovery_min_apply_delay``;
- a worker thread writes a heartbeat on each writer every second and measures, on each standby
  (over a connection opened before the heartbeat, so set-up is not counted),
  ``AuroraGlobalDBReplicationLag``: the commit-to-visible time of the heartbeat, and
  ``AuroraGlobalDBRPOLag``: how far behind the standby is in commit time, the age of the oldest
  heartbeat commit it does not show yet (0 when caught up), as AWS defines the two; every 5 s
  it puts them (AWS/RDS, Milliseconds, dimension DBClusterIdentifier of the secondary) into
  CloudWatch of the secondary's region; it also rebuilds a fenced old primary as
  a secondary ``RESYNC_DELAY`` seconds after a failover (once its region is up), as Aurora does.

``GET /_drlib/aurora`` lists the servers (cluster, role, port, data directory, log). The drill
APIs (switchover, failover, remove) are in :mod:`.rds_global`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from drlib.emulator import control, faults, state
from drlib.emulator.faults import FaultEvent
from drlib.emulator.patching import pid_alive
from drlib.emulator.pgpair import (
    ADMIN_DB,
    LagProbe,
    PgRuntime,
    PgServer,
    postgres_processes,
    remove_tree,
    stop_stale_servers,
)
from drlib.emulator.pgpair import start_primary as pg_start_primary
from drlib.emulator.pgpair import start_standby as pg_start_standby
from drlib.emulator.stack_operations import STACK_OPERATIONS
from drlib.errors import EmulatorError

log = logging.getLogger(__name__)

ENGINE = "aurora-postgresql"
HOST = "127.0.0.1"
HEARTBEAT_INTERVAL = 1.0
PUBLISH_INTERVAL = 5.0
RESYNC_DELAY = 3.0
"""Seconds after a failover (or after its region comes back) before a fenced old primary is
rebuilt as a secondary of the new writer. Until then it serves its old data read-only."""
NAMESPACE = "AWS/RDS"
LAG_METRICS = ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag")

WRITER, REPLICA, FENCED, STANDALONE = "writer", "replica", "fenced", "standalone"


@dataclass
class Backing:
    """The PostgreSQL server behind one DB cluster, and its role in its global database."""

    account_id: str
    region: str
    identifier: str
    arn: str
    global_id: str | None
    server: PgServer
    role: str
    down: bool = False  # stopped by a region-down fault
    fenced_at: float | None = None
    probe: LagProbe | None = None
    samples: list[tuple[datetime, float, float]] = field(default_factory=list)
    """(time, AuroraGlobalDBReplicationLag ms, AuroraGlobalDBRPOLag ms) not yet published."""


@dataclass
class Plane:
    """Every backing server, by cluster ARN, and the worker that watches them."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    backings: dict[str, Backing] = field(default_factory=dict)
    runtime: PgRuntime | None = None
    worker: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    tasks: list[threading.Thread] = field(default_factory=list)


plane = Plane()


# --- where files live ------------------------------------------------------------------------

MEMORY_DIR = Path("/dev/shm")
MEMORY_MIN_FREE_BYTES = 4 * 1024**3
"""The servers' data goes to :data:`MEMORY_DIR` only while it has this much room left: a drill's
servers take a few hundred MiB, a long load run's WAL more."""


def _memory_dir() -> Path | None:
    """:data:`MEMORY_DIR` when this account may use it and it has room, else None."""
    try:
        room = os.statvfs(MEMORY_DIR)
    except OSError:
        return None
    if not (MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK | os.X_OK)):
        return None
    return MEMORY_DIR if room.f_bavail * room.f_frsize >= MEMORY_MIN_FREE_BYTES else None


def _parent_name() -> str:
    return "drlib-aurora-root" if os.geteuid() == 0 else f"drlib-aurora-{os.geteuid()}"


def root_parents() -> list[Path]:
    """Every folder data roots may be in (the memory one first): swept of dead emulators'."""
    return [folder / _parent_name() for folder in (MEMORY_DIR, Path(tempfile.gettempdir()))]


def data_root() -> Path:
    """The directory that holds every server's data directory (see the module docstring)."""
    link = state.state_dir() / "aurora"
    memory = _memory_dir()
    if os.geteuid() != 0 and memory is None:
        return link
    # As root: PostgreSQL cannot run as root; its account must reach the data, and pytest's and
    # most state directories are private to root. So: a short path, one per emulator process
    # (two emulators on one state directory must not share servers), linked from the state dir.
    digest = hashlib.sha1(str(state.state_dir()).encode()).hexdigest()[:12]
    parent = (memory or Path(tempfile.gettempdir())) / _parent_name()
    return parent / f"{digest}-{os.getpid()}"


TEMPLATE_CACHE_AS_ROOT = Path("/var/cache/drlib/pg-templates")


def template_cache() -> Path:
    """Where the initdb templates are kept between emulator processes (one per PostgreSQL
    installation and settings, :func:`drlib.emulator.pgpair.template_key`): an initdb is a
    second of a deploy's first database. Not under /tmp, whose cleaners delete files unused for
    days (a template missing a file would break every cluster made from it): as root in
    /var/cache, where the server account can read it; otherwise in the user's cache folder."""
    if os.geteuid() == 0:
        return TEMPLATE_CACHE_AS_ROOT
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "drlib" / "pg-templates"


def sweep_dead_roots() -> None:
    """Stop the servers and delete the data of emulator processes that died without cleaning."""
    for parent in root_parents():
        if parent.is_dir():
            _sweep_dead_roots_in(parent)


def _sweep_dead_roots_in(parent: Path) -> None:
    for root in parent.iterdir():
        pid = root.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        rt = PgRuntime(root=root, socket_dir=root / ".s")
        swept = stop_stale_servers(root, rt)
        remove_tree(root)
        log.warning("removed the aurora data of dead emulator process %s (%d servers stopped)",
                    pid, swept)


def runtime() -> PgRuntime:
    """The PostgreSQL runtime (created, and stale servers swept, on first use)."""
    with plane.lock:
        if plane.runtime is None:
            root = data_root()
            socket_dir = root / ".s"
            if len(str(socket_dir)) > 80:  # unix socket paths are limited to ~107 bytes
                socket_dir = Path(tempfile.mkdtemp(prefix="drlib-pgs-"))
            if root.parent in root_parents():
                root.parent.mkdir(parents=True, exist_ok=True)
                # as root the server account must pass through; a user's own: theirs alone
                os.chmod(root.parent, 0o711 if os.geteuid() == 0 else 0o700)
                sweep_dead_roots()
            rt = PgRuntime(root=root, socket_dir=socket_dir, template_cache=template_cache())
            rt.prepare()
            link = state.state_dir() / "aurora"
            if link != root:
                if link.is_symlink():
                    link.unlink()
                if not link.exists():
                    link.symlink_to(root, target_is_directory=True)
            swept = stop_stale_servers(root, rt)
            if swept:
                log.warning("stopped %d PostgreSQL servers left running in %s", swept, root)
            plane.runtime = rt
        return plane.runtime


# --- moto look-ups ---------------------------------------------------------------------------

def rds_backend(account_id: str, region: str) -> Any:
    """moto's RDS backend of one region."""
    from moto.rds.models import rds_backends

    return rds_backends[account_id][region]


def rds_backends_of(account_id: str) -> list[Any]:
    """Every instantiated RDS backend of the account."""
    from moto.rds.models import rds_backends

    return list(rds_backends[account_id].values())


def global_id_of(value: str | None) -> str | None:
    """A global cluster identifier from an identifier or an ARN (lower case, as moto keeps it)."""
    if not value:
        return None
    return value.rsplit(":", 1)[-1].lower()


def find_global_cluster(account_id: str, identifier: str) -> Any | None:
    """The moto GlobalCluster with this identifier or ARN, in whichever region holds it."""
    wanted = global_id_of(identifier)
    for backend in rds_backends_of(account_id):
        for gc in backend.global_clusters.values():
            if gc.global_cluster_identifier == wanted:
                return gc
    return None


def find_cluster(account_id: str, identifier: str) -> Any | None:
    """The moto DBCluster with this ARN (any region) or identifier (first region that has it)."""
    for backend in rds_backends_of(account_id):
        for cluster in backend.clusters.values():
            if identifier in (cluster.db_cluster_arn, cluster.db_cluster_identifier):
                return cluster
    return None


def backing_of(arn: str) -> Backing | None:
    """The server behind the cluster ``arn`` (None if it has none)."""
    return plane.backings.get(arn)


def topology(global_id: str) -> list[Backing]:
    """The backings of one global database."""
    return [b for b in plane.backings.values() if b.global_id == global_id]


def writer_of(global_id: str) -> Backing | None:
    """The backing that is the writer of a global database."""
    return next((b for b in topology(global_id) if b.role == WRITER), None)


# --- creating and deleting -------------------------------------------------------------------

def usable_port(port: Any) -> int | None:
    """``port`` if the server may listen on it on loopback now (unprivileged, not in use)."""
    try:
        wanted = int(port)
    except (TypeError, ValueError):
        return None
    if not 1024 <= wanted <= 65535:  # PostgreSQL runs unprivileged
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, wanted))
        except OSError:
            return None
    return wanted


def _start_server(name: str, data_dir: Path, upstream: Backing | None,
                  port: int | None) -> PgServer:
    """Start a primary (or a standby of ``upstream``) on ``port`` if it is usable, else on a
    free port: every cluster shares 127.0.0.1 here, where AWS gives each its own host."""
    wanted = usable_port(port) if port else None
    server = PgServer(runtime(), name, data_dir, port=wanted)
    try:
        _start_primary_or_standby(server, upstream)
    except EmulatorError:
        if wanted is None:
            raise
        log.info("aurora: port %s was taken meanwhile; %s uses a free one", wanted, name)
        server.remove()
        server = PgServer(runtime(), name, data_dir)
        _start_primary_or_standby(server, upstream)
    return server


def _start_primary_or_standby(server: PgServer, upstream: Backing | None) -> None:
    if upstream is None:
        pg_start_primary(server)
    else:
        pg_start_standby(server, upstream.server)


def on_cluster_created(cluster: Any, password: str | None = None,
                       port: int | None = None) -> None:
    """Start the server behind a new aurora-postgresql cluster (standby if it is a secondary).

    ``password`` is the MasterUserPassword given at creation (moto keeps none for members of a
    global database); ``port`` the Port asked for, honoured when it is free on loopback.
    """
    if cluster.engine != ENGINE:
        return
    account_id, region = cluster.backend.account_id, cluster.region
    gid = global_id_of(cluster.global_cluster_identifier)
    began = time.monotonic()
    # The server's making (a copy of the template or pg_basebackup, and its start: most of a
    # cluster's creation) touches the plane, not moto: other stack operations go on meanwhile.
    # plane.lock is held from the checks to the registration, as faults, resets and switchovers
    # take it; the stack turn is taken back only after it is released (no lock-order cycle).
    with STACK_OPERATIONS.set_aside(), plane.lock:
        upstream = writer_of(gid) if gid else None
        group = gid or cluster.db_cluster_identifier
        data_dir = runtime().root / group / region
        if any(b.server.data_dir == data_dir for b in plane.backings.values()):
            raise _rds_error("InvalidParameterCombination",
                             f"Global cluster {group} already has a cluster in {region}")
        if upstream is not None and (upstream.down or not upstream.server.is_running()):
            raise _rds_error("InvalidDBClusterStateFault",
                             f"The primary cluster {upstream.identifier} of global cluster "
                             f"{gid} is unavailable; a secondary cannot be added now")
        server = _start_server(f"{group}-{region}", data_dir, upstream, port)
        role = (WRITER if gid else STANDALONE) if upstream is None else REPLICA
        backing = Backing(account_id, region, cluster.db_cluster_identifier,
                          cluster.db_cluster_arn, gid, server, role)
        plane.backings[backing.arn] = backing
        cluster.port = server.port
        try:
            if upstream is not None:
                apply_replication_faults(backing)
        except Exception:
            plane.backings.pop(backing.arn, None)
            server.remove()
            raise
        _ensure_worker()
    try:  # what reads or changes moto's state (RDS, Secrets Manager): in the stack turn again
        if upstream is not None:
            _inherit_from_writer(cluster, upstream)
        else:
            _create_master_user(cluster, server, password)
    except Exception:
        with plane.lock:
            plane.backings.pop(backing.arn, None)
        server.remove()
        raise
    log.info("aurora cluster %s (%s) backed by postgres %s on port %s in %.2f s",
             cluster.db_cluster_identifier, role, region, server.port, time.monotonic() - began)


def _inherit_from_writer(cluster: Any, upstream: Backing) -> None:
    # A secondary has no credentials of its own in RDS: the replicated roles are the writer's.
    writer = find_cluster(upstream.account_id, upstream.arn)
    if writer is not None:
        cluster.master_username = cluster.master_username or writer.master_username
        cluster.database_name = cluster.database_name or writer.database_name


def _create_master_user(cluster: Any, server: PgServer, password: str | None) -> None:
    username = cluster.master_username
    if not username:
        return
    password = password or getattr(cluster, "_master_user_password", None)
    if cluster.manage_master_user_password:
        password = _managed_password(cluster, username)
    if not password:
        return
    server.create_master_user(username, password, cluster.database_name)
    attach_matching_secrets(cluster, username, password)


def _managed_password(cluster: Any, username: str) -> str:
    """Generate the master password and store it in the RDS-managed secret, as AWS does."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_"
    password = "".join(secrets.choice(alphabet) for _ in range(28))
    sm = cluster.backend.secretsmanager
    sm.put_secret_value(cluster.master_user_secret.secret_arn,
                        json.dumps({"username": username, "password": password}),
                        None, str(uuid.uuid4()), ["AWSCURRENT"])
    return password


def connection_fields(cluster: Any) -> dict[str, Any]:
    """What an attached secret gains: how to reach the cluster (SecretTargetAttachment's keys)."""
    return {"engine": "postgres", "host": HOST, "port": int(cluster.port),
            "dbname": cluster.database_name or "postgres",
            "dbClusterIdentifier": cluster.db_cluster_identifier}


def attach_matching_secrets(cluster: Any, username: str, password: str) -> list[str]:
    """Add connection fields to every secret of the region that holds these credentials."""
    sm = cluster.backend.secretsmanager
    attached: list[str] = []
    for secret in list(sm.secrets.values()):
        if str(secret.name).startswith("rds!"):
            continue  # RDS-managed secrets hold only username and password, as on AWS
        try:
            if secret.is_deleted():
                continue
            current = sm.get_secret_value(secret.arn, None, "AWSCURRENT").get("SecretString")
            value = json.loads(current) if current else None
        except Exception:  # binary, not JSON, replica, ...: not a credentials secret
            continue
        if not isinstance(value, dict):
            continue
        if value.get("username") != username or value.get("password") != password:
            continue
        wanted = {**value, **connection_fields(cluster)}
        if wanted != value:
            sm.put_secret_value(secret.arn, json.dumps(wanted), None, str(uuid.uuid4()),
                                ["AWSCURRENT"])
        attached.append(secret.arn)
    if attached:
        log.info("aurora cluster %s: connection details added to %d secret(s)",
                 cluster.db_cluster_identifier, len(attached))
    return attached


def on_cluster_modified(cluster: Any, old_arn: str, password: str | None,
                        new_managed_password: bool) -> None:
    """Keep the server in step with ModifyDBCluster: identifier and master password changes."""
    with plane.lock:
        backing = plane.backings.pop(old_arn, None)
        if backing is None:
            return
        backing.arn, backing.identifier = cluster.db_cluster_arn, cluster.db_cluster_identifier
        plane.backings[backing.arn] = backing
        if backing.role not in (WRITER, STANDALONE) or not cluster.master_username:
            return  # secondaries take the writer's roles through replication
        if new_managed_password and cluster.manage_master_user_password:
            password = _managed_password(cluster, cluster.master_username)
        if password:
            backing.server.create_master_user(cluster.master_username, password, None)
            attach_matching_secrets(cluster, cluster.master_username, password)
            log.info("aurora cluster %s: master password changed", cluster.db_cluster_identifier)


def check_deletable(cluster: Any) -> None:
    """Refuse to delete the writer of a global database that still has secondaries (as AWS)."""
    gid = global_id_of(cluster.global_cluster_identifier)
    gc = find_global_cluster(cluster.backend.account_id, gid) if gid else None
    if gc is None or cluster not in gc.members or not cluster.is_writer:
        return
    if len(gc.members) > 1:
        raise _rds_error(
            "InvalidDBClusterStateFault",
            f"Cluster {cluster.db_cluster_identifier} is the primary cluster of global database "
            f"{gid}; remove its secondary clusters from the global database first")


def on_cluster_deleted(cluster: Any) -> None:
    """Stop and delete the server behind a deleted cluster; drop it from its global database."""
    for backend in rds_backends_of(cluster.backend.account_id):
        for gc in backend.global_clusters.values():
            if cluster in gc.members:
                gc.members.remove(cluster)
    with plane.lock:
        backing = plane.backings.pop(cluster.db_cluster_arn, None)
        if backing is not None:
            backing.server.remove()
            _remove_empty_dirs(backing.server.data_dir.parent)
            log.info("aurora cluster %s deleted: its postgres is stopped and removed",
                     cluster.db_cluster_identifier)


def on_global_cluster_created(global_cluster: Any) -> None:
    """A global cluster made from an existing cluster: that cluster becomes its writer."""
    for cluster in global_cluster.members:
        cluster.is_writer = True  # moto leaves the source cluster a non-writer member
        with plane.lock:
            backing = plane.backings.get(cluster.db_cluster_arn)
            if backing is not None and backing.role == STANDALONE:
                backing.global_id, backing.role = global_cluster.global_cluster_identifier, WRITER


def on_global_cluster_deleted(global_id: str) -> None:
    """Remove the global database's directory once nothing lives in it."""
    if plane.runtime is not None:
        _remove_empty_dirs(plane.runtime.root / global_id_of(global_id))  # type: ignore[operator]


def _remove_empty_dirs(directory: Path) -> None:
    if directory.is_dir() and not any(p for p in directory.iterdir() if p.is_dir()):
        shutil.rmtree(directory, ignore_errors=True)


def _rds_error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


# --- faults ----------------------------------------------------------------------------------

def apply_replication_faults(backing: Backing) -> None:
    """Bring a running standby in line with the injected aurora faults (idempotent).

    Paused: no upstream and replay paused. Not paused: streaming from the writer, replaying.
    The delay is ``recovery_min_apply_delay``.
    """
    if backing.role != REPLICA or backing.down or not backing.server.is_running():
        return
    server = backing.server
    delay = faults.replication_delay("aurora")
    if delay > 0 or server.get_setting("recovery_min_apply_delay") is not None:
        server.set_apply_delay(delay)
    connected = server.get_setting("primary_conninfo") is not None
    if faults.replication_paused("aurora"):
        if connected:
            server.disconnect_upstream()
        if not server.replay_paused():
            server.pause_replay()
    elif not connected or server.replay_paused():
        writer = writer_of(backing.global_id) if backing.global_id else None
        if writer is not None and not connected:
            server.connect_upstream(writer.server)
        if server.replay_paused():
            server.resume_replay()


def on_fault(event: FaultEvent) -> None:
    """Apply a fault change to the servers (errors are logged: faults must always apply)."""
    try:
        with plane.lock:
            _apply_fault(event)
    except Exception:
        log.exception("aurora: could not apply fault %s %s", event.action, event.target)


REPLICATION_ACTIONS = ("pause-replication", "resume-replication", "set-delay")


def _apply_fault(event: FaultEvent) -> None:
    action, target = event.action, event.target
    if action in REPLICATION_ACTIONS and target != "aurora":
        return
    for backing in list(plane.backings.values()):
        if action == "region-down" and backing.region == target and not backing.down:
            backing.server.stop(mode="immediate")
            backing.down = True
            log.info("aurora: region %s down, postgres of %s stopped", target, backing.identifier)
        elif action in ("region-up", "clear") and backing.down and (
                action == "clear" or backing.region == target):
            backing.server.start()
            backing.down = False
            if backing.role == FENCED:
                backing.fenced_at = time.monotonic()  # the resync clock starts on return
            log.info("aurora: region %s up, postgres of %s started", backing.region,
                     backing.identifier)
    if action in (*REPLICATION_ACTIONS, "region-up", "clear"):
        for backing in list(plane.backings.values()):
            apply_replication_faults(backing)


# --- the worker: heartbeat, lag metrics, resync --------------------------------------------

def _ensure_worker() -> None:
    if plane.worker is not None and plane.worker.is_alive():
        return
    plane.stop.clear()
    plane.worker = threading.Thread(target=_work, name="drlib-aurora-worker", daemon=True)
    plane.worker.start()


def _work() -> None:
    last_publish = time.monotonic()
    while not plane.stop.wait(HEARTBEAT_INTERVAL):
        if not plane.lock.acquire(timeout=0.2):
            continue  # a switchover or failover holds the plane; measure next time
        try:
            for backing in list(plane.backings.values()):
                _measure(backing)
            _resync_fenced()
        except Exception:
            log.exception("aurora worker tick failed")
        finally:
            plane.lock.release()
        if time.monotonic() - last_publish >= PUBLISH_INTERVAL:
            last_publish = time.monotonic()
            publish_lag_metrics()


def _measure(backing: Backing) -> None:
    if backing.role != REPLICA or backing.down or not backing.global_id:
        return
    writer = writer_of(backing.global_id)
    if writer is None or writer.down:
        return  # nothing is being replicated: no sample (AWS publishes none either)
    if backing.probe is None:
        backing.probe = LagProbe(row_id=_probe_row(backing))
    try:
        # connect to the standby first: the lag must not include connection set-up
        with backing.server.connect(ADMIN_DB) as standby:
            backing.probe.beat(writer.server)
            lag = backing.probe.measure(backing.server, conn=standby)
            rpo_lag = backing.probe.unreplicated_age()
    except Exception as exc:
        log.debug("aurora lag probe of %s failed: %s", backing.identifier, exc)
        return
    if lag is not None:
        from moto.core.utils import utcnow

        backing.samples.append((utcnow(), lag * 1000.0, rpo_lag * 1000.0))


def _probe_row(backing: Backing) -> int:
    return int(hashlib.sha1(backing.arn.encode()).hexdigest()[:7], 16)


def publish_lag_metrics() -> int:
    """Put the collected lag samples into CloudWatch; returns how many were put."""
    from moto.cloudwatch.models import cloudwatch_backends

    put = 0
    with plane.lock:
        batches = [(b, b.samples) for b in plane.backings.values() if b.samples]
        for backing, _ in batches:
            backing.samples = []
    for backing, samples in batches:
        data = [{"MetricName": name, "Value": value, "Unit": "Milliseconds", "Timestamp": at,
                 "Dimensions": [{"Name": "DBClusterIdentifier", "Value": backing.identifier}]}
                for at, replication, rpo in samples
                for name, value in zip(LAG_METRICS, (replication, rpo), strict=True)]
        try:
            cloudwatch_backends[backing.account_id][backing.region].put_metric_data(
                NAMESPACE, data)
            put += len(data)
        except Exception:
            log.exception("aurora: could not publish lag metrics of %s", backing.identifier)
    return put


def _resync_fenced() -> None:
    for backing in list(plane.backings.values()):
        if (backing.role != FENCED or backing.down or backing.fenced_at is None
                or time.monotonic() - backing.fenced_at < RESYNC_DELAY):
            continue
        writer = writer_of(backing.global_id) if backing.global_id else None
        if writer is None or writer.down:
            continue
        from drlib.emulator.pgpair import reseed_as_standby

        reseed_as_standby(backing.server, writer.server)
        backing.role, backing.fenced_at, backing.probe = REPLICA, None, None
        apply_replication_faults(backing)
        log.info("aurora: old primary %s rebuilt as a secondary of %s", backing.identifier,
                 writer.identifier)


def run_task(name: str, target: Any, *args: Any) -> threading.Thread:
    """Run an asynchronous RDS operation (switchover, failover, ...) in a tracked thread."""
    thread = threading.Thread(target=target, args=args, name=f"drlib-aurora-{name}", daemon=True)
    plane.tasks = [t for t in plane.tasks if t.is_alive()] + [thread]
    thread.start()
    return thread


# --- life cycle ------------------------------------------------------------------------------

def stop_all(remove_runtime: bool = False) -> None:
    """Stop the worker and every server and delete their data (reset and shutdown)."""
    plane.stop.set()
    for thread in [*plane.tasks, *( [plane.worker] if plane.worker else [])]:
        thread.join(timeout=30)
    with plane.lock:
        for backing in list(plane.backings.values()):
            try:
                backing.server.remove()
            except Exception:
                log.exception("aurora: could not remove postgres of %s", backing.identifier)
        plane.backings.clear()
        plane.tasks = []
        plane.worker = None
        rt = plane.runtime
        if rt is None:
            return
        stop_stale_servers(rt.root, rt)
        for child in rt.root.iterdir() if rt.root.is_dir() else []:
            if not child.name.startswith((".template", ".s")) and child.is_dir():
                remove_tree(child)
        if remove_runtime:
            remove_tree(rt.root)
            remove_tree(rt.socket_dir)
            link = state.state_dir() / "aurora"
            if link.is_symlink():
                link.unlink()
            plane.runtime = None


def running_servers() -> list[int]:
    """PIDs of postgres processes under this emulator's data root (for tests and checks)."""
    try:
        root = data_root()
    except RuntimeError:
        return []
    return postgres_processes(root)


def describe_servers() -> list[dict[str, Any]]:
    """Every backing server as JSON: what ``GET /_drlib/aurora`` answers."""
    return [{"cluster": b.identifier, "arn": b.arn, "region": b.region,
             "global_cluster": b.global_id, "role": b.role, "port": b.server.port,
             "running": b.server.is_running(), "region_down": b.down,
             "data_dir": str(b.server.data_dir), "log": str(b.server.log_file)}
            for b in iter_backings()]


def iter_backings() -> Iterator[Backing]:
    """A snapshot of every backing (for the control API and tests)."""
    with plane.lock:
        return iter(list(plane.backings.values()))


# --- moto patches ----------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Hook RDS cluster creation and deletion, endpoints, faults, reset and shutdown."""
    global _installed
    if _installed:
        return
    from moto.core.responses import ActionResult
    from moto.rds.models import DBCluster, DBInstanceClustered, RDSBackend
    from moto.rds.responses import RDSResponse

    original_create = RDSBackend.create_db_cluster
    original_modify = RDSBackend.modify_db_cluster
    original_delete = RDSBackend.delete_db_cluster
    original_delete_global = RDSBackend.delete_global_cluster
    original_create_global = RDSBackend.create_global_cluster

    def create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster = original_create(self, kwargs)
        try:
            try:
                on_cluster_created(cluster, kwargs.get("master_user_password"),
                                   kwargs.get("port"))
            except EmulatorError as exc:  # tell the RDS client what went wrong and the fix
                raise _rds_error("InternalFailure", exc.render()) from exc
        except Exception:
            # Leave no half-made cluster behind: RDS would not have created it.
            self.clusters.pop(cluster.db_cluster_identifier, None)
            for backend in rds_backends_of(self.account_id):
                for gc in backend.global_clusters.values():
                    if cluster in gc.members:
                        gc.members.remove(cluster)
            raise
        if cluster.db_cluster_arn in plane.backings:
            # The server is up: the cluster is available (moto would answer "creating" to the
            # first describe, which after a CloudFormation create is never true on AWS).
            cluster.status = "available"
        return cluster

    def create_db_cluster_action(self: Any) -> Any:
        cluster = self.backend.create_db_cluster(self.params)
        # As AWS, the CreateDBCluster answer itself says "creating" (moto's status flips to
        # "available" once read).
        cluster.status = "creating"
        return ActionResult({"DBCluster": cluster})

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster_id = kwargs["db_cluster_identifier"]
        old = self.clusters.get(cluster_id)
        old_arn = old.db_cluster_arn if old is not None else ""
        password = kwargs.get("master_user_password")
        new_managed = bool(kwargs.get("manage_master_user_password")
                           or kwargs.get("rotate_master_user_password"))
        answer = original_modify(self, kwargs)
        cluster = self.clusters.get(kwargs.get("new_db_cluster_identifier") or cluster_id)
        if cluster is not None:
            on_cluster_modified(cluster, old_arn, password, new_managed)
        return answer

    def delete_db_cluster(self: Any, cluster_identifier: str,
                          snapshot_name: str | None = None) -> Any:
        cluster = self.clusters.get(cluster_identifier)
        if cluster is not None:
            check_deletable(cluster)
        deleted = original_delete(self, cluster_identifier, snapshot_name)
        on_cluster_deleted(deleted)
        return deleted

    def create_global_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
        created = original_create_global(self, *args, **kwargs)
        on_global_cluster_created(created)
        return created

    def delete_global_cluster(self: Any, global_cluster_identifier: str) -> Any:
        deleted = original_delete_global(self, global_cluster_identifier)
        on_global_cluster_deleted(global_cluster_identifier)
        return deleted

    def endpoint(original: Any) -> property:
        def get(self: Any) -> str:
            return HOST if self.db_cluster_arn in plane.backings else original.fget(self)
        return property(get)

    def instance_address(original: Any) -> property:
        def get(self: Any) -> str:
            backed = self.cluster.db_cluster_arn in plane.backings
            return HOST if backed else original.fget(self)
        return property(get)

    def instance_endpoint(original: Any) -> property:
        def get(self: Any) -> dict[str, Any]:
            value: dict[str, Any] = original.fget(self)
            if self.cluster.db_cluster_arn in plane.backings:
                value = {**value, "Address": HOST, "Port": self.cluster.port}
            return value
        return property(get)

    RDSBackend.create_db_cluster = create_db_cluster  # type: ignore[method-assign]
    RDSBackend.modify_db_cluster = modify_db_cluster  # type: ignore[method-assign]
    RDSResponse.create_db_cluster = create_db_cluster_action  # type: ignore[method-assign]
    DBInstanceClustered.address = instance_address(  # type: ignore[method-assign,assignment]
        DBInstanceClustered.address)
    DBInstanceClustered.endpoint = instance_endpoint(  # type: ignore[method-assign,assignment]
        DBInstanceClustered.endpoint)
    RDSBackend.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]
    RDSBackend.delete_global_cluster = delete_global_cluster  # type: ignore[method-assign]
    RDSBackend.create_global_cluster = create_global_cluster  # type: ignore[method-assign]
    DBCluster.endpoint = endpoint(DBCluster.endpoint)  # type: ignore[method-assign,assignment]
    DBCluster.reader_endpoint = endpoint(  # type: ignore[method-assign,assignment]
        DBCluster.reader_endpoint)
    faults.add_listener(on_fault)
    control.route("GET", "/_drlib/aurora")(lambda body, query: {"servers": describe_servers()})
    control.on_reset(stop_all)
    control.on_shutdown(lambda: stop_all(remove_runtime=True))
    _installed = True
