"""The background simulated account that lets plain `dagster dev` work without configuration."""

from __future__ import annotations

import time

from inventag_pipeline.aws.simulator_launch import answers, ensure_simulator, is_running, pid_file, stop_simulator


def test_starts_once_answers_and_stops(tmp_path, closed_port_url):
    pid = ensure_simulator(closed_port_url, state_dir=tmp_path)
    try:
        assert pid is not None
        assert answers(closed_port_url)
        assert pid_file(tmp_path).read_text() == str(pid)
        assert ensure_simulator(closed_port_url, state_dir=tmp_path) is None  # already running
        assert "simulated AWS account 123456789012" in (tmp_path / "simulator.log").read_text()
    finally:
        assert stop_simulator(tmp_path) == pid
    # Watch the process, not the port: under xdist another test's server may reuse the freed port.
    deadline = time.monotonic() + 30
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not is_running(pid)
    assert stop_simulator(tmp_path) is None

