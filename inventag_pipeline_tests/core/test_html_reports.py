"""HTML reports: self-contained, escaped, script-free sorting and filtering, 30-day charts, variants, templates."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict

import pyarrow as pa
import pytest
from markupsafe import escape

from inventag_pipeline.core.changelog import ChangelogDocuments, changelog_provenance, render_changelog
from inventag_pipeline.core.checks import CHECKS, FINDINGS_SCHEMA
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.report import (
    COLLECTION_SAFETY_STATEMENT,
    GateThresholds,
    ReportDocuments,
    build_report,
    evaluate_gate,
    report_html,
)
from inventag_pipeline.core.templating import TemplateDirError, sort_styles
from inventag_pipeline.core.trends import bar_chart, change_series, compliance_series, line_chart, window
from inventag_pipeline_tests.core.factories import ACCOUNT, COMPLETE_TAGS, bucket, queue, security_group, table

XSS = "<script>alert(1)</script>"
ATTR_XSS = '"><img src=x onerror=alert(2)>'
SG1 = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"
DAY, PREVIOUS = "2024-05-30", "2024-05-29"
PAB, IMDS = "s3_bucket_public_access_blocked", "ec2_instance_imdsv2_required"
CURRENT_SNAPSHOT = {"date": DAY, "collected_at": "2024-05-30T23:10:00Z", "row_count": 3, "sha256": "a" * 64,
                    "source": "api", "regions": ["us-east-1"]}
PREVIOUS_SNAPSHOT = {**CURRENT_SNAPSHOT, "date": PREVIOUS, "sha256": "b" * 64}
RAW_MANIFEST = {"identity": "arn:aws:sts::123456789012:assumed-role/InventagReadOnly/x",
                "operations": {"ec2:DescribeSecurityGroups": 2},
                "operation_classification": {"ec2:DescribeSecurityGroups": "read verb 'Describe'"},
                "audit": {"total_calls": 2, "ok": 2, "errors": 0, "refused": 0, "all_read_only": True},
                "coverage": [{"service": "ec2", "region": "us-east-1", "status": "ok", "error": None}]}


def changelog(*, history=None, provenance=None, template_dir=None) -> ChangelogDocuments:
    """A day with a critical SG change, a removed required tag, and untrusted text in names and values."""
    old = [security_group("sg-1", name="web", tags=COMPLETE_TAGS), bucket("logs", tags={**COMPLETE_TAGS, "Owner": XSS}),
           queue("q1")]
    new = [security_group("sg-1", ingress=[("tcp", 22, 22, "0.0.0.0/0")], tags={**COMPLETE_TAGS, "Name": XSS}),
           bucket("logs", tags={k: v for k, v in COMPLETE_TAGS.items() if k != "Owner"}),
           queue("q2", tags={"Name": ATTR_XSS})]
    result = DeltaEngine().compute(table(*old), table(*new), previous_date=PREVIOUS, date=DAY)
    summary = dict(result.summary, account_id=ACCOUNT, resource_count=3, previous_resource_count=3)
    return render_changelog(result.resource_changes, result.attribute_changes, summary, account_name="prod",
                            template_dir=template_dir, history=history, provenance=provenance)


def findings(rows: list[tuple[str, str, str, str]]) -> pa.Table:
    """(check_id, arn, status, evidence summary) rows with the check's declared severity and frameworks."""
    return pa.Table.from_pylist(
        [{"arn": arn, "resource_type": "AWS::S3::Bucket", "check_id": cid, "title": CHECKS[cid].title,
          "severity": CHECKS[cid].severity, "status": status, "frameworks": list(CHECKS[cid].frameworks),
          "evidence": f'{{"summary": "{summary}"}}'} for cid, arn, status, summary in rows], schema=FINDINGS_SCHEMA)


def compliance(*, history=None, template_dir=None) -> tuple[dict, ReportDocuments]:
    """Two reports: the bucket's finding stays failing, an instance's is new today, one is resolved."""
    day1 = build_report(account_id=ACCOUNT, date=PREVIOUS, previous=None, raw_manifest=RAW_MANIFEST,
                        tag_summary={"compliance_percentage": 90.0, "evaluated": 10, "compliant": 9,
                                     "non_compliant": 1, "untagged": 0, "exempt": 0, "by_service": {"s3": 90.0}},
                        findings=findings([(PAB, "arn:aws:s3:::a", "FAIL", "Bucket a is public"),
                                           (PAB, "arn:aws:s3:::b", "FAIL", "Bucket b is public")]))
    day2 = build_report(account_id=ACCOUNT, date=DAY, previous=day1, raw_manifest=RAW_MANIFEST,
                        tag_summary={"compliance_percentage": 80.0, "evaluated": 10, "compliant": 8,
                                     "non_compliant": 2, "untagged": 1, "exempt": 0, "by_service": {"s3": 80.0}},
                        findings=findings([(PAB, "arn:aws:s3:::a", "FAIL", f"Bucket a is public {XSS}"),
                                           (PAB, "arn:aws:s3:::b", "PASS", "Bucket b blocks public access"),
                                           (IMDS, "arn:aws:ec2:us-east-1:1:instance/i-1", "FAIL", "IMDSv1 on"),
                                           (IMDS, "arn:aws:ec2:us-east-1:1:instance/i-2", "PASS", "IMDSv2")]))
    gate = evaluate_gate(day2, GateThresholds())
    day2["gate"] = {"status": gate.status, "reasons": list(gate.reasons), "figures": gate.figures,
                    "thresholds": asdict(GateThresholds())}
    sources = [{"label": "Security findings", "file": "/store/findings.parquet", "sha256": "c" * 64}]
    return day2, report_html(day2, history=history, template_dir=template_dir, sources=sources)


def all_documents() -> dict[str, str]:
    docs = changelog(history=change_series({}, DAY), provenance=changelog_provenance(
        CURRENT_SNAPSHOT, PREVIOUS_SNAPSHOT, RAW_MANIFEST))
    _, report = compliance(history=compliance_series({}, DAY))
    return {"changelog.html": docs.html, "changelog.summary.html": docs.summary_html,
            "changelog.audit.html": docs.audit_html, "report.html": report.html,
            "report.summary.html": report.summary_html, "report.audit.html": report.audit_html}


# --- self-contained, escaped ---------------------------------------------------------------------------


def test_every_document_is_self_contained_and_links_only_its_siblings():
    for name, html in all_documents().items():
        assert html.startswith("<!doctype html>"), name
        assert not re.search(r"<(script|link|iframe|object|embed|img)\b", html, re.I), name
        assert not re.search(r"@import|url\(", html), name
        assert "@media print" in html, name
        targets = set(re.findall(r'\b(?:src|href)="([^"]*)"', html))
        family = "changelog" if name.startswith("changelog") else "report"
        expected = {f"{family}.html", f"{family}.summary.html", f"{family}.audit.html", f"{family}.md",
                    f"{family}.json"} - {name}
        assert targets == expected, name


def test_untrusted_values_are_escaped_in_every_document():
    for name, html in all_documents().items():
        assert XSS not in html and "<img" not in html, name
        assert "onerror=alert" not in html.replace("onerror=alert(2)&gt;", ""), name
    docs = all_documents()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    # The name of the critical change and the removed tag's old value reach every changelog variant.
    assert escaped in docs["changelog.html"] and escaped in docs["changelog.summary.html"]
    assert escaped in docs["changelog.audit.html"]
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in docs["changelog.html"]
    assert f"Bucket a is public {escaped}" in docs["report.html"] and escaped in docs["report.audit.html"]


# --- sortable and filterable without script --------------------------------------------------------------


def test_sort_styles_rank_each_column_and_share_ranks_on_ties():
    rows = [("b", 2), ("a", 2), ("c", 1)]
    assert sort_styles(rows, (lambda r: r[0], lambda r: r[1])) == ["--k0:1;--k1:1", "--k0:0;--k1:1",
                                                                   "--k0:2;--k1:0"]
    assert sort_styles([], (lambda r: r,)) == []


def test_detail_tables_carry_sort_controls_ranks_and_filter_classes():
    docs = changelog()
    html = docs.html
    ec2 = next(i for i, s in enumerate(docs.context["services"], start=1) if s["service"] == "ec2")
    for column in range(6):
        for direction in "ad":
            assert (f'<input type="radio" class="so s{column}{direction}" name="svc{ec2}" '
                    f'id="svc{ec2}-{column}{direction}"') in html
    assert f'<label for="svc{ec2}-0a" class="up">Severity</label><label for="svc{ec2}-0d" class="dn">Severity</label>' \
        in html
    assert '<tr class="sev-critical ct-modified" style="--k0:0;--k1:0;--k2:0;--k3:0;--k4:0;--k5:0">' in html
    # One checkbox per severity and change type present today, checked (shown) by default, with its count.
    for value, count in (("sev-critical", 1), ("sev-medium", 1), ("sev-low", 2), ("ct-added", 1),
                         ("ct-removed", 1), ("ct-modified", 2)):
        assert f'<input type="checkbox" class="f f-{value}" id="fd-{value}" checked' in html
        assert f'<label for="fd-{value}" class="c-{value}">{value.split("-", 1)[1]} ({count})</label>' in html
    assert ".dt > .s5d:checked ~ table tbody td { order: calc(-1 * var(--k5)); }" in html
    assert ".filters > .f-sev-low:not(:checked) ~ * tr.sev-low { display: none; }" in html


def test_report_findings_table_sorts_and_filters_by_severity_and_state():
    _, docs = compliance()
    html = docs.html
    assert '<tr class="sev-critical st-still"' in html and '<tr class="sev-high st-new"' in html
    assert '<label for="ff-st-new" class="c-st-new">new (1)</label>' in html
    assert '<label for="ff-sev-critical" class="c-sev-critical">critical (1)</label>' in html
    assert '<tr class="sev-critical st-resolved"' in html
    assert html.count('<input type="radio" class="so s6d" name="open"') == 1


# --- charts ----------------------------------------------------------------------------------------------


def summary_for(date: str, total: int, *, baseline: bool = False) -> dict:
    return {"date": date, "previous_date": None if baseline else "x", "total_changes": total,
            "counts": {"severity": {"critical": 1, "high": 0, "medium": 0, "low": total - 1, "info": 0}},
            "compliance_changes": {"new_compliance_stats": {"compliance_percentage": 50.0 + total}}}


def test_window_is_thirty_days_ending_on_the_partition_date():
    days = window("2024-03-01")
    assert (len(days), days[0], days[-2], days[-1]) == (30, "2024-02-01", "2024-02-29", "2024-03-01")


def test_change_series_marks_gaps_and_the_baseline_instead_of_zero():
    dates = window(DAY)
    summaries = {d: summary_for(d, i + 1, baseline=i == 0) for i, d in enumerate(dates) if i != 10}
    points = change_series(summaries, DAY)
    assert len(points) == 30
    assert (points[0]["baseline"], points[0]["total"], points[0]["tag_pct"]) == (True, None, 51.0)
    assert (points[10]["missing"], points[10]["total"]) == (True, None)
    assert points[29]["total"] == 30 and points[29]["severity"]["low"] == 29
    chart = bar_chart(points, label="changes")
    assert len(chart["bars"]) == 28
    assert [(m["kind"], m["title"]) for m in chart["markers"]] == [
        ("baseline", f"{dates[0]}: first snapshot (baseline)"), ("missing", f"{dates[10]}: no data for this day")]
    last = chart["bars"][-1]
    assert last["title"] == f"{DAY}: 30 changes (1 critical, 29 low)"
    # Stacked from the axis up, critical first; the tallest day fills the nice axis maximum of 50 in proportion.
    plot_h = chart["bottom"] - chart["top"]
    assert [s["severity"] for s in last["segments"]] == ["critical", "low"]
    assert sum(s["h"] for s in last["segments"]) == pytest.approx(plot_h * 30 / 50, abs=0.2)
    assert [t["text"] for t in chart["y_ticks"]] == ["0", "25", "50"]
    assert [label["text"] for label in chart["x_labels"]] == ["05-02", "05-09", "05-16", "05-23", "05-30"]


def test_line_chart_breaks_at_a_missing_day():
    points = [{"date": f"2024-05-0{i}", "score": s} for i, s in enumerate((80.0, None, 90.0, 100.0), start=1)]
    chart = line_chart(points, [("score", "security score")], label="scores")
    [line] = chart["lines"]
    assert len(line["dots"]) == 3 and line["latest"] == 100.0
    assert len(line["polylines"]) == 1  # the lone first point is a dot, not a line
    assert line["dots"][0]["title"] == "2024-05-01: security score 80%"
    assert line["dots"][2]["y"] == chart["top"]


def test_changelog_html_charts_thirty_days_with_one_bar_per_day():
    history = change_series({d: summary_for(d, 3) for d in window(DAY)}, DAY)
    docs = changelog(history=history)
    assert docs.html.count('<g class="g bar">') == 30
    assert docs.html.count('<circle class="dot s0"') == 30
    assert f"<title>{DAY}: 3 changes (1 critical, 2 low)</title>" in docs.html
    assert "<h3>Last 30 days</h3>" in docs.html
    assert docs.summary_html.count('<g class="g bar">') == 30
    assert "Last 30 days" not in changelog().html  # no history given: no chart


def test_report_html_charts_score_and_tag_compliance_for_thirty_days():
    reports = {d: {"score": 70.0 + i, "tag_compliance_percentage": 90.0,
                   "severity_counts": {"critical": 1, "high": 2, "medium": 0, "low": 0, "info": 0}}
               for i, d in enumerate(window(DAY))}
    points = compliance_series(reports, DAY)
    _, docs = compliance(history=points)
    for series in ("s0", "s1"):
        assert docs.html.count(f'<circle class="dot {series}"') == 30
    assert docs.html.count('<g class="g bar">') == 30
    assert f"<title>{DAY}: security score 99%</title>" in docs.html
    polyline = re.search(r'<polyline class="ln s0" points="([^"]*)"', docs.html).group(1)
    assert len(polyline.split()) == 30


# --- variants --------------------------------------------------------------------------------------------


def test_changelog_executive_summary_has_risk_findings_and_actions_only():
    html = changelog().summary_html
    assert "<strong>Risk level: CRITICAL</strong>" in html
    assert ("<li>CRITICAL: modified AWS::EC2::SecurityGroup &lt;script&gt;alert(1)&lt;/script&gt; (us-east-1) — "
            "Ingress tcp 22 from 0.0.0.0/0 is open to the internet on an administrative or database port</li>") in html
    assert ("<li>Confirm that the 1 critical and 0 high severity changes were intended and approved (match each to a "
            "change ticket); revert the ones that were not.</li>") in html
    assert ("<li>Restore the required tags (Environment, Owner, CostCenter) on 1 resource(s) that lost them.</li>"
            in html)
    for section in ("<h2>Key findings</h2>", "<h2>Immediate actions</h2>", "<h2>Compliance</h2>"):
        assert section in html
    assert "Details by service" not in html and "<table" not in html


def test_changelog_audit_report_cites_evidence_and_lists_security_changes():
    docs = changelog(provenance=changelog_provenance(CURRENT_SNAPSHOT, PREVIOUS_SNAPSHOT, RAW_MANIFEST))
    html = docs.audit_html
    assert "end of 2024-05-29 → end of 2024-05-30 (UTC)" in html
    assert f"snapshot.parquet SHA-256 <code>{'a' * 64}</code>" in html
    assert f"snapshot.parquet SHA-256 <code>{'b' * 64}</code>" in html
    digest = hashlib.sha256(docs.json.encode()).hexdigest()
    assert f"changelog.json: 4 resource changes, SHA-256 <code>{digest}</code>" in html
    # The security and compliance attribute changes, with old and new values; the tag-only change is not one.
    register = html[html.index("<h2>Security-relevant attribute changes</h2>"):html.index("<h2>Resource change")]
    assert register.count("<tr class=") == 2
    assert '<code>IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]</code>' in register
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> → <code>—</code>" in register
    assert "tags.Name" not in register
    assert html.count('<tr class="sev-') == 2 + 4  # both registers complete
    assert "All operations read-only</dt><dd>yes" in html and str(escape(COLLECTION_SAFETY_STATEMENT)) in html
    assert "Every service and region was collected completely on both days" in html


def test_compliance_executive_summary_has_status_score_risk_findings_and_actions():
    _, docs = compliance()
    html = docs.summary_html
    assert "<strong>Overall status: Non-compliant</strong>" in html
    assert '<div class="n">50%</div><div class="l">compliance score</div>' in html
    assert '<div class="n">CRITICAL</div><div class="l">risk level</div>' in html
    assert (f"<li>CRITICAL: 1 resource fail “{CHECKS[PAB].title}” ({PAB}).</li>") in html
    assert (f"<li>HIGH: 1 resource fail “{CHECKS[IMDS].title}” ({IMDS}).</li>") in html
    assert "<li>Since 2024-05-29: 1 new failing, 0 reopened, 1 resolved; security score 0% → 50%.</li>" in html
    assert "<li>Gate: Security score 50% is below the minimum of 80%.</li>" in html
    assert f"<li>Make 1 resource pass “{CHECKS[PAB].title}” (critical): {CHECKS[PAB].remediation}</li>" in html
    assert "Failing findings" not in html


def test_compliance_audit_report_has_sources_gate_controls_findings_and_collection():
    report, docs = compliance()
    html = docs.audit_html
    assert f"<dt>Security findings</dt><dd><code>/store/findings.parquet</code><br>SHA-256 <code>{'c' * 64}</code>" \
        in html
    assert "<tr><td><code>min_score</code></td><td class=\"num\">80.0</td></tr>" in html
    for name, fw in report["frameworks"].items():
        assert f"<td>{name}</td>" in html and ", ".join(fw["failing_controls"]) in html
    assert "Bucket a is public &lt;script&gt;" in html and "IMDSv1 on" in html
    assert '<tr class="sev-critical st-resolved"' in html and "Bucket b blocks public access" in html
    assert "<td><code>ec2:DescribeSecurityGroups</code></td><td class=\"num\">2</td>" in html
    assert "it is not a certification or an attestation" in html


# --- custom templates ------------------------------------------------------------------------------------


def test_a_custom_template_folder_overrides_single_files(tmp_path):
    (tmp_path / "changelog.summary.html.j2").write_text("<!doctype html><p>{{ executive.risk_level }} "
                                                        "{{ account_label }}</p>\n")
    docs = changelog(template_dir=str(tmp_path))
    assert docs.summary_html == f"<!doctype html><p>critical prod ({ACCOUNT})</p>\n"
    assert "<h2>Executive summary</h2>" in docs.html  # the other files come from the package
    # Overriding the shared base restyles every report that extends it, changelog and compliance alike.
    base = tmp_path / "base"
    base.mkdir()
    (base / "_report_base.html.j2").write_text("<!doctype html><title>{{ title }}</title>"
                                               "<body class=\"acme\">{% block body %}{% endblock %}</body>\n")
    docs = changelog(template_dir=str(base))
    _, report = compliance(template_dir=str(base))
    for html in (docs.html, docs.audit_html, report.html, report.summary_html, report.audit_html):
        assert '<body class="acme">' in html and "@media print" not in html
    assert "<h2>Impact</h2>" in docs.html


def test_a_missing_template_folder_is_an_error(tmp_path):
    with pytest.raises(TemplateDirError, match="is not a directory"):
        changelog(template_dir=str(tmp_path / "nope"))
