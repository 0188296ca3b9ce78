"""Pairs of one resource as the direct APIs return it and as AWS Config records it.

The API side is what the collector stores (list item merged with its detail calls, timestamps as
ISO-8601 UTC); every key of it exists in botocore's output shapes (checked in test_config_mapping).
The Config side is shaped like real configuration items: advanced-query results with camelCase
`configuration` as the AWS Java SDK writes it (nulls and empty lists included, `ipRanges` beside
`ipv4Ranges`, `kmskeyArn`, `ssedescription`, `awsaccountId`), tags as `[{key, value, tag}]`, and
supplementary documents as JSON text (S3, Lambda's policy, KMS rotation, DynamoDB backups), following
the AWS Config resource schema (github.com/awslabs/aws-config-resource-schema) and AWS's documented
examples. `LISTED` is what each listing type's own list call returns (the fast path merges it).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
VPC = "vpc-0abc1234def567890"
SUBNET = "subnet-0a1b2c3d4e5f60718"
SG = "sg-0a1b2c3d4e5f67890"
APP_SG = "sg-0fedcba9876543210"
INSTANCE = "i-0123456789abcdef0"
VOLUME = "vol-0a1b2c3d4e5f60789"
ENI = "eni-0a1b2c3d4e5f60123"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/app-runtime"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-db"
TAGS = {"Environment": "prod", "Owner": "platform@example.com"}

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BUCKET_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::acme-logs", "arn:aws:s3:::acme-logs/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
FUNCTION_POLICY = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [
    {"Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
     "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN}]})
QUEUE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "sns", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
     "Resource": QUEUE_ARN}]})
REDRIVE = json.dumps({"deadLetterTargetArn": f"{QUEUE_ARN}-dlq", "maxReceiveCount": 5})


def api_tags(tags: dict[str, str] = TAGS) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def config_tags(tags: dict[str, str] = TAGS) -> list[dict[str, str]]:
    return [{"key": k, "value": v, "tag": f"{k}={v}"} for k, v in tags.items()]


def select_result(config_type: str, resource_id: str, configuration: dict[str, Any], *, arn: str | None,
                  name: str | None = None, region: str = REGION, supplementary: dict[str, Any] | None = None,
                  tags: dict[str, str] | None = TAGS) -> str:
    """One `select_resource_config` result: a JSON text, as the API returns it."""
    row: dict[str, Any] = {"resourceId": resource_id, "resourceName": name, "resourceType": config_type,
                           "configuration": configuration, "supplementaryConfiguration": supplementary or {},
                           "awsRegion": region, "arn": arn, "configurationItemStatus": "OK"}
    if tags is not None:
        row["tags"] = config_tags(tags)
    return json.dumps(row)


# --- EC2 -----------------------------------------------------------------------------------------------

SECURITY_GROUP_API = {
    "Description": "web tier", "GroupName": "web", "GroupId": SG, "OwnerId": ACCOUNT, "VpcId": VPC,
    "SecurityGroupArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{SG}",
    "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [],
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "public https"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
         "PrefixListIds": []},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [],
         "PrefixListIds": [{"PrefixListId": "pl-6da54004"}],
         "UserIdGroupPairs": [{"Description": "app", "GroupId": APP_SG, "UserId": ACCOUNT}]},
    ],
    "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                             "PrefixListIds": [], "UserIdGroupPairs": []}],
    "Tags": api_tags(dict(TAGS, Name="web-sg")),
}
SECURITY_GROUP_CONFIG = select_result("AWS::EC2::SecurityGroup", SG, {
    "description": "web tier", "groupName": "web",
    "ipPermissions": [
        {"fromPort": 443, "ipProtocol": "tcp", "ipv6Ranges": [{"cidrIpv6": "::/0"}], "prefixListIds": [],
         "toPort": 443, "userIdGroupPairs": [], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0", "description": "public https"}],
         "ipRanges": ["0.0.0.0/0"]},
        {"fromPort": 5432, "ipProtocol": "tcp", "ipv6Ranges": [], "prefixListIds": [{"prefixListId": "pl-6da54004"}],
         "toPort": 5432, "userIdGroupPairs": [{"description": "app", "groupId": APP_SG, "userId": ACCOUNT}],
         "ipv4Ranges": [], "ipRanges": []},
    ],
    "ownerId": ACCOUNT, "groupId": SG,
    "ipPermissionsEgress": [{"ipProtocol": "-1", "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": [],
                             "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"]}],
    "tags": [{"key": "Environment", "value": "prod"}, {"key": "Owner", "value": "platform@example.com"},
             {"key": "Name", "value": "web-sg"}],
    "vpcId": VPC,
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{SG}", name="web", tags=dict(TAGS, Name="web-sg"))

VPC_API = {
    "CidrBlock": "10.20.0.0/16", "DhcpOptionsId": "dopt-0123456789abcdef0", "State": "available", "VpcId": VPC,
    "OwnerId": ACCOUNT, "InstanceTenancy": "default",
    "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-0aa11bb22cc33dd44", "CidrBlock": "10.20.0.0/16",
                                 "CidrBlockState": {"State": "associated"}}],
    "IsDefault": False, "Tags": api_tags(dict(TAGS, Name="core")),
}
VPC_CONFIG = select_result("AWS::EC2::VPC", VPC, {
    "cidrBlock": "10.20.0.0/16", "dhcpOptionsId": "dopt-0123456789abcdef0", "state": "available", "vpcId": VPC,
    "ownerId": ACCOUNT, "instanceTenancy": "default", "ipv6CidrBlockAssociationSet": [],
    "cidrBlockAssociationSet": [{"associationId": "vpc-cidr-assoc-0aa11bb22cc33dd44", "cidrBlock": "10.20.0.0/16",
                                 "cidrBlockState": {"state": "associated", "statusMessage": None}}],
    "isDefault": False, "tags": [{"key": "Name", "value": "core"}],
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}", tags=dict(TAGS, Name="core"))

SUBNET_API = {
    "AvailabilityZone": "eu-west-1a", "AvailabilityZoneId": "euw1-az3", "AvailableIpAddressCount": 250,
    "CidrBlock": "10.20.1.0/24", "DefaultForAz": False, "MapPublicIpOnLaunch": False,
    "MapCustomerOwnedIpOnLaunch": False, "State": "available", "SubnetId": SUBNET, "VpcId": VPC, "OwnerId": ACCOUNT,
    "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
    "SubnetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{SUBNET}", "EnableDns64": False, "Ipv6Native": False,
    "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                      "EnableResourceNameDnsAAAARecord": False},
    "Tags": api_tags(dict(TAGS, Name="private-a")),
}
SUBNET_CONFIG = select_result("AWS::EC2::Subnet", SUBNET, {
    "availabilityZone": "eu-west-1a", "availabilityZoneId": "euw1-az3", "availableIpAddressCount": 250,
    "cidrBlock": "10.20.1.0/24", "defaultForAz": False, "mapPublicIpOnLaunch": False,
    "mapCustomerOwnedIpOnLaunch": False, "customerOwnedIpv4Pool": None, "state": "available", "subnetId": SUBNET,
    "vpcId": VPC, "ownerId": ACCOUNT, "assignIpv6AddressOnCreation": False, "ipv6CidrBlockAssociationSet": [],
    "tags": [], "subnetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{SUBNET}", "outpostArn": None,
    "enableDns64": False, "ipv6Native": False,
    "privateDnsNameOptionsOnLaunch": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False,
                                      "enableResourceNameDnsAAAARecord": False},
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{SUBNET}", tags=dict(TAGS, Name="private-a"))

VOLUME_API = {
    "Attachments": [{"AttachTime": "2025-03-01T10:00:05Z", "Device": "/dev/xvda", "InstanceId": INSTANCE,
                     "State": "attached", "VolumeId": VOLUME, "DeleteOnTermination": True}],
    "AvailabilityZone": "eu-west-1a", "CreateTime": "2025-03-01T10:00:00.412000Z", "Encrypted": True,
    "KmsKeyId": KEY_ARN, "Size": 8, "SnapshotId": "snap-0123456789abcdef0", "State": "in-use", "VolumeId": VOLUME,
    "Iops": 3000, "VolumeType": "gp3", "MultiAttachEnabled": False, "Throughput": 125,
    "Tags": api_tags(dict(TAGS, Name="web-root")),
}
VOLUME_CONFIG = select_result("AWS::EC2::Volume", VOLUME, {
    "attachments": [{"attachTime": "2025-03-01T10:00:05.000Z", "device": "/dev/xvda", "instanceId": INSTANCE,
                     "state": "attached", "volumeId": VOLUME, "deleteOnTermination": True}],
    "availabilityZone": "eu-west-1a", "createTime": "2025-03-01T10:00:00.412Z", "encrypted": True,
    "kmsKeyId": KEY_ARN, "outpostArn": None, "size": 8, "snapshotId": "snap-0123456789abcdef0", "state": "in-use",
    "volumeId": VOLUME, "iops": 3000, "tags": [], "volumeType": "gp3", "fastRestored": None,
    "multiAttachEnabled": False, "throughput": 125,
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{VOLUME}", tags=dict(TAGS, Name="web-root"))

# An unattached volume: the API still sends `Attachments: []`.
SPARE_VOLUME = "vol-0fedcba9876543210"
SPARE_VOLUME_API = {
    "Attachments": [], "AvailabilityZone": "eu-west-1b", "CreateTime": "2025-03-02T09:30:00Z", "Encrypted": False,
    "Size": 100, "SnapshotId": "", "State": "available", "VolumeId": SPARE_VOLUME, "Iops": 300, "VolumeType": "gp2",
    "MultiAttachEnabled": False, "Tags": api_tags(),
}
SPARE_VOLUME_CONFIG = select_result("AWS::EC2::Volume", SPARE_VOLUME, {
    "attachments": [], "availabilityZone": "eu-west-1b", "createTime": "2025-03-02T09:30:00.000Z", "encrypted": False,
    "kmsKeyId": None, "outpostArn": None, "size": 100, "snapshotId": "", "state": "available",
    "volumeId": SPARE_VOLUME, "iops": 300, "tags": [], "volumeType": "gp2", "fastRestored": None,
    "multiAttachEnabled": False, "throughput": None,
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{SPARE_VOLUME}")

_ASSOCIATION = {"IpOwnerId": "amazon", "PublicDnsName": "ec2-52-16-1-2.eu-west-1.compute.amazonaws.com",
                "PublicIp": "52.16.1.2"}
INSTANCE_API = {
    "AmiLaunchIndex": 0, "ImageId": "ami-0abcdef1234567890", "InstanceId": INSTANCE, "InstanceType": "t3.small",
    "KeyName": "ops", "LaunchTime": "2025-03-01T10:00:00Z", "Monitoring": {"State": "disabled"},
    "Placement": {"AvailabilityZone": "eu-west-1a", "GroupName": "", "Tenancy": "default"},
    "PrivateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal", "PrivateIpAddress": "10.20.1.15",
    "ProductCodes": [], "PublicDnsName": _ASSOCIATION["PublicDnsName"], "PublicIpAddress": "52.16.1.2",
    "State": {"Code": 16, "Name": "running"}, "StateTransitionReason": "", "SubnetId": SUBNET, "VpcId": VPC,
    "Architecture": "x86_64",
    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
        "AttachTime": "2025-03-01T10:00:05Z", "DeleteOnTermination": True, "Status": "attached", "VolumeId": VOLUME}}],
    "ClientToken": "terraform-20250301100000", "EbsOptimized": True, "EnaSupport": True, "Hypervisor": "xen",
    "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/web", "Id": "AIPAJQABLZS4A3QDU576Q"},
    "NetworkInterfaces": [{
        "Association": _ASSOCIATION,
        "Attachment": {"AttachTime": "2025-03-01T10:00:00Z", "AttachmentId": "eni-attach-0a1b2c3d4e5f60123",
                       "DeleteOnTermination": True, "DeviceIndex": 0, "Status": "attached", "NetworkCardIndex": 0},
        "Description": "", "Groups": [{"GroupName": "web", "GroupId": SG}], "Ipv6Addresses": [],
        "MacAddress": "06:1f:3c:5a:7e:91", "NetworkInterfaceId": ENI, "OwnerId": ACCOUNT,
        "PrivateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal", "PrivateIpAddress": "10.20.1.15",
        "PrivateIpAddresses": [{"Association": _ASSOCIATION, "Primary": True,
                                "PrivateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal",
                                "PrivateIpAddress": "10.20.1.15"}],
        "SourceDestCheck": True, "Status": "in-use", "SubnetId": SUBNET, "VpcId": VPC, "InterfaceType": "interface"}],
    "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs", "SecurityGroups": [{"GroupName": "web", "GroupId": SG}],
    "SourceDestCheck": True, "VirtualizationType": "hvm", "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
    "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
    "HibernationOptions": {"Configured": False},
    "MetadataOptions": {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                        "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"},
    "EnclaveOptions": {"Enabled": False}, "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances",
    "UsageOperationUpdateTime": "2025-03-01T10:00:00Z",
    "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                              "EnableResourceNameDnsAAAARecord": False},
    "MaintenanceOptions": {"AutoRecovery": "default"}, "CurrentInstanceBootMode": "legacy-bios",
    "Tags": api_tags(dict(TAGS, Name="web-1")),
}
_config_association = {"ipOwnerId": "amazon", "publicDnsName": _ASSOCIATION["PublicDnsName"], "publicIp": "52.16.1.2",
                       "carrierIp": None, "customerOwnedIp": None}
INSTANCE_CONFIG = select_result("AWS::EC2::Instance", INSTANCE, {
    "amiLaunchIndex": 0, "imageId": "ami-0abcdef1234567890", "instanceId": INSTANCE, "instanceType": "t3.small",
    "kernelId": None, "keyName": "ops", "launchTime": "2025-03-01T10:00:00.000Z", "monitoring": {"state": "disabled"},
    "placement": {"availabilityZone": "eu-west-1a", "affinity": None, "groupName": "", "partitionNumber": None,
                  "hostId": None, "tenancy": "default", "spreadDomain": None, "hostResourceGroupArn": None},
    "platform": None, "privateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal", "privateIpAddress": "10.20.1.15",
    "productCodes": [], "publicDnsName": _ASSOCIATION["PublicDnsName"], "publicIpAddress": "52.16.1.2",
    "ramdiskId": None, "state": {"code": 16, "name": "running"}, "stateTransitionReason": "", "subnetId": SUBNET,
    "vpcId": VPC, "architecture": "x86_64",
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
        "attachTime": "2025-03-01T10:00:05.000Z", "deleteOnTermination": True, "status": "attached",
        "volumeId": VOLUME}}],
    "clientToken": "terraform-20250301100000", "ebsOptimized": True, "enaSupport": True, "hypervisor": "xen",
    "iamInstanceProfile": {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/web", "id": "AIPAJQABLZS4A3QDU576Q"},
    "instanceLifecycle": None, "elasticGpuAssociations": [], "elasticInferenceAcceleratorAssociations": [],
    "networkInterfaces": [{
        "association": _config_association,
        "attachment": {"attachTime": "2025-03-01T10:00:00.000Z", "attachmentId": "eni-attach-0a1b2c3d4e5f60123",
                       "deleteOnTermination": True, "deviceIndex": 0, "status": "attached", "networkCardIndex": 0},
        "description": "", "groups": [{"groupName": "web", "groupId": SG}], "ipv6Addresses": [],
        "macAddress": "06:1f:3c:5a:7e:91", "networkInterfaceId": ENI, "ownerId": ACCOUNT,
        "privateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal", "privateIpAddress": "10.20.1.15",
        "privateIpAddresses": [{"association": _config_association, "primary": True,
                                "privateDnsName": "ip-10-20-1-15.eu-west-1.compute.internal",
                                "privateIpAddress": "10.20.1.15"}],
        "sourceDestCheck": True, "status": "in-use", "subnetId": SUBNET, "vpcId": VPC, "interfaceType": "interface",
        "ipv4Prefixes": [], "ipv6Prefixes": []}],
    "outpostArn": None, "rootDeviceName": "/dev/xvda", "rootDeviceType": "ebs",
    "securityGroups": [{"groupName": "web", "groupId": SG}], "sourceDestCheck": True, "spotInstanceRequestId": None,
    "sriovNetSupport": None, "stateReason": None, "tags": [], "virtualizationType": "hvm",
    "cpuOptions": {"coreCount": 1, "threadsPerCore": 2}, "capacityReservationId": None,
    "capacityReservationSpecification": {"capacityReservationPreference": "open", "capacityReservationTarget": None},
    "hibernationOptions": {"configured": False}, "licenses": [],
    "metadataOptions": {"state": "applied", "httpTokens": "required", "httpPutResponseHopLimit": 2,
                        "httpEndpoint": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
    "enclaveOptions": {"enabled": False}, "bootMode": None, "platformDetails": "Linux/UNIX",
    "usageOperation": "RunInstances", "usageOperationUpdateTime": "2025-03-01T10:00:00.000Z",
    "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False,
                              "enableResourceNameDnsAAAARecord": False},
    "ipv6Address": None, "tpmSupport": None, "maintenanceOptions": {"autoRecovery": "default"},
    "currentInstanceBootMode": "legacy-bios",
}, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{INSTANCE}", tags=dict(TAGS, Name="web-1"))

# --- S3, IAM, Lambda -------------------------------------------------------------------------------------

BUCKET_API = {
    "Name": "acme-logs", "CreationDate": "2024-06-01T08:00:00Z", "Location": REGION,
    "PublicAccessBlock": {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                          "RestrictPublicBuckets": True},
    "Encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                                      "KMSMasterKeyID": KEY_ARN},
                              "BucketKeyEnabled": True}]},
    "Versioning": {"Status": "Enabled", "MFADelete": "Disabled"},
    "PolicyStatus": {"IsPublic": False},
    "Policy": BUCKET_POLICY,
    "Tags": api_tags(),
}
BUCKET_CONFIG = select_result("AWS::S3::Bucket", "acme-logs", {
    "name": "acme-logs",
    "owner": {"displayName": None, "id": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
    "creationDate": "2024-06-01T08:00:00.000Z",
}, arn="arn:aws:s3:::acme-logs", name="acme-logs", supplementary={
    "AccessControlList": json.dumps(json.dumps({"grantSet": None, "grantList": [], "owner": {"displayName": None,
                                                                                             "id": "79a59df9"},
                                                "isRequesterCharged": False})),
    "BucketAccelerateConfiguration": json.dumps({"status": None}),
    "BucketLoggingConfiguration": json.dumps({"destinationBucketName": None, "logFilePrefix": None}),
    "BucketNotificationConfiguration": json.dumps({"configurations": {}}),
    "BucketPolicy": json.dumps({"policyText": BUCKET_POLICY}),
    "BucketVersioningConfiguration": json.dumps({"status": "Enabled", "isMfaDeleteEnabled": False}),
    "IsRequesterPaysEnabled": "false",
    "PublicAccessBlockConfiguration": json.dumps({"blockPublicAcls": True, "ignorePublicAcls": True,
                                                  "blockPublicPolicy": True, "restrictPublicBuckets": True}),
    "ServerSideEncryptionConfiguration": json.dumps({"rules": [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyID": KEY_ARN}, "bucketKeyEnabled": True}]}),
    "BucketTaggingConfiguration": json.dumps({"tagSets": [{"tags": TAGS}]}),
})

ROLE_API = {
    "Path": "/service-role/", "RoleName": "app-runtime", "RoleId": "AROAJ52OTH4H7LEXAMPLE", "Arn": ROLE_ARN,
    "CreateDate": "2024-01-10T09:00:00Z", "AssumeRolePolicyDocument": TRUST, "Description": "runtime role",
    "MaxSessionDuration": 3600, "Tags": api_tags(),
    "AttachedManagedPolicies": [{"PolicyName": "ReadOnlyAccess",
                                 "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    "InlinePolicyNames": ["s3-write"],
}
ROLE_CONFIG = select_result("AWS::IAM::Role", "AROAJ52OTH4H7LEXAMPLE", {
    "path": "/service-role/", "roleName": "app-runtime", "roleId": "AROAJ52OTH4H7LEXAMPLE", "arn": ROLE_ARN,
    "createDate": "2024-01-10T09:00:00.000Z",
    "assumeRolePolicyDocument": urllib.parse.quote(json.dumps(TRUST)),
    "instanceProfileList": [], "rolePolicyList": [{"policyName": "s3-write", "policyDocument": urllib.parse.quote(
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                            "Resource": "*"}]}))}],
    "attachedManagedPolicies": [{"policyName": "ReadOnlyAccess",
                                 "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    "permissionsBoundary": None, "tags": [{"key": "Environment", "value": "prod"}],
    "roleLastUsed": {"lastUsedDate": "2025-03-02T11:00:00.000Z", "region": REGION},
}, arn=ROLE_ARN, name="app-runtime", region="global")

FUNCTION_API = {
    "FunctionName": "billing", "FunctionArn": FUNCTION_ARN, "Runtime": "python3.12", "Role": ROLE_ARN,
    "Handler": "app.handler", "CodeSize": 10240, "Description": "", "Timeout": 30, "MemorySize": 256,
    "LastModified": "2025-02-01T12:00:00.000+0000", "CodeSha256": "wsmdV/LrWAFZNocne6nJ7bY+tw6SvYDIDFkEXcmD2+E=",
    "Version": "$LATEST",
    "VpcConfig": {"SubnetIds": [SUBNET], "SecurityGroupIds": [APP_SG], "VpcId": VPC},
    "Environment": {"Variables": {"DB_PASSWORD": "hunter2", "STAGE": "prod"}}, "KMSKeyArn": KEY_ARN,
    "TracingConfig": {"Mode": "Active"}, "RevisionId": "4f2b5a8c-3c1e-4d9b-8f6a-2b7c1d0e9f8a", "State": "Active",
    "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": ["arm64"],
    "EphemeralStorage": {"Size": 512}, "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
    "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/billing"},
    "Tags": dict(TAGS),
    "FunctionUrlConfig": {"FunctionUrl": "https://abcdefghijklmnopqrstuvwx.lambda-url.eu-west-1.on.aws/",
                          "FunctionArn": FUNCTION_ARN, "AuthType": "AWS_IAM",
                          "CreationTime": "2025-02-01T12:00:00.000Z", "LastModifiedTime": "2025-02-01T12:00:00.000Z",
                          "InvokeMode": "BUFFERED"},
    "Policy": FUNCTION_POLICY,
}
FUNCTION_CONFIG = select_result("AWS::Lambda::Function", "billing", {
    "functionName": "billing", "functionArn": FUNCTION_ARN, "runtime": "python3.12", "role": ROLE_ARN,
    "handler": "app.handler", "codeSize": 10240, "description": "", "timeout": 30, "memorySize": 256,
    "lastModified": "2025-02-01T12:00:00.000+0000", "codeSha256": "wsmdV/LrWAFZNocne6nJ7bY+tw6SvYDIDFkEXcmD2+E=",
    "version": "$LATEST", "vpcConfig": {"subnetIds": [SUBNET], "securityGroupIds": [APP_SG], "vpcId": VPC},
    "deadLetterConfig": None, "environment": {"variables": {"DB_PASSWORD": "hunter2", "STAGE": "prod"}, "error": None},
    "kmskeyArn": KEY_ARN, "tracingConfig": {"mode": "Active"}, "masterArn": None,
    "revisionId": "4f2b5a8c-3c1e-4d9b-8f6a-2b7c1d0e9f8a", "layers": [], "state": {"value": "Active"},
    "stateReason": None, "stateReasonCode": None, "lastUpdateStatus": "Successful", "lastUpdateStatusReason": None,
    "lastUpdateStatusReasonCode": None, "fileSystemConfigs": [], "packageType": "Zip", "imageConfigResponse": None,
    "signingProfileVersionArn": None, "signingJobArn": None, "architectures": ["arm64"],
    "ephemeralStorage": {"size": 512}, "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
    "loggingConfig": {"logFormat": "Text", "logGroup": "/aws/lambda/billing"},
}, arn=FUNCTION_ARN, name="billing", supplementary={"Policy": FUNCTION_POLICY})

# --- RDS, DynamoDB, SQS, KMS -------------------------------------------------------------------------------

DB_API = {
    "DBInstanceIdentifier": "orders-db", "DBInstanceClass": "db.t3.medium", "Engine": "postgres",
    "DBInstanceStatus": "available", "MasterUsername": "orders", "DBName": "orders",
    "Endpoint": {"Address": "orders-db.c9akciq32.eu-west-1.rds.amazonaws.com", "Port": 5432,
                 "HostedZoneId": "Z29XKXDKYMONMX"},
    "AllocatedStorage": 100, "InstanceCreateTime": "2024-05-01T07:00:00.120000Z",
    "PreferredBackupWindow": "02:00-02:30",
    "BackupRetentionPeriod": 7, "DBSecurityGroups": [],
    "VpcSecurityGroups": [{"VpcSecurityGroupId": APP_SG, "Status": "active"}],
    "DBParameterGroups": [{"DBParameterGroupName": "default.postgres16", "ParameterApplyStatus": "in-sync"}],
    "AvailabilityZone": "eu-west-1a",
    "DBSubnetGroup": {"DBSubnetGroupName": "data", "DBSubnetGroupDescription": "data subnets", "VpcId": VPC,
                      "SubnetGroupStatus": "Complete", "Subnets": [
                          {"SubnetIdentifier": SUBNET, "SubnetAvailabilityZone": {"Name": "eu-west-1a"},
                           "SubnetOutpost": {}, "SubnetStatus": "Active"}]},
    "PreferredMaintenanceWindow": "sun:03:00-sun:03:30", "PendingModifiedValues": {},
    "LatestRestorableTime": "2025-03-02T11:55:00Z", "MultiAZ": True, "EngineVersion": "16.3",
    "AutoMinorVersionUpgrade": True, "ReadReplicaDBInstanceIdentifiers": [], "ReadReplicaDBClusterIdentifiers": [],
    "LicenseModel": "postgresql-license",
    "OptionGroupMemberships": [{"OptionGroupName": "default:postgres-16", "Status": "in-sync"}],
    "PubliclyAccessible": False, "StorageType": "gp3", "DbInstancePort": 0, "StorageEncrypted": True,
    "KmsKeyId": KEY_ARN, "DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
    "CACertificateIdentifier": "rds-ca-rsa2048-g1",
    "DomainMemberships": [], "CopyTagsToSnapshot": True, "MonitoringInterval": 0, "DBInstanceArn": DB_ARN,
    "IAMDatabaseAuthenticationEnabled": True, "PerformanceInsightsEnabled": False, "DeletionProtection": True,
    "AssociatedRoles": [], "MaxAllocatedStorage": 500, "TagList": api_tags(),
    "CustomerOwnedIpEnabled": False, "BackupTarget": "region", "NetworkType": "IPV4", "StorageThroughput": 125,
    "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": "2026-05-01T07:00:00Z"},
    "DedicatedLogVolume": False, "IsStorageConfigUpgradeAvailable": False,
    "EngineLifecycleSupport": "open-source-rds-extended-support",
}
DB_CONFIG = select_result("AWS::RDS::DBInstance", "db-ABCDEFGHIJKLMNOPQRSTUVWXY1", {
    "dBInstanceIdentifier": "orders-db", "dBInstanceClass": "db.t3.medium", "engine": "postgres",
    "dBInstanceStatus": "available", "masterUsername": "orders", "dBName": "orders",
    "endpoint": {"address": "orders-db.c9akciq32.eu-west-1.rds.amazonaws.com", "port": 5432,
                 "hostedZoneId": "Z29XKXDKYMONMX"},
    "allocatedStorage": 100, "instanceCreateTime": "2024-05-01T07:00:00.120Z", "preferredBackupWindow": "02:00-02:30",
    "backupRetentionPeriod": 7, "dBSecurityGroups": [],
    "vpcSecurityGroups": [{"vpcSecurityGroupId": APP_SG, "status": "active"}],
    "dBParameterGroups": [{"dBParameterGroupName": "default.postgres16", "parameterApplyStatus": "in-sync"}],
    "availabilityZone": "eu-west-1a",
    "dBSubnetGroup": {"dBSubnetGroupName": "data", "dBSubnetGroupDescription": "data subnets", "vpcId": VPC,
                      "subnetGroupStatus": "Complete", "subnets": [
                          {"subnetIdentifier": SUBNET, "subnetAvailabilityZone": {"name": "eu-west-1a"},
                           "subnetOutpost": {"arn": None}, "subnetStatus": "Active"}],
                      "dBSubnetGroupArn": None},
    "preferredMaintenanceWindow": "sun:03:00-sun:03:30",
    "pendingModifiedValues": {"dBInstanceClass": None, "allocatedStorage": None, "masterUserPassword": None,
                              "port": None, "backupRetentionPeriod": None, "multiAZ": None, "engineVersion": None,
                              "licenseModel": None, "iops": None, "dBInstanceIdentifier": None, "storageType": None,
                              "cACertificateIdentifier": None, "dBSubnetGroupName": None,
                              "pendingCloudwatchLogsExports": None, "processorFeatures": []},
    "latestRestorableTime": "2025-03-02T11:55:00.000Z", "multiAZ": True, "engineVersion": "16.3",
    "autoMinorVersionUpgrade": True, "readReplicaSourceDBInstanceIdentifier": None,
    "readReplicaDBInstanceIdentifiers": [], "readReplicaDBClusterIdentifiers": [], "licenseModel": "postgresql-license",
    "iops": None, "optionGroupMemberships": [{"optionGroupName": "default:postgres-16", "status": "in-sync"}],
    "characterSetName": None, "secondaryAvailabilityZone": None, "publiclyAccessible": False, "statusInfos": [],
    "storageType": "gp3", "tdeCredentialArn": None, "dbInstancePort": 0, "dBClusterIdentifier": None,
    "storageEncrypted": True, "kmsKeyId": KEY_ARN, "dbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
    "cACertificateIdentifier": "rds-ca-rsa2048-g1", "domainMemberships": [], "copyTagsToSnapshot": True,
    "monitoringInterval": 0, "enhancedMonitoringResourceArn": None, "monitoringRoleArn": None, "promotionTier": None,
    "dBInstanceArn": DB_ARN, "timezone": None, "iAMDatabaseAuthenticationEnabled": True,
    "performanceInsightsEnabled": False, "performanceInsightsKMSKeyId": None,
    "performanceInsightsRetentionPeriod": None, "enabledCloudwatchLogsExports": [], "processorFeatures": [],
    "deletionProtection": True, "associatedRoles": [], "listenerEndpoint": None, "maxAllocatedStorage": 500,
    "tagList": [{"key": "Environment", "value": "prod"}], "customerOwnedIpEnabled": False, "backupTarget": "region",
    "networkType": "IPV4", "storageThroughput": 125,
    "certificateDetails": {"cAIdentifier": "rds-ca-rsa2048-g1", "validTill": "2026-05-01T07:00:00.000Z"},
    "dedicatedLogVolume": False, "isStorageConfigUpgradeAvailable": False,
    "engineLifecycleSupport": "open-source-rds-extended-support",
}, arn=DB_ARN, name="orders-db")

TABLE_API = {
    "TableName": "orders",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                             {"AttributeName": "sk", "AttributeType": "S"},
                             {"AttributeName": "customer", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "TableStatus": "ACTIVE", "CreationDateTime": "2024-04-01T06:00:00.250000Z",
    "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
    "TableSizeBytes": 1048576, "ItemCount": 5120, "TableArn": TABLE_ARN,
    "TableId": "6f2c2a8e-7b9d-4c3e-a1f0-5d6e7f8a9b0c",
    "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST",
                           "LastUpdateToPayPerRequestDateTime": "2024-04-01T06:00:00.250000Z"},
    "GlobalSecondaryIndexes": [{
        "IndexName": "by-customer", "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}, "IndexStatus": "ACTIVE",
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        "IndexSizeBytes": 524288, "ItemCount": 5120, "IndexArn": f"{TABLE_ARN}/index/by-customer"}],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    "LatestStreamLabel": "2024-04-01T06:00:00.250", "LatestStreamArn": f"{TABLE_ARN}/stream/2024-04-01T06:00:00.250",
    "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": KEY_ARN},
    "DeletionProtectionEnabled": True,
    "Tags": api_tags(), "PointInTimeRecovery": "ENABLED",
}
TABLE_CONFIG = select_result("AWS::DynamoDB::Table", "orders", {
    "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"},
                             {"attributeName": "sk", "attributeType": "S"},
                             {"attributeName": "customer", "attributeType": "S"}],
    "tableName": "orders",
    "keySchema": [{"attributeName": "pk", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}],
    "tableStatus": "ACTIVE", "creationDateTime": "2024-04-01T06:00:00.250Z",
    "provisionedThroughput": {"lastIncreaseDateTime": None, "lastDecreaseDateTime": None, "numberOfDecreasesToday": 0,
                              "readCapacityUnits": 0, "writeCapacityUnits": 0},
    "tableSizeBytes": 1048576, "itemCount": 5120, "tableArn": TABLE_ARN,
    "tableId": "6f2c2a8e-7b9d-4c3e-a1f0-5d6e7f8a9b0c",
    "billingModeSummary": {"billingMode": "PAY_PER_REQUEST",
                           "lastUpdateToPayPerRequestDateTime": "2024-04-01T06:00:00.250Z"},
    "localSecondaryIndexes": [],
    "globalSecondaryIndexes": [{
        "indexName": "by-customer", "keySchema": [{"attributeName": "customer", "keyType": "HASH"}],
        "projection": {"projectionType": "ALL", "nonKeyAttributes": []}, "indexStatus": "ACTIVE", "backfilling": None,
        "provisionedThroughput": {"lastIncreaseDateTime": None, "lastDecreaseDateTime": None,
                                  "numberOfDecreasesToday": 0, "readCapacityUnits": 0, "writeCapacityUnits": 0},
        "indexSizeBytes": 524288, "itemCount": 5120, "indexArn": f"{TABLE_ARN}/index/by-customer"}],
    "streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"},
    "latestStreamLabel": "2024-04-01T06:00:00.250", "latestStreamArn": f"{TABLE_ARN}/stream/2024-04-01T06:00:00.250",
    "globalTableVersion": None, "replicas": [], "restoreSummary": None,
    "ssedescription": {"status": "ENABLED", "ssetype": "KMS", "kmsmasterKeyArn": KEY_ARN,
                       "inaccessibleEncryptionDateTime": None},
    "archivalSummary": None, "tableClassSummary": None, "deletionProtectionEnabled": True,
}, arn=TABLE_ARN, name="orders", supplementary={"ContinuousBackupsDescription": json.dumps({
    "continuousBackupsStatus": "ENABLED", "pointInTimeRecoveryDescription": {
        "pointInTimeRecoveryStatus": "ENABLED", "earliestRestorableDateTime": "2025-02-01T00:00:00.000Z",
        "latestRestorableDateTime": "2025-03-02T11:55:00.000Z"}})})

QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"
QUEUE_API = {
    "QueueUrl": QUEUE_URL,
    "Attributes": {
        "QueueArn": QUEUE_ARN, "ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0", "CreatedTimestamp": "1714550400",
        "LastModifiedTimestamp": "1714554000", "VisibilityTimeout": "60", "MaximumMessageSize": "262144",
        "MessageRetentionPeriod": "1209600", "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "20",
        "Policy": QUEUE_POLICY, "RedrivePolicy": REDRIVE, "SqsManagedSseEnabled": "true"},
    "Tags": dict(TAGS),
}
QUEUE_CONFIG = select_result("AWS::SQS::Queue", QUEUE_URL, {
    "QueueUrl": QUEUE_URL, "QueueName": "orders", "QueueArn": QUEUE_ARN, "CreatedTimestamp": "2024-05-01T08:00:00Z",
    "LastModifiedTimestamp": "1714554000", "VisibilityTimeout": 60, "MaximumMessageSize": 262144,
    "MessageRetentionPeriod": "1209600", "DelaySeconds": 0, "ReceiveMessageWaitTimeSeconds": "20",
    "Policy": QUEUE_POLICY, "RedrivePolicy": json.loads(REDRIVE), "SqsManagedSseEnabled": True,
}, arn=QUEUE_ARN, name="orders")

KEY_API = {
    "KeyId": KEY_ID, "KeyArn": KEY_ARN, "AWSAccountId": ACCOUNT, "Arn": KEY_ARN,
    "CreationDate": "2024-02-01T10:00:00.500000Z", "Enabled": True, "Description": "data key",
    "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
    "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
    "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False, "KeyRotationEnabled": True,
    "Tags": [{"TagKey": k, "TagValue": v} for k, v in TAGS.items()],
}
KEY_CONFIG = select_result("AWS::KMS::Key", KEY_ID, {
    "keyId": KEY_ID, "arn": KEY_ARN, "awsaccountId": ACCOUNT, "creationDate": "2024-02-01T10:00:00.500Z",
    "enabled": True, "description": "data key", "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled",
    "deletionDate": None, "validTo": None, "origin": "AWS_KMS", "customKeyStoreId": None, "cloudHsmClusterId": None,
    "expirationModel": None, "keyManager": "CUSTOMER", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
    "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "signingAlgorithms": [],
    "macAlgorithms": [], "multiRegion": False, "multiRegionConfiguration": None, "pendingDeletionWindowInDays": None,
}, arn=KEY_ARN, supplementary={"KeyRotationStatus": "true"})

# (registry type, the collector's stored payload, the Config item)
PAIRS: list[tuple[str, dict[str, Any], str]] = [
    ("AWS::EC2::SecurityGroup", SECURITY_GROUP_API, SECURITY_GROUP_CONFIG),
    ("AWS::EC2::VPC", VPC_API, VPC_CONFIG),
    ("AWS::EC2::Subnet", SUBNET_API, SUBNET_CONFIG),
    ("AWS::EC2::Volume", VOLUME_API, VOLUME_CONFIG),
    ("AWS::EC2::Volume", SPARE_VOLUME_API, SPARE_VOLUME_CONFIG),
    ("AWS::EC2::Instance", INSTANCE_API, INSTANCE_CONFIG),
    ("AWS::S3::Bucket", BUCKET_API, BUCKET_CONFIG),
    ("AWS::IAM::Role", ROLE_API, ROLE_CONFIG),
    ("AWS::Lambda::Function", FUNCTION_API, FUNCTION_CONFIG),
    ("AWS::RDS::DBInstance", DB_API, DB_CONFIG),
    ("AWS::DynamoDB::Table", TABLE_API, TABLE_CONFIG),
    ("AWS::SQS::Queue", QUEUE_API, QUEUE_CONFIG),
    ("AWS::KMS::Key", KEY_API, KEY_CONFIG),
]

# What each listing type's own list call returns for the resource (the fast path merges it, its fields win).
LISTED: dict[str, dict[str, Any]] = {
    "AWS::S3::Bucket": {"Name": "acme-logs", "CreationDate": "2024-06-01T08:00:00Z"},
    "AWS::IAM::Role": {k: ROLE_API[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate",
                                                "AssumeRolePolicyDocument", "Description", "MaxSessionDuration")},
    "AWS::Lambda::Function": {k: v for k, v in FUNCTION_API.items()
                              if k not in ("Tags", "FunctionUrlConfig", "Policy")},
    "AWS::KMS::Key": {"KeyId": KEY_ID, "KeyArn": KEY_ARN},
}
