"""What a notebook opens first: the target, the environment's workload, the run folder.

Notebooks stay thin: ``session = open_session(environment, target, run_dir)`` and then a few
drlib calls. A notebook run by papermill gets the run folder from the runner; one run by hand in
JupyterLab gets a new folder under ``outputs/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from drlib.aws import RegionPair
from drlib.stacks import SceptreProject
from drlib.targets import Target, open_target
from drlib.workload import (
    Workload,
    chain_stack_outputs,
    project_regions,
    workload_from_outputs,
)

REPO_DIR = Path(__file__).resolve().parents[1]
LAB_RUN_DIR_VARIABLE = "DRLIB_RUN_DIR"
"""Set by ``drlib lab``: the one run folder of the session, used when a notebook's run_dir is ''."""
INTERACTIVE_MARKER = "interactive.json"
"""In a run folder made by a JupyterLab session: scratch work, not a drill."""


@dataclass
class Session:
    """One notebook's view of a drill: target, Sceptre project, run folder."""

    environment: str
    target: Target
    project: SceptreProject
    run_dir: Path
    _workload: Workload | None = field(default=None, repr=False)

    @property
    def regions(self) -> RegionPair:
        return self.target.regions

    def workload(self, refresh: bool = False) -> Workload:
        """The deployed workload, from the stack outputs: in a drill's chain, those its runner
        recorded in the run folder (:func:`~drlib.workload.chain_stack_outputs`), else read
        once; ``refresh``: read the stacks again."""
        if self._workload is None or refresh:
            outputs = (self.project.outputs("") if refresh else
                       chain_stack_outputs(self.environment, self.run_dir, self.project))
            self._workload = workload_from_outputs(self.environment, self.regions, outputs)
        return self._workload


def open_session(environment: str, target: str, run_dir: str = "",
                 scenario: str = "interactive") -> Session:
    """Check the environment's settings, resolve the target and the project; create the run
    folder when none is given."""
    from drlib.runner import DEFAULT_OUTPUTS, new_run_dir

    project = SceptreProject(environment)
    project.check_settings()
    regions = project_regions(project.variables)
    resolved = open_target(target, regions)
    lab_folder = os.environ.get(LAB_RUN_DIR_VARIABLE)
    if run_dir:
        folder = Path(run_dir)
    elif lab_folder:  # a `drlib lab` session: every notebook shares one interactive folder
        folder = Path(lab_folder)
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / INTERACTIVE_MARKER
        if not marker.exists():
            marker.write_text(json.dumps({
                "kind": "interactive", "started_at": datetime.now(UTC).isoformat(),
                "note": "notebooks run by hand in JupyterLab: scratch work, not a drill"},
                indent=2))
    else:
        folder = new_run_dir(DEFAULT_OUTPUTS, environment, scenario)
    folder.mkdir(parents=True, exist_ok=True)
    return Session(environment, resolved, project, folder)
