"""Tag policy: parsing that names every problem, and exact per-resource verdicts."""

from __future__ import annotations

import pytest

from inventag_pipeline.core.tagpolicy import (
    DEFAULT_POLICY,
    TagPolicyError,
    evaluate,
    load_policy,
    parse_policy,
    summarise,
)

ACCOUNT = "123456789012"


def res(name: str, tags: dict[str, str], *, rtype: str = "AWS::EC2::Instance", service: str = "ec2",
        region: str = "us-east-1", account: str = ACCOUNT) -> dict:
    return {"arn": f"arn:aws:{service}:{region}:{account}:{name}", "resource_type": rtype, "service": service,
            "region": region, "account_id": account, "tags": sorted(tags.items())}


POLICY = parse_policy({
    "required": [
        {"key": "Environment", "allowed": ["production", "staging", "development"], "case": "lower"},
        {"key": "Owner", "pattern": r"[^@\s]+@example\.com"},
        "CostCenter",
    ],
    "per_type": {"AWS::S3::*": [{"key": "DataClassification", "allowed": ["public", "internal", "secret"]}]},
    "scope": {"regions": ["us-*"], "accounts": [ACCOUNT]},
    "exemptions": [
        {"arn": "arn:aws:iam::*:role/aws-service-role/*", "reason": "AWS-managed service roles"},
        {"tag": {"key": "inventag:exempt", "value": "true"}, "reason": "owner asked, ticket SEC-12"},
        {"resource_type": "AWS::EC2::VPC", "reason": "network team tags VPCs in Terraform only"},
    ],
})
GOOD = {"Environment": "production", "Owner": "web@example.com", "CostCenter": "CC-1"}


def verdicts(resources, policy=POLICY):
    return {(r["arn"].rsplit(":", 1)[-1], r["compliant"], r["untagged"], tuple(r["missing_tags"]),
             tuple(r["invalid_tags"]), r["exemption"]) for r in evaluate(policy, resources).to_pylist()}


def test_per_resource_verdicts():
    resources = [
        res("ok", GOOD),
        res("untagged", {}),
        res("missing-owner", {"Environment": "staging", "CostCenter": "CC-2"}),
        res("bad-values", {"Environment": "Prod", "Owner": "someone@gmail.com", "CostCenter": " "}),
        res("bucket", GOOD, rtype="AWS::S3::Bucket", service="s3"),
        res("bucket-classified", {**GOOD, "DataClassification": "internal"}, rtype="AWS::S3::Bucket", service="s3"),
        res("exempt-by-tag", {"inventag:exempt": "true"}),
        res("vpc", {}, rtype="AWS::EC2::VPC"),
        res("other-region", {}, region="eu-west-1"),
        res("other-account", {}, account="210987654321"),
    ]
    assert verdicts(resources) == {
        ("ok", True, False, (), (), None),
        ("untagged", False, True, ("Environment", "Owner", "CostCenter"), (), None),
        ("missing-owner", False, False, ("Owner",), (), None),
        ("bad-values", False, False, (), ("Environment: not lower case", "Owner: does not match [^@\\s]+@example\\.com",
                                          "CostCenter: empty"), None),
        ("bucket", False, False, ("DataClassification",), (), None),
        ("bucket-classified", True, False, (), (), None),
        ("exempt-by-tag", True, False, ("Environment", "Owner", "CostCenter"), (), "owner asked, ticket SEC-12"),
        ("vpc", True, True, ("Environment", "Owner", "CostCenter"), (), "network team tags VPCs in Terraform only"),
    }


def test_allowed_values_and_case_insensitive_keys():
    policy = parse_policy({"required": [{"key": "Environment", "allowed": ["production"]}], "key_case": "insensitive"})
    assert verdicts([res("a", {"environment": "production"}), res("b", {"ENVIRONMENT": "dev"})], policy) == {
        ("a", True, False, (), (), None),
        ("b", False, False, (), ("Environment: not one of production",), None),
    }


def test_summary_excludes_exempt_resources_from_the_percentage():
    resources = [res("ok", GOOD), res("bad", {}), res("vpc", {}, rtype="AWS::EC2::VPC"),
                 res("bucket", GOOD, rtype="AWS::S3::Bucket", service="s3")]
    results = evaluate(POLICY, resources)
    summary = summarise(results, {r["arn"]: r["service"] for r in resources})
    assert summary == {"evaluated": 4, "exempt": 1, "compliant": 1, "non_compliant": 2, "untagged": 2,
                       "compliance_percentage": 33.33, "by_service": {"ec2": 50.0, "s3": 0.0}}


def test_default_policy_requires_the_three_keys():
    assert DEFAULT_POLICY.required_keys == ("Environment", "Owner", "CostCenter")
    assert load_policy(None) is DEFAULT_POLICY


def test_invalid_policy_names_every_offending_key(tmp_path):
    with pytest.raises(TagPolicyError) as info:
        parse_policy({
            "required": [{"key": "Owner", "pattern": "("}, {"key": "Env", "case": "title"}, {"nokey": 1}],
            "scope": {"zones": ["a"]},
            "exemptions": [{"arn": "x"}, {"reason": "why"}],
            "key_case": "maybe",
            "extra": True,
        }, source="policy.yaml")
    message = str(info.value)
    for fragment in ("policy.yaml: ", "unknown top-level key(s) ['extra']",
                     "required[0].pattern: '(' is not a valid regex", "required[1].case: 'title' is not one of",
                     "required[2]: expected a tag key or a mapping with 'key'", "scope: unknown key(s) ['zones']",
                     "exemptions[0]: every exemption needs a 'reason'",
                     "exemptions[1]: needs at least one of 'arn', 'resource_type', 'tag'",
                     "key_case: 'maybe' is not 'exact' or 'insensitive'"):
        assert fragment in message, fragment


def test_policy_files(tmp_path):
    good = tmp_path / "policy.yaml"
    good.write_text("required:\n  - Owner\n")
    assert load_policy(good).required_keys == ("Owner",)
    broken = tmp_path / "broken.yaml"
    broken.write_text("required: [\n")
    with pytest.raises(TagPolicyError, match="is not valid YAML"):
        load_policy(broken)
    with pytest.raises(TagPolicyError, match="does not exist"):
        load_policy(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("required: []\n")
    with pytest.raises(TagPolicyError, match="required: expected a non-empty list"):
        load_policy(empty)
