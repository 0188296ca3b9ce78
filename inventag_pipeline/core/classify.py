"""Classification of attribute changes: rules as data, first match wins.

A rule names resource types (glob), a path regex (matched at the start of the change's path), the
change kinds it applies to, an optional named condition over the values, and the category,
severity and description it assigns. Users prepend their own rules (the seed API's
`severity_rules`) and ignore fields (`ignore_metadata_fields`).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventag_pipeline.core.canonical import item_key
from inventag_pipeline.core.configfile import read_yaml_file
from inventag_pipeline.core.diff import AttributeChange
from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS, REGISTRY

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # info=0 … critical=4
CATEGORIES = ("security", "network", "iam", "compliance", "tags", "configuration", "operational")

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
ADMIN_PORTS = (22, 3389, 3306, 5432, 1433, 1521, 27017, 6379, 9200, 11211)


def max_severity(severities: Iterable[str], default: str = "info") -> str:
    best = default
    for s in severities:
        if SEVERITY_RANK[s] > SEVERITY_RANK[best]:
            best = s
    return best


# --- named conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a condition may know besides the change: whose resource it is and the tag policy."""

    account_id: str | None = None
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    # The new configuration, so a change inside a list item can look at the item around it.
    new_document: Mapping[str, Any] | None = None


_SEGMENT = re.compile(r"([^.\[]+)((?:\[[^\]]*\])*)")


def enclosing_statement(change: AttributeChange, ctx: Context) -> Mapping[str, Any] | None:
    """The policy statement (in the new document) that a per-item change sits in, if any."""
    if ctx.new_document is None or ".Statement[" not in change.path:
        return None
    head = change.path[: change.path.index(".Statement[")]
    rest = change.path[len(head) + len(".Statement["):]
    key = rest[: rest.index("]")]
    node: Any = ctx.new_document
    for part in head.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    statements = node.get("Statement") if isinstance(node, Mapping) else None
    for statement in statements or []:
        if isinstance(statement, Mapping) and key in (item_key(statement, ("Sid",)), item_key(statement, None)):
            return statement
    return None



def _rule_items(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping) and "Source" in value:
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, Mapping) and "Source" in v]
    return []


def covers_admin_port(rule: Mapping[str, Any]) -> bool:
    protocol = str(rule.get("IpProtocol")).lower()
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "udp", "6", "17"):
        return False  # ICMP's -1 means "every ICMP type", not every port
    low, high = int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1))
    if low == -1:
        return True
    return any(low <= port <= high for port in ADMIN_PORTS)


def _world_open(change: AttributeChange, ctx: Context) -> bool:
    return change.change != "removed" and any(r.get("Source") in WORLD_CIDRS for r in _rule_items(change.new))


def _world_open_admin(change: AttributeChange, ctx: Context) -> bool:
    return change.change != "removed" and any(
        r.get("Source") in WORLD_CIDRS and covers_admin_port(r) for r in _rule_items(change.new)
    )


def _flags_weakened(change: AttributeChange, ctx: Context) -> bool:
    """A block/guard turned off: removed entirely, or any True flag now False."""
    if change.change == "removed":
        return True
    if change.change == "changed":
        if isinstance(change.old, bool):
            return change.old and not change.new
        if isinstance(change.old, Mapping) and isinstance(change.new, Mapping):
            return any(v is True and change.new.get(k) is not True for k, v in change.old.items())
    return False


def _statements(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping) and "Statement" in value:
        return [s for s in value["Statement"] if isinstance(s, Mapping)]
    if isinstance(value, Mapping) and "Effect" in value:
        return [value]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, Mapping) and "Effect" in s]
    return []


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        out: list[str] = []
        for values in principal.values():
            out.extend([values] if isinstance(values, str) else list(values))
        return out
    return []


def _public_grant(change: AttributeChange, ctx: Context) -> bool:
    """The new value allows `*` as principal (a bucket, queue or topic policy made public)."""
    if change.change == "removed":
        return False
    if change.pattern.endswith("Principal.AWS[]") or change.pattern.endswith("Principal[]"):
        statement = enclosing_statement(change, ctx)
        if statement is not None and (statement.get("Effect") != "Allow" or statement.get("Condition")):
            return False
        return change.new == "*"
    return any(
        s.get("Effect") == "Allow" and "*" in _principals(s) and not s.get("Condition")
        for s in _statements(change.new)
    )


def _wildcard_grant(change: AttributeChange, ctx: Context) -> bool:
    """An Allow gains `*` (or `service:*`… only `*` itself) as action or resource."""
    if change.change == "removed":
        return False
    if re.search(r"\.Action\[[^\]]*\]$", change.path):
        statement = enclosing_statement(change, ctx)
        return change.new in ("*", "*:*") and (statement is None or statement.get("Effect") == "Allow")
    if re.search(r"\.Resource\[[^\]]*\]$", change.path):
        statement = enclosing_statement(change, ctx)
        return change.new == "*" and statement is not None and _broad_allow(statement)
    return any((_broad_allow(s) and "*" in s.get("Resource", ["*"])) or _all_actions(s)
               for s in _statements(change.new))


def _all_actions(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow" and bool({"*", "*:*"} & set(statement.get("Action", [])))


def _broad_allow(statement: Mapping[str, Any]) -> bool:
    """Allow of every action, or of a whole service (`s3:*`): with Resource `*` that is full control."""
    actions = statement.get("Action", [])
    return statement.get("Effect") == "Allow" and any(a == "*" or str(a).endswith(":*") for a in actions)


def _trust_widened(change: AttributeChange, ctx: Context) -> bool:
    """A trust policy now admits `*` or a principal from another AWS account."""
    if change.change == "removed":
        return False
    if change.path.endswith("]") and ".Principal.AWS[" in change.path:
        statement = enclosing_statement(change, ctx)
        if statement is not None and statement.get("Effect") != "Allow":
            return False
        principals = [change.new]
    else:
        principals = [p for s in _statements(change.new) if s.get("Effect") == "Allow" for p in _principals(s)]
    return any(p == "*" or _foreign_account(str(p), ctx.account_id) for p in principals)


def _foreign_account(principal: str, own_account: str | None) -> bool:
    """An AWS account id or IAM ARN of an account other than the resource's own."""
    match = re.match(r"^(?:arn:aws[\w-]*:iam::)?(\d{12})(?::|$)", principal)
    return bool(match) and match.group(1) != own_account


def _became(value: Any) -> Callable[[AttributeChange, Context], bool]:
    return lambda change, _ctx: change.change != "removed" and change.new == value


def _encryption_weakened(change: AttributeChange, ctx: Context) -> bool:
    if change.change == "removed":
        return True
    if change.change == "changed":
        return (change.new in (False, None) or str(change.new).lower() in ("false", "disabled")
                or "kms" in change.path.lower())
    return False


def _required_tag_lost(change: AttributeChange, ctx: Context) -> bool:
    key = change.path.split(".", 1)[1] if "." in change.path else ""
    return change.change == "removed" and key in ctx.required_tags


def _made_public_status(change: AttributeChange, ctx: Context) -> bool:
    """S3 PolicyStatus: IsPublic became true, or a first PolicyStatus arrived already public."""
    if change.change == "removed":
        return False
    if isinstance(change.new, Mapping):
        return change.new.get("IsPublic") is True
    return change.new is True


def _became_value(*values: Any) -> Callable[[AttributeChange, Context], bool]:
    return lambda change, _ctx: change.change != "removed" and change.new in values


def _admin_policy_attached(change: AttributeChange, ctx: Context) -> bool:
    value = change.new if isinstance(change.new, Mapping) else {}
    return change.change == "added" and str(value.get("PolicyArn", "")).endswith(":policy/AdministratorAccess")


CONDITIONS: Mapping[str, Callable[[AttributeChange, Context], bool]] = {
    "world_open_admin_port": _world_open_admin,
    "world_open": _world_open,
    "flags_weakened": _flags_weakened,
    "public_grant": _public_grant,
    "wildcard_grant": _wildcard_grant,
    "trust_widened": _trust_widened,
    "became_true": _became(True),
    "became_optional": _became("optional"),
    "encryption_weakened": _encryption_weakened,
    "required_tag_lost": _required_tag_lost,
    "admin_policy_attached": _admin_policy_attached,
    "made_public_status": _made_public_status,
    "became_false": _became(False),
    "became_pending_deletion": _became_value("PendingDeletion", "PendingReplicaDeletion"),
    "versioning_suspended": _became_value("Suspended"),
}


# --- rules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    path: str
    category: str
    severity: str
    description: str
    types: tuple[str, ...] = ("*",)
    changes: tuple[str, ...] = ("added", "removed", "changed")
    when: str | None = None
    # Evaluated before the type's operational paths (a key scheduled for deletion is not "info").
    overrides_operational: bool = False
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.category not in CATEGORIES:
            problems.append(f"category {self.category!r} not in {CATEGORIES}")
        if self.severity not in SEVERITIES:
            problems.append(f"severity {self.severity!r} not in {SEVERITIES}")
        if self.when is not None and self.when not in CONDITIONS:
            problems.append(f"condition {self.when!r} not in {sorted(CONDITIONS)}")
        if problems:
            raise ValueError(f"rule {self.name!r}: " + "; ".join(problems))
        object.__setattr__(self, "_regex", re.compile(self.path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        allowed = {"name", "path", "category", "severity", "description", "types", "changes", "when",
                   "overrides_operational"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"rule {data.get('name')!r}: unknown key(s) {sorted(unknown)}")
        kwargs = dict(data)
        for key in ("types", "changes"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = (kwargs[key],)
            elif key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        kwargs.setdefault("description", "{field} {verb}")
        return cls(**kwargs)

    def applies_to(self, resource_type: str) -> bool:
        return any(fnmatch.fnmatchcase(resource_type, t) for t in self.types)

    def holds(self, change: AttributeChange, ctx: Context) -> bool:
        """The rule's value condition (always true without one)."""
        return self.when is None or CONDITIONS[self.when](change, ctx)

    def matches_change(self, change: AttributeChange, ctx: Context) -> bool:
        if change.change not in self.changes or not self._regex.match(change.path):
            return False
        return self.holds(change, ctx)

    def matches(self, resource_type: str, change: AttributeChange, ctx: Context = Context()) -> bool:
        return self.applies_to(resource_type) and self.matches_change(change, ctx)


_SG = ("AWS::EC2::SecurityGroup",)
_IAM = ("AWS::IAM::*",)
_POLICY_TYPES = ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic")

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("sg-world-admin-port", r"IpPermissions\[", "security", "critical",
         "Ingress {new} is open to the internet on an administrative or database port",
         types=_SG, changes=("added", "changed"), when="world_open_admin_port"),
    Rule("sg-world-open", r"IpPermissions\[", "security", "high",
         "Ingress {new} is open to the internet", types=_SG, changes=("added", "changed"), when="world_open"),
    Rule("sg-rule-description", r"IpPermissions(Egress)?\[[^\]]*\]\.Description$", "configuration", "low",
         "Rule description {verb}: {old} → {new}", types=_SG),
    Rule("sg-rule", r"IpPermissions(Egress)?\[", "network", "medium", "Rule {value} {verb}", types=_SG),
    Rule("s3-public-access-block-removed", r"PublicAccessBlock$", "security", "critical",
         "Public access block removed: the bucket no longer blocks public ACLs or public policies",
         types=("AWS::S3::Bucket",), changes=("removed",)),
    Rule("s3-public-access-block-weakened", r"PublicAccessBlock", "security", "critical",
         "Public access block weakened: {field} {old} → {new}", types=("AWS::S3::Bucket",),
         when="flags_weakened"),
    Rule("s3-public-access-block", r"PublicAccessBlock", "security", "low",
         "Public access block {verb}: {new}", types=("AWS::S3::Bucket",)),
    Rule("s3-policy-status-public", r"PolicyStatus(\.IsPublic)?$", "security", "critical",
         "Bucket policy now makes the bucket public", types=("AWS::S3::Bucket",), when="made_public_status"),
    Rule("s3-versioning-suspended", r"Versioning\.Status$", "security", "medium",
         "Versioning suspended: overwritten and deleted objects can no longer be recovered",
         types=("AWS::S3::Bucket",), when="versioning_suspended"),
    Rule("resource-policy-public", r"(Policy|Attributes\.Policy)\b", "security", "critical",
         "Resource policy grants access to everyone (*)", types=_POLICY_TYPES, when="public_grant"),
    Rule("resource-policy", r"(Policy|Attributes\.Policy)\b", "iam", "medium",
         "Resource policy {verb}", types=_POLICY_TYPES),
    Rule("encryption-weakened",
         r"(Encryption|SSEDescription|StorageEncrypted|Encrypted|KmsKeyId|KMSKeyArn"
         r"|Attributes\.KmsMasterKeyId|Attributes\.SqsManagedSseEnabled)\b",
         "security", "high", "Encryption weakened: {field} {old} → {new}", when="encryption_weakened"),
    Rule("encryption", r"(Encryption|SSEDescription|StorageEncrypted|Encrypted|KmsKeyId|KMSKeyArn"
         r"|Attributes\.KmsMasterKeyId|Attributes\.SqsManagedSseEnabled)\b",
         "security", "low", "Encryption setting {field} {verb}"),
    Rule("trust-policy-widened", r"AssumeRolePolicyDocument", "iam", "critical",
         "Trust policy now admits {new}", types=("AWS::IAM::Role",), when="trust_widened"),
    Rule("trust-policy", r"AssumeRolePolicyDocument", "iam", "medium", "Trust policy {verb}",
         types=("AWS::IAM::Role",)),
    Rule("iam-wildcard-grant", r"PolicyDocument", "iam", "critical",
         "Policy now allows every action or resource (*)", types=_IAM, when="wildcard_grant"),
    Rule("iam-policy-document", r"PolicyDocument", "iam", "medium", "Policy statement {verb}", types=_IAM),
    Rule("iam-admin-attached", r"AttachedManagedPolicies", "iam", "critical",
         "AdministratorAccess attached", types=_IAM, when="admin_policy_attached"),
    Rule("iam-attachments", r"(AttachedManagedPolicies|InlinePolicyNames|Groups)\b", "iam", "medium",
         "{field} {verb}: {value}", types=_IAM),
    Rule("iam-mfa-removed", r"MFADevices\b", "security", "medium", "MFA device removed: {old}",
         types=("AWS::IAM::User",), changes=("removed",)),
    Rule("kms-pending-deletion", r"KeyState$", "security", "high",
         "Key scheduled for deletion: data encrypted with it becomes unreadable when it is deleted",
         types=("AWS::KMS::Key",), when="became_pending_deletion", overrides_operational=True),
    Rule("kms-rotation-disabled", r"KeyRotationEnabled$", "security", "medium", "Automatic key rotation turned off",
         types=("AWS::KMS::Key",), when="became_false"),
    Rule("execution-role", r"(Role|IamInstanceProfile)\b", "iam", "medium", "{field} {verb}: {old} → {new}",
         types=("AWS::Lambda::Function", "AWS::EC2::Instance")),
    Rule("imds-v1-allowed", r"MetadataOptions\.HttpTokens", "security", "medium",
         "IMDSv2 no longer required (HttpTokens {old} → {new})",
         types=("AWS::EC2::Instance",), when="became_optional"),
    Rule("rds-public", r"PubliclyAccessible", "security", "critical",
         "Database made publicly accessible", types=("AWS::RDS::DBInstance",), when="became_true"),
    Rule("lambda-url-or-permission", r"(FunctionUrlConfig|Policy)\b", "security", "high",
         "Function access changed: {field} {verb}", types=("AWS::Lambda::Function",)),
    Rule("network-placement",
         r"(VpcId|SubnetId|SecurityGroups|VpcSecurityGroups|VpcConfig|PublicIpAddress|PublicDnsName"
         r"|NetworkInterfaces|CidrBlock|Ipv6CidrBlock|CidrBlockAssociationSet|Ipv6CidrBlockAssociationSet"
         r"|MapPublicIpOnLaunch|PublicIpAssigned|DBSubnetGroup|PrivateIpAddress)\b",
         "network", "medium", "{field} {verb}: {old} → {new}"),
    Rule("required-tag-removed", r"tags\.", "compliance", "medium",
         "Required tag {field} removed (was {old})", when="required_tag_lost"),
    Rule("tags", r"tags\.", "tags", "low", "Tag {field} {verb}: {old} → {new}"),
    Rule("sizing",
         r"(InstanceType|DBInstanceClass|AllocatedStorage|MaxAllocatedStorage|MemorySize|Timeout|Runtime"
         r"|Size|Iops|Throughput|VolumeType|BillingModeSummary|ProvisionedThroughput|MultiAZ|Engine)\b",
         "configuration", "medium", "{field} {verb}: {old} → {new}"),
    Rule("names-and-descriptions", r"(.*\.)?(Description|GroupDescription|Name|DisplayName)$",
         "configuration", "low", "{field} {verb}: {old} → {new}"),
)

_FALLBACK = ("configuration", "low", "{field} {verb}: {old} → {new}")
_OPERATIONAL = ("operational", "info", "{field} {verb}: {old} → {new}")

VERBS = {"added": "added", "removed": "removed", "changed": "changed"}


def render_value(value: Any, limit: int = 120) -> str:
    """A short human rendering of a value for descriptions (a rule reads `tcp 22 from 0.0.0.0/0`)."""
    if value is None:
        return "none"
    if isinstance(value, Mapping) and "Source" in value and "IpProtocol" in value:
        proto = "all traffic" if str(value["IpProtocol"]) == "-1" else str(value["IpProtocol"])
        low, high = value.get("FromPort", -1), value.get("ToPort", -1)
        ports = "" if low in (-1, None) else (f" {low}" if low == high else f" {low}-{high}")
        return f"{proto}{ports} from {value['Source']}"
    if isinstance(value, bool):
        return str(value).lower()
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Classification:
    category: str
    severity: str
    description: str
    rule: str


class Classifier:
    """Assigns category, severity and a plain-language description to each attribute change."""

    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES, ignore_fields: Iterable[str] = ()):
        self.rules = tuple(rules)
        self.ignore = tuple(re.compile(p) for p in ignore_fields)
        self._by_type: dict[str, tuple[Rule, ...]] = {}
        self._candidate_cache: dict[tuple[str, str, str, str], tuple[tuple[Rule, ...], bool]] = {}

    def rules_for(self, resource_type: str) -> tuple[Rule, ...]:
        """The rules whose type globs admit this type, in order (cached: glob matching is slow)."""
        found = self._by_type.get(resource_type)
        if found is None:
            found = self._by_type[resource_type] = tuple(r for r in self.rules if r.applies_to(resource_type))
        return found

    def with_overrides(self, extra_rules: Sequence[Rule] = (), ignore_fields: Iterable[str] = ()) -> Classifier:
        return Classifier((*extra_rules, *self.rules), (*(p.pattern for p in self.ignore), *ignore_fields))

    def ignored(self, path: str) -> bool:
        return bool(self.ignore) and any(p.match(path) for p in self.ignore)

    def _candidates(self, resource_type: str, change: AttributeChange) -> tuple[tuple[Rule, ...], bool]:
        """Rules whose type, change kind and path regex admit this change, and whether its path is
        operational. Both depend only on (type, kind, path, pattern), which repeat across resources,
        so they are cached; conditions on the values are still evaluated per change."""
        key = (resource_type, change.change, change.path, change.pattern)
        found = self._candidate_cache.get(key)
        if found is None:
            rules = tuple(r for r in self.rules_for(resource_type)
                          if change.change in r.changes and r._regex.match(change.path))
            rtype = REGISTRY.get(resource_type)
            operational = any(change.pattern == p or change.pattern.startswith(p + ".")
                              for p in (rtype.operational_paths if rtype else ()))
            if len(self._candidate_cache) > 200_000:
                self._candidate_cache.clear()
            found = self._candidate_cache[key] = (rules, operational)
        return found

    def classify(self, resource_type: str, change: AttributeChange, ctx: Context = Context()) -> Classification:
        rules, operational = self._candidates(resource_type, change)
        first = next((r for r in rules if r.overrides_operational and r.holds(change, ctx)), None)
        if first is not None:
            category, severity, template, rule_name = (first.category, first.severity, first.description, first.name)
        elif operational:
            category, severity, template, rule_name = (*_OPERATIONAL, "operational-state")
        else:
            for rule in rules:
                if rule.holds(change, ctx):
                    category, severity, template, rule_name = (
                        rule.category, rule.severity, rule.description, rule.name)
                    break
            else:
                category, severity, template, rule_name = (*_FALLBACK, "default")
        return Classification(category, severity, _describe(template, change), rule_name)


@functools.lru_cache(maxsize=4096)
def _template_fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _describe(template: str, change: AttributeChange) -> str:
    """Fill a description template, rendering only the values it names (rendering is the costly part)."""
    fields = _template_fields(template)
    values: dict[str, str] = {}
    if "field" in fields:
        values["field"] = change.path.split(".", 1)[1] if change.path.startswith("tags.") else change.path
    if "verb" in fields:
        values["verb"] = VERBS[change.change]
    if "old" in fields:
        values["old"] = render_value(change.old)
    if "new" in fields:
        values["new"] = render_value(change.new)
    if "value" in fields:
        values["value"] = render_value(change.new if change.change != "removed" else change.old)
    if "path" in fields:
        values["path"] = change.path
    return template.format(**values)


class RulesConfigError(ValueError):
    """A rules file cannot be used; the message names the file and every offending rule."""


def load_rules(data: Mapping[str, Any], source: str = "rules") -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """Rules and ignored fields from a parsed YAML document: `{rules: [...], ignore_fields: [...]}`.

    User rules are tried before the defaults (first match wins); `ignore_fields` are path regexes
    whose changes are dropped (the seed API's `ignore_metadata_fields`).
    """
    if not isinstance(data, Mapping):
        raise RulesConfigError(f"{source}: expected a mapping with 'rules' and/or 'ignore_fields'")
    unknown = sorted(set(data) - {"rules", "ignore_fields"})
    problems = [f"unknown top-level key(s) {unknown}"] if unknown else []
    rules = []
    for i, raw in enumerate(data.get("rules") or []):
        try:
            if not isinstance(raw, Mapping):
                raise ValueError(f"expected a mapping, got {type(raw).__name__}")
            missing = [k for k in ("name", "path", "category", "severity") if k not in raw]
            if missing:
                raise ValueError(f"missing {missing}")
            rules.append(Rule.from_dict(raw))
        except (ValueError, TypeError, re.error) as exc:
            problems.append(f"rules[{i}]: {exc}")
    ignore = []
    for pattern in data.get("ignore_fields") or []:
        try:
            re.compile(str(pattern))
            ignore.append(str(pattern))
        except re.error as exc:
            problems.append(f"ignore_fields: {pattern!r} is not a valid regex: {exc}")
    if problems:
        raise RulesConfigError(f"{source}: " + "; ".join(problems))
    return tuple(rules), tuple(ignore)


def load_rules_file(path: str) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    data = read_yaml_file(path, "rules file", "INVENTAG_DELTA_RULES_FILE", RulesConfigError)
    return load_rules(data or {}, source=path)
