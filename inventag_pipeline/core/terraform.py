"""Terraform `import` blocks and minimal resource stubs from one snapshot (Terraform >= 1.5).

`TERRAFORM_TYPES` is the one table from registry types to Terraform: the resource type, the rule
for the import id, and the few arguments that identify the resource. Output is deterministic:
resource names come from the resource's name (else its id), sanitised, and made unique per
Terraform type in ARN order (`web_1`, `web_1_2`); blocks are sorted by type and name; nothing
depends on the clock. Stubs are a start, not a finished configuration: delete `resources.tf` and
run `terraform plan -generate-config-out=generated.tf` to have Terraform write every argument, or
complete the stubs until `terraform plan` shows no changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventag_pipeline.core.canonical import get_path

DEFAULT_PROVIDER_REGION = "us-east-1"
MAX_NAME_LENGTH = 64


class TerraformConfigError(ValueError):
    """A requested type is not supported; the message lists what is."""


@dataclass(frozen=True)
class Arg:
    """One stub argument. `source`: `@id`, `@arn`, `@arn_name` (the ARN's last segment) or a configuration
    path; `form`: `value` (the first value found), `list` (every value) or `json` (a document, jsonencode'd)."""

    name: str
    source: str
    form: str = "value"


@dataclass(frozen=True)
class Skip:
    """Resources of a supported type that Terraform should not manage: the path's value starts with `prefix`."""

    path: str
    prefix: str
    reason: str


@dataclass(frozen=True)
class TerraformType:
    tf_type: str
    # `@id` (the snapshot's resource_id), `@arn`, or a configuration path.
    import_id: str
    args: tuple[Arg, ...] = ()
    skip: tuple[Skip, ...] = ()
    tags: bool = True


def _v(name: str, source: str) -> Arg:
    return Arg(name, source)


def _list(name: str, source: str) -> Arg:
    return Arg(name, source, "list")


def _json(name: str, source: str) -> Arg:
    return Arg(name, source, "json")


TERRAFORM_TYPES: Mapping[str, TerraformType] = {
    "AWS::EC2::Instance": TerraformType("aws_instance", "@id", (
        _v("ami", "ImageId"), _v("instance_type", "InstanceType"), _v("subnet_id", "SubnetId"),
        _list("vpc_security_group_ids", "SecurityGroups[].GroupId"))),
    "AWS::EC2::SecurityGroup": TerraformType("aws_security_group", "@id", (
        _v("name", "GroupName"), _v("description", "Description"), _v("vpc_id", "VpcId"))),
    "AWS::EC2::VPC": TerraformType("aws_vpc", "@id", (_v("cidr_block", "CidrBlock"),)),
    "AWS::EC2::Subnet": TerraformType("aws_subnet", "@id", (
        _v("vpc_id", "VpcId"), _v("cidr_block", "CidrBlock"), _v("availability_zone", "AvailabilityZone"))),
    "AWS::EC2::Volume": TerraformType("aws_ebs_volume", "@id", (
        _v("availability_zone", "AvailabilityZone"), _v("size", "Size"), _v("type", "VolumeType"),
        _v("encrypted", "Encrypted"))),
    "AWS::EC2::RouteTable": TerraformType("aws_route_table", "@id", (_v("vpc_id", "VpcId"),)),
    "AWS::EC2::InternetGateway": TerraformType("aws_internet_gateway", "@id", (
        _v("vpc_id", "Attachments[].VpcId"),)),
    "AWS::EC2::NatGateway": TerraformType("aws_nat_gateway", "@id", (
        _v("subnet_id", "SubnetId"), _v("allocation_id", "NatGatewayAddresses[].AllocationId"),
        _v("connectivity_type", "ConnectivityType"))),
    "AWS::EC2::EIP": TerraformType("aws_eip", "@id", (_v("domain", "Domain"),)),
    "AWS::EC2::NetworkAcl": TerraformType("aws_network_acl", "@id", (_v("vpc_id", "VpcId"),)),
    "AWS::EC2::KeyPair": TerraformType("aws_key_pair", "@id", (_v("key_name", "KeyName"),)),
    "AWS::EC2::LaunchTemplate": TerraformType("aws_launch_template", "@id", (_v("name", "LaunchTemplateName"),)),
    "AWS::EC2::VPCEndpoint": TerraformType("aws_vpc_endpoint", "@id", (
        _v("vpc_id", "VpcId"), _v("service_name", "ServiceName"), _v("vpc_endpoint_type", "VpcEndpointType"))),
    "AWS::S3::Bucket": TerraformType("aws_s3_bucket", "@id", (_v("bucket", "Name"),)),
    "AWS::IAM::Role": TerraformType("aws_iam_role", "@id", (
        _v("name", "RoleName"), _v("path", "Path"), _json("assume_role_policy", "AssumeRolePolicyDocument")),
        skip=(Skip("Path", "/aws-service-role/", "service-linked role (AWS manages it)"),)),
    "AWS::IAM::ManagedPolicy": TerraformType("aws_iam_policy", "@arn", (
        _v("name", "PolicyName"), _v("path", "Path"), _json("policy", "PolicyDocument"))),
    "AWS::IAM::User": TerraformType("aws_iam_user", "@id", (_v("name", "UserName"), _v("path", "Path"))),
    "AWS::IAM::Group": TerraformType("aws_iam_group", "@id", (_v("name", "GroupName"), _v("path", "Path")),
                                     tags=False),
    "AWS::IAM::InstanceProfile": TerraformType("aws_iam_instance_profile", "@id", (
        _v("name", "InstanceProfileName"), _v("path", "Path"), _v("role", "Roles[].RoleName"))),
    "AWS::Lambda::Function": TerraformType("aws_lambda_function", "@id", (
        _v("function_name", "FunctionName"), _v("role", "Role"), _v("runtime", "Runtime"),
        _v("handler", "Handler"))),
    "AWS::SQS::Queue": TerraformType("aws_sqs_queue", "@id", (_v("name", "@arn_name"),)),
    "AWS::SNS::Topic": TerraformType("aws_sns_topic", "@arn", (_v("name", "@arn_name"),)),
    "AWS::DynamoDB::Table": TerraformType("aws_dynamodb_table", "@id", (
        _v("name", "TableName"), _v("billing_mode", "BillingModeSummary.BillingMode"))),
    "AWS::RDS::DBInstance": TerraformType("aws_db_instance", "@id", (
        _v("identifier", "DBInstanceIdentifier"), _v("engine", "Engine"), _v("instance_class", "DBInstanceClass"))),
    "AWS::RDS::DBSubnetGroup": TerraformType("aws_db_subnet_group", "@id", (
        _v("name", "DBSubnetGroupName"), _list("subnet_ids", "Subnets[].SubnetIdentifier"))),
    "AWS::KMS::Key": TerraformType("aws_kms_key", "@id", (_v("description", "Description"),),
                                   skip=(Skip("KeyManager", "AWS", "AWS-managed key"),)),
    "AWS::KMS::Alias": TerraformType("aws_kms_alias", "@id", (
        _v("name", "AliasName"), _v("target_key_id", "TargetKeyId")), tags=False,
        skip=(Skip("AliasName", "alias/aws/", "alias of an AWS-managed key"),)),
    "AWS::ECR::Repository": TerraformType("aws_ecr_repository", "@id", (_v("name", "repositoryName"),)),
    "AWS::Logs::LogGroup": TerraformType("aws_cloudwatch_log_group", "@id", (
        _v("name", "logGroupName"), _v("retention_in_days", "retentionInDays"))),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": TerraformType("aws_lb", "@arn", (
        _v("name", "LoadBalancerName"), _v("load_balancer_type", "Type"))),
    "AWS::ElasticLoadBalancingV2::TargetGroup": TerraformType("aws_lb_target_group", "@arn", (
        _v("name", "TargetGroupName"), _v("port", "Port"), _v("protocol", "Protocol"), _v("vpc_id", "VpcId"))),
    "AWS::EKS::Cluster": TerraformType("aws_eks_cluster", "@id", (_v("name", "name"), _v("role_arn", "roleArn"))),
    "AWS::EFS::FileSystem": TerraformType("aws_efs_file_system", "@id"),
    "AWS::SecretsManager::Secret": TerraformType("aws_secretsmanager_secret", "@arn", (_v("name", "Name"),)),
    "AWS::SSM::Parameter": TerraformType("aws_ssm_parameter", "@id", (_v("name", "Name"), _v("type", "Type"))),
    "AWS::CloudWatch::Alarm": TerraformType("aws_cloudwatch_metric_alarm", "@id", (_v("alarm_name", "AlarmName"),)),
    "AWS::StepFunctions::StateMachine": TerraformType("aws_sfn_state_machine", "@arn", (
        _v("name", "name"), _v("role_arn", "roleArn"))),
    "AWS::Backup::BackupVault": TerraformType("aws_backup_vault", "@id", (_v("name", "BackupVaultName"),)),
}
_BY_TF_TYPE = {t.tf_type: cfn for cfn, t in TERRAFORM_TYPES.items()}


def resolve_types(names: Iterable[str] | None) -> set[str] | None:
    """CloudFormation or Terraform type names -> CloudFormation names; None means every supported type."""
    if not names:
        return None
    out, unknown = set(), []
    for name in names:
        for part in (p.strip() for p in name.split(",")):
            if not part:
                continue
            if part in TERRAFORM_TYPES:
                out.add(part)
            elif part in _BY_TF_TYPE:
                out.add(_BY_TF_TYPE[part])
            else:
                unknown.append(part)
    if unknown:
        supported = ", ".join(f"{cfn} ({t.tf_type})" for cfn, t in sorted(TERRAFORM_TYPES.items()))
        raise TerraformConfigError(f"unsupported type(s) {', '.join(unknown)}; supported: {supported}")
    return out


# --- names ---------------------------------------------------------------------------------------------------


def sanitise_name(text: str | None) -> str:
    """A Terraform identifier from a resource's name: lower case, `[a-z0-9_]`, not starting with a digit."""
    name = re.sub(r"[^a-z0-9_]+", "_", (text or "").lower()).strip("_")
    name = re.sub(r"_+", "_", name)[:MAX_NAME_LENGTH].rstrip("_")
    if not name:
        return "resource"
    return f"r_{name}" if name[0].isdigit() else name


def unique_names(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    """(arn, base name) -> unique names: in ARN order the first keeps its name, later ones get `_2`, `_3`…"""
    used: set[str] = set()
    out: dict[str, str] = {}
    bases = dict(items)
    for arn in sorted(bases):
        base = bases[arn]
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        out[arn] = name
    return out


# --- HCL ---------------------------------------------------------------------------------------------------


def hcl_string(value: str) -> str:
    """A quoted HCL string; `${` and `%{` are escaped so nothing is read as a template."""
    return json.dumps(value, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def hcl_value(value: Any, indent: int = 0) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return hcl_string(value)
    if value is None:
        return "null"
    pad = "  " * (indent + 1)
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(hcl_value(v) for v in value) + "]"
        return "[\n" + "".join(f"{pad}{hcl_value(v, indent + 1)},\n" for v in value) + "  " * indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = _aligned([(hcl_string(str(k)), hcl_value(v, indent + 1)) for k, v in value.items()], pad)
        return "{\n" + "".join(lines) + "  " * indent + "}"
    return hcl_string(str(value))


def _aligned(pairs: Sequence[tuple[str, str]], pad: str) -> list[str]:
    """`key = value` lines with the `=` aligned as `terraform fmt` aligns them: across consecutive
    single-line attributes; a multi-line value ends its group."""
    lines: list[str] = []
    group: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in group), default=0)
        lines.extend(f"{pad}{k.ljust(width)} = {v}\n" for k, v in group)
        group.clear()

    for key, value in pairs:
        group.append((key, value))
        if "\n" in value:
            flush()
    flush()
    return lines


def _block(header: str, pairs: Sequence[tuple[str, str]]) -> str:
    return header + " {\n" + "".join(_aligned(pairs, "  ")) + "}\n"


# --- generation ------------------------------------------------------------------------------------------


@dataclass
class TerraformOutput:
    imports: str
    resources: str
    providers: str
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.by_type.values())

    def files(self) -> dict[str, str]:
        return {"providers.tf": self.providers, "imports.tf": self.imports, "resources.tf": self.resources}


def provider_alias(region: str) -> str | None:
    """`aws.eu_west_1` for a region other than the default provider's; None for the default and global."""
    if region in (DEFAULT_PROVIDER_REGION, "global", "", None):
        return None
    return "aws." + region.replace("-", "_")


def _source(row: Mapping[str, Any], config: Mapping[str, Any], source: str) -> list[Any]:
    if source == "@id":
        return [row["resource_id"]]
    if source == "@arn":
        return [row["arn"]]
    if source == "@arn_name":
        return [row["arn"].rsplit(":", 1)[-1]]
    return get_path(config, source)


def _args(spec: TerraformType, row: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for arg in spec.args:
        found = _source(row, config, arg.source)
        if not found:
            continue
        if arg.form == "list":
            pairs.append((arg.name, hcl_value(list(found), 1)))
        elif arg.form == "json":
            document = found[0]
            if isinstance(document, str):
                try:
                    document = json.loads(document)
                except ValueError:
                    pairs.append((arg.name, hcl_string(document)))
                    continue
            pairs.append((arg.name, f"jsonencode({hcl_value(document, 1)})"))
        else:
            pairs.append((arg.name, hcl_value(found[0], 1)))
    if spec.tags:
        tags = {k: v for k, v in sorted(dict(row.get("tags") or {}).items()) if not k.startswith("aws:")}
        if tags:
            pairs.append(("tags", hcl_value(tags, 1)))
    return pairs


def _skip_reason(spec: TerraformType, config: Mapping[str, Any]) -> str | None:
    for skip in spec.skip:
        found = get_path(config, skip.path)
        if found and str(found[0]).startswith(skip.prefix):
            return skip.reason
    return None


def generate_terraform(rows: Iterable[Mapping[str, Any]], *, account_id: str, date: str,
                       types: Iterable[str] | None = None, snapshot_sha256: str | None = None) -> TerraformOutput:
    """Import blocks, resource stubs and providers for the supported resources of one snapshot.

    Rows need arn, resource_type, resource_id, name, region, tags and configuration (JSON text).
    """
    wanted = resolve_types(types)
    chosen: list[tuple[TerraformType, Mapping[str, Any], dict[str, Any]]] = []
    skipped: dict[str, int] = {}
    for row in rows:
        spec = TERRAFORM_TYPES.get(row["resource_type"])
        if wanted is not None and row["resource_type"] not in wanted:
            continue
        if spec is None:
            key = f"no Terraform mapping for {row['resource_type']}"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        config = row["configuration"]
        config = json.loads(config) if isinstance(config, str) else dict(config or {})
        reason = _skip_reason(spec, config)
        if reason:
            key = f"{row['resource_type']}: {reason}"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        chosen.append((spec, row, config))
    names: dict[str, dict[str, str]] = {}
    for tf_type in sorted({spec.tf_type for spec, _, _ in chosen}):
        items = [(row["arn"], sanitise_name(row.get("name") or row["resource_id"]))
                 for spec, row, _ in chosen if spec.tf_type == tf_type]
        names[tf_type] = unique_names(items)
    ordered = sorted(chosen, key=lambda c: (c[0].tf_type, names[c[0].tf_type][c[1]["arn"]]))
    imports, resources, by_type = [], [], {}
    regions: set[str] = set()
    for spec, row, config in ordered:
        address = f"{spec.tf_type}.{names[spec.tf_type][row['arn']]}"
        import_id = _source(row, config, spec.import_id)
        alias = provider_alias(row["region"])
        if alias:
            regions.add(row["region"])
        provider = [("provider", alias)] if alias else []
        imports.append(f"# {row['arn']}\n" + _block("import", [
            ("to", address), *provider, ("id", hcl_string(str(import_id[0])))]))
        resources.append(_block(f'resource "{spec.tf_type}" "{names[spec.tf_type][row["arn"]]}"',
                                [*provider, *_args(spec, row, config)]))
        by_type[spec.tf_type] = by_type.get(spec.tf_type, 0) + 1
    source = f" (snapshot sha256 {snapshot_sha256[:16]})" if snapshot_sha256 else ""
    header = (f"# Generated by `inventag terraform` for account {account_id} on {date}{source}.\n"
              "# Deterministic: the same snapshot gives the same file. Terraform >= 1.5.\n")
    stub_note = ("# Minimal stubs: the arguments that identify each resource. Complete them until\n"
                 "# `terraform plan` shows no changes, or delete this file and run\n"
                 "# `terraform plan -generate-config-out=generated.tf`.\n")
    return TerraformOutput(
        imports=header + "\n" + "\n".join(imports),
        resources=header + stub_note + "\n" + "\n".join(resources),
        providers=header + "\n" + providers_tf(sorted(regions)),
        by_type=dict(sorted(by_type.items())),
        skipped=dict(sorted(skipped.items())),
    )


def providers_tf(regions: Sequence[str]) -> str:
    """The Terraform version constraint, the default provider and one alias per other region used."""
    blocks = [
        'terraform {\n  required_version = ">= 1.5.0"\n  required_providers {\n    aws = {\n'
        '      source = "hashicorp/aws"\n    }\n  }\n}\n',
        _block('provider "aws"', [("region", hcl_string(DEFAULT_PROVIDER_REGION))]),
    ]
    for region in regions:
        alias = provider_alias(region)
        assert alias is not None
        blocks.append(_block('provider "aws"', [("alias", hcl_string(alias.split(".", 1)[1])),
                                                ("region", hcl_string(region))]))
    return "\n".join(blocks)
