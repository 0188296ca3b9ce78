"""Changelog rendering: one context; Markdown, JSON and three self-contained HTML documents.

Summary first (counts, most affected services, critical and high changes), then details grouped by
service and capped so a day with tens of thousands of changes stays readable; the JSON carries
everything. The HTML comes as the full changelog, an executive summary (risk level, key findings,
immediate actions) and an audit report (evidence, completeness, security-relevant registers).
HTML is autoescaped: every value from AWS is untrusted text.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.core.classify import SEVERITIES, SEVERITY_RANK
from inventag_pipeline.core.gcpause import paused_gc
from inventag_pipeline.core.report import collection_safety
from inventag_pipeline.core.templating import environment as _environment
from inventag_pipeline.core.templating import sort_styles
from inventag_pipeline.core.trends import bar_chart, line_chart

DETAIL_CAP_PER_SERVICE = 100
ATTRIBUTE_CAP_PER_RESOURCE = 25
# The summary lists critical and high changes one by one up to this many; the details (filterable by
# severity) and changelog.json have the rest.
HIGHLIGHT_CAP = 100
# Replaced resources listed with their old and new ARN; the details and changelog.json have the rest.
REPLACED_CAP = 100
# Rows per register in the audit report; the complete record is changelog.json, cited there by SHA-256.
AUDIT_CAP = 1000
KEY_FINDINGS = 5
# Attribute categories an auditor reviews change by change.
AUDIT_CATEGORIES = ("security", "iam", "network", "compliance")
CHANGE_TYPES = ("added", "removed", "modified", "replaced")


@dataclass
class ChangelogDocuments:
    markdown: str
    html: str
    json: str
    context: dict[str, Any]
    # Renders one HTML template with the HTML context: the executive-summary-only and audit-report
    # variants, written beside changelog.html, are rendered when first asked for (`inventag diff`
    # writes only changelog.html, and at 70 k changes each variant costs a tenth of a second).
    render_html: Callable[[str], str] = field(repr=False)

    @functools.cached_property
    def summary_html(self) -> str:
        return self.render_html("changelog.summary.html.j2")

    @functools.cached_property
    def audit_html(self) -> str:
        return self.render_html("changelog.audit.html.j2")


def _severity_order(table: pa.Table) -> pa.Array:
    """0 for critical … 4 for info, so an ascending sort puts the most severe first."""
    return pc.index_in(table.column("severity"), value_set=pa.array(SEVERITIES))


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
    """The data every changelog format renders.

    Orderings are computed by Arrow on the columns (one sort per view) rather than by Python key functions
    per row: at tens of thousands of changes that halves the time to build the context.
    """
    # Attributes sorted once, most severe first then by path, so each resource's list is built in order.
    if attributes.num_rows:
        attributes = attributes.take(pc.sort_indices(
            pa.table({"rank": _severity_order(attributes), "path": attributes.column("path")}),
            [("rank", "ascending"), ("path", "ascending")]))
    # Attribute rows without their ARN (the resource row carries it): the JSON writes them as they are.
    attrs_by_arn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rest = [c for c in attributes.column_names if c != "arn"]
    for arn, row in zip(attributes.column("arn").to_pylist(), attributes.select(rest).to_pylist(), strict=True):
        attrs_by_arn[arn].append(row)
    resource_rows = resources.to_pylist()
    for row in resource_rows:
        row["changes"] = attrs_by_arn.get(row["arn"], [])
    keys = pa.table({"service": resources.column("service"), "rank": _severity_order(resources),
                     "change_type": resources.column("change_type"),
                     "name": pc.fill_null(resources.column("name"), ""), "arn": resources.column("arn")})
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Within a service: most severe first, then change type, name and ARN.
    for i in pc.sort_indices(keys, [(k, "ascending") for k in ("service", "rank", "change_type", "name", "arn")]
                             ).to_pylist():
        by_service[resource_rows[i]["service"]].append(resource_rows[i])
    severity_counts = Counter(zip(resources.column("service").to_pylist(), resources.column("severity").to_pylist(),
                                  strict=True))
    services = []
    for service, rows in sorted(by_service.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        severities = {s: severity_counts.get((service, s), 0) for s in SEVERITIES}
        services.append({"service": service, "count": len(rows), "severity": severities,
                         "resources": rows[:cap_per_service], "hidden": max(0, len(rows) - cap_per_service)})
    all_changes = [resource_rows[i] for i in pc.sort_indices(
        keys, [("rank", "ascending"), ("service", "ascending"), ("arn", "ascending")]).to_pylist()]
    replaced = []
    for row in resource_rows:
        if row["change_type"] == "replaced":
            link = next((c for c in row["changes"] if c["path"] == "arn"), None)
            previous = json.loads(link["old_value"]) if link and link["old_value"] else None
            details = [c for c in row["changes"] if c["path"] != "arn"]
            replaced.append({**row, "previous_arn": previous, "details": details})
    # Critical and high changes lead all_changes, in the same order.
    highlights = all_changes[:sum(1 for r in resource_rows if r["severity"] in ("critical", "high"))]
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
        "highlights_shown": highlights[:HIGHLIGHT_CAP],
        "highlights_hidden": max(0, len(highlights) - HIGHLIGHT_CAP),
        "replaced": replaced,
        "replaced_shown": replaced[:REPLACED_CAP],
        "replaced_hidden": max(0, len(replaced) - REPLACED_CAP),
        "all_changes": all_changes,
        "services": services,
        "attribute_cap": ATTRIBUTE_CAP_PER_RESOURCE,
        "cap_per_service": cap_per_service,
        "unverified": summary.get("unverified", []),
    }


@paused_gc()
def render_changelog(resources: pa.Table, attributes: pa.Table, summary: dict[str, Any], *,
                     account_name: str | None = None, template_dir: str | None = None,
                     history: Sequence[Mapping[str, Any]] | None = None,
                     provenance: Mapping[str, Any] | None = None) -> ChangelogDocuments:
    """Markdown, HTML (full, executive summary, audit report) and JSON of one day's delta.

    `history` is the account's last days as `trends.change_series` points (the HTML charts them);
    `provenance` describes the snapshots compared and how they were collected (`changelog_provenance`).
    """
    context = build_context(resources, attributes, summary, account_name=account_name)
    markdown = _environment(template_dir, autoescape=False).get_template("changelog.md.j2").render(**context)
    full = {
        "account_id": context["account_id"],
        "date": context["date"],
        "previous_date": context["previous_date"],
        "headline": context["headline"],
        "summary": summary,
        # The JSON keeps every change, uncapped (the context's rows already carry them all).
        "changes": [_json_row(row) for row in context["all_changes"]],
    }
    # Compact: at tens of thousands of changes an indented, key-sorted dump costs seconds.
    document = _compact_json(full) + "\n"
    html_context = {**context, **_html_context(context, history),
                    "executive": executive_summary(context),
                    "audit": _audit_context(context, provenance, document)}
    env = _environment(template_dir, autoescape=True)

    def render_html(name: str) -> str:
        return env.get_template(name).render(**html_context)

    return ChangelogDocuments(markdown, render_html("changelog.html.j2"), document, context, render_html)


def _html_context(context: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """What only the HTML needs: sort ranks per detail table, filter chips, charts and links between variants."""
    for service in context["services"]:
        service["sort"] = sort_styles(service["resources"], (
            lambda r: -SEVERITY_RANK[r["severity"]], lambda r: r["change_type"], lambda r: r["resource_type"],
            lambda r: ((r["name"] or "").lower(), r["arn"]), lambda r: r["region"], lambda r: len(r["changes"])))
    counts = context["summary"]["counts"]
    trend = None
    if history:
        trend = {"days": len(history),
                 "changes": bar_chart(history, label=f"Changes per day, last {len(history)} days"),
                 "tags": line_chart(history, [("tag_pct", "tag compliance")],
                                    label=f"Tag compliance, last {len(history)} days")}
    pages = {"full": ("Full changelog", "changelog.html"), "summary": ("Executive summary", "changelog.summary.html"),
             "audit": ("Audit report", "changelog.audit.html")}
    data = [("Markdown", "changelog.md"), ("JSON (every change)", "changelog.json")]
    return {
        "filters": {
            "severity": [(f"sev-{s}", counts["severity"].get(s, 0)) for s in SEVERITIES if counts["severity"].get(s)],
            "change_type": [(f"ct-{t}", counts["change_type"].get(t, 0)) for t in CHANGE_TYPES
                            if counts["change_type"].get(t)],
        },
        "trend": trend,
        "links": {variant: [page for key, page in pages.items() if key != variant] + data for variant in pages},
    }


def _first_risky_description(row: Mapping[str, Any]) -> str:
    risky = [c["description"] for c in row["changes"] if SEVERITY_RANK[c["severity"]] >= SEVERITY_RANK["high"]]
    return risky[0] if risky else f"{row['resource_type']} {row['change_type']}"


def executive_summary(context: Mapping[str, Any]) -> dict[str, Any]:
    """Risk level, key findings and immediate actions: what management reads instead of the details."""
    summary = context["summary"]
    severity = summary["counts"]["severity"]
    first = summary.get("previous_date") is None
    risk = next((s for s in ("critical", "high", "medium") if severity.get(s)), "low" if summary["total_changes"]
                else "none")
    findings = [f"{r['severity'].upper()}: {r['change_type']} {r['resource_type']} {r['name'] or r['arn']} "
                f"({r['region']}) — {_first_risky_description(r)}" for r in context["highlights"][:KEY_FINDINGS]]
    if len(context["highlights"]) > KEY_FINDINGS:
        findings.append(f"… and {len(context['highlights']) - KEY_FINDINGS} more critical or high changes.")
    if not findings and summary["total_changes"]:
        findings.append("No critical or high changes; the most affected services are "
                        + ", ".join(f"{s['service']} ({s['count']})" for s in context["top_services"][:3]) + ".")
    actions = []
    critical, high = severity.get("critical", 0), severity.get("high", 0)
    if critical or high:
        actions.append(f"Confirm that the {critical} critical and {high} high severity changes were intended and "
                       "approved (match each to a change ticket); revert the ones that were not.")
    cascade = summary.get("cascade_risks") or []
    if cascade:
        actions.append(f"Check {len(cascade)} change(s) to resources that others still depend on before they break: "
                       + ", ".join(str(c.get("name") or c["arn"]) for c in cascade[:3])
                       + (" …" if len(cascade) > 3 else "") + ".")
    compliance = summary.get("compliance_changes") or {}
    lost = compliance.get("newly_non_compliant") or []
    if lost:
        actions.append(f"Restore the required tags ({', '.join(compliance.get('required_tags') or [])}) on "
                       f"{len(lost)} resource(s) that lost them.")
    if context["replaced"]:
        actions.append(f"Update references to {len(context['replaced'])} replaced resource(s): they were deleted and "
                       "re-created, so their ARNs changed.")
    if context["unverified"]:
        scopes = ", ".join(f"{u['service']}/{u['region']}" for u in context["unverified"][:5])
        actions.append(f"Restore collection for {len(context['unverified'])} scope(s) ({scopes}"
                       f"{' …' if len(context['unverified']) > 5 else ''}): changes there are unknown until then.")
    if not actions:
        actions.append("First snapshot recorded: nothing to review until the next day's changelog." if first else
                       "No action needed: no critical or high changes, no lost tags, every scope collected.")
    tags = compliance.get("new_compliance_stats", {}).get("compliance_percentage")
    old_tags = compliance.get("old_compliance_stats", {}).get("compliance_percentage")
    return {"risk_level": risk, "key_findings": findings, "immediate_actions": actions, "first": first,
            "tag_compliance": tags, "previous_tag_compliance": old_tags,
            "tag_direction": (compliance.get("compliance_trend") or {}).get("direction")}


def changelog_provenance(current: Mapping[str, Any] | None, previous: Mapping[str, Any] | None,
                         raw_manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """Which snapshots were compared (date, collection time, rows, SHA-256) and how they were collected."""
    def side(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if manifest is None:
            return None
        return {k: manifest.get(k) for k in ("date", "collected_at", "row_count", "sha256", "source", "regions")}

    return {"current": side(current), "previous": side(previous),
            "collection": collection_safety(raw_manifest) if raw_manifest is not None else None}


def _audit_context(context: Mapping[str, Any], provenance: Mapping[str, Any] | None, document: str
                   ) -> dict[str, Any]:
    """Registers an auditor reads row by row: security-relevant attribute changes and every resource change."""
    register = []
    for row in context["all_changes"]:
        for change in row["changes"]:
            if change["category"] in AUDIT_CATEGORIES:
                register.append((row, change))
    register.sort(key=lambda rc: -SEVERITY_RANK[rc[1]["severity"]])  # stable: keeps the rows' order within
    shown = register[:AUDIT_CAP]
    resources = context["all_changes"][:AUDIT_CAP]
    return {
        "provenance": provenance or {"current": None, "previous": None, "collection": None},
        "attribute_register": shown,
        "attribute_register_sort": sort_styles(shown, (
            lambda rc: -SEVERITY_RANK[rc[1]["severity"]], lambda rc: rc[1]["category"],
            lambda rc: ((rc[0]["name"] or "").lower(), rc[0]["arn"]), lambda rc: rc[1]["path"],
            lambda rc: rc[1]["change"])),
        "attribute_register_total": len(register),
        "attribute_filters": [(f"sev-{s}", n) for s, n in sorted(Counter(c["severity"] for _, c in register).items(),
                                                                  key=lambda kv: -SEVERITY_RANK[kv[0]])],
        "resource_register": resources,
        "resource_register_sort": sort_styles(resources, (
            lambda r: -SEVERITY_RANK[r["severity"]], lambda r: r["change_type"], lambda r: r["resource_type"],
            lambda r: ((r["name"] or "").lower(), r["arn"]), lambda r: r["region"],
            lambda r: r["attribute_change_count"] or 0)),
        "resource_register_total": len(context["all_changes"]),
        "cap": AUDIT_CAP,
        "record_sha256": hashlib.sha256(document.encode()).hexdigest(),
        "record_changes": len(context["all_changes"]),
    }


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A context row as changelog.json writes it: `changes` renamed `attribute_changes` (a C-level copy)."""
    out = row.copy()
    out["attribute_changes"] = out.pop("changes")
    return out


def _compact_json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
