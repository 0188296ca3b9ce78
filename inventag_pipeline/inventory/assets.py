"""The inventory chain: raw_inventory → inventory_snapshot → inventory_delta → changelog."""


import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from inventag_pipeline import steps
from inventag_pipeline.aws.collector import CollectionFailed, collection_health
from inventag_pipeline.aws.session import CredentialsError
from inventag_pipeline.core.accounts import AccountsConfigError, CollectionWindowError
from inventag_pipeline.core.classify import RulesConfigError
from inventag_pipeline.core.tagpolicy import TagPolicyError
from inventag_pipeline.inventory import checks
from inventag_pipeline.partitions import inventory_partitions, split_key
from inventag_pipeline.resources import (
    AwsInventoryResource,
    DeltaRulesResource,
    InventoryStoreResource,
    TagPolicyResource,
)
from inventag_pipeline.store.store import IntegrityError, Partition

GROUP = "inventory"
OWNERS = ["team:cloud-platform"]


def partition_of(context: AssetExecutionContext) -> Partition:
    account, date = split_key(context.partition_key)
    return Partition(account, date)


def _md_table(counts: dict[str, int], key: str, value: str = "count") -> MetadataValue:
    rows = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
    return MetadataValue.md(f"| {key} | {value} |\n|---|---:|\n{rows}")


@asset(
    partitions_def=inventory_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"aws", "json"},
    retry_policy=RetryPolicy(max_retries=1, delay=30),
    description=(
        "Raw AWS API payloads per (service, region) as gzip JSON lines, the read-only audit log, and the "
        "collection manifest with per-scope coverage. Collected through a guard that refuses any non-read call."
    ),
)
def raw_inventory(context: AssetExecutionContext, aws: AwsInventoryResource,
                  store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    try:
        account = aws.account(part.account)
        note = aws.check_window(dt.date.fromisoformat(part.date), steps.utc_now())
        started = aws.ensure_simulator(account)
        if started:
            context.log.info(f"started the simulated AWS account in the background (pid {started}); "
                             "stop it with `inventag simulator stop`")
        collection, audit = aws.collect(account)
    except (AccountsConfigError, CollectionWindowError, CredentialsError) as exc:
        # Configuration problems: retrying cannot help, so fail at once with the message.
        raise Failure(description=str(exc), allow_retries=False) from exc
    except CollectionFailed as exc:
        raise Failure(description=str(exc)) from exc
    manifest = steps.write_raw(store.store(), part, collection, audit, account_name=account.name, window_note=note)
    coverage = manifest["coverage"]
    failed = [f"{c['service']}/{c['region']}: {c['error_class']}" for c in coverage if c["status"] != "ok"]
    if failed:
        context.log.warning(f"{len(failed)} scope(s) not collected completely: {failed}")
    health = collection_health(coverage)
    slowest = health["slowest_scope"]
    return MaterializeResult(
        metadata={
            "resources": sum(c["resource_count"] for c in coverage),
            "api_calls": manifest["audit"]["total_calls"],
            "refused_calls": manifest["audit"]["refused"],
            "scopes_ok": health["scopes_ok"],
            "scopes_failed": health["scopes_failed"],
            "scopes_skipped": health["scopes_skipped"],
            "circuit_open_scopes": len(health["circuit_open_scopes"]),
            "types_not_attempted": health["types_not_attempted"],
            "collection_errors": health["collection_errors"],
            **{f"errors_{k}": v for k, v in health["errors_by_class"].items()},
            "regions": MetadataValue.text(", ".join(manifest["regions"])),
            "failed_scopes": MetadataValue.text("; ".join(failed) or "none"),
            "collection_seconds": round(sum(c["duration_s"] for c in coverage), 2),
            "slowest_scope_seconds": slowest["duration_s"] if slowest else 0.0,
            "slowest_scope": MetadataValue.text(f"{slowest['service']}/{slowest['region']}" if slowest else "none"),
            "path": MetadataValue.path(store.store().display(part.folder("raw"))),
        }
    )


@asset(
    partitions_def=inventory_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet"},
    deps=[raw_inventory],
    check_specs=[
        AssetCheckSpec(checks.SNAPSHOT_CHECKSUM, asset="inventory_snapshot",
                       description="snapshot.parquet matches the SHA-256 recorded in its manifest"),
        AssetCheckSpec(checks.SNAPSHOT_SCHEMA, asset="inventory_snapshot",
                       description="snapshot.parquet has exactly the DESIGN §5 columns and unique ARNs"),
    ],
    description=(
        "Canonical resource table (one row per resource, DESIGN §5) as snapshot.parquet, with manifest.json "
        "carrying row count, SHA-256 and per-(service, region) coverage."
    ),
)
def inventory_snapshot(context: AssetExecutionContext, store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    try:
        result = steps.build_snapshot(store.store(), part)
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    by_service = steps.counts_by(result.table, "service")
    return MaterializeResult(
        metadata={
            "dagster/row_count": result.table.num_rows,
            "resources": result.table.num_rows,
            "resource_types": len(set(result.table.column("resource_type").to_pylist())),
            "size_bytes": result.size_bytes,
            "sha256": MetadataValue.text(result.manifest["sha256"]),
            "scopes_failed": sum(1 for c in result.manifest["coverage"] if c["status"] != "ok"),
            "by_service": _md_table(by_service, "service", "resources"),
            "path": MetadataValue.path(result.path),
        },
        check_results=checks.snapshot_checks(store.store(), part),
    )


@asset(
    partitions_def=inventory_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet"},
    deps=[inventory_snapshot],
    check_specs=[
        AssetCheckSpec(checks.DELTA_VERIFIED, asset="inventory_delta",
                       description="every (service, region) scope was collected on both days"),
    ],
    description=(
        "Resource- and attribute-level changes against the most recent earlier snapshot of the account, "
        "classified by category and severity; scopes not collected on either side are listed as unverified."
    ),
)
def inventory_delta(context: AssetExecutionContext, store: InventoryStoreResource,
                    delta_rules: DeltaRulesResource, tag_policy: TagPolicyResource) -> MaterializeResult:
    part = partition_of(context)
    try:
        engine = delta_rules.engine(required_tags=tag_policy.policy().required_keys)
        result = steps.compute_delta(store.store(), part, engine)
    except (steps.StepError, IntegrityError, RulesConfigError, TagPolicyError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    summary = result.summary
    severity = summary["counts"]["severity"]
    change_type = summary["counts"]["change_type"]
    unverified = summary["unverified"]
    return MaterializeResult(
        metadata={
            "previous_date": MetadataValue.text(summary["previous_date"] or "none (first snapshot)"),
            "total_changes": summary["total_changes"],
            **{f"changes_{k}": v for k, v in change_type.items()},
            **{f"severity_{k}": v for k, v in severity.items()},
            "attribute_changes": summary["attribute_change_count"],
            "unverified_scopes": len(unverified),
            "tag_compliance_pct": summary["compliance_changes"]["new_compliance_stats"]["compliance_percentage"],
        },
        check_results=[
            AssetCheckResult(
                check_name=checks.DELTA_VERIFIED,
                passed=not unverified,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "unverified": MetadataValue.text(
                        "; ".join(f"{u['service']}/{u['region']} ({','.join(u['sides'])})" for u in unverified)
                        or "none"),
                    "suppressed_added": summary["suppressed_by_unverified_scopes"]["added"],
                    "suppressed_removed": summary["suppressed_by_unverified_scopes"]["removed"],
                },
            )
        ],
    )


@asset(
    partitions_def=inventory_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"html", "markdown", "json"},
    deps=[inventory_delta],
    description="Human-readable report of the delta: changelog.md, a self-contained changelog.html, changelog.json.",
)
def changelog(context: AssetExecutionContext, aws: AwsInventoryResource,
              store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    name = next((a.name for a in _safe_accounts(aws) if a.id == part.account), None)
    try:
        docs, paths = steps.write_changelog(store.store(), part, account_name=name)
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    preview = docs.markdown if len(docs.markdown) < 6000 else docs.markdown[:6000] + "\n\n… (truncated; open the file)"
    return MaterializeResult(
        metadata={
            "headline": MetadataValue.text(docs.context["headline"]),
            "preview": MetadataValue.md(preview),
            "markdown": MetadataValue.path(paths["md"]),
            "html": MetadataValue.url(f"file://{paths['html']}") if paths["html"].startswith("/")
            else MetadataValue.path(paths["html"]),
            "json": MetadataValue.path(paths["json"]),
        }
    )


def _safe_accounts(aws: AwsInventoryResource) -> list:
    """Accounts for labelling only: a broken accounts file must not block re-rendering history."""
    try:
        return aws.accounts()
    except AccountsConfigError:
        return []
