"""The pipeline's steps over the store: what each asset (and the CLI) does, without Dagster.

Each step reads its inputs from the store, calls pure core functions, and writes its outputs
atomically. A step never half-replaces a partition: every file is written to a temporary name and
renamed, and the manifest (which vouches for the data) is written last.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import jinja2
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from inventag_pipeline.aws.collector import Collection
from inventag_pipeline.aws.guard import AuditLog, classify_operation
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.changelog import ChangelogDocuments, changelog_provenance, render_changelog
from inventag_pipeline.core.checks import evaluate_checks
from inventag_pipeline.core.config_mapping import collection_source
from inventag_pipeline.core.delta import DeltaEngine, DeltaResult, SnapshotRows
from inventag_pipeline.core.ocsf import findings_to_ocsf
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.report import (
    GateOutcome,
    GateThresholds,
    build_report,
    evaluate_gate,
    report_html,
    report_markdown,
)
from inventag_pipeline.core.snapshot import (
    SCHEMA_VERSION,
    build_manifest,
    records_to_table,
    relationships_table,
    schema_problems,
    sha256_hex,
)
from inventag_pipeline.core.tagpolicy import TagPolicy, evaluate, summarise
from inventag_pipeline.core.trends import change_series, compliance_series, window
from inventag_pipeline.store.store import IntegrityError, InventoryStore, MissingDataError, Partition


class StepError(RuntimeError):
    """A step cannot run for this partition; the message says why and what to do."""


# --- raw -------------------------------------------------------------------------------------------


def write_raw(store: InventoryStore, part: Partition, collection: Collection, audit: AuditLog,
              *, account_name: str, window_note: str | None = None) -> dict[str, Any]:
    """Raw payloads per (service, region) as gzip JSON lines, the audit log, then the manifest."""
    folder = part.folder("raw")
    store.delete_folder(folder)
    files = []
    for scope in collection.scopes:
        relative = f"{folder}/{scope.service}/{scope.region}.jsonl.gz"
        rows = [{"resource_type": i.resource_type, "region": i.region, "payload": i.payload, "source": i.source}
                for i in scope.items]
        store.write_jsonl_gz(relative, rows)
        files.append(f"{scope.service}/{scope.region}.jsonl.gz")
    store.write_jsonl_gz(f"{folder}/audit.jsonl.gz", audit.as_dicts())
    operations = audit.operation_counts()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "account_id": part.account,
        "account_name": account_name,
        "date": part.date,
        "started_at": collection.started_at,
        "collected_at": collection.collected_at,
        "regions": collection.regions,
        "identity": collection.identity_arn,
        "source": collection_source(collection.coverage),
        "coverage": collection.coverage,
        "config": collection.config,
        "files": files,
        "operations": operations,
        "operation_classification": {
            op: classify_operation(*op.split(":", 1))[1] for op in operations
        },
        "audit": audit.summary(),
        "collection_window": window_note,
    }
    store.write_json(f"{folder}/manifest.json", manifest)
    return manifest


def read_raw_manifest(store: InventoryStore, part: Partition) -> dict[str, Any]:
    try:
        return store.read_json(f"{part.folder('raw')}/manifest.json")
    except MissingDataError:
        raise StepError(
            f"no raw inventory for account {part.account} on {part.date}: materialise raw_inventory for this "
            "partition first"
        ) from None


# --- snapshot --------------------------------------------------------------------------------------


@dataclass
class SnapshotResult:
    table: pa.Table
    manifest: dict[str, Any]
    path: str
    size_bytes: int


def build_snapshot(store: InventoryStore, part: Partition) -> SnapshotResult:
    """Canonicalise the raw payloads and write snapshot.parquet, relationships and manifest."""
    raw = read_raw_manifest(store, part)
    folder = part.folder("raw")
    records = []
    for name in raw["files"]:
        for row in store.read_jsonl_gz(f"{folder}/{name}"):
            rtype = REGISTRY[row["resource_type"]]
            records.append(canonical_record(rtype, row["payload"], account_id=part.account, region=row["region"],
                                            collected_at=raw["collected_at"],
                                            source=row.get("source", raw.get("source", "api"))))
    table = records_to_table(records)
    edges = relationships_table(records)
    out = part.folder("snapshots")
    sha, size = store.write_table(f"{out}/snapshot.parquet", table)
    store.write_table(f"{part.folder('relationships')}/relationships.parquet", edges)
    manifest = build_manifest(
        account_id=part.account,
        date=part.date,
        collected_at=raw["collected_at"],
        regions=raw["regions"],
        row_count=table.num_rows,
        sha256=sha,
        coverage=raw["coverage"],
        extra={"source": raw.get("source", "api"), "relationship_count": edges.num_rows},
    )
    store.write_json(f"{out}/manifest.json", manifest)
    return SnapshotResult(table, manifest, store.display(f"{out}/snapshot.parquet"), size)


def snapshot_manifest(store: InventoryStore, part: Partition) -> dict[str, Any]:
    try:
        return store.read_json(f"{part.folder('snapshots')}/manifest.json")
    except MissingDataError:
        raise StepError(
            f"no snapshot for account {part.account} on {part.date}: materialise inventory_snapshot for this "
            "partition first (a backfill may have scheduled the delta before its snapshot)"
        ) from None


def load_snapshot(store: InventoryStore, part: Partition, *, columns: list[str] | None = None
                  ) -> tuple[pa.Table, dict[str, Any]]:
    """A stored snapshot, verified against its manifest's checksum."""
    manifest = snapshot_manifest(store, part)
    table = store.read_table(f"{part.folder('snapshots')}/snapshot.parquet", columns=columns,
                             expected_sha256=manifest["sha256"])
    return table, manifest


def load_relationships(store: InventoryStore, part: Partition) -> pa.Table | None:
    relative = f"{part.folder('relationships')}/relationships.parquet"
    return store.read_table(relative) if store.exists(relative) else None


def previous_snapshot(store: InventoryStore, part: Partition) -> Partition | None:
    """The most recent earlier day with a snapshot manifest (missing days are skipped over)."""
    earlier = [d for d in store.dates("snapshots", part.account) if d < part.date]
    for date in reversed(earlier):
        candidate = Partition(part.account, date)
        if store.exists(f"{candidate.folder('snapshots')}/manifest.json"):
            return candidate
    return None


def verify_snapshot(store: InventoryStore, part: Partition) -> dict[str, Any]:
    """Checksum and schema of a stored snapshot, for asset checks and `inventag validate`."""
    try:
        table, manifest = load_snapshot(store, part)
    except IntegrityError as exc:
        return {"passed": False, "problems": [str(exc)]}
    problems = schema_problems(table)
    if table.num_rows != manifest["row_count"]:
        problems.append(f"row_count {manifest['row_count']} in manifest, {table.num_rows} in file")
    return {"passed": not problems, "problems": problems, "rows": table.num_rows, "sha256": manifest["sha256"]}


# --- delta -----------------------------------------------------------------------------------------


def load_snapshot_rows(store: InventoryStore, part: Partition) -> tuple[SnapshotRows, dict[str, Any]]:
    """A verified snapshot with only its key columns in memory (configurations read on demand)."""
    manifest = snapshot_manifest(store, part)
    data = store.read_verified(f"{part.folder('snapshots')}/snapshot.parquet", manifest["sha256"])
    return SnapshotRows.from_parquet(pa.BufferReader(data)), manifest


def compute_delta(store: InventoryStore, part: Partition, engine: DeltaEngine) -> DeltaResult:
    """Today's snapshot against the most recent earlier one; writes the three delta files."""
    new, new_manifest = load_snapshot_rows(store, part)
    prev = previous_snapshot(store, part)
    if prev is not None:
        old, old_manifest = load_snapshot_rows(store, prev)
        old_edges = load_relationships(store, prev)
    else:
        old, old_manifest, old_edges = None, {"coverage": []}, None
    result = engine.compute(
        old,
        new,
        old_coverage=old_manifest["coverage"],
        new_coverage=new_manifest["coverage"],
        previous_date=prev.date if prev else None,
        date=part.date,
        old_relationships=old_edges,
        new_relationships=load_relationships(store, part),
    )
    result.summary["account_id"] = part.account
    folder = part.folder("deltas")
    store.write_table(f"{folder}/resource_changes.parquet", result.resource_changes)
    store.write_table(f"{folder}/attribute_changes.parquet", result.attribute_changes)
    store.write_json(f"{folder}/summary.json", result.summary)
    return result


def load_delta(store: InventoryStore, part: Partition) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    folder = part.folder("deltas")
    try:
        summary = store.read_json(f"{folder}/summary.json")
    except MissingDataError:
        raise StepError(
            f"no delta for account {part.account} on {part.date}: materialise inventory_delta first"
        ) from None
    return (store.read_table(f"{folder}/resource_changes.parquet"),
            store.read_table(f"{folder}/attribute_changes.parquet"), summary)


# --- changelog -------------------------------------------------------------------------------------


def write_changelog(store: InventoryStore, part: Partition, *, account_name: str | None = None,
                    template_dir: str | None = None) -> tuple[ChangelogDocuments, dict[str, str]]:
    """changelog.md/.html/.json plus the executive-summary and audit HTML, charted over the last 30 days."""
    resources, attributes, summary = load_delta(store, part)
    history = change_series({**window_documents(store, part, "deltas", "summary.json"), part.date: summary},
                            part.date)
    try:
        docs = render_changelog(resources, attributes, summary, account_name=account_name,
                                template_dir=template_dir, history=history,
                                provenance=_changelog_provenance(store, part, summary))
    except jinja2.TemplateError as exc:
        raise StepError(f"rendering the changelog of {part.key} failed in template {template_dir or 'built-in'}: "
                        f"{exc}") from exc
    folder = part.folder("changelogs")
    paths = {}
    for key, name, text in (("md", "changelog.md", docs.markdown), ("html", "changelog.html", docs.html),
                            ("json", "changelog.json", docs.json),
                            ("summary_html", "changelog.summary.html", docs.summary_html),
                            ("audit_html", "changelog.audit.html", docs.audit_html)):
        relative = f"{folder}/{name}"
        store.write_bytes(relative, text.encode("utf-8"))
        paths[key] = store.display(relative)
    return docs, paths


def window_documents(store: InventoryStore, part: Partition, kind: str, name: str) -> dict[str, dict[str, Any]]:
    """The account's `name` files of `kind` for the earlier days of the chart window, by date (gaps left out)."""
    wanted = set(window(part.date)) - {part.date}
    found = {}
    for date in store.dates(kind, part.account):
        if date in wanted:
            try:
                found[date] = orjson.loads(store.read_bytes(f"{Partition(part.account, date).folder(kind)}/{name}"))
            except MissingDataError:
                continue
    return found


def _optional_json(store: InventoryStore, relative: str) -> dict[str, Any] | None:
    try:
        return store.read_json(relative)
    except MissingDataError:
        return None


def _changelog_provenance(store: InventoryStore, part: Partition, summary: dict[str, Any]) -> dict[str, Any]:
    """The two snapshot manifests compared and the day's raw manifest, for the audit report."""
    previous = summary.get("previous_date")
    return changelog_provenance(
        _optional_json(store, f"{part.folder('snapshots')}/manifest.json"),
        _optional_json(store, f"{Partition(part.account, previous).folder('snapshots')}/manifest.json")
        if previous else None,
        _optional_json(store, f"{part.folder('raw')}/manifest.json"))


# --- compliance ------------------------------------------------------------------------------------


def write_tag_compliance(store: InventoryStore, part: Partition, policy: TagPolicy) -> tuple[dict[str, Any], str]:
    """Evaluate the snapshot against the tag policy; writes results.parquet."""
    columns = ["arn", "resource_type", "service", "region", "account_id", "tags"]
    table, _ = load_snapshot(store, part, columns=columns)
    rows = table.to_pylist()
    results = evaluate(policy, rows)
    summary = summarise(results, {r["arn"]: r["service"] for r in rows})
    relative = f"{part.folder('tags')}/results.parquet"
    store.write_table(relative, results)
    return summary, store.display(relative)


def write_security_findings(store: InventoryStore, part: Partition) -> tuple[pa.Table, str]:
    """Run every declared check on the snapshot; writes findings.parquet and findings.ocsf.json."""
    table, _ = load_snapshot(store, part, columns=["arn", "resource_type", "resource_id", "name", "region",
                                                   "configuration"])
    rows = table.to_pylist()
    findings = evaluate_checks(rows, as_of=dt.date.fromisoformat(part.date))
    relative = f"{part.folder('security')}/findings.parquet"
    store.write_table(relative, findings)
    events = findings_to_ocsf(findings, account_id=part.account, date=part.date, product_version=product_version(),
                              regions_by_arn={r["arn"]: r["region"] for r in rows})
    store.write_json(f"{part.folder('security')}/findings.ocsf.json", events)
    return findings, store.display(relative)


def previous_report(store: InventoryStore, part: Partition) -> dict[str, Any] | None:
    """The account's most recent earlier report.json (missing days are skipped over)."""
    for date in reversed([d for d in store.dates("reports", part.account) if d < part.date]):
        relative = f"{Partition(part.account, date).folder('reports')}/report.json"
        if store.exists(relative):
            return store.read_json(relative)
    return None


def write_compliance_report(store: InventoryStore, part: Partition, thresholds: GateThresholds, *,
                            template_dir: str | None = None) -> tuple[dict[str, Any], GateOutcome, str]:
    """report.json, report.md and the HTML reports from the day's findings and tag results, trended."""
    findings_path = f"{part.folder('security')}/findings.parquet"
    if not store.exists(findings_path):
        raise StepError(f"no security findings for {part.key}: materialise security_findings first")
    findings_bytes = store.read_bytes(findings_path)
    findings = pq.read_table(pa.BufferReader(findings_bytes))
    # Paths relative to the store root: the same input gives the same report wherever the store lives.
    sources = [{"label": "Security findings", "file": findings_path, "sha256": sha256_hex(findings_bytes)}]
    tag_summary = None
    tags_path = f"{part.folder('tags')}/results.parquet"
    if store.exists(tags_path):
        snapshot, manifest = load_snapshot(store, part, columns=["arn", "service"])
        tag_bytes = store.read_bytes(tags_path)
        tag_summary = summarise(pq.read_table(pa.BufferReader(tag_bytes)), dict(zip(
            snapshot.column("arn").to_pylist(), snapshot.column("service").to_pylist(), strict=True)))
        sources += [{"label": "Tag results", "file": tags_path, "sha256": sha256_hex(tag_bytes)},
                    {"label": "Snapshot", "file": f"{part.folder('snapshots')}/snapshot.parquet",
                     "sha256": manifest["sha256"]}]
    raw_path = f"{part.folder('raw')}/manifest.json"
    try:
        raw_bytes = store.read_bytes(raw_path)
    except FileNotFoundError:
        raw_manifest = None
    else:
        raw_manifest = orjson.loads(raw_bytes)
        sources.append({"label": "Raw-inventory manifest", "file": raw_path, "sha256": sha256_hex(raw_bytes)})
    report = build_report(account_id=part.account, date=part.date, findings=findings, tag_summary=tag_summary,
                          previous=previous_report(store, part), raw_manifest=raw_manifest)
    gate = evaluate_gate(report, thresholds)
    report["gate"] = {"status": gate.status, "reasons": list(gate.reasons), "figures": gate.figures,
                      "thresholds": asdict(thresholds)}
    history = compliance_series({**window_documents(store, part, "reports", "report.json"), part.date: report},
                                part.date)
    try:
        html = report_html(report, history=history, template_dir=template_dir, sources=sources)
        markdown = report_markdown(report, template_dir=template_dir)
    except jinja2.TemplateError as exc:
        raise StepError(f"rendering the compliance report of {part.key} failed in template "
                        f"{template_dir or 'built-in'}: {exc}") from exc
    folder = part.folder("reports")
    store.write_json(f"{folder}/report.json", report)
    store.write_bytes(f"{folder}/report.md", markdown.encode())
    for name, text in (("report.html", html.html), ("report.summary.html", html.summary_html),
                       ("report.audit.html", html.audit_html)):
        store.write_bytes(f"{folder}/{name}", text.encode())
    return report, gate, store.display(f"{folder}/report.json")


def report_paths(store: InventoryStore, part: Partition) -> dict[str, str]:
    """Where the day's compliance report documents are, as paths a user can open."""
    folder = part.folder("reports")
    names = {"json": "report.json", "md": "report.md", "html": "report.html", "summary_html": "report.summary.html",
             "audit_html": "report.audit.html"}
    return {key: store.display(f"{folder}/{name}") for key, name in names.items()}


def product_version() -> str:
    try:
        return importlib.metadata.version("inventag-pipeline")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


# --- small helpers for metadata -----------------------------------------------------------------------


def counts_by(table: pa.Table, column: str) -> dict[str, int]:
    counts = Counter(table.column(column).to_pylist())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
