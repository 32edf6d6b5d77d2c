"""Finalizing a run: render notebooks, refuse leaked secrets, write the chained manifest, then
render the auditor's report from it.

The drill runner calls :func:`finalize_run` once at the end of every run, passed, failed or
aborted. It is the orchestrator of this package; each step lives in its own module. The report
comes last because it states what only the sealed manifest knows (the sealed status and the
manifest's SHA-256); ``report.json`` then records the report's own SHA-256 against that manifest
(:mod:`drlib.evidence.auditor`, :mod:`drlib.evidence.addendum`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import ConfigError, EvidenceError
from drlib.evidence.chain import chain_lock, previous_link
from drlib.evidence.manifest import (
    MANIFEST_NAME,
    REPORT_HTML,
    STATUSES,
    FileEntry,
    Manifest,
    bundle_files,
)
from drlib.evidence.provenance import git_state, run_identity
from drlib.evidence.render import render_notebooks
from drlib.evidence.secrets import (
    find_secret_files,
    mask_secrets,
    secret_values_in,
    text_contains_secret,
)

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"

Timestamp = datetime | str | None


def finalize_run(
    run_dir: Path,
    *,
    status: str,
    parameters: Mapping[str, Any],
    target: str,
    regions: Mapping[str, Any] | Any,
    identity: Mapping[str, Any] | None,
    emulator_version: str | None,
    secrets: Iterable[str] = (),
    secrets_unavailable: str | None = None,
    started_at: Timestamp = None,
    ended_at: Timestamp = None,
    scenario: str | None = None,
    environment: str | None = None,
    targets: Mapping[str, Any] | None = None,
    verdict: Mapping[str, Any] | None = None,
    repo_dir: Path | None = None,
    now: datetime | None = None,
    report: bool = True,
    rendered_ahead: Mapping[str, str] | None = None,
    defer_report: Callable[[Callable[[], None]], None] | None = None,
) -> Manifest:
    """Seal the run folder ``run_dir`` as an evidence bundle and return its manifest.

    ``identity`` is the STS ``get_caller_identity`` answer (``None`` when it could not be had);
    ``regions`` a mapping or a :class:`~drlib.aws.RegionPair`; ``secrets`` every secret value
    the run used (values of secret-named ``parameters`` are added). Scenario, environment, times,
    targets and verdict left ``None`` are taken from ``metrics.json`` when the run wrote one.
    ``repo_dir`` is where the git commit is read (default: the current directory).
    ``secrets_unavailable`` says why the run's secret values could not be read: the bundle is
    then sealed with ``secret_scan: "not performed: <why>"`` in the manifest and in its verdict,
    never presented as scanned clean.

    With ``report`` (the default) the manifest declares the auditor's report and it is rendered
    right after the manifest is written (:func:`drlib.evidence.auditor.render_report`); a
    rendering failure is logged, never loses the seal, and `drlib evidence verify` then says the
    report is missing (``drlib evidence report RUN`` renders it).

    ``defer_report``, when given, is handed the rendering of the declared report instead of it
    being done here (the drill runs it while the emulator stops).

    ``rendered_ahead``: notebooks already rendered to HTML during the run
    (:class:`drlib.evidence.render.RenderAhead`), not rendered again if unchanged since.

    Raises :class:`EvidenceError` naming the file (never the secret) when a secret appears in
    any file, and when the run was already finalized; :class:`ConfigError` for a bad status.
    """
    run_dir = Path(run_dir).resolve()
    _check_inputs(run_dir, status)
    metrics = _read_metrics(run_dir)
    secret_values = [*secrets, *secret_values_in(parameters)]

    renders = render_notebooks(run_dir, rendered_ahead)
    files = bundle_files(run_dir)
    leaking = find_secret_files(run_dir, files, secret_values)
    if leaking:
        raise _secret_error(run_dir, leaking)

    secret_scan = ("performed" if secrets_unavailable is None
                   else f"not performed: {secrets_unavailable}")
    recorded_verdict = verdict if verdict is not None else metrics.get("verdict")
    if secrets_unavailable is not None:
        recorded_verdict = {**(recorded_verdict or {}), "secret_scan": secret_scan}
    with chain_lock(run_dir.parent):
        if (run_dir / MANIFEST_NAME).exists():
            raise _already_finalized(run_dir)
        manifest = Manifest(
            run_id=run_dir.name,
            status=status,
            files=tuple(FileEntry.of(run_dir, rel) for rel in files),
            chain=previous_link(run_dir.parent, run_dir.name),
            finalized_at=_iso(now or datetime.now(UTC)) or "",
            target=target,
            regions=_as_mapping(regions),
            scenario=scenario if scenario is not None else metrics.get("scenario"),
            environment=environment if environment is not None else metrics.get("environment"),
            started_at=_iso(started_at) if started_at is not None else metrics.get("started_at"),
            ended_at=_iso(ended_at) if ended_at is not None else metrics.get("ended_at"),
            targets=dict(targets if targets is not None else metrics.get("targets") or {}),
            verdict=recorded_verdict,
            parameters=mask_secrets(parameters, secret_values),
            identity=mask_secrets(run_identity(identity), secret_values),
            git=git_state(repo_dir or Path.cwd()),
            emulator_version=emulator_version,
            time_scale=metrics.get("time_scale"),
            render_errors=tuple({"notebook": r.notebook, "error": r.error or ""}
                                for r in renders if r.error),
            secret_scan=secret_scan,
            report=REPORT_HTML if report else None,
        )
        data = manifest.to_json()
        if text_contains_secret(data.decode("utf-8"), secret_values):
            raise _secret_error(run_dir, [MANIFEST_NAME])
        # Exclusive create: a manifest is written once and never replaced.
        with (run_dir / MANIFEST_NAME).open("xb") as handle:
            handle.write(data)
    log.info("finalized run %s (%s): %d files, chained to %s", manifest.run_id, status,
             len(manifest.files), manifest.chain.previous_run or "genesis")
    if report:
        if defer_report is None:
            render_declared_report(run_dir, secret_values)
        else:
            defer_report(lambda: render_declared_report(run_dir, secret_values))
    return manifest


def render_declared_report(run_dir: Path, secret_values: Iterable[str]) -> None:
    """The auditor's report of the sealed run; a failure is logged, the seal stands."""
    from drlib.evidence.auditor import render_report

    try:
        render_report(run_dir, secrets=list(secret_values))
    except Exception as exc:  # the evidence is sealed; verify reports the missing report
        log.warning("the report of %s could not be rendered: %s: %s (render it with "
                    "`drlib evidence report %s`)", run_dir.name, type(exc).__name__, exc,
                    run_dir.name)


def _check_inputs(run_dir: Path, status: str) -> None:
    if status not in STATUSES:
        raise ConfigError(f"unknown run status {status!r}", expected=" | ".join(STATUSES),
                          found=repr(status), fix="pass the drill's simplified status")
    if not run_dir.is_dir():
        raise EvidenceError(f"no run folder {run_dir}", expected="an existing run folder",
                            found="no such directory",
                            fix="create the run folder before the run starts")
    if (run_dir / MANIFEST_NAME).exists():
        raise _already_finalized(run_dir)


def _already_finalized(run_dir: Path) -> EvidenceError:
    return EvidenceError(
        f"run {run_dir.name} is already finalized",
        expected="a run folder without manifest.json", found=str(run_dir / MANIFEST_NAME),
        fix="a bundle is sealed once; add a reviewer's note with `drlib evidence sign-off`",
    )


def _secret_error(run_dir: Path, leaking: list[str]) -> EvidenceError:
    return EvidenceError(
        f"a secret appears in {len(leaking)} file(s) of run {run_dir.name}: {', '.join(leaking)}",
        expected="no secret value in any file of the evidence bundle",
        found=f"a secret value in {', '.join(leaking)}",
        fix="stop printing the secret (mask it before output), delete or regenerate the file, "
            "then finalize the run again",
        data={"run": run_dir.name, "files": leaking},
    )


def _read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_NAME
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("metrics.json of %s is not valid JSON (%s); not used", run_dir.name, exc)
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _as_mapping(value: Mapping[str, Any] | Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise ConfigError("regions must be a mapping or a RegionPair",
                      expected="{'primary': ..., 'secondary': ...}", found=repr(value))


def _iso(value: Timestamp) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ConfigError("a naive timestamp reached the evidence manifest",
                          expected="a timezone-aware datetime (UTC)", found=repr(value),
                          fix="use datetime.now(UTC)")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")
