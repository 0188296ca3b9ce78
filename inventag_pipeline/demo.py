"""`make demo`: three days of a simulated account through the real Dagster chain.

A moto server on 127.0.0.1 plays the AWS account. Day 1 is the baseline; before days 2 and 3 the
simulator injects realistic changes. Each day is materialised with Dagster on a persistent instance
(so `make dev` shows the history), then the demo checks the delta against what was injected.

`inventag demo --accounts 3` plays a small organization instead: the management account and members
in the same moto server, collected the way real accounts are (an accounts file, the pipeline's own
credentials for the management account, assume-role into each member), so that the Dagster UI
shows one partition per account and day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID

PROJECT_STATE = Path(".inventag")
# The simulated organization of `--accounts N`: the management account (the single demo's account),
# then members collected through the role below, which the demo creates in each of them.
ORGANIZATION = (
    (SIMULATED_ACCOUNT_ID, "management"),
    ("234567890123", "payments"),
    ("345678901234", "analytics"),
)
COLLECTION_ROLE = "InventagReadOnly"
INVENTORY_ASSETS = ("raw_inventory", "inventory_snapshot", "inventory_delta", "changelog", "tag_compliance",
                    "security_findings", "compliance_report")


def prepare_home(home: Path) -> Path:
    """A DAGSTER_HOME holding the project's dagster.yaml, shared by the demo and `make dev`."""
    home.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parent.parent / "dagster.yaml"
    if source.is_file():
        shutil.copyfile(source, home / "dagster.yaml")
    return home.resolve()


def demo_dates(days: int, today: dt.date | None = None) -> list[str]:
    """`days` consecutive dates ending today (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return [(today - dt.timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def _covers(expected: str, paths: set[str]) -> bool:
    """An expected path is found at itself or below it (`State` covers `State.Name`)."""
    return any(p == expected or p.startswith((expected + ".", expected + "[")) for p in paths)


def match_injected(injected: Sequence[Any], resources: list[dict[str, Any]], attributes: list[dict[str, Any]],
                   names_by_arn: dict[str, str]) -> tuple[list[tuple[Any, bool]], list[dict[str, Any]]]:
    """Pair each injected change with the delta; return (verdicts, unexpected resource changes)."""
    used: set[str] = set()
    verdicts = []
    paths_by_arn: dict[str, set[str]] = {}
    for a in attributes:
        paths_by_arn.setdefault(a["arn"], set()).add(a["path"])
    for change in injected:
        candidates = [r for r in resources if r["resource_type"] == change.resource_type
                      and r["region"] == change.region
                      and change.locator in (r["name"], names_by_arn.get(r["arn"]))]
        if change.change_type == "none":
            verdicts.append((change, not candidates))
            continue
        hit = next((r for r in candidates if r["change_type"] == change.change_type), None)
        found = paths_by_arn.get(hit["arn"], set()) if hit is not None else set()
        ok = hit is not None and all(_covers(p, found) for p in change.paths)
        if hit is not None:
            used.add(hit["arn"])
        verdicts.append((change, ok))
    unexpected = [r for r in resources if r["arn"] not in used]
    return verdicts, unexpected


def run_demo(days: int = 3, state_dir: Path = PROJECT_STATE, port: int = 0, quiet_dagster: bool = True,
             accounts: int = 1) -> int:
    """Run the demo on its own simulator; returns 0 when every day told exactly its story."""
    from inventag_pipeline.aws.simulator import SimulatedAccount, SimulatorServer

    with SimulatorServer(port=port) as server:
        if accounts > 1:
            return run_organization_demo_on(Organization.simulated(server.url, accounts), days=days,
                                            state_dir=state_dir, quiet_dagster=quiet_dagster)
        return run_demo_on(SimulatedAccount(server.url), days=days, state_dir=state_dir,
                           quiet_dagster=quiet_dagster)


def _fresh_state(state_dir: Path, account_ids: Sequence[str], quiet_dagster: bool) -> tuple[Path, str, Any]:
    """The demo's Dagster home (made current) and store, with these accounts' earlier demo days removed."""
    import logging

    from inventag_pipeline.store.store import InventoryStore

    if quiet_dagster:
        logging.getLogger("dagster").setLevel(logging.WARNING)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    home = prepare_home(state_dir / "dagster_home")
    os.environ["DAGSTER_HOME"] = str(home)
    storage_uri = os.environ.get("INVENTAG_STORAGE_URI") or str((state_dir / "store").resolve())
    store = InventoryStore(storage_uri)
    for account_id in account_ids:
        for kind in ("raw", "snapshots", "relationships", "deltas", "changelogs", "tags", "security"):
            store.delete_folder(f"{store_kind(kind)}/account={account_id}")
    return home, storage_uri, store


def run_demo_on(account: Any, *, days: int = 3, state_dir: Path = PROJECT_STATE, quiet_dagster: bool = True) -> int:
    """The demo against an already running simulator (`make dev` keeps it running for the UI)."""
    from dagster import DagsterInstance

    from inventag_pipeline import steps
    from inventag_pipeline.definitions import defs

    home, storage_uri, store = _fresh_state(state_dir, [SIMULATED_ACCOUNT_ID], quiet_dagster)
    dates = demo_dates(days)
    print("inventag-pipeline demo — a simulated AWS account (moto on 127.0.0.1), no credentials needed")
    print(f"  Dagster instance: {home}")
    print(f"  Storage:          {store.display('')}")
    print(f"  Days:             {', '.join(dates)} (past days are collected from the simulator by explicit "
          "override of the collection window)\n")
    assets = [defs.get_assets_def(key) for key in INVENTORY_ASSETS]
    with DagsterInstance.get() as instance:
        return _run_days(account, instance, assets, store, storage_uri, dates, steps)


def _run_days(account: Any, instance: Any, assets: list[Any], store: Any, storage_uri: str, dates: list[str],
              steps: Any) -> int:

    from inventag_pipeline.partitions import ACCOUNTS_PARTITION, partition_key
    from inventag_pipeline.resources import AwsInventoryResource
    from inventag_pipeline.store.store import Partition

    instance.add_dynamic_partitions(ACCOUNTS_PARTITION, [SIMULATED_ACCOUNT_ID])
    all_ok = True
    t0 = time.perf_counter()
    created = account.seed()
    print(f"Seeded the simulated account {SIMULATED_ACCOUNT_ID}: {created} resources in "
          f"{', '.join(account.regions)} and global IAM ({time.perf_counter() - t0:.1f} s)\n")
    resources = _resources(AwsInventoryResource(simulator_url=account.endpoint_url, allow_outside_window=True),
                           storage_uri)
    for index, date in enumerate(dates, start=1):
        injected = account.apply_day(index) if index > 1 else []
        elapsed, broken = _materialize_day(assets, partition_key(SIMULATED_ACCOUNT_ID, date), instance, resources)
        if broken:
            _print_failure(f"Day {index} ({date})", "make dev", broken, "  ")
            return 1
        all_ok &= _print_day(store, Partition(SIMULATED_ACCOUNT_ID, date), index, injected, elapsed, steps)
    all_ok &= _print_validation(store, [SIMULATED_ACCOUNT_ID])
    print("Next: `make dev` opens the Dagster UI (http://127.0.0.1:3000) on this history; "
          "query the Parquet with pandas, DuckDB or Athena (see README).")
    return 0 if all_ok else 1


def _resources(aws: Any, storage_uri: str) -> dict[str, Any]:
    """The chain's resources for a demo run: its `aws`, the demo store, default rules, policy and gate."""
    from inventag_pipeline.resources import (
        ComplianceGateResource,
        DeltaRulesResource,
        InventoryStoreResource,
        TagPolicyResource,
    )

    return {"aws": aws, "store": InventoryStoreResource(storage_uri=storage_uri), "delta_rules": DeltaRulesResource(),
            "tag_policy": TagPolicyResource(), "compliance_gate": ComplianceGateResource()}


def _materialize_day(assets: list, key: str, instance: Any, resources: dict) -> tuple[float, list]:
    """One partition's chain; returns its seconds and the step failures that are not a gate breach.

    Errors are reported by the caller, once, instead of Dagster's console traces: a breached
    compliance gate fails its step by design and is not a broken run.
    """
    from dagster import materialize

    started = time.perf_counter()
    result = materialize(assets, partition_key=key, instance=instance, resources=resources, raise_on_error=False,
                         run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
    elapsed = time.perf_counter() - started
    return elapsed, [e for e in result.get_step_failure_events() if not _is_gate_breach(e)]


def _print_failure(label: str, ui_command: str, broken: list, indent: str) -> None:
    print(f"{label}: the run FAILED; see the Dagster UI ({ui_command}) for the error.")
    for event in broken:
        error = event.step_failure_data.error
        print(f"{indent}{event.step_key}: {error.message.strip() if error else 'unknown error'}")


@dataclass
class Organization:
    """Simulated accounts in one moto server, with the accounts file and environment that reach them.

    Nothing marks these accounts as simulated: they are collected like real ones (DESIGN §8), through
    an accounts file, with the pipeline's own credentials and AWS_ENDPOINT_URL pointing at moto; each
    member through its `InventagReadOnly` role.
    """

    endpoint_url: str
    accounts: list[tuple[str, str, Any]]  # (id, name, SimulatedAccount)

    @classmethod
    def simulated(cls, endpoint_url: str, count: int, regions: Sequence[str] | None = None) -> Organization:
        """The first `count` accounts of ORGANIZATION, each with the simulator's estate (in `regions`)."""
        from inventag_pipeline.aws.simulator import SIMULATED_REGIONS, SimulatedAccount

        if not 2 <= count <= len(ORGANIZATION):
            raise ValueError(f"the simulated organization has 2 to {len(ORGANIZATION)} accounts, not {count}")
        return cls(endpoint_url, [
            (account_id, name, SimulatedAccount(endpoint_url, regions or SIMULATED_REGIONS, account_id=account_id))
            for account_id, name in ORGANIZATION[:count]])

    @property
    def ids(self) -> list[str]:
        return [account_id for account_id, _, _ in self.accounts]

    def seed(self) -> dict[str, int]:
        """Each account's baseline, plus the collection role in every member; resources created per account."""
        management = self.accounts[0][0]
        created = {}
        for account_id, _, sim in self.accounts:
            created[account_id] = sim.seed()
            if account_id != management:
                sim.grant_collection_role(COLLECTION_ROLE, management)
                created[account_id] += 1
        return created

    def accounts_yaml(self) -> str:
        """The accounts file (DESIGN §8) for these accounts: members through their role, all in the demo regions."""
        lines = ["# Written by `inventag demo --accounts N`: the simulated organization in moto.", "accounts:"]
        management = self.accounts[0][0]
        for account_id, name, sim in self.accounts:
            lines += [f'  - id: "{account_id}"', f"    name: {name}", f"    regions: [{', '.join(sim.regions)}]"]
            if account_id != management:
                lines.append(f"    role_arn: arn:aws:iam::{account_id}:role/{COLLECTION_ROLE}")
        return "\n".join(lines) + "\n"

    def write_accounts_file(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.accounts_yaml())
        return path.resolve()

    def environment(self, accounts_file: Path) -> dict[str, str]:
        """What the pipeline needs to reach these accounts: moto as AWS, and credentials moto accepts."""
        return {"INVENTAG_ACCOUNTS_FILE": str(accounts_file), "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (materialize runs in this process and reads them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_organization_demo_on(org: Organization, *, days: int = 3, state_dir: Path = PROJECT_STATE,
                             quiet_dagster: bool = True, instance: Any = None,
                             asset_keys: Sequence[str] = INVENTORY_ASSETS) -> int:
    """The demo for several accounts of one simulator; returns 0 when every account told exactly its story.

    Without `instance`, the persistent one in `state_dir` that `make dev-accounts` opens. `asset_keys`
    can stop at the inventory chain (the compliance score is then not printed).
    """
    from dagster import DagsterInstance

    from inventag_pipeline import steps
    from inventag_pipeline.definitions import defs

    home, storage_uri, store = _fresh_state(state_dir, org.ids, quiet_dagster)
    accounts_file = org.write_accounts_file(state_dir / "demo-accounts.yaml")
    dates = demo_dates(days)
    print(f"inventag-pipeline demo — a simulated organization of {len(org.accounts)} AWS accounts "
          "(moto on 127.0.0.1), no credentials needed")
    print(f"  Dagster instance: {home}")
    print(f"  Storage:          {store.display('')}")
    print(f"  Accounts file:    {accounts_file} (members through their {COLLECTION_ROLE} role)")
    print(f"  Days:             {', '.join(dates)}\n")
    assets = [defs.get_assets_def(key) for key in asset_keys]
    with environment(org.environment(accounts_file)), \
            (contextlib.nullcontext(instance) if instance is not None else DagsterInstance.get()) as instance:
        return _run_organization_days(org, instance, assets, store, storage_uri, accounts_file, dates, steps)


def _run_organization_days(org: Organization, instance: Any, assets: list[Any], store: Any, storage_uri: str,
                           accounts_file: Path, dates: list[str], steps: Any) -> int:

    from inventag_pipeline.partitions import ACCOUNTS_PARTITION, partition_key
    from inventag_pipeline.resources import AwsInventoryResource
    from inventag_pipeline.store.store import Partition

    instance.add_dynamic_partitions(ACCOUNTS_PARTITION, org.ids)
    t0 = time.perf_counter()
    created = org.seed()
    for account_id, name, sim in org.accounts:
        print(f"Seeded {name} ({account_id}): {created[account_id]} resources in {', '.join(sim.regions)} "
              "and global IAM")
    print(f"  ({time.perf_counter() - t0:.1f} s)\n")
    # simulator_url: these accounts are in the simulator, so only the types moto implements are collected.
    resources = _resources(AwsInventoryResource(accounts_file=str(accounts_file), simulator_url=org.endpoint_url,
                                                allow_outside_window=True), storage_uri)
    all_ok = True
    for index, date in enumerate(dates, start=1):
        print(f"Day {index} — {date}")
        for account_id, name, sim in org.accounts:
            injected = sim.apply_day(index) if index > 1 else []
            elapsed, broken = _materialize_day(assets, partition_key(account_id, date), instance, resources)
            if broken:
                _print_failure(f"  {name} ({account_id})", "make dev-accounts", broken, "    ")
                return 1
            all_ok &= _print_account_day(store, Partition(account_id, date), name, injected, elapsed, steps)
        print()
    all_ok &= _print_validation(store, org.ids)
    print(f"{len(org.accounts)} accounts x {len(dates)} days = {len(org.accounts) * len(dates)} partitions "
          f"({', '.join(partition_key(org.ids[0], d) for d in dates[:1])}, ...).")
    print("Next: `make dev-accounts` opens the Dagster UI (http://127.0.0.1:3000) with one partition per "
          "account and day.")
    return 0 if all_ok else 1


def _print_validation(store: Any, accounts: Sequence[str]) -> bool:
    """What `inventag validate` says about the accounts just written: every checksum and required file."""
    from inventag_pipeline.integrity import validate_store

    report = validate_store(store, accounts)
    c, counts = report.checked, report.counts()
    print(f"Store check (`inventag validate`): {'OK' if report.ok else 'FAILED'} — {c['partitions']} partitions, "
          f"{c['files']} files, {c['checksums']} snapshot checksums verified; {counts['error']} errors, "
          f"{counts['warning']} warnings")
    for problem in report.problems[:10]:
        print(f"  {problem.render()}")
    print()
    return report.ok


def _print_account_day(store: Any, part: Any, name: str, injected: Sequence[Any], elapsed: float,
                       steps: Any) -> bool:
    """One account's day in two lines: counts, whether the delta is exactly what was injected, the gate."""
    import json

    resources, attributes, summary = steps.load_delta(store, part)
    snapshot, manifest = steps.load_snapshot(store, part, columns=["arn", "name", "configuration"])
    scopes = manifest["coverage"]
    collected = sum(1 for c in scopes if c["status"] == "ok")
    line = f"  {name:<10} {part.account}: {snapshot.num_rows} resources, {collected}/{len(scopes)} scopes"
    ok = collected == len(scopes)
    if summary["previous_date"] is not None:
        ct = summary["counts"]["change_type"]
        line += f" | {ct['added']} added, {ct['removed']} removed, {ct['modified']} modified"
        names = {row["arn"]: json.loads(row["configuration"]).get("Description") or row["name"]
                 for row in snapshot.to_pylist()}
        verdicts, unexpected = match_injected(injected, resources.to_pylist(), attributes.to_pylist(), names)
        missing = [c for c, good in verdicts if not good]
        exact = not missing and not unexpected
        ok &= exact
        line += f" | exactly the injected changes? {'yes' if exact else 'NO'}"
    else:
        missing, unexpected = [], []
    report_path = f"{part.folder('reports')}/report.json"
    if store.exists(report_path):
        report = store.read_json(report_path)
        line += f" | score {report['score']}%, gate {report['gate']['status'].upper()}"
    line += f" | run {elapsed:.1f} s"
    print(line)
    for change in missing:
        print(f"             missing or wrong: {change.description}")
    for r in unexpected:
        print(f"             unexpected: {r['change_type']} {r['resource_type']} {r['name'] or r['arn']}")
    changelog = f"{part.folder('changelogs')}/changelog.md"
    print(f"             changelog: {store.display(changelog)}")
    return ok


def _is_gate_breach(event: Any) -> bool:
    """The compliance gate's blocking check failed: the report was written, downstream is held."""
    error = event.step_failure_data.error if event.step_failure_data else None
    return event.step_key == "compliance_report" and error is not None and \
        error.cls_name == "DagsterAssetCheckFailedError"


def _print_report(store: Any, part: Any, names: dict[str, str | None]) -> None:
    report = store.read_json(f"{part.folder('reports')}/report.json")
    trend, gate, safety = report["trend"], report["gate"], report["collection_safety"]
    held = " (blocking check failed: downstream publishing held)" if gate["status"] == "error" else ""
    print(f"  Compliance gate: {gate['status'].upper()}{held} — {' '.join(gate['reasons']) or 'within thresholds'}")
    print(f"  Compliance report: score {report['score']}% | "
          f"{len(trend['new_failing'])} new failing, {len(trend['resolved'])} resolved, "
          f"{len(trend['still_failing'])} still failing, {len(trend['reopened'])} reopened")
    for label, entries in (("new failing", trend["new_failing"]), ("resolved", trend["resolved"])):
        for f in entries[:6]:
            name = names.get(f["arn"]) or f["arn"].rsplit(":", 1)[-1]
            print(f"   {f['severity']:>8}  {label:<11} {f['check_id']:<46} {name[:40]}")
    print(f"  Collection safety: {safety.get('total_calls', '?')} API calls, all read-only: "
          f"{'yes' if safety.get('all_read_only') else 'NO'}, refused: {safety.get('refused', 0)}")
    folder = part.folder("reports")
    print(f"  Report:    {store.display(f'{folder}/report.html')}\n             {store.display(f'{folder}/report.md')}")


def store_kind(kind: str) -> str:
    from inventag_pipeline.store.store import KINDS

    return KINDS[kind]


def _print_day(store: Any, part: Any, index: int, injected: Sequence[Any], elapsed: float, steps: Any) -> bool:
    resources, attributes, summary = steps.load_delta(store, part)
    snapshot, manifest = steps.load_snapshot(store, part, columns=["arn", "name", "configuration"])
    counts = summary["counts"]
    failed = [c for c in manifest["coverage"] if c["status"] != "ok"]
    print(f"Day {index} — {part.date}: {snapshot.num_rows} resources, "
          f"{len(manifest['coverage']) - len(failed)}/{len(manifest['coverage'])} scopes collected, "
          f"run took {elapsed:.1f} s")
    if summary["previous_date"] is None:
        print("  First snapshot: nothing to compare yet.")
    else:
        ct = counts["change_type"]
        sev = counts["severity"]
        replaced = f", {ct['replaced']} replaced" if ct["replaced"] else ""
        print(f"  vs {summary['previous_date']}: {ct['added']} added, {ct['removed']} removed, "
              f"{ct['modified']} modified{replaced} | critical {sev['critical']}, high {sev['high']}, "
              f"medium {sev['medium']}, low {sev['low']}, info {sev['info']}")
        attr_rows = attributes.to_pylist()
        by_arn: dict[str, list[dict[str, Any]]] = {}
        for a in attr_rows:
            by_arn.setdefault(a["arn"], []).append(a)
        for r in resources.to_pylist():
            # A replacement leads with what it replaced, then what differs.
            changes = sorted(by_arn.get(r["arn"], []), key=lambda a: a["path"] != "arn")
            detail = "; ".join(a["description"] for a in changes) or r["change_type"]
            print(f"   {r['severity']:>8}  {r['change_type']:<8} {r['resource_type']:<26} "
                  f"{(r['name'] or r['arn'])[:34]:<34} {detail[:90]}")
    ok = True
    if injected:
        import json

        names = {}
        for row in snapshot.to_pylist():
            names[row["arn"]] = json.loads(row["configuration"]).get("Description") or row["name"]
        verdicts, unexpected = match_injected(injected, resources.to_pylist(), attributes.to_pylist(), names)
        missing = [c for c, good in verdicts if not good]
        quiet = sum(1 for c in injected if c.change_type == "none")
        ok = not missing and not unexpected
        mark = "yes" if ok else "NO"
        print(f"  Exactly the injected changes? {mark} — {len(injected) - quiet} expected changes found, "
              f"{quiet} volatile/order-only differences correctly ignored")
        for c in missing:
            print(f"    missing or wrong: {c.description}")
        for r in unexpected:
            print(f"    unexpected: {r['change_type']} {r['resource_type']} {r['name'] or r['arn']}")
    tags = store.read_table(f"{part.folder('tags')}/results.parquet").to_pylist()
    judged = [r for r in tags if r["exemption"] is None]
    failing = sum(1 for r in judged if not r["compliant"])
    pct = 100.0 * (len(judged) - failing) / len(judged) if judged else 100.0
    print(f"  Tag policy: {pct:.1f}% of {len(judged)} resources compliant ({failing} missing or invalid tags)")
    findings = store.read_table(f"{part.folder('security')}/findings.parquet").to_pylist()
    failing = Counter(f["severity"] for f in findings if f["status"] == "FAIL")
    print(f"  Security checks: {sum(failing.values())} failing of {len(findings)} "
          f"(critical {failing['critical']}, high {failing['high']}, medium {failing['medium']})")
    _print_report(store, part, dict(zip(snapshot.column("arn").to_pylist(), snapshot.column("name").to_pylist(),
                                        strict=True)))
    paths = {ext: store.display(f"{part.folder('changelogs')}/changelog.{ext}") for ext in ("md", "html")}
    print(f"  Changelog: {paths['md']}\n             {paths['html']}\n")
    return ok
