"""Security checks: small declared units evaluated from the inventory itself (no live calls).

A check is a pure function over one canonical configuration, declared with its metadata; it
returns PASS or FAIL with one sentence of evidence naming the resource, or NOT_APPLICABLE with the
reason. The engine runs every check on every resource of the types it declares.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.arn import arn_account
from inventag_pipeline.core.classify import WORLD_CIDRS, covers_admin_port

FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("arn", pa.string(), nullable=False),
        pa.field("resource_type", pa.string()),
        pa.field("check_id", pa.string()),
        pa.field("title", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("status", pa.string()),
        pa.field("frameworks", pa.list_(pa.string())),
        pa.field("evidence", pa.string()),
    ]
)
PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "NOT_APPLICABLE"


@dataclass(frozen=True)
class Verdict:
    status: str
    evidence: str


@dataclass(frozen=True)
class CheckContext:
    """What a check may know beyond the configuration: whose account, and as of which day.

    Age-based checks count from `as_of` (the partition's date), never from the wall clock, so
    re-evaluating an old snapshot gives the same verdict.
    """

    account_id: str | None = None
    as_of: dt.date | None = None


@dataclass(frozen=True)
class Check:
    check_id: str
    title: str
    severity: str
    resource_types: tuple[str, ...]
    frameworks: tuple[str, ...]
    risk: str
    remediation: str
    evaluate: Callable[..., Verdict]
    needs_context: bool = False

    def run(self, config: Mapping[str, Any], name: str, ctx: CheckContext) -> Verdict:
        return self.evaluate(config, name, ctx) if self.needs_context else self.evaluate(config, name)


CHECKS: dict[str, Check] = {}


def check(*, title: str, severity: str, resource_types: Iterable[str], frameworks: Iterable[str] = (),
          risk: str, remediation: str) -> Callable[[Callable[..., Verdict]], Check]:
    """Register a check; its id is the function's name (`<service>_<resource>_<state>`).

    The function takes `(config, name)`, or `(config, name, ctx)` when it needs a `CheckContext`.
    """

    def register(fn: Callable[..., Verdict]) -> Check:
        needs_context = len(inspect.signature(fn).parameters) == 3
        declared = Check(fn.__name__, title, severity, tuple(resource_types), tuple(frameworks), risk, remediation,
                         fn, needs_context)
        if declared.check_id in CHECKS:
            raise ValueError(f"check {declared.check_id} is declared twice")
        CHECKS[declared.check_id] = declared
        return declared

    return register


def _ok(condition: bool, name: str, passed: str, failed: str) -> Verdict:
    return Verdict(PASS, f"{name} {passed}") if condition else Verdict(FAIL, f"{name} {failed}")


# --- S3 -----------------------------------------------------------------------------------------------


@check(title="S3 bucket blocks public access", severity="critical", resource_types=["AWS::S3::Bucket"],
       frameworks=["cis-aws-3.0:2.1.4", "aws-fsbp:S3.8"],
       risk="Without a public access block, one ACL or policy change can expose the bucket's data.",
       remediation="aws s3api put-public-access-block --bucket NAME --public-access-block-configuration "
                   "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true")
def s3_bucket_public_access_blocked(config: Mapping[str, Any], name: str) -> Verdict:
    block = config.get("PublicAccessBlock") or {}
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [f for f in flags if block.get(f) is not True]
    return _ok(not off, f"Bucket {name}", "blocks all public access",
               f"does not block public access ({', '.join(off)} off)")


@check(title="S3 bucket has default encryption", severity="high", resource_types=["AWS::S3::Bucket"],
       frameworks=["aws-fsbp:S3.4"], risk="Objects written without encryption are stored in clear.",
       remediation="aws s3api put-bucket-encryption --bucket NAME --server-side-encryption-configuration "
                   "'{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\"}}]}'")
def s3_bucket_default_encryption(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(bool((config.get("Encryption") or {}).get("Rules")), f"Bucket {name}",
               "encrypts new objects by default", "has no default encryption")


@check(title="S3 bucket versioning is enabled", severity="medium", resource_types=["AWS::S3::Bucket"],
       frameworks=["aws-fsbp:S3.14"], risk="Overwritten or deleted objects cannot be recovered.",
       remediation="aws s3api put-bucket-versioning --bucket NAME --versioning-configuration Status=Enabled")
def s3_bucket_versioning_enabled(config: Mapping[str, Any], name: str) -> Verdict:
    status = (config.get("Versioning") or {}).get("Status", "Disabled")
    return _ok(status == "Enabled", f"Bucket {name}", "has versioning enabled", f"has versioning {status}")


# --- EC2 ----------------------------------------------------------------------------------------------


@check(title="Security group does not open admin or database ports to the internet", severity="critical",
       resource_types=["AWS::EC2::SecurityGroup"], frameworks=["cis-aws-3.0:5.2", "cis-aws-3.0:5.3",
                                                               "aws-fsbp:EC2.19"],
       risk="Administrative and database ports reachable from anywhere are brute-forced within hours.",
       remediation="Revoke the rule (aws ec2 revoke-security-group-ingress) and allow only known ranges.")
def ec2_securitygroup_admin_ports_closed_to_world(config: Mapping[str, Any], name: str) -> Verdict:
    open_rules = [r for r in config.get("IpPermissions") or []
                  if r.get("Source") in WORLD_CIDRS and covers_admin_port(r)]
    if not open_rules:
        return Verdict(PASS, f"Security group {name} opens no administrative or database port to the internet")
    ports = sorted({f"{r['IpProtocol']} {r['FromPort']}-{r['ToPort']} from {r['Source']}" for r in open_rules})
    return Verdict(FAIL, f"Security group {name} allows {'; '.join(ports)}")


@check(title="Default security group allows no traffic", severity="medium",
       resource_types=["AWS::EC2::SecurityGroup"], frameworks=["cis-aws-3.0:5.4", "aws-fsbp:EC2.2"],
       risk="Resources launched without a group land in the default one and inherit its rules.",
       remediation="Remove every ingress and egress rule from the default security group.")
def ec2_securitygroup_default_restricts_all(config: Mapping[str, Any], name: str) -> Verdict:
    if config.get("GroupName") != "default":
        return Verdict(NOT_APPLICABLE, f"Security group {name} is not a default group")
    rules = len(config.get("IpPermissions") or []) + len(config.get("IpPermissionsEgress") or [])
    return _ok(rules == 0, f"Default security group {name} ({config.get('VpcId')})", "has no rules",
               f"has {rules} rule(s)")


@check(title="EBS volume is encrypted", severity="high", resource_types=["AWS::EC2::Volume"],
       frameworks=["cis-aws-3.0:2.2.1", "aws-fsbp:EC2.3"], risk="Snapshots and detached copies are readable.",
       remediation="Create an encrypted copy of a snapshot and replace the volume; enable EBS encryption by default.")
def ec2_volume_encrypted(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("Encrypted") is True, f"Volume {name}", "is encrypted", "is not encrypted")


@check(title="EC2 instance requires IMDSv2", severity="high", resource_types=["AWS::EC2::Instance"],
       frameworks=["aws-fsbp:EC2.8"], risk="IMDSv1 lets an SSRF flaw steal the instance role's credentials.",
       remediation="aws ec2 modify-instance-metadata-options --instance-id ID --http-tokens required")
def ec2_instance_imdsv2_required(config: Mapping[str, Any], name: str) -> Verdict:
    tokens = (config.get("MetadataOptions") or {}).get("HttpTokens")
    return _ok(tokens == "required", f"Instance {name}", "requires IMDSv2", f"allows IMDSv1 (HttpTokens={tokens})")


# --- RDS, KMS, SQS --------------------------------------------------------------------------------------


@check(title="RDS instance is not publicly accessible", severity="critical", resource_types=["AWS::RDS::DBInstance"],
       frameworks=["aws-fsbp:RDS.2", "cis-aws-3.0:2.3.3"], risk="A public endpoint exposes the database to scans.",
       remediation="aws rds modify-db-instance --db-instance-identifier ID --no-publicly-accessible "
                   "--apply-immediately")
def rds_instance_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("PubliclyAccessible") is not True, f"Database {name}", "is private",
               "is publicly accessible")


@check(title="RDS instance storage is encrypted", severity="high", resource_types=["AWS::RDS::DBInstance"],
       frameworks=["aws-fsbp:RDS.3", "cis-aws-3.0:2.3.1"], risk="Storage and snapshots are readable in clear.",
       remediation="Restore an encrypted copy from a snapshot (encryption cannot be turned on in place).")
def rds_instance_storage_encrypted(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("StorageEncrypted") is True, f"Database {name}", "has encrypted storage",
               "has unencrypted storage")


@check(title="KMS customer key rotation is enabled", severity="medium", resource_types=["AWS::KMS::Key"],
       frameworks=["cis-aws-3.0:3.6", "aws-fsbp:KMS.4"], risk="A key that never rotates widens any compromise.",
       remediation="aws kms enable-key-rotation --key-id ID")
def kms_key_rotation_enabled(config: Mapping[str, Any], name: str) -> Verdict:
    if config.get("KeyManager") != "CUSTOMER" or config.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return Verdict(NOT_APPLICABLE, f"Key {name} is not a customer-managed symmetric key")
    if "KeyRotationEnabled" not in config:
        return Verdict(NOT_APPLICABLE, f"Key {name}: rotation status could not be read")
    return _ok(config["KeyRotationEnabled"] is True, f"Key {name}", "rotates automatically",
               "does not rotate automatically")


@check(title="SQS queue is encrypted at rest", severity="medium", resource_types=["AWS::SQS::Queue"],
       frameworks=["aws-fsbp:SQS.1"], risk="Messages are stored in clear.",
       remediation="aws sqs set-queue-attributes --queue-url URL --attributes SqsManagedSseEnabled=true")
def sqs_queue_encrypted(config: Mapping[str, Any], name: str) -> Verdict:
    attributes = config.get("Attributes") or {}
    encrypted = bool(attributes.get("KmsMasterKeyId")) or str(attributes.get("SqsManagedSseEnabled")).lower() == "true"
    return _ok(encrypted, f"Queue {name}", "is encrypted at rest", "is not encrypted at rest")


# --- IAM -----------------------------------------------------------------------------------------------


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in document.get("Statement") or [] if isinstance(s, Mapping)]


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [p for values in principal.values() for p in ([values] if isinstance(values, str) else values)]
    return []


def _public_statements(document: Any) -> list[Mapping[str, Any]]:
    """Allow statements open to every principal, with no condition narrowing them."""
    return [s for s in _statements(document)
            if s.get("Effect") == "Allow" and "*" in _principals(s) and not s.get("Condition")]


@check(title="IAM user with console access has MFA", severity="high", resource_types=["AWS::IAM::User"],
       frameworks=["cis-aws-3.0:1.10", "aws-fsbp:IAM.5"],
       risk="A console password alone is one phishing e-mail away from account takeover.",
       remediation="Enable an MFA device for the user (aws iam enable-mfa-device) or remove the console password.")
def iam_user_console_mfa_enabled(config: Mapping[str, Any], name: str) -> Verdict:
    if not config.get("LoginProfile"):
        return Verdict(NOT_APPLICABLE, f"User {name} has no console password")
    return _ok(bool(config.get("MFADevices")), f"User {name}", "has console access and an MFA device",
               "has console access and no MFA device")


@check(title="Customer-managed policy does not grant full administrative access", severity="critical",
       resource_types=["AWS::IAM::ManagedPolicy"], frameworks=["cis-aws-3.0:1.16", "aws-fsbp:IAM.1"],
       risk="Action * on Resource * gives whoever holds the policy control of the whole account.",
       remediation="Replace the statement with the specific actions and resources the holders need.")
def iam_policy_no_full_admin(config: Mapping[str, Any], name: str) -> Verdict:
    admin = [s for s in _statements(config.get("PolicyDocument"))
             if s.get("Effect") == "Allow" and {"*", "*:*"} & set(s.get("Action") or [])
             and "*" in (s.get("Resource") or [])]
    return _ok(not admin, f"Policy {name}", "grants no Action * on Resource *", "allows Action * on Resource *")


@check(title="IAM role cannot be assumed by everyone", severity="critical", resource_types=["AWS::IAM::Role"],
       frameworks=["aws-fsbp:IAM.21"], risk="A trust policy open to * lets any AWS account assume the role.",
       remediation="Restrict the trust policy's Principal to the accounts or services that need the role.")
def iam_role_trust_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    public = _public_statements(config.get("AssumeRolePolicyDocument"))
    return _ok(not public, f"Role {name}", "trusts only named principals", "can be assumed by any principal (*)")


# --- Lambda, RDS, SNS, SQS, S3 policies -----------------------------------------------------------------

DEPRECATED_RUNTIMES = frozenset({
    "python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10",
    "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "java8", "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "ruby2.5", "ruby2.7", "go1.x",
})


@check(title="Lambda function runs on a supported runtime", severity="medium",
       resource_types=["AWS::Lambda::Function"], frameworks=["aws-fsbp:Lambda.2"],
       risk="Deprecated runtimes receive no security patches.",
       remediation="Move the function to a supported runtime (aws lambda update-function-configuration --runtime).")
def lambda_function_runtime_supported(config: Mapping[str, Any], name: str) -> Verdict:
    runtime = config.get("Runtime")
    if not runtime:
        return Verdict(NOT_APPLICABLE, f"Function {name} is a container image")
    return _ok(runtime not in DEPRECATED_RUNTIMES, f"Function {name}", f"runs on {runtime}",
               f"runs on deprecated runtime {runtime}")


@check(title="RDS instance keeps automated backups", severity="medium", resource_types=["AWS::RDS::DBInstance"],
       frameworks=["aws-fsbp:RDS.11"], risk="Without backups a deletion or corruption cannot be undone.",
       remediation="aws rds modify-db-instance --db-instance-identifier ID --backup-retention-period 7")
def rds_instance_backups_enabled(config: Mapping[str, Any], name: str) -> Verdict:
    days = int(config.get("BackupRetentionPeriod") or 0)
    return _ok(days > 0, f"Database {name}", f"keeps backups for {days} day(s)", "has automated backups off")


@check(title="RDS instance is Multi-AZ", severity="low", resource_types=["AWS::RDS::DBInstance"],
       frameworks=["aws-fsbp:RDS.5"], risk="A single-AZ database is down for the length of an AZ outage.",
       remediation="aws rds modify-db-instance --db-instance-identifier ID --multi-az")
def rds_instance_multi_az(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("MultiAZ") is True, f"Database {name}", "is Multi-AZ", "runs in a single AZ")


@check(title="SNS topic policy is not public", severity="critical", resource_types=["AWS::SNS::Topic"],
       frameworks=["aws-fsbp:SNS.4"], risk="Anyone can publish to or subscribe to a public topic.",
       remediation="Restrict the topic policy's Principal, or add a condition such as aws:SourceAccount.")
def sns_topic_policy_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    public = _public_statements((config.get("Attributes") or {}).get("Policy"))
    return _ok(not public, f"Topic {name}", "is not open to everyone", "has a policy open to every principal (*)")


@check(title="SNS topic is encrypted at rest", severity="medium", resource_types=["AWS::SNS::Topic"],
       frameworks=["aws-fsbp:SNS.1"], risk="Messages are stored in clear.",
       remediation="aws sns set-topic-attributes --topic-arn ARN --attribute-name KmsMasterKeyId "
                   "--attribute-value alias/aws/sns")
def sns_topic_encrypted(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(bool((config.get("Attributes") or {}).get("KmsMasterKeyId")), f"Topic {name}",
               "is encrypted at rest", "is not encrypted at rest")


@check(title="SQS queue policy is not public", severity="critical", resource_types=["AWS::SQS::Queue"],
       frameworks=["aws-fsbp:SQS.3"], risk="Anyone can send to or read from a public queue.",
       remediation="Restrict the queue policy's Principal, or add a condition such as aws:SourceAccount.")
def sqs_queue_policy_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    public = _public_statements((config.get("Attributes") or {}).get("Policy"))
    return _ok(not public, f"Queue {name}", "is not open to everyone", "has a policy open to every principal (*)")


@check(title="S3 bucket policy is not public", severity="critical", resource_types=["AWS::S3::Bucket"],
       frameworks=["aws-fsbp:S3.2", "aws-fsbp:S3.3"], risk="A public bucket policy exposes the objects it covers.",
       remediation="Remove the statements granting Principal * (aws s3api put-bucket-policy / delete-bucket-policy).")
def s3_bucket_policy_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    public = bool(_public_statements(config.get("Policy"))) or (config.get("PolicyStatus") or {}).get("IsPublic")
    return _ok(not public, f"Bucket {name}", "has no public policy", "has a policy open to every principal (*)")


# --- more IAM, Lambda, DynamoDB, RDS, S3, EC2, KMS ----------------------------------------------------

ACCESS_KEY_MAX_AGE_DAYS = 90


def _date_of(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


@check(title="IAM user access keys are rotated within 90 days", severity="medium",
       resource_types=["AWS::IAM::User"], frameworks=["cis-aws-3.0:1.14", "aws-fsbp:IAM.3"],
       risk="A long-lived key that leaked once keeps working until someone rotates it.",
       remediation="Create a new key, move its users to it, then deactivate and delete the old one "
                   "(aws iam create-access-key / update-access-key --status Inactive / delete-access-key).")
def iam_user_access_keys_rotated(config: Mapping[str, Any], name: str, ctx: CheckContext) -> Verdict:
    active = [k for k in config.get("AccessKeys") or [] if k.get("Status") == "Active"]
    if not active:
        return Verdict(NOT_APPLICABLE, f"User {name} has no active access key")
    as_of = ctx.as_of or dt.datetime.now(dt.timezone.utc).date()
    old = sorted(f"{k.get('AccessKeyId')} ({(as_of - created).days} days)" for k in active
                 if (created := _date_of(k.get("CreateDate"))) and (as_of - created).days > ACCESS_KEY_MAX_AGE_DAYS)
    return _ok(not old, f"User {name}", f"has {len(active)} active key(s), none older than "
               f"{ACCESS_KEY_MAX_AGE_DAYS} days", f"has active access key(s) older than {ACCESS_KEY_MAX_AGE_DAYS} "
               f"days: {', '.join(old)}")


@check(title="IAM user gets permissions only through groups", severity="low", resource_types=["AWS::IAM::User"],
       frameworks=["cis-aws-3.0:1.15", "aws-fsbp:IAM.2"],
       risk="Policies attached to individual users drift and are missed in access reviews.",
       remediation="Put the user in a group that carries the policy, then detach it from the user "
                   "(aws iam detach-user-policy).")
def iam_user_no_attached_policies(config: Mapping[str, Any], name: str) -> Verdict:
    attached = sorted(p.get("PolicyName") or p.get("PolicyArn", "?")
                      for p in config.get("AttachedManagedPolicies") or [])
    return _ok(not attached, f"User {name}", "has no policy attached directly",
               f"has policies attached directly: {', '.join(attached)}")


def _aws_principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        values = principal.get("AWS") or []
        return [values] if isinstance(values, str) else list(values)
    return []


def _account_of(principal: str) -> str | None:
    if principal.isdigit() and len(principal) == 12:
        return principal
    return arn_account(principal)


@check(title="Cross-account role trust requires an external ID", severity="medium",
       resource_types=["AWS::IAM::Role"], frameworks=["aws-fsbp:IAM.21"],
       risk="Without sts:ExternalId a third party's other customers can trick it into assuming your role "
            "(the confused-deputy problem).",
       remediation="Add a Condition {\"StringEquals\": {\"sts:ExternalId\": \"<agreed id>\"}} to the trust statement.")
def iam_role_cross_account_trust_has_external_id(config: Mapping[str, Any], name: str, ctx: CheckContext) -> Verdict:
    foreign = set()
    for stmt in _statements(config.get("AssumeRolePolicyDocument")):
        if stmt.get("Effect") != "Allow":
            continue
        accounts = {a for a in map(_account_of, _aws_principals(stmt)) if a and a != ctx.account_id}
        condition = json.dumps(stmt.get("Condition") or {})
        if accounts and "sts:ExternalId" not in condition and "aws:PrincipalOrgID" not in condition:
            foreign |= accounts
    return _ok(not foreign, f"Role {name}", "trusts no other account without an external ID",
               f"trusts account(s) {', '.join(sorted(foreign))} without an external ID")


@check(title="Lambda function URL requires authentication", severity="high",
       resource_types=["AWS::Lambda::Function"], frameworks=["aws-fsbp:Lambda.1"],
       risk="A function URL with AuthType NONE can be invoked by anyone on the internet.",
       remediation="aws lambda update-function-url-config --function-name NAME --auth-type AWS_IAM "
                   "(or delete the URL if it is not needed).")
def lambda_function_url_requires_auth(config: Mapping[str, Any], name: str) -> Verdict:
    url = config.get("FunctionUrlConfig")
    if not url:
        return Verdict(PASS, f"Function {name} has no function URL")
    return _ok(url.get("AuthType") != "NONE", f"Function {name}", f"has a function URL with auth {url.get('AuthType')}",
               "has a public function URL (AuthType NONE)")


@check(title="Lambda function policy is not public", severity="critical",
       resource_types=["AWS::Lambda::Function"], frameworks=["aws-fsbp:Lambda.1"],
       risk="A resource policy open to * lets any AWS account invoke the function.",
       remediation="aws lambda remove-permission --function-name NAME --statement-id SID, then grant named "
                   "principals or add a SourceArn / SourceAccount condition.")
def lambda_function_policy_not_public(config: Mapping[str, Any], name: str) -> Verdict:
    public = _public_statements(config.get("Policy"))
    return _ok(not public, f"Function {name}", "is not invocable by everyone",
               "has a resource policy open to every principal (*)")


@check(title="DynamoDB table has point-in-time recovery", severity="medium",
       resource_types=["AWS::DynamoDB::Table"], frameworks=["aws-fsbp:DynamoDB.2"],
       risk="Without point-in-time recovery an accidental write or delete cannot be rolled back.",
       remediation="aws dynamodb update-continuous-backups --table-name NAME "
                   "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")
def dynamodb_table_pitr_enabled(config: Mapping[str, Any], name: str) -> Verdict:
    status = config.get("PointInTimeRecovery") or "DISABLED"
    return _ok(status == "ENABLED", f"Table {name}", "has point-in-time recovery enabled",
               f"has point-in-time recovery {status}")


@check(title="RDS instance has deletion protection", severity="low", resource_types=["AWS::RDS::DBInstance"],
       frameworks=["aws-fsbp:RDS.8"], risk="One API call or console click deletes the database.",
       remediation="aws rds modify-db-instance --db-instance-identifier ID --deletion-protection")
def rds_instance_deletion_protection(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("DeletionProtection") is True, f"Database {name}", "has deletion protection",
               "has deletion protection off")


@check(title="RDS instance applies minor version upgrades", severity="low",
       resource_types=["AWS::RDS::DBInstance"], frameworks=["aws-fsbp:RDS.13"],
       risk="Minor versions carry security fixes; without automatic upgrades they are easily skipped.",
       remediation="aws rds modify-db-instance --db-instance-identifier ID --auto-minor-version-upgrade")
def rds_instance_minor_version_upgrade(config: Mapping[str, Any], name: str) -> Verdict:
    return _ok(config.get("AutoMinorVersionUpgrade") is True, f"Database {name}",
               "applies minor version upgrades automatically", "does not apply minor version upgrades")


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    values = [v for op, entries in condition.items() if op.startswith("Bool") and isinstance(entries, Mapping)
              for k, vs in entries.items() if k.lower() == "aws:securetransport"
              for v in ([vs] if isinstance(vs, (str, bool)) else vs)]
    return statement.get("Effect") == "Deny" and any(str(v).lower() == "false" for v in values)


@check(title="S3 bucket policy requires TLS", severity="medium", resource_types=["AWS::S3::Bucket"],
       frameworks=["cis-aws-3.0:2.1.1", "aws-fsbp:S3.5"],
       risk="Without a deny on aws:SecureTransport=false, clients may read and write over plain HTTP.",
       remediation="Add a Deny statement for s3:* with Condition {\"Bool\": {\"aws:SecureTransport\": \"false\"}}.")
def s3_bucket_secure_transport_required(config: Mapping[str, Any], name: str) -> Verdict:
    enforced = any(_denies_insecure_transport(s) for s in _statements(config.get("Policy")))
    return _ok(enforced, f"Bucket {name}", "denies requests without TLS", "does not deny requests without TLS")


@check(title="Security group does not allow all traffic from the internet", severity="high",
       resource_types=["AWS::EC2::SecurityGroup"], frameworks=["aws-fsbp:EC2.18"],
       risk="Every port of every member is reachable from anywhere.",
       remediation="Replace the all-traffic rule with the specific ports the service needs "
                   "(aws ec2 revoke-security-group-ingress).")
def ec2_securitygroup_all_traffic_closed_to_world(config: Mapping[str, Any], name: str) -> Verdict:
    open_all = sorted(r.get("Source") for r in config.get("IpPermissions") or []
                      if r.get("IpProtocol") == "-1" and r.get("Source") in WORLD_CIDRS)
    return _ok(not open_all, f"Security group {name}", "allows no all-traffic rule from the internet",
               f"allows all traffic from {', '.join(open_all)}")


@check(title="EC2 instance has no public IP address", severity="medium", resource_types=["AWS::EC2::Instance"],
       frameworks=["aws-fsbp:EC2.9"], risk="A public address puts the instance directly on the internet.",
       remediation="Launch into a private subnet behind a load balancer or NAT; disable auto-assigned public IPs.")
def ec2_instance_no_public_ip(config: Mapping[str, Any], name: str) -> Verdict:
    address = config.get("PublicIpAddress")
    return _ok(not address, f"Instance {name}", "has no public IP address", f"has public IP address {address}")


@check(title="KMS key is not pending deletion", severity="medium", resource_types=["AWS::KMS::Key"],
       frameworks=["aws-fsbp:KMS.3"], risk="Once deleted, everything encrypted under the key is lost for good.",
       remediation="aws kms cancel-key-deletion --key-id ID (if the key is still needed).")
def kms_key_not_pending_deletion(config: Mapping[str, Any], name: str) -> Verdict:
    if config.get("KeyManager") == "AWS":
        return Verdict(NOT_APPLICABLE, f"Key {name} is AWS-managed")
    state = config.get("KeyState")
    return _ok(state != "PendingDeletion", f"Key {name}", f"is {state}",
               f"is scheduled for deletion on {str(config.get('DeletionDate'))[:10]}")


# --- engine ---------------------------------------------------------------------------------------------


def evaluate_checks(resources: Iterable[Mapping[str, Any]], checks: Mapping[str, Check] = CHECKS, *,
                    as_of: dt.date | None = None) -> pa.Table:
    """One finding per (resource, applicable check); rows need arn, resource_type, configuration and
    name (resource_id, then the ARN, stand in for resources without one). `as_of`: the snapshot's day."""
    by_type: dict[str, list[Check]] = {}
    for declared in checks.values():
        for rtype in declared.resource_types:
            by_type.setdefault(rtype, []).append(declared)
    rows = []
    for res in resources:
        applicable = by_type.get(res["resource_type"])
        if not applicable:
            continue
        config = json.loads(res["configuration"]) if isinstance(res["configuration"], str) else res["configuration"]
        name = res.get("name") or res.get("resource_id") or res["arn"]
        for declared in applicable:
            verdict = declared.run(config, name, CheckContext(arn_account(res["arn"]), as_of))
            rows.append({
                "arn": res["arn"], "resource_type": res["resource_type"], "check_id": declared.check_id,
                "title": declared.title, "severity": declared.severity, "status": verdict.status,
                "frameworks": list(declared.frameworks),
                "evidence": json.dumps({"summary": verdict.evidence}, sort_keys=True),
            })
    rows.sort(key=lambda r: (r["check_id"], r["arn"]))
    return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)

