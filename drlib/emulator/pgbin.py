"""Find the PostgreSQL server binaries the Aurora stand-in runs (initdb, pg_ctl, pg_basebackup).

Search order: the directory in ``DRLIB_PG_BIN``; ``PATH``; ``/usr/lib/postgresql/<major>/bin``,
newest major first. PostgreSQL refuses to run as root, so when this process is root the servers
run as an unprivileged account (``DRLIB_PG_USER``, default ``postgres``, else ``nobody``).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drlib.errors import EmulatorError

REQUIRED = ("initdb", "pg_ctl", "postgres", "pg_basebackup")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
_FIX = ("run scripts/ensure-postgres.sh, or set DRLIB_PG_BIN to the directory holding initdb "
        "and pg_ctl")


@dataclass(frozen=True)
class PgBinaries:
    """Absolute paths of the server programs, all from one installation."""

    bin_dir: Path

    def path(self, program: str) -> str:
        """The absolute path of ``program`` (e.g. ``"pg_ctl"``) in this installation."""
        return str(self.bin_dir / program)


@dataclass(frozen=True)
class RunAs:
    """The account that owns the data directories and runs the servers (None: this process)."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None


def _complete(directory: Path) -> bool:
    return all(os.access(directory / p, os.X_OK) for p in REQUIRED)


def _debian_dirs(root: Path = DEBIAN_ROOT) -> list[Path]:
    """``/usr/lib/postgresql/*/bin``, newest major version first."""
    if not root.is_dir():
        return []
    majors = [p for p in root.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
    majors.sort(key=lambda p: tuple(int(x) for x in p.name.split(".")), reverse=True)
    return [p / "bin" for p in majors]


def candidate_dirs(environ: Mapping[str, str] | None = None, debian_root: Path = DEBIAN_ROOT
                   ) -> list[Path]:
    """Where to look, in order (the ``DRLIB_PG_BIN`` directory, PATH's pg_ctl, Debian's)."""
    env = os.environ if environ is None else environ
    found: list[Path] = []
    if env.get("DRLIB_PG_BIN"):
        found.append(Path(env["DRLIB_PG_BIN"]))
    on_path = shutil.which("pg_ctl", path=env.get("PATH"))
    if on_path:
        # Debian links /usr/local/bin/pg_ctl to the versioned directory: follow it so every
        # program comes from the same installation.
        found.append(Path(on_path).resolve().parent)
    found.extend(_debian_dirs(debian_root))
    return found


def find_binaries(environ: Mapping[str, str] | None = None, debian_root: Path = DEBIAN_ROOT
                  ) -> PgBinaries:
    """The first candidate directory that has every required program; raises if none does."""
    env = os.environ if environ is None else environ
    candidates = candidate_dirs(env, debian_root)
    if env.get("DRLIB_PG_BIN") and not _complete(Path(env["DRLIB_PG_BIN"])):
        raise EmulatorError(
            "DRLIB_PG_BIN does not hold the PostgreSQL server programs",
            expected=f"{', '.join(REQUIRED)} in {env['DRLIB_PG_BIN']}",
            found="some are missing or not executable",
            fix=_FIX,
        )
    for directory in candidates:
        if _complete(directory):
            return PgBinaries(bin_dir=directory)
    raise EmulatorError(
        "PostgreSQL server binaries not found (the emulator's Aurora stand-in needs them)",
        expected=f"{', '.join(REQUIRED)} in DRLIB_PG_BIN, on PATH or in {DEBIAN_ROOT}/*/bin",
        found="searched " + (", ".join(str(c) for c in candidates) or "nothing"),
        fix=_FIX,
    )


def run_as(environ: Mapping[str, str] | None = None) -> RunAs:
    """Who runs the servers: this process, or (as root) an unprivileged account."""
    if os.geteuid() != 0:
        return RunAs()
    env = os.environ if environ is None else environ
    names = [env["DRLIB_PG_USER"]] if env.get("DRLIB_PG_USER") else ["postgres", "nobody"]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
    raise EmulatorError(
        "PostgreSQL refuses to run as root and no unprivileged account was found",
        expected=f"one of the accounts {', '.join(names)}",
        found="none exists",
        fix="set DRLIB_PG_USER to an unprivileged account, or run the emulator as a normal user",
    )
