"""One resource of every moto-tested security_edge type (core/types/security_edge.py), with expectations.

IAM, Route 53 and CloudFront are account-wide: created once, in the us-east-1 call, with region "global".
The instance profile's role, the group's managed policy and the trail's bucket are the core fixtures'
(`fixtures.create_one_of_each` runs first); when this module runs alone it creates them under the same
names, so no extra role, policy or bucket ever appears beside the core ones.
"""

from __future__ import annotations

import base64
import json

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline_tests.aws.fixtures import TAGS, TRUST, Expected, _kv
from inventag_pipeline_tests.conftest import client

ROLE = "fixture-role"
POLICY = "fixture-policy"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{POLICY}"
INLINE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]})
# At least 1,000 characters (the API minimum): an IdP with one signing certificate (not a real one).
SAML_METADATA = (
    '<?xml version="1.0"?><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="https://idp.example.com/saml"><IDPSSODescriptor '
    'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing">'
    '<KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>'
    + base64.b64encode(bytes(range(256)) * 3).decode()
    + "</X509Certificate></X509Data></KeyInfo></KeyDescriptor></IDPSSODescriptor></EntityDescriptor>"
)
VISIBILITY = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "fixture"}


def create(url: str, region: str) -> list[Expected]:
    out: list[Expected] = []
    if region == "us-east-1":
        out += _create_global(url)
    out += _create_regional(url, region)
    return out


def bucket_for(region: str) -> str:
    return f"fixture-bucket-{region}"


def _ensure_core_iam(url: str) -> None:
    iam = client(url, "iam", "us-east-1")
    if not any(r["RoleName"] == ROLE for r in iam.list_roles()["Roles"]):
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST, Tags=_kv(TAGS))
        iam.create_policy(PolicyName=POLICY, PolicyDocument=INLINE_POLICY, Tags=_kv(TAGS))


def _ensure_core_bucket(url: str, region: str) -> None:
    s3 = client(url, "s3", region)
    if not any(b["Name"] == bucket_for(region) for b in s3.list_buckets()["Buckets"]):
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket_for(region), **kwargs)


def _create_global(url: str) -> list[Expected]:
    _ensure_core_iam(url)
    iam = client(url, "iam", "us-east-1")
    group = iam.create_group(GroupName="edge-auditors")["Group"]
    iam.attach_group_policy(GroupName="edge-auditors", PolicyArn=POLICY_ARN)
    iam.put_group_policy(GroupName="edge-auditors", PolicyName="edge-inline", PolicyDocument=INLINE_POLICY)
    profile = iam.create_instance_profile(InstanceProfileName="edge-profile", Tags=_kv(TAGS))["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="edge-profile", RoleName=ROLE)
    oidc = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"], Tags=_kv(TAGS))["OpenIDConnectProviderArn"]
    # Untagged: moto's GetSAMLProvider does not return tags (AWS does; see test_types_security_edge).
    saml = iam.create_saml_provider(Name="edge-idp", SAMLMetadataDocument=SAML_METADATA)["SAMLProviderArn"]

    route53 = client(url, "route53", "us-east-1")
    check = route53.create_health_check(CallerReference="edge-check", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "www.example.com", "Port": 443, "ResourcePath": "/health",
        "RequestInterval": 30, "FailureThreshold": 3})["HealthCheck"]["Id"]
    route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check, AddTags=_kv(TAGS))

    distribution = client(url, "cloudfront", "us-east-1").create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": {
            "CallerReference": "edge-distribution", "Comment": "fixture", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "edge-site.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0}},
        },
        "Tags": {"Items": _kv(TAGS)},
    })["Distribution"]
    return [
        Expected("AWS::IAM::Group", group["Arn"], "global", "edge-auditors", {}),
        Expected("AWS::IAM::InstanceProfile", profile["Arn"], "global", "edge-profile", TAGS),
        Expected("AWS::IAM::OIDCProvider", oidc, "global", "token.actions.githubusercontent.com", TAGS),
        Expected("AWS::IAM::SAMLProvider", saml, "global", "saml-provider/edge-idp", {}),
        Expected("AWS::Route53::HealthCheck", f"arn:aws:route53:::healthcheck/{check}", "global",
                 "www.example.com", TAGS),
        Expected("AWS::CloudFront::Distribution", distribution["ARN"], "global", distribution["DomainName"], TAGS),
    ]


def _create_regional(url: str, region: str) -> list[Expected]:
    out: list[Expected] = []
    kms = client(url, "kms", region)
    key = kms.create_key(Description=f"edge key {region}")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/edge-{region}", TargetKeyId=key["KeyId"])
    out += [
        Expected("AWS::KMS::Key", key["Arn"], region, f"edge key {region}", {}),
        Expected("AWS::KMS::Alias", f"arn:aws:kms:{region}:{ACCOUNT}:alias/edge-{region}", region,
                 f"alias/edge-{region}", {}),
    ]

    waf = client(url, "wafv2", region)
    ip_set = waf.create_ip_set(Name=f"edge-blocked-{region}", Scope="REGIONAL", IPAddressVersion="IPV4",
                               Addresses=["192.0.2.0/24"], Tags=_kv(TAGS))["Summary"]
    patterns = waf.create_regex_pattern_set(Name=f"edge-paths-{region}", Scope="REGIONAL",
                                            RegularExpressionList=[{"RegexString": "^/admin"}],
                                            Tags=_kv(TAGS))["Summary"]
    rule_group = waf.create_rule_group(
        Name=f"edge-rules-{region}", Scope="REGIONAL", Capacity=10, VisibilityConfig=VISIBILITY, Tags=_kv(TAGS),
        Rules=[{"Name": "block-listed", "Priority": 1, "Action": {"Block": {}}, "VisibilityConfig": VISIBILITY,
                "Statement": {"IPSetReferenceStatement": {"ARN": ip_set["ARN"]}}}])["Summary"]
    web_acl = waf.create_web_acl(
        Name=f"edge-acl-{region}", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY,
        Tags=_kv(TAGS),
        Rules=[{"Name": "edge-rules", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": VISIBILITY,
                "Statement": {"RuleGroupReferenceStatement": {"ARN": rule_group["ARN"]}}}])["Summary"]
    out += [
        Expected("AWS::WAFv2::IPSet", ip_set["ARN"], region, f"edge-blocked-{region}", TAGS),
        Expected("AWS::WAFv2::RegexPatternSet", patterns["ARN"], region, f"edge-paths-{region}", TAGS),
        Expected("AWS::WAFv2::RuleGroup", rule_group["ARN"], region, f"edge-rules-{region}", TAGS),
        Expected("AWS::WAFv2::WebACL", web_acl["ARN"], region, f"edge-acl-{region}", TAGS),
    ]

    _ensure_core_bucket(url, region)
    bucket = bucket_for(region)
    # Untagged: trail tags are not collected (see the type's description).
    trail = client(url, "cloudtrail", region).create_trail(
        Name=f"edge-trail-{region}", S3BucketName=bucket, IsMultiRegionTrail=region == "us-east-1",
        EnableLogFileValidation=True)["TrailARN"]
    out.append(Expected("AWS::CloudTrail::Trail", trail, region, f"edge-trail-{region}", {}))

    config = client(url, "config", region)
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": ROLE_ARN,
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == "us-east-1"}})
    config.put_delivery_channel(DeliveryChannel={
        "name": "default", "s3BucketName": bucket,
        "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"}})
    config.put_config_rule(ConfigRule={
        "ConfigRuleName": "edge-s3-versioning", "InputParameters": '{"isMfaDeleteEnabled": "false"}',
        "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
        "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]}}, Tags=_kv(TAGS))
    rule_arn = config.describe_config_rules(ConfigRuleNames=["edge-s3-versioning"])["ConfigRules"][0]["ConfigRuleArn"]
    out += [
        Expected("AWS::Config::ConfigurationRecorder",
                 f"arn:aws:config:{region}:{ACCOUNT}:configuration-recorder/default", region, "default", {}),
        Expected("AWS::Config::DeliveryChannel", f"arn:aws:config:{region}:{ACCOUNT}:delivery-channel/default",
                 region, "default", {}),
        Expected("AWS::Config::ConfigRule", rule_arn, region, "edge-s3-versioning", TAGS),
    ]

    detector = client(url, "guardduty", region).create_detector(
        Enable=True, FindingPublishingFrequency="SIX_HOURS", Tags=TAGS)["DetectorId"]
    out.append(Expected("AWS::GuardDuty::Detector", f"arn:aws:guardduty:{region}:{ACCOUNT}:detector/{detector}",
                        region, None, TAGS))

    certificate = client(url, "acm", region).request_certificate(
        DomainName=f"{region}.example.com", ValidationMethod="DNS",
        SubjectAlternativeNames=[f"www.{region}.example.com"], Tags=_kv(TAGS))["CertificateArn"]
    out.append(Expected("AWS::CertificateManager::Certificate", certificate, region, f"{region}.example.com", TAGS))
    return out
