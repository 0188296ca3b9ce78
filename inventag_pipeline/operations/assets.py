"""Operations over the whole store: storage statistics (an unpartitioned asset) and the validation job."""

from typing import Any

from dagster import (
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    asset,
    job,
    op,
)

from inventag_pipeline import integrity
from inventag_pipeline.inventory.assets import OWNERS
from inventag_pipeline.resources import InventoryStoreResource
from inventag_pipeline.store.store import KINDS

GROUP = "operations"


def _text(value: str | None) -> MetadataValue:
    return MetadataValue.text(value or "none")


def statistics_metadata(stats: dict[str, Any]) -> dict[str, Any]:
    """Numbers Dagster plots across materialisations, plus Markdown tables per account and per kind."""
    accounts = stats["by_account"]
    account_rows = "\n".join(
        f"| {a} | {e['snapshots']} | {e['oldest_snapshot'] or '-'} | {e['newest_snapshot'] or '-'} | "
        f"{'-' if e['resources_in_newest'] is None else e['resources_in_newest']} | {e['files']} | {e['bytes']} |"
        for a, e in accounts.items()
    )
    kind_rows = "\n".join(f"| {KINDS[k]} | {v['files']} | {v['bytes']} |" for k, v in stats["by_kind"].items())
    return {
        "total_bytes": stats["total_bytes"],
        "total_files": stats["total_files"],
        "snapshots": stats["snapshots"],
        "accounts": len(accounts),
        "resources_in_newest": stats["resources_in_newest"],
        **{f"bytes_{kind}": v["bytes"] for kind, v in stats["by_kind"].items()},
        "oldest_snapshot": _text(stats["oldest_snapshot"]),
        "newest_snapshot": _text(stats["newest_snapshot"]),
        "by_account": MetadataValue.md(
            "| account | snapshots | oldest | newest | resources (newest) | files | bytes |\n"
            "|---|---:|---|---|---:|---:|---:|\n" + account_rows
        ),
        "by_kind": MetadataValue.md("| folder | files | bytes |\n|---|---:|---:|\n" + kind_rows),
        "store": MetadataValue.path(stats["store"]),
    }


@asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"json"},
    description=(
        "Storage statistics of the whole store: bytes and files per folder and account, snapshot count, oldest "
        "and newest snapshot date and resources in the newest snapshot per account (metadata only; nothing is "
        "written)."
    ),
)
def storage_statistics(store: InventoryStoreResource) -> MaterializeResult:
    """Measure the store as it is now."""
    return MaterializeResult(metadata=statistics_metadata(integrity.storage_statistics(store.store())))


class ValidateStoreConfig(Config):
    accounts: list[str] = []  # empty: every account found in the store


def validation_metadata(report: integrity.ValidationReport) -> dict[str, Any]:
    counts = report.counts()
    return {
        **{f"checked_{k}": v for k, v in report.checked.items()},
        "errors": counts["error"],
        "warnings": counts["warning"],
        "info": counts["info"],
        "store": MetadataValue.path(report.store),
    }


@op(
    out=Out(Nothing),
    description="Verify every snapshot checksum and manifest and report missing partitions; fails on any error.",
)
def validate_store_op(context: OpExecutionContext, config: ValidateStoreConfig, store: InventoryStoreResource):
    report = integrity.validate_store(store.store(), config.accounts or None)
    text = report.render_text()
    metadata = validation_metadata(report)
    if not report.ok:
        context.log.error(text)
        raise Failure(description=text, metadata=metadata, allow_retries=False)
    if report.problems:
        context.log.warning(text)
    else:
        context.log.info(text)
    yield Output(None, metadata=metadata)


@job(
    name="validate_store",
    description="Check every manifest's checksum across the store and report corrupted or missing partitions.",
)
def validate_store_job():
    validate_store_op()
