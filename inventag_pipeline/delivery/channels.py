"""Where delivery writes: S3 objects, a chat webhook, an SNS topic, a Prometheus textfile and CloudWatch.

The clients passed in come from `DeliveryResource` and dagster-aws's `S3Resource` with the pipeline's
own credentials, never from the guarded read-only collection session. No Dagster import here, so each
channel is tested on its own against a local HTTP server or moto.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from inventag_pipeline.core.notify import batches, textfile_day

RETRY_AFTER_CAP_S = 30.0


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says which and why (never the webhook's secret URL).

    `retriable` is False when trying again later cannot help (a 4xx answer, a refused operation).
    """

    def __init__(self, message: str, *, retriable: bool = True):
        super().__init__(message)
        self.retriable = retriable


# --- S3 ------------------------------------------------------------------------------------------------


def put_object_only(client: Any) -> Any:
    """Refuse every S3 operation but PutObject before it is sent, so publishing never touches a bucket's
    configuration (encryption, policy, versioning, ACLs) even by mistake."""

    def refuse(model: Any, **_: Any) -> None:
        if model.name != "PutObject":
            raise DeliveryError(f"delivery may only call s3:PutObject; s3:{model.name} was refused before sending",
                                retriable=False)

    client.meta.events.register("before-call.s3", refuse, unique_id="inventag-delivery-put-object-only")
    return client


@dataclass(frozen=True)
class PublishedObject:
    key: str
    size: int
    content_type: str
    version_id: str | None
    etag: str


def put_encrypted(client: Any, bucket: str, key: str, body: bytes, *, content_type: str, sse: str,
                  kms_key_id: str | None, metadata: Mapping[str, str]) -> PublishedObject:
    """One PutObject with server-side encryption; the bucket's default encryption is never relied on."""
    extra: dict[str, Any] = {"ServerSideEncryption": sse}
    if sse == "aws:kms" and kms_key_id:
        extra["SSEKMSKeyId"] = kms_key_id
    response = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                                 Metadata=dict(metadata), **extra)
    return PublishedObject(key, len(body), content_type, response.get("VersionId"), response["ETag"].strip('"'))


# --- webhook -------------------------------------------------------------------------------------------


def redact(url: str) -> str:
    """A webhook URL without its path: Slack-style URLs carry their secret there."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.netloc}/…"


@dataclass(frozen=True)
class WebhookResult:
    status: int
    attempts: int


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    if not value:
        return None
    try:
        return min(float(value), RETRY_AFTER_CAP_S)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, min(parsed.timestamp() - time.time(), RETRY_AFTER_CAP_S))


def post_webhook(url: str, payload: Mapping[str, Any], *, timeout_s: float, attempts: int, backoff_s: float,
                 user_agent: str, sleep: Callable[[float], None] = time.sleep) -> WebhookResult:
    """POST the JSON payload; retry 5xx, 429 and network errors with exponential backoff, never other 4xx."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    last = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": user_agent})
        delay = backoff_s * 2 ** (attempt - 1)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
                return WebhookResult(response.status, attempt)
        except urllib.error.HTTPError as error:
            error.read()
            last = f"HTTP {error.code} {error.reason}"
            if error.code != 429 and error.code < 500:
                raise DeliveryError(f"webhook {redact(url)} refused the message: {last}; not retried",
                                    retriable=False) from None
            asked = _retry_after(error) if error.code == 429 else None
            delay = delay if asked is None else asked
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
        if attempt < attempts:
            sleep(delay)
    raise DeliveryError(f"webhook {redact(url)} failed after {attempts} attempt{'s' if attempts > 1 else ''}: {last}")


# --- SNS -----------------------------------------------------------------------------------------------


def publish_sns(client: Any, topic_arn: str, message: Mapping[str, Any]) -> str:
    """Publish to the topic; returns the message id."""
    return client.publish(TopicArn=topic_arn, **message)["MessageId"]


# --- Prometheus textfile -----------------------------------------------------------------------------------


def textfile_path(directory: str, account: str) -> Path:
    return Path(directory) / f"inventag_{account}.prom"


def write_textfile(directory: str, account: str, date: str, text: str) -> tuple[Path, str | None]:
    """Write the account's .prom file atomically; returns (path, reason it was not written or None).

    A day older than the one already exported is not written: a backfill must not roll the gauges back.
    The temporary file starts with a dot and does not end in .prom, so the textfile collector never
    reads half a file.
    """
    target = textfile_path(directory, account)
    if target.is_file():
        current = textfile_day(target.read_text(encoding="utf-8", errors="replace"))
        if current is not None and current > date:
            return target, f"{target.name} already holds the newer day {current}; not rolled back to {date}"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # the exporter usually runs as another user
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target, None


# --- CloudWatch -------------------------------------------------------------------------------------------


def put_metrics(client: Any, namespace: str, data: Sequence[Mapping[str, Any]]) -> int:
    """PutMetricData in batches; returns the number of data points sent."""
    for batch in batches(list(data)):
        client.put_metric_data(Namespace=namespace, MetricData=batch)
    return len(data)
