"""The order `make test` runs the modules in: the longest first (see tests/conftest.py)."""

from __future__ import annotations

import re

from tests.conftest import LONGEST_MODULES, REPO


def test_the_longest_modules_named_for_scheduling_exist() -> None:
    """A renamed or removed module would silently lose its early start."""
    assert [module for module in LONGEST_MODULES if not (REPO / module).is_file()] == []


def test_make_test_keeps_the_suites_order() -> None:
    """pytest-xdist reorders modules by their number of tests unless told not to, which put the
    longest end-to-end modules (few tests, minutes each) last and left them trailing alone."""
    recipe = re.search(r"^test:.*\n\t(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert recipe is not None
    assert "--dist loadfile" in recipe.group(1)
    assert "--no-loadscope-reorder" in recipe.group(1)
