"""One resource of every registry type, created in moto with known names and tags.

`create_one_of_each` returns what each canonical record must say, so collector tests compare
exact ARNs, regions, names and tags instead of counting rows.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline_tests.conftest import client

TAGS = {"Environment": "test", "Owner": "qa@example.com", "CostCenter": "CC-1"}


@dataclass(frozen=True)
class Expected:
    resource_type: str
    arn: str
    region: str
    name: str | None
    tags: dict[str, str]


def _kv(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def create_one_of_each(url: str, region: str = "us-east-1") -> list[Expected]:
    """Create one resource per registry type (IAM once, globally) and return the expectations."""
    out: list[Expected] = []
    named = dict(TAGS, Name=f"fixture-{region}")
    ec2 = client(url, "ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": _kv(named)}])["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": _kv(named)}])["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"fixture-sg-{region}", Description="fixture", VpcId=vpc,
                                   TagSpecifications=[{"ResourceType": "security-group", "Tags": _kv(TAGS)}])["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                                 SecurityGroupIds=[sg], TagSpecifications=[
                                     {"ResourceType": "instance", "Tags": _kv(named)}])["Instances"][0]["InstanceId"]
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, TagSpecifications=[
        {"ResourceType": "volume", "Tags": _kv(named)}])["VolumeId"]
    prefix = f"arn:aws:ec2:{region}:{ACCOUNT}"
    out += [
        Expected("AWS::EC2::VPC", f"{prefix}:vpc/{vpc}", region, named["Name"], named),
        Expected("AWS::EC2::Subnet", f"{prefix}:subnet/{subnet}", region, named["Name"], named),
        Expected("AWS::EC2::SecurityGroup", f"{prefix}:security-group/{sg}", region, f"fixture-sg-{region}", TAGS),
        Expected("AWS::EC2::Instance", f"{prefix}:instance/{instance}", region, named["Name"], named),
        Expected("AWS::EC2::Volume", f"{prefix}:volume/{volume}", region, named["Name"], named),
    ]

    s3 = client(url, "s3", region)
    bucket = f"fixture-bucket-{region}"
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **kwargs)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _kv(TAGS)})
    out.append(Expected("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}", region, bucket, TAGS))

    iam = client(url, "iam", "us-east-1")
    if not iam.list_roles()["Roles"]:
        role = iam.create_role(RoleName="fixture-role", AssumeRolePolicyDocument=TRUST, Tags=_kv(TAGS))["Role"]
        user = iam.create_user(UserName="fixture-user", Tags=_kv(TAGS))["User"]
        policy = iam.create_policy(PolicyName="fixture-policy", Tags=_kv(TAGS), PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
        ))["Policy"]
        out += [
            Expected("AWS::IAM::Role", role["Arn"], "global", "fixture-role", TAGS),
            Expected("AWS::IAM::User", user["Arn"], "global", "fixture-user", TAGS),
            Expected("AWS::IAM::ManagedPolicy", policy["Arn"], "global", "fixture-policy", TAGS),
        ]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/fixture-role"

    rds = client(url, "rds", region)
    db = rds.create_db_instance(DBInstanceIdentifier=f"fixture-db-{region}", DBInstanceClass="db.t3.micro",
                                Engine="postgres", MasterUsername="admin", MasterUserPassword="password123",
                                AllocatedStorage=20, Tags=_kv(TAGS))["DBInstance"]
    out.append(Expected("AWS::RDS::DBInstance", db["DBInstanceArn"], region, f"fixture-db-{region}", TAGS))

    fn = client(url, "lambda", region).create_function(
        FunctionName=f"fixture-fn-{region}", Runtime="python3.12", Role=role_arn, Handler="handler.handler",
        Code={"ZipFile": _zip()}, Tags=TAGS)
    out.append(Expected("AWS::Lambda::Function", fn["FunctionArn"], region, f"fixture-fn-{region}", TAGS))

    table = client(url, "dynamodb", region).create_table(
        TableName=f"fixture-table-{region}", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        Tags=_kv(TAGS))["TableDescription"]
    out.append(Expected("AWS::DynamoDB::Table", table["TableArn"], region, f"fixture-table-{region}", TAGS))

    topic = client(url, "sns", region).create_topic(Name=f"fixture-topic-{region}", Tags=_kv(TAGS))["TopicArn"]
    out.append(Expected("AWS::SNS::Topic", topic, region, f"fixture-topic-{region}", TAGS))

    sqs = client(url, "sqs", region)
    queue_url = sqs.create_queue(QueueName=f"fixture-queue-{region}", tags=TAGS)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    out.append(Expected("AWS::SQS::Queue", queue_arn, region, f"fixture-queue-{region}", TAGS))

    key = client(url, "kms", region).create_key(
        Description=f"fixture key {region}", Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()])
    out.append(Expected("AWS::KMS::Key", key["KeyMetadata"]["Arn"], region, f"fixture key {region}", TAGS))
    for family in family_fixtures():
        out += family(url, region)
    return out


def family_fixtures() -> list:
    """`create(url, region) -> list[Expected]` of each family of core/types/ (imported here, not at the
    top: those modules import this one)."""
    from inventag_pipeline_tests.aws import (
        fixtures_app_integration,
        fixtures_data_compute,
        fixtures_network,
        fixtures_security_edge,
    )

    return [m.create for m in (fixtures_app_integration, fixtures_data_compute, fixtures_network,
                               fixtures_security_edge)]
