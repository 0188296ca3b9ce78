"""Benchmark of one account's collection at AWS-like latency, with optional injected throttling.

    .venv/bin/python benchmarks/bench_collect.py [--scale 1] [--repeat 3] [--latency-ms 50]
        [--throttle-rate 0.05] [--burst 2:1.5]

Not a test: it prints figures next to the target (>= 500 resources/s per account at 50 ms).
A helper process runs moto's ThreadedMotoServer on 127.0.0.1 and, in front of it, the product's
latency proxy (aws/simulator_proxy.py) that adds `--latency-ms` to every request; a second proxy on
the same moto also injects throttling errors. The account is filled with a few thousand resources
across four regions (bulk creation straight to moto, never through the proxies), then each
collection runs in a fresh child process with AWS_ENDPOINT_URL at a proxy and calls the same
function `raw_inventory` calls (`AwsInventoryResource.collect`). Each run reports resources, wall
and CPU seconds, resources per second, API calls per resource (audit log; wire requests from the
proxy), and peak RSS. With throttling on, the throttled run's resource set (ARN + content hash)
must equal the unthrottled one: throttling may cost time, never data. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RPS = 500.0
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
TAGS = [{"Key": "Environment", "Value": "bench"}, {"Key": "Owner", "Value": "bench@example.com"},
        {"Key": "CostCenter", "Value": "CC-9"}]
# Per region at --scale 1 (instances bring a root volume and an interface each), then once globally.
REGIONAL = {"instances": 100, "volumes": 40, "security_groups": 40, "vpcs": 4, "subnets_per_vpc": 4,
            "queues": 30, "topics": 30, "keys": 20, "log_groups": 40, "parameters": 40, "tables": 15,
            "alarms": 30, "functions": 15, "repositories": 10, "secrets": 20, "activities": 10}
GLOBAL = {"roles": 60, "users": 30, "policies": 30, "buckets": 60}


# --- helper processes: moto, and the proxies in front of it ---------------------------------------------
# Separate processes, so that neither the simulator nor the proxies compete with the collector (or
# with each other) for one interpreter lock: the figures are then the collector's, within the limits of
# the machine's cores.


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve_moto(conn: Any) -> None:
    """moto's ThreadedMotoServer (through the product's SimulatorServer) until the parent says stop."""
    # moto issues a requested certificate once it has been seen 60 s after creation: a state change
    # between two runs. Issued at once, every run sees the same account.
    os.environ["MOTO_ACM_VALIDATION_WAIT"] = "0"
    import moto.backends

    # moto routes each request by listing its package folder (a stat per module, ~0.7 ms) twice; the
    # folder does not change while it runs, and on a shared 2-core machine that CPU is the collector's.
    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    from inventag_pipeline.aws.simulator import SimulatorServer

    with SimulatorServer() as moto:
        conn.send(moto.url)
        while conn.recv() == "stats":
            conn.send({"cpu_s": _cpu_s()})


def serve_proxies(conn: Any, moto_url: str, latency_s: float, throttling: dict[str, Any]) -> None:
    """A plain latency proxy and a throttling one in front of moto, until the parent says stop."""
    from inventag_pipeline.aws.simulator_proxy import LatencyProxy, Throttling

    with LatencyProxy(moto_url, latency_s=latency_s) as plain, \
            LatencyProxy(moto_url, latency_s=latency_s, throttling=Throttling(**throttling)) as throttled:
        conn.send({"plain": plain.url, "throttled": throttled.url})
        while conn.recv() == "stats":
            conn.send({"plain": plain.stats(), "throttled": throttled.stats(), "cpu_s": _cpu_s()})


class Helpers:
    """Starts both helper processes; `stats()` reads their counters and CPU seconds."""

    def __init__(self, latency_s: float, throttling: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._moto, child = ctx.Pipe()
        self._moto_process = ctx.Process(target=serve_moto, args=(child,), daemon=True)
        self._moto_process.start()
        self.moto_url: str = self._moto.recv()
        self._proxies, child = ctx.Pipe()
        self._proxy_process = ctx.Process(target=serve_proxies, args=(child, self.moto_url, latency_s, throttling),
                                          daemon=True)
        self._proxy_process.start()
        urls = self._proxies.recv()
        self.plain_url: str = urls["plain"]
        self.throttled_url: str = urls["throttled"]

    def stats(self) -> dict[str, Any]:
        self._moto.send("stats")
        self._proxies.send("stats")
        moto, proxies = self._moto.recv(), self._proxies.recv()
        return {**proxies, "moto_cpu_s": moto["cpu_s"], "proxy_cpu_s": proxies["cpu_s"]}

    def stop(self) -> None:
        for conn, process in ((self._proxies, self._proxy_process), (self._moto, self._moto_process)):
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send("stop")
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# --- seeding, straight to moto --------------------------------------------------------------------------


def _lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class Seeder:
    """Creates the estate with a small thread pool; clients are built up front (creation is not thread-safe)."""

    def __init__(self, url: str, regions: tuple[str, ...], scale: float) -> None:
        import boto3

        self.url, self.regions, self.scale = url, regions, scale
        self.session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region, endpoint_url=self.url)
        return self._clients[key]

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))

    def run(self) -> float:
        from inventag_pipeline_tests.aws.fixtures import create_one_of_each

        started = time.perf_counter()
        services = ("ec2", "sqs", "sns", "kms", "logs", "ssm", "dynamodb", "cloudwatch", "lambda", "ecr",
                    "secretsmanager", "stepfunctions", "s3")
        for region in self.regions:
            for service in services:
                self.client(service, region)
        for service in ("iam", "s3"):
            self.client(service)
        # One of every registry type per region (the collector tests' fixtures) for breadth...
        for region in self.regions:
            create_one_of_each(self.url, region)
        # ...then volume, in parallel (functions need their role first).
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        self.client("iam").create_role(RoleName="bench-lambda", AssumeRolePolicyDocument=trust)
        tasks: list[Callable[[], object]] = []
        for index, region in enumerate(self.regions):
            tasks += self._regional(index, region)
        tasks += self._global()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(t) for t in tasks]:
                future.result()
        return time.perf_counter() - started

    def _regional(self, index: int, region: str) -> list[Callable[[], object]]:
        ec2 = self.client("ec2", region)
        subnets = []
        for v in range(self.n(REGIONAL["vpcs"])):
            vpc = ec2.create_vpc(CidrBlock=f"10.{100 + v}.0.0/16", TagSpecifications=[
                {"ResourceType": "vpc", "Tags": TAGS}])["Vpc"]["VpcId"]
            for s in range(REGIONAL["subnets_per_vpc"]):
                subnets.append(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{100 + v}.{s}.0/24", TagSpecifications=[
                    {"ResourceType": "subnet", "Tags": TAGS}])["Subnet"]["SubnetId"])
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        vpc_ids = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
        tag = TAGS
        role = "arn:aws:iam::123456789012:role/bench-lambda"
        code = _lambda_zip()
        c = self.client
        tasks: list[Callable[[], object]] = []
        per_call = 25
        total = self.n(REGIONAL["instances"])
        for start in range(0, total, per_call):
            count = min(per_call, total - start)
            subnet = subnets[(start // per_call) % len(subnets)]
            tasks.append(lambda subnet=subnet, count=count: ec2.run_instances(
                ImageId=image, MinCount=count, MaxCount=count, InstanceType="t3.micro", SubnetId=subnet,
                TagSpecifications=[{"ResourceType": "instance", "Tags": tag}]))
        tasks += [lambda i=i: ec2.create_volume(AvailabilityZone=f"{region}a", Size=8 + i, TagSpecifications=[
            {"ResourceType": "volume", "Tags": tag}]) for i in range(self.n(REGIONAL["volumes"]))]
        tasks += [lambda i=i: ec2.create_security_group(
            GroupName=f"bench-sg-{i}", Description="bench", VpcId=vpc_ids[i % len(vpc_ids)],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tag}])
            for i in range(self.n(REGIONAL["security_groups"]))]
        tasks += [lambda i=i: c("sqs", region).create_queue(QueueName=f"bench-queue-{i}", tags={"Owner": "bench"})
                  for i in range(self.n(REGIONAL["queues"]))]
        tasks += [lambda i=i: c("sns", region).create_topic(Name=f"bench-topic-{i}", Tags=tag)
                  for i in range(self.n(REGIONAL["topics"]))]
        tasks += [lambda i=i: self._key(region, i) for i in range(self.n(REGIONAL["keys"]))]
        tasks += [lambda i=i: c("logs", region).create_log_group(logGroupName=f"/bench/{i}", tags={"Owner": "bench"})
                  for i in range(self.n(REGIONAL["log_groups"]))]
        tasks += [lambda i=i: c("ssm", region).put_parameter(Name=f"/bench/p{i}", Value="v", Type="String", Tags=tag)
                  for i in range(self.n(REGIONAL["parameters"]))]
        tasks += [lambda i=i: c("dynamodb", region).create_table(
            TableName=f"bench-table-{i}", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            Tags=tag) for i in range(self.n(REGIONAL["tables"]))]
        tasks += [lambda i=i: c("cloudwatch", region).put_metric_alarm(
            AlarmName=f"bench-alarm-{i}", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
            Period=300, EvaluationPeriods=1, Threshold=80.0, ComparisonOperator="GreaterThanThreshold")
            for i in range(self.n(REGIONAL["alarms"]))]
        tasks += [lambda i=i: c("lambda", region).create_function(
            FunctionName=f"bench-fn-{i}", Runtime="python3.12", Role=role, Handler="handler.handler",
            Code={"ZipFile": code}, Tags={"Owner": "bench"}) for i in range(self.n(REGIONAL["functions"]))]
        tasks += [lambda i=i: c("ecr", region).create_repository(repositoryName=f"bench-repo-{i}")
                  for i in range(self.n(REGIONAL["repositories"]))]
        tasks += [lambda i=i: c("secretsmanager", region).create_secret(Name=f"bench-secret-{i}", SecretString="x")
                  for i in range(self.n(REGIONAL["secrets"]))]
        tasks += [lambda i=i: c("stepfunctions", region).create_activity(name=f"bench-activity-{i}")
                  for i in range(self.n(REGIONAL["activities"]))]
        return tasks

    def _key(self, region: str, i: int) -> None:
        kms = self.client("kms", region)
        key = kms.create_key(Description=f"bench key {i}")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/bench-{i}", TargetKeyId=key)

    def _global(self) -> list[Callable[[], object]]:
        iam = self.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
        tasks: list[Callable[[], object]] = [
            lambda i=i: iam.create_role(RoleName=f"bench-role-{i}", AssumeRolePolicyDocument=trust, Tags=TAGS)
            for i in range(self.n(GLOBAL["roles"]))]
        tasks += [lambda i=i: iam.create_user(UserName=f"bench-user-{i}", Tags=TAGS)
                  for i in range(self.n(GLOBAL["users"]))]
        tasks += [lambda i=i: iam.create_policy(PolicyName=f"bench-policy-{i}", PolicyDocument=policy)
                  for i in range(self.n(GLOBAL["policies"]))]
        for i in range(self.n(GLOBAL["buckets"])):
            region = self.regions[i % len(self.regions)]
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            tasks.append(lambda i=i, config=config, region=region: self.client("s3", region).create_bucket(
                Bucket=f"bench-bucket-{i}", **config))
        return tasks


# --- one collection, in a fresh child process -----------------------------------------------------------


def collect_child(url: str, regions: list[str], out: Path) -> None:
    """Collect the account through `url` exactly as raw_inventory does; write metrics and the resource set."""
    os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=url)
    from inventag_pipeline.core.accounts import simulated_account
    from inventag_pipeline.core.canonical import canonical_record
    from inventag_pipeline.core.registry import REGISTRY
    from inventag_pipeline.resources import AwsInventoryResource

    aws = AwsInventoryResource(regions=",".join(regions), simulator_url=url, auto_start_simulator=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    collection, audit = aws.collect(simulated_account())
    wall = time.perf_counter() - started
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    items = [(i.resource_type, i.region, i.payload) for s in collection.scopes for i in s.items]
    records = sorted(
        (r.arn, r.content_hash) for r in (
            canonical_record(REGISTRY[t], p, account_id=collection.account_id, region=reg,
                             collected_at=collection.collected_at) for t, reg, p in items))
    summary = audit.summary()
    result = {
        "resources": len(items),
        "wall_s": wall,
        "cpu_s": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
        "api_calls": summary["total_calls"],
        "api_errors": summary["errors"],
        "all_read_only": summary["all_read_only"],
        "rss_before_mib": rss_before,
        "peak_rss_mib": usage1.ru_maxrss / 1024,
        "scopes": len(collection.scopes),
        "scopes_not_ok": [f"{s.service}/{s.region}: {s.status} {s.error_class}" for s in collection.scopes
                          if s.status != "ok"],
        "records": records,
        "slowest_scopes": [(f"{s.service}/{s.region}", round(s.duration_s, 2), s.api_calls, len(s.items))
                           for s in sorted(collection.scopes, key=lambda s: -s.duration_s)[:8]],
    }
    out.write_text(json.dumps(result))


def run_collection(url: str, regions: tuple[str, ...], workdir: Path, label: str,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    out = workdir / f"{label}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", url, "--regions", ",".join(regions),
           "--out", str(out)]
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"collection {label} failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text())


# --- driver ---------------------------------------------------------------------------------------------


def _line(label: str, r: dict[str, Any]) -> str:
    n = r["resources"]
    return (f"  {label:<10} {n:>5} resources  wall {r['wall_s']:5.2f} s  {n / r['wall_s']:6.1f} res/s  "
            f"cpu: collector {r['cpu_s']:5.2f} s, moto {r['moto_cpu_s']:5.2f} s, proxy {r['proxy_cpu_s']:4.2f} s  "
            f"calls/resource {r['api_calls'] / n:.2f} (wire {r['wire'] / n:.2f})  "
            f"peak RSS {r['peak_rss_mib']:.0f} MiB ({r['rss_before_mib']:.0f} before collecting)")


def measured(helpers: Helpers, url: str, which: str, regions: tuple[str, ...], workdir: Path, label: str,
             env: dict[str, str]) -> dict[str, Any]:
    """One collection plus what the helpers spent on it (CPU) and saw of it (wire requests)."""
    before = helpers.stats()
    run = run_collection(url, regions, workdir, label, env)
    after = helpers.stats()
    run["moto_cpu_s"] = after["moto_cpu_s"] - before["moto_cpu_s"]
    run["proxy_cpu_s"] = after["proxy_cpu_s"] - before["proxy_cpu_s"]
    run["wire"] = after[which]["requests"] - before[which]["requests"]
    run["throttled"] = after[which]["throttled"] - before[which]["throttled"]
    run["throttled_operations"] = after[which]["throttled_operations"]
    up0, up1 = before[which]["upstream_seconds"], after[which]["upstream_seconds"]
    run["upstream_s"] = {k: v - up0.get(k, 0.0) for k, v in up1.items()}
    return run


def _difference(a: list[list[str]], b: list[list[str]]) -> str:
    left, right = {tuple(x) for x in a}, {tuple(x) for x in b}
    only_a, only_b = sorted(left - right)[:3], sorted(right - left)[:3]
    return f"only in the first: {only_a}; only in the second: {only_b}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the per-region resource counts")
    parser.add_argument("--regions", default=",".join(REGIONS))
    parser.add_argument("--repeat", type=int, default=3, help="unthrottled runs; the best one is the figure")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0,
                        help="share of requests answered with a throttling error (e.g. 0.05)")
    parser.add_argument("--burst", default=None, metavar="START:SECONDS",
                        help="throttle every request from START s after the run's first request, for SECONDS")
    parser.add_argument("--workers", type=int, default=None, help="INVENTAG_COLLECT_WORKERS for the runs")
    parser.add_argument("--detail-workers", type=int, default=None,
                        help="INVENTAG_COLLECT_DETAIL_WORKERS for the runs")
    parser.add_argument("--slowest", type=int, default=0, help="also print the N operations moto spent most on")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
    if args.child:
        collect_child(args.child, list(regions), Path(args.out))
        return 0

    throttling: dict[str, Any] = {"rate": args.throttle_rate}
    if args.burst:
        start, duration = args.burst.split(":")
        throttling.update(burst_start_s=float(start), burst_duration_s=float(duration))
    env = {}
    if args.workers:
        env["INVENTAG_COLLECT_WORKERS"] = str(args.workers)
    if args.detail_workers:
        env["INVENTAG_COLLECT_DETAIL_WORKERS"] = str(args.detail_workers)
    helpers = Helpers(args.latency_ms / 1000, throttling)
    try:
        seed_s = Seeder(helpers.moto_url, regions, args.scale).run()
        print(f"bench_collect: {len(regions)} regions ({', '.join(regions)}), scale {args.scale:g}, "
              f"{args.latency_ms:g} ms added per request, {os.cpu_count()} CPUs; seeded in {seed_s:.1f} s"
              + (f"; {env}" if env else ""))
        with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp:
            workdir = Path(tmp)
            runs = []
            for i in range(args.repeat):
                run = measured(helpers, helpers.plain_url, "plain", regions, workdir, f"run{i}", env)
                runs.append(run)
                print(_line(f"run {i + 1}", run))
                if run["scopes_not_ok"]:
                    print(f"    scopes not ok: {run['scopes_not_ok']}")
            best = max(runs, key=lambda r: r["resources"] / r["wall_s"])
            same = [r["records"] == runs[0]["records"] for r in runs]
            rps = best["resources"] / best["wall_s"]
            print(f"  best: {rps:.1f} resources/s — {'meets' if rps >= TARGET_RPS else 'MISSES'} the target of "
                  f"{TARGET_RPS:.0f}/s per account; every run collected the same set: {'yes' if all(same) else 'NO'}")
            if not all(same):
                print(f"    {_difference(runs[0]['records'], runs[same.index(False)]['records'])}")
            if args.slowest:
                slow = sorted(best["upstream_s"].items(), key=lambda kv: -kv[1])[:args.slowest]
                print("  moto's time by operation: " + ", ".join(f"{k} {v:.2f} s" for k, v in slow))
                print("  slowest scopes (seconds, calls, resources): " + ", ".join(
                    f"{name} {secs:.2f} s {calls} {items}" for name, secs, calls, items in best["slowest_scopes"]))
            ok = all(same) and not best["scopes_not_ok"]
            if throttling["rate"] or args.burst:
                run = measured(helpers, helpers.throttled_url, "throttled", regions, workdir, "throttled", env)
                print(_line("throttled", run))
                ops = run["throttled_operations"]
                print(f"    {run['throttled']} of {run['wire']} requests throttled "
                      f"({', '.join(f'{k} {v}' for k, v in list(ops.items())[:6])}{', ...' if len(ops) > 6 else ''})")
                equal = run["records"] == runs[0]["records"]
                print(f"    same resource set (ARN + content hash) as unthrottled: {'yes' if equal else 'NO'}; "
                      f"scopes not ok: {run['scopes_not_ok'] or 'none'}")
                if not equal:
                    print(f"    {_difference(runs[0]['records'], run['records'])}")
                ok = ok and equal and not run["scopes_not_ok"]
        return 0 if ok else 1
    finally:
        helpers.stop()


if __name__ == "__main__":
    sys.exit(main())
