"""Real PostgreSQL servers for the Aurora stand-in: primaries, hot standbys, promotion, fencing.

No moto here: this module only runs PostgreSQL. :class:`PgServer` is one server (data directory,
loopback port, unix socket); the functions below build the primary/standby topology of an Aurora
global database out of them:

- :meth:`PgServer.init_primary` copies a template made with ``initdb`` (so a new primary costs a
  copy and a start, not an initdb); with a ``template_cache`` folder the template is made once
  per installation and settings (:func:`template_key`) and shared by every later emulator
  process, else once per runtime;
- :meth:`PgServer.init_standby` seeds a hot standby with ``pg_basebackup -R`` (streaming
  replication from the primary's unix socket);
- :meth:`PgServer.promote` runs ``pg_promote``; :meth:`PgServer.fence` restarts a server in
  recovery with no upstream, so it serves its old data read-only and refuses every write (a
  promoted standby does nothing to stop the old primary accepting writes);
- :func:`reseed_as_standby` turns a former primary into a standby of the new one;
- :class:`LagProbe` measures commit-to-visible replication lag with a heartbeat row.

Servers listen on ``127.0.0.1`` only. Inside, the emulator connects over the unix socket as the
bootstrap superuser ``rdsadmin`` (trust, socket directory mode 0700); clients use TCP with SCRAM
passwords. Passwords are sent to PostgreSQL as SCRAM verifiers, never in clear, and failed
statements are not logged (``log_min_error_statement = panic``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from drlib.emulator.patching import pid_alive
from drlib.emulator.pgbin import PgBinaries, RunAs, find_binaries, run_as
from drlib.errors import EmulatorError, WaitTimeout
from drlib.waiting import wait_until

log = logging.getLogger(__name__)

ADMIN_USER = "rdsadmin"
ADMIN_DB = "postgres"
HEARTBEAT = "rdsadmin.heartbeat"  # a schema named after Aurora's internal rdsadmin database
LOOPBACK = "127.0.0.1"
RDS_SUPERUSER = "rds_superuser"
RDS_SUPERUSER_ROLES = ("pg_monitor", "pg_signal_backend", "pg_checkpoint")
"""The predefined roles Aurora's ``rds_superuser`` holds (those this server version has)."""
MASTER_OWNED_DATABASES = ("postgres", "template1")

SERVER_SETTINGS = {
    # Speed over durability: these servers hold drill data, not records.
    "fsync": "off",
    "shared_buffers": "16MB",
    "max_connections": "60",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "wal_keep_size": "128MB",
    "min_wal_size": "8MB",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "wal_receiver_status_interval": "1s",
    "listen_addresses": f"'{LOOPBACK}'",
    "unix_socket_permissions": "0700",
    # A failing statement would otherwise be logged with its text (e.g. a password).
    "log_min_error_statement": "panic",
    "log_line_prefix": "'%m [%p] '",
}
HBA = f"""# drlib emulator: itself over the unix socket; clients over TCP with passwords
local all {ADMIN_USER} trust
local replication {ADMIN_USER} trust
host all {ADMIN_USER} 0.0.0.0/0 reject
host all all {LOOPBACK}/32 scram-sha-256
"""
FENCED_HBA = f"""# drlib emulator: fenced: itself over the unix socket only; every client refused
local all {ADMIN_USER} trust
local replication {ADMIN_USER} trust
host all all 0.0.0.0/0 reject
"""
AUTO_CONF = "postgresql.auto.conf"


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it, if it exists; never raises. With ``rm -rf``: a
    PostgreSQL data directory is about 1,000 files, and ``shutil.rmtree``, one Python call per
    file in the emulator's busy process (each call waiting for the GIL), took 1.9 s to delete the
    drill's servers; ``rm`` takes 0.02 s. Only an absolute path to a real directory is given to
    ``rm`` (the system's own, not one found on PATH); anything else, or no ``rm``, goes to
    ``shutil.rmtree`` as before."""
    rm = next((c for c in ("/bin/rm", "/usr/bin/rm") if os.access(c, os.X_OK)), None)
    if rm is not None and path.is_absolute() and path.is_dir() and not path.is_symlink():
        subprocess.run([rm, "-rf", "--", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(path, ignore_errors=True)  # what rm left (or no rm): nothing, usually


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802 / 7677)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
            f"${b64(stored_key).decode()}:{b64(server_key).decode()}")


def pg_lsn(text: str | None) -> int:
    """An LSN such as ``0/3000148`` as an integer (0 for None)."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class PgRuntime:
    """Where servers keep their files, which programs run them, and as whom."""

    root: Path
    socket_dir: Path
    binaries: PgBinaries = field(default_factory=find_binaries)
    owner: RunAs = field(default_factory=run_as)
    template_cache: Path | None = None
    """Where finished templates are kept for other processes (None: in ``root``, this
    runtime's alone)."""
    _template_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def prepare(self) -> None:
        """Create the root and socket directories, owned by the server account."""
        for directory in (self.root, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            self.chown(directory)
        os.chmod(self.socket_dir, 0o700)

    def chown(self, path: Path) -> None:
        """Give ``path`` to the server account (only when running as root)."""
        if self.owner.uid is not None:
            os.chown(path, self.owner.uid, self.owner.gid or -1)

    def run(self, program: str, args: Sequence[str], timeout: float = 60.0) -> str:
        """Run a PostgreSQL program as the server account; raise EmulatorError on failure."""
        return self.run_argv([self.binaries.path(program), *args], timeout)

    def run_argv(self, argv: Sequence[str], timeout: float = 60.0) -> str:
        """Run a command as the server account; raise EmulatorError on failure."""
        program = Path(argv[0]).name
        args = list(argv[1:])
        kwargs: dict[str, Any] = {}
        if self.owner.uid is not None:
            kwargs.update(user=self.owner.uid, group=self.owner.gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  cwd=self.root, env=env, check=False, **kwargs)
        except subprocess.TimeoutExpired as exc:
            raise EmulatorError(f"{program} did not finish within {timeout:g} s",
                                expected=f"{program} to finish", found="still running",
                                fix="see the server log beside its data directory") from exc
        if done.returncode != 0:
            raise EmulatorError(
                f"{program} failed (exit status {done.returncode})",
                expected=f"{' '.join([program, *args])} to succeed",
                found=(done.stderr or done.stdout).strip()[-1500:],
                fix="see the server log beside its data directory; run scripts/ensure-postgres.sh",
            )
        return done.stdout

    def template(self) -> Path:
        """A ready data directory (initdb'd, configured, with the heartbeat table): the one in
        the template cache made for these binaries and settings, else made now (and kept there
        for the next process)."""
        folder = self.template_cache or self.root
        path = folder / f".template-{template_key(self)}"
        with self._template_lock:
            if (path / PG_VERSION_FILE).exists() and self._sealed_or_own(path):
                return path
            shutil.rmtree(path, ignore_errors=True)  # not sealed as this code seals it: anew
            self.prepare()
            folder.mkdir(parents=True, exist_ok=True)
            self.chown(folder)  # the builder writes its log beside its data directory
            _remove_dead_builds(folder, self)
            # Made under a name of its own, then renamed: a template is complete or absent, and
            # two processes making one at once each keep theirs or take the other's.
            build = folder / f".build-{os.getpid()}-{threading.get_ident()}"
            shutil.rmtree(build, ignore_errors=True)
            self._make_template(build)
            build.with_name(build.name + ".log").unlink(missing_ok=True)
            self._seal(build)
            try:
                build.rename(path)
            except OSError:  # another process was first: use its template
                if not (path / PG_VERSION_FILE).exists():
                    raise
                shutil.rmtree(build, ignore_errors=True)
            if self.owner.uid is not None and self.template_cache is not None:
                os.chown(folder, 0, 0)  # the builder's log is gone: the folder is root's again
                os.chmod(folder, 0o755)
            return path

    def _seal(self, template: Path) -> None:
        """As root, a template shared between processes is root's, readable by the server
        account's group and writable by nobody else: the server account (often ``nobody`` or
        ``postgres``, which other programs share) cannot change what every later cluster is
        copied from. Its copies (``cp -a`` as the server account) are the account's own."""
        if self.owner.uid is None or self.template_cache is None:
            return
        gid = self.owner.gid if self.owner.gid is not None else 0
        for folder, _folders, files in os.walk(template):
            os.chown(folder, 0, gid)
            os.chmod(folder, 0o750)
            for name in files:
                os.chown(os.path.join(folder, name), 0, gid, follow_symlinks=False)
                os.chmod(os.path.join(folder, name), 0o640)

    def _sealed_or_own(self, template: Path) -> bool:
        """A cached template may be used: as root, sealed (:meth:`_seal`: root's, no group or
        other write) in its files that configure a server; else this user's own."""
        if self.owner.uid is None or self.template_cache is None:
            return True
        for path in (template, template / "postgresql.conf", template / "pg_hba.conf",
                     template / "postgresql.auto.conf", template / PG_VERSION_FILE):
            try:
                info = path.lstat()
            except OSError:
                return False
            if info.st_uid != 0 or info.st_mode & 0o022:
                return False
        return True

    def _make_template(self, path: Path) -> None:
        path.mkdir(mode=0o700)
        self.chown(path)
        self.run("initdb", ["-D", str(path), *INITDB_OPTIONS])
        with open(path / "postgresql.conf", "a") as conf:
            conf.write("\n# drlib emulator\n")
            conf.writelines(f"{k} = {v}\n" for k, v in SERVER_SETTINGS.items())
        (path / "pg_hba.conf").write_text(HBA)
        builder = PgServer(self, "template", path, port=_free_port())
        builder.start(new_port_ok=True)
        try:
            for statement in TEMPLATE_STATEMENTS:
                builder.execute(statement)
        finally:
            builder.stop()
        # Written without syncs (--no-sync, fsync off); a template outlives this process, so it
        # goes to disk before it is used: a crash of the machine cannot leave a torn one.
        self.run("initdb", ["--sync-only", "-D", str(path)])


PG_VERSION_FILE = "PG_VERSION"
INITDB_OPTIONS = ("-U", ADMIN_USER, "--auth-local=trust", "--auth-host=scram-sha-256", "-E",
                  "UTF8", "--locale=C",
                  # 1 MB WAL segments: less to copy and stream per server
                  "--wal-segsize=1", "--no-sync", "--no-instructions")
TEMPLATE_STATEMENTS = (f"CREATE SCHEMA {HEARTBEAT.split('.')[0]}",
                       f"CREATE TABLE {HEARTBEAT} (id int PRIMARY KEY, seq bigint)",
                       "CHECKPOINT")


def template_key(runtime: PgRuntime) -> str:
    """What a template depends on, hashed: the server programs (path, size, time), how the
    template is made (initdb options, settings, pg_hba.conf, statements) and who owns it."""
    made_by = []
    for program in ("initdb", "postgres"):
        stat = Path(runtime.binaries.path(program)).stat()
        made_by.append(f"{runtime.binaries.path(program)}:{stat.st_size}:{stat.st_mtime_ns}")
    recipe = repr((made_by, INITDB_OPTIONS, sorted(SERVER_SETTINGS.items()), HBA,
                   TEMPLATE_STATEMENTS, runtime.owner.uid, runtime.owner.gid))
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _remove_dead_builds(folder: Path, runtime: PgRuntime) -> None:
    """Remove the unfinished templates of processes that died making them (and their server)."""
    for build in folder.glob(".build-*"):
        pid = build.name.split("-")[1]
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        if build.is_dir():
            stop_stale_servers(build, runtime)
            shutil.rmtree(build, ignore_errors=True)
        else:  # its log
            build.unlink(missing_ok=True)


PORT_ATTEMPTS = 3
"""How often a server start is tried, each time on a new port, when its port was taken."""


def _free_port() -> int:
    from drlib.emulator.server import free_loopback_port

    return free_loopback_port()


class PgServer:
    """One PostgreSQL server: a data directory, a loopback TCP port and a unix socket."""

    def __init__(self, runtime: PgRuntime, name: str, data_dir: Path, port: int | None = None
                 ) -> None:
        self.runtime = runtime
        self.name = name
        self.data_dir = data_dir
        self.port = port or _free_port()
        self.log_file = data_dir.with_name(data_dir.name + ".log")

    def __repr__(self) -> str:
        return f"PgServer({self.name!r}, port={self.port}, data_dir={str(self.data_dir)!r})"

    # --- life cycle ------------------------------------------------------------------------

    def init_primary(self) -> None:
        """Create a fresh data directory from the runtime's template."""
        template = self.runtime.template()
        self._clear_data_dir()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.runtime.chown(self.data_dir.parent)
        # cp as the server account: one process, files owned right, no Python per file.
        self.runtime.run_argv([shutil.which("cp") or "/bin/cp", "-a", str(template),
                               str(self.data_dir)])

    def init_standby(self, primary: PgServer) -> None:
        """Seed this server as a hot standby of ``primary`` (which must be running)."""
        self._clear_data_dir()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.runtime.chown(self.data_dir.parent)
        self.runtime.run("pg_basebackup", [
            "-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
            "-d", primary.replication_conninfo()])
        # A former primary's fencing or a fault's delay may have come along in the copy.
        self.set_setting("recovery_min_apply_delay", None)

    def replication_conninfo(self) -> str:
        """How a standby reaches this server (its unix socket, as the admin)."""
        return (f"host={self.runtime.socket_dir} port={self.port} user={ADMIN_USER} "
                f"application_name={self.name}")

    def start(self, timeout: float = 60.0, new_port_ok: bool = False) -> None:
        """Start the server and wait until it accepts connections. On a first start
        (``new_port_ok``: nothing knows its port yet) a port taken between choosing it and the
        server binding it (another process, an outgoing connection's ephemeral port) is replaced
        by a new free one, up to :data:`PORT_ATTEMPTS` times; a restart keeps its port (its
        endpoint and its standbys name it) and fails if it is taken."""
        attempts = PORT_ATTEMPTS if new_port_ok else 1
        for attempt in range(1, attempts + 1):
            logged = self._log_size()
            options = f"-p {self.port} -k {self.runtime.socket_dir}"
            try:
                self.runtime.run("pg_ctl", ["start", "-w", "-t", str(int(timeout)), "-D",
                                            str(self.data_dir), "-l", str(self.log_file), "-o",
                                            options], timeout=timeout + 10)
            except EmulatorError:
                if attempt == attempts or not self._port_taken(since=logged):
                    raise
                log.warning("postgres %s: port %s was taken; retrying on another", self.name,
                            self.port)
                self.port = _free_port()
                continue
            break
        log.debug("postgres %s started on port %s", self.name, self.port)

    def _log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except OSError:
            return 0

    def _port_taken(self, since: int) -> bool:
        """Whether the server log, after offset ``since``, says its port was in use."""
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(since)
                tail = handle.read().decode("utf-8", "replace")
        except OSError:
            return False
        return "Address already in use" in tail

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs (``fast``: clean; ``immediate``: like a crash)."""
        if not self.is_running():
            return
        self.runtime.run("pg_ctl", ["stop", "-w", "-m", mode, "-D", str(self.data_dir)])
        log.debug("postgres %s stopped (%s)", self.name, mode)

    def is_running(self) -> bool:
        """Whether the postmaster of this data directory is alive."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        return pid_alive(pid)

    def remove(self) -> None:
        """Stop the server (immediately) and delete its data directory and log."""
        try:
            self.stop(mode="immediate")
        finally:
            self._clear_data_dir()
            self.log_file.unlink(missing_ok=True)

    def _clear_data_dir(self) -> None:
        if self.is_running():
            raise EmulatorError(f"Refusing to delete the data of running server {self.name}",
                                expected="a stopped server", found="it is running",
                                fix="stop it first")
        remove_tree(self.data_dir)

    # --- SQL -------------------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", timeout: float = 5.0) -> psycopg.Connection[Any]:
        """An autocommit admin connection over the unix socket."""
        return psycopg.connect(host=str(self.runtime.socket_dir), port=self.port,
                               user=ADMIN_USER, dbname=dbname, autocommit=True,
                               connect_timeout=max(1, int(timeout)))

    def execute(self, statement: str | sql.Composable, params: Sequence[Any] | None = None,
                dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the admin; its rows (empty for commands)."""
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(statement, params)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def value(self, statement: str, dbname: str = "postgres") -> Any:
        """The single value a query returns."""
        return self.execute(statement, dbname=dbname)[0][0]

    def in_recovery(self) -> bool:
        """True for a standby (or a fenced server), False for a writable primary."""
        return bool(self.value("SELECT pg_is_in_recovery()"))

    def lsn(self) -> int:
        """Current WAL position: written (primary) or replayed (standby)."""
        return pg_lsn(self.value(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text "
            "ELSE pg_current_wal_lsn()::text END"))

    # --- roles -----------------------------------------------------------------------------

    def create_master_user(self, username: str, password: str, database: str | None) -> None:
        """Create (or reset) the cluster's master user and its database, as Aurora does.

        As on Aurora PostgreSQL the master user is not a PostgreSQL superuser but a member of
        ``rds_superuser`` (itself in ``pg_monitor``, ``pg_signal_backend`` and, where the
        server has it, ``pg_checkpoint``) with CREATEDB and CREATEROLE, and it owns
        ``postgres``, ``template1`` and ``database``: it can create in their ``public``
        schemas (owned by ``pg_database_owner`` since PostgreSQL 15), and databases it
        creates later start from a ``template1`` it owns.
        """
        verifier = scram_verifier(password)
        if not self.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [RDS_SUPERUSER]):
            self.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(RDS_SUPERUSER)))
        granted = [r for (r,) in self.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [list(RDS_SUPERUSER_ROLES)])]
        self.execute(sql.SQL("GRANT {} TO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, sorted(granted))),
            sql.Identifier(RDS_SUPERUSER)))
        exists = self.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [username])
        verb = "ALTER" if exists else "CREATE"
        # The verifier is a literal (utility statements take no parameters); it is a hash.
        self.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION "
                             "NOBYPASSRLS PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(username), sql.Literal(verifier)))
        self.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RDS_SUPERUSER),
                                                      sql.Identifier(username)))
        for owned in MASTER_OWNED_DATABASES:
            self.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(owned), sql.Identifier(username)))
        if database and not self.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                         [database]):
            # FILE_COPY: a few WAL records instead of the whole template database in WAL.
            self.execute(sql.SQL("CREATE DATABASE {} OWNER {} STRATEGY FILE_COPY").format(
                sql.Identifier(database), sql.Identifier(username)))

    # --- replication control ---------------------------------------------------------------

    def promote(self, timeout: float = 60.0) -> float:
        """Promote this standby to a writable primary; returns the seconds it took."""
        began = time.monotonic()
        if not self.value(f"SELECT pg_promote(true, {int(timeout)})"):
            raise EmulatorError(f"pg_promote did not finish on {self.name}",
                                expected="the standby to leave recovery",
                                found=f"still in recovery after {timeout:g} s",
                                fix=f"see {self.log_file}")
        return time.monotonic() - began

    def fence(self) -> None:
        """Make this server refuse every write, for good, keeping its data readable.

        It is restarted in recovery with no upstream (standby.signal, no primary_conninfo): a
        server in recovery cannot write, whatever a client sets. A stopped server is prepared the
        same way and comes up fenced when started.
        """
        was_running = self.is_running()
        if was_running:
            self.stop(mode="fast")
        self.set_setting("primary_conninfo", None)
        (self.data_dir / "standby.signal").touch()
        self.runtime.chown(self.data_dir / "standby.signal")
        if was_running:
            self.start()

    def fence_clients(self, fenced: bool) -> None:
        """Refuse (or again admit) every client connection and end the clients' sessions.

        ``default_transaction_read_only`` alone is no fence: any client can turn it off for its
        session. With the client lines of pg_hba.conf replaced by ``reject`` (reloaded) no client
        can connect at all, so none can write, whatever it sets; the emulator itself and the
        standbys' replication connections use the unix socket and keep working.
        """
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(FENCED_HBA if fenced else HBA)
        self.runtime.chown(hba)
        if not self.is_running():
            return
        self.execute("SELECT pg_reload_conf()")
        if fenced:
            self.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
                         "AND usename <> %s", [ADMIN_USER])

    def clients_fenced(self) -> bool:
        """Whether pg_hba.conf refuses every client."""
        hba = self.data_dir / "pg_hba.conf"
        return hba.exists() and hba.read_text() == FENCED_HBA

    def is_fenced(self) -> bool:
        """Whether the data directory is set to come up read-only with no upstream."""
        return ((self.data_dir / "standby.signal").exists()
                and self.get_setting("primary_conninfo") is None)

    def disconnect_upstream(self, timeout: float = 10.0) -> None:
        """Stop receiving WAL: clear ``primary_conninfo`` and wait for the receiver to exit.

        Replay must still be running for the startup process to notice the change, so pause
        replay only after this returns.
        """
        self.set_setting("primary_conninfo", None)
        self.execute("SELECT pg_reload_conf()")
        if self.replay_paused():
            self.resume_replay()
        wait_until(lambda: not self.execute("SELECT 1 FROM pg_stat_wal_receiver"),
                   description=f"the WAL receiver of {self.name} to stop", timeout=timeout,
                   interval=0.01, backoff=1.3, max_interval=0.2)

    def connect_upstream(self, primary: PgServer) -> None:
        """Stream from ``primary`` again (``primary_conninfo`` set and reloaded)."""
        self.set_setting("primary_conninfo", f"'{primary.replication_conninfo()}'")
        self.execute("SELECT pg_reload_conf()")

    def pause_replay(self) -> None:
        """Stop applying WAL (it is still received): ``pg_wal_replay_pause()``."""
        self.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        """Apply WAL again: ``pg_wal_replay_resume()``."""
        self.execute("SELECT pg_wal_replay_resume()")

    def replay_paused(self) -> bool:
        """Whether WAL replay is paused (or being paused)."""
        return self.value("SELECT pg_get_wal_replay_pause_state()") != "not paused"

    def set_apply_delay(self, seconds: float) -> None:
        """Delay applying each commit by ``seconds`` (``recovery_min_apply_delay``, reloaded)."""
        self.set_setting("recovery_min_apply_delay",
                         f"'{int(seconds * 1000)}ms'" if seconds > 0 else None)
        if self.is_running():
            self.execute("SELECT pg_reload_conf()")

    def get_setting(self, key: str) -> str | None:
        """A setting from postgresql.auto.conf (None if absent)."""
        path = self.data_dir / AUTO_CONF
        if not path.exists():
            return None
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() == key:
                return value.strip()
        return None

    def set_setting(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) ``key`` in postgresql.auto.conf; the caller reloads."""
        path = self.data_dir / AUTO_CONF
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if ln.partition("=")[0].strip() != key]
        if value is not None:
            kept.append(f"{key} = {value}")
        path.write_text("\n".join(kept) + "\n")
        self.runtime.chown(path)


def wait_caught_up(standby: PgServer, primary: PgServer, timeout: float = 30.0) -> int:
    """Wait until ``standby`` has replayed everything ``primary`` has written; the LSN."""
    target = pg_lsn(primary.value("SELECT pg_current_wal_lsn()::text"))
    wait_until(lambda: standby.lsn() >= target,
               description=f"standby {standby.name} to replay up to the primary's WAL position",
               timeout=timeout, interval=0.01, backoff=1.2, max_interval=0.2)
    return target


def reseed_as_standby(server: PgServer, primary: PgServer) -> None:
    """Rebuild ``server`` (stopped or not) as a hot standby of ``primary`` and start it."""
    server.stop(mode="fast")
    server.init_standby(primary)
    server.start()


def rejoin_as_standby(server: PgServer, primary: PgServer, timeout: float = 5.0) -> str:
    """Make a cleanly stopped former primary follow ``primary``; re-seed it if it cannot.

    After a clean switchover the new primary has every WAL record of the old one (including its
    shutdown checkpoint), so the old primary only needs ``standby.signal`` and a
    ``primary_conninfo`` to follow the new timeline. If it does not start streaming within
    ``timeout`` (its history diverged), it is rebuilt with ``pg_basebackup``. Returns
    ``"followed"`` or ``"reseeded"``.
    """
    server.stop(mode="fast")
    server.set_setting("primary_conninfo", f"'{primary.replication_conninfo()}'")
    server.set_setting("default_transaction_read_only", None)
    (server.data_dir / "standby.signal").touch()
    server.runtime.chown(server.data_dir / "standby.signal")
    server.start()
    try:
        wait_until(lambda: server.execute("SELECT 1 FROM pg_stat_wal_receiver "
                                          "WHERE status = 'streaming'"),
                   description=f"{server.name} to stream from {primary.name}",
                   timeout=timeout, interval=0.01, backoff=1.3, max_interval=0.2)
        return "followed"
    except WaitTimeout:
        log.info("%s could not follow %s; re-seeding it", server.name, primary.name)
        reseed_as_standby(server, primary)
        return "reseeded"


def start_primary(server: PgServer) -> None:
    """Create and start a new primary."""
    server.init_primary()
    server.start(new_port_ok=True)


def start_standby(server: PgServer, primary: PgServer) -> None:
    """Create and start a new hot standby of ``primary``."""
    server.init_standby(primary)
    server.start(new_port_ok=True)


class LagProbe:
    """Commit-to-visible replication lag, measured with a heartbeat row.

    :meth:`beat` commits the next sequence number on the primary and notes when the commit was
    acknowledged; :meth:`measure` polls the standby briefly. The lag is the time from the
    acknowledgement of a heartbeat to its becoming visible on the standby; while a heartbeat is
    not yet visible, the lag is its age so far (so paused replication shows a growing lag).
    """

    def __init__(self, row_id: int = 1) -> None:
        self.row_id = row_id
        self.seq: int | None = None
        self.pending: deque[tuple[int, float]] = deque()

    def beat(self, primary: PgServer) -> None:
        """Commit the next heartbeat on the primary."""
        with primary.connect(ADMIN_DB) as conn:
            if self.seq is None:  # continue after whatever an earlier probe wrote
                row = conn.execute(f"SELECT seq FROM {HEARTBEAT} WHERE id = %s",
                                   [self.row_id]).fetchone()
                self.seq = int(row[0]) if row else 0
            conn.execute(f"INSERT INTO {HEARTBEAT} VALUES (%s, %s) ON CONFLICT (id) "
                         "DO UPDATE SET seq = excluded.seq", [self.row_id, self.seq + 1])
            acked = time.monotonic()  # the commit's acknowledgement, not the disconnect
        self.seq += 1
        self.pending.append((self.seq, acked))

    def measure(self, standby: PgServer, poll_for: float = 0.5,
                conn: Any = None) -> float | None:
        """The lag in seconds now (None if nothing was ever written).

        Pass ``conn``, a connection to the standby opened *before* :meth:`beat`, so the lag
        does not include setting up a connection (locally that is longer than the lag).
        """
        if not self.pending:
            return None
        if conn is None:
            with standby.connect(ADMIN_DB) as own:
                return self.measure(standby, poll_for, own)

        def visible() -> float | None:
            row = conn.execute(f"SELECT seq FROM {HEARTBEAT} WHERE id = %s",
                               [self.row_id]).fetchone()
            seen = int(row[0]) if row else 0
            now = time.monotonic()
            latest: float | None = None
            while self.pending and self.pending[0][0] <= seen:
                latest = now - self.pending.popleft()[1]
            return latest if not self.pending else None

        try:
            return wait_until(visible, description="the heartbeat to reach the standby",
                              timeout=poll_for, interval=0.002, backoff=1.3,
                              max_interval=0.05)
        except WaitTimeout:
            return time.monotonic() - self.pending[0][1]

    def unreplicated_age(self) -> float:
        """Seconds since the oldest heartbeat commit the standby has not shown yet (0 when it
        is caught up): how far behind the standby is in commit time, the RPO lag."""
        return time.monotonic() - self.pending[0][1] if self.pending else 0.0


def postgres_processes(data_root: Path) -> list[int]:
    """PIDs of postgres processes whose data directory lies under ``data_root`` (Linux)."""
    found: list[int] = []
    root = str(data_root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"postgres"):
            continue
        args = [a.decode(errors="replace") for a in argv]
        if any(a.startswith(root) for a in args):
            found.append(int(entry.name))
    return found


def stop_stale_servers(data_root: Path, runtime: PgRuntime) -> int:
    """Stop every server left running under ``data_root`` (e.g. by a killed emulator)."""
    stopped = 0
    if not data_root.is_dir():
        return 0
    for pid_file in data_root.glob("**/postmaster.pid"):
        server = PgServer(runtime, pid_file.parent.name, pid_file.parent, port=1)
        if server.is_running():
            try:
                server.stop(mode="immediate")
                stopped += 1
            except EmulatorError:
                log.exception("could not stop stale postgres in %s", pid_file.parent)
    return stopped
