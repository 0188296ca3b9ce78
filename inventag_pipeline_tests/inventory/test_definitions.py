"""The code location loads; every job, schedule and sensor resolves and does what it says."""

from __future__ import annotations

import datetime as dt

from dagster import (
    SensorResult,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from inventag_pipeline.definitions import defs
from inventag_pipeline.inventory.schedules import daily_inventory_schedule
from inventag_pipeline.inventory.sensors import account_registration_sensor
from inventag_pipeline.partitions import ACCOUNTS_PARTITION
from inventag_pipeline.resources import AwsInventoryResource


def test_definitions_resolve_by_name():
    assert defs.resolve_job_def("daily_inventory").name == "daily_inventory"
    assert defs.resolve_job_def("validate_store").name == "validate_store"
    assert defs.resolve_schedule_def("daily_inventory_schedule").cron_schedule == "30 0 * * *"
    assert defs.resolve_sensor_def("account_registration_sensor").name == "account_registration_sensor"
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"raw_inventory", "inventory_snapshot", "inventory_delta", "changelog", "tag_compliance",
                    "security_findings", "compliance_report", "storage_statistics", "published_reports",
                    "notifications", "inventory_metrics", "inventory_overview", "cost", "cleanup_plan"}
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        groups[key.to_user_string()] = node.group_name
    assert groups == {"raw_inventory": "inventory", "inventory_snapshot": "inventory", "inventory_delta": "inventory",
                      "changelog": "inventory", "tag_compliance": "compliance", "security_findings": "compliance",
                      "compliance_report": "compliance", "storage_statistics": "operations",
                      "published_reports": "delivery", "notifications": "delivery", "inventory_metrics": "delivery",
                      "inventory_overview": "insights", "cost": "insights", "cleanup_plan": "insights"}
    assert {c.name for c in graph.asset_check_keys} == {
        "snapshot_checksum_matches", "snapshot_schema_valid", "all_scopes_verified", "compliance_gate"}


def _accounts(tmp_path) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  - id: '111111111111'\n    name: prod\n"
        "  - id: '222222222222'\n    name: staging\n    enabled: false\n"
        "  - id: '333333333333'\n    name: sandbox\n"
    )
    return str(path)


# Contexts are entered with `with`: an unexited context leaves the instance current after it is closed.
def test_sensor_registers_new_accounts_only(tmp_path):
    aws = AwsInventoryResource(accounts_file=_accounts(tmp_path))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, ["111111111111", "999999999999"])
        with build_sensor_context(instance=instance) as context:
            result = account_registration_sensor(context, aws=aws)
        assert isinstance(result, SensorResult)
        [request] = result.dynamic_partitions_requests
        assert (request.partitions_def_name, list(request.partition_keys)) == (
            ACCOUNTS_PARTITION, ["222222222222", "333333333333"])


def test_schedule_requests_yesterday_for_each_registered_enabled_account(tmp_path):
    aws = AwsInventoryResource(accounts_file=_accounts(tmp_path))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, ["111111111111", "222222222222"])
        when = dt.datetime(2026, 11, 22, 0, 30, tzinfo=dt.timezone.utc)
        with build_schedule_context(instance=instance, scheduled_execution_time=when) as context:
            requests = daily_inventory_schedule(context, aws=aws)
        assert [(r.partition_key, r.tags["inventag/account"]) for r in requests] == [
            ("111111111111|2026-11-21", "111111111111")]


def test_schedule_skips_without_accounts(tmp_path):
    aws = AwsInventoryResource(accounts_file=_accounts(tmp_path))
    when = dt.datetime(2026, 11, 22, 0, 30, tzinfo=dt.timezone.utc)
    with instance_for_test() as instance, build_schedule_context(
            instance=instance, scheduled_execution_time=when) as context:
        result = daily_inventory_schedule(context, aws=aws)
    assert "no registered, enabled accounts" in result.skip_message
