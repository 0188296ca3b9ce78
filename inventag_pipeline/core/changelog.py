"""Changelog rendering: one context, three documents (Markdown, self-contained HTML, JSON).

Summary first (counts, most affected services, critical and high changes), then details grouped by
service and capped so a day with tens of thousands of changes stays readable; the JSON carries
everything. HTML is autoescaped: every value from AWS is untrusted text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa

from inventag_pipeline.core.classify import SEVERITIES, SEVERITY_RANK
from inventag_pipeline.core.gcpause import paused_gc

DETAIL_CAP_PER_SERVICE = 100
ATTRIBUTE_CAP_PER_RESOURCE = 25
TEMPLATE_PACKAGE_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class ChangelogDocuments:
    markdown: str
    html: str
    json: str
    context: dict[str, Any]


def _environment(template_dir: str | None, autoescape: bool) -> jinja2.Environment:
    search = [template_dir, str(TEMPLATE_PACKAGE_DIR)] if template_dir else [str(TEMPLATE_PACKAGE_DIR)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["short_json"] = _short_json
    env.filters["md_escape"] = _md_escape
    return env


def _short_json(value: str | None, limit: int = 160) -> str:
    if value is None:
        return "—"
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        parsed = value
    text = parsed if isinstance(parsed, str) else json.dumps(parsed, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_escape(value: Any) -> str:
    text = "" if value is None else str(value)
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _headline(summary: dict[str, Any], account: str) -> str:
    counts = summary["counts"]
    total = summary["total_changes"]
    if summary.get("previous_date") is None:
        return (f"First snapshot of account {account}: {summary.get('resource_count', 0)} resources recorded; "
                "changes are reported from the next day on.")
    if total == 0:
        return f"No changes in account {account} between {summary['previous_date']} and {summary['date']}."
    parts = [f"{counts['change_type'][t]} {t}" for t in ("added", "removed", "modified", "replaced")
             if counts["change_type"].get(t)]
    risky = [f"{counts['severity'][s]} {s}" for s in ("critical", "high") if counts["severity"].get(s)]
    text = f"{total} resource changes in account {account} since {summary['previous_date']}: {', '.join(parts)}."
    if risky:
        text += f" {' and '.join(risky)} severity — review these first."
    return text


def build_context(resources: pa.Table, attributes: pa.Table, summary: dict[str, Any], *,
                  account_name: str | None = None, cap_per_service: int = DETAIL_CAP_PER_SERVICE) -> dict[str, Any]:
    """The data every changelog format renders."""
    attrs_by_arn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in attributes.to_pylist():
        attrs_by_arn[row["arn"]].append(row)
    for rows in attrs_by_arn.values():
        rows.sort(key=lambda a: (-SEVERITY_RANK[a["severity"]], a["path"]))
    resource_rows = resources.to_pylist()
    for row in resource_rows:
        row["changes"] = attrs_by_arn.get(row["arn"], [])
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in resource_rows:
        by_service[row["service"]].append(row)
    services = []
    for service, rows in sorted(by_service.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.sort(key=lambda r: (-SEVERITY_RANK[r["severity"]], r["change_type"], r["name"] or "", r["arn"]))
        severities = {s: sum(1 for r in rows if r["severity"] == s) for s in SEVERITIES}
        services.append({"service": service, "count": len(rows), "severity": severities,
                         "resources": rows[:cap_per_service], "hidden": max(0, len(rows) - cap_per_service)})
    replaced = []
    for row in resource_rows:
        if row["change_type"] == "replaced":
            link = next((c for c in row["changes"] if c["path"] == "arn"), None)
            previous = json.loads(link["old_value"]) if link and link["old_value"] else None
            details = [c for c in row["changes"] if c["path"] != "arn"]
            replaced.append({**row, "previous_arn": previous, "details": details})
    highlights = [r for r in resource_rows if SEVERITY_RANK[r["severity"]] >= SEVERITY_RANK["high"]]
    highlights.sort(key=lambda r: (-SEVERITY_RANK[r["severity"]], r["service"], r["arn"]))
    account = summary.get("account_id", "")
    label = f"{account_name} ({account})" if account_name and account_name != account else account
    return {
        "title": f"Infrastructure changelog — {label} — {summary.get('date')}",
        "account_id": account,
        "account_label": label,
        "date": summary.get("date"),
        "previous_date": summary.get("previous_date"),
        "headline": _headline(summary, label),
        "summary": summary,
        "severities": list(SEVERITIES),
        "top_services": services[:5],
        "highlights": highlights,
        "replaced": replaced,
        "all_changes": sorted(resource_rows, key=lambda r: (-SEVERITY_RANK[r["severity"]], r["service"], r["arn"])),
        "services": services,
        "attribute_cap": ATTRIBUTE_CAP_PER_RESOURCE,
        "cap_per_service": cap_per_service,
        "unverified": summary.get("unverified", []),
    }


@paused_gc()
def render_changelog(resources: pa.Table, attributes: pa.Table, summary: dict[str, Any], *,
                     account_name: str | None = None, template_dir: str | None = None) -> ChangelogDocuments:
    context = build_context(resources, attributes, summary, account_name=account_name)
    markdown = _environment(template_dir, autoescape=False).get_template("changelog.md.j2").render(**context)
    html = _environment(template_dir, autoescape=True).get_template("changelog.html.j2").render(**context)
    full = {
        "account_id": context["account_id"],
        "date": context["date"],
        "previous_date": context["previous_date"],
        "headline": context["headline"],
        "summary": summary,
        # The JSON keeps every change, uncapped (the context's rows already carry them all).
        "changes": [{**{k: v for k, v in row.items() if k != "changes"},
                     "attribute_changes": [{k: v for k, v in a.items() if k != "arn"} for a in row["changes"]]}
                    for row in context["all_changes"]],
    }
    # Compact: at tens of thousands of changes an indented, key-sorted dump costs seconds.
    return ChangelogDocuments(markdown, html, json.dumps(full, separators=(",", ":")) + "\n", context)
