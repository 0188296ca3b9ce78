"""The store on a local path and on S3 (moto's server through pyarrow's S3 filesystem)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from inventag_pipeline.core.snapshot import SNAPSHOT_SCHEMA
from inventag_pipeline.store.store import IntegrityError, InventoryStore, MissingDataError, Partition
from inventag_pipeline_tests.conftest import client

PART = Partition("123456789012", "2026-11-21")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return InventoryStore(str(tmp_path / "root"))
    url = request.getfixturevalue("moto_url")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client(url, "s3").create_bucket(Bucket="inventory-history")
    return InventoryStore("s3://inventory-history/prod")


def test_layout_round_trips_and_lists_partitions(store):
    table = SNAPSHOT_SCHEMA.empty_table()
    folder = PART.folder("snapshots")
    sha, size = store.write_table(f"{folder}/snapshot.parquet", table)
    store.write_json(f"{folder}/manifest.json", {"sha256": sha})
    store.write_jsonl_gz(f"{PART.folder('raw')}/ec2/us-east-1.jsonl.gz", [{"a": 1}, {"b": 2}])

    assert store.read_table(f"{folder}/snapshot.parquet", expected_sha256=sha).schema.equals(SNAPSHOT_SCHEMA)
    assert store.read_json(f"{folder}/manifest.json") == {"sha256": sha}
    assert list(store.read_jsonl_gz(f"{PART.folder('raw')}/ec2/us-east-1.jsonl.gz")) == [{"a": 1}, {"b": 2}]
    assert store.dates("snapshots", PART.account) == ["2026-11-21"]
    assert store.accounts("snapshots") == [PART.account]
    assert store.list_files("snapshots") == [
        f"{folder}/manifest.json", f"{folder}/snapshot.parquet"]
    assert size == len(store.read_bytes(f"{folder}/snapshot.parquet"))


def test_corruption_and_absence_are_named(store):
    relative = f"{PART.folder('snapshots')}/snapshot.parquet"
    store.write_bytes(relative, b"not what the manifest vouched for")
    with pytest.raises(IntegrityError, match=r"snapshot\.parquet is corrupted: its SHA-256 does not match"):
        store.read_verified(relative, "0" * 64)
    with pytest.raises(MissingDataError, match="does not exist"):
        store.read_bytes(f"{PART.folder('deltas')}/summary.json")
    assert store.dates("deltas", PART.account) == []


def test_rewrite_replaces_the_file_whole(store):
    relative = f"{PART.folder('changelogs')}/changelog.md"
    store.write_bytes(relative, b"first version, longer than the second")
    store.write_bytes(relative, b"second")
    assert store.read_bytes(relative) == b"second"
    assert store.list_files("changelogs") == [relative]


def test_display_paths_are_openable(tmp_path):
    assert InventoryStore(str(tmp_path)).display("a/b") == f"{tmp_path}/a/b"
    assert InventoryStore("s3://bucket/prefix").display("a/b") == "s3://bucket/prefix/a/b"


def test_s3_write_is_a_single_object(store):
    data = pa.table({"x": list(range(10))})
    store.write_table("deltas/account=1/date=2026-01-01/t.parquet", data)
    assert store.list_files("deltas") == ["deltas/account=1/date=2026-01-01/t.parquet"]
