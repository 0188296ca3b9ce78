"""GetCostAndUsage through the guarded session: pages, the "not enabled" answers, and real failures.

moto's Cost Explorer cannot answer with errors. botocore's Stubber answers before the read-only guard's
hook runs, so the guard would not see the call; instead these tests answer at `before-send` with HTTP
responses in Cost Explorer's own JSON shape, so serialisation, the guard, the audit log and error parsing
all run as against AWS. The Dagster test covers the moto path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse

from inventag_pipeline.aws.cost_explorer import COST_EXPLORER_REGION, CostExplorerUnavailable, fetch_cost_pages
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.cost import cost_request
from inventag_pipeline_tests.core.test_cost import page

REQUEST = cost_request("123456789012", "2026-11-21")


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_) -> Iterator[bytes]:
        yield self.data


def answering(closed_port_url: str, answers: list[tuple[int, dict]]):
    """A guarded Cost Explorer client whose requests get `answers` in turn; returns (sessions, client, sent)."""
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=closed_port_url, max_attempts=1),
                               AuditLog())
    sessions.resolve_credentials()
    ce = sessions.client(sessions.session(), "ce", COST_EXPLORER_REGION)
    sent: list[dict] = []

    def reply(request, **_):
        sent.append(json.loads(request.body))
        status, body = answers.pop(0)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"},
                           _Body(json.dumps(body).encode()))

    ce.meta.events.register("before-send.ce.GetCostAndUsage", reply)
    return sessions, ce, sent


def test_pages_are_followed_and_the_calls_audited(closed_port_url):
    sessions, ce, sent = answering(closed_port_url, [(200, page({"AWS Lambda": "0.10"}, token="next")),
                                                     (200, page({"Amazon DynamoDB": "0.20"}))])
    fetched = fetch_cost_pages(sessions, REQUEST, client=ce)
    assert [p["ResultsByTime"][0]["Groups"][0]["Keys"] for p in fetched.pages] == [["AWS Lambda"], ["Amazon DynamoDB"]]
    assert sent == [REQUEST, {**REQUEST, "NextPageToken": "next"}]
    assert fetched.audit == {"total_calls": 2, "ok": 2, "errors": 0, "refused": 0, "all_read_only": True,
                             "operations": {"ce:GetCostAndUsage": 2}}


@pytest.mark.parametrize(("code", "reason"), [
    ("DataUnavailableException", "Cost Explorer has no data for this account"),
    ("AccessDeniedException", "the role may not read Cost Explorer"),
    ("BillExpirationException", "the day is older than Cost Explorer keeps"),
])
def test_not_enabled_or_not_allowed_is_unavailable_not_a_failure(closed_port_url, code, reason):
    sessions, ce, _ = answering(closed_port_url, [(400, {"__type": code, "message": "nope"})])
    with pytest.raises(CostExplorerUnavailable) as err:
        fetch_cost_pages(sessions, REQUEST, client=ce)
    assert err.value.code == code
    assert str(err.value).startswith(reason) and str(err.value).endswith(f"({code}: nope)")
    assert [e.outcome for e in sessions.audit.entries] == [f"error:{code}"]


def test_other_errors_are_raised_for_the_asset_to_fail(closed_port_url):
    """Only "no data" and "not allowed" mean skipped; anything else must not pass for a day without spend."""
    sessions, ce, _ = answering(closed_port_url, [(400, {"__type": "ValidationException", "message": "bad"})])
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        fetch_cost_pages(sessions, REQUEST, client=ce)
