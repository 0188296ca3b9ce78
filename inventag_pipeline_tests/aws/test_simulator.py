"""Tests for the simulated AWS account, checked with plain boto3 calls against the moto server.

The module-scoped ``world`` fixture seeds once, then applies day 2 and day 3, capturing the facts each test
needs after every stage. Tests only read those snapshots, so they do not depend on execution order.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from inventag_pipeline.aws.simulator import (
    SIMULATED_ACCOUNT_ID,
    SIMULATED_REGIONS,
    InjectedChange,
    SimulatedAccount,
    SimulatorServer,
)

US, EU = SIMULATED_REGIONS
REQUIRED_TAGS = ("Environment", "Owner", "CostCenter")
SSH_PATH = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"

# What the baseline design fixes, per region (EC2 volumes include the 8 instance root volumes).
EXPECTED_PER_REGION = {
    "AWS::EC2::VPC": 2,
    "AWS::EC2::Subnet": 8,
    "AWS::EC2::SecurityGroup": 10,
    "AWS::EC2::Instance": 8,
    "AWS::EC2::Volume": 15,
    "AWS::EC2::NetworkInterface": 8,  # each instance's primary interface, tagged <instance>-eni
    "AWS::S3::Bucket": 6,
    "AWS::RDS::DBInstance": 3,
    "AWS::RDS::DBSubnetGroup": 2,
    "AWS::Lambda::Function": 5,
    "AWS::DynamoDB::Table": 5,
    "AWS::SNS::Topic": 4,
    "AWS::SQS::Queue": 5,
    "AWS::KMS::Key": 3,
}
EXPECTED_GLOBAL = {
    "AWS::IAM::Role": 9, "AWS::IAM::User": 7, "AWS::IAM::Group": 3, "AWS::IAM::ManagedPolicy": 7,
}
EXPECTED_TOTAL = 2 * sum(EXPECTED_PER_REGION.values()) + sum(EXPECTED_GLOBAL.values())


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _instances(sim: SimulatedAccount, region: str) -> dict[str, dict[str, Any]]:
    """Non-terminated instances by Name tag."""
    reservations = sim.client("ec2", region).describe_instances()["Reservations"]
    return {
        _tags(i.get("Tags"))["Name"]: i
        for r in reservations
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    }


def _sg(sim: SimulatedAccount, region: str, name: str) -> dict[str, Any]:
    groups = sim.client("ec2", region).describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert len(groups) == 1
    return groups[0]


def _rules(group: dict[str, Any]) -> list[tuple[int, str]]:
    """(port, source) per ingress rule, in API order; sources are CIDRs or SG ids."""
    out = []
    for perm in group["IpPermissions"]:
        out += [(perm["FromPort"], r["CidrIp"]) for r in perm.get("IpRanges", [])]
        out += [(perm["FromPort"], p["GroupId"]) for p in perm.get("UserIdGroupPairs", [])]
    return out


def _counts(sim: SimulatedAccount) -> dict[tuple[str, str], int]:
    """Resource counts per (type, region), leaving out what moto pre-creates (default VPC, default SGs)."""
    counts: dict[tuple[str, str], int] = {}
    s3 = sim.client("s3", US)
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    for region in SIMULATED_REGIONS:
        ec2 = sim.client("ec2", region)
        custom_vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
        in_custom = [{"Name": "vpc-id", "Values": custom_vpcs}]
        location = "us-east-1" if region == "us-east-1" else region
        kms, rds = sim.client("kms", region), sim.client("rds", region)
        found = {
            "AWS::EC2::VPC": len(custom_vpcs),
            "AWS::EC2::Subnet": len(ec2.describe_subnets(Filters=in_custom)["Subnets"]),
            "AWS::EC2::SecurityGroup": len([g for g in ec2.describe_security_groups(Filters=in_custom)[
                "SecurityGroups"] if g["GroupName"] != "default"]),
            "AWS::EC2::Instance": len(_instances(sim, region)),
            "AWS::EC2::Volume": len(ec2.describe_volumes()["Volumes"]),
            "AWS::EC2::NetworkInterface": len(ec2.describe_network_interfaces(Filters=in_custom)["NetworkInterfaces"]),
            "AWS::S3::Bucket": sum(
                1 for b in buckets
                if (s3.get_bucket_location(Bucket=b)["LocationConstraint"] or "us-east-1") == location),
            "AWS::RDS::DBInstance": len(rds.describe_db_instances()["DBInstances"]),
            "AWS::RDS::DBSubnetGroup": len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
            "AWS::Lambda::Function": len(sim.client("lambda", region).list_functions()["Functions"]),
            "AWS::DynamoDB::Table": len(sim.client("dynamodb", region).list_tables()["TableNames"]),
            "AWS::SNS::Topic": len(sim.client("sns", region).list_topics()["Topics"]),
            "AWS::SQS::Queue": len(sim.client("sqs", region).list_queues().get("QueueUrls", [])),
            "AWS::KMS::Key": sum(
                1 for k in kms.list_keys()["Keys"]
                if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"),
        }
        counts.update({(rtype, region): n for rtype, n in found.items()})
    iam = sim.client("iam", "global")
    counts[("AWS::IAM::Role", "global")] = len(iam.list_roles()["Roles"])
    counts[("AWS::IAM::User", "global")] = len(iam.list_users()["Users"])
    counts[("AWS::IAM::Group", "global")] = len(iam.list_groups()["Groups"])
    counts[("AWS::IAM::ManagedPolicy", "global")] = len(iam.list_policies(Scope="Local")["Policies"])
    return counts


def _facts(sim: SimulatedAccount) -> dict[str, Any]:
    """Everything the day-2/day-3 assertions look at, read with plain describe/list calls."""
    us_instances = _instances(sim, US)
    s3, sqs_us, sqs_eu = sim.client("s3", US), sim.client("sqs", US), sim.client("sqs", EU)
    try:
        pab = s3.get_public_access_block(Bucket="acme-prod-web-assets-use1")["PublicAccessBlockConfiguration"]
    except ClientError as err:
        pab = err.response["Error"]["Code"]
    ddb = sim.client("dynamodb", US)
    events_arn = ddb.describe_table(TableName="analytics-events")["Table"]["TableArn"]
    kms = sim.client("kms", US)

    def queue_depth(client: Any, name: str) -> int:
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    return {
        "instances": {name: {"type": i["InstanceType"], "state": i["State"]["Name"], "tags": _tags(i["Tags"]),
                             "subnet": i["SubnetId"], "tokens": i["MetadataOptions"]["HttpTokens"]}
                      for name, i in us_instances.items()},
        "web_sg_us": _rules(_sg(sim, US, "web-sg")),
        "web_sg_eu": _rules(_sg(sim, EU, "web-sg")),
        "pab": pab,
        "queues_us": {u.rsplit("/", 1)[1] for u in sqs_us.list_queues()["QueueUrls"]},
        "email_depth": queue_depth(sqs_us, "prod-email-outbound"),
        "eu_orders_depth": queue_depth(sqs_eu, "prod-orders"),
        "roles": {r["RoleName"] for r in sim.client("iam", "global").list_roles()["Roles"]},
        "functions_us": {f["FunctionName"] for f in sim.client("lambda", US).list_functions()["Functions"]},
        "webhook_subnets": sim.client("lambda", US).get_function_configuration(
            FunctionName="orders-webhook")["VpcConfig"]["SubnetIds"],
        "tables_eu": set(sim.client("dynamodb", EU).list_tables()["TableNames"]),
        "topics_us": {t["TopicArn"].rsplit(":", 1)[1] for t in sim.client("sns", US).list_topics()["Topics"]},
        "events_tags": _tags(ddb.list_tags_of_resource(ResourceArn=events_arn)["Tags"]),
        "orders_items": ddb.describe_table(TableName="prod-orders")["Table"]["ItemCount"],
        "reporting_db_public": sim.client("rds", US).describe_db_instances(
            DBInstanceIdentifier="prod-reporting-db")["DBInstances"][0]["PubliclyAccessible"],
        "volumes_us": {_tags(v.get("Tags")).get("Name")
                       for v in sim.client("ec2", US).describe_volumes()["Volumes"]},
        "keys_us": {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"]
                    for k in kms.list_keys()["Keys"]},
        "buckets": {b["Name"] for b in s3.list_buckets()["Buckets"]},
        "private_a_free_ips": sim.client("ec2", US).describe_subnets(
            Filters=[{"Name": "tag:Name", "Values": ["prod-private-a"]}])["Subnets"][0]["AvailableIpAddressCount"],
        "lake_write_attachments": sim.client("iam", "global").get_policy(
            PolicyArn=f"arn:aws:iam::{SIMULATED_ACCOUNT_ID}:policy/data-lake-write")["Policy"]["AttachmentCount"],
    }


def _has(call: Any, bucket: str) -> bool:
    try:
        call(Bucket=bucket)
    except ClientError:
        return False
    return True


def _details(sim: SimulatedAccount) -> dict[str, Any]:
    """Per-service configuration that day 2/3 partly change, so it is read before day 2."""
    s3 = sim.client("s3", US)
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    out: dict[str, Any] = {
        "pab": {b for b in buckets if _has(s3.get_public_access_block, b)},
        "encrypted": {b for b in buckets if _has(s3.get_bucket_encryption, b)},
        "policy": {b for b in buckets if _has(s3.get_bucket_policy, b)},
        "versioned": {b for b in buckets if s3.get_bucket_versioning(Bucket=b).get("Status") == "Enabled"},
    }
    for region in SIMULATED_REGIONS:
        dbs = sim.client("rds", region).describe_db_instances()["DBInstances"]
        out[f"dbs/{region}"] = {d["DBInstanceIdentifier"]: d for d in dbs}
        out[f"functions/{region}"] = {
            f["FunctionName"]: f for f in sim.client("lambda", region).list_functions()["Functions"]}
        kms = sim.client("kms", region)
        keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
        out[f"rotating/{region}"] = {k["Description"] for k in keys
                                     if kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"]}
    return out


@dataclass
class World:
    server: SimulatorServer
    sim: SimulatedAccount
    seeded: int
    seed_seconds: float
    counts: dict[tuple[str, str], int]
    base: dict[str, Any]
    details: dict[str, Any]
    day2_changes: list[InjectedChange]
    day2: dict[str, Any]
    day3_changes: list[InjectedChange]
    day3: dict[str, Any]
    expected2: list[InjectedChange]
    expected3: list[InjectedChange]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    """One server for the module, with no AWS_* settings of the developer visible to the in-process moto."""
    config_dir = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", str(config_dir / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "credentials"))
        with SimulatorServer() as srv:
            yield srv


@pytest.fixture(scope="module")
def world(server: SimulatorServer) -> World:
    sim = SimulatedAccount(server.url)
    expected2, expected3 = sim.expected_changes(2), sim.expected_changes(3)
    started = time.perf_counter()
    seeded = sim.seed()
    seed_seconds = time.perf_counter() - started
    counts, base, details = _counts(sim), _facts(sim), _details(sim)
    day2_changes = sim.apply_day(2)
    day2 = _facts(sim)
    day3_changes = sim.apply_day(3)
    day3 = _facts(sim)
    return World(server, sim, seeded, seed_seconds, counts, base, details, day2_changes, day2, day3_changes,
                 day3, expected2, expected3)


# --- baseline ---------------------------------------------------------------------------------------------


def test_seed_creates_the_designed_estate(world: World) -> None:
    assert world.seeded == EXPECTED_TOTAL
    assert world.seeded >= 150
    # Seeding time is not asserted: on a shared 2-core machine it varies by a factor of three.


def test_every_type_is_present_in_both_regions(world: World) -> None:
    for region in SIMULATED_REGIONS:
        for rtype, n in EXPECTED_PER_REGION.items():
            assert world.counts[(rtype, region)] == n, (rtype, region)
    for rtype, n in EXPECTED_GLOBAL.items():
        assert world.counts[(rtype, "global")] == n, rtype
    assert sum(world.counts.values()) == world.seeded


def test_reseeding_the_same_server_is_refused(world: World) -> None:
    with pytest.raises(RuntimeError, match="already holds a seeded account"):
        SimulatedAccount(world.server.url).seed()


def test_baseline_instances_are_tagged_and_mostly_imdsv2(world: World) -> None:
    instances = world.base["instances"]
    assert set(instances) == {"prod-web-1", "prod-web-2", "prod-api-1", "prod-api-2", "prod-worker-1",
                              "bastion-1", "reporting-1", "staging-web-1"}
    assert {i["type"] for i in instances.values()} == {"t3.micro", "m5.large"}
    assert all(i["state"] == "running" for i in instances.values())
    optional = {name for name, i in instances.items() if i["tokens"] != "required"}
    assert optional == {"bastion-1", "reporting-1"}
    missing = {name for name, i in instances.items() if not set(REQUIRED_TAGS) <= set(i["tags"])}
    assert missing == {"reporting-1"}  # deliberate non-compliance


def test_roughly_ten_percent_of_tagged_resources_miss_a_required_tag(world: World) -> None:
    sim = world.sim
    tag_sets: list[dict[str, str]] = []
    for region in SIMULATED_REGIONS:
        ec2 = sim.client("ec2", region)
        custom = [{"Name": "tag-key", "Values": ["Name"]}]
        for items in (ec2.describe_vpcs(Filters=custom)["Vpcs"], ec2.describe_subnets(Filters=custom)["Subnets"],
                      ec2.describe_security_groups(Filters=custom)["SecurityGroups"],
                      ec2.describe_volumes(Filters=custom)["Volumes"]):
            tag_sets += [_tags(item.get("Tags")) for item in items]
        lam = sim.client("lambda", region)
        tag_sets += [lam.list_tags(Resource=f["FunctionArn"])["Tags"]
                     for f in lam.list_functions()["Functions"]]
        sqs = sim.client("sqs", region)
        tag_sets += [sqs.list_queue_tags(QueueUrl=u).get("Tags", {}) for u in sqs.list_queues()["QueueUrls"]]
    missing = sum(1 for tags in tag_sets if not set(REQUIRED_TAGS) <= set(tags))
    assert len(tag_sets) > 80
    assert 0.04 <= missing / len(tag_sets) <= 0.2


def test_security_group_rules_reference_each_other(world: World) -> None:
    sim = world.sim
    for region in SIMULATED_REGIONS:
        ids = {name: _sg(sim, region, name)["GroupId"]
               for name in ("web-sg", "app-sg", "lambda-sg", "bastion-sg")}
        assert _rules(_sg(sim, region, "app-sg")) == [(8080, ids["web-sg"])]
        assert _rules(_sg(sim, region, "db-sg")) == [(5432, ids["app-sg"]), (5432, ids["lambda-sg"])]
        assert _rules(_sg(sim, region, "bastion-sg")) == [(22, "10.0.0.0/8")]
        assert _rules(_sg(sim, region, "worker-sg")) == [(22, ids["bastion-sg"])]
    assert world.base["web_sg_us"] == [(443, "0.0.0.0/0"), (80, "0.0.0.0/0")]
    assert world.base["web_sg_eu"] == [(443, "0.0.0.0/0"), (80, "0.0.0.0/0")]


def test_buckets_carry_their_configuration(world: World) -> None:
    s3, details = world.sim.client("s3", US), world.details
    assert len(world.base["buckets"]) == 12

    def both(*bases: str) -> set[str]:
        return {f"acme-{base}-{code}" for base in bases for code in ("use1", "euw1")}

    assert world.base["buckets"] - details["pab"] == both("staging-web-assets")
    assert world.base["buckets"] - details["encrypted"] == both("reporting-exports")
    assert details["policy"] == both("prod-app-uploads", "prod-logs")
    assert details["versioned"] == both("prod-web-assets", "prod-app-uploads", "data-lake-raw")
    lake = s3.get_bucket_encryption(Bucket="acme-data-lake-raw-euw1")["ServerSideEncryptionConfiguration"]
    rule = lake["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    assert rule["KMSMasterKeyID"].startswith(f"arn:aws:kms:eu-west-1:{SIMULATED_ACCOUNT_ID}:key/")
    assert s3.get_bucket_location(Bucket="acme-prod-logs-euw1")["LocationConstraint"] == "eu-west-1"
    assert _tags(s3.get_bucket_tagging(Bucket="acme-prod-logs-use1")["TagSet"])["CostCenter"] == "CC-1001"


def test_iam_roles_users_and_policies(world: World) -> None:
    iam = world.sim.client("iam", "global")
    def principal(role: dict[str, Any]) -> dict[str, Any]:
        return role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]

    assert principal(iam.get_role(RoleName="lambda-etl-role")["Role"]) == {"Service": "lambda.amazonaws.com"}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="lambda-etl-role")[
        "AttachedPolicies"]}
    assert attached == {"AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "data-lake-write"}
    ec2_roles = [r for r in iam.list_roles()["Roles"] if principal(r).get("Service") == "ec2.amazonaws.com"]
    assert len(ec2_roles) == 5
    assert {g["GroupName"] for g in iam.list_groups_for_user(UserName="erin.walsh")["Groups"]} == {
        "data-analysts", "developers"}
    bob = _tags(iam.list_user_tags(UserName="bob.smith")["Tags"])
    assert bob == {"Environment": "development", "Owner": "web-team@example.com", "CostCenter": "CC-1002"}
    assert "Owner" not in _tags(iam.list_user_tags(UserName="legacy-backup-user")["Tags"])


def test_rds_lambda_queues_and_keys(world: World) -> None:
    sim, details = world.sim, world.details
    for region in SIMULATED_REGIONS:
        dbs = details[f"dbs/{region}"]
        assert {d["Engine"] for d in dbs.values()} == {"postgres"}
        encrypted = {name for name, d in dbs.items() if d["StorageEncrypted"]}
        assert encrypted == {"prod-orders-db", "prod-reporting-db"}
        assert not any(d["PubliclyAccessible"] for d in dbs.values())
        assert all(len(d["VpcSecurityGroups"]) == 1 and d["DBSubnetGroup"]["DBSubnetGroupName"]
                   for d in dbs.values())
        functions = details[f"functions/{region}"]
        assert {f["Runtime"] for f in functions.values()} == {"python3.12"}
        in_vpc = {name for name, f in functions.items() if f.get("VpcConfig", {}).get("SubnetIds")}
        assert in_vpc == {"api-authorizer", "orders-webhook", "nightly-etl"}
        assert all(len(functions[name]["VpcConfig"]["SubnetIds"]) == 2 for name in in_vpc)
        sqs = sim.client("sqs", region)
        url = sqs.get_queue_url(QueueName="prod-orders")["QueueUrl"]
        redrive = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
        assert f"arn:aws:sqs:{region}:{SIMULATED_ACCOUNT_ID}:prod-orders-dlq" in redrive["RedrivePolicy"]
        rotating = details[f"rotating/{region}"]
        assert rotating == {"Production application data key", "Data lake encryption key"}
    assert world.base["volumes_us"] >= {"legacy-export-vol", "prod-web-1-root", "prod-worker-1-scratch"}


# --- injected changes -------------------------------------------------------------------------------------


def test_expected_changes_match_what_was_applied(world: World) -> None:
    assert world.expected2 == world.day2_changes
    assert world.expected3 == world.day3_changes
    # Pure: needs no server at all.
    offline = SimulatedAccount("http://127.0.0.1:9")
    assert offline.expected_changes(2) == world.day2_changes
    assert offline.expected_changes(3) == world.day3_changes
    with pytest.raises(ValueError):
        offline.expected_changes(4)


@pytest.mark.parametrize("day", [2, 3])
def test_change_records_are_well_formed(world: World, day: int) -> None:
    changes = world.day2_changes if day == 2 else world.day3_changes
    for change in changes:
        assert change.day == day
        assert change.resource_type.startswith("AWS::")
        assert change.region in (*SIMULATED_REGIONS, "global")
        assert (change.region == "global") == change.resource_type.startswith("AWS::IAM::")
        assert change.change_type in {"added", "removed", "modified", "replaced", "none"}
        assert bool(change.paths) == (change.change_type == "modified")
        assert change.description and change.description.count(". ") == 0
    kinds = {c.change_type for c in changes}
    assert kinds == {"added", "removed", "modified", "none"} | ({"replaced"} if day == 3 else set())


def test_day2_inventory_of_changes(world: World) -> None:
    summary = {(c.change_type, c.resource_type, c.locator, c.region, c.paths) for c in world.day2_changes}
    assert len(summary) == len(world.day2_changes)
    assert summary == {
        ("modified", "AWS::EC2::SecurityGroup", "web-sg", US, (SSH_PATH,)),
        ("modified", "AWS::S3::Bucket", "acme-prod-web-assets-use1", US, ("PublicAccessBlock",)),
        ("modified", "AWS::EC2::Instance", "prod-worker-1", US, ("InstanceType",)),
        ("modified", "AWS::EC2::Instance", "prod-web-2", US, ("tags.Owner",)),
        ("added", "AWS::SQS::Queue", "prod-export-jobs", US, ()),
        ("added", "AWS::EC2::Instance", "prod-api-3", US, ()),
        ("added", "AWS::EC2::NetworkInterface", "prod-api-3-eni", US, ()),
        ("added", "AWS::IAM::Role", "data-pipeline-role", "global", ()),
        ("removed", "AWS::Lambda::Function", "legacy-report-mailer", US, ()),
        ("removed", "AWS::DynamoDB::Table", "legacy-audit-trail", EU, ()),
        ("removed", "AWS::SNS::Topic", "staging-alerts", US, ()),
        ("none", "AWS::SQS::Queue", "prod-email-outbound", US, ()),
        ("none", "AWS::Lambda::Function", "orders-webhook", US, ()),
        ("none", "AWS::EC2::SecurityGroup", "web-sg", EU, ()),
        # declared side effects of the additions above
        ("added", "AWS::EC2::Volume", "prod-api-3-root", US, ()),
        ("none", "AWS::EC2::Subnet", "prod-private-a", US, ()),
        ("none", "AWS::IAM::ManagedPolicy", "data-lake-write", "global", ()),
    }


def test_day2_effects_are_visible_through_the_api(world: World) -> None:
    base, day2 = world.base, world.day2
    assert day2["web_sg_us"] == [(443, "0.0.0.0/0"), (80, "0.0.0.0/0"), (22, "0.0.0.0/0")]
    assert isinstance(base["pab"], dict)
    assert day2["pab"] == "NoSuchPublicAccessBlockConfiguration"
    assert base["instances"]["prod-worker-1"]["type"] == "m5.large"
    assert day2["instances"]["prod-worker-1"] == {**base["instances"]["prod-worker-1"], "type": "m5.xlarge"}
    assert "Owner" in base["instances"]["prod-web-2"]["tags"]
    assert day2["instances"]["prod-web-2"]["tags"] == {
        k: v for k, v in base["instances"]["prod-web-2"]["tags"].items() if k != "Owner"}
    # added
    assert day2["queues_us"] - base["queues_us"] == {"prod-export-jobs"}
    assert set(day2["instances"]) - set(base["instances"]) == {"prod-api-3"}
    assert day2["volumes_us"] - base["volumes_us"] == {"prod-api-3-root"}
    assert day2["roles"] - base["roles"] == {"data-pipeline-role"}
    # removed
    assert base["functions_us"] - day2["functions_us"] == {"legacy-report-mailer"}
    assert base["tables_eu"] - day2["tables_eu"] == {"legacy-audit-trail"}
    assert base["topics_us"] - day2["topics_us"] == {"staging-alerts"}
    # volatile-only and order-only
    assert (base["email_depth"], day2["email_depth"]) == (0, 5)
    assert day2["webhook_subnets"] == list(reversed(base["webhook_subnets"]))
    assert day2["web_sg_eu"] == list(reversed(base["web_sg_eu"]))
    # side effects declared as "none"
    assert day2["private_a_free_ips"] == base["private_a_free_ips"] - 1
    assert (base["lake_write_attachments"], day2["lake_write_attachments"]) == (2, 3)


def test_day3_inventory_of_changes(world: World) -> None:
    summary = {(c.change_type, c.resource_type, c.locator, c.region, c.paths) for c in world.day3_changes}
    assert summary == {
        ("modified", "AWS::EC2::SecurityGroup", "web-sg", US, (SSH_PATH,)),
        ("modified", "AWS::DynamoDB::Table", "analytics-events", US, ("tags.Environment",)),
        ("modified", "AWS::RDS::DBInstance", "prod-reporting-db", US, ("PubliclyAccessible",)),
        ("modified", "AWS::EC2::Instance", "reporting-1", US, ("State",)),
        ("removed", "AWS::EC2::Volume", "legacy-export-vol", US, ()),
        ("added", "AWS::KMS::Key", "Audit log encryption key", US, ()),
        ("added", "AWS::S3::Bucket", "acme-audit-logs-use1", US, ()),
        ("replaced", "AWS::EC2::Instance", "prod-api-2", US, ()),
        ("replaced", "AWS::EC2::Volume", "prod-api-2-root", US, ()),
        ("replaced", "AWS::EC2::NetworkInterface", "prod-api-2-eni", US, ()),
        ("none", "AWS::DynamoDB::Table", "prod-orders", US, ()),
        ("none", "AWS::SQS::Queue", "prod-orders", EU, ()),
    }


def test_day3_effects_are_visible_through_the_api(world: World) -> None:
    day2, day3 = world.day2, world.day3
    assert day3["web_sg_us"] == world.base["web_sg_us"]
    environments = (day2["events_tags"]["Environment"], day3["events_tags"]["Environment"])
    assert environments == ("staging", "production")
    assert {k: v for k, v in day3["events_tags"].items() if k != "Environment"} == {
        k: v for k, v in day2["events_tags"].items() if k != "Environment"}
    assert (day2["reporting_db_public"], day3["reporting_db_public"]) == (False, True)
    assert (day2["instances"]["reporting-1"]["state"], day3["instances"]["reporting-1"]["state"]) == (
        "running", "stopped")
    assert day2["volumes_us"] - day3["volumes_us"] == {"legacy-export-vol"}
    assert day3["keys_us"] - day2["keys_us"] == {"Audit log encryption key"}
    assert day3["buckets"] - day2["buckets"] == {"acme-audit-logs-use1"}
    assert (day2["orders_items"], day3["orders_items"]) == (0, 3)
    assert (day2["eu_orders_depth"], day3["eu_orders_depth"]) == (0, 3)
    # Nothing else moved between day 2 and day 3 in what we sampled.
    unchanged = ("queues_us", "roles", "functions_us", "tables_eu", "topics_us", "webhook_subnets", "web_sg_eu")
    for key in unchanged:
        assert day3[key] == day2[key], key


# --- server -----------------------------------------------------------------------------------------------


def test_server_stop_releases_the_port() -> None:
    srv = SimulatorServer(reset=False)  # reset=False: must not wipe the module's shared moto state
    with pytest.raises(RuntimeError):
        _ = srv.url
    with srv:
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=2):
            pass
    with pytest.raises(RuntimeError):
        _ = srv.url
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass
