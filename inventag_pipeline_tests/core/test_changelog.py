"""Changelog rendering (core.changelog): summary first, escaped HTML, capped details, uncapped JSON."""

from __future__ import annotations

import json
import re

import pytest

from inventag_pipeline.core.changelog import (
    ATTRIBUTE_CAP_PER_RESOURCE,
    DETAIL_CAP_PER_SERVICE,
    ChangelogDocuments,
    build_context,
    render_changelog,
)
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.snapshot import relationships_table
from inventag_pipeline_tests.core.factories import (
    ACCOUNT,
    COMPLETE_TAGS,
    EU,
    US,
    bucket,
    instance,
    queue,
    scope,
    security_group,
    table,
)

XSS = "<script>alert(1)</script>"
SG1 = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"


def render(old_recs, new_recs, *, previous_date="2024-05-01", account_name=None, template_dir=None,
           **compute_kwargs) -> ChangelogDocuments:
    """What the changelog step does: compute the delta, add the counts it adds, render."""
    old = None if old_recs is None else table(*old_recs)
    new = table(*new_recs)
    result = DeltaEngine().compute(old, new, previous_date=previous_date if old is not None else None,
                                   date="2024-05-02", **compute_kwargs)
    summary = dict(result.summary, account_id=ACCOUNT, resource_count=new.num_rows,
                   previous_resource_count=None if old is None else old.num_rows)
    return render_changelog(result.resource_changes, result.attribute_changes, summary,
                            account_name=account_name, template_dir=template_dir)


def standard():
    old = [security_group("sg-1", name="web", tags=COMPLETE_TAGS), bucket("logs", tags=COMPLETE_TAGS), queue("q1")]
    new = [security_group("sg-1", name="web", ingress=[("tcp", 22, 22, "0.0.0.0/0")], tags=COMPLETE_TAGS),
           bucket("data", location=EU, tags=COMPLETE_TAGS), queue("q1")]
    return old, new


def test_markdown_puts_the_executive_summary_before_the_details():
    docs = render(*standard(), account_name="prod")
    md = docs.markdown
    lines = md.splitlines()
    assert lines[0] == f"# Infrastructure changelog — prod ({ACCOUNT}) — 2024-05-02"
    assert lines[2] == (f"3 resource changes in account prod ({ACCOUNT}) since 2024-05-01: 1 added, 1 removed, "
                        "1 modified. 1 critical severity — review these first.")
    positions = [md.index(h) for h in ("## Executive summary", "### Critical and high changes", "## Impact",
                                       "## Details by service", "## What could not be verified")]
    assert positions == sorted(positions)
    for row in ("| added | 1 |", "| removed | 1 |", "| modified | 1 |", "| replaced | 0 |",
                "| critical | 1 |", "| high | 0 |", "| medium | 1 |", "| low | 1 |", "| info | 0 |"):
        assert row in lines
    assert "**Most affected services:** s3 (2), ec2 (1)" in lines
    assert "### s3 — 2 changes" in lines
    assert "### ec2 — 1 change" in lines
    assert f"- **CRITICAL** — modified AWS::EC2::SecurityGroup `web` ({US})" in lines
    assert ("| critical | modified | AWS::EC2::SecurityGroup | web | us-east-1 | Ingress tcp 22 from 0.0.0.0/0 is "
            "open to the internet on an administrative or database port |") in lines
    assert "- Required tags (Environment, Owner, CostCenter): 66.67% → 66.67% (stable)" in lines
    assert "Every service and region was collected completely on both days." in lines


def test_html_has_the_same_sections_in_order():
    html = render(*standard()).html
    positions = [html.index(h) for h in ("<h2>Executive summary</h2>", "<h3>Critical and high changes</h3>",
                                         "<h2>Impact</h2>", "<h2>Details by service</h2>",
                                         "<h2>What could not be verified</h2>")]
    assert positions == sorted(positions)
    assert html.startswith("<!doctype html>")
    assert f"<title>Infrastructure changelog — {ACCOUNT} — 2024-05-02</title>" in html


def test_html_escapes_untrusted_resource_names():
    evil = security_group("sg-1", tags={"Name": XSS}, ingress=[("tcp", 22, 22, "0.0.0.0/0")])
    docs = render([], [evil])
    assert XSS not in docs.html
    assert "<script" not in docs.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in docs.html
    # Markdown table cells escape the angle brackets too.
    assert "\\<script\\>alert(1)\\</script\\>" in docs.markdown
    assert json.loads(docs.json)["changes"][0]["name"] == XSS


def test_markdown_escapes_table_breaking_characters():
    docs = render([], [queue("q1", tags={"Name": "a|b_c*d"})])
    assert f"| low | added | AWS::SQS::Queue | a\\|b\\_c\\*d | {US} | AWS::SQS::Queue added |" in docs.markdown


def test_json_is_uncapped_while_markdown_and_html_cap_per_service():
    extra = 5
    buckets = [bucket(f"b{i:03d}") for i in range(DETAIL_CAP_PER_SERVICE + extra)]
    docs = render([queue("q1")], [*buckets, queue("q1", tags={"Env": "x"})])
    data = json.loads(docs.json)
    assert len(data["changes"]) == DETAIL_CAP_PER_SERVICE + extra + 1
    assert {c["arn"] for c in data["changes"]} == {b.arn for b in buckets} | {
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:q1"}
    md_rows = [line for line in docs.markdown.splitlines() if line.startswith("| low | added | AWS::S3::Bucket |")]
    assert len(md_rows) == DETAIL_CAP_PER_SERVICE
    assert f"_… and {extra} more s3 changes: see changelog.json or resource_changes.parquet._" in docs.markdown
    assert docs.html.count("<td>AWS::S3::Bucket</td>") == DETAIL_CAP_PER_SERVICE
    assert f"… and {extra} more s3 changes: see changelog.json or resource_changes.parquet." in docs.html
    # The uncapped service is listed whole, with no "more" line.
    assert "more sqs changes" not in docs.markdown
    services = {s["service"]: (s["count"], len(s["resources"]), s["hidden"]) for s in docs.context["services"]}
    assert services == {"s3": (105, 100, 5), "sqs": (1, 1, 0)}


def test_attribute_changes_are_capped_per_resource_in_documents_only():
    count = ATTRIBUTE_CAP_PER_RESOURCE + 5
    tags = {f"k{i:02d}": "v" for i in range(count)}
    docs = render([queue("q1")], [queue("q1", tags=tags)])
    row = next(line for line in docs.markdown.splitlines() if line.startswith("| low | modified | AWS::SQS::Queue"))
    assert row.count("<br>") == ATTRIBUTE_CAP_PER_RESOURCE  # 25 descriptions joined, then the "more" line
    assert row.endswith("<br>… 5 more |")
    assert "… 5 more</li>" in docs.html
    assert len(json.loads(docs.json)["changes"][0]["attribute_changes"]) == count


def test_json_document_content():
    docs = render(*standard())
    data = json.loads(docs.json)
    assert docs.json.endswith("}\n")
    assert (data["account_id"], data["date"], data["previous_date"]) == (ACCOUNT, "2024-05-02", "2024-05-01")
    assert data["headline"] == docs.context["headline"]
    assert data["summary"]["counts"]["change_type"] == {"added": 1, "removed": 1, "modified": 1, "replaced": 0}
    by_arn = {c["arn"]: c for c in data["changes"]}
    assert set(by_arn) == {SG1, "arn:aws:s3:::data", "arn:aws:s3:::logs"}
    assert by_arn[SG1]["attribute_changes"] == [{
        "path": "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]",
        "change": "added",
        "old_value": None,
        "new_value": '{"FromPort":22,"IpProtocol":"tcp","Source":"0.0.0.0/0","SourceType":"cidr","ToPort":22}',
        "category": "security",
        "severity": "critical",
        "description": "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port",
    }]
    assert by_arn["arn:aws:s3:::logs"]["attribute_changes"] == []


def test_unverified_section_lists_scopes():
    old = [security_group("sg-1"), queue("q1")]
    new = [queue("q1")]
    docs = render(old, new, old_coverage=[scope("ec2", US), scope("sqs", US)],
                  new_coverage=[scope("ec2", US, "failed", "AccessDenied: not|authorised"), scope("sqs", US)])
    assert "| Service | Region | Status | Side | Error |" in docs.markdown
    assert "| ec2 | us-east-1 | failed | current | AccessDenied: not\\|authorised |" in docs.markdown
    assert ("<tr><td>ec2</td><td>us-east-1</td><td>failed</td><td>current</td>"
            "<td>AccessDenied: not|authorised</td></tr>") in docs.html
    assert "Every service and region was collected completely" not in docs.markdown
    assert docs.context["unverified"] == [{"service": "ec2", "region": US, "status": "failed", "sides": ["current"],
                                           "error": "AccessDenied: not|authorised"}]


def test_first_snapshot_headline():
    docs = render(None, [queue("q1"), queue("q2"), bucket("b")])
    expected = (f"First snapshot of account {ACCOUNT}: 3 resources recorded; changes are reported from the next "
                "day on.")
    assert docs.context["headline"] == expected
    assert docs.markdown.splitlines()[2] == expected
    assert expected in docs.html
    assert "_No changes._" in docs.markdown
    assert "Compared with the snapshot" not in docs.markdown
    assert "- Required tags (Environment, Owner, CostCenter): 0.0% of resources compliant" in docs.markdown
    assert json.loads(docs.json)["changes"] == []


def test_no_change_headline():
    docs = render([queue("q1")], [queue("q1")])
    assert docs.context["headline"] == f"No changes in account {ACCOUNT} between 2024-05-01 and 2024-05-02."
    assert "Compared with the snapshot of **2024-05-01** (1 resources → 1)." in docs.markdown


def test_cascade_risks_are_listed():
    sg, inst = security_group("sg-1", name="web"), instance("i-1", security_groups=["sg-1"], tags={"Name": "app"})
    docs = render([sg, inst], [inst], old_relationships=relationships_table([sg, inst]),
                  new_relationships=relationships_table([inst]))
    assert "- Cascade risks: 1" in docs.markdown
    assert (f"  - 1 resource(s) still reference this removed AWS::EC2::SecurityGroup: `web` ← `{inst.arn}`"
            in docs.markdown.splitlines())


def test_account_label_is_the_id_when_the_name_is_the_same():
    assert render(*standard(), account_name=ACCOUNT).context["account_label"] == ACCOUNT
    assert render(*standard(), account_name="prod").context["account_label"] == f"prod ({ACCOUNT})"


def test_template_dir_overrides_package_templates(tmp_path):
    (tmp_path / "changelog.md.j2").write_text("custom {{ account_id }} {{ summary.total_changes }}\n")
    docs = render(*standard(), template_dir=str(tmp_path))
    assert docs.markdown == f"custom {ACCOUNT} 3\n"
    assert "<h2>Executive summary</h2>" in docs.html  # falls back to the packaged HTML template


def test_build_context_orders_services_and_highlights():
    docs = render(*standard())
    ctx = docs.context
    assert [s["service"] for s in ctx["services"]] == ["s3", "ec2"]
    assert [(h["arn"], h["severity"]) for h in ctx["highlights"]] == [(SG1, "critical")]
    assert ctx["services"][0]["severity"] == {"critical": 0, "high": 0, "medium": 1, "low": 1, "info": 0}
    assert [r["change_type"] for r in ctx["services"][0]["resources"]] == ["removed", "added"]


@pytest.mark.parametrize("cap", [1, 2])
def test_build_context_custom_cap(cap):
    old, new = standard()
    result = DeltaEngine().compute(table(*old), table(*new), previous_date="2024-05-01", date="2024-05-02")
    ctx = build_context(result.resource_changes, result.attribute_changes, dict(result.summary, account_id=ACCOUNT),
                        cap_per_service=cap)
    s3 = next(s for s in ctx["services"] if s["service"] == "s3")
    assert (len(s3["resources"]), s3["hidden"]) == (cap, 2 - cap)


def test_html_is_self_contained():
    html = render(*standard()).html
    assert not re.search(r"<(script|link)\b", html)
    assert "src=" not in html
