"""Store validation and statistics over a store written by the real chain (Dagster + moto), local and on S3."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests
from dagster import instance_for_test, materialize
from moto.server import ThreadedMotoServer

from inventag_pipeline.core.snapshot import SNAPSHOT_SCHEMA
from inventag_pipeline.integrity import Problem, storage_statistics, validate_store
from inventag_pipeline.operations import OPERATIONS_ASSETS, OPERATIONS_JOBS, validate_store_job
from inventag_pipeline.operations import storage_statistics as statistics_asset
from inventag_pipeline.resources import ComplianceGateResource, InventoryStoreResource
from inventag_pipeline.store.store import KINDS, InventoryStore, Partition
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, CHAIN, run_day

DAY1, DAY2, DAY3 = "2026-11-20", "2026-11-21", "2026-11-22"
KEYS = (*CHAIN, "tag_compliance", "security_findings", "compliance_report")
LENIENT = ComplianceGateResource(min_score=0, max_critical=1000, min_tag_pct=0, warn_score=0, warn_high=1000,
                                 warn_tag_pct=0)
# Per day: snapshot, relationships, resource and attribute changes, tag results, security findings.
PARQUET_PER_DAY = 6


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    """Three consecutive days of the whole chain against moto, built once per module and copied per test."""
    root = tmp_path_factory.mktemp("golden") / "store"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AWS_", "INVENTAG_")):
                mp.delenv(name)
        mp.setenv("AWS_CONFIG_FILE", str(root.parent / "no-aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(root.parent / "no-aws-credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            requests.post(f"{url}/moto-api/reset", timeout=10)
            client(url, "s3").create_bucket(Bucket="acme-logs")
            with instance_for_test() as instance:
                for day in (DAY1, DAY2, DAY3):
                    if day == DAY2:
                        client(url, "sqs").create_queue(QueueName="orders")
                    result = run_day(instance, url, str(root), day, keys=KEYS, regions="us-east-1", gate=LENIENT)
                    assert result.success
        finally:
            server.stop()
    return root


@pytest.fixture
def root(golden, tmp_path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(golden, target)
    return target


def _files(root: Path) -> dict[str, int]:
    """Every file under the root, relative path -> size on disk."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _kind_of(relative: str) -> str:
    return next(k for k, folder in KINDS.items() if relative.startswith(folder + "/"))


def _path(root: Path, kind: str, date: str, name: str = "") -> str:
    folder = str(root / Partition(ACCOUNT, date).folder(kind))
    return f"{folder}/{name}" if name else folder


def _flip_byte(path: str, offset: int = 100) -> None:
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def _found(report) -> set[tuple]:
    return {(p.severity, p.code, p.kind, p.account, p.date, p.path) for p in report.problems}


# --- validation ---------------------------------------------------------------------------------------------


def test_a_clean_store_validates_ok_with_exact_counts(root):
    report = validate_store(InventoryStore(str(root)))

    assert report.ok is True
    assert report.problems == []
    assert report.checked == {"accounts": 1, "partitions": 3, "files": len(_files(root)), "snapshots": 3,
                              "checksums": 3, "parquet_files": 3 * PARQUET_PER_DAY, "raw_manifests": 3}
    assert report.render_text().splitlines() == [
        f"Validated store {root}",
        f"Checked 1 account(s), 3 partition(s), {len(_files(root))} file(s): 3 snapshot checksum(s), "
        "18 Parquet file(s), 3 raw manifest(s).",
        "OK: 0 error(s), 0 warning(s), 0 info.",
    ]
    assert json.loads(json.dumps(report.to_dict())) == {
        "store": str(root), "ok": True, "checked": report.checked, "counts": {"error": 0, "warning": 0, "info": 0},
        "problems": [],
    }


def test_a_flipped_byte_in_a_snapshot_is_reported_as_corrupted(root):
    snapshot = _path(root, "snapshots", DAY2, "snapshot.parquet")
    expected_sha = json.loads(Path(_path(root, "snapshots", DAY2, "manifest.json")).read_text())["sha256"]
    _flip_byte(snapshot)

    report = validate_store(InventoryStore(str(root)))

    assert report.ok is False
    assert _found(report) == {("error", "corrupted", "snapshots", ACCOUNT, DAY2, snapshot)}
    assert f"does not match the manifest's {expected_sha[:12]}…" in report.problems[0].reason
    assert report.problems[0].reason.endswith(
        f"re-materialise inventory_snapshot for {ACCOUNT}|{DAY2}, then the deltas and compliance of this day and "
        "the next")
    # The corrupted file is hashed but never parsed: its bytes cannot be trusted.
    assert report.checked["checksums"] == 3 and report.checked["parquet_files"] == 3 * PARQUET_PER_DAY - 1
    lines = report.render_text().splitlines()
    assert lines[2] == "FAILED: 1 error(s), 0 warning(s), 0 info."
    assert lines[3].startswith(f"ERROR   {ACCOUNT} {DAY2} snapshots     corrupted: SHA-256 ")
    assert lines[3].endswith(f"[{snapshot}]")


def test_a_deleted_changelog_and_a_deleted_snapshot_manifest_are_reported_missing(root):
    shutil.rmtree(_path(root, "changelogs", DAY3))
    os.remove(_path(root, "snapshots", DAY1, "manifest.json"))
    os.remove(_path(root, "changelogs", DAY2, "changelog.html"))

    report = validate_store(InventoryStore(str(root)))

    assert report.ok is False
    assert [(p.severity, p.code, p.kind, p.date, p.path) for p in report.problems] == [
        ("error", "missing_manifest", "snapshots", DAY1, _path(root, "snapshots", DAY1, "manifest.json")),
        ("error", "missing_file", "changelogs", DAY2, _path(root, "changelogs", DAY2, "changelog.html")),
        ("warning", "missing_partition", "changelogs", DAY3, _path(root, "changelogs", DAY3)),
    ]
    assert [p.reason for p in report.problems] == [
        "snapshot.parquet has no manifest.json, so it cannot be verified and later deltas skip this day; "
        f"re-materialise inventory_snapshot for {ACCOUNT}|{DAY1}",
        "changelog.html is missing while other files of this partition are present; "
        f"re-materialise changelog for {ACCOUNT}|{DAY2}",
        f"delta stored for this day, changelog missing; materialise changelog for {ACCOUNT}|{DAY3}",
    ]
    assert report.checked["checksums"] == 2 and report.checked["partitions"] == 3
    assert report.render_text().splitlines()[2] == "FAILED: 2 error(s), 1 warning(s), 0 info."


def test_raw_manifest_and_payload_missing_under_a_snapshot_are_errors(root):
    raw = InventoryStore(str(root)).read_json(f"{Partition(ACCOUNT, DAY1).folder('raw')}/manifest.json")
    payload = raw["files"][0]
    os.remove(_path(root, "raw", DAY1, payload))
    os.remove(_path(root, "raw", DAY2, "manifest.json"))

    report = validate_store(InventoryStore(str(root)))

    assert _found(report) == {
        ("error", "missing_file", "raw", ACCOUNT, DAY1, _path(root, "raw", DAY1, payload)),
        ("error", "missing_manifest", "raw", ACCOUNT, DAY2, _path(root, "raw", DAY2, "manifest.json")),
    }
    assert report.checked["raw_manifests"] == 2


def test_a_snapshot_with_the_wrong_schema_is_an_error_even_with_a_matching_checksum(root):
    store = InventoryStore(str(root))
    folder = Partition(ACCOUNT, DAY2).folder("snapshots")
    table = store.read_table(f"{folder}/snapshot.parquet").drop_columns(["source"])
    sha, _ = store.write_table(f"{folder}/snapshot.parquet", table)
    manifest = store.read_json(f"{folder}/manifest.json")
    store.write_json(f"{folder}/manifest.json", {**manifest, "sha256": sha, "row_count": table.num_rows + 1})

    report = validate_store(store)

    assert _found(report) == {("error", "wrong_schema", "snapshots", ACCOUNT, DAY2,
                               _path(root, "snapshots", DAY2, "snapshot.parquet"))}
    assert report.problems[0].reason == (
        f"missing column 'source'; row_count {table.num_rows + 1} in manifest, {table.num_rows} in file; "
        f"re-materialise inventory_snapshot for {ACCOUNT}|{DAY2}")
    assert [f.name for f in SNAPSHOT_SCHEMA if f.name not in table.column_names] == ["source"]


def test_unreadable_parquet_and_a_moved_partition_are_errors(root):
    Path(_path(root, "deltas", DAY2, "resource_changes.parquet")).write_bytes(b"not parquet")
    shutil.copytree(_path(root, "snapshots", DAY3), _path(root, "snapshots", "2026-11-23"))

    report = validate_store(InventoryStore(str(root)))

    assert {(s, c, k, d) for s, c, k, _, d, _ in _found(report)} == {
        ("error", "unreadable", "deltas", DAY2),
        ("error", "wrong_partition", "snapshots", "2026-11-23"),
        ("error", "missing_manifest", "raw", "2026-11-23"),
        ("warning", "missing_partition", "relationships", "2026-11-23"),
        ("warning", "missing_partition", "deltas", "2026-11-23"),
        ("warning", "missing_partition", "tags", "2026-11-23"),
        ("warning", "missing_partition", "security", "2026-11-23"),
    }


def test_a_gap_day_is_info_and_does_not_fail_validation(root):
    for kind in KINDS:
        shutil.rmtree(_path(root, kind, DAY2))

    report = validate_store(InventoryStore(str(root)))

    assert report.ok is True
    assert report.problems == [Problem(
        "info", "snapshots", ACCOUNT, DAY2, str(root / f"snapshots/account={ACCOUNT}"),
        f"no snapshot on {DAY2} (1 day(s)) inside the account's history; collect the day(s) if still inside the "
        "collection window, otherwise the next delta spans the gap",
        "gap",
    )]
    assert report.checked["partitions"] == 2
    assert report.render_text().splitlines()[2] == "OK: 0 error(s), 0 warning(s), 1 info."


def test_validation_can_be_limited_to_accounts_and_names_unknown_ones(root):
    report = validate_store(InventoryStore(str(root)), accounts=["210987654321", ACCOUNT])

    assert report.ok is True
    assert _found(report) == {("warning", "unknown_account", "snapshots", "210987654321", None,
                               str(root / "snapshots/account=210987654321"))}
    assert report.checked["accounts"] == 2 and report.checked["partitions"] == 3


def test_a_leftover_temporary_file_is_a_warning(root):
    leftover = _path(root, "deltas", DAY2, "summary.json.tmp-0123abcd")
    Path(leftover).write_bytes(b"{")

    report = validate_store(InventoryStore(str(root)))

    assert report.ok is True
    assert _found(report) == {("warning", "leftover_temp_file", "deltas", ACCOUNT, DAY2, leftover)}
    assert report.checked["files"] == len(_files(root))


# --- statistics ---------------------------------------------------------------------------------------------


def _expected_statistics(root: Path, accounts: list[str]) -> dict:
    files = _files(root)

    def tally(paths):
        return {"bytes": sum(files[p] for p in paths), "files": len(paths)}

    by_account = {}
    for account in accounts:
        mine = [p for p in files if f"/account={account}/" in p]
        dates = sorted(p.split("/")[2][5:] for p in mine if p.startswith("snapshots/") and p.endswith(".parquet"))
        newest = f"snapshots/account={account}/date={dates[-1]}/snapshot.parquet"
        by_account[account] = {
            **tally(mine),
            "by_kind": {k: tally([p for p in mine if _kind_of(p) == k]) for k in KINDS},
            "snapshots": len(dates), "oldest_snapshot": dates[0], "newest_snapshot": dates[-1],
            "resources_in_newest": pq.read_metadata(root / newest).num_rows,
        }
    return {
        "store": str(root),
        "total_bytes": sum(files.values()),
        "total_files": len(files),
        "snapshots": sum(a["snapshots"] for a in by_account.values()),
        "oldest_snapshot": min(a["oldest_snapshot"] for a in by_account.values()),
        "newest_snapshot": max(a["newest_snapshot"] for a in by_account.values()),
        "resources_in_newest": sum(a["resources_in_newest"] for a in by_account.values()),
        "by_kind": {k: tally([p for p in files if _kind_of(p) == k]) for k in KINDS},
        "by_account": by_account,
    }


def _add_second_account(root: Path, other: str = "000000000001") -> str:
    """Another account's single (earlier) day: a copy of day 1's snapshot folder."""
    shutil.copytree(_path(root, "snapshots", DAY1), root / f"snapshots/account={other}/date=2026-11-01")
    return other


def test_storage_statistics_are_exact_sizes_on_disk(root):
    other = _add_second_account(root)

    stats = storage_statistics(InventoryStore(str(root)))

    assert stats == _expected_statistics(root, [other, ACCOUNT])
    assert list(stats["by_account"]) == [other, ACCOUNT]
    assert list(stats["by_kind"]) == list(KINDS)
    assert (stats["snapshots"], stats["oldest_snapshot"], stats["newest_snapshot"]) == (4, "2026-11-01", DAY3)
    mine = stats["by_account"][ACCOUNT]
    assert (mine["snapshots"], mine["oldest_snapshot"], mine["newest_snapshot"]) == (3, DAY1, DAY3)
    manifest = json.loads(Path(_path(root, "snapshots", DAY3, "manifest.json")).read_text())
    assert mine["resources_in_newest"] == manifest["row_count"]
    assert mine["by_kind"]["snapshots"] == {"files": 6, "bytes": sum(
        os.path.getsize(_path(root, "snapshots", d, n)) for d in (DAY1, DAY2, DAY3)
        for n in ("snapshot.parquet", "manifest.json"))}


def test_statistics_of_an_empty_store(tmp_path):
    stats = storage_statistics(InventoryStore(str(tmp_path / "empty")))

    assert stats == {
        "store": str(tmp_path / "empty"), "total_bytes": 0, "total_files": 0, "snapshots": 0,
        "oldest_snapshot": None, "newest_snapshot": None, "resources_in_newest": 0,
        "by_kind": {k: {"bytes": 0, "files": 0} for k in KINDS}, "by_account": {},
    }


# --- S3 ---------------------------------------------------------------------------------------------------


def test_validation_and_statistics_on_s3(golden, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="inventory-history")
    store = InventoryStore("s3://inventory-history/prod")
    pafs.copy_files(str(golden), "inventory-history/prod", source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=store.fs)

    clean = validate_store(store)
    assert clean.ok is True and clean.problems == []
    assert clean.checked == {"accounts": 1, "partitions": 3, "files": len(_files(golden)), "snapshots": 3,
                             "checksums": 3, "parquet_files": 3 * PARQUET_PER_DAY, "raw_manifests": 3}
    stats = storage_statistics(store)
    assert (stats["total_bytes"], stats["total_files"]) == (sum(_files(golden).values()), len(_files(golden)))
    assert stats["by_account"][ACCOUNT]["by_kind"] == _expected_statistics(golden, [ACCOUNT])["by_account"][
        ACCOUNT]["by_kind"]

    key = f"prod/{Partition(ACCOUNT, DAY1).folder('snapshots')}/snapshot.parquet"
    data = bytearray(s3.get_object(Bucket="inventory-history", Key=key)["Body"].read())
    data[100] ^= 0xFF
    s3.put_object(Bucket="inventory-history", Key=key, Body=bytes(data))
    corrupted = validate_store(store)
    assert _found(corrupted) == {("error", "corrupted", "snapshots", ACCOUNT, DAY1, f"s3://inventory-history/{key}")}


# --- Dagster ------------------------------------------------------------------------------------------------

@pytest.fixture
def instance():
    """A test instance made the current defs-state storage (the xdist weakref pitfall, see helpers.run_day)."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with instance_for_test() as dagster_instance, set_defs_state_storage(dagster_instance.defs_state_storage):
        yield dagster_instance



def test_the_storage_statistics_asset_materialises_with_plottable_metadata(root, instance):
    other = _add_second_account(root)
    expected = _expected_statistics(root, [other, ACCOUNT])

    store = InventoryStoreResource(storage_uri=str(root))
    result = materialize(OPERATIONS_ASSETS, instance=instance, resources={"store": store})

    assert result.success
    assert statistics_asset.group_names_by_key[statistics_asset.key] == "operations"
    assert not statistics_asset.partitions_def
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("storage_statistics")[0]
                .metadata.items()}
    assert {k: metadata[k] for k in ("total_bytes", "total_files", "snapshots", "accounts", "resources_in_newest",
                                     "oldest_snapshot", "newest_snapshot", "bytes_snapshots", "bytes_raw")} == {
        "total_bytes": expected["total_bytes"], "total_files": expected["total_files"], "snapshots": 4,
        "accounts": 2, "resources_in_newest": expected["resources_in_newest"],
        "oldest_snapshot": "2026-11-01", "newest_snapshot": DAY3,
        "bytes_snapshots": expected["by_kind"]["snapshots"]["bytes"], "bytes_raw": expected["by_kind"]["raw"]["bytes"],
    }
    assert all(isinstance(metadata[k], int) for k in ("total_bytes", "snapshots", "accounts", "bytes_reports"))
    mine, theirs = expected["by_account"][ACCOUNT], expected["by_account"][other]
    assert metadata["by_account"].splitlines() == [
        "| account | snapshots | oldest | newest | resources (newest) | files | bytes |",
        "|---|---:|---|---|---:|---:|---:|",
        f"| {other} | 1 | 2026-11-01 | 2026-11-01 | {theirs['resources_in_newest']} | 2 | {theirs['bytes']} |",
        f"| {ACCOUNT} | 3 | {DAY1} | {DAY3} | {mine['resources_in_newest']} | {mine['files']} | {mine['bytes']} |",
    ]
    assert metadata["by_kind"].splitlines()[2] == (
        f"| raw | {expected['by_kind']['raw']['files']} | {expected['by_kind']['raw']['bytes']} |")


def test_the_validate_job_succeeds_on_a_clean_store_with_counts(root, instance):
    assert validate_store_job in OPERATIONS_JOBS and validate_store_job.name == "validate_store"

    store = InventoryStoreResource(storage_uri=str(root))
    result = validate_store_job.execute_in_process(instance=instance, resources={"store": store})

    assert result.success
    outputs = [e.event_specific_data.metadata for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert [{k: v.value for k, v in m.items()} for m in outputs] == [{
        "checked_accounts": 1, "checked_partitions": 3, "checked_files": len(_files(root)), "checked_snapshots": 3,
        "checked_checksums": 3, "checked_parquet_files": 18, "checked_raw_manifests": 3,
        "errors": 0, "warnings": 0, "info": 0, "store": str(root),
    }]


def test_the_validate_job_fails_on_a_corrupted_store_with_the_report(root, instance):
    snapshot = _path(root, "snapshots", DAY3, "snapshot.parquet")
    _flip_byte(snapshot)
    shutil.rmtree(_path(root, "changelogs", DAY1))

    result = validate_store_job.execute_in_process(
        instance=instance, resources={"store": InventoryStoreResource(storage_uri=str(root))}, raise_on_error=False)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data
    description = failure.user_failure_data.description
    assert description.splitlines()[2] == "FAILED: 1 error(s), 1 warning(s), 0 info."
    assert description.splitlines()[3].startswith(f"ERROR   {ACCOUNT} {DAY3} snapshots     corrupted: ")
    assert description.splitlines()[3].endswith(f"[{snapshot}]")
    assert description.splitlines()[4].startswith(f"WARNING {ACCOUNT} {DAY1} changelogs    missing_partition: ")
    assert {k: v.value for k, v in failure.user_failure_data.metadata.items()}["errors"] == 1


def test_the_validate_job_is_limited_by_config(root, instance):
    result = validate_store_job.execute_in_process(
        instance=instance, resources={"store": InventoryStoreResource(storage_uri=str(root))},
        run_config={"ops": {"validate_store_op": {"config": {"accounts": ["210987654321"]}}}},
    )

    assert result.success
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data
    assert {k: v.value for k, v in output.metadata.items()}["warnings"] == 1
