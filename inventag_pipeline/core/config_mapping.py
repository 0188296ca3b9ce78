"""AWS Config configuration items -> the direct APIs' payloads, so both sources canonicalise alike.

AWS Config stores most resources as the AWS Java SDK serialised them: camelCase keys, empty lists
where the API leaves an element out, a few odd names (`ipv4Ranges`, `kmskeyArn`, `ssedescription`),
and the documents its describe call does not return (a bucket's policy, a key's rotation) beside the
configuration. A mapping turns one type's configuration item into exactly the payload the registry's
collector would have stored for it; canonicalisation (core.canonical) then cannot tell the sources
apart, so switching source between two days shows no change.

Also here, because they are pure decisions over Config's answers: which types a region's recorders
record, the advanced-query expression, and which configuration item describes a resource at a past
moment. No boto3, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventag_pipeline.core.canonical import jsonable, parse_json_document, pattern_of, strip_paths_in_place
from inventag_pipeline.core.resource_type import ResourceType

SOURCE_API = "api"
SOURCE_CONFIG = "config"
SOURCE_HISTORY = "config-history"
# An API scope that also holds types read from Config (the coverage entry lists which).
SOURCE_MIXED = "mixed"

# Config records the IAM types once per account, in the region whose recorder includes global types.
GLOBAL_CONFIG_TYPES = frozenset({"AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Role", "AWS::IAM::Policy"})
# configurationItemStatus values meaning "did not exist at that time".
DELETED_STATUSES = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})
# The resource existed but Config kept no configuration for it: its state at that time is unknown.
NOT_RECORDED_STATUS = "ResourceNotRecorded"
CONTINUOUS = "CONTINUOUS"
DAILY = "DAILY"

SELECT_FIELDS = ("resourceId", "resourceName", "resourceType", "configuration", "supplementaryConfiguration",
                 "tags", "awsRegion", "arn", "configurationItemStatus")


# --- configuration items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigItem:
    """One resource as AWS Config describes it, whichever API returned it."""

    config_type: str
    resource_id: str
    region: str
    configuration: Mapping[str, Any]
    supplementary: Mapping[str, Any]
    # None when the item carries no tags at all (the tagging API fills them); {} when it has none.
    tags: Mapping[str, str] | None
    arn: str | None = None
    resource_name: str | None = None
    account_id: str | None = None
    status: str | None = None
    capture_time: str | None = None


def _json_value(value: Any) -> Any:
    """Config double-encodes: `configuration` and each supplementary document may be JSON text."""
    if isinstance(value, str) and (value[:1] in ("{", "[") or value in ("true", "false", "null")):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError):
            return value
    return value


def _tag_map(tags: Any) -> dict[str, str] | None:
    """Advanced query gives `[{key, value, tag}]`; configuration history gives `{key: value}`."""
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        if isinstance(tag, Mapping) and tag.get("key") is not None:
            out[str(tag["key"])] = "" if tag.get("value") is None else str(tag["value"])
    return out


def parse_item(raw: str | Mapping[str, Any]) -> ConfigItem:
    """A `select_resource_config` result (JSON text) or a history / batch-get configuration item."""
    data = json.loads(raw) if isinstance(raw, str) else dict(raw)
    configuration = _json_value(data.get("configuration"))
    supplementary = {str(k): _json_value(v) for k, v in (data.get("supplementaryConfiguration") or {}).items()}
    capture = data.get("configurationItemCaptureTime")
    return ConfigItem(
        config_type=str(data["resourceType"]),
        resource_id=str(data["resourceId"]),
        region=str(data.get("awsRegion") or ""),
        configuration=configuration if isinstance(configuration, Mapping) else {},
        supplementary=supplementary,
        tags=_tag_map(data.get("tags")),
        arn=data.get("arn"),
        resource_name=data.get("resourceName"),
        account_id=data.get("accountId"),
        status=data.get("configurationItemStatus"),
        capture_time=jsonable(capture) if capture is not None else None,
    )


def select_expression(config_types: Iterable[str], *, account_id: str | None = None,
                      regions: Sequence[str] = ()) -> str:
    """The advanced query for these types; an aggregator query also names the account and regions."""
    quoted = ", ".join(f"'{t}'" for t in sorted(set(config_types)))
    where = [f"resourceType IN ({quoted})"]
    if account_id:
        where.append(f"accountId = '{account_id}'")
    if regions:
        where.append("awsRegion IN (" + ", ".join(f"'{r}'" for r in sorted(set(regions))) + ")")
    return f"SELECT {', '.join(SELECT_FIELDS)} WHERE {' AND '.join(where)}"


# --- recorders -----------------------------------------------------------------------------------


def recorded_types(recorders: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]],
                   candidates: Iterable[str]) -> dict[str, str]:
    """Which of the candidate Config types a region's recording recorders record, and how often.

    Only a recorder whose status says `recording` (and whose last delivery did not fail) counts. Its
    recording group records every supported type (`allSupported`; IAM's global types only with
    `includeGlobalResourceTypes`), an explicit list, or everything but an exclusion list. The answer
    maps each recorded type to CONTINUOUS or DAILY (`recordingMode`, with per-type overrides).
    """
    live = {s.get("name") for s in statuses
            if s.get("recording") is True and str(s.get("lastStatus") or "").upper() != "FAILURE"}
    found: dict[str, str] = {}
    for recorder in recorders:
        if recorder.get("name") not in live:
            continue
        group = recorder.get("recordingGroup") or {"allSupported": True}
        strategy = (group.get("recordingStrategy") or {}).get("useOnly")
        listed = set(group.get("resourceTypes") or ())
        excluded = set((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or ())
        if strategy is None:
            strategy = "ALL_SUPPORTED_RESOURCE_TYPES" if group.get("allSupported") else "INCLUSION_BY_RESOURCE_TYPES"
        mode = recorder.get("recordingMode") or {}
        overrides = {t: o.get("recordingFrequency", CONTINUOUS) for o in mode.get("recordingModeOverrides") or ()
                     for t in o.get("resourceTypes") or ()}
        for config_type in candidates:
            if strategy == "ALL_SUPPORTED_RESOURCE_TYPES":
                records = config_type not in GLOBAL_CONFIG_TYPES or bool(group.get("includeGlobalResourceTypes"))
            elif strategy == "EXCLUSION_BY_RESOURCE_TYPES":
                records = config_type not in excluded
            else:
                records = config_type in listed
            if records:
                frequency = overrides.get(config_type, mode.get("recordingFrequency") or CONTINUOUS)
                if found.get(config_type) != CONTINUOUS:
                    found[config_type] = frequency
    return found


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, str) and value:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def recording_throughout(statuses: Sequence[Mapping[str, Any]], start: dt.datetime, end: dt.datetime) -> bool:
    """Whether some recorder provably recorded without a break from `start` to `end`.

    Config keeps only the last start and stop: a recorder started at or before `start` and still
    recording (or stopped only after `end`) was on throughout; anything else cannot be proven.
    """
    for status in statuses:
        started, stopped = _when(status.get("lastStartTime")), _when(status.get("lastStopTime"))
        if started is None or started > start:
            continue
        if status.get("recording") is True and (stopped is None or stopped <= started):
            return True
        if stopped is not None and stopped >= end:
            return True
    return False


# --- mapping helpers -----------------------------------------------------------------------------


def pascal(value: Any, renames: Mapping[str, str | None] | None = None, opaque: frozenset[str] = frozenset(),
           path: tuple[str, ...] = ()) -> Any:
    """camelCase keys -> the API's PascalCase, recursively; `renames` first (None drops the key).

    Keys under an `opaque` path (environment variables, tag maps) are data and stay as they are.
    """
    renames = renames or {}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            target = renames[key] if key in renames else key[:1].upper() + key[1:]
            if target is None:
                continue
            here = (*path, target)
            out[target] = item if pattern_of(here) in opaque else pascal(item, renames, opaque, here)
        return out
    if isinstance(value, list):
        return [pascal(item, renames, opaque, (*path, "[]")) for item in value]
    return value


def drop_empty(value: Any, keep: frozenset[str] = frozenset(), path: tuple[str, ...] = ()) -> Any:
    """Drop nulls and the empty lists / objects the Java SDK writes where the API sends nothing.

    `keep` names the paths (registry syntax) where the API does send an empty list or object.
    """
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            here = (*path, key)
            item = drop_empty(item, keep, here)
            if item is None or (item in ([], {}) and pattern_of(here) not in keep):
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [drop_empty(item, keep, (*path, "[]")) for item in value if item is not None]
    return value


def _tags_as(style: str, tags: Mapping[str, str]) -> Any:
    """Tags in the shape the type's own tag call returns (canonicalisation accepts each)."""
    if style == "map":
        return dict(tags)
    if style == "kms":
        return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _supplement(item: ConfigItem, name: str) -> Any:
    return _json_value(item.supplementary.get(name))


# --- the mappings ------------------------------------------------------------------------------------

Reshape = Callable[[dict[str, Any], ConfigItem], dict[str, Any]]


def _always(_: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class ConfigMapping:
    """How one registry type's Config item becomes the type's API payload.

    `complements` name registry details (their `store_as`) that Config does not record; the fast path
    reads them with the direct API when the predicate holds for the mapped payload (a bucket's policy
    status only when it has a policy). With `listing`, the type's own list call decides which resources
    exist and its fields win; Config supplies what the per-resource detail calls would have: for types
    Config records only in part (S3 buckets per region) or without fields the list returns.
    """

    cfn_type: str
    renames: Mapping[str, str | None] = field(default_factory=dict)
    opaque: frozenset[str] = frozenset()
    keep_empty: frozenset[str] = frozenset()
    # Paths (API names) Config records that the type's API calls do not return.
    drop: tuple[str, ...] = ()
    reshape: Reshape | None = None
    complements: Mapping[str, Callable[[Mapping[str, Any]], bool]] = field(default_factory=dict)
    listing: bool = False
    tag_style: str = "list"
    # Whether the generic camelCase conversion applies (SQS records the API's attribute map as is).
    camel_case: bool = True


def _security_group(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    # DescribeSecurityGroups returns the group's ARN; Config has it beside the configuration.
    if item.arn:
        payload["SecurityGroupArn"] = item.arn
    return payload


_STATE_FIELDS = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                 "LastUpdateStatusReasonCode", "PackageType")


def _lambda_function(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    for key in _STATE_FIELDS:
        # Some recordings wrap enumerations as {"value": ...}.
        if isinstance(payload.get(key), Mapping) and set(payload[key]) == {"Value"}:
            payload[key] = payload[key]["Value"]
    policy = _supplement(item, "Policy")
    payload["Policy"] = json.dumps(policy) if isinstance(policy, (Mapping, list)) else policy
    payload["FunctionUrlConfig"] = None
    return payload


def _iam_role(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    document = payload.get("AssumeRolePolicyDocument")
    if isinstance(document, str):
        payload["AssumeRolePolicyDocument"] = parse_json_document(document)
    inline = payload.pop("RolePolicyList", None) or []
    payload["InlinePolicyNames"] = [p["PolicyName"] for p in inline if isinstance(p, Mapping) and "PolicyName" in p]
    payload.setdefault("AttachedManagedPolicies", [])
    return payload


def _dynamodb_table(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    backups = _supplement(item, "ContinuousBackupsDescription") or {}
    recovery = (backups.get("pointInTimeRecoveryDescription") or {}).get("pointInTimeRecoveryStatus")
    payload["PointInTimeRecovery"] = recovery
    return payload


def _kms_key(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    rotation = _supplement(item, "KeyRotationStatus")
    payload["KeyRotationEnabled"] = None if rotation is None else bool(rotation)
    if payload.get("Arn"):
        payload["KeyArn"] = payload["Arn"]
    return payload


def _epoch_text(value: str) -> str:
    """SQS states timestamps as epoch seconds; a recording may hold an ISO date instead."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return str(int(parsed.timestamp()))


def _attribute_text(value: Any) -> str:
    """GetQueueAttributes answers strings only; Config may hold numbers, booleans or parsed JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_SQS_NOT_ATTRIBUTES = ("QueueUrl", "QueueName")
_SQS_TIMESTAMPS = ("CreatedTimestamp", "LastModifiedTimestamp")


def _sqs_queue(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    config = dict(item.configuration)
    attributes = {}
    for key, value in config.items():
        if key in _SQS_NOT_ATTRIBUTES or value is None:
            continue
        text = _attribute_text(value)
        attributes[key] = _epoch_text(text) if key in _SQS_TIMESTAMPS else text
    return {"QueueUrl": config.get("QueueUrl"), "Attributes": attributes}


_S3_RENAMES: Mapping[str, str | None] = {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyID": "KMSMasterKeyID"}


def _s3_bucket(payload: dict[str, Any], item: ConfigItem) -> dict[str, Any]:
    """A bucket's detail calls, rebuilt from its supplementary configuration (each a JSON document)."""
    config = item.configuration
    access = _supplement(item, "PublicAccessBlockConfiguration")
    encryption = _supplement(item, "ServerSideEncryptionConfiguration")
    versioning = _supplement(item, "BucketVersioningConfiguration") or {}
    status = versioning.get("status")
    versions: dict[str, Any] = {}
    if status in ("Enabled", "Suspended"):
        versions["Status"] = status
        mfa = versioning.get("isMfaDeleteEnabled")
        if mfa is not None:
            versions["MFADelete"] = "Enabled" if mfa in (True, "true", "Enabled") else "Disabled"
    policy = (_supplement(item, "BucketPolicy") or {}).get("policyText")
    return {
        "Name": config.get("name") or item.resource_id,
        "CreationDate": config.get("creationDate"),
        "Location": item.region,
        "PublicAccessBlock": drop_empty(pascal(access)) if access else None,
        "Encryption": drop_empty(pascal(encryption, _S3_RENAMES)) if encryption else None,
        "Versioning": versions,
        "PolicyStatus": None,
        "Policy": policy,
    }


def _s3_tags(item: ConfigItem) -> dict[str, str] | None:
    """Older bucket items carry their tags only in `BucketTaggingConfiguration`."""
    tagging = _supplement(item, "BucketTaggingConfiguration") or {}
    sets = tagging.get("tagSets") or []
    if not sets:
        return None
    return {str(k): str(v) for k, v in (sets[0].get("tags") or {}).items()}


def _has_policy(payload: Mapping[str, Any]) -> bool:
    return payload.get("Policy") is not None


_EC2_INSTANCE_LISTS = frozenset({
    "ProductCodes", "BlockDeviceMappings", "NetworkInterfaces", "SecurityGroups", "NetworkInterfaces[].Groups",
    "NetworkInterfaces[].Ipv6Addresses", "NetworkInterfaces[].PrivateIpAddresses"})
_RDS_LISTS = frozenset({
    "DBSecurityGroups", "VpcSecurityGroups", "DBParameterGroups", "ReadReplicaDBInstanceIdentifiers",
    "ReadReplicaDBClusterIdentifiers", "OptionGroupMemberships", "DomainMemberships", "AssociatedRoles",
    "PendingModifiedValues", "DBSubnetGroup.Subnets", "DBSubnetGroup.Subnets[].SubnetOutpost"})

MAPPINGS: Mapping[str, ConfigMapping] = {m.cfn_type: m for m in (
    ConfigMapping(
        "AWS::EC2::SecurityGroup",
        # `ipRanges` repeats `ipv4Ranges` as bare CIDR strings; the latter is the API's IpRanges.
        renames={"ipRanges": None, "ipv4Ranges": "IpRanges"},
        keep_empty=frozenset({"IpPermissions", "IpPermissionsEgress"}),
        reshape=_security_group,
    ),
    ConfigMapping("AWS::EC2::VPC"),
    ConfigMapping("AWS::EC2::Subnet", keep_empty=frozenset({"Ipv6CidrBlockAssociationSet"})),
    ConfigMapping("AWS::EC2::Volume", keep_empty=frozenset({"Attachments"})),
    ConfigMapping("AWS::EC2::Instance", keep_empty=_EC2_INSTANCE_LISTS),
    ConfigMapping(
        "AWS::S3::Bucket",
        reshape=_s3_bucket,
        complements={"PolicyStatus": _has_policy},
        listing=True,
    ),
    ConfigMapping(
        "AWS::IAM::Role",
        keep_empty=frozenset({"AttachedManagedPolicies"}),
        # Config's role is GetAccountAuthorizationDetails' RoleDetail; ListRoles returns none of these.
        drop=("InstanceProfileList", "PermissionsBoundary", "RoleLastUsed"),
        reshape=_iam_role,
        # ListRoles has Description and MaxSessionDuration, which RoleDetail lacks.
        listing=True,
    ),
    ConfigMapping(
        "AWS::Lambda::Function",
        renames={"kmskeyArn": "KMSKeyArn"},
        opaque=frozenset({"Environment.Variables"}),
        reshape=_lambda_function,
        complements={"FunctionUrlConfig": _always},
        listing=True,
        tag_style="map",
    ),
    ConfigMapping("AWS::RDS::DBInstance", keep_empty=_RDS_LISTS),
    ConfigMapping(
        "AWS::DynamoDB::Table",
        renames={"ssedescription": "SSEDescription", "ssetype": "SSEType", "kmsmasterKeyArn": "KMSMasterKeyArn",
                 "kmsmasterKeyId": "KMSMasterKeyId", "ssespecification": "SSESpecification"},
        keep_empty=frozenset({"AttributeDefinitions", "KeySchema"}),
        reshape=_dynamodb_table,
    ),
    ConfigMapping("AWS::SQS::Queue", reshape=_sqs_queue, camel_case=False, tag_style="map"),
    ConfigMapping(
        "AWS::KMS::Key",
        renames={"awsaccountId": "AWSAccountId"},
        reshape=_kms_key,
        # Whether Config records AWS-managed keys is not promised; ListKeys decides which keys exist.
        listing=True,
        tag_style="kms",
    ),
)}


def to_api_payload(rtype: ResourceType, item: ConfigItem, mapping: ConfigMapping | None = None
                   ) -> dict[str, Any]:
    """The payload the registry's collector would have stored for this resource (before redaction)."""
    mapping = mapping or MAPPINGS[rtype.cfn_type]
    if mapping.camel_case:
        payload = pascal(jsonable(item.configuration), mapping.renames, mapping.opaque)
        payload.pop("Tags", None)  # the item's own tags are the authoritative ones
        payload = drop_empty(payload, mapping.keep_empty)
        strip_paths_in_place(payload, mapping.drop)
    else:
        payload = {}
    if mapping.reshape:
        payload = mapping.reshape(payload, item)
    tags = item.tags
    if tags is None and rtype.cfn_type == "AWS::S3::Bucket":
        tags = _s3_tags(item)
    if rtype.tags_field and tags is not None:
        payload[rtype.tags_field] = _tags_as(mapping.tag_style, tags)
    return payload


def merge_listed(listed: Mapping[str, Any], mapped: Mapping[str, Any]) -> dict[str, Any]:
    """A listed item with what Config recorded beside it; the list call's own fields win."""
    return {**mapped, **listed}


def history_state(items: Sequence[ConfigItem]) -> tuple[str, ConfigItem | None]:
    """What the latest item at a moment says: ("absent" | "unknown" | "present", item)."""
    if not items:
        return "absent", None
    latest = items[0]
    if latest.status in DELETED_STATUSES:
        return "absent", latest
    if latest.status == NOT_RECORDED_STATUS:
        return "unknown", latest
    return "present", latest


def collection_source(coverage: Sequence[Mapping[str, Any]]) -> str:
    """The manifest's `source`: one source for every scope, else `mixed`."""
    sources = {c.get("source", SOURCE_API) for c in coverage}
    if len(sources) == 1:
        return sources.pop()
    return SOURCE_API if not sources else SOURCE_MIXED
