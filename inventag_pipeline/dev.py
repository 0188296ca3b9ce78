"""`make dev`: the Dagster UI on the simulated account, with the demo's history already in it.

The simulator must outlive every run `dagster dev` launches (each run is its own process), so this
launcher keeps it running in-process, starts `dagster dev` as a child with default signal handling
restored (a backgrounded `dagster dev` otherwise ignores SIGINT/SIGTERM), and stops both together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from inventag_pipeline.demo import (
    PROJECT_STATE,
    Organization,
    demo_dates,
    prepare_home,
    run_demo_on,
    run_organization_demo_on,
)

SIMULATOR_PORT = 5555


def _restore_default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_dev(port: int = 3000, skip_demo: bool = False, state_dir: Path = PROJECT_STATE, accounts: int = 1) -> int:
    """`accounts` > 1: the demo's simulated organization, one partition per account in the UI."""
    from inventag_pipeline.aws.simulator import SimulatedAccount, SimulatorServer

    home = prepare_home(state_dir / "dagster_home")
    # Start the partitions at the demo's first day so the UI's partition bars show its history, not
    # months of empty days (an explicit INVENTAG_START_DATE wins).
    os.environ.setdefault("INVENTAG_START_DATE", demo_dates(3)[0])
    storage_uri = os.environ.get("INVENTAG_STORAGE_URI") or str((state_dir / "store").resolve())
    with SimulatorServer(port=SIMULATOR_PORT) as server:
        extra_env: dict[str, str] = {}
        if accounts > 1:
            org = Organization.simulated(server.url, accounts)
            extra_env = org.environment(org.write_accounts_file(state_dir / "demo-accounts.yaml"))
            if skip_demo:
                org.seed()
                told = 0
            else:
                told = run_organization_demo_on(org, state_dir=state_dir)
        else:
            account = SimulatedAccount(server.url)
            if skip_demo:
                account.seed()
                told = 0
            else:
                told = run_demo_on(account, state_dir=state_dir)
        if told != 0:
            print("the demo did not tell its story; starting the UI anyway so you can look", file=sys.stderr)
        env = dict(os.environ, DAGSTER_HOME=str(home), INVENTAG_SIMULATOR_URL=server.url,
                   INVENTAG_STORAGE_URI=storage_uri, **extra_env)
        dagster = str(Path(sys.executable).with_name("dagster"))
        workspace = Path("workspace.yaml")
        target = ["-w", str(workspace)] if workspace.is_file() else ["-m", "inventag_pipeline.definitions"]
        child = subprocess.Popen(
            [dagster, "dev", "-h", "127.0.0.1", "-p", str(port), *target],
            env=env, preexec_fn=_restore_default_signals,
        )
        print(f"\nDagster UI: http://127.0.0.1:{port}  (simulated account served at {server.url})")
        print(f"Stop with Ctrl-C, or `kill -TERM {os.getpid()}` from another shell.\n", flush=True)

        def forward(signum: int, _frame: object) -> None:
            child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        try:
            return child.wait()
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait(timeout=30)
