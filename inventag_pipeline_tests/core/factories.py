"""Small builders for canonical records and snapshot tables, so core tests read as short dicts.

Every builder goes through the real `canonical_record` (with the registry's declaration of the type)
and `records_to_table`, so tests exercise the same path the collectors use.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.canonical import CanonicalRecord, canonical_json, canonical_record
from inventag_pipeline.core.registry import get_type
from inventag_pipeline.core.snapshot import records_to_table

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999999999999"
COLLECTED_AT = "2024-05-02T06:00:00Z"
US = "us-east-1"
EU = "eu-west-1"
COMPLETE_TAGS = {"Environment": "prod", "Owner": "alice", "CostCenter": "cc-1"}


def tag_list(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """A tag map in AWS's most common `[{Key, Value}]` shape."""
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def record(cfn_type: str, payload: Mapping[str, Any], *, region: str = US, account_id: str = ACCOUNT,
           collected_at: str = COLLECTED_AT, source: str = "api") -> CanonicalRecord:
    return canonical_record(get_type(cfn_type), payload, account_id=account_id, region=region,
                            collected_at=collected_at, source=source)


def sg_rule(proto: str, from_port: int | None, to_port: int | None, cidr: str) -> dict[str, Any]:
    """One raw AWS IpPermission entry with a single IPv4 or IPv6 range."""
    perm: dict[str, Any] = {"IpProtocol": proto}
    if from_port is not None:
        perm["FromPort"] = from_port
    if to_port is not None:
        perm["ToPort"] = to_port
    if ":" in cidr:
        perm["Ipv6Ranges"] = [{"CidrIpv6": cidr}]
    else:
        perm["IpRanges"] = [{"CidrIp": cidr}]
    return perm


def security_group(group_id: str, *, ingress: Sequence[tuple[str, int | None, int | None, str]] = (),
                   egress: Sequence[tuple[str, int | None, int | None, str]] = (), name: str | None = None,
                   tags: Mapping[str, str] | None = None, vpc: str = "vpc-1", region: str = US,
                   **extra: Any) -> CanonicalRecord:
    payload = {
        "GroupId": group_id,
        "GroupName": name or group_id,
        "Description": f"group {group_id}",
        "VpcId": vpc,
        "OwnerId": ACCOUNT,
        "IpPermissions": [sg_rule(*r) for r in ingress],
        "IpPermissionsEgress": [sg_rule(*r) for r in egress],
        "Tags": tag_list(tags),
        **extra,
    }
    return record("AWS::EC2::SecurityGroup", payload, region=region)


def instance(instance_id: str, *, security_groups: Sequence[str] = (), state: str = "running",
             tags: Mapping[str, str] | None = None, region: str = US, **extra: Any) -> CanonicalRecord:
    payload = {
        "InstanceId": instance_id,
        "InstanceType": "t3.micro",
        "ImageId": "ami-1",
        "LaunchTime": "2024-01-01T00:00:00+00:00",
        "State": {"Code": 16, "Name": state},
        "SubnetId": "subnet-1",
        "VpcId": "vpc-1",
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in security_groups],
        "Tags": tag_list(tags),
        **extra,
    }
    return record("AWS::EC2::Instance", payload, region=region)


DEFAULT_PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}
DEFAULT_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
_UNSET: Any = object()


def bucket(name: str, *, location: str | None = None, tags: Mapping[str, str] | None = None,
           public_access_block: Mapping[str, bool] | None = _UNSET, encryption: Mapping[str, Any] | None = _UNSET,
           policy: Mapping[str, Any] | None = None, **extra: Any) -> CanonicalRecord:
    """An S3 bucket as the collector merges it (list item + detail calls); absent details are None."""
    payload = {
        "Name": name,
        "CreationDate": "2023-06-01T00:00:00.000Z",
        "Location": location,
        "PublicAccessBlock": DEFAULT_PAB if public_access_block is _UNSET else public_access_block,
        "Encryption": DEFAULT_ENCRYPTION if encryption is _UNSET else encryption,
        "Versioning": {"Status": "Enabled"},
        "Policy": None if policy is None else json.dumps(policy),
        "Tags": tag_list(tags),
        **extra,
    }
    # The region passed here is the collector's (S3 is listed once); the record takes the bucket's own.
    return record("AWS::S3::Bucket", payload, region=US)


def queue(name: str, *, region: str = US, messages: str = "0", tags: Mapping[str, str] | None = None,
          attributes: Mapping[str, Any] | None = None) -> CanonicalRecord:
    arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
    payload = {
        "QueueUrl": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}",
        "Attributes": {
            "QueueArn": arn,
            "ApproximateNumberOfMessages": messages,
            "VisibilityTimeout": "30",
            **(attributes or {}),
        },
        "Tags": dict(tags or {}),
    }
    return record("AWS::SQS::Queue", payload, region=region)


def role(name: str, *, trust: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None,
         **extra: Any) -> CanonicalRecord:
    trust = trust or {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    payload = {
        "RoleName": name,
        "RoleId": f"AROA{name.upper()}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "Path": "/",
        "AssumeRolePolicyDocument": trust,
        "Tags": tag_list(tags),
        **extra,
    }
    return record("AWS::IAM::Role", payload, region=US)


def managed_policy(name: str, statements: list[dict[str, Any]], **extra: Any) -> CanonicalRecord:
    payload = {
        "PolicyName": name,
        "PolicyId": f"ANPA{name.upper()}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "DefaultVersionId": "v1",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        **extra,
    }
    return record("AWS::IAM::ManagedPolicy", payload, region=US)


def db_instance(identifier: str, *, public: bool = False, region: str = US, **extra: Any) -> CanonicalRecord:
    payload = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceArn": f"arn:aws:rds:{region}:{ACCOUNT}:db:{identifier}",
        "DBInstanceClass": "db.t3.micro",
        "Engine": "postgres",
        "DBInstanceStatus": "available",
        "PubliclyAccessible": public,
        "StorageEncrypted": True,
        "TagList": [],
        **extra,
    }
    return record("AWS::RDS::DBInstance", payload, region=region)


def kms_key(key_id: str, *, region: str = US) -> CanonicalRecord:
    arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"
    return record("AWS::KMS::Key", {"KeyId": key_id, "Arn": arn, "KeyArn": arn, "Description": f"key {key_id}",
                                    "KeyState": "Enabled", "Enabled": True}, region=region)


def table(*records: CanonicalRecord) -> pa.Table:
    return records_to_table(records)


def shuffled(tbl: pa.Table, seed: int) -> pa.Table:
    order = list(range(tbl.num_rows))
    random.Random(seed).shuffle(order)
    return tbl.take(pa.array(order, pa.int64()))


def scope(service: str, region: str, status: str = "ok", error: str | None = None,
          resource_count: int = 0) -> dict[str, Any]:
    """One coverage entry of a snapshot manifest (DESIGN §5)."""
    return {"service": service, "region": region, "status": status, "error": error,
            "resource_count": resource_count, "api_calls": 1, "duration_s": 0.1}


def as_row(rec: CanonicalRecord) -> dict[str, Any]:
    """The columns the delta engine reads for an attribute diff, as stored in a snapshot."""
    return {"arn": rec.arn, "configuration": canonical_json(rec.configuration), "tags": sorted(rec.tags.items())}


def rows(tbl: pa.Table, *columns: str) -> set[tuple[Any, ...]]:
    """A table's rows (the named columns) as a set of tuples; list values become tuples."""
    data = tbl.select(list(columns)).to_pylist()
    return {tuple(tuple(v) if isinstance(v, list) else v for v in (r[c] for c in columns)) for r in data}


def arns(records: Iterable[CanonicalRecord]) -> list[str]:
    return [r.arn for r in records]
