"""Start the simulated account on demand, so plain `dagster dev` works with no accounts configured.

Each Dagster run is its own process, and the simulated account must outlive them all (its resource
ids would change with every new moto server), so it runs as a detached background process with a
PID file. `inventag simulator stop` (or `kill -TERM <pid>`) ends it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

STATE_DIR = Path(".inventag")


def answers(url: str, timeout: float = 0.5) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def pid_file(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / "simulator.pid"


def ensure_simulator(url: str, *, state_dir: Path = STATE_DIR, wait_s: float = 90.0) -> int | None:
    """Start `inventag simulator serve` in the background if nothing answers at `url` (loopback only).

    Returns the PID started, or None when something already answers. Raises RuntimeError when the
    simulator could not be started, with the log file to read.
    """
    if answers(url) or not _is_loopback(url):
        return None
    port = urlparse(url).port or 5555
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "simulator.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inventag_pipeline.cli", "simulator", "serve", "--port", str(port), "--day", "1"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    pid_file(state_dir).write_text(str(process.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulated account did not start (exit {process.returncode}); see {log}")
        if answers(url) and b"simulated AWS account" in log.read_bytes():
            return process.pid
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the simulated account did not answer at {url} within {wait_s:.0f} s; see {log}")


def stop_simulator(state_dir: Path = STATE_DIR) -> int | None:
    """Stop a simulator started by `ensure_simulator`; returns its PID, or None if none was running."""
    path = pid_file(state_dir)
    if not path.is_file():
        return None
    pid = int(path.read_text().strip())
    path.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + 10
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(pid):
        os.kill(pid, signal.SIGKILL)  # it did not stop in time; nothing of value is lost
    return pid


def is_running(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return "State:\tZ" not in status.read()
    except FileNotFoundError:
        return False
