"""The Python API (`inventag_pipeline.api`): the seed documents' usage examples, ported onto factory data.

Each `test_seed_*` follows one example of the seed pages (000/001 "State Management", 003 "Core Module
Integration") call for call, with the discovery step replaced by raw payloads built like the core test
factories' (checked equal below), and asserts exact results. Further tests pin the mapping onto DESIGN:
a store written through the API is the pipeline's own (same delta, integrity clean, history readable).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from inventag_pipeline.api import (
    ChangeCategory,
    ChangelogGenerator,
    ChangeSeverity,
    ChangeType,
    DeltaDetector,
    DeltaReport,
    StateManager,
    StateNotFoundError,
)
from inventag_pipeline.api.delta import field_pattern, to_record
from inventag_pipeline.core.classify import CATEGORIES, SEVERITIES
from inventag_pipeline.core.delta import CHANGE_TYPES
from inventag_pipeline.core.snapshot import sha256_hex
from inventag_pipeline.integrity import validate_store
from inventag_pipeline.store.store import InventoryStore, Partition
from inventag_pipeline_tests.conftest import client
from inventag_pipeline_tests.core import factories as f

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = f.ACCOUNT
DAY1, DAY2 = "2024-05-01", "2024-05-02"
ID1, ID2 = f"{ACCOUNT}|{DAY1}", f"{ACCOUNT}|{DAY2}"
SG = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1"
SSH = "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]"


# --- raw payloads, shaped as the factories build them ------------------------------------------------------


def raw(cfn_type: str, payload: dict[str, Any], region: str = f.US) -> dict[str, Any]:
    return {"resource_type": cfn_type, "region": region, "payload": payload}


def raw_sg(group_id: str, ingress=(), tags=None) -> dict[str, Any]:
    return raw("AWS::EC2::SecurityGroup", {
        "GroupId": group_id, "GroupName": group_id, "Description": f"group {group_id}", "VpcId": "vpc-1",
        "OwnerId": ACCOUNT, "IpPermissions": [f.sg_rule(*r) for r in ingress], "IpPermissionsEgress": [],
        "Tags": f.tag_list(tags)})


def raw_instance(instance_id: str, *, security_groups=(), tags=None, **extra: Any) -> dict[str, Any]:
    return raw("AWS::EC2::Instance", {
        "InstanceId": instance_id, "InstanceType": "t3.micro", "ImageId": "ami-1",
        "LaunchTime": "2024-01-01T00:00:00+00:00", "State": {"Code": 16, "Name": "running"},
        "SubnetId": "subnet-1", "VpcId": "vpc-1",
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in security_groups], "Tags": f.tag_list(tags),
        **extra})


def raw_bucket(name: str, *, tags=None, public_access_block=f.DEFAULT_PAB) -> dict[str, Any]:
    return raw("AWS::S3::Bucket", {
        "Name": name, "CreationDate": "2023-06-01T00:00:00.000Z", "Location": None,
        "PublicAccessBlock": public_access_block, "Encryption": f.DEFAULT_ENCRYPTION,
        "Versioning": {"Status": "Enabled"}, "Policy": None, "Tags": f.tag_list(tags)})


def raw_queue(name: str, *, tags=None) -> dict[str, Any]:
    return raw("AWS::SQS::Queue", {
        "QueueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}",
        "Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}", "ApproximateNumberOfMessages": "0",
                       "VisibilityTimeout": "30"},
        "Tags": dict(tags or {})})


TAGS = f.COMPLETE_TAGS
# Day 2: SSH opened to the world on sg-1, i-1 resized and stripped of two required tags, b1's public access
# block removed, b2 created, q1 deleted.
RAW_DAY1 = [raw_sg("sg-1", [("tcp", 443, 443, "10.0.0.0/8")], TAGS), raw_instance("i-1", security_groups=["sg-1"],
            tags=TAGS), raw_bucket("b1", tags=TAGS), raw_queue("q1", tags=TAGS)]
RAW_DAY2 = [raw_sg("sg-1", [("tcp", 443, 443, "10.0.0.0/8"), ("tcp", 22, 22, "0.0.0.0/0")], TAGS),
            raw_instance("i-1", security_groups=["sg-1"], tags={"Environment": "prod"}, InstanceType="m5.large"),
            raw_bucket("b1", tags=TAGS, public_access_block=None), raw_bucket("b2", tags=TAGS)]
RECORDS_DAY1 = [f.security_group("sg-1", ingress=[("tcp", 443, 443, "10.0.0.0/8")], tags=TAGS),
                f.instance("i-1", security_groups=["sg-1"], tags=TAGS), f.bucket("b1", tags=TAGS),
                f.queue("q1", tags=TAGS)]
RECORDS_DAY2 = [f.security_group("sg-1", ingress=[("tcp", 443, 443, "10.0.0.0/8"), ("tcp", 22, 22, "0.0.0.0/0")],
                                 tags=TAGS),
                f.instance("i-1", security_groups=["sg-1"], tags={"Environment": "prod"}, InstanceType="m5.large"),
                f.bucket("b1", tags=TAGS, public_access_block=None), f.bucket("b2", tags=TAGS)]
# (arn, change type, severity, categories, attribute change count)
EXPECTED_CHANGES = {
    (SG, "modified", "critical", ("security",), 1),
    ("arn:aws:s3:::b1", "modified", "critical", ("security",), 1),
    (INSTANCE, "modified", "medium", ("compliance", "configuration"), 3),
    ("arn:aws:s3:::b2", "added", "low", ("configuration",), 0),
    (QUEUE, "removed", "low", ("configuration",), 0),
}
EXPECTED_ATTRIBUTES = {
    (SG, SSH, "added", "security", "critical"),
    ("arn:aws:s3:::b1", "PublicAccessBlock", "removed", "security", "critical"),
    (INSTANCE, "InstanceType", "changed", "configuration", "medium"),
    (INSTANCE, "tags.CostCenter", "removed", "compliance", "medium"),
    (INSTANCE, "tags.Owner", "removed", "compliance", "medium"),
}


def change_rows(report: DeltaReport) -> set[tuple]:
    return {(c.arn, c.change_type.value, c.severity.value, tuple(x.value for x in c.categories),
             c.attribute_change_count) for c in report.changes}


def attribute_rows(report: DeltaReport) -> set[tuple]:
    return {(a.arn, a.attribute_path, a.change, a.category.value, a.severity.value)
            for c in report.changes for a in c.attribute_changes}


@pytest.fixture
def two_days(tmp_path) -> StateManager:
    manager = StateManager(state_dir=str(tmp_path / "states"), retention_days=30, max_snapshots=100)
    manager.save_state(RAW_DAY1, account_id=ACCOUNT, regions=[f.US], date=DAY1)
    manager.save_state(RAW_DAY2, account_id=ACCOUNT, regions=[f.US], date=DAY2)
    return manager


def test_raw_payloads_canonicalise_to_the_factory_records():
    """The raw items the API takes become exactly the factories' records through the pipeline's canonicalisation."""
    for items, records in ((RAW_DAY1, RECORDS_DAY1), (RAW_DAY2, RECORDS_DAY2)):
        assert [to_record(i, ACCOUNT, f.COLLECTED_AT) for i in items] == records


def test_enums_are_the_design_values():
    assert [s.value for s in ChangeSeverity] == list(SEVERITIES)
    assert [c.value for c in ChangeCategory] == list(CATEGORIES)
    assert [t.value for t in ChangeType] == list(CHANGE_TYPES)
    assert f"{ChangeSeverity.CRITICAL}" == "critical" and ChangeSeverity.CRITICAL == "critical"


# --- seed 000/001, StateManager ------------------------------------------------------------------------------


def test_seed_state_manager_basic_usage(tmp_path):
    state_manager = StateManager(state_dir=str(tmp_path / "inventory_states"), retention_days=30, max_snapshots=100)
    compliance_results = {"compliance_percentage": 75.0, "non_compliant": ["i-1"]}
    state_id = state_manager.save_state(
        resources=RAW_DAY1,
        account_id="123456789012",
        regions=["us-east-1", "us-west-2"],
        discovery_method="comprehensive",
        compliance_data=compliance_results,
        network_analysis={"vpcs": 1},
        security_analysis={"open_ports": [443]},
        tags={"environment": "production", "purpose": "audit"},
        date=DAY1,
    )
    assert state_id == ID1

    snapshot = state_manager.load_state(state_id)
    assert (snapshot.state_id, snapshot.account_id, snapshot.date, snapshot.timestamp) == (
        ID1, ACCOUNT, DAY1, f"{DAY1}T23:59:59Z")
    assert snapshot.regions == ["us-east-1", "us-west-2"]
    assert (snapshot.discovery_method, snapshot.tags) == ("comprehensive", {"environment": "production",
                                                                            "purpose": "audit"})
    assert (snapshot.compliance_data, snapshot.network_analysis, snapshot.security_analysis) == (
        compliance_results, {"vpcs": 1}, {"open_ports": [443]})
    assert [r["arn"] for r in snapshot.resources] == sorted(r.arn for r in RECORDS_DAY1)
    assert snapshot.resource_count == len(snapshot.resources) == 4
    assert [(r["arn"], r["configuration"], r["tags"]) for r in snapshot.resources] == [
        (r.arn, r.configuration, r.tags) for r in sorted(RECORDS_DAY1, key=lambda r: r.arn)]
    assert (snapshot.resources[-1]["arn"], snapshot.resources[1:2][0]["arn"]) == (QUEUE, SG)
    stored = InventoryStore(str(tmp_path / "inventory_states"))
    parquet = stored.read_bytes(f"{Partition(ACCOUNT, DAY1).folder('snapshots')}/snapshot.parquet")
    assert snapshot.checksum == sha256_hex(parquet)

    state_manager.save_state(resources=RAW_DAY2, account_id="123456789012", regions=["us-east-1", "us-west-2"],
                             date=DAY2)
    latest_snapshot = state_manager.load_state()
    assert (latest_snapshot.state_id, latest_snapshot.resource_count) == (ID2, 4)

    states = state_manager.list_states(limit=10)
    assert [(s["state_id"], s["resource_count"], s["discovery_method"], s["tags"]) for s in states] == [
        (ID2, 4, "api", {}),
        (ID1, 4, "comprehensive", {"environment": "production", "purpose": "audit"}),
    ]
    assert state_manager.list_states(limit=1) == states[:1]


def test_seed_state_comparison(two_days):
    comparison = two_days.get_state_comparison_data(state_id1=ID1, state_id2=ID2)
    assert (comparison["state1"]["state_id"], comparison["state2"]["state_id"]) == (ID1, ID2)
    assert comparison["comparison_metadata"] == {"account_id": ACCOUNT, "state1_id": ID1, "state2_id": ID2,
                                                 "days_apart": 1}
    assert [r["arn"] for r in comparison["state1"]["resources"]] == sorted(r.arn for r in RECORDS_DAY1)
    assert [r["arn"] for r in comparison["state2"]["resources"]] == sorted(r.arn for r in RECORDS_DAY2)
    assert {(c["service"], c["region"], c["status"], c["resource_count"]) for c in comparison["state2"]["coverage"]
            if c["resource_count"]} == {("ec2", "us-east-1", "ok", 2), ("s3", "global", "ok", 2)}


def test_seed_export_and_integration(two_days, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exported_file = two_days.export_state(state_id=ID1, export_format="json", output_file="state_export.json",
                                          include_metadata=True)
    assert exported_file == "state_export.json"
    records = json.loads(Path("state_export.json").read_text())
    assert [(r["arn"], r["tags"], r["collected_at"]) for r in records] == [
        (r.arn, TAGS, f"{DAY1}T23:59:59Z") for r in sorted(RECORDS_DAY1, key=lambda r: r.arn)]
    metadata = json.loads(Path("state_export.metadata.json").read_text())
    assert (metadata["state"]["state_id"], metadata["manifest"]["row_count"]) == (ID1, 4)

    yaml_file = two_days.export_state(ID1, export_format="yaml")
    csv_file = two_days.export_state(ID1, export_format="csv")
    assert (yaml_file, csv_file) == (f"state_{ACCOUNT}_{DAY1}.yaml", f"state_{ACCOUNT}_{DAY1}.csv")
    assert yaml.safe_load(Path(yaml_file).read_text()) == records
    with open(csv_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["arn"], json.loads(r["tags"])) for r in rows] == [(r["arn"], r["tags"]) for r in records]
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        two_days.export_state(ID1, export_format="xml")


def test_seed_storage_management(two_days):
    stats = two_days.get_storage_stats()
    assert stats["total_states"] == 2
    assert stats["total_size_mb"] == round(stats["total_bytes"] / 2**20, 3) > 0
    assert (stats["oldest_snapshot"], stats["newest_snapshot"], stats["resources_in_newest"]) == (DAY1, DAY2, 4)
    # 'Storage Space Issues': the seed's 1 GB threshold, on the same figure.
    assert stats["total_size_mb"] == round(sum(p.stat().st_size for p in Path(two_days.store.base).rglob("*")
                                               if p.is_file()) / 2**20, 3) < 1000

    validation = two_days.validate_state_integrity()
    assert (validation["valid_states"], validation["invalid_states"], validation["ok"]) == ([ID1, ID2], [], True)
    assert validation["counts"] == {"error": 0, "warning": 0, "info": 0}


def test_seed_troubleshooting_state_file_corruption(two_days):
    """'Validate and repair states': a snapshot changed after it was written is reported as a corrupted state."""
    snapshot = Path(two_days.store.path(f"{Partition(ACCOUNT, DAY1).folder('snapshots')}/snapshot.parquet"))
    snapshot.write_bytes(snapshot.read_bytes()[:-8] + b"tampered")
    validation = two_days.validate_state_integrity()
    assert (validation["valid_states"], validation["invalid_states"]) == ([ID2], [ID1])
    assert [(p["code"], p["date"]) for p in validation["problems"] if p["severity"] == "error"] == [
        ("corrupted", DAY1)]
    assert "corrupted" in validation["text"]
    with pytest.raises(Exception, match="corrupted"):
        two_days.load_state(ID1)


# --- seed 000/001, DeltaDetector --------------------------------------------------------------------------------


def test_seed_delta_detector_basic_usage():
    detector = DeltaDetector()
    delta_report = detector.detect_changes(
        old_resources=RECORDS_DAY1,
        new_resources=RECORDS_DAY2,
        state1_id="20231201_120000",
        state2_id="20231201_130000",
    )
    summary = delta_report.summary
    assert (summary["total_changes"], summary["added_count"], summary["removed_count"], summary["modified_count"],
            summary["replaced_count"]) == (5, 1, 1, 3, 0)
    assert (summary["previous_date"], summary["date"], summary["account_id"]) == (
        "20231201_120000", "20231201_130000", ACCOUNT)
    assert change_rows(delta_report) == EXPECTED_CHANGES
    assert [r.arn for r in delta_report.added_resources] == ["arn:aws:s3:::b2"]
    assert [r.arn for r in delta_report.removed_resources] == [QUEUE]
    assert {r.arn for r in delta_report.modified_resources} == {SG, "arn:aws:s3:::b1", INSTANCE}


def test_seed_change_categories():
    delta_report = DeltaDetector().detect_changes(RECORDS_DAY1, RECORDS_DAY2)
    lines = []
    for resource in delta_report.modified_resources:
        for change in resource.attribute_changes:
            lines.append(f"{change.attribute_path}: {change.category.value} / {change.severity.value} / "
                         f"{change.description}")
    assert sorted(lines) == sorted([
        "InstanceType: configuration / medium / InstanceType changed: t3.micro → m5.large",
        "tags.CostCenter: compliance / medium / Required tag CostCenter removed (was cc-1)",
        "tags.Owner: compliance / medium / Required tag Owner removed (was alice)",
        f"{SSH}: security / critical / Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an "
        "administrative or database port",
        "PublicAccessBlock: security / critical / Public access block removed: the bucket no longer blocks public "
        "ACLs or public policies",
    ])
    ssh = next(a for c in delta_report.changes for a in c.attribute_changes if a.path == SSH)
    assert (ssh.old_value, ssh.new_value) == (None, {"FromPort": 22, "IpProtocol": "tcp", "Source": "0.0.0.0/0",
                                                     "SourceType": "cidr", "ToPort": 22})


def test_seed_security_impact_assessment():
    delta_report = DeltaDetector().detect_changes(RECORDS_DAY1, RECORDS_DAY2)
    security_changes = delta_report.security_changes
    assert security_changes["total_security_changes"] == 2
    assert len(security_changes["high_risk_resources"]) == 2
    # DESIGN §6 keeps each high-risk resource as a record (ARN, why), not a bare ARN.
    assert [(h["arn"], h["severity"]) for h in security_changes["high_risk_resources"]] == [
        ("arn:aws:ec2:us-east-1:123456789012:security-group/sg-1", "critical"), ("arn:aws:s3:::b1", "critical")]


def test_seed_compliance_analysis():
    delta_report = DeltaDetector().detect_changes(RECORDS_DAY1, RECORDS_DAY2)
    compliance = delta_report.compliance_changes
    old_compliance = compliance["old_compliance_stats"]["compliance_percentage"]
    new_compliance = compliance["new_compliance_stats"]["compliance_percentage"]
    trend = compliance["compliance_trend"]["compliance_percentage_change"]
    assert f"Compliance change: {old_compliance}% → {new_compliance}% ({trend:+.1f}%)" == (
        "Compliance change: 100.0% → 75.0% (-25.0%)")
    assert compliance["newly_non_compliant"] == [INSTANCE]


def test_seed_custom_configuration():
    old = [f.instance("i-1", custom_attribute="a", internal_id="x", MetadataOptions={
        "HttpTokens": "required", "custom_field": 1, "timestamp": "mon"})]
    new = [f.instance("i-1", custom_attribute="b", internal_id="y", MetadataOptions={
        "HttpTokens": "required", "custom_field": 2, "timestamp": "tue"})]
    detector = DeltaDetector(
        ignore_metadata_fields=["custom_field", "timestamp"],
        severity_rules={
            "custom_attribute": ChangeSeverity.CRITICAL,
            "internal_id": ChangeSeverity.LOW,
        },
    )
    report = detector.detect_changes(old, new)
    assert attribute_rows(report) == {(INSTANCE, "custom_attribute", "changed", "configuration", "critical"),
                                      (INSTANCE, "internal_id", "changed", "configuration", "low")}
    assert change_rows(report) == {(INSTANCE, "modified", "critical", ("configuration",), 2)}
    # Without the configuration: the metadata fields are changes, and the custom attributes take the default rule.
    default = DeltaDetector().detect_changes(old, new)
    assert {(a.path, a.severity.value) for c in default.changes for a in c.attribute_changes} == {
        ("custom_attribute", "low"), ("internal_id", "low"), ("MetadataOptions.custom_field", "low"),
        ("MetadataOptions.timestamp", "low")}


def test_field_names_match_at_any_depth_and_regexes_stay_regexes():
    pattern = field_pattern("timestamp")
    assert [p for p in ("timestamp", "A.timestamp", "A[k=1].timestamp", "timestamp.x", "timestamps", "Atimestamp")
            if re.match(pattern, p)] == ["timestamp", "A.timestamp", "A[k=1].timestamp", "timestamp.x"]
    assert field_pattern(r"tags\.Owner$") == r"tags\.Owner$"


def test_severity_rules_take_a_rule_mapping_and_reject_unknown_severities():
    detector = DeltaDetector(severity_rules={"tags.Owner": {"severity": "high", "category": "compliance",
                                                            "description": "Owner tag {verb}"}})
    report = detector.detect_changes(RECORDS_DAY1, RECORDS_DAY2)
    owner = next(a for c in report.changes for a in c.attribute_changes if a.path == "tags.Owner")
    assert (owner.category, owner.severity, owner.description) == ("compliance", "high", "Owner tag removed")
    with pytest.raises(ValueError, match="'urgent' is not a valid ChangeSeverity"):
        DeltaDetector(severity_rules={"x": "urgent"})


def test_detector_accepts_raw_items_snapshot_records_and_tables():
    by_records = DeltaDetector().detect_changes(RECORDS_DAY1, RECORDS_DAY2)
    by_raw = DeltaDetector().detect_changes(RAW_DAY1, RAW_DAY2, account_id=ACCOUNT)
    first = DeltaDetector().detect_changes(None, f.table(*RECORDS_DAY2))
    assert change_rows(by_raw) == change_rows(by_records) == EXPECTED_CHANGES
    assert attribute_rows(by_raw) == EXPECTED_ATTRIBUTES
    assert (first.summary["total_changes"], first.summary["previous_date"]) == (0, None)
    with pytest.raises(ValueError, match="need an account_id"):
        DeltaDetector().detect_changes(RAW_DAY1, RAW_DAY2)


# --- seed 000/001, ChangelogGenerator ----------------------------------------------------------------------------


def test_seed_changelog_basic_usage(two_days, tmp_path):
    delta_report = DeltaDetector().detect_changes(two_days.load_state(ID1), two_days.load_state(ID2))
    generator = ChangelogGenerator()
    changelog = generator.generate_changelog(delta_report=delta_report, format="markdown", include_details=True,
                                             include_executive_summary=True)
    path = generator.export_changelog(changelog, tmp_path / "infrastructure_changes.md")
    assert Path(path).read_text() == changelog
    folder = Partition(ACCOUNT, DAY2).folder("changelogs")
    stored = {name: two_days.store.read_bytes(f"{folder}/{name}").decode() for name in ("changelog.md",
                                                                                         "changelog.html")}
    # The documents the pipeline's changelog asset wrote for the day, rendered from the stored delta.
    day = two_days.load_delta_report(ID2)
    assert generator.generate_changelog(day) == stored["changelog.md"]
    assert generator.generate_changelog(day, format="html") == stored["changelog.html"]
    # Recomputed, only the order of the change-type rows differs (summary.json is stored with sorted keys).
    assert sorted(changelog.splitlines()) == sorted(stored["changelog.md"].splitlines())
    assert changelog.startswith(f"# Infrastructure changelog — {ACCOUNT} — {DAY2}\n\n5 resource changes in account "
                                f"{ACCOUNT} since {DAY1}: 1 added, 1 removed, 3 modified. 2 critical severity")
    assert json.loads(generator.generate_changelog(delta_report, format="json"))["summary"]["total_changes"] == 5


def test_seed_custom_templates(tmp_path):
    template = tmp_path / "custom_template.html"
    template.write_text("<h1>{{ title }}</h1>\n<ul>\n{% for r in all_changes %}<li>{{ r.severity }} {{ r.arn }}</li>\n"
                        "{% endfor %}</ul>\n")
    generator = ChangelogGenerator()
    delta_report = DeltaDetector().detect_changes(RECORDS_DAY1, RECORDS_DAY2, f"{ACCOUNT}|{DAY1}",
                                                  f"{ACCOUNT}|{DAY2}")
    changelog = generator.generate_changelog(delta_report=delta_report, format="html",
                                             template_path=str(template), include_details=True)
    assert changelog == (
        f"<h1>Infrastructure changelog — {ACCOUNT} — {DAY2}</h1>\n<ul>\n"
        "<li>critical arn:aws:ec2:us-east-1:123456789012:security-group/sg-1</li>\n"
        "<li>critical arn:aws:s3:::b1</li>\n"
        "<li>medium arn:aws:ec2:us-east-1:123456789012:instance/i-1</li>\n"
        "<li>low arn:aws:s3:::b2</li>\n"
        "<li>low arn:aws:sqs:us-east-1:123456789012:q1</li>\n</ul>\n")
    # A folder of templates named like the built-in ones works as INVENTAG_TEMPLATE_DIR does.
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "changelog.md.j2").write_text("{{ summary.total_changes }} changes on {{ date }}\n")
    assert ChangelogGenerator(template_dir=str(folder)).generate_changelog(delta_report) == f"5 changes on {DAY2}\n"
    with pytest.raises(FileNotFoundError, match="neither a template file nor a folder"):
        generator.generate_changelog(delta_report, template_path=str(tmp_path / "missing.html"))


def test_seed_executive_reporting(two_days, tmp_path):
    delta_report = two_days.load_delta_report(ID2)
    generator = ChangelogGenerator()
    executive_summary = generator.generate_executive_summary(delta_report)
    generator.export_changelog(executive_summary, tmp_path / "executive_summary.md")
    assert (tmp_path / "executive_summary.md").read_text() == executive_summary
    assert executive_summary.splitlines()[:6] == [
        f"# Executive summary — {ACCOUNT} — {DAY2}", "",
        f"5 resource changes in account {ACCOUNT} since {DAY1}: 1 added, 1 removed, 3 modified. 2 critical "
        "severity — review these first.", "", "**Risk level:** critical", ""]
    assert "| critical | 2 |" in executive_summary and "| added | 1 |" in executive_summary
    assert "Required tags: 75% of resources compliant (was 100%, declining)." in executive_summary
    figures = json.loads(generator.generate_executive_summary(delta_report, format="json"))
    assert (figures["risk_level"], len(figures["key_findings"]), figures["tag_compliance"]) == ("critical", 2, 75.0)
    html = generator.generate_executive_summary(delta_report, format="html")
    assert html == two_days.store.read_bytes(
        f"{Partition(ACCOUNT, DAY2).folder('changelogs')}/changelog.summary.html").decode()
    assert generator.generate_changelog(delta_report, format="html", include_details=False) == html


def test_seed_audit_trail_generation(two_days):
    delta_report = two_days.load_delta_report(ID2)
    audit_report = ChangelogGenerator().generate_audit_report(delta_report=delta_report, compliance_context=True,
                                                              security_focus=True)
    assert audit_report == two_days.store.read_bytes(
        f"{Partition(ACCOUNT, DAY2).folder('changelogs')}/changelog.audit.html").decode()
    manifest = two_days.load_state(ID2).manifest
    assert manifest["sha256"] in audit_report and SSH in audit_report


# --- seed 000/001 integration patterns ---------------------------------------------------------------------------


def _ci_run(state_manager: StateManager, resources, date: str) -> tuple[list[str], Path | None]:
    """The seed's GitHub Actions step, with the discovered resources given."""
    out: list[str] = []
    state_manager.save_state(resources=resources, account_id=ACCOUNT, regions=["us-east-1", "us-west-2"],
                             tags={"ci": "github-actions", "purpose": "change-detection"}, date=date)
    states = state_manager.list_states(limit=2)
    written = None
    if len(states) >= 2:
        comparison = state_manager.get_state_comparison_data(states[1]["state_id"], states[0]["state_id"])
        detector = DeltaDetector()
        delta_report = detector.detect_changes(
            old_resources=comparison["state1"]["resources"],
            new_resources=comparison["state2"]["resources"],
            state1_id=states[1]["state_id"],
            state2_id=states[0]["state_id"],
        )
        if delta_report.summary["total_changes"] > 0:
            generator = ChangelogGenerator()
            changelog = generator.generate_changelog(delta_report=delta_report, format="markdown",
                                                     include_details=True)
            written = Path(generator.export_changelog(changelog, "daily_changes.md"))
            if delta_report.summary["total_changes"] > 10:
                out.append("SIGNIFICANT_CHANGES_DETECTED")
    return out, written


def test_seed_github_actions_change_detection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state_manager = StateManager(state_dir="states")
    assert _ci_run(state_manager, RAW_DAY1, DAY1) == ([], None)
    printed, written = _ci_run(state_manager, RAW_DAY2, DAY2)
    assert printed == [] and written == Path("daily_changes.md")
    assert written.read_text().startswith(f"# Infrastructure changelog — {ACCOUNT} — {DAY2}\n\n5 resource changes")
    # Twelve new queues the next day: more than ten changes is significant.
    day3 = RAW_DAY2 + [raw_queue(f"new-{i}", tags=TAGS) for i in range(12)]
    printed, _ = _ci_run(state_manager, day3, "2024-05-03")
    assert printed == ["SIGNIFICANT_CHANGES_DETECTED"]


def test_seed_lambda_function_integration(tmp_path, moto_url, monkeypatch):
    """The seed's Lambda handler: save, compare, upload the changelog to S3, count critical changes."""
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="reports")
    uploaded: dict[str, str] = {}

    context = SimpleNamespace(invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:detect",
                              function_name="detect")

    def lambda_handler(resources, date: str) -> dict[str, Any]:
        state_manager = StateManager(state_dir=str(tmp_path / "tmp" / "states"))
        detector = DeltaDetector()
        current_state_id = state_manager.save_state(
            resources=resources, account_id=context.invoked_function_arn.split(":")[4],
            regions=["us-east-1", "us-west-2"], tags={"source": "lambda", "function": context.function_name},
            date=date)
        states = state_manager.list_states(limit=2)
        critical_changes = []
        delta_report = None
        if len(states) >= 2:
            comparison = state_manager.get_state_comparison_data(states[1]["state_id"], states[0]["state_id"])
            delta_report = detector.detect_changes(
                old_resources=comparison["state1"]["resources"], new_resources=comparison["state2"]["resources"],
                state1_id=states[1]["state_id"], state2_id=states[0]["state_id"])
            if delta_report.summary["total_changes"] > 0:
                changelog = ChangelogGenerator().generate_changelog(delta_report=delta_report, format="markdown",
                                                                    include_details=True)
                key = f"changes/{current_state_id}_changes.md"
                s3.put_object(Bucket="reports", Key=key, Body=changelog.encode("utf-8"), ContentType="text/markdown")
                uploaded[key] = changelog
                critical_changes = [r for r in delta_report.added_resources + delta_report.removed_resources
                                    + delta_report.modified_resources if r.severity.value == "critical"]
        return {"statusCode": 200, "body": json.dumps({
            "state_id": current_state_id, "resources_count": len(resources),
            "changes_detected": delta_report.summary["total_changes"] if delta_report else 0,
            "critical_changes": len(critical_changes)})}

    assert json.loads(lambda_handler(RAW_DAY1, DAY1)["body"]) == {
        "state_id": ID1, "resources_count": 4, "changes_detected": 0, "critical_changes": 0}
    assert json.loads(lambda_handler(RAW_DAY2, DAY2)["body"]) == {
        "state_id": ID2, "resources_count": 4, "changes_detected": 5, "critical_changes": 2}
    key = f"changes/{ID2}_changes.md"
    assert s3.get_object(Bucket="reports", Key=key)["Body"].read().decode() == uploaded[key]


def test_seed_monitoring_metrics(two_days):
    """The seed's CloudWatch publish_metrics, as the metric data it would send."""
    delta_report = two_days.load_delta_report()
    stats = two_days.get_storage_stats()
    change_metrics = [
        {"MetricName": "TotalChanges", "Value": delta_report.summary["total_changes"], "Unit": "Count"},
        {"MetricName": "CriticalChanges", "Value": len([
            r for r in delta_report.added_resources + delta_report.removed_resources + delta_report.modified_resources
            if r.severity.value == "critical"]), "Unit": "Count"},
    ]
    storage_metrics = [{"MetricName": "StorageSize", "Value": stats["total_size_mb"], "Unit": "Megabytes"},
                       {"MetricName": "StateCount", "Value": stats["total_states"], "Unit": "Count"}]
    assert [(m["MetricName"], m["Value"]) for m in change_metrics] == [("TotalChanges", 5), ("CriticalChanges", 2)]
    assert [(m["MetricName"], m["Value"]) for m in storage_metrics][1] == ("StateCount", 2)


# --- seed 003, core module integration ------------------------------------------------------------------------


def test_seed_core_change_detection_and_changelog(two_days, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state_manager, delta_detector, changelog_generator = two_days, DeltaDetector(), ChangelogGenerator()
    states = state_manager.list_states(limit=2)
    assert len(states) >= 2
    comparison = state_manager.get_state_comparison_data(state_id1=states[1]["state_id"],
                                                         state_id2=states[0]["state_id"])
    delta_report = delta_detector.detect_changes(
        old_resources=comparison["state1"]["resources"], new_resources=comparison["state2"]["resources"],
        state1_id=states[1]["state_id"], state2_id=states[0]["state_id"])
    assert delta_report.summary["total_changes"] > 0
    changelog = changelog_generator.generate_changelog(delta_report=delta_report, format="markdown",
                                                       include_details=True, include_executive_summary=True)
    changelog_generator.export_changelog(changelog, f'infrastructure_changes_{states[0]["state_id"]}.md')
    assert Path(f"infrastructure_changes_{ID2}.md").read_text() == changelog
    assert (delta_report.summary["added_count"], delta_report.summary["removed_count"],
            delta_report.summary["modified_count"]) == (1, 1, 3)
    critical_changes = [r for r in (delta_report.added_resources + delta_report.removed_resources
                                    + delta_report.modified_resources)
                        if hasattr(r, "severity") and r.severity.value == "critical"]
    assert sorted(r.arn for r in critical_changes) == ["arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
                                                       "arn:aws:s3:::b1"]
    # Comparing states reproduces the delta the pipeline stored for the day.
    stored = state_manager.load_delta_report(states[0]["state_id"])
    assert stored.resource_changes.equals(delta_report.resource_changes)
    assert stored.attribute_changes.equals(delta_report.attribute_changes)
    assert stored.summary == delta_report.summary


def test_seed_core_cicd_executive_summary_to_s3(tmp_path, moto_url):
    """The seed's CI/CD example after its BOM step: save the state with pipeline tags, upload the summary."""
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="compliance-reports")
    state_manager = StateManager(state_dir=str(tmp_path / "ci_states"))
    bom_data = {"all_resources": RAW_DAY1, "primary_account_id": ACCOUNT, "regions_processed": ["us-east-1"]}
    state_manager.save_state(resources=bom_data.get("all_resources", []),
                             account_id=bom_data.get("primary_account_id", "unknown"),
                             regions=bom_data.get("regions_processed", []), date=DAY1,
                             tags={"ci_run": "true", "pipeline_id": "p-1", "compliance_gate": "passed"})
    state_id = state_manager.save_state(resources=RAW_DAY2, account_id=ACCOUNT, regions=["us-east-1"], date=DAY2)
    states = state_manager.list_states(limit=2)
    comparison = state_manager.get_state_comparison_data(states[1]["state_id"], states[0]["state_id"])
    delta_report = DeltaDetector().detect_changes(comparison["state1"]["resources"],
                                                  comparison["state2"]["resources"],
                                                  states[1]["state_id"], states[0]["state_id"])
    executive_summary = ChangelogGenerator().generate_executive_summary(delta_report)
    s3.put_object(Bucket="compliance-reports", Key=f"inventag-bom/changes/change_report_{state_id}.md",
                  Body=executive_summary.encode("utf-8"), ContentType="text/markdown")
    body = s3.get_object(Bucket="compliance-reports", Key=f"inventag-bom/changes/change_report_{ID2}.md")["Body"]
    assert body.read().decode() == executive_summary
    assert states[1]["tags"] == {"ci_run": "true", "pipeline_id": "p-1", "compliance_gate": "passed"}


def test_seed_enterprise_pipeline_fails_on_critical_changes(tmp_path, monkeypatch):
    """The enterprise example's state part: configured from the environment, exit 1 on critical changes."""
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "pipeline_states"))
    monkeypatch.setenv("STATE_RETENTION_DAYS", "90")

    def enterprise_pipeline(resources, date: str) -> int:
        state_manager = StateManager(state_dir=os.environ.get("STATE_DIR", "pipeline_states"),
                                     retention_days=int(os.environ.get("STATE_RETENTION_DAYS", "90")))
        assert state_manager.retention.default.retention_days == 90
        state_manager.save_state(resources=resources, account_id=ACCOUNT, regions=["us-east-1"], date=date,
                                 tags={"pipeline": "enterprise", "build_id": "b-7"})
        states = state_manager.list_states(limit=2)
        if len(states) >= 2:
            comparison = state_manager.get_state_comparison_data(states[1]["state_id"], states[0]["state_id"])
            delta_report = DeltaDetector().detect_changes(comparison["state1"]["resources"],
                                                          comparison["state2"]["resources"])
            critical = [r for r in delta_report.added_resources + delta_report.removed_resources
                        + delta_report.modified_resources if r.severity.value == "critical"]
            if critical and os.environ.get("FAIL_ON_CRITICAL_CHANGES", "false").lower() == "true":
                return 1
        return 0

    assert enterprise_pipeline(RAW_DAY1, DAY1) == 0
    assert enterprise_pipeline(RAW_DAY2, DAY2) == 0
    monkeypatch.setenv("FAIL_ON_CRITICAL_CHANGES", "true")
    assert enterprise_pipeline(RAW_DAY2, DAY2) == 1
    assert [s["tags"]["build_id"] for s in StateManager(state_dir=str(tmp_path / "pipeline_states")).list_states()
            ] == ["b-7", "b-7"]


def test_seed_import_paths_do_not_import_dagster():
    """`from inventag.core import StateManager` becomes `from inventag_pipeline import StateManager`, kept light."""
    code = ("import sys\nfrom inventag_pipeline import StateManager, DeltaDetector, ChangelogGenerator\n"
            "from inventag_pipeline.api import StateManager as S\nassert S is StateManager\n"
            "print('dagster' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")


# --- DESIGN mapping -------------------------------------------------------------------------------------------


def test_api_store_is_the_pipelines_store(two_days):
    """Every kind of the day's chain is written, integrity-clean, and the history queries read it."""
    store = two_days.store
    assert [k for k in ("raw", "snapshots", "relationships", "deltas", "changelogs", "tags", "security", "reports")
            if store.dates(k, ACCOUNT) != [DAY1, DAY2]] == []
    assert validate_store(store).problems == []
    summary = store.read_json(f"{Partition(ACCOUNT, DAY2).folder('deltas')}/summary.json")
    assert (summary["previous_date"], summary["total_changes"]) == (DAY1, 5)
    assert [(e["date"], e["change_type"]) for e in two_days.get_resource_timeline(QUEUE)] == [
        (DAY1, "first_seen"), (DAY2, "removed")]
    report = store.read_json(f"{Partition(ACCOUNT, DAY2).folder('reports')}/report.json")
    assert report["tag_compliance_percentage"] == 75.0
    raw = store.read_json(f"{Partition(ACCOUNT, DAY2).folder('raw')}/manifest.json")
    assert raw["collection_window"] == "saved through the Python API (discovery method: api)"


def test_saving_a_day_again_replaces_it(two_days):
    two_days.save_state(RAW_DAY1, account_id=ACCOUNT, regions=[f.US], date=DAY2)
    assert [(s["state_id"], s["resource_count"]) for s in two_days.list_states()] == [(ID2, 4), (ID1, 4)]
    assert two_days.load_delta_report(ID2).summary["total_changes"] == 0


def test_regions_and_services_say_what_the_list_covers(tmp_path):
    """A resource missing from a covered scope is removed; from a scope not covered, it is unverified."""
    manager = StateManager(state_dir=str(tmp_path / "s"), account_id=ACCOUNT)
    eu_queue = raw_queue("q-eu", tags=TAGS)
    eu_queue["region"] = f.EU
    eu_queue["payload"]["Attributes"]["QueueArn"] = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q-eu"
    manager.save_state([*RAW_DAY1, eu_queue], date=DAY1)
    assert manager.list_states()[0]["regions"] == [f.EU, f.US]
    manager.save_state(RAW_DAY1[:3], regions=[f.US], date=DAY2)  # q1 gone from us-east-1; eu-west-1 not covered
    report = manager.load_delta_report()
    assert [(c.arn, c.change_type.value) for c in report.changes] == [(QUEUE, "removed")]
    assert {(u["service"], u["region"]) for u in report.unverified} >= {("sqs", f.EU), ("ec2", f.EU)}
    with pytest.raises(ValueError, match=r"service\(s\) \['sqs'\] given, but services= leaves them out"):
        manager.save_state(RAW_DAY1, regions=[f.US], date=DAY2, services=["ec2", "s3"])


def test_save_state_redacts_secrets_as_the_collector_does(tmp_path):
    manager = StateManager(state_dir=str(tmp_path / "s"), account_id=ACCOUNT)
    function = raw("AWS::Lambda::Function", {
        "FunctionName": "f", "FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f", "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{ACCOUNT}:role/r", "Environment": {"Variables": {"DB_PASSWORD": "hunter2"}}})
    manager.save_state([function], date=DAY1)
    stored = b"".join(Path(p).read_bytes() for p in Path(manager.store.base).rglob("*") if p.is_file())
    assert b"hunter2" not in stored
    config = manager.load_state().resources[0]["configuration"]
    assert config["Environment"]["Variables"]["DB_PASSWORD"] == "redacted:sha256:" + sha256_hex(b"hunter2")


def test_state_ids_and_errors(two_days):
    assert two_days.partition(DAY2) == Partition(ACCOUNT, DAY2)  # one account: a bare date is enough
    assert two_days.load_state_as_of("2024-06-30").state_id == ID2
    assert two_days.load_state_as_of(DAY1).state_id == ID1
    with pytest.raises(StateNotFoundError, match="on or before 2024-04-30"):
        two_days.load_state_as_of("2024-04-30")
    with pytest.raises(StateNotFoundError, match=f"no state {ACCOUNT}\\|2024-05-03"):
        two_days.load_state(f"{ACCOUNT}|2024-05-03")
    with pytest.raises(ValueError, match="is not ACCOUNT\\|YYYY-MM-DD"):
        two_days.load_state("20231201_120000")
    with pytest.raises(ValueError, match="needs the account_id"):
        two_days.save_state(RAW_DAY1)
    with pytest.raises(StateNotFoundError, match="no states stored"):
        StateManager(state_dir=str(Path(two_days.store.base).parent / "empty")).load_state()


def test_comparing_two_accounts_is_refused(two_days):
    other = "999999999999"
    two_days.save_state([raw_queue("q1")], account_id=other, regions=[f.US], date=DAY2)
    assert [s["state_id"] for s in two_days.list_states()] == [ID2, f"{other}|{DAY2}", ID1]
    assert [s["state_id"] for s in two_days.list_states(account_id=other)] == [f"{other}|{DAY2}"]
    with pytest.raises(ValueError, match="different accounts"):
        two_days.get_state_comparison_data(ID1, f"{other}|{DAY2}")


def test_cleanup_old_states_applies_the_retention_policy(tmp_path):
    manager = StateManager(state_dir=str(tmp_path / "s"), retention_days=1, max_snapshots=2, account_id=ACCOUNT)
    for day in ("2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04"):
        manager.save_state(RAW_DAY1, date=day)
    planned = manager.cleanup_old_states(dry_run=True, today=dt.date(2024, 5, 10))
    assert planned["state_ids"] == [f"{ACCOUNT}|2024-05-01", f"{ACCOUNT}|2024-05-02"]
    assert [s["date"] for s in manager.list_states()] == ["2024-05-04", "2024-05-03", "2024-05-02", "2024-05-01"]
    done = manager.cleanup_old_states(today=dt.date(2024, 5, 10))
    assert (done["status"], done["state_ids"]) == ("completed", planned["state_ids"])
    assert [s["date"] for s in manager.list_states()] == ["2024-05-04", "2024-05-03"]
    assert validate_store(manager.store).ok


def test_example_script_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python_api.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == [
        f"saved {ACCOUNT}|2024-05-01: 4 resources", f"saved {ACCOUNT}|2024-05-02: 3 resources",
        "Total changes: 4 (added 0, removed 1, modified 3)",
        "  critical  web: Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port"]
    assert "Store: 2 states" in done.stdout and "valid states: 2, corrupted: 0" in done.stdout
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [
        "audit_report.html", "executive_summary.md", "infrastructure_changes.html", "infrastructure_changes.md",
        "state.csv", "state.metadata.json"]
    assert (reports / "infrastructure_changes.md").read_text().startswith(
        f"# Infrastructure changelog — {ACCOUNT} — 2024-05-02")
    assert pq.read_table(tmp_path / "store" / "snapshots" / f"account={ACCOUNT}" / "date=2024-05-02" /
                         "snapshot.parquet").num_rows == 3


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    start = section.index("```python\n") + len("```python\n")
    code = section[start:section.index("```\n", start)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == [
        "2 changes: 1 removed, 1 modified",
        "orders: Attributes.VisibilityTimeout (high) Attributes.VisibilityTimeout changed: 30 → 60"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit_report.html", "changes.md", "executive_summary.md",
                                                          "inventory_states"]
    assert (tmp_path / "executive_summary.md").read_text().startswith(
        f"# Executive summary — {ACCOUNT} — 2024-05-02\n\n2 resource changes")
