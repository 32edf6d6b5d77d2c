"""Finding the PostgreSQL server programs and the account that runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drlib.emulator.pgbin import REQUIRED, candidate_dirs, find_binaries, run_as
from drlib.errors import EmulatorError


def fake_installation(directory: Path, programs: tuple[str, ...] = REQUIRED) -> Path:
    """A directory with executable stand-ins for the named programs."""
    directory.mkdir(parents=True, exist_ok=True)
    for program in programs:
        path = directory / program
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return directory


def test_drlib_pg_bin_wins(tmp_path: Path) -> None:
    """DRLIB_PG_BIN is used when it holds every program."""
    chosen = fake_installation(tmp_path / "mine")
    found = find_binaries({"DRLIB_PG_BIN": str(chosen), "PATH": ""}, debian_root=tmp_path / "no")
    assert found.bin_dir == chosen
    assert found.path("pg_ctl") == str(chosen / "pg_ctl")


def test_incomplete_drlib_pg_bin_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    """A DRLIB_PG_BIN without pg_basebackup is refused, pointing at ensure-postgres.sh."""
    partial = fake_installation(tmp_path / "partial", ("initdb", "pg_ctl", "postgres"))
    with pytest.raises(EmulatorError, match=r"ensure-postgres\.sh"):
        find_binaries({"DRLIB_PG_BIN": str(partial), "PATH": ""}, debian_root=tmp_path / "no")


def test_nothing_found_says_what_was_searched(tmp_path: Path) -> None:
    """With no installation anywhere the error lists the places searched and the fix."""
    with pytest.raises(EmulatorError) as caught:
        find_binaries({"PATH": str(tmp_path)}, debian_root=tmp_path / "none")
    assert "DRLIB_PG_BIN" in caught.value.render()
    assert "ensure-postgres.sh" in caught.value.render()


@pytest.mark.parametrize(("majors", "expected"), [
    (["13", "15", "9.6"], ["15", "13", "9.6"]),
    (["10", "9.6", "16"], ["16", "10", "9.6"]),
    (["14"], ["14"]),
])
def test_debian_directories_newest_first(tmp_path: Path, majors: list[str],
                                         expected: list[str]) -> None:
    """/usr/lib/postgresql/<major>/bin are tried newest major version first."""
    for major in majors:
        fake_installation(tmp_path / major / "bin")
    (tmp_path / "common").mkdir()  # not a version: ignored
    dirs = candidate_dirs({"PATH": ""}, debian_root=tmp_path)
    assert dirs == [tmp_path / m / "bin" for m in expected]
    newest = find_binaries({"PATH": ""}, debian_root=tmp_path).bin_dir
    assert newest == tmp_path / expected[0] / "bin"


def test_path_installation_is_followed_through_its_link(tmp_path: Path) -> None:
    """A pg_ctl found on PATH through a symlink selects the directory it links into."""
    real = fake_installation(tmp_path / "real" / "bin")
    links = tmp_path / "links"
    links.mkdir()
    (links / "pg_ctl").symlink_to(real / "pg_ctl")
    assert candidate_dirs({"PATH": str(links)}, debian_root=tmp_path / "no") == [real]


def test_servers_never_run_as_root() -> None:
    """As root the servers run as an unprivileged account; otherwise as this process."""
    who = run_as()
    if os.geteuid() == 0:
        assert who.uid not in (None, 0)
    else:
        assert who.uid is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root needs another account")
def test_unknown_drlib_pg_user_is_an_error() -> None:
    """A DRLIB_PG_USER that does not exist is refused with a fix."""
    with pytest.raises(EmulatorError, match="DRLIB_PG_USER"):
        run_as({"DRLIB_PG_USER": "no-such-account-here"})
