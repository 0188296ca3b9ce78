"""Canonical records: one shape per resource type, whatever API or AWS Config returned.

Canonical means: JSON-able values only, timestamps as ISO-8601 UTC, JSON policy strings parsed and
normalised, lists sorted by their identity (so order never shows as change), nulls dropped, tags
moved to their own map. The content hash covers configuration and tags minus the type's volatile
paths, so a moving counter never makes a resource "modified".
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from inventag_pipeline.core.registry import GLOBAL_REGION, ResourceType

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
# Fields commonly naming a list item; used only when a list has no declared key.
_IDENTITY_FIELDS = (
    "Key",
    "Id",
    "Arn",
    "Name",
    "Sid",
    "GroupId",
    "SubnetId",
    "VolumeId",
    "InstanceId",
    "PolicyArn",
    "AttributeName",
    "IndexName",
    "DeviceName",
    "NetworkInterfaceId",
)


def format_timestamp(value: dt.datetime) -> str:
    """ISO-8601 in UTC with a `Z`; microseconds only when present."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(fmt)


def jsonable(value: Any) -> Any:
    """Convert an API response (datetimes, bytes, Decimals) into plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "read"):  # streaming bodies never belong in an inventory
        return None
    return value


def canonical_json(value: Any) -> str:
    """The one serialisation used for storage and hashing: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_json(text: str | bytes) -> Any:
    """`json.loads`, several times faster on the delta's hot path; the standard parser takes over
    for what orjson refuses (integers beyond 64 bits, lone surrogates)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def value_json(value: Any) -> str:
    """`canonical_json` for display (attribute values), fast.

    Byte-identical to `canonical_json` for every value without floats; a float may print in
    another valid exponent form (`1e16` for `1e+16`). Never used for hashing or storage of
    configurations, whose bytes must not depend on the serialiser.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return canonical_json(value)


def _normalise_timestamp(text: str) -> str:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return text
    return format_timestamp(parsed)


def parse_json_document(value: Any) -> Any:
    """Decode a JSON policy held as a string, URL-encoded or not (IAM returns both)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    if not text.startswith(("{", "[")):
        return value
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return value


_POLICY_LIST_FIELDS = ("Action", "NotAction", "Resource", "NotResource")


def normalise_policy(document: Mapping[str, Any]) -> dict[str, Any]:
    """IAM-style policy: Statement always a list; string-or-list fields always sorted lists."""
    doc = dict(document)
    statements = doc.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if isinstance(statements, list):
        normalised = []
        for statement in statements:
            if not isinstance(statement, Mapping):
                normalised.append(statement)
                continue
            st = dict(statement)
            for key in _POLICY_LIST_FIELDS:
                if isinstance(st.get(key), str):
                    st[key] = [st[key]]
            for key in ("Principal", "NotPrincipal"):
                principal = st.get(key)
                if isinstance(principal, Mapping):
                    st[key] = {k: [v] if isinstance(v, str) else v for k, v in principal.items()}
                elif principal == "*":
                    st[key] = {"AWS": ["*"]}
            normalised.append(st)
        doc["Statement"] = normalised
    return doc


def _is_policy(value: Any) -> bool:
    """An IAM-style policy: its statements carry an Effect. (A WAF rule's `Statement` is a match
    expression, not a policy statement, and must keep its shape.)"""
    if not isinstance(value, Mapping) or "Statement" not in value:
        return False
    statements = value["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    return ("Version" in value and "Name" not in value) or any(
        isinstance(st, Mapping) and "Effect" in st for st in statements)


def pattern_of(path: tuple[str, ...]) -> str:
    """`("A", "[]", "B")` -> `A[].B`: the registry's way to write a path pattern."""
    out = ""
    for segment in path:
        if segment == "[]":
            out += "[]"
        else:
            out += ("." if out else "") + segment
    return out


@functools.lru_cache(maxsize=8192)
def split_pattern(pattern: str) -> tuple[str, ...]:
    """`A[].B` -> `("A", "[]", "B")`."""
    segments: list[str] = []
    for part in pattern.split("."):
        depth = 0
        while part.endswith("[]"):
            part, depth = part[:-2], depth + 1
        if part:
            segments.append(part)
        segments.extend(["[]"] * depth)
    return tuple(segments)


def get_path(value: Any, pattern: str) -> list[Any]:
    """Every value found at a registry path pattern (`[]` fans out over lists)."""
    current = [value]
    for segment in split_pattern(pattern):
        nxt: list[Any] = []
        for item in current:
            if segment == "[]":
                if isinstance(item, list):
                    nxt.extend(item)
            elif isinstance(item, Mapping) and segment in item:
                nxt.append(item[segment])
        current = nxt
    return [v for v in current if v is not None]


def strip_paths(config: Mapping[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """A deep copy of `config` without the given path patterns (the volatile fields)."""
    return strip_paths_in_place(json.loads(json.dumps(config)), patterns)


def strip_paths_in_place(config: dict[str, Any], patterns: Iterable[str]) -> dict[str, Any]:
    """Remove the path patterns from a document the caller owns (no copy).

    The patterns are merged into one tree (cached per pattern set), so each document is walked
    once however many volatile paths its type declares.
    """
    patterns = patterns if isinstance(patterns, tuple) else tuple(patterns)
    tree = _PATH_TREES.get(patterns)
    if tree is None:
        tree = _PATH_TREES[patterns] = _path_tree(patterns)
    _strip_tree(config, tree)
    return config


_PATH_TREES: dict[tuple[str, ...], dict[str, Any]] = {}


def _path_tree(patterns: Iterable[str]) -> dict[str, Any]:
    """`["A.B", "A.C[].D"]` -> `{"A": {"B": None, "C": {"[]": {"D": None}}}}`; None marks a removal."""
    tree: dict[str, Any] = {}
    for pattern in patterns:
        segments = split_pattern(pattern)
        if not segments:
            continue
        node = tree
        for segment in segments[:-1]:
            child = node.get(segment, {})
            if child is None:  # a shorter pattern already removes this whole subtree
                break
            node = node.setdefault(segment, child)
        else:
            node[segments[-1]] = None
    return tree


def _strip_tree(value: Any, tree: dict[str, Any]) -> None:
    for segment, subtree in tree.items():
        if segment == "[]":
            if isinstance(value, list):
                for item in value:
                    if subtree is not None:
                        _strip_tree(item, subtree)
            continue
        if type(value) is not dict or segment not in value:
            continue
        if subtree is None:
            del value[segment]
        else:
            _strip_tree(value[segment], subtree)


def item_key(item: Any, key_fields: tuple[str, ...] | None) -> str:
    """A list item's identity as it appears in a change path, e.g. `GroupId=sg-1` or `sg-1`."""
    if not isinstance(item, Mapping):
        return item if isinstance(item, str) else canonical_json(item)
    if key_fields:
        parts = []
        for field_name in key_fields:
            if field_name in item:  # a plain top-level field: no path walk
                found = item[field_name]
                found = "" if found is None else found
            else:
                values = get_path(item, field_name)
                found = values[0] if values else ""
            parts.append(f"{field_name}={found}")
        return ",".join(parts)
    return "#" + hashlib.sha256(canonical_json(item).encode()).hexdigest()[:12]


def infer_key_fields(items: list[Any]) -> tuple[str, ...] | None:
    """Pick a common identity field for undeclared lists of objects, if one is unique."""
    dicts = [i for i in items if isinstance(i, Mapping)]
    if not dicts or len(dicts) != len(items):
        return None
    for candidate in _IDENTITY_FIELDS:
        values = [d.get(candidate) for d in dicts]
        if all(isinstance(v, (str, int)) for v in values) and len(set(values)) == len(values):
            return (candidate,)
    return None


class KeyResolver:
    """Answers "what identifies an item of the list at this path?" for one resource type."""

    def __init__(self, rtype: ResourceType | None):
        self._declared = dict(rtype.list_keys) if rtype else {}
        self._ordered = set(rtype.ordered_paths) if rtype else set()

    def is_ordered(self, pattern: str) -> bool:
        return pattern in self._ordered

    def key_fields(self, pattern: str, items: list[Any]) -> tuple[str, ...] | None:
        if pattern in self._declared:
            return self._declared[pattern]
        if pattern.endswith("Statement"):
            sids = [i.get("Sid") for i in items if isinstance(i, Mapping)]
            if sids and all(sids) and len(set(sids)) == len(sids) and len(sids) == len(items):
                return ("Sid",)
            return None
        return infer_key_fields(items)


def _canonicalise(value: Any, path: tuple[str, ...], keys: KeyResolver) -> Any:
    if isinstance(value, Mapping):
        if _is_policy(value):
            value = normalise_policy(value)
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            out[k] = _canonicalise(v, (*path, k), keys)
        return out
    if isinstance(value, list):
        items = [_canonicalise(v, (*path, "[]"), keys) for v in value if v is not None]
        pattern = pattern_of(path)
        if keys.is_ordered(pattern):
            return items
        if all(not isinstance(i, (Mapping, list)) for i in items):
            return sorted(items, key=lambda i: (str(type(i)), i))
        fields = keys.key_fields(pattern, items)
        return sorted(items, key=lambda i: (item_key(i, fields), canonical_json(i)))
    if isinstance(value, str) and _ISO_RE.match(value):
        return _normalise_timestamp(value)
    return value


def canonicalise_configuration(config: Mapping[str, Any], rtype: ResourceType | None) -> dict[str, Any]:
    """Generic canonical form of a configuration document (see module docstring)."""
    return _canonicalise(jsonable(config), (), KeyResolver(rtype))


def tags_to_map(tags: Any) -> dict[str, str]:
    """AWS has three tag shapes (Key/Value, TagKey/TagValue, a plain map); keep one."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        if isinstance(tag, Mapping):
            key = tag.get("Key", tag.get("TagKey", tag.get("key")))
            val = tag.get("Value", tag.get("TagValue", tag.get("value")))
            if key is not None:
                out[str(key)] = "" if val is None else str(val)
    return out


def content_hash(config: Mapping[str, Any], tags: Mapping[str, str], volatile_paths: Iterable[str]) -> str:
    """SHA-256 over configuration and tags without volatile fields; stable across processes."""
    stable = strip_paths(config, volatile_paths)
    payload = canonical_json({"configuration": stable, "tags": dict(sorted(tags.items()))})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- per-type reshaping -------------------------------------------------------------------------

_RULE_SOURCES = (
    ("IpRanges", "CidrIp", "cidr"),
    ("Ipv6Ranges", "CidrIpv6", "cidr6"),
    ("PrefixListIds", "PrefixListId", "prefix-list"),
    ("UserIdGroupPairs", "GroupId", "security-group"),
)


def explode_security_group_rules(permissions: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """One item per (protocol, port range, source), so adding one CIDR is one change."""
    rules: list[dict[str, Any]] = []
    for perm in permissions or []:
        base = {
            "IpProtocol": str(perm.get("IpProtocol", "-1")),
            "FromPort": perm.get("FromPort", -1) if perm.get("FromPort") is not None else -1,
            "ToPort": perm.get("ToPort", -1) if perm.get("ToPort") is not None else -1,
        }
        for list_field, source_field, source_type in _RULE_SOURCES:
            for entry in perm.get(list_field) or []:
                rule = dict(base, Source=entry.get(source_field), SourceType=source_type)
                if source_type == "security-group" and entry.get("UserId"):
                    rule["SourceAccount"] = entry["UserId"]
                if entry.get("Description"):
                    rule["Description"] = entry["Description"]
                rules.append(rule)
    return rules


def _security_group(payload: dict[str, Any]) -> dict[str, Any]:
    payload["IpPermissions"] = explode_security_group_rules(payload.get("IpPermissions"))
    payload["IpPermissionsEgress"] = explode_security_group_rules(payload.get("IpPermissionsEgress"))
    return payload


def _ec2_instance(payload: dict[str, Any]) -> dict[str, Any]:
    payload["PublicIpAssigned"] = bool(payload.get("PublicIpAddress"))
    return payload


def _s3_bucket(payload: dict[str, Any]) -> dict[str, Any]:
    # GetBucketLocation says None for us-east-1 and "EU" for the oldest eu-west-1 buckets.
    location = payload.get("Location")
    payload["Location"] = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    versioning = payload.get("Versioning") or {}
    payload["Versioning"] = {k: v for k, v in versioning.items() if k in ("Status", "MFADelete")} or {
        "Status": "Disabled"
    }
    return payload


def _drop_attribute_keys(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def reshape(payload: dict[str, Any]) -> dict[str, Any]:
        attributes = payload.get("Attributes") or {}
        payload["Attributes"] = {k: v for k, v in attributes.items() if k not in keys}
        return payload

    return reshape


def _kms_key(payload: dict[str, Any]) -> dict[str, Any]:
    # ListKeys' KeyArn repeats DescribeKey's Arn.
    if payload.get("Arn"):
        payload.pop("KeyArn", None)
    return payload


NORMALIZERS: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "security_group": _security_group,
    "ec2_instance": _ec2_instance,
    "s3_bucket": _s3_bucket,
    # Owner and the topic/queue ARN repeat the record's own identity.
    "sns_topic": _drop_attribute_keys(("TopicArn", "Owner")),
    "kms_key": _kms_key,
}


@dataclass(frozen=True)
class CanonicalRecord:
    """One row of `snapshot.parquet` (DESIGN §5) before it becomes Arrow."""

    arn: str
    account_id: str
    region: str
    service: str
    resource_type: str
    resource_id: str
    name: str | None
    tags: dict[str, str]
    configuration: dict[str, Any]
    content_hash: str
    source: str
    collected_at: str


def resolve_arn(rtype: ResourceType, payload: Mapping[str, Any], resource_id: str, account: str, region: str,
                partition: str = "aws") -> str:
    if rtype.arn_field:
        found = get_path(payload, rtype.arn_field)
        if found:
            return str(found[0])
    if rtype.arn_template:
        # `{id_path}`: the id without a leading "/", as AWS writes hierarchical names (SSM parameters) in ARNs.
        return rtype.arn_template.format(partition=partition, region=region, account=account, id=resource_id,
                                         id_path=resource_id.removeprefix("/"))
    # Documented synthetic ARN for the rare type without one.
    return f"arn:{partition}:{rtype.service}:{region}:{account}:{rtype.cfn_type}/{resource_id}"


def resource_name(rtype: ResourceType, config: Mapping[str, Any], tags: Mapping[str, str], arn: str) -> str | None:
    """The `Name` tag, else the type's name field, else (for SNS/SQS) the ARN's last segment."""
    name = tags.get("Name")
    if not name and rtype.name_field:
        found = get_path(config, rtype.name_field)
        name = str(found[0]) if found else None
    if not name and rtype.name_from_arn:
        name = arn.rsplit(":", 1)[-1]
    return name


def canonical_record(
    rtype: ResourceType,
    payload: Mapping[str, Any],
    *,
    account_id: str,
    region: str,
    collected_at: str,
    source: str = "api",
) -> CanonicalRecord:
    """Turn one raw API payload (list item merged with detail calls) into a canonical record."""
    data: dict[str, Any] = jsonable(payload)
    data.pop("ResponseMetadata", None)
    if rtype.normalizer:
        data = NORMALIZERS[rtype.normalizer](data)
    tags = tags_to_map(data.pop(rtype.tags_field, None)) if rtype.tags_field else {}
    for json_path in rtype.json_paths:
        _apply_at(data, split_pattern(json_path), parse_json_document)
    config = canonicalise_configuration(data, rtype)
    resource_id = str(get_path(config, rtype.id_field)[0])
    if rtype.region_field:
        found = get_path(config, rtype.region_field)
        region = str(found[0]) if found else region
    elif rtype.is_global:
        region = GLOBAL_REGION
    arn = resolve_arn(rtype, config, resource_id, account_id, region)
    name = resource_name(rtype, config, tags, arn)
    return CanonicalRecord(
        arn=arn,
        account_id=account_id,
        region=region,
        service=rtype.service,
        resource_type=rtype.cfn_type,
        resource_id=resource_id,
        name=name,
        tags=tags,
        configuration=config,
        content_hash=content_hash(config, tags, rtype.volatile_paths),
        source=source,
        collected_at=collected_at,
    )


def _apply_at(value: Any, segments: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    if head == "[]":
        if isinstance(value, list):
            for i, item in enumerate(value):
                if rest:
                    _apply_at(item, rest, fn)
                else:
                    value[i] = fn(item)
        return
    if isinstance(value, dict) and head in value:
        if rest:
            _apply_at(value[head], rest, fn)
        else:
            value[head] = fn(value[head])


REDACTED_PREFIX = "redacted:sha256:"


def redact_secrets(payload: Any, patterns: Iterable[str]) -> Any:
    """Replace every value at the patterns (`A[].B`, `Env.Variables.*`) with its SHA-256, in place.

    The digest keeps change detection (a new secret is a changed value) without storing the secret.
    """
    for pattern in patterns:
        _redact(payload, tuple(pattern.split(".")))
    return payload


def _redact(value: Any, segments: tuple[str, ...]) -> None:
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    name, fan_out = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not isinstance(value, dict):
        return
    keys = list(value) if name == "*" else [name] if name in value else []
    for key in keys:
        if fan_out:
            for item in value[key] if isinstance(value[key], list) else []:
                _redact(item, rest)
        elif rest:
            _redact(value[key], rest)
        elif value[key] is not None and not str(value[key]).startswith(REDACTED_PREFIX):
            text = value[key] if isinstance(value[key], str) else json.dumps(value[key], sort_keys=True)
            value[key] = REDACTED_PREFIX + hashlib.sha256(text.encode()).hexdigest()
