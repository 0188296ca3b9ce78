"""Canonicalisation (core.canonical): one shape and one hash per resource, whatever the input order or form."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path

import pytest

from inventag_pipeline.core.canonical import (
    canonical_json,
    canonical_record,
    canonicalise_configuration,
    content_hash,
    explode_security_group_rules,
    format_timestamp,
    get_path,
    infer_key_fields,
    item_key,
    jsonable,
    normalise_policy,
    parse_json_document,
    pattern_of,
    resolve_arn,
    split_pattern,
    strip_paths,
    tags_to_map,
)
from inventag_pipeline.core.registry import GLOBAL_REGION, ResourceType, get_type
from inventag_pipeline_tests.core.factories import ACCOUNT, COLLECTED_AT, US, bucket, record, role

EXPECTED_TS = "2024-03-01T12:00:00Z"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2024, 3, 1, 12, 0, 0),  # naive: taken as UTC
        dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 3, 1, 14, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2024, 3, 1, 7, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "2024-03-01T12:00:00+00:00",
        "2024-03-01T12:00:00.000Z",
        "2024-03-01T12:00:00Z",
        "2024-03-01 12:00:00",
        "2024-03-01T12:00:00",
        "2024-03-01T14:00:00+02:00",
        "2024-03-01T07:00:00-05:00",
        "2024-03-01T12:00:00+0000",
    ],
    ids=repr,
)
def test_every_timestamp_form_becomes_the_same_utc_z_string(value):
    assert canonicalise_configuration({"Nested": {"At": value}}, None) == {"Nested": {"At": EXPECTED_TS}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=dt.timezone.utc), "2024-03-01T12:00:00.123456Z"),
        (dt.datetime(2024, 3, 1, 12, 0, 0, 500000), "2024-03-01T12:00:00.500000Z"),
        ("2024-03-01T12:00:00.5Z", "2024-03-01T12:00:00.500000Z"),
        ("2024-03-01T12:00:00.250+00:00", "2024-03-01T12:00:00.250000Z"),
    ],
)
def test_fractional_seconds_are_kept_only_when_present(value, expected):
    assert canonicalise_configuration({"At": value}, None) == {"At": expected}


@pytest.mark.parametrize("text", ["2024-03-01", "not a date", "2024-13-45T99:99:99Z", "12:00:00"])
def test_strings_that_are_not_valid_timestamps_are_left_alone(text):
    assert canonicalise_configuration({"V": text}, None) == {"V": text}


def test_format_timestamp_converts_to_utc():
    tz = dt.timezone(dt.timedelta(hours=9))
    assert format_timestamp(dt.datetime(2024, 1, 1, 8, 30, tzinfo=tz)) == "2023-12-31T23:30:00Z"


def test_timestamps_inside_a_record_are_canonical_in_configuration():
    a = record("AWS::EC2::Volume", {"VolumeId": "vol-1", "CreateTime": dt.datetime(2024, 3, 1, 12, 0, 0)})
    b = record("AWS::EC2::Volume", {"VolumeId": "vol-1", "CreateTime": "2024-03-01T14:00:00+02:00"})
    assert a.configuration == b.configuration == {"VolumeId": "vol-1", "CreateTime": EXPECTED_TS}
    assert a.content_hash == b.content_hash


def test_jsonable_converts_api_values():
    body = io.BytesIO(b"streamed")
    value = {
        "Date": dt.date(2024, 3, 1),
        "Blob": b"\x00\x01hi",
        "Whole": Decimal("5"),
        "Fraction": Decimal("1.5"),
        "Tuple": (1, 2),
        "Body": body,
        7: "int key",
    }
    assert jsonable(value) == {
        "Date": "2024-03-01",
        "Blob": "AAFoaQ==",
        "Whole": 5,
        "Fraction": 1.5,
        "Tuple": [1, 2],
        "Body": None,
        "7": "int key",
    }
    assert isinstance(jsonable(Decimal("5")), int)


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": 1, "a": {"d": [1, "é"], "c": None}}) == '{"a":{"c":null,"d":[1,"é"]},"b":1}'


# --- JSON documents and IAM policies ------------------------------------------------------------

POLICY = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:q"},
}
NORMALISED_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["sqs:SendMessage"], "Resource": ["arn:aws:sqs:q"]}
    ],
}


@pytest.mark.parametrize(
    "text",
    [json.dumps(POLICY), "  " + json.dumps(POLICY) + "\n", urllib.parse.quote(json.dumps(POLICY))],
    ids=["plain", "padded", "url-encoded"],
)
def test_parse_json_document_plain_and_url_encoded(text):
    assert parse_json_document(text) == POLICY


def test_url_encoded_lower_case_prefix_is_decoded():
    text = urllib.parse.quote(json.dumps(POLICY)).replace("%7B", "%7b", 1)
    assert text.startswith("%7b")
    assert parse_json_document(text) == POLICY


@pytest.mark.parametrize("value", ["plain text", "{not json", "[1,", 42, None, {"already": "parsed"}])
def test_parse_json_document_leaves_non_documents_alone(value):
    assert parse_json_document(value) == value


def test_json_policy_strings_are_parsed_and_normalised_in_records():
    plain = record("AWS::SQS::Queue", {
        "QueueUrl": "https://q/1",
        "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1", "Policy": json.dumps(POLICY)},
    })
    encoded = record("AWS::SQS::Queue", {
        "QueueUrl": "https://q/1",
        "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1",
                       "Policy": urllib.parse.quote(json.dumps(POLICY))},
    })
    assert plain.configuration["Attributes"]["Policy"] == NORMALISED_POLICY
    assert encoded.configuration == plain.configuration
    assert encoded.content_hash == plain.content_hash


def test_role_trust_policy_url_encoded_string_is_parsed():
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                            "Action": "sts:AssumeRole"}]}
    from_string = role("r", trust=urllib.parse.quote(json.dumps(trust)))  # type: ignore[arg-type]
    from_dict = role("r", trust=trust)
    assert from_string.configuration["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]},
                       "Action": ["sts:AssumeRole"]}],
    }
    assert from_string.content_hash == from_dict.content_hash


def test_normalise_policy_shapes():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:x",
             "Principal": {"AWS": "arn:a", "Service": ["s.amazonaws.com"]}},
            {"Effect": "Deny", "NotPrincipal": "*", "Action": ["a:B"]},
            "not-a-statement",
        ],
    }
    assert normalise_policy(doc) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotAction": ["iam:*"], "NotResource": ["arn:x"],
             "Principal": {"AWS": ["arn:a"], "Service": ["s.amazonaws.com"]}},
            {"Effect": "Deny", "NotPrincipal": {"AWS": ["*"]}, "Action": ["a:B"]},
            "not-a-statement",
        ],
    }
    # The input is not mutated.
    assert doc["Statement"][0]["NotAction"] == "iam:*"


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_every_spelling_of_principal_star_is_the_same(principal):
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "s3:*"}]}
    assert canonical_json(canonicalise_configuration({"Policy": doc}, None)) == (
        '{"Policy":{"Statement":[{"Action":["s3:*"],"Effect":"Allow","Principal":{"AWS":["*"]}}],'
        '"Version":"2012-10-17"}}'
    )


def test_statement_order_and_action_order_do_not_matter():
    s1 = {"Sid": "A", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}
    s2 = {"Sid": "B", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": ["arn:b", "arn:a"]}
    forms = [
        canonicalise_configuration({"Policy": {"Version": "2012-10-17", "Statement": list(p)}}, None)
        for p in itertools.permutations([s1, s2])
    ]
    assert forms[0] == forms[1]
    assert forms[0]["Policy"]["Statement"] == [
        {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["*"]},
        {"Sid": "B", "Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": ["arn:a", "arn:b"]},
    ]


# --- list order, None values --------------------------------------------------------------------


def test_scalar_lists_are_sorted_whatever_the_input_order():
    results = {
        canonical_json(canonicalise_configuration({"L": list(p)}, None))
        for p in itertools.permutations(["b", "a", "c"])
    }
    assert results == {'{"L":["a","b","c"]}'}


def test_mixed_scalar_lists_are_sorted_deterministically():
    assert canonicalise_configuration({"L": [3, "b", 1, "a", True]}, None) == {"L": [True, 1, 3, "a", "b"]}


def test_keyed_lists_of_a_record_never_change_json_or_hash_with_input_order():
    volumes = [{"DeviceName": d, "Ebs": {"VolumeId": f"vol-{d[-1]}", "Status": "attached"}}
               for d in ("/dev/sdc", "/dev/sda", "/dev/sdb")]
    groups = [{"GroupId": "sg-2", "GroupName": "b"}, {"GroupId": "sg-1", "GroupName": "a"}]
    outputs = set()
    for vols in itertools.permutations(volumes):
        for grps in itertools.permutations(groups):
            rec = record("AWS::EC2::Instance", {"InstanceId": "i-1", "BlockDeviceMappings": list(vols),
                                                "SecurityGroups": list(grps)})
            outputs.add((canonical_json(rec.configuration), rec.content_hash))
    assert len(outputs) == 1
    config = json.loads(next(iter(outputs))[0])
    assert [b["DeviceName"] for b in config["BlockDeviceMappings"]] == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    assert [g["GroupId"] for g in config["SecurityGroups"]] == ["sg-1", "sg-2"]


def test_undeclared_lists_of_objects_use_an_inferred_identity_field():
    items = [{"Name": "zeta", "V": 1}, {"Name": "alpha", "V": 2}, {"Name": "mid", "V": 3}]
    out = {canonical_json(canonicalise_configuration({"Things": list(p)}, None))
           for p in itertools.permutations(items)}
    assert out == {'{"Things":[{"Name":"alpha","V":2},{"Name":"mid","V":3},{"Name":"zeta","V":1}]}'}


def test_none_values_are_dropped_everywhere():
    raw = {"A": None, "B": {"C": None, "D": 1}, "E": [None, "x", None], "F": [{"G": None, "H": 2}]}
    assert canonicalise_configuration(raw, None) == {"B": {"D": 1}, "E": ["x"], "F": [{"H": 2}]}


def test_response_metadata_is_dropped():
    rec = record("AWS::EC2::Volume", {"VolumeId": "vol-1", "ResponseMetadata": {"RequestId": "abc"}})
    assert rec.configuration == {"VolumeId": "vol-1"}


# --- tags -----------------------------------------------------------------------------------------

TAGS = {"Name": "web", "Env": "prod"}


@pytest.mark.parametrize(
    "shape",
    [
        [{"Key": "Name", "Value": "web"}, {"Key": "Env", "Value": "prod"}],
        [{"TagKey": "Env", "TagValue": "prod"}, {"TagKey": "Name", "TagValue": "web"}],
        {"Env": "prod", "Name": "web"},
    ],
    ids=["Key/Value", "TagKey/TagValue", "map"],
)
def test_three_tag_shapes_give_the_same_map(shape):
    assert tags_to_map(shape) == TAGS


def test_three_tag_shapes_give_the_same_record():
    shapes = (
        [{"Key": "Name", "Value": "web"}, {"Key": "Env", "Value": "prod"}],
        [{"TagKey": "Env", "TagValue": "prod"}, {"TagKey": "Name", "TagValue": "web"}],
        {"Env": "prod", "Name": "web"},
    )
    records = [record("AWS::EC2::Volume", {"VolumeId": "vol-1", "Tags": s}) for s in shapes]
    assert {(r.name, tuple(sorted(r.tags.items())), canonical_json(r.configuration), r.content_hash)
            for r in records} == {("web", (("Env", "prod"), ("Name", "web")), '{"VolumeId":"vol-1"}',
                                   records[0].content_hash)}


def test_tags_to_map_edge_cases():
    assert tags_to_map(None) == {}
    assert tags_to_map([]) == {}
    assert tags_to_map({"n": 5, "empty": None}) == {"n": "5", "empty": ""}
    assert tags_to_map([{"Key": "a", "Value": None}, {"Value": "orphan"}, "junk", {"key": "lower", "value": "v"}]) == {
        "a": "",
        "lower": "v",
    }


def test_tags_change_the_hash_but_not_the_configuration():
    a = record("AWS::EC2::Instance", {"InstanceId": "i-1", "Tags": [{"Key": "Env", "Value": "dev"}]})
    b = record("AWS::EC2::Instance", {"InstanceId": "i-1", "Tags": [{"Key": "Env", "Value": "prod"}]})
    assert a.configuration == b.configuration
    assert a.content_hash != b.content_hash


# --- volatile fields and the content hash -------------------------------------------------------


def test_sqs_message_counters_are_volatile_but_kept_in_configuration():
    def q(messages: str):
        return record("AWS::SQS::Queue", {
            "QueueUrl": "https://q/1",
            "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1", "ApproximateNumberOfMessages": messages,
                           "VisibilityTimeout": "30"},
        })

    a, b = q("0"), q("1234")
    assert a.content_hash == b.content_hash
    assert a.configuration["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert b.configuration["Attributes"]["ApproximateNumberOfMessages"] == "1234"
    changed = record("AWS::SQS::Queue", {
        "QueueUrl": "https://q/1",
        "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1", "ApproximateNumberOfMessages": "0",
                       "VisibilityTimeout": "60"},
    })
    assert changed.content_hash != a.content_hash


def test_ec2_launch_time_and_nested_attach_times_are_volatile():
    def inst(launch: str, attach: str):
        return record("AWS::EC2::Instance", {
            "InstanceId": "i-1",
            "LaunchTime": launch,
            "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Attachment": {"AttachTime": attach,
                                                                                  "DeviceIndex": 0}}],
        })

    a = inst("2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z")
    b = inst("2024-02-01T00:00:00Z", "2024-02-01T00:00:05Z")
    assert a.content_hash == b.content_hash
    assert a.configuration["LaunchTime"] == "2024-01-01T00:00:00Z"
    assert b.configuration["NetworkInterfaces"][0]["Attachment"] == {"AttachTime": "2024-02-01T00:00:05Z",
                                                                     "DeviceIndex": 0}


def test_content_hash_is_sha256_of_configuration_and_tags_without_volatile_paths():
    config = {"Keep": 1, "Gone": 2, "L": [{"X": 1, "T": "a"}, {"X": 2, "T": "b"}]}
    tags = {"b": "2", "a": "1"}
    expected_payload = '{"configuration":{"Keep":1,"L":[{"X":1},{"X":2}]},"tags":{"a":"1","b":"2"}}'
    assert content_hash(config, tags, ["Gone", "L[].T"]) == hashlib.sha256(expected_payload.encode()).hexdigest()
    assert config == {"Keep": 1, "Gone": 2, "L": [{"X": 1, "T": "a"}, {"X": 2, "T": "b"}]}  # not mutated


def test_strip_paths_returns_a_copy_and_ignores_missing_paths():
    config = {"A": {"B": 1, "C": 2}, "L": [{"D": 1}, "scalar"]}
    assert strip_paths(config, ["A.B", "L[].D", "Missing.Path", "A.C.Deeper"]) == {"A": {"C": 2}, "L": [{}, "scalar"]}
    assert config == {"A": {"B": 1, "C": 2}, "L": [{"D": 1}, "scalar"]}


_SUBPROCESS_CODE = """
import json, sys
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.registry import get_type
payload = json.loads(sys.argv[1])
payload["Extra"] = set(payload["Extra"])
rec = canonical_record(get_type("AWS::EC2::Instance"), payload, account_id="123456789012", region="us-east-1",
                       collected_at="2024-05-02T06:00:00Z")
print(rec.content_hash)
"""


def _hash_payload() -> dict:
    return {
        "InstanceId": "i-1",
        "Tags": [{"Key": k, "Value": v} for k, v in (("Owner", "bob"), ("Env", "dev"), ("Name", "x"))],
        "SecurityGroups": [{"GroupId": f"sg-{i}", "GroupName": f"g{i}"} for i in (3, 1, 2)],
        "Extra": [f"item-{i}" for i in range(20)],
        "LaunchTime": "2024-01-01T00:00:00.000Z",
    }


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_content_hash_is_stable_across_processes_and_hash_seeds(seed):
    payload = _hash_payload()
    in_process = canonical_record(
        get_type("AWS::EC2::Instance"),
        {**payload, "Extra": set(payload["Extra"])},
        account_id=ACCOUNT, region=US, collected_at=COLLECTED_AT,
    ).content_hash
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_CODE, json.dumps(payload)],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, check=True, timeout=60,
    )
    assert result.stdout.strip() == in_process


# --- security-group rules -----------------------------------------------------------------------


def test_security_group_rules_are_exploded_one_item_per_source():
    rec = record("AWS::EC2::SecurityGroup", {
        "GroupId": "sg-1",
        "GroupName": "web",
        "IpPermissions": [
            {
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}, {"CidrIp": "10.0.0.0/8"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "PrefixListIds": [{"PrefixListId": "pl-1"}],
                "UserIdGroupPairs": [{"GroupId": "sg-2", "UserId": "111122223333"}],
            },
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.1.0.0/16"}]},
        ],
    })
    tcp22 = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    assert rec.configuration["IpPermissions"] == [
        {"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "Source": "10.1.0.0/16", "SourceType": "cidr"},
        {**tcp22, "Source": "0.0.0.0/0", "SourceType": "cidr", "Description": "ssh"},
        {**tcp22, "Source": "10.0.0.0/8", "SourceType": "cidr"},
        {**tcp22, "Source": "::/0", "SourceType": "cidr6"},
        {**tcp22, "Source": "pl-1", "SourceType": "prefix-list"},
        {**tcp22, "Source": "sg-2", "SourceType": "security-group", "SourceAccount": "111122223333"},
    ]
    # A missing egress list becomes an empty list, so "no egress" has one spelling.
    assert rec.configuration["IpPermissionsEgress"] == []


def test_explode_handles_none_ports_and_empty_input():
    assert explode_security_group_rules(None) == []
    assert explode_security_group_rules([{"IpProtocol": "icmp", "FromPort": None, "ToPort": None}]) == []
    assert explode_security_group_rules(
        [{"IpProtocol": 6, "FromPort": None, "ToPort": None, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]}]
    ) == [{"IpProtocol": "6", "FromPort": -1, "ToPort": -1, "Source": "1.2.3.4/32", "SourceType": "cidr"}]


def test_security_group_rule_order_and_grouping_do_not_change_the_hash():
    grouped = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}]},
               {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    split = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
             {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
             {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    a = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "IpPermissions": grouped})
    b = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "IpPermissions": split})
    assert a.configuration == b.configuration
    assert a.content_hash == b.content_hash


# --- S3, IAM, names, ARNs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("ap-south-1", "ap-south-1"),
     ("eu-west-1", "eu-west-1")],
)
def test_s3_location_normalised_and_used_as_region(location, region):
    rec = bucket("logs", location=location)
    assert (rec.region, rec.configuration["Location"], rec.arn, rec.resource_id, rec.name) == (
        region, region, "arn:aws:s3:::logs", "logs", "logs")


def test_s3_versioning_defaults_and_is_trimmed():
    unversioned = record("AWS::S3::Bucket", {"Name": "a", "Versioning": {"ResponseMetadata": {"x": 1}}})
    assert unversioned.configuration["Versioning"] == {"Status": "Disabled"}
    missing = record("AWS::S3::Bucket", {"Name": "a"})
    assert missing.configuration == {"Name": "a", "Location": "us-east-1", "Versioning": {"Status": "Disabled"}}
    on = record("AWS::S3::Bucket", {"Name": "a", "Versioning": {"Status": "Enabled", "MFADelete": "Disabled",
                                                                "Other": 1}})
    assert on.configuration["Versioning"] == {"Status": "Enabled", "MFADelete": "Disabled"}


@pytest.mark.parametrize(
    ("cfn_type", "payload", "arn"),
    [
        ("AWS::IAM::Role", {"RoleName": "r", "Arn": f"arn:aws:iam::{ACCOUNT}:role/r"},
         f"arn:aws:iam::{ACCOUNT}:role/r"),
        ("AWS::IAM::User", {"UserName": "u", "Arn": f"arn:aws:iam::{ACCOUNT}:user/u"},
         f"arn:aws:iam::{ACCOUNT}:user/u"),
        ("AWS::IAM::ManagedPolicy", {"PolicyName": "p", "Arn": f"arn:aws:iam::{ACCOUNT}:policy/p"},
         f"arn:aws:iam::{ACCOUNT}:policy/p"),
    ],
)
def test_iam_types_are_global(cfn_type, payload, arn):
    rec = record(cfn_type, payload, region="eu-west-1")
    assert (rec.region, rec.arn, rec.service) == (GLOBAL_REGION, arn, "iam")


def test_regional_types_keep_the_collection_region_and_template_arn():
    rec = record("AWS::EC2::Instance", {"InstanceId": "i-9"}, region="eu-west-1")
    assert (rec.region, rec.arn, rec.resource_id, rec.account_id, rec.source, rec.collected_at) == (
        "eu-west-1", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-9", "i-9", ACCOUNT, "api", COLLECTED_AT)


def test_name_prefers_name_tag_then_name_field():
    tagged = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "GroupName": "grp",
                                                "Tags": [{"Key": "Name", "Value": "tagged"}]})
    untagged = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "GroupName": "grp"})
    empty_tag = record("AWS::EC2::SecurityGroup", {"GroupId": "sg-1", "GroupName": "grp",
                                                   "Tags": [{"Key": "Name", "Value": ""}]})
    nameless = record("AWS::EC2::Instance", {"InstanceId": "i-1"})
    assert (tagged.name, untagged.name, empty_tag.name, nameless.name) == ("tagged", "grp", "grp", None)


def test_sns_and_sqs_names_come_from_the_arn():
    topic_arn = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    topic = record("AWS::SNS::Topic", {"TopicArn": topic_arn,
                                       "Attributes": {"TopicArn": topic_arn, "Owner": ACCOUNT, "DisplayName": "A"}})
    q = record("AWS::SQS::Queue", {"QueueUrl": "https://sqs/q", "Attributes": {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"}})
    named_q = record("AWS::SQS::Queue", {"QueueUrl": "https://sqs/q", "Tags": {"Name": "Jobs queue"},
                                         "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"}})
    assert (topic.name, topic.arn, topic.resource_id) == ("alerts", topic_arn, topic_arn)
    # The SNS normaliser drops attributes that repeat the record's identity.
    assert topic.configuration == {"TopicArn": topic_arn, "Attributes": {"DisplayName": "A"}}
    assert (q.name, q.arn, q.resource_id) == ("jobs", f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs", "https://sqs/q")
    assert named_q.name == "Jobs queue"


def test_kms_key_arn_duplicate_is_dropped():
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"
    rec = record("AWS::KMS::Key", {"KeyId": "k1", "KeyArn": arn, "Arn": arn, "Description": "main"})
    assert rec.configuration == {"KeyId": "k1", "Arn": arn, "Description": "main"}
    assert (rec.arn, rec.name) == (arn, "main")


def test_synthetic_arn_for_a_type_without_arn_source():
    rtype = ResourceType(cfn_type="AWS::X::Thing", service="x", description="d", list_operation="list_things",
                         result_path="Things[]", id_field="ThingId")
    rec = canonical_record(rtype, {"ThingId": "t-1"}, account_id=ACCOUNT, region=US, collected_at=COLLECTED_AT)
    assert rec.arn == f"arn:aws:x:us-east-1:{ACCOUNT}:AWS::X::Thing/t-1"
    assert resolve_arn(rtype, {}, "t-2", ACCOUNT, "eu-west-1", partition="aws-cn") == (
        f"arn:aws-cn:x:eu-west-1:{ACCOUNT}:AWS::X::Thing/t-2")


def test_arn_field_falls_back_to_template_when_missing():
    rtype = get_type("AWS::EC2::Subnet")
    assert resolve_arn(rtype, {"SubnetArn": "arn:given"}, "subnet-1", ACCOUNT, US) == "arn:given"
    template = ResourceType(cfn_type="AWS::X::Y", service="x", description="d", list_operation="l", result_path="r",
                            id_field="Id", arn_field="Arn", arn_template="arn:{partition}:x:{region}:{account}:y/{id}")
    assert resolve_arn(template, {}, "y1", ACCOUNT, US) == f"arn:aws:x:us-east-1:{ACCOUNT}:y/y1"


# --- path helpers and item identity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "segments"),
    [
        ("A", ("A",)),
        ("A.B", ("A", "B")),
        ("A[].B", ("A", "[]", "B")),
        ("VpcConfig.SecurityGroupIds[]", ("VpcConfig", "SecurityGroupIds", "[]")),
    ],
)
def test_split_pattern_and_pattern_of_round_trip(pattern, segments):
    assert split_pattern(pattern) == segments
    assert pattern_of(segments) == pattern


def test_split_pattern_handles_nested_list_patterns():
    assert pattern_of(("A", "[]", "[]", "B")) == "A[][].B"
    assert split_pattern("A[][].B") == ("A", "[]", "[]", "B")
    assert get_path({"A": [[{"B": 1}], [{"B": 2}]]}, "A[][].B") == [1, 2]


def test_get_path_fans_out_and_drops_none():
    doc = {"A": [{"B": 1}, {"B": None}, {"C": 3}, {"B": 4}], "D": {"E": "x"}}
    assert get_path(doc, "A[].B") == [1, 4]
    assert get_path(doc, "D.E") == ["x"]
    assert get_path(doc, "D.Missing") == []
    assert get_path(doc, "D[]") == []


def test_item_key_forms():
    assert item_key("plain", None) == "plain"
    assert item_key(5, None) == "5"
    assert item_key({"GroupId": "sg-1", "X": 1}, ("GroupId",)) == "GroupId=sg-1"
    assert item_key({"A": {"B": "deep"}}, ("A.B", "Missing")) == "A.B=deep,Missing="
    digest = hashlib.sha256(b'{"X":1}').hexdigest()[:12]
    assert item_key({"X": 1}, None) == "#" + digest


def test_infer_key_fields():
    assert infer_key_fields([{"Id": "a", "Name": "x"}, {"Id": "b", "Name": "x"}]) == ("Id",)
    assert infer_key_fields([{"Name": "x"}, {"Name": "y"}]) == ("Name",)
    assert infer_key_fields([{"Name": "x"}, {"Name": "x"}]) is None
    assert infer_key_fields([{"Name": "x"}, "scalar"]) is None
    assert infer_key_fields([]) is None


def test_secrets_are_replaced_by_their_digest_before_anything_is_stored():
    import hashlib

    from inventag_pipeline.core.canonical import redact_secrets

    payload = {"Environment": {"Variables": {"DB_PASSWORD": "hunter2", "MODE": "prod"}},
               "Containers": [{"env": [{"name": "TOKEN", "value": "abc"}, {"name": "EMPTY", "value": None}]}],
               "Other": "kept"}
    redact_secrets(payload, ["Environment.Variables.*", "Containers[].env[].value", "Missing.Path"])
    digest = "redacted:sha256:" + hashlib.sha256(b"hunter2").hexdigest()
    assert payload == {
        "Environment": {"Variables": {"DB_PASSWORD": digest,
                                      "MODE": "redacted:sha256:" + hashlib.sha256(b"prod").hexdigest()}},
        "Containers": [{"env": [{"name": "TOKEN", "value": "redacted:sha256:" + hashlib.sha256(b"abc").hexdigest()},
                                {"name": "EMPTY", "value": None}]}],
        "Other": "kept"}
    assert redact_secrets(payload, ["Environment.Variables.*"])["Environment"]["Variables"]["DB_PASSWORD"] == digest
