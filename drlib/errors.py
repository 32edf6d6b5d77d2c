"""The one error family of drlib.

Every error says what was expected, what was found, and what to do about it. The command line
prints the message without a traceback (unless ``--debug``) and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DrError(Exception):
    """Base of every error drlib raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.expected = expected
        self.found = found
        self.fix = fix
        self.data: dict[str, Any] = dict(data or {})
        super().__init__(self.render())

    def render(self) -> str:
        """The message with its expected / found / fix lines, as the CLI prints it."""
        lines = [self.message]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.found is not None:
            lines.append(f"  found:    {self.found}")
        if self.fix is not None:
            lines.append(f"  fix:      {self.fix}")
        return "\n".join(lines)

    def _render_traceback_(self) -> list[str]:
        """How IPython shows this error in a notebook: one block, the traceback folded."""
        from drlib.notebook_errors import show

        return show(self)


class ConfigError(DrError):
    """Bad input: parameters, environment names, targets, files."""


class WaitTimeout(DrError):
    """A bounded wait ran out before its condition held."""


class EmulatorError(DrError):
    """The embedded emulator could not start, stop or answer."""


class StackError(DrError):
    """A CloudFormation stack or Sceptre operation failed."""


class ReadinessError(DrError):
    """A drill refused to start because a readiness check failed."""


class DrillAborted(DrError):
    """A drill stopped part-way; its evidence is still written and marked aborted."""


class EvidenceError(DrError):
    """An evidence bundle is incomplete, altered, or could not be stored."""
