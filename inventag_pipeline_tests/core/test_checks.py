"""Security checks: every declared check passes and fails on the right canonical records."""

from __future__ import annotations

import json
import re

import pytest

from inventag_pipeline.core.canonical import canonical_json
from inventag_pipeline.core.checks import CHECKS, FINDINGS_SCHEMA, evaluate_checks
from inventag_pipeline.core.classify import SEVERITIES
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    bucket,
    db_instance,
    instance,
    kms_key,
    managed_policy,
    queue,
    record,
    role,
    security_group,
)

PUBLIC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                  "Resource": "*"}]}
ORG_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                    "Resource": "*",
                                                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]}


def findings(*records):
    rows = [{"arn": r.arn, "resource_type": r.resource_type, "name": r.name, "resource_id": r.resource_id,
             "configuration": canonical_json(r.configuration)} for r in records]
    return {(f["check_id"], f["status"], json.loads(f["evidence"])["summary"])
            for f in evaluate_checks(rows).to_pylist()}


def assert_verdicts(records, expected):
    """Exact verdicts of the checks named in `expected` (other checks also run on these records)."""
    ids = {check_id for check_id, _, _ in expected}
    assert {f for f in findings(*records) if f[0] in ids} == expected


def volume(volume_id: str, encrypted: bool):
    return record("AWS::EC2::Volume", {"VolumeId": volume_id, "Size": 8, "Encrypted": encrypted, "Tags": []})


def kms(key_id: str, **extra):
    base = kms_key(key_id)
    return record("AWS::KMS::Key", {**base.configuration, "KeyManager": "CUSTOMER", **extra})


CASES = [
    ("s3-good", bucket("good"), {
        ("s3_bucket_public_access_blocked", "PASS", "Bucket good blocks all public access"),
        ("s3_bucket_default_encryption", "PASS", "Bucket good encrypts new objects by default"),
        ("s3_bucket_versioning_enabled", "PASS", "Bucket good has versioning enabled"),
        ("s3_bucket_policy_not_public", "PASS", "Bucket good has no public policy")}),
    ("s3-bad", bucket("bad", public_access_block=None, encryption=None, Versioning={"Status": "Suspended"}), {
        ("s3_bucket_public_access_blocked", "FAIL", "Bucket bad does not block public access "
         "(BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off)"),
        ("s3_bucket_default_encryption", "FAIL", "Bucket bad has no default encryption"),
        ("s3_bucket_versioning_enabled", "FAIL", "Bucket bad has versioning Suspended"),
        ("s3_bucket_policy_not_public", "PASS", "Bucket bad has no public policy")}),
    ("sg-world-ssh", security_group("sg-1", name="web", ingress=[("tcp", 443, 443, "0.0.0.0/0"),
                                                                 ("tcp", 22, 22, "::/0")]), {
        ("ec2_securitygroup_admin_ports_closed_to_world", "FAIL", "Security group web allows tcp 22-22 from ::/0"),
        ("ec2_securitygroup_default_restricts_all", "NOT_APPLICABLE", "Security group web is not a default group")}),
    ("sg-default-open", security_group("sg-2", name="default", ingress=[("tcp", 443, 443, "10.0.0.0/8")]), {
        ("ec2_securitygroup_admin_ports_closed_to_world", "PASS",
         "Security group default opens no administrative or database port to the internet"),
        ("ec2_securitygroup_default_restricts_all", "FAIL", "Default security group default (vpc-1) has 1 rule(s)")}),
    ("sg-default-empty", security_group("sg-3", name="default"), {
        ("ec2_securitygroup_admin_ports_closed_to_world", "PASS",
         "Security group default opens no administrative or database port to the internet"),
        ("ec2_securitygroup_default_restricts_all", "PASS", "Default security group default (vpc-1) has no rules")}),
    ("volumes", None, None),
    ("imds", instance("i-1", tags={"Name": "v1"}, MetadataOptions={"HttpTokens": "optional"}), {
        ("ec2_instance_imdsv2_required", "FAIL", "Instance v1 allows IMDSv1 (HttpTokens=optional)")}),
    ("rds-bad", db_instance("db1", public=True, StorageEncrypted=False), {
        ("rds_instance_not_public", "FAIL", "Database db1 is publicly accessible"),
        ("rds_instance_storage_encrypted", "FAIL", "Database db1 has unencrypted storage"),
        ("rds_instance_backups_enabled", "FAIL", "Database db1 has automated backups off"),
        ("rds_instance_multi_az", "FAIL", "Database db1 runs in a single AZ")}),
    ("rds-good", db_instance("db2", BackupRetentionPeriod=7, MultiAZ=True), {
        ("rds_instance_not_public", "PASS", "Database db2 is private"),
        ("rds_instance_storage_encrypted", "PASS", "Database db2 has encrypted storage"),
        ("rds_instance_backups_enabled", "PASS", "Database db2 keeps backups for 7 day(s)"),
        ("rds_instance_multi_az", "PASS", "Database db2 is Multi-AZ")}),
    ("kms", None, None),
    ("sqs", queue("plain"), {("sqs_queue_encrypted", "FAIL", "Queue plain is not encrypted at rest"),
                             ("sqs_queue_policy_not_public", "PASS", "Queue plain is not open to everyone")}),
    ("sqs-sse-public", queue("sse", attributes={"SqsManagedSseEnabled": "true", "Policy": json.dumps(PUBLIC)}),
     {("sqs_queue_encrypted", "PASS", "Queue sse is encrypted at rest"),
      ("sqs_queue_policy_not_public", "FAIL", "Queue sse has a policy open to every principal (*)")}),
    ("sqs-org-only", queue("org", attributes={"Policy": json.dumps(ORG_ONLY)}),
     {("sqs_queue_encrypted", "FAIL", "Queue org is not encrypted at rest"),
      ("sqs_queue_policy_not_public", "PASS", "Queue org is not open to everyone")}),
    ("s3-public-policy", bucket("pub", policy=PUBLIC), {
        ("s3_bucket_public_access_blocked", "PASS", "Bucket pub blocks all public access"),
        ("s3_bucket_default_encryption", "PASS", "Bucket pub encrypts new objects by default"),
        ("s3_bucket_versioning_enabled", "PASS", "Bucket pub has versioning enabled"),
        ("s3_bucket_policy_not_public", "FAIL", "Bucket pub has a policy open to every principal (*)")}),
    ("iam-admin-policy", managed_policy("admin", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
     {("iam_policy_no_full_admin", "FAIL", "Policy admin allows Action * on Resource *")}),
    ("iam-read-policy", managed_policy("read", [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]),
     {("iam_policy_no_full_admin", "PASS", "Policy read grants no Action * on Resource *")}),
    ("iam-public-role", role("open", trust={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
     {("iam_role_trust_not_public", "FAIL", "Role open can be assumed by any principal (*)")}),
    ("iam-service-role", role("svc"), {("iam_role_trust_not_public", "PASS", "Role svc trusts only named principals")}),
    ("iam-users", None, None),
    ("lambda", None, None),
    ("sns", None, None),
]


@pytest.mark.parametrize(("label", "resource", "expected"), [c for c in CASES if c[1] is not None],
                         ids=[c[0] for c in CASES if c[1] is not None])
def test_check_verdicts(label, resource, expected):
    assert_verdicts([resource], expected)


def test_volume_encryption():
    assert_verdicts([volume("vol-1", True), volume("vol-2", False)], {
        ("ec2_volume_encrypted", "PASS", "Volume vol-1 is encrypted"),
        ("ec2_volume_encrypted", "FAIL", "Volume vol-2 is not encrypted")})


def test_kms_rotation_is_judged_only_where_it_applies():
    assert_verdicts([kms("k1", KeyRotationEnabled=True), kms("k2", KeyRotationEnabled=False), kms("k3"),
                    kms("k4", KeySpec="RSA_2048")], {
        ("kms_key_rotation_enabled", "PASS", "Key key k1 rotates automatically"),
        ("kms_key_rotation_enabled", "FAIL", "Key key k2 does not rotate automatically"),
        ("kms_key_rotation_enabled", "NOT_APPLICABLE", "Key key k3: rotation status could not be read"),
        ("kms_key_rotation_enabled", "NOT_APPLICABLE", "Key key k4 is not a customer-managed symmetric key")})


def test_findings_table_shape():
    table = evaluate_checks([{"arn": "arn:x", "resource_type": "AWS::SQS::Queue", "name": "q",
                              "configuration": "{}"}])
    assert table.schema.equals(FINDINGS_SCHEMA)
    assert table.to_pylist()[0]["frameworks"] == ["aws-fsbp:SQS.1"]


def test_check_declarations_lint():
    problems = []
    for check_id, declared in CHECKS.items():
        if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+){2,}", check_id):
            problems.append(f"{check_id}: id is not <service>_<resource>_<state>")
        problems += [f"{check_id}: unknown type {t}" for t in declared.resource_types if t not in REGISTRY]
        if declared.severity not in SEVERITIES:
            problems.append(f"{check_id}: severity {declared.severity}")
        if not (declared.title and declared.risk and declared.remediation and declared.frameworks):
            problems.append(f"{check_id}: title, risk, remediation and frameworks are all required")
        problems += [f"{check_id}: framework ref {f!r}" for f in declared.frameworks
                     if not re.fullmatch(r"(cis-aws-3\.0:\d+(\.\d+)*|aws-fsbp:[A-Za-z0-9]+\.\d+)", f)]
    assert problems == []
    assert len(CHECKS) == 33


def user(name: str, **extra):
    return record("AWS::IAM::User", {"UserName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "Tags": [],
                                     **extra})


def test_console_users_need_mfa():
    assert_verdicts([user("api-only"), user("alice", LoginProfile={"UserName": "alice"}, MFADevices=["arn:mfa/a"]),
                    user("bob", LoginProfile={"UserName": "bob"}, MFADevices=[])], {
        ("iam_user_console_mfa_enabled", "NOT_APPLICABLE", "User api-only has no console password"),
        ("iam_user_console_mfa_enabled", "PASS", "User alice has console access and an MFA device"),
        ("iam_user_console_mfa_enabled", "FAIL", "User bob has console access and no MFA device")})


def function(name: str, runtime: str | None):
    payload = {"FunctionName": name, "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
               "PackageType": "Zip" if runtime else "Image"}
    if runtime:
        payload["Runtime"] = runtime
    return record("AWS::Lambda::Function", payload)


def test_lambda_runtimes():
    assert_verdicts([function("new", "python3.12"), function("old", "python3.7"), function("img", None)], {
        ("lambda_function_runtime_supported", "PASS", "Function new runs on python3.12"),
        ("lambda_function_runtime_supported", "FAIL", "Function old runs on deprecated runtime python3.7"),
        ("lambda_function_runtime_supported", "NOT_APPLICABLE", "Function img is a container image")})


def topic(name: str, **attributes):
    arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:{name}"
    return record("AWS::SNS::Topic", {"TopicArn": arn, "Attributes": {"TopicArn": arn, **attributes}})


def test_sns_topics():
    assert_verdicts([topic("plain"), topic("locked", KmsMasterKeyId="alias/aws/sns", Policy=json.dumps(PUBLIC))], {
        ("sns_topic_encrypted", "FAIL", "Topic plain is not encrypted at rest"),
        ("sns_topic_policy_not_public", "PASS", "Topic plain is not open to everyone"),
        ("sns_topic_encrypted", "PASS", "Topic locked is encrypted at rest"),
        ("sns_topic_policy_not_public", "FAIL", "Topic locked has a policy open to every principal (*)")})


def test_readme_lists_every_check_with_its_severity():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    listed = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (critical|high|medium|low|info) \|", readme, re.MULTILINE))
    assert listed == {c.check_id: c.severity for c in CHECKS.values()}
