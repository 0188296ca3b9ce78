"""A forwarding proxy in front of the simulated account that adds latency and injects throttling.

moto answers in about a millisecond; AWS answers in tens of milliseconds and throttles bursts. Timing
the collector against bare moto measures CPU, not the concurrency that matters against AWS, and never
exercises the throttling path. This proxy sits on 127.0.0.1 between the collector (AWS_ENDPOINT_URL
points at it) and moto: every request waits `latency_s`, and a chosen share of requests (or every
request inside a burst window) is answered with the throttling error AWS would send for that protocol,
without reaching moto. Used by benchmarks/bench_collect.py and the throughput tests.
"""

from __future__ import annotations

import http.client
import http.server
import json
import random
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "transfer-encoding", "upgrade", "content-length"})
_REST_XML_SIGNING_NAMES = frozenset({"s3", "route53", "cloudfront"})


@dataclass(frozen=True)
class Throttling:
    """Which requests are refused: a random share, all of them inside a time window, or the next few.

    The window's clock starts at request number `burst_after_requests + 1` (the first by default), so
    a burst hits the collection itself rather than whatever came before it (its identity check);
    `refuse_next` refuses that many requests from there on, whatever their timing, and
    `first_per_service` the first request to each service: both for exact tests.
    """

    rate: float = 0.0
    first_per_service: bool = False
    burst_start_s: float | None = None
    burst_duration_s: float = 0.0
    burst_after_requests: int = 0
    refuse_next: int = 0
    seed: int = 7


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    if len(data) < 24:
        return bytes([0x60 + len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + len(data).to_bytes(2, "big") + data


def _cbor_map(entries: dict[str, str]) -> bytes:
    """A CBOR map of text to text: all the rpc-v2-cbor error body needs (no dependency for it)."""
    return bytes([0xA0 + len(entries)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in entries.items())


def _signing_name(authorization: str) -> str:
    # SigV4: Credential=KEY/DATE/REGION/SERVICE/aws4_request
    parts = authorization.split("Credential=", 1)[-1].split("/")
    return parts[3] if len(parts) > 4 else ""


def throttling_response(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of the throttling error AWS sends for this request's protocol.

    The protocol is read from the request: rpc-v2-cbor (`smithy-protocol` header), JSON (`X-Amz-Target`,
    `__type` in the body), the EC2 and query protocols (form-encoded `Action`, `<Code>` in XML), and the
    REST protocols (rest-xml for S3, Route 53 and CloudFront; rest-json with `x-amzn-ErrorType`).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = "00000000-0000-0000-0000-000000000000"
    if lower.get("smithy-protocol") == "rpc-v2-cbor":
        payload = _cbor_map({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return 400, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                     "x-amzn-RequestId": request_id}, payload
    if "x-amz-target" in lower:
        payload = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return 400, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}, payload
    service = _signing_name(lower.get("authorization", ""))
    if "x-www-form-urlencoded" in lower.get("content-type", "") and b"Action=" in body:
        if service == "ec2":
            xml = ("<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
                   f"</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
            return 503, {"Content-Type": "text/xml"}, xml.encode()
        xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
               f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return 400, {"Content-Type": "text/xml"}, xml.encode()
    if service == "s3":
        xml = f"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>" \
              f"{request_id}</RequestId></Error>"
        return 503, {"Content-Type": "application/xml"}, xml.encode()
    if service in _REST_XML_SIGNING_NAMES:
        xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
               f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return 400, {"Content-Type": "text/xml"}, xml.encode()
    return 429, {"Content-Type": "application/json", "x-amzn-ErrorType": "ThrottlingException",
                 "x-amzn-RequestId": request_id}, json.dumps({"message": "Rate exceeded"}).encode()


def operation_of(headers: dict[str, str], path: str, body: bytes) -> str:
    """A short name of the request for the proxy's counters (target, Action, else method + path)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "x-amz-target" in lower:
        return lower["x-amz-target"].rsplit(".", 1)[-1]
    if "smithy-protocol" in lower:
        return path.rsplit("/", 1)[-1]
    action = parse_qs(urlsplit(path).query).get("Action") or parse_qs(body.decode("utf-8", "replace")).get("Action")
    return action[0] if action else f"{_signing_name(lower.get('authorization', ''))} {path.split('?', 1)[0]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # With Nagle's algorithm a response written in two parts waits for the client's delayed ACK:
    # about 40 ms more per request than the latency asked for.
    disable_nagle_algorithm = True
    server: LatencyProxy

    def log_message(self, *args: object) -> None:
        return

    def _upstream(self) -> http.client.HTTPConnection:
        # One keep-alive connection to moto per client connection: no TCP set-up per request.
        conn = getattr(self, "_conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
            self._conn = conn
        return conn

    def finish(self) -> None:
        super().finish()
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = dict(self.headers.items())
        refuse = self.server.admit(headers, self.path, body)
        try:
            time.sleep(self.server.latency_s)
            if refuse:
                status, out_headers, payload = throttling_response(headers, body)
                reason = "Service Unavailable" if status == 503 else "Throttled"
            else:
                started = time.perf_counter()
                status, reason, out_headers, payload = self._forward(headers, body)
                self.server.upstream_time(operation_of(headers, self.path, body), time.perf_counter() - started)
        finally:
            self.server.done()
        head = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in out_headers.items()]
        head.append(f"Content-Length: {len(payload)}")
        # One write for status, headers and body: nothing for the client to wait on.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
                         + (payload if self.command != "HEAD" else b""))

    def _forward(self, headers: dict[str, str], body: bytes) -> tuple[int, str, dict[str, str], bytes]:
        for attempt in (1, 2):
            conn = self._upstream()
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                # moto builds some identifiers from the Host it is addressed as (SQS queue URLs): the
                # upstream's own address keeps them the same whichever proxy a request came through.
                conn.putheader("Host", self.server.upstream_netloc)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "host":
                        conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, ConnectionError):
                # moto closed an idle keep-alive connection: reconnect once.
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, response.reason, kept, payload
        raise AssertionError("unreachable")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _relay


class LatencyProxy(http.server.ThreadingHTTPServer):
    """Context manager: forwards to `upstream_url` after `latency_s`, throttling as configured."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, upstream_url: str, *, latency_s: float = 0.05, throttling: Throttling = Throttling(),
                 port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        upstream = urlsplit(upstream_url)
        self.upstream_host, self.upstream_port = upstream.hostname or "127.0.0.1", upstream.port or 80
        self.upstream_netloc = upstream.netloc
        self.latency_s = latency_s
        self.throttling = throttling
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._lock = threading.Lock()
        self._random = random.Random(throttling.seed)
        self._first: float | None = None
        self.requests = 0
        self.throttled = 0
        self.throttled_operations: dict[str, int] = {}
        self.throttled_services: dict[str, int] = {}  # by SigV4 signing name
        self.in_flight = 0
        self._seen_services: set[str] = set()
        self.max_in_flight = 0
        # Seconds the upstream took per operation: where the simulator, not the collector, spends time.
        self.upstream_seconds: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    def admit(self, headers: dict[str, str], path: str, body: bytes) -> bool:
        """Count the request; True when it is to be refused with a throttling error."""
        now = time.monotonic()
        t = self.throttling
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self._first is None and self.requests > t.burst_after_requests:
                self._first = now
            refuse = t.rate > 0 and self._random.random() < t.rate
            if t.burst_start_s is not None and self._first is not None:
                offset = now - self._first
                refuse = refuse or t.burst_start_s <= offset < t.burst_start_s + t.burst_duration_s
            after = self.requests - t.burst_after_requests
            refuse = refuse or 0 < after <= t.refuse_next
            service = _signing_name({k.lower(): v for k, v in headers.items()}.get("authorization", ""))
            refuse = refuse or (t.first_per_service and service not in self._seen_services)
            self._seen_services.add(service)
            if refuse:
                self.throttled += 1
                name = operation_of(headers, path, body)
                self.throttled_operations[name] = self.throttled_operations.get(name, 0) + 1
                self.throttled_services[service] = self.throttled_services.get(service, 0) + 1
        return refuse

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def upstream_time(self, operation: str, seconds: float) -> None:
        with self._lock:
            self.upstream_seconds[operation] = self.upstream_seconds.get(operation, 0.0) + seconds

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {"requests": self.requests, "throttled": self.throttled, "max_in_flight": self.max_in_flight,
                    "throttled_operations": dict(sorted(self.throttled_operations.items())),
                    "throttled_services": dict(sorted(self.throttled_services.items())),
                    "upstream_seconds": dict(sorted(self.upstream_seconds.items(), key=lambda kv: -kv[1]))}

    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="latency-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
