"""drlib errors in a notebook: one clear block, the traceback folded, the cell still failed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from drlib.errors import DrError
from drlib.notebook_errors import render_html

CODE = '''from drlib.notebook_params import validate
from drlib.errors import StackError
validate("95_history", {})
def deep():
    raise StackError("The primary stacks have no output VpcId", expected="an output VpcId",
                     found="no outputs (are the stacks deployed?)",
                     fix="deploy first: run notebook 00_deploy")
deep()
'''


def test_html_block_has_message_fields_and_folded_traceback() -> None:
    """The block shows message, expected, found and fix; the traceback is in <details>."""
    error = DrError("Boom <here>", expected="e", found="f", fix="run notebook 00_deploy")
    block = render_html(error, "Traceback ...\n  line 1")
    assert "Boom &lt;here&gt;" in block
    assert "run notebook 00_deploy" in block
    assert "<details>" in block
    assert block.index("run notebook 00_deploy") < block.index("<details>")


@pytest.mark.slow
def test_a_drlib_error_in_a_notebook_is_one_block_and_still_fails_the_cell(
        tmp_path: Path) -> None:
    """Through papermill the cell fails as before; its error output is the message alone (no
    traceback wall) and a display block carries the fix and the folded traceback."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CODE)]
    nbformat.write(notebook, tmp_path / "in.ipynb")
    with pytest.raises(PapermillExecutionError, match="StackError"):
        papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = next(c for c in executed.cells if c.cell_type == "code").outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(shown) == 1
    assert "deploy first: run notebook 00_deploy" in shown[0].data["text/html"]
    assert "<details>" in shown[0].data["text/html"]
    assert len(errors) == 1
    text = "\n".join(errors[0].traceback)
    assert "fix:" in text
    assert "Traceback" not in text
    assert "deep()" not in text
