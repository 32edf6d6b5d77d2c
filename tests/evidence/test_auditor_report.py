"""The auditor's report: rendered from the sealed manifest, covered by report.json, verified."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from drlib.cli import main
from drlib.errors import EvidenceError
from drlib.evidence import sign_off, verify
from drlib.evidence.auditor import render_report
from drlib.evidence.manifest import (
    canonical_json,
    content_digest,
    manifest_sha256,
    read_manifest,
    sha256_file,
)

from .conftest import RUN_IDS, build_drill_run, build_run, seal

RUN = "20261206T112929Z_dev_planned-switchover"


def _kinds(outputs: Path) -> list[tuple[str, str | None]]:
    return sorted((p.kind, p.path) for p in verify(outputs).problems)


def test_sealing_renders_the_report_and_records_it(outputs: Path) -> None:
    """finalize_run declares the report in the manifest, renders it from the sealed manifest and
    records its SHA-256 with the manifest's in report.json; the bundle verifies clean."""
    run_dir = build_drill_run(outputs, RUN)
    manifest = seal(run_dir)
    assert manifest.report == "report.html"
    assert "report.html" not in {f.path for f in manifest.files}  # rendered after the manifest
    record = json.loads((run_dir / "report.json").read_text())
    assert record["manifest_sha256"] == manifest_sha256(run_dir)
    assert record["files"] == [{"path": "report.html",
                                "sha256": sha256_file(run_dir / "report.html"),
                                "size": (run_dir / "report.html").stat().st_size}]
    assert record["content_sha256"] == content_digest(record)
    assert record["pdf"].startswith("not made")
    assert verify(outputs).ok, verify(outputs).table()


def test_report_answers_on_its_first_screen_offline_without_code(outputs: Path) -> None:
    """One self-contained file: a real title, the sealed status, the manifest's hash, RTO and
    RPO per store with target and reference, the verdict and findings, the sign-off state; no
    script, no code, nothing from the network, every chart embedded with alternative text."""
    run_dir = build_drill_run(outputs, RUN)
    seal(run_dir)
    html = (run_dir / "report.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.title is not None
    assert RUN in soup.title.text
    assert soup.title.text.startswith("DR drill: planned switchover on dev, passed")
    assert soup.find_all("script") == []
    assert soup.find_all("link") == []
    for tag in soup.find_all(src=True) + soup.find_all(href=True):
        assert not re.match(r"^(https?:)?//", tag.get("src") or tag.get("href")), tag
    images = soup.find_all("img")
    assert [img["alt"] for img in images][:3] == [
        "Timeline of the drill's steps: when each started and ended, and its outcome",
        "Canary writes per store over time (acknowledged, rejected, lost) with the disaster, "
        "the cutover, the DNS move and the outage marked",
        "Measured RTO and RPO per store against the environment's targets"]
    assert all(img["src"].startswith("data:image/png;base64,") for img in images)
    assert len(images) == 4  # and charts/lag.png
    assert soup.select_one("#verdict").text.strip() == "PASSED"
    assert soup.select_one("#manifest-sha256").text == manifest_sha256(run_dir)
    assert "not signed off" in soup.select_one("#signoff").text
    tested = soup.select_one("#tested").text
    for fact in ("Planned switchover", "dev", "us-east-1 (primary) → us-west-2 (secondary)",
                 "arn:aws:iam::123456789012:user/dr-engineer", "Time scale 0.1",
                 "Modelled RTO on AWS"):
        assert fact in tested, fact
    rows = [[td.text.strip() for td in tr.find_all(["th", "td"])]
            for tr in soup.select("#results tbody tr")]
    assert rows[0] == ["RTO", "all (slowest aurora)", "5.92 s", "≤ 900 s",
                       "60 s (AWS); DNS 80 s (as deployed)", "within target"]
    assert [r[:2] for r in rows[1:]] == [["RTO", "aurora"], ["RTO", "dynamodb"], ["RTO", "s3"],
                                         ["RPO", "aurora"], ["RPO", "dynamodb"], ["RPO", "s3"]]
    assert rows[4][2:] == ["0 of 90 lost", "0 records (planned)", "0 s (AWS)", "within target"]
    assert "No failure and no warning" in soup.select_one("#findings").text
    assert "db_password" in html
    assert "s3cr3t" not in html
    assert str(run_dir) not in html  # no absolute path of this machine
    assert "import " not in soup.get_text()


def test_failed_run_shows_its_failures_first(outputs: Path) -> None:
    """A failed drill's report says FAILED and puts the failure findings on the first screen."""
    run_dir = build_drill_run(outputs, RUN, status="failed")
    seal(run_dir, status="failed")
    soup = BeautifulSoup((run_dir / "report.html").read_text(), "html.parser")
    assert soup.select_one("#verdict").text.strip() == "FAILED"
    failures = [d.text for d in soup.select("#findings .finding.failure")]
    assert failures == ["failureaurora: 3 of 90 acknowledged records lost; a planned switchover "
                        "must lose none (AWS: switchover RPO 0)"]
    rpo_aurora = [td.text.strip() for td in soup.select("#results tbody tr")[4].find_all("td")]
    assert rpo_aurora[1:] == ["3 of 90 lost (1.2 s)", "0 records (planned)",
                              "0 s (AWS)", "over target"]


def test_report_of_an_aborted_run_with_little_recorded(outputs: Path) -> None:
    """A run that recorded no RTO or RPO still gets a report saying so."""
    run_dir = build_run(outputs, RUN, status="aborted")
    (run_dir / "chain.json").write_text(json.dumps({"status": "aborted", "notebooks": [
        {"notebook": "20_failover_drill", "outcome": "failed", "seconds": 3.0,
         "error": "DrillError: the lock is held"}]}))
    seal(run_dir, status="aborted")
    soup = BeautifulSoup((run_dir / "report.html").read_text(), "html.parser")
    assert soup.select_one("#verdict").text.strip() == "ABORTED"
    assert ("The run stopped before the drill completed: 20_failover_drill: DrillError: the "
            "lock is held") in " ".join(soup.select_one("#summary").text.split())
    assert "RTO" in soup.select_one("#results").text
    assert verify(outputs).ok


@pytest.mark.parametrize(("tamper", "expected"), [
    ("edit", [("modified", "report.html")]),
    ("delete", [("removed", "report.html")]),
    ("delete both", [("report-missing", "report.json")]),
    ("edit addendum", [("report-modified", "report.json")]),
    ("replace both", [("report-modified", "report.json")]),
    ("add pdf", [("added", "report.pdf")]),
])
def test_verify_catches_tampering_with_the_report(outputs: Path, tamper: str,
                                                  expected: list[tuple[str, str]]) -> None:
    """An edited, deleted, replaced or added report file, or an edited report.json, is a change
    `drlib evidence verify` reports (exit 1)."""
    run_dir = build_drill_run(outputs, RUN)
    seal(run_dir)
    report, addendum = run_dir / "report.html", run_dir / "report.json"
    if tamper in ("edit", "replace both"):
        report.write_text(report.read_text().replace("PASSED", "PASSED!"))
    if tamper.startswith("delete"):
        report.unlink()
    if tamper == "delete both":
        addendum.unlink()
    if tamper in ("edit addendum", "replace both"):
        record = json.loads(addendum.read_text())
        record["files"][0]["sha256"] = sha256_file(report)
        record["rendered_at"] = "2026-12-24T00:00:00.000+00:00"
        addendum.write_bytes(canonical_json(record))  # the digest not recomputed
    if tamper == "add pdf":
        (run_dir / "report.pdf").write_bytes(b"%PDF-1.4 forged")
    assert _kinds(outputs) == expected
    assert main(["evidence", "verify", "--outputs", str(outputs)]) == 1


def test_report_command_renders_a_run_sealed_without_one(outputs: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """`drlib evidence report RUN` renders the report of a run sealed before reports existed,
    once; a run that fails verification gets none."""
    run_dir = build_drill_run(outputs, RUN)
    seal(run_dir, report=False)
    assert read_manifest(run_dir).report is None
    assert verify(outputs).ok  # nothing declared, nothing missing
    assert main(["evidence", "report", RUN, "--outputs", str(outputs), "--no-pdf"]) == 0
    assert "report.html  sha256" in capsys.readouterr().out
    assert verify(outputs).ok
    with pytest.raises(EvidenceError, match="already has its report"):
        render_report(run_dir)
    other = build_drill_run(outputs, RUN_IDS[0])
    seal(other, report=False)
    (other / "lag.csv").write_text("changed")
    assert main(["evidence", "report", RUN_IDS[0], "--outputs", str(outputs)]) == 2
    assert not (other / "report.html").exists()


def test_report_declared_but_never_rendered_is_missing(outputs: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendering failure never loses the seal; verify then says the report is missing, and
    `drlib evidence report RUN` renders it."""
    import drlib.evidence.auditor as auditor

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("template exploded")

    run_dir = build_drill_run(outputs, RUN)
    with monkeypatch.context() as patch:
        patch.setattr(auditor, "render_html", broken)
        seal(run_dir)
    assert (run_dir / "manifest.json").is_file()
    assert _kinds(outputs) == [("report-missing", "report.json")]
    assert main(["evidence", "report", RUN, "--outputs", str(outputs), "--no-pdf"]) == 0
    assert verify(outputs).ok


def test_sign_off_after_the_report_leaves_it_as_rendered(outputs: Path) -> None:
    """A sign-off is a chained file of its own: the report, rendered at sealing, is not
    rewritten (the archived copy stays identical) and the bundle still verifies."""
    run_dir = build_drill_run(outputs, RUN)
    seal(run_dir)
    before = sha256_file(run_dir / "report.html")
    sign_off(run_dir, "Jane Auditor", "reviewed the report")
    assert sha256_file(run_dir / "report.html") == before
    assert verify(outputs).ok


def test_report_rendered_after_a_sign_off_shows_it_and_notices_its_removal(outputs: Path
                                                                           ) -> None:
    """A report rendered on request after a sign-off names the reviewer; deleting that sign-off
    afterwards is caught through report.json even when it was the last one."""
    run_dir = build_drill_run(outputs, RUN)
    seal(run_dir, report=False)
    sign_off(run_dir, "Jane Auditor", "reviewed")
    render_report(run_dir, pdf=False)
    soup = BeautifulSoup((run_dir / "report.html").read_text(), "html.parser")
    assert "Jane Auditor" in soup.select_one("#signoff").text
    (run_dir / "signoffs" / "0001.json").unlink()
    assert _kinds(outputs) == [("signoff-removed", "signoffs/0001.json")]


def test_an_appendix_that_cannot_be_built_is_named_not_fatal(outputs: Path) -> None:
    """A damaged notebook (here: an error output without a message, as an interrupted kernel
    leaves) or a malformed metrics section costs its appendix at most, never the report."""
    import nbformat

    run_dir = build_drill_run(outputs, RUN)
    node = nbformat.read(run_dir / "30_drill.ipynb", as_version=4)
    node.cells[-1].outputs.append(nbformat.v4.new_output("error", ename="KeyboardInterrupt",
                                                         evalue="", traceback=[]))
    nbformat.write(node, run_dir / "30_drill.ipynb")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["timeline"] = [{"step": "guardrails", "started_at": 5}]  # not a time
    metrics["published_figures"] = {"aurora_rto": "sixty seconds"}  # not a figure
    metrics["measured"]["rto_per_store"] = {"aurora": 5.9}  # not a measurement
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    seal(run_dir)
    soup = BeautifulSoup((run_dir / "report.html").read_text(), "html.parser")
    assert soup.select_one("#verdict").text.strip() == "PASSED"
    assert soup.select_one("#manifest-sha256").text == manifest_sha256(run_dir)
    assert "Could not be shown" in soup.select_one("#results").text
    assert "RTO and RPO: AttributeError" in soup.select_one("#integrity").text
    notebooks = soup.select_one("#notebooks").text
    assert "KeyboardInterrupt" in notebooks
    assert verify(outputs).ok


def test_every_drill_scenario_is_described_for_the_auditor() -> None:
    """Each scenario a drill can run has its own title and description in the report, never the
    generic "Scenario <name>" fallback."""
    from drlib.drill import PLANS
    from drlib.evidence.auditor import SCENARIOS

    assert {s for s in PLANS if s != "failback"} <= set(SCENARIOS)
