"""A password planted in parameters and notebook outputs never reaches a sealed bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from drlib.errors import EvidenceError

from .conftest import PASSWORD, RUN_IDS, build_run, seal


def _files_containing(run_dir: Path, needle: str) -> list[str]:
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                  if p.is_file() and needle.encode() in p.read_bytes())


def test_no_file_of_a_sealed_bundle_contains_the_password(outputs: Path) -> None:
    """With the password in parameters, no file of the bundle (manifest included) contains it."""
    run_dir = build_run(outputs, RUN_IDS[0])
    seal(run_dir, parameters={"environment": "dev", "db_password": PASSWORD,
                              "dsn": f"postgresql://admin:{PASSWORD}@db:5432/app"})
    assert (run_dir / "manifest.json").is_file()
    assert _files_containing(run_dir, PASSWORD) == []
    assert "****" in (run_dir / "manifest.json").read_text()


def test_password_known_only_from_parameters_is_still_scanned_for(outputs: Path) -> None:
    """A secret-named parameter's value is scanned for even when not passed in ``secrets``."""
    run_dir = build_run(outputs, RUN_IDS[0], printed=f"password is {PASSWORD}")
    with pytest.raises(EvidenceError) as caught:
        seal(run_dir, secrets=[])
    assert caught.value.data["files"] == ["30_drill.html", "30_drill.ipynb"]
    assert PASSWORD not in caught.value.render()


def test_password_in_a_csv_is_refused(outputs: Path) -> None:
    """Every file is scanned, not only notebooks: a CSV holding the password is named."""
    run_dir = build_run(outputs, RUN_IDS[0])
    (run_dir / "canaries.csv").write_text(f"seq,writer\n1,{PASSWORD}\n")
    with pytest.raises(EvidenceError, match=r"canaries\.csv"):
        seal(run_dir)
