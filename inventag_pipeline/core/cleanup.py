"""A cleanup plan from one snapshot and its dependency index. It deletes nothing and calls nothing.

Rules are small declared functions (like security checks): each looks at one resource and says
whether it is a candidate, with one sentence and the fields that made it one. Protections then hold
candidates back (protection tags, protected types, a minimum age, an inventory that could not prove
nothing references them, or resources outside the plan still using them). What is left is put in
dependency order: a resource that references another is deleted first, so nothing is removed while
something still points at it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

PLAN_SCHEMA_VERSION = 1
SG_TYPE = "AWS::EC2::SecurityGroup"
VOLUME_TYPE = "AWS::EC2::Volume"
MAX_LISTED_REFERENCES = 20

# Identity, audit and key types are never proposed for deletion by default: losing one locks people
# out, destroys evidence, or makes encrypted data unreadable.
DEFAULT_PROTECTED_TYPES: tuple[str, ...] = (
    "AWS::CloudTrail::Trail",
    "AWS::Config::ConfigurationRecorder",
    "AWS::Config::DeliveryChannel",
    "AWS::GuardDuty::Detector",
    "AWS::IAM::Group",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::OIDCProvider",
    "AWS::IAM::Role",
    "AWS::IAM::SAMLProvider",
    "AWS::IAM::User",
    "AWS::KMS::Key",
)
DEFAULT_PROTECT_TAGS: tuple[str, ...] = ("DoNotDelete", "inventag:protect")
# A protection tag whose value is one of these does not protect (`DoNotDelete=false`).
_OFF_VALUES = frozenset({"false", "no", "0", "off"})

# Where each type keeps its creation time (an instance's LaunchTime is its last start: a lower bound on age).
CREATED_FIELDS: Mapping[str, str] = {
    "AWS::EC2::Instance": "LaunchTime",
    "AWS::EC2::Volume": "CreateTime",
    "AWS::EC2::Snapshot": "StartTime",
    "AWS::EC2::Image": "CreationDate",
    "AWS::EC2::NatGateway": "CreateTime",
    "AWS::EC2::LaunchTemplate": "CreateTime",
    "AWS::EC2::KeyPair": "CreateTime",
    "AWS::S3::Bucket": "CreationDate",
    "AWS::IAM::Role": "CreateDate",
    "AWS::IAM::User": "CreateDate",
    "AWS::IAM::Group": "CreateDate",
    "AWS::IAM::ManagedPolicy": "CreateDate",
    "AWS::IAM::InstanceProfile": "CreateDate",
    "AWS::RDS::DBInstance": "InstanceCreateTime",
    "AWS::RDS::DBCluster": "ClusterCreateTime",
    "AWS::RDS::DBSnapshot": "SnapshotCreateTime",
    "AWS::RDS::DBClusterSnapshot": "SnapshotCreateTime",
    "AWS::DynamoDB::Table": "CreationDateTime",
    "AWS::KMS::Key": "CreationDate",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "CreatedTime",
    "AWS::ElasticLoadBalancing::LoadBalancer": "CreatedTime",
    "AWS::EFS::FileSystem": "CreationTime",
    "AWS::ECR::Repository": "createdAt",
    "AWS::EKS::Cluster": "createdAt",
    "AWS::CloudFormation::Stack": "CreationTime",
    "AWS::SecretsManager::Secret": "CreatedDate",
}

# Monthly list prices in us-east-1 (USD): storage of EBS volumes per GB and an idle Elastic IP. Estimates
# for ordering the plan by what it saves, not a bill: other regions, IOPS and throughput are not included.
EBS_MONTHLY_PER_GB: Mapping[str, float] = {
    "gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05,
}
IDLE_EIP_MONTHLY = 3.60

_STOP_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (GMT|UTC)\)")


class CleanupConfigError(ValueError):
    """The cleanup settings cannot be used; the message names each problem."""


@dataclass(frozen=True)
class CleanupSettings:
    """Thresholds and protections; one default for each, here."""

    stopped_days: int = 30
    untagged_days: int = 90
    min_age_days: int = 7
    protect_tags: tuple[str, ...] = DEFAULT_PROTECT_TAGS
    protected_types: tuple[str, ...] = DEFAULT_PROTECTED_TYPES
    # Rule ids to run; empty runs every rule.
    rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = [f"{name} must be a whole number >= 0, got {getattr(self, name)!r}"
                    for name in ("stopped_days", "untagged_days", "min_age_days")
                    if not isinstance(getattr(self, name), int) or getattr(self, name) < 0]
        unknown = sorted(set(self.rules) - set(RULES))
        if unknown:
            problems.append(f"unknown cleanup rule(s) {unknown}; known: {sorted(RULES)}")
        if problems:
            raise CleanupConfigError("; ".join(problems))

    def enabled_rules(self) -> list[CleanupRule]:
        return [RULES[r] for r in sorted(self.rules or RULES)]


@dataclass
class Resource:
    arn: str
    resource_type: str
    resource_id: str
    name: str | None
    region: str
    tags: dict[str, str]
    config: dict[str, Any]
    created: dt.datetime | None

    @property
    def label(self) -> str:
        return self.name or self.resource_id

    def age_days(self, as_of: dt.date) -> int | None:
        """Whole days from creation to the snapshot's day; 0 for a resource created after it (a collection
        inside the grace period sees those)."""
        return None if self.created is None else max(0, (as_of - self.created.date()).days)


@dataclass(frozen=True)
class PlanContext:
    """What a rule may know beyond the resource: the day, the settings, who references what."""

    as_of: dt.date
    settings: CleanupSettings
    # Target ARN -> the (source ARN, via field) pairs that reference it.
    referenced_by: Mapping[str, tuple[tuple[str, str], ...]]
    volumes: Mapping[str, Resource]


@dataclass(frozen=True)
class Match:
    reason: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CleanupRule:
    rule_id: str
    title: str
    description: str
    # Empty: every type.
    resource_types: tuple[str, ...]
    evaluate: Callable[[Resource, PlanContext], Match | None]
    # True when the rule relies on nothing referencing the resource: an incomplete inventory cannot prove that.
    reference_based: bool = False
    # True when a reference from a resource outside the plan means the resource is still in use.
    in_use_protects: bool = False


RULES: dict[str, CleanupRule] = {}


def rule(*, title: str, description: str, resource_types: Iterable[str] = (), reference_based: bool = False,
         in_use_protects: bool = False) -> Callable[[Callable[[Resource, PlanContext], Match | None]], CleanupRule]:
    """Register a rule; its id is the function's name."""

    def register(fn: Callable[[Resource, PlanContext], Match | None]) -> CleanupRule:
        declared = CleanupRule(fn.__name__, title, description, tuple(resource_types), fn, reference_based,
                               in_use_protects)
        if declared.rule_id in RULES:
            raise ValueError(f"cleanup rule {declared.rule_id} is declared twice")
        RULES[declared.rule_id] = declared
        return declared

    return register


# --- rules ---------------------------------------------------------------------------------------------------


@rule(title="Unattached EBS volume", resource_types=[VOLUME_TYPE],
      description="An EBS volume in state `available` with no attachments: billed for storage, used by nothing.")
def ebs_volume_unattached(res: Resource, ctx: PlanContext) -> Match | None:
    state = res.config.get("State")
    attachments = res.config.get("Attachments") or []
    if state != "available" or attachments:
        return None
    return Match(f"Volume {res.label} is attached to no instance (state {state})",
                 {"State": state, "Attachments": attachments, "Size": res.config.get("Size"),
                  "VolumeType": res.config.get("VolumeType")})


@rule(title="Unused Elastic IP", resource_types=["AWS::EC2::EIP"], reference_based=True,
      description="An Elastic IP associated with no instance or network interface and used by no NAT gateway or "
                  "load balancer: idle addresses are billed by the hour.")
def ec2_eip_unassociated(res: Resource, ctx: PlanContext) -> Match | None:
    fields = {k: res.config.get(k) for k in ("AssociationId", "InstanceId", "NetworkInterfaceId")}
    if any(fields.values()) or ctx.referenced_by.get(res.arn):
        return None
    address = res.config.get("PublicIp") or res.resource_id
    return Match(f"Elastic IP {address} is associated with nothing and referenced by no resource",
                 {**fields, "PublicIp": res.config.get("PublicIp"), "referenced_by": []})


@rule(title="Unreferenced security group", resource_types=[SG_TYPE], reference_based=True,
      description="A security group (other than a VPC's `default` group) that no instance, network interface, "
                  "load balancer, database, function, endpoint, launch template or other group's rule references.")
def ec2_securitygroup_unreferenced(res: Resource, ctx: PlanContext) -> Match | None:
    if res.config.get("GroupName") == "default" or ctx.referenced_by.get(res.arn):
        return None
    return Match(f"Security group {res.label} is referenced by no resource and by no other group's rule",
                 {"GroupName": res.config.get("GroupName"), "VpcId": res.config.get("VpcId"), "referenced_by": []})


@rule(title="Long-stopped EC2 instance", resource_types=["AWS::EC2::Instance"],
      description="An instance stopped for at least `stopped_days` days (from the time in StateTransitionReason); "
                  "an instance whose stop time is not recorded is listed as stopped since unknown.")
def ec2_instance_stopped_long(res: Resource, ctx: PlanContext) -> Match | None:
    state = (res.config.get("State") or {}).get("Name")
    if state != "stopped":
        return None
    reason = res.config.get("StateTransitionReason") or ""
    since = stopped_since(reason)
    evidence: dict[str, Any] = {"State.Name": state, "StateTransitionReason": reason}
    if since is None:
        evidence["stopped_days"] = None
        return Match(f"Instance {res.label} is stopped, stopped since unknown (no time in StateTransitionReason); "
                     f"the {ctx.settings.stopped_days}-day threshold could not be checked", evidence)
    days = max(0, (ctx.as_of - since.date()).days)
    if days < ctx.settings.stopped_days:
        return None
    evidence["stopped_since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    evidence["stopped_days"] = days
    return Match(f"Instance {res.label} has been stopped for {days} days (since {since.date()})", evidence)


@rule(title="Old untagged resource", reference_based=True, in_use_protects=True,
      description="A resource with no tags at all, created at least `untagged_days` days ago, that nothing outside "
                  "the plan still references: nobody has claimed it.")
def resource_untagged_old(res: Resource, ctx: PlanContext) -> Match | None:
    if res.tags:
        return None
    age = res.age_days(ctx.as_of)
    if age is None or age < ctx.settings.untagged_days:
        return None
    created_field = CREATED_FIELDS[res.resource_type]
    return Match(f"{res.resource_type.rsplit('::', 1)[-1]} {res.label} has no tags and is {age} days old",
                 {"tags": {}, created_field: res.config.get(created_field), "age_days": age})


# --- helpers -------------------------------------------------------------------------------------------------


def stopped_since(reason: str) -> dt.datetime | None:
    """The time in `User initiated (2026-01-05 10:30:00 GMT)`; None when the reason carries none."""
    match = _STOP_TIME.search(reason or "")
    if not match:
        return None
    return dt.datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}+00:00")


def parse_time(value: Any) -> dt.datetime | None:
    """A canonical ISO-8601 timestamp (or date) as an aware datetime; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def monthly_estimate(res: Resource, volumes: Mapping[str, Resource]) -> float | None:
    """Storage of a volume, an idle address, or the volumes a stopped instance keeps paying for."""
    if res.resource_type == VOLUME_TYPE:
        return _volume_monthly(res.config)
    if res.resource_type == "AWS::EC2::EIP":
        return IDLE_EIP_MONTHLY
    if res.resource_type == "AWS::EC2::Instance":
        ids = [(m.get("Ebs") or {}).get("VolumeId") for m in res.config.get("BlockDeviceMappings") or []]
        costs = [_volume_monthly(volumes[v].config) for v in ids if v in volumes]
        known = [c for c in costs if c is not None]
        return round(sum(known), 2) if known else None
    return None


def _volume_monthly(config: Mapping[str, Any]) -> float | None:
    price = EBS_MONTHLY_PER_GB.get(str(config.get("VolumeType")))
    size = config.get("Size")
    return round(price * size, 2) if price is not None and isinstance(size, int | float) else None


def _protect_tag(tags: Mapping[str, str], protect: Sequence[str]) -> str | None:
    wanted = {t.lower() for t in protect}
    for key in sorted(tags):
        if key.lower() in wanted and str(tags[key]).strip().lower() not in _OFF_VALUES:
            return f"{key}={tags[key]}"
    return None


def _incomplete_scopes(coverage: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Region -> the scopes there not collected completely (`global` scopes under "global")."""
    out: dict[str, list[str]] = {}
    for scope in coverage:
        if scope.get("status") != "ok":
            out.setdefault(scope.get("region", "global"), []).append(f"{scope.get('service')}/{scope.get('region')}")
    return out


# --- the plan ------------------------------------------------------------------------------------------------

_COLUMNS = ["arn", "resource_type", "resource_id", "name", "region", "tags", "configuration"]


def _untagged_mask(table: pa.Table) -> pa.ChunkedArray:
    """True where the tags map is empty (Arrow has no length kernel for maps: compare neighbouring offsets)."""
    chunks = []
    for chunk in table.column("tags").chunks:
        offsets = chunk.offsets
        chunks.append(pc.equal(pc.subtract(offsets.slice(1), offsets.slice(0, len(offsets) - 1)), 0))
    return pa.chunked_array(chunks, type=pa.bool_())


def _resources(snapshot: pa.Table, rules: Sequence[CleanupRule]) -> list[Resource]:
    """Only the rows some rule can match: typed rules' types, plus untagged rows for untyped rules.

    Volumes always come along: a stopped instance's estimate is the storage of its volumes.
    """
    typed = sorted({t for r in rules for t in r.resource_types} | {VOLUME_TYPE})
    mask = pc.is_in(snapshot.column("resource_type"), value_set=pa.array(typed, pa.string()))
    if any(not r.resource_types for r in rules):
        mask = pc.or_(mask, _untagged_mask(snapshot))
    out = []
    for row in snapshot.select(_COLUMNS).filter(mask).to_pylist():
        config = json.loads(row["configuration"]) if row["configuration"] else {}
        created_field = CREATED_FIELDS.get(row["resource_type"])
        out.append(Resource(row["arn"], row["resource_type"], row["resource_id"], row["name"], row["region"],
                            dict(row["tags"] or []), config,
                            parse_time(config.get(created_field)) if created_field else None))
    return out


def reference_index(resources: Sequence[Resource], relationships: pa.Table | None, snapshot: pa.Table
                    ) -> dict[str, tuple[tuple[str, str], ...]]:
    """Target ARN -> (source ARN, via) for every reference to one of `resources`.

    From the dependency index (edges whose target is named by ARN or by the service's id) plus
    security-group rules that name another group, which the index does not hold.
    """
    keys: dict[tuple[str, str], str] = {}
    for res in resources:
        keys[(res.resource_type, res.arn)] = res.arn
        keys[(res.resource_type, res.resource_id)] = res.arn
    found: dict[str, set[tuple[str, str]]] = {}
    if relationships is not None and relationships.num_rows:
        refs = pa.array(sorted({ref for _, ref in keys}), pa.string())
        edges = relationships.filter(pc.is_in(relationships.column("target_ref"), value_set=refs))
        for edge in edges.to_pylist():
            target = keys.get((edge["target_type"], edge["target_ref"]))
            if target is not None and edge["source_arn"] != target:
                found.setdefault(target, set()).add((edge["source_arn"], edge["relation"]))
    groups = snapshot.filter(pc.equal(snapshot.column("resource_type"), SG_TYPE)).select(["arn", "configuration"])
    for row in groups.to_pylist():
        config = json.loads(row["configuration"]) if row["configuration"] else {}
        for direction in ("IpPermissions", "IpPermissionsEgress"):
            for item in config.get(direction) or []:
                if item.get("SourceType") != "security-group":
                    continue
                target = keys.get((SG_TYPE, str(item.get("Source"))))
                if target is not None and target != row["arn"]:
                    found.setdefault(target, set()).add((row["arn"], f"{direction}[].Source"))
    return {arn: tuple(sorted(pairs)) for arn, pairs in found.items()}


@dataclass
class _Entry:
    res: Resource
    matches: dict[str, Match] = field(default_factory=dict)
    protections: list[dict[str, str]] = field(default_factory=list)


def build_cleanup_plan(snapshot: pa.Table, relationships: pa.Table | None, *, account_id: str, date: str,
                       coverage: Sequence[Mapping[str, Any]] = (), settings: CleanupSettings | None = None
                       ) -> dict[str, Any]:
    """cleanup_plan.json: candidates in deletion order with evidence, protected resources with the reason."""
    settings = settings or CleanupSettings()
    as_of = dt.date.fromisoformat(date)
    rules = settings.enabled_rules()
    resources = _resources(snapshot, rules)
    referenced_by = reference_index(resources, relationships, snapshot)
    volumes = {r.resource_id: r for r in resources if r.resource_type == VOLUME_TYPE}
    ctx = PlanContext(as_of, settings, referenced_by, volumes)
    entries: dict[str, _Entry] = {}
    for res in resources:
        for declared in rules:
            if declared.resource_types and res.resource_type not in declared.resource_types:
                continue
            if not declared.resource_types and res.resource_type not in CREATED_FIELDS:
                continue
            match = declared.evaluate(res, ctx)
            if match is not None:
                entries.setdefault(res.arn, _Entry(res)).matches[declared.rule_id] = match
    incomplete = _incomplete_scopes(coverage)
    for entry in entries.values():
        _static_protections(entry, settings, as_of, incomplete)
        if relationships is None and all(RULES[r].reference_based for r in entry.matches):
            entry.protections.append({"kind": "incomplete_inventory",
                                      "detail": "no dependency index is stored for this snapshot, so references "
                                                "to it cannot be checked; re-materialise inventory_snapshot"})
    _protect_in_use(entries, referenced_by)
    actionable = sorted(arn for arn, e in entries.items() if not e.protections)
    steps, cycles = deletion_steps(actionable, referenced_by)
    candidates = [_candidate(entries[arn], steps[arn], arn in cycles, referenced_by, volumes)
                  for arn in sorted(actionable, key=lambda a: (steps[a], entries[a].res.resource_type, a))]
    protected = [_protected(e, referenced_by) for arn, e in sorted(entries.items()) if e.protections]
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "account_id": account_id,
        "date": date,
        "deletes_nothing": True,
        "settings": {**asdict(settings), "rules": [r.rule_id for r in rules]},
        "rules": [{"id": r.rule_id, "title": r.title, "description": r.description} for r in rules],
        "summary": _summary(candidates, protected),
        "candidates": candidates,
        "protected": protected,
    }


def _static_protections(entry: _Entry, settings: CleanupSettings, as_of: dt.date,
                         incomplete: Mapping[str, list[str]]) -> None:
    res = entry.res
    tag = _protect_tag(res.tags, settings.protect_tags)
    if tag:
        entry.protections.append({"kind": "tag", "detail": f"protection tag {tag}"})
    if res.resource_type in settings.protected_types:
        entry.protections.append({"kind": "type", "detail": f"{res.resource_type} is a protected type"})
    age = res.age_days(as_of)
    if age is not None and age < settings.min_age_days:
        entry.protections.append({"kind": "min_age",
                                  "detail": f"{age} days old, younger than the minimum of {settings.min_age_days}"})
    if all(RULES[r].reference_based for r in entry.matches):
        # A regional resource is referenced from its region or from global types (IAM); a global one from anywhere.
        regions = incomplete if res.region == "global" else {k: v for k, v in incomplete.items()
                                                              if k in (res.region, "global")}
        scopes = sorted({s for region_scopes in regions.values() for s in region_scopes})
        if scopes:
            entry.protections.append({
                "kind": "incomplete_inventory",
                "detail": f"not collected completely ({', '.join(scopes)}), so references to it may be "
                          "missing"})


def _protect_in_use(entries: dict[str, _Entry], referenced_by: Mapping[str, tuple[tuple[str, str], ...]]) -> None:
    """Until nothing changes: a candidate kept only by in-use-sensitive rules and referenced from outside the
    plan is in use (protecting one can put another back in use, hence the loop)."""
    changed = True
    while changed:
        changed = False
        actionable = {arn for arn, e in entries.items() if not e.protections}
        for arn in sorted(actionable):
            entry = entries[arn]
            if not all(RULES[r].in_use_protects for r in entry.matches):
                continue
            users = sorted({src for src, _ in referenced_by.get(arn, ()) if src not in actionable})
            if users:
                shown = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
                entry.protections.append({"kind": "in_use", "detail": f"still referenced by {shown}"})
                changed = True


def deletion_steps(arns: Sequence[str], referenced_by: Mapping[str, tuple[tuple[str, str], ...]]
                   ) -> tuple[dict[str, int], set[str]]:
    """Step number per ARN (1 first) so every resource comes after those that reference it, and the ARNs
    in reference cycles (deleted together, in one step).

    A source referencing a target is deleted before the target. Cycles are found as strongly connected
    components and treated as one node; steps are the longest path in that acyclic graph, so every
    resource of one step can go in parallel.
    """
    nodes = sorted(arns)
    members = set(nodes)
    before: dict[str, set[str]] = {n: set() for n in nodes}  # node -> nodes that must go before it
    after: dict[str, set[str]] = {n: set() for n in nodes}
    for target in nodes:
        for source, _ in referenced_by.get(target, ()):
            if source in members and source != target:
                before[target].add(source)
                after[source].add(target)
    component = _components(nodes, after, before)
    comp_before: dict[str, set[str]] = {c: set() for c in set(component.values())}
    for node in nodes:
        for source in before[node]:
            if component[source] != component[node]:
                comp_before[component[node]].add(component[source])
    step: dict[str, int] = {}
    pending = dict(comp_before)
    while pending:
        ready = sorted(c for c, deps in pending.items() if all(d in step for d in deps))
        for c in ready:
            step[c] = 1 + max((step[d] for d in pending[c]), default=0)
            del pending[c]
    sizes: dict[str, int] = {}
    for node in nodes:
        sizes[component[node]] = sizes.get(component[node], 0) + 1
    cycles = {n for n in nodes if sizes[component[n]] > 1}
    return {n: step[component[n]] for n in nodes}, cycles


def _components(nodes: Sequence[str], succ: Mapping[str, set[str]], pred: Mapping[str, set[str]]) -> dict[str, str]:
    """Strongly connected components (Kosaraju, iterative), each named by its smallest member."""
    order: list[str] = []
    seen: set[str] = set()
    for start in nodes:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(succ[start])))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(sorted(succ[child]))))
                    break
            else:
                stack.pop()
                order.append(node)
    component: dict[str, str] = {}
    for root in reversed(order):
        if root in component:
            continue
        group = [root]
        component[root] = root
        todo = [root]
        while todo:
            for other in pred[todo.pop()]:
                if other not in component:
                    component[other] = root
                    group.append(other)
                    todo.append(other)
        name = min(group)
        for member in group:
            component[member] = name
    return component


def _references(arn: str, referenced_by: Mapping[str, tuple[tuple[str, str], ...]]) -> list[dict[str, str]]:
    return [{"arn": src, "via": via} for src, via in referenced_by.get(arn, ())[:MAX_LISTED_REFERENCES]]


def _base(entry: _Entry) -> dict[str, Any]:
    res = entry.res
    return {
        "arn": res.arn, "resource_type": res.resource_type, "resource_id": res.resource_id, "name": res.name,
        "region": res.region, "rules": sorted(entry.matches),
        "reasons": [entry.matches[r].reason for r in sorted(entry.matches)],
        "evidence": {r: entry.matches[r].evidence for r in sorted(entry.matches)},
    }


def _candidate(entry: _Entry, step: int, in_cycle: bool, referenced_by: Mapping[str, tuple[tuple[str, str], ...]],
               volumes: Mapping[str, Resource]) -> dict[str, Any]:
    return {"step": step, **_base(entry), "in_cycle": in_cycle,
            "estimated_monthly_usd": monthly_estimate(entry.res, volumes),
            "referenced_by": _references(entry.res.arn, referenced_by)}


def _protected(entry: _Entry, referenced_by: Mapping[str, tuple[tuple[str, str], ...]]) -> dict[str, Any]:
    return {**_base(entry), "protections": entry.protections,
            "referenced_by": _references(entry.res.arn, referenced_by)}


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def _summary(candidates: Sequence[Mapping[str, Any]], protected: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    estimates = [c["estimated_monthly_usd"] for c in candidates if c["estimated_monthly_usd"] is not None]
    return {
        "candidates": len(candidates),
        "protected": len(protected),
        "steps": max((c["step"] for c in candidates), default=0),
        "by_rule": _count(r for c in candidates for r in c["rules"]),
        "by_type": _count(c["resource_type"] for c in candidates),
        "protected_by_kind": _count(p["kind"] for e in protected for p in e["protections"]),
        "estimated_monthly_usd": round(sum(estimates), 2),
        "estimated_items": len(estimates),
    }


# --- Markdown ------------------------------------------------------------------------------------------------


def _md(value: Any) -> str:
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Mapping[str, Any]) -> str:
    """cleanup_plan.md: the plan a reviewer reads before anyone deletes anything by hand."""
    s = plan["summary"]
    out = [
        f"# Cleanup plan — account {plan['account_id']}, {plan['date']}",
        "",
        "This plan deletes nothing. It lists what could be removed, in an order that never removes a resource "
        "while another still references it, and what is protected.",
        "",
        f"- Candidates: **{s['candidates']}** in {s['steps']} step(s); protected: **{s['protected']}**",
        f"- Estimated monthly saving: **${s['estimated_monthly_usd']:.2f}** for {s['estimated_items']} item(s) "
        "(us-east-1 list prices for EBS storage and idle Elastic IPs only)",
        "- Thresholds: stopped ≥ {stopped_days} days, untagged ≥ {untagged_days} days, minimum age "
        "{min_age_days} days".format(**plan["settings"]),
        "",
        "## Candidates, in deletion order",
        "",
    ]
    if plan["candidates"]:
        out += ["| step | type | resource | region | why | est. $/month |", "|---:|---|---|---|---|---:|"]
        for c in plan["candidates"]:
            est = "-" if c["estimated_monthly_usd"] is None else f"{c['estimated_monthly_usd']:.2f}"
            step = f"{c['step']}{' (cycle)' if c['in_cycle'] else ''}"
            out.append(f"| {step} | {_md(c['resource_type'])} | {_md(c['name'] or c['resource_id'])} | "
                       f"{_md(c['region'])} | {_md('; '.join(c['reasons']))} | {est} |")
    else:
        out.append("No candidates.")
    out += ["", "## Protected", ""]
    if plan["protected"]:
        out += ["| type | resource | would be | protected because |", "|---|---|---|---|"]
        for p in plan["protected"]:
            out.append(f"| {_md(p['resource_type'])} | {_md(p['name'] or p['resource_id'])} | "
                       f"{_md(', '.join(p['rules']))} | {_md('; '.join(x['detail'] for x in p['protections']))} |")
    else:
        out.append("Nothing was held back.")
    out += ["", "## Rules", ""]
    out += [f"- `{r['id']}` — {r['title']}: {r['description']}" for r in plan["rules"]]
    return "\n".join(out) + "\n"
