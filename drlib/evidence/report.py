"""Tables and charts for the report notebooks: one run (90_report) and every run (95_history).

A run being reported on from inside its own drill is not sealed yet (the runner seals it after
the last notebook); the notebook says so instead of calling it altered, and names the auditor's
report (``report.html``, :mod:`drlib.evidence.auditor`) that sealing renders from the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from drlib.errors import EvidenceError
from drlib.evidence.chain import resolve_run, run_dirs
from drlib.evidence.manifest import MANIFEST_NAME, REPORT_HTML
from drlib.evidence.summary import RunSummary, list_runs, parse_run_id, summarize_run
from drlib.evidence.summary import utc_clock as _clock
from drlib.evidence.verify import VerifyReport, verify

NOT_RECORDED = "not recorded"
STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "aborted": "#ef6c00",
                  "not finalized": "#9e9e9e"}


@dataclass(frozen=True)
class RunReport:
    """Everything 90_report shows about one run."""

    run_dir: Path
    summary: pd.DataFrame
    results: pd.DataFrame
    timeline: pd.DataFrame
    findings: pd.DataFrame
    signoffs: pd.DataFrame
    integrity: str
    charts: tuple[Path, ...]
    notebooks: pd.DataFrame
    writes: pd.DataFrame | None = None
    references: pd.DataFrame | None = None


def outputs_path(outputs_dir: Path | str) -> Path:
    """The outputs folder; a relative path missing from the current directory is taken from the
    repository root (JupyterLab runs notebooks in notebooks/, papermill in the root)."""
    path = Path(outputs_dir)
    if path.is_absolute() or path.exists():
        return path
    from drlib.notebook_params import NOTEBOOK_DIR

    return NOTEBOOK_DIR.parent / path


def is_drill_run(folder: Path) -> bool:
    """A sealed drill run: it has a manifest and is not a JupyterLab session's scratch folder."""
    from drlib.session import INTERACTIVE_MARKER

    return (folder / MANIFEST_NAME).is_file() and not (folder / INTERACTIVE_MARKER).exists()


def pick_run(outputs_dir: Path | str, run_dir: Path | str = "") -> Path:
    """``run_dir`` when given, else the newest sealed drill run in ``outputs_dir`` (unsealed
    folders and interactive lab sessions are not what an auditor asks about)."""
    outputs = outputs_path(outputs_dir)
    if str(run_dir):
        return resolve_run(outputs, run_dir)
    runs = run_dirs(outputs)
    sealed = [run for run in runs if is_drill_run(run)]
    if not sealed:
        raise EvidenceError(f"no sealed drill run in {outputs}",
                            expected="a run folder sealed by `drlib drill`",
                            found=f"{len(runs)} folder(s), none of them a sealed drill run",
                            fix="run a drill first (`drlib drill`), or pass run_dir")
    return sealed[-1].resolve()


def run_report(outputs_dir: Path | str, run_dir: Path | str = "") -> RunReport:
    """The report of ``run_dir`` (default: the newest sealed drill run in ``outputs_dir``)."""
    folder = pick_run(outputs_dir, run_dir)
    summary = summarize_run(folder)
    metrics = summary.metrics
    return RunReport(
        run_dir=folder,
        summary=_summary_table(summary),
        results=results_table(metrics),
        writes=writes_table(metrics),
        references=references_table(metrics),
        timeline=pd.DataFrame(metrics.get("timeline") or [],
                              columns=["step", "started_at", "ended_at", "outcome", "detail"]),
        findings=pd.DataFrame((metrics.get("verdict") or {}).get("findings") or [],
                              columns=["severity", "message"]),
        signoffs=pd.DataFrame([{"reviewer": s.reviewer, "signed_at": s.signed_at,
                                "comment": s.comment} for s in summary.signoffs],
                              columns=["reviewer", "signed_at", "comment"]),
        integrity=integrity_text(folder),
        charts=tuple(sorted(p for p in folder.rglob("*.png") if p.is_file())),
        notebooks=notebook_outcomes(folder),
    )


def notebook_outcomes(run_dir: Path) -> pd.DataFrame:
    """Each executed notebook of the run: outcome, start, duration and the error that stopped it.

    Read from the metadata papermill writes into every executed notebook, so it is available
    while the run is still going (the report runs before the runner writes its own summary).
    """
    import nbformat

    rows = []
    for path in sorted(run_dir.glob("*.ipynb")):
        try:
            node = nbformat.read(path, as_version=4)
        except Exception as exc:  # a truncated notebook is itself a finding
            rows.append([path.stem, "unreadable", None, None, f"{type(exc).__name__}: {exc}"])
            continue
        meta = node.metadata.get("papermill", {})
        if meta.get("exception"):
            outcome = "failed"
        elif meta.get("end_time"):
            outcome = "ok"
        else:
            outcome = "running" if meta else "not run by papermill"
        rows.append([path.stem, outcome, _clock(meta.get("start_time"), places=0),
                     _rounded(meta.get("duration"), 1), _first_error(node) or ""])
    return pd.DataFrame(rows, columns=["notebook", "outcome", "started_at", "seconds", "error"])


def _rounded(value: Any, places: int) -> Any:
    """A number rounded to what it means (seconds to ms, durations to 0.1 s); '' when absent."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        return round(float(value), places)
    except (TypeError, ValueError):
        return value


def _first_error(node: Any) -> str | None:
    for cell in node.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = (str(output.get("evalue") or "").splitlines() or [""])[0]
                return f"{output.get('ename')}: {first}" if first else str(output.get("ename"))
    return None


def _summary_table(summary: RunSummary) -> pd.DataFrame:
    metrics, manifest = summary.metrics, summary.manifest
    identity = manifest.identity if manifest else metrics.get("identity") or {}
    aws = identity.get("aws", identity) if isinstance(identity, dict) else {}
    regions = metrics.get("regions") or (manifest.regions if manifest else {})
    status = summary.status
    if manifest is None:
        status = ("not sealed yet: a drill seals its run after this notebook, then renders the "
                  "auditor's report (report.html) from the sealed manifest")
    rows: list[tuple[str, Any]] = [
        ("run", summary.run_id),
        ("status", status),
        ("scenario", summary.scenario),
        ("environment", summary.environment),
        ("target", metrics.get("target") or (manifest.target if manifest else None)),
        ("regions", " / ".join(f"{k} {v}" for k, v in sorted(regions.items())) or None),
        ("started", metrics.get("started_at") or (manifest.started_at if manifest else None)
         or parse_run_id(summary.run_id).get("started_at")),
        ("ended", metrics.get("ended_at") or (manifest.ended_at if manifest else None)),
        ("ran as", (aws or {}).get("Arn")),
        ("verdict", summary.verdict),
        ("time scale", (metrics.get("time_scale") or {}).get("statement")
         or "not recorded"),
        ("modelled RTO on AWS", _modelled(metrics.get("rto_model"))),
    ]
    if manifest is not None:
        rows += [("code (git)", manifest.git.get("commit")),
                 ("uncommitted changes", manifest.git.get("dirty")),
                 ("emulator", manifest.emulator_version),
                 ("chained to", manifest.chain.previous_run or "genesis")]
    rows = [(name, NOT_RECORDED if value is None else value) for name, value in rows]
    return pd.DataFrame(rows, columns=["field", "value"]).set_index("field")


def _modelled(block: Any) -> str | None:
    """The RTO model's first line (total, formula, against the target), or None."""
    if not block:
        return None
    from drlib.rto_model import from_metrics

    return from_metrics(block).lines()[0]


def results_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Measured RTO (overall and per store) and RPO (per store) against the environment's
    targets, each with what it rests on. An RPO "not tested" is never "within target"."""
    targets = metrics.get("targets") or {}
    measured = metrics.get("measured") or {}
    writes = measured.get("writes") or {}
    rto = measured.get("rto") or {}
    rows = [_row("RTO", "seconds", measured.get("rto_seconds"), targets.get("rto_seconds"),
                 rests_on=f"slowest store: {rto.get('store')}" if rto.get("store") else None)]
    for store, entry in sorted((measured.get("rto_per_store") or {}).items()):
        spacing = (writes.get(store) or {}).get("attempt_spacing_s")
        rows.append(_row(f"RTO {store}", "seconds", entry.get("rto_seconds"),
                         targets.get("rto_seconds"),
                         rests_on=f"first acknowledged write #{entry.get('seq')}; resolution "
                         f"{_fmt(spacing)} s (attempt spacing)"))
    evidence = measured.get("rpo_evidence") or {}
    for store, rpo in sorted((measured.get("rpo") or {}).items()):
        if isinstance(rpo, dict):
            proof = evidence.get(store) or {}
            tested = rpo.get("tested", True)
            rests = (f"{rpo.get('acknowledged')} acknowledged writes reconciled; "
                     f"{proof.get('acknowledged_in_window')} in the {proof.get('window_s')} s "
                     f"before the cutover" if proof else None)
            row = _row(f"RPO {store}", "seconds of writes lost", rpo.get("span_seconds"),
                       targets.get("rpo_seconds"), lost=rpo.get("lost_records"),
                       rests_on=rests if tested else f"NOT TESTED: {proof.get('reason')}")
            if not tested:
                row[5] = "not tested"
            rows.append(row)
    return pd.DataFrame(rows, columns=["measure", "unit", "measured", "target", "lost records",
                                       "within target", "rests on"]).set_index("measure")


def _fmt(value: Any) -> str:
    return "?" if value is None else f"{float(value):.3g}"


def _row(name: str, unit: str, value: Any, target: Any, lost: Any = None,
         rests_on: str | None = None) -> list[Any]:
    within = None if value is None or target is None else float(value) <= float(target)
    return [name, unit, _rounded(value, 3), _rounded(target, 3), _rounded(lost, 0),
            "unknown" if within is None else within, rests_on or ""]


def writes_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Every canary write per store: attempts, acknowledgements, rejections by class, timeouts,
    the write outage clients saw (last acknowledgement before, first after, where), and each
    side's writes: per region written, not yet in the other region at the reconciliation, and
    left behind after failback."""
    measured = metrics.get("measured") or {}
    outage = measured.get("write_outage") or {}
    at_reconcile = measured.get("replication") or {}
    after = ((metrics.get("failback") or {}).get("replication") or {}).get("stores")
    rows = []
    for store, w in sorted((measured.get("writes") or {}).items()):
        o = outage.get(store) or {}
        sides = at_reconcile.get(store) or {}
        rows.append({
            "store": store, "attempted": w.get("attempted"),
            "acknowledged": w.get("acknowledged"), "rejected": w.get("rejected"),
            "rejected by class": ", ".join(f"{n} {c}" for c, n in
                                           (w.get("rejected_by_class") or {}).items()) or "-",
            "timed out": w.get("timed_out"),
            "write outage s": _rounded(o.get("seconds"), 3),
            "last ack before": f"{o.get('last_ack_region')} #{o.get('last_ack_seq')} "
                               f"{_clock(o.get('last_ack_before'))}"
                               if o.get("last_ack_before") else "",
            "first ack after": f"{o.get('first_ack_region')} #{o.get('first_ack_seq')} "
                               f"{_clock(o.get('first_ack_after'))}"
                               if o.get("first_ack_after") else "",
            "resolution s": _rounded(o.get("resolution_s"), 3),
            "written per region": ", ".join(f"{region} {side.get('written')}"
                                            for region, side in sides.items()) or "-",
            "not yet replicated": ", ".join(f"{region} {side.get('not_replicated')}"
                                            for region, side in sides.items()) or "-",
            "left behind after failback": "-" if after is None else sum(
                int(side.get("not_replicated", 0)) for side in (after.get(store) or {}).values()),
        })
    columns = ["store", "attempted", "acknowledged", "rejected", "rejected by class",
               "timed out", "write outage s", "last ack before", "first ack after",
               "resolution s", "written per region", "not yet replicated",
               "left behind after failback"]
    return pd.DataFrame(rows, columns=columns).set_index("store")


def references_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """The reference figures the verdict quotes, each with its origin (AWS documentation,
    derived from the deployment, or this project's design figure) and source."""
    rows = [{"figure": key, "metric": f"{f.get('service')}: {f.get('metric')}",
             "seconds": f.get("value_seconds"),
             "origin": f.get("origin", "AWS documentation"), "note": f.get("note"),
             "sources": ", ".join(f.get("sources") or [])}
            for key, f in (metrics.get("published_figures") or {}).items()]
    return pd.DataFrame(rows, columns=["figure", "metric", "seconds", "origin", "note",
                                       "sources"]).set_index("figure")


def integrity_text(run_dir: Path) -> str:
    """Whether the run's evidence is intact, in one paragraph."""
    if not (run_dir / MANIFEST_NAME).is_file():
        return (f"Run {run_dir.name} is not sealed yet: the drill runner seals it (manifest with "
                "the SHA-256 of every file, chained to the previous run) after this notebook, "
                "then renders the auditor's report, report.html, from the sealed manifest.")
    text = verify(run_dir.parent, run=run_dir.name).table()
    if (run_dir / REPORT_HTML).is_file():
        text += f"\nThe auditor's report of this run: {run_dir / REPORT_HTML}"
    return text


def history(outputs_dir: Path | str) -> pd.DataFrame:
    """One row per run in ``outputs_dir``: what ran, its outcome, RTO and RPO, sign-off."""
    rows = []
    for summary in list_runs(outputs_path(outputs_dir)):
        metrics = summary.metrics
        rpo = (metrics.get("measured") or {}).get("rpo") or {}
        stores = [v for v in rpo.values() if isinstance(v, dict)]
        rows.append({
            "run": summary.run_id,
            "started_at": pd.to_datetime(metrics.get("started_at") or (
                summary.manifest.started_at if summary.manifest else None), utc=True),
            "environment": summary.environment, "scenario": summary.scenario,
            "target": metrics.get("target") or (summary.manifest.target
                                                if summary.manifest else None),
            "status": summary.status, "verdict": summary.verdict,
            "rto_s": summary.rto_seconds,
            "rto_target_s": (metrics.get("targets") or {}).get("rto_seconds"),
            "lost_records": sum(int(v.get("lost_records") or 0) for v in stores) if stores
            else None,
            "rpo_span_s": max((float(v.get("span_seconds") or 0) for v in stores), default=None),
            "signed_off_by": ", ".join(s.reviewer for s in summary.signoffs) or None,
        })
    columns = ["run", "started_at", "environment", "scenario", "target", "status", "verdict",
               "rto_s", "rto_target_s", "lost_records", "rpo_span_s", "signed_off_by"]
    return pd.DataFrame(rows, columns=columns)


def outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs per environment and scenario by status."""
    if frame.empty:
        return pd.DataFrame()
    return (frame.groupby(["environment", "scenario", "status"], dropna=False).size()
            .unstack("status", fill_value=0))


def rto_history_chart(frame: pd.DataFrame) -> Figure:
    """Measured RTO of every run in order (a dot per run, coloured by status), target dashed."""
    from drlib.charts import TARGET_STYLE, new_figure

    figure = new_figure(10.0, 4.5)
    ax = figure.add_subplot()
    ordered = frame.reset_index(drop=True)
    for status, colour in STATUS_COLOURS.items():
        part = ordered[(ordered["status"] == status) & ordered["rto_s"].notna()]
        if not part.empty:
            ax.scatter(part.index, part["rto_s"].astype(float), color=colour, s=60, zorder=3,
                       label=status)
            for index, value in part["rto_s"].astype(float).items():
                ax.annotate(f"{value:.3g} s", (index, value), textcoords="offset points",
                            xytext=(0, 8), ha="center", fontsize=8)
    targets = ordered["rto_target_s"]
    if targets.notna().any():
        ax.step(ordered.index, targets.astype(float), where="mid", label="RTO target",
                **TARGET_STYLE)
    values = pd.concat([ordered["rto_s"], targets]).dropna().astype(float)
    # Targets in minutes and emulator RTOs in seconds: a log axis keeps both readable.
    if not values.empty and values.min() > 0 and values.max() / values.min() > 50:
        ax.set_yscale("log")
        ax.set_ylim(values.min() / 3, values.max() * 3)
    ax.set_xlim(-0.5, len(ordered) - 0.5)
    for index in ordered[ordered["rto_s"].isna()].index:
        ax.annotate("not measured", (index, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, ha="center", va="bottom", fontsize=8, color="#616161")
    labels = [f"{row.run.split('_')[0]}\n{row.environment} {row.scenario}"
              for row in ordered.itertuples()]
    ax.set_xticks(ordered.index, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("RTO, seconds")
    ax.set_title("Measured RTO per drill run")
    ax.legend(loc="upper left", fontsize=8)
    return figure


def chain_report(outputs_dir: Path | str) -> VerifyReport:
    """Verification of every run and the whole chain in ``outputs_dir``."""
    return verify(outputs_path(outputs_dir))
