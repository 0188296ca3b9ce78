"""Compliance assets fed by the snapshot: tag_compliance and security_findings."""

from collections import Counter

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from inventag_pipeline import steps
from inventag_pipeline.core.tagpolicy import TagPolicyError
from inventag_pipeline.inventory.assets import OWNERS, inventory_snapshot, partition_of
from inventag_pipeline.partitions import inventory_partitions
from inventag_pipeline.resources import InventoryStoreResource, TagPolicyResource

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
