"""Conformance: moto's own test modules (the sdist of the pinned moto) run in server mode against
the emulator; only the listed, justified differences from moto may fail."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from drlib.emulator import daemon
from tests.emulator.moto_upstream import Outcome, parse_junit, run_modules, upstream_tests

MODULES = [
    "test_rds/test_global_clusters.py",
    "test_rds/test_rds_clusters.py",
    "test_route53/test_route53.py",
    "test_route53/test_route53_healthchecks.py",
    "test_dynamodb/test_dynamodb_create_table.py",
    "test_dynamodb/test_dynamodb_update_table.py",
    "test_s3/test_s3_replication.py",
    "test_s3/test_s3_lock.py",
    "test_cloudformation/test_cloudformation_stack_crud.py",
    "test_cloudformation/test_cloudformation_stack_integration.py",
    "test_ce/test_ce.py",
    "test_ce/test_ce_cost_and_usage.py",
    "test_ssm/test_ssm_parameterstore.py",
]
"""moto's modules for the services the emulator extends (paths under moto's ``tests/``)."""

EXPECTED_DIFFERENCES = {
    "test_route53/test_route53_healthchecks.py::test_health_check_status":
        "GetHealthCheckStatus of a CALCULATED health check is refused with InvalidInput, as "
        "AWS does: https://docs.aws.amazon.com/Route53/latest/APIReference/"
        "API_GetHealthCheckStatus.html",
    "test_rds/test_global_clusters.py::test_remove_from_global_cluster":
        "RemoveFromGlobalCluster of a cluster that is not (or no longer) a member answers "
        "InvalidParameterValue, where moto ignores it: https://docs.aws.amazon.com/AmazonRDS/"
        "latest/APIReference/API_RemoveFromGlobalCluster.html",
    "test_s3/test_s3_replication.py::test_create_and_retrieve_replication_with_single_rules":
        "A rule without Filter is a V1 rule and is answered with its Prefix (delete markers "
        "replicated), not moto's V2 Filter; its destination bucket must exist too: "
        "https://docs.aws.amazon.com/AmazonS3/latest/"
        "userguide/replication-add-config.html#replication-backward-compat-considerations",
    "test_s3/test_s3_replication.py::test_create_and_retrieve_replication_with_multiple_rules":
        "PutBucketReplication refuses a destination bucket of the same account that does not "
        "exist (InvalidRequest), where moto stores any name: https://docs.aws.amazon.com/"
        "AmazonS3/latest/userguide/replication-walkthrough1.html",
    "test_cloudformation/test_cloudformation_stack_crud.py::test_stack_events":
        "An update that removes resources deletes them in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, "
        "a stack event moto never emits: https://docs.aws.amazon.com/AWSCloudFormation/latest/"
        "UserGuide/view-stack-events.html",
    "test_cloudformation/test_cloudformation_stack_integration.py::"
    "test_invalid_action_type_listener_rule":
        "CreateStack accepts the stack and the invalid resource fails afterwards (CREATE_FAILED, "
        "rollback), where moto answers CreateStack with ValidationError: "
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html",
    "test_ce/test_ce_cost_and_usage.py::test_get_cost_and_usage":
        "GetCostAndUsage answers one ResultsByTime entry per period even when nothing cost "
        "anything (moto answers none), and the emulator labels its derived data in "
        "DimensionValueAttributes: https://docs.aws.amazon.com/aws-cost-management/latest/"
        "APIReference/API_GetCostAndUsage.html",
}
"""moto tests that fail against the emulator because the emulator does what AWS does."""

UPSTREAM_FAILURES = {
    **{f"test_cloudformation/test_cloudformation_stack_crud.py::{name}":
       "fails against plain moto_server too: a presigned URL of a server-mode endpoint is not an "
       "S3 URL moto's CloudFormation can read"
       for name in ("test_create_stack_set_from_s3_url", "test_get_template_summary",
                    "test_create_stack_from_s3_url", "test_update_stack_from_s3_url",
                    "test_create_change_set_from_s3_url",
                    "test_create_change_set_twice__using_s3__no_changes",
                    "test_create_change_set_w_previous_template_faillures"
                    "[use_previous_w_template_url]")},
    "test_cloudformation/test_cloudformation_stack_integration.py::test_lambda_function":
        "fails against plain moto_server too: invoking a Lambda function needs Docker",
}
"""moto tests that fail against plain ``moto_server`` in server mode as well: not counted."""

WALL_CLOCK_BOUND = {
    f"test_cloudformation/test_cloudformation_stack_crud.py::{name}":
        "should have been created recently"
    for name in ("test_describe_stack_by_name", "test_describe_change_set")}
"""moto tests with an assertion that bounds the round trip by 2 s of the test's own clock (a
CreationTime within the last 2 s), which a loaded machine can exceed, by the words that
assertion fails with: one that fails with them in the module run is run again alone, and its
outcome is that run's; any other failure of theirs counts."""


@pytest.fixture(scope="module")
def upstream_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Outcome]]:
    """Every selected upstream test's outcome, by module, from one run against a fresh
    emulator process (moto's tests reset it through /moto-api/reset between tests)."""
    root = upstream_tests()
    state_dir = tmp_path_factory.mktemp("conformance-emulator")
    emulator = daemon.start(state_dir=state_dir)
    try:
        outcomes = run_modules(root, MODULES, emulator.endpoint_url,
                               state_dir / "upstream-junit.xml")
        outcomes = _again_alone(outcomes, lambda test_ids: run_modules(
            root, test_ids, emulator.endpoint_url, state_dir / "upstream-junit-again.xml"))
    finally:
        daemon.stop(state_dir=state_dir)
    by_module: dict[str, list[Outcome]] = {module: [] for module in MODULES}
    for outcome in outcomes:
        by_module.setdefault(outcome.test_id.split("::", 1)[0], []).append(outcome)
    return by_module


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("module", MODULES)
def test_upstream_module_passes_except_expected_differences(
        upstream_outcomes: dict[str, list[Outcome]], module: str) -> None:
    """Every test of moto's module passes on the emulator, except the expected differences,
    which must still fail (a stale entry fails too)."""
    outcomes = upstream_outcomes.get(module) or []
    assert [o for o in outcomes if o.result == "passed"], f"no test of {module} passed"
    failed = {o.test_id: o.message for o in outcomes if o.result in ("failed", "error")
              and _listed(o.test_id, UPSTREAM_FAILURES) is None}
    unexpected = {test_id: message for test_id, message in failed.items()
                  if _listed(test_id, EXPECTED_DIFFERENCES) is None}
    assert unexpected == {}, "upstream tests that fail only on the emulator"
    listed = [test_id for test_id in EXPECTED_DIFFERENCES if test_id.startswith(module + "::")]
    stale = [test_id for test_id in listed if not any(_listed(f, {test_id: ""}) is not None
                                                      for f in failed)]
    assert stale == [], "expected differences that no longer fail: remove them"
    other = [o for o in outcomes if o.test_id.split("::", 1)[0] not in MODULES]
    assert other == [], "outcomes outside the selected modules (a collection error?)"


def _again_alone(outcomes: list[Outcome],
                 run: Callable[[list[str]], list[Outcome]]) -> list[Outcome]:
    """``outcomes`` with the outcome of each :data:`WALL_CLOCK_BOUND` test that failed its
    bound replaced by that of ``run`` (those run again, alone)."""
    def failed_its_bound(outcome: Outcome) -> bool:
        words = _listed(outcome.test_id, WALL_CLOCK_BOUND)
        return outcome.result == "failed" and words is not None and words in outcome.message

    again = [o.test_id for o in outcomes if failed_its_bound(o)]
    if not again:
        return outcomes
    alone = {o.test_id: o for o in run(again)}
    return [alone.get(o.test_id, o) for o in outcomes]


def _listed(test_id: str, entries: dict[str, str]) -> str | None:
    """The entry that covers ``test_id`` (an entry without ``[...]`` covers every parameter)."""
    return entries.get(test_id, entries.get(test_id.split("[", 1)[0]))


def test_every_difference_and_upstream_failure_is_justified() -> None:
    """Each expected difference cites AWS's documentation; each upstream failure says why; both
    name selected modules."""
    for test_id, why in EXPECTED_DIFFERENCES.items():
        assert test_id.split("::", 1)[0] in MODULES, test_id
        assert re.search(r"https://docs\.aws\.amazon\.com/\S+$", why), test_id
    for test_id, why in UPSTREAM_FAILURES.items():
        assert test_id.split("::", 1)[0] in MODULES, test_id
        assert why.startswith("fails against plain moto_server too"), test_id
    for test_id in WALL_CLOCK_BOUND:
        assert test_id.split("::", 1)[0] in MODULES, test_id
        assert _listed(test_id, EXPECTED_DIFFERENCES | UPSTREAM_FAILURES) is None, test_id


def test_junit_report_becomes_outcomes_with_moto_test_ids(tmp_path: Path) -> None:
    """JUnit cases map to module-relative ids; failures, skips and collection errors are kept."""
    (tmp_path / "tests" / "test_x").mkdir(parents=True)
    (tmp_path / "tests" / "test_x" / "test_mod.py").write_text("")
    report = tmp_path / "report.xml"
    report.write_text(textwrap.dedent("""\
        <testsuites><testsuite>
          <testcase classname="tests.test_x.test_mod" name="test_ok"/>
          <testcase classname="tests.test_x.test_mod.TestGroup" name="test_bad[a]">
            <failure message="assert 1 == 2&#10;more">trace</failure></testcase>
          <testcase classname="tests.test_x.test_mod" name="test_skip">
            <skipped message="needs docker"/></testcase>
          <testcase classname="" name="tests.test_x.test_broken">
            <error message="collection failure">ImportError</error></testcase>
        </testsuite></testsuites>"""))
    assert parse_junit(report, tmp_path) == [
        Outcome("test_x/test_mod.py::test_ok", "passed"),
        Outcome("test_x/test_mod.py::TestGroup::test_bad[a]", "failed", "assert 1 == 2"),
        Outcome("test_x/test_mod.py::test_skip", "skipped", "needs docker"),
        Outcome("tests.test_x.test_broken::<collection>", "error", "collection failure"),
    ]


def test_a_wall_clock_bound_test_that_failed_runs_again_alone_and_counts_as_that_run() -> None:
    """Only a wall-clock-bound test that failed its bound runs again (another failure of it
    counts at once); the second outcome stands, failed too."""
    bound, other = sorted(WALL_CLOCK_BOUND)[0], "test_x/test_mod.py::test_other"
    outcomes = [Outcome(bound, "failed", "AssertionError: Stack should have been created "
                                         "recently"),
                Outcome(other, "failed", "assert 1 == 2"), Outcome(bound + "[b]", "passed"),
                Outcome(bound + "[c]", "failed", "KeyError: 'Stacks'")]
    asked: list[list[str]] = []

    def run(test_ids: list[str], result: str) -> list[Outcome]:
        asked.append(test_ids)
        return [Outcome(t, result) for t in test_ids]

    assert _again_alone(outcomes, lambda ids: run(ids, "passed")) == [
        Outcome(bound, "passed"), outcomes[1], outcomes[2], outcomes[3]]
    assert asked == [[bound]]
    assert _again_alone(outcomes, lambda ids: run(ids, "failed"))[0] == Outcome(bound, "failed")
    assert _again_alone(outcomes[1:], lambda ids: run(ids, "passed")) == outcomes[1:]
    assert asked == [[bound], [bound]]
