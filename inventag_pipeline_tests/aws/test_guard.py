"""The read-only guard: refuses and audits anything that is not a read, before it is sent."""

from __future__ import annotations

import pytest

from inventag_pipeline.aws.guard import AuditLog, ReadOnlyViolation, classify_operation
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline_tests.conftest import client


@pytest.mark.parametrize(
    ("service", "operation", "allowed"),
    [
        ("ec2", "DescribeInstances", True),
        ("s3", "ListBuckets", True),
        ("s3", "GetBucketPolicy", True),
        ("iam", "GetAccountAuthorizationDetails", True),
        ("config", "SelectResourceConfig", True),
        ("sts", "GetCallerIdentity", True),
        ("sts", "AssumeRole", True),
        ("ec2", "RunInstances", False),
        ("ec2", "CreateVpc", False),
        ("s3", "PutBucketPolicy", False),
        ("s3", "DeletePublicAccessBlock", False),
        ("iam", "AttachRolePolicy", False),
        ("s3", "GetObject", False),
        ("secretsmanager", "GetSecretValue", False),
        ("ssm", "GetParameter", False),
        ("sts", "GetSessionToken", False),
        ("lambda", "InvokeFunction", False),
        ("ec2", "Listen", False),  # a verb prefix must end at a word boundary
        ("dynamodb", "Scan", False),
        ("someservice", "FrobnicateWidget", False),  # unknown: fail closed
    ],
)
def test_operation_classification(service, operation, allowed):
    assert classify_operation(service, operation)[0] is allowed


def test_mutating_call_is_refused_before_it_leaves_and_is_audited(moto_url):
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
    sessions.resolve_credentials()
    ec2 = sessions.client(sessions.session(), "ec2", "us-east-1")
    vpcs_before = len(client(moto_url, "ec2").describe_vpcs()["Vpcs"])

    assert len(ec2.describe_vpcs()["Vpcs"]) == vpcs_before
    with pytest.raises(ReadOnlyViolation, match=r"refused ec2:CreateVpc in us-east-1: not a known read-only"):
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    s3 = sessions.client(sessions.session(), "s3", "us-east-1")
    with pytest.raises(ReadOnlyViolation, match="refused s3:CreateBucket"):
        s3.create_bucket(Bucket="should-not-exist")

    assert len(client(moto_url, "ec2").describe_vpcs()["Vpcs"]) == vpcs_before
    assert client(moto_url, "s3").list_buckets()["Buckets"] == []
    assert [(e.service, e.operation, e.region, e.outcome) for e in audit.entries] == [
        ("ec2", "DescribeVpcs", "us-east-1", "ok"),
        ("ec2", "CreateVpc", "us-east-1", "refused"),
        ("s3", "CreateBucket", "us-east-1", "refused"),
    ]
    assert audit.summary() == {"total_calls": 3, "ok": 1, "errors": 0, "refused": 2, "all_read_only": True}
    assert audit.operation_counts() == {"ec2:CreateVpc": 1, "ec2:DescribeVpcs": 1, "s3:CreateBucket": 1}


def test_failed_calls_are_audited_with_their_error(moto_url, closed_port_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", closed_port_url)
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url, max_attempts=1), audit)
    sessions.resolve_credentials()
    sqs = sessions.client(sessions.session(), "sqs", "eu-west-1")
    with pytest.raises(Exception, match="Could not connect"):
        sqs.list_queues()
    assert [(e.operation, e.region, e.outcome) for e in audit.entries] == [
        ("ListQueues", "eu-west-1", "error:EndpointConnectionError")]
