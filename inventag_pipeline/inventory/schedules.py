"""The daily schedule: one run per enabled account for the day that just ended (UTC)."""


import datetime as dt

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from inventag_pipeline.aws.organizations import DiscoveryError
from inventag_pipeline.core.accounts import AccountsConfigError
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, inventory_partitions, partition_key
from inventag_pipeline.resources import AwsInventoryResource

ACCOUNT_TAG = "inventag/account"

daily_inventory_job = define_asset_job(
    "daily_inventory",
    selection=AssetSelection.groups("inventory", "compliance"),
    partitions_def=inventory_partitions,
    description="Collect, snapshot, diff, report and evaluate compliance for one account and one day.",
)


@schedule(job=daily_inventory_job, cron_schedule="30 0 * * *", execution_timezone="UTC",
          description="At 00:30 UTC, collect every registered, enabled account for the day that just ended.")
def daily_inventory_schedule(context: ScheduleEvaluationContext, aws: AwsInventoryResource):
    day = (context.scheduled_execution_time.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date()
    registered = set(context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION))
    try:
        accounts = aws.accounts()
    except (AccountsConfigError, DiscoveryError) as exc:
        return SkipReason(f"accounts could not be loaded, nothing collected: {exc}")
    enabled = [a for a in accounts if a.enabled and a.id in registered]
    if not enabled:
        return SkipReason("no registered, enabled accounts: run `inventag accounts sync` or enable the sensor")
    return [
        RunRequest(
            run_key=f"{a.id}|{day.isoformat()}",
            partition_key=partition_key(a.id, day.isoformat()),
            tags={ACCOUNT_TAG: a.id},
        )
        for a in enabled
    ]
