"""drlib errors as a notebook shows them: one clear block, the traceback folded away.

IPython asks an exception for ``_render_traceback_`` before formatting its traceback;
:class:`~drlib.errors.DrError` answers with :func:`show`. The cell still fails (papermill and the
runner see the error as before), but instead of fifty lines of internal traceback the output is
the error's message with what was expected, what was found and the fix, and the full traceback
sits in a closed ``<details>`` block.
"""

from __future__ import annotations

import html
import traceback

from drlib.errors import DrError


def render_html(error: DrError, trace: str) -> str:
    """The error as an HTML block with the traceback folded."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{label}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for label, value in (("expected", error.expected), ("found", error.found),
                             ("fix", error.fix)) if value is not None)
    return ("<div style='border-left:4px solid #c62828;padding:0.5em 1em;"
            "background:#fdecea'>"
            f"<strong>{html.escape(type(error).__name__)}: {html.escape(error.message)}</strong>"
            f"<table style='margin-top:0.5em'>{rows}</table>"
            "<details><summary>traceback (for drlib's developers)</summary>"
            f"<pre>{html.escape(trace)}</pre></details></div>")


def show(error: DrError) -> list[str]:
    """IPython's ``_render_traceback_`` for drlib errors: display the block (traceback folded)
    and return the short error text the cell's error output carries."""
    if not getattr(error, "_drlib_shown", False):  # IPython may ask twice for one error
        error._drlib_shown = True  # type: ignore[attr-defined]
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        from IPython.display import HTML, display

        display(HTML(render_html(error, trace)))
    return [f"{type(error).__name__}: {error.render()}"]
