"""`inventag diff` and `inventag accounts sync` as a user runs them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from inventag_pipeline.cli import main
from inventag_pipeline.core.snapshot import records_to_table, table_to_parquet_bytes
from inventag_pipeline.partitions import ACCOUNTS_PARTITION
from inventag_pipeline_tests.core.factories import queue, security_group


def _write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(table_to_parquet_bytes(records_to_table(records)))
    return str(path)


def test_diff_writes_the_delta_and_changelog_files(tmp_path, capsys):
    web = security_group("sg-1", ingress=[("tcp", 443, 443, "0.0.0.0/0")])
    old = _write(tmp_path / "old" / "snapshot.parquet", [web, queue("jobs")])
    new = _write(tmp_path / "new" / "snapshot.parquet", [security_group("sg-1", ingress=[
        ("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 3389, 3389, "0.0.0.0/0")])])
    assert main(["diff", old, new, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "by type:     added 0, removed 1, modified 1, replaced 0" in out
    assert "CRITICAL" in out and "3389" in out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["attribute_changes.parquet", "changelog.html", "changelog.json", "changelog.md",
                     "resource_changes.parquet", "summary.json"]
    changes = {(r["change_type"], r["severity"]) for r in pq.read_table(tmp_path / "out" / "resource_changes.parquet")
               .to_pylist()}
    assert changes == {("modified", "critical"), ("removed", "low")}
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["total_changes"] == 2


def test_diff_refuses_a_file_that_is_not_a_snapshot(tmp_path, capsys):
    bogus = tmp_path / "bogus.parquet"
    bogus.write_bytes(b"not parquet at all")
    good = _write(tmp_path / "new" / "snapshot.parquet", [queue("jobs")])
    assert main(["diff", str(bogus), good, "--out", str(tmp_path / "out")]) == 2
    assert "is not a readable Parquet file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_diff_detects_a_checksum_mismatch_against_the_manifest(tmp_path, capsys):
    old = _write(tmp_path / "old" / "snapshot.parquet", [queue("jobs")])
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"sha256": "0" * 64, "coverage": []}))
    new = _write(tmp_path / "new" / "snapshot.parquet", [queue("jobs")])
    assert main(["diff", old, new, "--out", str(tmp_path / "out")]) == 2
    assert "is corrupted: its SHA-256 does not match" in capsys.readouterr().err


def test_accounts_sync_registers_configured_accounts(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("accounts:\n  - id: '111111111111'\n    name: prod\n  - id: '222222222222'\n    name: dev\n")
    monkeypatch.setenv("INVENTAG_ACCOUNTS_FILE", str(accounts))
    assert main(["accounts", "sync"]) == 0
    assert main(["accounts", "sync"]) == 0
    out = capsys.readouterr().out
    assert "2 new, 0 already registered" in out and "0 new, 2 already registered" in out
    with DagsterInstance.from_config(str(home)) as instance:
        assert sorted(instance.get_dynamic_partitions(ACCOUNTS_PARTITION)) == ["111111111111", "222222222222"]


@pytest.mark.parametrize("text", ["accounts:\n  - id: 12345\n", "accounts: [\n"])
def test_accounts_sync_rejects_bad_files_without_registering(tmp_path, monkeypatch, capsys, text):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(text)
    assert main(["accounts", "sync", "--accounts-file", str(accounts)]) == 2
    assert "inventag:" in capsys.readouterr().err
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions(ACCOUNTS_PARTITION) == []


def test_diff_applies_user_rules_and_ignored_fields(tmp_path, capsys):
    web = security_group("sg-1", ingress=[("tcp", 443, 443, "10.0.0.0/8")])
    changed = security_group("sg-1", ingress=[("tcp", 443, 443, "10.0.0.0/8"), ("tcp", 8443, 8443, "10.0.0.0/8")],
                             Description="web tier v2")
    old = _write(tmp_path / "old" / "snapshot.parquet", [web])
    new = _write(tmp_path / "new" / "snapshot.parquet", [changed])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: internal-tls\n    path: 'IpPermissions\\['\n    category: network\n    severity: high\n"
        "    description: 'Internal TLS rule {verb}: {value}'\n    types: [AWS::EC2::SecurityGroup]\n"
        "ignore_fields: ['Description$']\n")
    assert main(["diff", old, new, "--out", str(tmp_path / "out"), "--rules", str(rules)]) == 0
    attributes = {(a["path"], a["severity"], a["description"])
                  for a in pq.read_table(tmp_path / "out" / "attribute_changes.parquet").to_pylist()}
    assert attributes == {("IpPermissions[IpProtocol=tcp,FromPort=8443,ToPort=8443,Source=10.0.0.0/8]", "high",
                           "Internal TLS rule added: tcp 8443 from 10.0.0.0/8")}


def test_diff_rejects_a_rules_file_naming_every_problem(tmp_path, capsys):
    good = _write(tmp_path / "new" / "snapshot.parquet", [queue("jobs")])
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: a\n    path: x\n    category: nope\n    severity: high\n"
                     "  - name: b\n    path: '('\n    category: tags\n    severity: low\nextra: 1\n")
    assert main(["diff", good, good, "--out", str(tmp_path / "out"), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "unknown top-level key(s) ['extra']" in err
    assert "rules[0]: rule 'a': category 'nope' not in" in err
    assert "rules[1]:" in err


def test_types_prints_every_registered_type_with_how_it_is_collected_and_tested(capsys):
    from inventag_pipeline.core.registry import REGISTRY

    assert main(["types", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["type"] for r in rows} == set(REGISTRY)
    sqs = next(r for r in rows if r["type"] == "AWS::SQS::Queue")
    assert sqs == {"type": "AWS::SQS::Queue", "service": "sqs", "scope": "regional", "list": "list_queues",
                   "details": ["get_queue_attributes", "list_queue_tags"], "tested_with": "moto",
                   "config_type": "AWS::SQS::Queue", "aws_config": "mapped"}
    assert {r["aws_config"] for r in rows if r["type"] in ("AWS::SNS::Topic", "AWS::EC2::KeyPair")} == {
        "recorded", "no"}
    assert main(["types"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    services = {t.service for t in REGISTRY.values()}
    assert last.startswith(f"{len(REGISTRY)} resource types in {len(services)} services (")


def test_readme_lists_the_registry_as_inventag_types_prints_it(capsys):
    from pathlib import Path

    assert main(["types", "--format", "markdown"]) == 0
    table = capsys.readouterr().out.strip()
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert table in readme, "README's resource-type table is stale: paste `inventag types --format markdown`"


def test_store_commands_answer_on_an_empty_store(tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["validate", "--store", store]) == 0
    assert "Checked 0 account(s)" in capsys.readouterr().out
    assert main(["export", "--store", store, "--account", "123456789012", "--date", "2026-11-21"]) == 2
    assert capsys.readouterr().err.startswith("inventag export: ")
    assert main(["timeline", "--store", store, "arn:aws:sqs:us-east-1:123456789012:q"]) == 2
    assert capsys.readouterr().err.startswith("inventag timeline: ")


def test_validate_and_export_on_a_real_store(tmp_path, capsys):
    """A snapshot written by the pipeline's own step: validate passes, then fails once a byte flips."""
    from inventag_pipeline.core.snapshot import build_manifest, sha256_hex
    from inventag_pipeline.store.store import InventoryStore, Partition

    store = InventoryStore(str(tmp_path / "store"))
    part = Partition("123456789012", "2026-11-21")
    data = table_to_parquet_bytes(records_to_table([queue("q1"), queue("q2")]))
    folder = part.folder("snapshots")
    store.write_bytes(f"{folder}/snapshot.parquet", data)
    store.write_json(f"{folder}/manifest.json", build_manifest(
        account_id=part.account, date=part.date, collected_at="2026-11-21T23:00:00Z", regions=["us-east-1"],
        row_count=2, sha256=sha256_hex(data), coverage=[]))
    out = tmp_path / "q.json"
    assert main(["export", "--store", store.display(""), "--account", part.account, "--date", part.date,
                 "--out", str(out)]) == 0
    assert [r["name"] for r in json.loads(out.read_text())] == ["q1", "q2"]
    capsys.readouterr()
    path = tmp_path / "store" / "snapshots" / f"account={part.account}" / f"date={part.date}" / "snapshot.parquet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert main(["validate", "--store", store.display("")]) == 1
    assert "corrupted" in capsys.readouterr().out


def test_the_console_entry_point_keeps_the_exit_code_and_the_output_of_a_diff(tmp_path):
    """`inventag diff` skips interpreter teardown (os._exit): its files and exit status must not suffer."""
    import subprocess
    import sys

    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    _write(old, [queue("q1")])
    _write(new, [queue("q1"), queue("q2")])
    entry = "import sys; from inventag_pipeline.cli import run; sys.argv[0] = 'inventag'; run()"
    done = subprocess.run([sys.executable, "-c", entry, "diff", str(old), str(new), "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 resource changes in account")
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["counts"]["change_type"]["added"] == 1
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "attribute_changes.parquet", "changelog.html", "changelog.json", "changelog.md", "resource_changes.parquet",
        "summary.json"]
    failed = subprocess.run([sys.executable, "-c", entry, "diff", str(tmp_path / "nope.parquet"), str(new),
                             "--out", str(tmp_path / "e")], capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "does not exist" in failed.stderr


def test_a_one_shot_diff_never_imports_pandas_yet_writes_the_same_files_as_in_process(tmp_path):
    """pyarrow would import pandas (a quarter second) only to ask whether a list is a pandas object."""
    import subprocess
    import sys

    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    _write(old, [queue("q1"), queue("q2")])
    _write(new, [queue("q1", tags={"Owner": "x"}), queue("q3")])
    entry = "import sys; from inventag_pipeline.cli import run; sys.argv[0] = 'inventag'; run()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", entry, "diff", str(old), str(new),
                           "--out", str(tmp_path / "shot")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "pyarrow.lib" in imported and "pandas.core" not in imported  # `pandas` itself: the refused attempt
    assert "Traceback" not in done.stderr
    assert main(["diff", str(old), str(new), "--out", str(tmp_path / "in_process")]) == 0
    for name in ("summary.json", "changelog.md", "changelog.json"):
        assert (tmp_path / "shot" / name).read_text() == (tmp_path / "in_process" / name).read_text(), name
