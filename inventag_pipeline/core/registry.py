"""The resource-type registry: one small declaration per AWS resource type.

Collectors, the canonicaliser, the delta engine, checks and docs all read these declarations, so a
type is added in one place. Everything here is plain data (strings and tuples) so the core stays
free of boto3; the AWS layer interprets the operation names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from inventag_pipeline.core.resource_type import Detail, ResourceType, _t, authorization_details
from inventag_pipeline.core.types import FAMILY_TYPES

_CORE_TYPES: tuple[ResourceType, ...] = (
    _t(
        cfn_type="AWS::EC2::Instance",
        config_type="AWS::EC2::Instance",
        service="ec2",
        description="EC2 virtual machine (terminated instances are not inventoried).",
        list_operation="describe_instances",
        list_params={
            "Filters": [
                {
                    "Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped", "shutting-down"],
                }
            ]
        },
        result_path="Reservations[].Instances[]",
        id_field="InstanceId",
        arn_template="arn:{partition}:ec2:{region}:{account}:instance/{id}",
        volatile_paths=(
            "LaunchTime",
            "StateTransitionReason",
            "StateReason",
            "NetworkInterfaces[].Attachment.AttachTime",
            "BlockDeviceMappings[].Ebs.AttachTime",
            "UsageOperationUpdateTime",
            "State.Code",  # repeats State.Name as a number
            "ClientToken",
            "AmiLaunchIndex",
            # Auto-assigned public addresses change on every stop/start; `PublicIpAssigned` keeps the
            # security-relevant fact (whether the instance has one) in the diff.
            "PublicIpAddress",
            "PublicDnsName",
            "NetworkInterfaces[].Association",
            "NetworkInterfaces[].PrivateIpAddresses[].Association",
            # Repeats the top-level SecurityGroups, which is where a membership change is reported.
            "NetworkInterfaces[].Groups",
        ),
        operational_paths=("State", "Monitoring.State"),
        list_keys={
            "SecurityGroups": ("GroupId",),
            "BlockDeviceMappings": ("DeviceName",),
            "NetworkInterfaces": ("NetworkInterfaceId",),
            "NetworkInterfaces[].Groups": ("GroupId",),
            "NetworkInterfaces[].PrivateIpAddresses": ("PrivateIpAddress",),
        },
        relationships={
            "SecurityGroups[].GroupId": "AWS::EC2::SecurityGroup",
            "SubnetId": "AWS::EC2::Subnet",
            "VpcId": "AWS::EC2::VPC",
            "BlockDeviceMappings[].Ebs.VolumeId": "AWS::EC2::Volume",
            "IamInstanceProfile.Arn": "AWS::IAM::InstanceProfile",
        },
        normalizer="ec2_instance",
    ),
    _t(
        cfn_type="AWS::EC2::Volume",
        config_type="AWS::EC2::Volume",
        service="ec2",
        description="EBS block storage volume.",
        list_operation="describe_volumes",
        result_path="Volumes[]",
        id_field="VolumeId",
        arn_template="arn:{partition}:ec2:{region}:{account}:volume/{id}",
        volatile_paths=("Attachments[].AttachTime",),
        operational_paths=("State", "Attachments[].State"),
        list_keys={"Attachments": ("InstanceId", "Device")},
        relationships={
            "Attachments[].InstanceId": "AWS::EC2::Instance",
            "KmsKeyId": "AWS::KMS::Key",
        },
    ),
    _t(
        cfn_type="AWS::EC2::SecurityGroup",
        config_type="AWS::EC2::SecurityGroup",
        service="ec2",
        description="VPC security group; each ingress/egress rule is compared as one keyed item.",
        list_operation="describe_security_groups",
        result_path="SecurityGroups[]",
        id_field="GroupId",
        arn_template="arn:{partition}:ec2:{region}:{account}:security-group/{id}",
        name_field="GroupName",
        list_keys={
            "IpPermissions": ("IpProtocol", "FromPort", "ToPort", "Source"),
            "IpPermissionsEgress": ("IpProtocol", "FromPort", "ToPort", "Source"),
        },
        relationships={"VpcId": "AWS::EC2::VPC"},
        normalizer="security_group",
    ),
    _t(
        cfn_type="AWS::EC2::VPC",
        config_type="AWS::EC2::VPC",
        service="ec2",
        description="Virtual private cloud.",
        list_operation="describe_vpcs",
        result_path="Vpcs[]",
        id_field="VpcId",
        arn_template="arn:{partition}:ec2:{region}:{account}:vpc/{id}",
        operational_paths=("State",),
        list_keys={
            "CidrBlockAssociationSet": ("CidrBlock",),
            "Ipv6CidrBlockAssociationSet": ("Ipv6CidrBlock",),
        },
        volatile_paths=("CidrBlockAssociationSet[].AssociationId",),
    ),
    _t(
        cfn_type="AWS::EC2::Subnet",
        config_type="AWS::EC2::Subnet",
        service="ec2",
        description="VPC subnet.",
        list_operation="describe_subnets",
        result_path="Subnets[]",
        id_field="SubnetId",
        arn_field="SubnetArn",
        volatile_paths=("AvailableIpAddressCount",),
        operational_paths=("State",),
        relationships={"VpcId": "AWS::EC2::VPC"},
    ),
    _t(
        cfn_type="AWS::S3::Bucket",
        config_type="AWS::S3::Bucket",
        service="s3",
        description=(
            "S3 bucket with its public access block, default encryption, versioning and policy "
            "status. Listed once per account; each bucket carries its own region."
        ),
        list_operation="list_buckets",
        result_path="Buckets[]",
        id_field="Name",
        arn_template="arn:{partition}:s3:::{id}",
        name_field="Name",
        is_global=True,
        region_field="Location",
        details=(
            Detail("get_bucket_location", {"Bucket": "{id}"}, "Location", "LocationConstraint"),
            Detail(
                "get_public_access_block",
                {"Bucket": "{id}"},
                "PublicAccessBlock",
                "PublicAccessBlockConfiguration",
                absent_codes=("NoSuchPublicAccessBlockConfiguration",),
            ),
            Detail(
                "get_bucket_encryption",
                {"Bucket": "{id}"},
                "Encryption",
                "ServerSideEncryptionConfiguration",
                absent_codes=("ServerSideEncryptionConfigurationNotFoundError",),
            ),
            Detail("get_bucket_versioning", {"Bucket": "{id}"}, "Versioning"),
            Detail(
                "get_bucket_policy",
                {"Bucket": "{id}"},
                "Policy",
                "Policy",
                absent_codes=("NoSuchBucketPolicy",),
            ),
            # The status is computed from the policy: without one, AWS answers NoSuchBucketPolicy.
            Detail(
                "get_bucket_policy_status",
                {"Bucket": "{id}"},
                "PolicyStatus",
                "PolicyStatus",
                absent_codes=("NoSuchBucketPolicy",),
                only_if="Policy",
            ),
            Detail(
                "get_bucket_tagging",
                {"Bucket": "{id}"},
                "Tags",
                "TagSet",
                absent_codes=("NoSuchTagSet", "NoSuchTagSetError"),
            ),
        ),
        json_paths=("Policy",),
        list_keys={"Encryption.Rules": ("ApplyServerSideEncryptionByDefault.SSEAlgorithm",)},
        relationships={
            "Encryption.Rules[].ApplyServerSideEncryptionByDefault.KMSMasterKeyID": "AWS::KMS::Key",
        },
        normalizer="s3_bucket",
    ),
    _t(
        cfn_type="AWS::IAM::Role",
        config_type="AWS::IAM::Role",
        service="iam",
        description="IAM role with its trust policy, attached managed policies and inline policy names.",
        list_operation="list_roles",
        result_path="Roles[]",
        id_field="RoleName",
        arn_field="Arn",
        name_field="RoleName",
        is_global=True,
        details=(
            Detail("list_role_tags", {"RoleName": "{id}"}, "Tags", "Tags", paginate=True),
            Detail(
                "list_attached_role_policies",
                {"RoleName": "{id}"},
                "AttachedManagedPolicies",
                "AttachedPolicies",
                paginate=True,
            ),
            Detail("list_role_policies", {"RoleName": "{id}"}, "InlinePolicyNames", "PolicyNames", paginate=True),
        ),
        bulk_details=authorization_details("Role", "RoleDetailList", {
            "Tags": "Tags || `[]`", "AttachedManagedPolicies": "AttachedManagedPolicies || `[]`",
            "InlinePolicyNames": "RolePolicyList[].PolicyName || `[]`"}),
        volatile_paths=("RoleLastUsed", "RoleId"),
        list_keys={"AttachedManagedPolicies": ("PolicyArn",)},
        json_paths=("AssumeRolePolicyDocument",),
        relationships={"AttachedManagedPolicies[].PolicyArn": "AWS::IAM::ManagedPolicy"},
    ),
    _t(
        cfn_type="AWS::IAM::User",
        config_type="AWS::IAM::User",
        service="iam",
        description="IAM user with attached managed policies, groups and MFA devices.",
        list_operation="list_users",
        result_path="Users[]",
        id_field="UserName",
        arn_field="Arn",
        name_field="UserName",
        is_global=True,
        details=(
            Detail("list_user_tags", {"UserName": "{id}"}, "Tags", "Tags", paginate=True),
            Detail(
                "list_attached_user_policies",
                {"UserName": "{id}"},
                "AttachedManagedPolicies",
                "AttachedPolicies",
                paginate=True,
            ),
            Detail("list_groups_for_user", {"UserName": "{id}"}, "Groups", "Groups[].GroupName", paginate=True),
            Detail("list_mfa_devices", {"UserName": "{id}"}, "MFADevices", "MFADevices[].SerialNumber", paginate=True),
            # Console access: a login profile exists (its password is never readable).
            Detail("get_login_profile", {"UserName": "{id}"}, "LoginProfile", "LoginProfile",
                   absent_codes=("NoSuchEntity",)),
            # Key metadata only (id, status, creation date): secrets are never readable.
            Detail("list_access_keys", {"UserName": "{id}"}, "AccessKeys", "AccessKeyMetadata", paginate=True),
        ),
        bulk_details=authorization_details("User", "UserDetailList", {
            "Tags": "Tags || `[]`", "AttachedManagedPolicies": "AttachedManagedPolicies || `[]`",
            "Groups": "GroupList || `[]`"}),
        volatile_paths=("PasswordLastUsed", "UserId"),
        list_keys={"AttachedManagedPolicies": ("PolicyArn",), "AccessKeys": ("AccessKeyId",)},
        relationships={"AttachedManagedPolicies[].PolicyArn": "AWS::IAM::ManagedPolicy"},
    ),
    _t(
        cfn_type="AWS::IAM::ManagedPolicy",
        config_type="AWS::IAM::Policy",
        service="iam",
        description="Customer-managed IAM policy with its default version's document.",
        list_operation="list_policies",
        list_params={"Scope": "Local"},
        result_path="Policies[]",
        id_field="PolicyName",
        arn_field="Arn",
        name_field="PolicyName",
        is_global=True,
        details=(
            Detail(
                "get_policy_version",
                {"PolicyArn": "{Arn}", "VersionId": "{DefaultVersionId}"},
                "PolicyDocument",
                "PolicyVersion.Document",
            ),
            Detail("list_policy_tags", {"PolicyArn": "{Arn}"}, "Tags", "Tags", paginate=True),
        ),
        bulk_details=authorization_details("LocalManagedPolicy", "Policies", {
            "PolicyDocument": "PolicyVersionList[?IsDefaultVersion] | [0].Document"}),
        # A new default version with the same document is not a change; the document is.
        volatile_paths=("DefaultVersionId", "UpdateDate", "PolicyId", "AttachmentCount"),
        json_paths=("PolicyDocument",),
    ),
    _t(
        cfn_type="AWS::RDS::DBInstance",
        config_type="AWS::RDS::DBInstance",
        service="rds",
        description="RDS database instance.",
        list_operation="describe_db_instances",
        result_path="DBInstances[]",
        id_field="DBInstanceIdentifier",
        arn_field="DBInstanceArn",
        name_field="DBInstanceIdentifier",
        tags_field="TagList",
        volatile_paths=("LatestRestorableTime", "DbInstancePort", "DbiResourceId"),
        operational_paths=("DBInstanceStatus",),
        list_keys={
            "VpcSecurityGroups": ("VpcSecurityGroupId",),
            "DBSubnetGroup.Subnets": ("SubnetIdentifier",),
            "DBParameterGroups": ("DBParameterGroupName",),
            "OptionGroupMemberships": ("OptionGroupName",),
        },
        relationships={
            "VpcSecurityGroups[].VpcSecurityGroupId": "AWS::EC2::SecurityGroup",
            "KmsKeyId": "AWS::KMS::Key",
            "DBSubnetGroup.VpcId": "AWS::EC2::VPC",
        },
    ),
    _t(
        cfn_type="AWS::Lambda::Function",
        tagging_api_type="lambda:function",
        config_type="AWS::Lambda::Function",
        secret_paths=("Environment.Variables.*",),
        service="lambda",
        description="Lambda function configuration (not its code).",
        list_operation="list_functions",
        result_path="Functions[]",
        id_field="FunctionName",
        arn_field="FunctionArn",
        name_field="FunctionName",
        details=(
            Detail("list_tags", {"Resource": "{FunctionArn}"}, "Tags", "Tags"),
            Detail("get_function_url_config", {"FunctionName": "{FunctionArn}"}, "FunctionUrlConfig",
                   absent_codes=("ResourceNotFoundException",)),
            Detail("get_policy", {"FunctionName": "{FunctionArn}"}, "Policy", "Policy",
                   absent_codes=("ResourceNotFoundException",)),
        ),
        json_paths=("Policy",),
        volatile_paths=("LastModified", "RevisionId", "LastUpdateStatus", "LastUpdateStatusReason",
                        "FunctionUrlConfig.LastModifiedTime"),
        operational_paths=("State",),
        ordered_paths=("Layers",),
        relationships={
            "Role": "AWS::IAM::Role",
            "VpcConfig.SecurityGroupIds[]": "AWS::EC2::SecurityGroup",
            "VpcConfig.SubnetIds[]": "AWS::EC2::Subnet",
            "VpcConfig.VpcId": "AWS::EC2::VPC",
            "KMSKeyArn": "AWS::KMS::Key",
        },
    ),
    _t(
        cfn_type="AWS::DynamoDB::Table",
        tagging_api_type="dynamodb:table",
        config_type="AWS::DynamoDB::Table",
        service="dynamodb",
        description="DynamoDB table.",
        list_operation="list_tables",
        result_path="TableNames[]",
        id_field="TableName",
        arn_field="TableArn",
        name_field="TableName",
        details=(
            Detail("describe_table", {"TableName": "{id}"}, "", "Table"),
            Detail("list_tags_of_resource", {"ResourceArn": "{TableArn}"}, "Tags", "Tags"),
            Detail("describe_continuous_backups", {"TableName": "{id}"}, "PointInTimeRecovery",
                   "ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus"),
        ),
        volatile_paths=(
            "ItemCount",
            "TableSizeBytes",
            "ProvisionedThroughput.LastIncreaseDateTime",
            "ProvisionedThroughput.LastDecreaseDateTime",
            "ProvisionedThroughput.NumberOfDecreasesToday",
            "BillingModeSummary.LastUpdateToPayPerRequestDateTime",
            "GlobalSecondaryIndexes[].ItemCount",
            "GlobalSecondaryIndexes[].IndexSizeBytes",
        ),
        operational_paths=("TableStatus",),
        list_keys={
            "AttributeDefinitions": ("AttributeName",),
            "KeySchema": ("AttributeName",),
            "GlobalSecondaryIndexes": ("IndexName",),
            "LocalSecondaryIndexes": ("IndexName",),
        },
        relationships={"SSEDescription.KMSMasterKeyArn": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::SNS::Topic",
        tagging_api_type="sns",
        config_type="AWS::SNS::Topic",
        service="sns",
        description="SNS topic with its attributes and access policy.",
        list_operation="list_topics",
        result_path="Topics[]",
        id_field="TopicArn",
        arn_field="TopicArn",
        name_from_arn=True,
        details=(
            Detail("get_topic_attributes", {"TopicArn": "{TopicArn}"}, "Attributes", "Attributes"),
            Detail("list_tags_for_resource", {"ResourceArn": "{TopicArn}"}, "Tags", "Tags"),
        ),
        volatile_paths=(
            "Attributes.SubscriptionsConfirmed",
            "Attributes.SubscriptionsPending",
            "Attributes.SubscriptionsDeleted",
        ),
        json_paths=("Attributes.Policy", "Attributes.EffectiveDeliveryPolicy", "Attributes.DeliveryPolicy"),
        relationships={"Attributes.KmsMasterKeyId": "AWS::KMS::Key"},
        normalizer="sns_topic",
    ),
    _t(
        cfn_type="AWS::SQS::Queue",
        tagging_api_type="sqs",
        config_type="AWS::SQS::Queue",
        service="sqs",
        description="SQS queue with its attributes and access policy.",
        list_operation="list_queues",
        result_path="QueueUrls[]",
        id_field="QueueUrl",
        arn_field="Attributes.QueueArn",
        name_from_arn=True,
        details=(
            Detail(
                "get_queue_attributes",
                {"QueueUrl": "{id}", "AttributeNames": ["All"]},
                "Attributes",
                "Attributes",
            ),
            Detail("list_queue_tags", {"QueueUrl": "{id}"}, "Tags", "Tags"),
        ),
        volatile_paths=(
            "Attributes.ApproximateNumberOfMessages",
            "Attributes.ApproximateNumberOfMessagesNotVisible",
            "Attributes.ApproximateNumberOfMessagesDelayed",
            "Attributes.LastModifiedTimestamp",
        ),
        json_paths=("Attributes.Policy", "Attributes.RedrivePolicy", "Attributes.RedriveAllowPolicy"),
        relationships={"Attributes.KmsMasterKeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::KMS::Key",
        tagging_api_type="kms:key",
        config_type="AWS::KMS::Key",
        service="kms",
        description="KMS key with its rotation status (customer-managed keys).",
        list_operation="list_keys",
        result_path="Keys[]",
        id_field="KeyId",
        arn_field="Arn",
        name_field="Description",
        details=(
            Detail("describe_key", {"KeyId": "{id}"}, "", "KeyMetadata"),
            Detail(
                "get_key_rotation_status",
                {"KeyId": "{id}"},
                "KeyRotationEnabled",
                "KeyRotationEnabled",
                absent_codes=("UnsupportedOperationException", "AccessDeniedException"),
            ),
            Detail(
                "list_resource_tags",
                {"KeyId": "{id}"},
                "Tags",
                "Tags",
                absent_codes=("AccessDeniedException",),
            ),
        ),
        operational_paths=("KeyState", "Enabled", "DeletionDate"),
        normalizer="kms_key",
        tags_field="Tags",
    ),
)

# The first fifteen types are declared above; the families in core/types/ add the rest.
RESOURCE_TYPES: tuple[ResourceType, ...] = _CORE_TYPES + FAMILY_TYPES

REGISTRY: Mapping[str, ResourceType] = MappingProxyType({t.cfn_type: t for t in RESOURCE_TYPES})
if len(REGISTRY) != len(RESOURCE_TYPES):
    raise ValueError("a resource type is declared twice")

__all__ = ["REGISTRY", "RESOURCE_TYPES", "Detail", "ResourceType"]

GLOBAL_REGION = "global"

# The built-in tag policy (DESIGN §8) and the demo both use these keys.
DEFAULT_REQUIRED_TAGS = ("Environment", "Owner", "CostCenter")


def types_for_service(service: str) -> tuple[ResourceType, ...]:
    return tuple(t for t in RESOURCE_TYPES if t.service == service)


def services() -> tuple[str, ...]:
    """Service names in registry order, each once."""
    return tuple(dict.fromkeys(t.service for t in RESOURCE_TYPES))


def get_type(cfn_type: str) -> ResourceType:
    try:
        return REGISTRY[cfn_type]
    except KeyError:
        raise KeyError(f"unknown resource type {cfn_type!r}; known: {sorted(REGISTRY)}") from None

