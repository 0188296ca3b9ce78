"""Insights assets in a real Dagster instance after the chain: cost (skipped, from moto, not enabled),
cleanup_plan and inventory_overview, with exact files and metadata."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from dagster import AssetKey, AssetSelection, DagsterInstance, evaluate_automation_conditions, materialize
from dagster._core.storage.defs_state.base import set_defs_state_storage

from inventag_pipeline.aws.cost_explorer import CostExplorerUnavailable
from inventag_pipeline.definitions import defs
from inventag_pipeline.insights import assets as insights_assets
from inventag_pipeline.insights.assets import SKIPPED_NOTE_OPT_IN, cleanup_plan, cost, inventory_overview
from inventag_pipeline.insights.resources import CleanupRulesResource, CostExplorerResource
from inventag_pipeline.partitions import partition_key
from inventag_pipeline.resources import AwsInventoryResource, ComplianceGateResource, InventoryStoreResource
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.core.test_cost import page
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, CHAIN, run_day

DATE = "2026-11-21"
COMPLIANCE = (*CHAIN, "tag_compliance", "security_findings", "compliance_report")
LENIENT_GATE = ComplianceGateResource(min_score=0.0, warn_score=0.0, max_critical=1000, warn_high=1000,
                                      min_tag_pct=0.0, warn_tag_pct=0.0)
EC2 = f"arn:aws:ec2:us-east-1:{ACCOUNT}"


@pytest.fixture
def ephemeral():
    with DagsterInstance.ephemeral() as inst:
        yield inst


def _estate(url: str) -> dict[str, str]:
    """Something of each kind the cleanup rules look for, and one resource protected by its tag."""
    ec2 = client(url, "ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    web = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    orphan = ec2.create_security_group(GroupName="orphan", Description="left over")["GroupId"]
    owner = [{"ResourceType": "instance", "Tags": [{"Key": "Owner", "Value": "ops"}]}]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[web], TagSpecifications=owner)
    batch = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[web],
                              TagSpecifications=owner)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[batch])
    tagged = [{"ResourceType": "volume", "Tags": [{"Key": "Owner", "Value": "ops"}]}]
    free = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, VolumeType="gp3",
                             TagSpecifications=tagged)["VolumeId"]
    keep = ec2.create_volume(AvailabilityZone="us-east-1a", Size=20, VolumeType="gp3", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "DoNotDelete", "Value": "true"}]}])["VolumeId"]
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return {"orphan": orphan, "batch": batch, "free": free, "keep": keep, "address": address}


def _insights(instance: DagsterInstance, url: str, storage: str, keys, *, cost_enabled: bool = False):
    resources = {
        "aws": AwsInventoryResource(simulator_url=url, max_attempts=2),
        "store": InventoryStoreResource(storage_uri=storage),
        "cost_explorer": CostExplorerResource(enabled=cost_enabled),
        # moto's resources are created now, after the partition's day: no minimum age, any stop counts.
        "cleanup_rules": CleanupRulesResource(min_age_days=0, stopped_days=0),
    }
    with set_defs_state_storage(instance.defs_state_storage):
        if keys == "overview":
            return materialize([inventory_overview], instance=instance, resources={"store": resources["store"]})
        return materialize(keys, partition_key=partition_key(ACCOUNT, DATE), instance=instance, resources=resources)


def _metadata(result, asset: str) -> dict:
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def _hours_after(date: str, hours: float) -> dt.datetime:
    return dt.datetime.fromisoformat(date).replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=hours)


def _requested(result) -> set[tuple[str, tuple[str, ...]]]:
    out = set()
    for name in ("cost", "cleanup_plan", "inventory_overview"):
        partitions = result.get_requested_partitions(AssetKey(name))
        if partitions or result.get_num_requested(AssetKey(name)):
            out.add((name, tuple(sorted(str(p) for p in partitions if p is not None))))
    return out


def test_insights_after_the_chain(moto_url, ephemeral, tmp_path, monkeypatch):
    storage = str(tmp_path / "store")
    ids = _estate(moto_url)
    selection = AssetSelection.groups("insights")
    before = evaluate_automation_conditions(defs, ephemeral, selection, evaluation_time=_hours_after(DATE, 2))
    assert before.total_requested == 0
    assert run_day(ephemeral, moto_url, storage, DATE, keys=COMPLIANCE, regions="us-east-1", gate=LENIENT_GATE).success
    # Once the automation sensor is on, the day's chain is followed by the insights, but only for recent days.
    after = evaluate_automation_conditions(defs, ephemeral, selection, evaluation_time=_hours_after(DATE, 26),
                                           cursor=before.cursor)
    assert _requested(after) == {("cost", (f"{ACCOUNT}|{DATE}",)), ("cleanup_plan", (f"{ACCOUNT}|{DATE}",)),
                                 ("inventory_overview", ())}
    late = evaluate_automation_conditions(defs, ephemeral, AssetSelection.assets("cost", "cleanup_plan"),
                                          evaluation_time=_hours_after(DATE, 24 * 10), cursor=before.cursor)
    assert late.total_requested == 0
    insights = Path(storage) / "insights"
    cost_dir = insights / "cost" / f"account={ACCOUNT}" / f"date={DATE}"
    snapshot = json.loads((Path(storage) / "snapshots" / f"account={ACCOUNT}" / f"date={DATE}" / "manifest.json")
                          .read_text())

    # Cost Explorer is opt-in: the day is recorded as skipped, with the reason, and the asset succeeds.
    result = _insights(ephemeral, moto_url, storage, [cost, cleanup_plan])
    assert result.success
    assert json.loads((cost_dir / "cost.json").read_text()) == {
        "schema_version": 1, "status": "skipped", "account_id": ACCOUNT, "date": DATE, "code": "opt_in",
        "reason": SKIPPED_NOTE_OPT_IN}
    assert sorted(p.name for p in cost_dir.iterdir()) == ["cost.json"]
    assert _metadata(result, "cost") == {
        "status": "skipped", "skipped": SKIPPED_NOTE_OPT_IN, "resources": snapshot["row_count"],
        "path": str(cost_dir / "cost.json")}

    # The cleanup plan: exactly the leftovers, the protected volume held back, nothing deleted.
    plan_dir = insights / "cleanup" / f"account={ACCOUNT}" / f"date={DATE}"
    plan = json.loads((plan_dir / "cleanup_plan.json").read_text())
    assert [(c["step"], c["arn"], c["rules"]) for c in plan["candidates"]] == [
        (1, f"{EC2}:elastic-ip/{ids['address']}", ["ec2_eip_unassociated"]),
        (1, f"{EC2}:instance/{ids['batch']}", ["ec2_instance_stopped_long"]),
        (1, f"{EC2}:security-group/{ids['orphan']}", ["ec2_securitygroup_unreferenced"]),
        (1, f"{EC2}:volume/{ids['free']}", ["ebs_volume_unattached"]),
    ]
    assert [(p["arn"], p["protections"]) for p in plan["protected"]] == [
        (f"{EC2}:volume/{ids['keep']}", [{"kind": "tag", "detail": "protection tag DoNotDelete=true"}])]
    assert (plan_dir / "cleanup_plan.md").read_text().splitlines()[0] == f"# Cleanup plan — account {ACCOUNT}, {DATE}"
    meta = _metadata(result, "cleanup_plan")
    assert {k: meta[k] for k in ("candidates", "protected", "steps", "rule_ebs_volume_unattached",
                                 "rule_resource_untagged_old", "path")} == {
        "candidates": 4, "protected": 1, "steps": 1, "rule_ebs_volume_unattached": 1,
        "rule_resource_untagged_old": 0, "path": str(plan_dir / "cleanup_plan.md")}
    assert meta["estimated_monthly_usd"] == plan["summary"]["estimated_monthly_usd"]

    # Opted in, against moto seeded with a day of spend: joined to the snapshot's counts per service.
    seeded = {"results": [page({"Amazon Elastic Compute Cloud - Compute": "1.25", "EC2 - Other": "0.75",
                                "Tax": "0.10"}, estimated=True)]}
    assert requests.post(f"{moto_url}/moto-api/static/ce/cost-and-usage-results", json=seeded, timeout=10).ok
    result = _insights(ephemeral, moto_url, storage, [cost], cost_enabled=True)
    assert result.success
    day = json.loads((cost_dir / "cost.json").read_text())
    ec2_count = sum(c["resource_count"] for c in snapshot["coverage"] if c["service"] == "ec2")
    assert {k: day[k] for k in ("status", "total", "unmapped_total", "estimated", "unit")} == {
        "status": "ok", "total": 2.1, "unmapped_total": 0.1, "estimated": True, "unit": "USD"}
    assert [(r["group"], r["amount"], r["resources"]) for r in day["rows"][:2]] == [("ec2", 2.0, ec2_count),
                                                                                  ("Tax", 0.1, None)]
    assert day["api_calls"]["operations"] == {"ce:GetCostAndUsage": 1}
    assert pq.read_table(cost_dir / "cost.parquet").num_rows == len(day["rows"])
    meta = _metadata(result, "cost")
    assert {k: meta[k] for k in ("status", "spend", "unmapped_spend", "api_calls")} == {
        "status": "ok", "spend": 2.1, "unmapped_spend": 0.1, "api_calls": 1}

    # Every account's newest state in one table.
    result = _insights(ephemeral, moto_url, storage, "overview")
    assert result.success
    overview = json.loads((insights / "overview" / "overview.json").read_text())
    report = json.loads((Path(storage) / "compliance" / "reports" / f"account={ACCOUNT}" / f"date={DATE}" /
                         "report.json").read_text())
    [row] = overview["accounts"]
    assert row == {
        "account_id": ACCOUNT, "account_name": "simulated-demo", "snapshot_date": DATE,
        "resources": snapshot["row_count"], "changes_date": DATE, "changes": 0, "changes_critical": 0,
        "changes_high": 0, "compliance_date": DATE, "compliance_score": report["score"],
        "tag_compliance_pct": report["tag_compliance_percentage"], "gate": "pass", "last_collection": DATE,
        "last_collection_failed_scopes": 0, "last_good_collection": DATE, "cost_date": DATE, "spend": 2.1,
        "spend_unit": "USD", "status": "ok"}
    assert pq.read_table(insights / "overview" / "overview.parquet").to_pylist() == [row]
    meta = _metadata(result, "inventory_overview")
    assert {k: meta[k] for k in ("accounts", "resources", "changes", "accounts_not_ok", "dagster/row_count")} == {
        "accounts": 1, "resources": snapshot["row_count"], "changes": 0, "accounts_not_ok": 0,
        "dagster/row_count": 1}

    # Cost Explorer not enabled for the account: skipped, and the earlier data of that day is replaced.
    def unavailable(sessions, request):
        raise CostExplorerUnavailable("DataUnavailableException", "Cost Explorer has no data for this account")

    monkeypatch.setattr(insights_assets, "fetch_cost_pages", unavailable)
    assert _insights(ephemeral, moto_url, storage, [cost], cost_enabled=True).success
    assert json.loads((cost_dir / "cost.json").read_text())["code"] == "DataUnavailableException"
    assert sorted(p.name for p in cost_dir.iterdir()) == ["cost.json"]
    _insights(ephemeral, moto_url, storage, "overview")
    assert json.loads((insights / "overview" / "overview.json").read_text())["accounts"][0]["spend"] is None
