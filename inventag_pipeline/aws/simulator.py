"""A simulated AWS account inside a moto server, for the demo and for tests.

The inventory pipeline is only convincing if it runs against something that looks like a real estate:
a few hundred API objects across regions, imperfect tagging, and a day-2/day-3 history with the kinds of
changes a changelog must explain (and the kinds it must *not* report: volatile counters, list order).
Everything goes through plain boto3 clients pointed at a moto *server* endpoint, so the code under test
talks HTTP exactly as it would to AWS; nothing here uses moto's in-process decorators.

The baseline is fixed (names, tags, CIDRs, rules) so two seeds differ only in moto's generated ids.
Mutations look resources up by name at apply time, so a fresh :class:`SimulatedAccount` can drive an
account seeded earlier (for example by another process of the demo).
"""

from __future__ import annotations

import io
import json
import logging
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config

SIMULATED_ACCOUNT_ID = "123456789012"
SIMULATED_REGIONS = ("us-east-1", "eu-west-1")
_GLOBAL = "global"

_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# The role AWS Organizations creates in accounts it creates; the simulator seeds members through it.
MEMBER_ACCESS_ROLE = "OrganizationAccountAccessRole"
_PREFERRED_AMI = "ami-12c6146b"  # Amazon Linux AMI that ships in moto's built-in image list
_DUMMY_DB_PASSWORD = "simulated-only-Passw0rd"  # moto stores it; it never leaves the fake account

# Owners and cost centres of the fictional company ("acme").
_PLATFORM, _WEB, _PAYMENTS, _DATA, _SECURITY = (
    "platform@example.com",
    "web-team@example.com",
    "payments@example.com",
    "data-eng@example.com",
    "security@example.com",
)
_COST_CENTER = {
    _PLATFORM: "CC-1001", _WEB: "CC-1002", _PAYMENTS: "CC-2001", _DATA: "CC-3001", _SECURITY: "CC-4001",
}
_PROD, _STAGING, _DEV = "production", "staging", "development"


@dataclass(frozen=True)
class InjectedChange:
    """One scripted change, in the vocabulary the changelog is expected to use."""

    day: int
    resource_type: str
    locator: str
    region: str
    change_type: str
    paths: tuple[str, ...]
    description: str


# ---------------------------------------------------------------------------------------------------------
# Baseline specification (per region unless noted). Plain data so the estate is readable at a glance.
# ---------------------------------------------------------------------------------------------------------


def _tags(env: str, owner: str, name: str | None = None, omit: Iterable[str] = ()) -> dict[str, str]:
    """Standard tag set; ``omit`` drops keys to model the ~10% of resources that are non-compliant."""
    tags = {"Name": name} if name else {}
    tags.update({"Environment": env, "Owner": owner, "CostCenter": _COST_CENTER[owner]})
    for key in omit:
        tags.pop(key, None)
    return tags


def _kv(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


@dataclass(frozen=True)
class _Vpc:
    name: str
    octet_offset: int  # second octet = 20 * region index + offset
    env: str
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Subnet:
    suffix: str  # subnet name is f"{vpc prefix}-{suffix}"
    third_octet: int
    az: str
    public: bool


@dataclass(frozen=True)
class _Sg:
    name: str
    vpc: str
    description: str
    ingress: tuple[tuple[int, str], ...]  # (tcp port, CIDR or name of another SG)
    owner: str = _PLATFORM
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Instance:
    name: str
    instance_type: str
    subnet: str
    sgs: tuple[str, ...]
    owner: str
    env: str = _PROD
    imds_required: bool = True
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Volume:
    name: str
    size: int
    volume_type: str
    encrypted: bool
    attach_to: str | None  # instance name; the volume is created in that instance's AZ
    owner: str
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Bucket:
    base: str  # bucket name is f"acme-{base}-{region code}"
    owner: str
    env: str = _PROD
    public_access_block: bool = True
    encryption: str | None = "AES256"  # "AES256", "aws:kms" or None
    versioning: bool = False
    tls_only_policy: bool = False
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Role:
    name: str
    service: str | None  # trusted service principal; None = trusted by the account root (CI)
    managed: tuple[str, ...]  # AWS-managed policy paths under arn:aws:iam::aws:policy/
    customer: tuple[str, ...]  # customer-managed policy names
    owner: str
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _User:
    name: str
    groups: tuple[str, ...]
    customer: tuple[str, ...]
    owner: str
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Db:
    identifier: str
    instance_class: str
    storage: int
    encrypted: bool
    multi_az: bool
    sg: str
    subnet_group: str
    owner: str
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Function:
    name: str
    role: str
    description: str
    in_vpc: bool
    memory: int
    timeout: int
    owner: str
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Table:
    name: str
    partition_key: str
    sort_key: str | None
    owner: str
    env: str = _PROD
    provisioned: bool = False
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Topic:
    name: str
    owner: str
    env: str = _PROD
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Queue:
    name: str
    owner: str
    env: str = _PROD
    dlq: str | None = None
    retention_days: int = 4
    visibility_timeout: int = 30
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Key:
    description: str
    name: str
    owner: str
    rotation: bool
    env: str = _PROD
    omit: tuple[str, ...] = ()


_VPCS = (_Vpc("prod-vpc", 0, _PROD), _Vpc("staging-vpc", 1, _STAGING))
_SUBNETS = (
    _Subnet("public-a", 0, "a", True),
    _Subnet("public-b", 1, "b", True),
    _Subnet("private-a", 10, "a", False),
    _Subnet("private-b", 11, "b", False),
)

_SECURITY_GROUPS = (
    _Sg("web-sg", "prod-vpc", "Public HTTPS/HTTP for the web tier", ((443, "0.0.0.0/0"), (80, "0.0.0.0/0")),
        _WEB),
    _Sg("app-sg", "prod-vpc", "API tier, reachable from the web tier", ((8080, "web-sg"),), _PAYMENTS),
    _Sg("db-sg", "prod-vpc", "PostgreSQL from app and lambda", ((5432, "app-sg"), (5432, "lambda-sg")), _DATA),
    _Sg("bastion-sg", "prod-vpc", "SSH bastion, internal ranges only", ((22, "10.0.0.0/8"),), _SECURITY),
    _Sg("worker-sg", "prod-vpc", "Background workers, SSH via bastion", ((22, "bastion-sg"),), _PLATFORM),
    _Sg("lambda-sg", "prod-vpc", "VPC-attached Lambda functions", (), _PLATFORM),
    _Sg("monitoring-sg", "prod-vpc", "Node exporter scraping", ((9100, "10.0.0.0/8"),), _PLATFORM,
        omit=("Owner",)),
    _Sg("cache-sg", "prod-vpc", "Redis from the API tier", ((6379, "app-sg"),), _PAYMENTS),
    _Sg("staging-web-sg", "staging-vpc", "Staging web tier", ((443, "0.0.0.0/0"), (22, "10.0.0.0/8")), _WEB,
        env=_STAGING),
    _Sg("staging-db-sg", "staging-vpc", "Staging PostgreSQL", ((5432, "staging-web-sg"),), _DATA, env=_STAGING),
)

_INSTANCES = (
    _Instance("prod-web-1", "t3.micro", "prod-public-a", ("web-sg",), _WEB),
    _Instance("prod-web-2", "t3.micro", "prod-public-b", ("web-sg",), _WEB),
    _Instance("prod-api-1", "m5.large", "prod-private-a", ("app-sg",), _PAYMENTS),
    _Instance("prod-api-2", "m5.large", "prod-private-b", ("app-sg",), _PAYMENTS),
    _Instance("prod-worker-1", "m5.large", "prod-private-a", ("worker-sg",), _PLATFORM),
    _Instance("bastion-1", "t3.micro", "prod-public-a", ("bastion-sg",), _SECURITY, imds_required=False),
    _Instance("reporting-1", "t3.micro", "prod-private-b", ("app-sg",), _DATA, env=_STAGING,
              imds_required=False, omit=("CostCenter",)),
    _Instance("staging-web-1", "t3.micro", "staging-public-a", ("staging-web-sg",), _WEB, env=_STAGING),
)

_VOLUMES = (
    _Volume("prod-web-1-logs", 20, "gp3", True, "prod-web-1", _WEB),
    _Volume("prod-api-1-data", 100, "gp3", True, "prod-api-1", _PAYMENTS),
    _Volume("prod-worker-1-scratch", 200, "gp3", False, "prod-worker-1", _PLATFORM),
    _Volume("reporting-1-data", 500, "st1", False, "reporting-1", _DATA, env=_STAGING),
    _Volume("staging-web-1-data", 30, "gp3", True, "staging-web-1", _WEB, env=_STAGING),
    _Volume("db-migration-snapshot-vol", 100, "gp3", True, None, _DATA),
    _Volume("legacy-export-vol", 50, "gp2", False, None, _DATA, omit=("Owner",)),
)

_BUCKETS = (
    _Bucket("prod-web-assets", _WEB, versioning=True),
    _Bucket("prod-app-uploads", _PAYMENTS, encryption="aws:kms", versioning=True, tls_only_policy=True),
    _Bucket("prod-logs", _PLATFORM, tls_only_policy=True),
    _Bucket("data-lake-raw", _DATA, encryption="aws:kms", versioning=True),
    _Bucket("staging-web-assets", _WEB, env=_STAGING, public_access_block=False),
    _Bucket("reporting-exports", _DATA, encryption=None, omit=("Owner",)),
)

_POLICIES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "web-assets-read": (_WEB, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::acme-prod-web-assets-*", "arn:aws:s3:::acme-prod-web-assets-*/*"]},
    ]),
    "app-uploads-rw": (_PAYMENTS, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::acme-prod-app-uploads-*/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": f"arn:aws:kms:*:{SIMULATED_ACCOUNT_ID}:key/*"},
    ]),
    "data-lake-write": (_DATA, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::acme-data-lake-raw-*", "arn:aws:s3:::acme-data-lake-raw-*/*"]},
    ]),
    "data-lake-read": (_DATA, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::acme-data-lake-raw-*", "arn:aws:s3:::acme-data-lake-raw-*/*"]},
    ]),
    "queue-consumer": (_PLATFORM, [
        {"Effect": "Allow",
         "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes"],
         "Resource": f"arn:aws:sqs:*:{SIMULATED_ACCOUNT_ID}:prod-*"},
    ]),
    "ci-artifacts-write": (_PLATFORM, [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::acme-prod-web-assets-*/*"},
        {"Effect": "Allow", "Action": ["lambda:UpdateFunctionCode", "lambda:PublishVersion"],
         "Resource": f"arn:aws:lambda:*:{SIMULATED_ACCOUNT_ID}:function:*"},
    ]),
    "developer-self-service": (_SECURITY, [
        {"Effect": "Allow", "Action": ["iam:ChangePassword", "iam:GetUser", "iam:*MFADevice"],
         "Resource": f"arn:aws:iam::{SIMULATED_ACCOUNT_ID}:user/${{aws:username}}"},
    ]),
}

_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # name -> (AWS-managed, customer-managed)
    "admins": (("AdministratorAccess",), ()),
    "developers": (("ReadOnlyAccess",), ("developer-self-service",)),
    "data-analysts": ((), ("data-lake-read", "developer-self-service")),
}

_SSM = "AmazonSSMManagedInstanceCore"
_LAMBDA_BASIC = "service-role/AWSLambdaBasicExecutionRole"
_LAMBDA_VPC = "service-role/AWSLambdaVPCAccessExecutionRole"
_ROLES = (
    _Role("web-ec2-role", "ec2.amazonaws.com", (_SSM,), ("web-assets-read",), _WEB),
    _Role("api-ec2-role", "ec2.amazonaws.com", (_SSM,), ("app-uploads-rw",), _PAYMENTS),
    _Role("worker-ec2-role", "ec2.amazonaws.com", (_SSM,), ("queue-consumer", "data-lake-write"), _PLATFORM),
    _Role("reporting-ec2-role", "ec2.amazonaws.com", (), ("data-lake-read",), _DATA, omit=("CostCenter",)),
    _Role("bastion-ec2-role", "ec2.amazonaws.com", (_SSM,), (), _SECURITY),
    _Role("lambda-thumbnailer-role", "lambda.amazonaws.com", (_LAMBDA_BASIC,), ("app-uploads-rw",), _WEB),
    _Role("lambda-api-role", "lambda.amazonaws.com", (_LAMBDA_BASIC, _LAMBDA_VPC), (), _PAYMENTS),
    _Role("lambda-etl-role", "lambda.amazonaws.com", (_LAMBDA_BASIC, _LAMBDA_VPC), ("data-lake-write",),
          _DATA),
    _Role("ci-deploy-role", None, ("PowerUserAccess",), ("ci-artifacts-write",), _PLATFORM),
)

_USERS = (
    _User("alice.nguyen", ("admins",), (), _SECURITY),
    _User("bob.smith", ("developers",), (), _WEB, env=_DEV),
    _User("carol.diaz", ("developers",), (), _PAYMENTS, env=_DEV),
    _User("dave.okafor", ("data-analysts",), (), _DATA),
    _User("erin.walsh", ("data-analysts", "developers"), (), _DATA),
    _User("ci-deployer", (), ("ci-artifacts-write",), _PLATFORM),
    _User("legacy-backup-user", (), ("data-lake-read",), _DATA, omit=("Owner",)),
)

_DB_SUBNET_GROUPS = {"prod-db-subnets": "prod", "staging-db-subnets": "staging"}  # -> VPC prefix
_DATABASES = (
    _Db("prod-orders-db", "db.m5.large", 100, True, True, "db-sg", "prod-db-subnets", _PAYMENTS),
    _Db("prod-reporting-db", "db.t3.medium", 200, True, False, "db-sg", "prod-db-subnets", _DATA),
    _Db("staging-app-db", "db.t3.micro", 20, False, False, "staging-db-sg", "staging-db-subnets", _PAYMENTS,
        env=_STAGING, omit=("CostCenter",)),
)

_FUNCTIONS = (
    _Function("api-authorizer", "lambda-api-role", "JWT authorizer for the public API", True, 256, 10,
              _PAYMENTS),
    _Function("orders-webhook", "lambda-api-role", "Receives payment provider webhooks", True, 512, 30,
              _PAYMENTS),
    _Function("image-thumbnailer", "lambda-thumbnailer-role", "Creates thumbnails for uploads", False, 1024,
              60, _WEB),
    _Function("nightly-etl", "lambda-etl-role", "Nightly load from orders DB into the data lake", True, 2048,
              900, _DATA),
    _Function("legacy-report-mailer", "lambda-etl-role", "Old weekly report e-mailer", False, 128, 300, _DATA,
              omit=("Owner",)),
)

_TABLES = (
    _Table("prod-orders", "order_id", "created_at", _PAYMENTS),
    _Table("prod-user-sessions", "session_id", None, _WEB, provisioned=True),
    _Table("analytics-events", "event_id", "ts", _DATA, env=_STAGING),
    _Table("dev-feature-flags", "flag", None, _WEB, env=_DEV),
    _Table("legacy-audit-trail", "entity_id", "ts", _SECURITY, omit=("CostCenter",)),
)

_TOPICS = (
    _Topic("prod-alerts", _PLATFORM),
    _Topic("prod-order-events", _PAYMENTS),
    _Topic("staging-alerts", _PLATFORM, env=_STAGING),
    _Topic("billing-notifications", _PAYMENTS, omit=("Owner",)),
)

_QUEUES = (
    _Queue("prod-orders-dlq", _PAYMENTS, retention_days=14),
    _Queue("prod-orders", _PAYMENTS, dlq="prod-orders-dlq", visibility_timeout=60),
    _Queue("prod-email-outbound", _PLATFORM),
    _Queue("prod-thumbnail-jobs", _WEB, visibility_timeout=120),
    _Queue("staging-orders", _PAYMENTS, env=_STAGING, omit=("CostCenter",)),
)

_KEYS = (
    _Key("Production application data key", "prod-app-data", _PLATFORM, rotation=True),
    _Key("Data lake encryption key", "data-lake", _DATA, rotation=True),
    _Key("Staging general-purpose key", "staging-general", _PLATFORM, rotation=False, env=_STAGING),
)


def _region_code(region: str) -> str:
    """'us-east-1' -> 'use1': short suffix that keeps S3 bucket names globally unique per region."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    return f"{parts[0]}{parts[1][0]}{parts[-1]}"


def _bucket_name(base: str, region: str, account_id: str = SIMULATED_ACCOUNT_ID) -> str:
    """Bucket names are global across accounts: another account's carry the end of its id."""
    suffix = "" if account_id == SIMULATED_ACCOUNT_ID else f"-{account_id[-4:]}"
    return f"acme-{base}-{_region_code(region)}{suffix}"


def _trust_policy(service: str | None) -> str:
    principal = {"Service": service} if service else {"AWS": f"arn:aws:iam::{SIMULATED_ACCOUNT_ID}:root"}
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if service is None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": "acme-ci"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    return buf.getvalue()


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


# ---------------------------------------------------------------------------------------------------------
# The account
# ---------------------------------------------------------------------------------------------------------

_SSH_WORLD = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary vendor access"}]}
_SSH_WORLD_PATH = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"


class SimulatedAccount:
    """Seeds and mutates a fixed, realistic estate in a moto server.

    ``regions[0]`` is the primary region (most day-2/3 changes), ``regions[-1]`` the secondary one.
    With an ``account_id`` other than the default, the estate goes into that account of the same moto
    server, reached the way an organization's management account reaches a member: by assuming the
    member's ``OrganizationAccountAccessRole`` (moto keeps one isolated backend per account id).
    """

    def __init__(self, endpoint_url: str, regions: Sequence[str] = SIMULATED_REGIONS,
                 account_id: str = SIMULATED_ACCOUNT_ID) -> None:
        if not regions:
            raise ValueError("at least one region is required")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.regions: tuple[str, ...] = tuple(regions)
        self.account_id = account_id
        # Ignore AWS_PROFILE/AWS_DEFAULT_PROFILE: a developer's profile (or a missing one) must not leak into
        # the fake account; credentials, region and endpoint are all explicit anyway.
        isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        self._session = boto3.session.Session(botocore_session=isolated, **_CREDENTIALS)
        # Bypass any HTTP(S)_PROXY for a local moto server: a corporate proxy cannot reach 127.0.0.1.
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"},
                              proxies={} if _is_loopback(endpoint_url) else None)
        if account_id != SIMULATED_ACCOUNT_ID:
            self._session = self._member_session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._created: list[tuple[str, str, str]] = []  # (resource type, region, locator) created by us

    def _member_session(self) -> boto3.session.Session:
        sts = self._session.client("sts", region_name=self.primary, endpoint_url=self.endpoint_url,
                                   config=self._config)
        role = f"arn:aws:iam::{self.account_id}:role/{MEMBER_ACCESS_ROLE}"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="inventag-simulator")["Credentials"]
        # A botocore session serves one boto3 session (boto3 registers its handlers on it).
        isolated = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        return boto3.session.Session(
            botocore_session=isolated, aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])

    def bucket_name(self, base: str, region: str) -> str:
        return _bucket_name(base, region, self.account_id)

    @property
    def primary(self) -> str:
        return self.regions[0]

    @property
    def secondary(self) -> str:
        return self.regions[-1]

    def client(self, service: str, region: str) -> Any:
        """A cached boto3 client for the simulated account (IAM is global and lives in the primary region)."""
        region = self.primary if region == _GLOBAL else region
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self._config
            )
        return self._clients[key]

    # -- seeding --------------------------------------------------------------------------------------------

    def seed(self) -> int:
        """Create the baseline estate; returns how many resources were created (root volumes included)."""
        if self._find_vpc(self.primary, "prod-vpc") is not None:
            raise RuntimeError(f"{self.endpoint_url} already holds a seeded account; start a fresh server")
        self._created = []
        self._seed_iam()
        for index, region in enumerate(self.regions):
            self._seed_region(index, region)
        return len(self._created)

    def _record(self, resource_type: str, region: str, locator: str) -> None:
        self._created.append((resource_type, region, locator))

    def _seed_iam(self) -> None:
        iam = self.client("iam", _GLOBAL)
        try:
            iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        except iam.exceptions.NoSuchEntityException:
            raise RuntimeError(
                "the moto server does not know AWS-managed IAM policies; use SimulatorServer or start "
                "moto with MOTO_IAM_LOAD_MANAGED_POLICIES=true"
            ) from None
        policy_arns: dict[str, str] = {}
        for name, (owner, statements) in _POLICIES.items():
            # The documents name the account's own ARNs.
            document = json.dumps({"Version": "2012-10-17", "Statement": statements}).replace(
                SIMULATED_ACCOUNT_ID, self.account_id)
            arn = iam.create_policy(PolicyName=name, PolicyDocument=document, Description=f"acme {name}",
                                    Tags=_kv(_tags(_PROD, owner)))["Policy"]["Arn"]
            policy_arns[name] = arn
            self._record("AWS::IAM::ManagedPolicy", _GLOBAL, name)

        def arns(managed: Iterable[str], customer: Iterable[str]) -> list[str]:
            return [f"arn:aws:iam::aws:policy/{m}" for m in managed] + [policy_arns[c] for c in customer]

        for group, (managed, customer) in _GROUPS.items():
            iam.create_group(GroupName=group)
            for arn in arns(managed, customer):
                iam.attach_group_policy(GroupName=group, PolicyArn=arn)
            self._record("AWS::IAM::Group", _GLOBAL, group)
        for role in _ROLES:
            self._create_role(role, arns(role.managed, role.customer))
        for user in _USERS:
            iam.create_user(UserName=user.name, Tags=_kv(_tags(user.env, user.owner, omit=user.omit)))
            for group in user.groups:
                iam.add_user_to_group(GroupName=group, UserName=user.name)
            for arn in arns((), user.customer):
                iam.attach_user_policy(UserName=user.name, PolicyArn=arn)
            self._record("AWS::IAM::User", _GLOBAL, user.name)

    def grant_collection_role(self, role_name: str, trusted_account_id: str, external_id: str | None = None) -> str:
        """The read-only role a collector assumes from `trusted_account_id` (as an operator would create it)."""
        statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{trusted_account_id}:root"},
                                     "Action": "sts:AssumeRole"}
        if external_id:
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
        iam = self.client("iam", _GLOBAL)
        arn = iam.create_role(RoleName=role_name, Description="inventag-pipeline read-only collection",
                              AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
                              Tags=_kv(_tags(_PROD, _SECURITY)))["Role"]["Arn"]
        iam.attach_role_policy(RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        self._record("AWS::IAM::Role", _GLOBAL, role_name)
        return arn

    def _create_role(self, role: _Role, policy_arns: Iterable[str]) -> None:
        iam = self.client("iam", _GLOBAL)
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=_trust_policy(role.service),
                        Description=f"acme {role.name}", Tags=_kv(_tags(_PROD, role.owner, omit=role.omit)))
        for arn in policy_arns:
            iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
        self._record("AWS::IAM::Role", _GLOBAL, role.name)

    def _seed_region(self, index: int, region: str) -> None:
        key_arns = self._seed_kms(region)
        subnets, sgs = self._seed_network(index, region)
        self._seed_compute(region, subnets, sgs, key_arns)
        self._seed_s3(region, key_arns)
        self._seed_rds(region, subnets, sgs, key_arns)
        self._seed_lambda(region, subnets, sgs)
        self._seed_messaging(region)

    def _seed_kms(self, region: str) -> dict[str, str]:
        kms = self.client("kms", region)
        arns: dict[str, str] = {}
        for key in _KEYS:
            tags = _tags(key.env, key.owner, key.name, key.omit)
            meta = kms.create_key(Description=key.description,
                                  Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])["KeyMetadata"]
            if key.rotation:
                kms.enable_key_rotation(KeyId=meta["KeyId"])
            arns[key.name] = meta["Arn"]
            self._record("AWS::KMS::Key", region, key.description)
        return arns

    def _seed_network(self, index: int, region: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
        """VPCs, subnets and security groups; returns {subnet name: (id, az)} and {sg name: id}."""
        ec2 = self.client("ec2", region)
        vpc_ids: dict[str, str] = {}
        subnets: dict[str, tuple[str, str]] = {}
        for vpc in _VPCS:
            second = 20 * index + vpc.octet_offset
            tags = _tags(vpc.env, _PLATFORM, vpc.name, vpc.omit)
            vpc_id = ec2.create_vpc(CidrBlock=f"10.{second}.0.0/16", TagSpecifications=[
                {"ResourceType": "vpc", "Tags": _kv(tags)}])["Vpc"]["VpcId"]
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            vpc_ids[vpc.name] = vpc_id
            self._record("AWS::EC2::VPC", region, vpc.name)
            prefix = vpc.name.removesuffix("-vpc")
            for sub in _SUBNETS:
                name = f"{prefix}-{sub.suffix}"
                az = f"{region}{sub.az}"
                tags = _tags(vpc.env, _PLATFORM, name)
                subnet_id = ec2.create_subnet(
                    VpcId=vpc_id, CidrBlock=f"10.{second}.{sub.third_octet}.0/24", AvailabilityZone=az,
                    TagSpecifications=[{"ResourceType": "subnet", "Tags": _kv(tags)}])["Subnet"]["SubnetId"]
                if sub.public:
                    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
                subnets[name] = (subnet_id, az)
                self._record("AWS::EC2::Subnet", region, name)

        sgs: dict[str, str] = {}
        for sg in _SECURITY_GROUPS:  # create all first: rules reference each other
            sgs[sg.name] = ec2.create_security_group(
                GroupName=sg.name, Description=sg.description, VpcId=vpc_ids[sg.vpc],
                TagSpecifications=[{"ResourceType": "security-group",
                                    "Tags": _kv(_tags(sg.env, sg.owner, sg.name, sg.omit))}])["GroupId"]
            self._record("AWS::EC2::SecurityGroup", region, sg.name)
        for sg in _SECURITY_GROUPS:
            if sg.ingress:
                permissions = [_tcp_rule(port, source, sgs) for port, source in sg.ingress]
                ec2.authorize_security_group_ingress(GroupId=sgs[sg.name], IpPermissions=permissions)
        return subnets, sgs

    def _seed_compute(self, region: str, subnets: dict[str, tuple[str, str]], sgs: dict[str, str],
                      key_arns: dict[str, str]) -> None:
        ec2 = self.client("ec2", region)
        image_id = self._image_id(region)
        instances: dict[str, tuple[str, str]] = {}
        for spec in _INSTANCES:
            instance_id = self._run_instance(region, image_id, spec, subnets, sgs)
            instances[spec.name] = (instance_id, subnets[spec.subnet][1])
        for vol in _VOLUMES:
            az = instances[vol.attach_to][1] if vol.attach_to else f"{region}a"
            extra = {"KmsKeyId": key_arns["prod-app-data"]} if vol.encrypted else {}
            volume_id = ec2.create_volume(
                AvailabilityZone=az, Size=vol.size, VolumeType=vol.volume_type, Encrypted=vol.encrypted,
                TagSpecifications=[{"ResourceType": "volume", "Tags": _kv(_tags(vol.env, vol.owner, vol.name,
                                                                                  vol.omit))}],
                **extra)["VolumeId"]
            if vol.attach_to:
                ec2.attach_volume(VolumeId=volume_id, InstanceId=instances[vol.attach_to][0],
                                  Device="/dev/sdf")
            self._record("AWS::EC2::Volume", region, vol.name)

    def _run_instance(self, region: str, image_id: str, spec: _Instance, subnets: dict[str, tuple[str, str]],
                      sgs: dict[str, str]) -> str:
        """Launch one tagged instance; its root volume is tagged ``<name>-root`` so it is identifiable too."""
        tags = _tags(spec.env, spec.owner, spec.name, spec.omit)
        root_tags = {**tags, "Name": f"{spec.name}-root"}
        eni_tags = {**tags, "Name": f"{spec.name}-eni"}
        instance = self.client("ec2", region).run_instances(
            ImageId=image_id, MinCount=1, MaxCount=1, InstanceType=spec.instance_type,
            SubnetId=subnets[spec.subnet][0], SecurityGroupIds=[sgs[name] for name in spec.sgs],
            MetadataOptions={"HttpTokens": "required" if spec.imds_required else "optional",
                             "HttpEndpoint": "enabled"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": _kv(tags)},
                               {"ResourceType": "volume", "Tags": _kv(root_tags)}],
        )["Instances"][0]
        # moto ignores network-interface tag specifications in run_instances: tag the primary interface after.
        self.client("ec2", region).create_tags(
            Resources=[n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]], Tags=_kv(eni_tags))
        self._record("AWS::EC2::Instance", region, spec.name)
        self._record("AWS::EC2::Volume", region, f"{spec.name}-root")
        self._record("AWS::EC2::NetworkInterface", region, f"{spec.name}-eni")
        return instance["InstanceId"]

    def _image_id(self, region: str) -> str:
        ec2 = self.client("ec2", region)
        images = ec2.describe_images(Filters=[{"Name": "image-id", "Values": [_PREFERRED_AMI]}])["Images"]
        if not images:  # slow path (~2 s): moto's full catalogue
            images = ec2.describe_images(Owners=["amazon"])["Images"]
        if not images:
            raise RuntimeError(f"moto offers no AMI in {region}")
        return images[0]["ImageId"]

    def _seed_s3(self, region: str, key_arns: dict[str, str]) -> None:
        s3 = self.client("s3", region)
        for spec in _BUCKETS:
            bucket = self.bucket_name(spec.base, region)
            self._create_bucket(region, bucket, _tags(spec.env, spec.owner, omit=spec.omit))
            if spec.public_access_block:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            if spec.encryption:
                kms = spec.encryption == "aws:kms"
                default: dict[str, str] = {"SSEAlgorithm": spec.encryption}
                if kms:
                    key = "data-lake" if spec.base.startswith("data-") else "prod-app-data"
                    default["KMSMasterKeyID"] = key_arns[key]
                s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
                    {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": kms}]})
            if spec.versioning:
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            if spec.tls_only_policy:
                statement = {
                    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17",
                                                                       "Statement": [statement]}))
            self._record("AWS::S3::Bucket", region, bucket)

    def _create_bucket(self, region: str, bucket: str, tags: Mapping[str, str]) -> None:
        s3 = self.client("s3", region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _kv(tags)})

    def _seed_rds(self, region: str, subnets: dict[str, tuple[str, str]], sgs: dict[str, str],
                  key_arns: dict[str, str]) -> None:
        rds = self.client("rds", region)
        for group, prefix in _DB_SUBNET_GROUPS.items():
            rds.create_db_subnet_group(
                DBSubnetGroupName=group, DBSubnetGroupDescription=f"{prefix} private subnets",
                SubnetIds=[subnets[f"{prefix}-private-a"][0], subnets[f"{prefix}-private-b"][0]],
                Tags=_kv(_tags(_PROD if prefix == "prod" else _STAGING, _DATA, group)))
            self._record("AWS::RDS::DBSubnetGroup", region, group)
        for db in _DATABASES:
            extra = {"KmsKeyId": key_arns["prod-app-data"]} if db.encrypted else {}
            rds.create_db_instance(
                DBInstanceIdentifier=db.identifier, DBInstanceClass=db.instance_class, Engine="postgres",
                EngineVersion="16.3", MasterUsername="app_admin", MasterUserPassword=_DUMMY_DB_PASSWORD,
                AllocatedStorage=db.storage, StorageType="gp3", DBSubnetGroupName=db.subnet_group,
                VpcSecurityGroupIds=[sgs[db.sg]], StorageEncrypted=db.encrypted, MultiAZ=db.multi_az,
                PubliclyAccessible=False, BackupRetentionPeriod=7 if db.env == _PROD else 1,
                DeletionProtection=db.env == _PROD, Tags=_kv(_tags(db.env, db.owner, db.identifier, db.omit)),
                **extra)
            self._record("AWS::RDS::DBInstance", region, db.identifier)

    def _seed_lambda(self, region: str, subnets: dict[str, tuple[str, str]], sgs: dict[str, str]) -> None:
        lam = self.client("lambda", region)
        code = _lambda_zip()
        for fn in _FUNCTIONS:
            extra: dict[str, Any] = {}
            if fn.in_vpc:
                extra["VpcConfig"] = {
                    "SubnetIds": [subnets["prod-private-a"][0], subnets["prod-private-b"][0]],
                    "SecurityGroupIds": [sgs["lambda-sg"]],
                }
            lam.create_function(
                FunctionName=fn.name, Runtime="python3.12", Handler="handler.handler",
                Role=f"arn:aws:iam::{self.account_id}:role/{fn.role}", Code={"ZipFile": code},
                Description=fn.description, MemorySize=fn.memory, Timeout=fn.timeout,
                Environment={"Variables": {"LOG_LEVEL": "INFO", "APP_ENV": fn.env}},
                Tags=_tags(fn.env, fn.owner, omit=fn.omit), **extra)
            self._record("AWS::Lambda::Function", region, fn.name)

    def _seed_messaging(self, region: str) -> None:
        ddb, sns = self.client("dynamodb", region), self.client("sns", region)
        for table in _TABLES:
            keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
            capacity: dict[str, Any] = (
                {"BillingMode": "PROVISIONED",
                 "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}
                if table.provisioned else {"BillingMode": "PAY_PER_REQUEST"})
            ddb.create_table(
                TableName=table.name,
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
                Tags=_kv(_tags(table.env, table.owner, omit=table.omit)), **capacity)
            self._record("AWS::DynamoDB::Table", region, table.name)
        for topic in _TOPICS:
            sns.create_topic(Name=topic.name, Tags=_kv(_tags(topic.env, topic.owner, omit=topic.omit)))
            self._record("AWS::SNS::Topic", region, topic.name)
        for queue in _QUEUES:
            self._create_queue(region, queue)

    def _create_queue(self, region: str, queue: _Queue) -> None:
        sqs = self.client("sqs", region)
        attributes = {"MessageRetentionPeriod": str(queue.retention_days * 86400),
                      "VisibilityTimeout": str(queue.visibility_timeout), "SqsManagedSseEnabled": "true"}
        if queue.dlq:
            dlq_arn = f"arn:aws:sqs:{region}:{self.account_id}:{queue.dlq}"
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
        sqs.create_queue(QueueName=queue.name, Attributes=attributes,
                         tags=_tags(queue.env, queue.owner, omit=queue.omit))
        self._record("AWS::SQS::Queue", region, queue.name)

    # -- lookups (by name, so mutations work on an account seeded by another SimulatedAccount) -------------

    def _find_vpc(self, region: str, name: str) -> str | None:
        ec2 = self.client("ec2", region)
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
        return vpcs[0]["VpcId"] if vpcs else None

    def _by_name(self, region: str, kind: str, name: str) -> dict[str, Any]:
        ec2 = self.client("ec2", region)
        filters = [{"Name": "tag:Name", "Values": [name]}]
        if kind == "instance":
            live = ["pending", "running", "stopping", "stopped"]
            filters.append({"Name": "instance-state-name", "Values": live})
            reservations = ec2.describe_instances(Filters=filters)["Reservations"]
            found = [instance for r in reservations for instance in r["Instances"]]
        elif kind == "volume":
            found = ec2.describe_volumes(Filters=filters)["Volumes"]
        elif kind == "subnet":
            found = ec2.describe_subnets(Filters=filters)["Subnets"]
        else:
            found = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
        if len(found) != 1:
            raise LookupError(
                f"expected one {kind} named {name!r} in {region}, found {len(found)}; run seed() first")
        return found[0]

    def _instance_id(self, region: str, name: str) -> str:
        return self._by_name(region, "instance", name)["InstanceId"]

    def _sg_id(self, region: str, name: str) -> str:
        return self._by_name(region, "security-group", name)["GroupId"]

    def _queue_url(self, region: str, name: str) -> str:
        return self.client("sqs", region).get_queue_url(QueueName=name)["QueueUrl"]

    # -- scripted days --------------------------------------------------------------------------------------

    def expected_changes(self, day: int) -> list[InjectedChange]:
        """What :meth:`apply_day` injects for ``day``, without touching the account."""
        return [mutation(self, False) for mutation in _mutations(day)]

    def apply_day(self, day: int) -> list[InjectedChange]:
        """Apply the day's scripted mutations in order; returns what was injected."""
        return [mutation(self, True) for mutation in _mutations(day)]


def _tcp_rule(port: int, source: str, sgs: Mapping[str, str]) -> dict[str, Any]:
    rule: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if "/" in source:
        rule["IpRanges"] = [{"CidrIp": source}]
    else:
        rule["UserIdGroupPairs"] = [{"GroupId": sgs[source], "Description": f"from {source}"}]
    return rule


# ---------------------------------------------------------------------------------------------------------
# Mutations: each returns its InjectedChange and only touches AWS when ``apply`` is true, so
# expected_changes() and apply_day() can never drift apart.
# ---------------------------------------------------------------------------------------------------------

_Mutation = Callable[[SimulatedAccount, bool], InjectedChange]
_DAYS: dict[int, list[_Mutation]] = {2: [], 3: []}


def _day(day: int) -> Callable[[_Mutation], _Mutation]:
    def register(fn: _Mutation) -> _Mutation:
        _DAYS[day].append(fn)
        return fn

    return register


def _mutations(day: int) -> list[_Mutation]:
    if day not in _DAYS:
        raise ValueError(f"only days {sorted(_DAYS)} are scripted, not {day}")
    return _DAYS[day]


def _change(day: int, rtype: str, locator: str, region: str, kind: str, description: str,
            *paths: str) -> InjectedChange:
    return InjectedChange(day, rtype, locator, region, kind, tuple(paths), description)


# Day 2 ---------------------------------------------------------------------------------------------------


@_day(2)
def _d2_open_ssh_to_world(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim.client("ec2", region).authorize_security_group_ingress(
            GroupId=sim._sg_id(region, "web-sg"), IpPermissions=[_SSH_WORLD])
    return _change(2, "AWS::EC2::SecurityGroup", "web-sg", region, "modified",
                   "Security group web-sg opened SSH (22/tcp) to 0.0.0.0/0", _SSH_WORLD_PATH)


@_day(2)
def _d2_drop_public_access_block(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    bucket = sim.bucket_name("prod-web-assets", region)
    if apply:
        sim.client("s3", region).delete_public_access_block(Bucket=bucket)
    return _change(2, "AWS::S3::Bucket", bucket, region, "modified",
                   f"Bucket {bucket} lost its public access block", "PublicAccessBlock")


@_day(2)
def _d2_resize_instance(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        ec2 = sim.client("ec2", region)
        instance_id = sim._instance_id(region, "prod-worker-1")
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "m5.xlarge"})
        ec2.start_instances(InstanceIds=[instance_id])
    return _change(2, "AWS::EC2::Instance", "prod-worker-1", region, "modified",
                   "Instance prod-worker-1 was resized from m5.large to m5.xlarge", "InstanceType")


@_day(2)
def _d2_remove_owner_tag(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim.client("ec2", region).delete_tags(Resources=[sim._instance_id(region, "prod-web-2")],
                                              Tags=[{"Key": "Owner"}])
    return _change(2, "AWS::EC2::Instance", "prod-web-2", region, "modified",
                   "Instance prod-web-2 lost its required Owner tag", "tags.Owner")


@_day(2)
def _d2_add_queue(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim._create_queue(region, _Queue("prod-export-jobs", _DATA, visibility_timeout=300))
    return _change(2, "AWS::SQS::Queue", "prod-export-jobs", region, "added",
                   "SQS queue prod-export-jobs was created")


_NEW_API_INSTANCE = _Instance("prod-api-3", "m5.large", "prod-private-a", ("app-sg",), _PAYMENTS)


@_day(2)
def _d2_add_instance(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        spec = _NEW_API_INSTANCE
        subnet = sim._by_name(region, "subnet", spec.subnet)
        subnets = {spec.subnet: (subnet["SubnetId"], subnet["AvailabilityZone"])}
        sgs = {name: sim._sg_id(region, name) for name in spec.sgs}
        sim._run_instance(region, sim._image_id(region), spec, subnets, sgs)
    return _change(2, "AWS::EC2::Instance", "prod-api-3", region, "added",
                   "Instance prod-api-3 (m5.large) was launched in prod-private-a")


@_day(2)
def _d2_add_instance_root_volume(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Not a separate API call: run_instances creates the root volume; declared so it is not a surprise."""
    return _change(2, "AWS::EC2::Volume", "prod-api-3-root", sim.primary, "added",
                   "Root volume prod-api-3-root was created with instance prod-api-3")


@_day(2)
def _d2_add_instance_interface(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Not a separate API call: run_instances creates the primary network interface too."""
    return _change(2, "AWS::EC2::NetworkInterface", "prod-api-3-eni", sim.primary, "added",
                   "Network interface prod-api-3-eni was created with instance prod-api-3")


@_day(2)
def _d2_subnet_ip_count(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Side effect of launching prod-api-3: its subnet's AvailableIpAddressCount drops by one."""
    return _change(2, "AWS::EC2::Subnet", _NEW_API_INSTANCE.subnet, sim.primary, "none",
                   "Subnet prod-private-a has one address fewer available after prod-api-3 was launched")


@_day(2)
def _d2_add_role(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    if apply:
        policy = f"arn:aws:iam::{sim.account_id}:policy/data-lake-write"
        sim._create_role(_Role("data-pipeline-role", "lambda.amazonaws.com", (), (), _DATA),
                         [f"arn:aws:iam::aws:policy/{_LAMBDA_BASIC}", policy])
    return _change(2, "AWS::IAM::Role", "data-pipeline-role", _GLOBAL, "added",
                   "IAM role data-pipeline-role was created for Lambda with data lake write access")


@_day(2)
def _d2_policy_attachment_count(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Side effect of the new role: the policy's AttachmentCount goes from 2 to 3 (a derived counter)."""
    return _change(2, "AWS::IAM::ManagedPolicy", "data-lake-write", _GLOBAL, "none",
                   "Policy data-lake-write gained an attachment because data-pipeline-role uses it")


@_day(2)
def _d2_delete_function(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim.client("lambda", region).delete_function(FunctionName="legacy-report-mailer")
    return _change(2, "AWS::Lambda::Function", "legacy-report-mailer", region, "removed",
                   "Lambda function legacy-report-mailer was deleted")


@_day(2)
def _d2_delete_table(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.secondary
    if apply:
        sim.client("dynamodb", region).delete_table(TableName="legacy-audit-trail")
    return _change(2, "AWS::DynamoDB::Table", "legacy-audit-trail", region, "removed",
                   "DynamoDB table legacy-audit-trail was deleted")


@_day(2)
def _d2_delete_topic(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        arn = f"arn:aws:sns:{region}:{sim.account_id}:staging-alerts"
        sim.client("sns", region).delete_topic(TopicArn=arn)
    return _change(2, "AWS::SNS::Topic", "staging-alerts", region, "removed",
                   "SNS topic staging-alerts was deleted")


@_day(2)
def _d2_queue_backlog(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        url = sim._queue_url(region, "prod-email-outbound")
        for n in range(5):
            sim.client("sqs", region).send_message(QueueUrl=url, MessageBody=json.dumps({"email_id": n}))
    return _change(2, "AWS::SQS::Queue", "prod-email-outbound", region, "none",
                   "Five messages were queued on prod-email-outbound (message counters only)")


@_day(2)
def _d2_reorder_lambda_subnets(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        lam = sim.client("lambda", region)
        vpc = lam.get_function_configuration(FunctionName="orders-webhook")["VpcConfig"]
        lam.update_function_configuration(FunctionName="orders-webhook", VpcConfig={
            "SubnetIds": list(reversed(vpc["SubnetIds"])), "SecurityGroupIds": vpc["SecurityGroupIds"]})
    return _change(2, "AWS::Lambda::Function", "orders-webhook", region, "none",
                   "Lambda function orders-webhook was redeployed with its subnets listed in reverse order")


@_day(2)
def _d2_reorder_sg_rules(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.secondary
    if apply:
        ec2 = sim.client("ec2", region)
        group_id = sim._sg_id(region, "web-sg")
        web = next(sg for sg in _SECURITY_GROUPS if sg.name == "web-sg")
        rules = [_tcp_rule(port, cidr, {}) for port, cidr in web.ingress]
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=rules)
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(reversed(rules)))
    return _change(2, "AWS::EC2::SecurityGroup", "web-sg", region, "none",
                   "Security group web-sg rules were re-applied in a different order")


# Day 3 ---------------------------------------------------------------------------------------------------


@_day(3)
def _d3_close_ssh(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        rule = {key: value for key, value in _SSH_WORLD.items() if key != "IpRanges"}
        rule["IpRanges"] = [{"CidrIp": "0.0.0.0/0"}]
        sim.client("ec2", region).revoke_security_group_ingress(
            GroupId=sim._sg_id(region, "web-sg"), IpPermissions=[rule])
    return _change(3, "AWS::EC2::SecurityGroup", "web-sg", region, "modified",
                   "Security group web-sg closed SSH (22/tcp) from 0.0.0.0/0 again", _SSH_WORLD_PATH)


@_day(3)
def _d3_promote_table(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        ddb = sim.client("dynamodb", region)
        arn = ddb.describe_table(TableName="analytics-events")["Table"]["TableArn"]
        ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "Environment", "Value": _PROD}])
    return _change(3, "AWS::DynamoDB::Table", "analytics-events", region, "modified",
                   "DynamoDB table analytics-events was re-tagged Environment staging -> production",
                   "tags.Environment")


@_day(3)
def _d3_public_database(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim.client("rds", region).modify_db_instance(
            DBInstanceIdentifier="prod-reporting-db", PubliclyAccessible=True, ApplyImmediately=True)
    return _change(3, "AWS::RDS::DBInstance", "prod-reporting-db", region, "modified",
                   "Database prod-reporting-db was made publicly accessible", "PubliclyAccessible")


@_day(3)
def _d3_stop_instance(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        sim.client("ec2", region).stop_instances(InstanceIds=[sim._instance_id(region, "reporting-1")])
    # reporting-1 sits in a private subnet, so stopping it releases no public IP: only State (plus
    # StateReason/StateTransitionReason, which moto fills in) changes.
    return _change(3, "AWS::EC2::Instance", "reporting-1", region, "modified",
                   "Instance reporting-1 was stopped", "State")


_REPLACED_INSTANCE = _Instance("prod-api-2", "m5.large", "prod-private-b", ("app-sg",), _PAYMENTS)


@_day(3)
def _d3_replace_instance(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Terminate prod-api-2 and launch a new one with the same name, subnet and groups (a redeploy)."""
    region = sim.primary
    if apply:
        spec = _REPLACED_INSTANCE
        ec2 = sim.client("ec2", region)
        old = sim._by_name(region, "instance", spec.name)["InstanceId"]
        ec2.terminate_instances(InstanceIds=[old])
        # AWS deletes a terminated instance's primary interface with it (DeleteOnTermination); moto keeps it.
        for eni in ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [old]}]
                                                   )["NetworkInterfaces"]:
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        subnet = sim._by_name(region, "subnet", spec.subnet)
        subnets = {spec.subnet: (subnet["SubnetId"], subnet["AvailabilityZone"])}
        sgs = {name: sim._sg_id(region, name) for name in spec.sgs}
        sim._run_instance(region, sim._image_id(region), spec, subnets, sgs)
    return _change(3, "AWS::EC2::Instance", "prod-api-2", region, "replaced",
                   "Instance prod-api-2 was terminated and re-created with the same name (a redeploy)")


@_day(3)
def _d3_replace_instance_root_volume(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Side effect of the redeploy: the old root volume is deleted with its instance, a new one created."""
    return _change(3, "AWS::EC2::Volume", "prod-api-2-root", sim.primary, "replaced",
                   "Root volume prod-api-2-root was re-created with instance prod-api-2")


@_day(3)
def _d3_replace_instance_interface(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    """Side effect of the redeploy: the old primary interface goes with its instance, a new one comes."""
    return _change(3, "AWS::EC2::NetworkInterface", "prod-api-2-eni", sim.primary, "replaced",
                   "Network interface prod-api-2-eni was re-created with instance prod-api-2")


@_day(3)
def _d3_delete_volume(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        volume_id = sim._by_name(region, "volume", "legacy-export-vol")["VolumeId"]
        sim.client("ec2", region).delete_volume(VolumeId=volume_id)
    return _change(3, "AWS::EC2::Volume", "legacy-export-vol", region, "removed",
                   "Unattached EBS volume legacy-export-vol was deleted")


_AUDIT_KEY = _Key("Audit log encryption key", "audit-logs", _SECURITY, rotation=True)


@_day(3)
def _d3_add_key(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        tags = _tags(_AUDIT_KEY.env, _AUDIT_KEY.owner, _AUDIT_KEY.name)
        kms = sim.client("kms", region)
        key_id = kms.create_key(
            Description=_AUDIT_KEY.description, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()],
        )["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=key_id)
    return _change(3, "AWS::KMS::Key", _AUDIT_KEY.description, region, "added",
                   "KMS key 'Audit log encryption key' was created")


@_day(3)
def _d3_add_bucket(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    bucket = sim.bucket_name("audit-logs", region)
    if apply:
        sim._create_bucket(region, bucket, _tags(_PROD, _SECURITY))
        sim.client("s3", region).put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    return _change(3, "AWS::S3::Bucket", bucket, region, "added", f"S3 bucket {bucket} was created")


@_day(3)
def _d3_table_items(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.primary
    if apply:
        ddb = sim.client("dynamodb", region)
        for n in range(3):
            ddb.put_item(TableName="prod-orders", Item={"order_id": {"S": f"ord-{1000 + n}"},
                                                        "created_at": {"S": f"2024-05-0{n + 1}T10:00:00Z"}})
    return _change(3, "AWS::DynamoDB::Table", "prod-orders", region, "none",
                   "Three orders were written to prod-orders (item count only)")


@_day(3)
def _d3_queue_backlog(sim: SimulatedAccount, apply: bool) -> InjectedChange:
    region = sim.secondary
    if apply:
        url = sim._queue_url(region, "prod-orders")
        for n in range(3):
            sim.client("sqs", region).send_message(QueueUrl=url, MessageBody=json.dumps({"order_id": n}))
    return _change(3, "AWS::SQS::Queue", "prod-orders", region, "none",
                   "Three messages were queued on prod-orders (message counters only)")


# ---------------------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------------------


class SimulatorServer:
    """Context manager: a moto ThreadedMotoServer on 127.0.0.1 (port 0 = a free port by default).

    moto keeps its backends in process-global state, so every server in one process shares one account.
    ``start()`` therefore resets that state (``reset=True``) to make each server begin from an empty
    account; two servers running at the same time in one process would see each other's resources.
    """

    def __init__(self, port: int = 0, *, reset: bool = True) -> None:
        self.port = port
        self.reset = reset
        self._server: Any = None
        self._url: str | None = None
        self._saved_iam_flag = False

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("SimulatorServer is not running; call start() first")
        return self._url

    def start(self) -> SimulatorServer:
        if self._server is not None:
            return self
        # Import late: moto is a dev/demo dependency, not needed to import this module.
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO to stderr unless someone configured its logger already.
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            werkzeug_log.setLevel(logging.WARNING)
        iam_config = default_user_config.setdefault("iam", {})
        self._saved_iam_flag = iam_config.get("load_aws_managed_policies", False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self._url = f"http://{host}:{port}"
        if self.reset:
            # moto's reset rebuilds every account's backends before dropping them all; with AWS-managed
            # policies switched on, that is seconds per account the process has seen (18 s for seven
            # on a busy machine), so they are switched on only after it.
            request = urllib.request.Request(f"{self._url}/moto-api/reset", method="POST")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(request, timeout=30) as response:
                    response.read()
            except BaseException:
                self.stop()  # do not leave a half-started server behind
                raise
        # The baseline attaches AWS-managed policies (AdministratorAccess, AWSLambdaBasicExecutionRole...),
        # which moto only knows when asked to load them; the flag is read when an account's IAM backend is
        # built, lazily on its first IAM call. Restored by stop().
        iam_config["load_aws_managed_policies"] = True
        return self

    def stop(self) -> None:
        server, self._server, self._url = self._server, None, None
        if server is None:
            return
        server.stop()
        inner = getattr(server, "_server", None)  # ThreadedMotoServer.stop() leaves the socket open
        if inner is not None:
            inner.server_close()
        from moto.core.config import default_user_config

        default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = self._saved_iam_flag

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
