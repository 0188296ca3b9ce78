"""The security_edge types (core/types/security_edge.py): details against moto, real-AWS shapes with Stubber."""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from inventag_pipeline.aws.collector import RawItem, _Counter, collect_account, collect_type
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import CanonicalRecord, canonical_record
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.snapshot import relationships_table
from inventag_pipeline.core.types.security_edge import TYPES
from inventag_pipeline_tests.aws import fixtures_security_edge
from inventag_pipeline_tests.conftest import client

REGIONS = ["us-east-1", "eu-west-1"]
MOTO_TYPES = [t for t in TYPES if t.tested_with == "moto"]
FAMILY = {t.cfn_type for t in TYPES}
COLLECTED_AT = "2026-01-02T03:04:05Z"


def _record(item: RawItem) -> CanonicalRecord:
    return canonical_record(REGISTRY[item.resource_type], item.payload, account_id=ACCOUNT, region=item.region,
                            collected_at=COLLECTED_AT)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Iterator[tuple[str, list[Any], list[RawItem]]]:
    """Every security_edge fixture in both regions, collected once through the guard (these types only).

    Module-scoped, with its own moto server, so the detail tests share one collection.
    """
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith(("AWS_", "INVENTAG_"))]:
            env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", str(tmp_path_factory.mktemp("aws") / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path_factory.mktemp("aws") / "no-aws-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            requests.post(f"{url}/moto-api/reset", timeout=10)
            expected = fixtures_security_edge.create(url, "us-east-1") + fixtures_security_edge.create(url, "eu-west-1")
            audit = AuditLog()
            sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), audit)
            collection = collect_account(sessions, REGIONS, types=MOTO_TYPES)
            assert [(s.service, s.region, s.error) for s in collection.scopes if s.status != "ok"] == []
            assert (audit.summary()["refused"], audit.summary()["all_read_only"]) == (0, True)
            yield url, expected, [i for s in collection.scopes for i in s.items]
        finally:
            server.stop()


def _by_name(items: list[RawItem]) -> dict[tuple[str, str | None], CanonicalRecord]:
    """(type, name) -> record for the us-east-1 and global records."""
    records = [_record(i) for i in items if i.region in ("us-east-1", "global")]
    return {(r.resource_type, r.name): r for r in records}


def test_every_type_is_collected_with_exact_identity(collected):
    moto_url, expected, items = collected
    records = [_record(i) for i in items]
    managed_aliases = {(a["AliasArn"], region) for region in REGIONS
                       for a in client(moto_url, "kms", region).list_aliases()["Aliases"]
                       if a["AliasName"].startswith("alias/aws/")}
    assert {(r.resource_type, r.arn, r.region, r.name, tuple(sorted(r.tags.items()))) for r in records} == {
        (e.resource_type, e.arn, e.region, e.name, tuple(sorted(e.tags.items())))
        for e in expected if e.resource_type in FAMILY
    } | {("AWS::KMS::Alias", arn, region, arn.split(":", 5)[5], ()) for arn, region in managed_aliases}
    # A multi-region trail is listed in its home region only, never again as a shadow elsewhere.
    assert sorted((r.region, r.name) for r in records if r.resource_type == "AWS::CloudTrail::Trail") == [
        ("eu-west-1", "edge-trail-eu-west-1"), ("us-east-1", "edge-trail-us-east-1")]


def test_identity_and_access_details(collected):
    moto_url, _, items = collected
    records = _by_name(items)
    group = records[("AWS::IAM::Group", "edge-auditors")].configuration
    assert group["AttachedManagedPolicies"] == [
        {"PolicyArn": fixtures_security_edge.POLICY_ARN, "PolicyName": "fixture-policy"}]
    assert group["InlinePolicyNames"] == ["edge-inline"]
    profile = records[("AWS::IAM::InstanceProfile", "edge-profile")].configuration
    assert [(r["RoleName"], r["Arn"]) for r in profile["Roles"]] == [
        ("fixture-role", fixtures_security_edge.ROLE_ARN)]
    oidc = records[("AWS::IAM::OIDCProvider", "token.actions.githubusercontent.com")].configuration
    assert (oidc["Url"], oidc["ClientIDList"], oidc["ThumbprintList"]) == (
        "token.actions.githubusercontent.com", ["sts.amazonaws.com"], ["6938fd4d98bab03faadb97b34396831e3780aea1"])
    saml = records[("AWS::IAM::SAMLProvider", "saml-provider/edge-idp")].configuration
    assert saml["SAMLMetadataDocument"] == fixtures_security_edge.SAML_METADATA
    alias = records[("AWS::KMS::Alias", "alias/edge-us-east-1")].configuration
    target = client(moto_url, "kms").describe_key(KeyId="alias/edge-us-east-1")["KeyMetadata"]["KeyId"]
    assert alias["TargetKeyId"] == target


def test_edge_details(collected):
    _, _, items = collected
    records = _by_name(items)
    check = records[("AWS::Route53::HealthCheck", "www.example.com")].configuration
    assert {k: check["HealthCheckConfig"][k] for k in ("Type", "Port", "ResourcePath", "FailureThreshold")} == {
        "Type": "HTTPS", "Port": 443, "ResourcePath": "/health", "FailureThreshold": 3}
    acl = records[("AWS::WAFv2::WebACL", "edge-acl-us-east-1")].configuration
    assert (acl["DefaultAction"], [r["Name"] for r in acl["Rules"]]) == ({"Allow": {}}, ["edge-rules"])
    assert "LoggingConfiguration" not in acl  # none configured: absent, not an error
    assert records[("AWS::WAFv2::IPSet", "edge-blocked-us-east-1")].configuration["Addresses"] == ["192.0.2.0/24"]
    patterns = records[("AWS::WAFv2::RegexPatternSet", "edge-paths-us-east-1")].configuration
    assert patterns["RegularExpressionList"] == [{"RegexString": "^/admin"}]
    rule_group = records[("AWS::WAFv2::RuleGroup", "edge-rules-us-east-1")].configuration
    assert (rule_group["Capacity"], [r["Name"] for r in rule_group["Rules"]]) == (10, ["block-listed"])
    distribution = next(r for (t, _), r in records.items() if t == "AWS::CloudFront::Distribution").configuration
    assert [(o["Id"], o["DomainName"]) for o in distribution["Origins"]["Items"]] == [
        ("site", "edge-site.s3.amazonaws.com")]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_audit_details(collected):
    _, _, items = collected
    records = _by_name(items)
    trail = records[("AWS::CloudTrail::Trail", "edge-trail-us-east-1")].configuration
    assert (trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"], trail["Status"]["IsLogging"],
            trail["EventSelectors"]) == (True, True, False, [])
    recorder = records[("AWS::Config::ConfigurationRecorder", "default")].configuration
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["Status"] == [{"name": "default", "recording": False}]
    channel = records[("AWS::Config::DeliveryChannel", "default")].configuration
    assert channel["s3BucketName"] == "fixture-bucket-us-east-1"
    rule = records[("AWS::Config::ConfigRule", "edge-s3-versioning")].configuration
    assert (rule["InputParameters"], rule["ConfigRuleState"]) == ({"isMfaDeleteEnabled": "false"}, "ACTIVE")
    detector = next(r for (t, _), r in records.items() if t == "AWS::GuardDuty::Detector").configuration
    assert (detector["Status"], detector["FindingPublishingFrequency"]) == ("ENABLED", "SIX_HOURS")
    certificate = records[("AWS::CertificateManager::Certificate", "us-east-1.example.com")].configuration
    assert certificate["SubjectAlternativeNames"] == ["us-east-1.example.com", "www.us-east-1.example.com"]
    assert [(o["DomainName"], o["ValidationMethod"]) for o in certificate["DomainValidationOptions"]] == [
        ("us-east-1.example.com", "DNS"), ("www.us-east-1.example.com", "DNS")]


def test_relationships(collected):
    _, _, items = collected
    records = [_record(i) for i in items if i.region in ("us-east-1", "global")]
    by_type = {r.resource_type: r for r in records if ":alias/aws/" not in r.arn}
    # WAF rule references (web ACL -> rule group -> IP set) are asserted in the test below.
    edges = {(e["source_arn"], e["relation"], e["target_type"], e["target_ref"])
             for e in relationships_table(records).to_pylist()
             if ":alias/aws/" not in e["source_arn"] and not e["target_type"].startswith("AWS::WAFv2::")}
    role, bucket = fixtures_security_edge.ROLE_ARN, "fixture-bucket-us-east-1"
    assert edges == {
        (by_type["AWS::IAM::Group"].arn, "AttachedManagedPolicies[].PolicyArn", "AWS::IAM::ManagedPolicy",
         fixtures_security_edge.POLICY_ARN),
        (by_type["AWS::IAM::InstanceProfile"].arn, "Roles[].Arn", "AWS::IAM::Role", role),
        (by_type["AWS::KMS::Alias"].arn, "TargetKeyId", "AWS::KMS::Key",
         by_type["AWS::KMS::Alias"].configuration["TargetKeyId"]),
        (by_type["AWS::CloudTrail::Trail"].arn, "S3BucketName", "AWS::S3::Bucket", bucket),
        (by_type["AWS::Config::ConfigurationRecorder"].arn, "roleARN", "AWS::IAM::Role", role),
        (by_type["AWS::Config::DeliveryChannel"].arn, "s3BucketName", "AWS::S3::Bucket", bucket),
        (by_type["AWS::GuardDuty::Detector"].arn, "ServiceRole", "AWS::IAM::Role",
         f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"),
    }


def test_waf_rule_references_become_relationships(collected):
    _, _, items = collected
    records = [_record(i) for i in items if i.region == "us-east-1" and i.resource_type.startswith("AWS::WAFv2")]
    arns = {r.name: r.arn for r in records}
    edges = {(e["source_arn"], e["target_type"], e["target_ref"]) for e in relationships_table(records).to_pylist()}
    assert edges == {
        (arns["edge-acl-us-east-1"], "AWS::WAFv2::RuleGroup", arns["edge-rules-us-east-1"]),
        (arns["edge-rules-us-east-1"], "AWS::WAFv2::IPSet", arns["edge-blocked-us-east-1"]),
    }


def _set(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        payload = payload[int(part)] if part.isdigit() else payload.setdefault(part, {})
    payload[last] = value


# (type, name, a volatile-only change, a configuration change), as dotted paths into the raw payload.
HASH_CASES = [
    ("AWS::Route53::HealthCheck", "www.example.com", {"HealthCheckVersion": 7},
     {"HealthCheckConfig.FailureThreshold": 5}),
    ("AWS::WAFv2::WebACL", "edge-acl-us-east-1", {"LockToken": "another-token"}, {"DefaultAction": {"Block": {}}}),
    ("AWS::WAFv2::IPSet", "edge-blocked-us-east-1", {"LockToken": "another-token"},
     {"Addresses": ["192.0.2.0/24", "198.51.100.0/24"]}),
    ("AWS::IAM::InstanceProfile", "edge-profile",
     {"Roles.0.RoleLastUsed": {"LastUsedDate": "2026-01-01T00:00:00Z", "Region": "us-east-1"},
      "Roles.0.MaxSessionDuration": 7200},
     {"Roles.0.Arn": f"arn:aws:iam::{ACCOUNT}:role/other"}),
    ("AWS::KMS::Alias", "alias/edge-us-east-1", {"LastUpdatedDate": "2026-01-01T00:00:00Z"},
     {"TargetKeyId": "00000000-0000-0000-0000-000000000000"}),
    ("AWS::GuardDuty::Detector", None, {"UpdatedAt": "2026-01-01T00:00:00Z"},
     {"FindingPublishingFrequency": "ONE_HOUR"}),
    ("AWS::CloudTrail::Trail", "edge-trail-us-east-1",
     {"Status.LatestDeliveryTime": "2026-01-01T00:00:00Z", "Status.LatestDeliveryAttemptSucceeded": "2026-01-01"},
     {"LogFileValidationEnabled": False}),
    ("AWS::Config::ConfigurationRecorder", "default", {"Status.0.lastStatusChangeTime": "2026-01-01T00:00:00Z"},
     {"recordingGroup.allSupported": False}),
]


def _rehash(item: RawItem, changes: dict[str, Any]) -> str:
    """The content hash of `item` with the given raw-payload paths changed."""
    payload = copy.deepcopy(item.payload)
    for path, value in changes.items():
        _set(payload, path, value)
    return _record(RawItem(item.resource_type, item.region, payload)).content_hash


@pytest.mark.parametrize("cfn_type,name,volatile,changed", HASH_CASES, ids=[c[0] for c in HASH_CASES])
def test_volatile_only_changes_keep_the_content_hash(collected, cfn_type, name, volatile, changed):
    _, _, items = collected
    item = next(i for i in items if i.resource_type == cfn_type and i.region in ("us-east-1", "global")
                and _record(i).name == name)
    before = _record(item).content_hash
    assert _rehash(item, volatile) == before
    assert _rehash(item, changed) != before


# --- Stubber: real-AWS shapes moto does not return ---------------------------------------------------------


def _stubbed(service: str, region: str) -> tuple[Any, Stubber]:
    real = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    return real, Stubber(real)


def _collect_stubbed(cfn_type: str, region: str, arrange: Callable[[Stubber], None]) -> list[RawItem]:
    """The real collect_type over a Stubber-wrapped real client; every arranged response must be used."""
    rtype = REGISTRY[cfn_type]
    real, stubber = _stubbed(rtype.service, "us-east-1" if rtype.is_global else region)
    arrange(stubber)
    with stubber:
        items = collect_type(rtype, lambda _region: real, region, _Counter())
        stubber.assert_no_pending_responses()
    return items


T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_saml_provider_tags_come_from_get_saml_provider():
    arn = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp-idp"

    def arrange(stub: Stubber) -> None:
        stub.add_response("list_saml_providers", {"SAMLProviderList": [
            {"Arn": arn, "ValidUntil": dt.datetime(2035, 1, 1, tzinfo=dt.timezone.utc), "CreateDate": T0}]}, {})
        stub.add_response("get_saml_provider", {
            "SAMLProviderUUID": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
            "SAMLMetadataDocument": fixtures_security_edge.SAML_METADATA,
            "CreateDate": T0, "ValidUntil": dt.datetime(2035, 1, 1, tzinfo=dt.timezone.utc),
            "Tags": [{"Key": "Owner", "Value": "identity@example.com"}],
            "AssertionEncryptionMode": "Allowed",
            "PrivateKeyList": [{"KeyId": "KEYID1EXAMPLE123456789", "Timestamp": T0}],
        }, {"SAMLProviderArn": arn})

    [record] = map(_record, _collect_stubbed("AWS::IAM::SAMLProvider", "global", arrange))
    assert (record.arn, record.region, record.name, record.tags) == (
        arn, "global", "saml-provider/corp-idp", {"Owner": "identity@example.com"})
    assert {k: record.configuration[k] for k in ("ValidUntil", "AssertionEncryptionMode", "PrivateKeyList")} == {
        "ValidUntil": "2035-01-01T00:00:00Z", "AssertionEncryptionMode": "Allowed",
        "PrivateKeyList": [{"KeyId": "KEYID1EXAMPLE123456789", "Timestamp": "2025-03-01T12:00:00Z"}]}
    assert record.configuration["SAMLMetadataDocument"] == fixtures_security_edge.SAML_METADATA


def test_configuration_recorder_uses_the_arn_aws_returns():
    arn = f"arn:aws:config:eu-west-1:{ACCOUNT}:configuration-recorder/default/k0abcd1234efgh56"
    status = {"arn": arn, "name": "default", "lastStartTime": T0, "recording": True, "lastStatus": "SUCCESS",
              "lastStatusChangeTime": dt.datetime(2025, 3, 2, 8, 0, tzinfo=dt.timezone.utc)}

    def arrange(stub: Stubber) -> None:
        stub.add_response("describe_configuration_recorders", {"ConfigurationRecorders": [{
            "arn": arn, "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config-recorder",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": False},
            "recordingMode": {"recordingFrequency": "DAILY"},
            "recordingScope": "PAID"}]}, {})
        stub.add_response("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": [status]}, {})

    [record] = map(_record, _collect_stubbed("AWS::Config::ConfigurationRecorder", "eu-west-1", arrange))
    assert (record.arn, record.region, record.name, record.tags) == (arn, "eu-west-1", "default", {})
    assert record.configuration["recordingMode"] == {"recordingFrequency": "DAILY"}
    assert record.configuration["Status"] == [{
        "arn": arn, "name": "default", "lastStartTime": "2025-03-01T12:00:00Z", "recording": True,
        "lastStatus": "SUCCESS", "lastStatusChangeTime": "2025-03-02T08:00:00Z"}]


def test_trail_status_timestamps_are_volatile_and_logging_is_state():
    arn = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/org-audit"
    delivered = dt.datetime(2025, 3, 2, 9, 15, tzinfo=dt.timezone.utc)

    def arrange(stub: Stubber) -> None:
        stub.add_response("describe_trails", {"trailList": [{
            "Name": "org-audit", "S3BucketName": "org-audit-logs", "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": True, "HomeRegion": "eu-west-1", "TrailARN": arn, "LogFileValidationEnabled": True,
            "KmsKeyId": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "HasCustomEventSelectors": True, "HasInsightSelectors": False, "IsOrganizationTrail": False}]},
            {"includeShadowTrails": False})
        stub.add_response("get_trail_status", {
            "IsLogging": True, "LatestDeliveryTime": delivered, "LatestDigestDeliveryTime": delivered,
            "StartLoggingTime": T0, "LatestDeliveryAttemptTime": "2025-03-02T09:15:00Z",
            "LatestDeliveryAttemptSucceeded": "2025-03-02T09:15:00Z", "TimeLoggingStarted": "2025-03-01T12:00:00Z",
            "LatestNotificationAttemptTime": "", "LatestNotificationAttemptSucceeded": "",
            "TimeLoggingStopped": ""}, {"Name": arn})
        stub.add_response("get_event_selectors", {"TrailARN": arn, "EventSelectors": [{
            "ReadWriteType": "All", "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]}, {"TrailName": arn})

    [item] = _collect_stubbed("AWS::CloudTrail::Trail", "eu-west-1", arrange)
    record = _record(item)
    assert (record.arn, record.region, record.name, record.tags) == (arn, "eu-west-1", "org-audit", {})
    assert record.configuration["EventSelectors"] == [{
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}], "IncludeManagementEvents": True,
        "ReadWriteType": "All"}]
    assert (record.configuration["Status"]["IsLogging"], record.configuration["Status"]["LatestDeliveryTime"]) == (
        True, "2025-03-02T09:15:00Z")
    later = "2025-03-03T09:15:00Z"
    assert _rehash(item, {"Status.LatestDeliveryTime": later, "Status.LatestDigestDeliveryTime": later,
                          "Status.LatestDeliveryAttemptTime": later,
                          "Status.LatestDeliveryAttemptSucceeded": later}) == record.content_hash
    # Logging stopped is a change (reported as operational state), not noise.
    assert _rehash(item, {"Status.IsLogging": False}) != record.content_hash
    assert "Status.IsLogging" in REGISTRY["AWS::CloudTrail::Trail"].operational_paths


KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]


def test_certificate_not_after_is_configuration():
    arn = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"
    not_after = dt.datetime(2026, 4, 1, 23, 59, 59, tzinfo=dt.timezone.utc)

    def arrange(stub: Stubber) -> None:
        stub.add_response("list_certificates", {"CertificateSummaryList": [{
            "CertificateArn": arn, "DomainName": "api.example.com", "Status": "ISSUED", "Type": "AMAZON_ISSUED",
            "KeyAlgorithm": "EC_prime256v1", "InUse": True, "RenewalEligibility": "ELIGIBLE",
            "NotBefore": T0, "NotAfter": not_after}]}, {"Includes": {"keyTypes": KEY_TYPES}})
        stub.add_response("describe_certificate", {"Certificate": {
            "CertificateArn": arn, "DomainName": "api.example.com", "SubjectAlternativeNames": ["api.example.com"],
            "DomainValidationOptions": [{"DomainName": "api.example.com", "ValidationStatus": "SUCCESS",
                                         "ValidationMethod": "DNS"}],
            "Serial": "0a:1b:2c", "Subject": "CN=api.example.com", "Issuer": "Amazon", "CreatedAt": T0,
            "IssuedAt": T0, "Status": "ISSUED", "NotBefore": T0, "NotAfter": not_after,
            "KeyAlgorithm": "EC_prime256v1", "SignatureAlgorithm": "SHA256WITHRSA",
            "InUseBy": [f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:loadbalancer/app/api/50dc6c495c0c9188"],
            "Type": "AMAZON_ISSUED", "RenewalEligibility": "ELIGIBLE",
            "RenewalSummary": {"RenewalStatus": "SUCCESS", "DomainValidationOptions": [
                {"DomainName": "api.example.com", "ValidationStatus": "SUCCESS"}],
                "UpdatedAt": dt.datetime(2025, 3, 1, 13, 0, tzinfo=dt.timezone.utc)},
            "Options": {"CertificateTransparencyLoggingPreference": "ENABLED"}}}, {"CertificateArn": arn})
        stub.add_response("list_tags_for_certificate", {"Tags": [{"Key": "Environment", "Value": "prod"}]},
                          {"CertificateArn": arn})

    [item] = _collect_stubbed("AWS::CertificateManager::Certificate", "eu-west-1", arrange)
    record = _record(item)
    assert (record.arn, record.region, record.name, record.tags) == (
        arn, "eu-west-1", "api.example.com", {"Environment": "prod"})
    assert (record.configuration["NotAfter"], record.configuration["KeyAlgorithm"]) == (
        "2026-04-01T23:59:59Z", "EC_prime256v1")
    assert _rehash(item, {"RenewalSummary.UpdatedAt": "2025-04-01T00:00:00Z"}) == record.content_hash
    assert _rehash(item, {"NotAfter": "2027-04-01T23:59:59Z"}) != record.content_hash


def test_instance_profile_tags_come_from_get_instance_profile():
    arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/web"
    role = {"Path": "/", "RoleName": "web", "RoleId": "AROAEXAMPLEID1234567", "Arn": f"arn:aws:iam::{ACCOUNT}:role/web",
            "CreateDate": T0, "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D"}
    profile = {"Path": "/", "InstanceProfileName": "web", "InstanceProfileId": "AIPAEXAMPLEID1234567", "Arn": arn,
               "CreateDate": T0, "Roles": [role]}

    def arrange(stub: Stubber) -> None:
        # ListInstanceProfiles leaves tags out (documented); GetInstanceProfile has them.
        stub.add_response("list_instance_profiles", {"InstanceProfiles": [profile], "IsTruncated": False}, {})
        # A copy: botocore decodes the role's policy document in place when the response arrives.
        stub.add_response("get_instance_profile", {"InstanceProfile": dict(
            copy.deepcopy(profile), Tags=[{"Key": "Environment", "Value": "prod"}])}, {"InstanceProfileName": "web"})

    [record] = map(_record, _collect_stubbed("AWS::IAM::InstanceProfile", "global", arrange))
    assert (record.arn, record.region, record.name, record.tags) == (arn, "global", "web", {"Environment": "prod"})
    assert [r["Arn"] for r in record.configuration["Roles"]] == [f"arn:aws:iam::{ACCOUNT}:role/web"]
