"""Dagster metadata for the UI: durations, per-key counts, report links and Markdown previews."""

from __future__ import annotations

from dagster import AssetCheckResult, MaterializeResult, MetadataValue

from inventag_pipeline import ui_metadata


def test_timed_adds_the_duration_and_keeps_everything_else():
    check = AssetCheckResult(check_name="c", passed=True)
    result = ui_metadata.timed(lambda part: MaterializeResult(metadata={"n": part}, check_results=[check]))(3)
    assert set(result.metadata) == {"n", "duration_seconds"} and result.metadata["n"] == 3
    assert isinstance(result.metadata["duration_seconds"], float) and result.metadata["duration_seconds"] >= 0
    assert result.check_results == [check]


def test_counts_and_links():
    assert ui_metadata.counts("resources_", {"s3": 2, "ec2": 5}) == {"resources_ec2": 5, "resources_s3": 2}
    links = ui_metadata.report_links({"html": "/s/changelog.html", "md": "s3://b/changelog.md"},
                                     {"html": "html", "markdown": "md", "audit_html": "audit_html"})
    assert links == {"html": MetadataValue.path("/s/changelog.html"), "markdown": MetadataValue.path("s3://b/changelog.md")}


def test_top_changes_lists_the_most_severe_first_with_their_riskiest_description():
    rows = [{"severity": "critical", "change_type": "modified", "resource_type": "AWS::EC2::SecurityGroup",
             "name": "web|sg", "arn": "arn:sg",
             "changes": [{"severity": "low", "description": "Tag added"},
                         {"severity": "critical", "description": "Ingress tcp 22 from 0.0.0.0/0"}]},
            {"severity": "low", "change_type": "added", "resource_type": "AWS::SQS::Queue", "name": None,
             "arn": "arn:q", "changes": []}]
    preview = ui_metadata.top_changes({"all_changes": rows, "headline": "h"}, limit=1).value
    assert preview.splitlines() == [
        "| change | resource | what |", "|---|---|---|",
        "| **critical** modified | web\\|sg (EC2::SecurityGroup) | Ingress tcp 22 from 0.0.0.0/0 |",
        "", "… and 1 more in the changelog."]
    assert ui_metadata.top_changes({"all_changes": [], "headline": "No changes."}).value == "No changes."


def test_a_re_created_resource_shows_its_old_and_new_id_unless_a_change_to_it_is_risky():
    moved = {"path": "arn", "severity": "info", "description": "Replaced arn:aws:ec2:r:1:instance/i-old",
             "old_value": '"arn:aws:ec2:r:1:instance/i-old"', "new_value": '"arn:aws:ec2:r:1:instance/i-new"'}
    ip = {"path": "PrivateIpAddress", "severity": "medium", "description": "PrivateIpAddress changed"}
    public = {"path": "PublicIpAddress", "severity": "high", "description": "PublicIpAddress added"}
    rows = [{"severity": "medium", "change_type": "replaced", "resource_type": "AWS::EC2::Instance",
             "name": "api-2", "arn": "arn:aws:ec2:r:1:instance/i-new", "changes": [ip, moved]},
            {"severity": "high", "change_type": "replaced", "resource_type": "AWS::EC2::Instance",
             "name": "api-3", "arn": "arn:aws:ec2:r:1:instance/i-new3", "changes": [ip, moved, public]}]
    preview = ui_metadata.top_changes({"all_changes": rows, "headline": "h"}).value
    assert preview.splitlines()[2:] == [
        "| **medium** replaced | api-2 (EC2::Instance) | re-created: i-old → i-new |",
        "| **high** replaced | api-3 (EC2::Instance) | PublicIpAddress added |"]


def test_failing_checks_orders_by_severity_then_count():
    checks = [{"check_id": "a", "title": "A", "severity": "medium", "failed": 9, "passed": 1},
              {"check_id": "b", "title": "B", "severity": "critical", "failed": 1, "passed": 0},
              {"check_id": "c", "title": "C", "severity": "high", "failed": 0, "passed": 4}]
    assert ui_metadata.failing_checks({"checks": checks}).value.splitlines()[2:] == [
        "| **critical** | B | 1 | 0 |", "| **medium** | A | 9 | 1 |"]
    assert ui_metadata.failing_checks({"checks": checks[2:]}).value == "No check is failing."


def test_previews_stay_short_enough_for_the_ui_to_show_them_inline():
    checks = [{"check_id": f"c{i}", "title": "t" * 50, "severity": "high", "failed": 1, "passed": 0}
              for i in range(30)]
    text = ui_metadata.failing_checks({"checks": checks}).value
    assert len(text) < ui_metadata.INLINE_MARKDOWN
    shown = text.count("| **high** |")
    assert text.endswith(f"… and {30 - shown} more failing checks in the report.") and 1 <= shown <= 8
