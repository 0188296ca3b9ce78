"""Classification (core.classify): the default rules, rule validation, overrides and ignored fields."""

from __future__ import annotations

import pytest

from inventag_pipeline.core.canonical import CanonicalRecord
from inventag_pipeline.core.classify import (
    ADMIN_PORTS,
    CATEGORIES,
    CONDITIONS,
    DEFAULT_RULES,
    SEVERITIES,
    Classification,
    Classifier,
    Context,
    Rule,
    load_rules,
    max_severity,
    render_value,
)
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.diff import AttributeChange
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    DEFAULT_PAB,
    OTHER_ACCOUNT,
    as_row,
    bucket,
    db_instance,
    instance,
    managed_policy,
    queue,
    role,
    security_group,
)

SG_TYPE = "AWS::EC2::SecurityGroup"



def _with_context(condition):
    """Conditions also see whose resource it is: the factories' account."""
    return lambda change: condition(change, Context(account_id=ACCOUNT))


def verdicts(old: CanonicalRecord, new: CanonicalRecord, engine: DeltaEngine | None = None
             ) -> set[tuple[str, str, str, str]]:
    """(path, change, category, severity) for every attribute change from `old` to `new`."""
    engine = engine or DeltaEngine()
    return {
        (change.path, change.change, verdict.category, verdict.severity)
        for change, verdict in engine.attribute_changes(new.resource_type, as_row(old), as_row(new))
    }


def rule_names(old: CanonicalRecord, new: CanonicalRecord, engine: DeltaEngine | None = None) -> dict[str, str]:
    engine = engine or DeltaEngine()
    return {c.path: v.rule for c, v in engine.attribute_changes(new.resource_type, as_row(old), as_row(new))}


def summary_of(old: CanonicalRecord, new: CanonicalRecord) -> set[tuple[str, str, str, str]]:
    """Like `verdicts` but with paths of hash-keyed items masked (they are content digests)."""
    return {(p.split("[#")[0] + ("[#]" if "[#" in p else ""), c, cat, sev) for p, c, cat, sev in
            verdicts(old, new)}


def rule_path(proto: str, low: int, high: int, cidr: str, *, egress: bool = False) -> str:
    field = "IpPermissionsEgress" if egress else "IpPermissions"
    return f"{field}[IpProtocol={proto},FromPort={low},ToPort={high},Source={cidr}]"


# --- security groups ------------------------------------------------------------------------------


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
@pytest.mark.parametrize("port", ADMIN_PORTS)
def test_world_open_admin_port_is_critical(port, cidr):
    old = security_group("sg-1")
    new = security_group("sg-1", ingress=[("tcp", port, port, cidr)])
    assert verdicts(old, new) == {(rule_path("tcp", port, port, cidr), "added", "security", "critical")}


def test_admin_ports_are_the_documented_ten():
    assert ADMIN_PORTS == (22, 3389, 3306, 5432, 1433, 1521, 27017, 6379, 9200, 11211)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_world_open_https_is_high(cidr):
    new = security_group("sg-1", ingress=[("tcp", 443, 443, cidr)])
    assert verdicts(security_group("sg-1"), new) == {
        (rule_path("tcp", 443, 443, cidr), "added", "security", "high")}


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_world_open_all_protocols_is_critical(cidr):
    new = security_group("sg-1", ingress=[("-1", None, None, cidr)])
    assert verdicts(security_group("sg-1"), new) == {
        (rule_path("-1", -1, -1, cidr), "added", "security", "critical")}


def test_world_open_port_range_covering_an_admin_port_is_critical():
    new = security_group("sg-1", ingress=[("tcp", 1000, 2000, "0.0.0.0/0"), ("tcp", 3000, 3300, "0.0.0.0/0")])
    assert verdicts(security_group("sg-1"), new) == {
        (rule_path("tcp", 1000, 2000, "0.0.0.0/0"), "added", "security", "critical"),
        (rule_path("tcp", 3000, 3300, "0.0.0.0/0"), "added", "security", "high"),
    }


def test_private_source_egress_and_removal_are_network_medium():
    old = security_group("sg-1", ingress=[("tcp", 22, 22, "0.0.0.0/0")])
    new = security_group("sg-1", ingress=[("tcp", 22, 22, "10.0.0.0/8")], egress=[("tcp", 22, 22, "0.0.0.0/0")])
    assert verdicts(old, new) == {
        (rule_path("tcp", 22, 22, "0.0.0.0/0"), "removed", "network", "medium"),
        (rule_path("tcp", 22, 22, "10.0.0.0/8"), "added", "network", "medium"),
        (rule_path("tcp", 22, 22, "0.0.0.0/0", egress=True), "added", "network", "medium"),
    }


def test_rule_descriptions_read_plainly():
    new = security_group("sg-1", ingress=[("tcp", 22, 22, "0.0.0.0/0"), ("tcp", 443, 443, "::/0"),
                                          ("-1", None, None, "10.0.0.0/8")])
    descriptions = {c.path: v.description for c, v in
                    DeltaEngine().attribute_changes(SG_TYPE, as_row(security_group("sg-1")), as_row(new))}
    assert descriptions == {
        rule_path("tcp", 22, 22, "0.0.0.0/0"):
            "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port",
        rule_path("tcp", 443, 443, "::/0"): "Ingress tcp 443 from ::/0 is open to the internet",
        rule_path("-1", -1, -1, "10.0.0.0/8"): "Rule all traffic from 10.0.0.0/8 added",
    }


def test_world_open_icmp_is_not_an_admin_port():
    new = security_group("sg-1", ingress=[("icmp", -1, -1, "0.0.0.0/0")])
    assert verdicts(security_group("sg-1"), new) == {
        (rule_path("icmp", -1, -1, "0.0.0.0/0"), "added", "security", "high")}


# --- S3 -------------------------------------------------------------------------------------------


def test_public_access_block_removed_is_critical():
    assert verdicts(bucket("b"), bucket("b", public_access_block=None)) == {
        ("PublicAccessBlock", "removed", "security", "critical")}


@pytest.mark.parametrize("flag", sorted(DEFAULT_PAB))
def test_public_access_block_flag_turned_off_is_critical(flag):
    new = bucket("b", public_access_block={**DEFAULT_PAB, flag: False})
    assert verdicts(bucket("b"), new) == {
        (f"PublicAccessBlock.{flag}", "changed", "security", "critical")}


def test_public_access_block_strengthened_or_added_is_low():
    weak = {**DEFAULT_PAB, "BlockPublicAcls": False}
    assert verdicts(bucket("b", public_access_block=weak), bucket("b")) == {
        ("PublicAccessBlock.BlockPublicAcls", "changed", "security", "low")}
    assert verdicts(bucket("b", public_access_block=None), bucket("b")) == {
        ("PublicAccessBlock", "added", "security", "low")}


def _bucket_policy(principal, condition=None):
    statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_bucket_policy_granting_everyone_is_critical(principal):
    assert verdicts(bucket("b"), bucket("b", policy=_bucket_policy(principal))) == {
        ("Policy", "added", "security", "critical")}


def test_bucket_policy_statement_added_to_existing_policy_granting_everyone_is_critical():
    old = bucket("b", policy=_bucket_policy({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}))
    both = _bucket_policy({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"})
    both["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                              "Resource": "arn:aws:s3:::b"})
    assert summary_of(old, bucket("b", policy=both)) == {
        ("Policy.Statement[#]", "added", "security", "critical")}


def test_bucket_policy_public_with_condition_or_for_an_account_is_medium_iam():
    conditional = _bucket_policy("*", condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    assert verdicts(bucket("b"), bucket("b", policy=conditional)) == {
        ("Policy", "added", "iam", "medium")}
    account = _bucket_policy({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"})
    assert verdicts(bucket("b"), bucket("b", policy=account)) == {
        ("Policy", "added", "iam", "medium")}


def test_policy_status_becoming_public_is_critical():
    old = bucket("b", PolicyStatus={"IsPublic": False})
    new = bucket("b", PolicyStatus={"IsPublic": True})
    assert verdicts(old, new) == {("PolicyStatus.IsPublic", "changed", "security", "critical")}
    assert verdicts(new, old) == {("PolicyStatus.IsPublic", "changed", "configuration", "low")}


def test_sqs_queue_policy_granting_everyone_is_critical():
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*"}]}'
    assert verdicts(queue("q"), queue("q", attributes={"Policy": policy})) == {
        ("Attributes.Policy", "added", "security", "critical")}


def test_encryption_removed_is_high_and_added_is_low():
    assert verdicts(bucket("b"), bucket("b", encryption=None)) == {
        ("Encryption", "removed", "security", "high")}
    assert verdicts(bucket("b", encryption=None), bucket("b")) == {
        ("Encryption", "added", "security", "low")}


def test_rds_storage_encryption_turned_off_is_high():
    assert verdicts(db_instance("d"), db_instance("d", StorageEncrypted=False)) == {
        ("StorageEncrypted", "changed", "security", "high")}


# --- IAM ------------------------------------------------------------------------------------------


def test_iam_policy_gaining_action_star_is_critical():
    old = managed_policy("p", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}])
    new = managed_policy("p", [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}])
    assert summary_of(old, new) == {
        ("PolicyDocument.Statement[#]", "removed", "iam", "medium"),
        ("PolicyDocument.Statement[#]", "added", "iam", "critical"),
    }
    assert set(rule_names(old, new).values()) == {"iam-policy-document", "iam-wildcard-grant"}


def test_iam_policy_narrow_change_is_medium():
    old = managed_policy("p", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}])
    new = managed_policy("p", [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}])
    assert summary_of(old, new) == {
        ("PolicyDocument.Statement[#]", "removed", "iam", "medium"),
        ("PolicyDocument.Statement[#]", "added", "iam", "medium"),
    }


def test_wildcard_condition_on_an_action_path():
    cond = _with_context(CONDITIONS["wildcard_grant"])
    at = "PolicyDocument.Statement[Sid=A].Action[*]"
    assert cond(AttributeChange(at, "added", None, "*", "PolicyDocument.Statement[].Action[]"))
    assert not cond(AttributeChange(at.replace("*]", "s3:*]"), "added", None, "s3:*",
                                    "PolicyDocument.Statement[].Action[]"))
    assert not cond(AttributeChange(at, "removed", "*", None, "PolicyDocument.Statement[].Action[]"))
    deny = {"Effect": "Deny", "Action": ["*"], "Resource": ["*"]}
    assert not cond(AttributeChange("PolicyDocument.Statement[#x]", "added", None, deny, "PolicyDocument.Statement[]"))


def _trust(principal):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}


@pytest.mark.parametrize(
    "principal",
    [{"AWS": "*"}, "*", {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, {"AWS": OTHER_ACCOUNT}],
    ids=["aws-star", "star", "other-account-arn", "other-account-id"],
)
def test_trust_policy_gaining_star_or_another_account_is_critical(principal):
    old = role("r")
    new = role("r", trust=_trust(principal))
    assert summary_of(old, new) == {
        ("AssumeRolePolicyDocument.Statement[#]", "removed", "iam", "medium"),
        ("AssumeRolePolicyDocument.Statement[#]", "added", "iam", "critical"),
    }


def test_trust_policy_change_to_a_service_principal_is_medium():
    new = role("r", trust=_trust({"Service": "lambda.amazonaws.com"}))
    assert summary_of(role("r"), new) == {
        ("AssumeRolePolicyDocument.Statement[#]", "removed", "iam", "medium"),
        ("AssumeRolePolicyDocument.Statement[#]", "added", "iam", "medium"),
    }


def test_trust_condition_on_a_principal_path():
    cond = _with_context(CONDITIONS["trust_widened"])
    at = "AssumeRolePolicyDocument.Statement[Sid=T].Principal.AWS[{}]"
    pattern = "AssumeRolePolicyDocument.Statement[].Principal.AWS[]"
    assert cond(AttributeChange(at.format("*"), "added", None, "*", pattern))
    other = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
    assert cond(AttributeChange(at.format(other), "added", None, other, pattern))
    assert not cond(AttributeChange(at.format("svc"), "added", None, "ec2.amazonaws.com", pattern))
    assert not cond(AttributeChange(at.format("*"), "removed", "*", None, pattern))


def test_trust_policy_gaining_a_principal_of_the_same_account_is_not_critical():
    new = role("r", trust=_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/deployer"}))
    assert summary_of(role("r"), new) == {
        ("AssumeRolePolicyDocument.Statement[#]", "removed", "iam", "medium"),
        ("AssumeRolePolicyDocument.Statement[#]", "added", "iam", "medium"),
    }


def test_public_grant_condition_on_a_principal_path():
    cond = _with_context(CONDITIONS["public_grant"])
    pattern = "Policy.Statement[].Principal.AWS[]"
    assert cond(AttributeChange("Policy.Statement[Sid=A].Principal.AWS[*]", "added", None, "*", pattern))
    assert not cond(AttributeChange("Policy.Statement[Sid=A].Principal.AWS[x]", "added", None, "arn:x", pattern))


def test_admin_policy_attachment_is_critical_and_others_medium():
    admin = {"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "PolicyName": "AdministratorAccess"}
    read = {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "PolicyName": "ReadOnlyAccess"}
    new = role("r", AttachedManagedPolicies=[admin, read])
    assert verdicts(role("r", AttachedManagedPolicies=[]), new) == {
        ("AttachedManagedPolicies[PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess]", "added", "iam",
         "critical"),
        ("AttachedManagedPolicies[PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess]", "added", "iam", "medium"),
    }


# --- EC2, RDS, tags, operational ------------------------------------------------------------------


def test_imds_tokens_required_to_optional_is_medium():
    opt = instance("i-1", MetadataOptions={"HttpTokens": "optional", "HttpEndpoint": "enabled"})
    assert verdicts(instance("i-1"), opt) == {
        ("MetadataOptions.HttpTokens", "changed", "security", "medium")}
    assert verdicts(opt, instance("i-1")) == {
        ("MetadataOptions.HttpTokens", "changed", "configuration", "low")}


def test_rds_made_public_is_critical():
    assert verdicts(db_instance("d"), db_instance("d", public=True)) == {
        ("PubliclyAccessible", "changed", "security", "critical")}
    assert verdicts(db_instance("d", public=True), db_instance("d")) == {
        ("PubliclyAccessible", "changed", "configuration", "low")}


def test_tag_changes_are_low_and_required_tag_removal_is_compliance():
    old = instance("i-1", tags={"Owner": "alice", "Env": "dev", "Team": "a", "Environment": "prod"})
    new = instance("i-1", tags={"Env": "prod", "New": "x", "Environment": "prod"})
    assert verdicts(old, new) == {
        ("tags.Env", "changed", "tags", "low"),
        ("tags.New", "added", "tags", "low"),
        ("tags.Owner", "removed", "compliance", "medium"),
        ("tags.Team", "removed", "tags", "low"),
    }


def test_tag_descriptions():
    old = instance("i-1", tags={"Owner": "alice", "Env": "dev"})
    new = instance("i-1", tags={"Env": "prod"})
    descriptions = {c.path: v.description for c, v in
                    DeltaEngine().attribute_changes("AWS::EC2::Instance", as_row(old), as_row(new))}
    assert descriptions == {"tags.Env": "Tag Env changed: dev → prod",
                            "tags.Owner": "Required tag Owner removed (was alice)"}


def test_operational_paths_are_info():
    stopped = instance("i-1", state="stopped")
    assert rule_names(instance("i-1"), stopped) == {"State.Name": "operational-state"}
    assert verdicts(instance("i-1"), stopped) == {
        ("State.Name", "changed", "operational", "info")}
    assert verdicts(instance("i-1", Monitoring={"State": "disabled"}), instance("i-1", Monitoring={"State": "enabled"})
                    ) == {("Monitoring.State", "changed", "operational", "info")}
    assert verdicts(db_instance("d"), db_instance("d", DBInstanceStatus="stopped")) == {
        ("DBInstanceStatus", "changed", "operational", "info")}


def test_operational_matching_is_by_whole_segment():
    # `StateX` is not under the operational path `State`.
    assert verdicts(instance("i-1", StateX="a"), instance("i-1", StateX="b")) == {
        ("StateX", "changed", "configuration", "low")}


def test_tag_named_like_an_operational_path_is_still_a_tag():
    old = instance("i-1", tags={"State": "keep"})
    new = instance("i-1", tags={"State": "drop"})
    assert verdicts(old, new) == {("tags.State", "changed", "tags", "low")}


def test_network_and_sizing_rules():
    old = instance("i-1")
    new = instance("i-1", SubnetId="subnet-2", InstanceType="m5.large")
    assert verdicts(old, new) == {
        ("InstanceType", "changed", "configuration", "medium"),
        ("SubnetId", "changed", "network", "medium"),
    }


# --- rules as data ----------------------------------------------------------------------------------


def test_rule_from_dict_rejects_unknown_keys_naming_them():
    with pytest.raises(ValueError, match=r"rule 'mine': unknown key\(s\) \['bogus', 'severty'\]"):
        Rule.from_dict({"name": "mine", "path": "x", "category": "tags", "severity": "low", "bogus": 1,
                        "severty": "high"})


def test_rule_rejects_bad_category_severity_and_condition_in_one_message():
    with pytest.raises(ValueError) as info:
        Rule.from_dict({"name": "mine", "path": "x", "category": "nope", "severity": "urgent", "when": "sometimes"})
    message = str(info.value)
    assert message.startswith("rule 'mine': ")
    assert "category 'nope'" in message
    assert "severity 'urgent'" in message
    assert "condition 'sometimes'" in message
    assert message.count(";") == 2


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [("category", "risky", "category 'risky'"), ("severity", "HIGH", "severity 'HIGH'"),
     ("when", "always", "condition 'always'")],
)
def test_rule_rejects_each_bad_value(field, value, fragment):
    data = {"name": "r", "path": "x", "category": "tags", "severity": "low", field: value}
    with pytest.raises(ValueError, match=fragment):
        Rule.from_dict(data)


def test_rule_from_dict_accepts_strings_for_lists_and_defaults_description():
    rule = Rule.from_dict({"name": "r", "path": r"tags\.", "category": "tags", "severity": "high",
                           "types": "AWS::EC2::*", "changes": "added"})
    assert (rule.types, rule.changes, rule.description, rule.when) == (("AWS::EC2::*",), ("added",),
                                                                       "{field} {verb}", None)
    added = AttributeChange("tags.X", "added", None, "1", "X")
    assert rule.matches("AWS::EC2::Instance", added)
    assert not rule.matches("AWS::S3::Bucket", added)
    assert not rule.matches("AWS::EC2::Instance", AttributeChange("tags.X", "removed", "1", None, "X"))
    assert not rule.matches("AWS::EC2::Instance", AttributeChange("nottags.X", "added", None, "1", "nottags.X"))


def test_default_rules_are_valid_and_unique():
    assert len({r.name for r in DEFAULT_RULES}) == len(DEFAULT_RULES)
    assert all(r.category in CATEGORIES and r.severity in SEVERITIES for r in DEFAULT_RULES)


def test_user_rules_prepended_with_overrides_win():
    mine = Rule.from_dict({"name": "tags-matter", "path": r"tags\.Env$", "category": "compliance",
                           "severity": "high", "description": "Env tag {verb}: {old} → {new}"})
    engine = DeltaEngine(Classifier().with_overrides([mine]))
    old = instance("i-1", tags={"Env": "dev", "Other": "a"})
    new = instance("i-1", tags={"Env": "prod", "Other": "b"})
    assert verdicts(old, new, engine) == {
        ("tags.Env", "changed", "compliance", "high"),
        ("tags.Other", "changed", "tags", "low"),
    }
    assert rule_names(old, new, engine) == {"tags.Env": "tags-matter", "tags.Other": "tags"}
    verdict = engine.classifier.classify("AWS::EC2::Instance",
                                         AttributeChange("tags.Env", "changed", "dev", "prod", "Env"))
    assert verdict == Classification("compliance", "high", "Env tag changed: dev → prod", "tags-matter")


def test_with_overrides_keeps_existing_ignores_and_rules():
    base = Classifier(ignore_fields=[r"tags\.a$"])
    extended = base.with_overrides(ignore_fields=[r"tags\.b$"])
    assert [p.pattern for p in extended.ignore] == [r"tags\.a$", r"tags\.b$"]
    assert extended.rules == base.rules
    assert (extended.ignored("tags.a"), extended.ignored("tags.b"), extended.ignored("tags.c")) == (True, True, False)


def test_ignore_fields_suppress_changes():
    engine = DeltaEngine(Classifier(ignore_fields=[r"tags\.LastScanned$", r"InstanceType"]))
    old = instance("i-1", tags={"LastScanned": "mon", "Env": "a"})
    new = instance("i-1", tags={"LastScanned": "tue", "Env": "b"}, InstanceType="m5.large")
    assert verdicts(old, new, engine) == {("tags.Env", "changed", "tags", "low")}


def test_load_rules():
    rules, ignore = load_rules({"rules": [{"name": "a", "path": "X", "category": "network", "severity": "info"}],
                                "ignore_fields": ["Y", 7]})
    assert [(r.name, r.path, r.category, r.severity, r.types, r.changes) for r in rules] == [
        ("a", "X", "network", "info", ("*",), ("added", "removed", "changed"))]
    assert ignore == ("Y", "7")
    assert load_rules({}) == ((), ())


def test_fallback_is_configuration_low():
    verdict = Classifier().classify("AWS::Unknown::Thing", AttributeChange("Whatever", "changed", 1, 2, "Whatever"))
    assert verdict == Classification("configuration", "low", "Whatever changed: 1 → 2", "default")


# --- helpers ----------------------------------------------------------------------------------------


def test_max_severity():
    assert max_severity([]) == "info"
    assert max_severity([], default="low") == "low"
    assert max_severity(["low", "critical", "medium"]) == "critical"
    assert max_severity(["info", "medium", "low"]) == "medium"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "none"),
        (True, "true"),
        (False, "false"),
        ("plain", "plain"),
        (3, "3"),
        ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
        ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Source": "1.2.3.4/32"}, "tcp 22 from 1.2.3.4/32"),
        ({"IpProtocol": "udp", "FromPort": 1000, "ToPort": 2000, "Source": "::/0"}, "udp 1000-2000 from ::/0"),
        ({"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "Source": "sg-1"}, "all traffic from sg-1"),
    ],
)
def test_render_value(value, text):
    assert render_value(value) == text


def test_render_value_truncates_long_text():
    assert render_value("x" * 200) == "x" * 119 + "…"
    assert render_value("x" * 120) == "x" * 120
    assert render_value("abcdef", limit=4) == "abc…"
