"""`inventag`: work outside Dagster (DESIGN §9)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from inventag_pipeline.core.accounts import AccountsConfigError, load_accounts


def _accounts_sync(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from inventag_pipeline.partitions import ACCOUNTS_PARTITION

    if not os.environ.get("DAGSTER_HOME"):
        print("DAGSTER_HOME is not set: point it at the folder holding your dagster.yaml", file=sys.stderr)
        return 2
    accounts = load_accounts(args.accounts_file or os.environ.get("INVENTAG_ACCOUNTS_FILE") or None)
    instance = DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(ACCOUNTS_PARTITION))
    new = [a.id for a in accounts if a.id not in known]
    if new:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, new)
    for a in accounts:
        state = "registered" if a.id in new else "already registered"
        print(f"{a.id}  {a.name:<24} {state}{'' if a.enabled else ' (disabled: not collected)'}")
    print(f"{len(new)} new, {len(accounts) - len(new)} already registered, {len(known - {a.id for a in accounts})} "
          "registered but no longer configured (history kept)")
    return 0


def file_sha256(path: Path) -> str:
    from inventag_pipeline.core.snapshot import sha256_of_stream

    with open(path, "rb") as handle:
        return sha256_of_stream(handle)


def _read_side(path: Path):
    """A snapshot file (key columns in memory) plus, when present, its manifest and relationships."""
    import pyarrow.parquet as pq

    from inventag_pipeline.core.delta import SnapshotRows
    from inventag_pipeline.core.snapshot import arn_problems, column_problems

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    manifest_path = path.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    if manifest.get("sha256") and manifest["sha256"] != file_sha256(path):
        raise ValueError(f"{path} is corrupted: its SHA-256 does not match {manifest_path}")
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except Exception as exc:  # any reader error means "not a snapshot"
        raise ValueError(f"{path} is not a readable Parquet file: {exc}") from None
    problems = column_problems(schema)
    if problems:
        raise ValueError(f"{path} is not an inventory snapshot: " + "; ".join(problems))
    # Read from the file, not from bytes held in memory: at a million rows that is 100 MB per side.
    rows = SnapshotRows.from_parquet(str(path))
    problems = arn_problems(rows.column("arn"))
    if problems:
        raise ValueError(f"{path} is not an inventory snapshot: " + "; ".join(problems))
    # The store keeps relationships in a sibling tree: relationships/account=A/date=D/.
    edges_path = Path(str(path.parent).replace("/snapshots/", "/relationships/", 1)) / "relationships.parquet"
    edges = pq.read_table(edges_path) if edges_path.is_file() else None
    return rows, manifest, edges


def _store(args: argparse.Namespace):
    from inventag_pipeline.store.store import InventoryStore

    return InventoryStore(args.store or os.environ.get("INVENTAG_STORAGE_URI") or None)


def _validate(args: argparse.Namespace) -> int:
    from inventag_pipeline.integrity import validate_store

    report = validate_store(_store(args), args.account)
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True) if args.json else report.render_text())
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from inventag_pipeline.history import HistoryError, export_snapshot, state_as_of
    from inventag_pipeline.store.store import IntegrityError

    store = _store(args)
    try:
        date = args.date
        if args.as_of:
            date = state_as_of(store, args.account, args.date, columns=["arn"]).column("snapshot_date")[0].as_py()
            print(f"state as of {args.date}: the snapshot of {date}", file=sys.stderr)
        if args.out:
            rows = export_snapshot(store, args.account, date, args.format, args.out)
            print(f"wrote {rows} resources to {args.out}", file=sys.stderr)
        else:
            export_snapshot(store, args.account, date, args.format, sys.stdout.buffer)
            sys.stdout.flush()
    except (HistoryError, IntegrityError) as exc:
        print(f"inventag export: {exc}", file=sys.stderr)
        return 2
    return 0


def _timeline(args: argparse.Namespace) -> int:
    from inventag_pipeline.history import HistoryError, render_timeline, timeline

    try:
        entries = timeline(_store(args), args.arn, args.account)
    except HistoryError as exc:
        print(f"inventag timeline: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(entries, indent=2, default=str) if args.json else render_timeline(entries))
    return 0


def _retention(args: argparse.Namespace) -> int:
    """The retention job's work from a shell; Dagster's runs are cleaned too when DAGSTER_HOME is set."""
    import datetime as dt

    from inventag_pipeline.core.retention import RetentionConfigError
    from inventag_pipeline.operations.retention import RetentionResource, run_retention

    try:
        today = dt.date.fromisoformat(args.today) if args.today else dt.datetime.now(dt.timezone.utc).date()
    except ValueError:
        print(f"inventag retention: --today {args.today!r} is not a YYYY-MM-DD date", file=sys.stderr)
        return 2
    try:
        policy = RetentionResource().policy()
    except RetentionConfigError as exc:
        print(f"inventag retention: {exc}", file=sys.stderr)
        return 2
    if not os.environ.get("DAGSTER_HOME"):
        report = run_retention(_store(args), policy, today, dry_run=args.dry_run, source="cli")
    else:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            report = run_retention(_store(args), policy, today, dry_run=args.dry_run, instance=instance, source="cli")
    print(report.render_text())
    return 0


def _terraform(args: argparse.Namespace) -> int:
    """Terraform import blocks and stubs for one stored snapshot: files in --out, else HCL on standard output."""
    import datetime as dt

    from inventag_pipeline.core.accounts import validate_account_id
    from inventag_pipeline.core.terraform import TerraformConfigError, generate_terraform
    from inventag_pipeline.steps import StepError, load_snapshot
    from inventag_pipeline.store.store import IntegrityError, Partition

    try:
        dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"inventag terraform: --date {args.date!r} is not a YYYY-MM-DD date", file=sys.stderr)
        return 2
    columns = ["arn", "resource_type", "resource_id", "name", "region", "tags", "configuration"]
    try:
        table, manifest = load_snapshot(_store(args), Partition(validate_account_id(args.account), args.date),
                                        columns=columns)
        out = generate_terraform(table.to_pylist(), account_id=args.account, date=args.date, types=args.types,
                                 snapshot_sha256=manifest.get("sha256"))
    except (StepError, IntegrityError, TerraformConfigError) as exc:
        print(f"inventag terraform: {exc}", file=sys.stderr)
        return 2
    summary = [f"{out.count} import block(s) for {len(out.by_type)} Terraform type(s): "
               + (", ".join(f"{t} {n}" for t, n in out.by_type.items()) or "none")]
    summary += [f"  not imported: {n} ({reason})" for reason, n in out.skipped.items()]
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in out.files().items():
            (folder / name).write_text(text)
        print("\n".join([*summary, f"wrote {folder}/{{providers,imports,resources}}.tf"]))
    else:
        sys.stdout.write("\n".join(f"# ===== {name} =====\n{text}" for name, text in out.files().items()))
        print("\n".join(summary), file=sys.stderr)
    return 0


def registry_rows() -> list[dict[str, object]]:
    """One row per registered type: what `inventag types` prints and the README lists.

    `aws_config`: "mapped" (read from a recording AWS Config recorder, and past days rebuilt from its
    history), "recorded" (Config records it but it is always read with the API), or "no".
    """
    from inventag_pipeline.core.config_mapping import MAPPINGS
    from inventag_pipeline.core.registry import RESOURCE_TYPES

    return [
        {"type": t.cfn_type, "service": t.service, "scope": "global" if t.is_global else "regional",
         "list": t.list_operation, "details": [d.operation for d in t.details], "tested_with": t.tested_with,
         "config_type": t.config_type,
         "aws_config": "mapped" if t.cfn_type in MAPPINGS else "recorded" if t.config_type else "no"}
        for t in sorted(RESOURCE_TYPES, key=lambda t: (t.service, t.cfn_type))
    ]


def _types(args: argparse.Namespace) -> int:
    rows = registry_rows()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if args.format == "markdown":
        print("| type | service | scope | collected with | tested with |\n|---|---|---|---|---|")
        for r in rows:
            calls = ", ".join(f"`{c}`" for c in [r["list"], *r["details"]])
            print(f"| `{r['type']}` | {r['service']} | {r['scope']} | {calls} | {r['tested_with']} |")
        return 0
    width = max(len(str(r["type"])) for r in rows)
    for r in rows:
        calls = " + ".join([str(r["list"]), *map(str, r["details"])])
        print(f"{r['type']:<{width}}  {r['service']:<15} {r['scope']:<8} {r['tested_with']:<7}  "
              f"{r['aws_config']:<8}  {calls}")
    services = {r["service"] for r in rows}
    print(f"\n{len(rows)} resource types in {len(services)} services "
          f"({sum(1 for r in rows if r['tested_with'] == 'moto')} tested against moto, "
          f"{sum(1 for r in rows if r['tested_with'] == 'stubber')} with botocore's Stubber; "
          f"{sum(1 for r in rows if r['aws_config'] == 'mapped')} read from AWS Config when a recorder records them)")
    return 0


def _hide_pandas_from_pyarrow() -> None:
    """Spare a one-shot `inventag diff` process the pandas import.

    pyarrow imports pandas the first time it converts a Python list, only to ask whether the list
    is a pandas object; the diff never uses pandas. When the import fails, pyarrow records "no
    pandas" and goes on. Only for a process that exits after the diff: pyarrow keeps that answer.
    """
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _PandasHidden())


class _PandasHidden:
    """An import finder that makes `import pandas` fail (a module set to None in sys.modules is not
    enough: pyarrow's compiled import takes the None for the module)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not loaded by a one-shot `inventag diff`", name=name)


def _diff(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from inventag_pipeline.core.changelog import render_changelog
    from inventag_pipeline.core.classify import Classifier, RulesConfigError, load_rules_file
    from inventag_pipeline.core.delta import DeltaEngine

    try:
        # Both sides at once: checksumming and Parquet decoding run in C with the interpreter lock released.
        with ThreadPoolExecutor(max_workers=2) as pool:
            old_side, new_side = pool.submit(_read_side, Path(args.old)), pool.submit(_read_side, Path(args.new))
            (old, old_manifest, old_edges), (new, new_manifest, new_edges) = old_side.result(), new_side.result()
    except (FileNotFoundError, ValueError) as exc:
        print(f"inventag diff: {exc}", file=sys.stderr)
        return 2
    engine = DeltaEngine()
    if args.rules:
        try:
            rules, ignore = load_rules_file(args.rules)
        except RulesConfigError as exc:
            print(f"inventag diff: {exc}", file=sys.stderr)
            return 2
        engine = DeltaEngine(Classifier().with_overrides(rules, ignore))
    result = engine.compute(
        old, new,
        old_coverage=old_manifest.get("coverage", []), new_coverage=new_manifest.get("coverage", []),
        previous_date=old_manifest.get("date") or Path(args.old).name,
        date=new_manifest.get("date") or Path(args.new).name,
        old_relationships=old_edges, new_relationships=new_edges,
    )
    summary = result.summary
    summary["account_id"] = new_manifest.get("account_id") or ""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.resource_changes, out / "resource_changes.parquet", compression="zstd")
    pq.write_table(result.attribute_changes, out / "attribute_changes.parquet", compression="zstd")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    docs = render_changelog(result.resource_changes, result.attribute_changes, summary)
    (out / "changelog.md").write_text(docs.markdown)
    (out / "changelog.html").write_text(docs.html)
    (out / "changelog.json").write_text(docs.json)
    counts = summary["counts"]
    print(docs.context["headline"])
    print("  by type:     " + ", ".join(f"{k} {v}" for k, v in counts["change_type"].items()))
    print("  by severity: " + ", ".join(f"{k} {v}" for k, v in counts["severity"].items()))
    if counts["service"]:
        print("  by service:  " + ", ".join(f"{k} {v}" for k, v in list(counts["service"].items())[:8]))
    for h in summary["security_changes"]["high_risk_resources"][:10]:
        print(f"  {h['severity'].upper():>8} {h['name'] or h['arn']}: {'; '.join(h['reasons'])[:100]}")
    if summary["unverified"]:
        print(f"  unverified scopes: {len(summary['unverified'])} (their resources are not reported added/removed)")
    print(f"  wrote {out}/{{resource_changes,attribute_changes}}.parquet, summary.json, changelog.{{md,html,json}}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from inventag_pipeline.demo import run_demo

    return run_demo(days=args.days, accounts=args.accounts)


def _simulator_serve(args: argparse.Namespace) -> int:

    from inventag_pipeline.aws.simulator import SimulatedAccount, SimulatorServer

    # Handlers first: a stop request that arrives while seeding must not be lost (or ignored, when
    # the parent left SIGTERM ignored).
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    server = SimulatorServer(port=args.port).start()
    try:
        account = SimulatedAccount(server.url)
        count = account.seed()
        for day in range(2, args.day + 1):
            account.apply_day(day)
        print(f"simulated AWS account 123456789012 at {server.url}: {count} resources, day {args.day} state "
              f"(pid {os.getpid()}; stop with kill -TERM {os.getpid()})", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _simulator_stop(args: argparse.Namespace) -> int:
    from inventag_pipeline.aws.simulator_launch import stop_simulator

    pid = stop_simulator()
    print(f"stopped the simulated account (pid {pid})" if pid else "no background simulated account is running")
    return 0


def _dev(args: argparse.Namespace) -> int:
    from inventag_pipeline.dev import run_dev

    return run_dev(port=args.port, skip_demo=args.skip_demo, accounts=args.accounts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    accounts = sub.add_parser("accounts", help="manage account partitions")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    sync = accounts_sub.add_parser("sync", help="register configured accounts as partitions in DAGSTER_HOME")
    sync.add_argument("--accounts-file", help="YAML accounts file (default: INVENTAG_ACCOUNTS_FILE)")
    sync.set_defaults(func=_accounts_sync)

    diff = sub.add_parser("diff", help="diff two snapshot.parquet files into DIR")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--out", required=True, help="output folder for the delta and changelog files")
    diff.add_argument("--rules", help="YAML of extra classification rules and ignore_fields (see README)")
    diff.set_defaults(func=_diff)

    demo = sub.add_parser("demo", help="three days of a simulated account through the Dagster chain")
    demo.add_argument("--days", type=int, default=3, choices=(2, 3))
    demo.add_argument("--accounts", type=int, default=1, choices=(1, 2, 3),
                      help="simulated accounts: 1 (default), or an organization of a management account and members")
    demo.set_defaults(func=_demo)

    simulator = sub.add_parser("simulator", help="the simulated AWS account (moto server)")
    sim_sub = simulator.add_subparsers(dest="simulator_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the simulated account on 127.0.0.1 until stopped")
    serve.add_argument("--port", type=int, default=5555)
    serve.add_argument("--day", type=int, default=3, choices=(1, 2, 3), help="scenario day to present")
    serve.set_defaults(func=_simulator_serve)
    stop = sim_sub.add_parser("stop", help="stop the simulated account a Dagster run started in the background")
    stop.set_defaults(func=_simulator_stop)

    store_help = "storage root (default: INVENTAG_STORAGE_URI, else ./.inventag/store)"
    validate = sub.add_parser("validate", help="check every manifest's checksum and report corrupted or missing "
                                               "partitions")
    validate.add_argument("--account", action="append", help="only this account (repeatable)")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument("--store", help=store_help)
    validate.set_defaults(func=_validate)

    export = sub.add_parser("export", help="one day's snapshot of one account as json, yaml, csv or parquet")
    export.add_argument("--account", required=True)
    export.add_argument("--date", required=True, help="YYYY-MM-DD")
    export.add_argument("--format", default="json", choices=("json", "yaml", "csv", "parquet"))
    export.add_argument("--as-of", action="store_true",
                        help="the state as of DATE: the newest snapshot on or before it")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument("--store", help=store_help)
    export.set_defaults(func=_export)

    history = sub.add_parser("timeline", help="every change to one resource across the history")
    history.add_argument("arn")
    history.add_argument("--account", help="needed only when the ARN has no account (S3) and several exist")
    history.add_argument("--json", action="store_true")
    history.add_argument("--store", help=store_help)
    history.set_defaults(func=_timeline)

    retention = sub.add_parser("retention", help="delete partitions older than the retention policy (audited; "
                                                 "INVENTAG_RETENTION_* and the accounts file's retention:)")
    retention.add_argument("--dry-run", action="store_true", help="plan and write the audit record, delete nothing")
    retention.add_argument("--storage-uri", "--store", dest="store", help=store_help)
    retention.add_argument("--today", help="YYYY-MM-DD the policy counts from (default: today, UTC)")
    retention.set_defaults(func=_retention)

    types = sub.add_parser("types", help="the resource-type registry: how each type is collected and tested")
    types.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    types.set_defaults(func=_types)

    terraform = sub.add_parser("terraform", help="Terraform >= 1.5 import blocks and resource stubs for one stored "
                                                 "snapshot of one account")
    terraform.add_argument("--account", required=True)
    terraform.add_argument("--date", required=True, help="YYYY-MM-DD")
    terraform.add_argument("--out", help="folder for providers.tf, imports.tf, resources.tf (default: standard output)")
    terraform.add_argument("--types", nargs="+", help="only these types: CloudFormation (AWS::EC2::Instance) or "
                                                      "Terraform (aws_instance) names, space- or comma-separated")
    terraform.add_argument("--store", help=store_help)
    terraform.set_defaults(func=_terraform)

    dev = sub.add_parser("dev", help="demo history + simulator + `dagster dev` on 127.0.0.1:3000")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--skip-demo", action="store_true", help="do not (re)run the demo first")
    dev.add_argument("--accounts", type=int, default=1, choices=(1, 2, 3),
                     help="simulated accounts, as for `inventag demo --accounts`")
    dev.set_defaults(func=_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AccountsConfigError as exc:
        print(f"inventag: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """The console entry point.

    A diff ends without Python's teardown of its in-memory tables and documents: nothing is left
    to flush once its files are closed, and freeing a million resources' objects one by one only
    makes the user wait (about 0.1 s at 100 k resources, a second at 1 M).
    """
    one_shot_diff = len(sys.argv) > 1 and sys.argv[1] == "diff"
    if one_shot_diff:
        _hide_pandas_from_pyarrow()
    code = main()
    if one_shot_diff:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
