"""Throughput without loss: detail calls in flight together, and throttling on the wire costs time, never data.

The collector talks to moto through the latency proxy (aws/simulator_proxy.py), which answers chosen
requests with the throttling error AWS sends for each protocol, so botocore parses and retries real
wire responses. One region and one type per protocol keep it small: EC2 (ec2), SQS (json), IAM
(query), S3 (rest-xml), Lambda (rest-json) and CloudWatch (rpc-v2-cbor).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterator

import pytest

from inventag_pipeline.aws.collector import collect_account
from inventag_pipeline.aws.errors import THROTTLING_CODES
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.aws.simulator_proxy import LatencyProxy, Throttling
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline_tests.conftest import client

REGION = "eu-west-1"
TYPES = [REGISTRY[t] for t in ("AWS::EC2::SecurityGroup", "AWS::SQS::Queue", "AWS::IAM::Role", "AWS::S3::Bucket",
                               "AWS::Lambda::Function", "AWS::CloudWatch::Alarm")]
# SigV4 signing names of those services: what the proxy counts throttled requests by.
SIGNING_NAMES = {"ec2", "sqs", "iam", "s3", "lambda", "monitoring"}
QUEUES = 12
# The direct-API path only (no AWS Config detection calls), so that refusals land where the tests say.
API_ONLY = {"use_config": "off"}
REFUSED = 10
FEW = 3


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return event\n")
    return buf.getvalue()


@pytest.fixture
def estate(moto_url: str) -> str:
    """A few resources of each type, created straight in moto (never through a proxy)."""
    ec2 = client(moto_url, "ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    for i in range(3):
        ec2.create_security_group(GroupName=f"sg-{i}", Description="t", VpcId=vpc)
    sqs = client(moto_url, "sqs", REGION)
    for i in range(QUEUES):
        sqs.create_queue(QueueName=f"queue-{i}", tags={"Owner": f"team-{i}"})
    iam = client(moto_url, "iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    roles = [iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=trust)["Role"]["Arn"] for i in range(3)]
    s3 = client(moto_url, "s3", REGION)
    for i in range(3):
        s3.create_bucket(Bucket=f"bucket-{i}-{REGION}", CreateBucketConfiguration={"LocationConstraint": REGION})
    fn = client(moto_url, "lambda", REGION)
    for i in range(2):
        fn.create_function(FunctionName=f"fn-{i}", Runtime="python3.12", Role=roles[0], Handler="h.h",
                           Code={"ZipFile": _zip()})
    cw = client(moto_url, "cloudwatch", REGION)
    for i in range(3):
        cw.put_metric_alarm(AlarmName=f"alarm-{i}", MetricName="CPUUtilization", Namespace="AWS/EC2",
                            Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90.0,
                            ComparisonOperator="GreaterThanThreshold")
    return moto_url


@pytest.fixture
def proxies(estate: str) -> Iterator[dict[str, LatencyProxy]]:
    def start(**kwargs: object) -> LatencyProxy:
        return LatencyProxy(estate, latency_s=0.02, **kwargs).start()  # type: ignore[arg-type]

    made = {
        "plain": start(),
        # The first request to each service, then one in ten at random.
        "random": start(throttling=Throttling(rate=0.1, first_per_service=True, seed=11)),
        # The REFUSED requests after the identity check, whenever they come.
        "burst": start(throttling=Throttling(refuse_next=REFUSED, burst_after_requests=1)),
        # Only a few: fewer than the scopes, so that some fail and the others do not.
        "few": start(throttling=Throttling(refuse_next=FEW, burst_after_requests=1)),
    }
    try:
        yield made
    finally:
        for proxy in made.values():
            proxy.stop()


def _collect(url: str, **settings: object) -> tuple[dict[str, tuple[str, str]], list, AuditLog]:
    """{arn: (resource type, content hash)}, the scopes and the audit log of one collection through `url`."""
    audit = AuditLog()
    sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url, **settings), audit)
    collection = collect_account(sessions, [REGION], TYPES)
    records = {r.arn: (r.resource_type, r.content_hash) for r in (
        canonical_record(REGISTRY[i.resource_type], i.payload, account_id=collection.account_id, region=i.region,
                         collected_at=collection.collected_at)
        for s in collection.scopes for i in s.items)}
    return records, collection.scopes, audit


def _throttled_outcome(outcome: str) -> bool:
    return outcome.startswith("error:") and outcome.split(":", 1)[1] in THROTTLING_CODES


def test_throttled_requests_cost_time_never_data(proxies):
    expected, scopes, audit = _collect(proxies["plain"].url)
    assert [(s.service, s.region, s.error) for s in scopes if s.status != "ok"] == []
    assert {rtype for rtype, _ in expected.values()} == {t.cfn_type for t in TYPES}
    plain = proxies["plain"].stats()
    assert plain["throttled"] == 0 and plain["requests"] == len(audit.entries)

    throttled = proxies["random"]
    records, scopes, audit = _collect(throttled.url)

    stats = throttled.stats()
    # Every protocol's throttling error was sent, parsed by botocore as throttling, and retried away.
    assert set(stats["throttled_services"]) >= SIGNING_NAMES
    assert [(s.service, s.region, s.error) for s in scopes if s.status != "ok"] == []
    assert records == expected
    # The wire and the audit agree: each request moto answered is one audited call; the refused ones
    # are botocore's retries (or a call that gave up, audited with its throttling code).
    answered = [e for e in audit.entries if not _throttled_outcome(e.outcome)]
    assert stats["requests"] - stats["throttled"] == len(answered)
    assert audit.summary()["all_read_only"] is True


def test_a_call_botocore_gave_up_on_is_tried_again_after_a_pause(proxies):
    expected, _, _ = _collect(proxies["plain"].url, **API_ONLY)

    # botocore does not retry (max_attempts=0); the collector's patience (more tries than refusals) does.
    records, scopes, audit = _collect(proxies["burst"].url, max_attempts=0, throttle_retries=REFUSED,
                                      throttle_base_delay_s=0.2, **API_ONLY)

    assert [(s.service, s.region, s.error) for s in scopes if s.status != "ok"] == []
    assert records == expected
    gave_up = [e for e in audit.entries if _throttled_outcome(e.outcome)]
    assert len(gave_up) == proxies["burst"].stats()["throttled"] == REFUSED
    # Each refused call was audited with its code, then tried again and audited again.
    ok = Counter(e.operation for e in audit.entries if e.outcome == "ok")
    assert all(ok[e.operation] for e in gave_up)


def test_without_patience_a_burst_fails_the_scopes_it_hit_as_throttling(proxies):
    expected, _, _ = _collect(proxies["plain"].url, **API_ONLY)
    records, scopes, audit = _collect(proxies["few"].url, max_attempts=0, throttle_retries=0, **API_ONLY)

    failed = [s for s in scopes if s.status != "ok"]
    assert 1 <= len(failed) <= FEW < len(scopes)
    assert len([e for e in audit.entries if _throttled_outcome(e.outcome)]) == FEW
    # Couldn't read is never empty: each hit scope says throttling, with its hint, and whatever is
    # missing belongs to a type recorded as failed.
    assert {e["class"] for s in failed for e in s.errors} == {"throttling"}
    assert all(e["hint"].startswith("AWS throttled the calls after every retry") for s in failed for e in s.errors)
    failed_types = {e["resource_type"] for s in failed for e in s.errors}
    missing = set(expected) - set(records)
    assert missing and {expected[arn][0] for arn in missing} <= failed_types
    assert {arn: expected[arn] for arn in records} == records


def test_detail_calls_of_one_type_are_in_flight_together(estate):
    with LatencyProxy(estate, latency_s=0.2) as proxy:
        sqs = [REGISTRY["AWS::SQS::Queue"]]
        audit = AuditLog()
        # Tags per queue too (not from the tagging API's listing), for two detail calls per queue.
        settings = CollectionSettings(simulator_url=proxy.url, detail_workers=8, tagging_api=False, **API_ONLY)
        sessions = AccountSessions(simulated_account(), settings, audit)
        [scope] = collect_account(sessions, [REGION], sqs).scopes
        assert sorted(i.payload["QueueUrl"].rsplit("/", 1)[-1] for i in scope.items) == sorted(
            f"queue-{i}" for i in range(QUEUES))
        assert {i.payload["QueueUrl"].rsplit("/", 1)[-1]: i.payload["Tags"] for i in scope.items} == {
            f"queue-{i}": {"Owner": f"team-{i}"} for i in range(QUEUES)}
        # Two detail calls per queue, at most 8 at once: with 200 ms per request, only concurrency
        # puts 8 of them on the wire together (one at a time would keep it at 1).
        assert proxy.stats()["max_in_flight"] == 8
        assert Counter(e.operation for e in audit.entries if e.service == "sqs") == {
            "ListQueues": 1, "GetQueueAttributes": QUEUES, "ListQueueTags": QUEUES}


def test_a_throttled_identity_check_is_waited_out_not_reported_as_rejected_credentials(moto_url):
    """GetCallerIdentity throttled beyond botocore's retries: waited out, or a clear 'could not be checked'."""
    from inventag_pipeline.aws.session import CredentialsError

    with LatencyProxy(moto_url, latency_s=0.0, throttling=Throttling(refuse_next=3)) as proxy:
        audit = AuditLog()
        settings = CollectionSettings(simulator_url=proxy.url, max_attempts=0, throttle_retries=3,
                                      throttle_base_delay_s=0.05)
        sessions = AccountSessions(simulated_account(), settings, audit)
        sessions.resolve_credentials()
        assert sessions.verify_identity() == "arn:aws:sts::123456789012:user/moto"
        outcomes = [e.outcome for e in audit.entries if e.operation == "GetCallerIdentity"]
        assert [_throttled_outcome(o) for o in outcomes] == [True, True, True, False] and outcomes[3] == "ok"

    with LatencyProxy(moto_url, latency_s=0.0, throttling=Throttling(refuse_next=3)) as proxy:
        settings = CollectionSettings(simulator_url=proxy.url, max_attempts=0, throttle_retries=1,
                                      throttle_base_delay_s=0.05)
        sessions = AccountSessions(simulated_account(), settings, AuditLog())
        sessions.resolve_credentials()
        with pytest.raises(CredentialsError, match=r"kept throttling sts:GetCallerIdentity for account \d+ after 2 "
                                                   r"tries, so its credentials could not be checked"):
            sessions.verify_identity()
