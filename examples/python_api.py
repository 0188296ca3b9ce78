"""The Python API end to end, without AWS: save two days of an account, compare them, write the reports.

    .venv/bin/python examples/python_api.py [OUT_DIR]

The resources are raw API payloads as boto3 returns them (what `raw_inventory` stores), each tagged with its
CloudFormation type and region. Between the two days a security group is opened to the internet on SSH, a
bucket loses its public access block, an instance loses two required tags and a queue is deleted.
Everything is written under OUT_DIR (default: a new temporary folder): the store in `store/`, the
reports in `reports/`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from inventag_pipeline.api import ChangelogGenerator, DeltaDetector, StateManager

ACCOUNT = "123456789012"
REGION = "us-east-1"
TAGS = {"Environment": "prod", "Owner": "platform", "CostCenter": "cc-42"}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def security_group(group_id: str, ingress: list[tuple[int, str]]) -> dict[str, Any]:
    rules = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
             for port, cidr in ingress]
    payload = {"GroupId": group_id, "GroupName": "web", "Description": "web tier", "VpcId": "vpc-1",
               "OwnerId": ACCOUNT, "IpPermissions": rules, "IpPermissionsEgress": [], "Tags": tag_list(TAGS)}
    return {"resource_type": "AWS::EC2::SecurityGroup", "region": REGION, "payload": payload}


def instance(instance_id: str, tags: dict[str, str]) -> dict[str, Any]:
    payload = {"InstanceId": instance_id, "InstanceType": "t3.micro", "ImageId": "ami-1",
               "LaunchTime": "2024-01-01T00:00:00+00:00", "State": {"Code": 16, "Name": "running"},
               "SubnetId": "subnet-1", "VpcId": "vpc-1", "SecurityGroups": [{"GroupId": "sg-web", "GroupName": "web"}],
               "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"}, "Tags": tag_list(tags)}
    return {"resource_type": "AWS::EC2::Instance", "region": REGION, "payload": payload}


def bucket(name: str, *, blocked: bool) -> dict[str, Any]:
    block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
    payload = {"Name": name, "CreationDate": "2023-06-01T00:00:00.000Z", "Location": REGION,
               "PublicAccessBlock": block if blocked else None, "Versioning": {"Status": "Enabled"},
               "Encryption": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
               "Policy": None, "Tags": tag_list(TAGS)}
    return {"resource_type": "AWS::S3::Bucket", "region": REGION, "payload": payload}


def queue(name: str) -> dict[str, Any]:
    payload = {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
               "Attributes": {"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "VisibilityTimeout": "30"},
               "Tags": dict(TAGS)}
    return {"resource_type": "AWS::SQS::Queue", "region": REGION, "payload": payload}


DAY_1 = [security_group("sg-web", [(443, "0.0.0.0/0")]), instance("i-0abc", {**TAGS, "Name": "api-server"}),
         bucket("example-logs", blocked=True), queue("orders")]
DAY_2 = [security_group("sg-web", [(443, "0.0.0.0/0"), (22, "0.0.0.0/0")]),
         instance("i-0abc", {"Environment": "prod", "Name": "api-server"}), bucket("example-logs", blocked=False)]


def main(out: Path) -> int:
    state_manager = StateManager(state_dir=out / "store", retention_days=30, max_snapshots=100)
    for day, resources in (("2024-05-01", DAY_1), ("2024-05-02", DAY_2)):
        state_id = state_manager.save_state(resources=resources, account_id=ACCOUNT, regions=[REGION], date=day,
                                            tags={"purpose": "example"})
        print(f"saved {state_id}: {len(resources)} resources")

    states = state_manager.list_states(limit=2)
    comparison = state_manager.get_state_comparison_data(states[1]["state_id"], states[0]["state_id"])
    delta_report = DeltaDetector().detect_changes(
        old_resources=comparison["state1"]["resources"],
        new_resources=comparison["state2"]["resources"],
        state1_id=states[1]["state_id"],
        state2_id=states[0]["state_id"],
    )
    summary = delta_report.summary
    print(f"Total changes: {summary['total_changes']} (added {summary['added_count']}, removed "
          f"{summary['removed_count']}, modified {summary['modified_count']})")
    for resource in delta_report.modified_resources:
        for change in resource.attribute_changes:
            print(f"  {change.severity.value:>8}  {resource.name}: {change.description}")
    compliance = delta_report.compliance_changes
    print(f"Required tags: {compliance['old_compliance_stats']['compliance_percentage']}% -> "
          f"{compliance['new_compliance_stats']['compliance_percentage']}%")

    generator = ChangelogGenerator()
    reports = out / "reports"
    written = [
        generator.export_changelog(generator.generate_changelog(delta_report, format="markdown"),
                                   reports / "infrastructure_changes.md"),
        generator.export_changelog(generator.generate_changelog(delta_report, format="html"),
                                   reports / "infrastructure_changes.html"),
        generator.export_changelog(generator.generate_executive_summary(delta_report),
                                   reports / "executive_summary.md"),
        generator.export_changelog(generator.generate_audit_report(delta_report), reports / "audit_report.html"),
        state_manager.export_state(states[0]["state_id"], export_format="csv", output_file=reports / "state.csv"),
    ]
    stats = state_manager.get_storage_stats()
    validation = state_manager.validate_state_integrity()
    print(f"Store: {stats['total_states']} states, {stats['total_size_mb']} MB; valid states: "
          f"{len(validation['valid_states'])}, corrupted: {len(validation['invalid_states'])}")
    print("Wrote:", *written, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="inventag-api-"))))
