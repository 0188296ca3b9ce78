"""Cost Explorer's `GetCostAndUsage` through the account's guarded, read-only session.

Each request costs $0.01, so the caller decides whether to ask at all (the `cost` asset is opt-in);
here one day costs one request per page (one page in practice). Accounts where Cost Explorer is not
enabled, or where the role may not read billing data, raise `CostExplorerUnavailable` with the reason,
which the asset records as a skipped day instead of a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions

# Cost Explorer lives in us-east-1 whatever the account's regions are.
COST_EXPLORER_REGION = "us-east-1"
# Error codes that mean "no cost data for this account", not "try again".
UNAVAILABLE_CODES = {
    "DataUnavailableException": "Cost Explorer has no data for this account (it is not enabled, or was enabled "
                                "less than a day ago)",
    "AccessDeniedException": "the role may not read Cost Explorer (ce:GetCostAndUsage is denied, or the "
                             "management account has not given member accounts access)",
    "AccessDenied": "the role may not read Cost Explorer (ce:GetCostAndUsage is denied)",
    "UnauthorizedOperation": "the role may not read Cost Explorer (ce:GetCostAndUsage is denied)",
    "OptInRequired": "Cost Explorer is not enabled for this account",
    "BillExpirationException": "the day is older than Cost Explorer keeps (about 13 months)",
}
MAX_PAGES = 20


class CostExplorerUnavailable(RuntimeError):
    """Cost Explorer cannot answer for this account; `code` is AWS's error code."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class CostFetch:
    pages: list[dict[str, Any]]
    audit: dict[str, Any]


def fetch_cost_pages(sessions: AccountSessions, request: dict[str, Any], client: Any = None) -> CostFetch:
    """Every page of one GetCostAndUsage request; `client` is for tests (a Stubber-wrapped client)."""
    if client is None:
        sessions.resolve_credentials()
        client = sessions.client(sessions.session(), "ce", COST_EXPLORER_REGION)
    pages: list[dict[str, Any]] = []
    token = None
    try:
        while len(pages) < MAX_PAGES:
            response = client.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
            response.pop("ResponseMetadata", None)
            pages.append(response)
            token = response.get("NextPageToken")
            if not token:
                break
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in UNAVAILABLE_CODES:
            message = exc.response.get("Error", {}).get("Message") or ""
            raise CostExplorerUnavailable(code, f"{UNAVAILABLE_CODES[code]} ({code}: {message})".rstrip()) from exc
        raise
    return CostFetch(pages, _audit(sessions.audit))


def _audit(audit: AuditLog) -> dict[str, Any]:
    return {**audit.summary(), "operations": audit.operation_counts()}
