"""Compliance assets fed by the snapshot: tag_compliance, security_findings and compliance_report (with its gate)."""

from collections import Counter

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from inventag_pipeline import steps, ui_metadata
from inventag_pipeline.core.report import GateThresholds
from inventag_pipeline.core.tagpolicy import TagPolicy, TagPolicyError
from inventag_pipeline.inventory.assets import OWNERS, inventory_snapshot, materialize_partitions
from inventag_pipeline.partitions import DOWNSTREAM_BACKFILL_POLICY, inventory_partitions
from inventag_pipeline.resources import ComplianceGateResource, InventoryStoreResource, TagPolicyResource
from inventag_pipeline.store.store import InventoryStore, Partition

# Every compliance asset: per (account, day), fed by the snapshot, written as Parquet, backfilled in batches.
COMPLIANCE_ASSET = {
    "partitions_def": inventory_partitions,
    "backfill_policy": DOWNSTREAM_BACKFILL_POLICY,
    "group_name": "compliance",
    "owners": OWNERS,
    "kinds": {"parquet"},
    "deps": [inventory_snapshot],
}


@asset(
    **COMPLIANCE_ASSET,
    description=(
        "Tag-policy evaluation of every resource in the snapshot (INVENTAG_TAG_POLICY_FILE, default: "
        "Environment, Owner, CostCenter): compliant, untagged, missing keys, invalid values, exemption."
    ),
)
def tag_compliance(context: AssetExecutionContext, store: InventoryStoreResource,
                   tag_policy: TagPolicyResource) -> MaterializeResult:
    try:
        policy = tag_policy.policy()
    except TagPolicyError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    return materialize_partitions(context, ui_metadata.timed(lambda part: _tag_compliance(target, part, policy)))


def _tag_compliance(store: InventoryStore, part: Partition, policy: TagPolicy) -> MaterializeResult:
    try:
        summary, path = steps.write_tag_compliance(store, part, policy)
    except (steps.StepError, TagPolicyError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    per_service = "\n".join(f"| {s} | {pct} |" for s, pct in summary["by_service"].items())
    return MaterializeResult(
        metadata={
            "tag_compliance_pct": summary["compliance_percentage"],
            "evaluated": summary["evaluated"],
            "non_compliant": summary["non_compliant"],
            "untagged": summary["untagged"],
            "exempt": summary["exempt"],
            "by_service": MetadataValue.md(f"| service | compliant % |\n|---|---:|\n{per_service}"),
            "path": MetadataValue.path(path),
        }
    )


@asset(
    **COMPLIANCE_ASSET,
    description=(
        "Security checks evaluated from the snapshot itself (no live calls): one row per resource and "
        "applicable check with PASS / FAIL / NOT_APPLICABLE, severity, framework references and evidence."
    ),
)
def security_findings(context: AssetExecutionContext, store: InventoryStoreResource) -> MaterializeResult:
    target = store.store()
    return materialize_partitions(context, ui_metadata.timed(lambda part: _security_findings(target, part)))


def _security_findings(store: InventoryStore, part: Partition) -> MaterializeResult:
    try:
        findings, path = steps.write_security_findings(store, part)
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    rows = findings.to_pylist()
    failing = Counter(r["severity"] for r in rows if r["status"] == "FAIL")
    by_check = Counter(r["check_id"] for r in rows if r["status"] == "FAIL")
    table = "\n".join(f"| {check} | {count} |" for check, count in sorted(by_check.items(), key=lambda kv: -kv[1]))
    return MaterializeResult(
        metadata={
            "findings": len(rows),
            "failing": sum(failing.values()),
            **{f"failing_{s}": failing.get(s, 0) for s in ("critical", "high", "medium", "low")},
            "failing_by_check": MetadataValue.md(f"| check | failing |\n|---|---:|\n{table}"),
            "path": MetadataValue.path(path),
        }
    )


COMPLIANCE_GATE = "compliance_gate"


@asset(
    **{**COMPLIANCE_ASSET, "kinds": {"json", "markdown", "html"}, "deps": [tag_compliance, security_findings]},
    check_specs=[AssetCheckSpec(
        COMPLIANCE_GATE, asset="compliance_report", blocking=True,
        description="Score, critical findings and required-tag percentage within the configured thresholds "
                    "(INVENTAG_GATE_*): ERROR holds downstream assets, WARN flags the softer limits.")],
    description=(
        "Per-framework scores, failing findings by severity, tag compliance and the trend against the account's "
        "previous report (new failing, resolved, still failing with age, reopened), plus the collection-safety "
        "evidence: report.json, report.md and a self-contained report.html (30-day score chart, sortable and "
        "filterable findings) with its executive-summary and audit variants (report.summary.html, "
        "report.audit.html). Custom templates: INVENTAG_TEMPLATE_DIR."
    ),
)
def compliance_report(context: AssetExecutionContext, store: InventoryStoreResource,
                      compliance_gate: ComplianceGateResource) -> MaterializeResult:
    try:
        thresholds = compliance_gate.thresholds()
        templates = store.templates()
    except ValueError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    # In date order (materialize_partitions sorts): each day's trend reads the report written just before.
    return materialize_partitions(context, ui_metadata.timed(
        lambda part: _compliance_report(target, part, thresholds, templates)))


def _compliance_report(store: InventoryStore, part: Partition, thresholds: GateThresholds,
                       templates: str | None) -> MaterializeResult:
    try:
        report, gate, path = steps.write_compliance_report(store, part, thresholds, template_dir=templates)
    except (steps.StepError, ValueError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    trend = report["trend"]
    frameworks = "\n".join(f"| {name} | {f['score']} | {f['failed']} |" for name, f in report["frameworks"].items())
    new_failing = "\n".join(f"- **{f['severity']}** {f['title']}: {f['arn']}" for f in trend["new_failing"][:20])
    return MaterializeResult(
        metadata={
            "score": report["score"],
            "tag_compliance_pct": report["tag_compliance_percentage"],
            **{f"failing_{s}": n for s, n in report["severity_counts"].items()},
            "new_failing": len(trend["new_failing"]),
            "resolved": len(trend["resolved"]),
            "still_failing": len(trend["still_failing"]),
            "reopened": len(trend["reopened"]),
            "all_operations_read_only": bool(report["collection_safety"].get("all_read_only")),
            "frameworks": MetadataValue.md(f"| framework | score % | failing |\n|---|---:|---:|\n{frameworks}"),
            "new_failing_findings": MetadataValue.md(new_failing or "none"),
            "gate": MetadataValue.text(gate.status),
            "failing": report["totals"]["fail"],
            "resources_failing": report["totals"]["resources_failing"],
            **{f"score_{name}": f["score"] for name, f in report["frameworks"].items()},
            "failing_checks": ui_metadata.failing_checks(report),
            "path": MetadataValue.path(path),
            **ui_metadata.report_links(steps.report_paths(store, part), {
                "html": "html", "summary_html": "summary_html", "audit_html": "audit_html", "markdown": "md"}),
        },
        check_results=[AssetCheckResult(
            check_name=COMPLIANCE_GATE,
            passed=gate.status == "pass",
            severity=AssetCheckSeverity.ERROR if gate.status == "error" else AssetCheckSeverity.WARN,
            metadata={"status": MetadataValue.text(gate.status),
                      "reasons": MetadataValue.md("\n".join(f"- {r}" for r in gate.reasons) or "within thresholds"),
                      "score": report["score"], "tag_compliance_pct": report["tag_compliance_percentage"],
                      "failing_critical": report["severity_counts"]["critical"]},
        )],
    )
