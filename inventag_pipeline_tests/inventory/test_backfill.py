"""Backfills in batched runs: the same files as one run per partition, dates in order, identical re-runs."""

import hashlib
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, MultiPartitionKey, instance_for_test, materialize
from dagster._core.storage.defs_state.base import set_defs_state_storage
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from inventag_pipeline import steps
from inventag_pipeline.aws.collector import Collection, RawItem, ScopeResult
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.definitions import defs
from inventag_pipeline.inventory.assets import partitions_of
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, partition_key
from inventag_pipeline.resources import (
    AwsInventoryResource,
    ComplianceGateResource,
    DeltaRulesResource,
    InventoryStoreResource,
    TagPolicyResource,
)
from inventag_pipeline.store.store import InventoryStore, Partition
from inventag_pipeline_tests.inventory.helpers import failure_message

DOWNSTREAM = ("inventory_snapshot", "inventory_delta", "changelog", "tag_compliance", "security_findings",
              "compliance_report")
ACCOUNTS = ("111111111111", "222222222222")
DATES = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04")
PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        inst.add_dynamic_partitions(ACCOUNTS_PARTITION, list(ACCOUNTS))
        yield inst


def _tags(owner: str) -> list[dict[str, str]]:
    return [{"Key": "Environment", "Value": "production"}, {"Key": "Owner", "Value": owner},
            {"Key": "CostCenter", "Value": "CC-1"}]


def _scopes(account: str, day: int) -> list[ScopeResult]:
    """One account on day `day` (1-based): day 2 re-owns the bucket, day 3 opens SSH, day 4 adds a queue."""
    bucket = {"Name": f"logs-{account}", "CreationDate": "2025-06-01T10:00:00Z", "Location": "us-east-1",
              "PublicAccessBlock": PAB, "Versioning": {"Status": "Enabled"}, "Policy": None, "PolicyStatus": None,
              "Encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                        "BucketKeyEnabled": False}]},
              "Tags": _tags("web@example.com" if day < 2 else "ops@example.com")}
    ingress = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}] + ([WORLD_SSH] if day >= 3 else [])
    group = {"GroupId": "sg-0123456789abcdef0", "GroupName": "web", "Description": "web tier", "VpcId": "vpc-01",
             "OwnerId": account, "IpPermissions": ingress, "Tags": _tags("web@example.com"),
             "SecurityGroupArn": f"arn:aws:ec2:us-east-1:{account}:security-group/sg-0123456789abcdef0",
             "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                      "PrefixListIds": [], "UserIdGroupPairs": []}]}
    queues = [_queue(account, "orders", depth=day)] + ([_queue(account, "payments", depth=0)] if day >= 4 else [])

    def scope(service: str, region: str, rtype: str, payloads: list[dict]) -> ScopeResult:
        items = [RawItem(rtype, "us-east-1", p) for p in payloads]
        return ScopeResult(service, region, "ok", items, api_calls=1 + len(items), duration_s=0.1,
                           type_counts={rtype: len(items)})

    return [scope("ec2", "us-east-1", "AWS::EC2::SecurityGroup", [group]),
            scope("s3", "global", "AWS::S3::Bucket", [bucket]),
            scope("sqs", "us-east-1", "AWS::SQS::Queue", queues)]


def _queue(account: str, name: str, depth: int) -> dict:
    return {"QueueUrl": f"https://sqs.us-east-1.amazonaws.com/{account}/{name}",
            "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{account}:{name}", "VisibilityTimeout": "30",
                           "ApproximateNumberOfMessages": str(depth), "SqsManagedSseEnabled": "true",
                           "CreatedTimestamp": "1748772000", "LastModifiedTimestamp": "1748772000"},
            "Tags": {"Environment": "production", "Owner": "payments@example.com", "CostCenter": "CC-2"}}


def _write_history(root: Path) -> None:
    """Stored raw data, written by the same step raw_inventory uses."""
    store = InventoryStore(str(root))
    for account in ACCOUNTS:
        for day, date in enumerate(DATES, start=1):
            collection = Collection(account_id=account, regions=["us-east-1"], started_at=f"{date}T06:00:00Z",
                                    collected_at=f"{date}T06:00:05Z", scopes=_scopes(account, day),
                                    identity_arn=f"arn:aws:iam::{account}:role/InventagReadOnly")
            steps.write_raw(store, Partition(account, date), collection, AuditLog(), account_name=f"acct-{account}")


LENIENT = ComplianceGateResource(min_score=0, max_critical=10, min_tag_pct=0)


def _materialize(instance, root: Path, *, key: MultiPartitionKey | None = None, first: str = "", last: str = "",
                 gate: ComplianceGateResource = LENIENT):
    """One run: a single partition, or a key range as the backfill daemon launches it for a single-run policy."""
    tags = {} if key else {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    resources = {"aws": AwsInventoryResource(), "store": InventoryStoreResource(storage_uri=str(root)),
                 "delta_rules": DeltaRulesResource(), "tag_policy": TagPolicyResource(), "compliance_gate": gate}
    with set_defs_state_storage(instance.defs_state_storage):
        return materialize([defs.get_assets_def(k) for k in DOWNSTREAM], partition_key=key, tags=tags,
                           instance=instance, resources=resources, raise_on_error=False)


def _outputs(root: Path) -> dict[str, str]:
    """SHA-256 of every file the downstream assets wrote, by path below the store root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "raw"}


def test_a_batched_run_writes_the_same_files_as_one_run_per_partition_and_reruns_identically(instance, tmp_path):
    single, batched = tmp_path / "single", tmp_path / "batched"
    _write_history(single)
    _write_history(batched)
    dates = DATES[:3]
    for account in ACCOUNTS:
        for date in dates:
            assert _materialize(instance, single, key=partition_key(account, date)).success

    first, last = f"{ACCOUNTS[0]}|{dates[0]}", f"{ACCOUNTS[1]}|{dates[-1]}"
    result = _materialize(instance, batched, first=first, last=last)
    assert result.success
    files = _outputs(batched)
    kinds = {"snapshots", "relationships", "deltas", "changelogs", "compliance"}
    assert {Path(p).parts[0] for p in files} == kinds
    assert len({p for p in files if p.endswith("report.json")}) == len(ACCOUNTS) * len(dates)
    assert files == _outputs(single)

    # One materialization per asset and partition, each with its own metadata.
    deltas = {m.partition: m.metadata for m in result.asset_materializations_for_node("inventory_delta")}
    assert set(deltas) == {f"{a}|{d}" for a in ACCOUNTS for d in dates}
    for account in ACCOUNTS:
        assert [deltas[f"{account}|{d}"]["previous_date"].value for d in dates] == [
            "none (first snapshot)", *dates[:-1]]
        assert [deltas[f"{account}|{d}"]["total_changes"].value for d in dates] == [0, 1, 1]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert (evaluations["snapshot_checksum_matches"].passed,
            evaluations["snapshot_checksum_matches"].metadata["partitions"].value) == (True, 6)

    assert _materialize(instance, batched, first=first, last=last).success
    assert _outputs(batched) == files


def test_each_delta_and_report_of_a_batch_builds_on_the_day_before(instance, tmp_path):
    _write_history(tmp_path)
    account = ACCOUNTS[0]
    # The default gate allows no critical finding: SSH open to the world breaches it from day 3 on.
    result = _materialize(instance, tmp_path, first=f"{account}|{DATES[0]}", last=f"{account}|{DATES[-1]}",
                          gate=ComplianceGateResource())
    [failure] = result.get_step_failure_events()
    assert (failure.step_key, failure.step_failure_data.error.cls_name) == (
        "compliance_report", "DagsterAssetCheckFailedError")
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == "compliance_gate"]
    # One combined evaluation: ERROR because some day breached, listing every day that did not pass.
    assert (gate.passed, gate.severity.value, gate.metadata["failed_partitions"].value) == (False, "ERROR", 4)
    assert [line.split("; ")[0] for line in gate.metadata["failed"].value.splitlines()] == [
        f"- {account}|{DATES[0]}: status=warn", f"- {account}|{DATES[1]}: status=warn",
        f"- {account}|{DATES[2]}: status=error", f"- {account}|{DATES[3]}: status=error"]
    # A breached gate holds what comes after the report; every report of the batch is written and recorded.
    assert {m.partition for m in result.asset_materializations_for_node("compliance_report")} == {
        f"{account}|{d}" for d in DATES}

    def changes(date: str) -> set[tuple[str, str]]:
        table = pq.read_table(tmp_path / "deltas" / f"account={account}" / f"date={date}" / "resource_changes.parquet")
        return {(r["arn"], r["change_type"]) for r in table.to_pylist()}

    # Had a day been processed before its predecessor, its delta would span two days of changes.
    assert changes(DATES[1]) == {(f"arn:aws:s3:::logs-{account}", "modified")}
    assert changes(DATES[2]) == {(f"arn:aws:ec2:us-east-1:{account}:security-group/sg-0123456789abcdef0", "modified")}
    assert changes(DATES[3]) == {(f"arn:aws:sqs:us-east-1:{account}:payments", "added")}
    reports = [json.loads((tmp_path / "compliance" / "reports" / f"account={account}" / f"date={d}" / "report.json"
                           ).read_text()) for d in DATES]
    assert [r["trend"]["previous_date"] for r in reports] == [None, *DATES[:-1]]
    assert [(f["check_id"], f["arn"]) for f in reports[2]["trend"]["new_failing"]] == [
        ("ec2_securitygroup_admin_ports_closed_to_world",
         f"arn:aws:ec2:us-east-1:{account}:security-group/sg-0123456789abcdef0")]
    still = {f["check_id"]: f["age_days"] for f in reports[3]["trend"]["still_failing"]}
    assert still["ec2_securitygroup_admin_ports_closed_to_world"] == 1
    assert not (tmp_path / "deltas" / f"account={ACCOUNTS[1]}").exists()


def test_a_bad_partition_fails_the_batch_by_name_and_the_others_are_materialised(instance, tmp_path):
    _write_history(tmp_path)
    missing = Partition(ACCOUNTS[1], DATES[2])
    InventoryStore(str(tmp_path)).delete_folder(missing.folder("raw"))
    result = _materialize(instance, tmp_path, first=f"{ACCOUNTS[0]}|{DATES[0]}", last=f"{ACCOUNTS[1]}|{DATES[-1]}")
    assert not result.success
    message = failure_message(result)
    assert "1 of 8 partitions failed; the other 7 were materialised" in message
    assert f"{missing.key}: no raw inventory for account {missing.account} on {missing.date}" in message
    materialized = instance.get_materialized_partitions(AssetKey("inventory_snapshot"))
    assert materialized == {f"{a}|{d}" for a in ACCOUNTS for d in DATES} - {missing.key}
    assert (tmp_path / "snapshots" / f"account={ACCOUNTS[1]}" / f"date={DATES[3]}" / "snapshot.parquet").is_file()
    # The downstream steps of this run wait for the snapshot step, so nothing later was written.
    assert not (tmp_path / "deltas").exists()


def test_partitions_are_handed_out_per_account_in_date_order():
    keys = [MultiPartitionKey({"account": a, "date": d}) for a in ACCOUNTS for d in DATES]
    random.Random(7).shuffle(keys)
    order = list(partitions_of(SimpleNamespace(partition_keys=keys)))
    assert order == [Partition(a, d) for a in ACCOUNTS for d in DATES]
