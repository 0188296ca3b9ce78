"""Synthetic snapshot pairs in the exact DESIGN §5 schema, for the delta benchmark.

How it stays fast at 1 M rows
-----------------------------
The expensive part of a real snapshot (canonicalising every API payload) is done only for a few
hundred *templates* per resource type.  Each template is a realistic raw API payload whose unique
parts (ids, names, ARNs) carry the placeholder ``@H@``; it goes once through the product's own
``canonical_record`` (so normalisers, exploded security-group rules, parsed policies, sorted lists
and the name/ARN rules are the real ones).  A row is then a template plus a unique token: every
string column is ``token.join(template_string.split("@H@"))``, and the content hash is
``sha256`` over the template's hash payload with the token put in — the payload is exactly the one
``inventag_pipeline.core.canonical.content_hash`` builds (``canonical_json`` of
``{"configuration": <config minus volatile paths>, "tags": <sorted tags>}``), since putting a
token into a value commutes with stripping paths and with key sorting.  ``verify_sample`` checks,
on a random sample of rows of both days, that the stored configuration is a fixed point of the
real canonicaliser and that the stored hash equals the real ``content_hash``.

Day 2
-----
Derived from day 1: ~5 % genuinely modified (realistic per-type changes, e.g. a security-group
rule added — some world-open on 22 —, an instance type changed, a tag changed, an S3 public access
block flag flipped), 1 % added, 1 % removed, ~2 % volatile-only (only a registry volatile path
changes, e.g. SQS ``Attributes.ApproximateNumberOfMessages`` or EC2 ``LaunchTime``: the
configuration text differs but the content hash must stay equal, and the generator asserts that
with the real ``content_hash``), and ~2 % order-only.  Canonicalisation sorts every unordered list
by identity before anything is stored, so an order-only difference in the API response produces a
byte-identical configuration: for those rows day 2 keeps day 1's canonical JSON, and the generator
demonstrates the claim on a sample of them (shuffle every unordered list of the parsed document,
re-canonicalise with the real canonicaliser, compare the text).  Genuinely modified rows are
recomputed with the real canonicaliser and ``content_hash`` (and asserted to have a new hash).

Usage: ``python benchmarks/synthetic.py N DIR`` writes ``DIR/N/day{1,2}/snapshot.parquet`` plus
``manifest.json`` beside each and ``DIR/N/truth.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import heapq
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.core.canonical import (
    canonical_json,
    canonical_record,
    canonicalise_configuration,
    content_hash,
    get_path,
    pattern_of,
    resource_name,
    split_pattern,
    strip_paths,
)
from inventag_pipeline.core.registry import GLOBAL_REGION, REGISTRY, ResourceType
from inventag_pipeline.core.snapshot import SNAPSHOT_SCHEMA, build_manifest, sha256_hex, table_to_parquet_bytes

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
REGION_WEIGHTS = (0.5, 0.3, 0.2)
DAY1, DAY2 = "2026-11-21", "2026-11-22"
COLLECTED = {DAY1: "2026-11-21T06:00:00Z", DAY2: "2026-11-22T06:00:00Z"}
TOKEN = "@H@"

# Share of the resources per type (sums to 1).
WEIGHTS: dict[str, float] = {
    "AWS::EC2::Instance": 0.14,
    "AWS::EC2::Volume": 0.16,
    "AWS::EC2::SecurityGroup": 0.08,
    "AWS::EC2::VPC": 0.01,
    "AWS::EC2::Subnet": 0.04,
    "AWS::S3::Bucket": 0.08,
    "AWS::IAM::Role": 0.08,
    "AWS::IAM::User": 0.03,
    "AWS::IAM::ManagedPolicy": 0.04,
    "AWS::RDS::DBInstance": 0.02,
    "AWS::Lambda::Function": 0.12,
    "AWS::DynamoDB::Table": 0.05,
    "AWS::SNS::Topic": 0.04,
    "AWS::SQS::Queue": 0.09,
    "AWS::KMS::Key": 0.02,
}

ENVS = ("prod", "prod", "staging", "dev", "test")
OWNERS = ("team-payments", "team-identity", "team-data", "team-platform", "team-web", "team-ml", "team-search")
COST_CENTERS = ("CC-1001", "CC-1002", "CC-2040", "CC-3300", "CC-4711", "CC-5120")
APPS = ("orders", "payments", "catalog", "search", "auth", "billing", "reports", "ingest", "notify", "media",
        "profile", "inventory", "checkout", "ledger", "analytics", "gateway")
HEX = "0123456789abcdef"


# --- small random helpers (template level only) ---------------------------------------------------


def _hx(r: random.Random, n: int) -> str:
    return "".join(r.choices(HEX, k=n))


def _ts(r: random.Random, start: int = 2019, end: int = 2026) -> str:
    base = dt.datetime(start, 1, 1, tzinfo=dt.timezone.utc)
    span = (dt.datetime(end, 11, 1, tzinfo=dt.timezone.utc) - base).total_seconds()
    return (base + dt.timedelta(seconds=int(r.random() * span))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ip(r: random.Random, net: str = "10") -> str:
    return f"{net}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(4, 250)}"


@dataclass
class _Pools:
    """Per-region ids that many resources reference (shared VPCs, subnets, security groups, keys)."""

    vpcs: dict[str, list[str]] = field(default_factory=dict)
    subnets: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # (subnet, vpc, az)
    sgs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (id, name)
    kms: dict[str, list[str]] = field(default_factory=dict)
    amis: dict[str, list[str]] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    profiles: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def build(cls, r: random.Random) -> _Pools:
        p = cls()
        for region in REGIONS:
            p.vpcs[region] = [f"vpc-0{_hx(r, 16)}" for _ in range(5)]
            p.subnets[region] = [(f"subnet-0{_hx(r, 16)}", vpc, f"{region}{az}")
                                 for vpc in p.vpcs[region] for az in "abc"]
            p.sgs[region] = [(f"sg-0{_hx(r, 16)}", f"{r.choice(APPS)}-{r.choice(ENVS)}-{k}") for k in range(40)]
            p.kms[region] = [f"arn:aws:kms:{region}:{ACCOUNT}:key/{_uuid(r)}" for _ in range(6)]
            p.amis[region] = [f"ami-0{_hx(r, 16)}" for _ in range(12)]
        p.roles = [f"arn:aws:iam::{ACCOUNT}:role/{r.choice(APPS)}-{r.choice(ENVS)}-exec-{_hx(r, 6)}" for _ in range(40)]
        p.profiles = [(f"arn:aws:iam::{ACCOUNT}:instance-profile/{r.choice(APPS)}-ec2-{_hx(r, 4)}",
                       "AIPA" + _hx(r, 17).upper()) for _ in range(15)]
        return p


def _uuid(r: random.Random) -> str:
    h = _hx(r, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _tags(r: random.Random, app: str, env: str, name: str | None, *, name_p: float = 0.92) -> dict[str, str]:
    tags: dict[str, str] = {}
    if name is not None and r.random() < name_p:
        tags["Name"] = name
    if r.random() < 0.93:
        tags["Environment"] = env
    if r.random() < 0.90:
        tags["Owner"] = r.choice(OWNERS)
    if r.random() < 0.88:
        tags["CostCenter"] = r.choice(COST_CENTERS)
    if r.random() < 0.5:
        tags["Application"] = app
    if r.random() < 0.4:
        tags["ManagedBy"] = r.choice(("terraform", "cloudformation", "cdk"))
    return tags


def _tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    items = [{key: k, value: v} for k, v in tags.items()]
    random.Random(len(items)).shuffle(items)  # API order is arbitrary; the canonical form is not
    return items


def _policy(statements: list[dict[str, Any]], version: str = "2012-10-17", **extra: Any) -> str:
    return json.dumps({"Version": version, **extra, "Statement": statements})


# --- raw payload templates per type (``@H@`` = the row's unique token) -------------------------------


def _instance(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    subnet, vpc, az = r.choice(p.subnets[region])
    ip = _ip(r)
    groups = [{"GroupId": g, "GroupName": n} for g, n in r.sample(p.sgs[region], r.randint(1, 3))]
    public = r.random() < 0.2
    launch = _ts(r, 2023)
    devices = [{"DeviceName": "/dev/xvda", "Ebs": {"AttachTime": launch, "DeleteOnTermination": True,
                                                   "Status": "attached", "VolumeId": f"vol-0{_hx(r, 16)}"}}]
    for dev in r.sample(["/dev/sdf", "/dev/sdg", "/dev/sdh"], r.randint(0, 2)):
        devices.append({"DeviceName": dev, "Ebs": {"AttachTime": launch, "DeleteOnTermination": False,
                                                   "Status": "attached", "VolumeId": f"vol-0{_hx(r, 16)}"}})
    profile = r.choice(p.profiles)
    state = r.choices([("running", 16), ("stopped", 80)], weights=(0.85, 0.15))[0]
    eni = {
        "Attachment": {"AttachTime": launch, "AttachmentId": f"eni-attach-0{TOKEN}", "DeleteOnTermination": True,
                       "DeviceIndex": 0, "NetworkCardIndex": 0, "Status": "attached"},
        "Description": "", "Groups": groups, "InterfaceType": "interface", "Ipv6Addresses": [],
        "MacAddress": ":".join(_hx(r, 2) for _ in range(6)), "NetworkInterfaceId": f"eni-0{TOKEN}",
        "OwnerId": ACCOUNT, "PrivateDnsName": f"ip-{ip.replace('.', '-')}.{region}.compute.internal",
        "PrivateIpAddress": ip, "SourceDestCheck": True, "Status": "in-use", "SubnetId": subnet, "VpcId": vpc,
        "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": f"ip-{ip.replace('.', '-')}.internal",
                                "PrivateIpAddress": ip}],
    }
    payload: dict[str, Any] = {
        "AmiLaunchIndex": 0, "Architecture": r.choice(("x86_64", "arm64")),
        "BlockDeviceMappings": devices, "ClientToken": _hx(r, 32),
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "CpuOptions": {"CoreCount": r.choice((1, 2, 4)), "ThreadsPerCore": 2},
        "CurrentInstanceBootMode": "legacy-bios", "EbsOptimized": r.random() < 0.6, "EnaSupport": True,
        "EnclaveOptions": {"Enabled": False}, "HibernationOptions": {"Configured": False}, "Hypervisor": "xen",
        "IamInstanceProfile": {"Arn": profile[0], "Id": profile[1]} if r.random() < 0.8 else None,
        "ImageId": r.choice(p.amis[region]), "InstanceId": f"i-0{TOKEN}",
        "InstanceType": r.choice(("t3.micro", "t3.small", "t3.medium", "m6i.large", "m6i.xlarge", "c6g.large",
                                  "r6i.2xlarge")),
        "KeyName": f"{env}-keypair" if r.random() < 0.5 else None, "LaunchTime": launch,
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "MetadataOptions": {"HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
                            "HttpPutResponseHopLimit": r.choice((1, 2)), "InstanceMetadataTags": "disabled",
                            "HttpTokens": "required" if r.random() < 0.7 else "optional", "State": "applied"},
        "Monitoring": {"State": r.choice(("disabled", "enabled"))}, "NetworkInterfaces": [eni],
        "Placement": {"AvailabilityZone": az, "GroupName": "", "Tenancy": "default"},
        "PlatformDetails": "Linux/UNIX", "PrivateDnsName": f"ip-{ip.replace('.', '-')}.{region}.compute.internal",
        "PrivateIpAddress": ip, "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
        "SecurityGroups": groups, "SourceDestCheck": True,
        "State": {"Code": state[1], "Name": state[0]},
        "StateTransitionReason": "" if state[0] == "running" else f"User initiated ({_ts(r, 2025)})",
        "SubnetId": subnet, "UsageOperation": "RunInstances", "UsageOperationUpdateTime": launch,
        "VirtualizationType": "hvm", "VpcId": vpc,
        "Tags": _tag_list(_tags(r, app, env, f"{app}-{env}-{TOKEN}")),
    }
    if public:
        payload["PublicIpAddress"] = f"3.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        payload["PublicDnsName"] = f"ec2-{payload['PublicIpAddress'].replace('.', '-')}.compute.amazonaws.com"
        eni["Association"] = {"IpOwnerId": "amazon", "PublicIp": payload["PublicIpAddress"]}
    return payload


def _volume(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    vtype = r.choice(("gp3", "gp3", "gp2", "io2", "st1"))
    encrypted = r.random() < 0.8
    in_use = r.random() < 0.85
    az = f"{region}{r.choice('abc')}"
    payload: dict[str, Any] = {
        "VolumeId": f"vol-0{TOKEN}", "AvailabilityZone": az, "CreateTime": _ts(r), "Encrypted": encrypted,
        "KmsKeyId": r.choice(p.kms[region]) if encrypted else None, "MultiAttachEnabled": False,
        "Size": r.choice((8, 20, 30, 50, 100, 200, 500, 1000)), "SnapshotId": f"snap-0{_hx(r, 16)}"
        if r.random() < 0.3 else "", "State": "in-use" if in_use else "available", "VolumeType": vtype,
        "Iops": 3000 if vtype in ("gp3", "gp2", "io2") else None, "Throughput": 125 if vtype == "gp3" else None,
        "Attachments": [{"AttachTime": _ts(r, 2024), "Device": r.choice(("/dev/xvda", "/dev/sdf")),
                         "InstanceId": f"i-0{_hx(r, 16)}", "State": "attached", "VolumeId": f"vol-0{TOKEN}",
                         "DeleteOnTermination": r.random() < 0.7}] if in_use else [],
        "Tags": _tag_list(_tags(r, app, env, f"{app}-{env}-data", name_p=0.6)),
    }
    return payload


def _sg_perm(proto: str, low: int | None, high: int | None, **sources: list[dict[str, str]]) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": proto, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                            "UserIdGroupPairs": []}
    if low is not None:
        perm["FromPort"], perm["ToPort"] = low, high
    perm.update(sources)
    return perm


def _security_group(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    perms = []
    for port in r.sample((443, 80, 8080, 5432, 3306, 6379, 9200, 8443, 22), r.randint(1, 5)):
        sources: dict[str, list[dict[str, str]]] = {}
        roll = r.random()
        if roll < 0.45:
            sources["IpRanges"] = [{"CidrIp": f"10.{r.randint(0, 255)}.0.0/16", "Description": "vpc"}
                                   for _ in range(r.randint(1, 2))]
        elif roll < 0.8:
            sources["UserIdGroupPairs"] = [{"GroupId": g, "UserId": ACCOUNT}
                                           for g, _ in r.sample(p.sgs[region], r.randint(1, 2))]
        elif roll < 0.9 and port in (80, 443):
            sources["IpRanges"] = [{"CidrIp": "0.0.0.0/0", "Description": "public web"}]
            sources["Ipv6Ranges"] = [{"CidrIpv6": "::/0"}]
        else:
            sources["PrefixListIds"] = [{"PrefixListId": f"pl-{_hx(r, 8)}", "Description": "corp"}]
        perms.append(_sg_perm("tcp", port, port, **sources))
    if r.random() < 0.3:  # self-reference, all traffic (no other -1 ingress rule exists)
        perms.append(_sg_perm("-1", None, None, UserIdGroupPairs=[{"GroupId": f"sg-0{TOKEN}", "UserId": ACCOUNT}]))
    if r.random() < 0.15:
        perms.append(_sg_perm("icmp", -1, -1, IpRanges=[{"CidrIp": "10.0.0.0/8"}]))
    egress = [_sg_perm("-1", None, None, IpRanges=[{"CidrIp": "0.0.0.0/0"}])]
    if r.random() < 0.2:
        egress = [_sg_perm("tcp", 443, 443, IpRanges=[{"CidrIp": "0.0.0.0/0"}]),
                  _sg_perm("tcp", 5432, 5432, IpRanges=[{"CidrIp": "10.0.0.0/8"}])]
    name = f"{app}-{env}-{r.choice(('web', 'api', 'db', 'cache', 'worker', 'lb'))}-{TOKEN}"
    return {
        "Description": f"{app} {env} security group", "GroupName": name, "GroupId": f"sg-0{TOKEN}",
        "OwnerId": ACCOUNT, "VpcId": r.choice(p.vpcs[region]), "IpPermissions": perms,
        "IpPermissionsEgress": egress,
        "SecurityGroupArn": f"arn:aws:ec2:{region}:{ACCOUNT}:security-group/sg-0{TOKEN}",
        "Tags": _tag_list(_tags(r, app, env, None)),
    }


def _vpc(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    cidr = f"10.{r.randint(0, 255)}.0.0/16"
    assoc = [{"AssociationId": f"vpc-cidr-assoc-0{_hx(r, 16)}", "CidrBlock": cidr,
              "CidrBlockState": {"State": "associated"}}]
    if r.random() < 0.2:
        assoc.append({"AssociationId": f"vpc-cidr-assoc-0{_hx(r, 16)}", "CidrBlock": "100.64.0.0/16",
                      "CidrBlockState": {"State": "associated"}})
    return {
        "CidrBlock": cidr, "DhcpOptionsId": f"dopt-0{_hx(r, 16)}", "State": "available", "VpcId": f"vpc-0{TOKEN}",
        "OwnerId": ACCOUNT, "InstanceTenancy": "default", "IsDefault": r.random() < 0.05,
        "CidrBlockAssociationSet": assoc, "Tags": _tag_list(_tags(r, app, env, f"{app}-{env}-vpc")),
    }


def _subnet(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    az = f"{region}{r.choice('abc')}"
    public = r.random() < 0.3
    return {
        "AvailabilityZone": az, "AvailabilityZoneId": f"use1-az{r.randint(1, 6)}",
        "AvailableIpAddressCount": r.randint(10, 4000), "CidrBlock": f"10.{r.randint(0, 255)}.{r.randint(0, 15)}.0/20",
        "DefaultForAz": False, "MapPublicIpOnLaunch": public, "MapCustomerOwnedIpOnLaunch": False,
        "State": "available", "SubnetId": f"subnet-0{TOKEN}", "VpcId": r.choice(p.vpcs[region]),
        "OwnerId": ACCOUNT, "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
        "SubnetArn": f"arn:aws:ec2:{region}:{ACCOUNT}:subnet/subnet-0{TOKEN}", "EnableDns64": False,
        "Ipv6Native": False,
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                          "EnableResourceNameDnsAAAARecord": False},
        "Tags": _tag_list(_tags(r, app, env, f"{app}-{env}-{'public' if public else 'private'}-{az}")),
    }


def _bucket(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"acme-{app}-{env}-{r.choice(('logs', 'assets', 'data', 'backups', 'exports', 'uploads'))}-{TOKEN}"
    locked = r.random() < 0.85
    kms = r.random() < 0.5
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms" if kms else "AES256"},
                            "BucketKeyEnabled": kms}
    if kms:
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = r.choice(p.kms[region])
    statements = [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                   "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
    if r.random() < 0.4:
        statements.append({"Sid": "AllowAppRole", "Effect": "Allow", "Principal": {"AWS": r.choice(p.roles)},
                           "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{name}/*"})
    has_policy = r.random() < 0.6
    return {
        "Name": name, "CreationDate": _ts(r),
        "Location": None if region == "us-east-1" else region,
        "PublicAccessBlock": {"BlockPublicAcls": locked, "IgnorePublicAcls": locked, "BlockPublicPolicy": locked,
                              "RestrictPublicBuckets": locked} if r.random() < 0.9 else None,
        "Encryption": {"Rules": [rule]},
        "Versioning": {"Status": "Enabled"} if r.random() < 0.6 else {},
        "PolicyStatus": {"IsPublic": False} if has_policy else None,
        "Policy": _policy(statements) if has_policy else None,
        "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
    }


_GH = "token.actions.githubusercontent.com"
_TRUSTS = (
    lambda r, p: [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    lambda r, p: [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    lambda r, p: [{"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]},
                   "Action": "sts:AssumeRole"}],
    lambda r, p: [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{r.randint(10**11, 10**12 - 1)}:root"},
                   "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"sts:ExternalId": _hx(r, 20)}}}],
    lambda r, p: [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{_GH}"},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringLike": {f"{_GH}:sub": f"repo:acme/{_hx(r, 6)}:*"}}}],
)
_MANAGED = ("arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess", "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess")


def _attached(r: random.Random, k: int) -> list[dict[str, str]]:
    return [{"PolicyArn": a, "PolicyName": a.rsplit("/", 1)[-1]} for a in r.sample(_MANAGED, k)]


def _role(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"{app}-{env}-{r.choice(('exec', 'task', 'deploy', 'read', 'etl'))}-{TOKEN}"
    return {
        "Path": "/", "RoleName": name, "RoleId": "AROA" + _hx(r, 17).upper(),
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "CreateDate": _ts(r),
        "AssumeRolePolicyDocument": _policy(r.choice(_TRUSTS)(r, p)),
        "Description": f"{app} {env} role" if r.random() < 0.6 else None,
        "MaxSessionDuration": r.choice((3600, 3600, 7200, 43200)),
        "RoleLastUsed": {"LastUsedDate": _ts(r, 2026), "Region": r.choice(REGIONS)} if r.random() < 0.8 else {},
        "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
        "AttachedManagedPolicies": _attached(r, r.randint(0, 3)),
        "InlinePolicyNames": sorted(r.sample(("inline-s3", "inline-sqs", "inline-kms", "inline-logs"),
                                             r.randint(0, 2))),
    }


def _user(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    human = r.random() < 0.6
    name = f"{r.choice(('alice', 'bob', 'chen', 'dana', 'emeka', 'farah'))}.{TOKEN}" if human \
        else f"svc-{app}-{env}-{TOKEN}"
    return {
        "Path": "/", "UserName": name, "UserId": "AIDA" + _hx(r, 17).upper(),
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "CreateDate": _ts(r),
        "PasswordLastUsed": _ts(r, 2026) if human else None,
        "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
        "AttachedManagedPolicies": _attached(r, r.randint(0, 2)),
        "Groups": r.sample(("developers", "readonly", "oncall", "billing", "admins"), r.randint(0, 3)),
        "MFADevices": [f"arn:aws:iam::{ACCOUNT}:mfa/{name}"] if human and r.random() < 0.8 else [],
    }


_ACTIONS = {
    "s3": ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"),
    "dynamodb": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"),
    "sqs": ("sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    "kms": ("kms:Decrypt", "kms:GenerateDataKey"),
    "logs": ("logs:CreateLogStream", "logs:PutLogEvents"),
}


def _policy_statements(r: random.Random, region: str, app: str) -> list[dict[str, Any]]:
    out = []
    for service in r.sample(sorted(_ACTIONS), r.randint(1, 3)):
        actions = r.sample(_ACTIONS[service], r.randint(1, len(_ACTIONS[service])))
        resource = {"s3": f"arn:aws:s3:::acme-{app}-*/*",
                    "dynamodb": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{app}-*",
                    "sqs": f"arn:aws:sqs:{region}:{ACCOUNT}:{app}-*", "kms": "*",
                    "logs": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/{app}-*"}[service]
        out.append({"Effect": "Allow", "Action": actions if len(actions) > 1 else actions[0], "Resource": resource})
    return out


def _managed_policy(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"{app}-{env}-access-{TOKEN}"
    return {
        "PolicyName": name, "PolicyId": "ANPA" + _hx(r, 17).upper(), "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "Path": "/", "DefaultVersionId": f"v{r.randint(1, 9)}", "AttachmentCount": r.randint(0, 6),
        "PermissionsBoundaryUsageCount": 0, "IsAttachable": True, "CreateDate": _ts(r, 2019, 2024),
        "UpdateDate": _ts(r, 2024), "PolicyDocument": _policy(_policy_statements(r, r.choice(REGIONS), app)),
        "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
    }


def _rds(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    ident = f"{app}-{env}-db-{TOKEN}"
    engine, version, port = r.choice((("postgres", "15.4", 5432), ("postgres", "16.2", 5432),
                                      ("mysql", "8.0.35", 3306), ("aurora-postgresql", "15.4", 5432)))
    vpc = r.choice(p.vpcs[region])
    subnets = [s for s in p.subnets[region] if s[1] == vpc]
    return {
        "DBInstanceIdentifier": ident, "DBInstanceArn": f"arn:aws:rds:{region}:{ACCOUNT}:db:{ident}",
        "DBInstanceClass": r.choice(("db.t4g.medium", "db.r6g.large", "db.r6g.xlarge", "db.m6g.large")),
        "Engine": engine, "EngineVersion": version, "DBInstanceStatus": "available", "MasterUsername": "app_admin",
        "DBName": app, "Endpoint": {"Address": f"{ident}.c{_hx(r, 12)}.{region}.rds.amazonaws.com", "Port": port,
                                    "HostedZoneId": "Z" + _hx(r, 13).upper()},
        "AllocatedStorage": r.choice((20, 100, 200, 500)), "InstanceCreateTime": _ts(r),
        "PreferredBackupWindow": "03:00-03:30", "BackupRetentionPeriod": r.choice((1, 7, 14, 35)),
        "DBSecurityGroups": [],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": g, "Status": "active"} for g, _ in r.sample(p.sgs[region], 2)],
        "DBParameterGroups": [{"DBParameterGroupName": f"default.{engine}{version.split('.')[0]}",
                               "ParameterApplyStatus": "in-sync"}],
        "AvailabilityZone": subnets[0][2],
        "DBSubnetGroup": {"DBSubnetGroupName": f"{app}-{env}-subnets", "DBSubnetGroupDescription": "db subnets",
                          "VpcId": vpc, "SubnetGroupStatus": "Complete",
                          "Subnets": [{"SubnetIdentifier": s, "SubnetAvailabilityZone": {"Name": az},
                                       "SubnetOutpost": {}, "SubnetStatus": "Active"} for s, _, az in subnets]},
        "PreferredMaintenanceWindow": "sun:05:00-sun:05:30", "PendingModifiedValues": {},
        "LatestRestorableTime": _ts(r, 2026), "MultiAZ": r.random() < 0.5, "AutoMinorVersionUpgrade": True,
        "ReadReplicaDBInstanceIdentifiers": [], "LicenseModel": "postgresql-license",
        "OptionGroupMemberships": [{"OptionGroupName": f"default:{engine}-{version.split('.')[0]}",
                                    "Status": "in-sync"}],
        "PubliclyAccessible": r.random() < 0.03, "StorageType": "gp3", "DbInstancePort": 0,
        "StorageEncrypted": True, "KmsKeyId": r.choice(p.kms[region]), "DbiResourceId": "db-" + _hx(r, 26).upper(),
        "CACertificateIdentifier": "rds-ca-rsa2048-g1", "DeletionProtection": r.random() < 0.7,
        "PerformanceInsightsEnabled": r.random() < 0.5, "EnabledCloudwatchLogsExports": ["postgresql"],
        "IAMDatabaseAuthenticationEnabled": False, "CopyTagsToSnapshot": True,
        "TagList": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
    }


def _lambda(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"{app}-{env}-{r.choice(('handler', 'worker', 'api', 'cron', 'consumer', 'authorizer'))}-{TOKEN}"
    in_vpc = r.random() < 0.4
    vpc = r.choice(p.vpcs[region])
    payload: dict[str, Any] = {
        "FunctionName": name, "FunctionArn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}",
        "Runtime": r.choice(("python3.12", "python3.11", "nodejs20.x", "nodejs18.x", "java21")),
        "Role": r.choice(p.roles), "Handler": "app.handler", "CodeSize": r.randint(1_000, 50_000_000),
        "Description": f"{app} {env}", "Timeout": r.choice((3, 10, 30, 60, 900)),
        "MemorySize": r.choice((128, 256, 512, 1024, 2048)), "LastModified": _ts(r, 2025),
        "CodeSha256": _hx(r, 43), "Version": "$LATEST",
        "Environment": {"Variables": {"LOG_LEVEL": r.choice(("INFO", "DEBUG", "WARN")), "APP": app, "STAGE": env,
                                      "TABLE_NAME": f"{app}-{env}-table"}},
        "TracingConfig": {"Mode": r.choice(("PassThrough", "Active"))}, "RevisionId": _uuid(r),
        "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
        "Architectures": [r.choice(("x86_64", "arm64"))], "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "Tags": _tags(r, app, env, None),
    }
    if in_vpc:
        payload["VpcConfig"] = {"SubnetIds": [s for s, v, _ in p.subnets[region] if v == vpc][:2],
                                "SecurityGroupIds": [r.choice(p.sgs[region])[0]], "VpcId": vpc}
    if r.random() < 0.3:
        payload["Layers"] = [{"Arn": f"arn:aws:lambda:{region}:{ACCOUNT}:layer:{lay}:{r.randint(1, 30)}",
                              "CodeSize": r.randint(1000, 9_000_000)} for lay in ("shared-utils", "otel")]
    return payload


def _table(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"{app}-{env}-{r.choice(('items', 'sessions', 'events', 'users', 'locks'))}-{TOKEN}"
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"
    on_demand = r.random() < 0.7
    throughput = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0 if on_demand else r.choice((5, 25, 100)),
                  "WriteCapacityUnits": 0 if on_demand else r.choice((5, 25, 100))}
    gsis = [{"IndexName": f"gsi{k}", "IndexArn": f"{arn}/index/gsi{k}", "IndexStatus": "ACTIVE",
             "KeySchema": [{"AttributeName": f"gsi{k}pk", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}, "ProvisionedThroughput": dict(throughput),
             "IndexSizeBytes": r.randint(0, 10**9), "ItemCount": r.randint(0, 10**6)}
            for k in range(1, r.randint(1, 3))]
    return {
        "TableName": name, "TableArn": arn, "TableId": _uuid(r), "TableStatus": "ACTIVE",
        "CreationDateTime": _ts(r),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"}
                                 for n in ["pk", "sk"] + [g["KeySchema"][0]["AttributeName"] for g in gsis]],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "ProvisionedThroughput": throughput,
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED"},
        "TableSizeBytes": r.randint(0, 10**10), "ItemCount": r.randint(0, 10**7),
        "GlobalSecondaryIndexes": gsis or None,
        "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": r.choice(p.kms[region])}
        if r.random() < 0.6 else None,
        "DeletionProtectionEnabled": r.random() < 0.5, "TableClassSummary": {"TableClass": "STANDARD"},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if r.random() < 0.3 else None,
        "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()],
    }


def _topic(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    arn = f"arn:aws:sns:{region}:{ACCOUNT}:{app}-{env}-{r.choice(('events', 'alerts', 'fanout'))}-{TOKEN}"
    policy = _policy([{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe",
                                  "SNS:Publish", "SNS:ListSubscriptionsByTopic"],
                       "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}],
                     version="2008-10-17", Id="__default_policy_ID")
    attributes = {
        "TopicArn": arn, "Owner": ACCOUNT, "Policy": policy, "DisplayName": "",
        "SubscriptionsPending": str(r.randint(0, 2)), "SubscriptionsConfirmed": str(r.randint(0, 20)),
        "SubscriptionsDeleted": str(r.randint(0, 5)),
        "EffectiveDeliveryPolicy": json.dumps({"http": {"defaultHealthyRetryPolicy": {
            "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
            "disableSubscriptionOverrides": False}}),
    }
    if r.random() < 0.6:
        attributes["KmsMasterKeyId"] = "alias/aws/sns"
    return {"TopicArn": arn, "Attributes": attributes,
            "Tags": [{"Key": k, "Value": v} for k, v in _tags(r, app, env, None).items()]}


def _queue(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    name = f"{app}-{env}-{r.choice(('jobs', 'events', 'emails', 'webhooks'))}-{TOKEN}"
    arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
    created = str(r.randint(1_600_000_000, 1_760_000_000))
    attributes = {
        "QueueArn": arn, "ApproximateNumberOfMessages": str(r.randint(0, 5000)),
        "ApproximateNumberOfMessagesNotVisible": str(r.randint(0, 50)), "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": created, "LastModifiedTimestamp": created,
        "VisibilityTimeout": r.choice(("30", "60", "300", "900")), "MaximumMessageSize": "262144",
        "MessageRetentionPeriod": r.choice(("345600", "1209600")), "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": r.choice(("0", "20")), "SqsManagedSseEnabled": "true",
    }
    if r.random() < 0.6:
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": f"{arn}-dlq", "maxReceiveCount": 5})
    if r.random() < 0.4:
        attributes["Policy"] = _policy([{"Sid": "AllowTopic", "Effect": "Allow",
                                         "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                                         "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn":
                                             f"arn:aws:sns:{region}:{ACCOUNT}:{app}-{env}-events"}}}])
    return {"QueueUrl": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}", "Attributes": attributes,
            "Tags": _tags(r, app, env, None)}


def _key(r: random.Random, region: str, p: _Pools) -> dict[str, Any]:
    app, env = r.choice(APPS), r.choice(ENVS)
    arn = f"arn:aws:kms:{region}:{ACCOUNT}:key/{TOKEN}"
    return {
        "KeyId": TOKEN, "KeyArn": arn, "AWSAccountId": ACCOUNT, "Arn": arn, "CreationDate": _ts(r),
        "Enabled": True, "Description": f"{app} {env} {r.choice(('data', 'logs', 'backups', 'secrets'))} key",
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False,
        "KeyRotationEnabled": r.random() < 0.75,
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in _tags(r, app, env, None).items()],
    }


def _kms_token(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-a{h[15]}{h[:2]}-{h[2:14]}"


BUILDERS: dict[str, Callable[[random.Random, str, _Pools], dict[str, Any]]] = {
    "AWS::EC2::Instance": _instance, "AWS::EC2::Volume": _volume, "AWS::EC2::SecurityGroup": _security_group,
    "AWS::EC2::VPC": _vpc, "AWS::EC2::Subnet": _subnet, "AWS::S3::Bucket": _bucket, "AWS::IAM::Role": _role,
    "AWS::IAM::User": _user, "AWS::IAM::ManagedPolicy": _managed_policy, "AWS::RDS::DBInstance": _rds,
    "AWS::Lambda::Function": _lambda, "AWS::DynamoDB::Table": _table, "AWS::SNS::Topic": _topic,
    "AWS::SQS::Queue": _queue, "AWS::KMS::Key": _key,
}
# How a row's unique 16-hex token is spelled in ids (KMS key ids are UUIDs).
TOKEN_FORMAT: dict[str, Callable[[str], str]] = {"AWS::KMS::Key": _kms_token}
# Types whose identity is a name people choose. With `names="human"` (the default) their token is a
# per-type counter (`orders-prod-worker-004217`), as real accounts name things; with `names="random"`
# it is 64 random-looking bits like the AWS-generated ids (`i-…`, `vol-…`), the pessimistic case for
# compression. AWS-generated ids are random in both.
USER_NAMED_TYPES = frozenset({
    "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::ManagedPolicy", "AWS::RDS::DBInstance",
    "AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue",
})
NAME_STYLES = ("human", "random")


# --- templates ------------------------------------------------------------------------------------


@dataclass
class Template:
    """One canonical record with ``@H@`` where the row's token goes, pre-split for ``token.join``."""

    rtype: ResourceType
    region: str
    arn: list[str]
    resource_id: list[str]
    name: list[str] | None
    configuration: list[str]
    hash_payload: list[str]
    tag_keys: list[str]
    tag_values: list[list[str]]
    has_volatile: bool


def _split(text: str) -> list[str]:
    return text.split(TOKEN)


def build_templates(per_type: int, seed: int) -> dict[str, list[Template]]:
    """`per_type` canonical templates for every registry type this module knows how to build."""
    r = random.Random(seed)
    pools = _Pools.build(r)
    out: dict[str, list[Template]] = {}
    for cfn_type, rtype in REGISTRY.items():
        builder = BUILDERS.get(cfn_type)
        if builder is None:
            print(f"synthetic: no template builder for {cfn_type}; it is left out", file=sys.stderr)
            continue
        templates = []
        for _ in range(per_type):
            region = r.choices(REGIONS, weights=REGION_WEIGHTS)[0]
            payload = builder(r, region, pools)
            record = canonical_record(rtype, payload, account_id=ACCOUNT,
                                      region=GLOBAL_REGION if rtype.is_global else region,
                                      collected_at=COLLECTED[DAY1])
            tags = dict(sorted(record.tags.items()))
            stable = strip_paths(record.configuration, rtype.volatile_paths)
            templates.append(Template(
                rtype=rtype, region=record.region, arn=_split(record.arn), resource_id=_split(record.resource_id),
                name=None if record.name is None else _split(record.name),
                configuration=_split(canonical_json(record.configuration)),
                hash_payload=_split(canonical_json({"configuration": stable, "tags": tags})),
                tag_keys=list(tags), tag_values=[_split(v) for v in tags.values()],
                has_volatile=any(get_path(record.configuration, v) for v in rtype.volatile_paths),
            ))
        out[cfn_type] = templates
    return out


# --- bulk rows ------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def tokens(start: int, stop: int, salt: int) -> list[str]:
    """Unique 16-hex tokens for indices [start, stop): a bijection on 64-bit integers, random-looking."""
    x = np.arange(start, stop, dtype=np.uint64)
    x = x * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt & _MASK64)
    x ^= x >> np.uint64(31)
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return [f"{v:016x}" for v in x.tolist()]


def _stamps(n: int, collected_at: str) -> pa.Array:
    value = np.datetime64(collected_at.rstrip("Z"), "us")
    return pa.array(np.full(n, value), SNAPSHOT_SCHEMA.field("collected_at").type)


@dataclass(frozen=True)
class PlannedRow:
    """A row before materialisation: its ARN (the sort key), token and template."""

    arn: str
    token: str
    template: Template


def plan_rows(templates: Mapping[str, list[Template]], counts: Mapping[str, int], offsets: Mapping[str, int],
              rng: np.random.Generator, names: str = "human") -> list[PlannedRow]:
    """`counts[type]` rows per type, token indices from `offsets[type]` on, sorted by ARN."""
    plan: list[PlannedRow] = []
    for salt, (cfn_type, n) in enumerate(counts.items()):
        if n <= 0:
            continue
        pool = templates[cfn_type]
        start = offsets.get(cfn_type, 0)
        if names == "human" and cfn_type in USER_NAMED_TYPES:
            toks = [f"{i:06d}" for i in range(start, start + n)]
        else:
            toks = tokens(start, start + n, salt=(salt + 1) * 0x51ED27)
        fmt = TOKEN_FORMAT.get(cfn_type)
        if fmt:
            toks = [fmt(t) for t in toks]
        for tok, k in zip(toks, rng.integers(0, len(pool), size=n).tolist(), strict=True):
            t = pool[k]
            plan.append(PlannedRow(tok.join(t.arn), tok, t))
    plan.sort(key=lambda p: p.arn)
    return plan


_TAGS_TYPE = SNAPSHOT_SCHEMA.field("tags").type


def materialise(plan: list[PlannedRow], collected_at: str, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                chunk: int = 131_072) -> pa.Table:
    """The snapshot table for `plan`, in plan order; `overrides[arn]` supplies whole rows (changed ones)."""
    overrides = overrides or {}
    sha = hashlib.sha256
    batches = []
    for lo in range(0, len(plan), chunk):
        part = plan[lo:lo + chunk]
        arn, rid, name, cfg, hashes, tpl = [], [], [], [], [], []
        tag_keys: list[str] = []
        tag_values: list[str] = []
        tag_offsets = [0]
        # Local names: this loop runs once per row.
        add_arn, add_rid, add_name, add_cfg, add_hash, add_tpl = (
            arn.append, rid.append, name.append, cfg.append, hashes.append, tpl.append)
        add_keys, add_values, add_offset, get_override = (
            tag_keys.extend, tag_values.extend, tag_offsets.append, overrides.get)
        for p in part:
            t, tok = p.template, p.token
            add_arn(p.arn)
            add_tpl(t)
            add_rid(tok.join(t.resource_id))
            row = get_override(p.arn)
            if row is None:
                add_name(None if t.name is None else tok.join(t.name))
                add_cfg(tok.join(t.configuration))
                add_hash(sha(tok.join(t.hash_payload).encode()).hexdigest())
                add_keys(t.tag_keys)
                add_values([tok.join(v) for v in t.tag_values])
            else:
                add_name(row["name"])
                add_cfg(row["configuration"])
                add_hash(row["content_hash"])
                add_keys([k for k, _ in row["tags"]])
                add_values([v for _, v in row["tags"]])
            add_offset(len(tag_keys))
        n = len(part)
        tags = pa.MapArray.from_arrays(pa.array(tag_offsets, pa.int32()), pa.array(tag_keys, pa.string()),
                                       pa.array(tag_values, pa.string()))
        batches.append(pa.record_batch([
            pa.array(arn, pa.string()),
            pa.array([ACCOUNT] * n, pa.string()),
            pa.array([t.region for t in tpl], pa.string()),
            pa.array([t.rtype.service for t in tpl], pa.string()),
            pa.array([t.rtype.cfn_type for t in tpl], pa.string()),
            pa.array(rid, pa.string()),
            pa.array(name, pa.string()),
            tags.cast(_TAGS_TYPE),
            pa.array(cfg, pa.string()),
            pa.array(hashes, pa.string()),
            pa.array(["api"] * n, pa.string()),
            _stamps(n, collected_at),
        ], schema=SNAPSHOT_SCHEMA))
        del arn, rid, name, cfg, hashes, tpl, tag_keys, tag_values
    return pa.Table.from_batches(batches, schema=SNAPSHOT_SCHEMA)


def split_counts(n: int, types: Iterable[str]) -> dict[str, int]:
    types = list(types)
    total = sum(WEIGHTS[t] for t in types)
    raw = {t: n * WEIGHTS[t] / total for t in types}
    counts = {t: int(v) for t, v in raw.items()}
    for t in sorted(types, key=lambda t: raw[t] - counts[t], reverse=True)[: n - sum(counts.values())]:
        counts[t] += 1
    return counts


# --- day-2 changes --------------------------------------------------------------------------------


def _other(r: random.Random, options: Iterable[Any], current: Any) -> Any:
    return r.choice([o for o in options if o != current])


def _m_tags(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    if "Owner" in t and roll < 0.35:
        t["Owner"] = _other(r, OWNERS, t["Owner"])
        return "tag Owner changed"
    if "CostCenter" in t and roll < 0.55:
        del t["CostCenter"]
        return "tag CostCenter removed"
    if roll < 0.75:
        t["Environment"] = _other(r, ("prod", "staging", "dev", "test"), t.get("Environment"))
        return "tag Environment changed"
    t["ChangeTicket"] = f"CHG-{r.randint(10000, 99999)}"
    return "tag ChangeTicket added"


def _m_instance(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    if roll < 0.35:
        c["InstanceType"] = _other(r, ("t3.medium", "t3.large", "m6i.large", "m6i.2xlarge", "c6g.xlarge"),
                                   c.get("InstanceType"))
        return "instance type changed"
    if roll < 0.55:
        sg = {"GroupId": f"sg-0{r.getrandbits(64):016x}", "GroupName": "added-by-hand"}
        c["SecurityGroups"] = [*c.get("SecurityGroups", []), sg]
        return "security group attached"
    if roll < 0.7:
        c["MetadataOptions"]["HttpTokens"] = _other(r, ("required", "optional"), c["MetadataOptions"]["HttpTokens"])
        return "IMDS HttpTokens flipped"
    if roll < 0.85:
        running = c["State"]["Name"] == "running"
        c["State"] = {"Code": 80 if running else 16, "Name": "stopped" if running else "running"}
        return "state changed"
    c["EbsOptimized"] = not c.get("EbsOptimized", False)
    return "EbsOptimized flipped"


def _m_volume(c: dict, t: dict, r: random.Random) -> str:
    if r.random() < 0.5:
        c["Size"] = int(c["Size"]) * 2
        return "volume grown"
    c["VolumeType"] = _other(r, ("gp2", "gp3", "io2", "st1"), c["VolumeType"])
    return "volume type changed"


def _m_sg(c: dict, t: dict, r: random.Random) -> str:
    rules = c.setdefault("IpPermissions", [])
    roll = r.random()
    if roll < 0.35:
        rules.append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Source": "0.0.0.0/0", "SourceType": "cidr",
                      "Description": "temporary debugging"})
        return "SSH opened to the world"
    if roll < 0.65:
        port = r.choice((443, 8443, 9090, 5601))
        rules.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                      "Source": f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.0/24", "SourceType": "cidr"})
        return "ingress rule added"
    if roll < 0.85 and len(rules) > 1:
        rules.pop(r.randrange(len(rules)))
        return "ingress rule removed"
    c["IpPermissionsEgress"] = [*c.get("IpPermissionsEgress", []),
                                {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Source": "10.0.0.2/32",
                                 "SourceType": "cidr"}]
    return "egress rule added"


def _m_vpc(c: dict, t: dict, r: random.Random) -> str:
    taken = {a["CidrBlock"] for a in c["CidrBlockAssociationSet"]}
    cidr = r.choice([f"10.{k}.0.0/16" for k in range(256) if f"10.{k}.0.0/16" not in taken])
    c["CidrBlockAssociationSet"] = [*c["CidrBlockAssociationSet"],
                                    {"AssociationId": f"vpc-cidr-assoc-0{r.getrandbits(64):016x}",
                                     "CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}]
    return "secondary CIDR associated"


def _m_subnet(c: dict, t: dict, r: random.Random) -> str:
    c["MapPublicIpOnLaunch"] = not c["MapPublicIpOnLaunch"]
    return "MapPublicIpOnLaunch flipped"


def _m_bucket(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    pab = c.get("PublicAccessBlock")
    if roll < 0.4 and pab:
        flag = r.choice(sorted(pab))
        pab[flag] = not pab[flag]
        return f"PublicAccessBlock.{flag} flipped"
    if roll < 0.7:
        c["Versioning"] = {"Status": "Suspended" if c["Versioning"].get("Status") == "Enabled" else "Enabled"}
        return "versioning changed"
    rule = c["Encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    if rule["SSEAlgorithm"] == "aws:kms":
        c["Encryption"]["Rules"][0] = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                       "BucketKeyEnabled": False}
    else:
        rule["SSEAlgorithm"] = "aws:kms"
        rule["KMSMasterKeyID"] = "alias/aws/s3"
    return "default encryption changed"


def _m_role(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    if roll < 0.3:
        c["AssumeRolePolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{r.randint(10**11, 10**12 - 1)}:root"]},
             "Action": ["sts:AssumeRole"]})
        return "trust policy widened"
    if roll < 0.55:
        arn = "arn:aws:iam::aws:policy/AdministratorAccess" if r.random() < 0.3 else \
            "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
        c["AttachedManagedPolicies"] = [*c.get("AttachedManagedPolicies", []),
                                        {"PolicyArn": arn, "PolicyName": arn.rsplit("/", 1)[-1]}]
        return "managed policy attached"
    c["MaxSessionDuration"] = _other(r, (3600, 7200, 14400, 43200), c["MaxSessionDuration"])
    return "MaxSessionDuration changed"


def _m_user(c: dict, t: dict, r: random.Random) -> str:
    if c.get("MFADevices") and r.random() < 0.4:
        c["MFADevices"] = []
        return "MFA device removed"
    c["Groups"] = sorted({*c.get("Groups", []), r.choice(("admins", "release-managers", "support"))})
    return "group added"


def _m_policy(c: dict, t: dict, r: random.Random) -> str:
    statements = c["PolicyDocument"]["Statement"]
    if r.random() < 0.3:
        statements.append({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]})
        return "statement with Resource * added"
    statements[0]["Action"] = sorted({*statements[0]["Action"], "s3:DeleteObjectVersion"})
    return "action added"


def _m_rds(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    if roll < 0.3:
        c["DBInstanceClass"] = _other(r, ("db.r6g.large", "db.r6g.2xlarge", "db.m6g.xlarge"), c["DBInstanceClass"])
        return "instance class changed"
    if roll < 0.5:
        c["MultiAZ"] = not c["MultiAZ"]
        return "MultiAZ flipped"
    if roll < 0.6:
        c["PubliclyAccessible"] = not c["PubliclyAccessible"]
        return "PubliclyAccessible flipped"
    if roll < 0.8:
        c["BackupRetentionPeriod"] = _other(r, (0, 1, 7, 14, 35), c["BackupRetentionPeriod"])
        return "backup retention changed"
    c["DeletionProtection"] = not c["DeletionProtection"]
    return "DeletionProtection flipped"


def _m_lambda(c: dict, t: dict, r: random.Random) -> str:
    roll = r.random()
    if roll < 0.3:
        c["Runtime"] = _other(r, ("python3.12", "python3.13", "nodejs20.x", "nodejs22.x"), c["Runtime"])
        return "runtime changed"
    if roll < 0.55:
        c["MemorySize"] = _other(r, (128, 256, 512, 1024, 2048, 3008), c["MemorySize"])
        return "memory changed"
    if roll < 0.75:
        c["Timeout"] = _other(r, (3, 15, 30, 120, 900), c["Timeout"])
        return "timeout changed"
    c.setdefault("Environment", {"Variables": {}})["Variables"]["FEATURE_FLAG"] = "on"
    return "environment variable added"


def _m_table(c: dict, t: dict, r: random.Random) -> str:
    if r.random() < 0.5:
        c["DeletionProtectionEnabled"] = not c.get("DeletionProtectionEnabled", False)
        return "deletion protection flipped"
    c["TableClassSummary"] = {"TableClass": "STANDARD_INFREQUENT_ACCESS"
                              if c["TableClassSummary"]["TableClass"] == "STANDARD" else "STANDARD"}
    return "table class changed"


def _m_topic(c: dict, t: dict, r: random.Random) -> str:
    attrs = c["Attributes"]
    if "KmsMasterKeyId" in attrs and r.random() < 0.5:
        del attrs["KmsMasterKeyId"]
        return "topic encryption removed"
    attrs["DisplayName"] = f"Alerts {r.randint(1, 99)}"
    return "display name changed"


def _m_queue(c: dict, t: dict, r: random.Random) -> str:
    attrs = c["Attributes"]
    roll = r.random()
    if roll < 0.4:
        attrs["VisibilityTimeout"] = _other(r, ("30", "60", "120", "300", "900"), attrs["VisibilityTimeout"])
        return "visibility timeout changed"
    if roll < 0.6:
        attrs["SqsManagedSseEnabled"] = "false"
        return "SSE disabled"
    attrs["MessageRetentionPeriod"] = _other(r, ("86400", "345600", "1209600"), attrs["MessageRetentionPeriod"])
    return "retention changed"


def _m_key(c: dict, t: dict, r: random.Random) -> str:
    if r.random() < 0.6:
        c["KeyRotationEnabled"] = not c.get("KeyRotationEnabled", False)
        return "key rotation flipped"
    c["Description"] = f"{c.get('Description', '')} (rotated)"
    return "description changed"


MUTATORS: dict[str, Callable[[dict, dict, random.Random], str]] = {
    "AWS::EC2::Instance": _m_instance, "AWS::EC2::Volume": _m_volume, "AWS::EC2::SecurityGroup": _m_sg,
    "AWS::EC2::VPC": _m_vpc, "AWS::EC2::Subnet": _m_subnet, "AWS::S3::Bucket": _m_bucket,
    "AWS::IAM::Role": _m_role, "AWS::IAM::User": _m_user, "AWS::IAM::ManagedPolicy": _m_policy,
    "AWS::RDS::DBInstance": _m_rds, "AWS::Lambda::Function": _m_lambda, "AWS::DynamoDB::Table": _m_table,
    "AWS::SNS::Topic": _m_topic, "AWS::SQS::Queue": _m_queue, "AWS::KMS::Key": _m_key,
}


def _bump(value: Any, r: random.Random) -> Any:
    """A different value of the same kind (for volatile fields)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + r.randint(1, 500)
    if isinstance(value, dict):
        return {k: _bump(v, r) for k, v in value.items()}
    if isinstance(value, str):
        if value.isdigit():
            return str(int(value) + r.randint(1, 500))
        if len(value) >= 19 and value[4] == "-" and value[10] == "T":
            return _ts(r, 2026)
        return f"{value}-{r.randint(1, 999)}" if value else f"changed {r.randint(1, 999)}"
    return value


def _bump_at(value: Any, segments: tuple[str, ...], r: random.Random) -> bool:
    if not segments:
        return False
    head, rest = segments[0], segments[1:]
    if head == "[]":
        return any([_bump_at(item, rest, r) for item in value]) if isinstance(value, list) else False
    if not isinstance(value, dict) or head not in value:
        return False
    if rest:
        return _bump_at(value[head], rest, r)
    value[head] = _bump(value[head], r)
    return True


def _shuffle_lists(value: Any, path: tuple[str, ...], ordered: set[str], r: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _shuffle_lists(v, (*path, k), ordered, r) for k, v in value.items()}
    if isinstance(value, list):
        items = [_shuffle_lists(v, (*path, "[]"), ordered, r) for v in value]
        if pattern_of(path) not in ordered:
            r.shuffle(items)
        return items
    return value


def _recanonicalise(config: dict[str, Any], before: Mapping[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """The real canonicaliser, applied to the top-level keys a mutation touched (the rest is canonical)."""
    touched = {k: v for k, v in config.items() if before.get(k) != v}
    if touched:
        config.update(canonicalise_configuration(touched, rtype))
    return dict(sorted(config.items()))


def _row_dict_to_parts(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return json.loads(row["configuration"]), dict(row["tags"] or [])


@dataclass
class Truth:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: dict[str, str] = field(default_factory=dict)  # arn -> what changed
    volatile_only: list[str] = field(default_factory=list)
    order_only: list[str] = field(default_factory=list)
    order_only_demonstrated: int = 0

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "modified": len(self.modified),
                "volatile_only": len(self.volatile_only), "order_only": len(self.order_only)}


def derive_day2(day1: pa.Table, plan1: list[PlannedRow], templates: Mapping[str, list[Template]],
                type_counts: Mapping[str, int], *, seed: int, modified: float = 0.05, added: float = 0.01,
                removed: float = 0.01, volatile: float = 0.02, order_only: float = 0.02,
                demonstrate_order: int = 2000, names: str = "human") -> tuple[pa.Table, list[PlannedRow], Truth]:
    n = day1.num_rows
    rng = np.random.default_rng(seed + 2)
    r = random.Random(seed + 3)
    truth = Truth()
    volatile_ok = np.fromiter((p.template.has_volatile for p in plan1), dtype=bool, count=n)
    perm = rng.permutation(n)
    n_rem, n_mod, n_vol, n_ord = (round(n * f) for f in (removed, modified, volatile, order_only))
    rem_idx = np.sort(perm[:n_rem])
    mod_idx = np.sort(perm[n_rem:n_rem + n_mod])
    rest = perm[n_rem + n_mod:]
    vol_idx = np.sort(rest[volatile_ok[rest]][:n_vol])
    rest = np.setdiff1d(rest, vol_idx, assume_unique=True)
    ord_idx = np.sort(rng.permutation(rest)[:n_ord])

    truth.removed = [plan1[i].arn for i in rem_idx.tolist()]
    truth.order_only = [plan1[i].arn for i in ord_idx.tolist()]

    overrides: dict[str, dict[str, Any]] = {}
    for idx, kind in ((mod_idx, "modified"), (vol_idx, "volatile")):
        for row in day1.take(pa.array(idx)).to_pylist():
            rtype = REGISTRY[row["resource_type"]]
            config, tags = _row_dict_to_parts(row)
            if kind == "modified":
                before = json.loads(row["configuration"])
                mutate = _m_tags if r.random() < 0.25 else MUTATORS.get(rtype.cfn_type, _m_tags)
                what = mutate(config, tags, r)
                config = _recanonicalise(config, before, rtype)
                new_hash = content_hash(config, tags, rtype.volatile_paths)
                if new_hash == row["content_hash"]:  # a no-op mutation (rare): make it a real change
                    tags["ChangeTicket"] = f"CHG-{r.randint(10000, 99999)}"
                    what = "tag ChangeTicket added"
                    new_hash = content_hash(config, tags, rtype.volatile_paths)
                assert new_hash != row["content_hash"], row["arn"]
                truth.modified[row["arn"]] = what
            else:
                # Timestamps, counters, tokens: scalar (or small dict) values, not lists.
                present = [v for v in rtype.volatile_paths
                           if any(x != {} and not isinstance(x, list) for x in get_path(config, v))]
                for path in r.sample(present, min(len(present), r.randint(1, 2))):
                    _bump_at(config, split_pattern(path), r)
                # Volatile scalars are never part of a list item's identity, so the order stands
                # (verify_sample re-checks a share of these rows with the full canonicaliser).
                new_hash = content_hash(config, tags, rtype.volatile_paths)
                assert new_hash == row["content_hash"], f"volatile-only change altered the hash of {row['arn']}"
                assert canonical_json(config) != row["configuration"], row["arn"]
                truth.volatile_only.append(row["arn"])
            overrides[row["arn"]] = {"configuration": canonical_json(config), "content_hash": new_hash,
                                     "tags": sorted(tags.items()),
                                     "name": resource_name(rtype, config, tags, row["arn"])}

    # Order-only: the API may list items in any order; canonicalisation makes the text identical.
    for row in day1.take(pa.array(ord_idx[:demonstrate_order])).to_pylist():
        rtype = REGISTRY[row["resource_type"]]
        shuffled = _shuffle_lists(json.loads(row["configuration"]), (), set(rtype.ordered_paths), r)
        again = canonical_json(canonicalise_configuration(shuffled, rtype))
        assert again == row["configuration"], f"order-only change not absorbed for {row['arn']}"
        truth.order_only_demonstrated += 1

    drop = np.zeros(n, dtype=bool)
    drop[rem_idx] = True
    kept = [p for p, gone in zip(plan1, drop.tolist(), strict=True) if not gone]
    new_plan = plan_rows(templates, split_counts(round(n * added), templates), type_counts, rng, names)
    truth.added = [p.arn for p in new_plan]
    plan2 = list(heapq.merge(kept, new_plan, key=lambda p: p.arn))
    return materialise(plan2, COLLECTED[DAY2], overrides), plan2, truth


# --- checks and files -----------------------------------------------------------------------------


def verify_sample(table: pa.Table, size: int, seed: int, also: Iterable[str] = ()) -> int:
    """Real canonicaliser and real content_hash on sampled rows; raises on the first disagreement."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(table.num_rows, size=min(size, table.num_rows), replace=False)
    picked = table.take(pa.array(np.sort(idx)))
    extra = list(also)
    if extra:
        picked = pa.concat_tables([picked, table.filter(pc.is_in(table.column("arn"), pa.array(extra)))])
    checked = 0
    for row in picked.to_pylist():
        rtype = REGISTRY[row["resource_type"]]
        config, tags = _row_dict_to_parts(row)
        again = canonical_json(canonicalise_configuration(config, rtype))
        if again != row["configuration"]:
            raise AssertionError(f"{row['arn']}: stored configuration is not canonical")
        real = content_hash(config, tags, rtype.volatile_paths)
        if real != row["content_hash"]:
            raise AssertionError(f"{row['arn']}: content_hash {row['content_hash']} != real {real}")
        if resource_name(rtype, config, tags, row["arn"]) != row["name"]:
            raise AssertionError(f"{row['arn']}: name {row['name']!r} does not follow the naming rule")
        checked += 1
    arns = table.column("arn").combine_chunks()
    if table.num_rows > 1 and not pc.all(pc.less(arns.slice(0, len(arns) - 1), arns.slice(1))).as_py():
        raise AssertionError("rows are not sorted by ARN, or ARNs are not unique")
    return checked


def coverage_for(table: pa.Table) -> list[dict[str, Any]]:
    """Every (service, region) scope as `ok`, with its resource count, the collector's way."""
    global_services = {s for s in {t.service for t in REGISTRY.values()}
                       if all(t.is_global for t in REGISTRY.values() if t.service == s)}
    scopes = [(s, GLOBAL_REGION) for s in sorted(global_services)]
    scopes += [(s, reg) for s in sorted({t.service for t in REGISTRY.values()} - global_services) for reg in REGIONS]
    counts: dict[tuple[str, str], dict[str, int]] = {}
    grouped = table.group_by(["service", "region", "resource_type"]).aggregate([("arn", "count")])
    for row in grouped.to_pylist():
        region = GLOBAL_REGION if row["service"] in global_services else row["region"]
        counts.setdefault((row["service"], region), {})[row["resource_type"]] = row["arn_count"]
    return [{"service": s, "region": reg, "status": "ok", "error": None, "error_class": None,
             "resource_count": sum(counts.get((s, reg), {}).values()), "api_calls": 0, "duration_s": 0.0,
             "types": dict(sorted(counts.get((s, reg), {}).items()))} for s, reg in scopes]


def write_snapshot(table: pa.Table, folder: Path, date: str) -> dict[str, float]:
    """snapshot.parquet via the product's table_to_parquet_bytes, then manifest.json; returns timings."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = table_to_parquet_bytes(table)
    t1 = time.perf_counter()
    (folder / "snapshot.parquet").write_bytes(data)
    t2 = time.perf_counter()
    manifest = build_manifest(account_id=ACCOUNT, date=date, collected_at=COLLECTED[date], regions=list(REGIONS),
                              row_count=table.num_rows, sha256=sha256_hex(data), coverage=coverage_for(table),
                              extra={"source": "api", "synthetic": True})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {"encode_s": t1 - t0, "file_write_s": t2 - t1, "write_s": t2 - t0, "bytes": len(data)}


@dataclass
class Pair:
    n: int
    folder: Path
    day1: Path
    day2: Path
    truth: Truth
    timings: dict[str, float]
    write: dict[str, dict[str, float]]
    verified_rows: int


def generate_pair(n: int, root: Path, *, seed: int = 7, templates_per_type: int = 256, verify_rows: int = 1500,
                  quiet: bool = False, names: str = "human") -> Pair:
    """Build both days in memory, verify a sample, write DIR/N/day{1,2}/snapshot.parquet (+ manifests)."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    templates = build_templates(templates_per_type, seed)
    timings["templates_s"] = time.perf_counter() - t

    t = time.perf_counter()
    counts = split_counts(n, templates)
    plan1 = plan_rows(templates, counts, {}, np.random.default_rng(seed), names)
    day1 = materialise(plan1, COLLECTED[DAY1])
    timings["day1_s"] = time.perf_counter() - t

    t = time.perf_counter()
    day2, plan2, truth = derive_day2(day1, plan1, templates, counts, seed=seed, names=names)
    del plan1, plan2
    timings["day2_s"] = time.perf_counter() - t

    t = time.perf_counter()
    sample_changed = [*list(truth.modified)[:500], *truth.volatile_only[:300], *truth.added[:200]]
    verified = verify_sample(day1, verify_rows, seed) + verify_sample(day2, verify_rows, seed + 1, sample_changed)
    timings["verify_s"] = time.perf_counter() - t

    folder = root / str(n)
    write = {}
    t = time.perf_counter()
    write["day1"] = write_snapshot(day1, folder / "day1", DAY1)
    write["day2"] = write_snapshot(day2, folder / "day2", DAY2)
    timings["write_s"] = time.perf_counter() - t
    (folder / "truth.json").write_text(json.dumps({
        "counts": truth.counts(), "order_only_demonstrated": truth.order_only_demonstrated,
        "modified": truth.modified, "added": truth.added, "removed": truth.removed,
        "volatile_only": truth.volatile_only, "order_only": truth.order_only,
    }, indent=1, sort_keys=True) + "\n")
    timings["total_s"] = sum(timings.values())
    if not quiet:
        print(f"  generated N={n}: day1 {day1.num_rows} rows, day2 {day2.num_rows} rows; {truth.counts()}; "
              f"verified {verified} rows with the real canonicaliser/content_hash; "
              + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), flush=True)
    return Pair(n, folder, folder / "day1" / "snapshot.parquet", folder / "day2" / "snapshot.parquet", truth,
                timings, write, verified)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic day-1/day-2 snapshot pair (DESIGN §5).")
    parser.add_argument("n", type=int)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--names", choices=NAME_STYLES, default="human",
                        help="how user-named types (buckets, roles, functions, queues, ...) are named")
    args = parser.parse_args(argv)
    pair = generate_pair(args.n, args.dir, seed=args.seed, names=args.names)
    print(f"{pair.day1}\n{pair.day2}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
