"""The PostgreSQL pair manager, driven directly: start, replicate, promote, fence, re-seed, lag."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from drlib.emulator.pgpair import (
    LagProbe,
    PgRuntime,
    PgServer,
    pg_lsn,
    postgres_processes,
    rejoin_as_standby,
    reseed_as_standby,
    scram_verifier,
    start_primary,
    start_standby,
    wait_caught_up,
)
from drlib.errors import EmulatorError

PASSWORD = "pair-test-password"


@pytest.mark.parametrize(("text", "value"), [
    ("0/0", 0),
    ("0/3000148", 0x3000148),
    ("1/0", 1 << 32),
    ("A/FF", (10 << 32) + 255),
    (None, 0),
])
def test_pg_lsn_parses_wal_positions(text: str | None, value: int) -> None:
    """An LSN in PostgreSQL's text form becomes a comparable integer."""
    assert pg_lsn(text) == value


def test_scram_verifier_has_postgres_format() -> None:
    """The verifier is SCRAM-SHA-256$iterations:salt$stored:server, salted afresh each time."""
    first, second = scram_verifier("x"), scram_verifier("x")
    method, rest = first.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored, server = keys.split(":")
    assert method == "SCRAM-SHA-256"
    assert iterations == "4096"
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(stored)) == len(base64.b64decode(server)) == 32
    assert first != second


@pytest.fixture(scope="module")
def runtime() -> Iterator[PgRuntime]:
    """A runtime in a short /tmp directory (reachable by the postgres account when root)."""
    root = Path(tempfile.mkdtemp(prefix="drlib-pgtest-"))
    rt = PgRuntime(root=root, socket_dir=root / ".s")
    rt.prepare()
    yield rt
    for pid_file in root.glob("**/postmaster.pid"):
        PgServer(rt, "leftover", pid_file.parent, port=1).stop(mode="immediate")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pair(runtime: PgRuntime, request: pytest.FixtureRequest) -> Iterator[tuple[PgServer, PgServer]]:
    """A running primary with a master user and a hot standby streaming from it."""
    base = runtime.root / request.node.name[:40]
    primary = PgServer(runtime, "east", base / "east")
    standby = PgServer(runtime, "west", base / "west")
    start_primary(primary)
    primary.create_master_user("master", PASSWORD, "app")
    start_standby(standby, primary)
    yield primary, standby
    primary.remove()
    standby.remove()


def client(server: PgServer) -> psycopg.Connection:
    """A client connection over TCP with the master password, as an application makes it."""
    return psycopg.connect(host="127.0.0.1", port=server.port, user="master", password=PASSWORD,
                           dbname="app", autocommit=True, connect_timeout=5)


def count(server: PgServer) -> int:
    """Rows in the test table, read through the admin connection."""
    return int(server.value("SELECT count(*) FROM t", dbname="app"))


@pytest.mark.slow
def test_standby_replays_primary_writes_and_refuses_its_own(pair: tuple[PgServer, PgServer]
                                                            ) -> None:
    """A row committed on the primary is readable on the standby, which refuses writes."""
    primary, standby = pair
    with client(primary) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1)")
    wait_caught_up(standby, primary, timeout=10)
    assert count(standby) == 1
    assert standby.in_recovery()
    assert not primary.in_recovery()
    with client(standby) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO t VALUES (2)")


@pytest.mark.slow
def test_master_password_is_required_over_tcp(pair: tuple[PgServer, PgServer]) -> None:
    """Clients authenticate with the master password; a wrong one is refused."""
    primary, _ = pair
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=primary.port, user="master", password="wrong",
                        dbname="app", connect_timeout=5)
    with client(primary) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("master",)


@pytest.mark.slow
def test_promote_then_fence_moves_the_writer(pair: tuple[PgServer, PgServer]) -> None:
    """After promotion the standby takes writes; the fenced old primary keeps data, takes none."""
    primary, standby = pair
    with client(primary) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1)")
    wait_caught_up(standby, primary, timeout=10)
    assert standby.promote() < 30
    primary.fence()
    with client(standby) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    assert primary.is_fenced()
    assert primary.in_recovery()
    assert count(primary) == 1
    with client(primary) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO t VALUES (3)")
    # Even a session that asks for a read-write transaction cannot write to a fenced server.
    with client(primary) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO t VALUES (3)")


@pytest.mark.slow
def test_fencing_a_stopped_server_takes_effect_when_it_starts(
        pair: tuple[PgServer, PgServer]) -> None:
    """A primary fenced while down (region loss) comes back read-only."""
    primary, standby = pair
    primary.stop(mode="immediate")
    standby.promote()
    primary.fence()
    assert not primary.is_running()
    primary.start()
    assert primary.in_recovery()


@pytest.mark.slow
def test_clean_switchover_old_primary_follows_new_timeline(
        pair: tuple[PgServer, PgServer]) -> None:
    """After a caught-up clean stop and promotion, the old primary follows without a re-seed."""
    primary, standby = pair
    with client(primary) as conn:
        conn.execute("CREATE TABLE t (id int)")
        conn.execute("INSERT INTO t VALUES (1)")
    wait_caught_up(standby, primary, timeout=10)
    primary.stop(mode="fast")
    standby.promote()
    assert rejoin_as_standby(primary, standby) == "followed"
    with client(standby) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    wait_caught_up(primary, standby, timeout=10)
    assert count(primary) == 2


@pytest.mark.slow
def test_reseed_rebuilds_a_diverged_old_primary(pair: tuple[PgServer, PgServer]) -> None:
    """An old primary with writes the new primary never saw is rebuilt as its standby."""
    primary, standby = pair
    with client(primary) as conn:
        conn.execute("CREATE TABLE t (id int)")
    wait_caught_up(standby, primary, timeout=10)
    standby.disconnect_upstream()
    standby.pause_replay()
    with client(primary) as conn:
        conn.execute("INSERT INTO t VALUES (1)")  # never reaches the standby
    standby.promote()
    reseed_as_standby(primary, standby)
    assert primary.in_recovery()
    assert count(primary) == 0
    with client(standby) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    wait_caught_up(primary, standby, timeout=10)
    assert count(primary) == 1


@pytest.mark.slow
def test_lag_probe_measures_small_lag_and_growing_lag_when_paused(
        pair: tuple[PgServer, PgServer]) -> None:
    """The heartbeat lag is small while streaming and grows while replay is paused."""
    primary, standby = pair
    probe = LagProbe(row_id=7)
    probe.beat(primary)
    streaming = probe.measure(standby, poll_for=2.0)
    assert streaming is not None
    assert streaming < 1.0
    standby.pause_replay()
    probe.beat(primary)
    first = probe.measure(standby, poll_for=0.1)
    second = probe.measure(standby, poll_for=0.1)
    assert first is not None
    assert second is not None
    assert 0.1 <= first < second
    standby.resume_replay()
    caught_up = probe.measure(standby, poll_for=2.0)
    assert caught_up is not None
    assert caught_up >= second


@pytest.mark.slow
def test_rpo_lag_is_how_far_behind_the_standby_is_not_the_replication_time(
        pair: tuple[PgServer, PgServer]) -> None:
    """AuroraGlobalDBRPOLag (unreplicated_age) is 0 once the standby shows every commit and
    grows while replay is paused, while AuroraGlobalDBReplicationLag (measure) is the
    commit-to-visible time; over a connection opened before the commit the streaming lag is a
    few milliseconds, not a connection set-up."""
    primary, standby = pair
    probe = LagProbe(row_id=9)
    with standby.connect() as conn:
        probe.beat(primary)
        streaming = probe.measure(standby, poll_for=2.0, conn=conn)
        assert streaming is not None
        assert streaming < 0.05
        assert probe.unreplicated_age() == 0.0
        standby.pause_replay()
        probe.beat(primary)
        probe.measure(standby, poll_for=0.1, conn=conn)
        behind = probe.unreplicated_age()
        assert behind >= 0.1
        standby.resume_replay()
        caught_up = probe.measure(standby, poll_for=2.0, conn=conn)
    assert caught_up is not None
    assert caught_up >= behind  # the commit took that long to become visible
    assert probe.unreplicated_age() == 0.0  # and now nothing is missing


@pytest.mark.slow
def test_apply_delay_holds_back_replay(pair: tuple[PgServer, PgServer]) -> None:
    """recovery_min_apply_delay makes a commit appear on the standby only after the delay."""
    primary, standby = pair
    standby.set_apply_delay(0.6)
    probe = LagProbe(row_id=8)
    probe.beat(primary)
    lag = probe.measure(standby, poll_for=3.0)
    assert lag is not None
    assert lag >= 0.5
    standby.set_apply_delay(0)
    assert standby.get_setting("recovery_min_apply_delay") is None


@pytest.mark.slow
def test_remove_stops_the_server_and_deletes_its_data(runtime: PgRuntime) -> None:
    """remove() leaves no process and no data directory behind."""
    server = PgServer(runtime, "lonely", runtime.root / "lonely" / "east")
    start_primary(server)
    assert postgres_processes(server.data_dir)
    server.remove()
    assert not server.data_dir.exists()
    assert postgres_processes(server.data_dir) == []


def test_a_port_taken_before_the_server_binds_it_is_replaced(runtime: PgRuntime) -> None:
    """The port chosen for a new server is in use by the time it starts (another process, an
    outgoing connection's ephemeral port): the server starts on another free port and says so
    in its port. A restart never moves: its port taken, it fails."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server = PgServer(runtime, "crowded", runtime.root / "crowded" / "east", port=busy)
        start_primary(server)
        try:
            assert server.port != busy
            assert server.is_running()
            assert server.value("SELECT 1") == 1
            assert "Address already in use" in server.log_file.read_text()
            # A restart keeps its port (the endpoint and its standbys name it): taken, it fails.
            server.stop()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as again:
                again.bind(("127.0.0.1", server.port))
                again.listen()
                with pytest.raises(EmulatorError):
                    server.start()
                assert server.port == again.getsockname()[1]
        finally:
            server.remove()


def assert_starts_from_its_template(runtime: PgRuntime, name: str) -> None:
    """A primary made from ``runtime``'s template starts, with the template's heartbeat table."""
    server = PgServer(runtime, name, runtime.root / name)
    start_primary(server)
    try:
        assert server.value("SELECT count(*) FROM rdsadmin.heartbeat") == 0
    finally:
        server.remove()


def test_a_template_in_the_cache_is_made_once_and_shared(runtime: PgRuntime,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A runtime with a template cache makes the initdb template there once; a second runtime
    (another emulator process) starts its primary from that template without an initdb, and a
    change of the server settings makes a new template instead of reusing the old one."""
    from drlib.emulator import pgpair

    cache = runtime.root / "template-cache"
    first = PgRuntime(root=runtime.root / "first", socket_dir=runtime.socket_dir,
                      template_cache=cache)
    made = first.template()
    assert made.parent == cache
    assert (made / "PG_VERSION").exists()
    assert not list(cache.glob(".build-*"))  # nothing half-made (nor its log) left behind

    second = PgRuntime(root=runtime.root / "second", socket_dir=runtime.socket_dir,
                       template_cache=cache)
    ran: list[str] = []
    real_run = PgRuntime.run

    def run(self: PgRuntime, program: str, args: list[str], timeout: float = 60.0) -> str:
        ran.append(program)
        return real_run(self, program, args, timeout)

    monkeypatch.setattr(PgRuntime, "run", run)
    assert_starts_from_its_template(second, "shared")
    assert "initdb" not in ran

    monkeypatch.setitem(pgpair.SERVER_SETTINGS, "max_connections", "61")
    remade = second.template()
    assert remade != made
    assert "initdb" in ran


@pytest.mark.skipif(os.geteuid() != 0, reason="a server account of its own only as root")
def test_a_shared_template_is_roots_and_a_changed_one_is_made_anew(runtime: PgRuntime) -> None:
    """As root the shared template is root's, readable by the server account's group, writable
    by no one else, so the server account (often shared with other programs) cannot change what
    every later cluster starts from; one that is not sealed so (made by older code, or changed)
    is made anew, and a cluster still starts from it."""
    import stat

    cache = runtime.root / "sealed-cache"
    first = PgRuntime(root=runtime.root / "sealer", socket_dir=runtime.socket_dir,
                      template_cache=cache)
    made = first.template()
    for path in (made, made / "postgresql.conf", made / "pg_hba.conf", made / "base"):
        info = path.stat()
        assert info.st_uid == 0, path
        assert not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH), path
    assert cache.stat().st_uid == 0
    os.chown(made / "pg_hba.conf", first.owner.uid or 0, first.owner.gid or 0)  # tampered
    again = PgRuntime(root=runtime.root / "again", socket_dir=runtime.socket_dir,
                      template_cache=cache)
    assert again.template() == made
    assert (made / "pg_hba.conf").stat().st_uid == 0  # made anew, sealed
    assert_starts_from_its_template(again, "from-sealed")


def test_remove_tree_deletes_a_data_directory_and_nothing_a_link_points_to(
        tmp_path: Path) -> None:
    """A data directory goes with everything in it; a symbolic link inside it goes, not what it
    points to; a path that does not exist is no error."""
    from drlib.emulator.pgpair import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    data = tmp_path / "data"
    (data / "base" / "1").mkdir(parents=True)
    (data / "base" / "1" / "16384").write_bytes(b"\0" * 8192)
    (data / "linked").symlink_to(outside)
    remove_tree(data)
    assert not data.exists()
    assert (outside / "keep").read_text() == "kept"
    remove_tree(data)  # already gone
