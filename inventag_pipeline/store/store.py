"""The storage layout of DESIGN §4 on a local path or S3, with atomic writes and checksums.

Both backends go through `pyarrow.fs`, so pyarrow, DuckDB, Athena and Spark read the same
Hive-style folders. Local writes go to a temporary name and are renamed into place; an S3 object
appears only when its upload completes, so readers never see half a file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from inventag_pipeline.core.snapshot import sha256_hex, table_to_parquet_bytes

KINDS = {
    "raw": "raw",
    "snapshots": "snapshots",
    # Beside, not inside, snapshots/: a query engine reading snapshots/ as one table must find one schema.
    "relationships": "relationships",
    "deltas": "deltas",
    "changelogs": "changelogs",
    "tags": "compliance/tags",
    "security": "compliance/security",
    "reports": "compliance/reports",
}
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


class IntegrityError(RuntimeError):
    """A stored file does not match its manifest's checksum."""


class MissingDataError(FileNotFoundError):
    """A partition's file is not in the store."""


def default_storage_uri() -> str:
    return str(Path.cwd() / ".inventag" / "store")


@dataclass(frozen=True)
class Partition:
    account: str
    date: str

    def folder(self, kind: str) -> str:
        return f"{KINDS[kind]}/account={self.account}/date={self.date}"

    @property
    def key(self) -> str:
        """`ACCOUNT|DATE`, as the Dagster UI writes the partition."""
        return f"{self.account}|{self.date}"


class InventoryStore:
    """Reads and writes the §4 layout under one root URI."""

    def __init__(self, root: str | None = None):
        root = root or default_storage_uri()
        self.uri = root
        if root.startswith("s3://"):
            parsed = urlparse(root)
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            kwargs: dict[str, Any] = {}
            if endpoint:
                kwargs["endpoint_override"] = endpoint
                kwargs["scheme"] = urlparse(endpoint).scheme or "http"
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if region:
                kwargs["region"] = region
            self.fs: pafs.FileSystem = pafs.S3FileSystem(**kwargs)
            self.base = (parsed.netloc + parsed.path).rstrip("/")
            self.local = False
        else:
            path = Path(root[7:] if root.startswith("file://") else root).expanduser().resolve()
            self.fs = pafs.LocalFileSystem()
            self.base = str(path)
            self.local = True

    # --- paths ---------------------------------------------------------------------------------

    def path(self, relative: str) -> str:
        return f"{self.base}/{relative}"

    def display(self, relative: str) -> str:
        """A path a user can open: local path or s3:// URI."""
        return self.path(relative) if self.local else f"s3://{self.path(relative)}"

    # --- bytes ---------------------------------------------------------------------------------

    def write_bytes(self, relative: str, data: bytes) -> str:
        """Atomic write; returns the SHA-256 of what was written."""
        target = self.path(relative)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{target}.tmp-{uuid.uuid4().hex[:8]}"
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        else:
            with self.fs.open_output_stream(target, compression=None) as out:
                out.write(data)
        return sha256_hex(data)

    def read_bytes(self, relative: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.path(relative), compression=None) as handle:
                return handle.read()
        except FileNotFoundError:
            raise MissingDataError(f"{self.display(relative)} does not exist") from None
        except OSError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                raise MissingDataError(f"{self.display(relative)} does not exist") from None
            raise

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type == pafs.FileType.File

    def delete_folder(self, relative: str) -> None:
        info = self.fs.get_file_info(self.path(relative))
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(self.path(relative))

    def list_files(self, relative: str) -> list[str]:
        """Files below a folder, relative to the store root, sorted."""
        selector = pafs.FileSelector(self.path(relative), recursive=True, allow_not_found=True)
        prefix = self.base + "/"
        return sorted(i.path[len(prefix):] for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File)

    # --- JSON, JSON lines, Parquet ------------------------------------------------------------------

    def write_json(self, relative: str, value: Any) -> str:
        return self.write_bytes(relative, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())

    def read_json(self, relative: str) -> Any:
        return json.loads(self.read_bytes(relative))

    def write_jsonl_gz(self, relative: str, rows: Iterable[Mapping[str, Any]]) -> str:
        buffer = io.BytesIO()
        # mtime=0 keeps the bytes identical for identical content.
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            for row in rows:
                gz.write((json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode())
        return self.write_bytes(relative, buffer.getvalue())

    def read_jsonl_gz(self, relative: str) -> Iterator[dict[str, Any]]:
        for line in gzip.decompress(self.read_bytes(relative)).splitlines():
            if line.strip():
                yield json.loads(line)

    def write_table(self, relative: str, table: pa.Table) -> tuple[str, int]:
        """Parquet, atomically; returns (sha256, size in bytes)."""
        data = table_to_parquet_bytes(table)
        return self.write_bytes(relative, data), len(data)

    def read_verified(self, relative: str, expected_sha256: str) -> bytes:
        """The file's bytes, after checking them against the manifest's SHA-256."""
        data = self.read_bytes(relative)
        actual = sha256_hex(data)
        if actual != expected_sha256:
            raise IntegrityError(
                f"{self.display(relative)} is corrupted: its SHA-256 does not match the manifest "
                f"({actual[:12]}… ≠ {expected_sha256[:12]}…). Re-materialise this partition."
            )
        return data

    def read_table(self, relative: str, *, columns: list[str] | None = None, expected_sha256: str | None = None
                   ) -> pa.Table:
        data = self.read_verified(relative, expected_sha256) if expected_sha256 else self.read_bytes(relative)
        return pq.read_table(pa.BufferReader(data), columns=columns)

    # --- partitions ----------------------------------------------------------------------------

    def dates(self, kind: str, account: str) -> list[str]:
        """Dates with a folder for this kind and account, ascending."""
        selector = pafs.FileSelector(self.path(f"{KINDS[kind]}/account={account}"), allow_not_found=True)
        out = []
        for info in self.fs.get_file_info(selector):
            match = _DATE_DIR.match(info.base_name)
            if match and info.type == pafs.FileType.Directory:
                out.append(match.group(1))
        return sorted(out)

    def accounts(self, kind: str) -> list[str]:
        selector = pafs.FileSelector(self.path(KINDS[kind]), allow_not_found=True)
        return sorted(i.base_name.split("=", 1)[1] for i in self.fs.get_file_info(selector)
                      if i.base_name.startswith("account=") and i.type == pafs.FileType.Directory)
