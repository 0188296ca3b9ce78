"""The generic collector against moto: every registry type found with the right identity."""

from __future__ import annotations

import pytest

from inventag_pipeline.aws.collector import collect_account, plan_scopes
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.registry import REGISTRY, RESOURCE_TYPES
from inventag_pipeline_tests.aws.fixtures import _zip, create_one_of_each
from inventag_pipeline_tests.conftest import client

REGIONS = ["us-east-1", "eu-west-1"]


def _collect(url: str, **settings):
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url, **settings), audit)
    return collect_account(sessions, REGIONS), audit


def _records(collection):
    return [
        canonical_record(REGISTRY[i.resource_type], i.payload, account_id=collection.account_id, region=i.region,
                         collected_at=collection.collected_at)
        for scope in collection.scopes for i in scope.items
    ]


def test_every_registry_type_is_collected_with_exact_identity(moto_url):
    expected = create_one_of_each(moto_url, "us-east-1") + create_one_of_each(moto_url, "eu-west-1")
    collection, audit = _collect(moto_url)

    assert [s for s in collection.scopes if s.status != "ok"] == []
    records = {r.arn: r for r in _records(collection)}
    missing = [e.arn for e in expected if e.arn not in records]
    assert missing == []
    wrong = [
        (e.arn, (records[e.arn].resource_type, records[e.arn].region, records[e.arn].name, records[e.arn].tags))
        for e in expected
        if (records[e.arn].resource_type, records[e.arn].region, records[e.arn].name, records[e.arn].tags)
        != (e.resource_type, e.region, e.name, e.tags)
    ]
    assert wrong == []
    assert {e.resource_type for e in expected} == {t for t, d in REGISTRY.items() if d.tested_with == "moto"}
    assert audit.summary()["refused"] == 0
    assert audit.summary()["all_read_only"] is True


def test_collected_details_reach_the_record(moto_url):
    create_one_of_each(moto_url, "us-east-1")
    collection, _ = _collect(moto_url)
    # The core fixtures' resources, by name (the families' fixtures add more of some types).
    core = {"fixture-bucket-us-east-1", "fixture-role", "fixture-policy", "fixture-us-east-1"}
    by_type = {r.resource_type: r for r in _records(collection) if r.name in core}
    bucket = by_type["AWS::S3::Bucket"].configuration
    assert bucket["Location"] == "us-east-1"
    assert bucket["Versioning"] == {"Status": "Disabled"}
    assert "PublicAccessBlock" not in bucket  # none configured: absent, not an error
    role = by_type["AWS::IAM::Role"].configuration
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}]
    policy = by_type["AWS::IAM::ManagedPolicy"].configuration
    assert policy["PolicyDocument"]["Statement"] == [
        {"Action": ["s3:ListBucket"], "Effect": "Allow", "Resource": ["*"]}]
    instance = by_type["AWS::EC2::Instance"].configuration
    assert instance["InstanceType"] == "t3.micro"


def test_global_types_are_collected_once(moto_url):
    plan = plan_scopes(REGIONS)
    global_scopes = [(s, r) for s, r, _ in plan if r == "global"]
    global_services = sorted({t.service for t in RESOURCE_TYPES if t.is_global})
    assert {"iam", "s3"} <= set(global_services)
    assert global_scopes == [(s, "global") for s in global_services]
    assert len(plan) == len({t.service for t in RESOURCE_TYPES if not t.is_global}) * len(REGIONS) + len(
        global_services)


def test_unreachable_service_fails_its_scopes_only(moto_url, closed_port_url, monkeypatch):
    create_one_of_each(moto_url, "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", closed_port_url)
    # Breaker off: every RDS type is tried and reports its own error.
    collection, _ = _collect(moto_url, max_attempts=2, connect_timeout=1.0, circuit_breaker_threshold=0)
    status = {(s.service, s.region): (s.status, s.error_class) for s in collection.scopes}
    assert status[("rds", "us-east-1")] == ("failed", "EndpointConnectionError")
    assert status[("rds", "eu-west-1")] == ("failed", "EndpointConnectionError")
    assert {k: v for k, v in status.items() if k[0] != "rds"} == {
        k: ("ok", None) for k in status if k[0] != "rds"}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_region_scopes_hold_only_their_region(moto_url, region):
    create_one_of_each(moto_url, region)
    collection, _ = _collect(moto_url)
    regional = [i for s in collection.scopes if s.region != "global" for i in s.items]
    assert {i.region for i in regional if i.resource_type == "AWS::SQS::Queue"} == {region}


def test_every_scope_failing_fails_the_collection_with_advice(moto_url, closed_port_url, monkeypatch):
    from inventag_pipeline.aws.collector import CollectionFailed

    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    scopes = len(plan_scopes(REGIONS, [t for t in RESOURCE_TYPES if t.tested_with == "moto"]))
    with pytest.raises(CollectionFailed, match=rf"every scope failed for account 123456789012 \({scopes} scopes\)"
                       ) as info:
        _collect(moto_url, max_attempts=1, connect_timeout=1.0)
    assert "ReadOnlyAccess, or SecurityAudit + ViewOnlyAccess" in str(info.value)


def test_secret_values_never_leave_the_collector_but_their_changes_still_show(moto_url):
    import json

    from inventag_pipeline.core.canonical import content_hash

    aws_lambda = client(moto_url, "lambda")
    role = client(moto_url, "iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws_lambda.create_function(FunctionName="billing", Runtime="python3.12", Role=role, Handler="h.h",
                               Code={"ZipFile": _zip()}, Environment={"Variables": {"DB_PASSWORD": "hunter2"}})
    fn = [REGISTRY["AWS::Lambda::Function"]]

    def collect():
        audit = AuditLog()
        sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
        [item] = [i for s in collect_account(sessions, ["us-east-1"], fn).scopes for i in s.items]
        return item

    first = collect()
    assert "hunter2" not in json.dumps(first.payload)
    assert first.payload["Environment"]["Variables"]["DB_PASSWORD"].startswith("redacted:sha256:")
    aws_lambda.update_function_configuration(FunctionName="billing",
                                             Environment={"Variables": {"DB_PASSWORD": "correct-horse"}})
    second = collect()
    records = [canonical_record(fn[0], i.payload, account_id="123456789012", region="us-east-1",
                                collected_at="2026-11-21T00:00:00Z") for i in (first, second)]
    assert "correct-horse" not in json.dumps(second.payload)
    assert content_hash(records[0].configuration, records[0].tags, fn[0].volatile_paths) != content_hash(
        records[1].configuration, records[1].tags, fn[0].volatile_paths)


def test_tags_from_the_tagging_api_give_the_same_records_with_fewer_calls(moto_url):
    """One GetResources listing per region answers for the tagged resources it holds and, for a type it
    holds some of in the region, for the untagged ones it leaves out; all three modes give the same records."""
    from collections import Counter

    create_one_of_each(moto_url, "us-east-1")
    create_one_of_each(moto_url, "eu-west-1")
    for i in range(3):
        client(moto_url, "sqs", "us-east-1").create_queue(QueueName=f"never-tagged-{i}")
    direct, direct_audit = _collect(moto_url, tagging_api="off")
    strict, strict_audit = _collect(moto_url, tagging_api="strict")
    bulk, bulk_audit = _collect(moto_url, tagging_api="on")

    def hashes(collection):
        return {r.arn: (r.content_hash, r.tags) for r in _records(collection)}

    def served(collection):
        return sum(s.tags_from_tagging_api for s in collection.scopes)

    def calls(audit, operation=None, region=None):
        return sum(1 for e in audit.entries if operation in (None, e.operation) and region in (None, e.region))

    assert hashes(bulk) == hashes(direct)
    assert hashes(strict) == hashes(direct)
    opted = {t.cfn_type for t in RESOURCE_TYPES if t.tagging_api_type}
    services = sorted({t.tagging_api_type.split(":")[0] for t in RESOURCE_TYPES if t.tagging_api_type})
    listed = {m["ResourceARN"] for region in REGIONS
              for page in client(moto_url, "resourcegroupstaggingapi", region).get_paginator("get_resources")
              .paginate(ResourceTypeFilters=services) for m in page["ResourceTagMappingList"]}
    records = [r for r in _records(direct) if r.resource_type in opted]
    # moto lists every opted type's tagged resources except Step Functions activities (AWS lists them).
    assert {r.resource_type for r in records if r.tags and r.arn in listed} == opted - {"AWS::StepFunctions::Activity"}
    assert {r.resource_type for r in records if r.tags and r.arn not in listed} == {"AWS::StepFunctions::Activity"}
    covered = {(r.resource_type, r.region) for r in records if r.arn in listed}
    unlisted = Counter((r.resource_type, r.region, (r.resource_type, r.region) in covered)
                       for r in records if r.arn not in listed)
    assert unlisted[("AWS::SQS::Queue", "us-east-1", True)] >= 4  # the three above and an untagged fixture queue
    assert unlisted[("AWS::StepFunctions::Activity", "us-east-1", False)] == 1

    # strict: the listing answers for what it holds; every resource it leaves out is asked.
    assert served(strict) == sum(1 for r in records if r.arn in listed)
    assert calls(strict_audit, "ListQueueTags", "us-east-1") == unlisted[("AWS::SQS::Queue", "us-east-1", True)]
    # on: also for the unlisted resources of a type it holds others of in the region; the rest are asked,
    # the tagged activity moto leaves out among them.
    assert served(bulk) == served(strict) + sum(n for (_, _, trusted), n in unlisted.items() if trusted)
    assert calls(bulk_audit, "ListQueueTags", "us-east-1") == 0
    assert sum(s.tagging_api_error is not None for s in bulk.scopes + strict.scopes) == 0
    assert served(direct) == 0
    listings = calls(bulk_audit, "GetResources")
    assert 2 <= listings <= 4  # one listing (of one or two pages) per region
    assert calls(bulk_audit) == calls(direct_audit) - served(bulk) + listings
    assert calls(strict_audit) == calls(direct_audit) - served(strict) + listings
    [never] = [r for r in _records(bulk) if r.name == "never-tagged-0"]
    assert never.tags == {}


def test_a_listing_whose_arns_match_none_of_a_types_resources_costs_calls_never_tags(moto_url, monkeypatch):
    """Silence is trusted only where the listing holds the ARN of one of the type's own resources: a listing
    that writes ARNs differently (or lists another resource of the service) cannot erase tags."""
    from inventag_pipeline.aws import collector

    sqs = client(moto_url, "sqs", "us-east-1")
    sqs.create_queue(QueueName="tagged", tags={"Owner": "orders@example.com"})
    sqs.create_queue(QueueName="untagged")
    queue = [REGISTRY["AWS::SQS::Queue"]]

    def listing_with_other_arns(self, region, counter, patience):
        # The service's resources, but not as the collector writes their ARNs.
        return collector.TagListing(self.account_id, region, {
            "arn:aws:sqs:us-east-1:123456789012:tagged/": [{"Key": "Owner", "Value": "orders@example.com"}]})

    monkeypatch.setattr(collector.RegionTags, "_fetch", listing_with_other_arns)
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
    collection = collect_account(sessions, ["us-east-1"], queue)

    tags = {r.name: r.tags for r in _records(collection)}
    assert tags == {"tagged": {"Owner": "orders@example.com"}, "untagged": {}}
    assert audit.operation_counts()["sqs:ListQueueTags"] == 2
    assert sum(s.tags_from_tagging_api for s in collection.scopes) == 0


def test_a_failing_tagging_api_costs_calls_never_tags(moto_url, monkeypatch):
    """Without tag:GetResources the collection asks per resource, and says why in the coverage."""

    from inventag_pipeline.aws import collector

    create_one_of_each(moto_url, "us-east-1")
    direct, _ = _collect(moto_url, tagging_api=False)

    def refused(self, region, counter, patience):
        self.errors[region] = "AccessDeniedException: not authorized to perform tag:GetResources"
        return None

    monkeypatch.setattr(collector.RegionTags, "_fetch", refused)
    bulk, _ = _collect(moto_url, tagging_api=True)
    assert {r.arn: r.content_hash for r in _records(bulk)} == {r.arn: r.content_hash for r in _records(direct)}
    errors = {(s.service, s.region, s.tagging_api_error) for s in bulk.scopes if s.tagging_api_error}
    assert ("sqs", "us-east-1", "AccessDeniedException: not authorized to perform tag:GetResources") in errors
    assert sum(s.tags_from_tagging_api for s in bulk.scopes) == 0


def test_iam_authorization_details_give_the_same_records_with_fewer_calls(moto_url):
    """GetAccountAuthorizationDetails answers the per-role, per-user, per-group and per-policy detail calls."""
    create_one_of_each(moto_url, "us-east-1")
    iam = client(moto_url, "iam", "us-east-1")
    iam.create_role(RoleName="untagged-role", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    iam.put_role_policy(RoleName="untagged-role", PolicyName="inline-one",
                        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                                       '"Action": "s3:GetObject", "Resource": "*"}]}')
    iam.create_group(GroupName="auditors")
    iam.add_user_to_group(GroupName="auditors", UserName="fixture-user")
    iam_types = {t.cfn_type for t in RESOURCE_TYPES if t.bulk_details}
    assert iam_types == {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::ManagedPolicy"}
    with_bulk, bulk_audit = _collect(moto_url)
    without, direct_audit = _collect_without_bulk(moto_url)

    def iam_records(collection):
        return {r.arn: (r.content_hash, r.tags, r.configuration) for r in _records(collection)
                if r.resource_type in iam_types}

    assert iam_records(with_bulk) == iam_records(without) and len(iam_records(with_bulk)) >= 6
    role = next(c for _, _, c in iam_records(with_bulk).values() if c.get("RoleName") == "untagged-role")
    assert role["InlinePolicyNames"] == ["inline-one"]
    counts = bulk_audit.operation_counts()
    assert counts["iam:GetAccountAuthorizationDetails"] == 4  # one page per kind here
    for per_resource in ("ListRoleTags", "ListAttachedRolePolicies", "ListRolePolicies", "ListUserTags",
                         "ListGroupsForUser", "ListAttachedGroupPolicies", "GetPolicyVersion"):
        assert f"iam:{per_resource}" not in counts, per_resource
    assert direct_audit.operation_counts()["iam:ListRoleTags"] >= 2


def _collect_without_bulk(url: str):
    """The same collection with every type's bulk answer removed: the detail calls only."""
    import dataclasses

    from inventag_pipeline.aws import collector

    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), audit)
    types = [dataclasses.replace(t, bulk_details=None) for t in collector.default_types(sessions)]
    return collect_account(sessions, REGIONS, types), audit


def test_a_failing_bulk_call_falls_back_to_the_detail_calls(moto_url):
    """A bulk answer that cannot be had (here a request botocore refuses to send) costs calls, never data."""
    import dataclasses

    from inventag_pipeline.core.resource_type import BulkDetails

    create_one_of_each(moto_url, "us-east-1")
    broken = BulkDetails("get_account_authorization_details", {"Filter": ["Role"], "MaxItems": 0},
                         "RoleDetailList[]", "Arn", {"Tags": "Tags || `[]`"})
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
    role = dataclasses.replace(REGISTRY["AWS::IAM::Role"], bulk_details=broken)
    with_broken_bulk = collect_account(sessions, REGIONS, [role])
    without, _ = _collect_without_bulk(moto_url)

    def roles(collection):
        return {r.arn: r.content_hash for r in _records(collection) if r.resource_type == "AWS::IAM::Role"}

    assert roles(with_broken_bulk) == roles(without) and roles(without)
    assert audit.operation_counts()["iam:ListRoleTags"] == len(roles(without))


def test_a_bucket_without_a_policy_is_not_asked_for_its_policy_status(moto_url):
    """GetBucketPolicyStatus answers NoSuchBucketPolicy without a policy, so it is asked only with one."""
    import json

    s3 = client(moto_url, "s3")
    for name in ("with-policy", "without-policy"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket="with-policy", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::with-policy/*"}]}))
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
    collection = collect_account(sessions, ["us-east-1"], [REGISTRY["AWS::S3::Bucket"]])

    payloads = {i.payload["Name"]: i.payload for s in collection.scopes for i in s.items}
    assert payloads["with-policy"]["PolicyStatus"] == {"IsPublic": True}
    assert payloads["without-policy"]["PolicyStatus"] is None
    assert payloads["without-policy"]["Policy"] is None
    assert audit.operation_counts()["s3:GetBucketPolicyStatus"] == 1
    assert audit.operation_counts()["s3:GetBucketPolicy"] == 2
