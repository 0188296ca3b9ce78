"""The inventory chain: raw_inventory → inventory_snapshot → inventory_delta → changelog."""


import datetime as dt
from collections.abc import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetMaterialization,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    RetryPolicy,
    asset,
)

# The tags Dagster puts on the materializations it records itself; ours must carry them too.
from dagster._core.definitions.partitions.utils.multi import get_tags_from_multi_partition_key

from inventag_pipeline import steps, ui_metadata
from inventag_pipeline.aws.collector import CollectionFailed, collection_health
from inventag_pipeline.aws.session import CredentialsError
from inventag_pipeline.core.accounts import AccountsConfigError, CollectionWindowError
from inventag_pipeline.core.classify import RulesConfigError
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.tagpolicy import TagPolicyError
from inventag_pipeline.inventory import checks
from inventag_pipeline.partitions import DOWNSTREAM_BACKFILL_POLICY, inventory_partitions, split_key
from inventag_pipeline.resources import (
    AwsInventoryResource,
    DeltaRulesResource,
    InventoryStoreResource,
    TagPolicyResource,
)
from inventag_pipeline.store.store import IntegrityError, InventoryStore, Partition

GROUP = "inventory"
OWNERS = ["team:cloud-platform"]


def partition_of(context: AssetExecutionContext) -> Partition:
    account, date = split_key(context.partition_key)
    return Partition(account, date)


def partitions_of(context: AssetExecutionContext) -> dict[Partition, str]:
    """The run's partitions (one, or a backfill batch) per account in date order, with their Dagster keys.

    Order matters: a delta reads the stored snapshot of the day before and a compliance report the
    report of the day before, so within a batch each day is written before the next one reads it.
    """
    keys = {Partition(*split_key(key)): key for key in context.partition_keys}
    return {part: keys[part] for part in sorted(keys, key=lambda p: (p.account, p.date))}


def materialize_partitions(context: AssetExecutionContext,
                           build: Callable[[Partition], MaterializeResult]) -> MaterializeResult:
    """Run `build` for every partition of the run and report each partition's own metadata.

    One partition: `build`'s result as it is. A batch: every partition in order, even after one fails,
    so a bad day neither hides the others nor costs their work; the successful partitions are recorded
    as materialised and the step then fails naming every failed partition with its reason (Dagster's
    backfill re-executes just those). Asset checks are combined into one result per check.
    """
    parts = partitions_of(context)
    if len(parts) == 1:
        return build(next(iter(parts)))
    done: list[tuple[Partition, MaterializeResult]] = []
    failed: list[str] = []
    for part in parts:
        try:
            done.append((part, build(part)))
        except Failure as exc:
            failed.append(f"{part.key}: {exc.description}")
            context.log.error(f"partition {part.key} failed: {exc.description}")
        except Exception as exc:
            _log_materializations(context, parts, done)
            raise RuntimeError(f"partition {part.key} failed unexpectedly ({len(done)} earlier partitions of "
                               f"this batch were materialised): {exc}") from exc
    if failed:
        _log_materializations(context, parts, done)
        raise Failure(
            description=f"{len(failed)} of {len(parts)} partitions failed; the other {len(done)} were materialised. "
                        "Fix the cause and re-execute the failed partitions:\n" + "\n".join(failed),
            allow_retries=False,
        )
    for part, result in done:
        context.add_asset_metadata(result.metadata or {}, partition_key=parts[part])
    return MaterializeResult(check_results=combine_checks([(part.key, result) for part, result in done]))


def _log_materializations(context: AssetExecutionContext, parts: dict[Partition, str],
                          done: list[tuple[Partition, MaterializeResult]]) -> None:
    """Record the partitions that succeeded before the step fails, so the UI and the backfill know them."""
    for part, result in done:
        key = parts[part]
        context.log_event(AssetMaterialization(
            asset_key=context.asset_key, partition=key, metadata=result.metadata or {},
            tags=dict(get_tags_from_multi_partition_key(key)) if isinstance(key, MultiPartitionKey) else None))


def combine_checks(results: list[tuple[str, MaterializeResult]]) -> list[AssetCheckResult]:
    """One result per check for a batch: passed only if every partition passed, listing those that did not."""
    by_check: dict[str | None, list[tuple[str, AssetCheckResult]]] = {}
    for key, result in results:
        for check in result.check_results or []:
            by_check.setdefault(check.check_name, []).append((key, check))
    combined = []
    for name, evaluations in by_check.items():
        failing = [(key, check) for key, check in evaluations if not check.passed]
        severity = (AssetCheckSeverity.ERROR if any(c.severity == AssetCheckSeverity.ERROR for _, c in failing)
                    else (failing or evaluations)[0][1].severity)
        lines = [f"- {key}: {_check_summary(check)}" for key, check in failing[:MAX_LISTED]]
        if len(failing) > MAX_LISTED:
            lines.append(f"- … and {len(failing) - MAX_LISTED} more")
        combined.append(AssetCheckResult(
            check_name=name, passed=not failing, severity=severity,
            metadata={"partitions": len(evaluations), "failed_partitions": len(failing),
                      "failed": MetadataValue.md("\n".join(lines) or "none")},
        ))
    return combined


MAX_LISTED = 50


def _check_summary(check: AssetCheckResult) -> str:
    values = [f"{k}={v.value}" for k, v in check.metadata.items() if isinstance(v.value, str | int | float)]
    text = check.description or "; ".join(values)
    return text.replace("\n", " ")[:300]


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
        started = aws.ensure_simulator(account)
        if started:
            context.log.info(f"started the simulated AWS account in the background (pid {started}); "
                             "stop it with `inventag simulator stop`")
        # Outside the collection window: AWS Config history rebuilds the day, else the refusal is raised.
        collection, audit, note = aws.collect_day(account, dt.date.fromisoformat(part.date), steps.utc_now())
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
    backfill_policy=DOWNSTREAM_BACKFILL_POLICY,
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
    target = store.store()
    return materialize_partitions(context, ui_metadata.timed(lambda part: _snapshot(target, part)))


def _snapshot(store: InventoryStore, part: Partition) -> MaterializeResult:
    try:
        result = steps.build_snapshot(store, part)
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
            **ui_metadata.counts("resources_", by_service),
            "path": MetadataValue.path(result.path),
        },
        check_results=checks.snapshot_checks(store, part),
    )


@asset(
    partitions_def=inventory_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet"},
    deps=[inventory_snapshot],
    backfill_policy=DOWNSTREAM_BACKFILL_POLICY,
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
    try:
        engine = delta_rules.engine(required_tags=tag_policy.policy().required_keys)
    except (RulesConfigError, TagPolicyError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    return materialize_partitions(context, ui_metadata.timed(lambda part: _delta(target, part, engine)))


def _delta(store: InventoryStore, part: Partition, engine: DeltaEngine) -> MaterializeResult:
    try:
        result = steps.compute_delta(store, part, engine)
    except (steps.StepError, IntegrityError) as exc:
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
    backfill_policy=DOWNSTREAM_BACKFILL_POLICY,
    description=(
        "Human-readable report of the delta: changelog.md, a self-contained changelog.html (sortable, filterable, "
        "30-day chart), its executive-summary and audit variants (changelog.summary.html, changelog.audit.html) "
        "and changelog.json with every change. Custom templates: INVENTAG_TEMPLATE_DIR."
    ),
)
def changelog(context: AssetExecutionContext, aws: AwsInventoryResource,
              store: InventoryStoreResource) -> MaterializeResult:
    names: dict[str, str | None] = {}
    for account in _safe_accounts(aws):
        names.setdefault(account.id, account.name)
    try:
        templates = store.templates()
    except ValueError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    return materialize_partitions(context, ui_metadata.timed(
        lambda part: _changelog(target, part, names.get(part.account), templates)))


def _changelog(store: InventoryStore, part: Partition, name: str | None, templates: str | None) -> MaterializeResult:
    try:
        docs, paths = steps.write_changelog(store, part, account_name=name, template_dir=templates)
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    preview = docs.markdown if len(docs.markdown) < 6000 else docs.markdown[:6000] + "\n\n… (truncated; open the file)"
    severity = docs.context["summary"]["counts"]["severity"]
    return MaterializeResult(
        metadata={
            "headline": MetadataValue.text(docs.context["headline"]),
            "total_changes": docs.context["summary"]["total_changes"],
            **{f"severity_{s}": severity.get(s, 0) for s in ("critical", "high")},
            "top_changes": ui_metadata.top_changes(docs.context),
            "preview": MetadataValue.md(preview),
            **ui_metadata.report_links(paths, {"html": "html", "summary_html": "summary_html",
                                               "audit_html": "audit_html", "markdown": "md", "json": "json"}),
        }
    )


def _safe_accounts(aws: AwsInventoryResource) -> list:
    """Accounts for labelling only: a broken accounts file must not block re-rendering history."""
    try:
        return aws.accounts()
    except AccountsConfigError:
        return []
