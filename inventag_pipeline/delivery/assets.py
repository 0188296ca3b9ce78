"""Delivery assets (group "delivery"): published_reports, notifications and inventory_metrics.

They run in a run of their own, never inside the daily chain's run: `compliance_report`'s gate is a
blocking check, and when it fails with ERROR Dagster fails that step after the report is written and
skips every later step of the same run. A separate run is not held back by an upstream check, so a day
whose gate failed is published and notified like any other, which is when it matters most. The daily
job selects only the inventory and compliance groups; these assets start from their automation
condition once the day's chain is done (turn on `default_automation_condition_sensor`), or by hand.

Every channel is opt-in through `DeliveryResource`; with nothing configured each asset materialises and
says what it skipped. Writes go through plain boto3 clients with the pipeline's own credentials and
dagster-aws's S3Resource, outside the read-only collection session.
"""


from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)
from dagster_aws.s3 import S3Resource

from inventag_pipeline import steps
from inventag_pipeline.compliance.assets import compliance_report
from inventag_pipeline.core.notify import (
    cloudwatch_metric_data,
    cloudwatch_timestamp,
    decide,
    prometheus_textfile,
    rate_decision,
    record_sent,
    sns_message,
    webhook_payload,
)
from inventag_pipeline.core.snapshot import sha256_hex
from inventag_pipeline.delivery import channels
from inventag_pipeline.delivery.inputs import PUBLISHED, gather, read_state, report_links, write_state
from inventag_pipeline.delivery.resources import DeliveryConfigError, DeliveryResource, DeliverySettings
from inventag_pipeline.inventory.assets import (
    OWNERS,
    changelog,
    inventory_delta,
    inventory_snapshot,
    partition_of,
    raw_inventory,
)
from inventag_pipeline.partitions import after_recent_upstream, inventory_partitions
from inventag_pipeline.resources import InventoryStoreResource

GROUP = "delivery"
# Only recent days deliver on their own: a backfill of last year must not page anyone.
RECENT_DAYS = 3

DELIVERY_AUTOMATION = after_recent_upstream(RECENT_DAYS, f"after the day's chain, last {RECENT_DAYS} days")

DELIVERY_ASSET: dict[str, Any] = {
    "partitions_def": inventory_partitions,
    "group_name": GROUP,
    "owners": OWNERS,
    "automation_condition": DELIVERY_AUTOMATION,
}
# Network hiccups are worth a retry; notifications resume only on the channels that did not get through.
TRANSIENT_RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL)


def _settings(delivery: DeliveryResource) -> DeliverySettings:
    try:
        return delivery.settings()
    except DeliveryConfigError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc


def _lines(items: list[str]) -> MetadataValue:
    return MetadataValue.md("\n".join(f"- {i}" for i in items) or "none")


@asset(
    **DELIVERY_ASSET,
    kinds={"s3"},
    deps=[changelog, compliance_report],
    retry_policy=TRANSIENT_RETRY,
    description=(
        "The day's changelog (html, md, json) and compliance report (json, md) copied to "
        "INVENTAG_DELIVERY_S3_URI under the store's own layout, each with server-side encryption (AES256, or "
        "aws:kms with INVENTAG_DELIVERY_S3_KMS_KEY_ID). Only PutObject is ever called."
    ),
)
def published_reports(context: AssetExecutionContext, delivery: DeliveryResource, delivery_s3: S3Resource,
                      store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    settings = _settings(delivery)
    if settings.s3_bucket is None:
        return MaterializeResult(metadata={
            "published": 0, "skipped": MetadataValue.text("S3 publishing is off: INVENTAG_DELIVERY_S3_URI is unset")})
    inventory = store.store()
    client = channels.put_object_only(delivery_s3.get_client())
    published: list[channels.PublishedObject] = []
    skipped = []
    for kind, name, content_type in PUBLISHED:
        relative = f"{part.folder(kind)}/{name}"
        if not inventory.exists(relative):
            skipped.append(f"{relative}: not materialised")
            continue
        body = inventory.read_bytes(relative)
        try:
            published.append(channels.put_encrypted(
                client, settings.s3_bucket, settings.s3_key(relative), body, content_type=content_type,
                sse=settings.sse, kms_key_id=settings.kms_key_id,
                metadata={"account-id": part.account, "date": part.date, "sha256": sha256_hex(body)}))
        except (BotoCoreError, ClientError, channels.DeliveryError) as exc:
            raise Failure(description=f"publishing to s3://{settings.s3_bucket} failed after {len(published)} of "
                                      f"{len(PUBLISHED)} files: {exc}") from exc
    if not published:
        raise Failure(description=f"nothing to publish for {part.key}: materialise changelog and compliance_report "
                                  "first", allow_retries=False)
    if skipped:
        context.log.warning(f"not published (not materialised): {skipped}")
    return MaterializeResult(metadata={
        "published": len(published),
        "bytes": sum(o.size for o in published),
        "encryption": MetadataValue.text(settings.sse + (f" ({settings.kms_key_id})" if settings.kms_key_id else "")),
        "objects": _lines([f"s3://{settings.s3_bucket}/{o.key}" for o in published]),
        "skipped": _lines(skipped),
        "destination": MetadataValue.url(settings.s3_uri) if settings.s3_uri else MetadataValue.text("none"),
    })


def _send(channel: str, settings: DeliverySettings, delivery: DeliveryResource, payloads: dict[str, Any]) -> str:
    """Send on one channel; returns a one-line receipt for the metadata."""
    if channel == "webhook":
        result = channels.post_webhook(
            settings.webhook_url, payloads["webhook"], timeout_s=settings.webhook_timeout_s,
            attempts=settings.webhook_attempts, backoff_s=settings.webhook_backoff_s,
            user_agent=f"inventag-pipeline/{steps.product_version()}")
        return (f"webhook {channels.redact(settings.webhook_url)}: HTTP {result.status} after {result.attempts} "
                f"attempt{'s' if result.attempts > 1 else ''}")
    message_id = channels.publish_sns(delivery.sns_client(settings.sns_topic_arn), settings.sns_topic_arn,
                                      payloads["sns"])
    return f"sns {settings.sns_topic_arn}: message {message_id}"


@asset(
    **DELIVERY_ASSET,
    kinds={"slack", "sns"},
    deps=[published_reports, inventory_delta, compliance_report],
    retry_policy=TRANSIENT_RETRY,
    description=(
        "A message to a Slack-compatible webhook (INVENTAG_WEBHOOK_URL) and/or an SNS topic (INVENTAG_SNS_TOPIC_ARN) "
        "when the day has changes at or above INVENTAG_NOTIFY_MIN_SEVERITY (high) or a failed compliance gate, "
        "linking to the changelog and report; rate-limited per account, and never sent twice for the same content."
    ),
)
def notifications(context: AssetExecutionContext, delivery: DeliveryResource,
                  store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    settings = _settings(delivery)
    if not settings.channels:
        return MaterializeResult(metadata={"notified": False, "skipped": MetadataValue.text(
            "notifications are off: neither INVENTAG_WEBHOOK_URL nor INVENTAG_SNS_TOPIC_ARN is set")})
    inventory = store.store()
    facts, missing = gather(inventory, part)
    decision = decide(facts, settings.policy)
    metadata: dict[str, Any] = {
        "reasons": _lines(list(decision.reasons)),
        "missing_inputs": MetadataValue.text(", ".join(missing) or "none"),
        "fingerprint": MetadataValue.text(decision.fingerprint),
    }
    if not decision.notify:
        return MaterializeResult(metadata={"notified": False, **metadata})
    state = read_state(inventory, part.account)
    now = steps.utc_now()
    rate = rate_decision(state, fingerprint=decision.fingerprint, channels=settings.channels, now=now,
                         limit=settings.rate_limit)
    metadata["rate_limit"] = MetadataValue.text(rate.reason)
    if not rate.send:
        context.log.info(f"notification suppressed: {rate.reason}")
        return MaterializeResult(metadata={"notified": False, "suppressed": True, **metadata})
    links = report_links(settings, inventory, part)
    payloads = {"webhook": webhook_payload(facts, decision, settings.policy, links),
                "sns": sns_message(facts, decision, settings.policy, links)}
    sent, receipts, failures, retriable = [], [], [], False
    for channel in rate.send:
        try:
            receipts.append(_send(channel, settings, delivery, payloads))
            sent.append(channel)
        except (channels.DeliveryError, BotoCoreError, ClientError) as exc:
            failures.append(f"{channel}: {exc}")
            retriable = retriable or getattr(exc, "retriable", True)
    if sent:
        write_state(inventory, part.account, record_sent(state, fingerprint=decision.fingerprint, date=part.date,
                                                         channels=sent, now=now))
    metadata.update({"notified": bool(sent), "sent": _lines(receipts), "failed": _lines(failures),
                     "links": _lines([f"{label}: {url}" for label, url in links.items()])})
    if failures:
        raise Failure(description=f"notification for {part.key} failed on {'; '.join(failures)}", metadata=metadata,
                      allow_retries=retriable)
    return MaterializeResult(metadata=metadata)


@asset(
    **DELIVERY_ASSET,
    kinds={"prometheus", "cloudwatch"},
    deps=[raw_inventory, inventory_snapshot, inventory_delta, compliance_report],
    description=(
        "The account's gauges for its newest day (resources, changes by severity, security score, tag compliance, "
        "failing findings, gate status, collection errors and durations) as a Prometheus textfile in "
        "INVENTAG_PROMETHEUS_TEXTFILE_DIR, and as CloudWatch metrics in INVENTAG_CLOUDWATCH_NAMESPACE."
    ),
)
def inventory_metrics(context: AssetExecutionContext, delivery: DeliveryResource,
                      store: InventoryStoreResource) -> MaterializeResult:
    part = partition_of(context)
    settings = _settings(delivery)
    if not (settings.prometheus_dir or settings.cloudwatch_namespace):
        return MaterializeResult(metadata={"skipped": MetadataValue.text(
            "metrics are off: neither INVENTAG_PROMETHEUS_TEXTFILE_DIR nor INVENTAG_CLOUDWATCH_NAMESPACE is set")})
    facts, missing = gather(store.store(), part)
    if facts.resources is None:
        raise Failure(description=f"no snapshot for {part.key}: materialise inventory_snapshot first",
                      allow_retries=False)
    metadata: dict[str, Any] = {"missing_inputs": MetadataValue.text(", ".join(missing) or "none")}
    if settings.prometheus_dir:
        text = prometheus_textfile(facts)
        path, not_written = channels.write_textfile(settings.prometheus_dir, part.account, part.date, text)
        metadata["prometheus"] = MetadataValue.text(not_written or f"wrote {path}")
        metadata["prometheus_samples"] = 0 if not_written else sum(
            1 for line in text.splitlines() if line and not line.startswith("#"))
    if settings.cloudwatch_namespace:
        timestamp, why = cloudwatch_timestamp(facts, steps.utc_now())
        if timestamp is None:
            metadata["cloudwatch"] = MetadataValue.text(f"not sent: {why}")
        else:
            data = cloudwatch_metric_data(facts, timestamp)
            try:
                count = channels.put_metrics(delivery.cloudwatch_client(), settings.cloudwatch_namespace, data)
            except (BotoCoreError, ClientError) as exc:
                raise Failure(description=f"CloudWatch PutMetricData failed: {exc}") from exc
            metadata["cloudwatch"] = MetadataValue.text(
                f"{count} data points to {settings.cloudwatch_namespace}, {why}")
    return MaterializeResult(metadata=metadata)
