"""One resource of every moto-tested data_compute type (core/types/data_compute.py), with exact expectations.

Besides the expected resources this creates what they need (a VPC with two subnets, a DB instance,
a function and a queue); those are core types and carry no expectations here.
"""

from __future__ import annotations

import json

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline_tests.aws.fixtures import TAGS, TRUST, Expected, _kv, _zip
from inventag_pipeline_tests.conftest import client

REPOSITORY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "CrossAccountPull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
LIFECYCLE_POLICY = {"rules": [
    {"rulePriority": 1, "description": "expire untagged", "selection": {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
     "action": {"type": "expire"}}]}
FILE_SYSTEM_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def create(url: str, region: str) -> list[Expected]:
    """Create the family's resources in `region` (none of them is global) and return the expectations."""
    out: list[Expected] = []
    name = f"fixture-dc-{region}"
    rds_prefix = f"arn:aws:rds:{region}:{ACCOUNT}"

    ec2 = client(url, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=f"{region}{zone}")
               ["Subnet"]["SubnetId"] for i, zone in ((1, "a"), (2, "b"))]

    # --- RDS ---------------------------------------------------------------------------------------
    rds = client(url, "rds", region)
    rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="fixture", SubnetIds=subnets,
                               Tags=_kv(TAGS))
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres16",
                                  Description="fixture", Tags=_kv(TAGS))
    rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="admin",
                          MasterUserPassword="password123", DBSubnetGroupName=name, Tags=_kv(TAGS))
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=f"{name}-cluster-snap", DBClusterIdentifier=name,
                                   Tags=_kv(TAGS))
    rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=f"{name}-cluster-snap",
                                             AttributeName="restore", ValuesToAdd=["111122223333"])
    rds.create_db_instance(DBInstanceIdentifier=f"{name}-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20)
    # Creating the instance also made an automated snapshot, which must not be inventoried.
    rds.create_db_snapshot(DBSnapshotIdentifier=f"{name}-snap", DBInstanceIdentifier=f"{name}-db", Tags=_kv(TAGS))
    out += [
        Expected("AWS::RDS::DBSubnetGroup", f"{rds_prefix}:subgrp:{name}", region, name, TAGS),
        Expected("AWS::RDS::DBParameterGroup", f"{rds_prefix}:pg:{name}", region, name, TAGS),
        Expected("AWS::RDS::DBCluster", f"{rds_prefix}:cluster:{name}", region, name, TAGS),
        Expected("AWS::RDS::DBClusterSnapshot", f"{rds_prefix}:cluster-snapshot:{name}-cluster-snap", region,
                 f"{name}-cluster-snap", TAGS),
        Expected("AWS::RDS::DBSnapshot", f"{rds_prefix}:snapshot:{name}-snap", region, f"{name}-snap", TAGS),
    ]

    # --- ElastiCache -------------------------------------------------------------------------------
    elasticache = client(url, "elasticache", region)
    cache = elasticache.create_cache_subnet_group(
        CacheSubnetGroupName=name, CacheSubnetGroupDescription="fixture", SubnetIds=subnets,
        Tags=_kv(TAGS))["CacheSubnetGroup"]
    cluster = elasticache.create_cache_cluster(
        CacheClusterId=name, Engine="memcached", CacheNodeType="cache.t3.micro", NumCacheNodes=1,
        CacheSubnetGroupName=name, Tags=_kv(TAGS))["CacheCluster"]
    group = elasticache.create_replication_group(
        ReplicationGroupId=f"{name}-rg", ReplicationGroupDescription="fixture", Engine="redis",
        CacheNodeType="cache.t3.micro", NumCacheClusters=1, Tags=_kv(TAGS))["ReplicationGroup"]
    out += [
        Expected("AWS::ElastiCache::SubnetGroup", cache["ARN"], region, name, TAGS),
        Expected("AWS::ElastiCache::CacheCluster", cluster["ARN"], region, name, TAGS),
        Expected("AWS::ElastiCache::ReplicationGroup", group["ARN"], region, f"{name}-rg", TAGS),
    ]

    # --- EFS ---------------------------------------------------------------------------------------
    efs = client(url, "efs", region)
    named = dict(TAGS, Name=f"{name}-fs")
    fs = efs.create_file_system(CreationToken=name, Encrypted=True, Tags=_kv(named))
    efs.put_lifecycle_configuration(FileSystemId=fs["FileSystemId"],
                                    LifecyclePolicies=[{"TransitionToIA": "AFTER_30_DAYS"}])
    efs.put_file_system_policy(FileSystemId=fs["FileSystemId"], Policy=json.dumps(FILE_SYSTEM_POLICY))
    access_point = efs.create_access_point(
        FileSystemId=fs["FileSystemId"], PosixUser={"Uid": 1000, "Gid": 1000}, RootDirectory={"Path": "/data"},
        Tags=_kv(dict(TAGS, Name=f"{name}-ap")))
    out += [
        Expected("AWS::EFS::FileSystem", fs["FileSystemArn"], region, f"{name}-fs", named),
        Expected("AWS::EFS::AccessPoint", access_point["AccessPointArn"], region, f"{name}-ap",
                 dict(TAGS, Name=f"{name}-ap")),
    ]

    # --- ECR, ECS, EKS -------------------------------------------------------------------------------
    ecr = client(url, "ecr", region)
    repo = ecr.create_repository(repositoryName=name, tags=_kv(TAGS),
                                 imageScanningConfiguration={"scanOnPush": True})["repository"]
    ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(REPOSITORY_POLICY))
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(LIFECYCLE_POLICY))
    out.append(Expected("AWS::ECR::Repository", repo["repositoryArn"], region, name, TAGS))

    ecs = client(url, "ecs", region)
    ecs_tags = [{"key": k, "value": v} for k, v in TAGS.items()]
    ecs_cluster = ecs.create_cluster(clusterName=name, tags=ecs_tags)["cluster"]
    task = ecs.register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "essential": True,
                               "command": ["nginx", "-g", "daemon off;"],
                               "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                               "environment": [{"name": "MODE", "value": "fixture"}]}],
        tags=ecs_tags)["taskDefinition"]
    out += [
        Expected("AWS::ECS::Cluster", ecs_cluster["clusterArn"], region, f"cluster/{name}", TAGS),
        Expected("AWS::ECS::TaskDefinition", task["taskDefinitionArn"], region, name, TAGS),
    ]

    iam = client(url, "iam", "us-east-1")
    role_name = "fixture-dc-role"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks = client(url, "eks", region)
    eks_cluster = eks.create_cluster(name=name, roleArn=role_arn, version="1.30",
                                     resourcesVpcConfig={"subnetIds": subnets}, tags=TAGS)["cluster"]
    out.append(Expected("AWS::EKS::Cluster", eks_cluster["arn"], region, name, TAGS))

    # --- Backup ------------------------------------------------------------------------------------
    backup = client(url, "backup", region)
    vault = backup.create_backup_vault(BackupVaultName=name, BackupVaultTags=TAGS)
    plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": name, "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": name, "ScheduleExpression": "cron(0 5 ? * * *)",
         "Lifecycle": {"DeleteAfterDays": 35}}]}, BackupPlanTags=TAGS)
    out += [
        Expected("AWS::Backup::BackupVault", vault["BackupVaultArn"], region, name, TAGS),
        Expected("AWS::Backup::BackupPlan", plan["BackupPlanArn"], region, name, TAGS),
    ]

    # --- Lambda ------------------------------------------------------------------------------------
    lam = client(url, "lambda", region)
    layer = lam.publish_layer_version(LayerName=name, Content={"ZipFile": _zip()}, Description="fixture layer",
                                      CompatibleRuntimes=["python3.12"])
    out.append(Expected("AWS::Lambda::LayerVersion", layer["LayerVersionArn"], region, name, {}))
    sqs = client(url, "sqs", region)
    queue_url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_function(FunctionName=f"{name}-consumer", Runtime="python3.12", Role=role_arn,
                       Handler="handler.handler", Code={"ZipFile": _zip()})
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=f"{name}-consumer",
                                              BatchSize=5, Tags=TAGS)
    out.append(Expected("AWS::Lambda::EventSourceMapping", mapping["EventSourceMappingArn"], region, None, TAGS))
    return out
