"""Integrity and statistics over the whole store (DESIGN §4): `inventag validate` and the operations assets.

Validation streams each snapshot through SHA-256 (memory stays flat however large the file), then reads
only the Parquet footer and the `arn` column to check the schema, so a long history is checked without
loading any snapshot whole. It also compares which partitions exist across the kinds, since a day that
stopped halfway through the chain is as much a hole in the history as a corrupted file. No Dagster import:
the console command uses this module directly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from inventag_pipeline.core.snapshot import arn_problems, column_problems, sha256_of_stream
from inventag_pipeline.store.store import KINDS, InventoryStore, Partition

SEVERITIES = ("error", "warning", "info")

# The asset that writes each kind: what to re-materialise when a partition is damaged or missing.
ASSET_OF_KIND = {
    "raw": "raw_inventory",
    "snapshots": "inventory_snapshot",
    "relationships": "inventory_snapshot",
    "deltas": "inventory_delta",
    "changelogs": "changelog",
    "tags": "tag_compliance",
    "security": "security_findings",
    "reports": "compliance_report",
}

# What each kind holds, in words, for reasons a person reads.
KIND_LABEL = {
    "raw": "raw inventory",
    "snapshots": "snapshot",
    "relationships": "relationships file",
    "deltas": "delta",
    "changelogs": "changelog",
    "tags": "tag compliance results",
    "security": "security findings",
    "reports": "compliance report",
}

# Files every partition of a kind holds once its step has finished (raw payload files come from its manifest).
REQUIRED_FILES = {
    "raw": ("manifest.json", "audit.jsonl.gz"),
    "snapshots": ("manifest.json", "snapshot.parquet"),
    "relationships": ("relationships.parquet",),
    "deltas": ("resource_changes.parquet", "attribute_changes.parquet", "summary.json"),
    "changelogs": ("changelog.md", "changelog.html", "changelog.json"),
    "tags": ("results.parquet",),
    "security": ("findings.parquet", "findings.ocsf.json"),
    "reports": ("report.json", "report.md"),
}

# (upstream, downstream): a day with the upstream partition but not the downstream one stopped halfway.
DEPENDENTS = (
    ("raw", "snapshots"),
    ("snapshots", "relationships"),
    ("snapshots", "deltas"),
    ("deltas", "changelogs"),
    ("snapshots", "tags"),
    ("snapshots", "security"),
    ("security", "reports"),
)

_PARTITION_FILE = re.compile(r"^account=([^/]+)/date=(\d{4}-\d{2}-\d{2})/(.+)$")
_TEMP_FILE = re.compile(r"\.tmp-[0-9a-f]{8}$")


@dataclass(frozen=True)
class Problem:
    """One finding: `kind` is the store kind (a KINDS key), `code` names the problem."""

    severity: str  # 'error' | 'warning' | 'info'
    kind: str
    account: str
    date: str | None
    path: str
    reason: str
    code: str

    def render(self) -> str:
        return (f"{self.severity.upper():<7} {self.account} {self.date or '-':<10} {self.kind:<13} "
                f"{self.code}: {self.reason} [{self.path}]")


@dataclass
class ValidationReport:
    store: str
    checked: dict[str, int]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error-severity problem (warnings and info do not fail validation)."""
        return not any(p.severity == "error" for p in self.problems)

    def counts(self) -> dict[str, int]:
        """Problems per severity, every severity present."""
        return {s: sum(1 for p in self.problems if p.severity == s) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "ok": self.ok, "checked": dict(self.checked), "counts": self.counts(),
                "problems": [asdict(p) for p in self.problems]}

    def render_text(self) -> str:
        counts = self.counts()
        c = self.checked
        lines = [
            f"Validated store {self.store}",
            f"Checked {c['accounts']} account(s), {c['partitions']} partition(s), {c['files']} file(s): "
            f"{c['checksums']} snapshot checksum(s), {c['parquet_files']} Parquet file(s), "
            f"{c['raw_manifests']} raw manifest(s).",
            ("FAILED" if not self.ok else "OK") + f": {counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['info']} info.",
        ]
        lines += [p.render() for p in self.problems]
        return "\n".join(lines)


# --- listing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    kind: str
    account: str | None
    date: str | None
    name: str  # path inside the partition folder (or inside the kind folder when outside the layout)
    size: int

    @property
    def relative(self) -> str:
        if self.account is None:
            return f"{KINDS[self.kind]}/{self.name}"
        return f"{Partition(self.account, self.date).folder(self.kind)}/{self.name}"  # type: ignore[arg-type]


def _scan(store: InventoryStore, kind: str, account: str | None = None) -> list[_File]:
    """Every file of one kind (optionally one account), with its size: one recursive listing."""
    root = KINDS[kind] if account is None else f"{KINDS[kind]}/account={account}"
    selector = pafs.FileSelector(store.path(root), recursive=True, allow_not_found=True)
    prefix = store.path(KINDS[kind]) + "/"
    out = []
    for info in store.fs.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        inner = info.path[len(prefix):]
        match = _PARTITION_FILE.match(inner)
        if match:
            out.append(_File(kind, match.group(1), match.group(2), match.group(3), info.size))
        else:
            out.append(_File(kind, None, None, inner, info.size))
    return sorted(out, key=lambda f: (f.account or "", f.date or "", f.name))


def _partitions(files: Sequence[_File]) -> dict[tuple[str, str], dict[str, int]]:
    """(account, date) -> {file name: size} for finished files (interrupted writes' temporary files left out)."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for f in files:
        if f.account is not None and not _TEMP_FILE.search(f.name):
            out[(f.account, f.date)][f.name] = f.size  # type: ignore[index]
    return out


# --- validation --------------------------------------------------------------------------------------------


class _Validator:
    def __init__(self, store: InventoryStore):
        self.store = store
        self.problems: list[Problem] = []
        self.checked = {"accounts": 0, "partitions": 0, "files": 0, "snapshots": 0, "checksums": 0,
                        "parquet_files": 0, "raw_manifests": 0}

    def add(self, severity: str, code: str, kind: str, account: str, date: str | None, relative: str,
            reason: str) -> None:
        self.problems.append(Problem(severity, kind, account, date, self.store.display(relative), reason, code))

    # --- one account ---

    def account(self, account: str) -> None:
        files = {kind: _scan(self.store, kind, account) for kind in KINDS}
        present = {kind: _partitions(kind_files) for kind, kind_files in files.items()}
        self.checked["accounts"] += 1
        self.checked["files"] += sum(len(f) for f in files.values())
        dates = sorted({date for parts in present.values() for (_, date) in parts})
        self.checked["partitions"] += len(dates)
        if not dates and not any(files.values()):
            self.add("warning", "unknown_account", "snapshots", account, None,
                     f"{KINDS['snapshots']}/account={account}",
                     "nothing is stored for this account: check the account id, or collect it first")
            return
        for kind_files in files.values():
            for f in kind_files:
                if f.account is not None and _TEMP_FILE.search(f.name):
                    self.add("warning", "leftover_temp_file", f.kind, account, f.date, f.relative,
                             "temporary file left by an interrupted write; delete it once no run is writing "
                             "this partition")
        for date in dates:
            part = Partition(account, date)
            listing = {kind: present[kind].get((account, date)) for kind in KINDS}
            self.required_files(part, listing)
            self.raw(part, listing)
            self.snapshot(part, listing.get("snapshots"))
            self.parquet_footers(part, listing)
            self.missing_partitions(part, listing)
        self.gaps(account, sorted(d for (_, d) in present["snapshots"]))

    def required_files(self, part: Partition, listing: dict[str, dict[str, int] | None]) -> None:
        for kind, names in listing.items():
            if names is None:
                continue
            for required in REQUIRED_FILES[kind]:
                if required in names:
                    continue
                relative = f"{part.folder(kind)}/{required}"
                if kind == "raw" and required == "manifest.json":
                    continue  # raw() decides: an error only where a snapshot was built from it
                if kind == "snapshots" and required == "manifest.json":
                    reason = ("snapshot.parquet has no manifest.json, so it cannot be verified and later deltas "
                              "skip this day")
                else:
                    reason = f"{required} is missing while other files of this partition are present"
                code = "missing_manifest" if required == "manifest.json" else "missing_file"
                self.add("error", code, kind, part.account, part.date, relative,
                         f"{reason}; re-materialise {ASSET_OF_KIND[kind]} for {part.key}")

    def raw(self, part: Partition, listing: dict[str, dict[str, int] | None]) -> None:
        raw = listing["raw"]
        relative = f"{part.folder('raw')}/manifest.json"
        if raw is None or "manifest.json" not in raw:
            if listing["snapshots"] is not None:
                self.add("error", "missing_manifest", "raw", part.account, part.date, relative,
                         "a snapshot exists but its raw inventory manifest does not, so the snapshot can no "
                         "longer be rebuilt or traced to its collection; restore raw/ from a backup, or "
                         "re-collect raw_inventory if the day is still inside its collection window")
            elif raw is not None:
                self.add("warning", "missing_manifest", "raw", part.account, part.date, relative,
                         "raw payloads without a manifest: the collection did not finish (or is running now); "
                         f"re-materialise raw_inventory for {part.key}")
            return
        self.checked["raw_manifests"] += 1
        manifest = self.manifest(part, "raw", relative)
        if manifest is None:
            return
        for name in manifest.get("files", []):
            if name not in raw:
                self.add("error", "missing_file", "raw", part.account, part.date, f"{part.folder('raw')}/{name}",
                         f"listed in the raw manifest but not stored; re-collect raw_inventory for {part.key} "
                         "if the day is still inside its collection window")

    def manifest(self, part: Partition, kind: str, relative: str) -> dict[str, Any] | None:
        """A manifest that parses and describes this partition, else None (with the problem recorded)."""
        try:
            manifest = json.loads(self.store.read_bytes(relative))
        except (OSError, ValueError) as exc:
            self.add("error", "unreadable", kind, part.account, part.date, relative,
                     f"the manifest cannot be read as JSON ({exc}); re-materialise {ASSET_OF_KIND[kind]} "
                     f"for {part.key}")
            return None
        if not isinstance(manifest, dict):
            self.add("error", "unreadable", kind, part.account, part.date, relative,
                     f"the manifest is not a JSON object; re-materialise {ASSET_OF_KIND[kind]} for {part.key}")
            return None
        found = (manifest.get("account_id"), manifest.get("date"))
        if found != (part.account, part.date):
            self.add("error", "wrong_partition", kind, part.account, part.date, relative,
                     f"the manifest describes account {found[0]} on {found[1]}, not this partition: the folder "
                     f"was copied or moved; re-materialise {ASSET_OF_KIND[kind]} for {part.key}")
            return None
        return manifest

    def snapshot(self, part: Partition, names: dict[str, int] | None) -> None:
        if names is None:
            return
        self.checked["snapshots"] += 1
        folder = part.folder("snapshots")
        if "manifest.json" not in names or "snapshot.parquet" not in names:
            return  # reported by required_files
        manifest = self.manifest(part, "snapshots", f"{folder}/manifest.json")
        if manifest is None:
            return
        relative = f"{folder}/snapshot.parquet"
        expected = manifest.get("sha256")
        if not isinstance(expected, str) or not isinstance(manifest.get("row_count"), int):
            self.add("error", "unreadable", "snapshots", part.account, part.date, f"{folder}/manifest.json",
                     "the manifest has no sha256 or row_count, so the snapshot cannot be verified; "
                     f"re-materialise inventory_snapshot for {part.key}")
            return
        try:
            actual = _sha256_stream(self.store, relative)
        except OSError as exc:
            self.add("error", "unreadable", "snapshots", part.account, part.date, relative,
                     f"the file cannot be read ({exc})")
            return
        self.checked["checksums"] += 1
        if actual != expected:
            self.add("error", "corrupted", "snapshots", part.account, part.date, relative,
                     f"SHA-256 {actual[:12]}… does not match the manifest's {expected[:12]}…: the file changed "
                     f"after it was written; re-materialise inventory_snapshot for {part.key}, then the "
                     "deltas and compliance of this day and the next")
            return
        self.checked["parquet_files"] += 1
        try:
            with self.store.fs.open_input_file(self.store.path(relative)) as handle:
                parquet = pq.ParquetFile(handle)
                schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
                problems = column_problems(schema)
                if "arn" in schema.names:
                    problems += arn_problems(parquet.read(columns=["arn"]).column("arn"))
        except (OSError, pa.ArrowException) as exc:
            self.add("error", "unreadable", "snapshots", part.account, part.date, relative,
                     f"not a readable Parquet file ({exc}); re-materialise inventory_snapshot for {part.key}")
            return
        if rows != manifest["row_count"]:
            problems.append(f"row_count {manifest['row_count']} in manifest, {rows} in file")
        if problems:
            self.add("error", "wrong_schema", "snapshots", part.account, part.date, relative,
                     "; ".join(problems) + f"; re-materialise inventory_snapshot for {part.key}")

    def parquet_footers(self, part: Partition, listing: dict[str, dict[str, int] | None]) -> None:
        """Parquet files without a checksum: at least their footer must read (a truncated file fails here)."""
        for kind, names in listing.items():
            if kind == "snapshots" or names is None:
                continue
            for name in sorted(n for n in names if n.endswith(".parquet")):
                relative = f"{part.folder(kind)}/{name}"
                self.checked["parquet_files"] += 1
                try:
                    with self.store.fs.open_input_file(self.store.path(relative)) as handle:
                        pq.read_metadata(handle)
                except (OSError, pa.ArrowException) as exc:
                    self.add("error", "unreadable", kind, part.account, part.date, relative,
                             f"not a readable Parquet file ({exc}); re-materialise {ASSET_OF_KIND[kind]} "
                             f"for {part.key}")

    def missing_partitions(self, part: Partition, listing: dict[str, dict[str, int] | None]) -> None:
        for upstream, downstream in DEPENDENTS:
            if listing[upstream] is not None and listing[downstream] is None:
                self.add("warning", "missing_partition", downstream, part.account, part.date,
                         part.folder(downstream),
                         f"{KIND_LABEL[upstream]} stored for this day, {KIND_LABEL[downstream]} missing; "
                         f"materialise {ASSET_OF_KIND[downstream]} for {part.key}")
            elif listing[downstream] is not None and listing[upstream] is None and upstream != "raw":
                # A missing raw inventory under a snapshot is raw()'s error; other orphans are rebuildable.
                self.add("warning", "missing_partition", upstream, part.account, part.date, part.folder(upstream),
                         f"{KIND_LABEL[downstream]} stored for this day, {KIND_LABEL[upstream]} (its input) "
                         f"missing; materialise {ASSET_OF_KIND[upstream]} for {part.key}")

    def gaps(self, account: str, dates: list[str]) -> None:
        """Days without a snapshot between the account's first and last, one line per run of days."""
        if len(dates) < 2:
            return
        have = set(dates)
        day, last = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
        run: list[dt.date] = []
        while day <= last:
            if day.isoformat() in have:
                if run:
                    self._gap(account, run)
                    run = []
            else:
                run.append(day)
            day += dt.timedelta(days=1)

    def _gap(self, account: str, run: list[dt.date]) -> None:
        span = f"on {run[0]}" if len(run) == 1 else f"from {run[0]} to {run[-1]}"
        self.add("info", "gap", "snapshots", account, run[0].isoformat(), f"{KINDS['snapshots']}/account={account}",
                 f"no snapshot {span} ({len(run)} day(s)) inside the account's history; collect the day(s) if "
                 "still inside the collection window, otherwise the next delta spans the gap")


def _sha256_stream(store: InventoryStore, relative: str) -> str:
    with store.fs.open_input_stream(store.path(relative), compression=None) as handle:
        return sha256_of_stream(handle)


def _sort_key(problem: Problem) -> tuple:
    kinds = list(KINDS)
    return (SEVERITIES.index(problem.severity), problem.account, problem.date or "",
            kinds.index(problem.kind), problem.path, problem.code)


def store_accounts(store: InventoryStore) -> list[str]:
    """Every account with a folder under any kind, sorted."""
    return sorted({account for kind in KINDS for account in store.accounts(kind)})


def validate_store(store: InventoryStore, accounts: Sequence[str] | None = None) -> ValidationReport:
    """Check every partition of every account (or of `accounts`) in the store; errors make `ok` False."""
    validator = _Validator(store)
    for account in sorted(set(accounts)) if accounts is not None else store_accounts(store):
        validator.account(account)
    return ValidationReport(store.display("").rstrip("/"), validator.checked, sorted(validator.problems, key=_sort_key))


# --- statistics ---------------------------------------------------------------------------------------------


def storage_statistics(store: InventoryStore) -> dict[str, Any]:
    """Bytes and files per kind and account, snapshot counts and dates, and the newest snapshot's resources.

    Every file under a kind's folder counts towards `total_bytes` and `by_kind`; files outside the
    `account=/date=` layout count there but towards no account.
    """
    by_kind = {kind: {"bytes": 0, "files": 0} for kind in KINDS}
    by_account: dict[str, dict[str, Any]] = {}
    snapshot_dates: dict[str, list[str]] = defaultdict(list)
    for kind in KINDS:
        for f in _scan(store, kind):
            by_kind[kind]["bytes"] += f.size
            by_kind[kind]["files"] += 1
            if f.account is None:
                continue
            entry = by_account.setdefault(f.account, {
                "bytes": 0, "files": 0, "by_kind": {k: {"bytes": 0, "files": 0} for k in KINDS},
            })
            entry["bytes"] += f.size
            entry["files"] += 1
            entry["by_kind"][kind]["bytes"] += f.size
            entry["by_kind"][kind]["files"] += 1
            if kind == "snapshots" and f.name == "snapshot.parquet":
                snapshot_dates[f.account].append(f.date)  # type: ignore[arg-type]
    for account, entry in by_account.items():
        dates = sorted(snapshot_dates.get(account, []))
        entry["snapshots"] = len(dates)
        entry["oldest_snapshot"] = dates[0] if dates else None
        entry["newest_snapshot"] = dates[-1] if dates else None
        entry["resources_in_newest"] = _row_count(store, Partition(account, dates[-1])) if dates else None
    accounts = {a: by_account[a] for a in sorted(by_account)}
    oldest = [e["oldest_snapshot"] for e in accounts.values() if e["oldest_snapshot"]]
    newest = [e["newest_snapshot"] for e in accounts.values() if e["newest_snapshot"]]
    return {
        "store": store.display("").rstrip("/"),
        "total_bytes": sum(k["bytes"] for k in by_kind.values()),
        "total_files": sum(k["files"] for k in by_kind.values()),
        "snapshots": sum(e["snapshots"] for e in accounts.values()),
        "oldest_snapshot": min(oldest) if oldest else None,
        "newest_snapshot": max(newest) if newest else None,
        "resources_in_newest": sum(e["resources_in_newest"] or 0 for e in accounts.values()),
        "by_kind": by_kind,
        "by_account": accounts,
    }


def _row_count(store: InventoryStore, part: Partition) -> int | None:
    """The manifest's row_count; None when the manifest is missing or unreadable (validation says why)."""
    try:
        manifest = store.read_json(f"{part.folder('snapshots')}/manifest.json")
    except (OSError, ValueError):
        return None
    count = manifest.get("row_count") if isinstance(manifest, dict) else None
    return count if isinstance(count, int) else None
