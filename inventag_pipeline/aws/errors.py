"""Collection errors sorted into the few classes an operator acts on, each with a severity and a hint.

The raw AWS error code stays in the manifest (`error_class`); the class says what kind of trouble it
is and the hint says what to do about it, naming the IAM action when botocore tells us the operation.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.exceptions

T = TypeVar("T")

THROTTLING = "throttling"
ACCESS_DENIED = "access_denied"
ENDPOINT_OR_NETWORK = "endpoint_or_network"
REGION_NOT_ENABLED = "region_not_enabled"
UNKNOWN = "unknown"
ERROR_CLASSES = (THROTTLING, ACCESS_DENIED, ENDPOINT_OR_NETWORK, REGION_NOT_ENABLED, UNKNOWN)

SEVERITY = {
    THROTTLING: "warning",
    ACCESS_DENIED: "error",
    ENDPOINT_OR_NETWORK: "error",
    REGION_NOT_ENABLED: "info",
    UNKNOWN: "error",
}

# botocore's own list of throttling codes (botocore.retries.standard.ThrottledRetryableChecker).
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException",
})
# Credentials that STS accepted but a regional endpoint rejects: the region is not enabled (opt-in).
REGION_NOT_ENABLED_CODES = frozenset({
    "OptInRequired", "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId",
})
ACCESS_DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError",
    "AuthorizationErrorException", "NotAuthorized", "Forbidden",
})
# Where the IAM action differs from the API operation's name (the hint must name what to grant).
IAM_ACTIONS = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
}


@dataclass(frozen=True)
class ClassifiedError:
    error_class: str
    severity: str
    hint: str
    code: str
    operation: str | None


def error_code(exc: BaseException) -> str:
    """The AWS error code of a service error, else the exception's class name."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def _status(exc: botocore.exceptions.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _class_of(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        code, status = error_code(exc), _status(exc)
        if code in THROTTLING_CODES or status == 429:
            return THROTTLING
        if code in REGION_NOT_ENABLED_CODES:
            return REGION_NOT_ENABLED
        if code in ACCESS_DENIED_CODES or status == 403:
            return ACCESS_DENIED
        if status >= 500:
            return ENDPOINT_OR_NETWORK
        return UNKNOWN
    # botocore's ConnectionError covers EndpointConnectionError, ConnectTimeoutError and proxy errors;
    # HTTPClientError covers ReadTimeoutError and ConnectionClosedError; the builtins cover DNS
    # failures and timeouts raised below botocore.
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError
                  | ConnectionError | TimeoutError | socket.gaierror):
        return ENDPOINT_OR_NETWORK
    return UNKNOWN


def _hint(error_class: str, service: str, operation: str | None, region: str | None) -> str:
    where = f" in {region}" if region else ""
    if error_class == THROTTLING:
        return "AWS throttled the calls after every retry: lower max_workers or retry later."
    if error_class == ACCESS_DENIED:
        if operation:
            action = f"{service}:{operation}"
            return f"Grant the read-only role `{IAM_ACTIONS.get(action, action)}` (ReadOnlyAccess covers it)."
        return "Grant the read-only role ReadOnlyAccess, or SecurityAudit + ViewOnlyAccess."
    if error_class == ENDPOINT_OR_NETWORK:
        return (f"Check network access to the {service} endpoint{where} (proxy, VPC endpoint, DNS, "
                "AWS_ENDPOINT_URL overrides) or retry later if AWS reported a server error.")
    if error_class == REGION_NOT_ENABLED:
        return (f"Region {region or '(unknown)'} is not enabled for this account: enable it, or leave it out "
                "of the account's regions (INVENTAG_REGIONS); it is skipped, not failed.")
    return "Unexpected error: read the message and the run log; retry, and report it if it persists."


def classify(exc: BaseException, service: str, region: str | None = None, operation: str | None = None
             ) -> ClassifiedError:
    """Class, severity and recovery hint of one collection error.

    `operation` is the API operation in flight when the exception carries none (network errors).
    """
    if isinstance(exc, botocore.exceptions.ClientError) and exc.operation_name:
        operation = exc.operation_name
    error_class = _class_of(exc)
    return ClassifiedError(error_class, SEVERITY[error_class], _hint(error_class, service, operation, region),
                           error_code(exc), operation)


def error_entry(exc: BaseException, resource_type: str, service: str, region: str | None,
                operation: str | None = None) -> dict[str, Any]:
    """One item of a coverage entry's `errors` list."""
    c = classify(exc, service, region, operation)
    return {
        "resource_type": resource_type,
        "operation": f"{service}:{c.operation}" if c.operation else None,
        "code": c.code,
        "class": c.error_class,
        "severity": c.severity,
        "hint": c.hint,
        "message": str(exc)[:500],
    }


# --- patience with throttling ------------------------------------------------------------------------


@dataclass(frozen=True)
class Patience:
    """How long to keep trying a call that botocore gave up on because it was throttled."""

    retries: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 20.0

    def delay(self, attempt: int) -> float:
        """Exponential with jitter (half to full), so retrying threads do not return in step."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** attempt) * (0.5 + random.random() / 2)


NO_PATIENCE = Patience(retries=0)


def botocore_gave_up_throttled(exc: BaseException) -> bool:
    """A throttling error that went through botocore's retries and ran out of attempts or retry quota.

    Errors without that retry metadata never went through botocore's retry handler (a Stubber or a
    `before-call` answer) and are left to the caller as they are.
    """
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    if _class_of(exc) != THROTTLING:
        return False
    meta = exc.response.get("ResponseMetadata", {})
    return bool(meta.get("MaxAttemptsReached") or meta.get("RetryQuotaReached"))


def patiently(fetch: Callable[[], T], patience: Patience) -> T:
    """`fetch()`, called again after a pause each time botocore gave up on it throttled.

    A listing's `fetch` returns all its pages, so it starts over, never resuming half a listing.
    """
    for attempt in range(patience.retries + 1):
        try:
            return fetch()
        except botocore.exceptions.ClientError as exc:
            if attempt == patience.retries or not botocore_gave_up_throttled(exc):
                raise
            time.sleep(patience.delay(attempt))
    raise AssertionError("unreachable")
