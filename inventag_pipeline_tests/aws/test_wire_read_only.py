"""Read-only from the wire: a whole collection through a recording proxy in front of moto.

The guard's own audit log could be wrong in the same way the guard is; these tests look at the
HTTP requests that actually left the process and name each operation from the wire alone (the
`X-Amz-Target` header, the query protocol's `Action`, or method and path for REST services).
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import http.server
import re
import threading
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest

from inventag_pipeline.aws.collector import collect_account
from inventag_pipeline.aws.guard import AuditLog, ReadOnlyViolation
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.registry import REGISTRY, RESOURCE_TYPES
from inventag_pipeline_tests.aws.fixtures import create_one_of_each

REGIONS = ["us-east-1", "eu-west-1"]

# Independent of the guard's lists: operation verbs that only read, and verbs that change state.
READ_VERBS = ("Describe", "List", "Get", "Head", "Lookup", "Search", "Select", "BatchGet", "Query", "Scan")
MUTATING_VERBS = (
    "Create", "Put", "Delete", "Update", "Modify", "Attach", "Detach", "Run", "Start", "Stop", "Terminate",
    "Tag", "Untag", "Set", "Add", "Remove", "Associate", "Disassociate", "Enable", "Disable", "Reboot",
    "Send", "Publish", "Invoke", "Authorize", "Revoke", "Replace", "Reset", "Restore", "Copy", "Import",
    "Upload", "Register", "Deregister", "Subscribe", "Unsubscribe", "Purge", "Receive", "Change", "Cancel",
)
MOTO_TYPES = [t for t in RESOURCE_TYPES if t.tested_with == "moto"]  # what the simulated account collects


@functools.cache
def _model(service: str):
    # Cached: a fresh botocore session loads and parses the service model every time.
    return botocore.session.get_session().get_service_model(service)


def signing_name(service: str) -> str:
    """The name in the SigV4 credential scope, which is what the wire shows (`monitoring` for cloudwatch)."""
    return _model(service).signing_name


# Services whose operation is only visible as method + path (REST protocols), by signing name. No POST
# is treated as a read, not even S3's read-style POSTs (SelectObjectContent reads object data).
REST_SERVICES = frozenset(signing_name(s) for s in {t.service for t in RESOURCE_TYPES} | {"sts"}
                          if _model(s).protocol in ("rest-json", "rest-xml"))
READ_METHODS = frozenset({"GET", "HEAD"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "transfer-encoding", "upgrade"})
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


@dataclasses.dataclass(frozen=True)
class WireRequest:
    method: str
    path: str
    query: str
    target: str | None
    action: str | None
    host: str | None
    body_length: int
    # From the SigV4 credential scope in the Authorization header.
    service: str | None
    region: str | None
    status: int | None = None


def _has_verb(operation: str, verbs: tuple[str, ...]) -> bool:
    return any(operation.startswith(v) and (len(operation) == len(v) or operation[len(v)].isupper())
               for v in verbs)


def wire_operation(req: WireRequest) -> str:
    """The operation as the wire names it: JSON target suffix, query Action, or method + path."""
    if req.target:
        return req.target.rsplit(".", 1)[-1]
    if req.action:
        return req.action
    subresources = "&".join(sorted(k.split("=", 1)[0] for k in req.query.split("&") if k))
    return f"{req.method} {req.path}" + (f"?{subresources}" if subresources else "")


def wire_is_read_only(req: WireRequest) -> bool:
    if req.target or req.action:
        operation = wire_operation(req)
        return _has_verb(operation, READ_VERBS) and not _has_verb(operation, MUTATING_VERBS)
    # No operation name on the wire: only a REST service's GET/HEAD counts as a read (fail closed).
    return req.service in REST_SERVICES and req.method in READ_METHODS


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingProxy

    def log_message(self, *args: object) -> None:
        return

    def _forward(self) -> None:
        streamed = "Transfer-Encoding" in self.headers
        body = b"" if streamed else self.rfile.read(int(self.headers.get("Content-Length") or 0))
        index = self.server.record(self.command, self.path, dict(self.headers.items()), body)
        if streamed:
            # Recorded, never forwarded: no read the collector makes streams a request body.
            self.server.record_status(index, 501)
            self.send_error(501, "streamed request bodies are not forwarded")
            self.close_connection = True
            return
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=30)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            payload = response.read()
            headers = response.getheaders()
        finally:
            upstream.close()
        self.server.record_status(index, response.status)
        self.send_response_only(response.status, response.reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        elif response.getheader("Content-Length") is not None:
            self.send_header("Content-Length", response.getheader("Content-Length"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _forward


class RecordingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request verbatim to one upstream and records what it saw."""

    daemon_threads = True

    def __init__(self, upstream_url: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        upstream = urlsplit(upstream_url)
        self.upstream_host, self.upstream_port = upstream.hostname, upstream.port
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._lock = threading.Lock()
        self._requests: list[WireRequest] = []

    def record(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> int:
        lower = {k.lower(): v for k, v in headers.items()}
        url = urlsplit(raw_path)
        action = parse_qs(url.query).get("Action")
        if not action and "x-www-form-urlencoded" in lower.get("content-type", ""):
            action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        scope = _SCOPE.search(lower.get("authorization", ""))
        req = WireRequest(
            method=method, path=url.path, query=url.query, target=lower.get("x-amz-target"),
            action=action[0] if action else None, host=lower.get("host"), body_length=len(body),
            service=scope["service"] if scope else None, region=scope["region"] if scope else None,
        )
        with self._lock:
            self._requests.append(req)
            return len(self._requests) - 1

    def record_status(self, index: int, status: int) -> None:
        with self._lock:
            self._requests[index] = dataclasses.replace(self._requests[index], status=status)

    @property
    def requests(self) -> list[WireRequest]:
        with self._lock:
            return list(self._requests)


@pytest.fixture
def proxy(moto_url) -> Iterator[RecordingProxy]:
    server = RecordingProxy(moto_url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _sessions(url: str) -> AccountSessions:
    return AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), AuditLog())


def test_a_whole_collection_sends_only_reads(moto_url, proxy):
    # Arranged on moto directly: the setup writes never pass the proxy.
    expected = create_one_of_each(moto_url, "us-east-1") + create_one_of_each(moto_url, "eu-west-1")
    assert proxy.requests == []
    sessions = _sessions(proxy.url)

    collection = collect_account(sessions, REGIONS)

    assert [(s.service, s.region, s.error) for s in collection.scopes if s.status != "ok"] == []
    arns = {canonical_record(REGISTRY[i.resource_type], i.payload, account_id=collection.account_id,
                             region=i.region, collected_at=collection.collected_at).arn
            for s in collection.scopes for i in s.items}
    assert [e.arn for e in expected if e.arn not in arns] == []

    wire = proxy.requests
    # Everything went through the proxy, addressed to it, signed for every collected service.
    assert {r.host for r in wire} == {urlsplit(proxy.url).netloc}
    # Besides the types' services: STS for the identity, and one tags listing per region ("tagging").
    assert {r.service for r in wire} == {signing_name(t.service) for t in MOTO_TYPES} | {"sts", "tagging"}
    regional = {signing_name(t.service) for t in MOTO_TYPES if not t.is_global} | {"tagging"}
    global_services = {signing_name(t.service) for t in MOTO_TYPES if t.is_global} - {"s3"}
    assert {(r.service, r.region) for r in wire} == (
        {(s, region) for s in regional for region in REGIONS}
        | {(s, "us-east-1") for s in global_services} | {("sts", "us-east-1")}
        | {("s3", "us-east-1"), ("s3", "eu-west-1")}  # listed once; details sent to each bucket's region
    )
    # One wire request per audited call: botocore resends only on throttling or 5xx, and none came back.
    assert [r for r in wire if r.status is None or r.status >= 500 or r.status == 429] == []
    summary = sessions.audit.summary()
    assert summary["refused"] == 0
    assert len(wire) == summary["ok"] + summary["errors"]
    assert Counter(r.service for r in wire) == Counter(signing_name(e.service) for e in sessions.audit.entries)
    named = [r for r in wire if r.target or r.action]
    assert Counter((r.service, wire_operation(r)) for r in named) == Counter(
        (signing_name(e.service), e.operation) for e in sessions.audit.entries
        if signing_name(e.service) not in REST_SERVICES)

    # The independent rule: every request that left the process was a read.
    assert [(r.service, r.method, wire_operation(r)) for r in wire if not wire_is_read_only(r)] == []
    assert {r.method for r in wire if r.service in REST_SERVICES} == {"GET"}


def test_a_refused_call_never_reaches_the_wire(moto_url, proxy):
    create_one_of_each(moto_url, "us-east-1")
    sessions = _sessions(proxy.url)
    sessions.resolve_credentials()
    session = sessions.session()
    ec2 = sessions.client(session, "ec2", "us-east-1")
    s3 = sessions.client(session, "s3", "us-east-1")

    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.42.0.0/16"]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.42.0.0/16"]
    before = proxy.requests
    assert [(r.action, r.method) for r in before] == [("DescribeVpcs", "POST")]

    with pytest.raises(ReadOnlyViolation, match=r"refused ec2:CreateVpc in us-east-1"):
        ec2.create_vpc(CidrBlock="10.99.0.0/16")
    with pytest.raises(ReadOnlyViolation, match=r"refused s3:PutObject in us-east-1"):
        s3.put_object(Bucket="fixture-bucket-us-east-1", Key="k", Body=b"x")
    with pytest.raises(ReadOnlyViolation, match=r"refused s3:GetObject in us-east-1"):
        s3.get_object(Bucket="fixture-bucket-us-east-1", Key="k")

    assert proxy.requests == before
    assert [(e.service, e.operation, e.region, e.outcome) for e in sessions.audit.entries] == [
        ("ec2", "DescribeVpcs", "us-east-1", "ok"),
        ("ec2", "CreateVpc", "us-east-1", "refused"),
        ("s3", "PutObject", "us-east-1", "refused"),
        ("s3", "GetObject", "us-east-1", "refused"),
    ]
