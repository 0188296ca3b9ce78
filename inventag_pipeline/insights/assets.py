"""Insights assets (group "insights"): inventory_overview, cost and cleanup_plan.

`cost` and `cleanup_plan` are partitioned like the chain and read the day's snapshot; they are not in
the daily job (which selects the inventory and compliance groups), so they are materialised on their
own: by hand, by a backfill, or by their automation condition once the automation sensor is on.
`inventory_overview` is one table over every account's newest documents.
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    AssetExecutionContext,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from inventag_pipeline import steps
from inventag_pipeline.aws.cost_explorer import CostExplorerUnavailable, fetch_cost_pages
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CredentialsError
from inventag_pipeline.compliance.assets import compliance_report
from inventag_pipeline.core.accounts import AccountsConfigError
from inventag_pipeline.core.cleanup import CleanupConfigError, CleanupSettings, build_cleanup_plan, plan_markdown
from inventag_pipeline.core.cost import (
    cost_markdown,
    cost_request,
    cost_summary,
    cost_table,
    join_costs,
    parse_cost_pages,
    skipped_summary,
)
from inventag_pipeline.core.overview import (
    build_overview,
    overview_document,
    overview_markdown,
    overview_table,
    overview_totals,
)
from inventag_pipeline.insights.inputs import (
    OVERVIEW_FOLDER,
    all_account_documents,
    insight_folder,
    write_json_and_markdown,
)
from inventag_pipeline.insights.resources import CleanupRulesResource, CostExplorerResource
from inventag_pipeline.inventory.assets import (
    OWNERS,
    inventory_delta,
    inventory_snapshot,
    materialize_partitions,
    raw_inventory,
)
from inventag_pipeline.partitions import DOWNSTREAM_BACKFILL_POLICY, after_recent_upstream, inventory_partitions
from inventag_pipeline.resources import AwsInventoryResource, InventoryStoreResource
from inventag_pipeline.store.store import InventoryStore, Partition

GROUP = "insights"
RECENT_DAYS = 3

# After the day's snapshot, for recent days only: a backfill of last year must not call Cost Explorer
# a thousand times on its own.
AFTER_SNAPSHOT = after_recent_upstream(RECENT_DAYS, f"after the day's snapshot, last {RECENT_DAYS} days")

# Not `eager()`: its "no dependency missing" clause never holds for a table over all partitions, where past
# days that were never collected stay missing for good.
OVERVIEW_AUTOMATION = (
    AutomationCondition.any_deps_updated().since_last_handled()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("after any account's day is updated")

INSIGHTS_ASSET: dict[str, Any] = {
    "partitions_def": inventory_partitions,
    "backfill_policy": DOWNSTREAM_BACKFILL_POLICY,
    "group_name": GROUP,
    "owners": OWNERS,
    "deps": [inventory_snapshot],
    "automation_condition": AFTER_SNAPSHOT,
}
SKIPPED_NOTE_OPT_IN = ("Cost Explorer is opt-in because AWS charges $0.01 per request: set INVENTAG_COST_EXPLORER=true "
                       "(or `enabled` on the cost_explorer resource)")


# --- cost ---------------------------------------------------------------------------------------------------


@asset(
    **INSIGHTS_ASSET,
    kinds={"aws", "parquet"},
    retry_policy=RetryPolicy(max_retries=2, delay=60),
    description=(
        "Spend by service for the account and day from Cost Explorer (ce:GetCostAndUsage, read-only, one $0.01 "
        "request per partition, opt-in with INVENTAG_COST_EXPLORER=true), joined to the snapshot's resource counts "
        "per service: cost.json and cost.parquet. Where Cost Explorer is off or not enabled the day is recorded as "
        "skipped, with the reason."
    ),
)
def cost(context: AssetExecutionContext, aws: AwsInventoryResource, cost_explorer: CostExplorerResource,
         store: InventoryStoreResource) -> MaterializeResult:
    try:
        enabled, metric = cost_explorer.is_enabled(), cost_explorer.metric_name()
    except ValueError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    return materialize_partitions(context, lambda part: _cost(target, part, aws, enabled, metric))


def _cost(store: InventoryStore, part: Partition, aws: AwsInventoryResource, enabled: bool,
          metric: str) -> MaterializeResult:
    try:
        snapshot, _ = steps.load_snapshot(store, part, columns=["service"])
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    counts = steps.counts_by(snapshot, "service")
    folder = insight_folder("cost", part)
    if not enabled:
        summary = skipped_summary(account_id=part.account, date=part.date, reason=SKIPPED_NOTE_OPT_IN, code="opt_in")
    else:
        summary = _fetch_cost(part, aws, metric, counts)
    # Re-materialising replaces the day: a skipped day must not keep an earlier cost.parquet.
    store.delete_folder(folder)
    store.write_json(f"{folder}/cost.json", summary)
    path = store.display(f"{folder}/cost.json")
    if summary["status"] != "ok":
        return MaterializeResult(metadata={
            "status": MetadataValue.text("skipped"),
            "skipped": MetadataValue.text(summary["reason"]),
            "resources": sum(counts.values()),
            "path": MetadataValue.path(path),
        })
    rows = summary["rows"]
    store.write_table(f"{folder}/cost.parquet", cost_table(rows))
    return MaterializeResult(metadata={
        "status": MetadataValue.text("ok"),
        "spend": summary["total"],
        "unit": MetadataValue.text(summary["unit"]),
        "estimated": summary["estimated"],
        "unmapped_spend": summary["unmapped_total"],
        "services_with_spend": summary["services_with_spend"],
        "resources": summary["resources"],
        "api_calls": summary["api_calls"]["total_calls"],
        "by_service": MetadataValue.md(cost_markdown(rows)),
        "path": MetadataValue.path(path),
    })


def _fetch_cost(part: Partition, aws: AwsInventoryResource, metric: str, counts: dict[str, int]) -> dict[str, Any]:
    """cost.json content for an enabled account: data, or skipped where Cost Explorer cannot answer."""
    try:
        account = aws.account(part.account)
        aws.ensure_simulator(account)
        sessions = AccountSessions(account, aws.settings(), AuditLog())
        fetched = fetch_cost_pages(sessions, cost_request(part.account, part.date, metric))
    except CostExplorerUnavailable as exc:
        return skipped_summary(account_id=part.account, date=part.date, reason=str(exc), code=exc.code)
    except (AccountsConfigError, CredentialsError) as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    except (ClientError, BotoCoreError) as exc:
        raise Failure(description=f"Cost Explorer failed for {part.key}: {exc}") from exc
    try:
        amounts, unit, estimated = parse_cost_pages(fetched.pages, metric)
    except ValueError as exc:
        raise Failure(description=f"Cost Explorer answer for {part.key} cannot be used: {exc}",
                      allow_retries=False) from exc
    summary = cost_summary(join_costs(amounts, counts, unit), account_id=part.account, date=part.date, unit=unit,
                           estimated=estimated, metric=metric)
    summary["api_calls"] = fetched.audit
    if not amounts:
        summary["note"] = "Cost Explorer returned no spend for this day (it may not be final yet: re-materialise later)"
    return summary


# --- cleanup plan -------------------------------------------------------------------------------------------


@asset(
    **INSIGHTS_ASSET,
    kinds={"json", "markdown"},
    description=(
        "A cleanup plan that deletes nothing and calls no AWS API: candidates from the snapshot and its dependency "
        "index (unattached volumes, unused Elastic IPs, unreferenced security groups, long-stopped instances, old "
        "untagged resources) with the evidence for each, protections (tags, types, age, incomplete inventory, "
        "still in use) and the order that deletes dependents first: cleanup_plan.json and cleanup_plan.md."
    ),
)
def cleanup_plan(context: AssetExecutionContext, cleanup_rules: CleanupRulesResource,
                 store: InventoryStoreResource) -> MaterializeResult:
    try:
        settings = cleanup_rules.settings()
    except CleanupConfigError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    target = store.store()
    return materialize_partitions(context, lambda part: _cleanup(target, part, settings))


def _cleanup(store: InventoryStore, part: Partition, settings: CleanupSettings) -> MaterializeResult:
    try:
        table, manifest = steps.load_snapshot(store, part, columns=["arn", "resource_type", "resource_id", "name",
                                                                    "region", "tags", "configuration"])
    except steps.StepError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    plan = build_cleanup_plan(table, steps.load_relationships(store, part), account_id=part.account, date=part.date,
                              coverage=manifest.get("coverage") or [], settings=settings)
    paths = write_json_and_markdown(store, insight_folder("cleanup", part), "cleanup_plan", plan, plan_markdown(plan))
    summary = plan["summary"]
    preview = "\n".join(
        f"{c['step']}. `{c['resource_type']}` {c['name'] or c['resource_id']}: {'; '.join(c['reasons'])}"
        for c in plan["candidates"][:20]) or "no candidates"
    return MaterializeResult(metadata={
        "candidates": summary["candidates"],
        "protected": summary["protected"],
        "steps": summary["steps"],
        "estimated_monthly_usd": summary["estimated_monthly_usd"],
        "estimated_items": summary["estimated_items"],
        **{f"rule_{rule}": summary["by_rule"].get(rule, 0) for rule in plan["settings"]["rules"]},
        "preview": MetadataValue.md(preview),
        "path": MetadataValue.path(paths["md"]),
    })


# --- overview -----------------------------------------------------------------------------------------------


@asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"json", "parquet"},
    deps=[raw_inventory, inventory_snapshot, inventory_delta, compliance_report, cost],
    automation_condition=OVERVIEW_AUTOMATION,
    description=(
        "Every account's latest state in one table: resources, changes on the newest delta, compliance score and "
        "tag compliance, gate, last collection with every scope ok, newest spend, and a status to sort by; "
        "overview.json and overview.parquet under insights/overview/."
    ),
)
def inventory_overview(context: AssetExecutionContext, store: InventoryStoreResource) -> MaterializeResult:
    """Read the newest documents of every account in the store."""
    target = store.store()
    documents = all_account_documents(target)
    for docs in documents:
        for note in docs.notes:
            context.log.warning(f"account {docs.account_id}: {note}")
    rows = build_overview(documents)
    target.write_json(f"{OVERVIEW_FOLDER}/overview.json", overview_document(rows))
    target.write_table(f"{OVERVIEW_FOLDER}/overview.parquet", overview_table(rows))
    totals = overview_totals(rows)
    return MaterializeResult(metadata={
        **{k: v for k, v in totals.items() if v is not None},
        "dagster/row_count": len(rows),
        "overview": MetadataValue.md(overview_markdown(rows) if rows else "no account has anything stored yet"),
        "path": MetadataValue.path(target.display(f"{OVERVIEW_FOLDER}/overview.json")),
    })
