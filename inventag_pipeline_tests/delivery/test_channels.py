"""Each delivery channel on its own: a webhook on 127.0.0.1, and S3, SNS and CloudWatch in moto."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource

from inventag_pipeline.delivery import channels
from inventag_pipeline.delivery.channels import DeliveryError
from inventag_pipeline.delivery.resources import DeliveryConfigError, DeliveryResource, DeliverySettings
from inventag_pipeline_tests.conftest import client

PAYLOAD = {"text": "inventag: 2 critical changes <https://r.example.com/c.html|changelog>",
           "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "• caf\u00e9 &amp; co"}}]}


def _post(url: str, *, attempts: int = 3, timeout_s: float = 5.0, sleeps: list[float] | None = None):
    return channels.post_webhook(url, PAYLOAD, timeout_s=timeout_s, attempts=attempts, backoff_s=1.0,
                                 user_agent="inventag-pipeline/test",
                                 sleep=(sleeps if sleeps is not None else []).append)


def test_webhook_receives_the_exact_json_payload(webhook):
    result = _post(webhook.url)
    assert (result.status, result.attempts) == (200, 1)
    [request] = webhook.received
    assert (request.path, request.body) == ("/services/T000/B000/secret-token", PAYLOAD)
    assert (request.headers["content-type"], request.headers["user-agent"]) == (
        "application/json; charset=utf-8", "inventag-pipeline/test")


def test_webhook_retries_a_server_error_then_succeeds(webhook):
    webhook.script = [(500, {})]
    sleeps: list[float] = []
    result = _post(webhook.url, sleeps=sleeps)
    assert (result.status, result.attempts, sleeps) == (200, 2, [1.0])
    assert [r.body for r in webhook.received] == [PAYLOAD, PAYLOAD]


def test_webhook_gives_up_after_its_attempts_with_backoff_and_hides_the_secret_path(webhook):
    webhook.script = [(503, {})] * 3
    sleeps: list[float] = []
    with pytest.raises(DeliveryError) as raised:
        _post(webhook.url, sleeps=sleeps)
    port = webhook.url.split(":")[2].split("/")[0]
    assert str(raised.value) == (f"webhook http://127.0.0.1:{port}/… failed after 3 attempts: "
                                 "HTTP 503 Service Unavailable")
    assert (len(webhook.received), sleeps) == (3, [1.0, 2.0])


def test_webhook_client_errors_are_not_retried_but_429_honours_retry_after(webhook):
    webhook.script = [(400, {})]
    with pytest.raises(DeliveryError, match=r"refused the message: HTTP 400 Bad Request; not retried"):
        _post(webhook.url)
    assert len(webhook.received) == 1
    webhook.script = [(429, {"Retry-After": "2"})]
    sleeps: list[float] = []
    assert _post(webhook.url, sleeps=sleeps).attempts == 2 and sleeps == [2.0]


def test_webhook_network_errors_and_timeouts_are_retried(webhook, closed_port_url):
    sleeps: list[float] = []
    with pytest.raises(DeliveryError, match=r"failed after 2 attempts: URLError: \[Errno 111\] Connection refused"):
        _post(f"{closed_port_url}/hook", attempts=2, sleeps=sleeps)
    assert sleeps == [1.0]
    webhook.delay_s = 0.5
    with pytest.raises(DeliveryError, match=r"failed after 2 attempts: .*timed out"):
        _post(webhook.url, attempts=2, timeout_s=0.1)
    assert len(webhook.received) == 2


def _s3(moto_url: str):
    return S3Resource(endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing").get_client()


def test_s3_objects_are_encrypted_with_aes256_or_the_configured_kms_key(moto_url):
    client(moto_url, "s3").create_bucket(Bucket="reports")
    s3 = channels.put_object_only(_s3(moto_url))
    published = channels.put_encrypted(s3, "reports", "inv/changelog.html", b"<html></html>",
                                       content_type="text/html; charset=utf-8", sse="AES256", kms_key_id=None,
                                       metadata={"sha256": "abc"})
    assert (published.key, published.size, published.content_type) == ("inv/changelog.html", 13,
                                                                        "text/html; charset=utf-8")
    head = client(moto_url, "s3").head_object(Bucket="reports", Key="inv/changelog.html")
    assert (head["ServerSideEncryption"], head["ContentType"], head["Metadata"]) == (
        "AES256", "text/html; charset=utf-8", {"sha256": "abc"})
    key_id = client(moto_url, "kms").create_key()["KeyMetadata"]["Arn"]
    channels.put_encrypted(s3, "reports", "inv/report.json", b"{}", content_type="application/json",
                           sse="aws:kms", kms_key_id=key_id, metadata={})
    head = client(moto_url, "s3").head_object(Bucket="reports", Key="inv/report.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)


def test_the_publishing_client_refuses_anything_but_put_object_before_sending(moto_url):
    client(moto_url, "s3").create_bucket(Bucket="reports")
    s3 = channels.put_object_only(_s3(moto_url))
    with pytest.raises(DeliveryError, match=r"may only call s3:PutObject; s3:PutBucketPolicy was refused"):
        s3.put_bucket_policy(Bucket="reports", Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    with pytest.raises(DeliveryError, match=r"s3:CreateBucket was refused"):
        s3.create_bucket(Bucket="another")
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        client(moto_url, "s3").get_bucket_policy(Bucket="reports")
    assert [b["Name"] for b in client(moto_url, "s3").list_buckets()["Buckets"]] == ["reports"]


def test_sns_message_reaches_a_subscribed_queue(moto_url):
    sns, sqs = client(moto_url, "sns"), client(moto_url, "sqs")
    topic = sns.create_topic(Name="inventag")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    message = {"Subject": "inventag 123456789012 2026-11-21: 1 critical changes", "Message": "body\n",
               "MessageAttributes": {"account_id": {"DataType": "String", "StringValue": "123456789012"}}}
    message_id = channels.publish_sns(sns, topic, message)
    [received] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(received["Body"])
    assert (envelope["MessageId"], envelope["Subject"], envelope["Message"], envelope["TopicArn"]) == (
        message_id, message["Subject"], "body\n", topic)
    assert envelope["MessageAttributes"] == {"account_id": {"Type": "String", "Value": "123456789012"}}


def test_cloudwatch_metrics_are_listed_after_put(moto_url):
    cloudwatch = client(moto_url, "cloudwatch")
    when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    data = [{"MetricName": f"M{i}", "Dimensions": [{"Name": "AccountId", "Value": "123456789012"}],
             "Timestamp": when, "Value": float(i), "Unit": "Count"} for i in range(25)]
    assert channels.put_metrics(cloudwatch, "Inventag/Test", data) == 25
    metrics = cloudwatch.list_metrics(Namespace="Inventag/Test")["Metrics"]
    assert sorted(m["MetricName"] for m in metrics) == sorted(f"M{i}" for i in range(25))


def test_textfile_is_replaced_atomically_and_never_rolled_back(tmp_path):
    folder = tmp_path / "textfile"
    newer = "# inventag-pipeline textfile: account 123456789012, day 2026-11-21\nx 1\n"
    path, skipped = channels.write_textfile(str(folder), "123456789012", "2026-11-21", newer)
    assert (path, skipped, path.read_text()) == (folder / "inventag_123456789012.prom", None, newer)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    older = newer.replace("2026-11-21", "2026-11-20")
    path, skipped = channels.write_textfile(str(folder), "123456789012", "2026-11-20", older)
    assert skipped == "inventag_123456789012.prom already holds the newer day 2026-11-21; not rolled back to 2026-11-20"
    assert path.read_text() == newer
    same_day = newer.replace("x 1", "x 2")
    assert channels.write_textfile(str(folder), "123456789012", "2026-11-21", same_day)[1] is None
    assert path.read_text() == same_day and sorted(os.listdir(folder)) == ["inventag_123456789012.prom"]


def test_settings_are_off_by_default_and_read_the_environment(monkeypatch):
    assert DeliveryResource().settings() == DeliverySettings()
    assert DeliveryResource().settings().channels == ()
    monkeypatch.setenv("INVENTAG_DELIVERY_S3_URI", "s3://reports/inventag/prod/")
    monkeypatch.setenv("INVENTAG_DELIVERY_S3_KMS_KEY_ID", "alias/reports")
    monkeypatch.setenv("INVENTAG_WEBHOOK_URL", "https://hooks.example.com/T/B/x")
    monkeypatch.setenv("INVENTAG_SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:inventag")
    monkeypatch.setenv("INVENTAG_NOTIFY_MAX_PER_WINDOW", "2")
    monkeypatch.setenv("INVENTAG_NOTIFY_WINDOW_HOURS", "1")
    settings = DeliveryResource().settings()
    assert (settings.s3_bucket, settings.s3_prefix, settings.sse, settings.kms_key_id, settings.channels,
            settings.rate_limit.max_notifications, settings.rate_limit.window) == (
        "reports", "inventag/prod", "aws:kms", "alias/reports", ("webhook", "sns"), 2, dt.timedelta(hours=1))
    assert settings.s3_key("changelogs/x.md") == "inventag/prod/changelogs/x.md"
    assert DeliveryResource(webhook_url="https://other.example.com/h").settings().webhook_url == (
        "https://other.example.com/h")


@pytest.mark.parametrize(("fields", "message"), [
    ({"s3_uri": "reports/prefix"}, "INVENTAG_DELIVERY_S3_URI='reports/prefix' is not an s3://bucket[/prefix] URI"),
    ({"s3_sse": "aws:kms:dsse"}, "INVENTAG_DELIVERY_S3_SSE='aws:kms:dsse' is not one of AES256, aws:kms"),
    ({"s3_sse": "AES256", "s3_kms_key_id": "k"}, "INVENTAG_DELIVERY_S3_KMS_KEY_ID is set but"),
    ({"webhook_url": "file:///etc/passwd"}, "INVENTAG_WEBHOOK_URL must be an http(s) URL"),
    ({"sns_topic_arn": "inventag"}, "INVENTAG_SNS_TOPIC_ARN='inventag' is not an SNS topic ARN"),
    ({"notify_min_severity": "urgent"}, "notify min severity 'urgent' is not one of"),
    ({"notify_max_per_window": 0}, "the notification rate limit must allow at least 1, not 0"),
])
def test_bad_settings_name_their_variable(fields, message):
    with pytest.raises(DeliveryConfigError) as raised:
        DeliveryResource(**fields).settings()
    assert str(raised.value).startswith(message)


def test_a_non_numeric_environment_value_is_named(monkeypatch):
    monkeypatch.setenv("INVENTAG_NOTIFY_WINDOW_HOURS", "a day")
    with pytest.raises(DeliveryConfigError, match=r"^INVENTAG_NOTIFY_WINDOW_HOURS='a day' is not a number$"):
        DeliveryResource().settings()
