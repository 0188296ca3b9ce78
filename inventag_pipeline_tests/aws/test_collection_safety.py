"""Collection safety against moto: classified errors, skipped regions, the circuit breaker, health counts.

Failures come from real botocore: a closed port for network errors, and for service errors a
`before-call` hook (the mechanism botocore's Stubber uses) that answers chosen operations with an
AWS error response, which botocore parses and raises as usual; every other call reaches moto.
"""

from __future__ import annotations

import socket
from typing import Any

import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse

from inventag_pipeline.aws.collector import collect_account, collection_health
from inventag_pipeline.aws.errors import classify
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.registry import REGISTRY, RESOURCE_TYPES
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import run_day

REGIONS = ["us-east-1", "eu-west-1"]
# Five EC2 types in a fixed order, so the breaker's arithmetic does not move as the registry grows.
EC2 = [REGISTRY[n] for n in ("AWS::EC2::Instance", "AWS::EC2::Volume", "AWS::EC2::SecurityGroup", "AWS::EC2::VPC",
                             "AWS::EC2::Subnet")]
EC2_TYPES = [t.cfn_type for t in EC2]
EC2_LISTS = [t.list_operation for t in EC2]
MOTO_TYPES = [t for t in RESOURCE_TYPES if t.tested_with == "moto"]
STATUS = {"Throttling": 400, "ThrottlingException": 400, "RequestLimitExceeded": 503, "AccessDenied": 403,
          "AccessDeniedException": 400, "UnauthorizedOperation": 403, "OptInRequired": 401, "AuthFailure": 401,
          "InternalError": 500, "InvalidParameterValue": 400}


def _client_error(code: str, operation: str = "DescribeVolumes") -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": f"{code} message"},
                "ResponseMetadata": {"HTTPStatusCode": STATUS[code]}}
    return botocore.exceptions.ClientError(response, operation)


class FaultySessions(AccountSessions):
    """Sessions whose clients answer the listed (region, Operation) pairs with an AWS error code."""

    def __init__(self, *args: Any, faults: dict[tuple[str, str], str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.faults = faults

    def session(self):
        session = super().session()
        session.events.register("before-call", self._answer)
        return session

    def _answer(self, model: Any, context: dict[str, Any], **_: Any):
        code = self.faults.get((context.get("client_region"), model.name))
        if code is None:
            return None
        return AWSResponse(None, STATUS[code], {}, None), {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": STATUS[code]}}


def _collect(url: str, faults: dict[tuple[str, str], str] | None = None, **settings):
    audit = AuditLog()
    sessions = FaultySessions(simulated_account(), CollectionSettings(simulator_url=url, **settings), audit,
                              faults=faults or {})
    collection = collect_account(sessions, REGIONS, [*EC2, *(t for t in RESOURCE_TYPES if t.service == "sqs")])
    return {(c["service"], c["region"]): c for c in collection.coverage}, audit


def _ec2_calls(audit: AuditLog, region: str) -> list[tuple[str, str]]:
    return [(e.operation, e.outcome) for e in audit.entries if e.service == "ec2" and e.region == region]


def _api(method: str) -> str:
    return "".join(part.title() for part in method.split("_"))


@pytest.mark.parametrize(("code", "expected_class", "severity"), [
    ("Throttling", "throttling", "warning"),
    ("ThrottlingException", "throttling", "warning"),
    ("RequestLimitExceeded", "throttling", "warning"),
    ("AccessDenied", "access_denied", "error"),
    ("AccessDeniedException", "access_denied", "error"),
    ("UnauthorizedOperation", "access_denied", "error"),
    ("OptInRequired", "region_not_enabled", "info"),
    ("AuthFailure", "region_not_enabled", "info"),
    ("InternalError", "endpoint_or_network", "error"),
    ("InvalidParameterValue", "unknown", "error"),
])
def test_service_errors_are_classified_by_code(code, expected_class, severity):
    c = classify(_client_error(code), "ec2", "eu-west-1")
    assert (c.error_class, c.severity, c.code, c.operation) == (expected_class, severity, code, "DescribeVolumes")


@pytest.mark.parametrize("exc", [
    botocore.exceptions.EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com/"),
    botocore.exceptions.ConnectTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com/"),
    botocore.exceptions.ReadTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com/"),
    socket.gaierror(-2, "Name or service not known"),
], ids=["EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "gaierror"])
def test_network_errors_are_classified_with_the_operation_in_flight(exc):
    c = classify(exc, "ec2", "eu-west-1", operation="DescribeVolumes")
    assert (c.error_class, c.severity, c.code, c.operation) == (
        "endpoint_or_network", "error", type(exc).__name__, "DescribeVolumes")
    assert c.hint == ("Check network access to the ec2 endpoint in eu-west-1 (proxy, VPC endpoint, DNS, "
                      "AWS_ENDPOINT_URL overrides) or retry later if AWS reported a server error.")


def test_hints_name_the_iam_action_and_the_remedy():
    assert classify(_client_error("UnauthorizedOperation"), "ec2").hint == (
        "Grant the read-only role `ec2:DescribeVolumes` (ReadOnlyAccess covers it).")
    assert classify(_client_error("AccessDenied", "ListBuckets"), "s3").hint == (
        "Grant the read-only role `s3:ListAllMyBuckets` (ReadOnlyAccess covers it).")
    assert classify(_client_error("Throttling"), "ec2").hint == (
        "AWS throttled the calls after every retry: lower max_workers or retry later.")
    assert classify(_client_error("OptInRequired"), "ec2", "ap-east-1").hint == (
        "Region ap-east-1 is not enabled for this account: enable it, or leave it out of the "
        "account's regions (INVENTAG_REGIONS); it is skipped, not failed.")
    assert classify(ValueError("boom"), "ec2").error_class == "unknown"


def test_breaker_opens_after_consecutive_network_failures_and_skips_the_rest(moto_url, closed_port_url,
                                                                             monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", closed_port_url)
    coverage, audit = _collect(moto_url, max_attempts=1, connect_timeout=1.0, circuit_breaker_threshold=3)

    for region in REGIONS:
        ec2 = coverage[("ec2", region)]
        assert (ec2["status"], ec2["error_class"], ec2["circuit_open"]) == ("failed", "circuit_open", True)
        assert ec2["skipped_types"] == EC2_TYPES[3:]
        assert ec2["types"] == {}
        assert [(e["resource_type"], e["operation"], e["code"], e["class"], e["severity"]) for e in ec2["errors"]] == [
            (t, f"ec2:{_api(op)}", "EndpointConnectionError", "endpoint_or_network", "error")
            for t, op in zip(EC2_TYPES[:3], EC2_LISTS[:3], strict=True)]
        assert ec2["error"].startswith("circuit open after 3 consecutive failing types; not attempted: "
                                       "AWS::EC2::VPC, AWS::EC2::Subnet; AWS::EC2::Instance: EndpointConnectionError")
        # The skipped types were never called.
        assert _ec2_calls(audit, region) == [(_api(op), "error:EndpointConnectionError") for op in EC2_LISTS[:3]]
        sqs = coverage[("sqs", region)]
        assert (sqs["status"], sqs["error_class"], sqs["errors"], sqs["circuit_open"], sqs["skipped_types"]) == (
            "ok", None, [], False, [])


def test_a_success_resets_the_breaker(moto_url):
    failing = [_api(op) for op in EC2_LISTS if op != "describe_security_groups"]
    coverage, audit = _collect(moto_url, {("us-east-1", op): "UnauthorizedOperation" for op in failing},
                               circuit_breaker_threshold=3)
    groups = len(client(moto_url, "ec2").describe_security_groups()["SecurityGroups"])

    ec2 = coverage[("ec2", "us-east-1")]
    assert (ec2["status"], ec2["error_class"], ec2["circuit_open"], ec2["skipped_types"]) == (
        "failed", "UnauthorizedOperation", False, [])
    assert ec2["types"] == {"AWS::EC2::SecurityGroup": groups}
    assert ec2["resource_count"] == groups
    assert [(e["resource_type"], e["operation"], e["class"], e["hint"]) for e in ec2["errors"]] == [
        (t, f"ec2:{op}", "access_denied", f"Grant the read-only role `ec2:{op}` (ReadOnlyAccess covers it).")
        for t, op in zip([t for t in EC2_TYPES if t != "AWS::EC2::SecurityGroup"], failing, strict=True)]
    assert [op for op, _ in _ec2_calls(audit, "us-east-1")] == [_api(op) for op in EC2_LISTS]
    assert coverage[("ec2", "eu-west-1")]["status"] == "ok"


def test_breaker_threshold_zero_never_opens(moto_url):
    coverage, audit = _collect(moto_url, {("us-east-1", _api(op)): "Throttling" for op in EC2_LISTS},
                               circuit_breaker_threshold=0)
    ec2 = coverage[("ec2", "us-east-1")]
    assert (ec2["status"], ec2["error_class"], ec2["circuit_open"], ec2["skipped_types"]) == (
        "failed", "Throttling", False, [])
    assert [(e["class"], e["severity"]) for e in ec2["errors"]] == [("throttling", "warning")] * 5
    assert len(_ec2_calls(audit, "us-east-1")) == 5


@pytest.mark.parametrize("code", ["OptInRequired", "AuthFailure"])
def test_region_not_enabled_is_skipped_after_one_call(moto_url, code):
    coverage, audit = _collect(moto_url, {("eu-west-1", _api(op)): code for op in EC2_LISTS})

    ec2 = coverage[("ec2", "eu-west-1")]
    assert (ec2["status"], ec2["error_class"], ec2["circuit_open"], ec2["resource_count"]) == (
        "skipped", code, False, 0)
    assert ec2["skipped_types"] == EC2_TYPES[1:]
    assert [(e["resource_type"], e["operation"], e["class"], e["severity"]) for e in ec2["errors"]] == [
        ("AWS::EC2::Instance", "ec2:DescribeInstances", "region_not_enabled", "info")]
    assert _ec2_calls(audit, "eu-west-1") == [("DescribeInstances", f"error:{code}")]
    assert coverage[("ec2", "us-east-1")]["status"] == "ok"
    health = collection_health(list(coverage.values()))
    assert (health["scopes_ok"], health["scopes_failed"], health["scopes_skipped"]) == (3, 0, 1)
    assert health["errors_by_class"]["region_not_enabled"] == 1


def test_region_not_enabled_after_a_success_is_a_failure(moto_url):
    coverage, _ = _collect(moto_url, {("eu-west-1", "DescribeVolumes"): "AuthFailure"})
    ec2 = coverage[("ec2", "eu-west-1")]
    assert (ec2["status"], ec2["error_class"], ec2["skipped_types"]) == ("failed", "AuthFailure", [])
    assert sorted(ec2["types"]) == sorted(t for t in EC2_TYPES if t != "AWS::EC2::Volume")


def test_threshold_comes_from_the_environment(monkeypatch):
    assert CollectionSettings().circuit_breaker_threshold == 3
    monkeypatch.setenv("INVENTAG_CIRCUIT_BREAKER_THRESHOLD", "5")
    assert CollectionSettings().circuit_breaker_threshold == 5
    assert CollectionSettings(circuit_breaker_threshold=2).circuit_breaker_threshold == 2
    monkeypatch.setenv("INVENTAG_CIRCUIT_BREAKER_THRESHOLD", "three")
    with pytest.raises(ValueError, match=r"INVENTAG_CIRCUIT_BREAKER_THRESHOLD must be a whole number >= 0 \(0 = off\), "
                                         r"got 'three'"):
        CollectionSettings()


def _scope(service, region, status, seconds, calls, errors=(), circuit_open=False, skipped=()):
    return {"service": service, "region": region, "status": status, "error": None, "error_class": None,
            "resource_count": 0, "api_calls": calls, "duration_s": seconds, "types": {},
            "errors": [{"class": c} for c in errors], "circuit_open": circuit_open, "skipped_types": list(skipped)}


def test_health_summary_counts():
    coverage = [
        _scope("ec2", "us-east-1", "failed", 2.5, 3, ["endpoint_or_network"] * 3, True, ["A", "B"]),
        _scope("ec2", "ap-east-1", "skipped", 0.1, 1, ["region_not_enabled"], skipped=["A", "B", "C", "D"]),
        _scope("iam", "global", "failed", 4.25, 12, ["access_denied", "throttling"]),
        _scope("sqs", "us-east-1", "ok", 0.5, 2),
        # A manifest entry from before errors were classified.
        {"service": "rds", "region": "us-east-1", "status": "failed", "error": "x", "error_class": "Boom",
         "resource_count": 0, "api_calls": 0, "duration_s": 0.2, "types": {}},
    ]
    assert collection_health(coverage) == {
        "scopes": 5, "scopes_ok": 1, "scopes_failed": 3, "scopes_skipped": 1,
        "collection_errors": 7,
        "errors_by_class": {"throttling": 1, "access_denied": 1, "endpoint_or_network": 3,
                            "region_not_enabled": 1, "unknown": 1},
        "circuit_open_scopes": ["ec2/us-east-1"],
        "types_not_attempted": 6,
        "api_calls": 18,
        "slowest_scope": {"service": "iam", "region": "global", "duration_s": 4.25},
    }
    assert collection_health([])["slowest_scope"] is None


def test_raw_inventory_metadata_reports_collection_health(moto_url, closed_port_url, monkeypatch, tmp_path):
    from dagster import instance_for_test

    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", closed_port_url)
    with instance_for_test() as instance:
        result = run_day(instance, moto_url, str(tmp_path / "store"), "2026-11-20", keys=("raw_inventory",),
                         max_attempts=1)
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("raw_inventory")[0].metadata.items()}
    scopes = len({(t.service, "global" if t.is_global else r) for t in MOTO_TYPES for r in REGIONS})
    ec2_types = sum(1 for t in MOTO_TYPES if t.service == "ec2")
    assert {k: metadata[k] for k in (
        "scopes_ok", "scopes_failed", "scopes_skipped", "circuit_open_scopes", "types_not_attempted",
        "collection_errors", "errors_throttling", "errors_access_denied", "errors_endpoint_or_network",
        "errors_region_not_enabled", "errors_unknown")} == {
        "scopes_ok": scopes - 2, "scopes_failed": 2, "scopes_skipped": 0, "circuit_open_scopes": 2,
        "types_not_attempted": 2 * (ec2_types - 3), "collection_errors": 6, "errors_throttling": 0,
        "errors_access_denied": 0, "errors_endpoint_or_network": 6, "errors_region_not_enabled": 0, "errors_unknown": 0}
    assert isinstance(metadata["slowest_scope_seconds"], float)
