"""Snapshot tables and manifests (core.snapshot, DESIGN §5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inventag_pipeline.core.canonical import canonical_json
from inventag_pipeline.core.snapshot import (
    COVERAGE_STATUSES,
    RELATIONSHIP_SCHEMA,
    SCHEMA_VERSION,
    SNAPSHOT_SCHEMA,
    DuplicateArnError,
    arn_problems,
    build_manifest,
    records_to_table,
    relationships_table,
    schema_problems,
    sha256_hex,
    table_to_parquet_bytes,
    unverified_scopes,
)
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    EU,
    US,
    bucket,
    instance,
    queue,
    record,
    role,
    scope,
    security_group,
    shuffled,
)

UTC_COLLECTED = dt.datetime(2024, 5, 2, 6, 0, tzinfo=dt.timezone.utc)


def sample_records():
    return [
        queue("q1", tags={"b": "2", "a": "1"}),
        bucket("zeta", location=EU),
        role("admin"),
        security_group("sg-1", name="web"),
    ]


def test_records_to_table_sorted_by_arn_with_the_documented_schema():
    recs = sample_records()
    tbl = records_to_table(recs)
    assert tbl.schema.equals(SNAPSHOT_SCHEMA)
    assert [f.name for f in tbl.schema] == ["arn", "account_id", "region", "service", "resource_type", "resource_id",
                                            "name", "tags", "configuration", "content_hash", "source", "collected_at"]
    expected_order = sorted(r.arn for r in recs)
    assert tbl.column("arn").to_pylist() == expected_order
    assert expected_order == [
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1",
        f"arn:aws:iam::{ACCOUNT}:role/admin",
        "arn:aws:s3:::zeta",
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1",
    ]
    got = {(r["arn"], r["account_id"], r["region"], r["service"], r["resource_type"], r["resource_id"], r["name"],
            tuple(r["tags"]), r["configuration"], r["content_hash"], r["source"], r["collected_at"])
           for r in tbl.to_pylist()}
    assert got == {(r.arn, ACCOUNT, r.region, r.service, r.resource_type, r.resource_id, r.name,
                    tuple(sorted(r.tags.items())), canonical_json(r.configuration), r.content_hash, "api",
                    UTC_COLLECTED) for r in recs}


def test_records_to_table_regions_and_tags():
    tbl = records_to_table(sample_records())
    assert tbl.column("region").to_pylist() == [US, "global", EU, US]
    # Tags are stored as a map with sorted keys.
    assert tbl.column("tags").to_pylist() == [[], [], [], [("a", "1"), ("b", "2")]]


def test_collected_at_is_converted_to_utc():
    rec = record("AWS::EC2::Volume", {"VolumeId": "vol-1"}, collected_at="2024-05-02T08:00:00+02:00")
    assert records_to_table([rec]).column("collected_at").to_pylist() == [UTC_COLLECTED]


def test_input_order_does_not_change_the_table():
    recs = sample_records()
    assert records_to_table(recs).equals(records_to_table(list(reversed(recs))))


def test_empty_table_conforms():
    tbl = records_to_table([])
    assert (tbl.num_rows, schema_problems(tbl)) == (0, [])
    assert tbl.schema.equals(SNAPSHOT_SCHEMA)


def test_duplicate_arn_raises():
    a, b = queue("q1"), queue("q1", messages="9")
    with pytest.raises(DuplicateArnError) as info:
        records_to_table([a, queue("q2"), b])
    assert str(info.value) == f"1 duplicate ARN(s) in one snapshot, e.g. ['{a.arn}']"
    assert isinstance(info.value, ValueError)


def test_schema_problems_empty_for_a_conforming_table():
    assert schema_problems(records_to_table(sample_records())) == []


def test_schema_problems_lists_every_problem_at_once():
    good = records_to_table(sample_records())
    arns = good.column("arn").to_pylist()
    bad = (
        good.drop_columns(["source"])
        .set_column(good.schema.get_field_index("name"), "name", pa.array(range(good.num_rows), pa.int64()))
        .set_column(0, pa.field("arn", pa.string(), nullable=False), pa.array([arns[0]] * good.num_rows))
        .append_column("extra", pa.array(["x"] * good.num_rows))
    )
    assert schema_problems(bad) == [
        "column 'name' is int64, expected string",
        "missing column 'source'",
        "unexpected column 'extra'",
        "ARNs are not unique",
    ]


def test_schema_problems_reports_null_arns_and_wrong_timestamp_unit():
    good = records_to_table(sample_records()[:2])
    bad = good.set_column(0, "arn", pa.array([None, "arn:x"], pa.string())).set_column(
        good.schema.get_field_index("collected_at"), "collected_at",
        pa.array([UTC_COLLECTED, UTC_COLLECTED], pa.timestamp("ms", tz="UTC")))
    assert schema_problems(bad) == [
        "column 'collected_at' is timestamp[ms, tz=UTC], expected timestamp[us, tz=UTC]",
        "1 null ARN(s)",
    ]


def test_parquet_bytes_are_deterministic_and_round_trip():
    recs = sample_records()
    tbl = records_to_table(recs)
    first = table_to_parquet_bytes(tbl)
    assert first == table_to_parquet_bytes(tbl)
    assert first == table_to_parquet_bytes(records_to_table(list(reversed(recs))))
    assert first[:4] == b"PAR1"
    back = pq.read_table(io.BytesIO(first))
    assert back.equals(tbl)
    assert schema_problems(back) == []
    assert pq.ParquetFile(io.BytesIO(first)).metadata.row_group(0).column(0).compression == "ZSTD"


def test_resorting_a_shuffled_table_gives_the_same_bytes():
    tbl = records_to_table(sample_records())
    mixed = shuffled(tbl, 1)
    assert mixed.column("arn").to_pylist() != tbl.column("arn").to_pylist()
    assert table_to_parquet_bytes(mixed) != table_to_parquet_bytes(tbl)
    assert table_to_parquet_bytes(mixed.sort_by("arn")) == table_to_parquet_bytes(tbl)


def test_sha256_hex():
    assert sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_build_manifest_has_exactly_the_documented_fields():
    coverage = [scope("ec2", US, resource_count=3), scope("s3", "global", "failed", "AccessDenied")]
    manifest = build_manifest(account_id=ACCOUNT, date="2024-05-02", collected_at="2024-05-02T06:00:00Z",
                              regions=(US, EU), row_count=3, sha256="ab" * 32, coverage=coverage)
    assert manifest == {
        "schema_version": SCHEMA_VERSION,
        "account_id": ACCOUNT,
        "date": "2024-05-02",
        "collected_at": "2024-05-02T06:00:00Z",
        "regions": [US, EU],
        "row_count": 3,
        "sha256": "ab" * 32,
        "coverage": [
            {"service": "ec2", "region": US, "status": "ok", "error": None, "resource_count": 3, "api_calls": 1,
             "duration_s": 0.1},
            {"service": "s3", "region": "global", "status": "failed", "error": "AccessDenied", "resource_count": 0,
             "api_calls": 1, "duration_s": 0.1},
        ],
    }
    assert SCHEMA_VERSION == 1
    assert json.loads(json.dumps(manifest)) == manifest
    # Coverage entries are copied, not shared.
    manifest["coverage"][0]["status"] = "changed"
    assert coverage[0]["status"] == "ok"


def test_build_manifest_extra_fields():
    manifest = build_manifest(account_id=ACCOUNT, date="2024-05-02", collected_at="t", regions=[], row_count=0,
                              sha256="x", coverage=[], extra={"source": "config"})
    assert (manifest["source"], manifest["regions"], manifest["coverage"]) == ("config", [], [])


def test_coverage_statuses():
    assert COVERAGE_STATUSES == ("ok", "failed", "skipped")


def test_unverified_scopes_merges_both_sides_sorted():
    previous = [scope("sqs", US), scope("ec2", EU, "failed", "old error"), scope("s3", "global", "skipped")]
    current = [scope("ec2", EU, "failed", "new error"), scope("ec2", US, "failed", "Throttling"), scope("sqs", US)]
    assert unverified_scopes(previous, current) == [
        {"service": "ec2", "region": EU, "status": "failed", "sides": ["previous", "current"], "error": "old error"},
        {"service": "ec2", "region": US, "status": "failed", "sides": ["current"], "error": "Throttling"},
        {"service": "s3", "region": "global", "status": "skipped", "sides": ["previous"], "error": None},
    ]
    assert unverified_scopes([scope("ec2", US)], [scope("ec2", US)]) == []
    assert unverified_scopes() == []


def test_relationships_table_lists_every_edge():
    inst = instance("i-1", security_groups=["sg-1", "sg-2"],
                    BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeId": "vol-1"}}],
                    IamInstanceProfile={"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/app"})
    sg = security_group("sg-1", vpc="vpc-9")
    edges = relationships_table([inst, sg, queue("q1")])
    assert edges.schema.equals(RELATIONSHIP_SCHEMA)
    assert {tuple(r.values()) for r in edges.to_pylist()} == {
        (inst.arn, "SecurityGroups[].GroupId", "AWS::EC2::SecurityGroup", "sg-1"),
        (inst.arn, "SecurityGroups[].GroupId", "AWS::EC2::SecurityGroup", "sg-2"),
        (inst.arn, "SubnetId", "AWS::EC2::Subnet", "subnet-1"),
        (inst.arn, "VpcId", "AWS::EC2::VPC", "vpc-1"),
        (inst.arn, "BlockDeviceMappings[].Ebs.VolumeId", "AWS::EC2::Volume", "vol-1"),
        (inst.arn, "IamInstanceProfile.Arn", "AWS::IAM::InstanceProfile",
         f"arn:aws:iam::{ACCOUNT}:instance-profile/app"),
        (sg.arn, "VpcId", "AWS::EC2::VPC", "vpc-9"),
    }
    assert edges.num_rows == 7


def test_relationships_table_skips_unknown_types_and_empty_refs():
    rec = record("AWS::EC2::Subnet", {"SubnetId": "subnet-1", "SubnetArn": "arn:subnet", "VpcId": ""})
    assert relationships_table([rec]).num_rows == 0
    assert relationships_table([]).schema.equals(RELATIONSHIP_SCHEMA)


def test_arn_uniqueness_checked_on_sorted_unsorted_and_chunked_columns():
    assert arn_problems(pa.chunked_array([["a", "b"], ["c"]])) == []  # sorted: the linear fast path
    assert arn_problems(pa.chunked_array([["c", "a"], ["b"]])) == []  # unsorted but unique: hashed
    assert arn_problems(pa.chunked_array([["a", "b"], ["b", "c"]])) == ["ARNs are not unique"]  # across chunks
    assert arn_problems(pa.chunked_array([["b", "a", "b"]])) == ["ARNs are not unique"]
    assert arn_problems(pa.chunked_array([[], ["a"]], pa.string())) == []
