"""Databases, caches, file systems, containers, backups and Lambda's satellites.

RDS and Lambda functions themselves are core types (core/registry.py); these are the resources
around them. Tags come from the list call where the API returns them and from one per-resource
tag call otherwise.
"""

from __future__ import annotations

from inventag_pipeline.core.resource_type import Detail, ResourceType, _t


def _rds_tags(arn_field: str) -> Detail:
    return Detail("list_tags_for_resource", {"ResourceName": "{" + arn_field + "}"}, "Tags", "TagList")


_ELASTICACHE_TAGS = Detail("list_tags_for_resource", {"ResourceName": "{ARN}"}, "Tags", "TagList")

TYPES: tuple[ResourceType, ...] = (
    # --- RDS -------------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::RDS::DBCluster",
        config_type="AWS::RDS::DBCluster",
        service="rds",
        description="Aurora or Multi-AZ DB cluster (DescribeDBClusters also returns Neptune and DocumentDB clusters).",
        list_operation="describe_db_clusters",
        result_path="DBClusters[]",
        id_field="DBClusterIdentifier",
        arn_field="DBClusterArn",
        name_field="DBClusterIdentifier",
        tags_field="TagList",
        volatile_paths=(
            "LatestRestorableTime",
            "EarliestRestorableTime",
            "EarliestBacktrackTime",
            "BacktrackConsumedChangeRecords",
            "Capacity",  # Aurora Serverless v1: the capacity in use right now
            "PercentProgress",
            "AutomaticRestartTime",
            "IOOptimizedNextAllowedModificationTime",
        ),
        operational_paths=(
            "Status",
            "StatusInfos",
            "PendingModifiedValues",
            "DBClusterMembers[].IsClusterWriter",  # a failover moves the writer
            "DBClusterMembers[].DBClusterParameterGroupStatus",
            "VpcSecurityGroups[].Status",
            "AssociatedRoles[].Status",
            "MasterUserSecret.SecretStatus",
            "GlobalWriteForwardingStatus",
            "LocalWriteForwardingStatus",
        ),
        list_keys={
            "DBClusterMembers": ("DBInstanceIdentifier",),
            "VpcSecurityGroups": ("VpcSecurityGroupId",),
            "AssociatedRoles": ("RoleArn", "FeatureName"),
            "DBClusterOptionGroupMemberships": ("DBClusterOptionGroupName",),
            "DomainMemberships": ("Domain",),
        },
        relationships={
            "DBClusterMembers[].DBInstanceIdentifier": "AWS::RDS::DBInstance",
            "VpcSecurityGroups[].VpcSecurityGroupId": "AWS::EC2::SecurityGroup",
            "DBSubnetGroup": "AWS::RDS::DBSubnetGroup",
            "KmsKeyId": "AWS::KMS::Key",
            "AssociatedRoles[].RoleArn": "AWS::IAM::Role",
            "MonitoringRoleArn": "AWS::IAM::Role",
        },
    ),
    _t(
        cfn_type="AWS::RDS::DBSnapshot",
        config_type="AWS::RDS::DBSnapshot",
        service="rds",
        description=(
            "Manual DB instance snapshot (automated ones rotate daily and are not inventoried) with its "
            "sharing attributes: `restore` lists the accounts allowed to restore it, `all` means public."
        ),
        list_operation="describe_db_snapshots",
        list_params={"SnapshotType": "manual"},
        result_path="DBSnapshots[]",
        id_field="DBSnapshotIdentifier",
        arn_field="DBSnapshotArn",
        name_field="DBSnapshotIdentifier",
        tags_field="TagList",
        details=(
            Detail("describe_db_snapshot_attributes", {"DBSnapshotIdentifier": "{id}"}, "Attributes",
                   "DBSnapshotAttributesResult.DBSnapshotAttributes"),
        ),
        volatile_paths=("PercentProgress",),
        operational_paths=("Status",),
        list_keys={"Attributes": ("AttributeName",), "ProcessorFeatures": ("Name",)},
        relationships={
            "DBInstanceIdentifier": "AWS::RDS::DBInstance",
            "KmsKeyId": "AWS::KMS::Key",
            "VpcId": "AWS::EC2::VPC",
        },
    ),
    _t(
        cfn_type="AWS::RDS::DBClusterSnapshot",
        config_type="AWS::RDS::DBClusterSnapshot",
        service="rds",
        description=(
            "Manual DB cluster snapshot with its sharing attributes (`restore`: accounts allowed to "
            "restore it, `all` = public)."
        ),
        list_operation="describe_db_cluster_snapshots",
        list_params={"SnapshotType": "manual"},
        result_path="DBClusterSnapshots[]",
        id_field="DBClusterSnapshotIdentifier",
        arn_field="DBClusterSnapshotArn",
        name_field="DBClusterSnapshotIdentifier",
        tags_field="TagList",
        details=(
            Detail("describe_db_cluster_snapshot_attributes", {"DBClusterSnapshotIdentifier": "{id}"}, "Attributes",
                   "DBClusterSnapshotAttributesResult.DBClusterSnapshotAttributes"),
        ),
        volatile_paths=("PercentProgress",),
        operational_paths=("Status",),
        list_keys={"Attributes": ("AttributeName",)},
        relationships={
            "DBClusterIdentifier": "AWS::RDS::DBCluster",
            "KmsKeyId": "AWS::KMS::Key",
            "VpcId": "AWS::EC2::VPC",
        },
    ),
    _t(
        cfn_type="AWS::RDS::DBSubnetGroup",
        config_type="AWS::RDS::DBSubnetGroup",
        service="rds",
        description="RDS DB subnet group: the subnets (and so the VPC) databases are placed in.",
        list_operation="describe_db_subnet_groups",
        result_path="DBSubnetGroups[]",
        id_field="DBSubnetGroupName",
        arn_field="DBSubnetGroupArn",
        name_field="DBSubnetGroupName",
        details=(_rds_tags("DBSubnetGroupArn"),),
        operational_paths=("SubnetGroupStatus", "Subnets[].SubnetStatus"),
        list_keys={"Subnets": ("SubnetIdentifier",)},
        relationships={"VpcId": "AWS::EC2::VPC", "Subnets[].SubnetIdentifier": "AWS::EC2::Subnet"},
    ),
    _t(
        cfn_type="AWS::RDS::DBParameterGroup",
        service="rds",
        description=(
            "RDS DB parameter group with the parameters set by the user (engine defaults are not "
            "repeated). AWS-created `default.*` groups are listed too: the API cannot leave them out."
        ),
        list_operation="describe_db_parameter_groups",
        result_path="DBParameterGroups[]",
        id_field="DBParameterGroupName",
        arn_field="DBParameterGroupArn",
        name_field="DBParameterGroupName",
        details=(
            _rds_tags("DBParameterGroupArn"),
            Detail("describe_db_parameters", {"DBParameterGroupName": "{id}", "Source": "user"}, "Parameters",
                   "Parameters", paginate=True),
        ),
        list_keys={"Parameters": ("ParameterName",)},
    ),
    # --- ElastiCache -------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::ElastiCache::CacheCluster",
        service="elasticache",
        description="ElastiCache cluster (Memcached, or one node of a Redis/Valkey replication group).",
        list_operation="describe_cache_clusters",
        result_path="CacheClusters[]",
        id_field="CacheClusterId",
        arn_field="ARN",
        name_field="CacheClusterId",
        details=(_ELASTICACHE_TAGS,),
        operational_paths=("CacheClusterStatus", "PendingModifiedValues", "CacheParameterGroup.ParameterApplyStatus",
                           "SecurityGroups[].Status", "CacheSecurityGroups[].Status",
                           "LogDeliveryConfigurations[].Status"),
        list_keys={
            "SecurityGroups": ("SecurityGroupId",),
            "CacheSecurityGroups": ("CacheSecurityGroupName",),
            "LogDeliveryConfigurations": ("LogType",),
        },
        relationships={
            "SecurityGroups[].SecurityGroupId": "AWS::EC2::SecurityGroup",
            "CacheSubnetGroupName": "AWS::ElastiCache::SubnetGroup",
            "ReplicationGroupId": "AWS::ElastiCache::ReplicationGroup",
        },
    ),
    _t(
        cfn_type="AWS::ElastiCache::ReplicationGroup",
        service="elasticache",
        description="ElastiCache Redis/Valkey replication group: node groups, failover, encryption.",
        list_operation="describe_replication_groups",
        result_path="ReplicationGroups[]",
        id_field="ReplicationGroupId",
        arn_field="ARN",
        name_field="ReplicationGroupId",
        details=(_ELASTICACHE_TAGS,),
        operational_paths=(
            "Status",
            "PendingModifiedValues",
            "NodeGroups[].Status",
            "NodeGroups[].NodeGroupMembers[].CurrentRole",  # a failover swaps primary and replica
            "SnapshottingClusterId",
            "LogDeliveryConfigurations[].Status",
        ),
        list_keys={
            "NodeGroups": ("NodeGroupId",),
            "NodeGroups[].NodeGroupMembers": ("CacheClusterId",),
            "LogDeliveryConfigurations": ("LogType",),
        },
        relationships={
            "MemberClusters[]": "AWS::ElastiCache::CacheCluster",
            "KmsKeyId": "AWS::KMS::Key",
        },
    ),
    _t(
        cfn_type="AWS::ElastiCache::SubnetGroup",
        service="elasticache",
        description="ElastiCache cache subnet group.",
        list_operation="describe_cache_subnet_groups",
        result_path="CacheSubnetGroups[]",
        id_field="CacheSubnetGroupName",
        arn_field="ARN",
        name_field="CacheSubnetGroupName",
        details=(_ELASTICACHE_TAGS,),
        list_keys={"Subnets": ("SubnetIdentifier",)},
        relationships={"VpcId": "AWS::EC2::VPC", "Subnets[].SubnetIdentifier": "AWS::EC2::Subnet"},
    ),
    # --- EFS ---------------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::EFS::FileSystem",
        config_type="AWS::EFS::FileSystem",
        service="efs",
        description="EFS file system with its lifecycle rules, automatic-backup policy and resource policy.",
        list_operation="describe_file_systems",
        result_path="FileSystems[]",
        id_field="FileSystemId",
        arn_field="FileSystemArn",
        name_field="Name",
        details=(
            Detail("describe_lifecycle_configuration", {"FileSystemId": "{id}"}, "LifecyclePolicies",
                   "LifecyclePolicies"),
            Detail("describe_backup_policy", {"FileSystemId": "{id}"}, "BackupPolicy", "BackupPolicy",
                   absent_codes=("PolicyNotFound",)),
            Detail("describe_file_system_policy", {"FileSystemId": "{id}"}, "Policy", "Policy",
                   absent_codes=("PolicyNotFound",)),
        ),
        json_paths=("Policy",),
        volatile_paths=("SizeInBytes",),
        operational_paths=("LifeCycleState",),
        relationships={"KmsKeyId": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::EFS::AccessPoint",
        config_type="AWS::EFS::AccessPoint",
        service="efs",
        description="EFS access point: the POSIX identity and root directory it enforces.",
        list_operation="describe_access_points",
        result_path="AccessPoints[]",
        id_field="AccessPointId",
        arn_field="AccessPointArn",
        name_field="Name",
        operational_paths=("LifeCycleState",),
        relationships={"FileSystemId": "AWS::EFS::FileSystem"},
    ),
    # --- Containers --------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::ECR::Repository",
        config_type="AWS::ECR::Repository",
        service="ecr",
        description="ECR image repository with its repository (access) policy and image lifecycle policy.",
        list_operation="describe_repositories",
        result_path="repositories[]",
        id_field="repositoryName",
        arn_field="repositoryArn",
        name_field="repositoryName",
        details=(
            Detail("list_tags_for_resource", {"resourceArn": "{repositoryArn}"}, "Tags", "tags"),
            Detail("get_repository_policy", {"repositoryName": "{id}"}, "Policy", "policyText",
                   absent_codes=("RepositoryPolicyNotFoundException",)),
            Detail("get_lifecycle_policy", {"repositoryName": "{id}"}, "LifecyclePolicy", "lifecyclePolicyText",
                   absent_codes=("LifecyclePolicyNotFoundException",)),
        ),
        json_paths=("Policy", "LifecyclePolicy"),
        list_keys={"LifecyclePolicy.rules": ("rulePriority",)},
        relationships={"encryptionConfiguration.kmsKey": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::ECS::Cluster",
        config_type="AWS::ECS::Cluster",
        service="ecs",
        description=(
            "ECS cluster, with its tags. Its settings and capacity providers need DescribeClusters, which "
            "takes a list of ARNs the collector cannot template yet."
        ),
        list_operation="list_clusters",
        result_path="clusterArns[]",
        id_field="clusterArn",
        arn_field="clusterArn",
        name_from_arn=True,
        details=(Detail("list_tags_for_resource", {"resourceArn": "{id}"}, "Tags", "tags"),),
    ),
    _t(
        cfn_type="AWS::ECS::TaskDefinition",
        config_type="AWS::ECS::TaskDefinition",
        secret_paths=("taskDefinition.containerDefinitions[].environment[].value",),
        service="ecs",
        description=(
            "ECS task definition revision (every ACTIVE revision): containers, images, roles, network mode. "
            "Environment values are part of the definition; secrets are references (`valueFrom`) only."
        ),
        list_operation="list_task_definitions",
        list_params={"status": "ACTIVE"},
        result_path="taskDefinitionArns[]",
        id_field="taskDefinitionArn",
        arn_field="taskDefinitionArn",
        name_field="taskDefinition.family",
        tags_field="tags",
        # One call brings the definition and its tags: {"taskDefinition": {...}, "tags": [...]}.
        details=(Detail("describe_task_definition", {"taskDefinition": "{id}", "include": ["TAGS"]}, ""),),
        operational_paths=("taskDefinition.status",),
        list_keys={
            "taskDefinition.containerDefinitions": ("name",),
            "taskDefinition.containerDefinitions[].environment": ("name",),
            "taskDefinition.containerDefinitions[].secrets": ("name",),
            "taskDefinition.containerDefinitions[].portMappings": ("containerPort", "protocol"),
            "taskDefinition.containerDefinitions[].mountPoints": ("sourceVolume", "containerPath"),
            "taskDefinition.volumes": ("name",),
        },
        ordered_paths=(
            "taskDefinition.containerDefinitions[].command",
            "taskDefinition.containerDefinitions[].entryPoint",
        ),
        relationships={
            "taskDefinition.taskRoleArn": "AWS::IAM::Role",
            "taskDefinition.executionRoleArn": "AWS::IAM::Role",
        },
    ),
    _t(
        cfn_type="AWS::EKS::Cluster",
        config_type="AWS::EKS::Cluster",
        service="eks",
        description="EKS cluster: Kubernetes version, endpoint access, logging, secrets encryption, network.",
        list_operation="list_clusters",
        result_path="clusters[]",
        id_field="name",
        arn_field="arn",
        name_field="name",
        tags_field="tags",
        details=(Detail("describe_cluster", {"name": "{id}"}, "", "cluster"),),
        operational_paths=("status", "health", "platformVersion"),
        list_keys={
            "logging.clusterLogging": ("enabled",),
            "encryptionConfig": ("provider.keyArn",),
        },
        relationships={
            "roleArn": "AWS::IAM::Role",
            "resourcesVpcConfig.subnetIds[]": "AWS::EC2::Subnet",
            "resourcesVpcConfig.securityGroupIds[]": "AWS::EC2::SecurityGroup",
            "resourcesVpcConfig.clusterSecurityGroupId": "AWS::EC2::SecurityGroup",
            "resourcesVpcConfig.vpcId": "AWS::EC2::VPC",
            "encryptionConfig[].provider.keyArn": "AWS::KMS::Key",
        },
    ),
    # --- Backup ------------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::Backup::BackupVault",
        config_type="AWS::Backup::BackupVault",
        service="backup",
        description="AWS Backup vault: encryption key and vault lock.",
        list_operation="list_backup_vaults",
        result_path="BackupVaultList[]",
        id_field="BackupVaultName",
        arn_field="BackupVaultArn",
        name_field="BackupVaultName",
        details=(Detail("list_tags", {"ResourceArn": "{BackupVaultArn}"}, "Tags", "Tags", paginate=True),),
        volatile_paths=("NumberOfRecoveryPoints",),
        operational_paths=("VaultState",),
        relationships={"EncryptionKeyArn": "AWS::KMS::Key"},
    ),
    _t(
        cfn_type="AWS::Backup::BackupPlan",
        config_type="AWS::Backup::BackupPlan",
        service="backup",
        description="AWS Backup plan with its rules (schedule, target vault, retention, copies).",
        list_operation="list_backup_plans",
        result_path="BackupPlansList[]",
        id_field="BackupPlanId",
        arn_field="BackupPlanArn",
        name_field="BackupPlanName",
        details=(
            Detail("get_backup_plan", {"BackupPlanId": "{id}"}, "BackupPlan", "BackupPlan"),
            Detail("list_tags", {"ResourceArn": "{BackupPlanArn}"}, "Tags", "Tags", paginate=True),
        ),
        # Every edit makes a new version (and new rule ids); the rules themselves are what changed.
        volatile_paths=("VersionId", "LastExecutionDate", "BackupPlan.Rules[].RuleId"),
        list_keys={
            "BackupPlan.Rules": ("RuleName",),
            "BackupPlan.Rules[].CopyActions": ("DestinationBackupVaultArn",),
            "AdvancedBackupSettings": ("ResourceType",),
            "BackupPlan.AdvancedBackupSettings": ("ResourceType",),
        },
        relationships={
            "BackupPlan.Rules[].TargetBackupVaultName": "AWS::Backup::BackupVault",
            "BackupPlan.Rules[].CopyActions[].DestinationBackupVaultArn": "AWS::Backup::BackupVault",
        },
    ),
    # --- Lambda ------------------------------------------------------------------------------------
    _t(
        cfn_type="AWS::Lambda::LayerVersion",
        service="lambda",
        description=(
            "Lambda layer, as its latest version (the ARN functions reference). Older versions are not "
            "listed; layers cannot be tagged."
        ),
        list_operation="list_layers",
        result_path="Layers[]",
        id_field="LatestMatchingVersion.LayerVersionArn",
        arn_field="LatestMatchingVersion.LayerVersionArn",
        name_field="LayerName",
        tags_field=None,
    ),
    _t(
        cfn_type="AWS::Lambda::EventSourceMapping",
        service="lambda",
        description="Lambda event source mapping: which queue or stream invokes which function, and how.",
        list_operation="list_event_source_mappings",
        result_path="EventSourceMappings[]",
        id_field="UUID",
        arn_field="EventSourceMappingArn",
        arn_template="arn:{partition}:lambda:{region}:{account}:event-source-mapping:{id}",
        details=(Detail("list_tags", {"Resource": "{EventSourceMappingArn}"}, "Tags", "Tags"),),
        volatile_paths=("LastModified", "LastProcessingResult", "StateTransitionReason"),
        operational_paths=("State",),
        list_keys={"SourceAccessConfigurations": ("Type", "URI")},
        relationships={
            "FunctionArn": "AWS::Lambda::Function",
            "KMSKeyArn": "AWS::KMS::Key",
        },
    ),
)
