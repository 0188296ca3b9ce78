"""The delta between two snapshots (DESIGN §6).

Rows are matched by a vectorised join on ARN and content hash; only rows whose hash differs are
parsed and diffed. Resources in a (service, region) scope that was not collected completely on
either side are never reported added or removed: they are listed as unverified instead.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from inventag_pipeline.core.arn import arn_account
from inventag_pipeline.core.canonical import KeyResolver, parse_json, strip_paths_in_place, value_json
from inventag_pipeline.core.classify import SEVERITY_RANK, Classification, Classifier, Context, max_severity
from inventag_pipeline.core.compliance import required_tags_mask
from inventag_pipeline.core.diff import AttributeChange, diff_documents
from inventag_pipeline.core.forked import map_forked
from inventag_pipeline.core.gcpause import paused_gc
from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS, GLOBAL_REGION, REGISTRY
from inventag_pipeline.core.snapshot import strictly_increasing, unverified_scopes

RESOURCE_CHANGES_SCHEMA = pa.schema(
    [
        pa.field("arn", pa.string(), nullable=False),
        pa.field("resource_type", pa.string()),
        pa.field("service", pa.string()),
        pa.field("region", pa.string()),
        pa.field("name", pa.string()),
        pa.field("change_type", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("categories", pa.list_(pa.string())),
        pa.field("attribute_change_count", pa.int32()),
    ]
)

ATTRIBUTE_CHANGES_SCHEMA = pa.schema(
    [
        pa.field("arn", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("change", pa.string()),
        pa.field("old_value", pa.string()),
        pa.field("new_value", pa.string()),
        pa.field("category", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("description", pa.string()),
    ]
)

CHANGE_TYPES = ("added", "removed", "modified", "replaced")
_KEY_COLUMNS = ["arn", "content_hash", "resource_type", "service", "region", "name", "resource_id", "tags"]
_ROW_FIELDS = ("arn", "resource_type", "service", "region", "name")
_SECURITY_CATEGORIES = {"security", "iam"}
_RISK_CATEGORIES = {"security", "iam", "network"}
# Types whose disappearance matters even when nothing depends on them.
_SENSITIVE_REMOVALS = {"AWS::KMS::Key": "high", "AWS::IAM::Role": "medium", "AWS::IAM::ManagedPolicy": "medium",
                       "AWS::IAM::User": "medium", "AWS::EC2::SecurityGroup": "medium",
                       "AWS::RDS::DBInstance": "medium", "AWS::DynamoDB::Table": "medium",
                       "AWS::S3::Bucket": "medium"}
CAP_LIST = 50
_ROWS_PER_WORKER = 200_000


@dataclass
class DeltaResult:
    resource_changes: pa.Table
    attribute_changes: pa.Table
    summary: dict[str, Any]


@dataclass
class DeltaPart:
    """One ARN range's share of a delta, as a worker returns it (plain, picklable values)."""

    modified: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)  # rated, before pairing into `replaced`
    removed: list[dict[str, Any]] = field(default_factory=list)  # records, before pairing
    suppressed: dict[str, int] = field(default_factory=lambda: {"added": 0, "removed": 0})
    added_hints: dict[tuple, list[str]] = field(default_factory=dict)
    removed_hints: dict[tuple, list[str]] = field(default_factory=dict)
    added_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    old_compliant: int = 0
    new_compliant: int = 0
    newly_compliant: list[str] = field(default_factory=list)
    newly_non_compliant: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArnRange:
    """Row positions [start, stop) of one ARN range in each snapshot."""

    old_start: int
    old_stop: int
    new_start: int
    new_stop: int


class SnapshotRows:
    """A snapshot's key columns in memory; `configuration` fetched only for the rows asked for.

    At a million resources the configuration column is over a gigabyte while a day changes a few
    percent of rows, so a Parquet-backed snapshot reads it row group by row group and keeps only
    the requested rows.
    """

    def __init__(self, keys: pa.Table, fetch: Callable[[np.ndarray], list[str]]):
        self.keys = keys
        self._fetch = fetch  # sorted row positions -> their configurations, in order
        self._cache: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_table(cls, table: pa.Table) -> SnapshotRows:
        keys = table.select([c for c in _KEY_COLUMNS if c in table.column_names])

        def fetch(positions: np.ndarray) -> list[str]:
            return table.column("configuration").take(pa.array(positions)).to_pylist()

        return cls(keys, fetch)

    @classmethod
    def from_parquet(cls, source: Any) -> SnapshotRows:
        """`source`: a path or a `pyarrow.BufferReader` over already checksum-verified bytes."""
        # Low-cardinality columns stay dictionary-encoded: a few bytes per row instead of a string.
        parquet = pq.ParquetFile(source, read_dictionary=["resource_type", "service", "region"])
        keys = parquet.read(columns=_KEY_COLUMNS)
        metadata = parquet.metadata
        group_starts = np.cumsum([0] + [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])

        def fetch(positions: np.ndarray) -> list[str]:
            # Only the row groups holding wanted rows, streamed batch by batch: one batch of decoded
            # configurations is in memory at a time, and each keeps just the wanted rows. The file
            # is opened again here, so a forked worker never shares the parent's reader.
            first = int(np.searchsorted(group_starts, positions[0], side="right")) - 1
            last = int(np.searchsorted(group_starts, positions[-1], side="right")) - 1
            reader = pq.ParquetFile(source) if isinstance(source, str) else parquet
            out: list[str] = []
            start = int(group_starts[first])
            for batch in reader.iter_batches(batch_size=16_384, columns=["configuration"],
                                             row_groups=range(first, last + 1)):
                end = start + batch.num_rows
                lo, hi = np.searchsorted(positions, [start, end])
                if hi > lo:
                    out += batch.column(0).take(pa.array(positions[lo:hi] - start)).to_pylist()
                start = end
                if hi == len(positions):
                    break
            return out

        return cls(keys, fetch)

    @property
    def num_rows(self) -> int:
        return self.keys.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.keys.column(name)

    def prefetch(self, arns: Sequence[str]) -> None:
        """Read the given rows' configurations in one pass over the file, for later `rows()` calls."""
        missing = [a for a in dict.fromkeys(arns) if a not in self._cache]
        if not missing:
            return
        found = pc.index_in(self.keys.column("arn"), value_set=pa.array(missing, pa.string()))
        self.prefetch_positions(np.flatnonzero(_as_numpy(pc.is_valid(found))))

    def prefetch_positions(self, positions: np.ndarray) -> None:
        """Like `prefetch`, addressed by row position (no ARN lookup at all)."""
        positions = np.unique(np.asarray(positions, dtype=np.int64))
        if not len(positions):
            return
        configs = self._fetch(positions)
        picked = self.keys.select(["arn", "tags"]).take(pa.array(positions))
        for arn, tags, conf in zip(picked.column("arn").to_pylist(), picked.column("tags").to_pylist(), configs,
                                   strict=True):
            self._cache[arn] = {"arn": arn, "configuration": conf, "tags": tags}

    def rows(self, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
        """{arn: {arn, configuration, tags}} for the given ARNs."""
        self.prefetch(arns)
        return {arn: self._cache[arn] for arn in arns if arn in self._cache}


def as_snapshot_rows(value: pa.Table | SnapshotRows | None) -> SnapshotRows | None:
    if value is None or isinstance(value, SnapshotRows):
        return value
    return SnapshotRows.from_table(value)


def _records(keys: pa.Table, mask: pa.Array | pa.ChunkedArray) -> list[dict[str, Any]]:
    return keys.filter(mask).select(list(_ROW_FIELDS)).to_pylist()


def _as_numpy(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow to NumPy without `ChunkedArray.to_numpy`, which imports pandas (a quarter second)."""
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return mask.to_numpy(zero_copy_only=False)


def _scope_mask(keys: pa.Table, scopes: set[tuple[str, str]]) -> pa.Array:
    """True where a row's (service, region) - or its service's global scope - was not verified."""
    if not scopes or keys.num_rows == 0:
        return pa.array(np.zeros(keys.num_rows, dtype=bool))
    service, region = (pc.cast(keys.column(c), pa.string()) for c in ("service", "region"))
    own = pc.binary_join_element_wise(service, region, "|")
    glob = pc.binary_join_element_wise(service, pa.scalar(GLOBAL_REGION), "|")
    wanted = pa.array(sorted(f"{s}|{r}" for s, r in scopes), pa.string())
    return pc.or_(pc.is_in(own, value_set=wanted), pc.is_in(glob, value_set=wanted))


def _skeleton(value: Any) -> Any:
    """The empty shape of a document, so an added resource diffs leaf by leaf and item by item."""
    if isinstance(value, Mapping):
        return {k: _skeleton(v) for k, v in value.items() if isinstance(v, (Mapping, list))}
    if isinstance(value, list):
        return []
    return None


def _document(row: Mapping[str, Any], volatile: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    config = parse_json(row["configuration"])
    if volatile:
        strip_paths_in_place(config, volatile)
    tags = dict(row["tags"] or [])
    return config, tags


class DeltaEngine:
    """Computes a delta with one classifier; reusable across partitions."""

    def __init__(self, classifier: Classifier | None = None, required_tags: Sequence[str] = DEFAULT_REQUIRED_TAGS):
        self.classifier = classifier or Classifier()
        self.required_tags = tuple(required_tags)
        self._risk_patterns: dict[str, re.Pattern[str] | None] = {}

    # --- attribute level --------------------------------------------------------------------

    def _context(self, arn: str, document: Mapping[str, Any] | None = None) -> Context:
        return Context(account_id=arn_account(arn), required_tags=self.required_tags, new_document=document)

    def attribute_changes(self, resource_type: str, old: Mapping[str, Any], new: Mapping[str, Any],
                          arn: str = "") -> list[tuple[AttributeChange, Any]]:
        rtype = REGISTRY.get(resource_type)
        keys = KeyResolver(rtype)
        volatile = rtype.volatile_paths if rtype else ()
        old_config, old_tags = _document(old, volatile) if old else ({}, {})
        new_config, new_tags = _document(new, volatile) if new else ({}, {})
        ctx = self._context(arn or (new or {}).get("arn") or (old or {}).get("arn") or "", new_config)
        changes = diff_documents(old_config, new_config, keys)
        changes += diff_documents(old_tags, new_tags, keys, prefix="tags")
        out = []
        for change in changes:
            if self.classifier.ignored(change.path):
                continue
            out.append((change, self.classifier.classify(resource_type, change, ctx)))
        return out

    def _risk_pattern(self, resource_type: str) -> re.Pattern[str] | None:
        """One regex of every rule that could make a new resource of this type high or critical."""
        if resource_type not in self._risk_patterns:
            paths = [r.path for r in self.classifier.rules_for(resource_type)
                     if r.category in _RISK_CATEGORIES and SEVERITY_RANK[r.severity] >= SEVERITY_RANK["high"]]
            self._risk_patterns[resource_type] = re.compile("|".join(f"(?:{p})" for p in paths)) if paths else None
        return self._risk_patterns[resource_type]

    def _risk_of_new_resource(self, resource_type: str, row: Mapping[str, Any], arn: str = ""
                              ) -> tuple[str, list[str], list[str]]:
        """Rate an added resource by what it is: diff it against its own empty shape.

        Only leaves that a high-risk rule could match are classified; types with no such rule
        (an empty queue) are low without parsing their configuration.
        """
        pattern = self._risk_pattern(resource_type)
        if pattern is None:
            return "low", [], []
        rtype = REGISTRY.get(resource_type)
        config, _tags = _document(row, rtype.volatile_paths if rtype else ())
        ctx = self._context(arn, config)
        severities, categories, reasons = [], [], []
        for change in diff_documents(_skeleton(config), config, KeyResolver(rtype)):
            if not pattern.match(change.path):
                continue
            verdict = self.classifier.classify(resource_type, change, ctx)
            if verdict.category in _RISK_CATEGORIES and SEVERITY_RANK[verdict.severity] >= SEVERITY_RANK["high"]:
                severities.append(verdict.severity)
                categories.append(verdict.category)
                reasons.append(verdict.description)
        return max_severity(severities, default="low"), sorted(set(categories)), reasons

    # --- resource level ---------------------------------------------------------------------

    @paused_gc()
    def compute(
        self,
        old: pa.Table | SnapshotRows | None,
        new: pa.Table | SnapshotRows,
        *,
        old_coverage: Sequence[Mapping[str, Any]] = (),
        new_coverage: Sequence[Mapping[str, Any]] = (),
        previous_date: str | None = None,
        date: str | None = None,
        new_relationships: pa.Table | None = None,
        old_relationships: pa.Table | None = None,
        workers: int | None = None,
    ) -> DeltaResult:
        """The delta of `new` against `old` (None: a first snapshot, nothing changed).

        Large snapshots sorted by ARN are cut into ARN ranges diffed on separate cores (`workers`,
        default `INVENTAG_DELTA_WORKERS` or the CPU count, at most 2 per 200 000 rows); the result
        is the same for any number of workers.
        """
        old_rows, new_rows = as_snapshot_rows(old), as_snapshot_rows(new)
        assert new_rows is not None
        unverified = unverified_scopes(old_coverage, new_coverage) if old_rows is not None else unverified_scopes(
            (), new_coverage)
        scopes = {(u["service"], u["region"]) for u in unverified}

        rows: list[dict[str, Any]] = []
        attr_rows: list[dict[str, Any]] = []
        if old_rows is None:
            new_mask = required_tags_mask(new_rows.column("tags"), self.required_tags)
            parts = [DeltaPart(new_compliant=int(new_mask.sum()))]
        else:
            ranges = _arn_ranges(old_rows, new_rows, _worker_count(workers, new_rows.num_rows))
            parts = map_forked(lambda r: self._delta_part(old_rows, new_rows, r, scopes), ranges, len(ranges))
            for part in parts:
                rows += part.modified
                attr_rows += part.attributes
            rows += self._replacements_and_leftovers(parts, attr_rows)
        resource_changes = _resource_table(rows)
        attr_rows.sort(key=lambda a: (a["arn"], a["path"]))  # independent of input row order
        attribute_changes = pa.Table.from_pylist(attr_rows, schema=ATTRIBUTE_CHANGES_SCHEMA)
        summary = self._summary(
            rows, attr_rows, old_rows, new_rows, parts, previous_date, date, unverified,
            old_relationships, new_relationships,
        )
        return DeltaResult(resource_changes, attribute_changes, summary)

    def _delta_part(self, old: SnapshotRows, new: SnapshotRows, bounds: ArnRange,
                    scopes: set[tuple[str, str]]) -> DeltaPart:
        """Everything about one ARN range that needs configurations: runs in a worker process."""
        o = old.keys.slice(bounds.old_start, bounds.old_stop - bounds.old_start)
        n = new.keys.slice(bounds.new_start, bounds.new_stop - bounds.new_start)
        # Vectorised join: each new row's position in the old range (null when absent). One hash
        # table; the old rows nobody matched are the removed ones.
        position = pc.index_in(n.column("arn"), value_set=o.column("arn"))
        in_old = pc.is_valid(position)
        old_hash = pc.take(o.column("content_hash"), position)
        modified_mask = pc.and_kleene(in_old, pc.not_equal(old_hash, n.column("content_hash")))
        added_mask = pc.invert(in_old)
        matched = np.zeros(o.num_rows, dtype=bool)
        matched[_as_numpy(pc.drop_null(position))] = True
        removed_mask = pa.array(~matched)
        added_hidden = pc.and_(added_mask, _scope_mask(n, scopes))
        removed_hidden = pc.and_(removed_mask, _scope_mask(o, scopes))
        suppressed = {"added": pc.sum(added_hidden).as_py() or 0, "removed": pc.sum(removed_hidden).as_py() or 0}
        added_mask = pc.and_(added_mask, pc.invert(added_hidden))
        removed_mask = pc.and_(removed_mask, pc.invert(removed_hidden))
        added, removed, modified = _records(n, added_mask), _records(o, removed_mask), _records(n, modified_mask)
        # One pass over each file's range for every configuration this part will read, addressed by
        # row position; the two files decode in parallel (Arrow releases the GIL while decompressing).
        new_wanted = bounds.new_start + np.flatnonzero(_as_numpy(pc.or_(modified_mask, added_mask)))
        old_wanted = bounds.old_start + np.concatenate([_as_numpy(pc.filter(position, modified_mask)),
                                                        np.flatnonzero(_as_numpy(removed_mask))])
        with ThreadPoolExecutor(max_workers=2) as pool:
            for fetch in [pool.submit(new.prefetch_positions, new_wanted),
                          pool.submit(old.prefetch_positions, old_wanted)]:
                fetch.result()
        attributes: list[dict[str, Any]] = []
        part = DeltaPart(
            modified=self._modified_rows(old, new, modified, attributes),
            attributes=attributes,
            added=self._added_rows(new, added),
            removed=removed,
            suppressed=suppressed,
        )
        part.added_hints, part.added_docs = _hints(added, new)
        part.removed_hints, part.removed_docs = _hints(removed, old)
        # Tag compliance: counts over the range, and the rows present on both days whose verdict flipped.
        old_mask = required_tags_mask(o.column("tags"), self.required_tags)
        new_mask = required_tags_mask(n.column("tags"), self.required_tags)
        part.old_compliant, part.new_compliant = int(old_mask.sum()), int(new_mask.sum())
        before = pc.take(pa.array(old_mask), position)
        after = pa.array(new_mask)
        arns = n.column("arn")
        part.newly_compliant = arns.filter(pc.and_(in_old, pc.and_(pc.invert(before), after))).to_pylist()
        part.newly_non_compliant = arns.filter(pc.and_(in_old, pc.and_(before, pc.invert(after)))).to_pylist()
        return part

    def _modified_rows(self, old: SnapshotRows, new: SnapshotRows, modified: list[dict[str, Any]],
                       attr_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        arns = [rec["arn"] for rec in modified]
        old_docs, new_docs = old.rows(arns), new.rows(arns)
        for rec in modified:
            arn = rec["arn"]
            changes = self.attribute_changes(rec["resource_type"], old_docs[arn], new_docs[arn], arn)
            if not changes:
                continue  # every difference was an ignored field
            attr_rows.extend(_attribute_rows(arn, changes))
            out.append(_changed_resource(rec, "modified", changes))
        return out

    def _replacements_and_leftovers(self, parts: Sequence[DeltaPart], attr_rows: list[dict[str, Any]]
                                    ) -> list[dict[str, Any]]:
        """Pair a removed and an added resource of one type with the same identity as `replaced`.

        Identity is the CloudFormation stack + logical id tags, else a Name that is unique for its
        type and region on *both* days (and the same VPC), so a name shared by many resources never
        pairs two strangers. A hint must be unique on its side across every part. Returns the
        replaced rows plus the added and removed rows left unpaired.
        """
        added_hints: dict[tuple, list[str]] = {}
        removed_hints: dict[tuple, list[str]] = {}
        added_docs: dict[str, dict[str, Any]] = {}
        removed_docs: dict[str, dict[str, Any]] = {}
        for part in parts:
            for hint, arns in part.added_hints.items():
                added_hints.setdefault(hint, []).extend(arns)
            for hint, arns in part.removed_hints.items():
                removed_hints.setdefault(hint, []).extend(arns)
            added_docs.update(part.added_docs)
            removed_docs.update(part.removed_docs)
        pairs = sorted((removed_hints[h][0], added_hints[h][0]) for h in set(added_hints) & set(removed_hints)
                       if len(added_hints[h]) == 1 and len(removed_hints[h]) == 1)
        out = []
        by_new = {rec["arn"]: rec for part in parts for rec in part.added}
        for old_arn, new_arn in pairs:
            rec = by_new[new_arn]
            rtype = REGISTRY.get(rec["resource_type"])
            identity = [p for p in (rtype.id_field, rtype.arn_field) if p] if rtype else []
            changes = [(c, v) for c, v in self.attribute_changes(
                rec["resource_type"], removed_docs[old_arn], added_docs[new_arn], new_arn) if c.path not in identity]
            link = AttributeChange("arn", "changed", old_arn, new_arn, "arn")
            attr_rows.extend(_attribute_rows(new_arn, [(link, Classification(
                "configuration", "info", f"Replaced {old_arn} (same identity: deleted and re-created)",
                "replacement"))]))
            attr_rows.extend(_attribute_rows(new_arn, changes))
            row = _changed_resource(rec, "replaced", changes)
            row["attribute_change_count"] = len(changes) + 1
            out.append(row)
        paired_old = {o for o, _ in pairs}
        paired_new = {n for _, n in pairs}
        out += [r for part in parts for r in part.added if r["arn"] not in paired_new]
        out += self._removed_rows([r for part in parts for r in part.removed if r["arn"] not in paired_old])
        return out

    def _added_rows(self, new: SnapshotRows, added: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Added resources rated by what they are (all of them: pairing into `replaced` comes later)."""
        risky_types = {r["resource_type"] for r in added if self._risk_pattern(r["resource_type"]) is not None}
        docs = new.rows([r["arn"] for r in added if r["resource_type"] in risky_types])
        out = []
        for rec in added:
            if rec["arn"] in docs:
                severity, categories, _ = self._risk_of_new_resource(rec["resource_type"], docs[rec["arn"]],
                                                                     rec["arn"])
            else:
                severity, categories = "low", []
            out.append({**rec, "change_type": "added", "severity": severity,
                        "categories": categories or ["configuration"], "attribute_change_count": 0})
        return out

    @staticmethod
    def _removed_rows(removed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**rec, "change_type": "removed", "severity": _SENSITIVE_REMOVALS.get(rec["resource_type"], "low"),
             "categories": ["configuration"], "attribute_change_count": 0}
            for rec in removed
        ]

    # --- summary ----------------------------------------------------------------------------

    def _summary(self, rows, attr_rows, old, new, parts, previous_date, date, unverified,
                 old_relationships, new_relationships) -> dict[str, Any]:
        by_type = Counter(r["change_type"] for r in rows)
        by_severity = Counter(r["severity"] for r in rows)
        by_category = Counter(c for r in rows for c in r["categories"])
        by_service = Counter(r["service"] for r in rows)
        attr_by_arn: dict[str, list[dict[str, Any]]] = {}
        for a in attr_rows:
            attr_by_arn.setdefault(a["arn"], []).append(a)

        security_attr = sum(1 for a in attr_rows if a["category"] in _SECURITY_CATEGORIES)
        high_risk = []
        for r in rows:
            if SEVERITY_RANK[r["severity"]] < SEVERITY_RANK["high"]:
                continue
            reasons = [a["description"] for a in attr_by_arn.get(r["arn"], [])
                       if SEVERITY_RANK[a["severity"]] >= SEVERITY_RANK["high"]]
            if r["change_type"] in ("added", "removed"):
                reasons = [f"{r['resource_type']} {r['change_type']}"]
            high_risk.append({"arn": r["arn"], "resource_type": r["resource_type"], "name": r["name"],
                              "change_type": r["change_type"], "severity": r["severity"], "reasons": reasons})
        high_risk.sort(key=lambda h: (-SEVERITY_RANK[h["severity"]], h["arn"]))

        network_rows = [r for r in rows if "network" in r["categories"] or r["resource_type"] in _NETWORK_TYPES]
        new_stats = _stats(new.num_rows, sum(p.new_compliant for p in parts))
        suppressed = {k: sum(p.suppressed[k] for p in parts) for k in ("added", "removed")}
        if old is None:
            old_stats = {"total_resources": 0, "compliant_resources": 0, "compliance_percentage": None}
        else:
            old_stats = _stats(old.num_rows, sum(p.old_compliant for p in parts))
        newly_ok = sorted(a for p in parts for a in p.newly_compliant)
        newly_bad = sorted(a for p in parts for a in p.newly_non_compliant)
        change = (None if old_stats["compliance_percentage"] is None
                  else round(new_stats["compliance_percentage"] - old_stats["compliance_percentage"], 2))
        return {
            "date": date,
            "previous_date": previous_date,
            "resource_count": new.num_rows,
            "previous_resource_count": old.num_rows if old is not None else None,
            "total_changes": len(rows),
            "counts": {
                "change_type": {t: by_type.get(t, 0) for t in CHANGE_TYPES},
                "severity": {s: by_severity.get(s, 0) for s in ("critical", "high", "medium", "low", "info")},
                "category": dict(sorted(by_category.items())),
                "service": dict(sorted(by_service.items(), key=lambda kv: (-kv[1], kv[0]))),
            },
            "attribute_change_count": len(attr_rows),
            "security_changes": {
                "total_security_changes": security_attr
                + sum(1 for r in rows
                      if r["change_type"] in ("added", "removed") and set(r["categories"]) & _SECURITY_CATEGORIES),
                "high_risk_resources": high_risk[:CAP_LIST],
                "high_risk_count": len(high_risk),
            },
            "network_changes": {
                "total_network_changes": len(network_rows),
                "resources": [{"arn": r["arn"], "resource_type": r["resource_type"], "change_type": r["change_type"]}
                              for r in sorted(network_rows, key=lambda r: r["arn"])[:CAP_LIST]],
            },
            "compliance_changes": {
                "required_tags": list(self.required_tags),
                "old_compliance_stats": old_stats,
                "new_compliance_stats": new_stats,
                "compliance_trend": {
                    "compliance_percentage_change": change,
                    "direction": None if change is None else ("improving" if change > 0
                                                              else "declining" if change < 0 else "stable"),
                },
                "newly_compliant": newly_ok[:CAP_LIST],
                "newly_compliant_count": len(newly_ok),
                "newly_non_compliant": newly_bad[:CAP_LIST],
                "newly_non_compliant_count": len(newly_bad),
            },
            "cascade_risks": cascade_risks(rows, old.keys if old is not None else None, new.keys,
                                           old_relationships, new_relationships),
            "unverified": unverified,
            "suppressed_by_unverified_scopes": suppressed,
        }


_NETWORK_TYPES = {"AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::EC2::Subnet"}
_CFN_STACK, _CFN_LOGICAL = "aws:cloudformation:stack-name", "aws:cloudformation:logical-id"


def _stats(total: int, compliant: int) -> dict[str, Any]:
    return {"total_resources": total, "compliant_resources": compliant,
            "compliance_percentage": round(100.0 * compliant / total, 2) if total else 100.0}


def _attribute_rows(arn: str, changes: list[tuple[AttributeChange, Classification]]) -> list[dict[str, Any]]:
    return [
        {
            "arn": arn,
            "path": change.path,
            "change": change.change,
            "old_value": None if change.change == "added" else value_json(change.old),
            "new_value": None if change.change == "removed" else value_json(change.new),
            "category": verdict.category,
            "severity": verdict.severity,
            "description": verdict.description,
        }
        for change, verdict in changes
    ]


def _changed_resource(rec: Mapping[str, Any], change_type: str, changes: list[tuple[AttributeChange, Classification]]
                      ) -> dict[str, Any]:
    return {
        **{k: rec[k] for k in _ROW_FIELDS},
        "change_type": change_type,
        "severity": max_severity((v.severity for _, v in changes), default="info"),
        "categories": sorted({v.category for _, v in changes}) or ["configuration"],
        "attribute_change_count": len(changes),
    }


def _unique_names(keys: pa.Table, names: Sequence[str]) -> set[tuple[str, str, str]]:
    """Of the given names, the (type, region, name) triples that name exactly one resource."""
    if not names:
        return set()
    wanted = pc.is_in(keys.column("name"), value_set=pa.array(sorted(set(names)), pa.string()))
    picked = keys.filter(pc.fill_null(wanted, False))
    named = pa.table({c: pc.cast(picked.column(c), pa.string()) for c in ("resource_type", "region", "name")})
    counts = named.group_by(["resource_type", "region", "name"]).aggregate([([], "count_all")])
    single = counts.filter(pc.equal(counts.column("count_all"), 1))
    return set(zip(*(single.column(c).to_pylist() for c in ("resource_type", "region", "name")), strict=True))


def _identity_hint(rec: Mapping[str, Any], doc: Mapping[str, Any], unique: set[tuple[str, str, str]]
                   ) -> tuple[str, ...] | None:
    tags = dict(doc["tags"] or [])
    if tags.get(_CFN_STACK) and tags.get(_CFN_LOGICAL):
        return (rec["resource_type"], "cfn", tags[_CFN_STACK], tags[_CFN_LOGICAL])
    name = tags.get("Name")
    if name and (rec["resource_type"], rec["region"], rec["name"]) in unique:
        vpc = parse_json(doc["configuration"]).get("VpcId", "")
        return (rec["resource_type"], "name", rec["region"], str(vpc), name)
    return None


def _hints(records: list[dict[str, Any]], rows: SnapshotRows
           ) -> tuple[dict[tuple, list[str]], dict[str, dict[str, Any]]]:
    """Identity hints of added (or removed) resources: hint -> ARNs, plus the hinted rows' documents."""
    if not records:
        return {}, {}
    docs = rows.rows([r["arn"] for r in records])
    unique = _unique_names(rows.keys, [r["name"] for r in records if r["name"]])
    hints: dict[tuple, list[str]] = {}
    hinted: dict[str, dict[str, Any]] = {}
    for rec in records:
        hint = _identity_hint(rec, docs[rec["arn"]], unique)
        if hint is not None:
            hints.setdefault(hint, []).append(rec["arn"])
            hinted[rec["arn"]] = docs[rec["arn"]]
    return hints, hinted


def _worker_count(workers: int | None, rows: int) -> int:
    """Forking pays from a few hundred thousand rows on; below that one core is quicker."""
    if workers is None:
        configured = os.environ.get("INVENTAG_DELTA_WORKERS", "")
        workers = int(configured) if configured.isdigit() else (os.cpu_count() or 1)
        workers = min(workers, max(1, rows // _ROWS_PER_WORKER))
    return max(1, workers)


def _arn_ranges(old: SnapshotRows, new: SnapshotRows, workers: int) -> list[ArnRange]:
    """Cut both snapshots at the same ARNs into `workers` ranges of about equal size.

    Only snapshots sorted by ARN can be cut (the store writes them so); others form one range.
    """
    whole = [ArnRange(0, old.num_rows, 0, new.num_rows)]
    if workers <= 1 or new.num_rows < 2 * workers:
        return whole
    new_arns, old_arns = new.column("arn"), old.column("arn")
    if not (strictly_increasing(new_arns) and strictly_increasing(old_arns)):
        return whole
    ranges, old_start, new_start = [], 0, 0
    for k in range(1, workers):
        new_cut = new.num_rows * k // workers
        boundary = new_arns[new_cut].as_py()
        old_cut = _bisect(old_arns, boundary)
        ranges.append(ArnRange(old_start, old_cut, new_start, new_cut))
        old_start, new_start = old_cut, new_cut
    ranges.append(ArnRange(old_start, old.num_rows, new_start, new.num_rows))
    return ranges


def _bisect(sorted_values: pa.ChunkedArray, value: str) -> int:
    """The first position whose value is >= `value` (binary search over an Arrow column)."""
    low, high = 0, len(sorted_values)
    while low < high:
        middle = (low + high) // 2
        if sorted_values[middle].as_py() < value:
            low = middle + 1
        else:
            high = middle
    return low


def _resource_table(rows: list[dict[str, Any]]) -> pa.Table:
    rows = sorted(rows, key=lambda r: (-SEVERITY_RANK[r["severity"]], r["service"], r["arn"]))
    return pa.Table.from_pylist(rows, schema=RESOURCE_CHANGES_SCHEMA)


def cascade_risks(rows: Sequence[Mapping[str, Any]], old: pa.Table | None, new: pa.Table,
                  old_relationships: pa.Table | None, new_relationships: pa.Table | None) -> list[dict[str, Any]]:
    """Changed resources that others depend on: removed ones, or ones with a high-risk change."""
    risky = [r for r in rows if r["change_type"] == "removed" or (
        r["change_type"] in ("modified", "replaced") and SEVERITY_RANK[r["severity"]] >= SEVERITY_RANK["high"])]
    if not risky:
        return []
    out = []
    # Identities come from the side where the resource exists; dependents are always today's edges,
    # so a resource that moved away before its old target was deleted is not flagged.
    for side, table in (("removed", old), ("current", new)):
        subset = [r for r in risky if (r["change_type"] == "removed") == (side == "removed")]
        edges = new_relationships
        if not subset or table is None or edges is None or edges.num_rows == 0:
            continue
        ids = _ids_for(table, [r["arn"] for r in subset])
        refs = edges.filter(pc.is_in(edges.column("target_ref"), value_set=pa.array(list(ids), pa.string())))
        grouped: dict[str, set[str]] = {}
        for source, target in zip(refs.column("source_arn").to_pylist(), refs.column("target_ref").to_pylist(),
                                  strict=True):
            grouped.setdefault(ids[target], set()).add(source)
        for r in subset:
            if r["arn"] in grouped:
                dependents = sorted(d for d in grouped[r["arn"]] if d != r["arn"])
                if not dependents:
                    continue
                out.append({
                    "arn": r["arn"], "resource_type": r["resource_type"], "name": r["name"],
                    "change_type": r["change_type"], "severity": r["severity"],
                    "dependent_count": len(dependents), "dependents": dependents[:20],
                    "reason": (f"{len(dependents)} resource(s) still reference this {r['change_type']} "
                               f"{r['resource_type']}"),
                })
    return sorted(out, key=lambda c: (-SEVERITY_RANK[c["severity"]], -c["dependent_count"], c["arn"]))


def _ids_for(table: pa.Table, arns: Sequence[str]) -> dict[str, str]:
    """Reference strings (ARN and service id) that point at each of `arns`."""
    picked = table.filter(pc.is_in(table.column("arn"), value_set=pa.array(list(arns), pa.string())))
    out: dict[str, str] = {}
    for arn, rid in zip(picked.column("arn").to_pylist(), picked.column("resource_id").to_pylist(), strict=True):
        out[arn] = arn
        out[rid] = arn
    return out
