"""Browser fixtures: Debian's Chromium driven by Playwright, and a running `drlib lab`."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from drlib.emulator.server import free_loopback_port

REPO = Path(__file__).resolve().parents[2]

# As the machine's own probe starts it: no sandbox as root, and nothing that phones home (this
# network refuses those connections, many at a time).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_executable() -> str:
    """Debian's Chromium (or DRLIB_CHROMIUM), installed by `make test`."""
    for candidate in (os.environ.get("DRLIB_CHROMIUM"), "/usr/bin/chromium",
                      "/usr/bin/chromium-browser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("Chromium is not installed: run `make chromium` (scripts/ensure-chromium.sh)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable(),
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class Lab:
    """A running `drlib lab`: its URL, token, evidence folder and emulator state folder."""

    url: str
    token: str
    outputs: Path
    state_dir: Path
    process: subprocess.Popen[str]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """`drlib lab --port P --token T` with its own outputs and emulator state folders; stopped
    (SIGTERM) afterwards."""
    port, token = free_loopback_port(), secrets.token_hex(16)
    notebooks = tmp_path / "notebooks"  # a copy: Run All saves outputs into the notebooks
    shutil.copytree(REPO / "notebooks", notebooks)
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["DRLIB_STATE_DIR"] = str(state)
    process = subprocess.Popen(
        [sys.executable, "-m", "drlib.cli", "lab", "--port", str(port), "--token", token,
         "--outputs", str(tmp_path / "outputs"), "--notebook-dir", str(notebooks)], env=env,
        text=True,
        stdout=open(tmp_path / "lab.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"drlib lab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield Lab(url, token, tmp_path / "outputs", state / "emulator", process)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
