"""Security checks: small declared units evaluated from the inventory itself (no live calls).

A check is a pure function over one canonical configuration, declared with its metadata; it
returns PASS or FAIL with one sentence of evidence naming the resource, or NOT_APPLICABLE with the
reason. The engine runs every check on every resource of the types it declares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

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
class Check:
    check_id: str
    title: str
    severity: str
    resource_types: tuple[str, ...]
    frameworks: tuple[str, ...]
    risk: str
    remediation: str
    evaluate: Callable[[Mapping[str, Any], str], Verdict]


CHECKS: dict[str, Check] = {}


def check(*, title: str, severity: str, resource_types: Iterable[str], frameworks: Iterable[str] = (),
          risk: str, remediation: str) -> Callable[[Callable[[Mapping[str, Any], str], Verdict]], Check]:
    """Register a check; its id is the function's name (`<service>_<resource>_<state>`)."""

    def register(fn: Callable[[Mapping[str, Any], str], Verdict]) -> Check:
        declared = Check(fn.__name__, title, severity, tuple(resource_types), tuple(frameworks), risk, remediation,
                         fn)
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


# --- engine ---------------------------------------------------------------------------------------------


def evaluate_checks(resources: Iterable[Mapping[str, Any]], checks: Mapping[str, Check] = CHECKS) -> pa.Table:
    """One finding per (resource, applicable check); rows need arn, resource_type, configuration and
    name (resource_id, then the ARN, stand in for resources without one)."""
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
            verdict = declared.evaluate(config, name)
            rows.append({
                "arn": res["arn"], "resource_type": res["resource_type"], "check_id": declared.check_id,
                "title": declared.title, "severity": declared.severity, "status": verdict.status,
                "frameworks": list(declared.frameworks),
                "evidence": json.dumps({"summary": verdict.evidence}, sort_keys=True),
            })
    rows.sort(key=lambda r: (r["check_id"], r["arn"]))
    return pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA)
