"""Every account's latest state in one table: the `inventory_overview` asset's content.

Built from the newest stored document of each kind per account (snapshot manifest, delta summary,
compliance report, raw manifests, cost), which the caller reads; each column says which day it is
from, because an account whose chain stopped halfway has documents of different days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

OVERVIEW_SCHEMA_VERSION = 1

OVERVIEW_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("account_name", pa.string()),
    pa.field("snapshot_date", pa.string()),
    pa.field("resources", pa.int64()),
    pa.field("changes_date", pa.string()),
    pa.field("changes", pa.int64()),
    pa.field("changes_critical", pa.int64()),
    pa.field("changes_high", pa.int64()),
    pa.field("compliance_date", pa.string()),
    pa.field("compliance_score", pa.float64()),
    pa.field("tag_compliance_pct", pa.float64()),
    pa.field("gate", pa.string()),
    pa.field("last_collection", pa.string()),
    pa.field("last_collection_failed_scopes", pa.int64()),
    pa.field("last_good_collection", pa.string()),
    pa.field("cost_date", pa.string()),
    pa.field("spend", pa.float64()),
    pa.field("spend_unit", pa.string()),
    pa.field("status", pa.string()),
])


@dataclass
class AccountDocuments:
    """The newest stored documents of one account (None where nothing is stored)."""

    account_id: str
    snapshot_manifest: Mapping[str, Any] | None = None
    delta_summary: Mapping[str, Any] | None = None
    report: Mapping[str, Any] | None = None
    # The newest raw manifest, and the date of the newest one whose scopes were all collected.
    raw_manifest: Mapping[str, Any] | None = None
    last_good_collection: str | None = None
    cost: Mapping[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def failed_scopes(manifest: Mapping[str, Any] | None) -> int | None:
    if manifest is None:
        return None
    return sum(1 for scope in manifest.get("coverage") or [] if scope.get("status") != "ok")


def all_scopes_ok(manifest: Mapping[str, Any]) -> bool:
    """A collection counts as good when it collected something and every scope says ok."""
    coverage = manifest.get("coverage") or []
    return bool(coverage) and all(scope.get("status") == "ok" for scope in coverage)


def account_row(docs: AccountDocuments) -> dict[str, Any]:
    snap, delta, report, raw, cost = (docs.snapshot_manifest, docs.delta_summary, docs.report, docs.raw_manifest,
                                      docs.cost)
    severity = ((delta or {}).get("counts") or {}).get("severity") or {}
    row = {
        "account_id": docs.account_id,
        "account_name": (raw or {}).get("account_name"),
        "snapshot_date": snap.get("date") if snap else None,
        "resources": snap.get("row_count") if snap else None,
        "changes_date": delta.get("date") if delta else None,
        "changes": delta.get("total_changes") if delta else None,
        "changes_critical": severity.get("critical") if delta else None,
        "changes_high": severity.get("high") if delta else None,
        "compliance_date": report.get("date") if report else None,
        "compliance_score": report.get("score") if report else None,
        "tag_compliance_pct": report.get("tag_compliance_percentage") if report else None,
        "gate": ((report or {}).get("gate") or {}).get("status"),
        "last_collection": raw.get("date") if raw else None,
        "last_collection_failed_scopes": failed_scopes(raw),
        "last_good_collection": docs.last_good_collection,
        "cost_date": cost.get("date") if cost else None,
        "spend": cost.get("total") if cost else None,
        "spend_unit": cost.get("unit") if cost else None,
    }
    row["status"] = account_status(row)
    return row


def account_status(row: Mapping[str, Any]) -> str:
    """One word a reader can sort by: what to look at first for this account."""
    if row["snapshot_date"] is None:
        return "no snapshot"
    if row["last_collection_failed_scopes"]:
        return "collection incomplete"
    if row["last_collection"] and row["snapshot_date"] < row["last_collection"]:
        return "snapshot behind"
    if row["changes_date"] != row["snapshot_date"] or row["compliance_date"] != row["snapshot_date"]:
        return "chain behind"
    if row["gate"] == "error":
        return "gate failing"
    return "ok"


def build_overview(accounts: Sequence[AccountDocuments]) -> list[dict[str, Any]]:
    """One row per account, ordered by account id."""
    return [account_row(docs) for docs in sorted(accounts, key=lambda d: d.account_id)]


def overview_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows], schema=OVERVIEW_SCHEMA)


def overview_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Numbers across accounts for the asset's metadata, so Dagster plots them across materialisations."""
    scores = [r["compliance_score"] for r in rows if r["compliance_score"] is not None]
    tags = [r["tag_compliance_pct"] for r in rows if r["tag_compliance_pct"] is not None]
    return {
        "accounts": len(rows),
        "resources": sum(r["resources"] or 0 for r in rows),
        "changes": sum(r["changes"] or 0 for r in rows),
        "changes_critical": sum(r["changes_critical"] or 0 for r in rows),
        "changes_high": sum(r["changes_high"] or 0 for r in rows),
        "lowest_compliance_score": min(scores) if scores else None,
        "lowest_tag_compliance_pct": min(tags) if tags else None,
        "accounts_not_ok": sum(1 for r in rows if r["status"] != "ok"),
        "accounts_collection_incomplete": sum(1 for r in rows if r["last_collection_failed_scopes"]),
        "accounts_gate_failing": sum(1 for r in rows if r["gate"] == "error"),
    }


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value}{suffix}".replace("|", "\\|")


def overview_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| account | name | snapshot | resources | changes | critical/high | compliance | tags | gate | "
        "last good collection | spend | status |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for r in rows:
        changes = _cell(r["changes"]) + ("" if r["changes_date"] in (None, r["snapshot_date"])
                                         else f" ({r['changes_date']})")
        severe = "-" if r["changes"] is None else f"{r['changes_critical'] or 0}/{r['changes_high'] or 0}"
        spend = "-" if r["spend"] is None else f"{r['spend']:.2f} {r['spend_unit']} ({r['cost_date']})"
        lines.append(
            f"| {r['account_id']} | {_cell(r['account_name'])} | {_cell(r['snapshot_date'])} | "
            f"{_cell(r['resources'])} | "
            f"{changes} | {severe} | {_cell(r['compliance_score'], '%')} | {_cell(r['tag_compliance_pct'], '%')} | "
            f"{_cell(r['gate'])} | {_cell(r['last_good_collection'])} | {spend} | {r['status']} |")
    return "\n".join(lines)


def overview_document(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """overview.json: the rows and their totals (no timestamp: the same store gives the same file)."""
    return {"schema_version": OVERVIEW_SCHEMA_VERSION, "totals": overview_totals(rows),
            "accounts": [dict(r) for r in rows]}
