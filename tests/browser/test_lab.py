"""JupyterLab as a person uses it: open a notebook, Run All, read what it shows."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Lab

pytestmark = pytest.mark.slow


ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden)"
"""The notebook on screen (JupyterLab keeps other open notebooks hidden in the DOM)."""


def _run_all(page: Any, lab: Lab, notebook: str, timeout_s: float = 600) -> dict[str, Any]:
    """Open ``notebook`` (a fresh workspace), Run All Cells from the menu, wait until the kernel
    is idle with no cell busy, and return what the page shows: error outputs, stderr blocks,
    images (natural width, alt text), cells never run, the notebook's text."""
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset&token={lab.token}")
    page.wait_for_selector(f"{ACTIVE} .jp-Cell", timeout=90_000)
    # The kernel is ready: the status bar reads "Python 3 (ipykernel) | Idle".
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=90_000)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    began, quiet = time.monotonic(), 0
    while quiet < 3:  # three idle polls in a row with no cell busy
        time.sleep(1)
        busy = page.eval_on_selector_all(
            f"{ACTIVE} .jp-InputPrompt", "els => els.filter(e => e.textContent.includes('*'))"
            ".length")
        idle = page.evaluate("() => document.body.innerText.includes('| Idle')")
        quiet = quiet + 1 if (idle and busy == 0 and time.monotonic() - began > 3) else 0
        if time.monotonic() - began > timeout_s:
            page.screenshot(path=str(lab.outputs.parent / f"{notebook}.timeout.png"))
            pytest.fail(f"{notebook} still running after {timeout_s} s")
    return {
        "errors": page.eval_on_selector_all(
            f"{ACTIVE} [data-mime-type='application/vnd.jupyter.error']",
            "els => els.map(e => e.textContent.slice(0, 800))"),
        "stderr": page.eval_on_selector_all(
            f"{ACTIVE} [data-mime-type='application/vnd.jupyter.stderr']",
            "els => els.map(e => e.textContent.slice(0, 800))"),
        "images": page.eval_on_selector_all(
            f"{ACTIVE} .jp-OutputArea-output img", "els => els.map(e => [e.naturalWidth, e.alt])"),
        "not_run": page.eval_on_selector_all(
            f"{ACTIVE} .jp-CodeCell .jp-InputPrompt",
            "els => els.filter(e => e.textContent.includes('[ ]')).length"),
        "text": page.inner_text(ACTIVE),
    }


def test_notebooks_run_in_jupyterlab_without_errors_and_charts_render(browser: Any,
                                                                       lab: Lab) -> None:
    """In a real browser, 00_deploy, 10_readiness and 50_cost run with Run All: no error and no
    stderr output, the cost charts render as images, and the whole session writes one
    interactive evidence folder."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    deploy = _run_all(page, lab, "00_deploy.ipynb")
    page.screenshot(path=str(lab.outputs.parent / "00_deploy.png"))
    assert deploy["errors"] == []
    assert deploy["not_run"] == 0
    assert deploy["stderr"] == []
    assert "primary/kms" in deploy["text"]
    readiness = _run_all(page, lab, "10_readiness.ipynb")
    assert readiness["errors"] == []
    assert readiness["not_run"] == 0
    assert readiness["stderr"] == []
    cost = _run_all(page, lab, "50_cost.ipynb")
    assert cost["errors"] == []
    assert cost["not_run"] == 0
    assert cost["images"], "no chart was displayed"
    assert all(width > 0 for width, _ in cost["images"]), cost["images"]
    page.screenshot(path=str(lab.outputs.parent / "lab.png"))
    assert "Jupyter news" not in page.inner_text("body")  # no news question over the notebook
    folders = [p for p in lab.outputs.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    assert folders[0].name.endswith("_lab_interactive")
    assert (folders[0] / "interactive.json").is_file()


def test_stopping_the_lab_stops_the_emulator_it_started(lab: Lab) -> None:
    """SIGTERM to `drlib lab` ends JupyterLab and the emulator it started (no state left)."""
    assert (lab.state_dir / "emulator.json").is_file()
    lab.process.terminate()
    assert lab.process.wait(timeout=60) in (0, 130, -15)
    assert not (lab.state_dir / "emulator.json").exists()


def test_lab_asks_no_news_question(browser: Any, lab: Lab) -> None:
    """JupyterLab's announcements plugin (the "Would you like to receive official Jupyter news?"
    toast, and its requests to the internet) is disabled by `drlib lab`'s page config."""
    import json

    import requests

    page = requests.get(f"{lab.url}/lab", params={"token": lab.token}, timeout=30).text
    marker = '<script id="jupyter-config-data" type="application/json">'
    config = json.loads(page.split(marker, 1)[1].split("</script>", 1)[0])
    assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"]
    view = browser.new_page(viewport={"width": 1400, "height": 1000})
    view.goto(f"{lab.url}/lab?reset&token={lab.token}")
    view.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    time.sleep(5)  # the question used to appear a moment after the launcher
    view.screenshot(path=str(lab.outputs.parent / "launcher.png"))
    assert "Jupyter news" not in view.inner_text("body")
    view.close()
