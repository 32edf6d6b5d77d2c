"""The sealed report as an auditor opens it: one HTML file, offline, in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import papermill
import pytest

from drlib.notebook_params import notebook_path
from tests.evidence.conftest import build_run, seal

pytestmark = pytest.mark.slow

RUN_ID = "20261128T170102Z_dev_planned-switchover"


def test_sealed_report_opens_offline_with_every_chart_and_no_code(browser: Any,
                                                                  tmp_path: Path) -> None:
    """90_report.html of a sealed run, opened from disk with every network request refused,
    makes no network request, shows every chart (with alternative text), no code, a title
    naming the run, and the verdict on its first screen."""
    run_dir = build_run(tmp_path / "outputs", RUN_ID)
    papermill.execute_notebook(str(notebook_path("90_report")), str(run_dir / "90_report.ipynb"),
                               parameters={"run_dir": str(run_dir),
                                           "outputs_dir": str(run_dir.parent)},
                               kernel_name="python3", progress_bar=False)
    seal(run_dir)
    report = run_dir / "90_report.html"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    requested: list[str] = []

    def refuse(route: Any) -> None:
        if not route.request.url.startswith(("file:", "data:")):
            requested.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
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
