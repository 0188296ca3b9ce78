"""The delta between two snapshots (DESIGN §6).

Rows are matched by a vectorised join on ARN and content hash; only rows whose hash differs are
parsed and diffed. Resources in a (service, region) scope that was not collected completely on
either side are never reported added or removed: they are listed as unverified instead.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.core.canonical import KeyResolver, canonical_json, strip_paths
from inventag_pipeline.core.classify import SEVERITY_RANK, Classification, Classifier, Context, max_severity
from inventag_pipeline.core.compliance import compliance_stats, required_tags_mask
from inventag_pipeline.core.diff import AttributeChange, diff_documents
from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS, GLOBAL_REGION, REGISTRY
from inventag_pipeline.core.snapshot import unverified_scopes

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
_KEY_COLUMNS = ["arn", "content_hash", "resource_type", "service", "region", "name"]
_SECURITY_CATEGORIES = {"security", "iam"}
# Types whose disappearance matters even when nothing depends on them.
_SENSITIVE_REMOVALS = {"AWS::KMS::Key": "high", "AWS::IAM::Role": "medium", "AWS::IAM::ManagedPolicy": "medium",
                       "AWS::IAM::User": "medium", "AWS::EC2::SecurityGroup": "medium",
                       "AWS::RDS::DBInstance": "medium", "AWS::DynamoDB::Table": "medium",
                       "AWS::S3::Bucket": "medium"}
CAP_LIST = 50


@dataclass
class DeltaResult:
    resource_changes: pa.Table
    attribute_changes: pa.Table
    summary: dict[str, Any]


def _keys_frame(table: pa.Table | None) -> pd.DataFrame:
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _KEY_COLUMNS})
    frame = table.select(_KEY_COLUMNS).to_pandas()
    # pandas turns null strings into NaN; the output tables need None.
    return frame.astype(object).where(frame.notna(), None)


def _scope_mask(frame: pd.DataFrame, scopes: set[tuple[str, str]]) -> np.ndarray:
    if frame.empty or not scopes:
        return np.zeros(len(frame), dtype=bool)
    keys = frame["service"].astype(str) + "|" + frame["region"].astype(str)
    globals_ = frame["service"].astype(str) + "|" + GLOBAL_REGION
    wanted = {f"{s}|{r}" for s, r in scopes}
    return (keys.isin(wanted) | globals_.isin(wanted)).to_numpy()


def _rows_by_arn(table: pa.Table, arns: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Only the named rows and columns: the configuration column is read for changed rows only."""
    if not len(arns):
        return {}
    picked = table.filter(pc.is_in(table.column("arn"), value_set=pa.array(list(arns), pa.string())))
    picked = picked.select(["arn", *columns])
    return {row["arn"]: row for row in picked.to_pylist()}


def _skeleton(value: Any) -> Any:
    """The empty shape of a document, so an added resource diffs leaf by leaf and item by item."""
    if isinstance(value, Mapping):
        return {k: _skeleton(v) for k, v in value.items() if isinstance(v, (Mapping, list))}
    if isinstance(value, list):
        return []
    return None


def _document(row: Mapping[str, Any], volatile: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    config = strip_paths(json.loads(row["configuration"]), volatile)
    tags = dict(row["tags"] or [])
    return config, tags


class DeltaEngine:
    """Computes a delta with one classifier; reusable across partitions."""

    def __init__(self, classifier: Classifier | None = None, required_tags: Sequence[str] = DEFAULT_REQUIRED_TAGS):
        self.classifier = classifier or Classifier()
        self.required_tags = tuple(required_tags)

    # --- attribute level --------------------------------------------------------------------

    def _context(self, arn: str) -> Context:
        parts = arn.split(":")
        return Context(account_id=parts[4] if len(parts) > 4 and parts[4] else None,
                       required_tags=self.required_tags)

    def attribute_changes(self, resource_type: str, old: Mapping[str, Any], new: Mapping[str, Any],
                          arn: str = "") -> list[tuple[AttributeChange, Any]]:
        ctx = self._context(arn or (new or {}).get("arn") or (old or {}).get("arn") or "")
        rtype = REGISTRY.get(resource_type)
        keys = KeyResolver(rtype)
        volatile = rtype.volatile_paths if rtype else ()
        old_config, old_tags = _document(old, volatile) if old else ({}, {})
        new_config, new_tags = _document(new, volatile) if new else ({}, {})
        ctx = replace(ctx, new_document=new_config)
        changes = diff_documents(old_config, new_config, keys)
        changes += diff_documents(old_tags, new_tags, keys, prefix="tags")
        out = []
        for change in changes:
            if self.classifier.ignored(change.path):
                continue
            out.append((change, self.classifier.classify(resource_type, change, ctx)))
        return out

    def _risk_of_new_resource(self, resource_type: str, row: Mapping[str, Any], arn: str = ""
                              ) -> tuple[str, list[str], list[str]]:
        """Rate an added resource by what it is: diff it against its own empty shape."""
        ctx = self._context(arn)
        rtype = REGISTRY.get(resource_type)
        config, _tags = _document(row, rtype.volatile_paths if rtype else ())
        severities, categories, reasons = [], [], []
        for change in diff_documents(_skeleton(config), config, KeyResolver(rtype)):
            verdict = self.classifier.classify(resource_type, change, ctx)
            if (verdict.category in ("security", "iam", "network")
                    and SEVERITY_RANK[verdict.severity] >= SEVERITY_RANK["high"]):
                severities.append(verdict.severity)
                categories.append(verdict.category)
                reasons.append(verdict.description)
        return max_severity(severities, default="low"), sorted(set(categories)), reasons

    # --- resource level ---------------------------------------------------------------------

    def compute(
        self,
        old: pa.Table | None,
        new: pa.Table,
        *,
        old_coverage: Sequence[Mapping[str, Any]] = (),
        new_coverage: Sequence[Mapping[str, Any]] = (),
        previous_date: str | None = None,
        date: str | None = None,
        new_relationships: pa.Table | None = None,
        old_relationships: pa.Table | None = None,
    ) -> DeltaResult:
        unverified = unverified_scopes(old_coverage, new_coverage) if old is not None else unverified_scopes(
            (), new_coverage)
        scopes = {(u["service"], u["region"]) for u in unverified}
        old_keys, new_keys = _keys_frame(old), _keys_frame(new)
        merged = old_keys.merge(new_keys, on="arn", how="outer", suffixes=("_old", "_new"), indicator=True)

        rows: list[dict[str, Any]] = []
        attr_rows: list[dict[str, Any]] = []
        suppressed = {"added": 0, "removed": 0}
        if old is not None:
            added = merged[merged["_merge"] == "right_only"]
            removed = merged[merged["_merge"] == "left_only"]
            both = merged[merged["_merge"] == "both"]
            modified = both[both["content_hash_old"] != both["content_hash_new"]]

            added_frame = added[[c + "_new" for c in _KEY_COLUMNS[1:]]].set_axis(_KEY_COLUMNS[1:], axis=1)
            removed_frame = removed[[c + "_old" for c in _KEY_COLUMNS[1:]]].set_axis(_KEY_COLUMNS[1:], axis=1)
            added_hidden = _scope_mask(added_frame, scopes)
            removed_hidden = _scope_mask(removed_frame, scopes)
            suppressed = {"added": int(added_hidden.sum()), "removed": int(removed_hidden.sum())}
            added, removed = added[~added_hidden], removed[~removed_hidden]

            rows += self._modified_rows(old, new, modified, attr_rows)
            replaced, added, removed = self._replacements(old, new, added, removed, attr_rows)
            rows += replaced
            rows += self._added_rows(new, added)
            rows += self._removed_rows(removed)

        resource_changes = _resource_table(rows)
        attribute_changes = pa.Table.from_pylist(attr_rows, schema=ATTRIBUTE_CHANGES_SCHEMA)
        summary = self._summary(
            rows, attr_rows, old, new, previous_date, date, unverified, suppressed,
            old_relationships, new_relationships,
        )
        return DeltaResult(resource_changes, attribute_changes, summary)

    def _modified_rows(self, old: pa.Table, new: pa.Table, modified: pd.DataFrame,
                       attr_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        arns = modified["arn"].tolist()
        old_rows = _rows_by_arn(old, arns, ["configuration", "tags"])
        new_rows = _rows_by_arn(new, arns, ["configuration", "tags"])
        out = []
        for rec in modified.itertuples(index=False):
            changes = self.attribute_changes(rec.resource_type_new, old_rows[rec.arn], new_rows[rec.arn], rec.arn)
            if not changes:
                continue  # every difference was an ignored field
            attr_rows.extend(_attribute_rows(rec.arn, changes))
            out.append(_changed_resource(rec, "modified", changes))
        return out

    def _replacements(self, old: pa.Table, new: pa.Table, added: pd.DataFrame, removed: pd.DataFrame,
                      attr_rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], pd.DataFrame, pd.DataFrame]:
        """Pair a removed and an added resource of one type with the same identity hint as `replaced`.

        The hint is the CloudFormation stack + logical id tags, else the Name tag within the same
        region and VPC; only hints unique on both sides pair up, so nothing is guessed.
        """
        if added.empty or removed.empty:
            return [], added, removed
        new_rows = _rows_by_arn(new, added["arn"].tolist(), ["configuration", "tags"])
        old_rows = _rows_by_arn(old, removed["arn"].tolist(), ["configuration", "tags"])
        new_hints = _unique_hints(added, new_rows, "_new")
        old_hints = _unique_hints(removed, old_rows, "_old")
        pairs = sorted((old_hints[h], new_hints[h]) for h in set(old_hints) & set(new_hints))
        if not pairs:
            return [], added, removed
        out = []
        by_new = {rec.arn: rec for rec in added.itertuples(index=False)}
        for old_arn, new_arn in pairs:
            rec = by_new[new_arn]
            rtype = REGISTRY.get(rec.resource_type_new)
            identity = [p for p in (rtype.id_field, rtype.arn_field) if p] if rtype else []
            changes = [(c, v) for c, v in self.attribute_changes(
                rec.resource_type_new, old_rows[old_arn], new_rows[new_arn], new_arn) if c.path not in identity]
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
        return out, added[~added["arn"].isin(paired_new)], removed[~removed["arn"].isin(paired_old)]

    def _added_rows(self, new: pa.Table, added: pd.DataFrame) -> list[dict[str, Any]]:
        new_rows = _rows_by_arn(new, added["arn"].tolist(), ["configuration", "tags"])
        out = []
        for rec in added.itertuples(index=False):
            severity, categories, _ = self._risk_of_new_resource(rec.resource_type_new, new_rows[rec.arn], rec.arn)
            out.append({
                "arn": rec.arn, "resource_type": rec.resource_type_new, "service": rec.service_new,
                "region": rec.region_new, "name": rec.name_new, "change_type": "added", "severity": severity,
                "categories": categories or ["configuration"], "attribute_change_count": 0,
            })
        return out

    @staticmethod
    def _removed_rows(removed: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {
                "arn": rec.arn, "resource_type": rec.resource_type_old, "service": rec.service_old,
                "region": rec.region_old, "name": rec.name_old, "change_type": "removed",
                "severity": _SENSITIVE_REMOVALS.get(rec.resource_type_old, "low"),
                "categories": ["configuration"], "attribute_change_count": 0,
            }
            for rec in removed.itertuples(index=False)
        ]

    # --- summary ----------------------------------------------------------------------------

    def _summary(self, rows, attr_rows, old, new, previous_date, date, unverified, suppressed,
                 old_relationships, new_relationships) -> dict[str, Any]:
        by_type = Counter(r["change_type"] for r in rows)
        by_severity = Counter(r["severity"] for r in rows)
        by_category = Counter(c for r in rows for c in r["categories"])
        by_service = Counter(r["service"] for r in rows)
        attr_by_arn: dict[str, list[dict[str, Any]]] = {}
        for a in attr_rows:
            attr_by_arn.setdefault(a["arn"], []).append(a)

        security_attr = [a for a in attr_rows if a["category"] in _SECURITY_CATEGORIES]
        high_risk = []
        for r in rows:
            if SEVERITY_RANK[r["severity"]] < SEVERITY_RANK["high"]:
                continue
            reasons = [a["description"] for a in attr_by_arn.get(r["arn"], [])
                       if SEVERITY_RANK[a["severity"]] >= SEVERITY_RANK["high"]]
            if r["change_type"] != "modified":
                reasons = [f"{r['resource_type']} {r['change_type']}"]
            high_risk.append({"arn": r["arn"], "resource_type": r["resource_type"], "name": r["name"],
                              "change_type": r["change_type"], "severity": r["severity"], "reasons": reasons})
        high_risk.sort(key=lambda h: (-SEVERITY_RANK[h["severity"]], h["arn"]))

        network_rows = [r for r in rows if "network" in r["categories"] or r["resource_type"] in _NETWORK_TYPES]
        old_stats = compliance_stats(old, self.required_tags)
        new_stats = compliance_stats(new, self.required_tags)
        newly_ok, newly_bad = _compliance_movers(old, new, self.required_tags)
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
                "total_security_changes": len(security_attr)
                + sum(1 for r in rows
                      if r["change_type"] != "modified" and set(r["categories"]) & _SECURITY_CATEGORIES),
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
                "newly_non_compliant": newly_bad[:CAP_LIST],
            },
            "cascade_risks": cascade_risks(rows, old, new, old_relationships, new_relationships),
            "unverified": unverified,
            "suppressed_by_unverified_scopes": suppressed,
        }


_NETWORK_TYPES = {"AWS::EC2::SecurityGroup", "AWS::EC2::VPC", "AWS::EC2::Subnet"}
_CFN_STACK, _CFN_LOGICAL = "aws:cloudformation:stack-name", "aws:cloudformation:logical-id"


def _attribute_rows(arn: str, changes: list[tuple[AttributeChange, Classification]]) -> list[dict[str, Any]]:
    return [
        {
            "arn": arn,
            "path": change.path,
            "change": change.change,
            "old_value": None if change.change == "added" else canonical_json(change.old),
            "new_value": None if change.change == "removed" else canonical_json(change.new),
            "category": verdict.category,
            "severity": verdict.severity,
            "description": verdict.description,
        }
        for change, verdict in changes
    ]


def _changed_resource(rec: Any, change_type: str, changes: list[tuple[AttributeChange, Classification]]
                      ) -> dict[str, Any]:
    return {
        "arn": rec.arn,
        "resource_type": rec.resource_type_new,
        "service": rec.service_new,
        "region": rec.region_new,
        "name": rec.name_new,
        "change_type": change_type,
        "severity": max_severity((v.severity for _, v in changes), default="info"),
        "categories": sorted({v.category for _, v in changes}) or ["configuration"],
        "attribute_change_count": len(changes),
    }


def _identity_hint(resource_type: str, region: str, row: Mapping[str, Any]) -> tuple[str, ...] | None:
    tags = dict(row["tags"] or [])
    if tags.get(_CFN_STACK) and tags.get(_CFN_LOGICAL):
        return (resource_type, "cfn", tags[_CFN_STACK], tags[_CFN_LOGICAL])
    if tags.get("Name"):
        vpc = json.loads(row["configuration"]).get("VpcId", "")
        return (resource_type, "name", region, str(vpc), tags["Name"])
    return None


def _unique_hints(frame: pd.DataFrame, rows: Mapping[str, Mapping[str, Any]], suffix: str) -> dict[tuple, str]:
    """hint -> ARN for hints that occur exactly once on this side."""
    seen: dict[tuple, list[str]] = {}
    for rec in frame.itertuples(index=False):
        values = rec._asdict()
        hint = _identity_hint(values["resource_type" + suffix], values["region" + suffix], rows[rec.arn])
        if hint is not None:
            seen.setdefault(hint, []).append(rec.arn)
    return {h: arns[0] for h, arns in seen.items() if len(arns) == 1}


def _resource_table(rows: list[dict[str, Any]]) -> pa.Table:
    rows = sorted(rows, key=lambda r: (-SEVERITY_RANK[r["severity"]], r["service"], r["arn"]))
    return pa.Table.from_pylist(rows, schema=RESOURCE_CHANGES_SCHEMA)


def _compliance_movers(old: pa.Table | None, new: pa.Table, required: Sequence[str]) -> tuple[list[str], list[str]]:
    if old is None or not required:
        return [], []
    old_ok = pd.Series(required_tags_mask(old.column("tags"), required), index=old.column("arn").to_pandas())
    new_ok = pd.Series(required_tags_mask(new.column("tags"), required), index=new.column("arn").to_pandas())
    common = old_ok.index.intersection(new_ok.index)
    before, after = old_ok.loc[common], new_ok.loc[common]
    return sorted(common[~before & after].tolist()), sorted(common[before & ~after].tolist())


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
        refs = edges.to_pandas()
        refs = refs[refs["target_ref"].isin(set(ids))]
        if refs.empty:
            continue
        refs = refs.assign(target_arn=refs["target_ref"].map(ids))
        grouped = refs.groupby("target_arn")["source_arn"].apply(lambda s: sorted(set(s)))
        for r in subset:
            if r["arn"] in grouped.index:
                dependents = [d for d in grouped[r["arn"]] if d != r["arn"]]
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
