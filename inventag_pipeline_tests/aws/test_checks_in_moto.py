"""Every security check passes and fails on resources built in moto and read by the real collector.

Hand-written dicts can agree with a check and still disagree with what the collector stores (a
field's type, a missing detail call). Here each check gets one compliant and one non-compliant
resource created through boto3, collected through the guarded collector, canonicalised, then
judged: so collector and check are tested together, as in production.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from moto.server import ThreadedMotoServer

from inventag_pipeline.aws.collector import collect_account
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import SIMULATED_ACCOUNT_ID as ACCOUNT
from inventag_pipeline.core.accounts import simulated_account
from inventag_pipeline.core.canonical import canonical_json, canonical_record
from inventag_pipeline.core.checks import ACCESS_KEY_MAX_AGE_DAYS, CHECKS, evaluate_checks
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline_tests.conftest import client

REGION = "us-east-1"
TODAY = dt.datetime.now(dt.timezone.utc).date()
# The access-key check counts days from the snapshot's date: its failing case is judged later.
LATER = TODAY + dt.timedelta(days=ACCESS_KEY_MAX_AGE_DAYS + 1)


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def arrange(url: str) -> dict[str, dict[str, str]]:
    """Create a passing and a failing resource for every check; returns {check_id: {status: arn}}."""
    cases: dict[str, dict[str, str]] = {}

    def case(check_id: str, passing: str, failing: str) -> None:
        cases[check_id] = {"PASS": passing, "FAIL": failing}

    # --- S3 --------------------------------------------------------------------------------------
    s3 = client(url, "s3", REGION)
    for name in ("chk-good", "chk-bad"):
        s3.create_bucket(Bucket=name)
    s3.put_public_access_block(Bucket="chk-good", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_public_access_block(Bucket="chk-bad", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3.put_bucket_encryption(Bucket="chk-good", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    s3.put_bucket_versioning(Bucket="chk-good", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket="chk-bad", VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_policy(Bucket="chk-good", Policy=_doc(
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::chk-good", "arn:aws:s3:::chk-good/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    s3.put_bucket_policy(Bucket="chk-bad", Policy=_doc(
        {"Sid": "World", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::chk-bad/*"}))
    good_bucket, bad_bucket = "arn:aws:s3:::chk-good", "arn:aws:s3:::chk-bad"
    for check_id in ("s3_bucket_public_access_blocked", "s3_bucket_versioning_enabled",
                     "s3_bucket_policy_not_public", "s3_bucket_secure_transport_required"):
        case(check_id, good_bucket, bad_bucket)
    # Buckets are encrypted by default since 2023 (moto follows): the failing case removes it.
    s3.create_bucket(Bucket="chk-clear")
    s3.delete_bucket_encryption(Bucket="chk-clear")
    case("s3_bucket_default_encryption", good_bucket, "arn:aws:s3:::chk-clear")

    # --- EC2 -------------------------------------------------------------------------------------
    ec2 = client(url, "ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]

    def group(name: str, *rules: dict) -> str:
        group_id = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        if rules:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(rules))
        return _arn("ec2", f"security-group/{group_id}")

    https = group("chk-https", {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    ssh = group("chk-ssh", {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    everything = group("chk-all", {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    case("ec2_securitygroup_admin_ports_closed_to_world", https, ssh)
    case("ec2_securitygroup_all_traffic_closed_to_world", https, everything)

    def default_group(of_vpc: str) -> dict:
        found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [of_vpc]},
                                                      {"Name": "group-name", "Values": ["default"]}])
        return found["SecurityGroups"][0]

    locked = default_group(vpc)
    if locked["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=locked["GroupId"], IpPermissions=locked["IpPermissions"])
    if locked["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=locked["GroupId"], IpPermissions=locked["IpPermissionsEgress"])
    other_vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    open_default = default_group(other_vpc)
    ec2.authorize_security_group_ingress(GroupId=open_default["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    case("ec2_securitygroup_default_restricts_all", _arn("ec2", f"security-group/{locked['GroupId']}"),
         _arn("ec2", f"security-group/{open_default['GroupId']}"))

    sealed = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=True)["VolumeId"]
    clear = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8, Encrypted=False)["VolumeId"]
    case("ec2_volume_encrypted", _arn("ec2", f"volume/{sealed}"), _arn("ec2", f"volume/{clear}"))

    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def instance(tokens: str, public: bool) -> str:
        found = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", MetadataOptions={
            "HttpTokens": tokens, "HttpEndpoint": "enabled"}, NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": public}])["Instances"][0]
        return _arn("ec2", f"instance/{found['InstanceId']}")

    private_v2, public_v1 = instance("required", False), instance("optional", True)
    case("ec2_instance_imdsv2_required", private_v2, public_v1)
    case("ec2_instance_no_public_ip", private_v2, public_v1)

    # --- RDS -------------------------------------------------------------------------------------
    rds = client(url, "rds", REGION)

    def database(identifier: str, good: bool) -> str:
        rds.create_db_instance(
            DBInstanceIdentifier=identifier, DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
            MasterUsername="admin", MasterUserPassword="not-a-secret-1", PubliclyAccessible=not good,
            StorageEncrypted=good, BackupRetentionPeriod=7 if good else 0, MultiAZ=good, DeletionProtection=good,
            AutoMinorVersionUpgrade=good)
        return _arn("rds", f"db:{identifier}")

    good_db, bad_db = database("chk-good-db", True), database("chk-bad-db", False)
    for check_id in ("rds_instance_not_public", "rds_instance_storage_encrypted", "rds_instance_backups_enabled",
                     "rds_instance_multi_az", "rds_instance_deletion_protection",
                     "rds_instance_minor_version_upgrade"):
        case(check_id, good_db, bad_db)

    # --- KMS -------------------------------------------------------------------------------------
    kms = client(url, "kms", REGION)
    rotating = kms.create_key(Description="chk-rotating")["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=rotating)
    static = kms.create_key(Description="chk-static")["KeyMetadata"]["KeyId"]
    doomed = kms.create_key(Description="chk-doomed")["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    case("kms_key_rotation_enabled", _arn("kms", f"key/{rotating}"), _arn("kms", f"key/{static}"))
    case("kms_key_not_pending_deletion", _arn("kms", f"key/{rotating}"), _arn("kms", f"key/{doomed}"))

    # --- SQS, SNS --------------------------------------------------------------------------------
    sqs = client(url, "sqs", REGION)
    sqs.create_queue(QueueName="chk-sealed", Attributes={"SqsManagedSseEnabled": "true"})
    sqs.create_queue(QueueName="chk-open", Attributes={"SqsManagedSseEnabled": "false", "Policy": _doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": _arn("sqs", "chk-open")})})
    case("sqs_queue_encrypted", _arn("sqs", "chk-sealed"), _arn("sqs", "chk-open"))
    case("sqs_queue_policy_not_public", _arn("sqs", "chk-sealed"), _arn("sqs", "chk-open"))

    sns = client(url, "sns", REGION)
    sealed_topic = sns.create_topic(Name="chk-sealed", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    open_topic = sns.create_topic(Name="chk-open")["TopicArn"]
    sns.set_topic_attributes(TopicArn=open_topic, AttributeName="Policy", AttributeValue=_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": open_topic}))
    case("sns_topic_encrypted", sealed_topic, open_topic)
    case("sns_topic_policy_not_public", sealed_topic, open_topic)

    # --- IAM -------------------------------------------------------------------------------------
    iam = client(url, "iam", REGION)

    def user(name: str) -> str:
        return iam.create_user(UserName=name)["User"]["Arn"]

    careful, careless, plain = user("chk-careful"), user("chk-careless"), user("chk-plain")
    for name in ("chk-careful", "chk-careless"):
        iam.create_login_profile(UserName=name, Password="Not-a-secret-1!")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="chk-careful")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(UserName="chk-careful", SerialNumber=serial, AuthenticationCode1="123456",
                          AuthenticationCode2="654321")
    case("iam_user_console_mfa_enabled", careful, careless)
    iam.create_access_key(UserName="chk-plain")
    case("iam_user_access_keys_rotated", plain, plain)  # judged today, then after the key's 90 days

    admin = iam.create_policy(PolicyName="chk-admin", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))["Policy"]["Arn"]
    narrow = iam.create_policy(PolicyName="chk-narrow", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::chk-good/*"}))["Policy"]["Arn"]
    case("iam_policy_no_full_admin", narrow, admin)
    iam.attach_user_policy(UserName="chk-careless", PolicyArn=narrow)
    case("iam_user_no_attached_policies", careful, careless)

    def role(name: str, *statements: dict) -> str:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=_doc(*statements))["Role"]["Arn"]

    lambda_role = role("chk-lambda", {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                      "Action": "sts:AssumeRole"})
    anyone = role("chk-anyone", {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    vendor = role("chk-vendor", {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                 "Action": "sts:AssumeRole",
                                 "Condition": {"StringEquals": {"sts:ExternalId": "agreed-id"}}})
    naive = role("chk-naive", {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                               "Action": "sts:AssumeRole"})
    case("iam_role_trust_not_public", lambda_role, anyone)
    case("iam_role_cross_account_trust_has_external_id", vendor, naive)

    # --- Lambda ----------------------------------------------------------------------------------
    aws_lambda = client(url, "lambda", REGION)

    def function(name: str, runtime: str) -> str:
        return aws_lambda.create_function(FunctionName=name, Runtime=runtime, Role=lambda_role,
                                          Handler="handler.handler", Code={"ZipFile": _zip()})["FunctionArn"]

    current, legacy = function("chk-current", "python3.12"), function("chk-legacy", "python3.8")
    case("lambda_function_runtime_supported", current, legacy)
    aws_lambda.create_function_url_config(FunctionName="chk-current", AuthType="AWS_IAM")
    aws_lambda.create_function_url_config(FunctionName="chk-legacy", AuthType="NONE")
    case("lambda_function_url_requires_auth", current, legacy)
    aws_lambda.add_permission(FunctionName="chk-current", StatementId="s3", Action="lambda:InvokeFunction",
                              Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::chk-good")
    aws_lambda.add_permission(FunctionName="chk-legacy", StatementId="world", Action="lambda:InvokeFunction",
                              Principal="*")
    case("lambda_function_policy_not_public", current, legacy)

    # --- DynamoDB --------------------------------------------------------------------------------
    dynamodb = client(url, "dynamodb", REGION)
    for name in ("chk-recoverable", "chk-fragile"):
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.update_continuous_backups(TableName="chk-recoverable", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    case("dynamodb_table_pitr_enabled", _arn("dynamodb", "table/chk-recoverable"),
         _arn("dynamodb", "table/chk-fragile"))
    return cases


@pytest.fixture(scope="module")
def judged():
    """Arrange every case once, collect the account through the guard, judge today and later."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        import requests

        requests.post(f"{url}/moto-api/reset", timeout=10)
        cases = arrange(url)
        audit = AuditLog()
        sessions = AccountSessions(simulated_account(), CollectionSettings(simulator_url=url), audit)
        collection = collect_account(sessions, [REGION])
    finally:
        server.stop()
    assert [(s.service, s.region, s.error) for s in collection.scopes if s.status != "ok"] == []
    rows = []
    for scope in collection.scopes:
        for item in scope.items:
            rec = canonical_record(REGISTRY[item.resource_type], item.payload, account_id=collection.account_id,
                                   region=item.region, collected_at=collection.collected_at)
            rows.append({"arn": rec.arn, "resource_type": rec.resource_type, "name": rec.name,
                         "resource_id": rec.resource_id, "configuration": canonical_json(rec.configuration)})

    def verdicts(as_of: dt.date) -> dict[tuple[str, str], tuple[str, str]]:
        return {(f["check_id"], f["arn"]): (f["status"], json.loads(f["evidence"])["summary"])
                for f in evaluate_checks(rows, as_of=as_of).to_pylist()}

    return cases, verdicts(TODAY), verdicts(LATER), audit


def test_every_check_has_a_moto_case(judged):
    cases, *_ = judged
    assert sorted(cases) == sorted(CHECKS)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_check_passes_and_fails_on_collected_resources(judged, check_id):
    cases, today, later, _ = judged
    passing, failing = cases[check_id]["PASS"], cases[check_id]["FAIL"]
    fail_verdicts = later if check_id == "iam_user_access_keys_rotated" else today
    assert today[(check_id, passing)][0] == "PASS", today[(check_id, passing)]
    assert fail_verdicts[(check_id, failing)][0] == "FAIL", fail_verdicts[(check_id, failing)]


def test_failing_evidence_says_what_is_wrong(judged):
    cases, today, later, _ = judged

    def evidence(check_id: str, verdicts=today) -> str:
        return verdicts[(check_id, cases[check_id]["FAIL"])][1]

    assert evidence("ec2_securitygroup_admin_ports_closed_to_world") == "Security group chk-ssh allows tcp 22-22 " \
                                                                         "from 0.0.0.0/0"
    assert evidence("iam_role_cross_account_trust_has_external_id") == (
        "Role chk-naive trusts account(s) 111122223333 without an external ID")
    assert evidence("lambda_function_url_requires_auth") == "Function chk-legacy has a public function URL " \
                                                             "(AuthType NONE)"
    assert evidence("dynamodb_table_pitr_enabled") == "Table chk-fragile has point-in-time recovery DISABLED"
    assert evidence("iam_user_no_attached_policies") == "User chk-careless has policies attached directly: chk-narrow"
    assert evidence("iam_user_access_keys_rotated", later).startswith(
        "User chk-plain has active access key(s) older than 90 days: AKIA")
    assert evidence("iam_user_access_keys_rotated", later).endswith(" (91 days)")
    expected_deletion = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)).date().isoformat()
    assert evidence("kms_key_not_pending_deletion") == f"Key chk-doomed is scheduled for deletion on " \
                                                       f"{expected_deletion}"


def test_collection_for_the_checks_stayed_read_only(judged):
    *_, audit = judged
    summary = audit.summary()
    assert (summary["refused"], summary["all_read_only"]) == (0, True)
    # The only errors are the registry's "feature not configured" answers (no tags, no policy …).
    absent = {code for rtype in REGISTRY.values() for detail in rtype.details for code in detail.absent_codes}
    unexpected = [(e.operation, e.outcome) for e in audit.entries
                  if e.outcome.startswith("error") and e.outcome.split(":", 1)[1] not in absent]
    assert unexpected == []
    operations = audit.operation_counts()
    for needed in ("iam:ListAccessKeys", "lambda:GetFunctionUrlConfig", "lambda:GetPolicy",
                   "dynamodb:DescribeContinuousBackups", "kms:GetKeyRotationStatus", "iam:ListMFADevices"):
        assert operations.get(needed, 0) >= 1, needed
