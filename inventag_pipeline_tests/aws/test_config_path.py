"""The AWS Config path (aws/config_source.py): fast path for today, configuration history for past days.

moto 5.2 implements Config's recorders for real but answers `select_resource_config` only with results
preloaded through its own API, and `get_resource_config_history` / `list_discovered_resources` only for
S3, IAM roles and policies and SNS, from current state (moto/config/models.py RESOURCE_MAP). So the
Config answers here come from botocore's Stubber, shaped like real AWS answers (Stubber also checks
them against the service model); everything the direct API still collects reaches moto. Stubbed tests
run one worker so each stubbed client sees its calls in a fixed order.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.stub import Stubber

from inventag_pipeline import steps
from inventag_pipeline.aws import config_source
from inventag_pipeline.aws.collector import collect_account, plan_scopes
from inventag_pipeline.aws.guard import AuditLog, classify_operation
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import CollectionWindowError, check_collection_window, simulated_account
from inventag_pipeline.core.config_mapping import select_expression
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.resources import AwsInventoryResource
from inventag_pipeline.store.store import InventoryStore, Partition
from inventag_pipeline_tests.conftest import client

ACCOUNT = "123456789012"
US, EU = "us-east-1", "eu-west-1"
T0 = dt.datetime(2025, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
TAGS = {"Environment": "prod", "Owner": "platform@example.com"}
SG, VPC, VOLUME, BUCKET, ROLE, QUEUE = (REGISTRY[t] for t in (
    "AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::EC2::Volume", "AWS::S3::Bucket", "AWS::IAM::Role",
    "AWS::SQS::Queue"))
TYPES = [SG, VPC, VOLUME, BUCKET, ROLE, QUEUE]
RECORDED = ["AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::SQS::Queue"]


class StubbedConfig(AccountSessions):
    """Guarded sessions whose clients of the `stubbed` services are Stubber-wrapped, one per region.

    The stubbed client is built from a guarded session with the guard's hook ahead of Stubber's, so the
    guard classifies and audits every stubbed call as it does a real one; other services reach moto.
    """

    def __init__(self, *args: Any, stubbed: tuple[str, ...] = ("config", "resourcegroupstaggingapi"), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stubbed = stubbed
        self.stubs: dict[tuple[str, str], Stubber] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self.resolve_credentials()

    def stub(self, service: str, region: str) -> Stubber:
        if (service, region) not in self.stubs:
            real = super().client(super().session(), service, region)
            self._clients[(service, region)] = real
            self.stubs[(service, region)] = Stubber(real)
            self.stubs[(service, region)].activate()
            # Stubber answers from the first `before-call` handler; put the guard in front of it again, so a
            # stubbed call is classified (and refused if it is not a read) and audited like a real one.
            events = real.meta.events
            events.unregister("before-call", unique_id="inventag-guard-before")
            events.register_first("before-call.*.*", self.guard._before_call, unique_id="inventag-guard-before")
        return self.stubs[(service, region)]

    def client(self, session: Any, service: str, region: str) -> Any:
        if service in self.stubbed:
            self.stub(service, region)
            return self._clients[(service, region)]
        return super().client(session, service, region)

    def assert_all_answers_used(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def sessions_for(url: str, audit: AuditLog | None = None, *, stubbed: tuple[str, ...] | None = None,
                 **settings: Any) -> StubbedConfig:
    settings.setdefault("max_workers", 1)
    settings.setdefault("detail_workers", 1)
    extra = {"stubbed": stubbed} if stubbed else {}
    return StubbedConfig(simulated_account(), CollectionSettings(simulator_url=url, **settings), audit or AuditLog(),
                         **extra)


def recorder(*types: str, name: str = "default", **group: Any) -> dict[str, Any]:
    """A customer-managed recorder as DescribeConfigurationRecorders returns it."""
    recording_group = group or {"allSupported": False, "includeGlobalResourceTypes": False,
                                "resourceTypes": list(types), "exclusionByResourceTypes": {"resourceTypes": []},
                                "recordingStrategy": {"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}}
    return {"arn": f"arn:aws:config:{US}:{ACCOUNT}:configuration-recorder/{name}/k0abcd1234efgh56", "name": name,
            "roleARN": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": recording_group, "recordingMode": {"recordingFrequency": "CONTINUOUS"}}


def status(name: str = "default", *, recording: bool = True, started: dt.datetime = T0) -> dict[str, Any]:
    return {"name": name, "lastStartTime": started, "recording": recording, "lastStatus": "SUCCESS",
            "lastStatusChangeTime": started}


def answer_recorders(stub: Stubber, recorders: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> None:
    stub.add_response("describe_configuration_recorders", {"ConfigurationRecorders": recorders}, {})
    stub.add_response("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": statuses}, {})


def result(config_type: str, resource_id: str, configuration: dict[str, Any], *, arn: str, region: str = US,
           name: str | None = None, tags: dict[str, str] | None = TAGS,
           supplementary: dict[str, str] | None = None) -> str:
    row: dict[str, Any] = {"resourceId": resource_id, "resourceName": name, "resourceType": config_type,
                           "configuration": configuration, "supplementaryConfiguration": supplementary or {},
                           "awsRegion": region, "arn": arn, "configurationItemStatus": "OK"}
    if tags is not None:
        row["tags"] = [{"key": k, "value": v, "tag": f"{k}={v}"} for k, v in tags.items()]
    return json.dumps(row)


def answer_select(stub: Stubber, expression: str, pages: list[list[str]]) -> None:
    for n, page in enumerate(pages):
        params: dict[str, Any] = {"Expression": expression, "Limit": 100}
        if n:
            params["NextToken"] = f"page-{n}"
        response: dict[str, Any] = {"Results": page, "QueryInfo": {"SelectFields": [
            {"Name": f} for f in ("resourceId", "resourceName", "resourceType", "configuration",
                                  "supplementaryConfiguration", "tags", "awsRegion", "arn",
                                  "configurationItemStatus")]}}
        if n + 1 < len(pages):
            response["NextToken"] = f"page-{n + 1}"
        stub.add_response("select_resource_config", response, params)


SG_ID, VPC_ID = "sg-0c0f1a2b3c4d5e6f7", "vpc-0c0f1a2b3c4d5e6f7"
QUEUE_URL = f"https://sqs.{US}.amazonaws.com/{ACCOUNT}/config-orders"
QUEUE_ARN = f"arn:aws:sqs:{US}:{ACCOUNT}:config-orders"
BUCKET_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::cfg-bucket/*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def sg_item() -> str:
    return result("AWS::EC2::SecurityGroup", SG_ID, {
        "description": "from config", "groupName": "config-web", "groupId": SG_ID, "ownerId": ACCOUNT, "vpcId": VPC_ID,
        "ipPermissions": [{"fromPort": 443, "ipProtocol": "tcp", "toPort": 443, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
                           "ipRanges": ["0.0.0.0/0"], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
        "ipPermissionsEgress": [], "tags": []}, arn=f"arn:aws:ec2:{US}:{ACCOUNT}:security-group/{SG_ID}",
        name="config-web")


def vpc_item() -> str:
    return result("AWS::EC2::VPC", VPC_ID, {
        "cidrBlock": "10.90.0.0/16", "state": "available", "vpcId": VPC_ID, "ownerId": ACCOUNT,
        "instanceTenancy": "default", "isDefault": False, "ipv6CidrBlockAssociationSet": [],
        "cidrBlockAssociationSet": [{"associationId": "vpc-cidr-assoc-1", "cidrBlock": "10.90.0.0/16",
                                     "cidrBlockState": {"state": "associated"}}], "tags": []},
        arn=f"arn:aws:ec2:{US}:{ACCOUNT}:vpc/{VPC_ID}")


def role_item(role_id: str) -> str:
    return result("AWS::IAM::Role", role_id, {
        "path": "/", "roleName": "cfg-role", "roleId": role_id, "arn": f"arn:aws:iam::{ACCOUNT}:role/cfg-role",
        "createDate": "2025-01-01T00:00:00.000Z", "assumeRolePolicyDocument": "%7B%7D", "instanceProfileList": [],
        "rolePolicyList": [{"policyName": "inline-one", "policyDocument": "%7B%7D"}],
        "attachedManagedPolicies": [{"policyName": "ReadOnlyAccess",
                                     "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "permissionsBoundary": None, "tags": [], "roleLastUsed": None},
        arn=f"arn:aws:iam::{ACCOUNT}:role/cfg-role", region="global", name="cfg-role")


def bucket_item(region: str = US, name: str = "cfg-bucket") -> str:
    return result("AWS::S3::Bucket", name, {
        "name": name, "owner": {"displayName": None, "id": "abc"}, "creationDate": "2025-01-01T00:00:00.000Z"},
        arn=f"arn:aws:s3:::{name}", region=region, name=name, supplementary={
            "BucketPolicy": json.dumps({"policyText": BUCKET_POLICY}),
            "BucketVersioningConfiguration": json.dumps({"status": "Enabled", "isMfaDeleteEnabled": None}),
            "ServerSideEncryptionConfiguration": json.dumps({"rules": [{"applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "AES256", "kmsMasterKeyID": None}, "bucketKeyEnabled": False}]})})


def queue_item() -> str:
    # No tags recorded at all: the tagging API fills them.
    return result("AWS::SQS::Queue", QUEUE_URL, {
        "QueueUrl": QUEUE_URL, "QueueArn": QUEUE_ARN, "VisibilityTimeout": "30", "DelaySeconds": "0",
        "MaximumMessageSize": "262144", "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0",
        "CreatedTimestamp": "1735689600", "LastModifiedTimestamp": "1735689600", "SqsManagedSseEnabled": "true"},
        arn=QUEUE_ARN, name="config-orders", tags=None)


def arrange_moto(url: str) -> str:
    """What the direct API collects or checks: a bucket with a policy, a role, volumes, a queue in EU."""
    s3 = client(url, "s3", US)
    s3.create_bucket(Bucket="cfg-bucket")
    s3.put_bucket_policy(Bucket="cfg-bucket", Policy=BUCKET_POLICY)
    role_id = client(url, "iam").create_role(RoleName="cfg-role", AssumeRolePolicyDocument="{}")["Role"]["RoleId"]
    for region in (US, EU):
        client(url, "ec2", region).create_volume(AvailabilityZone=f"{region}a", Size=8)
    client(url, "sqs", EU).create_queue(QueueName="api-orders")
    return role_id


def arrange_config(sessions: StubbedConfig, role_id: str) -> None:
    answer_recorders(sessions.stub("config", US), [recorder(*RECORDED)], [status()])
    answer_recorders(sessions.stub("config", EU), [], [])
    answer_select(sessions.stub("config", US), select_expression(RECORDED),
                  [[sg_item(), vpc_item(), role_item(role_id)], [bucket_item(), queue_item()]])
    sessions.stub("resourcegroupstaggingapi", US).add_response(
        "get_resources", {"ResourceTagMappingList": [
            {"ResourceARN": QUEUE_ARN, "Tags": [{"Key": "Owner", "Value": "orders@example.com"}]}]},
        {"ResourceARNList": [QUEUE_ARN]})


# --- the guard -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "operation"), [
    ("config", "SelectResourceConfig"), ("config", "SelectAggregateResourceConfig"),
    ("config", "BatchGetResourceConfig"), ("config", "BatchGetAggregateResourceConfig"),
    ("config", "GetResourceConfigHistory"), ("config", "ListDiscoveredResources"),
    ("config", "DescribeConfigurationRecorders"), ("config", "DescribeConfigurationRecorderStatus"),
    ("resourcegroupstaggingapi", "GetResources"),
])
def test_the_guard_classifies_the_config_paths_calls_as_reads(service, operation):
    assert classify_operation(service, operation)[0] is True


@pytest.mark.parametrize("operation", ["PutConfigurationRecorder", "StartConfigurationRecorder",
                                       "DeleteResourceConfig", "PutResourceConfig", "StartResourceEvaluation"])
def test_the_guard_refuses_config_writes(operation):
    assert classify_operation("config", operation)[0] is False


# --- the fast path ---------------------------------------------------------------------------------------


def test_recorded_types_come_from_config_and_the_rest_from_the_apis(moto_url):
    role_id = arrange_moto(moto_url)
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit)
    arrange_config(sessions, role_id)

    collection = collect_account(sessions, [US, EU], TYPES)

    sessions.assert_all_answers_used()
    coverage = {(c["service"], c["region"]): c for c in collection.coverage}
    assert {k: (c["status"], c["source"], c["config_types"], c["types"]) for k, c in coverage.items()} == {
        ("ec2", US): ("ok", "mixed", ["AWS::EC2::SecurityGroup", "AWS::EC2::VPC"],
                      {"AWS::EC2::SecurityGroup": 1, "AWS::EC2::VPC": 1, "AWS::EC2::Volume": 1}),
        ("ec2", EU): ("ok", "api", [], {"AWS::EC2::SecurityGroup": 1, "AWS::EC2::VPC": 1, "AWS::EC2::Volume": 1}),
        ("iam", "global"): ("ok", "config", ["AWS::IAM::Role"], {"AWS::IAM::Role": 1}),
        ("s3", "global"): ("ok", "config", ["AWS::S3::Bucket"], {"AWS::S3::Bucket": 1}),
        ("sqs", US): ("ok", "config", ["AWS::SQS::Queue"], {"AWS::SQS::Queue": 1}),
        ("sqs", EU): ("ok", "api", [], {"AWS::SQS::Queue": 1}),
    }
    items = {(i.resource_type, i.region, i.source) for s in collection.scopes for i in s.items}
    assert items == {
        ("AWS::EC2::SecurityGroup", US, "config"), ("AWS::EC2::VPC", US, "config"), ("AWS::EC2::Volume", US, "api"),
        ("AWS::EC2::SecurityGroup", EU, "api"), ("AWS::EC2::VPC", EU, "api"), ("AWS::EC2::Volume", EU, "api"),
        ("AWS::IAM::Role", "global", "config"), ("AWS::S3::Bucket", US, "config"), ("AWS::SQS::Queue", US, "config"),
        ("AWS::SQS::Queue", EU, "api")}

    payload = {i.resource_type: i.payload for s in collection.scopes for i in s.items if i.source == "config"}
    assert payload["AWS::SQS::Queue"]["Tags"] == {"Owner": "orders@example.com"}  # merged from the tagging API
    bucket = payload["AWS::S3::Bucket"]
    assert (bucket["PolicyStatus"], bucket["Policy"], bucket["Versioning"]) == (
        {"IsPublic": False}, BUCKET_POLICY, {"Status": "Enabled"})  # the status read from S3 itself
    role = payload["AWS::IAM::Role"]
    assert (role["MaxSessionDuration"], role["InlinePolicyNames"], role["RoleId"]) == (3600, ["inline-one"], role_id)

    assert collection.config == [
        {"region": US, "recorder": "recording", "error": None, "api_calls": 5,
         "config_types": ["AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::SQS::Queue"],
         "api_fallback": {"AWS::EC2::Volume": "not in the recording group"}},
        {"region": EU, "recorder": "none", "error": None, "api_calls": 2, "config_types": [],
         "api_fallback": {t: "no configuration recorder" for t in (
             "AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::EC2::Volume", "AWS::SQS::Queue")}},
        {"region": "global", "config_types": ["AWS::IAM::Role", "AWS::S3::Bucket"], "api_fallback": {}},
    ]
    operations = audit.operation_counts()
    assert {op: n for op, n in operations.items() if op.startswith(("config:", "resourcegroupstaggingapi:"))} == {
        "config:DescribeConfigurationRecorderStatus": 2, "config:DescribeConfigurationRecorders": 2,
        "config:SelectResourceConfig": 2, "resourcegroupstaggingapi:GetResources": 1}
    # Config served these: no list or detail call of theirs was made, except the listings and one complement.
    assert {op: n for op, n in operations.items() if op.startswith(("s3:", "iam:", "sqs:"))} == {
        "iam:ListRoles": 1, "s3:GetBucketPolicyStatus": 1, "s3:ListBuckets": 1, "sqs:GetQueueAttributes": 1,
        "sqs:ListQueueTags": 1, "sqs:ListQueues": 1}
    assert [e.region for e in audit.entries if e.operation == "ListQueues"] == [EU]
    assert (audit.summary()["refused"], audit.summary()["all_read_only"]) == (0, True)
    # Every call is counted in exactly one scope, except STS's identity check.
    assert sum(c["api_calls"] for c in collection.coverage) == len(audit.entries) - operations["sts:GetCallerIdentity"]


def test_the_manifest_and_snapshot_say_which_source_each_scope_and_row_used(moto_url, tmp_path):
    role_id = arrange_moto(moto_url)
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit)
    arrange_config(sessions, role_id)
    collection = collect_account(sessions, [US, EU], TYPES)
    store = InventoryStore(str(tmp_path / "store"))
    part = Partition(ACCOUNT, "2026-01-05")

    manifest = steps.write_raw(store, part, collection, audit, account_name="demo")
    snapshot = steps.build_snapshot(store, part)

    assert manifest["source"] == "mixed"
    assert {(c["service"], c["region"]): c["source"] for c in manifest["coverage"]} == {
        ("ec2", US): "mixed", ("ec2", EU): "api", ("iam", "global"): "config", ("s3", "global"): "config",
        ("sqs", US): "config", ("sqs", EU): "api"}
    assert manifest["config"] == collection.config
    rows = snapshot.table.select(["resource_type", "region", "source"]).to_pylist()
    assert sorted((r["resource_type"], r["region"], r["source"]) for r in rows) == sorted(
        (i.resource_type, i.region, i.source) for s in collection.scopes for i in s.items)
    assert snapshot.manifest["source"] == "mixed"


def test_a_listed_resource_config_does_not_hold_sends_its_type_back_to_the_api(moto_url):
    role_id = arrange_moto(moto_url)
    client(moto_url, "s3", EU).create_bucket(Bucket="eu-only-bucket",
                                               CreateBucketConfiguration={"LocationConstraint": EU})
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit)
    arrange_config(sessions, role_id)

    collection = collect_account(sessions, [US, EU], TYPES)

    s3 = next(c for c in collection.coverage if c["service"] == "s3")
    assert (s3["status"], s3["source"], s3["types"]) == ("ok", "api", {"AWS::S3::Bucket": 2})
    assert next(e for e in collection.config if e["region"] == "global")["api_fallback"] == {
        "AWS::S3::Bucket": "1 listed resource(s) not in AWS Config (recorded elsewhere or not yet): eu-only-bucket"}
    assert audit.operation_counts()["s3:GetBucketEncryption"] == 2  # the direct API's detail calls, per bucket


def test_a_failed_query_or_unreadable_recorders_fall_back_to_the_apis(moto_url):
    arrange_moto(moto_url)
    sessions = sessions_for(moto_url)
    answer_recorders(sessions.stub("config", US), [recorder(*RECORDED)], [status()])
    sessions.stub("config", EU).add_client_error("describe_configuration_recorders", "AccessDeniedException",
                                                 "not authorized to perform: config:DescribeConfigurationRecorders",
                                                 400)
    sessions.stub("config", US).add_client_error("select_resource_config", "InvalidExpressionException",
                                                 "bad expression", 400)

    collection = collect_account(sessions, [US, EU], [SG, QUEUE])

    sessions.assert_all_answers_used()
    assert {(c["service"], c["region"]): (c["status"], c["source"]) for c in collection.coverage} == {
        ("ec2", US): ("ok", "api"), ("ec2", EU): ("ok", "api"), ("sqs", US): ("ok", "api"), ("sqs", EU): ("ok", "api")}
    by_region = {e["region"]: e for e in collection.config}
    assert by_region[US]["api_fallback"]["AWS::SQS::Queue"].startswith(
        "query failed: us-east-1: InvalidExpressionException: An error occurred (InvalidExpressionException)")
    assert by_region[EU]["recorder"] == "unreadable"
    assert by_region[EU]["error"].startswith("AccessDeniedException: ")


def test_off_makes_no_config_call_at_all(moto_url, monkeypatch):
    monkeypatch.setenv("INVENTAG_USE_AWS_CONFIG", "off")
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)
    collection = collect_account(sessions, [US], [SG, QUEUE])
    assert [op for op in audit.operation_counts() if op.startswith("config:")] == []
    assert (collection.config, {c["source"] for c in collection.coverage}) == ([], {"api"})


def test_the_setting_is_checked(monkeypatch):
    monkeypatch.setenv("INVENTAG_USE_AWS_CONFIG", "sometimes")
    with pytest.raises(ValueError, match="INVENTAG_USE_AWS_CONFIG must be one of auto, off, got 'sometimes'"):
        CollectionSettings()
    monkeypatch.setenv("INVENTAG_USE_AWS_CONFIG", "false")
    assert CollectionSettings().use_config == "off"
    monkeypatch.delenv("INVENTAG_USE_AWS_CONFIG")
    assert AwsInventoryResource(use_aws_config="off").settings().use_config == "off"
    assert AwsInventoryResource(config_aggregator="org@eu-west-1").settings().config_aggregator == "org@eu-west-1"


def test_moto_recorder_detection_and_its_canned_query_never_lose_a_listed_resource(moto_url):
    """moto's real recorder (allSupported, started) is detected; its canned empty query answer cannot hide
    the role and bucket the listing proves exist: both come from the API."""
    config = client(moto_url, "config", US)
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    client(moto_url, "s3", US).create_bucket(Bucket="moto-bucket")
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "moto-bucket"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    client(moto_url, "iam").create_role(RoleName="moto-role", AssumeRolePolicyDocument="{}")
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=moto_url), audit)

    collection = collect_account(sessions, [US], [BUCKET, ROLE])

    assert {(c["service"], c["source"], c["resource_count"]) for c in collection.coverage} == {
        ("iam", "api", 1), ("s3", "api", 1)}
    assert collection.config[0]["recorder"] == "recording"
    assert next(e for e in collection.config if e["region"] == "global")["api_fallback"] == {
        "AWS::IAM::Role": "1 listed resource(s) not in AWS Config (recorded elsewhere or not yet): moto-role",
        "AWS::S3::Bucket": "1 listed resource(s) not in AWS Config (recorded elsewhere or not yet): moto-bucket"}
    assert audit.operation_counts()["config:SelectResourceConfig"] == 1


def test_an_aggregator_answers_for_every_region_in_one_query(moto_url, monkeypatch):
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit, config_aggregator="org-aggregator@eu-west-1")
    base = sessions_for(moto_url, audit)
    monkeypatch.setattr(config_source, "aggregator_sessions", lambda s: base)
    answer_recorders(sessions.stub("config", US), [recorder("AWS::EC2::SecurityGroup")], [status()])
    answer_recorders(sessions.stub("config", EU), [recorder("AWS::EC2::SecurityGroup")], [status()])
    eu_sg = json.loads(sg_item().replace(US, EU))
    eu_sg["resourceId"] = eu_sg["configuration"]["groupId"] = "sg-0e0e0e0e0e0e0e0e0"
    answer = {"Results": [sg_item(), json.dumps(eu_sg)]}
    base.stub("config", EU).add_response("select_aggregate_resource_config", answer, {
        "ConfigurationAggregatorName": "org-aggregator", "Limit": 100,
        "Expression": select_expression(["AWS::EC2::SecurityGroup"], account_id=ACCOUNT, regions=[US, EU])})

    fast = config_source.fast_path(sessions, [US, EU], plan_scopes([US, EU], [SG]))

    base.assert_all_answers_used()
    assert fast.api_plan == []
    assert [(s.region, s.source, [i.payload["GroupId"] for i in s.items]) for s in fast.config_scopes] == [
        (EU, "config", ["sg-0e0e0e0e0e0e0e0e0"]), (US, "config", [SG_ID])]
    assert audit.operation_counts()["config:SelectAggregateResourceConfig"] == 1


# --- API calls per resource ---------------------------------------------------------------------------------

SCALE = {  # per region: resources Config serves, roughly a busy account's mix
    "AWS::EC2::SecurityGroup": 40, "AWS::EC2::VPC": 4, "AWS::EC2::Subnet": 16, "AWS::EC2::Volume": 140,
    "AWS::EC2::Instance": 100, "AWS::SQS::Queue": 30, "AWS::DynamoDB::Table": 15, "AWS::RDS::DBInstance": 4,
    "AWS::KMS::Key": 20, "AWS::Lambda::Function": 15, "AWS::S3::Bucket": 30}
ROLES = 60


def _minimal(config_type: str, n: int, region: str) -> tuple[str, dict[str, Any]]:
    """A small Config item of a type, and the listing entry when the type is reconciled with its list call."""
    rid = f"{config_type.split('::')[-1].lower()}-{region}-{n:04d}"
    arn = f"arn:aws:x:{region}:{ACCOUNT}:{rid}"
    configuration: dict[str, Any] = {
        "AWS::EC2::SecurityGroup": {"groupId": rid, "groupName": rid, "ipPermissions": []},
        "AWS::EC2::VPC": {"vpcId": rid}, "AWS::EC2::Subnet": {"subnetId": rid, "subnetArn": arn},
        "AWS::EC2::Volume": {"volumeId": rid}, "AWS::EC2::Instance": {"instanceId": rid},
        "AWS::SQS::Queue": {"QueueUrl": rid, "QueueArn": arn},
        "AWS::DynamoDB::Table": {"tableName": rid, "tableArn": arn},
        "AWS::RDS::DBInstance": {"dBInstanceIdentifier": rid, "dBInstanceArn": arn},
        "AWS::KMS::Key": {"keyId": rid, "arn": arn},
        "AWS::Lambda::Function": {"functionName": rid, "functionArn": arn},
        "AWS::S3::Bucket": {"name": rid}, "AWS::IAM::Role": {"roleName": rid, "arn": arn},
    }[config_type]
    listed = {"AWS::KMS::Key": {"KeyId": rid, "KeyArn": arn},
              "AWS::Lambda::Function": {"FunctionName": rid, "FunctionArn": arn},
              "AWS::S3::Bucket": {"Name": rid, "CreationDate": T0},
              "AWS::IAM::Role": {"Path": "/", "RoleName": rid, "RoleId": f"AROA{n:016d}", "Arn": arn,
                                 "CreateDate": T0}}.get(config_type)
    supplementary = {"BucketPolicy": json.dumps({"policyText": "{}" if n % 3 == 0 else None})} \
        if config_type == "AWS::S3::Bucket" else None
    return result(config_type, rid, configuration, arn=arn, region="global" if "IAM" in config_type else region,
                  supplementary=supplementary), listed or {}


def test_api_calls_per_resource_on_the_config_path(moto_url, capsys):
    """Every call the Config path makes for a few thousand resources in four regions, counted by the guard."""
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"]
    types = [REGISTRY[t] for t in SCALE] + [ROLE]
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit, stubbed=("config", "resourcegroupstaggingapi", "s3", "iam", "lambda",
                                                      "kms"))
    everything = [*SCALE, "AWS::IAM::Role"]
    for region in regions:
        group = {"allSupported": True, "includeGlobalResourceTypes": region == US}
        answer_recorders(sessions.stub("config", region), [recorder(**group)], [status()])
    buckets = []
    for region in regions:
        rows, listed = [], {}
        for config_type, count in SCALE.items():
            for n in range(count):
                row, entry = _minimal(config_type, n, region)
                rows.append(row)
                listed.setdefault(config_type, []).append(entry)
        if region == US:
            for n in range(ROLES):
                row, entry = _minimal("AWS::IAM::Role", n, region)
                rows.append(row)
                listed.setdefault("AWS::IAM::Role", []).append(entry)
        wanted = [t for t in everything if t != "AWS::IAM::Role" or region == US]
        answer_select(sessions.stub("config", region), select_expression(wanted),
                      [rows[i:i + 100] for i in range(0, len(rows), 100)])
        sessions.stub("kms", region).add_response("list_keys", {"Keys": listed["AWS::KMS::Key"]}, {})
        sessions.stub("lambda", region).add_response("list_functions", {"Functions": listed["AWS::Lambda::Function"]},
                                                     {})
        for entry in listed["AWS::Lambda::Function"]:
            sessions.stub("lambda", region).add_client_error("get_function_url_config", "ResourceNotFoundException",
                                                             "no url", 404, expected_params={
                                                                 "FunctionName": entry["FunctionArn"]})
        buckets += [(region, b) for b in listed["AWS::S3::Bucket"]]
    sessions.stub("s3", US).add_response("list_buckets", {"Buckets": [b for _, b in buckets]}, {})
    for region, bucket in buckets:
        if int(bucket["Name"][-4:]) % 3 == 0:
            sessions.stub("s3", region).add_response("get_bucket_policy_status", {"PolicyStatus": {"IsPublic": False}},
                                                     {"Bucket": bucket["Name"]})
    sessions.stub("iam", US).add_response("list_roles", {"Roles": listed_roles(), "IsTruncated": False}, {})

    fast = config_source.fast_path(sessions, regions, plan_scopes(regions, types))

    sessions.assert_all_answers_used()
    resources = sum(len(s.items) for s in fast.config_scopes)
    calls = len(audit.entries)
    assert (fast.api_plan, resources) == ([], len(regions) * sum(SCALE.values()) + ROLES)
    assert sum(s.api_calls for s in fast.config_scopes) + sum(fast.overhead.values()) == calls
    per_resource = calls / resources
    with capsys.disabled():
        print(f"\nConfig path: {calls} API calls for {resources} resources in {len(regions)} regions = "
              f"{per_resource:.3f} calls per resource ({audit.operation_counts()})")
    # 8 recorder reads, 4 x 5 query pages, 1 + 4 + 4 + 1 listings, 60 Lambda URL reads, 40 bucket policy statuses.
    assert calls == 8 + 20 + 10 + 60 + 40
    assert per_resource <= 1.2


def listed_roles() -> list[dict[str, Any]]:
    return [_minimal("AWS::IAM::Role", n, US)[1] for n in range(ROLES)]


# --- past days ------------------------------------------------------------------------------------------------

DAY = dt.date(2026, 1, 5)
LATER = dt.datetime(2026, 1, 5, 23, 59, 59, 999000, tzinfo=dt.timezone.utc)


def history_item(config_type: str, resource_id: str, configuration: dict[str, Any], *, captured: dt.datetime,
                 status_: str = "OK", tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A ConfigurationItem as GetResourceConfigHistory returns it: configuration as JSON text, tags as a map."""
    return {"version": "1.3", "accountId": ACCOUNT, "configurationItemCaptureTime": captured,
            "configurationItemStatus": status_, "configurationStateId": str(int(captured.timestamp() * 1000)),
            "configurationItemMD5Hash": "", "arn": f"arn:aws:ec2:{US}:{ACCOUNT}:security-group/{resource_id}",
            "resourceType": config_type, "resourceId": resource_id, "awsRegion": US,
            "availabilityZone": "Not Applicable", "tags": tags if tags is not None else {},
            "relatedEvents": [], "relationships": [],
            "configuration": json.dumps(configuration) if configuration else "null",
            "supplementaryConfiguration": {}}


def sg_configuration(group_id: str, port: int) -> dict[str, Any]:
    return {"groupId": group_id, "groupName": group_id, "description": "then", "ownerId": ACCOUNT, "vpcId": VPC_ID,
            "ipPermissions": [{"fromPort": port, "toPort": port, "ipProtocol": "tcp",
                               "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}], "ipRanges": ["10.0.0.0/8"]}],
            "ipPermissionsEgress": []}


def arrange_history(sessions: StubbedConfig) -> None:
    us = sessions.stub("config", US)
    answer_recorders(us, [recorder(allSupported=True, includeGlobalResourceTypes=True)], [status()])
    answer_recorders(sessions.stub("config", EU), [], [])
    sg = "AWS::EC2::SecurityGroup"

    def discovered(config_type: str, identifiers: list[dict[str, Any]], token: str | None = None,
                   next_token: str | None = None) -> None:
        params: dict[str, Any] = {"resourceType": config_type, "includeDeletedResources": True, "limit": 100}
        if token:
            params["nextToken"] = token
        response: dict[str, Any] = {"resourceIdentifiers": identifiers}
        if next_token:
            response["nextToken"] = next_token
        us.add_response("list_discovered_resources", response, params)

    def history(config_type: str, resource_id: str, items: list[dict[str, Any]]) -> None:
        us.add_response("get_resource_config_history", {"configurationItems": items},
                        {"resourceType": config_type, "resourceId": resource_id, "laterTime": LATER, "limit": 1})

    at = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
    discovered(sg, [{"resourceType": sg, "resourceId": "sg-a"},
                    {"resourceType": sg, "resourceId": "sg-b",
                     "resourceDeletionTime": dt.datetime(2026, 1, 4, 10, 0, tzinfo=dt.timezone.utc)}],
               next_token="more")
    discovered(sg, [{"resourceType": sg, "resourceId": "sg-c",
                     "resourceDeletionTime": dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.timezone.utc)},
                    {"resourceType": sg, "resourceId": "sg-d"}, {"resourceType": sg, "resourceId": "sg-e"}],
               token="more")
    # sg-a existed (its rule then was 443); sg-b was deleted the day before (no history call at all);
    # sg-c was deleted the next day; sg-d was created later; sg-e was deleted during the day.
    history(sg, "sg-a", [history_item(sg, "sg-a", sg_configuration("sg-a", 443), captured=at,
                                      tags={"Name": "then-a"})])
    history(sg, "sg-c", [history_item(sg, "sg-c", sg_configuration("sg-c", 22), captured=at)])
    history(sg, "sg-d", [])
    history(sg, "sg-e", [history_item(sg, "sg-e", {}, captured=at, status_="ResourceDeleted")])
    discovered("AWS::SQS::Queue", [{"resourceType": "AWS::SQS::Queue", "resourceId": QUEUE_URL}])
    history("AWS::SQS::Queue", QUEUE_URL, [history_item("AWS::SQS::Queue", QUEUE_URL, {}, captured=at,
                                                        status_="ResourceNotRecorded")])


def test_a_past_day_is_rebuilt_from_configuration_history(moto_url, tmp_path):
    audit = AuditLog()
    sessions = sessions_for(moto_url, audit)
    arrange_history(sessions)

    collection = config_source.reconstruct_day(sessions, [US, EU], DAY, [SG, QUEUE])

    sessions.assert_all_answers_used()
    items = [i for s in collection.scopes for i in s.items]
    assert sorted((i.payload["GroupId"], i.region, i.source) for i in items) == [
        ("sg-a", US, "config-history"), ("sg-c", US, "config-history")]
    coverage = {(c["service"], c["region"]): c for c in collection.coverage}
    assert {k: (c["status"], c["source"], c["error_class"], c["error"]) for k, c in coverage.items()} == {
        ("ec2", US): ("ok", "config-history", None, None),
        ("ec2", EU): ("skipped", "config-history", "not_recorded_by_config",
                      "not rebuilt from AWS Config history: AWS::EC2::SecurityGroup: no configuration recorder"),
        ("sqs", US): ("failed", "config-history", "config_history_incomplete",
                      "not rebuilt from AWS Config history: AWS::SQS::Queue: us-east-1: 1 resource(s) without a "
                      "recorded state"),
        ("sqs", EU): ("skipped", "config-history", "not_recorded_by_config",
                      "not rebuilt from AWS Config history: AWS::SQS::Queue: no configuration recorder"),
    }
    assert collection.config == [{"as_of": "2026-01-05T23:59:59.999000Z", "proven_regions": [US], "api_calls": 12}]
    assert sum(c["api_calls"] for c in collection.coverage) == 12
    assert audit.operation_counts()["config:GetResourceConfigHistory"] == 5

    store = InventoryStore(str(tmp_path / "store"))
    part = Partition(ACCOUNT, DAY.isoformat())
    manifest = steps.write_raw(store, part, collection, audit, account_name="demo", window_note="rebuilt")
    snapshot = steps.build_snapshot(store, part)
    assert (manifest["source"], snapshot.manifest["source"]) == ("config-history", "config-history")
    rows = {r["resource_id"]: r for r in snapshot.table.to_pylist()}
    assert {k: (r["source"], r["name"], r["tags"]) for k, r in rows.items()} == {
        "sg-a": ("config-history", "then-a", [("Name", "then-a")]), "sg-c": ("config-history", "sg-c", [])}
    assert json.loads(rows["sg-a"]["configuration"])["IpPermissions"] == [
        {"FromPort": 443, "IpProtocol": "tcp", "Source": "10.0.0.0/8", "SourceType": "cidr", "ToPort": 443}]


def test_without_a_recorder_a_past_day_is_refused_with_the_reason(moto_url):
    aws = AwsInventoryResource(simulator_url=moto_url, regions=f"{US},{EU}", auto_start_simulator=False)
    now = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(CollectionWindowError) as info:
        aws.collect_day(simulated_account(), DAY, now)
    assert str(info.value) == (
        "2026-01-05 can no longer be collected: its window closed at 2026-01-07 00:00 UTC (24 h after the day "
        "ended). Collecting now would record today's state as 2026-01-05. Re-materialise downstream assets from "
        "stored data instead, or set allow_outside_window=true on the aws resource if you really want today's state "
        "stored under that date. AWS Config configuration history cannot rebuild it either: us-east-1: no "
        "configuration recorder; eu-west-1: no configuration recorder.")


def test_with_config_off_the_refusal_is_the_windows_own(moto_url):
    aws = AwsInventoryResource(simulator_url=moto_url, regions=US, auto_start_simulator=False, use_aws_config="off")
    now = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(CollectionWindowError) as expected:
        check_collection_window(DAY, now, 24.0)
    with pytest.raises(CollectionWindowError) as info:
        aws.collect_day(simulated_account(), DAY, now)
    assert str(info.value) == str(expected.value)


def test_a_recorder_started_during_the_day_cannot_vouch_for_it(moto_url, monkeypatch):
    sessions = sessions_for(moto_url)
    answer_recorders(sessions.stub("config", US), [recorder(allSupported=True)],
                     [status(started=dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.timezone.utc))])
    with pytest.raises(config_source.HistoryUnavailable) as info:
        config_source.reconstruct_day(sessions, [US], DAY, [SG])
    assert str(info.value) == ("AWS Config configuration history cannot rebuild it either: us-east-1: no recorder "
                               "was recording throughout 2026-01-05.")


def test_inside_the_window_collect_day_collects_today(moto_url):
    aws = AwsInventoryResource(simulator_url=moto_url, regions=US, auto_start_simulator=False)
    now = dt.datetime(2026, 1, 5, 18, 0, tzinfo=dt.timezone.utc)
    collection, audit, note = aws.collect_day(simulated_account(), DAY, now)
    assert note is None
    assert {c["source"] for c in collection.coverage} == {"api"}
    assert "config:GetResourceConfigHistory" not in audit.operation_counts()
