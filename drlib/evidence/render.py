"""Executed notebooks rendered to standalone HTML that an auditor reads without Jupyter."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drlib.evidence.manifest import sha256_file

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
    return _render(notebook, notebook.read_bytes())


def _render(notebook: Path, data: bytes) -> Path:
    """:func:`render_notebook` of ``data``, the notebook's content."""
    import nbformat
    from nbconvert import HTMLExporter

    report = notebook.stem in REPORT_NOTEBOOKS
    exporter = HTMLExporter(embed_images=True, exclude_input=report,
                            exclude_input_prompt=report, exclude_output_prompt=report)
    node = nbformat.reads(data.decode("utf-8"), as_version=4)
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


def render_notebooks(run_dir: Path,
                     ahead: Mapping[str, str] | None = None) -> list[RenderResult]:
    """Render every notebook of a run; a notebook that cannot be rendered is reported, not fatal.

    A failed or aborted run can leave a truncated notebook; its evidence must still be written.
    ``ahead`` maps notebooks (relative paths) already rendered by a :class:`RenderAhead` to the
    SHA-256 of the content rendered: a notebook whose content is still that, and whose HTML is
    there, is not rendered again.
    """
    results = []
    for notebook in notebooks_in(run_dir):
        rel = notebook.relative_to(run_dir).as_posix()
        html = notebook.with_suffix(".html")
        if (ahead and rel in ahead and html.is_file()
                and sha256_file(notebook) == ahead[rel]):
            results.append(RenderResult(notebook=rel, html=html.relative_to(run_dir).as_posix()))
            continue
        try:
            html = render_notebook(notebook)
        except Exception as exc:  # any rendering failure is recorded in the manifest, not fatal
            log.warning("could not render %s to HTML: %s", rel, exc)
            results.append(RenderResult(notebook=rel, html=None,
                                        error=f"{type(exc).__name__}: {exc}"))
        else:
            results.append(RenderResult(notebook=rel, html=html.relative_to(run_dir).as_posix()))
    return results


def _serve() -> None:
    """The rendering process (see :class:`RenderAhead`): one notebook path a line on
    stdin; for each, one JSON line on stdout: the path and the SHA-256 of the content rendered,
    or the error."""
    import json
    import signal
    import sys

    # Ctrl-C reaches the whole process group: the runner decides, the renderer keeps going
    # (an aborted run is sealed too, and its notebooks rendered).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        try:
            data = Path(path).read_bytes()
            _render(Path(path), data)
            answer = {"notebook": path, "sha256": hashlib.sha256(data).hexdigest()}
        except Exception as exc:  # the seal renders it again, and records a failure there
            answer = {"notebook": path, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


class RenderAhead:
    """Notebooks rendered to HTML as each is done, in one separate process, while the chain goes
    on (about 0.7 s a notebook, otherwise all paid at the seal). A separate process, so the
    runner (and the emulator in it) keeps its interpreter to itself; a plain child process, not
    multiprocessing, whose "spawn" would run the caller's main script again.

    :meth:`done` gives what :func:`render_notebooks` takes as ``ahead``; a notebook whose
    rendering failed, or changed after it, is simply rendered again at the seal."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._process: Any = None
        self._reader: Any = None
        self._rendered: dict[str, str] = {}

    def submit(self, notebook: Path) -> None:
        """Render ``notebook`` (a file of the run folder) in the background."""
        if not notebook.is_file():
            return
        try:
            if self._process is None:
                self._start()
            self._process.stdin.write(f"{notebook}\n")
            self._process.stdin.flush()
        except Exception as exc:  # the seal renders it instead
            log.info("could not render %s ahead: %s", notebook.name, exc)

    def _start(self) -> None:
        import sys
        import threading

        self._process = subprocess.Popen(
            # -P: the drlib the runner runs, never one in the current folder; paths in UTF-8
            [sys.executable, "-P", "-X", "utf8", "-c",
             "from drlib.evidence.render import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,),
                                        name="drlib-render-ahead", daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        import json

        for line in stream:
            try:
                answer = json.loads(line)
                rel = Path(answer["notebook"]).relative_to(self.run_dir).as_posix()
            except (ValueError, KeyError, TypeError):
                continue
            if answer.get("sha256"):
                self._rendered[rel] = str(answer["sha256"])
            else:
                log.info("rendering %s ahead failed: %s", rel, answer.get("error"))

    def done(self, timeout_s: float = 60.0) -> dict[str, str]:
        """Each notebook rendered ahead and the SHA-256 of what was rendered, once the
        rendering process has finished what it was given (at most ``timeout_s``)."""
        process = self._process
        if process is None:
            return {}
        try:
            process.stdin.close()
            process.wait(timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.info("rendering ahead did not finish: %s", exc)
        self.close()
        self._reader.join(5.0)
        return dict(self._rendered)

    def close(self) -> None:
        """Stop the rendering process (whatever it was doing)."""
        import contextlib

        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(5)
