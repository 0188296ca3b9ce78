"""Retention end to end: a store and a Dagster instance written by the real chain, then the retention job."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import requests
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DefaultScheduleStatus,
    build_schedule_context,
    instance_for_test,
    job,
    op,
)
from dagster._core.storage.defs_state.base import set_defs_state_storage
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value
from moto.server import ThreadedMotoServer

from inventag_pipeline import cli
from inventag_pipeline.core.retention import Limits, RetentionConfigError
from inventag_pipeline.definitions import defs
from inventag_pipeline.integrity import DEPENDENTS, validate_store
from inventag_pipeline.operations.retention import (
    DATED_FOLDERS,
    DELETE_ORDER,
    RECORDED_ASSETS,
    RetentionResource,
    run_retention,
    scan_store,
)
from inventag_pipeline.partitions import inventory_partitions
from inventag_pipeline.resources import ComplianceGateResource
from inventag_pipeline.store.store import KINDS, InventoryStore, Partition
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, CHAIN, run_day

DAYS = ("2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
TODAY = "2026-11-21"
# Keep the last 2 snapshots and 2 days: the two oldest days go.
DELETED, KEPT = DAYS[:2], DAYS[2:]
KEYS = (*CHAIN, "tag_compliance", "security_findings", "compliance_report")
LENIENT = ComplianceGateResource(min_score=0, max_critical=1000, min_tag_pct=0, warn_score=0, warn_high=1000,
                                 warn_tag_pct=0)


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    """Four days of the whole chain against moto, store and Dagster instance, built once and copied per test."""
    base = tmp_path_factory.mktemp("retention-golden")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AWS_", "INVENTAG_")):
                mp.delenv(name)
        mp.setenv("AWS_CONFIG_FILE", str(base / "no-aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(base / "no-aws-credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            requests.post(f"{url}/moto-api/reset", timeout=10)
            client(url, "s3").create_bucket(Bucket="acme-logs")
            (base / "home").mkdir()
            with instance_for_test(temp_dir=str(base / "home")) as instance:
                for day in DAYS:
                    if day == DAYS[2]:
                        client(url, "sqs").create_queue(QueueName="orders")
                    result = run_day(instance, url, str(base / "store"), day, keys=KEYS, regions="us-east-1",
                                     gate=LENIENT)
                    assert result.success
        finally:
            server.stop()
    return base


@pytest.fixture
def root(golden, tmp_path) -> Path:
    shutil.copytree(golden / "store", tmp_path / "store")
    return tmp_path / "store"


@pytest.fixture
def instance(golden, tmp_path, monkeypatch) -> Iterator[DagsterInstance]:
    """A copy of the golden instance, current for the test (DAGSTER_HOME and defs-state storage)."""
    shutil.copytree(golden / "home", tmp_path / "home")
    with instance_for_test(temp_dir=str(tmp_path / "home")) as inst, set_defs_state_storage(inst.defs_state_storage):
        yield inst


def _files(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _partition_files(files: dict[str, int], dates) -> dict[str, int]:
    return {path: size for path, size in files.items()
            if any(f"/account={ACCOUNT}/date={d}/" in path for d in dates)}


def _materialized(instance: DagsterInstance) -> dict[str, set[str]]:
    return {k.to_user_string(): instance.get_materialized_partitions(k) for k in RECORDED_ASSETS}


def _cached_status(instance: DagsterInstance) -> dict[str, set[str]]:
    """What the UI shows: the partition status cache, brought up to date the way the webserver does it."""
    out = {}
    for key in RECORDED_ASSETS:
        value = get_and_update_asset_status_cache_value(instance, key, inventory_partitions)
        out[key.to_user_string()] = set(value.deserialize_materialized_partition_subsets(
            inventory_partitions).get_partition_keys())
    return out


def _keys(dates) -> set[str]:
    return {Partition(ACCOUNT, d).key for d in dates}


def _run_job(instance: DagsterInstance, root: Path, monkeypatch, *, dry_run: bool, **env: str):
    """The registered `retention` job, configured the way a deployment is: through environment variables."""
    monkeypatch.setenv("INVENTAG_STORAGE_URI", str(root))
    monkeypatch.setenv("INVENTAG_RETENTION_MAX_SNAPSHOTS", env.get("max_snapshots", "2"))
    monkeypatch.setenv("INVENTAG_RETENTION_DAYS", env.get("retention_days", "2"))
    config = {"ops": {"apply_retention": {"config": {"dry_run": dry_run, "today": TODAY}}}}
    return defs.resolve_job_def("retention").execute_in_process(run_config=config, instance=instance,
                                                                 raise_on_error=False)


def _output_metadata(result) -> dict:
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: getattr(v, "value", v) for k, v in event.step_output_data.metadata.items()}


def _audit(root: Path) -> tuple[str, dict]:
    [path] = sorted((root / "operations" / "retention").iterdir())
    return path.name, json.loads(path.read_text())


def test_dry_run_deletes_nothing_and_records_what_it_would_delete(root, instance, monkeypatch):
    before_files, before_runs = _files(root), {r.run_id for r in instance.get_runs()}

    result = _run_job(instance, root, monkeypatch, dry_run=True)

    assert result.success
    name, audit = _audit(root)
    assert {k: v for k, v in _files(root).items() if not k.startswith("operations/")} == before_files
    assert _materialized(instance) == {k.to_user_string(): _keys(DAYS) for k in RECORDED_ASSETS}
    assert {r.run_id for r in instance.get_runs()} == before_runs | {result.run_id}
    doomed = _partition_files(before_files, DELETED)
    assert name.endswith("-dry-run.json")
    assert (audit["status"], audit["dry_run"], audit["source"], audit["run_id"]) == (
        "completed", True, "dagster", result.run_id)
    assert audit["partitions"] == [{"account": ACCOUNT, "date": d} for d in DELETED]
    assert [(f["kind"], f["date"], f["deleted"]) for f in audit["folders"]] == [
        (kind, d, False) for d in DELETED for kind in DELETE_ORDER if kind in KINDS]  # no insights here
    assert audit["totals"] == {"partitions_planned": 2, "partitions_deleted": 0, "folders_planned": 16,
                               "folders_deleted": 0, "files_planned": len(doomed), "files_deleted": 0,
                               "bytes_planned": sum(doomed.values()), "bytes_freed": 0}
    assert len(audit["dagster"]["runs_deleted"]) == 2 and audit["dagster"]["runs_kept"] == []
    metadata = _output_metadata(result)
    assert {k: metadata[k] for k in ("dry_run", "partitions_planned", "partitions_deleted", "bytes_planned",
                                     "bytes_freed", "runs_deleted", "runs_kept")} == {
        "dry_run": True, "partitions_planned": 2, "partitions_deleted": 0, "bytes_planned": sum(doomed.values()),
        "bytes_freed": 0, "runs_deleted": 2, "runs_kept": 0}


def test_retention_deletes_every_folder_of_old_partitions_and_dagster_forgets_them(root, instance, monkeypatch):
    before = _files(root)
    runs_of = {r.tags["dagster/partition"]: r.run_id for r in instance.get_runs()}
    assert _cached_status(instance) == {k.to_user_string(): _keys(DAYS) for k in RECORDED_ASSETS}  # warm cache

    result = _run_job(instance, root, monkeypatch, dry_run=False)

    assert result.success
    after = {k: v for k, v in _files(root).items() if not k.startswith("operations/")}
    doomed = _partition_files(before, DELETED)
    assert after == {k: v for k, v in before.items() if k not in doomed}
    assert {k for k, _ in doomed.items()} == {k for k in before if "/date=2026-11-17/" in k or "/date=2026-11-18/" in k}
    stored, _ = scan_store(InventoryStore(str(root)))
    assert stored == {kind: {ACCOUNT: list(KEPT)} for kind in KINDS}
    # The kept history still validates: the oldest kept delta names a deleted day, which is allowed.
    report = validate_store(InventoryStore(str(root)))
    assert (report.ok, report.problems, report.checked["partitions"]) == (True, [], 2)
    oldest_delta = json.loads((root / Partition(ACCOUNT, KEPT[0]).folder("deltas") / "summary.json").read_text())
    assert oldest_delta["previous_date"] == DELETED[-1]
    # Dagster: the deleted partitions' runs are gone, the UI's status (cache included) shows only kept days.
    assert {r.run_id for r in instance.get_runs()} == {runs_of[k] for k in _keys(KEPT)} | {result.run_id}
    assert _materialized(instance) == {k.to_user_string(): _keys(KEPT) for k in RECORDED_ASSETS}
    assert _cached_status(instance) == {k.to_user_string(): _keys(KEPT) for k in RECORDED_ASSETS}
    _, audit = _audit(root)
    assert (audit["status"], audit["dry_run"], audit["error"]) == ("completed", False, None)
    assert audit["totals"] == {"partitions_planned": 2, "partitions_deleted": 2, "folders_planned": 16,
                               "folders_deleted": 16, "files_planned": len(doomed), "files_deleted": len(doomed),
                               "bytes_planned": sum(doomed.values()), "bytes_freed": sum(doomed.values())}
    assert audit["dagster"]["runs_deleted"] == sorted(runs_of[k] for k in _keys(DELETED))
    assert audit["dagster"]["asset_keys_refreshed"] == sorted(KEYS)
    assert [a["horizon"] for a in audit["accounts"]] == [KEPT[0]]
    metadata = _output_metadata(result)
    assert {k: metadata[k] for k in ("dry_run", "partitions_deleted", "folders_deleted", "bytes_freed",
                                     "runs_deleted")} == {
        "dry_run": False, "partitions_deleted": 2, "folders_deleted": 16, "bytes_freed": sum(doomed.values()),
        "runs_deleted": 2}

    # A second run finds nothing more to do.
    again = _run_job(instance, root, monkeypatch, dry_run=False)
    assert again.success and _output_metadata(again)["partitions_planned"] == 0
    assert _materialized(instance) == {k.to_user_string(): _keys(KEPT) for k in RECORDED_ASSETS}


def test_the_dated_insights_of_a_deleted_day_go_with_it(root, instance, monkeypatch):
    """A cost or cleanup plan for a day whose inventory is gone would describe resources nobody can look up."""
    for folder in ("insights/cost", "insights/cleanup"):
        for day in DAYS:
            target = root / folder / f"account={ACCOUNT}" / f"date={day}"
            target.mkdir(parents=True)
            (target / "plan.json").write_text("{}")
    (root / "insights" / "overview").mkdir(parents=True)
    (root / "insights" / "overview" / "overview.json").write_text("{}")

    assert _run_job(instance, root, monkeypatch, dry_run=False).success

    left = sorted(p.relative_to(root).as_posix() for p in (root / "insights").rglob("*.json"))
    assert left == [f"insights/{kind}/account={ACCOUNT}/date={day}/plan.json" for kind in ("cleanup", "cost")
                    for day in KEPT] + ["insights/overview/overview.json"]
    _, audit = _audit(root)
    assert audit["totals"]["folders_deleted"] == 20
    assert [f["path"] for f in audit["folders"][:2]] == [
        f"insights/cleanup/account={ACCOUNT}/date={DELETED[0]}", f"insights/cost/account={ACCOUNT}/date={DELETED[0]}"]


def test_an_interrupted_run_is_completed_by_the_next_one(root, instance):
    store = InventoryStore(str(root))
    policy = RetentionResource(max_snapshots=2, retention_days=2).policy()
    today = dt.date.fromisoformat(TODAY)
    # Files deleted, then the process died before Dagster was told.
    first = run_retention(store, policy, today, dry_run=False, instance=None, source="test")
    assert (first.totals()["partitions_deleted"], first.dagster) == (2, None)
    assert _materialized(instance)["inventory_snapshot"] == _keys(DAYS)

    second = run_retention(store, policy, today, dry_run=False, instance=instance, source="test")

    assert second.plan.partitions == ()
    assert second.dagster["partitions"] == sorted(_keys(DELETED))
    assert len(second.dagster["runs_deleted"]) == 2
    assert _materialized(instance) == {k.to_user_string(): _keys(KEPT) for k in RECORDED_ASSETS}


@op(out={})
def _report_two_days(context):
    for date in (DELETED[0], KEPT[0]):
        yield AssetMaterialization(asset_key="inventory_snapshot", partition=Partition(ACCOUNT, date).key)


@job
def _mixed_job():
    _report_two_days()


@op(out={})
def _fail(context):
    raise RuntimeError("collection failed")


@job
def _failed_collection_job():
    _fail()


def test_runs_that_also_materialised_kept_partitions_and_runless_events_are_kept(root, instance):
    mixed = _mixed_job.execute_in_process(instance=instance)
    # A failed attempt at a deleted day, without any asset event: found by its partition tag, deleted.
    failed = _failed_collection_job.execute_in_process(
        instance=instance, tags={"dagster/partition": Partition(ACCOUNT, DELETED[0]).key}, raise_on_error=False)
    assert not failed.success
    instance.report_runless_asset_event(AssetMaterialization(asset_key="changelog",
                                                             partition=Partition(ACCOUNT, DELETED[1]).key))
    policy = RetentionResource(max_snapshots=2, retention_days=2).policy()

    report = run_retention(InventoryStore(str(root)), policy, dt.date.fromisoformat(TODAY), dry_run=False,
                           instance=instance, source="test")

    assert report.dagster["runs_kept"] == [
        {"run_id": "", "reason": "events reported without a run; Dagster can only forget them by wiping the whole "
                                 "asset"},
        {"run_id": mixed.run_id, "reason": f"also materialised kept partition(s) {ACCOUNT}|{KEPT[0]}"},
    ]
    assert instance.get_run_by_id(mixed.run_id) is not None
    assert failed.run_id in report.dagster["runs_deleted"] and instance.get_run_by_id(failed.run_id) is None
    assert len(report.dagster["runs_deleted"]) == 3
    materialized = _materialized(instance)
    assert materialized["inventory_snapshot"] == _keys(KEPT) | _keys(DELETED[:1])
    assert materialized["changelog"] == _keys(KEPT) | _keys(DELETED[1:])
    assert materialized["inventory_delta"] == _keys(KEPT)
    assert "kept run (runless events): events reported without a run" in report.render_text()


def test_an_invalid_policy_fails_the_run_with_a_clear_message_and_deletes_nothing(root, instance, monkeypatch):
    before = _files(root)

    result = _run_job(instance, root, monkeypatch, dry_run=False, max_snapshots="0")

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_failure_data.error.message.startswith(
        "dagster._core.definitions.events.Failure: retention not run: invalid retention policy:\n"
        "  - max_snapshots must be at least 1, got 0")
    assert _files(root) == before


def test_retention_on_s3_deletes_the_same_objects(golden, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="inventory-history")
    store = InventoryStore("s3://inventory-history/prod")
    pafs.copy_files(str(golden / "store"), "inventory-history/prod", source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=store.fs)
    local = _files(golden / "store")
    doomed = _partition_files(local, DELETED)
    policy = RetentionResource(max_snapshots=2, retention_days=2).policy()

    report = run_retention(store, policy, dt.date.fromisoformat(TODAY), dry_run=False, source="test")

    objects = {o["Key"][len("prod/"):]: o["Size"]
               for page in s3.get_paginator("list_objects_v2").paginate(Bucket="inventory-history")
               for o in page.get("Contents", [])}
    [audit] = [k for k in objects if k.startswith("operations/retention/") and not k.endswith("/")]
    # pyarrow keeps empty "folder/" marker objects; none may remain for a deleted day.
    files = {k: v for k, v in objects.items() if k not in ("", audit) and not k.endswith("/")}
    assert files == {k: v for k, v in local.items() if k not in doomed}
    assert [k for k in objects if any(f"/date={d}/" in k for d in DELETED)] == []
    assert report.totals()["bytes_freed"] == sum(doomed.values())
    assert report.audit_path == f"s3://inventory-history/prod/{audit}"
    assert validate_store(store).problems == []


def test_delete_order_puts_every_kind_after_the_kinds_computed_from_it():
    assert sorted(DELETE_ORDER) == sorted(DATED_FOLDERS) == sorted([*KINDS, "cost", "cleanup"])
    assert DELETE_ORDER[:2] == ("cleanup", "cost")  # insights are computed from every other kind
    for upstream, downstream in DEPENDENTS:
        assert DELETE_ORDER.index(downstream) < DELETE_ORDER.index(upstream), (upstream, downstream)


def test_policy_from_fields_environment_accounts_file_and_overrides(tmp_path, monkeypatch):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        "accounts:\n"
        "  - id: '111111111111'\n    retention: {max_snapshots: 90}\n"
        "  - id: '222222222222'\n    retention: {max_snapshots: 5, retention_days: 30}\n"
        "  - id: '333333333333'\n"
    )
    monkeypatch.setenv("INVENTAG_ACCOUNTS_FILE", str(accounts))
    monkeypatch.setenv("INVENTAG_RETENTION_MAX_SNAPSHOTS", "10")
    monkeypatch.setenv("INVENTAG_RETENTION_DAYS", "100")
    policy = RetentionResource(overrides={"222222222222": {"retention_days": 7}}).policy()
    assert (policy.default, dict(policy.overrides)) == (Limits(10, 100), {
        "111111111111": Limits(90, 100), "222222222222": Limits(5, 7)})
    assert RetentionResource(max_snapshots=3).policy().default == Limits(3, 100)

    monkeypatch.delenv("INVENTAG_ACCOUNTS_FILE")
    monkeypatch.delenv("INVENTAG_RETENTION_MAX_SNAPSHOTS")
    monkeypatch.delenv("INVENTAG_RETENTION_DAYS")
    assert RetentionResource().policy().default == Limits(30, 400)
    monkeypatch.setenv("INVENTAG_RETENTION_DAYS", "a year")
    with pytest.raises(RetentionConfigError, match=r"INVENTAG_RETENTION_DAYS='a year' is not a whole number"):
        RetentionResource().policy()


def test_schedule_is_registered_stopped_and_requests_a_real_run_for_its_day():
    schedule = defs.resolve_schedule_def("retention_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.default_status) == (
        "30 3 * * *", "UTC", DefaultScheduleStatus.STOPPED)
    assert schedule.job_name == "retention"
    when = dt.datetime(2026, 11, 22, 3, 30, tzinfo=dt.timezone.utc)
    with instance_for_test() as inst, build_schedule_context(instance=inst, scheduled_execution_time=when) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert (request.run_key, request.run_config) == (
        "retention|2026-11-22", {"ops": {"apply_retention": {"config": {"dry_run": False, "today": "2026-11-22"}}}})


def test_cli_dry_run_then_real_run(root, instance, monkeypatch, capsys):
    monkeypatch.setenv("INVENTAG_RETENTION_MAX_SNAPSHOTS", "2")
    monkeypatch.setenv("INVENTAG_RETENTION_DAYS", "2")
    before = _files(root)
    doomed = _partition_files(before, DELETED)

    assert cli.main(["retention", "--dry-run", "--storage-uri", str(root), "--today", TODAY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        f"Retention (dry run) of {root} on {TODAY}: completed",
        "policy: keep the last 2 snapshots and 2 days per account",
        f"  {ACCOUNT}  keep 2 snapshots / 2 days: 2 kept (oldest {KEPT[0]}), 2 to delete ({DELETED[0]} .. "
        f"{DELETED[1]})",
        f"would delete 2 partition(s): {len(doomed)} file(s), {sum(doomed.values())} bytes",
    ]
    assert lines[4] == "Dagster: would delete 2 run(s) of 2 partition(s); 0 run(s) kept"
    assert {k: v for k, v in _files(root).items() if not k.startswith("operations/")} == before

    assert cli.main(["retention", "--store", str(root), "--today", TODAY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3:5] == [f"deleted 2 partition(s): {len(doomed)} file(s), {sum(doomed.values())} bytes",
                          "Dagster: deleted 2 run(s) of 2 partition(s); 0 run(s) kept"]
    assert lines[5].startswith(f"audit record: {root}/operations/retention/")
    assert _materialized(instance)["inventory_snapshot"] == _keys(KEPT)


def test_cli_without_dagster_home_and_with_bad_input(root, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["retention", "--dry-run", "--storage-uri", str(root), "--today", TODAY]) == 0
    assert "Dagster: no instance (DAGSTER_HOME unset); run history not changed" in capsys.readouterr().out

    assert cli.main(["retention", "--storage-uri", str(root), "--today", "21/11/2026"]) == 2
    assert capsys.readouterr().err == "inventag retention: --today '21/11/2026' is not a YYYY-MM-DD date\n"
    monkeypatch.setenv("INVENTAG_RETENTION_DAYS", "0")
    assert cli.main(["retention", "--storage-uri", str(root)]) == 2
    assert capsys.readouterr().err == (
        "inventag retention: invalid retention policy:\n  - retention_days must be at least 1, got 0\n")


def test_recorded_assets_are_the_store_assets():
    assert [k.to_user_string() for k in RECORDED_ASSETS] == [
        "raw_inventory", "inventory_snapshot", "inventory_delta", "changelog", "tag_compliance", "security_findings",
        "compliance_report"]
