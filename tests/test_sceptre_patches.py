"""drlib.sceptre_patches: Sceptre's wait, plugin look-ups and stack-output reads as drlib runs
them, each patch in force only inside its block."""

from __future__ import annotations

from pathlib import Path

import pytest

from drlib.sceptre_patches import adaptive_polling, shared_stack_outputs
from drlib.stacks import SceptreProject

SMALL = Path(__file__).parent / "fixtures" / "sceptre_small"


class _SettlingStack:
    """Just what Sceptre's wait touches of a StackActions: in progress, then complete."""

    def __init__(self, logger_level: int) -> None:
        import logging
        from types import SimpleNamespace

        from sceptre.plan.actions import StackActions

        self.logger = logging.getLogger("tests.stacks.settling")
        self.logger.setLevel(logger_level)
        self.stack = SimpleNamespace(external_name="acme-dev-dr-primary-kms")
        self.statuses = ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
        self.events_read = 0
        self._get_simplified_status = StackActions._get_simplified_status

    def _get_status(self) -> str:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def _log_new_events(self, after: object) -> object:
        self.events_read += 1
        return after


@pytest.mark.parametrize(("level", "reads"), [(20, 2), (30, 0)])
def test_stack_events_are_read_only_when_sceptre_would_log_them(level: int, reads: int) -> None:
    """drlib's wait polls the stack until it settles and reads its events at each poll only
    while Sceptre's logger shows INFO lines (the command line's does); either way it returns
    the settled status."""
    from sceptre.plan.actions import StackActions

    stack = _SettlingStack(level)
    with adaptive_polling():
        status = StackActions._wait_for_completion(stack)
    assert str(status) == "complete"
    assert stack.events_read == reads


def test_sceptre_plugins_are_looked_up_once_and_the_lookup_is_restored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the project twice and rendering every template looks Sceptre's plugins up once
    per entry-point group (not per stack and per reading), with the same plugins found; after
    the block Sceptre looks them up itself again."""
    import importlib.metadata

    from sceptre.config.reader import ConfigReader
    from sceptre.template import Template

    from drlib import sceptre_patches

    looked_up: list[tuple[str, str | None]] = []
    real = importlib.metadata.entry_points

    def entry_points(group: str, name: str | None = None) -> object:
        looked_up.append((group, name))
        return real(group=group) if name is None else real(group=group, name=name)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    sceptre_patches._entry_points.cache_clear()
    project = SceptreProject("dev", project_dir=SMALL)
    with sceptre_patches.cached_entry_points():
        project.plan("")
        plan = project.plan("")
        plan.resolve(command="launch")
        bodies = [stack.template.body for stack in plan]
    assert all("Resources" in body for body in bodies)
    assert len(looked_up) == len(set(looked_up))
    assert ("sceptre.template_handlers", "file") in looked_up
    assert ConfigReader._iterate_entry_points is not sceptre_patches._entry_points
    assert Template._iterate_entry_points is not sceptre_patches._entry_points


class _DescribingConnection:
    """A connection manager whose DescribeStacks answers from ``statuses`` and counts calls."""

    def __init__(self) -> None:
        self.statuses = {"net": "CREATE_COMPLETE", "db": "CREATE_IN_PROGRESS"}
        self.values = {"net": "vpc-1", "db": "db-1"}
        self.calls = 0

    def call(self, service: str, command: str, kwargs: dict[str, str], **_: object) -> object:
        assert (service, command) == ("cloudformation", "describe_stacks")
        self.calls += 1
        name = kwargs["StackName"]
        return {"Stacks": [{"StackStatus": self.statuses[name], "Outputs": [
            {"OutputKey": "Id", "OutputValue": self.values[name]}]}]}


def test_stack_outputs_are_read_once_per_settled_stack_and_again_after_it_changes() -> None:
    """Within a launch, `!stack_output` resolvers of different stacks share one DescribeStacks
    of a settled stack; a stack in progress is read each time; a stack that settles again in
    the launch (an update) is read afresh; outside the launch Sceptre reads as before."""
    from types import SimpleNamespace

    from sceptre.plan.actions import StackActions
    from sceptre.resolvers.stack_output import StackOutputBase

    connection = _DescribingConnection()

    def resolver() -> object:
        return SimpleNamespace(stack=SimpleNamespace(connection_manager=connection),
                               logger=SimpleNamespace(debug=lambda *a: None))

    def outputs(name: str) -> dict[str, str]:
        result: dict[str, str] = StackOutputBase._get_stack_outputs(resolver(), name)
        return result

    settled = SimpleNamespace(stack=SimpleNamespace(external_name="net"))
    with adaptive_polling(), shared_stack_outputs():
        assert outputs("net") == outputs("net") == {"Id": "vpc-1"}
        assert connection.calls == 1
        outputs("db")
        outputs("db")
        assert connection.calls == 3
        connection.values["net"] = "vpc-2"
        settled._get_status = lambda: "UPDATE_COMPLETE"
        settled._get_simplified_status = StackActions._get_simplified_status
        settled.logger = SimpleNamespace(isEnabledFor=lambda level: False)
        StackActions._wait_for_completion(settled)
        assert outputs("net") == {"Id": "vpc-2"}
        assert connection.calls == 4
    assert "_get_stack_outputs" in StackOutputBase.__dict__
    assert StackOutputBase._get_stack_outputs.__name__ == "_get_stack_outputs"


def test_sceptre_clients_follow_the_environment_s_endpoint(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two drills in one process (bench/drill.py --runs 2, a notebook calling run_drill twice)
    each start an emulator on a new port: Sceptre's per-process clients made for the first are
    forgotten once AWS_ENDPOINT_URL names the second (they refused every call before), and kept
    while the environment stays the same."""
    from sceptre.connection_manager import ConnectionManager

    from drlib.sceptre_patches import clients_for_current_environment

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:20001")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients_for_current_environment()
    manager = ConnectionManager(region="us-east-1", stack_name="test-stack")
    first = manager._get_client("cloudformation", "us-east-1", None, None, None)
    assert first.meta.endpoint_url == "http://127.0.0.1:20001"
    clients_for_current_environment()  # nothing changed: the same client
    assert manager._get_client("cloudformation", "us-east-1", None, None, None) is first
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:20002")
    clients_for_current_environment()
    second = manager._get_client("cloudformation", "us-east-1", None, None, None)
    assert second.meta.endpoint_url == "http://127.0.0.1:20002"


def test_sceptre_s_sessions_are_made_by_the_aws_layer_once_drlib_plans(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a plan, Sceptre's connection managers make their sessions with new_session (service
    models read once, timestamps read fast); credentials and region are still Sceptre's."""
    from sceptre.connection_manager import ConnectionManager

    from drlib.aws import new_session, timestamp

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    SceptreProject("dev", project_dir=SMALL).plan()
    manager = ConnectionManager(region="us-west-2", stack_name="test-session-stack")
    assert manager._session_class is new_session
    client = manager._get_client("cloudformation", "us-west-2", None, None, None)
    assert client.meta.region_name == "us-west-2"
    factory = client._endpoint._response_parser_factory
    assert factory.create_parser("query")._timestamp_parser is timestamp


class _Stack:
    """What Sceptre's executor touches of a Stack: a name and the stacks it depends on."""

    def __init__(self, name: str, *dependencies: _Stack) -> None:
        self.name = name
        self.dependencies = list(dependencies)

    def __repr__(self) -> str:
        return self.name


def _run_plan(monkeypatch: pytest.MonkeyPatch, launch_order: list[set[_Stack]],
              act: dict[str, object], command: str = "launch", seen: list[str] | None = None,
              max_concurrency: int | None = None) -> tuple[dict[str, str], list[str]]:
    """Run Sceptre's executor over fake stacks; ``act[name]`` is the status a stack ends with,
    a callable run first (returning the status), or an exception raised. Returns the statuses by
    name and the order in which stacks started and ended ("+a", "-a")."""
    import threading

    from sceptre.plan.executor import SceptrePlanExecutor

    from drlib.sceptre_patches import stacks_as_soon_as_ready

    seen = [] if seen is None else seen
    lock = threading.Lock()

    def execute_one(self: object, stack: _Stack, *args: object) -> tuple[_Stack, object]:
        with lock:
            seen.append(f"+{stack.name}")
        what = act.get(stack.name, "complete")
        try:
            if isinstance(what, Exception):
                raise what
            return stack, what() if callable(what) else what
        finally:
            with lock:
                seen.append(f"-{stack.name}")

    monkeypatch.setattr(SceptrePlanExecutor, "_execute", execute_one)
    with stacks_as_soon_as_ready():
        responses = SceptrePlanExecutor(command, launch_order, max_concurrency).execute()
    return {stack.name: str(status) for stack, status in responses.items()}, seen


def test_a_stack_starts_once_what_it_depends_on_has_finished_not_its_whole_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sceptre's batches: {database, network}, then {app (needs network)}. The database stays
    in progress until app has finished: with Sceptre's batches app would wait for the database
    (and the database would time out); drlib starts app as soon as the network is complete."""
    import threading

    app_done = threading.Event()

    def slow_database() -> str:
        return "complete" if app_done.wait(timeout=10) else "timed out waiting for app"

    def app() -> str:
        app_done.set()
        return "complete"

    network, database = _Stack("network"), _Stack("database")
    app_stack = _Stack("app", network)
    statuses, seen = _run_plan(monkeypatch, [{database, network}, {app_stack}],
                               {"database": slow_database, "app": app})
    assert statuses == {"database": "complete", "network": "complete", "app": "complete"}
    assert seen.index("-app") < seen.index("-database")
    assert seen.index("-network") < seen.index("+app")


def test_no_stack_starts_after_one_that_did_not_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack after one that failed is not started, nor any after it (each says which stack
    did not complete); a stack that does not depend on it still is."""
    network = _Stack("network")
    database = _Stack("database", network)
    app = _Stack("app", database)
    audit = _Stack("audit")
    statuses, seen = _run_plan(monkeypatch, [{network, audit}, {database}, {app}],
                               {"network": "failed"})
    assert statuses == {"network": "failed", "audit": "complete",
                        "database": "not started: network ended failed",
                        "app": "not started: network ended failed"}
    assert "+database" not in seen
    assert "+app" not in seen


def test_a_stack_that_raises_stops_every_later_start_and_the_error_is_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    network = _Stack("network")
    app = _Stack("app", network)
    audit = _Stack("audit")
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="throttled"):
        _run_plan(monkeypatch, [{network, audit}, {app}], {"network": RuntimeError("throttled")},
                  seen=seen)
    assert "+network" in seen
    assert "+app" not in seen


def test_with_one_thread_nothing_queued_starts_after_an_exception(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sceptre's max_concurrency is kept: with one thread the second ready stack is not queued
    behind the first, so when the first raises, the second never starts."""
    audit, kms = _Stack("audit"), _Stack("kms")
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="throttled"):
        _run_plan(monkeypatch, [{audit, kms}], {"audit": RuntimeError("throttled")}, seen=seen,
                  max_concurrency=1)
    assert seen == ["+audit", "-audit"]


def test_a_delete_waits_for_the_stacks_that_depend_on_it() -> None:
    """Sceptre deletes in the reverse of the launch order: a stack waits for the stacks of
    earlier batches that depend on it, and only for those."""
    from drlib.sceptre_patches import follows

    network, audit = _Stack("network"), _Stack("audit")
    app = _Stack("app", network)
    launch = follows([{network, audit}, {app}])
    delete = follows([{app}, {network, audit}])
    assert launch == {network: set(), audit: set(), app: {network}}
    assert delete == {app: set(), network: {app}, audit: set()}


def test_other_commands_run_in_sceptres_own_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command whose results are not stack statuses (e.g. validate) runs batch by batch, as
    Sceptre runs it: nothing is held back for a status."""
    network = _Stack("network")
    app = _Stack("app", network)
    statuses, seen = _run_plan(monkeypatch, [{network}, {app}],
                               {"network": "a template summary"}, command="validate")
    assert statuses == {"network": "a template summary", "app": "complete"}
    assert seen == ["+network", "-network", "+app", "-app"]
