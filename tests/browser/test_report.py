"""The sealed report as an auditor opens it: one HTML file, offline, in a real browser.

The screenshots are kept in pytest's temporary folder (``report.png``: the first screen at
1280x800) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import papermill
import pytest

from drlib.evidence import verify
from drlib.evidence.manifest import manifest_sha256
from drlib.notebook_params import notebook_path
from tests.evidence.conftest import build_drill_run, build_run, seal

pytestmark = pytest.mark.slow

RUN_ID = "20261128T170102Z_dev_planned-switchover"


FIRST_SCREEN = {"width": 1280, "height": 800}


def _offline(browser: Any) -> tuple[Any, list[str]]:
    """A browser context with the network off and every non-file request refused (recorded)."""
    context = browser.new_context(viewport=FIRST_SCREEN, offline=True)
    requested: list[str] = []

    def refuse(route: Any) -> None:
        if not route.request.url.startswith(("file:", "data:")):
            requested.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    context.on("request", lambda request: None if request.url.startswith(("file:", "data:"))
               else requested.append(request.url))
    return context, requested


def test_auditors_report_answers_on_the_first_screen_offline(browser: Any,
                                                             tmp_path: Path) -> None:
    """report.html of a sealed drill, opened from disk with the network off: no request, every
    chart loads (with alternative text), and the verdict, RTO and RPO per store, the sign-off
    state and the manifest's SHA-256 are all within the first 1280x800 screen."""
    run_dir = build_drill_run(tmp_path / "outputs", RUN_ID)
    seal(run_dir)
    context, requested = _offline(browser)
    page = context.new_page()
    page.goto((run_dir / "report.html").as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(tmp_path / "report.png"))
    page.screenshot(path=str(tmp_path / "report-full.png"), full_page=True)
    assert requested == []
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete && e.naturalWidth, e.alt])")
    assert len(images) == 4, images
    assert all(width > 0 for width, _ in images), images
    assert all(alt and not alt.startswith("Chart ") for _, alt in images[:3]), images
    assert RUN_ID in page.title()
    assert page.title().startswith("DR drill:")

    def on_first_screen(selector: str) -> str:
        box = page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect();"
                                              " return [r.top, r.bottom, e.innerText]; }")
        assert box[0] >= 0, (selector, box)
        assert box[1] <= FIRST_SCREEN["height"], (selector, box)
        return str(box[2])

    assert on_first_screen("#verdict") == "PASSED"
    assert on_first_screen("#manifest-sha256") == manifest_sha256(run_dir)
    assert "not signed off" in on_first_screen("#signoff")
    results = on_first_screen("#results table")
    for row in ("RTO\tall (slowest aurora)\t5.92 s\t≤ 900 s", "RPO\ts3\t0 of 90 lost"):
        assert row in results, results
    assert "No failure and no warning" in on_first_screen("#findings h2 + .finding")
    assert "Planned switchover" in on_first_screen("#tested dl dd")
    assert "import " not in page.inner_text("body")
    context.close()


def test_report_pdf_is_printed_alongside_and_covered(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With Chromium at hand, sealing prints report.pdf from report.html (nothing fetched) and
    report.json covers it like the HTML."""
    import json

    monkeypatch.setenv("DRLIB_REPORT_PDF", "1")
    run_dir = build_drill_run(tmp_path / "outputs", RUN_ID)
    seal(run_dir)
    pdf = run_dir / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    record = json.loads((run_dir / "report.json").read_text())
    assert [f["path"] for f in record["files"]] == ["report.html", "report.pdf"]
    assert record["pdf"] == "made"
    assert verify(tmp_path / "outputs").ok
    pdf.write_bytes(pdf.read_bytes() + b"\n% appended")
    assert [(p.kind, p.path) for p in verify(tmp_path / "outputs").problems] == [
        ("modified", "report.pdf")]


def test_sealed_report_opens_offline_with_every_chart_and_no_code(browser: Any,
                                                                  tmp_path: Path) -> None:
    """90_report.html of a sealed run (the notebook, an appendix of the auditor's report),
    opened from disk with every network request refused, makes no network request, shows every
    chart (with alternative text), no code, a title naming the run, and the verdict on its first
    screen."""
    run_dir = build_run(tmp_path / "outputs", RUN_ID)
    papermill.execute_notebook(str(notebook_path("90_report")), str(run_dir / "90_report.ipynb"),
                               parameters={"run_dir": str(run_dir),
                                           "outputs_dir": str(run_dir.parent)},
                               kernel_name="python3", progress_bar=False)
    seal(run_dir)
    report = run_dir / "90_report.html"
    context, requested = _offline(browser)
    page = context.new_page()
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    page.screenshot(path=str(tmp_path / "report.png"))
    assert requested == []
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.naturalWidth, e.alt])")
    assert images, "no chart in the report"
    assert all(width > 0 for width, _ in images), images
    assert all(alt and "No description" not in alt for _, alt in images), images
    assert RUN_ID in page.title()
    assert "run_report(" not in page.inner_text("body")
    verdict = page.evaluate(
        "() => [...document.querySelectorAll('tr')].filter(r => r.querySelector('th') &&"
        " r.querySelector('th').innerText.trim() === 'verdict').map(r => ["
        "r.querySelector('td').innerText.trim(),"
        " r.getBoundingClientRect().bottom <= window.innerHeight])")
    assert verdict == [["pass", True]], verdict  # the verdict, on the first screen
    context.close()
