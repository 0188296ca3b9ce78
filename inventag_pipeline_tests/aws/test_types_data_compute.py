"""The data_compute types (core/types/data_compute.py): identity and details against moto, real shapes with Stubber."""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from inventag_pipeline.aws.collector import RawItem, _Counter, collect_account, collect_type
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import CanonicalRecord, canonical_record
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.snapshot import relationships_table
from inventag_pipeline.core.types.data_compute import TYPES
from inventag_pipeline_tests.aws import fixtures_data_compute as fixtures
from inventag_pipeline_tests.aws.fixtures import TAGS, Expected
from inventag_pipeline_tests.conftest import client

REGION = "us-east-1"
NAME = f"fixture-dc-{REGION}"
MOTO_TYPES = [t for t in TYPES if t.tested_with == "moto"]
COLLECTED_AT = "2026-01-02T03:04:05Z"
RDS = f"arn:aws:rds:{REGION}:{ACCOUNT}"


def _record(item: RawItem) -> CanonicalRecord:
    return canonical_record(REGISTRY[item.resource_type], item.payload, account_id=ACCOUNT, region=item.region,
                            collected_at=COLLECTED_AT)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Iterator[tuple[list[Expected], list[str], list[RawItem]]]:
    """The family's fixtures in us-east-1, collected once through the guard (these types only).

    Module-scoped, with its own moto server and a clean AWS environment, so the tests share one collection.
    Yields the expectations, the fixture's two subnet ids and the raw items.
    """
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith(("AWS_", "INVENTAG_"))]:
            env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", str(tmp_path_factory.mktemp("aws") / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path_factory.mktemp("aws") / "no-aws-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            requests.post(f"{url}/moto-api/reset", timeout=10)
            expected = fixtures.create(url, REGION)
            subnets = sorted(s["SubnetId"] for s in client(url, "ec2", REGION).describe_subnets(
                Filters=[{"Name": "cidr-block", "Values": ["10.77.1.0/24", "10.77.2.0/24"]}])["Subnets"])
            audit = AuditLog()
            sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), audit)
            collection = collect_account(sessions, [REGION], types=MOTO_TYPES)
            assert [(s.service, s.region, s.error) for s in collection.scopes if s.status != "ok"] == []
            assert (audit.summary()["refused"], audit.summary()["all_read_only"]) == (0, True)
            yield expected, subnets, [i for s in collection.scopes for i in s.items]
        finally:
            server.stop()


def _records(items: list[RawItem]) -> dict[str, CanonicalRecord]:
    return {r.arn: r for r in map(_record, items)}


def _one(items: list[RawItem], cfn_type: str, name: str = NAME) -> CanonicalRecord:
    [found] = [r for r in map(_record, items) if r.resource_type == cfn_type and r.name == name]
    return found


def test_every_type_is_collected_with_exact_identity(collected):
    expected, _, items = collected
    records = _records(items)
    assert {e.arn: (e.resource_type, e.region, e.name, e.tags) for e in expected} == {
        e.arn: (records[e.arn].resource_type, records[e.arn].region, records[e.arn].name, records[e.arn].tags)
        for e in expected if e.arn in records}
    assert {e.resource_type for e in expected} == {t.cfn_type for t in MOTO_TYPES}
    # Nothing else of these types, except what AWS itself made: moto's automated snapshot of the instance is
    # left out by SnapshotType=manual; the default parameter group the instance uses is listed.
    extra = {(r.resource_type, r.arn) for r in records.values()} - {(e.resource_type, e.arn) for e in expected}
    assert extra == {("AWS::RDS::DBParameterGroup", f"{RDS}:pg:default.postgres9.3")}


def test_rds_details(collected):
    _, subnets, items = collected
    parameters = _one(items, "AWS::RDS::DBParameterGroup").configuration
    assert parameters["Parameters"] == [
        {"ApplyMethod": "immediate", "ParameterName": "rds.force_ssl", "ParameterValue": "1"}]
    assert _one(items, "AWS::RDS::DBParameterGroup", "default.postgres9.3").configuration["Parameters"] == []
    assert _one(items, "AWS::RDS::DBClusterSnapshot", f"{NAME}-cluster-snap").configuration["Attributes"] == [
        {"AttributeName": "restore", "AttributeValues": ["111122223333"]}]
    snapshot = _one(items, "AWS::RDS::DBSnapshot", f"{NAME}-snap").configuration
    assert (snapshot["SnapshotType"], snapshot["DBInstanceIdentifier"], snapshot["Attributes"]) == (
        "manual", f"{NAME}-db", [{"AttributeName": "restore", "AttributeValues": []}])
    subnet_group = _one(items, "AWS::RDS::DBSubnetGroup").configuration
    assert [s["SubnetIdentifier"] for s in subnet_group["Subnets"]] == subnets
    cluster = _one(items, "AWS::RDS::DBCluster").configuration
    assert (cluster["Engine"], cluster["DBSubnetGroup"], cluster["DeletionProtection"]) == (
        "aurora-postgresql", NAME, False)
    assert "TagList" not in cluster  # tags are the record's, not part of the configuration


def test_elasticache_efs_and_ecr_details(collected):
    _, subnets, items = collected
    cache = _one(items, "AWS::ElastiCache::CacheCluster").configuration
    assert (cache["Engine"], cache["CacheSubnetGroupName"]) == ("memcached", NAME)
    group = _one(items, "AWS::ElastiCache::ReplicationGroup", f"{NAME}-rg").configuration
    assert (group["MemberClusters"], group["AtRestEncryptionEnabled"]) == ([f"{NAME}-rg-001"], False)
    assert [s["SubnetIdentifier"] for s in _one(items, "AWS::ElastiCache::SubnetGroup").configuration["Subnets"]] \
        == subnets

    fs = _one(items, "AWS::EFS::FileSystem", f"{NAME}-fs").configuration
    assert fs["LifecyclePolicies"] == [{"TransitionToIA": "AFTER_30_DAYS"}]
    assert fs["Policy"] == {"Version": "2012-10-17", "Statement": [
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["*"], "Resource": ["*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    assert "BackupPolicy" not in fs  # no automatic backups: PolicyNotFound is "absent", not a failure
    access_point = _one(items, "AWS::EFS::AccessPoint", f"{NAME}-ap").configuration
    assert (access_point["FileSystemId"], access_point["PosixUser"], access_point["RootDirectory"]) == (
        fs["FileSystemId"], {"Gid": 1000, "Uid": 1000}, {"Path": "/data"})

    repo = _one(items, "AWS::ECR::Repository").configuration
    assert repo["Policy"] == {"Version": "2012-10-17", "Statement": [
        {"Sid": "CrossAccountPull", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
    assert repo["LifecyclePolicy"] == fixtures.LIFECYCLE_POLICY
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}


def test_container_backup_and_lambda_details(collected):
    _, subnets, items = collected
    cluster = _one(items, "AWS::ECS::Cluster", f"cluster/{NAME}")
    assert cluster.configuration == {"clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{NAME}"}
    task = _one(items, "AWS::ECS::TaskDefinition").configuration["taskDefinition"]
    [container] = task["containerDefinitions"]
    assert (task["family"], task["revision"], task["networkMode"], task["requiresCompatibilities"]) == (
        NAME, 1, "awsvpc", ["FARGATE"])
    # The command is an ordered list (declared in ordered_paths), never sorted; environment values
    # may be secrets, so only their digest is kept (secret_paths).
    import hashlib

    assert (container["image"], container["command"], container["environment"]) == (
        "nginx:1.27", ["nginx", "-g", "daemon off;"],
        [{"name": "MODE", "value": "redacted:sha256:" + hashlib.sha256(b"fixture").hexdigest()}])

    eks = _one(items, "AWS::EKS::Cluster").configuration
    assert (eks["version"], eks["roleArn"], eks["resourcesVpcConfig"]["subnetIds"]) == (
        "1.30", f"arn:aws:iam::{ACCOUNT}:role/fixture-dc-role", subnets)

    plan = _one(items, "AWS::Backup::BackupPlan").configuration
    [rule] = plan["BackupPlan"]["Rules"]
    assert {k: v for k, v in rule.items() if k != "RuleId"} == {
        "RuleName": "daily", "TargetBackupVaultName": NAME, "ScheduleExpression": "cron(0 5 ? * * *)",
        "ScheduleExpressionTimezone": "Etc/UTC", "StartWindowMinutes": 480, "CompletionWindowMinutes": 10080,
        "Lifecycle": {"DeleteAfterDays": 35}}
    assert _one(items, "AWS::Backup::BackupVault").configuration["Locked"] is False

    layer = _one(items, "AWS::Lambda::LayerVersion").configuration
    assert (layer["LatestMatchingVersion"]["Version"], layer["LatestMatchingVersion"]["Description"]) == (
        1, "fixture layer")
    [mapping] = [r for r in map(_record, items) if r.resource_type == "AWS::Lambda::EventSourceMapping"]
    assert (mapping.configuration["FunctionArn"], mapping.configuration["EventSourceArn"],
            mapping.configuration["BatchSize"], mapping.tags) == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAME}-consumer", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{NAME}-events",
        5, TAGS)


def test_relationships(collected):
    expected, subnets, items = collected
    arn = {e.resource_type: e.arn for e in expected}
    records = [r for r in map(_record, items) if r.arn in set(arn.values())]
    edges = set(zip(*relationships_table(records).to_pydict().values(), strict=True))
    fs_id = arn["AWS::EFS::FileSystem"].rsplit("/", 1)[-1]
    assert {e for e in edges if e[0] in (arn["AWS::RDS::DBSubnetGroup"], arn["AWS::EKS::Cluster"],
                                         arn["AWS::EFS::AccessPoint"], arn["AWS::Backup::BackupPlan"],
                                         arn["AWS::Lambda::EventSourceMapping"])} == {
        *((arn["AWS::RDS::DBSubnetGroup"], "Subnets[].SubnetIdentifier", "AWS::EC2::Subnet", s) for s in subnets),
        *((arn["AWS::EKS::Cluster"], "resourcesVpcConfig.subnetIds[]", "AWS::EC2::Subnet", s) for s in subnets),
        (arn["AWS::RDS::DBSubnetGroup"], "VpcId", "AWS::EC2::VPC",
         _one(items, "AWS::RDS::DBSubnetGroup").configuration["VpcId"]),
        (arn["AWS::EKS::Cluster"], "roleArn", "AWS::IAM::Role", f"arn:aws:iam::{ACCOUNT}:role/fixture-dc-role"),
        (arn["AWS::EFS::AccessPoint"], "FileSystemId", "AWS::EFS::FileSystem", fs_id),
        (arn["AWS::Backup::BackupPlan"], "BackupPlan.Rules[].TargetBackupVaultName", "AWS::Backup::BackupVault",
         NAME),
        (arn["AWS::Lambda::EventSourceMapping"], "FunctionArn", "AWS::Lambda::Function",
         f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAME}-consumer"),
    }


def _rehash(item: RawItem, change) -> str:
    payload = copy.deepcopy(item.payload)
    change(payload)
    return _record(RawItem(item.resource_type, item.region, payload)).content_hash


def test_volatile_changes_keep_the_content_hash(collected):
    expected, _, items = collected
    arns = {e.arn for e in expected}
    mine = {i.resource_type: i for i in items if _record(i).arn in arns}
    later = "2026-02-03T04:05:06Z"

    def new_rule_id(payload: dict[str, Any]) -> None:
        payload["VersionId"] = "v2"
        payload["BackupPlan"]["Rules"][0]["RuleId"] = "new-rule-id"

    def shorter_retention(payload: dict[str, Any]) -> None:
        payload["BackupPlan"]["Rules"][0]["Lifecycle"] = {"DeleteAfterDays": 7}

    volatile = {
        "AWS::RDS::DBCluster": lambda p: p.update(LatestRestorableTime=later, EarliestRestorableTime=later),
        "AWS::EFS::FileSystem": lambda p: p.update(SizeInBytes={"Value": 4096, "Timestamp": later}),
        "AWS::Backup::BackupVault": lambda p: p.update(NumberOfRecoveryPoints=12),
        "AWS::Backup::BackupPlan": new_rule_id,
        "AWS::Lambda::EventSourceMapping": lambda p: p.update(
            LastModified=later, LastProcessingResult="PROBLEM: x", StateTransitionReason="User action"),
    }
    meaningful = {
        "AWS::RDS::DBCluster": lambda p: p.update(DeletionProtection=True),
        "AWS::EFS::FileSystem": lambda p: p.update(LifecyclePolicies=[{"TransitionToIA": "AFTER_7_DAYS"}]),
        "AWS::Backup::BackupVault": lambda p: p.update(Locked=True),
        "AWS::Backup::BackupPlan": shorter_retention,
        "AWS::Lambda::EventSourceMapping": lambda p: p.update(BatchSize=10),
    }
    same = {t: _rehash(mine[t], change) == _record(mine[t]).content_hash for t, change in volatile.items()}
    differs = {t: _rehash(mine[t], change) != _record(mine[t]).content_hash for t, change in meaningful.items()}
    assert (same, differs) == (dict.fromkeys(volatile, True), dict.fromkeys(meaningful, True))


# --- Stubber: what moto does not implement -----------------------------------------------------------------


def test_efs_backup_policy_with_stubber():
    """Moto has no PutBackupPolicy: a file system with automatic backups, shaped like real AWS."""
    rtype = REGISTRY["AWS::EFS::FileSystem"]
    real = boto3.client("efs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    fs_id = "fs-0123456789abcdef0"
    fs_arn = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs_id}"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    created = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)
    stubber = Stubber(real)
    stubber.add_response("describe_file_systems", {"FileSystems": [{
        "OwnerId": ACCOUNT, "CreationToken": "console-1", "FileSystemId": fs_id, "FileSystemArn": fs_arn,
        "CreationTime": created, "LifeCycleState": "available", "Name": "shared-home", "NumberOfMountTargets": 3,
        "SizeInBytes": {"Value": 6144, "Timestamp": created, "ValueInIA": 0, "ValueInStandard": 6144},
        "PerformanceMode": "generalPurpose", "Encrypted": True, "KmsKeyId": key, "ThroughputMode": "elastic",
        "FileSystemProtection": {"ReplicationOverwriteProtection": "ENABLED"},
        "Tags": [{"Key": "Name", "Value": "shared-home"}, {"Key": "Owner", "Value": "platform"}],
    }]}, {})
    stubber.add_response("describe_lifecycle_configuration", {"LifecyclePolicies": [
        {"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]},
        {"FileSystemId": fs_id})
    stubber.add_response("describe_backup_policy", {"BackupPolicy": {"Status": "ENABLED"}}, {"FileSystemId": fs_id})
    stubber.add_client_error("describe_file_system_policy", service_error_code="PolicyNotFound",
                             http_status_code=404, expected_params={"FileSystemId": fs_id})
    with stubber:
        [item] = collect_type(rtype, lambda _region: real, REGION, _Counter())
    stubber.assert_no_pending_responses()

    record = _record(item)
    assert (record.arn, record.name, record.tags) == (fs_arn, "shared-home",
                                                      {"Name": "shared-home", "Owner": "platform"})
    config = record.configuration
    assert (config["BackupPolicy"], config["KmsKeyId"], config["ThroughputMode"]) == (
        {"Status": "ENABLED"}, key, "elastic")
    # A list without identity is compared as a set: the canonical order is by content.
    assert config["LifecyclePolicies"] == [{"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"},
                                           {"TransitionToIA": "AFTER_30_DAYS"}]
    assert "Policy" not in config
    edges = relationships_table([record]).to_pydict()
    assert list(zip(edges["relation"], edges["target_type"], edges["target_ref"], strict=True)) == [
        ("KmsKeyId", "AWS::KMS::Key", key)]
