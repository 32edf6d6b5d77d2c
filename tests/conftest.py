"""Shared fixtures: one in-process emulator per test session, and AWS clients that reach it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from drlib.aws import AwsClients, RegionPair
from drlib.emulator.server import Emulator

REPO = Path(__file__).resolve().parents[1]

# Sealing prints report.pdf with Chromium when it is installed (about 5 s a run): only the tests
# that ask for it (DRLIB_REPORT_PDF=1 or render_report(pdf=True)) pay for it.
os.environ.setdefault("DRLIB_REPORT_PDF", "0")

# `make test` runs the suite on several pytest-xdist workers: each worker's drills get their own
# drill-emulator folder (their PostgreSQL data directories live there).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("DRLIB_DRILL_STATE_DIR", str(
        REPO / ".drlib" / f"drill-emulator-{os.environ['PYTEST_XDIST_WORKER']}"))


LONGEST_MODULES = (
    "tests/test_guardrails_e2e.py",  # about 560 s
    "tests/test_drill_e2e.py",  # 470 s
    "tests/emulator/test_conformance.py",  # 340 s
    "tests/test_project_environments.py",  # 190 s
    "tests/emulator/test_dr_runbooks.py",  # 140 s
    "tests/browser/test_lab.py",  # 120 s
    "tests/test_load_distributed.py",  # 115 s
    "tests/templates/test_conventions.py",  # 110 s
    "tests/emulator/test_pgpair.py",  # 90 s
    "tests/test_failover_reconcile.py",  # 60 s
    "tests/emulator/test_s3_replication.py",  # 60 s
    "tests/emulator/test_dynamodb_replication.py",  # 60 s
)
"""The modules that take longest, longest first: each runs on one pytest-xdist worker
(``--dist loadfile``), so the suite cannot end before the longest has, and one that starts late
trails alone at the end. Wall times from ``pytest --durations=80`` under ``make test`` on the
2-core machine (4 workers); re-measure when a module grows."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The :data:`LONGEST_MODULES` first, then modules with the most slow (end-to-end) tests, so
    that under pytest-xdist the long modules start at once instead of trailing after the quick
    ones (``make test`` keeps this order with ``--no-loadscope-reorder``; xdist would otherwise
    order modules by their number of tests); a module's own order stays."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    rank = {REPO / module: index for index, module in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: (rank.get(item.path, len(rank)), -slow[item.path]))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A running emulator for the whole session; its client environment is exported."""
    emu = Emulator(state_dir=tmp_path_factory.mktemp("emulator")).start()
    saved = {k: os.environ.get(k) for k in emu.environment()}
    os.environ.update(emu.environment())
    try:
        yield emu
    finally:
        emu.stop()
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@pytest.fixture
def clean_emulator(emulator: Emulator) -> Emulator:
    """The session emulator, reset so the test starts from empty regions."""
    emulator.reset()
    return emulator


@pytest.fixture
def regions() -> RegionPair:
    """The default region pair."""
    return RegionPair()


@pytest.fixture
def aws(clean_emulator: Emulator) -> AwsClients:
    """boto3 clients against a freshly reset emulator."""
    return AwsClients(endpoint_url=clean_emulator.endpoint_url,
                      credentials={"aws_access_key_id": "testing",
                                   "aws_secret_access_key": "testing"})
