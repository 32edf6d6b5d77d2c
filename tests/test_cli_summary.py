"""The console summary of `drlib drill`: per store writes, outage, RTO and RPO."""

from __future__ import annotations

import re
from datetime import timedelta

from drlib.cli import measured_summary_lines
from drlib.drill import measure_records
from drlib.measure import round_trip
from tests.test_recompute_metrics import EAST, T0, WEST, _synthetic_records


def test_summary_shows_every_store_with_what_it_rests_on() -> None:
    """Attempts, rejections by class, outage window, RTO and RPO (or NOT TESTED) per store."""
    records = round_trip(_synthetic_records())
    declared = T0 + timedelta(seconds=6.1)
    measured = measure_records(records, ["aurora", "s3"], declared=declared,
                               cutover=T0 + timedelta(seconds=30), old_primary=EAST,
                               new_primary=WEST)
    lines = measured_summary_lines({"measured": measured.to_metrics(), "verdict": {}})
    text = "\n".join(lines)
    assert lines[0].startswith("RTO: 2.")
    assert "slowest store: aurora" in lines[0]
    assert ("aurora: 60 writes, 50 acknowledged, 9 rejected (9 ReadOnlySqlTransaction), "
            "1 timed out") in text
    assert "write outage 2.2" in text
    assert "last ack us-east-1 #30, first ack us-west-2 #41" in text
    assert re.search(r"\(resolution \d+\.\d{3} s\)", text), text  # milliseconds, as the rest
    # a cutover long after the last east write: nothing in flight, so not tested
    assert "RPO NOT TESTED" in text
