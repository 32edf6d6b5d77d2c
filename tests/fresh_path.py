"""A new machine's process environment, for tests of what must not depend on the caller's shell.

The same rule as ``.ci/run`` and ``../shared/tools/fresh-clone-check``: no ``~/.local`` or
``~/.cargo`` directories (where uv and ``pip --user`` tools live on a worked-on machine), no
virtual environment's ``bin`` and no activated environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ACTIVATION_VARIABLES = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "CONDA_PREFIX")


def fresh_machine_path(path: str | None = None) -> str:
    """``path`` (default PATH) without the directories a new machine does not have."""
    home = os.path.expanduser("~")
    kept = [entry for entry in (path if path is not None else os.environ.get("PATH", "")).split(
        os.pathsep) if entry and not entry.startswith((f"{home}/.local", f"{home}/.cargo"))
            and "/.venv/" not in f"{entry}/" and "virtualenv" not in entry]
    return os.pathsep.join(kept)


def fresh_machine_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) with a fresh machine's PATH and no activated environment."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()
           if k not in ACTIVATION_VARIABLES}
    env["PATH"] = fresh_machine_path(env.get("PATH", ""))
    return env
