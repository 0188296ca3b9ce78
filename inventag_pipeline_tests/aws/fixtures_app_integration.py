"""One resource of every moto-tested app_integration type (core/types/app_integration.py)."""

from __future__ import annotations

import json
import warnings

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline_tests.aws.fixtures import TAGS, Expected, _kv
from inventag_pipeline_tests.conftest import client

ROLE = "fixture-app-role"
# One statement per service: moto's CreatePipeline only reads a single-string service principal.
_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": f"{service}.amazonaws.com"}}
    for service in ("codepipeline", "states", "events")]})
STATE_MACHINE_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
STACK_TEMPLATE = json.dumps({
    "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
    "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    "Outputs": {"Env": {"Value": {"Ref": "Env"}}},
})
DOCUMENT_CONTENT = json.dumps({"schemaVersion": "2.2", "description": "fixture", "mainSteps": [
    {"action": "aws:runShellScript", "name": "hello", "inputs": {"runCommand": ["echo hello"]}}]})


def _lower_kv(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _role(url: str) -> str:
    iam = client(url, "iam", "us-east-1")
    try:
        return iam.get_role(RoleName=ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=_TRUST, Tags=_kv(TAGS))["Role"]["Arn"]


def create_stack(url: str, region: str, name: str, **kwargs: object) -> str:
    """A stack of one no-op resource, without moto's warning that it does not model that resource."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        return client(url, "cloudformation", region).create_stack(
            StackName=name, TemplateBody=STACK_TEMPLATE, **kwargs)["StackId"]


def create(url: str, region: str) -> list[Expected]:
    """Create one resource per moto-tested app_integration type in `region` and return the expectations."""
    role = _role(url)
    out: list[Expected] = []

    apigw = client(url, "apigateway", region)
    rest = apigw.create_rest_api(name=f"fixture-rest-{region}", tags=TAGS,
                                 endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigw.get_resources(restApiId=rest)["items"][0]["id"]
    apigw.put_method(restApiId=rest, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=rest, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=rest, stageName="prod", stageDescription="production")
    out.append(Expected("AWS::ApiGateway::RestApi", f"arn:aws:apigateway:{region}::/restapis/{rest}", region,
                        f"fixture-rest-{region}", TAGS))

    apigw2 = client(url, "apigatewayv2", region)
    http_api = apigw2.create_api(Name=f"fixture-http-{region}", ProtocolType="HTTP", Tags=TAGS)["ApiId"]
    apigw2.create_stage(ApiId=http_api, StageName="live", AutoDeploy=True)
    out.append(Expected("AWS::ApiGatewayV2::Api", f"arn:aws:apigateway:{region}::/apis/{http_api}", region,
                        f"fixture-http-{region}", TAGS))

    stack = create_stack(url, region, f"fixture-stack-{region}", Parameters=[
        {"ParameterKey": "Env", "ParameterValue": "test"}], Tags=_kv(TAGS))
    out.append(Expected("AWS::CloudFormation::Stack", stack, region, f"fixture-stack-{region}", TAGS))

    client(url, "cloudwatch", region).put_metric_alarm(
        AlarmName=f"fixture-alarm-{region}", Namespace="AWS/EC2", MetricName="CPUUtilization",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}], Statistic="Average", Period=300,
        EvaluationPeriods=2, Threshold=80.0, ComparisonOperator="GreaterThanThreshold", Tags=_kv(TAGS))
    out.append(Expected("AWS::CloudWatch::Alarm", f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:fixture-alarm-{region}",
                        region, f"fixture-alarm-{region}", TAGS))

    logs = client(url, "logs", region)
    group = f"/fixture/app-{region}"
    logs.create_log_group(logGroupName=group, tags=TAGS)
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    log_group_arn = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}"
    out.append(Expected("AWS::Logs::LogGroup", log_group_arn, region, group, TAGS))

    client(url, "codepipeline", region).create_pipeline(pipeline={
        "name": f"fixture-pipeline-{region}", "roleArn": role,
        "artifactStore": {"type": "S3", "location": f"fixture-artifacts-{region}"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Fetch",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": f"fixture-artifacts-{region}", "S3ObjectKey": "src.zip"},
                "outputArtifacts": [{"name": "src"}]}]},
            {"name": "Build", "actions": [{
                "name": "Compile",
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": "fixture-build"}, "inputArtifacts": [{"name": "src"}]}]},
        ]}, tags=_lower_kv(TAGS))
    out.append(Expected("AWS::CodePipeline::Pipeline",
                        f"arn:aws:codepipeline:{region}:{ACCOUNT}:fixture-pipeline-{region}", region,
                        f"fixture-pipeline-{region}", TAGS))

    sfn = client(url, "stepfunctions", region)
    machine = sfn.create_state_machine(name=f"fixture-machine-{region}", roleArn=role, tags=_lower_kv(TAGS),
                                       definition=json.dumps(STATE_MACHINE_DEFINITION))["stateMachineArn"]
    out.append(Expected("AWS::StepFunctions::StateMachine", machine, region, f"fixture-machine-{region}", TAGS))
    activity = sfn.create_activity(name=f"fixture-activity-{region}", tags=_lower_kv(TAGS))["activityArn"]
    out.append(Expected("AWS::StepFunctions::Activity", activity, region, f"fixture-activity-{region}", TAGS))

    events = client(url, "events", region)
    bus = events.create_event_bus(Name=f"fixture-bus-{region}", Description="fixture bus",
                                  Tags=_kv(TAGS))["EventBusArn"]
    out.append(Expected("AWS::Events::EventBus", bus, region, f"fixture-bus-{region}", TAGS))
    rule = events.put_rule(Name=f"fixture-rule-{region}", ScheduleExpression="rate(1 hour)", Description="hourly",
                           Tags=_kv(TAGS))["RuleArn"]
    events.put_targets(Rule=f"fixture-rule-{region}", Targets=[
        {"Id": "machine", "Arn": machine, "RoleArn": role, "Input": json.dumps({"source": "fixture"})}])
    out.append(Expected("AWS::Events::Rule", rule, region, f"fixture-rule-{region}", TAGS))

    ssm = client(url, "ssm", region)
    # No leading "/": moto's DescribeParameters has no ARN, and the declared template fits such names.
    ssm.put_parameter(Name=f"fixture-param-{region}", Value="not-collected", Type="SecureString",
                      Description="fixture parameter", Tags=_kv(TAGS))
    out.append(Expected("AWS::SSM::Parameter", f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/fixture-param-{region}",
                        region, f"fixture-param-{region}", TAGS))
    ssm.create_document(Name=f"fixture-document-{region}", DocumentType="Command", DocumentFormat="JSON",
                        Content=DOCUMENT_CONTENT, Tags=_kv(TAGS))
    ssm.modify_document_permission(Name=f"fixture-document-{region}", PermissionType="Share",
                                   AccountIdsToAdd=["111122223333"])
    out.append(Expected("AWS::SSM::Document", f"arn:aws:ssm:{region}:{ACCOUNT}:document/fixture-document-{region}",
                        region, f"fixture-document-{region}", TAGS))

    secret = client(url, "secretsmanager", region).create_secret(
        Name=f"fixture-secret-{region}", SecretString="not-collected", Description="fixture secret",
        Tags=_kv(TAGS))["ARN"]
    out.append(Expected("AWS::SecretsManager::Secret", secret, region, f"fixture-secret-{region}", TAGS))

    graphql = client(url, "appsync", region).create_graphql_api(
        name=f"fixture-graphql-{region}", authenticationType="API_KEY", tags=TAGS)["graphqlApi"]["arn"]
    out.append(Expected("AWS::AppSync::GraphQLApi", graphql, region, f"fixture-graphql-{region}", TAGS))
    return out
