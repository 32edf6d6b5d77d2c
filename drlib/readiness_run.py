"""Readiness as the notebook runs it: a short canary probe, then every check, saved as evidence."""

from __future__ import annotations

import json

from drlib.drill import build_canaries
from drlib.measure import lag_statistics
from drlib.readiness import ReadinessReport, assess
from drlib.session import Session

PROBE_SECONDS = 2.0
PROBE_WAIT_S = 60.0
"""How long readiness waits for the probe's answer (its watch and drain take about 4 s); a
probe still running then fails its check."""


def canary_probe(session: Session, seconds: float = PROBE_SECONDS,
                 interval_s: float = 0.1) -> dict[str, float | None]:
    """Run the canaries for ``seconds`` and return each store's p99 lag (None: nothing seen)."""
    import time

    fleet, _ = build_canaries(session.target.clients, session.workload(),
                              f"{session.run_dir.name}-readiness", interval_s)
    fleet.start()
    time.sleep(seconds)  # the probe's observation period
    fleet.stop(drain_s=max(2.0, seconds))
    stats = lag_statistics(fleet.records())
    return {store: (None if store not in stats.index or stats.loc[store, "count"] == 0
                    else float(stats.loc[store, "p99_s"])) for store in fleet.stores}


def run_readiness(session: Session, lag_threshold_s: float) -> ReadinessReport:
    """Probe, assess, and write ``readiness.json`` into the run folder."""
    from concurrent.futures import ThreadPoolExecutor

    from drlib.drill import drill_lock

    workload = session.workload()
    # The probe watches the canaries for a while: the other checks run meanwhile, and its check
    # waits for it (a crashed probe fails that check: fail closed, not a crash).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drlib-canary-probe") as pool:
        probe = pool.submit(canary_probe, session)
        holder = drill_lock(session.target, workload, session.run_dir.name,
                            "readiness").holder()
        if holder is not None and holder.run_id == session.run_dir.name:
            holder = None  # the lock this run's runner holds: ours, not another drill
        report = assess(session.target.clients, workload, lag_threshold_s=lag_threshold_s,
                        canary_lag=lambda: probe.result(timeout=PROBE_WAIT_S),
                        lock_holder=holder.describe() if holder is not None else None,
                        secondary_desired=int(session.project.variables.get(
                            "secondary_asg_desired", 1)))
    (session.run_dir / "readiness.json").write_text(json.dumps(report.to_dict(), indent=2))
    return report
