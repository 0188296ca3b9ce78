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

from inventag_pipeline import steps
from inventag_pipeline.core.tagpolicy import TagPolicyError
from inventag_pipeline.inventory.assets import OWNERS, inventory_snapshot, partition_of
from inventag_pipeline.partitions import inventory_partitions
from inventag_pipeline.resources import ComplianceGateResource, InventoryStoreResource, TagPolicyResource

# Every compliance asset: per (account, day), fed by the snapshot, written as Parquet.
COMPLIANCE_ASSET = {
    "partitions_def": inventory_partitions,
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
    part = partition_of(context)
    try:
        summary, path = steps.write_tag_compliance(store.store(), part, tag_policy.policy())
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
    part = partition_of(context)
    try:
        findings, path = steps.write_security_findings(store.store(), part)
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
    **{**COMPLIANCE_ASSET, "kinds": {"json"}, "deps": [tag_compliance, security_findings]},
    check_specs=[AssetCheckSpec(
        COMPLIANCE_GATE, asset="compliance_report", blocking=True,
        description="Score, critical findings and required-tag percentage within the configured thresholds "
                    "(INVENTAG_GATE_*): ERROR holds downstream assets, WARN flags the softer limits.")],
    description=(
        "Per-framework scores, failing findings by severity, tag compliance and the trend against the account's "
        "previous report (new failing, resolved, still failing with age, reopened), plus the collection-safety "
        "evidence: report.json and report.md."
    ),
)
def compliance_report(context: AssetExecutionContext, store: InventoryStoreResource,
                      compliance_gate: ComplianceGateResource) -> MaterializeResult:
    part = partition_of(context)
    try:
        report, gate, path = steps.write_compliance_report(store.store(), part, compliance_gate.thresholds())
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
            "path": MetadataValue.path(path),
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
