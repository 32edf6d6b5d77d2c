"""The auditor's report of a run: one self-contained HTML file, rendered from the sealed manifest.

``report.html`` opens offline in any browser: no code, no script, no stylesheet or font from the
network, every chart embedded as a ``data:`` URI with alternative text. Its first screen answers
what an auditor asks first: what was tested (scenario, assumptions, environment, target,
regions), by whom, when, RTO and RPO per store against the target and the reference figure, the
verdict, the findings, the sign-off state and the SHA-256 of ``manifest.json``; the timeline,
the charts, every write counted, the reference figures, the notebooks, the parameters and the
files follow as appendices.

When and how it is covered (see :mod:`drlib.evidence.addendum`): :func:`finalize_run` writes the
manifest, then calls :func:`render_report`, which reads only the sealed bundle, writes
``report.html`` (and ``report.pdf`` when Chromium can print one) and records their SHA-256 with
the manifest's own in ``report.json``; ``drlib evidence verify`` checks both. The report states
the sign-off state when it was rendered: sign-offs come later, as chained files of their own
(``drlib evidence show RUN`` lists them); the report is never rewritten, so the archived copy
under Object Lock stays identical to the local one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drlib.errors import EvidenceError
from drlib.evidence.addendum import (
    REPORT_ADDENDUM,
    REPORT_HTML,
    REPORT_PDF,
    ReportRecord,
    write_addendum,
)
from drlib.evidence.manifest import (
    Manifest,
    manifest_sha256,
    read_manifest,
    read_manifest_document,
)
from drlib.evidence.secrets import text_contains_secret
from drlib.evidence.signoff import read_signoffs, signoff_files
from drlib.evidence.summary import read_metrics

log = logging.getLogger(__name__)

PDF_VARIABLE = "DRLIB_REPORT_PDF"
"""``0`` never prints ``report.pdf``; ``1`` requires it; unset: printed when Chromium is found."""
PDF_TIMEOUT_S = 90.0

SCENARIOS = {
    "planned-switchover": (
        "Planned switchover",
        "Both regions healthy; the switchover runbook (SSM Automation) moves the writer to the "
        "secondary region, clients follow through DNS; no acknowledged write may be lost."),
    "unplanned-failover": (
        "Unplanned failover",
        "The primary region is made unreachable (every regional API refused); once the outage "
        "is detected the failover runbook promotes the secondary region; writes acknowledged "
        "just before the outage may be lost, within the RPO target."),
    "data-corruption": (
        "Data corruption (restore)",
        "Data deleted in both regions at once (ransomware, or a mistaken delete that replication "
        "copies everywhere); the restore runbook brings it back from the most recent recovery "
        "point copied to the secondary region's locked vault; writes acknowledged after that "
        "recovery point are lost, record by record."),
    "failover": (
        "Failover for an incident",
        "drlib failover ran the unplanned-failover runbook for a real event: no canaries, no "
        "injected disaster, no failback; incident.json records every step."),
    "interactive": (
        "Interactive session",
        "Notebooks run by hand in JupyterLab: scratch work, not a drill."),
}

STATUS_TEXT = {
    "passed": "the drill ran to the end and met every target",
    "failed": "the drill ran to the end and missed a target",
    "aborted": "the run stopped before the drill completed",
    "crashed": "the runner died before sealing; the folder was sealed afterwards",
}

CHART_ORDER = ("timeline.png", "write_outcomes.png", "rto_rpo.png", "measured_vs_aws.png",
               "lag_over_time.png", "lag_cdf.png", "load_lag_over_time.png", "load_lag_cdf.png")
"""Charts shown first, in this order; any other chart (cost, ...) follows by name."""

RTO_REFERENCE = {"aurora": "aurora_rto"}
"""The published figure a store's RTO is compared with; stores without one (DynamoDB global
tables and S3 replication are written in either region) show none."""

SEVERITY_ORDER = {"failure": 0, "warning": 1, "info": 2}
ORIGIN_SHORT = {"AWS documentation": "AWS", "derived from the deployment": "as deployed",
                "project design figure": "design figure"}


def render_report(run_dir: Path, *, pdf: bool | None = None, secrets: Iterable[str] = (),
                  now: datetime | None = None) -> ReportRecord:
    """Render the auditor's report of the sealed run ``run_dir`` and write its ``report.json``.

    Reads only the sealed bundle (the manifest and the files it lists) and the sign-offs.
    ``pdf``: True requires ``report.pdf``, False skips it, None (default) follows
    ``DRLIB_REPORT_PDF`` and prints one when Chromium is found. Raises :class:`EvidenceError`
    when the run is not sealed, already has a report (a report is rendered once), or one of
    ``secrets`` would appear in it (it quotes sealed, scanned files only: never expected).
    """
    run_dir = Path(run_dir).resolve()
    manifest = read_manifest(run_dir)
    if (run_dir / REPORT_ADDENDUM).exists():
        raise EvidenceError(f"run {run_dir.name} already has its report",
                            expected="a sealed run without report.json",
                            found=str(run_dir / REPORT_ADDENDUM),
                            fix="a report is rendered once, from the sealed manifest; open "
                                f"{run_dir / REPORT_HTML}")
    moment = now or datetime.now(UTC)
    html = render_html(run_dir, manifest, moment)
    if text_contains_secret(html, secrets):
        raise EvidenceError(f"a secret would appear in the report of run {run_dir.name}",
                            expected="no secret value in the report", found="a secret value",
                            fix="find which sealed value carries it (drlib evidence verify)")
    (run_dir / REPORT_HTML).write_text(html, encoding="utf-8")
    files = [REPORT_HTML]
    pdf_state = _pdf(run_dir, pdf)
    if pdf_state == "made":
        files.append(REPORT_PDF)
    record = write_addendum(run_dir, files, signoff_files(run_dir), pdf_state, now=moment)
    log.info("rendered the report of %s: %s (pdf: %s)", run_dir.name, ", ".join(files), pdf_state)
    return record


def render_html(run_dir: Path, manifest: Manifest, now: datetime) -> str:
    """The report's HTML (nothing written)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("drlib.evidence", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**report_context(run_dir, manifest, now))


def report_context(run_dir: Path, manifest: Manifest, now: datetime) -> dict[str, Any]:
    """Everything the template shows, as plain values (strings, lists, dicts)."""
    metrics = read_metrics(run_dir)
    verdict = manifest.verdict if manifest.verdict is not None else metrics.get("verdict")
    verdict = verdict if isinstance(verdict, dict) else {}
    findings = sorted((f for f in verdict.get("findings") or [] if isinstance(f, dict)),
                      key=lambda f: SEVERITY_ORDER.get(str(f.get("severity")), 3))
    scenario = manifest.scenario or metrics.get("scenario") or "not recorded"
    interactive = (run_dir / "interactive.json").is_file()
    if interactive:
        scenario = "interactive"
    title_name, description = SCENARIOS.get(scenario, (f"Scenario {scenario}", ""))
    environment = manifest.environment or metrics.get("environment") or "not recorded"
    signoffs = read_signoffs(run_dir)
    appendix = _Appendices(run_dir.name)
    if interactive:
        title = f"Interactive session, not a drill: sealed as {manifest.status}"
    elif scenario == "failover":
        title = f"Incident failover on {environment}, {manifest.status}"
    else:
        title = f"DR drill: {title_name.lower()} on {environment}, {manifest.status}"
    return {
        "title": title,
        "run_id": manifest.run_id,
        "status": manifest.status,
        "status_text": _status_text(run_dir, manifest, metrics, interactive),
        "verdict_passed": verdict.get("passed"),
        "scenario": scenario,
        "scenario_name": title_name,
        "scenario_description": description,
        "environment": environment,
        "target": _target_text(manifest),
        "regions": _regions_text(manifest.regions or metrics.get("regions") or {}),
        "assumptions": _assumptions(manifest, metrics),
        "ran_by": _ran_by(manifest),
        "when": _when(manifest, metrics),
        "code": _code(manifest),
        "results": appendix("RTO and RPO", results_rows, metrics, verdict, scenario),
        "failures": [f for f in findings if f.get("severity") in ("failure", "warning")],
        "infos": [f for f in findings if f.get("severity") not in ("failure", "warning")],
        "finding_counts": _counts(findings),
        "signoffs": [{"reviewer": s.reviewer, "signed_at": _clock(s.signed_at, 0),
                      "comment": s.comment} for s in signoffs],
        "manifest_sha256": manifest_sha256(run_dir),
        "sealed_at": _clock(manifest.finalized_at, 0),
        "rendered_at": _clock(now.isoformat(), 0),
        # The appendices: one that cannot be built is named, never the loss of the report.
        "timeline": appendix("timeline", _timeline, metrics),
        "charts": appendix("charts", _charts, run_dir, manifest),
        "writes": appendix("writes", _writes, metrics),
        "references": appendix("reference figures", _references, metrics),
        "notebooks": appendix("notebooks", _notebooks, run_dir, manifest),
        "parameters": appendix("parameters", _parameters, manifest, run_dir),
        "appendix_errors": appendix.errors,
        "results_error": appendix.error("RTO and RPO"),
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in manifest.files],
        "integrity": _integrity(run_dir, manifest),
        "render_errors": list(manifest.render_errors),
    }


class _Appendices:
    """Builds each appendix; one that fails is recorded (and logged) and shown empty."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.errors: list[tuple[str, str]] = []

    def __call__(self, name: str, build: Any, *args: Any) -> Any:
        try:
            return build(*args)
        except Exception as exc:  # a damaged file must not cost the auditor the first screen
            log.warning("report of %s: appendix %s not shown: %s: %s", self.run, name,
                        type(exc).__name__, exc)
            self.errors.append((name, f"{type(exc).__name__}: {exc}"))
            return []

    def error(self, name: str) -> str | None:
        """Why ``name`` could not be built, if it could not."""
        return next((why for section, why in self.errors if section == name), None)


# --- the first screen ---------------------------------------------------------------------

def _status_text(run_dir: Path, manifest: Manifest, metrics: Mapping[str, Any],
                 interactive: bool) -> str:
    text = STATUS_TEXT.get(manifest.status, manifest.status)
    if interactive:
        return "notebooks run by hand in JupyterLab, sealed as they were left: not a drill"
    if manifest.status == "aborted":
        why = metrics.get("error") or _first_failed_notebook(run_dir)
        return f"{text}: {why}" if why else text
    if manifest.status == "crashed":
        crash = _read_json(run_dir / "crash.json")
        if crash.get("sealed_by"):
            return f"{text} by {crash['sealed_by']}"
    return text


def _first_failed_notebook(run_dir: Path) -> str | None:
    for entry in _read_json(run_dir / "chain.json").get("notebooks") or []:
        if entry.get("outcome") == "failed" or entry.get("error"):
            return f"{entry.get('notebook')}: {entry.get('error')}"
    return None


def _target_text(manifest: Manifest) -> str:
    if manifest.target == "local":
        version = manifest.emulator_version or "version not recorded"
        return f"local: the embedded emulator ({version}), not AWS"
    account = ((manifest.identity or {}).get("aws") or {}).get("Account")
    return f"{manifest.target}" + (f" (AWS account {account})" if account else "")


def _regions_text(regions: Mapping[str, Any]) -> str:
    if not regions:
        return "not recorded"
    if {"primary", "secondary"} <= set(regions):
        return f"{regions['primary']} (primary) → {regions['secondary']} (secondary)"
    return ", ".join(f"{k} {v}" for k, v in sorted(regions.items()))


def _assumptions(manifest: Manifest, metrics: Mapping[str, Any]) -> list[str]:
    lines = []
    if manifest.target == "local":
        lines.append("Measured on the emulator: the figures rehearse the procedure and its "
                     "evidence; they are not AWS's performance.")
    scale = manifest.time_scale or metrics.get("time_scale")
    if isinstance(scale, dict) and scale.get("statement"):
        statement = str(scale["statement"])
        lines.append(statement[0].upper() + statement[1:] + ".")
    targets = manifest.targets or metrics.get("targets") or {}
    if targets:
        parts = [f"RTO {_seconds(targets.get('rto_seconds'))}",
                 f"RPO {_seconds(targets.get('rpo_seconds'))}"]
        if targets.get("lag_threshold_seconds") is not None:
            parts.append(f"replication lag p99 {_seconds(targets.get('lag_threshold_seconds'))}")
        if "rpo_evidence_required" in targets:
            parts.append("an untested RPO fails the run" if targets["rpo_evidence_required"]
                         else "an untested RPO is a warning")
        lines.append(f"Targets of environment {manifest.environment}: {', '.join(parts)}.")
    model = metrics.get("rto_model")
    if isinstance(model, dict) and model:
        try:
            from drlib.rto_model import from_metrics

            head = from_metrics(model).lines()[0]
            lines.append(head[0].upper() + head[1:] + ".")
        except (KeyError, TypeError, ValueError):
            pass
    if manifest.secret_scan and manifest.secret_scan != "performed":
        lines.append(f"Secret scan {manifest.secret_scan}.")
    return lines


def _ran_by(manifest: Manifest) -> str:
    identity = manifest.identity or {}
    aws = identity.get("aws") or {}
    who = aws.get("Arn") or "no AWS identity recorded"
    host = f"{identity.get('os_user') or '?'}@{identity.get('hostname') or '?'}"
    return f"{who}, from {host}"


def _when(manifest: Manifest, metrics: Mapping[str, Any]) -> list[str]:
    lines = []
    if manifest.started_at:
        span = _clock(manifest.started_at, 0) + " → " + (
            _clock(manifest.ended_at, 0)[11:] if manifest.ended_at else "?")
        lines.append(f"{span} UTC{_duration(manifest.started_at, manifest.ended_at)}")
    started, ended = metrics.get("started_at"), metrics.get("ended_at")
    if started and ended and started != manifest.started_at:
        lines.append(f"the drill itself {_clock(started, 0)[11:]} → {_clock(ended, 0)[11:]}"
                     f"{_duration(started, ended)}")
    return lines or ["not recorded"]


def _code(manifest: Manifest) -> str:
    git = manifest.git or {}
    commit = git.get("commit")
    if not commit:
        return f"git commit not recorded ({git.get('error') or 'unknown'})"
    return f"git {commit[:12]}" + (" with uncommitted changes" if git.get("dirty") else
                                   ", clean work tree")


def results_rows(metrics: Mapping[str, Any], verdict: Mapping[str, Any],
                 scenario: str) -> list[dict[str, Any]]:
    """RTO (overall and per store) and RPO per store: measured, target, reference, result."""
    targets = metrics.get("targets") or {}
    measured = metrics.get("measured") or {}
    figures = {key: figure for key, figure in (metrics.get("published_figures") or {}).items()
               if isinstance(figure, dict)}
    findings = [f for f in verdict.get("findings") or [] if isinstance(f, dict)]
    rto_target = targets.get("rto_seconds")
    rows = []
    rto_finding = next((f for f in findings if f.get("check") == "rto"), None)
    rto = measured.get("rto") or {}
    overall = measured.get("rto_seconds")
    if overall is not None or rto_finding or "rto_seconds" in measured:
        reference = _figure_text(figures.get("aurora_rto"))
        if "route53_failover" in figures:
            reference += f"; DNS {_figure_text(figures['route53_failover'])}"
        rows.append(_result_row(
            "RTO", f"all (slowest {rto.get('store')})" if rto.get("store") else "all stores",
            _seconds(overall) if overall is not None else "not measured",
            f"≤ {_seconds(rto_target, short=True)}", reference,
            _finding_result(rto_finding) if rto_finding else _compare(overall, rto_target)))
    for store, entry in sorted((measured.get("rto_per_store") or {}).items()):
        value = (entry or {}).get("rto_seconds")
        figure = figures.get(RTO_REFERENCE.get(store, ""))
        rows.append(_result_row("RTO", store, _seconds(value) if value is not None
                                else "not measured", f"≤ {_seconds(rto_target, short=True)}",
                                _figure_text(figure) if figure else "none published",
                                _compare(value, rto_target)))
    rpo_findings = {f.get("store"): f for f in findings if f.get("check") == "rpo"}
    planned = scenario == "planned-switchover"
    evidence = measured.get("rpo_evidence") or {}
    for store, rpo in sorted((measured.get("rpo") or {}).items()):
        if not isinstance(rpo, dict):
            continue
        finding = rpo_findings.get(store) or {}
        lost = int(rpo.get("lost_records") or 0)
        value = f"{lost} of {rpo.get('acknowledged', '?')} lost"
        if lost:  # the span of writes they cover
            value += f" ({_seconds(rpo.get('span_seconds'))})"
        target = ("0 records (planned)" if planned
                  else f"≤ {_seconds(finding.get('target', targets.get('rpo_seconds')), True)}")
        key = "aurora_switchover_rpo" if planned else "aurora_failover_rpo"
        reference = _figure_text(figures.get(key)) if key in figures else "none published"
        if rpo.get("tested") is False:
            reason = (evidence.get(store) or {}).get("reason")
            result = ("fail" if finding.get("severity") == "failure" else "untested",
                      "NOT TESTED" + (f": {reason}" if reason else ""))
        elif finding:
            result = _finding_result(finding)
        else:
            result = _compare(rpo.get("span_seconds"), targets.get("rpo_seconds"))
        rows.append(_result_row("RPO", store, value, target, reference, result))
    return rows


def _result_row(measure: str, store: str, value: str, target: str, reference: str,
                result: tuple[str, str]) -> dict[str, Any]:
    return {"measure": measure, "store": store, "measured": value, "target": target,
            "reference": reference, "result_class": result[0], "result": result[1]}


def _finding_result(finding: Mapping[str, Any]) -> tuple[str, str]:
    severity = finding.get("severity")
    if severity == "failure":
        return "fail", "over target"
    if severity == "warning":
        return "warn", "within target; see findings"
    return "ok", "within target"


def _compare(value: Any, target: Any) -> tuple[str, str]:
    if value is None or target is None:
        return "unknown", "not measured" if value is None else "no target"
    return ("ok", "within target") if float(value) <= float(target) else ("fail", "over target")


def _figure_text(figure: Mapping[str, Any] | None) -> str:
    if not figure:
        return "none published"
    value = figure.get("value_seconds")
    origin = ORIGIN_SHORT.get(str(figure.get("origin", "AWS documentation")),
                              str(figure.get("origin")))
    return f"{_seconds(value)} ({origin})" if value is not None else f"no number ({origin})"


def _counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"failure": 0, "warning": 0, "info": 0}
    for finding in findings:
        severity = str(finding.get("severity"))
        counts[severity if severity in counts else "info"] += 1
    return counts


# --- the appendices -----------------------------------------------------------------------

def _timeline(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for step in metrics.get("timeline") or []:
        if not isinstance(step, dict):
            continue
        rows.append({"step": step.get("step"), "runbook": step.get("runbook") or "",
                     "started": _clock(step.get("started_at"))[11:],
                     "ended": _clock(step.get("ended_at"))[11:],
                     "seconds": _duration_s(step.get("started_at"), step.get("ended_at")),
                     "outcome": step.get("outcome") or "", "detail": step.get("detail") or ""})
    return rows


def _charts(run_dir: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """Every PNG the manifest lists, embedded, with its description as alternative text."""
    from drlib.display import describe_chart

    pngs = [entry for entry in manifest.files if entry.path.lower().endswith(".png")]
    rank = {name: index for index, name in enumerate(CHART_ORDER)}
    pngs.sort(key=lambda e: (rank.get(Path(e.path).name, len(rank)), e.path))
    charts = []
    for entry in pngs:
        data = (run_dir / entry.path).read_bytes()
        width, height = _png_size(data)
        charts.append({"path": entry.path, "alt": describe_chart(entry.path),
                       "sha256": entry.sha256, "width": width, "height": height,
                       "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})
    return charts


def _png_size(data: bytes) -> tuple[int | None, int | None]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None, None


def _writes(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    from drlib.evidence.report import writes_table

    frame = writes_table(dict(metrics))
    return _table(frame.reset_index()) if not frame.empty else None


def _references(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"figure": f"{f.get('service')}: {f.get('metric')}",
             "value": _seconds(f.get("value_seconds")) if f.get("value_seconds") is not None
             else "no number", "origin": f.get("origin", "AWS documentation"),
             "statement": f.get("statement") or "", "note": f.get("note") or "",
             "sources": list(f.get("sources") or [])}
            for f in (metrics.get("published_figures") or {}).values() if isinstance(f, dict)]


def _notebooks(run_dir: Path, manifest: Manifest) -> list[dict[str, Any]]:
    """Each notebook of the run: the runner's outcome (chain.json) or papermill's, its time,
    its error, and the rendered HTML beside this report."""
    from drlib.evidence.report import notebook_outcomes

    listed = {entry.path for entry in manifest.files}
    runner = {e.get("notebook"): e for e in _read_json(run_dir / "chain.json").get("notebooks")
              or [] if isinstance(e, dict)}
    rows = []
    frame = notebook_outcomes(run_dir)
    for record in frame.to_dict("records"):
        name = str(record["notebook"])
        ran = runner.pop(name, {})
        rows.append({"notebook": name, "outcome": ran.get("outcome") or record["outcome"],
                     "started": str(record["started_at"]).rstrip("Z"),
                     "seconds": record["seconds"],
                     "error": ran.get("error") or record["error"] or "",
                     "html": f"{name}.html" if f"{name}.html" in listed else None,
                     "ipynb": f"{name}.ipynb" if f"{name}.ipynb" in listed else None})
    for skipped, ran in runner.items():  # skipped by the runner: no notebook written
        rows.append({"notebook": skipped, "outcome": ran.get("outcome"), "started": "",
                     "seconds": "", "error": ran.get("error") or "", "html": None,
                     "ipynb": None})
    return rows


def _parameters(manifest: Manifest, run_dir: Path) -> list[dict[str, str]]:
    """Each notebook's parameters (secrets already masked), the run folder's own path shown as
    such (it differs on every machine the bundle is copied to)."""
    def shown(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        for folder, name in ((str(run_dir), "(this run folder)"),
                             (str(run_dir.parent), "(the outputs folder)")):
            text = text.replace(folder, name)
        return text

    rows = []
    for notebook, values in sorted((manifest.parameters or {}).items()):
        if isinstance(values, dict):
            rows += [{"notebook": notebook, "name": k, "value": shown(v)}
                     for k, v in sorted(values.items())]
        else:
            rows.append({"notebook": notebook, "name": "", "value": shown(values)})
    return rows


def _integrity(run_dir: Path, manifest: Manifest) -> list[tuple[str, str]]:
    chain = manifest.chain
    return [
        ("status", manifest.status),
        ("sealed at", _clock(manifest.finalized_at) + " UTC"),
        ("files hashed", str(len(manifest.files))),
        ("manifest content digest",
         str(read_manifest_document(run_dir).get("content_sha256") or "not recorded")),
        ("chained to", f"{chain.previous_run} (manifest SHA-256 "
                       f"{chain.previous_manifest_sha256})" if chain.previous_run
         else "genesis: the first run of this outputs folder"),
        ("secret scan", manifest.secret_scan or "not recorded"),
        ("emulator", manifest.emulator_version or "none (not the local target)"),
        ("schema", manifest.schema),
    ]


# --- formatting ---------------------------------------------------------------------------

def _table(frame: Any) -> dict[str, Any]:
    return {"headers": [str(c) for c in frame.columns],
            "rows": [["" if _blank(v) else v for v in row]
                     for row in frame.itertuples(index=False)]}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _seconds(value: Any, short: bool = False) -> str:
    """Seconds rounded to what they mean: 3 significant digits, minutes beside long ones
    (unless ``short``)."""
    if value is None:
        return "not set"
    seconds = float(value)
    if seconds >= 120 and short:
        return f"{seconds:,.0f} s"
    if seconds >= 120:
        minutes = seconds / 60
        return f"{seconds:,.0f} s ({minutes:.3g} min)"
    return f"{seconds:.3g} s"


def _clock(stamp: Any, places: int = 3) -> str:
    """'YYYY-MM-DD HH:MM:SS[.mmm]' in UTC; '' when absent."""
    from drlib.evidence.summary import utc_clock

    return utc_clock(stamp, places).rstrip("Z")


def _duration_s(start: Any, end: Any) -> str:
    try:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start)))
    except (TypeError, ValueError):
        return ""
    return f"{seconds.total_seconds():.3g}"


def _duration(start: Any, end: Any) -> str:
    try:
        seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
                   ).total_seconds()
    except (TypeError, ValueError):
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f" ({minutes} min {rest} s)" if minutes else f" ({seconds:.3g} s)"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- the PDF ------------------------------------------------------------------------------

def chromium() -> str | None:
    """Debian's Chromium (or ``DRLIB_CHROMIUM``), when installed."""
    for candidate in (os.environ.get("DRLIB_CHROMIUM"), "/usr/bin/chromium",
                      "/usr/bin/chromium-browser", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _pdf(run_dir: Path, wanted: bool | None) -> str:
    """Print ``report.html`` to ``report.pdf`` with headless Chromium; the outcome in words."""
    if wanted is None:
        setting = os.environ.get(PDF_VARIABLE, "").strip().lower()
        if setting in ("0", "no", "false", "off"):
            return f"not made ({PDF_VARIABLE}={setting})"
        wanted = True if setting in ("1", "yes", "true", "on") else None
    if wanted is False:
        return "not made (not asked for)"
    browser = chromium()
    if browser is None:
        why = "not made: no Chromium found (install chromium or set DRLIB_CHROMIUM)"
        if wanted:
            raise EvidenceError("report.pdf cannot be printed", expected="Chromium",
                                found="no /usr/bin/chromium and no DRLIB_CHROMIUM",
                                fix="install Debian's chromium (make chromium), or render "
                                    "without the PDF")
        return why
    try:
        print_pdf(browser, run_dir / REPORT_HTML, run_dir / REPORT_PDF)
    except (OSError, subprocess.SubprocessError, EvidenceError) as exc:
        (run_dir / REPORT_PDF).unlink(missing_ok=True)
        log.warning("report.pdf of %s not printed: %s", run_dir.name, exc)
        if wanted:
            raise
        return f"not made: {exc}"
    return "made"


def print_pdf(browser: str, html: Path, pdf: Path, timeout: float = PDF_TIMEOUT_S) -> None:
    """Print ``html`` (a local file) to ``pdf`` with headless Chromium: no header or footer,
    nothing fetched, a throw-away profile, every folded section unfolded (paper has no
    clicks)."""
    with tempfile.TemporaryDirectory(prefix="drlib-pdf-") as profile:
        out = Path(profile) / "report.pdf"
        unfolded = Path(profile) / html.name
        unfolded.write_text(html.read_text(encoding="utf-8").replace("<details>",
                                                                    "<details open>"),
                            encoding="utf-8")
        html = unfolded
        command = [browser, "--headless", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--disable-quic", f"--user-data-dir={profile}/profile",
                   "--no-pdf-header-footer", f"--print-to-pdf={out}", html.as_uri()]
        if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
            command.insert(1, "--no-sandbox")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except BaseException as exc:  # a timeout, or the run interrupted: no Chromium left
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise EvidenceError(f"Chromium did not print {html.name} within {timeout:g} s",
                                    expected="a PDF", found="timeout",
                                    fix="render without the PDF (DRLIB_REPORT_PDF=0)") from None
            raise
        if not out.is_file() or out.stat().st_size == 0:
            raise EvidenceError(f"Chromium printed no PDF of {html.name}",
                                expected="a PDF", found=f"exit code {process.returncode}",
                                fix="run chromium --headless --print-to-pdf by hand to see why")
        shutil.move(str(out), pdf)

