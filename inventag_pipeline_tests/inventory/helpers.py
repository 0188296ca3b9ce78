"""Helpers to materialise the inventory chain in tests on a real Dagster instance."""

from __future__ import annotations

from dagster import DagsterInstance, materialize
from dagster._core.storage.defs_state.base import set_defs_state_storage

from inventag_pipeline.definitions import defs
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, partition_key
from inventag_pipeline.resources import (
    AwsInventoryResource,
    ComplianceGateResource,
    DeltaRulesResource,
    InventoryStoreResource,
    TagPolicyResource,
)

CHAIN = ("raw_inventory", "inventory_snapshot", "inventory_delta", "changelog")
ACCOUNT = "123456789012"


def chain_assets(keys=CHAIN):
    return [defs.get_assets_def(k) for k in keys]


def run_day(instance: DagsterInstance, url: str, storage: str, date: str, *, keys=CHAIN, account: str = ACCOUNT,
            raise_on_error: bool = True, tag_policy_file: str | None = None,
            gate: ComplianceGateResource | None = None, **aws_fields):
    """Materialise the chain for one (account, date); the account is registered first."""
    if account not in instance.get_dynamic_partitions(ACCOUNTS_PARTITION):
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, [account])
    aws_fields.setdefault("allow_outside_window", True)
    aws_fields.setdefault("max_attempts", 2)
    resources = {
        "aws": AwsInventoryResource(simulator_url=url, **aws_fields),
        "store": InventoryStoreResource(storage_uri=storage),
        "delta_rules": DeltaRulesResource(),
        "tag_policy": TagPolicyResource(policy_file=tag_policy_file),
        "compliance_gate": gate or ComplianceGateResource(),
    }
    # Make this instance's defs-state storage the current one. Under pytest-xdist a storage left
    # current by an earlier test's (closed) instance was seen here; materialize() consults it while
    # building its repository and fails with "undefined DagsterInstance weakref".
    with set_defs_state_storage(instance.defs_state_storage):
        return materialize(chain_assets(keys), partition_key=partition_key(account, date), instance=instance,
                           resources=resources, raise_on_error=raise_on_error)



def failure_message(result) -> str:
    """The error text of the first failed step, as the UI shows it."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            return f"{error.message} {error.cause.message if error.cause else ''}"
    return ""
