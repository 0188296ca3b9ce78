"""The read-only guard: a botocore event hook on every session we create.

Every API call is classified before it is signed. Anything not known to be a read is refused
(fail closed) and every call, allowed or refused, lands in the audit log with its outcome and
duration. The classification is by operation-name verb plus explicit lists, because HTTP methods
say nothing for AWS's query protocols.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import boto3

# Verbs of operations that only read control-plane state.
READ_VERBS = ("Describe", "List", "Get", "Head", "Lookup", "Select", "BatchGet", "Search")
# Reads by verb that still must not run: they return data or secrets, or mint credentials.
DENIED_READS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectTorrent",
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
        "kms:GetParametersForImport",
        "sts:GetSessionToken",
        "sts:GetFederationToken",
        "lambda:GetFunction",  # returns a pre-signed URL to the code; configuration comes from List
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "ecr:GetAuthorizationToken",
        "codecommit:GetBlob",
        "cognito-identity:GetCredentialsForIdentity",
    }
)
# Non-read verbs that are safe and needed: assuming the collection role.
ALLOWED_EXTRA = frozenset({"sts:AssumeRole"})


class ReadOnlyViolation(PermissionError):
    """Raised before a non-read operation leaves the process."""


def classify_operation(service: str, operation: str) -> tuple[bool, str]:
    """(allowed, reason) for `service:Operation` (service as boto3 names it, lower case)."""
    qualified = f"{service}:{operation}"
    if qualified in ALLOWED_EXTRA:
        return True, "explicitly allowed (credentials for the read-only role)"
    if qualified in DENIED_READS:
        return False, "read of data or secrets, not inventory: refused"
    for verb in READ_VERBS:
        if operation.startswith(verb) and (len(operation) == len(verb) or operation[len(verb)].isupper()):
            return True, f"read verb {verb!r}"
    return False, "not a known read-only operation: refused (fail closed)"


@dataclass(frozen=True)
class AuditEntry:
    service: str
    operation: str
    region: str | None
    outcome: str  # ok | error:<Code> | refused
    duration_ms: float
    at: float


class AuditLog:
    """Thread-safe record of every call attempted through guarded sessions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[AuditEntry]:
        with self._lock:
            return list(self._entries)

    def refused(self) -> list[AuditEntry]:
        return [e for e in self.entries if e.outcome == "refused"]

    def operation_counts(self) -> dict[str, int]:
        counts = Counter(f"{e.service}:{e.operation}" for e in self.entries)
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, Any]:
        entries = self.entries
        outcomes = Counter(e.outcome.split(":", 1)[0] for e in entries)
        return {
            "total_calls": len(entries),
            "ok": outcomes.get("ok", 0),
            "errors": outcomes.get("error", 0),
            "refused": outcomes.get("refused", 0),
            "all_read_only": all(classify_operation(e.service, e.operation)[0] for e in entries
                                 if e.outcome != "refused"),
        }

    def as_dicts(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries]


_CONTEXT_KEY = "inventag_guard"


class ReadOnlyGuard:
    """Installs the hooks on a session; one guard (and log) per collection."""

    def __init__(self, audit: AuditLog, *, extra_allowed: Iterable[str] = ()):
        self.audit = audit
        self.extra_allowed = frozenset(extra_allowed)

    def install(self, session: boto3.session.Session) -> boto3.session.Session:
        events = session.events
        events.register("before-call", self._before_call, unique_id="inventag-guard-before")
        events.register("after-call", self._after_call, unique_id="inventag-guard-after")
        events.register("after-call-error", self._after_error, unique_id="inventag-guard-error")
        return session

    def _before_call(self, model: Any, params: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        operation = model.name
        region = context.get("client_region")
        allowed, reason = classify_operation(service, operation)
        if not allowed and f"{service}:{operation}" not in self.extra_allowed:
            self.audit.record(AuditEntry(service, operation, region, "refused", 0.0, time.time()))
            raise ReadOnlyViolation(f"refused {service}:{operation} in {region}: {reason}")
        context[_CONTEXT_KEY] = (service, operation, region, time.perf_counter())

    def _after_call(self, http_response: Any, parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.pop(_CONTEXT_KEY, None)
        if started is None:
            return
        service, operation, region, t0 = started
        status = getattr(http_response, "status_code", 200)
        code = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        outcome = "ok" if status < 400 else f"error:{code or status}"
        self.audit.record(AuditEntry(service, operation, region, outcome, (time.perf_counter() - t0) * 1000,
                                     time.time()))

    def _after_error(self, exception: BaseException, context: dict[str, Any], **_: Any) -> None:
        started = context.pop(_CONTEXT_KEY, None)
        if started is None:
            return
        service, operation, region, t0 = started
        self.audit.record(AuditEntry(service, operation, region, f"error:{type(exception).__name__}",
                                     (time.perf_counter() - t0) * 1000, time.time()))
