"""Delivery assets in a real Dagster instance: off by default, rate-limited, and end to end after a failed gate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    evaluate_automation_conditions,
    materialize,
)
from dagster._core.storage.defs_state.base import set_defs_state_storage
from dagster_aws.s3 import S3Resource

from inventag_pipeline.definitions import defs
from inventag_pipeline.delivery import DELIVERY_ASSETS
from inventag_pipeline.delivery.resources import DeliveryResource
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, partition_key
from inventag_pipeline.resources import InventoryStoreResource
from inventag_pipeline.store.store import InventoryStore, Partition
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, CHAIN, failure_message, run_day

DAY1, DAY2 = "2026-11-20", "2026-11-21"
DELIVERY = ("published_reports", "notifications", "inventory_metrics")
COMPLIANCE = (*CHAIN, "tag_compliance", "security_findings", "compliance_report")
BASE_URL = "https://reports.example.com/inventag"
DELIVERY_SELECTION = AssetSelection.groups("delivery")


@pytest.fixture
def ephemeral():
    """An in-memory instance, much faster per run than a SQLite one; nothing here needs to persist."""
    with DagsterInstance.ephemeral() as inst:
        yield inst


def deliver(instance: DagsterInstance, storage: str, delivery: DeliveryResource, date: str,
            s3: S3Resource | None = None, *, raise_on_error: bool = True):
    """Materialise the delivery assets alone, in a run of their own, as the automation condition does."""
    if ACCOUNT not in instance.get_dynamic_partitions(ACCOUNTS_PARTITION):
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, [ACCOUNT])
    resources = {"delivery": delivery, "delivery_s3": s3 or S3Resource(),
                 "store": InventoryStoreResource(storage_uri=storage)}
    with set_defs_state_storage(instance.defs_state_storage):
        return materialize(DELIVERY_ASSETS, partition_key=partition_key(ACCOUNT, date), instance=instance,
                           resources=resources, raise_on_error=raise_on_error)


def metadata(result, asset: str) -> dict:
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def seed_day(storage: str, date: str, *, critical: int, gate: str = "pass") -> None:
    """The stored documents delivery reads, as the chain writes them, for one day."""
    store, part = InventoryStore(storage), Partition(ACCOUNT, date)
    store.write_json(f"{part.folder('raw')}/manifest.json", {
        "account_name": "prod", "started_at": f"{date}T00:30:00Z", "collected_at": f"{date}T00:30:10Z",
        "coverage": [{"service": "s3", "region": "us-east-1", "status": "ok", "duration_s": 9.5, "api_calls": 3}]})
    store.write_json(f"{part.folder('snapshots')}/manifest.json", {"row_count": 12})
    store.write_json(f"{part.folder('deltas')}/summary.json", {
        "previous_date": "2026-11-19", "total_changes": critical,
        "counts": {"severity": {"critical": critical}},
        "security_changes": {"high_risk_resources": [
            {"arn": f"arn:aws:s3:::b{i}", "resource_type": "AWS::S3::Bucket", "name": f"b{i}",
             "change_type": "modified", "severity": "critical", "reasons": ["Public access block removed"]}
            for i in range(critical)]}})
    store.write_json(f"{part.folder('reports')}/report.json", {
        "score": 90.0, "tag_compliance_percentage": 100.0, "severity_counts": {"critical": 0},
        "gate": {"status": gate, "reasons": ["All thresholds met."]}})


def test_delivery_runs_apart_from_the_daily_job_and_its_automation_is_opt_in():
    """A failed blocking gate skips later steps of its own run, so the daily job must not include delivery."""
    daily = defs.resolve_job_def("daily_inventory")
    assert {k.to_user_string() for k in daily.asset_layer.selected_asset_keys} & set(DELIVERY) == set()
    sensor = defs.resolve_sensor_def("default_automation_condition_sensor")
    assert sensor.default_status == DefaultSensorStatus.STOPPED


def test_delivery_is_off_by_default_and_says_so(ephemeral, tmp_path):
    storage = str(tmp_path / "store")
    seed_day(storage, DAY2, critical=1, gate="error")
    result = deliver(ephemeral, storage, DeliveryResource(), DAY2)
    assert result.success
    assert metadata(result, "published_reports") == {
        "published": 0, "skipped": "S3 publishing is off: INVENTAG_DELIVERY_S3_URI is unset"}
    assert metadata(result, "notifications") == {
        "notified": False,
        "skipped": "notifications are off: neither INVENTAG_WEBHOOK_URL nor INVENTAG_SNS_TOPIC_ARN is set"}
    assert metadata(result, "inventory_metrics") == {
        "skipped": "metrics are off: neither INVENTAG_PROMETHEUS_TEXTFILE_DIR nor INVENTAG_CLOUDWATCH_NAMESPACE is set"}
    assert not (Path(storage) / "delivery").exists()


def test_notifications_are_sent_once_per_content_and_rate_limited_per_account(ephemeral, tmp_path, webhook):
    storage = str(tmp_path / "store")
    delivery = DeliveryResource(webhook_url=webhook.url, notify_max_per_window=1, notify_window_hours=24)
    seed_day(storage, DAY1, critical=0)
    quiet = metadata(deliver(ephemeral, storage, delivery, DAY1), "notifications")
    assert (quiet["notified"], quiet["reasons"]) == (
        False, "- Nothing to notify: no change at or above high severity; compliance gate pass.")

    seed_day(storage, DAY2, critical=1)
    first = metadata(deliver(ephemeral, storage, delivery, DAY2), "notifications")
    assert (first["notified"], first["rate_limit"], first["reasons"]) == (
        True, "1 of at most 1 in 24 hours", "- 1 critical severity change since 2026-11-19.")
    assert [r.body["blocks"][1]["text"]["text"] for r in webhook.received] == [
        "• 1 critical severity change since 2026-11-19."]

    again = metadata(deliver(ephemeral, storage, delivery, DAY2), "notifications")
    assert (again["notified"], again["suppressed"]) == (False, True)
    assert again["rate_limit"].startswith("already delivered at ") and again["rate_limit"].endswith(
        " with the same content; not sent again")

    seed_day(storage, DAY2, critical=2)  # new content, but the account's one notification a day is used up
    limited = metadata(deliver(ephemeral, storage, delivery, DAY2), "notifications")
    assert (limited["notified"], limited["rate_limit"]) == (
        False, "rate limit reached: 1 notifications for this account in the last 24 hours (at most 1)")
    assert len(webhook.received) == 1
    state = json.loads((Path(storage) / "delivery" / "notifications" / f"account={ACCOUNT}" / "state.json")
                       .read_text())
    assert [(e["date"], e["channels"]) for e in state["sent"]] == [(DAY2, ["webhook"])]


def test_a_refused_webhook_fails_the_asset_and_a_rerun_sends_only_what_is_missing(ephemeral, tmp_path, webhook,
                                                                                   moto_url, monkeypatch):
    storage = str(tmp_path / "store")
    seed_day(storage, DAY2, critical=1)
    topic, queue = _subscribed_queue(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    delivery = DeliveryResource(webhook_url=webhook.url, sns_topic_arn=topic)
    webhook.script = [(404, {})]
    failed = deliver(ephemeral, storage, delivery, DAY2, raise_on_error=False)
    assert not failed.success
    port = webhook.url.split(":")[2].split("/")[0]
    assert (f"Failure: notification for {ACCOUNT}|{DAY2} failed on webhook: webhook http://127.0.0.1:{port}/… "
            "refused the message: HTTP 404 Not Found; not retried") in failure_message(failed)
    events = [e.event_type_value for e in failed.all_events if e.step_key == "notifications"]
    assert "STEP_FAILURE" in events and "STEP_UP_FOR_RETRY" not in events  # a 4xx is not worth a retry

    assert deliver(ephemeral, storage, delivery, DAY2).success
    assert len(webhook.received) == 2
    messages = client(moto_url, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1  # SNS got it the first time and is not sent again
    state = json.loads((Path(storage) / "delivery" / "notifications" / f"account={ACCOUNT}" / "state.json")
                       .read_text())
    assert [e["channels"] for e in state["sent"]] == [["sns"], ["webhook"]]


def _estate(url: str) -> str:
    ec2, s3 = client(url, "ec2"), client(url, "s3")
    sg = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.create_bucket(Bucket="acme-logs")
    s3.put_public_access_block(Bucket="acme-logs", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    return sg


def _subscribed_queue(url: str) -> tuple[str, str]:
    sns, sqs = client(url, "sns"), client(url, "sqs")
    topic = sns.create_topic(Name="inventag-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def test_a_day_whose_gate_failed_is_published_notified_and_exported(moto_url, ephemeral, tmp_path, webhook,
                                                                    monkeypatch):
    storage, textfiles = str(tmp_path / "store"), tmp_path / "textfile"
    sg = _estate(moto_url)
    assert run_day(ephemeral, moto_url, storage, DAY1, keys=CHAIN[:2], regions="us-east-1").success
    cursor = evaluate_automation_conditions(defs, ephemeral, DELIVERY_SELECTION,
                                            evaluation_time=_time(DAY2, 2)).cursor
    client(moto_url, "ec2").authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    client(moto_url, "s3").delete_public_access_block(Bucket="acme-logs")
    chain = run_day(ephemeral, moto_url, storage, DAY2, keys=COMPLIANCE, regions="us-east-1", raise_on_error=False)
    # The strict default gate fails with ERROR: Dagster fails compliance_report's step after writing the report.
    assert not chain.success and "compliance_gate" in failure_message(chain)

    # The automation condition asks for delivery of that day once the chain is done, but not weeks later.
    requested = evaluate_automation_conditions(defs, ephemeral, DELIVERY_SELECTION,
                                               evaluation_time=_time(DAY2, 26), cursor=cursor)
    assert {(key.to_user_string(), tuple(requested.get_requested_partitions(key))) for key in _delivery_keys()} == {
        (name, (f"{ACCOUNT}|{DAY2}",)) for name in DELIVERY}
    late = evaluate_automation_conditions(defs, ephemeral, DELIVERY_SELECTION,
                                          evaluation_time=_time(DAY2, 24 * 10), cursor=cursor)
    assert late.total_requested == 0

    client(moto_url, "s3").create_bucket(Bucket="published")
    topic, queue = _subscribed_queue(moto_url)
    for name in ("SNS", "CLOUDWATCH"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{name}", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    delivery = DeliveryResource(
        s3_uri="s3://published/inventag", report_base_url=BASE_URL, webhook_url=webhook.url, webhook_backoff_s=0,
        sns_topic_arn=topic, prometheus_textfile_dir=str(textfiles), cloudwatch_namespace="Inventag",
        region="us-east-1")
    s3 = S3Resource(endpoint_url=moto_url, region_name="us-east-1")
    result = deliver(ephemeral, storage, delivery, DAY2, s3)
    assert result.success

    # S3: the day's changelog and report, each encrypted with AES256.
    base = f"account={ACCOUNT}/date={DAY2}"
    variants = ("audit.html", "html", "json", "md", "summary.html")
    keys = [f"inventag/changelogs/{base}/changelog.{ext}" for ext in variants] + [
        f"inventag/compliance/reports/{base}/report.{ext}" for ext in variants]
    s3_client = client(moto_url, "s3")
    assert sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket="published")["Contents"]) == keys
    assert {s3_client.head_object(Bucket="published", Key=k)["ServerSideEncryption"] for k in keys} == {"AES256"}
    assert {s3_client.head_object(Bucket="published", Key=k)["ContentType"] for k in keys if k.endswith(".html")} == {
        "text/html; charset=utf-8"}
    published = json.loads(s3_client.get_object(Bucket="published", Key=keys[7])["Body"].read())
    assert published["gate"]["status"] == "error"
    assert metadata(result, "published_reports")["published"] == 10

    # Webhook: one message naming both critical changes and the failed gate, linking to the published files.
    [message] = webhook.received
    blocks = message.body["blocks"]
    assert blocks[0]["text"]["text"] == f"inventag: simulated-demo ({ACCOUNT}) on {DAY2}"
    assert blocks[1]["text"]["text"] == (
        f"• 2 critical severity changes since {DAY1}.\n• The compliance gate failed with ERROR.")
    assert [line.split(" ")[1:4] for line in blocks[2]["text"]["text"].splitlines()[1:]] == [
        ["critical", "modified", "AWS::EC2::SecurityGroup"], ["critical", "modified", "AWS::S3::Bucket"]]
    assert blocks[3]["text"]["text"].startswith("*Compliance gate: ERROR*\n• ")
    assert [e["url"] for e in blocks[-1]["elements"]] == [
        f"{BASE_URL}/changelogs/{base}/changelog.html", f"{BASE_URL}/compliance/reports/{base}/report.html"]

    # SNS, through a subscribed queue.
    [received] = client(moto_url, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(received["Body"])
    assert envelope["Subject"] == f"inventag simulated-demo ({ACCOUNT}) {DAY2}: 2 critical changes; gate ERROR"
    assert envelope["Message"].splitlines()[:4] == [
        f"inventag-pipeline: account simulated-demo ({ACCOUNT}), {DAY2}", "",
        f"- 2 critical severity changes since {DAY1}.", "- The compliance gate failed with ERROR."]
    assert envelope["MessageAttributes"]["gate_status"] == {"Type": "String", "Value": "error"}

    # Prometheus textfile and CloudWatch.
    snapshot = json.loads((Path(storage) / "snapshots" / base / "manifest.json").read_text())
    text = (textfiles / f"inventag_{ACCOUNT}.prom").read_text()
    lines = text.splitlines()
    assert lines[0] == f"# inventag-pipeline textfile: account {ACCOUNT}, day {DAY2}"
    assert {f'inventag_resources{{account="{ACCOUNT}"}} {snapshot["row_count"]}',
            f'inventag_changes{{account="{ACCOUNT}",severity="critical"}} 2',
            f'inventag_changes{{account="{ACCOUNT}",severity="high"}} 0',
            f'inventag_compliance_gate_status{{account="{ACCOUNT}",status="error"}} 1',
            f'inventag_account_info{{account="{ACCOUNT}",name="simulated-demo"}} 1'} <= set(lines)
    assert sorted(line.split(" ")[3] for line in lines if line.startswith("# TYPE")) == ["gauge"] * 13
    metrics = client(moto_url, "cloudwatch").list_metrics(Namespace="Inventag")["Metrics"]
    assert sorted({m["MetricName"] for m in metrics}) == [
        "Changes", "CollectionDuration", "CollectionErrors", "Resources", "SecurityScore", "TagCompliance"]
    assert {tuple(d["Value"] for d in m["Dimensions"]) for m in metrics if m["MetricName"] == "Changes"} == {
        (ACCOUNT, s) for s in ("critical", "high", "medium", "low", "info")}
    assert metadata(result, "inventory_metrics")["cloudwatch"].startswith("10 data points to Inventag, timestamped ")

    # Re-running delivery republishes and re-exports, but never notifies the same content twice.
    again = deliver(ephemeral, storage, delivery, DAY2, s3)
    assert metadata(again, "notifications")["suppressed"] is True and len(webhook.received) == 1


def _delivery_keys() -> list[AssetKey]:
    return [AssetKey(name) for name in DELIVERY]


def _time(date: str, hours_after_start: float) -> dt.datetime:
    return dt.datetime.fromisoformat(date).replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=hours_after_start)
