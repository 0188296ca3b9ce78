#!/usr/bin/env python3
"""`make ui-check`: look at the product in a real browser and fail when a page comes up blank.

1. Makes sure a demo history exists in its own state folder (`.inventag/ui-check/state`: store and
   DAGSTER_HOME, apart from `make dev`'s), running the three-day demo when it is missing or `--fresh`.
2. Starts `dagster dev` on a free port of 127.0.0.1 with default signal handling restored, prints its
   PID, and waits until the UI answers and the code location has loaded its assets.
3. Opens the asset graph and catalog, two partitions' metadata pages and the six HTML reports (full,
   executive summary, audit; changelog and compliance) in headless Chromium from
   Debian's packages (installed with apt-get when missing), saving a PNG and the rendered DOM of each.
4. Fails when a page is blank (small PNG, little colour variance), lacks the text it must show, or the
   server never answers. `dagster dev` is always stopped at the end (SIGTERM to its PID, then its group).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".inventag" / "ui-check"
ACCOUNT = "123456789012"  # the simulated demo account
CHROMIUM = "/usr/bin/chromium"
# A PNG of a blank or half-loaded page is small and nearly one colour.
MIN_PNG_BYTES = 15_000
MIN_STDDEV = 8.0
MIN_COLOURS = 32


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    size: str  # WIDTHxHEIGHT of the browser window
    budget_ms: int  # virtual time the page's own JavaScript gets before the screenshot
    must_show: tuple[str, ...]  # text the rendered DOM must contain


def log(message: str) -> None:
    print(f"ui-check: {message}", flush=True)


# --- the demo history ------------------------------------------------------------------------------------


def report_files(store: Path) -> list[Path]:
    """The newest day's HTML changelog and report in the store (empty when the demo has not run)."""
    days = sorted((store / "changelogs" / f"account={ACCOUNT}").glob("date=*"))
    if not days:
        return []
    date = days[-1].name
    return [store / "changelogs" / f"account={ACCOUNT}" / date / "changelog.html",
            store / "compliance" / "reports" / f"account={ACCOUNT}" / date / "report.html"]


def ensure_demo(state: Path, fresh: bool) -> None:
    files = report_files(state / "store")
    if files and all(f.is_file() for f in files) and not fresh:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(files[0].stat().st_mtime))
        log(f"reusing the demo history in {state} (written {stamp}; --fresh rebuilds it)")
        return
    log(f"running the three-day demo into {state} …")
    started = time.perf_counter()
    code = ("import sys; from pathlib import Path; from inventag_pipeline.demo import run_demo; "
            f"sys.exit(run_demo(days=3, state_dir=Path({str(state)!r})))")
    env = {k: v for k, v in os.environ.items() if k not in ("INVENTAG_STORAGE_URI", "DAGSTER_HOME")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    (OUT / "demo.log").write_text(result.stdout + result.stderr)
    files = report_files(state / "store")
    if not files or not all(f.is_file() for f in files):
        raise SystemExit(f"ui-check: the demo did not write its reports (exit {result.returncode}); "
                         f"see {OUT / 'demo.log'}")
    log(f"demo done in {time.perf_counter() - started:.0f} s (exit {result.returncode})")


# --- dagster dev -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_signals() -> None:
    """A backgrounded `dagster dev` ignores SIGINT/SIGTERM unless the defaults are restored before exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_dagster(state: Path, port: int, start_date: str) -> subprocess.Popen:
    from inventag_pipeline.demo import prepare_home

    home = prepare_home(state / "dagster_home")
    # The first-visit "join the community" dialog would cover every screenshot of a fresh browser profile.
    with open(home / "dagster.yaml", "a") as config:
        config.write("\n# ui-check: no first-visit dialog over the screenshots\nnux:\n  enabled: false\n")
    env = dict(os.environ, DAGSTER_HOME=str(home), INVENTAG_STORAGE_URI=str((state / "store").resolve()),
               INVENTAG_START_DATE=start_date, DAGSTER_DISABLE_TELEMETRY="1")
    dagster = str(Path(sys.executable).with_name("dagster"))
    logfile = open(OUT / "dagster.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
    # Its own session: SIGTERM to the PID stops it cleanly; the group is the fallback if it hangs.
    child = subprocess.Popen([dagster, "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(ROOT / "workspace.yaml")],
                             cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT,
                             preexec_fn=_default_signals, start_new_session=True)
    log(f"dagster dev started: PID {child.pid}, http://127.0.0.1:{port} (stop with `kill -TERM {child.pid}`)")
    return child


def stop_dagster(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # webserver, daemon and code servers share the session
        os.killpg(child.pid, signal.SIGTERM)
    log(f"dagster dev (PID {child.pid}) stopped")


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
  __typename ... on PythonError { message } } } } } assetNodes { assetKey { path } } }"""


def wait_until_ready(child: subprocess.Popen, port: int, timeout: float) -> list[str]:
    """Until the webserver answers and the code location has loaded; returns the asset keys."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"ui-check: dagster dev exited with {child.returncode}; see {OUT / 'dagster.log'}")
        try:
            data = _graphql(port, LOCATION_QUERY)["data"]
            entries = data["workspaceOrError"]["locationEntries"]
            errors = [e["locationOrLoadError"]["message"] for e in entries
                      if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
            if errors:
                raise SystemExit(f"ui-check: the code location failed to load: {errors[0][:2000]}")
            assets = sorted("/".join(n["assetKey"]["path"]) for n in data["assetNodes"])
            if assets:
                return assets
            last = "code location still loading"
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError, json.JSONDecodeError) as exc:
            last = str(exc)
        time.sleep(1)
    raise SystemExit(f"ui-check: the UI did not answer within {timeout:.0f} s ({last}); see {OUT / 'dagster.log'}")


# --- chromium --------------------------------------------------------------------------------------------


def ensure_chromium() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    log("Chromium is missing: installing Debian's 'chromium' package")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    try:
        subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True)
        subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"ui-check: could not install chromium ({exc}); install Debian's 'chromium' package as root"
                         ) from None
    return CHROMIUM


def capture(chromium: str, page: Page, profile: Path) -> tuple[Path, str, float]:
    """Screenshot and rendered DOM of one page in one headless Chromium run."""
    png = OUT / f"{page.name}.png"
    png.unlink(missing_ok=True)
    started = time.perf_counter()
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
               "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
               f"--window-size={page.size.replace('x', ',')}", f"--virtual-time-budget={page.budget_ms}",
               f"--screenshot={png}", "--dump-dom", page.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    (OUT / f"{page.name}.dom.html").write_text(result.stdout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {result.returncode}): {result.stderr[-800:]}")
    return png, result.stdout, time.perf_counter() - started


def png_pixels(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced PNG (what Chromium writes) to an (h, w, channels) array."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or interlace or channels is None:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            row = (np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint32) & 0xFF).astype(np.uint8).ravel()
        elif kind == 2:  # Up
            row = line + previous
        else:  # Average and Paeth depend on the pixel just rebuilt: byte by byte
            row = _unfilter_sequential(kind, bytearray(line.tobytes()), previous.tobytes(), channels)
        out[y] = row
        previous = row
    return out.reshape(height, width, channels)


def _unfilter_sequential(kind: int, cur: bytearray, up: bytes, bpp: int) -> np.ndarray:
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
        else:
            c = up[i - bpp] if i >= bpp else 0
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def judge(page: Page, png: Path, dom: str) -> tuple[list[str], dict]:
    """Problems with a screenshot (empty list: fine) and its figures."""
    pixels = png_pixels(png)[..., :3]
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    figures = {"bytes": png.stat().st_size, "stddev": round(float(pixels.std()), 1), "colours": colours,
               "size": f"{pixels.shape[1]}x{pixels.shape[0]}"}
    problems = []
    if figures["bytes"] < MIN_PNG_BYTES:
        problems.append(f"PNG of {figures['bytes']} bytes: a blank page")
    if figures["stddev"] < MIN_STDDEV or colours < MIN_COLOURS:
        problems.append(f"colour stddev {figures['stddev']}, {colours} colours: a blank or half-loaded page")
    missing = [text for text in page.must_show if text not in dom]
    if missing:
        problems.append(f"the rendered page lacks {missing}")
    return problems, figures


# --- main ------------------------------------------------------------------------------------------------


def pages(port: int, store: Path) -> list[Page]:
    changelog, report = report_files(store)
    date = changelog.parent.name.removeprefix("date=")
    key = f"{ACCOUNT}%7C{date}"
    ui = f"http://127.0.0.1:{port}"
    return [
        # Everything downstream of the collection: the inventory chain, compliance and delivery.
        Page("asset-graph", f"{ui}/assets/raw_inventory?view=lineage&lineageScope=downstream&lineageDepth=6",
             "1920x1100", 20_000, ("raw_inventory", "inventory_snapshot", "changelog", "compliance_report")),
        # The catalog: every asset with its kinds, description, code location and group.
        Page("asset-catalog", f"{ui}/assets", "1920x1200", 20_000,
             ("compliance_report", "Human-readable report of the delta", "Per-framework scores")),
        Page("changelog-partition", f"{ui}/assets/changelog?view=partitions&partition={key}", "1920x2000", 20_000,
             ("top_changes", "summary_html", "duration_seconds")),
        Page("compliance-report-partition", f"{ui}/assets/compliance_report?view=partitions&partition={key}",
             "1920x2000", 20_000, ("failing_checks", "audit_html", "score")),
        Page("changelog-html", changelog.as_uri(), "1280x2200", 2_000,
             ("Executive summary", "Details by service", "Last 30 days")),
        Page("report-html", report.as_uri(), "1280x2200", 2_000,
             ("Failing findings", "Frameworks", "Last 30 days")),
        Page("changelog-summary-html", changelog.with_name("changelog.summary.html").as_uri(), "1280x1400", 2_000,
             ("Risk level", "Key findings", "Immediate actions")),
        Page("changelog-audit-html", changelog.with_name("changelog.audit.html").as_uri(), "1280x2200", 2_000,
             ("Scope and evidence", "Security-relevant attribute changes", "How the data was collected")),
        Page("report-summary-html", report.with_name("report.summary.html").as_uri(), "1280x1400", 2_000,
             ("Overall status", "risk level", "Immediate actions")),
        Page("report-audit-html", report.with_name("report.audit.html").as_uri(), "1280x2200", 2_000,
             ("Scope and evidence", "Findings register", "Guard classification")),
    ]


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    state = Path(args.state).resolve() if args.state else OUT / "state"
    chromium = ensure_chromium()
    ensure_demo(state, args.fresh)
    dates = sorted(p.name.removeprefix("date=") for p in (state / "store" / "snapshots" / f"account={ACCOUNT}")
                   .glob("date=*"))
    port = free_port()
    child = start_dagster(state, port, dates[0])
    failures: list[str] = []
    profile = Path(tempfile.mkdtemp(prefix="ui-check-chromium-"))
    try:
        ready = time.perf_counter()
        assets = wait_until_ready(child, port, args.timeout)
        log(f"UI ready in {time.perf_counter() - ready:.0f} s with {len(assets)} assets")
        for page in pages(port, state / "store"):
            try:
                png, dom, seconds = capture(chromium, page, profile)
                problems, figures = judge(page, png, dom)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                problems, figures, seconds = [str(exc)], {}, 0.0
            verdict = "FAIL: " + "; ".join(problems) if problems else "ok"
            log(f"{page.name:28s} {seconds:5.1f} s {json.dumps(figures)} {verdict}")
            failures += [f"{page.name}: {p}" for p in problems]
    finally:
        stop_dagster(child)
        shutil.rmtree(profile, ignore_errors=True)
    log(f"screenshots in {OUT}; total {time.perf_counter() - started:.0f} s")
    for failure in failures:
        print(f"ui-check: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="re-run the demo even if its history exists")
    parser.add_argument("--state", help="state folder (store + DAGSTER_HOME); default .inventag/ui-check/state")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the UI to answer")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
