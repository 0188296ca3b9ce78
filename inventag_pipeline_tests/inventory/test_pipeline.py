"""End to end through Dagster on a temporary instance, against a moto server."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, CHAIN, failure_message, run_day

DAY1, DAY2 = "2026-11-20", "2026-11-21"
REQUIRED = [{"Key": "Environment", "Value": "production"}, {"Key": "Owner", "Value": "web@example.com"},
            {"Key": "CostCenter", "Value": "CC-1"}]
PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def storage(tmp_path) -> str:
    return str(tmp_path / "store")


def _estate(url: str) -> dict[str, str]:
    """Day 1: a small account with one thing of each kind the scenario touches."""
    ec2, s3, sqs, ddb = (client(url, s) for s in ("ec2", "s3", "sqs", "dynamodb"))
    sg = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.create_bucket(Bucket="acme-logs")
    s3.put_public_access_block(Bucket="acme-logs", PublicAccessBlockConfiguration=PAB)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 SecurityGroupIds=[sg], TagSpecifications=[{
                                     "ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-1"}, *REQUIRED]
                                 }])["Instances"][0]["InstanceId"]
    orders = sqs.create_queue(QueueName="orders")["QueueUrl"]
    ddb.create_table(TableName="sessions", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    p = f"arn:aws:ec2:us-east-1:{ACCOUNT}"
    return {
        "sg": sg, "instance": instance, "orders": orders,
        "sg_arn": f"{p}:security-group/{sg}", "instance_arn": f"{p}:instance/{instance}",
        "bucket_arn": "arn:aws:s3:::acme-logs", "table_arn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sessions",
        "payments_arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:payments",
    }


def _day2_changes(url: str, ids: dict[str, str]) -> None:
    ec2, s3, sqs, ddb = (client(url, s) for s in ("ec2", "s3", "sqs", "dynamodb"))
    ec2.authorize_security_group_ingress(GroupId=ids["sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.delete_public_access_block(Bucket="acme-logs")
    ec2.stop_instances(InstanceIds=[ids["instance"]])
    ec2.modify_instance_attribute(InstanceId=ids["instance"], InstanceType={"Value": "m5.large"})
    ec2.start_instances(InstanceIds=[ids["instance"]])
    ec2.delete_tags(Resources=[ids["instance"]], Tags=[{"Key": "Owner"}])
    sqs.create_queue(QueueName="payments")
    ddb.delete_table(TableName="sessions")
    for i in range(3):  # volatile only: the queue depth is not a change
        sqs.send_message(QueueUrl=ids["orders"], MessageBody=f"order {i}")


def _folder(storage: str, kind: str, date: str) -> Path:
    return Path(storage) / kind / f"account={ACCOUNT}" / f"date={date}"


def test_two_consecutive_days_report_exactly_the_changes(moto_url, instance, storage):
    ids = _estate(moto_url)
    assert run_day(instance, moto_url, storage, DAY1).success
    first = json.loads((_folder(storage, "deltas", DAY1) / "summary.json").read_text())
    assert (first["previous_date"], first["total_changes"]) == (None, 0)

    _day2_changes(moto_url, ids)
    day2 = run_day(instance, moto_url, storage, DAY2)
    assert day2.success

    deltas = _folder(storage, "deltas", DAY2)
    resources = {(r["arn"], r["change_type"], r["severity"])
                 for r in pq.read_table(deltas / "resource_changes.parquet").to_pylist()}
    assert resources == {
        (ids["sg_arn"], "modified", "critical"),
        (ids["bucket_arn"], "modified", "critical"),
        (ids["instance_arn"], "modified", "medium"),
        (ids["payments_arn"], "added", "low"),
        (ids["table_arn"], "removed", "medium"),
    }
    attributes = {(a["arn"], a["path"], a["change"], a["category"], a["severity"])
                  for a in pq.read_table(deltas / "attribute_changes.parquet").to_pylist()}
    assert attributes == {
        (ids["sg_arn"], "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]", "added",
         "security", "critical"),
        (ids["bucket_arn"], "PublicAccessBlock", "removed", "security", "critical"),
        (ids["instance_arn"], "InstanceType", "changed", "configuration", "medium"),
        (ids["instance_arn"], "tags.Owner", "removed", "compliance", "medium"),
    }
    summary = json.loads((deltas / "summary.json").read_text())
    assert summary["previous_date"] == DAY1
    assert summary["counts"]["change_type"] == {"added": 1, "removed": 1, "modified": 3, "replaced": 0}
    assert summary["counts"]["severity"] == {"critical": 2, "high": 0, "medium": 2, "low": 1, "info": 0}
    assert [h["arn"] for h in summary["security_changes"]["high_risk_resources"]] == sorted(
        [ids["bucket_arn"], ids["sg_arn"]])
    assert summary["compliance_changes"]["newly_non_compliant"] == [ids["instance_arn"]]
    assert summary["unverified"] == []

    changelogs = _folder(storage, "changelogs", DAY2)
    markdown = (changelogs / "changelog.md").read_text()
    assert markdown.splitlines()[2] == (
        f"5 resource changes in account simulated-demo ({ACCOUNT}) since {DAY1}: 1 added, 1 removed, 3 modified. "
        "2 critical severity — review these first.")
    assert markdown.index("## Executive summary") < markdown.index("## Details by service")
    assert "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port" in markdown
    assert "InstanceType changed: t3.micro → m5.large" in markdown
    assert "Required tag Owner removed (was web@example.com)" in markdown
    assert "orders" not in markdown  # the queue whose depth moved is not a change
    document = json.loads((changelogs / "changelog.json").read_text())
    assert {c["arn"] for c in document["changes"]} == {r[0] for r in resources}
    html = (changelogs / "changelog.html").read_text()
    assert html.startswith("<!doctype html>") and "<script" not in html and "http" not in html.split("<body>")[0]

    [materialization] = day2.asset_materializations_for_node("inventory_delta")
    assert materialization.partition == f"{ACCOUNT}|{DAY2}"
    metadata = materialization.metadata
    assert (metadata["severity_critical"].value, metadata["changes_added"].value,
            metadata["previous_date"].value) == (2, 1, DAY1)


def test_rematerialising_a_snapshot_from_stored_raw_data_is_byte_identical(moto_url, instance, storage):
    _estate(moto_url)
    assert run_day(instance, moto_url, storage, DAY1).success
    snapshot = _folder(storage, "snapshots", DAY1) / "snapshot.parquet"
    before = snapshot.read_bytes()
    assert run_day(instance, moto_url, storage, DAY1, keys=("inventory_snapshot",)).success
    assert snapshot.read_bytes() == before
    manifest = json.loads((snapshot.parent / "manifest.json").read_text())
    assert set(manifest) >= {"schema_version", "account_id", "date", "collected_at", "regions", "row_count",
                             "sha256", "coverage"}
    assert manifest["row_count"] == pq.read_metadata(snapshot).num_rows


def test_unreachable_service_on_day_two_is_unverified_not_removed(moto_url, instance, storage, closed_port_url,
                                                                  monkeypatch):
    client(moto_url, "rds").create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)
    assert run_day(instance, moto_url, storage, DAY1).success
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", closed_port_url)
    result = run_day(instance, moto_url, storage, DAY2)
    assert result.success

    manifest = json.loads((_folder(storage, "snapshots", DAY2) / "manifest.json").read_text())
    failed = {(c["service"], c["region"], c["status"], c["error_class"], c["errors"][0]["class"])
              for c in manifest["coverage"] if c["status"] != "ok"}
    # Three RDS types fail in a row, so the breaker skips the rest of each scope; the cause is kept.
    assert failed == {("rds", "us-east-1", "failed", "circuit_open", "endpoint_or_network"),
                      ("rds", "eu-west-1", "failed", "circuit_open", "endpoint_or_network")}
    deltas = _folder(storage, "deltas", DAY2)
    assert pq.read_table(deltas / "resource_changes.parquet").num_rows == 0
    summary = json.loads((deltas / "summary.json").read_text())
    assert [(u["service"], u["region"], u["sides"]) for u in summary["unverified"]] == [
        ("rds", "eu-west-1", ["current"]), ("rds", "us-east-1", ["current"])]
    rds_day1 = sum(1 for s in pq.read_table(_folder(storage, "snapshots", DAY1) / "snapshot.parquet",
                                            columns=["service"]).column("service").to_pylist() if s == "rds")
    assert rds_day1 >= 1
    assert summary["suppressed_by_unverified_scopes"] == {"added": 0, "removed": rds_day1}
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "all_scopes_verified"]
    assert [(c.passed, c.severity.value) for c in checks] == [(False, "WARN")]
    markdown = (_folder(storage, "changelogs", DAY2) / "changelog.md").read_text()
    assert "| rds | us-east-1 | failed | current |" in markdown


def test_delta_fails_clearly_when_its_snapshot_is_missing(moto_url, instance, storage):
    result = run_day(instance, moto_url, storage, DAY2, keys=("inventory_delta",), raise_on_error=False)
    assert not result.success
    assert "no snapshot for account 123456789012 on 2026-11-21" in failure_message(result)
    assert not _folder(storage, "deltas", DAY2).exists()


def test_corrupted_snapshot_is_detected_and_nothing_is_overwritten(moto_url, instance, storage):
    _estate(moto_url)
    assert run_day(instance, moto_url, storage, DAY1).success
    old_delta = _folder(storage, "deltas", DAY1)
    snapshot = _folder(storage, "snapshots", DAY1) / "snapshot.parquet"
    corrupted = bytearray(snapshot.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(corrupted))
    delta_before = {p.name: p.read_bytes() for p in old_delta.iterdir()}

    result = run_day(instance, moto_url, storage, DAY2, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "snapshot.parquet is corrupted: its SHA-256 does not match the manifest" in message
    assert f"date={DAY1}" in message
    assert snapshot.read_bytes() == bytes(corrupted)
    assert {p.name: p.read_bytes() for p in old_delta.iterdir()} == delta_before
    assert not _folder(storage, "deltas", DAY2).exists()


def test_the_chain_writes_the_layout_to_s3(moto_url, instance, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="inventory-history")
    _estate(moto_url)
    assert run_day(instance, moto_url, "s3://inventory-history/prod", DAY1).success
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="inventory-history", Prefix="prod/")["Contents"]}
    base = f"account={ACCOUNT}/date={DAY1}"
    assert {f"prod/snapshots/{base}/snapshot.parquet", f"prod/snapshots/{base}/manifest.json",
            f"prod/deltas/{base}/summary.json", f"prod/changelogs/{base}/changelog.html",
            f"prod/raw/{base}/manifest.json"} <= keys
    # The inventory bucket itself is one of the collected resources, read-only.
    manifest = json.loads(s3.get_object(Bucket="inventory-history",
                                        Key=f"prod/snapshots/{base}/manifest.json")["Body"].read())
    assert manifest["row_count"] == pq.read_table(
        pa.BufferReader(s3.get_object(Bucket="inventory-history",
                                      Key=f"prod/snapshots/{base}/snapshot.parquet")["Body"].read())).num_rows


def test_tag_compliance_evaluates_the_snapshot_against_the_policy(moto_url, instance, storage, tmp_path):
    ids = _estate(moto_url)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "required:\n  - {key: Environment, allowed: [production, staging]}\n  - Owner\n"
        "scope: {services: [ec2], resource_types: ['AWS::EC2::Instance', 'AWS::EC2::SecurityGroup']}\n"
        "exemptions:\n  - {arn: '*:security-group/*', reason: security groups are tagged by the network team}\n")
    result = run_day(instance, moto_url, storage, DAY1, keys=(*CHAIN, "tag_compliance"),
                     tag_policy_file=str(policy))
    assert result.success
    rows = pq.read_table(Path(storage) / "compliance" / "tags" / f"account={ACCOUNT}" / f"date={DAY1}"
                         / "results.parquet").to_pylist()
    by_arn = {r["arn"]: r for r in rows}
    assert (by_arn[ids["instance_arn"]]["compliant"], by_arn[ids["instance_arn"]]["missing_tags"]) == (True, [])
    assert by_arn[ids["sg_arn"]]["exemption"] == "security groups are tagged by the network team"
    assert {r["resource_type"] for r in rows} == {"AWS::EC2::Instance", "AWS::EC2::SecurityGroup"}
    [materialization] = result.asset_materializations_for_node("tag_compliance")
    assert (materialization.metadata["tag_compliance_pct"].value, materialization.metadata["evaluated"].value) == (
        100.0, len(rows))


def test_security_findings_are_evaluated_from_the_snapshot(moto_url, instance, storage):
    ids = _estate(moto_url)
    client(moto_url, "ec2").modify_instance_metadata_options(InstanceId=ids["instance"], HttpTokens="required")
    result = run_day(instance, moto_url, storage, DAY1, keys=(*CHAIN, "security_findings"))
    assert result.success
    rows = pq.read_table(Path(storage) / "compliance" / "security" / f"account={ACCOUNT}" / f"date={DAY1}"
                         / "findings.parquet").to_pylist()
    verdicts = {(r["arn"], r["check_id"]): r["status"] for r in rows}
    assert verdicts[(ids["sg_arn"], "ec2_securitygroup_admin_ports_closed_to_world")] == "PASS"
    assert verdicts[(ids["bucket_arn"], "s3_bucket_public_access_blocked")] == "PASS"
    assert verdicts[(ids["bucket_arn"], "s3_bucket_versioning_enabled")] == "FAIL"
    assert verdicts[(ids["instance_arn"], "ec2_instance_imdsv2_required")] == "PASS"
    [materialization] = result.asset_materializations_for_node("security_findings")
    assert materialization.metadata["failing"].value == sum(1 for r in rows if r["status"] == "FAIL")


COMPLIANCE = (*CHAIN, "tag_compliance", "security_findings", "compliance_report")
REPORTS = ("compliance", "reports")


def _report(storage: str, date: str) -> dict:
    return json.loads((Path(storage).joinpath(*REPORTS, f"account={ACCOUNT}", f"date={date}", "report.json"))
                      .read_text())


def _gate_evaluations(instance, run_id: str):
    from dagster import AssetCheckKey, AssetKey

    key = AssetCheckKey(AssetKey("compliance_report"), "compliance_gate")
    return [r for r in instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
            if r.run_id == run_id]


def test_compliance_report_trends_findings_and_its_gate_holds_or_passes(moto_url, instance, storage):
    from inventag_pipeline.resources import ComplianceGateResource

    ids = _estate(moto_url)
    lenient = ComplianceGateResource(min_score=0, max_critical=5, min_tag_pct=0, warn_score=0, warn_high=50,
                                     warn_tag_pct=0)
    assert run_day(instance, moto_url, storage, DAY1, keys=COMPLIANCE, gate=lenient).success
    day1 = _report(storage, DAY1)
    assert day1["trend"]["previous_date"] is None and day1["gate"]["status"] == "pass"
    assert day1["collection_safety"]["all_read_only"] is True and day1["collection_safety"]["refused"] == 0
    ocsf = json.loads(Path(storage).joinpath("compliance", "security", f"account={ACCOUNT}", f"date={DAY1}",
                                             "findings.ocsf.json").read_text())
    assert {e["class_uid"] for e in ocsf} == {2003} and len(ocsf) == day1["totals"]["pass"] + day1["totals"]["fail"]

    # Day 2 opens SSH to the world and drops the bucket's public access block: two new failing findings,
    # one of them critical, and the strict default gate (no critical finding) fails with ERROR.
    _day2_changes(moto_url, ids)
    result = run_day(instance, moto_url, storage, DAY2, keys=COMPLIANCE, raise_on_error=False)
    assert not result.success and "compliance_gate" in failure_message(result)
    day2 = _report(storage, DAY2)
    new = {(f["check_id"], f["arn"]) for f in day2["trend"]["new_failing"]}
    assert {("ec2_securitygroup_admin_ports_closed_to_world", ids["sg_arn"]),
            ("s3_bucket_public_access_blocked", ids["bucket_arn"])} <= new
    assert day2["trend"]["previous_date"] == DAY1 and day2["gate"]["status"] == "error"
    [evaluation] = _gate_evaluations(instance, result.run_id)
    assert evaluation.status.value == "FAILED"
    [materialization] = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
                         and e.asset_key.to_user_string() == "compliance_report"]
    metadata = materialization.event_specific_data.materialization.metadata
    assert metadata["gate"].value == "error" and metadata["new_failing"].value == len(new)

    # Day 3 closes SSH again: that finding is resolved, the bucket's is still failing (age 1 day).
    client(moto_url, "ec2").revoke_security_group_ingress(GroupId=ids["sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert run_day(instance, moto_url, storage, "2026-11-22", keys=COMPLIANCE, gate=lenient).success
    day3 = _report(storage, "2026-11-22")
    assert ("ec2_securitygroup_admin_ports_closed_to_world", ids["sg_arn"]) in {
        (f["check_id"], f["arn"]) for f in day3["trend"]["resolved"]}
    still = {(f["check_id"], f["arn"]): f["age_days"] for f in day3["trend"]["still_failing"]}
    assert still[("s3_bucket_public_access_blocked", ids["bucket_arn"])] == 1
    assert Path(storage).joinpath(*REPORTS, f"account={ACCOUNT}", "date=2026-11-22", "report.md").read_text(
    ).startswith("# ")
