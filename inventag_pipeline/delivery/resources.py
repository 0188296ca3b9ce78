"""Delivery settings: where reports are published, who is notified, where metrics go. All off by default.

Every field falls back to an `INVENTAG_*` environment variable at run time, like the other resources.
The AWS clients made here use the pipeline's own credentials (boto3's default chain, endpoint overrides
included), never the read-only session the collectors assume into member accounts: delivery writes,
collection never does.
"""


import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from dagster import ConfigurableResource

from inventag_pipeline.core.notify import NotifyPolicy, RateLimit

SSE_MODES = ("AES256", "aws:kms")


class DeliveryConfigError(ValueError):
    """A delivery setting cannot be used; the message names the setting and its environment variable."""


@dataclass(frozen=True)
class DeliverySettings:
    """The resolved, validated settings; a channel whose setting is None is off."""

    s3_bucket: str | None = None
    s3_prefix: str = ""
    sse: str = "AES256"
    kms_key_id: str | None = None
    report_base_url: str | None = None
    webhook_url: str | None = None
    webhook_timeout_s: float = 10.0
    webhook_attempts: int = 3
    webhook_backoff_s: float = 1.0
    sns_topic_arn: str | None = None
    policy: NotifyPolicy = field(default_factory=NotifyPolicy)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    prometheus_dir: str | None = None
    cloudwatch_namespace: str | None = None
    region: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """Notification channels that are on, in sending order."""
        return tuple(name for name, on in (("webhook", self.webhook_url), ("sns", self.sns_topic_arn)) if on)

    @property
    def s3_uri(self) -> str | None:
        return f"s3://{self.s3_bucket}/{self.s3_prefix}".rstrip("/") if self.s3_bucket else None

    def s3_key(self, relative: str) -> str:
        return f"{self.s3_prefix}/{relative}" if self.s3_prefix else relative


def _pick(configured: Any, env: str) -> Any:
    if configured is not None:
        return configured
    value = os.environ.get(env, "").strip()
    return value or None


def _number(configured: Any, env: str, kind: type, default: Any) -> Any:
    value = _pick(configured, env)
    if value is None:
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise DeliveryConfigError(f"{env}={value!r} is not {'an integer' if kind is int else 'a number'}") from None


def _s3(uri: str | None) -> tuple[str | None, str]:
    if uri is None:
        return None, ""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise DeliveryConfigError(f"INVENTAG_DELIVERY_S3_URI={uri!r} is not an s3://bucket[/prefix] URI")
    return parsed.netloc, parsed.path.strip("/")


def _sse(mode: str | None, kms_key_id: str | None) -> str:
    if mode is None:
        return "aws:kms" if kms_key_id else "AES256"
    normalised = {"aes256": "AES256", "aws:kms": "aws:kms"}.get(mode.lower())
    if normalised is None:
        raise DeliveryConfigError(f"INVENTAG_DELIVERY_S3_SSE={mode!r} is not one of {', '.join(SSE_MODES)}")
    if normalised == "AES256" and kms_key_id:
        raise DeliveryConfigError("INVENTAG_DELIVERY_S3_KMS_KEY_ID is set but INVENTAG_DELIVERY_S3_SSE is AES256; "
                                  "a KMS key needs aws:kms")
    return normalised


class DeliveryResource(ConfigurableResource):
    """Opt-in delivery: S3 publishing, webhook and SNS notifications, Prometheus textfile and CloudWatch metrics.

    Unset fields read their environment variable (INVENTAG_DELIVERY_S3_URI, INVENTAG_WEBHOOK_URL,
    INVENTAG_SNS_TOPIC_ARN, INVENTAG_PROMETHEUS_TEXTFILE_DIR, INVENTAG_CLOUDWATCH_NAMESPACE, …);
    with none set, the delivery assets materialise and record that everything was skipped.
    """

    s3_uri: str | None = None
    s3_sse: str | None = None
    s3_kms_key_id: str | None = None
    report_base_url: str | None = None
    webhook_url: str | None = None
    webhook_timeout_s: float | None = None
    webhook_attempts: int | None = None
    webhook_backoff_s: float | None = None
    sns_topic_arn: str | None = None
    notify_min_severity: str | None = None
    notify_gate: str | None = None
    notify_max_per_window: int | None = None
    notify_window_hours: float | None = None
    prometheus_textfile_dir: str | None = None
    cloudwatch_namespace: str | None = None
    region: str | None = None

    def settings(self) -> DeliverySettings:
        bucket, prefix = _s3(_pick(self.s3_uri, "INVENTAG_DELIVERY_S3_URI"))
        kms_key_id = _pick(self.s3_kms_key_id, "INVENTAG_DELIVERY_S3_KMS_KEY_ID")
        webhook = _pick(self.webhook_url, "INVENTAG_WEBHOOK_URL")
        if webhook and urlparse(webhook).scheme not in ("http", "https"):
            raise DeliveryConfigError("INVENTAG_WEBHOOK_URL must be an http(s) URL")
        topic = _pick(self.sns_topic_arn, "INVENTAG_SNS_TOPIC_ARN")
        if topic and not (topic.startswith("arn:") and topic.split(":")[2:3] == ["sns"]):
            raise DeliveryConfigError(f"INVENTAG_SNS_TOPIC_ARN={topic!r} is not an SNS topic ARN")
        attempts = _number(self.webhook_attempts, "INVENTAG_WEBHOOK_ATTEMPTS", int, 3)
        if attempts < 1:
            raise DeliveryConfigError(f"INVENTAG_WEBHOOK_ATTEMPTS={attempts} must be at least 1")
        try:
            policy = NotifyPolicy(
                min_severity=_pick(self.notify_min_severity, "INVENTAG_NOTIFY_MIN_SEVERITY") or "high",
                gate_level=_pick(self.notify_gate, "INVENTAG_NOTIFY_GATE") or "error",
            )
            limit = RateLimit(
                max_notifications=_number(self.notify_max_per_window, "INVENTAG_NOTIFY_MAX_PER_WINDOW", int, 6),
                window=dt.timedelta(hours=_number(self.notify_window_hours, "INVENTAG_NOTIFY_WINDOW_HOURS",
                                                  float, 24.0)),
            )
        except DeliveryConfigError:
            raise
        except ValueError as exc:
            raise DeliveryConfigError(str(exc)) from None
        return DeliverySettings(
            s3_bucket=bucket,
            s3_prefix=prefix,
            sse=_sse(_pick(self.s3_sse, "INVENTAG_DELIVERY_S3_SSE"), kms_key_id),
            kms_key_id=kms_key_id,
            report_base_url=_pick(self.report_base_url, "INVENTAG_REPORT_BASE_URL"),
            webhook_url=webhook,
            webhook_timeout_s=_number(self.webhook_timeout_s, "INVENTAG_WEBHOOK_TIMEOUT_S", float, 10.0),
            webhook_attempts=attempts,
            webhook_backoff_s=_number(self.webhook_backoff_s, "INVENTAG_WEBHOOK_BACKOFF_S", float, 1.0),
            sns_topic_arn=topic,
            policy=policy,
            rate_limit=limit,
            prometheus_dir=_pick(self.prometheus_textfile_dir, "INVENTAG_PROMETHEUS_TEXTFILE_DIR"),
            cloudwatch_namespace=_pick(self.cloudwatch_namespace, "INVENTAG_CLOUDWATCH_NAMESPACE"),
            region=_pick(self.region, "INVENTAG_DELIVERY_REGION"),
        )

    def sns_client(self, topic_arn: str) -> Any:
        """An SNS client in the topic's own region, with the pipeline's credentials."""
        return boto3.session.Session().client("sns", region_name=topic_arn.split(":")[3] or self.settings().region)

    def cloudwatch_client(self) -> Any:
        """A CloudWatch client in INVENTAG_DELIVERY_REGION, else boto3's default region."""
        return boto3.session.Session().client("cloudwatch", region_name=self.settings().region)
