"""Executed notebooks rendered to standalone HTML that an auditor reads without Jupyter."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderResult:
    """One notebook's rendering: the HTML written, or why it could not be."""

    notebook: str
    html: str | None
    error: str | None = None


def notebooks_in(run_dir: Path) -> list[Path]:
    """Every notebook of a run folder, checkpoints excluded, sorted."""
    return sorted(p for p in run_dir.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and p.is_file())


REPORT_NOTEBOOKS = frozenset({"90_report"})
"""Rendered for an auditor without their code cells (the code is in the .ipynb beside it)."""


def render_notebook(notebook: Path) -> Path:
    """Render ``notebook`` to ``<name>.html`` beside it and return the path: images embedded,
    a title naming the run and the notebook, and no reference to any network resource (an
    auditor's offline machine opens it whole)."""
    import nbformat
    from nbconvert import HTMLExporter

    report = notebook.stem in REPORT_NOTEBOOKS
    exporter = HTMLExporter(embed_images=True, exclude_input=report,
                            exclude_input_prompt=report, exclude_output_prompt=report)
    node = nbformat.read(notebook, as_version=4)
    title = f"{notebook.stem} · {notebook.parent.name}"
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    target = notebook.with_suffix(".html")
    target.write_text(offline_html(body), encoding="utf-8")
    return target


def offline_html(body: str) -> str:
    """``body`` without scripts or stylesheets loaded from the network (nbconvert's template
    links require.js and MathJax from a CDN; these notebooks need neither)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, features="html.parser")
    for tag in soup.find_all(["script", "link"]):
        source = tag.get("src") or tag.get("href") or ""
        if str(source).startswith(("http://", "https://", "//")):
            tag.decompose()
    return str(soup)


def render_notebooks(run_dir: Path) -> list[RenderResult]:
    """Render every notebook of a run; a notebook that cannot be rendered is reported, not fatal.

    A failed or aborted run can leave a truncated notebook; its evidence must still be written.
    """
    results = []
    for notebook in notebooks_in(run_dir):
        rel = notebook.relative_to(run_dir).as_posix()
        try:
            html = render_notebook(notebook)
        except Exception as exc:  # any rendering failure is recorded in the manifest, not fatal
            log.warning("could not render %s to HTML: %s", rel, exc)
            results.append(RenderResult(notebook=rel, html=None,
                                        error=f"{type(exc).__name__}: {exc}"))
        else:
            results.append(RenderResult(notebook=rel, html=html.relative_to(run_dir).as_posix()))
    return results
