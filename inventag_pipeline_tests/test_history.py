"""History queries over a three-day store built by the real pipeline (Dagster + moto), locally and on S3."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import requests
import yaml
from dagster import instance_for_test
from moto.server import ThreadedMotoServer

from inventag_pipeline.history import (
    HistoryError,
    export_snapshot,
    history_dataset,
    render_timeline,
    state_as_of,
    timeline,
)
from inventag_pipeline.store.store import IntegrityError, InventoryStore
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, run_day
from inventag_pipeline_tests.inventory.test_pipeline import _day2_changes, _estate

# Day 3 follows a day without a snapshot, so "as of" the gap is day 2.
DAY1, DAY2, GAP, DAY3 = "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"
KEYS = ("raw_inventory", "inventory_snapshot", "inventory_delta")
SSH = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three days of one account: day 2 is test_pipeline's scenario; day 3 tags the bucket, drops a queue."""
    storage = str(tmp_path_factory.mktemp("history") / "store")
    with pytest.MonkeyPatch.context() as mp:
        # Module scope runs before the function-scoped clean_environment: clean here too.
        for name in list(os.environ):
            if name.startswith(("AWS_", "INVENTAG_")):
                mp.delenv(name)
        mp.setenv("AWS_CONFIG_FILE", str(Path(storage).parent / "no-aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(Path(storage).parent / "no-aws-credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            requests.post(f"{url}/moto-api/reset", timeout=10)
            with instance_for_test() as instance:
                ids = _estate(url)
                assert run_day(instance, url, storage, DAY1, keys=KEYS, regions="us-east-1").success
                _day2_changes(url, ids)
                assert run_day(instance, url, storage, DAY2, keys=KEYS, regions="us-east-1").success
                sqs = client(url, "sqs")
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="payments")["QueueUrl"])
                client(url, "s3").put_bucket_tagging(
                    Bucket="acme-logs", Tagging={"TagSet": [{"Key": "Owner", "Value": "logs@example.com"}]})
                assert run_day(instance, url, storage, DAY3, keys=KEYS, regions="us-east-1").success
        finally:
            server.stop()
    return SimpleNamespace(storage=storage, store=InventoryStore(storage), **ids)


def _snapshot_file(storage: str, date: str) -> Path:
    return Path(storage) / "snapshots" / f"account={ACCOUNT}" / f"date={date}" / "snapshot.parquet"


def _comparable(records) -> list[tuple]:
    """(arn, tags, configuration) per resource, in the order given."""
    return [(r["arn"], r["tags"], r["configuration"]) for r in records]


# --- export ------------------------------------------------------------------------------------------


def _exported(store: InventoryStore, fmt: str) -> tuple[int, bytes]:
    out = io.BytesIO()
    return export_snapshot(store, ACCOUNT, DAY3, fmt, out), out.getvalue()


def _parsed(fmt: str, data: bytes) -> list[tuple]:
    if fmt == "json":
        return _comparable(json.loads(data))
    if fmt == "yaml":
        return _comparable(yaml.safe_load(data))
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return _comparable({**r, "tags": json.loads(r["tags"]), "configuration": json.loads(r["configuration"])}
                           for r in rows)
    rows = pq.read_table(io.BytesIO(data)).to_pylist()
    return _comparable({**r, "tags": dict(r["tags"]), "configuration": json.loads(r["configuration"])} for r in rows)


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv", "parquet"])
def test_export_round_trips_arns_tags_and_configuration(world, fmt):
    stored = pq.read_table(_snapshot_file(world.storage, DAY3)).to_pylist()
    expected = sorted(_comparable({**r, "tags": dict(r["tags"]), "configuration": json.loads(r["configuration"])}
                                  for r in stored))
    rows, data = _exported(world.store, fmt)
    got = _parsed(fmt, data)

    assert rows == len(stored) == len(got)
    assert got == expected  # same resources, sorted by ARN
    by_arn = {arn: (tags, config) for arn, tags, config in got}
    assert world.table_arn not in by_arn and world.payments_arn not in by_arn
    assert by_arn[world.bucket_arn][0] == {"Owner": "logs@example.com"}
    assert by_arn[world.instance_arn][0] == {"CostCenter": "CC-1", "Environment": "production", "Name": "web-1"}
    assert by_arn[world.instance_arn][1]["InstanceType"] == "m5.large"
    assert by_arn[world.sg_arn][1]["IpPermissions"] == [
        {"FromPort": port, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "SourceType": "cidr", "ToPort": port}
        for port in (22, 443)]
    if fmt == "parquet":
        assert data == _snapshot_file(world.storage, DAY3).read_bytes()


def test_json_and_yaml_exports_hold_the_same_records_and_are_deterministic(world):
    _, first = _exported(world.store, "json")
    _, again = _exported(world.store, "json")
    _, as_yaml = _exported(world.store, "yaml")
    records = json.loads(first)
    assert first == again
    assert yaml.safe_load(as_yaml) == records
    bucket = next(r for r in records if r["arn"] == world.bucket_arn)
    assert list(bucket) == ["arn", "account_id", "region", "service", "resource_type", "resource_id", "name", "tags",
                            "configuration", "content_hash", "source", "collected_at"]
    assert (bucket["account_id"], bucket["name"], bucket["collected_at"][-1]) == (ACCOUNT, "acme-logs", "Z")


def test_export_to_a_path_writes_the_file(world, tmp_path):
    target = tmp_path / "day3.csv"
    rows = export_snapshot(world.store, ACCOUNT, DAY3, "csv", str(target))
    lines = target.read_text().splitlines()
    assert lines[0] == ("arn,account_id,region,service,resource_type,resource_id,name,tags,configuration,"
                        "content_hash,source,collected_at")
    assert len(lines) == rows + 1


def test_export_errors_name_the_partition_and_what_exists(world, tmp_path):
    target = tmp_path / "missing.json"
    with pytest.raises(HistoryError, match=rf"^no snapshot for account {ACCOUNT} on {GAP}: its snapshots are for "
                                           rf"{DAY1}, {DAY2}, {DAY3}$"):
        export_snapshot(world.store, ACCOUNT, GAP, "json", target)
    assert not target.exists()
    with pytest.raises(HistoryError, match=rf"^no snapshot for account 210987654321 on {DAY1}: the account has no "
                                           rf"snapshots in .*/snapshots; accounts with snapshots: {ACCOUNT}$"):
        export_snapshot(world.store, "210987654321", DAY1, "json", io.BytesIO())
    with pytest.raises(HistoryError, match=r"^unknown export format 'xml': choose one of json, yaml, csv, parquet$"):
        export_snapshot(world.store, ACCOUNT, DAY1, "xml", io.BytesIO())
    with pytest.raises(HistoryError, match=r"no snapshot for account 123456789012 on 2026-11-17: there are no "
                                           r"snapshots in .*empty/snapshots$"):
        export_snapshot(InventoryStore(str(tmp_path / "empty")), ACCOUNT, DAY1, "json", io.BytesIO())


def test_export_refuses_a_corrupted_snapshot(world, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(world.storage, copy)
    snapshot = _snapshot_file(str(copy), DAY1)
    snapshot.write_bytes(snapshot.read_bytes()[:-1] + b"!")
    with pytest.raises(IntegrityError, match="is corrupted: its SHA-256 does not match the manifest"):
        export_snapshot(InventoryStore(str(copy)), ACCOUNT, DAY1, "json", io.BytesIO())


# --- timeline ----------------------------------------------------------------------------------------


def test_timeline_of_the_security_group_shows_exactly_the_ssh_opening(world):
    entries = timeline(world.store, world.sg_arn)
    base = {"arn": world.sg_arn, "account": ACCOUNT, "resource_type": "AWS::EC2::SecurityGroup", "name": "web"}
    assert entries == [
        {**base, "date": DAY1, "change_type": "first_seen", "severity": None, "categories": [], "attributes": []},
        {**base, "date": DAY2, "change_type": "modified", "severity": "critical", "categories": ["security"],
         "attributes": [{
             "path": SSH, "change": "added", "old_value": None,
             "new_value": {"FromPort": 22, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "SourceType": "cidr",
                           "ToPort": 22},
             "category": "security", "severity": "critical",
             "description": "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or "
                            "database port"}]},
    ]
    assert render_timeline(entries) == (
        f"{world.sg_arn}\n"
        f'AWS::EC2::SecurityGroup "web", account {ACCOUNT}\n'
        "\n"
        f"{DAY1}  first seen\n"
        f"{DAY2}  modified    critical  security\n"
        f"    + {SSH}: Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port\n"
        '        now {"FromPort":22,"IpProtocol":"tcp","Source":"0.0.0.0/0","SourceType":"cidr","ToPort":22}\n'
    )


def test_removed_resources_end_with_their_removal_date(world):
    table = [(e["date"], e["change_type"], e["severity"]) for e in timeline(world.store, world.table_arn)]
    assert table == [(DAY1, "first_seen", None), (DAY2, "removed", "medium")]
    queue = [(e["date"], e["change_type"], e["attributes"]) for e in timeline(world.store, world.payments_arn)]
    assert queue == [(DAY2, "added", []), (DAY3, "removed", [])]


def test_timeline_of_an_s3_bucket_searches_every_account(world):
    entries = timeline(world.store, world.bucket_arn)  # an S3 ARN names no account
    assert [(e["date"], e["account"], e["change_type"],
             [(a["path"], a["change"], a["old_value"], a["new_value"]) for a in e["attributes"]]) for e in entries] == [
        (DAY1, ACCOUNT, "first_seen", []),
        (DAY2, ACCOUNT, "modified", [("PublicAccessBlock", "removed", {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, None)]),
        (DAY3, ACCOUNT, "modified", [("tags.Owner", "added", None, "logs@example.com")]),
    ]
    assert timeline(world.store, world.bucket_arn, account=ACCOUNT) == entries
    assert "    + tags.Owner: Tag Owner added: none → logs@example.com\n" in render_timeline(entries)


def test_timeline_of_an_unknown_resource_is_an_error(world):
    arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-nothere"
    with pytest.raises(HistoryError, match=rf"^{arn} is in no snapshot or delta of account {ACCOUNT} in the store"):
        timeline(world.store, arn)
    assert render_timeline([]) == "No history.\n"


# --- state as of a date ------------------------------------------------------------------------------


def test_state_between_snapshots_is_the_earlier_snapshot(world):
    state = state_as_of(world.store, ACCOUNT, GAP)
    day2 = pq.read_table(_snapshot_file(world.storage, DAY2))
    assert state.column_names == [*day2.column_names, "snapshot_date"]
    assert state.drop_columns(["snapshot_date"]).equals(day2)
    assert set(state.column("snapshot_date").to_pylist()) == {DAY2}
    assert world.payments_arn in state.column("arn").to_pylist()  # added on day 2, gone by day 3

    on_day3 = state_as_of(world.store, ACCOUNT, "2027-01-01", columns=["arn", "name"],
                          filter_expression=pc.field("resource_type") == "AWS::SQS::Queue")
    assert on_day3.to_pylist() == [
        {"arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders", "name": "orders", "snapshot_date": DAY3}]


def test_state_before_the_first_snapshot_is_an_error(world):
    with pytest.raises(HistoryError, match=rf"^no snapshot for account {ACCOUNT} on or before 2026-11-16: its "
                                           rf"snapshots are for {DAY1}, {DAY2}, {DAY3}$"):
        state_as_of(world.store, ACCOUNT, "2026-11-16")
    with pytest.raises(HistoryError, match=r"^date must be YYYY-MM-DD, not '19/11/2026'$"):
        state_as_of(world.store, ACCOUNT, "19/11/2026")
    with pytest.raises(HistoryError, match=r"^unknown snapshot column\(s\) colour; columns: arn, account_id"):
        state_as_of(world.store, ACCOUNT, DAY2, columns=["arn", "colour"])


# --- datasets ----------------------------------------------------------------------------------------


def test_history_datasets_read_each_kind_and_file_with_string_partitions(world):
    snapshots = history_dataset(world.store)
    counts = snapshots.to_table(columns=["date"]).group_by("date").aggregate([([], "count_all")]).to_pylist()
    manifests = {d: json.loads((_snapshot_file(world.storage, d).parent / "manifest.json").read_text())["row_count"]
                 for d in (DAY1, DAY2, DAY3)}
    assert {r["date"]: r["count_all"] for r in counts} == manifests
    assert snapshots.schema.field("account").type == snapshots.schema.field("date").type == pa.string()

    changes = history_dataset(world.store, "deltas").to_table(columns=["date", "arn", "change_type"])
    assert set(zip(*changes.to_pydict().values(), strict=True)) == {
        (DAY2, world.sg_arn, "modified"), (DAY2, world.bucket_arn, "modified"),
        (DAY2, world.instance_arn, "modified"), (DAY2, world.payments_arn, "added"),
        (DAY2, world.table_arn, "removed"), (DAY3, world.bucket_arn, "modified"),
        (DAY3, world.payments_arn, "removed")}
    attributes = history_dataset(world.store, "deltas", file="attribute_changes.parquet", account=ACCOUNT)
    assert attributes.schema.names == ["arn", "path", "change", "old_value", "new_value", "category", "severity",
                                       "description", "account", "date"]
    assert sorted(attributes.to_table(columns=["date", "path"], filter=pc.field("arn") == world.bucket_arn)
                  .to_pylist(), key=lambda r: r["date"]) == [
        {"date": DAY2, "path": "PublicAccessBlock"}, {"date": DAY3, "path": "tags.Owner"}]
    # No compliance was computed: an empty dataset with the findings schema, not an error.
    assert history_dataset(world.store, "security").to_table().num_rows == 0
    with pytest.raises(HistoryError, match=r"^no Parquet history for kind 'raw'; kinds with Parquet files: "):
        history_dataset(world.store, "raw")


def test_history_on_s3_answers_like_the_local_store(world, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client(moto_url, "s3").create_bucket(Bucket="inventory-history")
    remote = InventoryStore("s3://inventory-history/prod")
    for relative in world.store.list_files(""):
        remote.write_bytes(relative, world.store.read_bytes(relative))
    assert isinstance(remote.fs, pafs.S3FileSystem)

    assert timeline(remote, world.sg_arn) == timeline(world.store, world.sg_arn)
    assert timeline(remote, world.bucket_arn) == timeline(world.store, world.bucket_arn)
    assert state_as_of(remote, ACCOUNT, GAP).equals(state_as_of(world.store, ACCOUNT, GAP))
    remote_rows = history_dataset(remote, "deltas", file="attribute_changes.parquet").to_table()
    local_rows = history_dataset(world.store, "deltas", file="attribute_changes.parquet").to_table()
    assert remote_rows.sort_by([("date", "ascending"), ("arn", "ascending"), ("path", "ascending")]).equals(
        local_rows.sort_by([("date", "ascending"), ("arn", "ascending"), ("path", "ascending")]))
    assert _exported(remote, "json") == _exported(world.store, "json")
    with pytest.raises(HistoryError, match=rf"^no snapshot for account {ACCOUNT} on {GAP}: its snapshots are for "):
        export_snapshot(remote, ACCOUNT, GAP, "json", io.BytesIO())
