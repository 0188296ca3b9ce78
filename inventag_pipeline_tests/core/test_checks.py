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
    bucket,
    db_instance,
    instance,
    kms_key,
    queue,
    record,
    security_group,
)


def findings(*records):
    rows = [{"arn": r.arn, "resource_type": r.resource_type, "name": r.name, "resource_id": r.resource_id,
             "configuration": canonical_json(r.configuration)} for r in records]
    return {(f["check_id"], f["status"], json.loads(f["evidence"])["summary"])
            for f in evaluate_checks(rows).to_pylist()}


def volume(volume_id: str, encrypted: bool):
    return record("AWS::EC2::Volume", {"VolumeId": volume_id, "Size": 8, "Encrypted": encrypted, "Tags": []})


def kms(key_id: str, **extra):
    base = kms_key(key_id)
    return record("AWS::KMS::Key", {**base.configuration, "KeyManager": "CUSTOMER", **extra})


CASES = [
    ("s3-good", bucket("good"), {
        ("s3_bucket_public_access_blocked", "PASS", "Bucket good blocks all public access"),
        ("s3_bucket_default_encryption", "PASS", "Bucket good encrypts new objects by default"),
        ("s3_bucket_versioning_enabled", "PASS", "Bucket good has versioning enabled")}),
    ("s3-bad", bucket("bad", public_access_block=None, encryption=None, Versioning={"Status": "Suspended"}), {
        ("s3_bucket_public_access_blocked", "FAIL", "Bucket bad does not block public access "
         "(BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets off)"),
        ("s3_bucket_default_encryption", "FAIL", "Bucket bad has no default encryption"),
        ("s3_bucket_versioning_enabled", "FAIL", "Bucket bad has versioning Suspended")}),
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
        ("rds_instance_storage_encrypted", "FAIL", "Database db1 has unencrypted storage")}),
    ("kms", None, None),
    ("sqs", queue("plain"), {("sqs_queue_encrypted", "FAIL", "Queue plain is not encrypted at rest")}),
    ("sqs-sse", queue("sse", attributes={"SqsManagedSseEnabled": "true"}),
     {("sqs_queue_encrypted", "PASS", "Queue sse is encrypted at rest")}),
]


@pytest.mark.parametrize(("label", "resource", "expected"), [c for c in CASES if c[1] is not None],
                         ids=[c[0] for c in CASES if c[1] is not None])
def test_check_verdicts(label, resource, expected):
    assert findings(resource) == expected


def test_volume_encryption():
    assert findings(volume("vol-1", True), volume("vol-2", False)) == {
        ("ec2_volume_encrypted", "PASS", "Volume vol-1 is encrypted"),
        ("ec2_volume_encrypted", "FAIL", "Volume vol-2 is not encrypted")}


def test_kms_rotation_is_judged_only_where_it_applies():
    assert findings(kms("k1", KeyRotationEnabled=True), kms("k2", KeyRotationEnabled=False), kms("k3"),
                    kms("k4", KeySpec="RSA_2048")) == {
        ("kms_key_rotation_enabled", "PASS", "Key key k1 rotates automatically"),
        ("kms_key_rotation_enabled", "FAIL", "Key key k2 does not rotate automatically"),
        ("kms_key_rotation_enabled", "NOT_APPLICABLE", "Key key k3: rotation status could not be read"),
        ("kms_key_rotation_enabled", "NOT_APPLICABLE", "Key key k4 is not a customer-managed symmetric key")}


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
    assert len(CHECKS) == 11
