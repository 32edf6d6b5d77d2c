"""Who runs a run folder, so a crashed run can be told from a running one and sealed.

The runner writes ``runner.json`` into its run folder before the first notebook: host, pid, the
process's start time and command line (:mod:`drlib.processes`), environment, scenario, target and
the notebooks' parameters. A folder without ``manifest.json`` is then *running* while that
process lives, and *crashed* once it is gone (kill -9, a power cut): the next drill on the same
outputs folder, or ``drlib evidence seal RUN``, seals it with status ``crashed`` and a
``crash.json`` saying what was found. A folder with no ``runner.json`` (or one from another host)
is *unknown*: only an operator who has checked may seal it (``drlib evidence seal RUN --yes``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import EvidenceError
from drlib.processes import ProcessIdentity, identify, same_process

log = logging.getLogger(__name__)

MARKER_NAME = "runner.json"


def write_marker(run_dir: Path, *, environment: str, scenario: str, target: str,
                 parameters: Mapping[str, Any]) -> None:
    """Record this process as the runner of ``run_dir`` (secret-named parameters masked)."""
    from drlib.evidence.secrets import mask_secrets

    doc = {"schema": "drlib.runner/1", "process": identify().to_json(),
           "environment": environment, "scenario": scenario, "target": target,
           "started_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
           "parameters": mask_secrets(dict(parameters))}
    (run_dir / MARKER_NAME).write_text(json.dumps(doc, indent=2, default=str))


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    """The runner record of ``run_dir``, or None when absent or unreadable."""
    try:
        doc = json.loads((run_dir / MARKER_NAME).read_text())
        ProcessIdentity.from_json(doc["process"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def runner_state(run_dir: Path) -> tuple[str, str]:
    """``running``, ``crashed`` or ``unknown`` for an unsealed ``run_dir``, with a detail."""
    doc = read_marker(run_dir)
    if doc is None:
        return "unknown", (f"no readable {MARKER_NAME}: cannot tell whether it runs; if it does "
                           "not, seal it with `drlib evidence seal RUN --yes`")
    proc = ProcessIdentity.from_json(doc["process"])
    alive = same_process(proc)
    where = f"pid {proc.pid} on {proc.host}"
    if alive is None:
        return "unknown", f"its runner ({where}) is on another host"
    if alive:
        return "running", f"its runner ({where}) is still running"
    return "crashed", f"its runner ({where}) is gone; seal it: drlib evidence seal RUN"


def seal_crashed(run_dir: Path, *, secrets: Iterable[str] | None = None,
                 secrets_unavailable: str | None = None, force: bool = False,
                 sealed_by: str = "drlib evidence seal") -> Any:
    """Seal an unsealed run whose runner is gone, status ``crashed``.

    Refuses (EvidenceError) a run whose runner still runs, and one whose state is unknown unless
    ``force`` (the operator confirmed it does not run). ``secrets`` None means the values could
    not be read: the manifest says the secret scan was not performed."""
    from drlib.evidence.finalize import finalize_run
    from drlib.evidence.manifest import MANIFEST_NAME

    if (run_dir / MANIFEST_NAME).exists():
        raise EvidenceError(f"run {run_dir.name} is already sealed",
                            expected="an unsealed run folder", found=str(run_dir / MANIFEST_NAME),
                            fix="nothing to do")
    state, detail = runner_state(run_dir)
    if state == "running" or (state == "unknown" and not force):
        raise EvidenceError(
            f"run {run_dir.name} is not known to have crashed: {detail}",
            expected="an unsealed run whose runner process is gone",
            found=f"{state}: {detail}",
            fix="wait for it to finish" if state == "running" else
                "check no drill writes to it, then: drlib evidence seal RUN --yes")
    doc = read_marker(run_dir) or {}
    metrics = _read_json(run_dir / "metrics.json")
    detected_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    crash = {"status": "crashed", "detected_at": detected_at, "sealed_by": sealed_by,
             "sealer": identify().to_json(), "runner_state": state, "detail": detail,
        "files_found": sorted(p.name for p in run_dir.iterdir()),
        "state_after": metrics.get("state_after")}
    (run_dir / "crash.json").write_text(json.dumps(crash, indent=2, default=str))
    if secrets is None and secrets_unavailable is None:
        secrets_unavailable = "the crashed run's secret values were not available when sealing"
    return finalize_run(
        run_dir, status="crashed", parameters=doc.get("parameters") or {},
        target=str(doc.get("target") or metrics.get("target") or "unknown"),
        regions=metrics.get("regions") or {}, identity=None, emulator_version=None,
        secrets=list(secrets or []), secrets_unavailable=secrets_unavailable,
        scenario=doc.get("scenario") or metrics.get("scenario"),
        environment=doc.get("environment") or metrics.get("environment"),
        started_at=doc.get("started_at") or metrics.get("started_at"),
        ended_at=detected_at)


def crashed_runs(outputs_dir: Path) -> list[Path]:
    """Unsealed run folders of ``outputs_dir`` whose runner is known to be gone."""
    from drlib.evidence.chain import run_dirs
    from drlib.evidence.manifest import MANIFEST_NAME

    return [d for d in run_dirs(outputs_dir)
            if not (d / MANIFEST_NAME).exists() and runner_state(d)[0] == "crashed"]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
