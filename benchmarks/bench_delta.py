"""Benchmark of `inventag diff` (and of snapshot I/O) on synthetic snapshot pairs.

    .venv/bin/python benchmarks/bench_delta.py [--sizes 10000,100000,1000000] [--workdir DIR]

Not a test: it prints figures next to the targets.  For each size it generates a day-1/day-2 pair
(benchmarks/synthetic.py; generation time is reported but is not part of any target), runs the
whole `inventag diff OLD NEW --out OUTDIR` as a child process, and reports its wall time, CPU time
and peak RSS, the counts the diff found and whether they equal the generated truth.  At the largest
size it also times snapshot write, read and checksum validation and reports the file size.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024

# Targets (DESIGN/brief): diff wall and peak RSS by size, snapshot I/O at 1 M rows.
DIFF_TARGETS = {1_000_000: {"wall_s": 5.0, "rss_mib": 2048.0}, 100_000: {"wall_s": 1.0}}
IO_TARGETS = {"write_s": 10.0, "read_s": 2.0, "checksum_s": 2.0, "size_mb": 80.0}

# Runs one command in a fresh process, so RUSAGE_CHILDREN covers exactly that one child.
_WRAPPER = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "wb") as out:
    start = time.perf_counter()
    rc = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": wall, "maxrss_kib": ru.ru_maxrss, "user_s": ru.ru_utime, "sys_s": ru.ru_stime}))
"""


def measure(cmd: list[str], log: Path) -> dict[str, Any]:
    """Wall, CPU and peak RSS (ru_maxrss of the only child of a fresh wrapper process)."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(log), *cmd], capture_output=True, text=True,
                          check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = result["user_s"] + result["sys_s"]
    result["rss_mib"] = result["maxrss_kib"] / 1024
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result['rc']}:\n{log.read_text()[-3000:]}")
    return result


def inventag_command() -> list[str]:
    exe = Path(sys.executable).parent / "inventag"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "inventag_pipeline.cli"]


def import_overhead(workdir: Path) -> dict[str, Any]:
    """What every `inventag diff` pays before reading a byte: interpreter start and imports."""
    code = ("import pyarrow.parquet, inventag_pipeline.cli, inventag_pipeline.core.delta, "
            "inventag_pipeline.core.changelog")
    return measure([sys.executable, "-c", code], workdir / "imports.log")


def check_truth(out: Path, truth_file: Path, new_snapshot: Path) -> tuple[bool, dict[str, int], list[str]]:
    """Counts from summary.json and ARN sets from resource_changes.parquet against the generated truth."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    summary = json.loads((out / "summary.json").read_text())
    counts = dict(summary["counts"]["change_type"])
    counts["total"] = summary["total_changes"]
    truth = json.loads(truth_file.read_text())
    changes = pq.read_table(out / "resource_changes.parquet", columns=["arn", "change_type", "name"]).to_pylist()
    found: dict[str, set[str]] = {}
    for c in changes:
        found.setdefault(c["change_type"], set()).add(c["arn"])
    expected = {"added": set(truth["added"]), "removed": set(truth["removed"]), "modified": set(truth["modified"])}
    volatile, order = set(truth["volatile_only"]), set(truth["order_only"])

    # A `replaced` row names the new ARN; its `arn` attribute change carries the old one.
    links = pq.read_table(out / "attribute_changes.parquet", columns=["arn", "path", "change", "old_value"])
    links = links.filter(pc.and_(pc.equal(links["path"], "arn"), pc.equal(links["change"], "changed")))
    old_of = {row["arn"]: json.loads(row["old_value"]) for row in links.to_pylist()}
    problems = []
    replaced = found.get("replaced", set())
    if replaced:
        names = pq.read_table(new_snapshot, columns=["name"]).column("name")
        shared = {row["values"]: row["counts"] for row in pc.value_counts(names).to_pylist()}
        by_arn = {c["arn"]: c for c in changes}
        unrelated = [a for a in sorted(replaced) if a in expected["added"] and old_of.get(a) in expected["removed"]]
        examples = "; ".join(
            f"{old_of[a]} -> {a} (both named {by_arn[a]['name']!r}, as are "
            f"{shared.get(by_arn[a]['name'], 0)} resources on day 2)" for a in unrelated[:3])
        problems.append(f"replaced: {len(replaced)} reported, truth has none; {len(unrelated)} of them pair a removed "
                        f"and an unrelated added resource of the same type that share a Name tag, e.g. {examples}")
        # Judge added/removed with those pairs put back, so one wrong pairing is reported once.
        found.setdefault("added", set()).update(a for a in replaced if a in expected["added"])
        found.setdefault("removed", set()).update(old_of[a] for a in replaced if old_of.get(a) in expected["removed"])
    for kind, want in expected.items():
        got = found.get(kind, set())
        missing, extra = sorted(want - got), sorted(got - want)
        if missing:
            problems.append(f"{kind}: {len(missing)} not reported, e.g. {missing[:3]}")
        if extra:
            labels = ["volatile-only" if a in volatile else "order-only" if a in order else "untouched"
                      for a in extra[:3]]
            problems.append(f"{kind}: {len(extra)} reported wrongly, e.g. "
                            + ", ".join(f"{a} ({label})" for a, label in zip(extra[:3], labels, strict=True)))
    for kind in set(found) - set(expected) - {"replaced"}:
        problems.append(f"{kind}: {len(found[kind])} reported, truth has none, e.g. {sorted(found[kind])[:3]}")
    want_total = sum(len(v) for v in expected.values())
    if counts["total"] != want_total:
        problems.append(f"total_changes {counts['total']} != {want_total} generated (added+removed+modified)")
    if summary.get("unverified"):
        problems.append(f"unverified scopes reported: {summary['unverified'][:3]}")
    return not problems, counts, problems


def profile_diff(old: Path, new: Path, out: Path, top: int = 15) -> str:
    """`python -m cProfile` over the diff; the top lines by cumulative time."""
    stats_file = out.parent / f"{out.name}.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "inventag_pipeline.cli", "diff",
                    str(old), str(new), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    parts = []
    for order, count in (("cumulative", top), ("tottime", 10)):
        text = io.StringIO()
        pstats.Stats(str(stats_file), stream=text).sort_stats(order).print_stats(count)
        lines = text.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "function calls" in line)
        kept = [line for line in lines[start:] if line.strip() and "List reduced" not in line]
        parts.append("\n".join(kept if order == "cumulative" else kept[1:]))
    return "\n".join(parts)


def snapshot_io(path: Path, scratch: Path) -> dict[str, float]:
    """Write (table -> Parquet bytes -> file), read (pyarrow.parquet.read_table), checksum (sha256), size."""
    import pyarrow.parquet as pq

    from inventag_pipeline.core.snapshot import table_to_parquet_bytes

    table = pq.read_table(path)
    start = time.perf_counter()
    data = table_to_parquet_bytes(table)
    scratch.write_bytes(data)
    write_s = time.perf_counter() - start
    del table, data

    start = time.perf_counter()
    table = pq.read_table(scratch)
    read_s = time.perf_counter() - start
    del table

    # As the store validates: the file's bytes, their SHA-256, compared with manifest.json.
    start = time.perf_counter()
    raw = path.read_bytes()
    file_read_s = time.perf_counter() - start
    start = time.perf_counter()
    digest = hashlib.sha256(raw).hexdigest()
    checksum_s = time.perf_counter() - start
    manifest = json.loads((path.parent / "manifest.json").read_text())
    return {"write_s": write_s, "read_s": read_s, "file_read_s": file_read_s, "checksum_s": checksum_s,
            "size_mb": len(raw) / 1e6, "sha_matches_manifest": digest == manifest["sha256"]}


def column_sizes(path: Path) -> list[tuple[str, float]]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    sizes: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            col = group.column(c)
            top = col.path_in_schema.split(".")[0]
            sizes[top] = sizes.get(top, 0) + col.total_compressed_size
    return sorted(((k, v / 1e6) for k, v in sizes.items()), key=lambda kv: -kv[1])


def _verdict(value: float, limit: float) -> str:
    return f"{'ok' if value <= limit else 'MISSED'} (≤ {limit:g})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--workdir", type=Path, help="where the pairs and diff outputs go (default: a temp dir, "
                                                     "removed afterwards)")
    parser.add_argument("--repeat", type=int, default=1, help="diff runs per size; the fastest is reported")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--names", choices=("human", "random"), default="human",
                        help="user-named types get human-style names (default) or random 64-bit tokens like AWS ids")
    parser.add_argument("--profile-at", default="", help="comma-separated sizes at which to also run the diff "
                                                         "under cProfile and print the top 15 lines")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    profile_at = {int(s.replace("_", "")) for s in args.profile_at.split(",") if s.strip()}

    sys.path.insert(0, str(HERE))
    import synthetic

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="inventag-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = inventag_command()
    print(f"inventag diff benchmark: sizes {sizes}, workdir {workdir}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (timings are noisy on a shared machine)")
    imports = import_overhead(workdir)
    print(f"interpreter start + imports of the diff's modules: {imports['wall_s']:.2f} s wall, "
          f"{imports['rss_mib']:.0f} MiB RSS (paid by every run below)")

    results: list[dict[str, Any]] = []
    profiles: dict[int, str] = {}
    for n in sizes:
        pair = synthetic.generate_pair(n, workdir, seed=args.seed, names=args.names)
        runs = []
        for k in range(max(1, args.repeat)):
            out = pair.folder / "delta"
            shutil.rmtree(out, ignore_errors=True)
            runs.append(measure([*cmd, "diff", str(pair.day1), str(pair.day2), "--out", str(out)],
                                pair.folder / f"diff-{k}.log"))
        best = min(runs, key=lambda r: r["wall_s"])
        ok, counts, problems = check_truth(pair.folder / "delta", pair.folder / "truth.json", pair.day2)
        results.append({"n": n, "gen_s": pair.timings["total_s"], "gen": pair.timings, "diff": best,
                        "diff_runs": runs, "counts": counts, "truth": pair.truth.counts(), "ok": ok,
                        "problems": problems, "verified_rows": pair.verified_rows,
                        "order_only_demonstrated": pair.truth.order_only_demonstrated,
                        "file_mb": {d: pair.write[d]["bytes"] / 1e6 for d in pair.write}})
        print(f"  diff N={n}: {best['wall_s']:.2f} s wall, {best['cpu_s']:.2f} s CPU, {best['rss_mib']:.0f} MiB "
              f"peak RSS; counts {counts}; truth {'OK' if ok else 'MISMATCH'}", flush=True)
        for p in problems:
            print(f"    MISMATCH {p}")
        if n in profile_at:
            profiles[n] = profile_diff(pair.day1, pair.day2, pair.folder / "delta-profiled")

    largest = max(sizes)
    io_figures = snapshot_io(workdir / str(largest) / "day2" / "snapshot.parquet",
                             workdir / str(largest) / "io-scratch.parquet")
    columns = column_sizes(workdir / str(largest) / "day2" / "snapshot.parquet")

    print()
    header = (f"{'N':>9} {'gen_s':>6} {'diff_wall_s':>11} {'diff_cpu_s':>10} {'diff_peak_rss_MiB':>17} "
              f"{'added':>6} {'removed':>7} {'modified':>8} {'total':>6}  {'truth':<8} targets")
    print(header)
    for r in results:
        d, c = r["diff"], r["counts"]
        target = DIFF_TARGETS.get(r["n"], {})
        notes = []
        if "wall_s" in target:
            notes.append("wall " + _verdict(d["wall_s"], target["wall_s"]) + " s")
        if "rss_mib" in target:
            notes.append("RSS " + _verdict(d["rss_mib"], target["rss_mib"]) + " MiB")
        print(f"{r['n']:>9} {r['gen_s']:>6.1f} {d['wall_s']:>11.2f} {d['cpu_s']:>10.2f} {d['rss_mib']:>17.0f} "
              f"{c['added']:>6} {c['removed']:>7} {c['modified']:>8} {c['total']:>6}  "
              f"{'OK' if r['ok'] else 'MISMATCH':<8} {'; '.join(notes) or '-'}")
    print(f"truth per size: modified/added/removed as generated; volatile-only and order-only rows "
          f"({', '.join(str(r['truth']['volatile_only']) + '/' + str(r['truth']['order_only']) for r in results)})"
          " must not be counted")

    print(f"\nsnapshot I/O at N={largest} (day-2 snapshot)"
          + ("" if largest == 1_000_000 else " — the targets are for 1 M rows"))
    print(f"  write (table -> parquet bytes -> file) {io_figures['write_s']:6.2f} s   "
          f"{_verdict(io_figures['write_s'], IO_TARGETS['write_s'])} s")
    print(f"  read (pyarrow.parquet.read_table)      {io_figures['read_s']:6.2f} s   "
          f"{_verdict(io_figures['read_s'], IO_TARGETS['read_s'])} s")
    print(f"  checksum (sha256 of the file bytes)    {io_figures['checksum_s']:6.2f} s   "
          f"{_verdict(io_figures['checksum_s'], IO_TARGETS['checksum_s'])} s "
          f"(+ {io_figures['file_read_s']:.2f} s to read the bytes; matches manifest: "
          f"{io_figures['sha_matches_manifest']})")
    print(f"  file size                              {io_figures['size_mb']:6.1f} MB  "
          f"{_verdict(io_figures['size_mb'], IO_TARGETS['size_mb'])} MB")
    print("  compressed MB by column: " + ", ".join(f"{k} {v:.1f}" for k, v in columns))

    for n, text in profiles.items():
        print(f"\ncProfile of `inventag diff` at N={n} (top 15 by cumulative time, then top 10 by own time):\n{text}")

    (workdir / "results.json").write_text(json.dumps(
        {"imports": imports, "sizes": results, "io": io_figures, "io_columns_mb": columns}, indent=1) + "\n")
    if args.workdir is None and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"\nfiles and results.json kept in {workdir}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
