"""Compliance report: scores, frameworks, trend across days, gone vs resolved, gate, Markdown, determinism."""

from __future__ import annotations

import json
from dataclasses import asdict

import pyarrow as pa
import pytest

from inventag_pipeline.core.canonical import CanonicalRecord, canonical_json
from inventag_pipeline.core.checks import CHECKS, FINDINGS_SCHEMA, evaluate_checks
from inventag_pipeline.core.report import (
    COLLECTION_SAFETY_STATEMENT,
    GateOutcome,
    GateThresholds,
    build_report,
    evaluate_gate,
    report_markdown,
)
from inventag_pipeline_tests.core.factories import ACCOUNT, bucket, db_instance, kms_key, record, shuffled

TAGS = {"compliance_percentage": 97.0, "evaluated": 101, "compliant": 97, "non_compliant": 3, "untagged": 1,
        "exempt": 1, "by_service": {"s3": 100.0, "ec2": 90.0}}

# Check ids and ARNs of the three-day scenario.
PAB, VOL, RDS_PUBLIC, KMS_ROT = ("s3_bucket_public_access_blocked", "ec2_volume_encrypted", "rds_instance_not_public",
                                 "kms_key_rotation_enabled")
BUCKET_A = "arn:aws:s3:::a"
VOLUME_B = f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-b"
DB_C = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:c"
KEY_K = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"


def table(rows: list[tuple]) -> pa.Table:
    """A findings table from (check_id, arn, status, severity, frameworks) tuples."""
    return pa.Table.from_pylist(
        [{"arn": arn, "resource_type": "AWS::S3::Bucket", "check_id": cid, "title": f"title of {cid}",
          "severity": sev, "status": status, "frameworks": list(fw),
          "evidence": json.dumps({"summary": f"{cid} on {arn}: {status}"})}
         for cid, arn, status, sev, fw in rows], schema=FINDINGS_SCHEMA)


def evaluated(*records: CanonicalRecord) -> pa.Table:
    """Findings from the real check engine, limited to the scenario's checks so new checks leave the numbers alone."""
    return evaluate_checks([{"arn": r.arn, "resource_type": r.resource_type, "name": r.name,
                             "resource_id": r.resource_id, "configuration": canonical_json(r.configuration)}
                            for r in records], {c: CHECKS[c] for c in (PAB, VOL, RDS_PUBLIC, KMS_ROT)})


def volume(encrypted: bool) -> CanonicalRecord:
    return record("AWS::EC2::Volume", {"VolumeId": "vol-b", "Size": 8, "Encrypted": encrypted, "Tags": []})


def kms(**extra) -> CanonicalRecord:
    return record("AWS::KMS::Key", {**kms_key("k").configuration, "KeyManager": "CUSTOMER", **extra})


def report(date: str, findings: pa.Table, previous: dict | None = None, tags=TAGS, manifest=None) -> dict:
    built = build_report(account_id=ACCOUNT, date=date, findings=findings, tag_summary=tags,
                         previous=previous, raw_manifest=manifest)
    # The asset reads yesterday's report back from JSON: do the same round trip here.
    return json.loads(json.dumps(built))


def keys(entries: list[dict], *fields: str) -> set[tuple]:
    return {tuple(e[f] for f in ("check_id", "arn", *fields)) for e in entries}


SCORING = [
    ("chk_a", "arn:1", "PASS", "critical", ["cis-aws-3.0:2.1.4", "aws-fsbp:S3.8"]),
    ("chk_a", "arn:2", "FAIL", "critical", ["cis-aws-3.0:2.1.4", "aws-fsbp:S3.8"]),
    ("chk_b", "arn:1", "FAIL", "high", ["aws-fsbp:S3.14"]),
    ("chk_b", "arn:2", "PASS", "high", ["aws-fsbp:S3.14"]),
    ("chk_c", "arn:3", "NOT_APPLICABLE", "medium", ["cis-aws-3.0:5.4"]),
    ("chk_d", "arn:3", "PASS", "low", []),
]


def test_scores_frameworks_severities_checks_and_totals():
    built = report("2024-05-01", table(SCORING))
    assert built["score"] == 60.0
    assert built["tag_compliance_percentage"] == 97.0
    assert built["frameworks"] == {
        "aws-fsbp": {"score": 50.0, "passed": 2, "failed": 2, "controls_evaluated": 2,
                     "failing_controls": ["S3.8", "S3.14"]},
        "cis-aws-3.0": {"score": 50.0, "passed": 1, "failed": 1, "controls_evaluated": 1,
                        "failing_controls": ["2.1.4"]},
    }
    assert built["severity_counts"] == {"critical": 1, "high": 1, "medium": 0, "low": 0, "info": 0}
    assert [(c["check_id"], c["severity"], c["passed"], c["failed"], c["not_applicable"]) for c in built["checks"]] == [
        ("chk_a", "critical", 1, 1, 0), ("chk_b", "high", 1, 1, 0), ("chk_c", "medium", 0, 0, 1),
        ("chk_d", "low", 1, 0, 0)]
    assert built["totals"] == {"findings": 6, "pass": 3, "fail": 2, "not_applicable": 1, "resources_evaluated": 3,
                               "resources_failing": 2}
    assert [(f["key"], f["severity"], f["evidence"], f["first_failed"], f["age_days"]) for f in built["failing"]] == [
        ("chk_a|arn:2", "critical", "chk_a on arn:2: FAIL", "2024-05-01", 0),
        ("chk_b|arn:1", "high", "chk_b on arn:1: FAIL", "2024-05-01", 0)]


def test_checks_carry_risk_and_remediation_from_the_registry():
    built = report("2024-05-01", evaluated(bucket("a", public_access_block=None)))
    entry = next(c for c in built["checks"] if c["check_id"] == PAB)
    assert entry == {"check_id": PAB, "title": CHECKS[PAB].title, "severity": "critical", "passed": 0, "failed": 1,
                     "not_applicable": 0, "frameworks": ["aws-fsbp:S3.8", "cis-aws-3.0:2.1.4"],
                     "risk": CHECKS[PAB].risk, "remediation": CHECKS[PAB].remediation}
    assert built["failing"][0]["evidence"] == ("Bucket a does not block public access "
                                               "(BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, "
                                               "RestrictPublicBuckets off)")


def test_nothing_judged_scores_100_and_framework_scores_too():
    built = report("2024-05-01", table([("chk_c", "arn:3", "NOT_APPLICABLE", "medium", ["cis-aws-3.0:5.4"])]))
    assert (built["score"], built["frameworks"], built["failing"]) == (100.0, {}, [])
    assert report("2024-05-01", table([]))["score"] == 100.0


def test_first_report_has_an_empty_trend():
    built = report("2024-05-01", evaluated(bucket("a", public_access_block=None), volume(False)))
    assert built["trend"] == {
        "previous_date": None, "previous_score": None, "score_change": None,
        "previous_tag_compliance_percentage": None,
        "counts": {"new_failing": 0, "reopened": 0, "still_failing": 0, "resolved": 0, "gone": 0,
                   "not_evaluated": 0},
        "new_failing": [], "reopened": [], "still_failing": [], "resolved": [], "gone": [], "not_evaluated": [],
    }
    assert built["history"] == {
        f"{PAB}|{BUCKET_A}": {"first_failed": "2024-05-01", "last_failed": "2024-05-01", "last_resolved": None},
        f"{VOL}|{VOLUME_B}": {"first_failed": "2024-05-01", "last_failed": "2024-05-01", "last_resolved": None},
    }


def test_three_day_trend_new_still_resolved_reopened():
    # Day 1: A (bucket public access) and B (volume encryption) fail; the database passes.
    day1 = report("2024-05-01", evaluated(bucket("a", public_access_block=None), volume(False), db_instance("c")))
    # Day 2: A still fails, B is fixed, C (the database turned public) is new.
    day2 = report("2024-05-02", evaluated(bucket("a", public_access_block=None), volume(True),
                                          db_instance("c", public=True)), previous=day1)
    trend = day2["trend"]
    assert (trend["previous_date"], trend["previous_score"], trend["score_change"]) == ("2024-05-01", 33.33, 0.0)
    assert keys(trend["still_failing"], "first_failed", "age_days") == {(PAB, BUCKET_A, "2024-05-01", 1)}
    assert keys(trend["resolved"], "first_failed", "age_days", "evidence") == {
        (VOL, VOLUME_B, "2024-05-01", 1, "Volume vol-b is encrypted")}
    assert keys(trend["new_failing"], "first_failed", "age_days", "severity") == {
        (RDS_PUBLIC, DB_C, "2024-05-02", 0, "critical")}
    assert trend["reopened"] == trend["gone"] == trend["not_evaluated"] == []
    assert trend["counts"] == {"new_failing": 1, "reopened": 0, "still_failing": 1, "resolved": 1, "gone": 0,
                               "not_evaluated": 0}
    assert day2["history"][f"{VOL}|{VOLUME_B}"] == {"first_failed": "2024-05-01", "last_failed": "2024-05-01",
                                                    "last_resolved": "2024-05-02"}
    # Day 3: B fails again, so it is reopened with its earlier dates; A is two days old, C one.
    day3 = report("2024-05-03", evaluated(bucket("a", public_access_block=None), volume(False),
                                          db_instance("c", public=True)), previous=day2)
    trend = day3["trend"]
    assert keys(trend["reopened"], "first_failed", "age_days", "previously_first_failed", "previously_last_failed",
                "last_resolved") == {(VOL, VOLUME_B, "2024-05-03", 0, "2024-05-01", "2024-05-01", "2024-05-02")}
    assert keys(trend["still_failing"], "first_failed", "age_days") == {
        (PAB, BUCKET_A, "2024-05-01", 2), (RDS_PUBLIC, DB_C, "2024-05-02", 1)}
    assert trend["new_failing"] == trend["resolved"] == trend["gone"] == []
    # Failing findings: severity first, then check id.
    assert [(f["check_id"], f["severity"], f["age_days"]) for f in day3["failing"]] == [
        (RDS_PUBLIC, "critical", 1), (PAB, "critical", 2), (VOL, "high", 0)]
    assert day3["history"][f"{VOL}|{VOLUME_B}"] == {"first_failed": "2024-05-03", "last_failed": "2024-05-03",
                                                    "last_resolved": "2024-05-02"}


def test_gone_and_not_evaluated_are_not_resolved():
    day1 = report("2024-05-01", evaluated(bucket("a", public_access_block=None), volume(False),
                                          kms(KeyRotationEnabled=False)))
    # The bucket is deleted, the volume fixed, and the key's rotation status could not be read.
    day2 = report("2024-05-02", evaluated(volume(True), kms()), previous=day1)
    trend = day2["trend"]
    assert keys(trend["resolved"]) == {(VOL, VOLUME_B)}
    assert keys(trend["gone"], "first_failed", "last_failed", "age_days") == {
        (PAB, BUCKET_A, "2024-05-01", "2024-05-01", 1)}
    assert keys(trend["not_evaluated"], "evidence") == {
        (KMS_ROT, KEY_K, "Key key k: rotation status could not be read")}
    assert day2["history"][f"{PAB}|{BUCKET_A}"]["last_resolved"] is None
    # The bucket comes back, still public: it failed before, so it is reopened rather than new.
    day3 = report("2024-05-03", evaluated(bucket("a", public_access_block=None), volume(True), kms()),
                  previous=day2)
    assert keys(day3["trend"]["reopened"], "previously_first_failed", "last_resolved") == {
        (PAB, BUCKET_A, "2024-05-01", None)}
    assert day3["trend"]["new_failing"] == []


def test_history_is_pruned_after_the_retention_window():
    day1 = report("2024-01-01", evaluated(volume(False)))
    day2 = report("2024-01-02", evaluated(volume(True)), previous=day1)
    assert set(day2["history"]) == {f"{VOL}|{VOLUME_B}"}
    late = report("2024-04-15", evaluated(volume(True)), previous=day2)  # 104 days after it last failed
    assert late["history"] == {}
    again = report("2024-04-16", evaluated(volume(False)), previous=late)
    assert keys(again["trend"]["new_failing"]) == {(VOL, VOLUME_B)}
    assert again["trend"]["reopened"] == []


def test_previous_report_must_be_earlier_and_same_account():
    day1 = report("2024-05-02", table([]))
    with pytest.raises(ValueError, match="previous report date 2024-05-02 is not before 2024-05-02"):
        report("2024-05-02", table([]), previous=day1)
    with pytest.raises(ValueError, match="previous report is for account 999999999999"):
        report("2024-05-03", table([]), previous={**day1, "account_id": "999999999999"})
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        report("2024-05-03", table([("chk", "arn:1", "FAIL", "urgent", [])]))


MANIFEST = {
    "identity": "arn:aws:sts::123456789012:assumed-role/InventagReadOnly/inventag",
    "operations": {"s3:ListBuckets": 1, "ec2:DescribeInstances": 3, "s3:GetObject": 1},
    "operation_classification": {"ec2:DescribeInstances": "read verb 'Describe'", "s3:ListBuckets": "read verb 'List'",
                                 "s3:GetObject": "read of data or secrets, not inventory: refused"},
    "audit": {"total_calls": 5, "ok": 3, "errors": 1, "refused": 1, "all_read_only": True},
    "coverage": [
        {"service": "s3", "region": "global", "status": "ok", "error": None, "resource_count": 2},
        {"service": "ec2", "region": "us-east-1", "status": "failed", "error": "AccessDenied", "resource_count": 0},
    ],
}


def test_collection_safety_from_the_raw_manifest():
    assert report("2024-05-01", table([]), manifest=MANIFEST)["collection_safety"] == {
        "available": True, "all_read_only": True, "refused": 1, "total_calls": 5, "ok": 3, "errors": 1,
        "identity": "arn:aws:sts::123456789012:assumed-role/InventagReadOnly/inventag",
        "operations": [
            {"operation": "ec2:DescribeInstances", "calls": 3, "classification": "read verb 'Describe'"},
            {"operation": "s3:GetObject", "calls": 1,
             "classification": "read of data or secrets, not inventory: refused"},
            {"operation": "s3:ListBuckets", "calls": 1, "classification": "read verb 'List'"},
        ],
        "coverage": {"scopes": 2, "ok": 1, "failed": 1, "skipped": 0, "incomplete": [
            {"service": "ec2", "region": "us-east-1", "status": "failed", "error": "AccessDenied"}]},
        "statement": COLLECTION_SAFETY_STATEMENT,
    }
    for phrase in ("CC6.1", "CC6.3", "CC7.2", "A 5.15", "A 8.2", "A 8.15", "not a certification"):
        assert phrase in COLLECTION_SAFETY_STATEMENT
    missing = report("2024-05-01", table([]))["collection_safety"]
    assert (missing["available"], missing["all_read_only"], missing["operations"]) == (False, None, [])


def judged(passes: int, fails: int, severity: str = "medium") -> pa.Table:
    return table([("chk", f"arn:p{i}", "PASS", severity, []) for i in range(passes)]
                 + [("chk", f"arn:f{i}", "FAIL", severity, []) for i in range(fails)])


def with_tags(pct: float | None) -> dict | None:
    return None if pct is None else {**TAGS, "compliance_percentage": pct}


def test_gate_pass():
    outcome = evaluate_gate(report("2024-05-01", judged(19, 1), tags=with_tags(97.0)), GateThresholds())
    assert outcome == GateOutcome("pass", (
        "All thresholds met: security score 95% (warn below 90%), 0 critical failing (at most 0), 0 high failing "
        "(warn above 10), tag compliance 97% (warn below 95%).",), {
        "score": 95.0, "critical_failing": 0, "high_failing": 0, "tag_compliance_percentage": 97.0, "failing": 1,
        "thresholds": asdict(GateThresholds())})


def test_gate_warn():
    outcome = evaluate_gate(report("2024-05-01", judged(17, 3), tags=with_tags(90.5)), GateThresholds())
    assert (outcome.status, outcome.reasons) == ("warn", (
        "Security score 85% is below the warning level of 90%.",
        "Tag compliance 90.5% is below the warning level of 95%."))
    high = evaluate_gate(report("2024-05-01", judged(100, 2, "high"), tags=None), GateThresholds(warn_high=1))
    assert (high.status, high.reasons) == ("warn", (
        "2 high findings are failing; the warning level is more than 1.",
        "Tag compliance was not evaluated for this report."))


def test_gate_error():
    findings = pa.concat_tables([judged(1, 1, "critical"), table([("chk_h", "arn:h", "FAIL", "high", [])])])
    outcome = evaluate_gate(report("2024-05-01", findings, tags=with_tags(70.0)), GateThresholds(warn_high=0))
    assert outcome.status == "error"
    assert outcome.reasons == (
        "Security score 33.33% is below the minimum of 80%.",
        "1 critical finding is failing; at most 0 allowed.",
        "Tag compliance 70% is below the minimum of 80%.",
        "1 high finding is failing; the warning level is more than 0.")
    assert (outcome.figures["critical_failing"], outcome.figures["high_failing"]) == (1, 1)


def test_gate_thresholds_are_validated():
    with pytest.raises(ValueError, match=r"min_score \(95.0\) <= warn_score \(90.0\)"):
        GateThresholds(min_score=95.0)


def test_markdown_sections_trend_order_and_caps():
    day1 = report("2024-05-01", evaluated(bucket("a", public_access_block=None), volume(False), db_instance("c")),
                  manifest=MANIFEST)
    first = report_markdown(day1)
    assert "First report for this account" in first
    day2 = report("2024-05-02", evaluated(bucket("a", public_access_block=None), volume(True),
                                          db_instance("c", public=True)), previous=day1, manifest=MANIFEST)
    day2["gate"] = asdict(evaluate_gate(day2, GateThresholds()))
    text = report_markdown(day2)
    assert text.startswith(f"# Compliance report — {ACCOUNT} — 2024-05-02\n\nSecurity score **33.33%** (1 of 3 judged "
                           "findings pass); **2** critical and **0** high findings failing; tag compliance **97%**.")
    for section in ("**Gate: ERROR**", "## Frameworks", "| aws-fsbp | 33.33% | 1 | 2 | RDS.2, S3.8 |",
                    "## Failing findings by severity", "| critical | 2 |", "## Trend",
                    "Compared with the report of **2024-05-01**: security score 33.33% → 33.33% (+0.00 points)",
                    "### New failing (1)", "### Still failing (1)", "### Resolved (1)", "## Top failing checks",
                    "## Tag compliance", "97% of 100 non-exempt resources", "## Collection safety",
                    "All operations read-only: **yes**", "| ec2:DescribeInstances | 3 | read verb 'Describe' |",
                    "Scopes not collected completely: ec2/us-east-1 (failed)", COLLECTION_SAFETY_STATEMENT,
                    f"_Remediation:_ {CHECKS[RDS_PUBLIC].remediation}"):
        assert section in text, section
    assert text.index("### New failing") < text.index("### Still failing") < text.index("### Resolved")
    day3 = report("2024-05-03", evaluated(bucket("a", public_access_block=None), volume(False),
                                          db_instance("c", public=True)), previous=day2)
    assert (f"- {VOLUME_B} — failing since 2024-05-03 (0 days); failed before from 2024-05-01 to 2024-05-01, "
            "resolved 2024-05-02: Volume vol-b is not encrypted\n") in report_markdown(day3)
    many = report("2024-05-03", judged(0, 5), previous=day2)
    capped = report_markdown(many, cap=2)
    assert "### New failing (5)" in capped
    assert "… and 3 more (see report.json)." in capped
    assert capped.count("- arn:f") == 2


def test_same_input_gives_identical_json():
    records = (bucket("a", public_access_block=None), bucket("b"), volume(False), db_instance("c", public=True),
               kms(KeyRotationEnabled=False))
    day1 = report("2024-05-01", evaluated(*records[:3]), manifest=MANIFEST)
    findings = evaluated(*records)
    runs = [build_report(account_id=ACCOUNT, date="2024-05-02", findings=tbl, tag_summary=TAGS, previous=day1,
                         raw_manifest=MANIFEST) for tbl in (findings, shuffled(findings, 1), shuffled(findings, 7))]
    dumps = {json.dumps(r) for r in runs}
    assert len(dumps) == 1
    assert len({report_markdown(r) for r in runs}) == 1
