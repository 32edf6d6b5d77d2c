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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with the most slow (end-to-end) tests first, so that under pytest-xdist the long
    modules start at once instead of trailing after the quick ones; a module's order stays."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


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
