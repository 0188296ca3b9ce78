"""A year of stored raw data for ten accounts, backfilled downstream through a real Dagster daemon.

1. One demo-sized account (the simulated one: moto, ~255 resources in two regions plus IAM) is collected
   once by the product's own collector. From that collection the script derives, per account, 365 days
   of raw inventory with small daily changes (tags re-owned, security-group rules added and removed,
   instances resized, queues created and deleted, queue depths moving — the last is volatile, never a
   change) and writes each day with `steps.write_raw`, exactly as `raw_inventory` does.
2. A real asset backfill of the six downstream assets over every (account, day) is submitted to a
   persistent Dagster instance (the project's dagster.yaml: queued runs, at most 4 at once) and executed
   by `dagster-daemon run`: the backfill daemon forms runs from the assets' BackfillPolicy, the run queue
   launches them, each run executes its steps in subprocesses. Wall time is measured from submission to
   the backfill's completion; CPU and peak memory over the daemon and everything it started.
3. The same backfill again, over the files of the first: every output file must be byte-identical.
4. Run start-up: a few single-partition runs against one batched run over the same partitions, through
   the CLI (a fresh process per run, the project's in-process executor), the Python API with Dagster's
   multiprocess executor (a process per step), and the Python API in process.

Usage: python benchmarks/bench_backfill.py [--accounts 10] [--days 365] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOWNSTREAM = ("inventory_snapshot", "inventory_delta", "changelog", "tag_compliance", "security_findings",
              "compliance_report")
TEMPLATE_ACCOUNT = "123456789012"
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
# The gate is relaxed so that a run's status reports errors only: the simulated estate is deliberately
# insecure and would breach the default gate (by design a failed step) on every day.
GATE_ENV = {"INVENTAG_GATE_MIN_SCORE": "0", "INVENTAG_GATE_MAX_CRITICAL": "100000", "INVENTAG_GATE_MIN_TAG_PCT": "0"}


# --- the raw history ----------------------------------------------------------------------------------


def collect_template() -> tuple[Any, Any]:
    """One collection of the simulated account by the product's collector, as raw_inventory makes it."""
    from inventag_pipeline.aws.simulator import SimulatedAccount, SimulatorServer
    from inventag_pipeline.resources import AwsInventoryResource

    with SimulatorServer(port=0) as server:
        SimulatedAccount(server.url).seed()
        aws = AwsInventoryResource(simulator_url=server.url, allow_outside_window=True, auto_start_simulator=False)
        return aws.collect(aws.account(TEMPLATE_ACCOUNT))


def _tag_lists(payload: dict[str, Any]) -> list[Any]:
    """The payload's tags when they are a {key: value} map or a [{Key, Value}] list (KMS's TagKey is left alone)."""
    found = []
    for key in ("Tags", "TagList"):
        tags = payload.get(key)
        if (isinstance(tags, dict) and tags) or (
                isinstance(tags, list) and tags and all(isinstance(t, dict) and "Key" in t for t in tags)):
            found.append(tags)
    return found


class AccountHistory:
    """One account's estate, moved forward a day at a time by small, seeded changes."""

    OWNERS = ("platform@example.com", "payments@example.com", "web-team@example.com", "data@example.com")
    TYPES = ("t3.micro", "t3.small", "t3.medium", "m5.large")

    def __init__(self, account: str, template: Any) -> None:
        self.account = account
        self.rng = random.Random(int(account))
        self.scopes = []
        for scope in template.scopes:
            clone = copy.copy(scope)
            clone.items = [copy.copy(i) for i in scope.items]
            for item in clone.items:
                item.payload = json.loads(json.dumps(item.payload).replace(TEMPLATE_ACCOUNT, account))
            self.scopes.append(clone)
        self.created = 0

    def _items(self, rtype: str) -> list[Any]:
        return [i for s in self.scopes for i in s.items if i.resource_type == rtype]

    def advance(self, day: int) -> None:
        """Day `day`'s changes (about four resources of ~255), plus queue depths, which are volatile."""
        rng = self.rng
        tagged = [i for s in self.scopes for i in s.items if _tag_lists(i.payload)]
        for item in rng.sample(tagged, 2):
            tags = _tag_lists(item.payload)[0]
            owner = rng.choice(self.OWNERS)
            if isinstance(tags, dict):
                tags["Owner"] = owner
            else:
                kept = [t for t in tags if t.get("Key") != "Owner"]
                tags[:] = [*kept, {"Key": "Owner", "Value": owner}]
        if rng.random() < 0.4:
            group = rng.choice(self._items("AWS::EC2::SecurityGroup")).payload
            ours = [p for p in group["IpPermissions"] if 8000 <= (p.get("FromPort") or 0) <= 8999]
            if ours:
                group["IpPermissions"].remove(ours[0])
            else:
                port = rng.randint(8000, 8999)
                group["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                               "IpRanges": [{"CidrIp": "10.0.0.0/8"}], "Ipv6Ranges": [],
                                               "PrefixListIds": [], "UserIdGroupPairs": []})
        if rng.random() < 0.2:
            instance = rng.choice(self._items("AWS::EC2::Instance")).payload
            instance["InstanceType"] = rng.choice([t for t in self.TYPES if t != instance["InstanceType"]])
        queues = [s for s in self.scopes if s.service == "sqs" and s.items]
        if rng.random() < 0.3:
            scope = rng.choice(queues)
            self.created += 1
            name = f"bench-{day}-{self.created}"
            payload = copy.deepcopy(scope.items[0].payload)
            old = payload["Attributes"]["QueueArn"].rsplit(":", 1)[1]
            payload = json.loads(json.dumps(payload).replace(old, name))
            scope.items.append(type(scope.items[0])("AWS::SQS::Queue", scope.region, payload))
        elif rng.random() < 0.3:
            ours = [(s, i) for s in queues for i in s.items if ":bench-" in i.payload["Attributes"]["QueueArn"]]
            if ours:
                scope, item = rng.choice(ours)
                scope.items.remove(item)
        for scope in queues:
            for item in scope.items:
                item.payload["Attributes"]["ApproximateNumberOfMessages"] = str(rng.randint(0, 40))
        for scope in self.scopes:
            scope.type_counts = {t: sum(1 for i in scope.items if i.resource_type == t) for t in scope.type_counts}

    def collection(self, date: str, template: Any) -> Any:
        from inventag_pipeline.aws.collector import Collection

        return Collection(account_id=self.account, regions=list(template.regions),
                          started_at=f"{date}T00:30:00.000000Z", collected_at=f"{date}T00:30:41.000000Z",
                          scopes=self.scopes, identity_arn=f"arn:aws:iam::{self.account}:role/InventagReadOnly")


_TEMPLATE: Any = None


def _write_account(job: tuple[str, str, list[str]]) -> int:
    """Every day of one account (in a worker: the estate moves forward day by day)."""
    from inventag_pipeline import steps
    from inventag_pipeline.core.snapshot import sha256_hex
    from inventag_pipeline.store.store import InventoryStore, Partition

    class UnsyncedStore(InventoryStore):
        """Generation only: the same bytes as the store writes, without its fsync per file (~250 k files)."""

        def write_bytes(self, relative: str, data: bytes) -> str:
            target = Path(self.path(relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return sha256_hex(data)

    root, account, dates = job
    collection, audit = _TEMPLATE
    history = AccountHistory(account, collection)
    store = UnsyncedStore(root)
    for day, date in enumerate(dates):
        if day:
            history.advance(day)
        steps.write_raw(store, Partition(account, date), history.collection(date, collection), audit,
                        account_name=f"bench-{account}")
    return len(dates)


def write_history(root: str, accounts: list[str], dates: list[str], template: tuple[Any, Any]) -> None:
    global _TEMPLATE
    _TEMPLATE = template
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_write_account, [(root, a, dates) for a in accounts])


# --- measuring a process tree -----------------------------------------------------------------------------


class TreeSampler:
    """CPU seconds and peak RSS of a process and its descendants, sampled from /proc every 0.5 s.

    A process that ends between two samples loses at most its last half second of CPU, so this is a
    slight underestimate. (getrusage(RUSAGE_CHILDREN) misses the runs: the code server does not reap them.)
    """

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.cpu: dict[tuple[int, int], float] = {}
        self.role: dict[tuple[int, int], str] = {}
        self.peak_kib = 0
        self.processes = 0
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)

    def sample(self) -> None:
        parents: dict[int, int] = {}
        stats: dict[int, list[str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            stats[int(entry)] = fields
        tree = {self.root}
        changed = True
        while changed:
            extra = {pid for pid, parent in parents.items() if parent in tree and pid not in tree}
            tree |= extra
            changed = bool(extra)
        for pid in tree & stats.keys():
            fields = stats[pid]
            key = (pid, int(fields[19]))
            self.cpu[key] = (int(fields[11]) + int(fields[12])) / self._tick
            if key not in self.role:
                self.role[key] = self._role_of(pid)
            try:
                with open(f"/proc/{pid}/status") as handle:
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except OSError:
                pass
        self.processes = len(self.cpu)

    @staticmethod
    def _role_of(pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            return "other"
        text = " ".join(argv)
        # Run workers and the multiprocess executor's step workers are both multiprocessing children.
        for needle, role in (("dagster-daemon", "daemon"), ("multiprocessing", "runs and their steps"),
                             ("execute_", "runs and their steps"), ("grpc", "code server")):
            if needle in text:
                return role
        return "other"

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    def cpu_by_role(self) -> dict[str, float]:
        roles: dict[str, float] = {}
        for key, cpu in self.cpu.items():
            roles[self.role.get(key, "other")] = roles.get(self.role.get(key, "other"), 0.0) + cpu
        return dict(sorted(roles.items(), key=lambda kv: -kv[1]))


def children_cpu() -> float:
    """CPU of this process's waited-for children (the CLI runs of the start-up measurement)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- Dagster --------------------------------------------------------------------------------------------


def code_root() -> str:
    """The folder holding the package copy: Dagster puts a working directory first on sys.path, so use it."""
    import inventag_pipeline

    return str(Path(inventag_pipeline.__file__).resolve().parent.parent)


def prepare_home(home: Path, max_runs: int | None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    text = (PROJECT / "dagster.yaml").read_text()
    if max_runs is not None:
        text = text.replace("max_concurrent_runs: 4", f"max_concurrent_runs: {max_runs}")
    (home / "dagster.yaml").write_text(text)


def submit_backfill(instance: Any, accounts: list[str], dates: list[str], title: str) -> str:
    """What the UI's "Launch backfill" does: an asset backfill of the selected partitions of the six assets."""
    from dagster import AssetKey, MultiPartitionKey
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from inventag_pipeline.definitions import defs

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(), asset_graph=defs.resolve_asset_graph(),
        partition_names=[MultiPartitionKey({"account": a, "date": d}) for a in accounts for d in dates],
        asset_selection=[AssetKey(k) for k in DOWNSTREAM], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=title, description=None, run_config=None)
    instance.add_backfill(backfill)
    return backfill.backfill_id


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the code location; stopped (its whole process group) on exit."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "inventag_pipeline.definitions"],
                                env=env, cwd=code_root(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run_backfill(instance: Any, env: dict[str, str], workdir: Path, accounts: list[str], dates: list[str],
                 title: str) -> dict[str, Any]:
    from dagster._core.storage.dagster_run import RunsFilter

    start = time.perf_counter()
    backfill_id = submit_backfill(instance, accounts, dates, title)
    with daemon(env, workdir / "daemon.log") as proc, TreeSampler(proc.pid) as sampler:
        while True:
            backfill = instance.get_backfill(backfill_id)
            if backfill.status.value in TERMINAL:
                break
            if proc.poll() is not None:
                raise SystemExit(f"dagster-daemon exited ({proc.returncode}); see {workdir / 'daemon.log'}")
            time.sleep(2)
        wall = time.perf_counter() - start
        sampler.sample()
    runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
    durations = [(r.end_time - r.start_time) for r in (instance.get_run_record_by_id(run.run_id) for run in runs)
                 if r.start_time and r.end_time]
    return {
        "id": backfill_id, "status": backfill.status.value, "wall_s": wall,
        "cpu_s": sampler.cpu_seconds,
        "cpu_by_role": sampler.cpu_by_role(),
        "peak_rss_mib": sampler.peak_kib / 1024, "processes": sampler.processes,
        "runs": len(runs), "run_statuses": sorted({r.status.value for r in runs}),
        "run_seconds": sorted(durations),
    }


def output_digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file the downstream assets wrote (everything but raw/)."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] != "raw":
            digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


# --- run start-up -----------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU of this process and its reaped children) of one call."""
    wall, cpu = time.perf_counter(), time.process_time() + children_cpu()
    fn()
    return time.perf_counter() - wall, time.process_time() + children_cpu() - cpu


MULTIPROCESS_DEFS = """from dagster import Definitions, multiprocess_executor

from inventag_pipeline.definitions import defs as project

defs = Definitions(assets=list(project.assets), resources=project.resources, executor=multiprocess_executor)
"""


def measure_startup(instance: Any, env: dict[str, str], account: str, dates: list[str]) -> list[tuple[str, ...]]:
    """Single-partition runs against one batched run over the same partitions, three ways."""
    from dagster import AssetKey, execute_job, materialize
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from inventag_pipeline.definitions import defs
    from inventag_pipeline.partitions import partition_key

    first, last = f"{account}|{dates[0]}", f"{account}|{dates[-1]}"
    cli = [str(BIN / "dagster"), "asset", "materialize", "-m", "inventag_pipeline.definitions",
           "--select", ",".join(DOWNSTREAM)]

    def run_cli(*extra: str) -> None:
        subprocess.run([*cli, *extra], env=env, cwd=code_root(), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    # The implicit asset job under Dagster's multiprocess executor (the project's default is in process):
    # a module beside the package copy, so that each step's subprocess can rebuild the job from it.
    keys = [AssetKey(k) for k in DOWNSTREAM]
    (Path(code_root()) / "bench_multiprocess_defs.py").write_text(MULTIPROCESS_DEFS)
    recon_repo = ReconstructableRepository.for_module("bench_multiprocess_defs", "defs", code_root())
    job_def = recon_repo.get_definition().get_implicit_job_def_for_assets(keys)
    recon_job = recon_repo.get_reconstructable_job(job_def.name)
    assets = [defs.get_assets_def(k) for k in DOWNSTREAM]

    def run_api(executor: str, *, key: Any = None, tags: dict[str, str] | None = None) -> None:
        if executor == "in_process":
            ok = materialize(assets, partition_key=key, tags=tags, instance=instance, resources=defs.resources).success
        else:
            tags = tags or dict(job_def.get_tags_for_partition_key(key, selected_asset_keys=keys))
            with execute_job(recon_job, instance, asset_selection=keys, tags=tags) as result:
                ok = result.success
        if not ok:
            raise SystemExit(f"a start-up measurement run failed ({executor}, {key or tags})")

    ranged = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    ways = [
        ("CLI, a process per run (in process)",
         [lambda d=d: run_cli("--partition", f"{account}|{d}") for d in dates],
         lambda: run_cli("--partition-range", f"{first}...{last}")),
        ("Python API, multiprocess executor",
         [lambda d=d: run_api("multiprocess", key=partition_key(account, d)) for d in dates],
         lambda: run_api("multiprocess", tags=ranged)),
        ("Python API, in_process executor",
         [lambda d=d: run_api("in_process", key=partition_key(account, d)) for d in dates],
         lambda: run_api("in_process", tags=ranged)),
    ]
    rows = []
    n = len(dates)
    for label, singles, batch in ways:
        single = [_timed(fn) for fn in singles]
        wall, cpu = _timed(batch)
        single_wall, single_cpu = sum(w for w, _ in single) / n, sum(c for _, c in single) / n
        rows.append((label, f"{single_wall:.1f}", f"{single_cpu:.1f}", f"{wall:.1f}", f"{cpu:.1f}",
                     f"{wall / n:.2f}", f"{cpu / n:.2f}", f"{single_wall - wall / n:.1f}",
                     f"{single_cpu - cpu / n:.1f}"))
    return rows


# --- main -------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workdir", type=Path, help="kept afterwards; default: a temporary folder, deleted")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--max-concurrent-runs", type=int, help="override dagster.yaml's run queue limit (4)")
    parser.add_argument("--no-rerun", action="store_true", help="skip the second backfill and the identity check")
    parser.add_argument("--startup-runs", type=int, default=5, help="single-partition runs per way (0: skip)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    last_day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=2)
    dates = [(last_day - dt.timedelta(days=args.days - 1 - i)).isoformat() for i in range(args.days)]
    accounts = [f"{100000000001 + i:012d}" for i in range(args.accounts)]
    store, home = workdir / "store", workdir / "dagster_home"
    # Both backfills must run the same code, and other people may be editing the checkout meanwhile:
    # run a copy of the package taken now (it shadows the editable install on PYTHONPATH).
    code = workdir / "code"
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(PROJECT / "inventag_pipeline", code / "inventag_pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(code))
    env = {**os.environ, "DAGSTER_HOME": str(home), "INVENTAG_STORAGE_URI": str(store),
           "INVENTAG_START_DATE": dates[0], "PYTHONPATH": os.pathsep.join(
               [str(code), *filter(None, [os.environ.get("PYTHONPATH")])]), **GATE_ENV}
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "INVENTAG_STORAGE_URI", "INVENTAG_START_DATE",
                                           *GATE_ENV)})
    prepare_home(home, args.max_concurrent_runs)
    try:
        return _bench(args, workdir, store, env, accounts, dates)
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept: {workdir}")


def _bench(args: argparse.Namespace, workdir: Path, store: Path, env: dict[str, str], accounts: list[str],
           dates: list[str]) -> int:
    import logging

    from dagster import DagsterInstance

    from inventag_pipeline.partitions import ACCOUNTS_PARTITION

    logging.getLogger("dagster").setLevel(logging.WARNING)
    partitions = len(accounts) * len(dates)
    import inventag_pipeline

    print(f"bench_backfill: {len(accounts)} accounts x {len(dates)} days ({dates[0]} .. {dates[-1]}) = "
          f"{partitions} partitions x {len(DOWNSTREAM)} assets; {os.cpu_count()} CPUs; workdir {workdir}")
    print(f"code: {Path(inventag_pipeline.__file__).parent}; load average at start "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (others share this machine)")

    t0 = time.perf_counter()
    template = collect_template()
    resources = sum(len(s.items) for s in template[0].scopes)
    print(f"template: the simulated account collected once: {resources} resources in {len(template[0].scopes)} "
          f"(service, region) scopes ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    write_history(str(store), accounts, dates, template)
    raw_files = sum(1 for _ in (store / "raw").rglob("*") if _.is_file())
    print(f"raw history: {raw_files} files written by steps.write_raw ({time.perf_counter() - t0:.1f} s)\n")

    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION, accounts)
        first = run_backfill(instance, env, workdir, accounts, dates, "bench_backfill")
        _print_backfill("backfill", first, partitions)
        digests = output_digests(store)
        print(f"  output files: {len(digests)} ({sum((store / p).stat().st_size for p in digests) / 1e6:.0f} MB)")
        ok = first["status"] == "COMPLETED_SUCCESS" and len(digests) > 0
        if not args.no_rerun:
            second = run_backfill(instance, env, workdir, accounts, dates, "bench_backfill (re-run)")
            _print_backfill("re-run", second, partitions)
            again = output_digests(store)
            differing = sorted(p for p in digests.keys() | again.keys() if digests.get(p) != again.get(p))
            verdict = "identical" if not differing else f"{len(differing)} DIFFER, e.g. {differing[:5]}"
            print(f"  SHA-256 of all {len(again)} output files, first run vs re-run: {verdict}")
            ok = ok and second["status"] == "COMPLETED_SUCCESS" and not differing
        if args.startup_runs:
            print(f"\nrun start-up: {args.startup_runs} single-partition runs vs one batched run over the same "
                  f"partitions ({accounts[0]}, {dates[0]} ..), six assets")
            rows = measure_startup(instance, env, accounts[0], dates[:args.startup_runs])
            print("  (seconds; start-up = a single-partition run minus one partition's share of the batched run)")
            header = ("way", "single: wall", "CPU", f"batched ({args.startup_runs}): wall", "CPU",
                      "per partition: wall", "CPU", "start-up: wall", "CPU")
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            for row in [header, *rows]:
                print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                                       enumerate(zip(row, widths, strict=True))))
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    target = 15 * 60
    if partitions >= 3650:
        print(f"target: 365 x 10 backfilled in <= {target} s: {'met' if first['wall_s'] <= target else 'MISSED'} "
              f"({first['wall_s']:.0f} s wall)")
    return 0 if ok else 1


def _print_backfill(label: str, r: dict[str, Any], partitions: int) -> None:
    runs = r["run_seconds"]
    print(f"{label}: {r['status']} in {r['wall_s']:.1f} s wall ({partitions / r['wall_s']:.1f} partitions/s), "
          f"{r['runs']} runs {r['run_statuses']}")
    if runs:
        print(f"  run durations: min {runs[0]:.0f} s, median {runs[len(runs) // 2]:.0f} s, max {runs[-1]:.0f} s")
    print(f"  CPU: {r['cpu_s']:.0f} s over {r['processes']} processes ({r['cpu_s'] / partitions * 1000:.0f} ms per "
          f"partition; {r['cpu_s'] / (os.cpu_count() or 1):.0f} s of wall if it had every core to itself); "
          f"peak RSS of one process {r['peak_rss_mib']:.0f} MiB")
    print("  CPU by process: " + ", ".join(f"{role} {cpu:.0f} s" for role, cpu in r["cpu_by_role"].items()))


if __name__ == "__main__":
    sys.exit(main())
