"""Application integration and management types: APIs, stacks, alarms, logs, pipelines, events,
workflows, parameters and secrets.

Secrets stay secret: SSM parameters come from DescribeParameters and Secrets Manager secrets from
ListSecrets, both metadata only (GetParameter(s) and GetSecretValue are refused by the guard anyway).
"""

from __future__ import annotations

from inventag_pipeline.core.resource_type import Detail, ResourceType, _t

# DescribeAlarms' volatile state fields, shared by metric and composite alarms.
_ALARM_STATE_CHURN = (
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
)

TYPES: tuple[ResourceType, ...] = (
    _t(
        cfn_type="AWS::ApiGateway::RestApi",
        config_type="AWS::ApiGateway::RestApi",
        service="apigateway",
        description="API Gateway REST API with its stages (deployment, caching, logging, tracing, WAF).",
        list_operation="get_rest_apis",
        result_path="items[]",
        id_field="id",
        arn_template="arn:{partition}:apigateway:{region}::/restapis/{id}",
        name_field="name",
        tags_field="tags",
        details=(Detail("get_stages", {"restApiId": "{id}"}, "Stages", "item"),),
        volatile_paths=("Stages[].lastUpdatedDate", "apiStatusMessage"),
        operational_paths=("apiStatus", "Stages[].cacheClusterStatus"),
        list_keys={"Stages": ("stageName",)},
        json_paths=("policy",),
    ),
    _t(
        cfn_type="AWS::ApiGatewayV2::Api",
        config_type="AWS::ApiGatewayV2::Api",
        service="apigatewayv2",
        description="API Gateway HTTP or WebSocket API with its stages.",
        list_operation="get_apis",
        result_path="Items[]",
        id_field="ApiId",
        arn_template="arn:{partition}:apigateway:{region}::/apis/{id}",
        name_field="Name",
        details=(Detail("get_stages", {"ApiId": "{id}"}, "Stages", "Items", paginate=True),),
        volatile_paths=("Stages[].LastUpdatedDate", "Stages[].LastDeploymentStatusMessage"),
        list_keys={"Stages": ("StageName",)},
    ),
    _t(
        cfn_type="AWS::CloudFormation::Stack",
        config_type="AWS::CloudFormation::Stack",
        service="cloudformation",
        description=(
            "CloudFormation stack with its parameters and outputs. DescribeStacks without a name lists "
            "live stacks only, so deleted stacks are never inventoried."
        ),
        list_operation="describe_stacks",
        result_path="Stacks[]",
        id_field="StackName",
        arn_field="StackId",
        name_field="StackName",
        volatile_paths=(
            "LastUpdatedTime",
            "StackStatusReason",
            "ChangeSetId",
            "LastOperations",
            "DriftInformation.LastCheckTimestamp",
        ),
        operational_paths=("StackStatus", "DetailedStatus", "DriftInformation.StackDriftStatus"),
        list_keys={
            "Parameters": ("ParameterKey",),
            "Outputs": ("OutputKey",),
            "RollbackConfiguration.RollbackTriggers": ("Arn",),
        },
        relationships={
            "RoleARN": "AWS::IAM::Role",
            "NotificationARNs[]": "AWS::SNS::Topic",
            "ParentId": "AWS::CloudFormation::Stack",
            "RootId": "AWS::CloudFormation::Stack",
        },
    ),
    _t(
        cfn_type="AWS::CloudWatch::Alarm",
        tagging_api_type="cloudwatch:alarm",
        config_type="AWS::CloudWatch::Alarm",
        service="cloudwatch",
        description="CloudWatch metric alarm; its state (OK/ALARM) is operational, the reasons volatile.",
        list_operation="describe_alarms",
        list_params={"AlarmTypes": ["MetricAlarm"]},
        result_path="MetricAlarms[]",
        id_field="AlarmName",
        arn_field="AlarmArn",
        name_field="AlarmName",
        details=(Detail("list_tags_for_resource", {"ResourceARN": "{AlarmArn}"}, "Tags", "Tags"),),
        volatile_paths=_ALARM_STATE_CHURN,
        operational_paths=("StateValue", "EvaluationState"),
        list_keys={"Dimensions": ("Name",), "Metrics": ("Id",)},
    ),
    _t(
        cfn_type="AWS::CloudWatch::CompositeAlarm",
        service="cloudwatch",
        description="CloudWatch composite alarm (a rule over other alarms).",
        list_operation="describe_alarms",
        list_params={"AlarmTypes": ["CompositeAlarm"]},
        result_path="CompositeAlarms[]",
        id_field="AlarmName",
        arn_field="AlarmArn",
        name_field="AlarmName",
        details=(Detail("list_tags_for_resource", {"ResourceARN": "{AlarmArn}"}, "Tags", "Tags"),),
        volatile_paths=(*_ALARM_STATE_CHURN, "ActionsSuppressedReason"),
        operational_paths=("StateValue", "ActionsSuppressedBy"),
        # moto cannot create composite alarms (PutCompositeAlarm is not implemented).
        tested_with="stubber",
    ),
    _t(
        cfn_type="AWS::Logs::LogGroup",
        tagging_api_type="logs:log-group",
        service="logs",
        description="CloudWatch Logs log group with its retention, encryption and class.",
        list_operation="describe_log_groups",
        result_path="logGroups[]",
        id_field="logGroupName",
        arn_field="logGroupArn",
        name_field="logGroupName",
        details=(Detail("list_tags_for_resource", {"resourceArn": "{logGroupArn}"}, "Tags", "tags"),),
        volatile_paths=("storedBytes",),
        relationships={"kmsKeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::CodePipeline::Pipeline",
        config_type="AWS::CodePipeline::Pipeline",
        service="codepipeline",
        description="CodePipeline pipeline with its stages, actions, artifact stores and triggers.",
        list_operation="list_pipelines",
        result_path="pipelines[]",
        id_field="name",
        arn_template="arn:{partition}:codepipeline:{region}:{account}:{id}",
        name_field="name",
        details=(
            # GetPipeline is read twice so that both its declaration and its metadata (with the ARN the
            # tag call needs) land at the top level: the registry lint accepts top-level template fields.
            Detail("get_pipeline", {"name": "{id}"}, "", "pipeline"),
            Detail("get_pipeline", {"name": "{id}"}, "", "metadata"),
            Detail("list_tags_for_resource", {"resourceArn": "{pipelineArn}"}, "Tags", "tags", paginate=True),
        ),
        # `version` counts updates; the update itself is what the diff shows.
        volatile_paths=("updated", "version", "pollingDisabledAt"),
        list_keys={"stages": ("name",), "stages[].actions": ("name",), "variables": ("name",)},
        ordered_paths=("stages",),
        relationships={
            "roleArn": "AWS::IAM::Role",
            "stages[].actions[].roleArn": "AWS::IAM::Role",
            "artifactStore.location": "AWS::S3::Bucket",
            "artifactStore.encryptionKey.id": "AWS::KMS::Key",
        },
    ),
    _t(
        cfn_type="AWS::Events::EventBus",
        config_type="AWS::Events::EventBus",
        service="events",
        description=(
            "EventBridge event bus (the default bus included) with its resource policy, encryption and "
            "dead-letter queue. ListEventBuses cannot be paged by boto3: the first 100 buses are read."
        ),
        list_operation="list_event_buses",
        list_params={"Limit": 100},
        result_path="EventBuses[]",
        id_field="Name",
        arn_field="Arn",
        name_field="Name",
        details=(
            Detail("describe_event_bus", {"Name": "{Name}"}, "", None),
            Detail("list_tags_for_resource", {"ResourceARN": "{Arn}"}, "Tags", "Tags"),
        ),
        volatile_paths=("LastModifiedTime",),
        json_paths=("Policy",),
        relationships={"KmsKeyIdentifier": "AWS::KMS::Key", "DeadLetterConfig.Arn": "AWS::SQS::Queue"},
    ),
    _t(
        cfn_type="AWS::Events::Rule",
        config_type="AWS::Events::Rule",
        service="events",
        description=(
            "EventBridge rule with its targets. ListRules without a bus name reads the default event bus "
            "only; rules on custom buses would need a per-bus listing."
        ),
        list_operation="list_rules",
        result_path="Rules[]",
        id_field="Name",
        arn_field="Arn",
        name_field="Name",
        details=(
            Detail("list_targets_by_rule", {"Rule": "{Name}", "EventBusName": "{EventBusName}"}, "Targets",
                   "Targets", paginate=True),
            Detail("list_tags_for_resource", {"ResourceARN": "{Arn}"}, "Tags", "Tags"),
        ),
        list_keys={"Targets": ("Id",)},
        json_paths=("EventPattern", "Targets[].Input"),
        relationships={
            "EventBusName": "AWS::Events::EventBus",
            "RoleArn": "AWS::IAM::Role",
            "Targets[].RoleArn": "AWS::IAM::Role",
            "Targets[].DeadLetterConfig.Arn": "AWS::SQS::Queue",
        },
    ),
    _t(
        cfn_type="AWS::StepFunctions::StateMachine",
        tagging_api_type="states:stateMachine",
        config_type="AWS::StepFunctions::StateMachine",
        service="stepfunctions",
        description="Step Functions state machine with its definition (parsed), role, logging and tracing.",
        list_operation="list_state_machines",
        result_path="stateMachines[]",
        id_field="name",
        arn_field="stateMachineArn",
        name_field="name",
        details=(
            Detail("describe_state_machine", {"stateMachineArn": "{stateMachineArn}"}, "", None),
            Detail("list_tags_for_resource", {"resourceArn": "{stateMachineArn}"}, "Tags", "tags"),
        ),
        volatile_paths=("revisionId",),
        operational_paths=("status",),
        json_paths=("definition",),
        relationships={
            "roleArn": "AWS::IAM::Role",
            "loggingConfiguration.destinations[].cloudWatchLogsLogGroup.logGroupArn": "AWS::Logs::LogGroup",
            "encryptionConfiguration.kmsKeyId": "AWS::KMS::Key",
        },
    ),
    _t(
        cfn_type="AWS::StepFunctions::Activity",
        tagging_api_type="states:activity",
        config_type="AWS::StepFunctions::Activity",
        service="stepfunctions",
        description="Step Functions activity (a task worked by external workers).",
        list_operation="list_activities",
        result_path="activities[]",
        id_field="name",
        arn_field="activityArn",
        name_field="name",
        details=(
            Detail("describe_activity", {"activityArn": "{activityArn}"}, "", None),
            Detail("list_tags_for_resource", {"resourceArn": "{activityArn}"}, "Tags", "tags"),
        ),
        relationships={"encryptionConfiguration.kmsKeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::SSM::Parameter",
        tagging_api_type="ssm:parameter",
        service="ssm",
        description=(
            "SSM Parameter Store parameter, metadata only (DescribeParameters): the value is never read. "
            "A rewritten value shows as an operational change of Version and LastModifiedUser."
        ),
        list_operation="describe_parameters",
        result_path="Parameters[]",
        id_field="Name",
        arn_field="ARN",
        # For responses without ARN (the simulator): AWS drops a hierarchical name's leading "/".
        arn_template="arn:{partition}:ssm:{region}:{account}:parameter/{id_path}",
        name_field="Name",
        details=(
            Detail("list_tags_for_resource", {"ResourceType": "Parameter", "ResourceId": "{Name}"}, "Tags",
                   "TagList"),
        ),
        volatile_paths=("LastModifiedDate",),
        operational_paths=("Version", "LastModifiedUser", "Policies[].PolicyStatus"),
        list_keys={"Policies": ("PolicyType",)},
        relationships={"KeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::SSM::Document",
        config_type="AWS::SSM::Document",
        service="ssm",
        description="Customer-owned SSM document (not its content) with the accounts it is shared with.",
        list_operation="list_documents",
        list_params={"Filters": [{"Key": "Owner", "Values": ["Self"]}]},
        result_path="DocumentIdentifiers[]",
        id_field="Name",
        arn_template="arn:{partition}:ssm:{region}:{account}:document/{id}",
        name_field="Name",
        details=(
            Detail("describe_document", {"Name": "{Name}"}, "", "Document"),
            # "all" in the list means the document is public.
            Detail("describe_document_permission", {"Name": "{Name}", "PermissionType": "Share"}, "SharedWith",
                   "AccountIds"),
        ),
        volatile_paths=("StatusInformation",),
        operational_paths=("Status",),
        list_keys={"Parameters": ("Name",), "AttachmentsInformation": ("Name",), "Requires": ("Name",)},
    ),
    _t(
        cfn_type="AWS::SecretsManager::Secret",
        config_type="AWS::SecretsManager::Secret",
        service="secretsmanager",
        description=(
            "Secrets Manager secret, metadata only (ListSecrets) with its resource policy: the secret value "
            "is never read. Rotation settings are configuration; rotation and access dates are volatile."
        ),
        list_operation="list_secrets",
        result_path="SecretList[]",
        id_field="Name",
        arn_field="ARN",
        name_field="Name",
        details=(Detail("get_resource_policy", {"SecretId": "{ARN}"}, "ResourcePolicy", "ResourcePolicy"),),
        volatile_paths=(
            "LastAccessedDate",
            "LastChangedDate",
            "LastRotatedDate",
            "NextRotationDate",
            # Version ids move with every rotation.
            "SecretVersionsToStages",
        ),
        operational_paths=("DeletedDate",),
        json_paths=("ResourcePolicy",),
        relationships={"KmsKeyId": "AWS::KMS::Key", "RotationLambdaARN": "AWS::Lambda::Function"},
    ),
    _t(
        cfn_type="AWS::AppSync::GraphQLApi",
        config_type="AWS::AppSync::GraphQLApi",
        service="appsync",
        description="AppSync GraphQL API with its authentication providers, logging and visibility.",
        list_operation="list_graphql_apis",
        result_path="graphqlApis[]",
        id_field="apiId",
        arn_field="arn",
        name_field="name",
        tags_field="tags",
        relationships={
            "logConfig.cloudWatchLogsRoleArn": "AWS::IAM::Role",
            "mergedApiExecutionRoleArn": "AWS::IAM::Role",
            "lambdaAuthorizerConfig.authorizerUri": "AWS::Lambda::Function",
        },
    ),
)
