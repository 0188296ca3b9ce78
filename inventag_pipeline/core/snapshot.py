"""Snapshot tables (DESIGN §5): canonical records as Arrow, the manifest, and schema checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from inventag_pipeline.core.canonical import CanonicalRecord, canonical_json, get_path
from inventag_pipeline.core.registry import REGISTRY

SCHEMA_VERSION = 1

SNAPSHOT_SCHEMA = pa.schema(
    [
        pa.field("arn", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("region", pa.string()),
        pa.field("service", pa.string()),
        pa.field("resource_type", pa.string()),
        pa.field("resource_id", pa.string()),
        pa.field("name", pa.string(), nullable=True),
        pa.field("tags", pa.map_(pa.string(), pa.string())),
        pa.field("configuration", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("source", pa.string()),
        pa.field("collected_at", pa.timestamp("us", tz="UTC")),
    ]
)

RELATIONSHIP_SCHEMA = pa.schema(
    [
        pa.field("source_arn", pa.string(), nullable=False),
        pa.field("relation", pa.string()),
        pa.field("target_type", pa.string()),
        pa.field("target_ref", pa.string()),
    ]
)

COVERAGE_STATUSES = ("ok", "failed", "skipped")


class DuplicateArnError(ValueError):
    """Two records claim the same ARN: a collector bug that must not be papered over."""


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def records_to_table(records: Iterable[CanonicalRecord]) -> pa.Table:
    """Canonical records -> snapshot table, sorted by ARN, ARNs unique."""
    rows = sorted(records, key=lambda r: r.arn)
    seen: set[str] = set()
    dupes = sorted({r.arn for r in rows if r.arn in seen or seen.add(r.arn)})  # type: ignore[func-returns-value]
    if dupes:
        raise DuplicateArnError(f"{len(dupes)} duplicate ARN(s) in one snapshot, e.g. {dupes[:3]}")
    columns: dict[str, list[Any]] = {
        "arn": [r.arn for r in rows],
        "account_id": [r.account_id for r in rows],
        "region": [r.region for r in rows],
        "service": [r.service for r in rows],
        "resource_type": [r.resource_type for r in rows],
        "resource_id": [r.resource_id for r in rows],
        "name": [r.name for r in rows],
        "tags": [sorted(r.tags.items()) for r in rows],
        "configuration": [canonical_json(r.configuration) for r in rows],
        "content_hash": [r.content_hash for r in rows],
        "source": [r.source for r in rows],
        "collected_at": [_parse_ts(r.collected_at) for r in rows],
    }
    return pa.table(columns, schema=SNAPSHOT_SCHEMA)


def relationships_table(records: Iterable[CanonicalRecord]) -> pa.Table:
    """Edges named by the registry's relationship fields: built once per snapshot, in O(N)."""
    src: list[str] = []
    relation: list[str] = []
    target_type: list[str] = []
    target_ref: list[str] = []
    for record in records:
        rtype = REGISTRY.get(record.resource_type)
        if rtype is None:
            continue
        for path, target in rtype.relationships.items():
            for ref in get_path(record.configuration, path):
                if isinstance(ref, str) and ref:
                    src.append(record.arn)
                    relation.append(path)
                    target_type.append(target)
                    target_ref.append(ref)
    return pa.table(
        {"source_arn": src, "relation": relation, "target_type": target_type, "target_ref": target_ref},
        schema=RELATIONSHIP_SCHEMA,
    )


def table_to_parquet_bytes(table: pa.Table) -> bytes:
    """Deterministic Parquet bytes (same table, same bytes) with zstd compression.

    Tuned on a million-resource snapshot (benchmarks/README.md):
    - the JSON `configuration` and the tag maps are very repetitive: zstd level 9 and 8 MiB pages
      (so each page's compressor sees many similar documents) shrink them by a third;
    - `arn` and `resource_id` are sorted, unique and share long prefixes: DELTA_BYTE_ARRAY stores
      each as the length of the prefix it shares with the previous row plus the rest (8 % smaller);
    - random hex (`content_hash`) compresses best at zstd's default level.
    """
    sink = io.BytesIO()
    names = set(table.column_names)
    levels = {c: 9 for c in ("configuration", "tags.key_value.key", "tags.key_value.value")
              if c.split(".", 1)[0] in names}
    prefix_coded = {c: "DELTA_BYTE_ARRAY" for c in ("arn", "resource_id")
                    if c in names and pa.types.is_string(table.schema.field(c).type)}
    dictionary = [leaf for leaf in _leaf_paths(table.schema) if leaf not in prefix_coded]
    pq.write_table(table, sink, compression="zstd", compression_level=levels or None, data_page_size=8 << 20,
                   write_statistics=True, row_group_size=256_000, use_dictionary=dictionary,
                   column_encoding=prefix_coded or None)
    return sink.getvalue()


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths (`tags.key_value.key` for a map's keys), the names writer options take."""

    def leaves(name: str, kind: pa.DataType) -> list[str]:
        if pa.types.is_map(kind):
            return leaves(f"{name}.key_value.key", kind.key_type) + leaves(f"{name}.key_value.value", kind.item_type)
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return leaves(f"{name}.list.element", kind.value_type)
        if pa.types.is_struct(kind):
            return [leaf for i in range(kind.num_fields) for leaf in leaves(f"{name}.{kind.field(i).name}",
                                                                            kind.field(i).type)]
        return [name]

    return [leaf for field in schema for leaf in leaves(field.name, field.type)]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of_stream(handle: Any, chunk_size: int = 8 << 20) -> str:
    """SHA-256 of a binary stream read in 8 MiB blocks, so a large file is never held in memory."""
    digest = hashlib.sha256()
    while chunk := handle.read(chunk_size):
        digest.update(chunk)
    return digest.hexdigest()


def build_manifest(
    *,
    account_id: str,
    date: str,
    collected_at: str,
    regions: Sequence[str],
    row_count: int,
    sha256: str,
    coverage: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest.json beside snapshot.parquet (DESIGN §5)."""
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "account_id": account_id,
        "date": date,
        "collected_at": collected_at,
        "regions": list(regions),
        "row_count": row_count,
        "sha256": sha256,
        "coverage": [dict(c) for c in coverage],
    }
    if extra:
        manifest.update(extra)
    return manifest


def schema_problems(table: pa.Table) -> list[str]:
    """Every way `table` departs from the snapshot schema, all at once (empty = conforms)."""
    problems = column_problems(table.schema)
    if "arn" in table.column_names:
        problems += arn_problems(table.column("arn"))
    return problems


def arn_problems(arns: pa.ChunkedArray) -> list[str]:
    problems = []
    if arns.null_count:
        problems.append(f"{arns.null_count} null ARN(s)")
    if not strictly_increasing(arns) and len(pc.unique(arns)) != len(arns):
        problems.append("ARNs are not unique")
    return problems


def strictly_increasing(values: pa.ChunkedArray) -> bool:
    """Snapshots are written sorted by ARN, so uniqueness is usually one linear comparison."""
    chunks = [c for c in (values.chunks if isinstance(values, pa.ChunkedArray) else [values]) if len(c)]
    previous = None
    for chunk in chunks:
        if chunk.null_count:
            return False
        if previous is not None and not pc.less(previous, chunk[0]).as_py():
            return False
        if len(chunk) > 1 and not pc.all(pc.less(chunk.slice(0, len(chunk) - 1), chunk.slice(1))).as_py():
            return False
        previous = chunk[len(chunk) - 1]
    return True


def column_problems(schema: pa.Schema) -> list[str]:
    """Missing, extra and mistyped columns against the snapshot schema."""
    problems = []
    expected = {f.name: f for f in SNAPSHOT_SCHEMA}
    actual = {f.name: f for f in schema}
    for name, field in expected.items():
        if name not in actual:
            problems.append(f"missing column {name!r}")
        elif not actual[name].type.equals(field.type):
            problems.append(f"column {name!r} is {actual[name].type}, expected {field.type}")
    for name in actual:
        if name not in expected:
            problems.append(f"unexpected column {name!r}")
    return problems


def unverified_scopes(*coverages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """(service, region) scopes not collected completely in any of the given manifests."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for side, coverage in zip(("previous", "current"), coverages, strict=False):
        for scope in coverage:
            if scope.get("status") != "ok":
                key = (scope["service"], scope["region"])
                entry = out.setdefault(
                    key, {"service": key[0], "region": key[1], "status": scope.get("status"), "sides": []}
                )
                entry["sides"].append(side)
                entry.setdefault("error", scope.get("error"))
    present = [{(c["service"], c["region"]) for c in coverage} for coverage in coverages]
    if len(present) == 2 and all(present):
        # A scope collected on one day only (regions changed, say) proves nothing about the other day.
        for side, mine, theirs in (("current", present[0], present[1]), ("previous", present[1], present[0])):
            for service, region in sorted(mine - theirs):
                out.setdefault((service, region), {"service": service, "region": region, "status": "not_collected",
                                                   "sides": [side], "error": f"not collected on the {side} day"})
    return [out[k] for k in sorted(out)]
