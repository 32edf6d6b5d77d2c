"""Who and what ran a drill: the git commit of the code, the AWS identity, the OS user and host."""

from __future__ import annotations

import getpass
import logging
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_GIT_TIMEOUT = 15.0


def git_state(repo_dir: Path) -> dict[str, Any]:
    """The commit checked out in ``repo_dir`` and whether the work tree had uncommitted changes.

    Outside a git work tree (or without git) the commit and dirty flag are ``None`` and
    ``error`` says why; evidence is still written.
    """
    commit = _git(repo_dir, "rev-parse", "HEAD")
    if isinstance(commit, _GitFailure):
        return {"commit": None, "dirty": None, "error": commit.reason}
    status = _git(repo_dir, "status", "--porcelain")
    if isinstance(status, _GitFailure):
        return {"commit": commit, "dirty": None, "error": status.reason}
    return {"commit": commit, "dirty": bool(status.strip()), "error": None}


class _GitFailure:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _git(repo_dir: Path, *args: str) -> str | _GitFailure:
    try:
        done = subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        return _GitFailure("git is not installed")
    except subprocess.TimeoutExpired:
        return _GitFailure(f"git {' '.join(args)} took longer than {_GIT_TIMEOUT:g} s")
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "git failed"
        log.info("git %s in %s failed: %s", " ".join(args), repo_dir, reason)
        return _GitFailure(reason)
    return done.stdout.strip()


def host_identity() -> dict[str, str]:
    """The OS user and host name of the machine finalizing the run."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"  # no passwd entry and no LOGNAME/USER (some containers)
    return {"os_user": user, "hostname": socket.gethostname()}


def run_identity(caller_identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The identity section of a manifest: the STS caller identity plus the OS user and host."""
    aws = None
    if caller_identity is not None:
        aws = {key: value for key, value in caller_identity.items()
               if key != "ResponseMetadata"}
    return {"aws": aws, **host_identity()}
