"""The multi-machine deployment: Dagster's storage in PostgreSQL (deploy/postgres/dagster.yaml), data on S3.

Needs a PostgreSQL server whose URL is in INVENTAG_TEST_POSTGRES_URL and whose user may create databases;
`make test-postgres` starts a throwaway one. Each test works in a database of its own and drops it.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from inventag_pipeline.integrity import validate_store
from inventag_pipeline.inventory.schedules import ACCOUNT_TAG
from inventag_pipeline.partitions import ACCOUNTS_PARTITION
from inventag_pipeline.resources import ComplianceGateResource
from inventag_pipeline.store.store import InventoryStore
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.inventory.helpers import ACCOUNT, run_day

# Read at import: the autouse clean_environment fixture removes INVENTAG_* variables before each test.
POSTGRES_URL = os.environ.get("INVENTAG_TEST_POSTGRES_URL", "")
pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="needs a PostgreSQL server: INVENTAG_TEST_POSTGRES_URL is not set (`make test-postgres` starts one)",
)

DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "dagster.yaml"
DAY1, DAY2 = "2026-11-20", "2026-11-21"
KEY1, KEY2 = f"{ACCOUNT}|{DAY1}", f"{ACCOUNT}|{DAY2}"
ASSETS = ("raw_inventory", "inventory_snapshot", "inventory_delta", "changelog", "tag_compliance",
          "security_findings", "compliance_report")
BUCKET, PREFIX = "inventory-history", "prod"
# Day 2 opens SSH to the world, a critical finding; this gate lets the run succeed so both days are comparable.
LENIENT_GATE = ComplianceGateResource(min_score=0, max_critical=5, min_tag_pct=0, warn_score=0, warn_high=50,
                                      warn_tag_pct=0)


def _connect(url: str):
    import psycopg2

    return psycopg2.connect(url)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database on the test server, so every count below is exact whatever ran before."""
    name = f"inventag_test_{uuid.uuid4().hex[:12]}"
    admin = _connect(POSTGRES_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.fixture
def postgres_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The deploy config's connection variables, pointing at the test database."""
    parts = urlsplit(database_url)
    monkeypatch.setenv("DAGSTER_PG_HOST", parts.hostname or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(parts.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", unquote(parts.username or ""))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", unquote(parts.password or ""))
    monkeypatch.setenv("DAGSTER_PG_DB", parts.path.lstrip("/"))
    return database_url


def _dagster_home(folder: Path) -> str:
    """A DAGSTER_HOME holding nothing but the deploy config, as on a freshly provisioned machine."""
    folder.mkdir()
    shutil.copy(DEPLOY_CONFIG, folder / "dagster.yaml")
    return str(folder)


@pytest.fixture
def s3_storage(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    client(moto_url, "s3").create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}/{PREFIX}"


def _estate(url: str) -> dict[str, str]:
    """A small account: a web security group (HTTPS open), an instance in it, a queue."""
    ec2, sqs = client(url, "ec2"), client(url, "sqs")
    sg = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[sg])
    sqs.create_queue(QueueName="orders")
    return {"sg": sg, "sg_arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{sg}",
            "payments_arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:payments"}


def _day2_changes(url: str, ids: dict[str, str]) -> None:
    client(url, "ec2").authorize_security_group_ingress(GroupId=ids["sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    client(url, "sqs").create_queue(QueueName="payments")


def _start_daily_schedule(instance: DagsterInstance) -> None:
    """Turn the daily schedule on, as the UI does, through an in-process code location."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(module_name="inventag_pipeline.definitions"),
        location_name="inventag_pipeline",
    )
    with origin.create_location(instance) as location:
        [repository] = location.get_repositories().values()
        instance.start_schedule(repository.get_schedule("daily_inventory_schedule"))


def _rows(url: str, query: str) -> list[tuple]:
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall()
    finally:
        connection.close()


def test_the_chain_on_postgres_storage_with_data_on_s3(moto_url, postgres_env, s3_storage, tmp_path):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    ids = _estate(moto_url)
    with DagsterInstance.from_config(_dagster_home(tmp_path / "worker")) as instance:
        assert (type(instance.run_storage), type(instance.event_log_storage), type(instance.schedule_storage)) == (
            PostgresRunStorage, PostgresEventLogStorage, PostgresScheduleStorage)
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [(ACCOUNT_TAG, 1)]

        # One region, where the estate is: collection dominates the run time and CI has two cores.
        day1 = run_day(instance, moto_url, s3_storage, DAY1, keys=ASSETS, gate=LENIENT_GATE, regions="us-east-1")
        _day2_changes(moto_url, ids)
        day2 = run_day(instance, moto_url, s3_storage, DAY2, keys=ASSETS, gate=LENIENT_GATE, regions="us-east-1")
        assert day1.success and day2.success
        _start_daily_schedule(instance)

    # Another machine with the same config and an empty DAGSTER_HOME sees the whole history.
    with DagsterInstance.from_config(_dagster_home(tmp_path / "webserver")) as other:
        assert {(r.run_id, r.status, r.tags["dagster/partition"]) for r in other.get_runs()} == {
            (day1.run_id, DagsterRunStatus.SUCCESS, KEY1), (day2.run_id, DagsterRunStatus.SUCCESS, KEY2)}
        for asset in ASSETS:
            assert other.get_materialized_partitions(AssetKey(asset)) == {KEY1, KEY2}, asset
        latest = other.get_latest_materialization_event(AssetKey("inventory_delta"))
        assert (latest.run_id, latest.asset_materialization.metadata["previous_date"].value) == (day2.run_id, DAY1)
        assert other.get_dynamic_partitions(ACCOUNTS_PARTITION) == [ACCOUNT]
        [state] = other.all_instigator_state()
        assert (state.name, state.status.value) == ("daily_inventory_schedule", "RUNNING")

    # The same records, read straight from PostgreSQL's tables.
    assert set(_rows(postgres_env, "SELECT run_id, status, partition FROM runs")) == {
        (day1.run_id, "SUCCESS", KEY1), (day2.run_id, "SUCCESS", KEY2)}
    materializations = _rows(postgres_env, "SELECT asset_key, partition, run_id FROM event_logs "
                                           "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
    assert sorted(materializations) == sorted(
        (AssetKey(asset).to_string(), key, run.run_id) for asset in ASSETS for key, run in ((KEY1, day1), (KEY2, day2)))
    assert _rows(postgres_env, "SELECT partitions_def_name, partition FROM dynamic_partitions") == [
        (ACCOUNTS_PARTITION, ACCOUNT)]
    assert _rows(postgres_env, "SELECT instigator_type, status FROM instigators") == [("SCHEDULE", "RUNNING")]

    # The data is on S3, every checksum matches its manifest, and day 2's delta is exactly the change made.
    s3 = client(moto_url, "s3")
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
            for o in page.get("Contents", [])}
    for date in (DAY1, DAY2):
        base = f"account={ACCOUNT}/date={date}"
        assert {f"{PREFIX}/snapshots/{base}/snapshot.parquet", f"{PREFIX}/deltas/{base}/summary.json",
                f"{PREFIX}/changelogs/{base}/changelog.md", f"{PREFIX}/compliance/tags/{base}/results.parquet",
                f"{PREFIX}/compliance/security/{base}/findings.parquet",
                f"{PREFIX}/compliance/reports/{base}/report.json"} <= keys
    report = validate_store(InventoryStore(s3_storage))
    assert report.ok, report.render_text()
    assert (report.checked["accounts"], report.checked["partitions"], report.checked["checksums"]) == (1, 2, 2)
    changes = pq.read_table(pa.BufferReader(s3.get_object(
        Bucket=BUCKET, Key=f"{PREFIX}/deltas/account={ACCOUNT}/date={DAY2}/resource_changes.parquet")["Body"].read()))
    assert {(r["arn"], r["change_type"]) for r in changes.to_pylist()} == {
        (ids["sg_arn"], "modified"), (ids["payments_arn"], "added")}
