"""The cleanup plan on a hand-built snapshot: candidates, protections, order and evidence, exactly."""

from __future__ import annotations

import pytest

from inventag_pipeline.core.cleanup import (
    RULES,
    CleanupConfigError,
    CleanupSettings,
    build_cleanup_plan,
    deletion_steps,
    plan_markdown,
    stopped_since,
)
from inventag_pipeline.core.snapshot import records_to_table, relationships_table
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    EU,
    US,
    bucket,
    instance,
    record,
    role,
    scope,
    security_group,
    tag_list,
)

DATE = "2026-11-21"
EC2 = f"arn:aws:ec2:{US}:{ACCOUNT}"


def volume(volume_id: str, *, state: str = "available", attached_to: str | None = None, size: int = 100,
           volume_type: str = "gp3", created: str = "2026-01-01T00:00:00Z", tags=None):
    attachments = [{"InstanceId": attached_to, "Device": "/dev/xvda", "State": "attached"}] if attached_to else []
    return record("AWS::EC2::Volume", {"VolumeId": volume_id, "State": state, "Attachments": attachments,
                                       "Size": size, "VolumeType": volume_type, "CreateTime": created,
                                       "AvailabilityZone": "us-east-1a", "Tags": tag_list(tags)})


def eip(allocation: str, *, region: str = US, **fields):
    return record("AWS::EC2::EIP", {"AllocationId": allocation, "PublicIp": f"203.0.113.{len(allocation)}",
                                    "Domain": "vpc", "Tags": tag_list({"Owner": "net"}), **fields}, region=region)


def estate():
    stopped_reason = "User initiated (2026-09-01 08:00:00 GMT)"
    profile_arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile"
    return [
        volume("vol-free", tags={"Owner": "a"}),
        volume("vol-keep", tags={"DoNotDelete": "true"}),
        volume("vol-new", created="2026-11-19T00:00:00Z", tags={"Owner": "a"}),
        volume("vol-root", state="in-use", attached_to="i-stopped", size=8, volume_type="gp2",
               created="2025-01-01T00:00:00Z"),
        volume("vol-used-old", state="in-use", attached_to="i-running", created="2025-01-01T00:00:00Z"),
        instance("i-stopped", state="stopped", security_groups=["sg-app"], tags={"Name": "batch-1"},
                 StateTransitionReason=stopped_reason, IamInstanceProfile={"Arn": profile_arn},
                 BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-root"}}]),
        instance("i-recent", state="stopped", tags={"Name": "recent"},
                 StateTransitionReason="User initiated (2026-11-10 12:00:00 GMT)"),
        instance("i-unknown", state="stopped", tags={"Name": "mystery"}, StateTransitionReason=""),
        instance("i-running", tags={"Name": "web"},
                 BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-used-old"}}]),
        security_group("sg-app", name="app", tags={"Owner": "a"}),
        security_group("sg-orphan", name="orphan", tags={"Owner": "a"},
                       IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                       "UserIdGroupPairs": [{"GroupId": "sg-ruled"}]}]),
        security_group("sg-ruled", name="ruled", tags={"Owner": "a"}),
        security_group("sg-default", name="default", tags={"Owner": "a"}),
        eip("eipalloc-free"),
        eip("eipalloc-nat"),
        eip("eipalloc-eu", region=EU),
        record("AWS::EC2::NatGateway", {"NatGatewayId": "nat-1", "SubnetId": "subnet-1", "VpcId": "vpc-1",
                                        "NatGatewayAddresses": [{"AllocationId": "eipalloc-nat"}],
                                        "CreateTime": "2025-01-01T00:00:00Z", "Tags": tag_list({"Owner": "net"})}),
        bucket("old-bucket", CreationDate="2025-01-01T00:00:00Z"),
        role("old-role", CreateDate="2024-01-01T00:00:00Z"),
        record("AWS::IAM::InstanceProfile", {"InstanceProfileName": "old-profile", "Arn": profile_arn, "Path": "/",
                                             "CreateDate": "2024-06-01T00:00:00Z",
                                             "Roles": [{"Arn": f"arn:aws:iam::{ACCOUNT}:role/old-role"}]}),
    ]


COVERAGE = [scope("ec2", US), scope("ec2", EU), scope("iam", "global")]
EU_FAILED = [scope("ec2", US), scope("ec2", EU, status="failed", error="Throttling"), scope("iam", "global")]


def plan_for(settings: CleanupSettings | None = None, *, with_edges: bool = True, coverage=COVERAGE):
    records = estate()
    return build_cleanup_plan(records_to_table(records), relationships_table(records) if with_edges else None,
                              account_id=ACCOUNT, date=DATE, coverage=coverage, settings=settings)


def test_candidates_in_dependency_order_with_evidence():
    plan = plan_for()
    profile = f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile"
    got = [(c["step"], c["arn"], c["rules"], c["in_cycle"], c["estimated_monthly_usd"]) for c in plan["candidates"]]
    assert got == [
        (1, f"arn:aws:ec2:{EU}:{ACCOUNT}:elastic-ip/eipalloc-eu", ["ec2_eip_unassociated"], False, 3.6),
        (1, f"{EC2}:elastic-ip/eipalloc-free", ["ec2_eip_unassociated"], False, 3.6),
        (1, f"{EC2}:instance/i-stopped", ["ec2_instance_stopped_long"], True, 0.8),
        (1, f"{EC2}:instance/i-unknown", ["ec2_instance_stopped_long"], False, None),
        (1, f"{EC2}:security-group/sg-orphan", ["ec2_securitygroup_unreferenced"], False, None),
        (1, f"{EC2}:volume/vol-free", ["ebs_volume_unattached"], False, 8.0),
        (1, f"{EC2}:volume/vol-root", ["resource_untagged_old"], True, 0.8),
        (1, "arn:aws:s3:::old-bucket", ["resource_untagged_old"], False, None),
        # The instance profile is referenced by the stopped instance: it goes after it.
        (2, profile, ["resource_untagged_old"], False, None),
    ]
    by_arn = {c["arn"]: c for c in plan["candidates"]}
    assert by_arn[f"{EC2}:instance/i-stopped"]["evidence"] == {"ec2_instance_stopped_long": {
        "State.Name": "stopped", "StateTransitionReason": "User initiated (2026-09-01 08:00:00 GMT)",
        "stopped_since": "2026-09-01T08:00:00Z", "stopped_days": 81}}
    assert by_arn[f"{EC2}:instance/i-unknown"]["reasons"] == [
        "Instance mystery is stopped, stopped since unknown (no time in StateTransitionReason); the 30-day "
        "threshold could not be checked"]
    assert by_arn[f"{EC2}:volume/vol-free"]["evidence"] == {"ebs_volume_unattached": {
        "State": "available", "Attachments": [], "Size": 100, "VolumeType": "gp3"}}
    assert by_arn[f"{EC2}:elastic-ip/eipalloc-free"]["evidence"] == {"ec2_eip_unassociated": {
        "AssociationId": None, "InstanceId": None, "NetworkInterfaceId": None, "PublicIp": "203.0.113.13",
        "referenced_by": []}}
    assert by_arn["arn:aws:s3:::old-bucket"]["reasons"] == ["Bucket old-bucket has no tags and is 689 days old"]
    assert by_arn[profile]["referenced_by"] == [
        {"arn": f"{EC2}:instance/i-stopped", "via": "IamInstanceProfile.Arn"}]


def test_protections_and_what_is_never_proposed():
    plan = plan_for()
    assert [(p["arn"], p["rules"], [x["kind"] for x in p["protections"]]) for p in plan["protected"]] == [
        (f"{EC2}:volume/vol-keep", ["ebs_volume_unattached"], ["tag"]),
        (f"{EC2}:volume/vol-new", ["ebs_volume_unattached"], ["min_age"]),
        (f"{EC2}:volume/vol-used-old", ["resource_untagged_old"], ["in_use"]),
        (f"arn:aws:iam::{ACCOUNT}:role/old-role", ["resource_untagged_old"], ["type"]),
    ]
    details = {p["arn"]: [x["detail"] for x in p["protections"]] for p in plan["protected"]}
    assert details[f"{EC2}:volume/vol-used-old"] == [f"still referenced by {EC2}:instance/i-running"]
    assert details[f"{EC2}:volume/vol-new"] == ["2 days old, younger than the minimum of 7"]
    listed = {c["arn"] for c in plan["candidates"]} | {p["arn"] for p in plan["protected"]}
    # Referenced groups (by an instance, by another group's rule), the default group, the NAT's address,
    # a recently stopped instance and tagged running resources are not in the plan at all.
    for never in ("security-group/sg-app", "security-group/sg-ruled", "security-group/sg-default",
                  "elastic-ip/eipalloc-nat", "instance/i-recent", "instance/i-running", "natgateway/nat-1"):
        assert f"{EC2}:{never}" not in listed
    assert plan["summary"] == {
        "candidates": 9, "protected": 4, "steps": 2,
        "by_rule": {"ebs_volume_unattached": 1, "ec2_eip_unassociated": 2, "ec2_instance_stopped_long": 2,
                    "ec2_securitygroup_unreferenced": 1, "resource_untagged_old": 3},
        "by_type": {"AWS::EC2::EIP": 2, "AWS::EC2::Instance": 2, "AWS::EC2::SecurityGroup": 1,
                    "AWS::EC2::Volume": 2, "AWS::IAM::InstanceProfile": 1, "AWS::S3::Bucket": 1},
        "protected_by_kind": {"in_use": 1, "min_age": 1, "tag": 1, "type": 1},
        "estimated_monthly_usd": 16.8, "estimated_items": 5,
    }
    assert plan["deletes_nothing"] is True


def test_an_incomplete_collection_holds_back_what_it_could_not_prove_unreferenced():
    """ec2 in eu-west-1 failed: its idle address and global resources (referenced from any region) are held."""
    plan = plan_for(coverage=EU_FAILED)
    held = {p["arn"]: [x["detail"] for x in p["protections"]] for p in plan["protected"]}
    assert held[f"arn:aws:ec2:{EU}:{ACCOUNT}:elastic-ip/eipalloc-eu"] == [
        "not collected completely (ec2/eu-west-1), so references to it may be missing"]
    assert held[f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile"] == [
        "not collected completely (ec2/eu-west-1), so references to it may be missing"]
    assert held[f"arn:aws:iam::{ACCOUNT}:role/old-role"] == [
        "AWS::IAM::Role is a protected type",
        "not collected completely (ec2/eu-west-1), so references to it may be missing"]
    # Unattached is a fact about the volume itself, and us-east-1 was collected completely.
    assert {f"{EC2}:elastic-ip/eipalloc-free", f"{EC2}:volume/vol-free", "arn:aws:s3:::old-bucket"} <= {
        c["arn"] for c in plan["candidates"]}
    assert plan["summary"]["candidates"] == 7


def test_protecting_a_dependent_puts_what_it_uses_back_in_use():
    """With the stopped instance protected by its tag, its untagged root volume and profile are in use again."""
    records = estate()
    records[5] = instance("i-stopped", state="stopped", security_groups=["sg-app"],
                          tags={"Name": "batch-1", "inventag:protect": "yes"},
                          StateTransitionReason="User initiated (2026-09-01 08:00:00 GMT)",
                          IamInstanceProfile={"Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile"},
                          BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-root"}}])
    plan = build_cleanup_plan(records_to_table(records), relationships_table(records), account_id=ACCOUNT,
                              date=DATE, coverage=COVERAGE)
    kinds = {p["arn"]: [x["kind"] for x in p["protections"]] for p in plan["protected"]}
    assert kinds[f"{EC2}:instance/i-stopped"] == ["tag"]
    assert kinds[f"{EC2}:volume/vol-root"] == ["in_use"]
    assert kinds[f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile"] == ["in_use"]
    assert plan["summary"]["steps"] == 1


def test_thresholds_and_rule_selection_are_configurable():
    plan = plan_for(CleanupSettings(stopped_days=5, untagged_days=10_000, min_age_days=0, protect_tags=(),
                                    rules=("ec2_instance_stopped_long", "ebs_volume_unattached")))
    assert [(c["arn"], c["rules"]) for c in plan["candidates"]] == [
        (f"{EC2}:instance/i-recent", ["ec2_instance_stopped_long"]),
        (f"{EC2}:instance/i-stopped", ["ec2_instance_stopped_long"]),
        (f"{EC2}:instance/i-unknown", ["ec2_instance_stopped_long"]),
        (f"{EC2}:volume/vol-free", ["ebs_volume_unattached"]),
        (f"{EC2}:volume/vol-keep", ["ebs_volume_unattached"]),
        (f"{EC2}:volume/vol-new", ["ebs_volume_unattached"]),
    ]
    assert plan["protected"] == []
    assert plan["settings"]["rules"] == ["ebs_volume_unattached", "ec2_instance_stopped_long"]


def test_without_a_dependency_index_reference_based_candidates_are_held_back():
    plan = plan_for(with_edges=False)
    held = {p["arn"] for p in plan["protected"] if any(x["kind"] == "incomplete_inventory" for x in p["protections"])}
    assert held == {f"{EC2}:elastic-ip/eipalloc-free", f"{EC2}:elastic-ip/eipalloc-nat",
                    f"arn:aws:ec2:{EU}:{ACCOUNT}:elastic-ip/eipalloc-eu", f"{EC2}:security-group/sg-app",
                    f"{EC2}:security-group/sg-orphan", f"{EC2}:volume/vol-root", f"{EC2}:volume/vol-used-old",
                    "arn:aws:s3:::old-bucket", f"arn:aws:iam::{ACCOUNT}:instance-profile/old-profile",
                    f"arn:aws:iam::{ACCOUNT}:role/old-role"}
    assert {c["arn"] for c in plan["candidates"]} == {
        f"{EC2}:instance/i-stopped", f"{EC2}:instance/i-unknown", f"{EC2}:volume/vol-free"}


def test_deletion_steps_chain_and_cycle():
    refs = {"b": (("a", "x"),), "c": (("b", "x"),), "d": (("e", "x"),), "e": (("d", "x"), ("outside", "x"))}
    steps, cycles = deletion_steps(["a", "b", "c", "d", "e"], refs)
    assert steps == {"a": 1, "b": 2, "c": 3, "d": 1, "e": 1}
    assert cycles == {"d", "e"}


def test_stop_time_and_settings_validation():
    assert stopped_since("User initiated (2016-05-11 20:05:41 GMT)").isoformat() == "2016-05-11T20:05:41+00:00"
    assert stopped_since("User initiated (2026-01-02 03:04:05 UTC)").isoformat() == "2026-01-02T03:04:05+00:00"
    assert stopped_since("Server.ScheduledStop") is None
    with pytest.raises(CleanupConfigError) as err:
        CleanupSettings(stopped_days=-1, rules=("nope",))
    assert str(err.value) == (f"stopped_days must be a whole number >= 0, got -1; unknown cleanup rule(s) ['nope']; "
                              f"known: {sorted(RULES)}")


def test_markdown_states_that_nothing_is_deleted():
    text = plan_markdown(plan_for())
    lines = text.splitlines()
    assert lines[0] == f"# Cleanup plan — account {ACCOUNT}, {DATE}"
    assert lines[2].startswith("This plan deletes nothing.")
    assert "- Candidates: **9** in 2 step(s); protected: **4**" in lines
    assert ("| 2 | AWS::IAM::InstanceProfile | old-profile | global | InstanceProfile old-profile has no tags and is "
            "903 days old | - |") in lines
    assert "| 1 (cycle) | AWS::EC2::Instance | batch-1 | us-east-1 | Instance batch-1 has been stopped for 81 days " \
           "(since 2026-09-01) | 0.80 |" in lines
