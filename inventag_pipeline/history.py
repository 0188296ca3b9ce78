"""Queries over the stored history (DESIGN §4-6): exports, a resource's timeline, state as of a date.

Everything reads the Hive layout through `pyarrow.dataset` on the store's own filesystem, so the
same code serves a local store and `s3://`. Snapshots are read whole and checksum-verified, as the
pipeline's steps read them; history-wide queries push their ARN filter down to the Parquet files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml

from inventag_pipeline.core.arn import arn_account
from inventag_pipeline.core.checks import FINDINGS_SCHEMA
from inventag_pipeline.core.delta import ATTRIBUTE_CHANGES_SCHEMA, RESOURCE_CHANGES_SCHEMA
from inventag_pipeline.core.snapshot import RELATIONSHIP_SCHEMA, SNAPSHOT_SCHEMA
from inventag_pipeline.core.tagpolicy import RESULTS_SCHEMA
from inventag_pipeline.store.store import KINDS, InventoryStore, MissingDataError, Partition

EXPORT_FORMATS = ("json", "yaml", "csv", "parquet")
# The Parquet files each kind holds, with their schemas; the first is the kind's default.
PARQUET_FILES: dict[str, dict[str, pa.Schema]] = {
    "snapshots": {"snapshot.parquet": SNAPSHOT_SCHEMA},
    "relationships": {"relationships.parquet": RELATIONSHIP_SCHEMA},
    "deltas": {"resource_changes.parquet": RESOURCE_CHANGES_SCHEMA,
               "attribute_changes.parquet": ATTRIBUTE_CHANGES_SCHEMA},
    "tags": {"results.parquet": RESULTS_SCHEMA},
    "security": {"findings.parquet": FINDINGS_SCHEMA},
}
# Hive partition values stay strings: an account id is not a number and must keep its leading zeros.
PARTITION_SCHEMA = pa.schema([pa.field("account", pa.string()), pa.field("date", pa.string())])
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_BATCH_ROWS = 1_000


class HistoryError(ValueError):
    """A history query cannot be answered; the message names what was asked and what exists."""


# --- datasets ----------------------------------------------------------------------------------


def history_dataset(store: InventoryStore, kind: str = "snapshots", *, file: str | None = None,
                    account: str | None = None) -> ds.Dataset:
    """One kind's Parquet files across every (account, date) as one dataset with string `account`, `date`.

    Only files named `file` (default: the kind's main file) are included, so kinds holding two
    schemas side by side (deltas) read as two datasets. `account` limits the listing to one account.
    """
    if kind not in PARQUET_FILES:
        raise HistoryError(f"no Parquet history for kind {kind!r}; kinds with Parquet files: "
                           f"{', '.join(PARQUET_FILES)}")
    file = file or next(iter(PARQUET_FILES[kind]))
    if not file.endswith(".parquet") or "/" in file:
        raise HistoryError(f"file must be a Parquet file name such as {next(iter(PARQUET_FILES[kind]))!r}, "
                           f"not {file!r}")
    base = store.path(KINDS[kind])
    folder = f"{base}/account={account}" if account else base
    selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
    # Matching the whole base name also leaves out a local write's temporary `name.tmp-…` file.
    paths = sorted(i.path for i in store.fs.get_file_info(selector)
                   if i.type == pafs.FileType.File and i.base_name == file)
    known = PARQUET_FILES[kind].get(file)
    schema = _with_partitions(known) if known is not None else None
    if not paths:
        if schema is None:
            raise HistoryError(f"no {file} under {store.display(KINDS[kind])}")
        return ds.dataset([], schema=schema, format="parquet", filesystem=store.fs)
    return ds.dataset(paths, schema=schema, format="parquet", filesystem=store.fs, partition_base_dir=base,
                      partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"))


def _with_partitions(schema: pa.Schema) -> pa.Schema:
    for field in PARTITION_SCHEMA:
        schema = schema.append(field)
    return schema


# --- snapshots: export and state as of a date ----------------------------------------------------


def export_snapshot(store: InventoryStore, account: str, date: str, fmt: str,
                    out: BinaryIO | str | os.PathLike[str]) -> int:
    """Write one verified snapshot as json, yaml, csv or parquet to a binary stream or a path; returns rows."""
    if fmt not in EXPORT_FORMATS:
        raise HistoryError(f"unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    data = _verified_snapshot_bytes(store, account, date)
    if isinstance(out, (str, os.PathLike)):
        with open(Path(out), "wb") as handle:
            return _export(data, fmt, handle)
    return _export(data, fmt, out)


def _export(data: bytes, fmt: str, out: BinaryIO) -> int:
    if fmt == "parquet":  # the stored file itself: same rows, same bytes, same checksum
        out.write(data)
        return pq.read_metadata(pa.BufferReader(data)).num_rows
    table = pq.read_table(pa.BufferReader(data)).sort_by("arn")
    writer = {"json": _write_json, "yaml": _write_yaml, "csv": _write_csv}[fmt]
    writer(table, out)
    return table.num_rows


def _write_json(table: pa.Table, out: BinaryIO) -> None:
    out.write(b"[")
    for i, record in enumerate(snapshot_records(table)):
        text = json.dumps(record, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        out.write(f"{',' if i else ''}\n  {text}".encode())
    out.write(b"\n]\n" if table.num_rows else b"]\n")


def _write_yaml(table: pa.Table, out: BinaryIO) -> None:
    if not table.num_rows:
        out.write(b"[]\n")
    # One-item sequences written one after another are one YAML sequence: no need to hold them all.
    for record in snapshot_records(table):
        out.write(yaml.safe_dump([record], sort_keys=False, allow_unicode=True).encode())


def _write_csv(table: pa.Table, out: BinaryIO) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    maps = {f.name for f in table.schema if pa.types.is_map(f.type)}
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        for row in batch.to_pylist():
            writer.writerow([_csv_cell(name, dict(value) if name in maps and value is not None else value)
                             for name, value in row.items()])
        out.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    out.write(buffer.getvalue().encode())


def _csv_cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "configuration":  # already canonical compact JSON
        return value
    value = _plain(value)
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)


def snapshot_records(table: pa.Table) -> Iterator[dict[str, Any]]:
    """JSON-ready records: `configuration` parsed, tags as a map, times as ISO-8601 UTC strings."""
    maps = {f.name for f in table.schema if pa.types.is_map(f.type)}
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        for row in batch.to_pylist():
            record = {}
            for name, value in row.items():
                if name in maps and value is not None:
                    value = dict(sorted(value))
                elif name == "configuration" and value is not None:
                    value = json.loads(value)
                record[name] = _plain(value)
            yield record


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def state_as_of(store: InventoryStore, account: str, date: str, columns: list[str] | None = None,
                filter_expression: pc.Expression | None = None) -> pa.Table:
    """The account's newest snapshot on or before `date`, verified, with a `snapshot_date` column.

    Snapshots are full daily states, so the state as of a day without one is the last one before it.
    `filter_expression` (e.g. `pc.field("service") == "ec2"`) may use columns not in `columns`.
    """
    _check_date(date)
    dates = _snapshot_dates(store, account)
    earlier = [d for d in dates if d <= date]
    if not earlier:
        raise HistoryError(f"no snapshot for account {account} on or before {date}: "
                           f"{_what_exists(store, account, dates)}")
    chosen = earlier[-1]
    data = _verified_snapshot_bytes(store, account, chosen)
    file_columns = pq.read_schema(pa.BufferReader(data)).names
    unknown = [c for c in columns or () if c not in file_columns]
    if unknown:
        raise HistoryError(f"unknown snapshot column(s) {', '.join(unknown)}; columns: {', '.join(file_columns)}")
    table = pq.read_table(pa.BufferReader(data), columns=columns, filters=filter_expression)
    return table.append_column(pa.field("snapshot_date", pa.string(), nullable=False),
                               pa.array([chosen] * table.num_rows, pa.string()))


def _verified_snapshot_bytes(store: InventoryStore, account: str, date: str) -> bytes:
    """The snapshot's Parquet bytes after checking them against its manifest (as steps.load_snapshot)."""
    folder = Partition(account, date).folder("snapshots")
    try:
        manifest = store.read_json(f"{folder}/manifest.json")
    except MissingDataError:
        raise HistoryError(f"no snapshot for account {account} on {date}: "
                           f"{_what_exists(store, account, _snapshot_dates(store, account))}") from None
    return store.read_verified(f"{folder}/snapshot.parquet", manifest["sha256"])


def _snapshot_dates(store: InventoryStore, account: str) -> list[str]:
    """Dates whose snapshot is complete (its manifest, written last, is there)."""
    return [d for d in store.dates("snapshots", account)
            if store.exists(f"{Partition(account, d).folder('snapshots')}/manifest.json")]


def _what_exists(store: InventoryStore, account: str, dates: list[str]) -> str:
    if dates:
        listed = ", ".join(dates) if len(dates) <= 10 else f"{dates[0]} … {dates[-1]} ({len(dates)} days)"
        return f"its snapshots are for {listed}"
    accounts = store.accounts("snapshots")
    where = store.display(KINDS["snapshots"])
    if accounts:
        return f"the account has no snapshots in {where}; accounts with snapshots: {', '.join(accounts)}"
    return f"there are no snapshots in {where}"


def _check_date(date: str) -> None:
    try:
        dt.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise HistoryError(f"date must be YYYY-MM-DD, not {date!r}") from None


# --- one resource across the history ---------------------------------------------------------------

_RESOURCE_COLUMNS = ["account", "date", "change_type", "severity", "categories", "resource_type", "name"]
_ATTRIBUTE_COLUMNS = ["account", "date", "path", "change", "old_value", "new_value", "category", "severity",
                      "description"]


def timeline(store: InventoryStore, arn: str, account: str | None = None) -> list[dict[str, Any]]:
    """Every recorded change to one resource, oldest first, starting with the day it was first seen.

    Each entry: `arn`, `date`, `account`, `change_type` (`first_seen` when the resource was already
    there in a snapshot with no delta saying it was added, else `added`, `modified`, `replaced` or
    `removed`), `severity`, `resource_type`, `name`, `categories` and `attributes` — the attribute
    changes with `path`, `change`, `old_value` and `new_value` (decoded JSON), `category`,
    `severity`, `description`. Without `account`, the ARN's account is used, or every account for
    ARNs without one (S3).
    """
    if account is None:
        account = arn_account(arn)
        account = account if account and _ACCOUNT_ID.match(account) else None
    where = pc.field("arn") == arn
    resources = history_dataset(store, "deltas", file="resource_changes.parquet", account=account).to_table(
        filter=where, columns=_RESOURCE_COLUMNS)
    attributes = history_dataset(store, "deltas", file="attribute_changes.parquet", account=account).to_table(
        filter=where, columns=_ATTRIBUTE_COLUMNS)
    seen = history_dataset(store, "snapshots", account=account).to_table(
        filter=where, columns=["account", "date", "resource_type", "name"])

    changes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in attributes.to_pylist():
        key = (row.pop("account"), row.pop("date"))
        row["old_value"], row["new_value"] = _decoded(row["old_value"]), _decoded(row["new_value"])
        changes.setdefault(key, []).append(row)
    entries = []
    for row in resources.to_pylist():
        attrs = sorted(changes.get((row["account"], row["date"]), []), key=lambda a: (a["path"], a["change"]))
        entries.append({"arn": arn, "date": row["date"], "account": row["account"],
                        "change_type": row["change_type"], "severity": row["severity"],
                        "resource_type": row["resource_type"], "name": row["name"],
                        "categories": list(row["categories"] or []), "attributes": attrs})

    first_seen: dict[str, dict[str, Any]] = {}
    for row in sorted(seen.to_pylist(), key=lambda r: r["date"]):
        first_seen.setdefault(row["account"], row)
    for acct, row in first_seen.items():
        if not any(e["account"] == acct and e["date"] == row["date"] and e["change_type"] in ("added", "replaced")
                   for e in entries):
            entries.append({"arn": arn, "date": row["date"], "account": acct, "change_type": "first_seen",
                            "severity": None, "resource_type": row["resource_type"], "name": row["name"],
                            "categories": [], "attributes": []})
    if not entries:
        scope = f"account {account}" if account else f"any account ({', '.join(store.accounts('snapshots')) or 'none'})"
        raise HistoryError(f"{arn} is in no snapshot or delta of {scope} in the store at {store.uri}")
    return sorted(entries, key=lambda e: (e["date"], e["account"]))


def _decoded(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


_MARKS = {"added": "+", "removed": "-", "changed": "~"}


def render_timeline(entries: list[Mapping[str, Any]], *, width: int = 100) -> str:
    """A timeline as terminal text: one block per date, one line per attribute change."""
    if not entries:
        return "No history.\n"
    head = entries[-1]
    label = " ".join(str(v) for v in (head.get("resource_type"), head.get("name") and f'"{head["name"]}"') if v)
    accounts = sorted({e["account"] for e in entries})
    lines = [head["arn"], f"{label}, account {', '.join(accounts)}".lstrip(", "), ""]
    for entry in entries:
        what = "first seen" if entry["change_type"] == "first_seen" else entry["change_type"]
        extra = [entry["severity"] or "", ", ".join(entry.get("categories") or [])]
        account = f"  [{entry['account']}]" if len(accounts) > 1 else ""
        lines.append(f"{entry['date']}  {what:<10}  {'  '.join(x for x in extra if x)}".rstrip() + account)
        for attr in entry["attributes"]:
            lines.append(f"    {_MARKS.get(attr['change'], '?')} {attr['path']}: {attr['description']}")
            old, new = _short(attr["old_value"], width), _short(attr["new_value"], width)
            values = {"added": f"now {new}", "removed": f"was {old}"}.get(attr["change"], f"{old} → {new}")
            lines.append(f"        {values}")
    return "\n".join(lines) + "\n"


def _short(value: Any, width: int) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"
