"""Partitions (DESIGN §2): day x account, keys `ACCOUNT|YYYY-MM-DD`."""


import os

from dagster import (
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
