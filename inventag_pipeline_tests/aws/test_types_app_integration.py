"""The app_integration types (core/types/app_integration.py): details against moto, the rest with Stubber."""

from __future__ import annotations

import copy
import datetime as dt
import json

import boto3
from botocore.stub import Stubber

from inventag_pipeline.aws.collector import _Counter, collect_account, collect_type
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import CanonicalRecord, canonical_record
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.types.app_integration import TYPES
from inventag_pipeline_tests.aws.fixtures import TAGS
from inventag_pipeline_tests.aws.fixtures_app_integration import (
    ROLE,
    STATE_MACHINE_DEFINITION,
    create,
    create_stack,
)
from inventag_pipeline_tests.conftest import client

REGION = "us-east-1"
MOTO_TYPES = [t for t in TYPES if t.tested_with == "moto"]
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
COLLECTED_AT = "2026-01-01T00:00:00Z"
# Every call collecting this family makes: nothing that returns a parameter or secret value.
EXPECTED_OPERATIONS = {
    "apigateway:GetRestApis", "apigateway:GetStages", "apigatewayv2:GetApis", "apigatewayv2:GetStages",
    "appsync:ListGraphqlApis", "cloudformation:DescribeStacks", "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource", "codepipeline:GetPipeline", "codepipeline:ListPipelines",
    "codepipeline:ListTagsForResource", "events:DescribeEventBus", "events:ListEventBuses", "events:ListRules",
    "events:ListTagsForResource", "events:ListTargetsByRule", "logs:DescribeLogGroups", "logs:ListTagsForResource",
    "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecrets", "ssm:DescribeDocument",
    "ssm:DescribeDocumentPermission", "ssm:DescribeParameters", "ssm:ListDocuments", "ssm:ListTagsForResource",
    "stepfunctions:DescribeActivity", "stepfunctions:DescribeStateMachine", "stepfunctions:ListActivities",
    "stepfunctions:ListStateMachines", "stepfunctions:ListTagsForResource", "sts:GetCallerIdentity",
}


def _collect(url: str):
    """Every type's own detail calls (the tagging API's bulk listing is tested in test_collector)."""
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url, tagging_api=False), audit)
    return collect_account(sessions, [REGION], types=MOTO_TYPES), audit


def _records(collection) -> dict[str, CanonicalRecord]:
    return {
        r.arn: r
        for r in (
            canonical_record(REGISTRY[i.resource_type], i.payload, account_id=collection.account_id, region=i.region,
                             collected_at=collection.collected_at)
            for scope in collection.scopes for i in scope.items
        )
    }


def _rehash(rtype: str, payload: dict) -> str:
    return canonical_record(REGISTRY[rtype], payload, account_id=ACCOUNT, region=REGION,
                            collected_at=COLLECTED_AT).content_hash


def test_collected_details_of_every_type(moto_url):
    expected = {e.resource_type: e for e in create(moto_url, REGION)}
    create_stack(moto_url, REGION, "fixture-deleted-stack")
    client(moto_url, "cloudformation", REGION).delete_stack(StackName="fixture-deleted-stack")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyOthers", "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}]}
    client(moto_url, "secretsmanager", REGION).put_resource_policy(
        SecretId=expected["AWS::SecretsManager::Secret"].arn, ResourcePolicy=json.dumps(policy))
    rest_id = expected["AWS::ApiGateway::RestApi"].arn.rsplit("/", 1)[-1]
    deployment = client(moto_url, "apigateway", REGION).get_deployments(restApiId=rest_id)["items"][0]["id"]

    collection, audit = _collect(moto_url)

    assert [(s.service, s.error) for s in collection.scopes if s.status != "ok"] == []
    records = _records(collection)
    config = {t: records[e.arn].configuration for t, e in expected.items()}

    rest = config["AWS::ApiGateway::RestApi"]
    assert [(s["stageName"], s["deploymentId"]) for s in rest["Stages"]] == [("prod", deployment)]
    assert (rest["endpointConfiguration"], "tags" in rest) == ({"types": ["REGIONAL"]}, False)
    http_api = config["AWS::ApiGatewayV2::Api"]
    assert (http_api["ProtocolType"], [(s["StageName"], s["AutoDeploy"]) for s in http_api["Stages"]]) == (
        "HTTP", [("live", True)])

    # Parameters and outputs are configuration; the deleted stack is not inventoried at all.
    stacks = [r for r in records.values() if r.resource_type == "AWS::CloudFormation::Stack"]
    assert [r.name for r in stacks] == [f"fixture-stack-{REGION}"]
    stack = config["AWS::CloudFormation::Stack"]
    assert (stack["Parameters"], stack["Outputs"], stack["StackStatus"]) == (
        [{"ParameterKey": "Env", "ParameterValue": "test"}], [{"OutputKey": "Env", "OutputValue": "test"}],
        "CREATE_COMPLETE")

    alarm = config["AWS::CloudWatch::Alarm"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "AWS/EC2", "CPUUtilization", 80.0, 2)
    assert (alarm["Dimensions"], "Tags" in alarm) == ([{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}], False)
    assert config["AWS::Logs::LogGroup"]["retentionInDays"] == 30

    pipeline = config["AWS::CodePipeline::Pipeline"]
    assert (pipeline["pipelineArn"], pipeline["roleArn"]) == (expected["AWS::CodePipeline::Pipeline"].arn, ROLE_ARN)
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Build"]  # declared order, kept
    assert pipeline["stages"][1]["actions"][0]["configuration"] == {"ProjectName": "fixture-build"}

    buses = {r.name: r for r in records.values() if r.resource_type == "AWS::Events::EventBus"}
    assert {n: r.arn for n, r in buses.items()} == {
        "default": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
        f"fixture-bus-{REGION}": expected["AWS::Events::EventBus"].arn}
    assert config["AWS::Events::EventBus"]["Description"] == "fixture bus"
    rule = config["AWS::Events::Rule"]
    machine = expected["AWS::StepFunctions::StateMachine"].arn
    assert (rule["ScheduleExpression"], rule["State"], rule["EventBusName"]) == ("rate(1 hour)", "ENABLED", "default")
    assert rule["Targets"] == [{"Id": "machine", "Arn": machine, "RoleArn": ROLE_ARN, "Input": {"source": "fixture"}}]

    state_machine = config["AWS::StepFunctions::StateMachine"]
    assert state_machine["definition"] == STATE_MACHINE_DEFINITION  # parsed from its JSON string
    assert (state_machine["roleArn"], state_machine["status"], state_machine["type"]) == (
        ROLE_ARN, "ACTIVE", "STANDARD")
    assert config["AWS::StepFunctions::Activity"]["name"] == f"fixture-activity-{REGION}"

    parameter = config["AWS::SSM::Parameter"]
    assert (parameter["Type"], parameter["Description"], parameter["Version"]) == (
        "SecureString", "fixture parameter", 1)
    document = config["AWS::SSM::Document"]
    assert (document["DocumentType"], document["Status"], document["SharedWith"]) == (
        "Command", "Active", ["111122223333"])
    secret = config["AWS::SecretsManager::Secret"]
    assert secret["Description"] == "fixture secret"
    assert secret["ResourcePolicy"]["Statement"] == [{
        "Sid": "DenyOthers", "Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["secretsmanager:*"],
        "Resource": ["*"]}]
    assert config["AWS::AppSync::GraphQLApi"]["authenticationType"] == "API_KEY"

    # Metadata only: neither the parameter's nor the secret's value was read, by any call.
    assert "not-collected" not in json.dumps([i.payload for s in collection.scopes for i in s.items])
    assert set(audit.operation_counts()) == EXPECTED_OPERATIONS
    assert audit.summary()["refused"] == 0


# Per type: payload fields that are volatile, and a configuration change that must move the hash.
PAYLOAD_CHANGES = {
    "AWS::Logs::LogGroup": ({"storedBytes": 987654}, {"retentionInDays": 7}),
    "AWS::CloudFormation::Stack": ({"LastUpdatedTime": "2030-01-01T00:00:00Z", "StackStatusReason": "x"},
                                   {"Outputs": [{"OutputKey": "Env", "OutputValue": "prod"}]}),
    "AWS::CodePipeline::Pipeline": ({"updated": "2030-01-01T00:00:00Z", "version": 7},
                                    {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/other"}),
    "AWS::SSM::Parameter": ({"LastModifiedDate": "2030-01-01T00:00:00Z"}, {"Tier": "Advanced"}),
    "AWS::SecretsManager::Secret": ({"LastAccessedDate": "2030-01-01T00:00:00Z", "NextRotationDate": "2030-02-01"},
                                    {"RotationEnabled": True}),
    "AWS::StepFunctions::StateMachine": ({"revisionId": "r-2"}, {"definition": json.dumps(
        {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}})}),
}


def test_volatile_changes_keep_the_content_hash(moto_url):
    expected = {e.resource_type: e for e in create(moto_url, REGION)}
    collection, _ = _collect(moto_url)
    before = _records(collection)

    secret, alarm, group = (expected[t].arn for t in (
        "AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm", "AWS::Logs::LogGroup"))
    client(moto_url, "secretsmanager", REGION).put_secret_value(SecretId=secret, SecretString="rotated")
    client(moto_url, "cloudwatch", REGION).set_alarm_state(
        AlarmName=f"fixture-alarm-{REGION}", StateValue="OK", StateReason="still fine")
    client(moto_url, "logs", REGION).put_retention_policy(logGroupName=f"/fixture/app-{REGION}", retentionInDays=90)
    after = _records(_collect(moto_url)[0])

    # In moto: a new secret version and a new alarm reason are volatile, a retention change is not.
    assert before[secret].configuration["SecretVersionsToStages"] != after[secret].configuration[
        "SecretVersionsToStages"]
    assert before[secret].content_hash == after[secret].content_hash
    assert after[alarm].configuration["StateReason"] == "still fine"
    assert before[alarm].content_hash == after[alarm].content_hash
    assert before[group].content_hash != after[group].content_hash

    # On the raw payloads: every declared volatile field of these types, against a configuration change.
    payloads = {i.resource_type: i.payload for s in collection.scopes for i in s.items
                if i.resource_type in PAYLOAD_CHANGES and i.payload.get("Tags")}
    assert set(payloads) == set(PAYLOAD_CHANGES)
    for rtype, (volatile, configuration) in PAYLOAD_CHANGES.items():
        original = _rehash(rtype, copy.deepcopy(payloads[rtype]))
        assert (rtype, _rehash(rtype, {**copy.deepcopy(payloads[rtype]), **volatile})) == (rtype, original)
        assert _rehash(rtype, {**copy.deepcopy(payloads[rtype]), **configuration}) != original, rtype


# --- Stubber: types moto cannot create, and real-AWS shapes moto does not return ----------------------------


def _stubbed(service: str):
    real = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return real, Stubber(real)


def _run(rtype_name: str, real) -> list:
    items = collect_type(REGISTRY[rtype_name], lambda _region: real, REGION, _Counter())
    return [canonical_record(REGISTRY[i.resource_type], i.payload, account_id=ACCOUNT, region=i.region,
                             collected_at=COLLECTED_AT) for i in items]


def test_composite_alarm_with_stubber():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:app-health"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    alarm = {
        "ActionsEnabled": True, "AlarmActions": [topic], "AlarmArn": arn, "AlarmConfigurationUpdatedTimestamp": when,
        "AlarmDescription": "API or queue unhealthy", "AlarmName": "app-health",
        "AlarmRule": 'ALARM("api-5xx") OR ALARM("queue-age")', "InsufficientDataActions": [], "OKActions": [],
        "StateReason": "arbitrary", "StateReasonData": "{}", "StateUpdatedTimestamp": when, "StateValue": "OK",
        "StateTransitionedTimestamp": when,
    }
    real, stub = _stubbed("cloudwatch")
    stub.add_response("describe_alarms", {"CompositeAlarms": [alarm], "MetricAlarms": []},
                      {"AlarmTypes": ["CompositeAlarm"]})
    stub.add_response("list_tags_for_resource", {"Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]},
                      {"ResourceARN": arn})
    with stub:
        (record,) = _run("AWS::CloudWatch::CompositeAlarm", real)
    stub.assert_no_pending_responses()
    assert (record.arn, record.name, record.region, record.tags) == (arn, "app-health", REGION, TAGS)
    assert record.configuration["AlarmRule"] == 'ALARM("api-5xx") OR ALARM("queue-age")'
    assert record.configuration["AlarmActions"] == [topic]
    assert record.configuration["StateValue"] == "OK"
    assert record.configuration["StateUpdatedTimestamp"] == "2026-01-02T03:04:05Z"
    churned = dict(alarm, StateReason="other", StateUpdatedTimestamp="2026-02-01T00:00:00Z",
                   Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()])
    assert _rehash("AWS::CloudWatch::CompositeAlarm", churned) == record.content_hash


def test_ssm_parameter_arn_comes_from_the_api_when_present():
    # Real DescribeParameters returns the ARN (moto does not): hierarchical names keep one "/".
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/host"
    real, stub = _stubbed("ssm")
    stub.add_response("describe_parameters", {"Parameters": [{
        "Name": "/app/db/host", "ARN": arn, "Type": "String", "LastModifiedDate": dt.datetime(2026, 1, 1),
        "LastModifiedUser": f"arn:aws:iam::{ACCOUNT}:user/admin", "Version": 3, "Tier": "Standard",
        "Policies": [], "DataType": "text"}]}, {})
    stub.add_response("list_tags_for_resource", {"TagList": [{"Key": k, "Value": v} for k, v in TAGS.items()]},
                      {"ResourceType": "Parameter", "ResourceId": "/app/db/host"})
    with stub:
        (record,) = _run("AWS::SSM::Parameter", real)
    stub.assert_no_pending_responses()
    assert (record.arn, record.name, record.resource_id, record.tags) == (arn, "/app/db/host", "/app/db/host", TAGS)
    assert (record.configuration["Type"], record.configuration["Version"]) == ("String", 3)
