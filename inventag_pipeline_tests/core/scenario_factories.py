"""Raw payload builders shaped like what the collector stores, for the labelled delta scenario.

Each builder returns the merged payload the collector produces for one resource (the list item plus
the registry's detail calls, `absent_codes` stored as None), so the scenario goes through the real
`canonical_record` path. `Scenario` holds a day-1 and a day-2 estate keyed by a short label; day 2
starts as a deep copy of day 1 and the test applies its labelled changes to the copy.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.canonical import CanonicalRecord
from inventag_pipeline_tests.core.factories import ACCOUNT, US, record, table, tag_list

Payload = dict[str, Any]


def digits(text: str, width: int) -> str:
    """A stable fake numeric id derived from a name (Python's own `hash` is salted per process)."""
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**width).zfill(width)


def ts(text: str) -> dt.datetime:
    """A timezone-aware datetime, as boto3 returns timestamps."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- policies -----------------------------------------------------------------------------------


def statement(effect: str, action: str | Sequence[str], resource: str | Sequence[str] | None = None, *,
              sid: str | None = None, principal: Any = None, condition: Mapping[str, Any] | None = None,
              ) -> Payload:
    out: Payload = {}
    if sid is not None:
        out["Sid"] = sid
    out["Effect"] = effect
    if principal is not None:
        out["Principal"] = principal
    out["Action"] = action if isinstance(action, str) else list(action)
    if resource is not None:
        out["Resource"] = resource if isinstance(resource, str) else list(resource)
    if condition is not None:
        out["Condition"] = dict(condition)
    return out


def policy(*statements: Payload, policy_id: str | None = None) -> Payload:
    doc: Payload = {"Version": "2012-10-17"}
    if policy_id:
        doc["Id"] = policy_id
    doc["Statement"] = list(statements)
    return doc


def url_encoded(document: Mapping[str, Any]) -> str:
    """How IAM's raw API returns a policy document: URL-encoded JSON."""
    return urllib.parse.quote(json.dumps(document), safe="")


# --- EC2 ----------------------------------------------------------------------------------------


def ip_permission(proto: str, from_port: int | None, to_port: int | None, *,
                  cidrs: Sequence[tuple[str, str | None]] = (), ipv6: Sequence[tuple[str, str | None]] = (),
                  groups: Sequence[tuple[str, str | None]] = ()) -> Payload:
    """One raw `IpPermission` as DescribeSecurityGroups returns it (several sources per entry)."""
    perm: Payload = {"IpProtocol": proto}
    if from_port is not None:
        perm["FromPort"] = from_port
        perm["ToPort"] = to_port
    perm["IpRanges"] = [{"CidrIp": c, **({"Description": d} if d else {})} for c, d in cidrs]
    perm["Ipv6Ranges"] = [{"CidrIpv6": c, **({"Description": d} if d else {})} for c, d in ipv6]
    perm["PrefixListIds"] = []
    perm["UserIdGroupPairs"] = [
        {"GroupId": g, "UserId": ACCOUNT, **({"Description": d} if d else {})} for g, d in groups
    ]
    return perm


ALL_EGRESS = ip_permission("-1", None, None, cidrs=[("0.0.0.0/0", None)])


def security_group(group_id: str, name: str, *, vpc: str, ingress: Sequence[Payload] = (),
                   egress: Sequence[Payload] = (ALL_EGRESS,), description: str | None = None,
                   tags: Mapping[str, str] | None = None) -> Payload:
    return {
        "Description": description or f"{name} security group",
        "GroupName": name,
        "IpPermissions": copy.deepcopy(list(ingress)),
        "OwnerId": ACCOUNT,
        "GroupId": group_id,
        "IpPermissionsEgress": copy.deepcopy(list(egress)),
        "Tags": tag_list({"Name": name, **(tags or {})}),
        "VpcId": vpc,
    }


def ec2_instance(instance_id: str, name: str, *, instance_type: str, private_ip: str, subnet: str, vpc: str,
                 security_groups: Sequence[tuple[str, str]], eni_id: str, root_volume: str,
                 public_ip: str | None = None, state: str = "running", image_id: str = "ami-0abcdef1234567890",
                 launch_time: str = "2024-04-01T08:00:00Z", tags: Mapping[str, str] | None = None) -> Payload:
    """A DescribeInstances `Reservations[].Instances[]` item."""
    private_dns = f"ip-{private_ip.replace('.', '-')}.ec2.internal"
    public_dns = f"ec2-{public_ip.replace('.', '-')}.compute-1.amazonaws.com" if public_ip else ""
    association = ({"IpOwnerId": "amazon", "PublicDnsName": public_dns, "PublicIp": public_ip}
                   if public_ip else None)
    groups = [{"GroupName": n, "GroupId": g} for g, n in security_groups]
    state_code = {"running": 16, "stopped": 80, "stopping": 64, "pending": 0}[state]
    payload: Payload = {
        "AmiLaunchIndex": 0,
        "ImageId": image_id,
        "InstanceId": instance_id,
        "InstanceType": instance_type,
        "KeyName": "ops-2023",
        "LaunchTime": ts(launch_time),
        "Monitoring": {"State": "disabled"},
        "Placement": {"AvailabilityZone": "us-east-1a", "GroupName": "", "Tenancy": "default"},
        "PrivateDnsName": private_dns,
        "PrivateIpAddress": private_ip,
        "ProductCodes": [],
        "PublicDnsName": public_dns,
        "State": {"Code": state_code, "Name": state},
        "StateTransitionReason": "" if state == "running" else "User initiated (2024-05-01 18:00:00 GMT)",
        "SubnetId": subnet,
        "VpcId": vpc,
        "Architecture": "x86_64",
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"AttachTime": ts(launch_time), "DeleteOnTermination": True,
                                                "Status": "attached", "VolumeId": root_volume}},
        ],
        "ClientToken": f"terraform-{instance_id}",
        "EbsOptimized": True,
        "EnaSupport": True,
        "Hypervisor": "xen",
        "IamInstanceProfile": {"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}", "Id": "AIPAEXAMPLE"},
        "NetworkInterfaces": [
            {
                **({"Association": association} if association else {}),
                "Attachment": {"AttachTime": ts(launch_time), "AttachmentId": f"eni-attach-{eni_id[4:]}",
                               "DeleteOnTermination": True, "DeviceIndex": 0, "Status": "attached",
                               "NetworkCardIndex": 0},
                "Description": "",
                "Groups": copy.deepcopy(groups),
                "Ipv6Addresses": [],
                "MacAddress": "0e:" + ":".join(eni_id[-10:][i:i + 2] for i in range(0, 10, 2)),
                "NetworkInterfaceId": eni_id,
                "OwnerId": ACCOUNT,
                "PrivateDnsName": private_dns,
                "PrivateIpAddress": private_ip,
                "PrivateIpAddresses": [
                    {**({"Association": association} if association else {}), "Primary": True,
                     "PrivateDnsName": private_dns, "PrivateIpAddress": private_ip},
                ],
                "SourceDestCheck": True,
                "Status": "in-use",
                "SubnetId": subnet,
                "VpcId": vpc,
                "InterfaceType": "interface",
            }
        ],
        "RootDeviceName": "/dev/xvda",
        "RootDeviceType": "ebs",
        "SecurityGroups": groups,
        "SourceDestCheck": True,
        "Tags": tag_list({"Name": name, **(tags or {})}),
        "VirtualizationType": "hvm",
        "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
        "MetadataOptions": {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                            "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
                            "InstanceMetadataTags": "disabled"},
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": ts(launch_time),
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                  "EnableResourceNameDnsAAAARecord": False},
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "CurrentInstanceBootMode": "legacy-bios",
    }
    if public_ip:
        payload["PublicIpAddress"] = public_ip
    if state != "running":
        payload["StateReason"] = {"Code": "Client.UserInitiatedShutdown",
                                  "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
    return payload


def set_public_ip(instance: Payload, public_ip: str | None) -> None:
    """What a stop/start (new auto-assigned address) or an Elastic IP association does to an instance."""
    dns = f"ec2-{public_ip.replace('.', '-')}.compute-1.amazonaws.com" if public_ip else ""
    instance["PublicDnsName"] = dns
    instance.pop("PublicIpAddress", None)
    eni = instance["NetworkInterfaces"][0]
    eni.pop("Association", None)
    eni["PrivateIpAddresses"][0].pop("Association", None)
    if public_ip:
        instance["PublicIpAddress"] = public_ip
        association = {"IpOwnerId": "amazon", "PublicDnsName": dns, "PublicIp": public_ip}
        eni["Association"] = dict(association)
        eni["PrivateIpAddresses"][0]["Association"] = dict(association)


def ebs_volume(volume_id: str, *, size: int, instance_id: str | None, device: str = "/dev/sdf",
               encrypted: bool = True, kms_key: str | None = None, volume_type: str = "gp3",
               tags: Mapping[str, str] | None = None) -> Payload:
    payload: Payload = {
        "Attachments": [] if not instance_id else [
            {"AttachTime": ts("2024-03-01T10:00:00Z"), "Device": device, "InstanceId": instance_id,
             "State": "attached", "VolumeId": volume_id, "DeleteOnTermination": False}
        ],
        "AvailabilityZone": "us-east-1a",
        "CreateTime": ts("2024-03-01T09:59:00.512Z"),
        "Encrypted": encrypted,
        "Size": size,
        "SnapshotId": "",
        "State": "in-use" if instance_id else "available",
        "VolumeId": volume_id,
        "Iops": 3000,
        "Tags": tag_list(tags),
        "VolumeType": volume_type,
        "MultiAttachEnabled": False,
        "Throughput": 125,
    }
    if kms_key:
        payload["KmsKeyId"] = kms_key
    return payload


def vpc(vpc_id: str, name: str, cidr: str) -> Payload:
    return {
        "CidrBlock": cidr,
        "DhcpOptionsId": "dopt-0a1b2c3d",
        "State": "available",
        "VpcId": vpc_id,
        "OwnerId": ACCOUNT,
        "InstanceTenancy": "default",
        "CidrBlockAssociationSet": [
            {"AssociationId": f"vpc-cidr-assoc-{vpc_id[4:]}", "CidrBlock": cidr,
             "CidrBlockState": {"State": "associated"}},
        ],
        "IsDefault": False,
        "Tags": tag_list({"Name": name}),
    }


def subnet(subnet_id: str, name: str, *, vpc_id: str, cidr: str, az: str = "us-east-1a", public: bool = False,
           free_ips: int = 250) -> Payload:
    return {
        "AvailabilityZone": az,
        "AvailabilityZoneId": {"us-east-1a": "use1-az1", "us-east-1b": "use1-az2"}[az],
        "AvailableIpAddressCount": free_ips,
        "CidrBlock": cidr,
        "DefaultForAz": False,
        "MapPublicIpOnLaunch": public,
        "MapCustomerOwnedIpOnLaunch": False,
        "State": "available",
        "SubnetId": subnet_id,
        "VpcId": vpc_id,
        "OwnerId": ACCOUNT,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Tags": tag_list({"Name": name}),
        "SubnetArn": f"arn:aws:ec2:{US}:{ACCOUNT}:subnet/{subnet_id}",
        "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                          "EnableResourceNameDnsAAAARecord": False},
    }


# --- S3 -----------------------------------------------------------------------------------------

FULL_PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True}
SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}


def sse_kms(key_arn: str) -> Payload:
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                       "BucketKeyEnabled": True}]}


def s3_bucket(name: str, *, location: str | None = None, public_access_block: Payload | None = FULL_PAB,
              encryption: Payload | None = SSE_S3, versioning: str | None = "Enabled",
              bucket_policy: Payload | None = None, is_public: bool = False,
              tags: Mapping[str, str] | None = None) -> Payload:
    """ListBuckets item + GetBucketLocation/PublicAccessBlock/Encryption/Versioning/PolicyStatus/Policy/Tagging."""
    return {
        "Name": name,
        "CreationDate": ts("2022-11-03T14:21:07.000Z"),
        "Location": location,
        "PublicAccessBlock": copy.deepcopy(public_access_block),
        "Encryption": copy.deepcopy(encryption),
        # GetBucketVersioning on a never-versioned bucket returns only ResponseMetadata.
        "Versioning": {"Status": versioning, "MFADelete": "Disabled"} if versioning else {},
        "PolicyStatus": None if bucket_policy is None else {"IsPublic": is_public},
        "Policy": None if bucket_policy is None else json.dumps(bucket_policy),
        "Tags": tag_list(tags) or None,
    }


# --- IAM ----------------------------------------------------------------------------------------


def service_trust(service: str, sid: str | None = None) -> Payload:
    return policy(statement("Allow", "sts:AssumeRole", sid=sid, principal={"Service": service}))


def iam_role(name: str, *, trust: Payload | str, attached: Sequence[str] = (), inline: Sequence[str] = (),
             tags: Mapping[str, str] | None = None, description: str = "") -> Payload:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": f"AROA{digits(name, 12)}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "CreateDate": ts("2023-02-14T09:30:00Z"),
        "AssumeRolePolicyDocument": copy.deepcopy(trust),
        "Description": description,
        "MaxSessionDuration": 3600,
        "RoleLastUsed": {"LastUsedDate": ts("2024-05-01T23:10:00Z"), "Region": US},
        "Tags": tag_list(tags),
        "AttachedManagedPolicies": [attached_policy(a) for a in attached],
        "InlinePolicyNames": list(inline),
    }


def attached_policy(policy_arn: str) -> Payload:
    return {"PolicyName": policy_arn.rsplit("/", 1)[-1], "PolicyArn": policy_arn}


def iam_user(name: str, *, groups: Sequence[str] = (), attached: Sequence[str] = (), mfa: bool = True,
             tags: Mapping[str, str] | None = None, password_last_used: str = "2024-05-01T16:02:00Z") -> Payload:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": f"AIDA{digits(name, 12)}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "CreateDate": ts("2022-08-01T12:00:00Z"),
        "PasswordLastUsed": ts(password_last_used),
        "Tags": tag_list(tags),
        "AttachedManagedPolicies": [attached_policy(a) for a in attached],
        "Groups": list(groups),
        "MFADevices": [f"arn:aws:iam::{ACCOUNT}:mfa/{name}"] if mfa else [],
    }


def iam_managed_policy(name: str, document: Payload | str, *, version: str = "v1", attachments: int = 1,
                       tags: Mapping[str, str] | None = None) -> Payload:
    return {
        "PolicyName": name,
        "PolicyId": f"ANPA{digits(name, 12)}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "Path": "/",
        "DefaultVersionId": version,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": ts("2023-01-10T10:00:00Z"),
        "UpdateDate": ts("2023-01-10T10:00:00Z"),
        "PolicyDocument": copy.deepcopy(document),
        "Tags": tag_list(tags),
    }


# --- RDS, Lambda, DynamoDB ----------------------------------------------------------------------


def rds_instance(identifier: str, *, instance_class: str = "db.r6g.large", engine: str = "postgres",
                 engine_version: str = "15.5", public: bool = False, multi_az: bool = True,
                 encrypted: bool = True, kms_key: str | None = None, status: str = "available",
                 vpc_id: str = "vpc-0a1b2c3d4e5f60001", security_groups: Sequence[str] = (),
                 subnets: Sequence[str] = (), latest_restorable: str = "2024-05-01T05:55:00Z",
                 tags: Mapping[str, str] | None = None) -> Payload:
    payload: Payload = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": instance_class,
        "Engine": engine,
        "DBInstanceStatus": status,
        "MasterUsername": "dbadmin",
        "DBName": identifier.replace("-", "_"),
        "Endpoint": {"Address": f"{identifier}.c9akciq32.us-east-1.rds.amazonaws.com", "Port": 5432,
                     "HostedZoneId": "Z2R2ITUGPM61AM"},
        "AllocatedStorage": 100,
        "InstanceCreateTime": ts("2023-03-03T03:03:03.303Z"),
        "PreferredBackupWindow": "03:00-03:30",
        "BackupRetentionPeriod": 7,
        "DBSecurityGroups": [],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g in security_groups],
        "DBParameterGroups": [{"DBParameterGroupName": "default.postgres15", "ParameterApplyStatus": "in-sync"}],
        "AvailabilityZone": "us-east-1a",
        "DBSubnetGroup": {
            "DBSubnetGroupName": "data-subnets",
            "DBSubnetGroupDescription": "data tier",
            "VpcId": vpc_id,
            "SubnetGroupStatus": "Complete",
            "Subnets": [{"SubnetIdentifier": s, "SubnetAvailabilityZone": {"Name": "us-east-1a"},
                         "SubnetOutpost": {}, "SubnetStatus": "Active"} for s in subnets],
        },
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30",
        "PendingModifiedValues": {},
        "LatestRestorableTime": ts(latest_restorable),
        "MultiAZ": multi_az,
        "EngineVersion": engine_version,
        "AutoMinorVersionUpgrade": True,
        "ReadReplicaDBInstanceIdentifiers": [],
        "LicenseModel": "postgresql-license",
        "OptionGroupMemberships": [{"OptionGroupName": "default:postgres-15", "Status": "in-sync"}],
        "PubliclyAccessible": public,
        "StorageType": "gp3",
        "DbInstancePort": 0,
        "StorageEncrypted": encrypted,
        "DbiResourceId": f"db-{digits(identifier, 10)}",
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "CopyTagsToSnapshot": True,
        "IAMDatabaseAuthenticationEnabled": False,
        "DeletionProtection": True,
        "DBInstanceArn": f"arn:aws:rds:{US}:{ACCOUNT}:db:{identifier}",
        "TagList": tag_list(tags),
    }
    if kms_key:
        payload["KmsKeyId"] = kms_key
    return payload


def lambda_function(name: str, *, runtime: str = "python3.11", timeout: int = 30, memory: int = 256,
                    env: Mapping[str, str] | None = None, layers: Sequence[str] = (),
                    subnets: Sequence[str] = (), security_groups: Sequence[str] = (),
                    vpc_id: str = "vpc-0a1b2c3d4e5f60001", tags: Mapping[str, str] | None = None,
                    last_modified: str = "2024-04-20T10:15:30.000+0000") -> Payload:
    payload: Payload = {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:{US}:{ACCOUNT}:function:{name}",
        "Runtime": runtime,
        "Role": f"arn:aws:iam::{ACCOUNT}:role/{name}-role",
        "Handler": "app.handler",
        "CodeSize": 48213,
        "Description": f"{name} function",
        "Timeout": timeout,
        "MemorySize": memory,
        "LastModified": last_modified,
        "CodeSha256": "x5bJ0m0sCkqQyfA0lq7K1m9pYqYVj6Cw3bD6eQ0tPZk=",
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": f"rev-{last_modified[:10]}",
        "PackageType": "Zip",
        "Architectures": ["arm64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "Layers": [{"Arn": arn, "CodeSize": 1024 + i} for i, arn in enumerate(layers)],
        "Tags": dict(tags or {}),
    }
    if env is not None:
        payload["Environment"] = {"Variables": dict(env)}
    if subnets:
        payload["VpcConfig"] = {"SubnetIds": list(subnets), "SecurityGroupIds": list(security_groups),
                                "VpcId": vpc_id, "Ipv6AllowedForDualStack": False}
    return payload


def dynamodb_table(name: str, *, billing: str = "PAY_PER_REQUEST", capacity: int = 0, items: int = 1000,
                   size_bytes: int = 250_000, gsis: Sequence[tuple[str, str]] = (),
                   attributes: Sequence[tuple[str, str]] = (("pk", "S"),),
                   tags: Mapping[str, str] | None = None) -> Payload:
    """ListTables name + DescribeTable's `Table` merged in + ListTagsOfResource."""
    arn = f"arn:aws:dynamodb:{US}:{ACCOUNT}:table/{name}"
    throughput = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": capacity, "WriteCapacityUnits": capacity}
    payload: Payload = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attributes],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "TableStatus": "ACTIVE",
        "CreationDateTime": ts("2023-05-05T05:05:05.505Z"),
        "ProvisionedThroughput": dict(throughput),
        "TableSizeBytes": size_bytes,
        "ItemCount": items,
        "TableArn": arn,
        "TableId": f"{digits(name, 8)}-1111-2222-3333-444455556666",
        "BillingModeSummary": {"BillingMode": billing},
        "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS",
                           "KMSMasterKeyArn": f"arn:aws:kms:{US}:{ACCOUNT}:key/aws-managed-dynamodb"},
        "DeletionProtectionEnabled": True,
        "TableClassSummary": {"TableClass": "STANDARD"},
        "Tags": tag_list(tags),
    }
    if gsis:
        payload["GlobalSecondaryIndexes"] = [gsi(name, index, key) for index, key in gsis]
    return payload


def gsi(table_name: str, index: str, key: str, *, status: str = "ACTIVE") -> Payload:
    return {
        "IndexName": index,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
        "IndexStatus": status,
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        "IndexSizeBytes": 12_000,
        "ItemCount": 90,
        "IndexArn": f"arn:aws:dynamodb:{US}:{ACCOUNT}:table/{table_name}/index/{index}",
    }


# --- SNS, SQS, KMS ------------------------------------------------------------------------------


def sns_default_policy(topic_arn: str) -> Payload:
    """The access policy AWS writes on every new topic (everyone, but only from the owner account)."""
    return policy(
        statement("Allow", ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                            "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                            "SNS:Publish"], topic_arn,
                  sid="__default_statement_ID", principal={"AWS": "*"},
                  condition={"StringEquals": {"AWS:SourceOwner": ACCOUNT}}),
        policy_id="__default_policy_ID",
    )


def sns_topic(name: str, *, kms_key: str | None = None, confirmed: int = 2, access_policy: Payload | None = None,
              display_name: str = "", tags: Mapping[str, str] | None = None) -> Payload:
    arn = f"arn:aws:sns:{US}:{ACCOUNT}:{name}"
    attributes: Payload = {
        "Policy": json.dumps(access_policy or sns_default_policy(arn)),
        "Owner": ACCOUNT,
        "SubscriptionsPending": "0",
        "TopicArn": arn,
        "EffectiveDeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
            "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
            "disableSubscriptionOverrides": False, "defaultRequestPolicy": {"headerContentType": "text/plain"}}}),
        "SubscriptionsConfirmed": str(confirmed),
        "DisplayName": display_name,
        "SubscriptionsDeleted": "0",
    }
    if kms_key:
        attributes["KmsMasterKeyId"] = kms_key
    return {"TopicArn": arn, "Attributes": attributes, "Tags": tag_list(tags)}


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{US}:{ACCOUNT}:{name}"


def sqs_queue(name: str, *, visible: int = 0, in_flight: int = 0, visibility_timeout: int = 30,
              access_policy: Payload | None = None, redrive: Payload | None = None,
              tags: Mapping[str, str] | None = None) -> Payload:
    """ListQueues URL + GetQueueAttributes(All) + ListQueueTags (a plain map)."""
    attributes: Payload = {
        "QueueArn": queue_arn(name),
        "ApproximateNumberOfMessages": str(visible),
        "ApproximateNumberOfMessagesNotVisible": str(in_flight),
        "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": "1680000000",
        "LastModifiedTimestamp": "1700000000",
        "VisibilityTimeout": str(visibility_timeout),
        "MaximumMessageSize": "262144",
        "MessageRetentionPeriod": "345600",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "20",
        "SqsManagedSseEnabled": "true",
    }
    if access_policy is not None:
        attributes["Policy"] = json.dumps(access_policy)
    if redrive is not None:
        attributes["RedrivePolicy"] = json.dumps(redrive)
    return {
        "QueueUrl": f"https://sqs.{US}.amazonaws.com/{ACCOUNT}/{name}",
        "Attributes": attributes,
        "Tags": dict(tags) if tags else None,
    }


def kms_key(key_id: str, *, description: str, rotation: bool | None = True, state: str = "Enabled",
            tags: Mapping[str, str] | None = None) -> Payload:
    """ListKeys item + DescribeKey's KeyMetadata merged in + rotation status + ListResourceTags."""
    arn = f"arn:aws:kms:{US}:{ACCOUNT}:key/{key_id}"
    return {
        "KeyId": key_id,
        "KeyArn": arn,
        "AWSAccountId": ACCOUNT,
        "Arn": arn,
        "CreationDate": ts("2023-01-01T00:00:00Z"),
        "Enabled": state == "Enabled",
        "Description": description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": state,
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
        "KeyRotationEnabled": rotation,
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in (tags or {}).items()],
    }


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{US}:{ACCOUNT}:key/{key_id}"


# --- the two-day estate -------------------------------------------------------------------------


@dataclass
class Scenario:
    """Day-1 and day-2 raw payloads by label; records and tables are built through `canonical_record`."""

    day1: dict[str, tuple[str, Payload]] = field(default_factory=dict)
    day2: dict[str, tuple[str, Payload]] = field(default_factory=dict)

    def both(self, label: str, cfn_type: str, payload: Payload) -> Payload:
        """Register a resource present on both days; returns the day-2 copy to apply changes to."""
        assert label not in self.day1 and label not in self.day2, label
        self.day1[label] = (cfn_type, payload)
        day2 = copy.deepcopy(payload)
        self.day2[label] = (cfn_type, day2)
        return day2

    def removed(self, label: str, cfn_type: str, payload: Payload) -> None:
        assert label not in self.day1, label
        self.day1[label] = (cfn_type, payload)

    def added(self, label: str, cfn_type: str, payload: Payload) -> Payload:
        assert label not in self.day2, label
        self.day2[label] = (cfn_type, payload)
        return payload

    def records(self, day: int) -> dict[str, CanonicalRecord]:
        estate = self.day1 if day == 1 else self.day2
        collected = "2024-05-01T06:00:00Z" if day == 1 else "2024-05-02T06:00:00Z"
        return {label: record(cfn_type, copy.deepcopy(payload), collected_at=collected)
                for label, (cfn_type, payload) in estate.items()}

    def tables(self) -> tuple[pa.Table, pa.Table]:
        return table(*self.records(1).values()), table(*self.records(2).values())
