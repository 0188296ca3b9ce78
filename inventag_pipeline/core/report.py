"""The compliance report: scores, framework results, trend against the previous report, and the gate.

Pure functions over one day's security findings, the tag summary, the previous day's report and the
raw-inventory manifest. The report carries its own failure history (per `check_id|arn`: when the
current failing streak started, when it last failed, when it was last fixed), so the trend needs only
the previous report, never the whole findings history. The same input always gives the same report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.accounts import ACCOUNT_ID_RE
from inventag_pipeline.core.checks import CHECKS, FAIL, FINDINGS_SCHEMA, NOT_APPLICABLE, PASS, Check
from inventag_pipeline.core.classify import SEVERITIES, SEVERITY_RANK
from inventag_pipeline.core.templating import environment, sort_styles
from inventag_pipeline.core.trends import bar_chart, line_chart

REPORT_SCHEMA_VERSION = 1
# A fixed finding stays in the history this long after it last failed, so a regression within that
# window is reported as reopened (with its earlier dates) rather than as new.
HISTORY_RETENTION_DAYS = 90
MARKDOWN_CAP = 50
TOP_CHECKS = 10

COLLECTION_SAFETY_STATEMENT = (
    "Every AWS API call made to collect this inventory went through a client-side guard that allows only "
    "read operations on configuration metadata (List, Describe, Get and similar) and refuses anything else "
    "before it is sent; the counts above come from that guard's audit log. The IAM role's own permissions "
    "remain the primary control. This record can support, as one piece of evidence among others, SOC 2 "
    "CC6.1 and CC6.3 (logical access limited to least privilege) and CC7.2 (monitoring of system "
    "components), and ISO/IEC 27001:2022 Annex A 5.15 (access control), A 8.2 (privileged access rights) "
    "and A 8.15 (logging). It describes how this tool accessed the account; it does not by itself show that "
    "a control is designed or operating effectively, and it is not a certification or an attestation."
)


# --- gate ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateThresholds:
    """The one place the gate's defaults live.

    Error when the security score is below `min_score` %, more than `max_critical` critical findings
    fail, or tag compliance is below `min_tag_pct` %. Warn when the score is below `warn_score` %, more
    than `warn_high` high findings fail, or tag compliance is below `warn_tag_pct` %.
    """

    min_score: float = 80.0
    max_critical: int = 0
    min_tag_pct: float = 80.0
    warn_score: float = 90.0
    warn_high: int = 10
    warn_tag_pct: float = 95.0

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.min_score <= self.warn_score <= 100.0:
            problems.append(f"need 0 <= min_score ({self.min_score}) <= warn_score ({self.warn_score}) <= 100")
        if not 0.0 <= self.min_tag_pct <= self.warn_tag_pct <= 100.0:
            problems.append(f"need 0 <= min_tag_pct ({self.min_tag_pct}) <= warn_tag_pct ({self.warn_tag_pct}) <= 100")
        if self.max_critical < 0 or self.warn_high < 0:
            problems.append(f"max_critical ({self.max_critical}) and warn_high ({self.warn_high}) must be >= 0")
        if problems:
            raise ValueError("invalid gate thresholds: " + "; ".join(problems))


@dataclass(frozen=True)
class GateOutcome:
    status: str  # "pass" | "warn" | "error"
    reasons: tuple[str, ...]
    figures: dict[str, Any]


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _findings_phrase(count: int, severity: str) -> str:
    return f"{count} {severity} finding{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} failing"


def evaluate_gate(report: Mapping[str, Any], thresholds: GateThresholds) -> GateOutcome:
    """Error, warn or pass against the thresholds; each reason is one sentence with its numbers."""
    t = thresholds
    score = report["score"]
    critical = report["severity_counts"]["critical"]
    high = report["severity_counts"]["high"]
    tags = report.get("tag_compliance_percentage")
    errors: list[str] = []
    warnings: list[str] = []
    if score < t.min_score:
        errors.append(f"Security score {_pct(score)} is below the minimum of {_pct(t.min_score)}.")
    elif score < t.warn_score:
        warnings.append(f"Security score {_pct(score)} is below the warning level of {_pct(t.warn_score)}.")
    if critical > t.max_critical:
        errors.append(f"{_findings_phrase(critical, 'critical')}; at most {t.max_critical} allowed.")
    if high > t.warn_high:
        warnings.append(f"{_findings_phrase(high, 'high')}; the warning level is more than {t.warn_high}.")
    if tags is None:
        warnings.append("Tag compliance was not evaluated for this report.")
    elif tags < t.min_tag_pct:
        errors.append(f"Tag compliance {_pct(tags)} is below the minimum of {_pct(t.min_tag_pct)}.")
    elif tags < t.warn_tag_pct:
        warnings.append(f"Tag compliance {_pct(tags)} is below the warning level of {_pct(t.warn_tag_pct)}.")
    status = "error" if errors else "warn" if warnings else "pass"
    reasons = tuple(errors + warnings) or (
        f"All thresholds met: security score {_pct(score)} (warn below {_pct(t.warn_score)}), {critical} critical "
        f"failing (at most {t.max_critical}), {high} high failing (warn above {t.warn_high}), tag compliance "
        f"{_pct(tags)} (warn below {_pct(t.warn_tag_pct)}).",
    )
    figures = {
        "score": score,
        "critical_failing": critical,
        "high_failing": high,
        "tag_compliance_percentage": tags,
        "failing": report["totals"]["fail"],
        "thresholds": asdict(t),
    }
    return GateOutcome(status, reasons, figures)


# --- report --------------------------------------------------------------------------------------------


def _day(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a YYYY-MM-DD date") from None


def _score(passed: int, failed: int) -> float:
    return round(100.0 * passed / (passed + failed), 2) if passed + failed else 100.0


def _natural(text: str) -> tuple[Any, ...]:
    """Control ids in reading order: 2.1.4 before 2.10, S3.8 before S3.14."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


def _order(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    return -SEVERITY_RANK[entry["severity"]], entry["check_id"], entry["arn"]


def _summary(evidence: str | None) -> str | None:
    try:
        parsed = json.loads(evidence) if evidence is not None else None
    except ValueError:
        return evidence
    return parsed.get("summary") if isinstance(parsed, dict) else evidence


def _rows(findings: pa.Table) -> list[dict[str, Any]]:
    missing = [n for n in FINDINGS_SCHEMA.names if n not in findings.schema.names]
    if missing:
        raise ValueError(f"findings table lacks column(s) {', '.join(missing)}")
    rows = findings.select(FINDINGS_SCHEMA.names).to_pylist()
    seen: set[str] = set()
    for row in rows:
        if row["severity"] not in SEVERITY_RANK:
            raise ValueError(f"finding {row['check_id']} on {row['arn']} has unknown severity {row['severity']!r}")
        if row["status"] not in (PASS, FAIL, NOT_APPLICABLE):
            raise ValueError(f"finding {row['check_id']} on {row['arn']} has unknown status {row['status']!r}")
        key = f"{row['check_id']}|{row['arn']}"
        if key in seen:
            raise ValueError(f"finding {key} appears twice in the findings table")
        seen.add(key)
        row["key"] = key
    return rows


def _frameworks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {}
    controls: dict[str, set[str]] = {}
    failing: dict[str, set[str]] = {}
    for row in rows:
        if row["status"] == NOT_APPLICABLE:
            continue
        refs = [ref.partition(":") for ref in row["frameworks"] or []]
        for framework in sorted({f for f, _, _ in refs}):
            counts.setdefault(framework, Counter())[row["status"]] += 1
        for framework, _, control in refs:
            if control:
                controls.setdefault(framework, set()).add(control)
                if row["status"] == FAIL:
                    failing.setdefault(framework, set()).add(control)
    return {
        framework: {
            "score": _score(c[PASS], c[FAIL]),
            "passed": c[PASS],
            "failed": c[FAIL],
            "controls_evaluated": len(controls.get(framework, ())),
            "failing_controls": sorted(failing.get(framework, ()), key=_natural),
        }
        for framework, c in sorted(counts.items())
    }


def _checks(rows: list[dict[str, Any]], checks: Mapping[str, Check]) -> list[dict[str, Any]]:
    by_check: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_check.get(row["check_id"])
        if entry is None:
            declared = checks.get(row["check_id"])
            entry = by_check[row["check_id"]] = {
                "check_id": row["check_id"], "title": row["title"], "severity": row["severity"],
                "passed": 0, "failed": 0, "not_applicable": 0,
                "frameworks": sorted(row["frameworks"] or [], key=_natural),
                "risk": declared.risk if declared else None,
                "remediation": declared.remediation if declared else None,
            }
        entry[{PASS: "passed", FAIL: "failed", NOT_APPLICABLE: "not_applicable"}[row["status"]]] += 1
    return [by_check[c] for c in sorted(by_check)]


def _entry(row: Mapping[str, Any], first_failed: str, today: dt.date) -> dict[str, Any]:
    return {
        "key": row["key"], "check_id": row["check_id"], "arn": row["arn"], "resource_type": row["resource_type"],
        "severity": row["severity"], "title": row["title"], "first_failed": first_failed,
        "age_days": (today - _day(first_failed, "first_failed")).days,
    }


def _trend(rows: list[dict[str, Any]], previous: Mapping[str, Any] | None, date: str,
           today: dt.date) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(failing entries, trend, history) for today against the previous report."""
    prev_failing = {f["key"]: f for f in previous["failing"]} if previous else {}
    history: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (previous or {}).get("history", {}).items()}
    for key, f in prev_failing.items():  # a report without history still carries its failing streaks
        history.setdefault(key, {"first_failed": f["first_failed"], "last_failed": previous["date"],
                                 "last_resolved": None})
    now = {row["key"]: row for row in rows}
    arns_now = {row["arn"] for row in rows}
    failing, new, still, reopened = [], [], [], []
    for row in rows:
        if row["status"] != FAIL:
            continue
        key = row["key"]
        earlier = history.get(key)
        if key in prev_failing:
            entry = _entry(row, prev_failing[key]["first_failed"], today)
            still.append({**entry, "evidence": _summary(row["evidence"])})
        elif earlier is not None:
            entry = _entry(row, date, today)
            reopened.append({**entry, "evidence": _summary(row["evidence"]),
                             "previously_first_failed": earlier["first_failed"],
                             "previously_last_failed": earlier["last_failed"],
                             "last_resolved": earlier["last_resolved"]})
        else:
            entry = _entry(row, date, today)
            if previous is not None:
                new.append({**entry, "evidence": _summary(row["evidence"])})
        failing.append({**entry, "evidence": _summary(row["evidence"])})
        history[key] = {"first_failed": entry["first_failed"], "last_failed": date,
                        "last_resolved": (earlier or {}).get("last_resolved")}
    resolved, gone, not_evaluated = [], [], []
    for key, f in prev_failing.items():
        if key in now and now[key]["status"] == FAIL:
            continue
        entry = {**_entry(f, f["first_failed"], today), "last_failed": history[key]["last_failed"]}
        if f["arn"] not in arns_now:
            # The resource left the inventory: deleted or out of scope, which is not a fix.
            gone.append(entry)
        elif key in now and now[key]["status"] == PASS:
            resolved.append({**entry, "evidence": _summary(now[key]["evidence"])})
            history[key]["last_resolved"] = date
        else:
            # Still there but no longer judged (the check says NOT_APPLICABLE or no longer runs): unknown.
            reason = _summary(now[key]["evidence"]) if key in now else "the check no longer ran on this resource"
            not_evaluated.append({**entry, "evidence": reason})
    cutoff = today - dt.timedelta(days=HISTORY_RETENTION_DAYS)
    history = {k: v for k, v in sorted(history.items())
               if v["last_failed"] == date or _day(v["last_failed"], "last_failed") >= cutoff}
    sections = {"new_failing": new, "reopened": reopened, "still_failing": still, "resolved": resolved,
                "gone": gone, "not_evaluated": not_evaluated}
    trend = {
        "previous_date": previous["date"] if previous else None,
        "previous_score": previous["score"] if previous else None,
        "score_change": None,
        "previous_tag_compliance_percentage": previous.get("tag_compliance_percentage") if previous else None,
        "counts": {name: len(items) for name, items in sections.items()},
        **{name: sorted(items, key=_order) for name, items in sections.items()},
    }
    return sorted(failing, key=_order), trend, history


def collection_safety(manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """How the data was collected, from the raw manifest: read-only guard counts, operations, coverage."""
    if manifest is None:
        return {"available": False, "all_read_only": None, "refused": None, "total_calls": None, "ok": None,
                "errors": None, "identity": None, "operations": [], "coverage": None,
                "statement": COLLECTION_SAFETY_STATEMENT}
    audit = manifest.get("audit") or {}
    classification = manifest.get("operation_classification") or {}
    coverage = manifest.get("coverage") or []
    statuses = Counter(scope.get("status") for scope in coverage)
    incomplete = sorted(
        ({"service": s.get("service"), "region": s.get("region"), "status": s.get("status"), "error": s.get("error")}
         for s in coverage if s.get("status") != "ok"),
        key=lambda s: (str(s["service"]), str(s["region"])),
    )
    return {
        "available": True,
        "all_read_only": audit.get("all_read_only"),
        "refused": audit.get("refused"),
        "total_calls": audit.get("total_calls"),
        "ok": audit.get("ok"),
        "errors": audit.get("errors"),
        "identity": manifest.get("identity"),
        "operations": [{"operation": op, "calls": calls, "classification": classification.get(op)}
                       for op, calls in sorted((manifest.get("operations") or {}).items())],
        "coverage": {"scopes": len(coverage), **{k: statuses.get(k, 0) for k in ("ok", "failed", "skipped")},
                     "incomplete": incomplete},
        "statement": COLLECTION_SAFETY_STATEMENT,
    }


def build_report(*, account_id: str, date: str, findings: pa.Table, tag_summary: Mapping[str, Any] | None,
                 previous: Mapping[str, Any] | None, raw_manifest: Mapping[str, Any] | None,
                 checks: Mapping[str, Check] = CHECKS) -> dict[str, Any]:
    """The day's report.json: scores, frameworks, severities, failing findings, trend, history, safety."""
    if not ACCOUNT_ID_RE.fullmatch(str(account_id)):
        raise ValueError(f"account id {account_id!r} is not 12 digits")
    today = _day(date, "report date")
    if previous is not None:
        if previous.get("account_id") != account_id:
            raise ValueError(f"previous report is for account {previous.get('account_id')}, not {account_id}")
        if _day(previous["date"], "previous report date") >= today:
            raise ValueError(f"previous report date {previous['date']} is not before {date}")
    rows = _rows(findings)
    status = Counter(row["status"] for row in rows)
    failing_by_severity = Counter(row["severity"] for row in rows if row["status"] == FAIL)
    score = _score(status[PASS], status[FAIL])
    failing, trend, history = _trend(rows, previous, date, today)
    if previous is not None:
        trend["score_change"] = round(score - previous["score"], 2)
    tags = None
    if tag_summary is not None:
        tags = {k: tag_summary.get(k) for k in ("compliance_percentage", "evaluated", "compliant", "non_compliant",
                                                "untagged", "exempt")}
        tags["by_service"] = dict(sorted((tag_summary.get("by_service") or {}).items()))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "account_id": account_id,
        "date": date,
        "score": score,
        "tag_compliance_percentage": tags["compliance_percentage"] if tags else None,
        "totals": {
            "findings": len(rows), "pass": status[PASS], "fail": status[FAIL],
            "not_applicable": status[NOT_APPLICABLE],
            "resources_evaluated": len({row["arn"] for row in rows}),
            "resources_failing": len({row["arn"] for row in rows if row["status"] == FAIL}),
        },
        "severity_counts": {s: failing_by_severity.get(s, 0) for s in SEVERITIES},
        "frameworks": _frameworks(rows),
        "checks": _checks(rows, checks),
        "failing": failing,
        "trend": trend,
        "history": history,
        "tag_compliance": tags,
        "collection_safety": collection_safety(raw_manifest),
    }


# --- documents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportDocuments:
    """The HTML reports written beside report.json and report.md."""

    html: str
    summary_html: str
    audit_html: str


def _by_check(items: list[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]],
              cap: int) -> dict[str, Any]:
    """A trend section grouped by check (severity first), capped at `cap` findings in total."""
    groups: list[dict[str, Any]] = []
    for item in sorted(items, key=_order)[:cap]:
        if not groups or groups[-1]["check_id"] != item["check_id"]:
            declared = checks.get(item["check_id"], {})
            groups.append({"check_id": item["check_id"], "title": item["title"], "severity": item["severity"],
                           "remediation": declared.get("remediation"), "findings": []})
        groups[-1]["findings"].append(item)
    return {"total": len(items), "groups": groups, "hidden": max(0, len(items) - cap)}


# (report key, Markdown title, whether remediation is shown): open findings first.
TREND_SECTIONS = (
    ("new_failing", "New failing", True),
    ("reopened", "Reopened", True),
    ("still_failing", "Still failing", True),
    ("resolved", "Resolved", False),
    ("gone", "Gone (resource no longer in the inventory, not a fix)", False),
    ("not_evaluated", "No longer evaluated (neither fixed nor failing)", False),
)


def _headline(report: Mapping[str, Any], bold: str = "**") -> str:
    totals, sev = report["totals"], report["severity_counts"]
    judged = totals["pass"] + totals["fail"]
    text = (f"Security score {bold}{_pct(report['score'])}{bold} ({totals['pass']} of {judged} judged findings "
            f"pass); {bold}{sev['critical']}{bold} critical and {bold}{sev['high']}{bold} high findings failing")
    if report["tag_compliance_percentage"] is not None:
        text += f"; tag compliance {bold}{_pct(report['tag_compliance_percentage'])}{bold}"
    return text + "."


def _top_checks(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return sorted((c for c in report["checks"] if c["failed"]),
                  key=lambda c: (-SEVERITY_RANK[c["severity"]], -c["failed"], c["check_id"]))


def _context(report: Mapping[str, Any], cap: int) -> dict[str, Any]:
    """What the Markdown and the HTML reports both show."""
    checks = {c["check_id"]: c for c in report["checks"]}
    trend = report["trend"]
    tags = report["tag_compliance"]
    by_service = sorted((tags or {}).get("by_service", {}).items(), key=lambda kv: (kv[1], kv[0]))
    safety = report["collection_safety"]
    return {
        "report": report,
        "headline": _headline(report),
        "gate": report.get("gate"),
        "severities": list(SEVERITIES),
        "first": trend["previous_date"] is None,
        "sections": [{"title": title, "remediation": open_, **_by_check(trend[name], checks, cap)}
                     for name, title, open_ in TREND_SECTIONS],
        "top_checks": _top_checks(report)[:TOP_CHECKS],
        "tags": tags,
        "by_service": by_service[:cap],
        "by_service_hidden": max(0, len(by_service) - cap),
        "safety": safety,
        "operations": safety["operations"][:cap],
        "operations_hidden": max(0, len(safety["operations"]) - cap),
    }


def report_markdown(report: Mapping[str, Any], *, cap: int = MARKDOWN_CAP, template_dir: str | None = None) -> str:
    """A readable report.md; lists are capped at `cap` entries per section (report.json has them all).

    When the caller has stored the gate outcome under `report["gate"]` (status, reasons), it is shown too.
    """
    env = environment(template_dir, autoescape=False)
    return env.get_template("report.md.j2").render(**_context(report, cap))


# --- HTML ----------------------------------------------------------------------------------------------

HTML_CAP = 500
AUDIT_CAP = 2000
KEY_FINDINGS = 5
OVERALL_STATUS = {"pass": "Compliant", "warn": "Compliant, with warnings", "error": "Non-compliant"}
# Trend states of a finding in the HTML tables (CSS classes st-*), open ones first.
OPEN_STATES = (("new_failing", "new"), ("reopened", "reopened"), ("still_failing", "still"))
CLOSED_STATES = (("resolved", "resolved"), ("gone", "gone"), ("not_evaluated", "not_evaluated"))


def compliance_executive(report: Mapping[str, Any]) -> dict[str, Any]:
    """Overall status, score, risk level, key findings and immediate actions (the seed's executive summary)."""
    gate = report.get("gate") or {}
    severity = report["severity_counts"]
    trend = report["trend"]
    failing = _top_checks(report)
    findings = [f"{c['severity'].upper()}: {c['failed']} resource{'s' if c['failed'] != 1 else ''} fail "
                f"“{c['title']}” ({c['check_id']})." for c in failing[:KEY_FINDINGS]]
    if len(failing) > KEY_FINDINGS:
        findings.append(f"… and {len(failing) - KEY_FINDINGS} more failing checks.")
    if trend["previous_date"] is not None:
        counts = trend["counts"]
        findings.append(f"Since {trend['previous_date']}: {counts['new_failing']} new failing, {counts['reopened']} "
                        f"reopened, {counts['resolved']} resolved; security score {_pct(trend['previous_score'])} → "
                        f"{_pct(report['score'])}.")
    actions = [f"Gate: {reason}" for reason in gate.get("reasons", []) if gate.get("status") != "pass"]
    for check in [c for c in failing if SEVERITY_RANK[c["severity"]] >= SEVERITY_RANK["high"]][:KEY_FINDINGS]:
        fix = f": {check['remediation']}" if check.get("remediation") else "."
        actions.append(f"Make {check['failed']} resource{'s' if check['failed'] != 1 else ''} pass "
                       f"“{check['title']}” ({check['severity']}){fix}")
    if not actions:
        actions.append("No immediate action: no critical or high finding is failing and the gate passes.")
    return {
        "overall_status": OVERALL_STATUS.get(gate.get("status"), "Not evaluated"),
        "gate_status": gate.get("status"),
        "compliance_score": report["score"],
        "tag_compliance": report["tag_compliance_percentage"],
        "risk_level": next((s for s in ("critical", "high", "medium") if severity.get(s)),
                           "low" if report["totals"]["fail"] else "none"),
        "key_findings": findings,
        "immediate_actions": actions,
    }


def _finding_rows(report: Mapping[str, Any], states: tuple[tuple[str, str], ...], cap: int
                  ) -> tuple[list[dict[str, Any]], int]:
    rows = [{**item, "state": state} for key, state in states for item in report["trend"][key]]
    if states == OPEN_STATES and report["trend"]["previous_date"] is None:
        rows = [{**item, "state": "new"} for item in report["failing"]]  # a first report: all start today
    rows.sort(key=_order)
    return rows[:cap], len(rows)


def _finding_sort(rows: list[dict[str, Any]]) -> list[str]:
    return sort_styles(rows, (
        lambda f: -SEVERITY_RANK[f["severity"]], lambda f: f["check_id"], lambda f: f["arn"], lambda f: f["state"],
        lambda f: f["first_failed"], lambda f: f.get("age_days", 0), lambda f: f.get("evidence") or ""))


def report_html(report: Mapping[str, Any], *, history: Sequence[Mapping[str, Any]] | None = None,
                template_dir: str | None = None, sources: Sequence[Mapping[str, Any]] | None = None,
                cap: int = HTML_CAP, audit_cap: int = AUDIT_CAP) -> ReportDocuments:
    """report.html, the executive summary (report.summary.html) and the audit report (report.audit.html).

    `history` is the account's last days as `trends.compliance_series` points; `sources` lists the files the
    report was computed from (`file`, `sha256`) for the audit report.
    """
    context = _context(report, cap)
    open_rows, open_total = _finding_rows(report, OPEN_STATES, cap)
    closed_rows, closed_total = _finding_rows(report, CLOSED_STATES, cap)
    audit_rows, _ = _finding_rows(report, OPEN_STATES, audit_cap)
    audit_closed, _ = _finding_rows(report, CLOSED_STATES, audit_cap)
    checks = sorted(report["checks"], key=lambda c: (-SEVERITY_RANK[c["severity"]], -c["failed"], c["check_id"]))
    frameworks = list(report["frameworks"].items())
    severity = Counter(f["severity"] for f in report["failing"])
    states = Counter(row["state"] for row in open_rows)
    trend = None
    if history:
        trend = {"days": len(history),
                 "scores": line_chart(history, [("score", "security score"), ("tag_pct", "tag compliance")],
                                      label=f"Compliance scores, last {len(history)} days"),
                 "failing": bar_chart(history, label=f"Failing findings per day, last {len(history)} days")}
    pages = {"full": ("Full report", "report.html"), "summary": ("Executive summary", "report.summary.html"),
             "audit": ("Audit report", "report.audit.html")}
    data = [("Markdown", "report.md"), ("JSON (every finding)", "report.json")]
    html_context = {
        **context,
        "title": f"Compliance report — {report['account_id']} — {report['date']}",
        "plain_headline": _headline(report, bold=""),
        "executive": compliance_executive(report),
        "trend_charts": trend,
        "open_rows": open_rows, "open_sort": _finding_sort(open_rows), "open_total": open_total,
        "closed_rows": closed_rows, "closed_sort": _finding_sort(closed_rows), "closed_total": closed_total,
        "cap": cap,
        "checks": checks,
        "checks_sort": sort_styles(checks, (
            lambda c: c["check_id"], lambda c: -SEVERITY_RANK[c["severity"]], lambda c: c["failed"],
            lambda c: c["passed"], lambda c: c["not_applicable"], lambda c: c["title"])),
        "frameworks": frameworks,
        "frameworks_sort": sort_styles(frameworks, (
            lambda f: f[0], lambda f: f[1]["score"], lambda f: f[1]["passed"], lambda f: f[1]["failed"],
            lambda f: f[1]["controls_evaluated"], lambda f: len(f[1]["failing_controls"]))),
        "services_sort": sort_styles(context["by_service"], (lambda kv: kv[0], lambda kv: kv[1])),
        "filters": {
            "severity": [(f"sev-{s}", severity[s]) for s in SEVERITIES if severity.get(s)],
            "state": [(f"st-{s}", states[s]) for _, s in OPEN_STATES if states.get(s)],
            "closed": [(f"st-{s}", n) for s, n in sorted(Counter(r["state"] for r in closed_rows).items())],
        },
        "audit": {"rows": audit_rows, "sort": _finding_sort(audit_rows), "closed": audit_closed,
                  "closed_sort": _finding_sort(audit_closed), "cap": audit_cap,
                  "open_total": open_total, "closed_total": closed_total, "sources": list(sources or []),
                  "operations": report["collection_safety"]["operations"]},
        "links": {variant: [page for key, page in pages.items() if key != variant] + data for variant in pages},
    }
    env = environment(template_dir, autoescape=True)
    return ReportDocuments(*(env.get_template(name).render(**html_context)
                             for name in ("report.html.j2", "report.summary.html.j2", "report.audit.html.j2")))
