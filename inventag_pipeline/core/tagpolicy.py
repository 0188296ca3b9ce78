"""Tag policy (DESIGN §7, INVENTAG_TAG_POLICY_FILE): required keys, allowed values, scopes, exemptions.

A policy is data. Each resource in scope is either exempt (with the exemption's reason), compliant,
or not — with the keys that are missing and the values that are invalid, so the report can say
exactly what to fix.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.configfile import read_yaml_file
from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS

RESULTS_SCHEMA = pa.schema(
    [
        pa.field("arn", pa.string(), nullable=False),
        pa.field("resource_type", pa.string()),
        pa.field("compliant", pa.bool_()),
        pa.field("untagged", pa.bool_()),
        pa.field("missing_tags", pa.list_(pa.string())),
        pa.field("invalid_tags", pa.list_(pa.string())),
        pa.field("exemption", pa.string(), nullable=True),
    ]
)
CASES = ("exact", "lower", "upper")


class TagPolicyError(ValueError):
    """The policy cannot be used; the message names the file and every offending key."""


@dataclass(frozen=True)
class TagRule:
    """One required tag: its key, and optionally the values it may take."""

    key: str
    allowed: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    case: str = "exact"  # the value must already be in this case

    def problem(self, value: str) -> str | None:
        """Why `value` is invalid, or None."""
        if not value.strip():
            return "empty"
        if self.case == "lower" and value != value.lower():
            return "not lower case"
        if self.case == "upper" and value != value.upper():
            return "not upper case"
        if self.allowed and value not in self.allowed:
            return f"not one of {', '.join(self.allowed)}"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"does not match {self.pattern.pattern}"
        return None


@dataclass(frozen=True)
class Scope:
    """Where a policy applies; each list holds globs and an empty list means "everything"."""

    services: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    def covers(self, service: str, resource_type: str, region: str, account: str) -> bool:
        return all(
            not globs or any(fnmatch.fnmatchcase(value, g) for g in globs)
            for globs, value in ((self.services, service), (self.resource_types, resource_type),
                                 (self.regions, region), (self.accounts, account))
        )


@dataclass(frozen=True)
class Exemption:
    reason: str
    arn: str | None = None
    resource_type: str | None = None
    tag: tuple[str, str | None] | None = None

    def applies(self, arn: str, resource_type: str, tags: Mapping[str, str]) -> bool:
        if self.arn is not None and not fnmatch.fnmatchcase(arn, self.arn):
            return False
        if self.resource_type is not None and not fnmatch.fnmatchcase(resource_type, self.resource_type):
            return False
        if self.tag is not None:
            key, value = self.tag
            if key not in tags or (value is not None and tags[key] != value):
                return False
        return True


@dataclass(frozen=True)
class TagPolicy:
    required: tuple[TagRule, ...]
    per_type: Mapping[str, tuple[TagRule, ...]] = field(default_factory=dict)
    scope: Scope = Scope()
    exemptions: tuple[Exemption, ...] = ()
    key_case_insensitive: bool = False

    def rules_for(self, resource_type: str) -> tuple[TagRule, ...]:
        extra = [r for glob, rules in self.per_type.items() if fnmatch.fnmatchcase(resource_type, glob) for r in rules]
        return (*self.required, *extra)

    @property
    def required_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.required)


DEFAULT_POLICY = TagPolicy(required=tuple(TagRule(k) for k in DEFAULT_REQUIRED_TAGS))


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    problems.append(f"{where}: expected a string or a list of strings, got {value!r}")
    return ()


def _rule(data: Any, where: str, problems: list[str]) -> TagRule | None:
    if isinstance(data, str):
        return TagRule(data)
    if not isinstance(data, Mapping) or "key" not in data:
        problems.append(f"{where}: expected a tag key or a mapping with 'key'")
        return None
    unknown = sorted(set(data) - {"key", "allowed", "pattern", "case"})
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}")
    pattern = None
    if data.get("pattern") is not None:
        try:
            pattern = re.compile(str(data["pattern"]))
        except re.error as exc:
            problems.append(f"{where}.pattern: {data['pattern']!r} is not a valid regex: {exc}")
    case = str(data.get("case", "exact"))
    if case not in CASES:
        problems.append(f"{where}.case: {case!r} is not one of {list(CASES)}")
    return TagRule(str(data["key"]), _strings(data.get("allowed"), f"{where}.allowed", problems), pattern, case)


def parse_policy(data: Any, source: str = "tag policy") -> TagPolicy:
    """A validated policy; every problem is reported at once, each naming its key."""
    if not isinstance(data, Mapping):
        raise TagPolicyError(f"{source}: expected a mapping with a 'required' list")
    problems: list[str] = []
    unknown = sorted(set(data) - {"required", "per_type", "scope", "exemptions", "key_case"})
    if unknown:
        problems.append(f"unknown top-level key(s) {unknown}")
    required_raw = data.get("required")
    if not isinstance(required_raw, list) or not required_raw:
        problems.append("required: expected a non-empty list of tags")
        required_raw = []
    required = [r for i, d in enumerate(required_raw) if (r := _rule(d, f"required[{i}]", problems))]
    per_type: dict[str, tuple[TagRule, ...]] = {}
    for glob, rules in (data.get("per_type") or {}).items():
        if not isinstance(rules, list):
            problems.append(f"per_type.{glob}: expected a list of tags")
            continue
        per_type[str(glob)] = tuple(r for i, d in enumerate(rules)
                                    if (r := _rule(d, f"per_type.{glob}[{i}]", problems)))
    scope_raw = data.get("scope") or {}
    scope_unknown = sorted(set(scope_raw) - {"services", "resource_types", "regions", "accounts"})
    if scope_unknown:
        problems.append(f"scope: unknown key(s) {scope_unknown}")
    scope = Scope(*(_strings(scope_raw.get(k), f"scope.{k}", problems)
                    for k in ("services", "resource_types", "regions", "accounts")))
    exemptions = []
    for i, raw in enumerate(data.get("exemptions") or []):
        where = f"exemptions[{i}]"
        if not isinstance(raw, Mapping) or not raw.get("reason"):
            problems.append(f"{where}: every exemption needs a 'reason'")
            continue
        if not {"arn", "resource_type", "tag"} & set(raw):
            problems.append(f"{where}: needs at least one of 'arn', 'resource_type', 'tag'")
            continue
        tag = None
        if "tag" in raw:
            tag_raw = raw["tag"]
            if isinstance(tag_raw, str):
                tag = (tag_raw, None)
            elif isinstance(tag_raw, Mapping) and "key" in tag_raw:
                tag = (str(tag_raw["key"]), None if tag_raw.get("value") is None else str(tag_raw["value"]))
            else:
                problems.append(f"{where}.tag: expected a key or {{key, value}}")
        exemptions.append(Exemption(str(raw["reason"]), raw.get("arn"), raw.get("resource_type"), tag))
    key_case = data.get("key_case", "exact")
    if key_case not in ("exact", "insensitive"):
        problems.append(f"key_case: {key_case!r} is not 'exact' or 'insensitive'")
    if problems:
        raise TagPolicyError(f"{source}: " + "; ".join(problems))
    return TagPolicy(tuple(required), per_type, scope, tuple(exemptions), key_case == "insensitive")


def load_policy(path: str | Path | None) -> TagPolicy:
    """The policy file, or the built-in default (Environment, Owner, CostCenter) without one."""
    if not path:
        return DEFAULT_POLICY
    data = read_yaml_file(path, "tag policy", "INVENTAG_TAG_POLICY_FILE", TagPolicyError)
    return parse_policy(data, source=str(path))


def evaluate(policy: TagPolicy, resources: Iterable[Mapping[str, Any]]) -> pa.Table:
    """One result row per in-scope resource (rows need arn, resource_type, service, region,
    account_id and tags as a map or a list of (key, value) pairs)."""
    rows = []
    for res in resources:
        if not policy.scope.covers(res["service"], res["resource_type"], res["region"], res["account_id"]):
            continue
        tags = dict(res["tags"] or [])
        exemption = next((e.reason for e in policy.exemptions if e.applies(res["arn"], res["resource_type"], tags)),
                         None)
        missing, invalid = _check(policy, res["resource_type"], tags)
        rows.append({
            "arn": res["arn"],
            "resource_type": res["resource_type"],
            "compliant": exemption is not None or not (missing or invalid),
            "untagged": not tags,
            "missing_tags": missing,
            "invalid_tags": invalid,
            "exemption": exemption,
        })
    return pa.Table.from_pylist(sorted(rows, key=lambda r: r["arn"]), schema=RESULTS_SCHEMA)


def _check(policy: TagPolicy, resource_type: str, tags: Mapping[str, str]) -> tuple[list[str], list[str]]:
    lookup = {k.lower(): v for k, v in tags.items()} if policy.key_case_insensitive else tags
    missing, invalid = [], []
    for rule in policy.rules_for(resource_type):
        value = lookup.get(rule.key.lower() if policy.key_case_insensitive else rule.key)
        if value is None:
            missing.append(rule.key)
        elif (problem := rule.problem(value)) is not None:
            invalid.append(f"{rule.key}: {problem}")
    return missing, invalid


def summarise(results: pa.Table, service_by_arn: Mapping[str, str]) -> dict[str, Any]:
    """Compliance percentage over non-exempt resources, overall and per service."""
    rows = results.to_pylist()
    by_service: dict[str, list[bool]] = {}
    for row in rows:
        if row["exemption"] is None:
            by_service.setdefault(service_by_arn[row["arn"]], []).append(row["compliant"])
    judged = [ok for oks in by_service.values() for ok in oks]
    return {
        "evaluated": len(rows),
        "exempt": sum(1 for r in rows if r["exemption"] is not None),
        "compliant": sum(judged),
        "non_compliant": len(judged) - sum(judged),
        "untagged": sum(1 for r in rows if r["untagged"]),
        "compliance_percentage": round(100.0 * sum(judged) / len(judged), 2) if judged else 100.0,
        "by_service": {s: round(100.0 * sum(v) / len(v), 2) for s, v in sorted(by_service.items())},
    }
