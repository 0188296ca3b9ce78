"""Delivery's pure parts: facts, the notification decision, webhook and SNS messages, rate limit, metrics."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from inventag_pipeline.core.notify import (
    DayFacts,
    Decision,
    Family,
    NotifyPolicy,
    RateLimit,
    batches,
    cloudwatch_metric_data,
    cloudwatch_timestamp,
    decide,
    exposition,
    facts_from_documents,
    format_value,
    join_url,
    prometheus_textfile,
    rate_decision,
    record_sent,
    sns_message,
    textfile_day,
    webhook_payload,
)

ACCOUNT = "123456789012"
DAY = "2026-11-21"
SG = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"
BUCKET = "arn:aws:s3:::acme-logs"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"
RAW = {"account_id": ACCOUNT, "account_name": 'prod "eu"', "started_at": "2026-11-21T00:30:00Z",
       "collected_at": "2026-11-21T00:30:42.5Z",
       "coverage": [{"service": "ec2", "region": "us-east-1", "status": "ok", "duration_s": 20.25},
                    {"service": "rds", "region": "us-east-1", "status": "failed", "duration_s": 1.5}]}
SUMMARY = {
    "previous_date": "2026-11-20", "total_changes": 7,
    "counts": {"severity": {"critical": 2, "high": 1, "medium": 3, "low": 1, "info": 0}},
    "security_changes": {"high_risk_count": 3, "high_risk_resources": [
        {"arn": SG, "resource_type": "AWS::EC2::SecurityGroup", "name": "web <prod>", "change_type": "modified",
         "severity": "critical", "reasons": ["Ingress tcp 22 from 0.0.0.0/0 is open to the internet"]},
        {"arn": BUCKET, "resource_type": "AWS::S3::Bucket", "name": "acme-logs", "change_type": "modified",
         "severity": "critical", "reasons": ["Public access block removed", "Policy allows s3:* & more"]},
        {"arn": ROLE, "resource_type": "AWS::IAM::Role", "name": None, "change_type": "added",
         "severity": "high", "reasons": ["AWS::IAM::Role added"]},
    ]},
}
GATE_REASONS = ("Security score 73.47% is below the minimum of 80%.",
                "4 critical findings are failing; at most 0 allowed.")
REPORT = {"score": 73.47, "tag_compliance_percentage": 66.67,
          "severity_counts": {"critical": 4, "high": 31, "medium": 48, "low": 8, "info": 0},
          "gate": {"status": "error", "reasons": list(GATE_REASONS)}}
CHANGELOG_URL = f"https://reports.example.com/inventag/changelogs/account={ACCOUNT}/date={DAY}/changelog.html"
REPORT_PATH = f"/srv/store/compliance/reports/account={ACCOUNT}/date={DAY}/report.md"
LINKS = {"changelog": CHANGELOG_URL, "compliance report": REPORT_PATH}
NOW = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.timezone.utc)


def full_facts(**changes) -> DayFacts:
    facts = facts_from_documents(ACCOUNT, DAY, account_name=RAW["account_name"], snapshot_manifest={"row_count": 258},
                                 delta_summary=SUMMARY, report=REPORT, raw_manifest=RAW, collection_errors=3)
    return DayFacts(**{**facts.__dict__, **changes})


def test_facts_are_read_from_every_document():
    assert full_facts() == DayFacts(
        account_id=ACCOUNT, date=DAY, account_name='prod "eu"', resources=258, previous_date="2026-11-20",
        total_changes=7, changes_by_severity={"critical": 2, "high": 1, "medium": 3, "low": 1, "info": 0},
        high_risk=tuple(SUMMARY["security_changes"]["high_risk_resources"]), gate_status="error",
        gate_reasons=GATE_REASONS, security_score=73.47, tag_compliance_pct=66.67,
        failing_by_severity={"critical": 4, "high": 31, "medium": 48, "low": 8, "info": 0},
        collection_errors=3, scopes_failed=1, collection_seconds=42.5, api_seconds=21.75,
        collected_at="2026-11-21T00:30:42.5Z")


def test_missing_documents_leave_figures_unknown_not_zero():
    facts = facts_from_documents(ACCOUNT, DAY, snapshot_manifest={"row_count": 5})
    assert (facts.resources, facts.total_changes, facts.gate_status, facts.security_score,
            facts.collection_errors, facts.changes_by_severity) == (5, None, None, None, None, {})


def test_decision_names_critical_and_high_changes_and_the_failed_gate():
    decision = decide(full_facts(), NotifyPolicy())
    assert (decision.notify, decision.kinds, decision.reasons) == (True, ("changes", "gate"), (
        "2 critical and 1 high severity changes since 2026-11-20.", "The compliance gate failed with ERROR."))
    assert len(decision.fingerprint) == 16 and decision == decide(full_facts(), NotifyPolicy())


def test_decision_follows_the_policy():
    only_critical = decide(full_facts(), NotifyPolicy(min_severity="critical", gate_level="off"))
    assert (only_critical.kinds, only_critical.reasons) == (
        ("changes",), ("2 critical severity changes since 2026-11-20.",))
    warn = full_facts(changes_by_severity={"critical": 0, "high": 0, "medium": 1, "low": 0, "info": 0},
                      gate_status="warn")
    assert decide(warn, NotifyPolicy()) == Decision(
        False, (), ("Nothing to notify: no change at or above high severity; compliance gate warn.",),
        decide(warn, NotifyPolicy()).fingerprint)
    assert decide(warn, NotifyPolicy(gate_level="warn")).reasons == ("The compliance gate failed with WARN.",)
    one_medium = decide(warn, NotifyPolicy(min_severity="medium", gate_level="off"))
    assert one_medium.reasons == ("1 medium severity change since 2026-11-20.",)


def test_nothing_to_notify_says_which_inputs_were_missing():
    decision = decide(facts_from_documents(ACCOUNT, DAY), NotifyPolicy())
    assert (decision.notify, decision.reasons) == (
        False, ("Nothing to notify: no delta for this day; no compliance report for this day.",))


def test_fingerprint_changes_with_the_content_only():
    base = decide(full_facts(), NotifyPolicy()).fingerprint
    assert decide(full_facts(resources=1, collection_errors=0), NotifyPolicy()).fingerprint == base
    assert decide(full_facts(gate_reasons=GATE_REASONS[:1]), NotifyPolicy()).fingerprint != base
    assert decide(full_facts(date="2026-11-22"), NotifyPolicy()).fingerprint != base


def test_policy_and_rate_limit_reject_unknown_values():
    with pytest.raises(ValueError, match="notify min severity 'severe' is not one of critical, high, medium"):
        NotifyPolicy(min_severity="severe")
    with pytest.raises(ValueError, match="notify gate level 'fail' is not one of off, error, warn"):
        NotifyPolicy(gate_level="fail")
    with pytest.raises(ValueError, match="must allow at least 1, not 0"):
        RateLimit(max_notifications=0)


def test_webhook_payload_is_slack_blocks_with_escaped_content_and_a_link_button():
    policy = NotifyPolicy()
    payload = webhook_payload(full_facts(), decide(full_facts(), policy), policy, LINKS)
    assert payload == {
        "text": (f'inventag: prod "eu" ({ACCOUNT}) on {DAY}: 2 critical and 1 high severity changes since '
                 f"2026-11-20. The compliance gate failed with ERROR. <{CHANGELOG_URL}|changelog> "
                 f"compliance report: {REPORT_PATH}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f'inventag: prod "eu" ({ACCOUNT}) on {DAY}',
                                        "emoji": False}},
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "• 2 critical and 1 high severity changes since 2026-11-20.\n"
                "• The compliance gate failed with ERROR.")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "*Highest-severity changes*\n"
                "• critical modified AWS::EC2::SecurityGroup `web &lt;prod&gt;`: Ingress tcp 22 from 0.0.0.0/0 is "
                "open to the internet\n"
                "• critical modified AWS::S3::Bucket `acme-logs`: Public access block removed; Policy allows s3:* "
                "&amp; more\n"
                f"• high added AWS::IAM::Role `{ROLE}`: AWS::IAM::Role added")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "*Compliance gate: ERROR*\n• Security score 73.47% is below the minimum of 80%.\n"
                "• 4 critical findings are failing; at most 0 allowed.")}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                "258 resources, 7 changes, security score 73.47%, tag compliance 66.67%, 3 collection errors")}]},
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text",
                                                                         "text": "Open changelog"},
                                              "url": CHANGELOG_URL}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"compliance report: `{REPORT_PATH}`"}]},
        ],
    }


def test_webhook_lists_at_most_ten_changes_and_counts_the_rest():
    many = tuple({"arn": f"arn:aws:s3:::b{i:02d}", "resource_type": "AWS::S3::Bucket", "name": f"b{i:02d}",
                  "change_type": "removed", "severity": "high", "reasons": []} for i in range(12))
    facts = full_facts(high_risk=many, changes_by_severity={"critical": 0, "high": 14, "medium": 0, "low": 0,
                                                            "info": 0})
    policy = NotifyPolicy(gate_level="off")
    [_, _, changes, *_] = webhook_payload(facts, decide(facts, policy), policy, {})["blocks"]
    lines = changes["text"]["text"].splitlines()
    assert lines[1:3] == ["• high removed AWS::S3::Bucket `b00`", "• high removed AWS::S3::Bucket `b01`"]
    assert (len(lines), lines[-1]) == (12, "• … and 4 more in the changelog")


def test_webhook_sections_stay_within_slacks_limit():
    long = tuple({**h, "reasons": ["x" * 400]} for h in SUMMARY["security_changes"]["high_risk_resources"] * 4)
    facts = full_facts(high_risk=long, changes_by_severity={"critical": 8, "high": 4})
    policy = NotifyPolicy()
    changes = webhook_payload(facts, decide(facts, policy), policy, {})["blocks"][2]["text"]["text"]
    assert (len(changes), changes[-1]) == (3000, "…")


def test_sns_message_has_an_ascii_subject_a_plain_body_and_filter_attributes():
    policy = NotifyPolicy()
    facts = full_facts(account_name="prod \u2013 eu")
    message = sns_message(facts, decide(facts, policy), policy, LINKS)
    assert message["Subject"] == f"inventag prod ? eu ({ACCOUNT}) {DAY}: 2 critical, 1 high changes; gate ERROR"
    assert message["Message"] == (
        f"inventag-pipeline: account prod \u2013 eu ({ACCOUNT}), {DAY}\n\n"
        "- 2 critical and 1 high severity changes since 2026-11-20.\n"
        "- The compliance gate failed with ERROR.\n\n"
        "Highest-severity changes:\n"
        "- critical modified AWS::EC2::SecurityGroup web <prod>: Ingress tcp 22 from 0.0.0.0/0 is open to the "
        "internet\n"
        "- critical modified AWS::S3::Bucket acme-logs: Public access block removed; Policy allows s3:* & more\n"
        f"- high added AWS::IAM::Role {ROLE}: AWS::IAM::Role added\n\n"
        "Compliance gate reasons:\n"
        "- Security score 73.47% is below the minimum of 80%.\n"
        "- 4 critical findings are failing; at most 0 allowed.\n\n"
        "Figures: 258 resources, 7 changes, security score 73.47%, tag compliance 66.67%, 3 collection errors\n\n"
        f"Changelog: {CHANGELOG_URL}\n"
        f"Compliance report: {REPORT_PATH}\n")
    assert {k: v["StringValue"] for k, v in message["MessageAttributes"].items()} == {
        "account_id": ACCOUNT, "date": DAY, "reasons": "changes,gate", "max_change_severity": "critical",
        "gate_status": "error"}
    long = full_facts(account_name="x" * 120)
    assert len(sns_message(long, decide(long, policy), policy, {})["Subject"]) == 100


def _at(hours_before_now: float) -> str:
    return (NOW - dt.timedelta(hours=hours_before_now)).isoformat().replace("+00:00", "Z")


def test_rate_limit_allows_until_the_window_is_full():
    limit = RateLimit(max_notifications=2, window=dt.timedelta(hours=24))
    state = {"sent": [{"at": _at(30), "date": "2026-11-19", "fingerprint": "a", "channels": ["webhook"]},
                      {"at": _at(5), "date": "2026-11-20", "fingerprint": "b", "channels": ["webhook"]}]}
    allowed = rate_decision(state, fingerprint="c", channels=("webhook", "sns"), now=NOW, limit=limit)
    assert allowed.send == ("webhook", "sns") and allowed.reason == "2 of at most 2 in 24 hours"
    state = record_sent(state, fingerprint="c", date=DAY, channels=["webhook", "sns"], now=NOW)
    refused = rate_decision(state, fingerprint="d", channels=("webhook",), now=NOW, limit=limit)
    assert refused.send == ()
    assert refused.reason == ("rate limit reached: 2 notifications for this account in the last 24 hours "
                              "(at most 2)")
    hourly = RateLimit(max_notifications=1, window=dt.timedelta(hours=1))
    assert rate_decision(state, fingerprint="d", channels=("webhook",), now=NOW + dt.timedelta(minutes=61),
                         limit=hourly).send == ("webhook",)


def test_the_same_content_is_never_sent_twice_and_a_partial_delivery_is_finished():
    limit = RateLimit(max_notifications=1)
    state = record_sent(None, fingerprint="f", date=DAY, channels=["webhook"], now=NOW)
    assert state == {"schema_version": 1, "sent": [
        {"at": "2026-11-22T01:00:00Z", "date": DAY, "fingerprint": "f", "channels": ["webhook"]}]}
    finish = rate_decision(state, fingerprint="f", channels=("webhook", "sns"), now=NOW, limit=limit)
    assert (finish.send, finish.reason) == (("sns",), "finishing a notification already delivered on webhook")
    state = record_sent(state, fingerprint="f", date=DAY, channels=["sns"], now=NOW)
    again = rate_decision(state, fingerprint="f", channels=("webhook", "sns"), now=NOW, limit=limit)
    assert (again.send, again.reason) == (
        (), "already delivered at 2026-11-22T01:00:00Z with the same content; not sent again")
    # Two entries of one notification count once against the limit: another one is refused, not two.
    assert rate_decision(state, fingerprint="g", channels=("sns",), now=NOW, limit=RateLimit(2)).send == ("sns",)


def test_record_sent_forgets_entries_older_than_five_weeks():
    state = {"sent": [{"at": _at(36 * 24), "date": "2026-10-17", "fingerprint": "old", "channels": ["sns"]},
                      {"at": _at(34 * 24), "date": "2026-10-19", "fingerprint": "kept", "channels": ["sns"]}]}
    assert [e["fingerprint"] for e in record_sent(state, fingerprint="new", date=DAY, channels=["sns"],
                                                  now=NOW)["sent"]] == ["kept", "new"]


TEXTFILE = f"""# inventag-pipeline textfile: account {ACCOUNT}, day {DAY}
# HELP inventag_account_info Account name of each inventoried account (always 1).
# TYPE inventag_account_info gauge
inventag_account_info{{account="{ACCOUNT}",name="prod \\"eu\\""}} 1
# HELP inventag_day_timestamp_seconds Start (UTC) of the newest day exported for the account; alert when it falls \
behind.
# TYPE inventag_day_timestamp_seconds gauge
inventag_day_timestamp_seconds{{account="{ACCOUNT}"}} 1795219200
# HELP inventag_resources Resources in the account's snapshot of that day.
# TYPE inventag_resources gauge
inventag_resources{{account="{ACCOUNT}"}} 258
# HELP inventag_changes Resource changes against the previous snapshot, by severity.
# TYPE inventag_changes gauge
inventag_changes{{account="{ACCOUNT}",severity="critical"}} 2
inventag_changes{{account="{ACCOUNT}",severity="high"}} 1
inventag_changes{{account="{ACCOUNT}",severity="medium"}} 3
inventag_changes{{account="{ACCOUNT}",severity="low"}} 1
inventag_changes{{account="{ACCOUNT}",severity="info"}} 0
# HELP inventag_security_score_percent Share of evaluated security checks that pass.
# TYPE inventag_security_score_percent gauge
inventag_security_score_percent{{account="{ACCOUNT}"}} 73.47
# HELP inventag_tag_compliance_percent Share of resources compliant with the tag policy.
# TYPE inventag_tag_compliance_percent gauge
inventag_tag_compliance_percent{{account="{ACCOUNT}"}} 66.67
# HELP inventag_failing_findings Failing security findings, by severity.
# TYPE inventag_failing_findings gauge
inventag_failing_findings{{account="{ACCOUNT}",severity="critical"}} 4
inventag_failing_findings{{account="{ACCOUNT}",severity="high"}} 31
inventag_failing_findings{{account="{ACCOUNT}",severity="medium"}} 48
inventag_failing_findings{{account="{ACCOUNT}",severity="low"}} 8
inventag_failing_findings{{account="{ACCOUNT}",severity="info"}} 0
# HELP inventag_compliance_gate_status Compliance gate outcome (1 for the current status).
# TYPE inventag_compliance_gate_status gauge
inventag_compliance_gate_status{{account="{ACCOUNT}",status="pass"}} 0
inventag_compliance_gate_status{{account="{ACCOUNT}",status="warn"}} 0
inventag_compliance_gate_status{{account="{ACCOUNT}",status="error"}} 1
# HELP inventag_collection_errors Errors recorded while collecting the account.
# TYPE inventag_collection_errors gauge
inventag_collection_errors{{account="{ACCOUNT}"}} 3
# HELP inventag_collection_failed_scopes (service, region) scopes not collected completely.
# TYPE inventag_collection_failed_scopes gauge
inventag_collection_failed_scopes{{account="{ACCOUNT}"}} 1
# HELP inventag_collection_duration_seconds Wall-clock time of the collection.
# TYPE inventag_collection_duration_seconds gauge
inventag_collection_duration_seconds{{account="{ACCOUNT}"}} 42.5
# HELP inventag_collection_api_seconds Time spent collecting, summed over (service, region) scopes.
# TYPE inventag_collection_api_seconds gauge
inventag_collection_api_seconds{{account="{ACCOUNT}"}} 21.75
# HELP inventag_collected_timestamp_seconds When the collection finished.
# TYPE inventag_collected_timestamp_seconds gauge
inventag_collected_timestamp_seconds{{account="{ACCOUNT}"}} 1795221042.5
"""


def test_prometheus_textfile_is_exact():
    text = prometheus_textfile(full_facts())
    assert text == TEXTFILE
    assert textfile_day(text) == DAY and textfile_day("# some other file\nx 1\n") is None


def test_prometheus_leaves_out_families_whose_input_is_missing():
    text = prometheus_textfile(facts_from_documents(ACCOUNT, DAY, snapshot_manifest={"row_count": 4}))
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        f'inventag_day_timestamp_seconds{{account="{ACCOUNT}"}} 1795219200',
        f'inventag_resources{{account="{ACCOUNT}"}} 4']


def test_exposition_escapes_labels_and_help_and_formats_values():
    family = Family("x_total", 'Help with \\ and\nnewline and "quotes".',
                    (({"path": 'C:\\dir "a"\nb'}, 1.5), ({"path": "n"}, math.nan)), type="counter")
    assert exposition([family, Family("empty", "none", ())]) == (
        '# HELP x_total Help with \\\\ and\\nnewline and "quotes".\n'
        "# TYPE x_total counter\n"
        'x_total{path="C:\\\\dir \\"a\\"\\nb"} 1.5\n'
        'x_total{path="n"} NaN\n')
    assert [format_value(v) for v in (True, 3, 0.1, math.inf, -math.inf, 100.0)] == [
        "1", "3", "0.1", "+Inf", "-Inf", "100.0"]


def test_cloudwatch_data_is_dimensioned_by_account_and_severity():
    when = dt.datetime(2026, 11, 21, 0, 30, 42, 500000, tzinfo=dt.timezone.utc)
    data = cloudwatch_metric_data(full_facts(), when)
    assert [(d["MetricName"], [x["Value"] for x in d["Dimensions"]], d["Value"], d["Unit"]) for d in data] == [
        ("Resources", [ACCOUNT], 258.0, "Count"),
        ("Changes", [ACCOUNT, "critical"], 2.0, "Count"),
        ("Changes", [ACCOUNT, "high"], 1.0, "Count"),
        ("Changes", [ACCOUNT, "medium"], 3.0, "Count"),
        ("Changes", [ACCOUNT, "low"], 1.0, "Count"),
        ("Changes", [ACCOUNT, "info"], 0.0, "Count"),
        ("SecurityScore", [ACCOUNT], 73.47, "Percent"),
        ("TagCompliance", [ACCOUNT], 66.67, "Percent"),
        ("CollectionErrors", [ACCOUNT], 3.0, "Count"),
        ("CollectionDuration", [ACCOUNT], 42.5, "Seconds"),
    ]
    assert {d["Timestamp"] for d in data} == {when}
    assert data[1]["Dimensions"] == [{"Name": "AccountId", "Value": ACCOUNT}, {"Name": "Severity", "Value": "critical"}]
    assert [len(b) for b in batches(list(range(45)))] == [20, 20, 5]


def test_cloudwatch_timestamp_is_the_collection_time_within_two_weeks():
    assert cloudwatch_timestamp(full_facts(), NOW) == (
        dt.datetime(2026, 11, 21, 0, 30, 42, 500000, tzinfo=dt.timezone.utc),
        "timestamped 2026-11-21T00:30:42.500000Z")
    late = NOW + dt.timedelta(days=15)
    assert cloudwatch_timestamp(full_facts(), late) == (
        None, "observed 2026-11-21T00:30:42.500000Z, more than 14 days ago; CloudWatch refuses older data points")


def test_join_url_has_exactly_one_slash():
    assert join_url("https://r.example.com/inv/", "/changelogs/a") == "https://r.example.com/inv/changelogs/a"
    assert join_url("s3://bucket", "x/y") == "s3://bucket/x/y"
