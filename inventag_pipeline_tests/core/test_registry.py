"""Registry lint (core.registry): every declaration checked against botocore's offline service models.

Each lint collects every offender and asserts the list is empty, so one run names all of them.
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from inventag_pipeline.aws.guard import classify_operation
from inventag_pipeline.core.canonical import NORMALIZERS, split_pattern
from inventag_pipeline.core.registry import (
    DEFAULT_REQUIRED_TAGS,
    GLOBAL_REGION,
    REGISTRY,
    RESOURCE_TYPES,
    ResourceType,
    get_type,
    services,
    types_for_service,
)
from inventag_pipeline.core.resource_type import Detail

# Relationship targets that are not registered types yet. The lint fails when an entry stops being needed.
UNREGISTERED_TARGETS: frozenset[str] = frozenset()

CFN_TYPE_RE = re.compile(r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
SNAKE_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SEGMENT = r"[A-Za-z][A-Za-z0-9]*"
PATH_RE = re.compile(rf"^{SEGMENT}(\[\])*(\.{SEGMENT}(\[\])*)*$")
FIELD_RE = re.compile(rf"^{SEGMENT}(\.{SEGMENT})*$")  # no list fan-out: a single value
ARN_TEMPLATE_FIELDS = {"partition", "region", "account", "id", "id_path"}


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(service: str) -> Any:
    return _session().get_service_model(service)


@cache
def _operation_names(service: str) -> dict[str, str]:
    """snake_case name (as the registry writes it) -> the model's CamelCase operation name."""
    return {xform_name(op): op for op in service_model(service).operation_names}


def operation_model(service: str, snake: str) -> Any:
    return service_model(service).operation_model(_operation_names(service)[snake])


def report(offenders: list[str]) -> None:
    """Fail naming every offender, one per line (never truncated)."""
    if offenders:
        raise AssertionError(f"{len(offenders)} registry problem(s):\n" + "\n".join(offenders))


def operations(rtype: ResourceType) -> list[tuple[str, Any]]:
    """(operation, params) for the list call and every detail call."""
    return [(rtype.list_operation, rtype.list_params), *((d.operation, d.params) for d in rtype.details)]


class _Payload:
    """The merged raw payload of one resource, as a botocore-like structure shape."""

    type_name = "structure"
    name = "payload"

    def __init__(self, members: dict[str, Any]):
        self.members = members


def walk(shape: Any, path: str) -> Any:
    """Follow a registry path through botocore shapes; maps and strings (JSON documents) are opaque."""
    for segment in split_pattern(path):
        if segment == "[]":
            if shape.type_name != "list":
                raise KeyError(f"{path!r}: '[]' on a {shape.type_name}")
            shape = shape.member
        elif shape.type_name != "structure":
            return shape
        elif segment not in shape.members:
            raise KeyError(f"{path!r}: no {segment!r} in {shape.name}")
        else:
            shape = shape.members[segment]
    return shape


def payload_shape(rtype: ResourceType) -> tuple[_Payload, list[str]]:
    """The payload the collector builds (list item + detail results) and problems found building it."""
    problems = []
    item = walk(operation_model(rtype.service, rtype.list_operation).output_shape, rtype.result_path)
    members = dict(item.members) if item.type_name == "structure" else {rtype.id_field: item}
    for detail in rtype.details:
        fields = {f for v in detail.params.values() if isinstance(v, str)
                  for _, f, _, _ in string.Formatter().parse(v) if f}
        if fields - set(members) - {"id"}:
            problems.append(f"{rtype.cfn_type}: {detail.operation} params use {sorted(fields - set(members))}, "
                            "not in the listed item or an earlier detail")
        output = operation_model(rtype.service, detail.operation).output_shape
        shape = walk(output, detail.result_path) if detail.result_path else output
        if detail.store_as:
            members[detail.store_as] = shape
        elif shape.type_name == "structure":
            members.update(shape.members)
    return _Payload(members), problems


def declared_paths(rtype: ResourceType) -> list[tuple[str, str]]:
    """(what, path) for every path-valued declaration of a type."""
    out = [("volatile_paths", p) for p in rtype.volatile_paths]
    out += [("operational_paths", p) for p in rtype.operational_paths]
    out += [("list_keys", p) for p in rtype.list_keys]
    out += [("ordered_paths", p) for p in rtype.ordered_paths]
    out += [("json_paths", p) for p in rtype.json_paths]
    out += [("relationships", p) for p in rtype.relationships]
    return out


# --- declarations -------------------------------------------------------------------------------------


def test_every_type_is_fully_declared():
    offenders = []
    for t in RESOURCE_TYPES:
        if not CFN_TYPE_RE.match(t.cfn_type):
            offenders.append(f"{t.cfn_type}: cfn_type is not AWS::Service::Type")
        if not t.description.strip():
            offenders.append(f"{t.cfn_type}: no description")
        if not t.id_field:
            offenders.append(f"{t.cfn_type}: no id_field")
        if not (t.arn_field or t.arn_template):
            offenders.append(f"{t.cfn_type}: no ARN source (arn_field or arn_template)")
        if t.arn_template:
            fields = {f for _, f, _, _ in string.Formatter().parse(t.arn_template) if f}
            if not fields <= ARN_TEMPLATE_FIELDS or not fields & {"id", "id_path"}:
                offenders.append(f"{t.cfn_type}: arn_template fields {sorted(fields)}")
        if t.service != t.service.lower() or not t.service:
            offenders.append(f"{t.cfn_type}: service {t.service!r} is not a lower-case boto3 name")
        namespace = t.cfn_type.split("::")[1].lower()
        if CFN_NAMESPACE_ALIASES.get(namespace, namespace) != t.service.replace("-", ""):
            offenders.append(f"{t.cfn_type}: service {t.service!r} does not match the CloudFormation namespace")
        if t.normalizer is not None and t.normalizer not in NORMALIZERS:
            offenders.append(f"{t.cfn_type}: normalizer {t.normalizer!r} not in core.canonical.NORMALIZERS")
        if t.tested_with not in ("moto", "stubber"):
            offenders.append(f"{t.cfn_type}: tested_with {t.tested_with!r}")
        if t.region_field and not t.is_global:
            offenders.append(f"{t.cfn_type}: region_field only makes sense for globally listed types")
        for i, d in enumerate(t.details):
            if not isinstance(d.absent_codes, tuple) or not all(isinstance(c, str) and c for c in d.absent_codes):
                offenders.append(f"{t.cfn_type}: {d.operation} absent_codes must be a tuple of error codes")
            if d.only_if is not None and (d.only_if not in {e.store_as for e in t.details[:i]} or not d.absent_codes):
                offenders.append(f"{t.cfn_type}: {d.operation} only_if must name an earlier detail's store_as, "
                                 "and the call must have absent_codes (the answer it stands for)")
    report(offenders)


# CloudFormation namespaces whose boto3 service name differs.
CFN_NAMESPACE_ALIASES = {"elasticloadbalancingv2": "elbv2", "elasticloadbalancing": "elb", "certificatemanager": "acm"}


def test_cfn_types_are_unique():
    names = [t.cfn_type for t in RESOURCE_TYPES]
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert set(REGISTRY) == set(names)


def test_every_operation_exists_in_botocore_and_is_read_only():
    offenders = []
    for t in RESOURCE_TYPES:
        try:
            model_ops = _operation_names(t.service)
        except Exception as exc:  # report every unknown service, not just the first
            offenders.append(f"{t.cfn_type}: botocore has no service model {t.service!r} ({exc})")
            continue
        for op, params in operations(t):
            if not SNAKE_RE.match(op):
                offenders.append(f"{t.cfn_type}: {op!r} is not snake_case")
            if op not in model_ops:
                offenders.append(f"{t.cfn_type}: {t.service}.{op} is not an operation of botocore's model")
                continue
            name = model_ops[op]
            allowed, reason = classify_operation(t.service, name)
            if not allowed:
                offenders.append(f"{t.cfn_type}: {t.service}:{name} is refused by the read-only guard ({reason})")
            input_shape = operation_model(t.service, op).input_shape
            known = set(input_shape.members) if input_shape is not None else set()
            if set(params) - known:
                offenders.append(f"{t.cfn_type}: {name} has no parameter(s) {sorted(set(params) - known)}")
    report(offenders)


def test_result_paths_and_declared_paths_exist_in_the_api_shapes():
    offenders = []
    for t in RESOURCE_TYPES:
        try:
            payload, problems = payload_shape(t)
        except KeyError as exc:
            offenders.append(f"{t.cfn_type}: result path: {exc}")
            continue
        offenders += problems
        fields = [("id_field", t.id_field), ("arn_field", t.arn_field), ("name_field", t.name_field),
                  ("region_field", t.region_field), ("tags_field", t.tags_field)]
        for what, path in [*((w, p) for w, p in fields if p), *declared_paths(t)]:
            try:
                walk(payload, path)
            except KeyError as exc:
                offenders.append(f"{t.cfn_type}: {what}: {exc}")
    report(offenders)


def test_the_shape_walker_catches_typos():
    payload, _ = payload_shape(get_type("AWS::EC2::Instance"))
    assert walk(payload, "NetworkInterfaces[].Attachment.AttachTime").type_name == "timestamp"
    for typo in ("LaunchTme", "NetworkInterfaces[].Atachment", "State[]"):
        with pytest.raises(KeyError):
            walk(payload, typo)


def test_declared_paths_are_well_formed():
    offenders = []
    for t in RESOURCE_TYPES:
        for what, path in declared_paths(t):
            if not PATH_RE.match(path):
                offenders.append(f"{t.cfn_type}: {what} {path!r} is not a dotted path with optional []")
        for list_path, key_fields in t.list_keys.items():
            if not key_fields or not all(FIELD_RE.match(k) for k in key_fields):
                offenders.append(f"{t.cfn_type}: list_keys[{list_path!r}] = {key_fields!r}")
        for what, path in [("id_field", t.id_field), ("arn_field", t.arn_field), ("name_field", t.name_field),
                           ("region_field", t.region_field), ("tags_field", t.tags_field)]:
            if path is not None and not FIELD_RE.match(path):
                offenders.append(f"{t.cfn_type}: {what} {path!r} is not a single-valued dotted path")
        overlap = set(t.volatile_paths) & set(t.operational_paths)
        if overlap:
            offenders.append(f"{t.cfn_type}: {sorted(overlap)} both volatile (never diffed) and operational")
        identity = {t.id_field, t.arn_field} & set(t.volatile_paths)
        if identity:
            offenders.append(f"{t.cfn_type}: identity field(s) {sorted(identity)} declared volatile")
        duplicates = [p for p in t.volatile_paths if t.volatile_paths.count(p) > 1]
        if duplicates:
            offenders.append(f"{t.cfn_type}: volatile path(s) listed twice: {sorted(set(duplicates))}")
    report(offenders)


def test_relationship_targets_are_registered_or_allow_listed():
    offenders = []
    used_unregistered = set()
    for t in RESOURCE_TYPES:
        for path, target in t.relationships.items():
            if target in REGISTRY:
                continue
            if target in UNREGISTERED_TARGETS:
                used_unregistered.add(target)
            else:
                offenders.append(f"{t.cfn_type}: relationship {path!r} -> {target!r} is neither registered nor "
                                 "in UNREGISTERED_TARGETS")
    for stale in sorted(UNREGISTERED_TARGETS - used_unregistered):
        reason = "is registered now" if stale in REGISTRY else "is no longer a relationship target"
        offenders.append(f"UNREGISTERED_TARGETS entry {stale!r} {reason}: remove it")
    report(offenders)


# --- helpers ------------------------------------------------------------------------------------------


def test_services_in_registry_order_each_once():
    expected = []
    for t in RESOURCE_TYPES:
        if t.service not in expected:
            expected.append(t.service)
    assert services() == tuple(expected)
    assert {"ec2", "s3", "iam", "rds", "lambda", "dynamodb", "sns", "sqs", "kms"} <= set(services())


def test_types_for_service():
    assert all(t.service == "iam" for t in types_for_service("iam"))
    assert {t.cfn_type for t in types_for_service("iam")} >= {"AWS::IAM::Role", "AWS::IAM::User",
                                                              "AWS::IAM::ManagedPolicy"}
    assert types_for_service("nope") == ()


def test_get_type_and_unknown_type_message():
    assert get_type("AWS::S3::Bucket") is REGISTRY["AWS::S3::Bucket"]
    with pytest.raises(KeyError, match=r"unknown resource type 'AWS::Nope::Thing'; known: \['AWS::"):
        get_type("AWS::Nope::Thing")


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        REGISTRY["AWS::X::Y"] = RESOURCE_TYPES[0]  # type: ignore[index]


def test_global_types_and_constants():
    assert GLOBAL_REGION == "global"
    assert DEFAULT_REQUIRED_TAGS == ("Environment", "Owner", "CostCenter")
    assert {t.cfn_type for t in RESOURCE_TYPES if t.is_global} >= {
        "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::ManagedPolicy"}
    assert get_type("AWS::S3::Bucket").region_field == "Location"


# --- the lints themselves -------------------------------------------------------------------------------


def _broken_type() -> ResourceType:
    return ResourceType(
        cfn_type="AWS::EC2::Broken",
        service="ec2",
        description=" ",
        list_operation="describe_instancez",
        result_path="Reservations[].Instances[]",
        id_field="InstanceId",
        list_params={"NoSuchParam": 1},
        details=(Detail("describe_instance_attribute", {"InstanceId": "{id}", "Attribute": "userData"}, "UserData",
                        only_if="Later"),),
        volatile_paths=("Bad..Path", "LaunchTme"),
        relationships={"VpcId": "AWS::EC2::Nope"},
    )


def test_lints_name_every_offender(monkeypatch):
    broken = _broken_type()
    writer = ResourceType(cfn_type="AWS::EC2::Writer", service="ec2", description="d",
                          list_operation="run_instances", result_path="Instances[]", id_field="InstanceId",
                          arn_template="arn:{partition}:ec2:{region}:{account}:instance/{id}")
    monkeypatch.setitem(globals(), "RESOURCE_TYPES", (broken, writer))
    monkeypatch.setitem(globals(), "UNREGISTERED_TARGETS", frozenset({"AWS::EC2::Gadget", "AWS::IAM::Role"}))

    with pytest.raises(AssertionError) as info:
        test_every_type_is_fully_declared()
    assert "AWS::EC2::Broken: no description" in str(info.value)
    assert "AWS::EC2::Broken: no ARN source (arn_field or arn_template)" in str(info.value)
    assert ("AWS::EC2::Broken: describe_instance_attribute only_if must name an earlier detail's store_as, and the "
            "call must have absent_codes (the answer it stands for)") in str(info.value)

    with pytest.raises(AssertionError) as info:
        test_every_operation_exists_in_botocore_and_is_read_only()
    text = str(info.value)
    assert "AWS::EC2::Broken: ec2.describe_instancez is not an operation of botocore's model" in text
    assert "AWS::EC2::Writer: ec2:RunInstances is refused by the read-only guard" in text

    with pytest.raises(AssertionError) as info:
        test_declared_paths_are_well_formed()
    assert "volatile_paths 'Bad..Path'" in str(info.value)

    with pytest.raises(AssertionError) as info:
        test_relationship_targets_are_registered_or_allow_listed()
    text = str(info.value)
    assert "relationship 'VpcId' -> 'AWS::EC2::Nope' is neither registered" in text
    assert "UNREGISTERED_TARGETS entry 'AWS::EC2::Gadget' is no longer a relationship target" in text
    assert "UNREGISTERED_TARGETS entry 'AWS::IAM::Role' is registered now" in text


def test_shape_lint_names_a_misspelled_volatile_path(monkeypatch):
    broken = ResourceType(cfn_type="AWS::EC2::Instance", service="ec2", description="d",
                          list_operation="describe_instances", result_path="Reservations[].Instances[]",
                          id_field="InstanceId", arn_template="arn:{partition}:ec2:{region}:{account}:instance/{id}",
                          volatile_paths=("LaunchTme",))
    monkeypatch.setitem(globals(), "RESOURCE_TYPES", (broken,))
    with pytest.raises(AssertionError, match=r"AWS::EC2::Instance: volatile_paths: .*'LaunchTme'"):
        test_result_paths_and_declared_paths_exist_in_the_api_shapes()


def test_secret_paths_exist_in_the_api_shapes():
    offenders = []
    for t in RESOURCE_TYPES:
        payload, _ = payload_shape(t)
        for path in t.secret_paths:
            if not PATH_RE.match(path.removesuffix(".*")):
                offenders.append(f"{t.cfn_type}: secret_paths {path!r} is not a path (`*` only as the last segment)")
                continue
            try:
                walk(payload, path.removesuffix(".*"))
            except KeyError as exc:
                offenders.append(f"{t.cfn_type}: secret_paths: {exc}")
    report(offenders)


# --- AWS Config (core.config_mapping) ---------------------------------------------------------------------

# Registry types whose AWS Config resource type has another name.
CONFIG_TYPE_ALIASES = {"AWS::IAM::ManagedPolicy": "AWS::IAM::Policy",
                       "AWS::CertificateManager::Certificate": "AWS::ACM::Certificate"}


# Fields in the list call's output shape that the call is documented never to fill: Config's copies are dropped.
API_FIELDS_NOT_LISTED = frozenset({
    ("AWS::IAM::Role", "PermissionsBoundary"),  # ListRoles: "does not return PermissionsBoundary, RoleLastUsed"
    ("AWS::IAM::Role", "RoleLastUsed"),
})


@cache
def config_resource_types() -> frozenset[str]:
    """Every resource type AWS Config names, from botocore's offline model (`ResourceType` enum)."""
    return frozenset(service_model("config").shape_for("ResourceType").enum)


def test_config_types_are_declared_for_every_type_config_records():
    offenders = []
    known = config_resource_types()
    for t in RESOURCE_TYPES:
        expected = CONFIG_TYPE_ALIASES.get(t.cfn_type, t.cfn_type if t.cfn_type in known else None)
        if t.config_type is not None and t.config_type not in known:
            offenders.append(f"{t.cfn_type}: config_type {t.config_type!r} is not an AWS Config resource type")
        elif t.config_type != expected:
            offenders.append(f"{t.cfn_type}: config_type is {t.config_type!r}, AWS Config records it as {expected!r}")
    unused = set(CONFIG_TYPE_ALIASES) - set(REGISTRY)
    offenders += [f"CONFIG_TYPE_ALIASES entry {name!r} is not a registered type" for name in sorted(unused)]
    report(offenders)


def test_config_mappings_fit_the_registry_and_the_api_shapes():
    from inventag_pipeline.core.config_mapping import MAPPINGS

    offenders = []
    for name, mapping in MAPPINGS.items():
        t = REGISTRY.get(name)
        if t is None or t.config_type is None:
            offenders.append(f"{name}: mapped for AWS Config but not a registered type with a config_type")
            continue
        payload, _ = payload_shape(t)
        stores = {d.store_as for d in t.details}
        for store_as in mapping.complements:
            if store_as not in stores:
                offenders.append(f"{name}: complement {store_as!r} is no detail's store_as")
        for what, paths in (("keep_empty", mapping.keep_empty), ("opaque", mapping.opaque)):
            for path in sorted(paths):
                try:
                    walk(payload, path)
                except KeyError as exc:
                    offenders.append(f"{name}: {what}: {exc}")
        for path in mapping.drop:
            try:
                walk(payload, path)
            except KeyError:
                continue
            if (name, path) in API_FIELDS_NOT_LISTED:
                continue
            offenders.append(f"{name}: drop {path!r} is a field the API returns: dropping it would lose data")
        if mapping.listing and not t.list_operation:
            offenders.append(f"{name}: listing without a list operation")
    used = {(name, path) for name, mapping in MAPPINGS.items() for path in mapping.drop}
    offenders += [f"API_FIELDS_NOT_LISTED entry {entry!r} is no longer dropped by a mapping"
                  for entry in sorted(API_FIELDS_NOT_LISTED - used)]
    report(offenders)


def test_config_lints_name_every_offender(monkeypatch):
    from inventag_pipeline.core import config_mapping

    wrong = ResourceType(cfn_type="AWS::EC2::VPC", service="ec2", description="d", list_operation="describe_vpcs",
                         result_path="Vpcs[]", id_field="VpcId", arn_field="VpcArn", config_type="AWS::EC2::Vpc")
    missing = ResourceType(cfn_type="AWS::EC2::Subnet", service="ec2", description="d",
                           list_operation="describe_subnets", result_path="Subnets[]", id_field="SubnetId",
                           arn_field="SubnetArn")
    monkeypatch.setitem(globals(), "RESOURCE_TYPES", (wrong, missing))
    with pytest.raises(AssertionError) as info:
        test_config_types_are_declared_for_every_type_config_records()
    assert str(info.value).splitlines()[1:] == [
        "AWS::EC2::VPC: config_type 'AWS::EC2::Vpc' is not an AWS Config resource type",
        "AWS::EC2::Subnet: config_type is None, AWS Config records it as 'AWS::EC2::Subnet'"]

    bad = config_mapping.ConfigMapping("AWS::EC2::Volume", keep_empty=frozenset({"Attachmentz"}),
                                       drop=("Size",), complements={"Nope": lambda p: True})
    monkeypatch.setattr(config_mapping, "MAPPINGS", {"AWS::EC2::Volume": bad, "AWS::EC2::Gadget": bad})
    with pytest.raises(AssertionError) as info:
        test_config_mappings_fit_the_registry_and_the_api_shapes()
    assert str(info.value).splitlines()[1:] == [
        "AWS::EC2::Volume: complement 'Nope' is no detail's store_as",
        "AWS::EC2::Volume: keep_empty: \"'Attachmentz': no 'Attachmentz' in payload\"",
        "AWS::EC2::Volume: drop 'Size' is a field the API returns: dropping it would lose data",
        "AWS::EC2::Gadget: mapped for AWS Config but not a registered type with a config_type",
        "API_FIELDS_NOT_LISTED entry ('AWS::IAM::Role', 'PermissionsBoundary') is no longer dropped by a mapping",
        "API_FIELDS_NOT_LISTED entry ('AWS::IAM::Role', 'RoleLastUsed') is no longer dropped by a mapping"]
