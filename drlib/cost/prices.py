"""The price table: on-demand list prices per item, variant and region, with their sources.

The table ships with drlib (``price_table.json``, dated, every entry with its source and a
confidence level). :func:`refresh_prices` rebuilds entries from the AWS Price List API on real AWS.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drlib.aws import AwsClients
from drlib.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PRICE_TABLE = Path(__file__).with_name("price_table.json")
HOURS_PER_MONTH = 730.0
PRICE_LIST_REGION = "us-east-1"  # the Price List API answers in us-east-1 (and ap-south-1)


@dataclass(frozen=True)
class PriceEntry:
    """One priced item: an ``item`` (``aurora.instance``), an optional ``variant`` (a class)."""

    item: str
    variant: str | None
    unit: str
    service: str
    prices: Mapping[str, float]
    source: str
    confidence: str
    note: str | None = None
    price_list: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        """The lookup key ``(item, variant)``."""
        return (self.item, self.variant)

    def to_json(self) -> dict[str, Any]:
        """The entry as stored in the table file."""
        out: dict[str, Any] = {"item": self.item, "variant": self.variant, "unit": self.unit,
                               "service": self.service, "prices": dict(self.prices),
                               "source": self.source, "confidence": self.confidence}
        if self.note:
            out["note"] = self.note
        if self.price_list:
            out["price_list"] = dict(self.price_list)
        return out


@dataclass(frozen=True)
class PriceTable:
    """A dated set of :class:`PriceEntry`, looked up by item, variant and region."""

    date: str
    entries: tuple[PriceEntry, ...]
    currency: str = "USD"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = [e.key for e in self.entries]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ConfigError("The price table has duplicate entries",
                              expected="one entry per (item, variant)", found=str(sorted(dupes)))

    def entry(self, item: str, variant: str | None = None) -> PriceEntry:
        """The entry for ``item`` (and ``variant``); ConfigError naming the gap if absent."""
        for e in self.entries:
            if e.key == (item, variant):
                return e
        known = sorted(str(e.variant) for e in self.entries if e.item == item)
        raise ConfigError(
            f"No price for {item}{'' if variant is None else ' ' + variant}",
            expected=f"an entry in the price table dated {self.date}",
            found=f"variants of {item}: {', '.join(known) or 'none'}",
            fix="add the entry to drlib/cost/price_table.json (with its source), or choose a "
                "priced class",
        )

    def has(self, item: str, variant: str | None = None) -> bool:
        """Whether the table prices ``item``/``variant``."""
        return any(e.key == (item, variant) for e in self.entries)

    def price(self, item: str, region: str, variant: str | None = None) -> float:
        """The unit price of ``item`` in ``region`` in USD."""
        e = self.entry(item, variant)
        if region not in e.prices:
            raise ConfigError(f"No {region} price for {item} {variant or ''}".strip(),
                              expected=f"one of {', '.join(e.prices)}", found=region,
                              fix="add the region to the entry, or refresh_prices for it")
        return float(e.prices[region])

    def variants(self, item: str) -> list[str]:
        """The priced variants of ``item`` (for example the Aurora instance classes)."""
        return sorted(str(e.variant) for e in self.entries if e.item == item and e.variant)

    def to_json(self) -> dict[str, Any]:
        """The table as stored in its file."""
        return {**self.meta, "schema": "drlib.price_table/1", "date": self.date,
                "currency": self.currency, "entries": [e.to_json() for e in self.entries]}

    def save(self, path: Path) -> None:
        """Write the table to ``path`` as JSON."""
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")


def load_price_table(path: Path | None = None) -> PriceTable:
    """Load the price table (the shipped one by default)."""
    path = path or DEFAULT_PRICE_TABLE
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Cannot read the price table {path}", expected="a JSON price table",
                          found=str(exc)) from exc
    if raw.get("schema") != "drlib.price_table/1":
        raise ConfigError(f"{path} is not a drlib price table", expected="drlib.price_table/1",
                          found=str(raw.get("schema")))
    entries = tuple(PriceEntry(item=e["item"], variant=e.get("variant"), unit=e["unit"],
                               service=e["service"], prices=dict(e["prices"]), source=e["source"],
                               confidence=e["confidence"], note=e.get("note"),
                               price_list=e.get("price_list")) for e in raw["entries"])
    meta = {k: v for k, v in raw.items() if k not in {"schema", "date", "currency", "entries"}}
    return PriceTable(date=raw["date"], entries=entries, currency=raw.get("currency", "USD"),
                      meta=meta)


# --- AWS Price List API ---------------------------------------------------------------------


def on_demand_price(price_item: Mapping[str, Any] | str) -> tuple[float, str, str]:
    """The USD on-demand unit price of one Price List product: ``(price, unit, sku)``.

    ``price_item`` is one element of ``get_products()["PriceList"]`` (a JSON string, as botocore
    returns it, or the decoded document). Tiered prices take the first tier (beginRange 0).
    """
    doc = json.loads(price_item) if isinstance(price_item, str) else price_item
    sku = str(doc.get("product", {}).get("sku", "?"))
    offers = doc.get("terms", {}).get("OnDemand", {})
    dimensions = [d for offer in offers.values() for d in offer.get("priceDimensions", {}).values()]
    if not dimensions:
        raise ConfigError(f"Price List product {sku} has no on-demand price",
                          expected="terms.OnDemand.*.priceDimensions", found=str(list(doc)))
    first = min(dimensions, key=lambda d: float(d.get("beginRange", "0") or 0))
    return float(first["pricePerUnit"]["USD"]), str(first.get("unit", "")), sku


def _price_list_filters(spec: Mapping[str, Any], region: str) -> list[dict[str, str]]:
    filters = {"regionCode": region, **spec.get("filters", {})}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": str(v)} for k, v in filters.items()]


def refresh_prices(
    clients: AwsClients,
    region: str,
    table: PriceTable | None = None,
    *,
    pricing_region: str = PRICE_LIST_REGION,
) -> PriceTable:
    """A copy of ``table`` with ``region``'s prices re-read from the AWS Price List API.

    Every entry with a ``price_list`` spec (service code and attribute filters) is queried with
    ``get_products``; its price, source (the offer's SKU) and confidence (``price-list-api``) are
    replaced. Entries without a spec, or whose query matches no product, keep their figure and
    are logged. The new table is dated today.
    """
    table = table or load_price_table()
    pricing = clients.client("pricing", pricing_region)
    refreshed: list[PriceEntry] = []
    for entry in table.entries:
        spec = entry.price_list
        if not spec:
            refreshed.append(entry)
            continue
        response = pricing.get_products(ServiceCode=spec["service_code"],
                                        Filters=_price_list_filters(spec, region), MaxResults=10)
        items = response.get("PriceList", [])
        if not items:
            log.warning("price list: no product for %s %s in %s; keeping %s", entry.item,
                        entry.variant or "", region, entry.prices.get(region))
            refreshed.append(entry)
            continue
        price, unit, sku = on_demand_price(items[0])
        price *= float(spec.get("unit_scale", 1))
        prices = {**entry.prices, region: price}
        refreshed.append(PriceEntry(
            item=entry.item, variant=entry.variant, unit=entry.unit, service=entry.service,
            prices=prices, confidence="price-list-api", note=entry.note, price_list=spec,
            source=f"AWS Price List API, offer {spec['service_code']} sku {sku} ({unit})"))
    return PriceTable(date=dt.date.today().isoformat(), entries=tuple(refreshed),
                      currency=table.currency, meta=copy.deepcopy(dict(table.meta)))


def monthly(unit_price: float, quantity: float = 1.0, *, hourly: bool = False,
            hours_per_month: float = HOURS_PER_MONTH) -> float:
    """Monthly USD for ``quantity`` units; hourly prices are multiplied by hours per month."""
    return unit_price * quantity * (hours_per_month if hourly else 1.0)


def entries_by_confidence(table: PriceTable) -> dict[str, list[str]]:
    """Which items each confidence level covers (for the notebook's statement of sources)."""
    out: dict[str, list[str]] = {}
    for e in table.entries:
        out.setdefault(e.confidence, []).append(e.item + (f" {e.variant}" if e.variant else ""))
    return out


def priced_regions(table: PriceTable, items: Iterable[str] | None = None) -> set[str]:
    """The regions priced for every entry (or every entry among ``items``)."""
    chosen = [e for e in table.entries if items is None or e.item in set(items)]
    regions = [set(e.prices) for e in chosen]
    return set.intersection(*regions) if regions else set()
