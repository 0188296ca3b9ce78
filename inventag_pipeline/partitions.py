"""Partitions (DESIGN §2): day x account, keys `ACCOUNT|YYYY-MM-DD`."""


import datetime as dt
import os
import warnings

from dagster import (
    AutomationCondition,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
)

from inventag_pipeline.core.accounts import validate_account_id

ACCOUNTS_PARTITION = "aws_accounts"
DEFAULT_START_DATE = "2026-01-01"

accounts_partitions = DynamicPartitionsDefinition(name=ACCOUNTS_PARTITION)
# end_offset=1: partition D may be collected while D is still under way (DESIGN §2).
daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("INVENTAG_START_DATE", DEFAULT_START_DATE), timezone="UTC", end_offset=1
)
inventory_partitions = MultiPartitionsDefinition({"account": accounts_partitions, "date": daily_partitions})

# Every asset downstream of raw_inventory: a backfill runs each contiguous range of partitions in one run
# (Dagster forms one range per account when a backfill spans more days than accounts), so a run start-up of
# seconds is paid once per range instead of once per day, and one run sees an account's days in date order.
# Not multi_run(N): it would split an account's days across runs that execute in any order, while a delta
# needs its predecessor's snapshot and a compliance report its predecessor's report.
DOWNSTREAM_BACKFILL_POLICY = BackfillPolicy.single_run()
# A job or run that also selects raw_inventory, which has no policy (one collection per run), makes Dagster
# warn that the policies vary and fall back to one partition per run: for such a job that is the intent.
warnings.filterwarnings("ignore", message=r"Asset job \S+ materializes assets with varying BackfillPolicies",
                        category=UserWarning)


def partition_key(account: str, date: str) -> MultiPartitionKey:
    """The multi-partition key for one account and day, validating the account id first."""
    return MultiPartitionKey({"account": validate_account_id(account), "date": date})


def split_key(key: str | MultiPartitionKey) -> tuple[str, str]:
    """(account, date) from a key; Dagster orders dimensions by name, so strings read `ACCOUNT|DATE`."""
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return dims["account"], dims["date"]
    account, date = str(key).split("|", 1)
    return account, date


def after_recent_upstream(days: int, label: str) -> AutomationCondition:
    """Run once the partition's dependencies are updated and settled, for the last `days` days only,
    so a backfill of last year never triggers deliveries or paid API calls on its own."""
    return (
        AutomationCondition.in_latest_time_window(lookback_delta=dt.timedelta(days=days))
        & AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label(label)
