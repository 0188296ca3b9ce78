"""Shared fixtures: a fresh moto server per test on 127.0.0.1 and a clean AWS environment."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

_ENV_PREFIXES = ("AWS_", "INVENTAG_")


@pytest.fixture(scope="session", autouse=True)
def resolved_definitions() -> None:
    """Build the repository once, before any test instance exists.

    Dagster caches the repository on first use and, while building it, consults the defs-state
    storage of whatever instance was last current; in a worker where an earlier test's instance is
    already closed, that lookup fails ("undefined DagsterInstance weakref").
    """
    from inventag_pipeline.definitions import defs

    defs.get_repository_def()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No test sees the developer's AWS profile, endpoints or inventag settings."""
    import os

    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends are process-global: every server in this process shares them, so reset.
    requests.post(f"{url}/moto-api/reset", timeout=10)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """An endpoint on 127.0.0.1 where nothing listens (connection refused at once)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def client(url: str, service: str, region: str = "us-east-1"):
    """An unguarded test client, for arranging state in moto (never used by the product)."""
    return boto3.client(service, region_name=region, endpoint_url=url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
