"""How drlib runs Sceptre's Python API: patches of Sceptre's internals, each for the duration of
a ``with`` block (the ``sceptre`` command line runs unpatched).

- :func:`adaptive_polling`: Sceptre's own wait polls every 4 s; drlib's bounded wait (0.1 s
  growing to 4 s) replaces it, so a stack that settles in half a second on the emulator returns
  in half a second and one that takes ten minutes on AWS is polled no more often than Sceptre
  would;
- :func:`cached_entry_points`: Sceptre's plugins looked up once per process;
- :func:`shared_stack_outputs`: the ``!stack_output`` resolvers of one launch share what they
  read;
- :func:`stacks_as_soon_as_ready`: each stack of a launch or delete starts as soon as the stacks
  it must follow have finished, not when the slowest stack of Sceptre's batch before it has;
- :func:`sessions_from_the_aws_layer` (for the process, not a block): Sceptre's boto3 sessions
  made by drlib's aws layer.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from drlib.waiting import wait_until

STACK_TIMEOUT_S = 60 * 60

_patch_lock = threading.RLock()


@contextmanager
def adaptive_polling(timeout_s: float = STACK_TIMEOUT_S) -> Iterator[None]:
    """Make Sceptre wait for stack operations with drlib's bounded, backing-off poll."""
    from sceptre.plan.actions import StackActions
    from sceptre.stack_status import StackStatus

    def wait_for_completion(self: Any, timeout: int = 0,
                            boto_response: dict[str, Any] | None = None) -> str:
        # Log the stack's events as Sceptre does, from a little before the call; only when its
        # logger shows them (the command line's does): reading every event of the stack at each
        # poll is, on the emulator, a tenth of a deploy's work, for lines nobody sees.
        events_after = [datetime.now(UTC) - timedelta(seconds=3)]
        log_events = self.logger.isEnabledFor(logging.INFO)

        def settled() -> str | None:
            status = str(self._get_simplified_status(self._get_status()))
            if log_events:
                events_after[0] = self._log_new_events(events_after[0])
            return None if status == StackStatus.IN_PROGRESS else status

        bound = 60 * timeout if timeout else timeout_s
        result: str = wait_until(settled, description=f"stack {self.stack.external_name} to "
                                 "settle", timeout=bound, interval=0.1, backoff=1.25,
                                 max_interval=4.0)
        return result

    with _patch_lock:
        original = StackActions._wait_for_completion
        StackActions._wait_for_completion = wait_for_completion
        try:
            yield
        finally:
            StackActions._wait_for_completion = original


@functools.cache
def _entry_points(group: str, name: str | None = None) -> tuple[Any, ...]:
    from importlib.metadata import entry_points

    found = entry_points(group=group) if name is None else entry_points(group=group, name=name)
    return tuple(found)


_entry_points_users = [0]


@contextmanager
def cached_entry_points() -> Iterator[None]:
    """Make Sceptre look its plugins (template handlers, hooks, resolvers) up once per process.

    Sceptre scans every installed distribution's entry points for each stack's template and for
    each reading of the config (180 distributions here: 0.4 s of a deploy); the answer cannot
    change while drlib runs. Reentrant: the patch stays until the outermost block ends.
    """
    from sceptre.config.reader import ConfigReader
    from sceptre.template import Template

    with _patch_lock:
        if not _entry_points_users[0]:
            _entry_points_originals[:] = [ConfigReader._iterate_entry_points,
                                          Template._iterate_entry_points]
            ConfigReader._iterate_entry_points = staticmethod(_entry_points)
            Template._iterate_entry_points = staticmethod(_entry_points)
        _entry_points_users[0] += 1
    try:
        yield
    finally:
        with _patch_lock:
            _entry_points_users[0] -= 1
            if not _entry_points_users[0]:
                ConfigReader._iterate_entry_points = staticmethod(_entry_points_originals[0])
                Template._iterate_entry_points = staticmethod(_entry_points_originals[1])


_entry_points_originals: list[Any] = []


@contextmanager
def shared_stack_outputs() -> Iterator[None]:
    """Make Sceptre's ``!stack_output`` resolvers of one launch share what they read.

    Each resolver reads its stack's outputs with a ``DescribeStacks`` of its own (95 in this
    project's launch, for 20 stacks). Within the block the outputs of a settled stack (a status
    ending in ``_COMPLETE``) are read once; a stack created, updated or deleted in the block is
    read again after it settles; a stack in progress is never kept (as before, a resolver sees
    what ``DescribeStacks`` shows at that moment).
    """
    from sceptre.exceptions import StackDoesNotExistError
    from sceptre.plan.actions import StackActions
    from sceptre.resolvers.stack_output import StackOutputBase

    kept: dict[tuple[Any, ...], dict[str, str]] = {}
    lock = threading.Lock()

    def get_stack_outputs(self: Any, stack_name: str, profile: str | None = None,
                          region: str | None = None, sceptre_role: str | None = None
                          ) -> dict[str, str]:
        key = (stack_name, profile, region, sceptre_role)
        with lock:
            if key in kept:
                return dict(kept[key])
        try:
            response = self.stack.connection_manager.call(
                service="cloudformation", command="describe_stacks",
                kwargs={"StackName": stack_name}, profile=profile, region=region,
                stack_name=stack_name, sceptre_role=sceptre_role)
        except ClientError as exc:
            if "does not exist" in exc.response["Error"]["Message"]:
                raise StackDoesNotExistError(exc.response["Error"]["Message"]) from exc
            raise
        described = response["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        if str(described.get("StackStatus", "")).endswith("_COMPLETE"):
            with lock:
                kept[key] = dict(outputs)
        return outputs

    def forget(stack_name: str) -> None:
        with lock:
            for key in [k for k in kept if k[0] == stack_name]:
                del kept[key]

    with _patch_lock:
        original_outputs = StackOutputBase.__dict__["_get_stack_outputs"]
        original_wait = StackActions._wait_for_completion

        def wait_then_forget(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original_wait(self, *args, **kwargs)
            finally:
                forget(self.stack.external_name)

        StackOutputBase._get_stack_outputs = get_stack_outputs
        StackActions._wait_for_completion = wait_then_forget
    try:
        yield
    finally:
        with _patch_lock:
            StackOutputBase._get_stack_outputs = original_outputs
            StackActions._wait_for_completion = original_wait


ORDERED_COMMANDS = frozenset({"launch", "create", "update", "delete"})
"""The commands :func:`stacks_as_soon_as_ready` schedules (their results are stack statuses);
Sceptre's own batches run every other."""


def follows(launch_order: list[set[Any]]) -> dict[Any, set[Any]]:
    """For each stack of Sceptre's ``launch_order`` (batches, each after the one before), the
    stacks it must wait for: those of earlier batches it depends on or that depend on it (a
    launch's order, or a delete's reversed one). Waiting for these alone keeps every ordering
    the dependency graph asks for; it drops the waits Sceptre's batches add between stacks that
    do not depend on each other."""
    batch_of: dict[Any, int] = {}
    for index, batch in enumerate(launch_order):
        for stack in batch:
            batch_of.setdefault(stack, index)
    neighbours: dict[Any, set[Any]] = {stack: set() for stack in batch_of}
    for stack in batch_of:
        for dependency in getattr(stack, "dependencies", None) or []:
            if dependency in batch_of and dependency is not stack:
                neighbours[stack].add(dependency)
                neighbours[dependency].add(stack)
    return {stack: {other for other in near if batch_of[other] < batch_of[stack]}
            for stack, near in neighbours.items()}


@contextmanager
def stacks_as_soon_as_ready() -> Iterator[None]:
    """Make Sceptre start each stack of a launch or delete as soon as the stacks it must follow
    (:func:`follows`) have finished, instead of batch by batch.

    Sceptre waits for every stack of a batch before it starts any of the next, so one slow stack
    (an Aurora secondary: 20 minutes on AWS, 1.6 s on the emulator) holds back every later stack,
    even those that do not depend on it. A stack whose predecessor did not complete is not
    started (its status says which one did not), nor is any after it; an exception from a stack
    stops new starts and is raised once the running ones end, as with Sceptre."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from sceptre.plan.executor import SceptrePlanExecutor

    original = SceptrePlanExecutor.execute

    def execute(self: Any, *args: Any) -> dict[Any, Any]:
        if self.command not in ORDERED_COMMANDS:
            return original(self, *args)
        after = follows(self.launch_order)
        order = list(dict.fromkeys(stack for batch in self.launch_order
                                   for stack in sorted(batch, key=lambda s: s.name)))
        threads = max(self.num_threads, 1)  # Sceptre's (its max_concurrency, if set)
        responses: dict[Any, Any] = {}
        running: dict[Future[Any], Any] = {}
        with ThreadPoolExecutor(max_workers=threads) as pool:
            while True:
                for stack in order:
                    if stack in responses or stack in running.values() or \
                            not all(before in responses for before in after[stack]):
                        continue
                    if len(running) >= threads:
                        break  # nothing queued: after an exception nothing more starts
                    unfinished = sorted((before.name, str(responses[before]))
                                        for before in after[stack]
                                        if str(responses[before]) != "complete")
                    if unfinished:
                        name, status = unfinished[0]
                        responses[stack] = (status if status.startswith("not started")
                                            else f"not started: {name} ended {status}")
                    else:
                        running[pool.submit(self._execute, stack, *args)] = stack
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    del running[future]
                    stack, status = future.result()
                    responses[stack] = status
        return responses

    with _patch_lock:
        SceptrePlanExecutor.execute = execute
    try:
        yield
    finally:
        with _patch_lock:
            SceptrePlanExecutor.execute = original


def sessions_from_the_aws_layer() -> None:
    """Sceptre makes its boto3 sessions with drlib's :func:`drlib.aws.new_session` (each
    service's model read once per process, timestamps read without dateutil): the default
    ``session_class`` of every ``ConnectionManager`` made from now on. Called before each plan."""
    from sceptre.connection_manager import ConnectionManager

    from drlib.aws import new_session

    defaults = ConnectionManager.__init__.__kwdefaults__
    with _patch_lock:
        if defaults is not None and defaults.get("session_class") is not new_session:
            defaults["session_class"] = new_session


_clients_made_for: list[str | None] = [None]


def clients_for_current_environment() -> None:
    """Sceptre keeps the boto3 sessions and clients it makes for the whole process, made from
    the environment of their first use, and keys them by region and profile only: once the
    environment names another endpoint or other credentials (``AWS_*``: a new emulator, an
    assumed role), they are forgotten, so Sceptre makes new ones. Called before each plan."""
    import hashlib
    import os

    from sceptre.connection_manager import ConnectionManager

    aws = sorted((key, value) for key, value in os.environ.items() if key.startswith("AWS_"))
    made_for = hashlib.sha256(repr(aws).encode()).hexdigest()  # no credential kept as such
    with _patch_lock:
        if _clients_made_for[0] not in (None, made_for):
            with ConnectionManager._client_lock:
                ConnectionManager._clients.clear()
            with ConnectionManager._session_lock:
                ConnectionManager._boto_sessions.clear()
        _clients_made_for[0] = made_for
