"""Build, hash and upload the DR Lambda deployment package.

The package is a deterministic zip of a Lambda source folder plus the distributions pinned in its
``requirements.txt``: entries sorted, timestamps fixed, permissions normalised, installer-specific
files (``bin/``, ``RECORD``, ``INSTALLER``, byte code) left out. The same sources and pins
therefore give the same bytes, and the package is stored under its SHA-256
(``lambda/<name>/<sha256>.zip``) so CloudFormation sees a new key exactly when the code changes.

The dr-automation stacks run it through the Sceptre hook ``!drlib_lambda_package``
(:mod:`drlib.sceptre_hooks`). By hand, to pre-stage a package::

    python -m drlib.lambda_package --bucket ARTIFACTS_BUCKET [--region R] [--key-file F]

It builds (or reuses the cached build), uploads unless the key already exists, prints the key and
writes it to ``--key-file`` for the stack's ``LambdaCodeKey`` parameter.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from drlib.aws import AwsClients
from drlib.errors import ConfigError, DrError

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[1] / "sceptre"
DEFAULT_SOURCE_DIR = PROJECT_DIR / "lambda" / "dr_orchestrator"
DEFAULT_BUILD_DIR = PROJECT_DIR / ".build" / "lambda"
# The Lambda runtime the templates declare (python3.12 on x86_64); wheels are chosen for it.
TARGET_PYTHON = "3.12"
TARGET_PLATFORM_UV = "x86_64-manylinux_2_17"
TARGET_PLATFORM_PIP = "manylinux2014_x86_64"
# Bump when the zip layout changes, so cached builds are not reused across layouts.
BUILDER_VERSION = "1"
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
REQUIREMENTS_FILE = "requirements.txt"
_EXCLUDED_DIRS = frozenset({"__pycache__", "bin"})
_EXCLUDED_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


@dataclass(frozen=True)
class LambdaPackage:
    """A built deployment package."""

    name: str
    path: Path
    sha256: str
    size: int

    @property
    def s3_key(self) -> str:
        """Content-addressed key of the package in the artifacts bucket."""
        return f"lambda/{self.name}/{self.sha256}.zip"


def package_name(source_dir: Path) -> str:
    """The package name of a source folder: its name with hyphens (dr_orchestrator -> dr-...)."""
    return source_dir.name.replace("_", "-")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _included(relative: Path) -> bool:
    """Whether a file below a package root belongs in the zip."""
    if any(part in _EXCLUDED_DIRS for part in relative.parts[:-1]):
        return False
    if relative.suffix in (".pyc", ".pyo") or relative.name == REQUIREMENTS_FILE:
        return False
    parent = relative.parent.name
    return not (parent.endswith(".dist-info") and relative.name in _EXCLUDED_DIST_INFO_FILES)


def collect_files(*roots: Path) -> list[tuple[str, Path]]:
    """(archive name, file) for every included file under ``roots``, sorted by archive name.

    A name present under several roots is taken from the first (sources win over dependencies).
    """
    found: dict[str, Path] = {}
    for root in roots:
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and _included(relative):
                found.setdefault(relative.as_posix(), path)
    return sorted(found.items())


def write_deterministic_zip(files: Iterable[tuple[str, Path]], destination: Path) -> None:
    """Write ``files`` to a zip whose bytes depend only on the names and contents."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w") as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            executable = os.access(path, os.X_OK) and path.suffix != ".py"
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=6)


def uv_executable() -> str | None:
    """The uv of this environment (the ``uv`` distribution drlib depends on), by absolute path.

    Never looked up on PATH: a new machine's PATH does not have ``~/.local/bin``, and a hook
    started by Sceptre may run with any PATH at all.
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return None


def _install_commands(requirements: Path, target: Path) -> list[list[str]]:
    """Installer commands to try in order: uv (online, then from its cache), else pip."""
    uv = uv_executable()
    if uv:
        base = [uv, "pip", "install", "--quiet", "--target", str(target), "--no-deps",
                "--no-compile", "--python-version", TARGET_PYTHON, "--python-platform",
                TARGET_PLATFORM_UV, "-r", str(requirements)]
        return [base, [*base, "--offline"]]
    if importlib.util.find_spec("pip") is None:
        raise DrError("No installer for the Lambda requirements in this environment",
                      expected="the uv distribution (a drlib dependency) or pip",
                      found=f"neither in {sys.prefix}",
                      fix="re-create the environment with `make bootstrap` (uv sync --locked)")
    return [[sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
             "--no-deps", "--no-compile", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", TARGET_PYTHON, "--platform", TARGET_PLATFORM_PIP,
             "-r", str(requirements)]]


def install_requirements(requirements: Path, target: Path) -> None:
    """Install the pinned distributions of ``requirements`` into ``target`` for the runtime."""
    errors = []
    for command in _install_commands(requirements, target):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return
        errors.append(f"{' '.join(command[:3])}: {result.stderr.strip()[-500:]}")
    raise DrError(f"Cannot install the Lambda requirements of {requirements}",
                  expected="every pinned distribution installed", found="; ".join(errors),
                  fix="check network access to PyPI (or a warm uv cache) and the pins")


def _has_requirements(requirements: Path) -> bool:
    if not requirements.is_file():
        return False
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return any(lines)


def inputs_digest(source_dir: Path) -> str:
    """SHA-256 over everything that determines the package: sources, pins, builder, target."""
    digest = hashlib.sha256()
    for item in (BUILDER_VERSION, TARGET_PYTHON, TARGET_PLATFORM_UV):
        digest.update(item.encode() + b"\0")
    for name, path in collect_files(source_dir):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    requirements = source_dir / REQUIREMENTS_FILE
    if requirements.is_file():
        digest.update(b"requirements\0" + requirements.read_bytes())
    return digest.hexdigest()


def build_package(source_dir: Path = DEFAULT_SOURCE_DIR, build_dir: Path = DEFAULT_BUILD_DIR,
                  name: str | None = None, use_cache: bool = True) -> LambdaPackage:
    """Build the deployment package of ``source_dir`` (cached by its inputs under build_dir)."""
    source_dir = Path(source_dir).resolve()
    if not (source_dir / "handler.py").is_file():
        raise ConfigError(f"{source_dir} is not a Lambda source folder",
                          expected="a folder with handler.py (and optionally requirements.txt)",
                          found=", ".join(sorted(p.name for p in source_dir.glob("*"))) or "empty",
                          fix="pass the folder under sceptre/lambda/")
    name = name or package_name(source_dir)
    destination = Path(build_dir) / f"{name}-{inputs_digest(source_dir)}.zip"
    if not (use_cache and destination.is_file()):
        with tempfile.TemporaryDirectory(prefix=f"{name}-deps-") as deps:
            requirements = source_dir / REQUIREMENTS_FILE
            if _has_requirements(requirements):
                install_requirements(requirements, Path(deps))
            # Both regions' hooks may build at once (Sceptre launches them in one batch): each
            # writes its own partial file and renames it atomically; the bytes are the same.
            partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.partial")
            write_deterministic_zip(collect_files(source_dir, Path(deps)), partial)
            partial.replace(destination)
        log.info("built %s (%d bytes)", destination, destination.stat().st_size)
    return LambdaPackage(name=name, path=destination, sha256=sha256_file(destination),
                         size=destination.stat().st_size)


class ClientSource(Protocol):
    """What makes the S3 client: :class:`~drlib.aws.AwsClients`, or the stack's own Sceptre
    connection in the package hook."""

    def client(self, service: str, region: str) -> Any: ...


def upload_package(package: LambdaPackage, clients: ClientSource, region: str,
                   bucket: str) -> str:
    """Upload ``package`` to ``bucket`` under its content-addressed key unless it is there."""
    s3 = clients.client("s3", region)
    key = package.s3_key
    try:
        s3.head_object(Bucket=bucket, Key=key)
        log.info("s3://%s/%s already present (%s)", bucket, key, region)
        return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise DrError(f"Cannot read s3://{bucket}/{key} in {region}",
                          expected="the artifacts bucket of the region", found=str(exc),
                          fix="launch the artifacts stack first; check credentials") from exc
    with package.path.open("rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/zip",
                      Metadata={"sha256": package.sha256})
    log.info("uploaded s3://%s/%s (%d bytes, %s)", bucket, key, package.size, region)
    return key


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` to ``path`` atomically (a stack may be reading it while another writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    partial.write_text(key)
    partial.replace(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drlib.lambda_package",
        description="Build the DR Lambda package, upload it under its SHA-256, print the key.")
    parser.add_argument("--bucket", required=True, help="artifacts bucket of the region")
    parser.add_argument("--region", default=None,
                        help="region of the bucket (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE_DIR,
                        help="Lambda source folder (default: sceptre/lambda/dr_orchestrator)")
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR,
                        help="where built zips are cached")
    parser.add_argument("--key-file", type=Path, default=None,
                        help="also write the S3 key to this file (read by !file_contents)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        if not region:
            raise ConfigError("No region for the Lambda package upload",
                              expected="--region or AWS_REGION", found="neither",
                              fix="pass --region (Sceptre hooks set AWS_REGION themselves)")
        package = build_package(args.source, args.build_dir)
        key = upload_package(package, AwsClients(), region, args.bucket)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.key_file:
        write_key_file(args.key_file, key)
    print(key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
