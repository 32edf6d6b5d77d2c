"""moto's own test modules, from the sdist of the pinned moto, run in server mode against drlib's
emulator (the conformance suite, ``test_conformance.py``).

The sdist is fetched by pip (through uv when it is there) into ``.drlib/cache/`` on first use and
checked against the SHA-256 below; only its ``tests/`` tree is unpacked. Nothing of moto's code is
kept in this repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".drlib" / "cache"
SDIST_SHA256 = {
    # PyPI's moto-5.2.5.tar.gz. A new moto pin needs its hash here and the expected
    # differences re-checked (DESIGN.md section 4).
    "5.2.5": "391857257d5dac144334013c2c10e599def5f0562f553e979160140bd7bd9cf6",
}


class UpstreamUnavailable(RuntimeError):
    """moto's sdist could not be fetched or does not match the pinned hash."""


def pinned_moto() -> str:
    """The moto version installed in the project environment (pinned in pyproject.toml)."""
    return version("moto")


def _pip_download(requirement: str, into: Path) -> list[str]:
    from drlib.lambda_package import uv_executable

    uv = uv_executable() or os.environ.get("UV")  # the environment's own uv, never PATH
    args = ["download", "--no-deps", "--no-binary", ":all:", "--quiet", requirement,
            "-d", str(into)]
    if uv:
        return [uv, "tool", "run", "--quiet", "--from", "pip", "pip", *args]
    return [sys.executable, "-m", "pip", *args]


def upstream_tests(cache: Path = CACHE) -> Path:
    """The root of moto's unpacked sdist (holding ``tests/``), fetched once into ``cache``."""
    moto_version = pinned_moto()
    root = cache / f"moto-{moto_version}"
    if (root / "tests" / "__init__.py").is_file():
        return root
    expected = SDIST_SHA256.get(moto_version)
    if expected is None:
        raise UpstreamUnavailable(
            f"no SHA-256 recorded for moto {moto_version}'s sdist: add it to SDIST_SHA256 and "
            "re-check the expected differences")
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"moto-{moto_version}.tar.gz"
    if not sdist.is_file():
        done = subprocess.run(_pip_download(f"moto=={moto_version}", cache), capture_output=True,
                              text=True, timeout=600, check=False)
        if done.returncode != 0 or not sdist.is_file():
            raise UpstreamUnavailable(f"pip download of moto {moto_version} failed: "
                                      f"{(done.stderr or done.stdout).strip()[-800:]}")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != expected:
        sdist.unlink()
        raise UpstreamUnavailable(f"moto {moto_version} sdist has SHA-256 {digest}, "
                                  f"expected {expected}")
    partial = cache / f".moto-{moto_version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        prefix = f"moto-{moto_version}/"
        members = [m for m in archive.getmembers()
                   if m.name.startswith(prefix + "tests/") or m.name == prefix + "setup.cfg"]
        for member in members:
            member.name = member.name[len(prefix):]
        archive.extractall(partial, members=members, filter="data")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


@dataclass(frozen=True)
class Outcome:
    """One upstream test's result: ``passed``, ``failed``, ``error`` or ``skipped``."""

    test_id: str
    result: str
    message: str = ""


def run_modules(root: Path, modules: list[str], endpoint_url: str, report: Path,
                timeout: float = 1200) -> list[Outcome]:
    """Run moto's test modules (paths under ``tests/``, or test ids under it) in one pytest
    process, in server mode against ``endpoint_url``; one outcome per test."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "MOTO_", "TEST_SERVER_MODE", "PYTEST_"))}
    env.update({
        "TEST_SERVER_MODE": "true",
        "TEST_SERVER_MODE_ENDPOINT": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(root),
    })
    command = [sys.executable, "-m", "pytest", *[f"tests/{m}" for m in modules],
               "-c", str(root / "setup.cfg"), "--rootdir", str(root), "-p", "no:cacheprovider",
               "-q", "--tb=line", "-o", "addopts=", "-o", "timeout=120",
               f"--junitxml={report}"]
    subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                   timeout=timeout, check=False)
    if not report.is_file():
        raise RuntimeError(f"moto's tests produced no report: {' '.join(command)}")
    return parse_junit(report, root)


def _test_id(classname: str, name: str, root: Path) -> str:
    if not classname:  # a module that failed to import: pytest names the module
        classname, name = name, "<collection>"
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (root / path).is_file():
            inner = "::".join([*parts[cut:], name])
            return f"{path.relative_to('tests').as_posix()}::{inner}"
    return f"{classname}::{name}"


def parse_junit(report: Path, root: Path) -> list[Outcome]:
    """Every test case of a JUnit XML report as an :class:`Outcome`."""
    outcomes = []
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = _test_id(case.get("classname", ""), case.get("name", ""), root)
        result, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                result = {"failure": "failed"}.get(tag, tag)
                message = (found.get("message") or "").strip().splitlines()[0:1]
                message = message[0][:300] if message else ""
                break
        outcomes.append(Outcome(test_id, result, message))
    return outcomes
