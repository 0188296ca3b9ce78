"""The network types (core/types/network.py): details and relationships against moto, snapshots with Stubber."""

from __future__ import annotations

import copy
import datetime as dt
import json

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from inventag_pipeline.aws.collector import _Counter, collect_account, collect_type
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import canonical_record
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.snapshot import relationships_table
from inventag_pipeline.core.types.network import TYPES
from inventag_pipeline_tests.aws.fixtures import TAGS
from inventag_pipeline_tests.aws.fixtures_network import ENDPOINT_POLICY, FLOW_LOG_ROLE, TARGET_IP, create
from inventag_pipeline_tests.conftest import client

REGION = "eu-west-1"
MOTO_TYPES = [t for t in TYPES if t.tested_with == "moto"]
COLLECTED_AT = "2026-01-01T00:00:00Z"
# Every call collecting this family makes (plus the identity check): reads only.
EXPECTED_OPERATIONS = {
    "ec2:DescribeAddresses", "ec2:DescribeCustomerGateways", "ec2:DescribeDhcpOptions",
    "ec2:DescribeEgressOnlyInternetGateways", "ec2:DescribeFlowLogs", "ec2:DescribeImages",
    "ec2:DescribeInternetGateways", "ec2:DescribeKeyPairs", "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeLaunchTemplates", "ec2:DescribeNatGateways", "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables", "ec2:DescribeTransitGateways",
    "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeVpnGateways",
    "elb:DescribeLoadBalancerAttributes", "elb:DescribeLoadBalancers", "elb:DescribeTags",
    "elbv2:DescribeListeners", "elbv2:DescribeLoadBalancerAttributes", "elbv2:DescribeLoadBalancers",
    "elbv2:DescribeTags", "elbv2:DescribeTargetGroupAttributes", "elbv2:DescribeTargetGroups",
    "elbv2:DescribeTargetHealth", "sts:GetCallerIdentity",
}


def _record(rtype: str, payload: dict):
    return canonical_record(REGISTRY[rtype], payload, account_id=ACCOUNT, region=REGION, collected_at=COLLECTED_AT)


@pytest.fixture(scope="module")
def world():
    """The family's fixtures in one region plus a deleted NAT gateway, collected once through the guard."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        requests.post(f"{url}/moto-api/reset", timeout=10)
        expected = create(url, REGION)
        ec2 = client(url, "ec2", REGION)
        subnet = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.60.2.0/24"]}])["Subnets"][0]
        deleted_nat = ec2.create_nat_gateway(SubnetId=subnet["SubnetId"], ConnectivityType="private")
        ec2.delete_nat_gateway(NatGatewayId=deleted_nat["NatGateway"]["NatGatewayId"])
        audit = AuditLog()
        sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), audit)
        collection = collect_account(sessions, [REGION], types=MOTO_TYPES)
    finally:
        server.stop()
    assert [(s.service, s.error) for s in collection.scopes if s.status != "ok"] == []
    pairs = [(canonical_record(REGISTRY[i.resource_type], i.payload, account_id=collection.account_id, region=i.region,
                               collected_at=collection.collected_at), i.payload)
             for s in collection.scopes for i in s.items]
    records = {r.arn: r for r, _ in pairs}
    assert len(records) == len(pairs)
    payloads = {r.arn: payload for r, payload in pairs}
    return {e.resource_type: e for e in expected}, records, payloads, audit


def test_every_moto_type_is_collected_with_exact_identity(world):
    expected, records, _, audit = world
    assert set(expected) == {t.cfn_type for t in MOTO_TYPES}
    assert {(e.resource_type, e.arn, e.region, e.name, json.dumps(e.tags, sort_keys=True)) for e in expected.values()} \
        <= {(r.resource_type, r.arn, r.region, r.name, json.dumps(r.tags, sort_keys=True)) for r in records.values()}
    assert set(audit.operation_counts()) == EXPECTED_OPERATIONS
    assert audit.summary()["refused"] == 0
    # The deleted NAT gateway is filtered out by the list call; only the fixture's remains.
    assert [r.arn for r in records.values() if r.resource_type == "AWS::EC2::NatGateway"] == [
        expected["AWS::EC2::NatGateway"].arn]


def test_load_balancer_listeners_attributes_and_target_group(world):
    expected, records, _, _ = world
    lb_arn = expected["AWS::ElasticLoadBalancingV2::LoadBalancer"].arn
    tg_arn = expected["AWS::ElasticLoadBalancingV2::TargetGroup"].arn
    lb = records[lb_arn].configuration
    assert [(listener["Port"], listener["Protocol"], listener["DefaultActions"]) for listener in lb["Listeners"]] == [
        (80, "HTTP", [{"TargetGroupArn": tg_arn, "Type": "forward"}])]
    assert {a["Key"]: a["Value"] for a in lb["Attributes"]} == {
        "access_logs.s3.bucket": "", "access_logs.s3.prefix": "", "deletion_protection.enabled": "true",
        "load_balancing.cross_zone.enabled": "false"}
    assert (lb["Scheme"], lb["Type"], lb["State"]) == ("internal", "application", {"Code": "active"})
    # Tags come from DescribeTags, asked for this one load balancer, and leave the configuration.
    assert (records[lb_arn].tags, records[tg_arn].tags, "Tags" in lb) == (TAGS, TAGS, False)

    tg = records[tg_arn].configuration
    assert tg["Targets"] == [{"HealthCheckPort": "traffic-port", "Target": {"Id": TARGET_IP, "Port": 8080},
                              "TargetHealth": {"State": "healthy"}}]
    assert (tg["LoadBalancerArns"], tg["TargetType"], tg["HealthCheckPath"]) == ([lb_arn], "ip", "/health")
    assert {a["Key"]: a["Value"] for a in tg["Attributes"]}["deregistration_delay.timeout_seconds"] == "300"

    classic = records[expected["AWS::ElasticLoadBalancing::LoadBalancer"].arn].configuration
    assert classic["ListenerDescriptions"] == [{
        "Listener": {"InstancePort": 8080, "InstanceProtocol": "HTTP", "LoadBalancerPort": 80, "Protocol": "HTTP"},
        "PolicyNames": []}]
    assert classic["Attributes"] == {
        "AccessLog": {"Enabled": False}, "AdditionalAttributes": [], "ConnectionDraining": {"Enabled": False},
        "ConnectionSettings": {"IdleTimeout": 60}, "CrossZoneLoadBalancing": {"Enabled": False}}


def test_vpc_plumbing_details(world):
    expected, records, _, _ = world
    config = {t: records[e.arn].configuration for t, e in expected.items()}
    nat = config["AWS::EC2::NatGateway"]["NatGatewayId"]
    eigw = config["AWS::EC2::EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
    endpoint = config["AWS::EC2::VPCEndpoint"]
    routes = config["AWS::EC2::RouteTable"]["Routes"]
    assert [(r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock") or r["DestinationPrefixListId"],
             r.get("GatewayId") or r.get("NatGatewayId") or r.get("EgressOnlyInternetGatewayId")) for r in routes] == [
        (routes[0]["DestinationPrefixListId"], endpoint["VpcEndpointId"]),
        ("::/0", eigw), ("0.0.0.0/0", nat), ("10.60.0.0/16", "local")]
    assert endpoint["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
         "Resource": [ENDPOINT_POLICY["Statement"][0]["Resource"]]}]
    assert [(e["RuleNumber"], e["Egress"], e["Protocol"], e["CidrBlock"], e.get("PortRange")) for e in
            config["AWS::EC2::NetworkAcl"]["Entries"]] == [
        (100, False, "6", "10.0.0.0/8", {"From": 443, "To": 443}), (100, True, "-1", "0.0.0.0/0", None)]
    assert config["AWS::EC2::DHCPOptions"]["DhcpConfigurations"] == [
        {"Key": "domain-name", "Values": [{"Value": "fixture.internal"}]},
        {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]}]
    eip = config["AWS::EC2::EIP"]
    assert config["AWS::EC2::NatGateway"]["NatGatewayAddresses"][0]["AllocationId"] == eip["AllocationId"]
    flow_log = config["AWS::EC2::FlowLog"]
    assert (flow_log["TrafficType"], flow_log["LogGroupName"], flow_log["DeliverLogsPermissionArn"]) == (
        "REJECT", f"fixture-flow-logs-{REGION}", FLOW_LOG_ROLE)
    assert config["AWS::EC2::VPCPeeringConnection"]["Status"] == {"Code": "active", "Message": "Active"}
    assert config["AWS::EC2::VPNGateway"]["VpcAttachments"][0]["State"] == "attached"
    assert (config["AWS::EC2::CustomerGateway"]["IpAddress"], config["AWS::EC2::CustomerGateway"]["BgpAsn"]) == (
        "203.0.113.7", "65000")

    template = config["AWS::EC2::LaunchTemplate"]
    image = config["AWS::EC2::Image"]["ImageId"]
    [default] = template["DefaultVersion"]
    assert (default["VersionNumber"], default["DefaultVersion"]) == (1, True)
    data = default["LaunchTemplateData"]
    assert (data["ImageId"], data["InstanceType"], data["KeyName"], data["MetadataOptions"]) == (
        image, "t3.micro", f"fixture-key-{REGION}", {"HttpTokens": "required"})
    assert config["AWS::EC2::Image"]["Public"] is False
    assert "PublicKey" not in config["AWS::EC2::KeyPair"]


def test_declared_relationships_resolve_to_collected_resources(world):
    expected, records, _, _ = world
    ids = {t: records[e.arn].resource_id for t, e in expected.items()}
    edges = {(e["source_arn"], e["relation"], e["target_type"], e["target_ref"])
             for e in relationships_table(list(records.values())).to_pylist()}
    arn = {t: e.arn for t, e in expected.items()}
    wanted = {
        (arn["AWS::EC2::RouteTable"], "Routes[].NatGatewayId", "AWS::EC2::NatGateway", ids["AWS::EC2::NatGateway"]),
        (arn["AWS::EC2::RouteTable"], "Routes[].EgressOnlyInternetGatewayId", "AWS::EC2::EgressOnlyInternetGateway",
         ids["AWS::EC2::EgressOnlyInternetGateway"]),
        (arn["AWS::EC2::NatGateway"], "NatGatewayAddresses[].AllocationId", "AWS::EC2::EIP", ids["AWS::EC2::EIP"]),
        (arn["AWS::EC2::VPCEndpoint"], "RouteTableIds[]", "AWS::EC2::RouteTable", ids["AWS::EC2::RouteTable"]),
        (arn["AWS::EC2::LaunchTemplate"], "DefaultVersion[].LaunchTemplateData.KeyName", "AWS::EC2::KeyPair",
         ids["AWS::EC2::KeyPair"]),
        (arn["AWS::EC2::LaunchTemplate"], "DefaultVersion[].LaunchTemplateData.ImageId", "AWS::EC2::Image",
         ids["AWS::EC2::Image"]),
        (arn["AWS::ElasticLoadBalancingV2::LoadBalancer"], "Listeners[].DefaultActions[].TargetGroupArn",
         "AWS::ElasticLoadBalancingV2::TargetGroup", arn["AWS::ElasticLoadBalancingV2::TargetGroup"]),
        (arn["AWS::ElasticLoadBalancingV2::TargetGroup"], "LoadBalancerArns[]",
         "AWS::ElasticLoadBalancingV2::LoadBalancer", arn["AWS::ElasticLoadBalancingV2::LoadBalancer"]),
        (arn["AWS::EC2::FlowLog"], "DeliverLogsPermissionArn", "AWS::IAM::Role", FLOW_LOG_ROLE),
    }
    assert wanted - edges == set()
    # The key pair's id is its name, as in its ARN.
    assert ids["AWS::EC2::KeyPair"] == f"fixture-key-{REGION}"


# Per type: volatile payload changes, and a configuration change that must move the hash.
PAYLOAD_CHANGES = {
    "AWS::EC2::NetworkInterface": (
        {"Association": {"PublicIp": "198.51.100.9"}, "PublicDnsName": "ec2-198-51-100-9.compute.amazonaws.com"},
        {"SourceDestCheck": False}),
    "AWS::EC2::Image": ({"LastLaunchedTime": "2030-01-01T00:00:00Z"}, {"Public": True}),
    "AWS::EC2::VPCPeeringConnection": (
        {"ExpirationTime": "2030-01-01T00:00:00Z", "Status": {"Code": "active", "Message": "Provisioning"}},
        {"AccepterVpcInfo": {"VpcId": "vpc-0other"}}),
    "AWS::EC2::NatGateway": ({"DeleteTime": "2030-01-01T00:00:00Z"}, {"ConnectivityType": "private"}),
}


def test_volatile_changes_keep_the_content_hash(world):
    expected, _, payloads, _ = world
    for rtype, (volatile, configuration) in PAYLOAD_CHANGES.items():
        payload = payloads[expected[rtype].arn]
        original = _record(rtype, copy.deepcopy(payload)).content_hash
        assert (rtype, _record(rtype, {**copy.deepcopy(payload), **volatile}).content_hash) == (rtype, original)
        assert _record(rtype, {**copy.deepcopy(payload), **configuration}).content_hash != original, rtype
    # Route order is not a change: routes are compared as a set keyed by destination.
    table = copy.deepcopy(payloads[expected["AWS::EC2::RouteTable"].arn])
    original = _record("AWS::EC2::RouteTable", table).content_hash
    table["Routes"].reverse()
    assert _record("AWS::EC2::RouteTable", table).content_hash == original


# --- Stubber: EBS snapshots (moto ignores OwnerIds=["self"] and lists every stock AMI's snapshot) ---------------


def _snapshot(snapshot_id: str, **extra) -> dict:
    return {
        "SnapshotId": snapshot_id, "VolumeId": "vol-0123456789abcdef0", "State": "completed", "Progress": "100%",
        "StartTime": dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.timezone.utc), "OwnerId": ACCOUNT,
        "Description": "nightly", "VolumeSize": 8, "StorageTier": "standard", **extra,
    }


def test_snapshots_with_their_create_volume_permissions_via_stubber():
    rtype = REGISTRY["AWS::EC2::Snapshot"]
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    public = _snapshot("snap-0aaaaaaaaaaaaaaaa", Encrypted=False, Tags=[
        {"Key": "Name", "Value": "db-nightly"}, *({"Key": k, "Value": v} for k, v in TAGS.items())])
    private = _snapshot("snap-0bbbbbbbbbbbbbbbb", Encrypted=True, KmsKeyId=key)
    with Stubber(ec2) as stub:
        stub.add_response("describe_snapshots", {"Snapshots": [public, private]}, {"OwnerIds": ["self"]})
        stub.add_response("describe_snapshot_attribute", {
            "SnapshotId": public["SnapshotId"], "CreateVolumePermissions": [{"Group": "all"}], "ProductCodes": []},
            {"SnapshotId": public["SnapshotId"], "Attribute": "createVolumePermission"})
        stub.add_response("describe_snapshot_attribute", {
            "SnapshotId": private["SnapshotId"], "CreateVolumePermissions": [{"UserId": "111122223333"}],
            "ProductCodes": []},
            {"SnapshotId": private["SnapshotId"], "Attribute": "createVolumePermission"})
        items = collect_type(rtype, lambda region: ec2, REGION, _Counter())
        stub.assert_no_pending_responses()

    records = [_record(rtype.cfn_type, i.payload) for i in items]
    assert [(r.arn, r.region, r.name, r.tags) for r in records] == [
        (f"arn:aws:ec2:{REGION}::snapshot/snap-0aaaaaaaaaaaaaaaa", REGION, "db-nightly", dict(TAGS, Name="db-nightly")),
        (f"arn:aws:ec2:{REGION}::snapshot/snap-0bbbbbbbbbbbbbbbb", REGION, None, {}),
    ]
    public_config, private_config = (r.configuration for r in records)
    assert (public_config["CreateVolumePermissions"], public_config["Encrypted"]) == ([{"Group": "all"}], False)
    assert (private_config["CreateVolumePermissions"], private_config["KmsKeyId"], private_config["VolumeId"]) == (
        [{"UserId": "111122223333"}], key, "vol-0123456789abcdef0")
    assert public_config["StartTime"] == "2026-01-01T03:00:00Z"
    # Progress moves while a snapshot is taken: volatile. Sharing it is not.
    payload = items[1].payload
    assert _record(rtype.cfn_type, {**payload, "Progress": "42%"}).content_hash == records[1].content_hash
    assert _record(rtype.cfn_type, {**payload, "CreateVolumePermissions": []}).content_hash != records[1].content_hash
    assert {t.cfn_type for t in TYPES if t.tested_with == "stubber"} == {"AWS::EC2::Snapshot"}
