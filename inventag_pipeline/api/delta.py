"""`DeltaDetector` and its report: the seed documents' change-detection API over `core.delta.DeltaEngine`.

The detector accepts what scripts have at hand (states loaded through `StateManager`, snapshot tables,
canonical records, or raw API payloads tagged with their CloudFormation type), turns them into snapshot
tables with the pipeline's own canonicalisation, and runs the same engine the `inventory_delta` asset
runs. The report exposes the seed's field names (`summary['added_count']`, `modified_resources`,
`change.attribute_path`, `severity.value` …) as views over the DESIGN §6 tables and summary.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.aws.collector import RawItem
from inventag_pipeline.core.canonical import (
    CanonicalRecord,
    canonical_record,
    format_timestamp,
    jsonable,
    redact_secrets,
)
from inventag_pipeline.core.classify import Classifier, Rule, load_rules_file
from inventag_pipeline.core.delta import DeltaEngine, DeltaResult
from inventag_pipeline.core.registry import GLOBAL_REGION, get_type
from inventag_pipeline.core.snapshot import column_problems, records_to_table, relationships_table
from inventag_pipeline.core.tagpolicy import load_policy

# --- the seed's enums ------------------------------------------------------------------------------------------


class _Value(str, Enum):
    """A string enum whose `.value` is the DESIGN string and which prints as it."""

    def __str__(self) -> str:
        return self.value


class ChangeSeverity(_Value):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class ChangeCategory(_Value):
    SECURITY = "security"
    NETWORK = "network"
    IAM = "iam"
    COMPLIANCE = "compliance"
    TAGS = "tags"
    CONFIGURATION = "configuration"
    OPERATIONAL = "operational"


class ChangeType(_Value):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    REPLACED = "replaced"


# --- the report --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeChange:
    """One row of attribute_changes.parquet, values decoded from their JSON strings."""

    arn: str
    path: str
    change: str  # added | removed | changed
    old_value: Any
    new_value: Any
    category: ChangeCategory
    severity: ChangeSeverity
    description: str

    @property
    def attribute_path(self) -> str:
        """The seed's name for `path`."""
        return self.path


@dataclass(frozen=True)
class ResourceChange:
    """One row of resource_changes.parquet with its attribute changes."""

    arn: str
    resource_type: str
    service: str
    region: str
    name: str | None
    change_type: ChangeType
    severity: ChangeSeverity
    categories: tuple[ChangeCategory, ...]
    attribute_change_count: int
    attribute_changes: tuple[AttributeChange, ...]


@dataclass(eq=False)
class DeltaReport:
    """The seed's delta report over one `DeltaResult` (DESIGN §6).

    `summary` is summary.json plus the seed's flat counts (`added_count`, `removed_count`,
    `modified_count`, `replaced_count`); `result` keeps the engine's tables and summary untouched.
    """

    result: DeltaResult
    state1_id: str | None = None
    state2_id: str | None = None
    # How the compared snapshots were collected (core.changelog.changelog_provenance), for the audit report.
    provenance: dict[str, Any] | None = None
    # The account's last days as trends.change_series points, for the changelog's charts.
    history: list[dict[str, Any]] | None = None
    generated_at: str = field(default_factory=lambda: format_timestamp(dt.datetime.now(dt.timezone.utc)))
    summary: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        counts = self.result.summary["counts"]["change_type"]
        self.summary = {**self.result.summary, **{f"{t}_count": counts.get(t, 0) for t in ChangeType}}

    @property
    def resource_changes(self) -> pa.Table:
        return self.result.resource_changes

    @property
    def attribute_changes(self) -> pa.Table:
        return self.result.attribute_changes

    @functools.cached_property
    def changes(self) -> tuple[ResourceChange, ...]:
        """Every resource change, in resource_changes.parquet order, each with its attribute changes."""
        by_arn: dict[str, list[AttributeChange]] = {}
        for row in self.result.attribute_changes.to_pylist():
            by_arn.setdefault(row["arn"], []).append(AttributeChange(
                arn=row["arn"], path=row["path"], change=row["change"], old_value=_decoded(row["old_value"]),
                new_value=_decoded(row["new_value"]), category=ChangeCategory(row["category"]),
                severity=ChangeSeverity(row["severity"]), description=row["description"]))
        return tuple(
            ResourceChange(
                arn=row["arn"], resource_type=row["resource_type"], service=row["service"], region=row["region"],
                name=row["name"], change_type=ChangeType(row["change_type"]),
                severity=ChangeSeverity(row["severity"]),
                categories=tuple(ChangeCategory(c) for c in row["categories"] or ()),
                attribute_change_count=row["attribute_change_count"] or 0,
                attribute_changes=tuple(by_arn.get(row["arn"], ())))
            for row in self.result.resource_changes.to_pylist())

    def _of_type(self, change_type: ChangeType) -> list[ResourceChange]:
        return [c for c in self.changes if c.change_type is change_type]

    @property
    def added_resources(self) -> list[ResourceChange]:
        return self._of_type(ChangeType.ADDED)

    @property
    def removed_resources(self) -> list[ResourceChange]:
        return self._of_type(ChangeType.REMOVED)

    @property
    def modified_resources(self) -> list[ResourceChange]:
        return self._of_type(ChangeType.MODIFIED)

    @property
    def replaced_resources(self) -> list[ResourceChange]:
        """Deleted and re-created under a new ARN (DESIGN §6); the seed's three lists do not include these."""
        return self._of_type(ChangeType.REPLACED)

    @property
    def security_changes(self) -> dict[str, Any]:
        return self.result.summary["security_changes"]

    @property
    def network_changes(self) -> dict[str, Any]:
        return self.result.summary["network_changes"]

    @property
    def compliance_changes(self) -> dict[str, Any]:
        return self.result.summary["compliance_changes"]

    @property
    def cascade_risks(self) -> list[dict[str, Any]]:
        return self.result.summary["cascade_risks"]

    @property
    def unverified(self) -> list[dict[str, Any]]:
        return self.result.summary["unverified"]


def _decoded(value: str | None) -> Any:
    return None if value is None else json.loads(value)


# --- the detector ------------------------------------------------------------------------------------------------

# A bare field name (`timestamp`, `InstanceType`) rather than a path regex.
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def field_pattern(name: str) -> str:
    """The path regex for a seed field name: that field at any depth (`X`, `A.X`, `A[k].X`, `tags.X`).

    Anything else is taken as a DESIGN path regex, matched at the start of a change's path.
    """
    if _FIELD_NAME.match(name):
        return rf"(?:.*\.)?{re.escape(name)}(?:$|[.\[])"
    return name


def _severity_rule(key: str, value: Any) -> Rule:
    """A seed `severity_rules` entry as a classification rule tried before the defaults."""
    spec = {"severity": value} if isinstance(value, (str, ChangeSeverity)) else dict(value)
    spec["severity"] = str(ChangeSeverity(spec["severity"]))
    spec.setdefault("category", "configuration")
    spec.setdefault("description", "{field} {verb}: {old} → {new}")
    return Rule.from_dict({"name": f"severity_rules[{key}]", "path": field_pattern(key), **spec})


class DeltaDetector:
    """Detects changes between two inventory states with the pipeline's delta engine and rules.

    `ignore_metadata_fields` and the keys of `severity_rules` are field names (matched at any depth) or
    path regexes; `severity_rules` values are a severity, or a mapping with `severity` and optionally
    `category`, `description`, `types`, `changes`, `when` (a classification rule, DESIGN's rules file).
    Rules from `rules` / `rules_file` (default INVENTAG_DELTA_RULES_FILE, as the pipeline) come after
    them and before the built-in rules. `required_tags` (default: the tag policy's, INVENTAG_TAG_POLICY_FILE)
    drive the compliance figures.
    """

    def __init__(self, ignore_metadata_fields: Iterable[str] = (), severity_rules: Mapping[str, Any] | None = None,
                 *, rules: Sequence[Rule | Mapping[str, Any]] = (), rules_file: str | None = None,
                 required_tags: Sequence[str] | None = None):
        user_rules = [_severity_rule(k, v) for k, v in (severity_rules or {}).items()]
        file_rules: tuple[Rule, ...] = ()
        file_ignore: tuple[str, ...] = ()
        path = rules_file or os.environ.get("INVENTAG_DELTA_RULES_FILE")
        if path:
            file_rules, file_ignore = load_rules_file(path)
        user_rules += [r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules]
        ignore = [field_pattern(f) for f in ignore_metadata_fields]
        self.classifier = Classifier().with_overrides([*user_rules, *file_rules], [*ignore, *file_ignore])
        if required_tags is None:
            required_tags = load_policy(os.environ.get("INVENTAG_TAG_POLICY_FILE") or None).required_keys
        self.required_tags = tuple(required_tags)

    def engine(self, required_tags: Sequence[str] | None = None) -> DeltaEngine:
        """The engine with this detector's rules (what `StateManager.save_state` computes the day's delta with)."""
        return DeltaEngine(self.classifier, required_tags or self.required_tags)

    def detect_changes(self, old_resources: Any, new_resources: Any, state1_id: str | None = None,
                       state2_id: str | None = None, *, account_id: str | None = None) -> DeltaReport:
        """The delta of `new_resources` against `old_resources` (None: a first snapshot).

        Each side is a state from `StateManager` (`load_state(...)`, `.resources`, or a comparison's
        `['resources']`: then the snapshots' coverage and relationships are used too), a snapshot table,
        or a sequence of canonical records, snapshot records (dicts with `arn` and `configuration`) or raw
        items (`{"resource_type": "AWS::EC2::Instance", "region": ..., "payload": {...}}`; these need
        `account_id`, per item or here).
        """
        old, new = _side(old_resources, account_id), _side(new_resources, account_id)
        if new is None:
            raise ValueError("new_resources is required (old_resources may be None for a first snapshot)")
        new_date = new.date or _date_of(state2_id) or dt.datetime.now(dt.timezone.utc).date().isoformat()
        old_date = None if old is None else old.date or _date_of(state1_id) or "previous state"
        result = self.engine().compute(
            None if old is None else old.table, new.table,
            old_coverage=old.coverage if old else (), new_coverage=new.coverage,
            previous_date=old_date, date=new_date,
            old_relationships=old.relationships if old else None, new_relationships=new.relationships)
        result.summary["account_id"] = new.account_id
        return DeltaReport(result, state1_id if state1_id is not None else old.state_id if old else None,
                           state2_id if state2_id is not None else new.state_id,
                           provenance=new.provenance(old), history=new.history(result.summary))


def _date_of(state_id: str | None) -> str | None:
    """The date of a `ACCOUNT|YYYY-MM-DD` state id; any other id is used as the date label as it is."""
    if state_id is None:
        return None
    return state_id.split("|", 1)[1] if "|" in state_id else state_id


@dataclass
class Side:
    """One side of a comparison as the engine takes it, with what a stored state adds."""

    table: pa.Table
    coverage: Sequence[Mapping[str, Any]] = ()
    relationships: pa.Table | None = None
    state_id: str | None = None
    date: str | None = None
    account_id: str = ""
    stored: Any = None  # a StateResources, when the side came from the store

    def provenance(self, old: Side | None) -> dict[str, Any] | None:
        return self.stored.provenance(old.stored if old else None) if self.stored is not None else None

    def history(self, summary: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        return self.stored.history(summary) if self.stored is not None else None


def _side(resources: Any, account_id: str | None) -> Side | None:
    if resources is None:
        return None
    as_side = getattr(resources, "as_side", None)  # StateSnapshot and StateResources
    if as_side is not None:
        return as_side()
    if isinstance(resources, pa.Table):
        problems = column_problems(resources.schema)
        if problems:
            raise ValueError("not a snapshot table (DESIGN §5): " + "; ".join(problems))
        return Side(resources, account_id=_single_account(resources))
    if isinstance(resources, (str, bytes, Mapping)) or not isinstance(resources, Iterable):
        raise TypeError(f"expected a state, a snapshot table or a sequence of resources, not {type(resources)}")
    now = format_timestamp(dt.datetime.now(dt.timezone.utc))
    records = [to_record(r, account_id, now) for r in resources]
    table = records_to_table(records)
    return Side(table, relationships=relationships_table(records), account_id=_single_account(table))


def _single_account(table: pa.Table) -> str:
    accounts = pc.unique(table.column("account_id")).to_pylist()
    return accounts[0] if len(accounts) == 1 and accounts[0] else ""


_RECORD_FIELDS = tuple(CanonicalRecord.__dataclass_fields__)


def raw_item(item: Any) -> RawItem:
    """A raw item as the collector yields it: JSON values only, the type's secrets redacted, region resolved."""
    if isinstance(item, RawItem):
        item = {"resource_type": item.resource_type, "region": item.region, "payload": item.payload,
                "source": item.source}
    rtype = get_type(item["resource_type"])
    payload = redact_secrets(jsonable(item["payload"]), rtype.secret_paths)
    region = item.get("region")
    if not region and rtype.region_field and payload.get(rtype.region_field):
        region = str(payload[rtype.region_field])
    if not region and rtype.is_global:
        region = GLOBAL_REGION
    if not region:
        raise ValueError(f"raw item of regional type {rtype.cfn_type} has no region")
    return RawItem(rtype.cfn_type, region, payload, item.get("source", "api"))


def to_record(item: Any, account_id: str | None, collected_at: str) -> CanonicalRecord:
    """A canonical record from a record, a snapshot record (`load_state` rows) or a raw item."""
    if isinstance(item, CanonicalRecord):
        return item
    if not isinstance(item, (Mapping, RawItem)):
        raise TypeError(f"a resource must be a mapping, a RawItem or a CanonicalRecord, not {type(item).__name__}")
    if isinstance(item, RawItem) or "payload" in item:
        account = (item.get("account_id") if isinstance(item, Mapping) else None) or account_id
        if not account:
            raise ValueError("raw items need an account_id (per item or detect_changes(account_id=...))")
        raw = raw_item(item)
        return canonical_record(get_type(raw.resource_type), raw.payload, account_id=str(account),
                                region=raw.region, collected_at=collected_at, source=raw.source)
    missing = [f for f in _RECORD_FIELDS if f not in item]
    if missing:
        raise ValueError(f"resource {item.get('arn', '?')!r} is neither a raw item (resource_type, region, payload) "
                         f"nor a snapshot record: missing {missing}")
    values = {f: item[f] for f in _RECORD_FIELDS}
    if isinstance(values["configuration"], str):
        values["configuration"] = json.loads(values["configuration"])
    values["tags"] = dict(values["tags"] or {})
    if isinstance(values["collected_at"], dt.datetime):
        values["collected_at"] = format_timestamp(values["collected_at"])
    return CanonicalRecord(**values)
