"""`inventag demo --accounts N`: a simulated organization collected like real accounts, one partition each."""

import json
import os

import pyarrow.parquet as pq
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.defs_state.base import set_defs_state_storage

from inventag_pipeline.aws.simulator import SimulatorServer
from inventag_pipeline.demo import COLLECTION_ROLE, ORGANIZATION, Organization, demo_dates, run_organization_demo_on
from inventag_pipeline.partitions import ACCOUNTS_PARTITION

IDS = [account_id for account_id, _ in ORGANIZATION]
# The inventory chain: the compliance assets are the single demo's business (test_demo.py), here only time.
CHAIN = ("raw_inventory", "inventory_snapshot", "inventory_delta", "changelog")


def test_three_accounts_are_partitions_each_collected_through_its_own_credentials(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INVENTAG_STORAGE_URI", str(tmp_path / "store"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))  # the demo points it at its state; restored after
    # moto runs in this process and shares its interpreter lock: more threads would only add switching.
    monkeypatch.setenv("INVENTAG_COLLECT_WORKERS", "4")
    monkeypatch.setenv("INVENTAG_COLLECT_DETAIL_WORKERS", "4")
    dates = demo_dates(2)
    # An in-memory instance: the demo's own runs on a persistent one are what `make dev-accounts` shows.
    with SimulatorServer() as server, DagsterInstance.ephemeral() as instance, \
            set_defs_state_storage(instance.defs_state_storage):
        org = Organization.simulated(server.url, 3)
        code = run_organization_demo_on(org, days=2, state_dir=tmp_path / "state", instance=instance,
                                        asset_keys=CHAIN)
        out = capsys.readouterr().out
        assert code == 0, out
        assert sorted(instance.get_dynamic_partitions(ACCOUNTS_PARTITION)) == sorted(IDS)
        for key in CHAIN:
            assert set(instance.get_materialized_partitions(AssetKey(key))) == {
                f"{account_id}|{date}" for account_id in IDS for date in dates}, key

    # Day 2 of every account reported exactly what the simulator changed in that account.
    assert out.count("exactly the injected changes? yes") == 3
    store = tmp_path / "store"
    for account_id in IDS:
        manifest = json.loads((store / "raw" / f"account={account_id}" / f"date={dates[0]}" / "manifest.json")
                              .read_text())
        # The management account with the pipeline's own credentials, each member through its role.
        role = "user/moto" if account_id == IDS[0] else f"assumed-role/{COLLECTION_ROLE}/inventag-pipeline"
        assert manifest["identity"] == f"arn:aws:sts::{account_id}:{role}"
        assert [c for c in manifest["coverage"] if c["status"] != "ok"] == []
        table = pq.read_table(store / "snapshots" / f"account={account_id}" / f"date={dates[1]}" / "snapshot.parquet",
                              columns=["arn", "account_id", "name"])
        assert set(table.column("account_id").to_pylist()) == {account_id}
        names = set(table.column("name").to_pylist())
        # Every account holds the same estate; bucket names are global, so members' carry their id's end.
        suffix = "" if account_id == IDS[0] else f"-{account_id[-4:]}"
        assert f"acme-prod-web-assets-use1{suffix}" in names
        assert (COLLECTION_ROLE in names) == (account_id != IDS[0])
    # The accounts file the UI variant (`make dev-accounts`) uses, and no environment left behind.
    accounts = (tmp_path / "state" / "demo-accounts.yaml").read_text()
    assert [line.strip() for line in accounts.splitlines() if "role_arn" in line] == [
        f"role_arn: arn:aws:iam::{account_id}:role/{COLLECTION_ROLE}" for account_id in IDS[1:]]
    assert "INVENTAG_ACCOUNTS_FILE" not in os.environ and "AWS_ENDPOINT_URL" not in os.environ
