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


def render_notebook(notebook: Path) -> Path:
    """Render ``notebook`` to ``<name>.html`` beside it (images embedded) and return the path."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(embed_images=True)
    node = nbformat.read(notebook, as_version=4)
    body, _ = exporter.from_notebook_node(node)
    target = notebook.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


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
