"""One resource of every moto-tested network type (core/types/network.py), in its own VPC.

`create` returns what each canonical record must say.
"""

from __future__ import annotations

import json

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline_tests.aws.fixtures import TAGS, Expected, _kv
from inventag_pipeline_tests.conftest import client

VPC_CIDR = "10.60.0.0/16"
PEER_CIDR = "10.61.0.0/16"
ENDPOINT_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::fixture-artifacts/*"}]}
FLOW_LOG_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fixture-flow-logs"
TARGET_IP = "10.60.1.10"


def _spec(resource_type: str, tags: dict[str, str]) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": _kv(tags)}]


def create(url: str, region: str) -> list[Expected]:
    """Create one resource per moto-tested network type in `region` and return the expectations."""
    named = dict(TAGS, Name=f"fixture-net-{region}")
    prefix = f"arn:aws:ec2:{region}:{ACCOUNT}"
    out: list[Expected] = []

    def expect(cfn_type: str, arn: str, name: str | None = named["Name"], tags: dict[str, str] = named) -> None:
        out.append(Expected(cfn_type, arn, region, name, tags))

    ec2 = client(url, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=_spec("vpc", named))["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=f"{region}{zone}",
                          TagSpecifications=_spec("subnet", named))["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    default_sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    sg = default_sg["GroupId"]

    eni = ec2.create_network_interface(SubnetId=subnets[0], Description="fixture interface", Groups=[sg],
                                       TagSpecifications=_spec("network-interface", named))["NetworkInterface"]
    expect("AWS::EC2::NetworkInterface", f"{prefix}:network-interface/{eni['NetworkInterfaceId']}")

    # Untagged by Name: the record is named by its public address.
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip", TAGS))
    expect("AWS::EC2::EIP", f"{prefix}:elastic-ip/{eip['AllocationId']}", eip["PublicIp"], TAGS)

    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway", named))["InternetGateway"]
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
    expect("AWS::EC2::InternetGateway", f"{prefix}:internet-gateway/{igw['InternetGatewayId']}")

    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip["AllocationId"],
                                 TagSpecifications=_spec("natgateway", named))["NatGateway"]["NatGatewayId"]
    expect("AWS::EC2::NatGateway", f"{prefix}:natgateway/{nat}")

    eigw = ec2.create_egress_only_internet_gateway(VpcId=vpc, TagSpecifications=_spec(
        "egress-only-internet-gateway", named))["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
    expect("AWS::EC2::EgressOnlyInternetGateway", f"{prefix}:egress-only-internet-gateway/{eigw}")

    route_table = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec("route-table", named))
    rtb = route_table["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_route(RouteTableId=rtb, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw)
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnets[0])
    expect("AWS::EC2::RouteTable", f"{prefix}:route-table/{rtb}")

    acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=_spec("network-acl", named))["NetworkAcl"]
    ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=100, Protocol="6", RuleAction="allow",
                                 Egress=False, CidrBlock="10.0.0.0/8", PortRange={"From": 443, "To": 443})
    ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=100, Protocol="-1", RuleAction="allow",
                                 Egress=True, CidrBlock="0.0.0.0/0")
    expect("AWS::EC2::NetworkAcl", f"{prefix}:network-acl/{acl['NetworkAclId']}")

    key_name = f"fixture-key-{region}"
    ec2.create_key_pair(KeyName=key_name, TagSpecifications=_spec("key-pair", TAGS))
    expect("AWS::EC2::KeyPair", f"{prefix}:key-pair/{key_name}", key_name, TAGS)

    image_name = f"fixture-ami-{region}"
    image = ec2.register_image(Name=image_name, RootDeviceName="/dev/xvda", Architecture="x86_64",
                               VirtualizationType="hvm",
                               BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}])["ImageId"]
    ec2.create_tags(Resources=[image], Tags=_kv(TAGS))  # moto ignores RegisterImage's TagSpecifications
    expect("AWS::EC2::Image", f"arn:aws:ec2:{region}::image/{image}", image_name, TAGS)

    template_name = f"fixture-lt-{region}"
    template = ec2.create_launch_template(
        LaunchTemplateName=template_name, TagSpecifications=_spec("launch-template", TAGS),
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro", "KeyName": key_name,
                            "SecurityGroupIds": [sg], "MetadataOptions": {"HttpTokens": "required"}},
    )["LaunchTemplate"]["LaunchTemplateId"]
    expect("AWS::EC2::LaunchTemplate", f"{prefix}:launch-template/{template}", template_name, TAGS)

    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3", VpcEndpointType="Gateway", RouteTableIds=[rtb],
        PolicyDocument=json.dumps(ENDPOINT_POLICY), TagSpecifications=_spec("vpc-endpoint", named),
    )["VpcEndpoint"]["VpcEndpointId"]
    expect("AWS::EC2::VPCEndpoint", f"{prefix}:vpc-endpoint/{endpoint}")

    peer_vpc = ec2.create_vpc(CidrBlock=PEER_CIDR, TagSpecifications=_spec("vpc", named))["Vpc"]["VpcId"]
    peering = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer_vpc, TagSpecifications=_spec(
        "vpc-peering-connection", named))["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    expect("AWS::EC2::VPCPeeringConnection", f"{prefix}:vpc-peering-connection/{peering}")

    flow_log = ec2.create_flow_logs(
        ResourceIds=[vpc], ResourceType="VPC", TrafficType="REJECT", LogDestinationType="cloud-watch-logs",
        LogGroupName=f"fixture-flow-logs-{region}", DeliverLogsPermissionArn=FLOW_LOG_ROLE,
        TagSpecifications=_spec("vpc-flow-log", named),
    )["FlowLogIds"][0]
    expect("AWS::EC2::FlowLog", f"{prefix}:vpc-flow-log/{flow_log}")

    dhcp = ec2.create_dhcp_options(DhcpConfigurations=[
        {"Key": "domain-name", "Values": ["fixture.internal"]},
        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]},
    ])["DhcpOptions"]["DhcpOptionsId"]
    ec2.create_tags(Resources=[dhcp], Tags=_kv(named))  # moto ignores CreateDhcpOptions' TagSpecifications
    expect("AWS::EC2::DHCPOptions", f"{prefix}:dhcp-options/{dhcp}")

    tgw = ec2.create_transit_gateway(Description="fixture transit gateway", TagSpecifications=_spec(
        "transit-gateway", named))["TransitGateway"]["TransitGatewayId"]
    expect("AWS::EC2::TransitGateway", f"{prefix}:transit-gateway/{tgw}")

    vgw = ec2.create_vpn_gateway(Type="ipsec.1", TagSpecifications=_spec("vpn-gateway", named))["VpnGateway"]
    ec2.attach_vpn_gateway(VpcId=vpc, VpnGatewayId=vgw["VpnGatewayId"])
    expect("AWS::EC2::VPNGateway", f"{prefix}:vpn-gateway/{vgw['VpnGatewayId']}")

    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="203.0.113.7", BgpAsn=65000, TagSpecifications=_spec(
        "customer-gateway", named))["CustomerGateway"]["CustomerGatewayId"]
    expect("AWS::EC2::CustomerGateway", f"{prefix}:customer-gateway/{cgw}")

    elbv2 = client(url, "elbv2", region)
    lb_name = f"fixture-alb-{region}"
    lb = elbv2.create_load_balancer(Name=lb_name, Subnets=subnets, SecurityGroups=[sg], Scheme="internal",
                                    Tags=_kv(TAGS))["LoadBalancers"][0]["LoadBalancerArn"]
    tg_name = f"fixture-tg-{region}"
    tg = elbv2.create_target_group(Name=tg_name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
                                   HealthCheckPath="/health", Tags=_kv(TAGS))["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": TARGET_IP, "Port": 8080}])
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    out.append(Expected("AWS::ElasticLoadBalancingV2::LoadBalancer", lb, region, lb_name, TAGS))
    out.append(Expected("AWS::ElasticLoadBalancingV2::TargetGroup", tg, region, tg_name, TAGS))

    clb_name = f"fixture-clb-{region}"
    client(url, "elb", region).create_load_balancer(
        LoadBalancerName=clb_name, Subnets=[subnets[0]], SecurityGroups=[sg], Scheme="internal", Tags=_kv(named),
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    expect("AWS::ElasticLoadBalancing::LoadBalancer",
           f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/{clb_name}")
    return out
