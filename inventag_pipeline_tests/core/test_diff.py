"""Attribute-level diff (core.diff): list items addressed by identity, each change reported once."""

from __future__ import annotations

import json

from inventag_pipeline.core.canonical import KeyResolver, item_key
from inventag_pipeline.core.diff import AttributeChange, diff_documents
from inventag_pipeline.core.registry import get_type
from inventag_pipeline_tests.core.factories import bucket, record, security_group

SG = get_type("AWS::EC2::SecurityGroup")
NO_TYPE = KeyResolver(None)
SSH_WORLD = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"


def diff(old, new, rtype=None, **kwargs):
    return diff_documents(old, new, KeyResolver(rtype) if rtype else NO_TYPE, **kwargs)


def test_security_group_rule_added_is_exactly_one_change_at_its_key():
    old = security_group("sg-1", ingress=[("tcp", 443, 443, "0.0.0.0/0")])
    new = security_group("sg-1", ingress=[("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 22, 22, "0.0.0.0/0")])
    assert diff(old.configuration, new.configuration, SG) == [
        AttributeChange(
            path=SSH_WORLD,
            change="added",
            old=None,
            new={"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Source": "0.0.0.0/0", "SourceType": "cidr"},
            pattern="IpPermissions[]",
        )
    ]


def test_security_group_rule_removed_and_description_changed():
    old = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "a"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    ]})
    new = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "b"}]},
    ]})
    assert diff(old.configuration, new.configuration, SG) == [
        AttributeChange("IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=10.0.0.0/8].Description",
                        "changed", "a", "b", "IpPermissions[].Description"),
        AttributeChange("IpPermissions[IpProtocol=tcp,FromPort=80,ToPort=80,Source=0.0.0.0/0]", "removed",
                        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Source": "0.0.0.0/0",
                         "SourceType": "cidr"}, None, "IpPermissions[]"),
    ]


def test_reordering_rules_is_not_a_change():
    rules = [("tcp", 22, 22, "10.0.0.0/8"), ("tcp", 443, 443, "0.0.0.0/0"), ("udp", 53, 53, "::/0")]
    a = security_group("sg-1", ingress=rules)
    b = security_group("sg-1", ingress=list(reversed(rules)))
    assert diff(a.configuration, b.configuration, SG) == []
    # Even on raw, unsorted lists the keyed comparison finds nothing.
    raw_old = {"IpPermissions": list(a.configuration["IpPermissions"])}
    raw_new = {"IpPermissions": list(reversed(a.configuration["IpPermissions"]))}
    assert diff(raw_old, raw_new, SG) == []
    assert diff({"L": ["a", "b", "c"]}, {"L": ["c", "a", "b"]}) == []


def test_nested_change_is_reported_once_at_its_own_path():
    old = {"A": {"B": {"C": 1, "D": 2}, "E": "same"}}
    new = {"A": {"B": {"C": 1, "D": 3}, "E": "same"}}
    assert diff(old, new) == [AttributeChange("A.B.D", "changed", 2, 3, "A.B.D")]


def test_added_key_with_dict_value_is_one_change_carrying_the_whole_value():
    value = {"Enabled": True, "Nested": {"Deep": [1, 2]}}
    assert diff({"X": 1}, {"X": 1, "New": value}) == [AttributeChange("New", "added", None, value, "New")]
    assert diff({"X": 1, "Old": value}, {"X": 1}) == [AttributeChange("Old", "removed", value, None, "Old")]


def test_type_change_is_one_changed_at_the_path():
    assert diff({"V": {"a": 1}}, {"V": "flat"}) == [AttributeChange("V", "changed", {"a": 1}, "flat", "V")]
    assert diff({"V": [1]}, {"V": 1}) == [AttributeChange("V", "changed", [1], 1, "V")]


def test_scalar_list_items_are_addressed_by_value():
    assert diff({"L": ["a", "b"]}, {"L": ["b", "c"]}) == [
        AttributeChange("L[a]", "removed", "a", None, "L[]"),
        AttributeChange("L[c]", "added", None, "c", "L[]"),
    ]
    assert diff({"N": [1, 2]}, {"N": [2, 3]}) == [
        AttributeChange("N[1]", "removed", 1, None, "N[]"),
        AttributeChange("N[3]", "added", None, 3, "N[]"),
    ]


def test_changes_come_in_path_order():
    old = {"b": 1, "a": 1, "c": {"z": 1, "y": 1}}
    new = {"b": 2, "a": 2, "c": {"z": 2, "y": 2}}
    assert [c.path for c in diff(old, new)] == ["a", "b", "c.y", "c.z"]


def test_ordered_lambda_layers_treat_reordering_as_a_change():
    fn = get_type("AWS::Lambda::Function")
    layers = [{"Arn": "arn:layer:a:1", "CodeSize": 1}, {"Arn": "arn:layer:b:1", "CodeSize": 2}]
    old = record("AWS::Lambda::Function", {"FunctionName": "f", "FunctionArn": "arn:f", "Layers": layers})
    new = record("AWS::Lambda::Function", {"FunctionName": "f", "FunctionArn": "arn:f", "Layers": layers[::-1]})
    assert old.configuration["Layers"] == layers  # kept in input order
    assert old.content_hash != new.content_hash
    assert diff(old.configuration, new.configuration, fn) == [
        AttributeChange("Layers", "changed", layers, layers[::-1], "Layers")
    ]


def test_declared_keys_address_nested_items():
    inst = get_type("AWS::EC2::Instance")
    old = {"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "a"}, {"GroupId": "sg-2", "GroupName": "b"}]}
    new = {"SecurityGroups": [{"GroupId": "sg-2", "GroupName": "b"}, {"GroupId": "sg-1", "GroupName": "renamed"}]}
    assert diff(old, new, inst) == [
        AttributeChange("SecurityGroups[GroupId=sg-1].GroupName", "changed", "a", "renamed",
                        "SecurityGroups[].GroupName")
    ]


def test_nested_declared_key_path():
    inst = get_type("AWS::EC2::Instance")
    old = {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Groups": [{"GroupId": "sg-1"}]}]}
    new = {"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Groups": [{"GroupId": "sg-1"},
                                                                             {"GroupId": "sg-9"}]}]}
    assert diff(old, new, inst) == [
        AttributeChange("NetworkInterfaces[NetworkInterfaceId=eni-1].Groups[GroupId=sg-9]", "added", None,
                        {"GroupId": "sg-9"}, "NetworkInterfaces[].Groups[]")
    ]


def test_s3_encryption_rules_keyed_by_nested_algorithm():
    s3 = get_type("AWS::S3::Bucket")
    old = bucket("b")
    new = bucket("b", encryption={"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    assert diff(old.configuration, new.configuration, s3) == [
        AttributeChange("Encryption.Rules[ApplyServerSideEncryptionByDefault.SSEAlgorithm=AES256].BucketKeyEnabled",
                        "added", None, True, "Encryption.Rules[].BucketKeyEnabled")
    ]


def test_non_unique_declared_key_falls_back_to_whole_item_identity():
    inst = get_type("AWS::EC2::Instance")
    first, second = {"GroupId": "sg-1", "GroupName": "a"}, {"GroupId": "sg-1", "GroupName": "b"}
    changes = diff({"SecurityGroups": []}, {"SecurityGroups": [first, second]}, inst)
    assert changes == sorted(
        [
            AttributeChange("SecurityGroups[GroupId=sg-1]", "added", None, first, "SecurityGroups[]"),
            AttributeChange(f"SecurityGroups[{item_key(second, None)}]", "added", None, second, "SecurityGroups[]"),
        ],
        key=lambda c: c.path,
    )


def test_undeclared_lists_with_disjoint_identities_use_the_inferred_key():
    assert diff({"Things": [{"Id": "a", "V": 1}]}, {"Things": [{"Id": "b", "V": 1}]}) == [
        AttributeChange("Things[Id=a]", "removed", {"Id": "a", "V": 1}, None, "Things[]"),
        AttributeChange("Things[Id=b]", "added", None, {"Id": "b", "V": 1}, "Things[]"),
    ]


def test_prefix_puts_tags_under_tags():
    assert diff({"Env": "dev", "Gone": "x"}, {"Env": "prod", "New": "y"}, prefix="tags") == [
        AttributeChange("tags.Env", "changed", "dev", "prod", "tags.Env"),
        AttributeChange("tags.Gone", "removed", "x", None, "tags.Gone"),
        AttributeChange("tags.New", "added", None, "y", "tags.New"),
    ]


def test_identical_documents_have_no_changes():
    doc = json.loads(json.dumps(security_group("sg-1", ingress=[("tcp", 22, 22, "0.0.0.0/0")]).configuration))
    assert diff(doc, json.loads(json.dumps(doc)), SG) == []
    assert diff({}, {}) == []


def test_policy_statement_with_sid_is_addressed_by_sid():
    def policy(actions):
        return {"Policy": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": actions,
             "Resource": ["arn:aws:s3:::b/*"]},
            {"Sid": "Deny", "Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:*"], "Resource": ["*"]},
        ]}}

    s3 = get_type("AWS::S3::Bucket")
    assert diff(policy(["s3:GetObject"]), policy(["s3:GetObject", "s3:PutObject"]), s3) == [
        AttributeChange("Policy.Statement[Sid=Read].Action[s3:PutObject]", "added", None, "s3:PutObject",
                        "Policy.Statement[].Action[]")
    ]


def test_undeclared_list_item_change_is_addressed_by_inferred_key():
    fn = get_type("AWS::Lambda::Function")
    old = {"FileSystemConfigs": [{"Arn": "arn:efs:a", "LocalMountPath": "/mnt/a"}]}
    new = {"FileSystemConfigs": [{"Arn": "arn:efs:a", "LocalMountPath": "/mnt/b"}]}
    assert diff(old, new, fn) == [
        AttributeChange("FileSystemConfigs[Arn=arn:efs:a].LocalMountPath", "changed", "/mnt/a", "/mnt/b",
                        "FileSystemConfigs[].LocalMountPath")
    ]
