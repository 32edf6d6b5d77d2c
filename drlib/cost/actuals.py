"""Actual spend from Cost Explorer, by service, region or tag, as a DataFrame.

Cost Explorer is a global service answered in us-east-1. When the answer carries the
``drlib:emulated`` marker (the local target), the ``source`` column says so; on AWS it reads
"AWS Cost Explorer".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from drlib.aws import AwsClients
from drlib.errors import ConfigError

COST_EXPLORER_REGION = "us-east-1"
EMULATED_MARKER = "drlib:emulated"
AWS_SOURCE = "AWS Cost Explorer"
DIMENSIONS = ("SERVICE", "REGION", "USAGE_TYPE", "LINKED_ACCOUNT", "RESOURCE_ID")


def group_definitions(group_by: Sequence[str]) -> list[dict[str, str]]:
    """``["SERVICE", "TAG:Environment"]`` -> Cost Explorer GroupBy definitions."""
    if len(group_by) > 2:
        raise ConfigError("Cost Explorer groups by at most two keys", found=", ".join(group_by),
                          fix="choose two of SERVICE, REGION, TAG:<key>")
    out = []
    for key in group_by:
        if key.upper().startswith("TAG:"):
            out.append({"Type": "TAG", "Key": key[4:]})
        elif key.upper() in DIMENSIONS:
            out.append({"Type": "DIMENSION", "Key": key.upper()})
        else:
            raise ConfigError(f"Unknown Cost Explorer group {key!r}",
                              expected=f"one of {', '.join(DIMENSIONS)} or TAG:<key>", found=key)
    return out


def _column(definition: dict[str, str]) -> str:
    return definition["Key"].lower() if definition["Type"] == "DIMENSION" else \
        f"tag:{definition['Key']}"


def response_source(response: dict[str, Any]) -> str:
    """Where a Cost Explorer answer comes from: the emulator's statement, or AWS."""
    for attribute in response.get("DimensionValueAttributes", []):
        if attribute.get("Value") == EMULATED_MARKER:
            return str(attribute.get("Attributes", {}).get("source", "emulator"))
    return AWS_SOURCE


def rows_from_response(response: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """Flatten one get_cost_and_usage page into rows (one per period and group)."""
    definitions = response.get("GroupDefinitions", [])
    source = response_source(response)
    rows = []
    for result in response.get("ResultsByTime", []):
        base = {"start": pd.Timestamp(result["TimePeriod"]["Start"]),
                "end": pd.Timestamp(result["TimePeriod"]["End"]),
                "estimated": bool(result.get("Estimated", False)), "source": source}
        groups = result.get("Groups") or []
        if not definitions:
            value = result.get("Total", {}).get(metric, {"Amount": "0", "Unit": "USD"})
            rows.append({**base, "amount": float(value["Amount"]), "unit": value["Unit"]})
        if definitions and not groups:  # a period without spend still appears, at zero
            rows.append({**base, **{_column(d): None for d in definitions}, "amount": 0.0,
                         "unit": "USD"})
        for group in groups:
            value = group["Metrics"][metric]
            keys = {_column(d): k.split("$", 1)[1] if d["Type"] == "TAG" else k
                    for d, k in zip(definitions, group["Keys"], strict=True)}
            rows.append({**base, **keys, "amount": float(value["Amount"]),
                         "unit": value["Unit"]})
    return rows


def actual_spend(clients: AwsClients, start: dt.date, end: dt.date,
                 group_by: Sequence[str] = ("SERVICE",), *, granularity: str = "DAILY",
                 metric: str = "UnblendedCost") -> pd.DataFrame:
    """Spend from ``start`` to ``end`` (exclusive) grouped by ``group_by``.

    Columns: start, end, one per group (``service``, ``region``, ``tag:<key>``), amount, unit,
    estimated, source.
    """
    if end <= start:
        raise ConfigError("The period is empty", expected="start before end",
                          found=f"{start} .. {end}")
    ce = clients.client("ce", COST_EXPLORER_REGION)
    definitions = group_definitions(group_by)
    request: dict[str, Any] = {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                               "Granularity": granularity, "Metrics": [metric]}
    if definitions:
        request["GroupBy"] = definitions
    rows: list[dict[str, Any]] = []
    while True:
        response = ce.get_cost_and_usage(**request)
        rows.extend(rows_from_response(response, metric))
        token = response.get("NextPageToken")
        if not token:
            break
        request["NextPageToken"] = token
    columns = ["start", "end", *[_column(d) for d in definitions], "amount", "unit",
               "estimated", "source"]
    return pd.DataFrame(rows, columns=columns)


def actual_spend_last_days(clients: AwsClients, period_days: int,
                           group_by: Sequence[str] = ("SERVICE", "REGION"),
                           today: dt.date | None = None) -> pd.DataFrame:
    """Daily spend over the last ``period_days`` days, today included (UTC)."""
    if period_days < 1:
        raise ConfigError("period_days must be at least 1", found=str(period_days))
    end = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    return actual_spend(clients, end - dt.timedelta(days=period_days), end, group_by)


def daily_totals(spend: pd.DataFrame) -> pd.DataFrame:
    """USD per day (summed over groups): columns day, amount."""
    if spend.empty:
        return pd.DataFrame(columns=["day", "amount"])
    totals = spend.groupby("start", as_index=False)["amount"].sum()
    return totals.rename(columns={"start": "day"})
