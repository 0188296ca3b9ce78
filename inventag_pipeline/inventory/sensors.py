"""Registers configured and discovered accounts as partitions and starts their first collection.

A partition is never removed: an account that leaves the configuration, or is suspended in AWS
Organizations, stops being collected and keeps its history.
"""

import datetime as dt

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from inventag_pipeline.aws.organizations import DiscoveryError
from inventag_pipeline.core.accounts import AccountsConfigError
from inventag_pipeline.inventory.schedules import ACCOUNT_TAG, daily_inventory_job
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, accounts_partitions, partition_key
from inventag_pipeline.resources import AwsInventoryResource


@sensor(job=daily_inventory_job, minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
        description="Registers every configured account, and with `organization:` every member account found in "
                    "AWS Organizations, as an `aws_accounts` partition, and requests each new enabled account's "
                    "first collection (today's partition).")
def account_registration_sensor(context: SensorEvaluationContext, aws: AwsInventoryResource):
    try:
        accounts = aws.accounts()
    except (AccountsConfigError, DiscoveryError) as exc:
        return SkipReason(f"accounts could not be loaded, nothing registered: {exc}")
    known = set(context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION))
    new = [a for a in accounts if a.id not in known]
    if not new:
        disabled = sum(1 for a in accounts if not a.enabled)
        return SkipReason(f"all {len(accounts)} configured account(s) already registered"
                          + (f" ({disabled} disabled or suspended: not collected)" if disabled else ""))
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    return SensorResult(
        dynamic_partitions_requests=[accounts_partitions.build_add_request([a.id for a in new])],
        run_requests=[
            RunRequest(run_key=f"first|{a.id}|{today}", partition_key=partition_key(a.id, today),
                       tags={ACCOUNT_TAG: a.id, "inventag/first_collection": "true"})
            for a in new if a.enabled and not a.simulated
        ],
    )
