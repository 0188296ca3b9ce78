"""The snapshot delta (core.delta, DESIGN §6): exact changes, summaries, unverified scopes, cascade risks."""

from __future__ import annotations

import itertools
import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventag_pipeline.core.classify import Classifier
from inventag_pipeline.core.delta import ATTRIBUTE_CHANGES_SCHEMA, RESOURCE_CHANGES_SCHEMA, DeltaEngine
from inventag_pipeline.core.snapshot import relationships_table
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    COMPLETE_TAGS,
    EU,
    US,
    bucket,
    instance,
    kms_key,
    queue,
    role,
    rows,
    scope,
    security_group,
    shuffled,
    table,
)

SG1 = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"
SSH_WORLD = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"
SSH_RULE_JSON = '{"FromPort":22,"IpProtocol":"tcp","Source":"0.0.0.0/0","SourceType":"cidr","ToPort":22}'
SSH_DESCRIPTION = "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port"
RESOURCE_COLUMNS = ("arn", "change_type", "severity", "categories", "attribute_change_count")
ATTRIBUTE_COLUMNS = ("arn", "path", "change", "old_value", "new_value", "category", "severity")


def old_records():
    return [
        security_group("sg-1", name="web", ingress=[("tcp", 443, 443, "10.0.0.0/8")], tags=COMPLETE_TAGS),
        bucket("logs", tags=COMPLETE_TAGS),
        queue("q1"),
    ]


def new_records():
    return [
        security_group("sg-1", name="web", ingress=[("tcp", 443, 443, "10.0.0.0/8"), ("tcp", 22, 22, "0.0.0.0/0")],
                       tags=COMPLETE_TAGS),
        bucket("data", location=EU, tags=COMPLETE_TAGS),
        queue("q1", messages="42"),  # volatile only: not a change
    ]


def compute(old, new, **kwargs):
    return DeltaEngine().compute(old, new, **kwargs)


def test_first_snapshot_has_no_changes():
    result = compute(None, table(*new_records()), date="2024-05-02")
    assert result.resource_changes.num_rows == 0
    assert result.attribute_changes.num_rows == 0
    assert result.resource_changes.schema.equals(RESOURCE_CHANGES_SCHEMA)
    assert result.attribute_changes.schema.equals(ATTRIBUTE_CHANGES_SCHEMA)
    summary = result.summary
    assert (summary["previous_date"], summary["date"], summary["total_changes"]) == (None, "2024-05-02", 0)
    assert summary["counts"] == {
        "change_type": {"added": 0, "removed": 0, "modified": 0, "replaced": 0},
        "severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
        "category": {},
        "service": {},
    }
    assert summary["compliance_changes"]["old_compliance_stats"] == {
        "total_resources": 0, "compliant_resources": 0, "compliance_percentage": None}
    assert summary["compliance_changes"]["new_compliance_stats"] == {
        "total_resources": 3, "compliant_resources": 2, "compliance_percentage": 66.67}
    assert summary["compliance_changes"]["compliance_trend"] == {"compliance_percentage_change": None,
                                                                 "direction": None}
    assert (summary["cascade_risks"], summary["unverified"], summary["suppressed_by_unverified_scopes"]) == (
        [], [], {"added": 0, "removed": 0})


def test_first_snapshot_lists_failed_scopes_of_the_current_side():
    result = compute(None, table(*new_records()), new_coverage=[scope("ec2", US, "failed", "Throttling")])
    assert result.summary["unverified"] == [
        {"service": "ec2", "region": US, "status": "failed", "sides": ["current"], "error": "Throttling"}]


def test_same_snapshot_twice_has_no_changes():
    snap = table(*old_records())
    result = compute(snap, snap)
    assert (result.resource_changes.num_rows, result.attribute_changes.num_rows) == (0, 0)
    assert result.summary["total_changes"] == 0
    assert result.summary["compliance_changes"]["compliance_trend"] == {"compliance_percentage_change": 0.0,
                                                                        "direction": "stable"}


def test_added_removed_and_modified_exact_sets():
    result = compute(table(*old_records()), table(*new_records()), previous_date="2024-05-01", date="2024-05-02")
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {
        (SG1, "modified", "critical", ("security",), 1),
        ("arn:aws:s3:::data", "added", "low", ("configuration",), 0),
        ("arn:aws:s3:::logs", "removed", "medium", ("configuration",), 0),
    }
    assert rows(result.resource_changes, "arn", "resource_type", "service", "region", "name") == {
        (SG1, "AWS::EC2::SecurityGroup", "ec2", US, "web"),
        ("arn:aws:s3:::data", "AWS::S3::Bucket", "s3", EU, "data"),
        ("arn:aws:s3:::logs", "AWS::S3::Bucket", "s3", US, "logs"),
    }
    assert rows(result.attribute_changes, *ATTRIBUTE_COLUMNS, "description") == {
        (SG1, SSH_WORLD, "added", None, SSH_RULE_JSON, "security", "critical", SSH_DESCRIPTION)}


def test_output_tables_are_sorted_by_severity_then_service_then_arn():
    result = compute(table(*old_records()), table(*new_records()))
    assert result.resource_changes.column("arn").to_pylist() == [SG1, "arn:aws:s3:::logs", "arn:aws:s3:::data"]
    assert result.resource_changes.schema.equals(RESOURCE_CHANGES_SCHEMA)
    assert result.attribute_changes.schema.equals(ATTRIBUTE_CHANGES_SCHEMA)


def test_summary_exact():
    result = compute(table(*old_records()), table(*new_records()), previous_date="2024-05-01", date="2024-05-02")
    summary = result.summary
    assert (summary["date"], summary["previous_date"], summary["total_changes"],
            summary["attribute_change_count"]) == ("2024-05-02", "2024-05-01", 3, 1)
    assert summary["counts"] == {
        "change_type": {"added": 1, "removed": 1, "modified": 1, "replaced": 0},
        "severity": {"critical": 1, "high": 0, "medium": 1, "low": 1, "info": 0},
        "category": {"configuration": 2, "security": 1},
        "service": {"s3": 2, "ec2": 1},
    }
    assert list(summary["counts"]["service"]) == ["s3", "ec2"]  # most changed first
    assert summary["security_changes"] == {
        "total_security_changes": 1,
        "high_risk_resources": [{"arn": SG1, "resource_type": "AWS::EC2::SecurityGroup", "name": "web",
                                 "change_type": "modified", "severity": "critical", "reasons": [SSH_DESCRIPTION]}],
        "high_risk_count": 1,
    }
    assert summary["network_changes"] == {
        "total_network_changes": 1,
        "resources": [{"arn": SG1, "resource_type": "AWS::EC2::SecurityGroup", "change_type": "modified"}],
    }
    assert summary["compliance_changes"]["required_tags"] == ["Environment", "Owner", "CostCenter"]
    json.dumps(summary)  # the summary is written as summary.json


def test_reverse_delta_swaps_added_and_removed():
    forward = compute(table(*old_records()), table(*new_records()))
    backward = compute(table(*new_records()), table(*old_records()))
    fwd = {(a, t) for a, t in rows(forward.resource_changes, "arn", "change_type")}
    bwd = {(a, t) for a, t in rows(backward.resource_changes, "arn", "change_type")}
    swap = {"added": "removed", "removed": "added", "modified": "modified"}
    assert bwd == {(a, swap[t]) for a, t in fwd}
    assert rows(backward.attribute_changes, "arn", "path", "change", "old_value", "new_value") == {
        (SG1, SSH_WORLD, "removed", SSH_RULE_JSON, None)}


def test_row_order_of_the_inputs_does_not_matter():
    old, new = table(*old_records()), table(*new_records())
    expected = compute(old, new)
    for seed in range(4):
        got = compute(shuffled(old, seed), shuffled(new, seed + 10))
        assert got.resource_changes.equals(expected.resource_changes)
        assert got.attribute_changes.equals(expected.attribute_changes)
        assert got.summary == expected.summary


def test_volatile_only_differences_are_not_changes():
    old = table(queue("q1", messages="0"), instance("i-1", LaunchTime="2024-01-01T00:00:00Z"))
    new = table(queue("q1", messages="500"), instance("i-1", LaunchTime="2024-03-03T03:03:03Z"))
    assert old.column("configuration").to_pylist() != new.column("configuration").to_pylist()
    result = compute(old, new)
    assert (result.resource_changes.num_rows, result.attribute_changes.num_rows,
            result.summary["total_changes"]) == (0, 0, 0)


def test_tag_only_change_is_a_low_tags_modification():
    old = table(queue("q1", tags={"Env": "dev"}))
    new = table(queue("q1", tags={"Env": "prod"}))
    result = compute(old, new)
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {
        (f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1", "modified", "low", ("tags",), 1)}
    assert rows(result.attribute_changes, *ATTRIBUTE_COLUMNS) == {
        (f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1", "tags.Env", "changed", '"dev"', '"prod"', "tags", "low")}


def test_resource_with_only_ignored_changes_is_not_reported():
    engine = DeltaEngine(Classifier(ignore_fields=[r"tags\.LastScanned$"]))
    result = engine.compute(table(queue("q1", tags={"LastScanned": "mon"})),
                            table(queue("q1", tags={"LastScanned": "tue"})))
    assert (result.resource_changes.num_rows, result.attribute_changes.num_rows) == (0, 0)


@pytest.mark.parametrize(
    ("record", "severity"),
    [
        (kms_key("k1"), "high"),
        (role("r1"), "medium"),
        (security_group("sg-9"), "medium"),
        (bucket("b9"), "medium"),
        (queue("q9"), "low"),
        (instance("i-9", tags={"Name": "box"}), "low"),
    ],
    ids=lambda v: getattr(v, "resource_type", v),
)
def test_removal_severity_by_type(record, severity):
    result = compute(table(record), table())
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {
        (record.arn, "removed", severity, ("configuration",), 0)}


@pytest.mark.parametrize("case", ["added", "removed", "modified"])
def test_changed_resources_without_a_name(case):
    plain = instance("i-1")
    assert plain.name is None
    old, new = {
        "added": (table(), table(plain)),
        "removed": (table(plain), table()),
        "modified": (table(plain), table(instance("i-1", InstanceType="m5.large"))),
    }[case]
    result = compute(old, new)
    assert rows(result.resource_changes, "arn", "name", "change_type") == {(plain.arn, None, case)}


# --- unverified scopes ------------------------------------------------------------------------------


def test_failed_scope_in_current_side_hides_removals_there_only():
    sg_us, sg_eu = security_group("sg-1"), security_group("sg-2", region=EU)
    old = table(sg_us, sg_eu, queue("qa"))
    new = table(queue("qa"), queue("qb"))
    coverage_ok = [scope("ec2", US), scope("ec2", EU), scope("sqs", US)]
    coverage_new = [scope("ec2", US, "failed", "AccessDenied"), scope("ec2", EU), scope("sqs", US)]
    result = compute(old, new, old_coverage=coverage_ok, new_coverage=coverage_new)
    assert rows(result.resource_changes, "arn", "change_type") == {
        (sg_eu.arn, "removed"), (f"arn:aws:sqs:us-east-1:{ACCOUNT}:qb", "added")}
    assert result.summary["unverified"] == [
        {"service": "ec2", "region": US, "status": "failed", "sides": ["current"], "error": "AccessDenied"}]
    assert result.summary["suppressed_by_unverified_scopes"] == {"added": 0, "removed": 1}


def test_failed_scope_in_previous_side_hides_additions():
    old = table(queue("qa"))
    new = table(queue("qa"), security_group("sg-3"))
    result = compute(old, new, old_coverage=[scope("ec2", US, "failed", "Timeout"), scope("sqs", US)],
                     new_coverage=[scope("ec2", US), scope("sqs", US)])
    assert result.resource_changes.num_rows == 0
    assert result.summary["unverified"] == [
        {"service": "ec2", "region": US, "status": "failed", "sides": ["previous"], "error": "Timeout"}]
    assert result.summary["suppressed_by_unverified_scopes"] == {"added": 1, "removed": 0}


def test_scope_failed_on_both_sides_lists_both_and_keeps_first_error():
    old = table(security_group("sg-1"))
    new = table(security_group("sg-2"))
    result = compute(old, new, old_coverage=[scope("ec2", US, "failed", "first")],
                     new_coverage=[scope("ec2", US, "failed", "second")])
    assert result.resource_changes.num_rows == 0
    assert result.summary["unverified"] == [
        {"service": "ec2", "region": US, "status": "failed", "sides": ["previous", "current"], "error": "first"}]
    assert result.summary["suppressed_by_unverified_scopes"] == {"added": 1, "removed": 1}


def test_skipped_scope_is_unverified_too():
    result = compute(table(queue("qa", region=EU)), table(),
                     old_coverage=[scope("sqs", EU)], new_coverage=[scope("sqs", EU, "skipped")])
    assert result.resource_changes.num_rows == 0
    assert [(u["service"], u["region"], u["status"]) for u in result.summary["unverified"]] == [("sqs", EU, "skipped")]


def test_modified_resources_in_an_unverified_scope_are_still_reported():
    old = table(security_group("sg-1", name="web"))
    new = table(security_group("sg-1", name="web", ingress=[("tcp", 22, 22, "0.0.0.0/0")]))
    result = compute(old, new, new_coverage=[scope("ec2", US, "failed", "partial")])
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {(SG1, "modified", "critical", ("security",), 1)}


def test_global_scope_failure_hides_buckets_of_every_region():
    old = table(bucket("b-us"), bucket("b-eu", location=EU), bucket("b-ap", location="ap-south-1"), role("r1"))
    new = table(role("r1"), bucket("b-new", location=EU))
    result = compute(old, new, old_coverage=[scope("s3", "global"), scope("iam", "global")],
                     new_coverage=[scope("s3", "global", "failed", "AccessDenied"), scope("iam", "global")])
    assert result.resource_changes.num_rows == 0
    assert result.summary["suppressed_by_unverified_scopes"] == {"added": 1, "removed": 3}
    assert result.summary["unverified"] == [
        {"service": "s3", "region": "global", "status": "failed", "sides": ["current"], "error": "AccessDenied"}]


def test_regional_failure_of_another_service_does_not_hide_s3():
    old = table(bucket("b-eu", location=EU))
    result = compute(old, table(), new_coverage=[scope("ec2", EU, "failed", "x"), scope("s3", "global")])
    assert rows(result.resource_changes, "arn", "change_type") == {("arn:aws:s3:::b-eu", "removed")}


# --- compliance impact ----------------------------------------------------------------------------


def _tagged(name: str, **tags: str):
    return queue(name, tags=tags)


def test_compliance_percentages_and_movers_hand_computed():
    full = dict(COMPLETE_TAGS)
    no_owner = {k: v for k, v in full.items() if k != "Owner"}
    no_cc = {k: v for k, v in full.items() if k != "CostCenter"}
    old = table(_tagged("r1", **full), _tagged("r2", **no_owner), _tagged("r3", **{**full, "Owner": ""}),
                _tagged("r4", **full))
    new = table(_tagged("r1", **full), _tagged("r2", **full), _tagged("r3", **{**full, "Owner": ""}),
                _tagged("r4", **no_cc), _tagged("r5", **full))
    comp = compute(old, new).summary["compliance_changes"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"
    assert comp == {
        "required_tags": ["Environment", "Owner", "CostCenter"],
        # old: r1, r4 of 4 -> 50 %; new: r1, r2, r5 of 5 -> 60 % (an empty Owner does not count).
        "old_compliance_stats": {"total_resources": 4, "compliant_resources": 2, "compliance_percentage": 50.0},
        "new_compliance_stats": {"total_resources": 5, "compliant_resources": 3, "compliance_percentage": 60.0},
        "compliance_trend": {"compliance_percentage_change": 10.0, "direction": "improving"},
        "newly_compliant": [arn + "r2"],
        "newly_compliant_count": 1,
        "newly_non_compliant": [arn + "r4"],
        "newly_non_compliant_count": 1,
    }


def test_compliance_thirds_are_rounded_to_two_places_and_declining():
    full = dict(COMPLETE_TAGS)
    old = table(_tagged("a", **full), _tagged("b", **full), _tagged("c"))
    new = table(_tagged("a", **full), _tagged("b"), _tagged("c"))
    trend = compute(old, new).summary["compliance_changes"]
    assert (trend["old_compliance_stats"]["compliance_percentage"],
            trend["new_compliance_stats"]["compliance_percentage"],
            trend["compliance_trend"]) == (66.67, 33.33, {"compliance_percentage_change": -33.34,
                                                          "direction": "declining"})


def test_custom_required_tags():
    old = table(_tagged("a", Team="x"), _tagged("b"))
    new = table(_tagged("a", Team="x"), _tagged("b", Team="y"))
    comp = DeltaEngine(required_tags=["Team"]).compute(old, new).summary["compliance_changes"]
    assert (comp["required_tags"], comp["old_compliance_stats"]["compliance_percentage"],
            comp["new_compliance_stats"]["compliance_percentage"], comp["newly_compliant"]) == (
        ["Team"], 50.0, 100.0, [f"arn:aws:sqs:us-east-1:{ACCOUNT}:b"])


def test_custom_required_tags_drive_the_required_tag_removed_classification():
    engine = DeltaEngine(required_tags=["Team"])
    result = engine.compute(table(_tagged("a", Team="x", Owner="y")), table(_tagged("a")))
    assert rows(result.attribute_changes, "path", "category", "severity") == {
        ("tags.Owner", "tags", "low"), ("tags.Team", "compliance", "medium")}


# --- risk of new resources and cascade risks --------------------------------------------------------


def test_added_security_group_open_to_the_world_on_22_is_critical():
    new_sg = security_group("sg-1", name="web", ingress=[("tcp", 22, 22, "0.0.0.0/0")], egress=[("-1", None, None,
                                                                                                "0.0.0.0/0")])
    result = compute(table(), table(new_sg))
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {(SG1, "added", "critical", ("security",), 0)}
    assert result.attribute_changes.num_rows == 0
    assert result.summary["security_changes"]["high_risk_resources"] == [
        {"arn": SG1, "resource_type": "AWS::EC2::SecurityGroup", "name": "web", "change_type": "added",
         "severity": "critical", "reasons": ["AWS::EC2::SecurityGroup added"]}]
    assert result.summary["security_changes"]["total_security_changes"] == 1


def test_added_private_security_group_is_low():
    result = compute(table(), table(security_group("sg-1", ingress=[("tcp", 22, 22, "10.0.0.0/8")])))
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {(SG1, "added", "low", ("configuration",), 0)}


def test_added_public_bucket_policy_is_critical():
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": "arn:aws:s3:::pub/*"}]}
    result = compute(table(), table(bucket("pub", policy=policy)))
    assert rows(result.resource_changes, *RESOURCE_COLUMNS) == {
        ("arn:aws:s3:::pub", "added", "critical", ("security",), 0)}


def _with_edges(old_recs, new_recs, **kwargs):
    return compute(table(*old_recs), table(*new_recs), old_relationships=relationships_table(old_recs),
                   new_relationships=relationships_table(new_recs), **kwargs)


def test_removed_security_group_still_referenced_by_an_instance_is_a_cascade_risk():
    sg, inst = security_group("sg-1", name="web"), instance("i-1", security_groups=["sg-1"])
    result = _with_edges([sg, inst], [inst])
    assert result.summary["cascade_risks"] == [{
        "arn": SG1, "resource_type": "AWS::EC2::SecurityGroup", "name": "web", "change_type": "removed",
        "severity": "medium", "dependent_count": 1, "dependents": [inst.arn],
        "reason": "1 resource(s) still reference this removed AWS::EC2::SecurityGroup",
    }]


def test_high_risk_modification_of_a_referenced_group_is_a_cascade_risk():
    inst_a, inst_b = instance("i-a", security_groups=["sg-1"]), instance("i-b", security_groups=["sg-1", "sg-2"])
    old = [security_group("sg-1", name="web"), inst_a, inst_b]
    new = [security_group("sg-1", name="web", ingress=[("tcp", 3389, 3389, "0.0.0.0/0")]), inst_a, inst_b]
    risks = _with_edges(old, new).summary["cascade_risks"]
    assert risks == [{
        "arn": SG1, "resource_type": "AWS::EC2::SecurityGroup", "name": "web", "change_type": "modified",
        "severity": "critical", "dependent_count": 2, "dependents": sorted([inst_a.arn, inst_b.arn]),
        "reason": "2 resource(s) still reference this modified AWS::EC2::SecurityGroup",
    }]


def test_no_cascade_without_relationships_or_dependents():
    sg, inst = security_group("sg-1"), instance("i-1", security_groups=["sg-1"])
    assert compute(table(sg, inst), table(inst)).summary["cascade_risks"] == []
    lonely = security_group("sg-7")
    assert _with_edges([lonely, inst], [inst]).summary["cascade_risks"] == []


def test_removed_group_no_longer_referenced_is_not_a_cascade_risk():
    sg1, sg2 = security_group("sg-1"), security_group("sg-2")
    before = instance("i-1", security_groups=["sg-1"], tags={"Name": "app"})
    after = instance("i-1", security_groups=["sg-2"], tags={"Name": "app"})
    result = _with_edges([sg1, sg2, before], [sg2, after])
    assert result.summary["cascade_risks"] == []


# --- properties -----------------------------------------------------------------------------------

# No Name tag here: equal Name tags on a removed and an added resource of one type are a replacement
# (tested on its own below), which would turn the added/removed symmetry into a different property.
_TAGS = st.dictionaries(st.sampled_from(["Environment", "Owner", "CostCenter"]),
                        st.sampled_from(["a", "b", ""]), max_size=3)
_RULES = st.lists(st.tuples(st.sampled_from(["tcp", "udp"]), st.sampled_from([22, 443, 8080]),
                            st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "::/0"])), max_size=3, unique=True)
_SNAPSHOT = st.tuples(
    st.dictionaries(st.sampled_from(["sg-1", "sg-2", "sg-3"]), st.tuples(_RULES, _TAGS), max_size=3),
    st.dictionaries(st.sampled_from(["q1", "q2", "q3"]),
                    st.tuples(_TAGS, st.sampled_from(["0", "7"]), st.sampled_from(["30", "60"])), max_size=3),
)


def _snapshot(spec) -> pa.Table:
    groups, queues = spec
    records = [security_group(gid, ingress=[(p, port, port, cidr) for p, port, cidr in rules], tags=tags)
               for gid, (rules, tags) in groups.items()]
    records += [queue(name, tags=tags, messages=messages, attributes={"VisibilityTimeout": timeout})
                for name, (tags, messages, timeout) in queues.items()]
    return table(*records)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=_SNAPSHOT, b=_SNAPSHOT, seed=st.integers(0, 1000))
def test_delta_properties(a, b, seed):
    old, new = _snapshot(a), _snapshot(b)
    engine = DeltaEngine()

    same = engine.compute(old, old)
    assert (same.resource_changes.num_rows, same.attribute_changes.num_rows, same.summary["total_changes"]) == (0, 0, 0)

    forward = engine.compute(old, new)
    again = engine.compute(shuffled(old, seed), shuffled(new, seed + 1))
    assert again.resource_changes.equals(forward.resource_changes)
    assert again.attribute_changes.equals(forward.attribute_changes)
    assert again.summary == forward.summary

    old_arns, new_arns = set(old.column("arn").to_pylist()), set(new.column("arn").to_pylist())
    changes = dict(rows(forward.resource_changes, "arn", "change_type"))
    assert {a for a, t in changes.items() if t == "added"} == new_arns - old_arns
    assert {a for a, t in changes.items() if t == "removed"} == old_arns - new_arns
    old_hash = dict(zip(old.column("arn").to_pylist(), old.column("content_hash").to_pylist(), strict=True))
    new_hash = dict(zip(new.column("arn").to_pylist(), new.column("content_hash").to_pylist(), strict=True))
    assert {a for a, t in changes.items() if t == "modified"} == {
        a for a in old_arns & new_arns if old_hash[a] != new_hash[a]}


def test_removed_and_added_with_the_same_name_in_one_vpc_are_one_replacement():
    old = instance("i-old", tags={"Name": "web-1"}, InstanceType="t3.micro", VpcId="vpc-1")
    new = instance("i-new", tags={"Name": "web-1"}, InstanceType="t3.large", VpcId="vpc-1")
    other = instance("i-other", tags={"Name": "web-2"}, VpcId="vpc-1")
    result = DeltaEngine().compute(table(old, other), table(new, other))
    assert rows(result.resource_changes, "arn", "change_type", "severity", "attribute_change_count") == {
        (new.arn, "replaced", "medium", 2)}
    assert rows(result.attribute_changes, "path", "change", "old_value", "new_value", "severity") == {
        ("arn", "changed", json.dumps(old.arn), json.dumps(new.arn), "info"),
        ("InstanceType", "changed", '"t3.micro"', '"t3.large"', "medium"),
    }
    assert result.summary["counts"]["change_type"] == {"added": 0, "removed": 0, "modified": 0, "replaced": 1}


def test_cloudformation_identity_wins_and_ambiguous_names_stay_added_and_removed():
    cfn = {"aws:cloudformation:stack-name": "app", "aws:cloudformation:logical-id": "Web"}
    old = instance("i-1", tags={**cfn, "Name": "a"}, VpcId="vpc-1")
    new = instance("i-2", tags={**cfn, "Name": "b"}, VpcId="vpc-1")
    twins_old = [instance(f"i-t{i}", tags={"Name": "twin"}, VpcId="vpc-1") for i in range(2)]
    twins_new = [instance(f"i-n{i}", tags={"Name": "twin"}, VpcId="vpc-1") for i in range(2)]
    result = DeltaEngine().compute(table(old, *twins_old), table(new, *twins_new))
    assert rows(result.resource_changes, "arn", "change_type") == {
        (new.arn, "replaced"),
        *((t.arn, "removed") for t in twins_old),
        *((t.arn, "added") for t in twins_new),
    }


def test_parquet_backed_rows_stream_the_wanted_configurations_across_batches(tmp_path):
    """70 000 rows span several read batches: every wanted row comes back, and nothing else."""
    import numpy as np
    import pyarrow.parquet as pq

    from inventag_pipeline.core.delta import SnapshotRows

    count = 70_000
    arns = [f"arn:aws:sqs:us-east-1:{ACCOUNT}:q{i:06d}" for i in range(count)]
    snapshot = pa.table({
        "arn": arns, "content_hash": ["h"] * count, "resource_type": ["AWS::SQS::Queue"] * count,
        "service": ["sqs"] * count, "region": ["us-east-1"] * count, "name": arns, "resource_id": arns,
        "tags": pa.array([[("Owner", f"o{i}")] for i in range(count)], pa.map_(pa.string(), pa.string())),
        "configuration": [f'{{"n":{i}}}' for i in range(count)],
    })
    pq.write_table(snapshot, tmp_path / "s.parquet", row_group_size=20_000)
    rows = SnapshotRows.from_parquet(str(tmp_path / "s.parquet"))
    wanted = np.array([69_999, 0, 32_767, 32_768, 65_536, 0])
    rows.prefetch_positions(wanted)
    got = rows.rows([arns[i] for i in (0, 32_767, 32_768, 65_536, 69_999)])
    assert {arn: (doc["configuration"], doc["tags"]) for arn, doc in got.items()} == {
        arns[i]: (f'{{"n":{i}}}', [("Owner", f"o{i}")]) for i in (0, 32_767, 32_768, 65_536, 69_999)}
    assert len(rows._cache) == 5
    assert rows.rows([arns[5]])[arns[5]]["configuration"] == '{"n":5}'  # a later miss is read by ARN


def _sorted_parquet(tmp_path, name, snapshot: pa.Table, row_group_size: int):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from inventag_pipeline.core.delta import SnapshotRows

    path = tmp_path / f"{name}.parquet"
    pq.write_table(snapshot.take(pc.sort_indices(snapshot, [("arn", "ascending")])), path,
                   row_group_size=row_group_size)
    return SnapshotRows.from_parquet(str(path))


@pytest.mark.parametrize("workers", [2, 3])
def test_forked_workers_give_exactly_the_single_process_delta(tmp_path, workers):
    """The labelled scenario (every change kind, replacements, unverified scopes aside) cut into ARN ranges
    diffed in forked workers: the same tables and summary, byte for byte, as one process."""
    from inventag_pipeline.core.delta import _arn_ranges
    from inventag_pipeline_tests.core.test_labelled_scenario import NEW_TABLE, OLD_TABLE

    old = _sorted_parquet(tmp_path, "old", OLD_TABLE, row_group_size=7)
    new = _sorted_parquet(tmp_path, "new", NEW_TABLE, row_group_size=7)
    ranges = _arn_ranges(old, new, workers)
    assert len(ranges) == workers
    assert ranges[0].old_start == ranges[0].new_start == 0
    assert (ranges[-1].old_stop, ranges[-1].new_stop) == (old.num_rows, new.num_rows)
    assert all(a.old_stop == b.old_start and a.new_stop == b.new_start for a, b in itertools.pairwise(ranges))

    single = DeltaEngine().compute(_sorted_parquet(tmp_path, "old1", OLD_TABLE, 7),
                                   _sorted_parquet(tmp_path, "new1", NEW_TABLE, 7), workers=1)
    forked = DeltaEngine().compute(old, new, workers=workers)
    assert single.resource_changes.num_rows >= 40
    kinds = set(single.resource_changes.column("change_type").to_pylist())
    assert {"replaced", "added", "removed", "modified"} <= kinds
    assert forked.resource_changes.equals(single.resource_changes)
    assert forked.attribute_changes.equals(single.attribute_changes)
    assert json.dumps(forked.summary, sort_keys=True) == json.dumps(single.summary, sort_keys=True)


def test_unsorted_snapshots_are_never_cut_into_ranges():
    import pyarrow.compute as pc

    from inventag_pipeline.core.delta import _arn_ranges, as_snapshot_rows
    from inventag_pipeline_tests.core.test_labelled_scenario import NEW_TABLE

    ordered = NEW_TABLE.take(pc.sort_indices(NEW_TABLE, [("arn", "ascending")]))
    backwards = ordered.take(pa.array(range(ordered.num_rows - 1, -1, -1)))
    assert len(_arn_ranges(as_snapshot_rows(ordered), as_snapshot_rows(ordered), 2)) == 2
    assert len(_arn_ranges(as_snapshot_rows(ordered), as_snapshot_rows(backwards), 2)) == 1
    assert len(_arn_ranges(as_snapshot_rows(backwards), as_snapshot_rows(ordered), 2)) == 1


def test_worker_count_follows_size_and_setting(monkeypatch):
    from inventag_pipeline.core.delta import _worker_count

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert [_worker_count(None, n) for n in (1_000, 199_999, 400_000, 1_000_000)] == [1, 1, 2, 2]
    monkeypatch.setenv("INVENTAG_DELTA_WORKERS", "1")
    assert _worker_count(None, 1_000_000) == 1
    assert _worker_count(3, 10) == 3  # an explicit count is obeyed
