"""What delivery sends once a day is collected: the notification decision, its messages, metrics and rate limit.

Pure functions over one account-day's stored documents (snapshot and raw manifests, delta summary,
compliance report), so the Dagster assets in `inventag_pipeline.delivery` only read files and send.
The same documents always give the same payloads; that is what lets the rate limiter recognise a
re-materialised notification by its fingerprint instead of sending it twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventag_pipeline.core.classify import SEVERITIES, SEVERITY_RANK

GATE_STATUSES = ("pass", "warn", "error")
# Which gate outcomes notify: the gate fails with WARN or ERROR; only ERROR holds downstream assets.
GATE_LEVELS: Mapping[str, tuple[str, ...]] = {"off": (), "error": ("error",), "warn": ("warn", "error")}
TOP_CHANGES = 10
TOP_GATE_REASONS = 10
SNS_SUBJECT_MAX = 100
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
# CloudWatch refuses data points older than two weeks.
CLOUDWATCH_MAX_AGE = dt.timedelta(days=14)
CLOUDWATCH_BATCH = 20
# Sent notifications are remembered this long, so re-materialising an old day does not notify again.
STATE_KEEP = dt.timedelta(days=35)
TEXTFILE_MARKER = "# inventag-pipeline textfile: account {account}, day {date}"
_TEXTFILE_DAY = re.compile(r"^# inventag-pipeline textfile: account \d{12}, day (\d{4}-\d{2}-\d{2})$", re.M)


# --- facts --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFacts:
    """The figures of one account and day that delivery reports; None where that input was not materialised."""

    account_id: str
    date: str
    account_name: str | None = None
    resources: int | None = None
    previous_date: str | None = None
    total_changes: int | None = None
    changes_by_severity: Mapping[str, int] = field(default_factory=dict)
    high_risk: tuple[Mapping[str, Any], ...] = ()
    gate_status: str | None = None
    gate_reasons: tuple[str, ...] = ()
    security_score: float | None = None
    tag_compliance_pct: float | None = None
    failing_by_severity: Mapping[str, int] = field(default_factory=dict)
    collection_errors: int | None = None
    scopes_failed: int | None = None
    collection_seconds: float | None = None  # wall clock from started_at to collected_at
    api_seconds: float | None = None  # summed per-(service, region) durations
    collected_at: str | None = None

    @property
    def label(self) -> str:
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 UTC time as the manifests write it (`…Z`), also on Python 3.10."""
    parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def facts_from_documents(account_id: str, date: str, *, account_name: str | None = None,
                         snapshot_manifest: Mapping[str, Any] | None = None,
                         delta_summary: Mapping[str, Any] | None = None,
                         report: Mapping[str, Any] | None = None,
                         raw_manifest: Mapping[str, Any] | None = None,
                         collection_errors: int | None = None) -> DayFacts:
    """The day's facts from whichever of its documents exist (missing ones leave their figures None)."""
    values: dict[str, Any] = {}
    if snapshot_manifest is not None:
        values["resources"] = snapshot_manifest["row_count"]
    if delta_summary is not None:
        severity = delta_summary["counts"]["severity"]
        values.update(
            previous_date=delta_summary.get("previous_date"),
            total_changes=delta_summary["total_changes"],
            changes_by_severity={s: int(severity.get(s, 0)) for s in SEVERITIES},
            high_risk=tuple(delta_summary["security_changes"]["high_risk_resources"]),
        )
    if report is not None:
        gate = report.get("gate") or {}
        values.update(
            gate_status=gate.get("status"),
            gate_reasons=tuple(gate.get("reasons") or ()),
            security_score=report["score"],
            tag_compliance_pct=report.get("tag_compliance_percentage"),
            failing_by_severity={s: int(report["severity_counts"].get(s, 0)) for s in SEVERITIES},
        )
    if raw_manifest is not None:
        coverage = raw_manifest.get("coverage") or []
        values.update(
            collected_at=raw_manifest.get("collected_at"),
            scopes_failed=sum(1 for c in coverage if c["status"] != "ok"),
            api_seconds=round(sum(c["duration_s"] for c in coverage), 3),
            collection_errors=collection_errors,
        )
        if raw_manifest.get("started_at") and raw_manifest.get("collected_at"):
            wall = parse_time(raw_manifest["collected_at"]) - parse_time(raw_manifest["started_at"])
            values["collection_seconds"] = round(wall.total_seconds(), 3)
    return DayFacts(account_id=account_id, date=date, account_name=account_name, **values)


# --- decision ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotifyPolicy:
    """When a day notifies: changes at or above `min_severity`, and gate outcomes at or above `gate_level`."""

    min_severity: str = "high"
    gate_level: str = "error"

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise ValueError(f"notify min severity {self.min_severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.gate_level not in GATE_LEVELS:
            raise ValueError(f"notify gate level {self.gate_level!r} is not one of {', '.join(GATE_LEVELS)}")


@dataclass(frozen=True)
class Decision:
    """Whether to notify, the sentences saying why (or why not), and the content's fingerprint."""

    notify: bool
    kinds: tuple[str, ...]  # "changes", "gate"
    reasons: tuple[str, ...]
    fingerprint: str


def _notable(facts: DayFacts, policy: NotifyPolicy) -> dict[str, int]:
    floor = SEVERITY_RANK[policy.min_severity]
    counts = facts.changes_by_severity
    return {s: counts[s] for s in SEVERITIES if SEVERITY_RANK[s] >= floor and counts.get(s)}


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def decide(facts: DayFacts, policy: NotifyPolicy) -> Decision:
    """Notify on changes at or above the policy's severity and on a gate outcome the policy names."""
    kinds: list[str] = []
    reasons: list[str] = []
    notable = _notable(facts, policy)
    if notable:
        kinds.append("changes")
        count = sum(notable.values())
        since = f" since {facts.previous_date}" if facts.previous_date else ""
        reasons.append(f"{_and([f'{n} {s}' for s, n in notable.items()])} severity "
                       f"change{'' if count == 1 else 's'}{since}.")
    if facts.gate_status in GATE_LEVELS[policy.gate_level]:
        kinds.append("gate")
        reasons.append(f"The compliance gate failed with {facts.gate_status.upper()}.")
    content = {"account": facts.account_id, "date": facts.date, "changes": notable,
               "high_risk": sorted((h["severity"], h["arn"], h["change_type"]) for h in facts.high_risk),
               "gate": facts.gate_status if "gate" in kinds else None,
               "gate_reasons": list(facts.gate_reasons) if "gate" in kinds else []}
    fingerprint = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    if kinds:
        return Decision(True, tuple(kinds), tuple(reasons), fingerprint)
    why = [f"no change at or above {policy.min_severity} severity"
           if facts.total_changes is not None else "no delta for this day"]
    if policy.gate_level == "off":
        why.append("gate notifications are off")
    elif facts.gate_status is None:
        why.append("no compliance report for this day")
    else:
        why.append(f"compliance gate {facts.gate_status}")
    return Decision(False, (), (f"Nothing to notify: {'; '.join(why)}.",), fingerprint)


# --- messages ----------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """The three characters Slack's mrkdwn requires escaped in user content."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _change_lines(facts: DayFacts, policy: NotifyPolicy, esc: Callable[[str], str], code: str) -> list[str]:
    floor = SEVERITY_RANK[policy.min_severity]
    shown = [h for h in facts.high_risk if SEVERITY_RANK[h["severity"]] >= floor][:TOP_CHANGES]
    lines = []
    for h in shown:
        what = h.get("name") or h["arn"]
        detail = "; ".join(h.get("reasons") or ())
        lines.append(f"{h['severity']} {h['change_type']} {h['resource_type']} {code}{esc(what)}{code}"
                     + (f": {esc(detail)}" if detail else ""))
    more = sum(_notable(facts, policy).values()) - len(shown)
    if more > 0:
        lines.append(f"… and {more} more in the changelog")
    return lines


def _figures(facts: DayFacts) -> str:
    parts = []
    if facts.resources is not None:
        parts.append(f"{facts.resources} resources")
    if facts.total_changes is not None:
        parts.append(f"{facts.total_changes} changes")
    if facts.security_score is not None:
        parts.append(f"security score {_num(facts.security_score)}%")
    if facts.tag_compliance_pct is not None:
        parts.append(f"tag compliance {_num(facts.tag_compliance_pct)}%")
    if facts.collection_errors:
        parts.append(f"{facts.collection_errors} collection errors")
    return ", ".join(parts)


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _is_web(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _section(text: str) -> dict[str, Any]:
    """A mrkdwn section, cut to Slack's 3000-character limit (longer ones make Slack refuse the message)."""
    cut = text if len(text) <= SLACK_TEXT_MAX else text[:SLACK_TEXT_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut}}


def webhook_payload(facts: DayFacts, decision: Decision, policy: NotifyPolicy,
                    links: Mapping[str, str]) -> dict[str, Any]:
    """A Slack incoming-webhook message (`text` for notifications and other chat tools, `blocks` for Slack).

    `links` maps a label ("changelog", "compliance report") to a URL or location; only http(s) URLs
    become buttons, since Slack rejects a message whose button URL is not a web address.
    """
    title = f"inventag: {facts.label} on {facts.date}"
    link_text = " ".join(f"<{url}|{label}>" if _is_web(url) else f"{label}: {slack_escape(url)}"
                         for label, url in links.items())
    text = f"{slack_escape(title)}: {slack_escape(' '.join(decision.reasons))}" + (f" {link_text}" if link_text else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:SLACK_HEADER_MAX], "emoji": False}},
        _section("\n".join(f"• {slack_escape(r)}" for r in decision.reasons)),
    ]
    if "changes" in decision.kinds:
        lines = _change_lines(facts, policy, slack_escape, "`")
        if lines:
            blocks.append(_section("*Highest-severity changes*\n" + "\n".join(f"• {line}" for line in lines)))
    if "gate" in decision.kinds and facts.gate_reasons:
        reasons = "\n".join(f"• {slack_escape(r)}" for r in facts.gate_reasons[:TOP_GATE_REASONS])
        blocks.append(_section(f"*Compliance gate: {facts.gate_status.upper()}*\n{reasons}"))
    figures = _figures(facts)
    if figures:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(figures)}]})
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": f"Open {label}"}, "url": url}
               for label, url in links.items() if _is_web(url)]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    elsewhere = [f"{label}: `{slack_escape(url)}`" for label, url in links.items() if not _is_web(url)]
    if elsewhere:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "\n".join(elsewhere)}]})
    return {"text": text, "blocks": blocks}


def sns_message(facts: DayFacts, decision: Decision, policy: NotifyPolicy,
                links: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for SNS Publish: a one-line subject, a plain-text body, attributes for filter policies."""
    short = []
    notable = _notable(facts, policy)
    if "changes" in decision.kinds:
        short.append(", ".join(f"{n} {s}" for s, n in notable.items()) + " changes")
    if "gate" in decision.kinds:
        short.append(f"gate {facts.gate_status.upper()}")
    subject = f"inventag {facts.label} {facts.date}: {'; '.join(short)}"
    # SNS subjects: printable ASCII, no line breaks, at most 100 characters.
    subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:SNS_SUBJECT_MAX]
    body = [f"inventag-pipeline: account {facts.label}, {facts.date}", ""]
    body += [f"- {r}" for r in decision.reasons]
    if "changes" in decision.kinds:
        lines = _change_lines(facts, policy, str, "")
        if lines:
            body += ["", "Highest-severity changes:", *(f"- {line}" for line in lines)]
    if "gate" in decision.kinds and facts.gate_reasons:
        body += ["", "Compliance gate reasons:", *(f"- {r}" for r in facts.gate_reasons[:TOP_GATE_REASONS])]
    figures = _figures(facts)
    if figures:
        body += ["", f"Figures: {figures}"]
    if links:
        body += ["", *(f"{label[0].upper()}{label[1:]}: {url}" for label, url in links.items())]
    top = next((s for s in SEVERITIES if notable.get(s)), "none")
    attributes = {
        "account_id": facts.account_id,
        "date": facts.date,
        "reasons": ",".join(decision.kinds),
        "max_change_severity": top,
        "gate_status": facts.gate_status or "none",
    }
    return {
        "Subject": subject,
        "Message": "\n".join(body) + "\n",
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    }


# --- rate limit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """At most `max_notifications` per account within any `window`."""

    max_notifications: int = 6
    window: dt.timedelta = dt.timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.max_notifications < 1:
            raise ValueError(f"the notification rate limit must allow at least 1, not {self.max_notifications}")
        if self.window <= dt.timedelta(0):
            raise ValueError(f"the notification rate-limit window must be positive, not {self.window}")


@dataclass(frozen=True)
class RateDecision:
    """The channels to send on now, and why the others are skipped."""

    send: tuple[str, ...]
    reason: str


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{_num(hours)} hour{'' if hours == 1 else 's'}"


def rate_decision(state: Mapping[str, Any] | None, *, fingerprint: str, channels: Sequence[str],
                  now: dt.datetime, limit: RateLimit) -> RateDecision:
    """Send on `channels` unless this content was already delivered there or the account's window is full.

    A notification that reached some channels before failing on others is finished on the rest
    without counting against the limit again.
    """
    entries = list((state or {}).get("sent", []))
    same = [e for e in entries if e["fingerprint"] == fingerprint]
    done = {c for e in same for c in e["channels"]}
    remaining = tuple(c for c in channels if c not in done)
    if same and not remaining:
        first = min(e["at"] for e in same)
        return RateDecision((), f"already delivered at {first} with the same content; not sent again")
    if same:
        return RateDecision(remaining, f"finishing a notification already delivered on {', '.join(sorted(done))}")
    since = now - limit.window
    recent = {e["fingerprint"] for e in entries if parse_time(e["at"]) > since}
    if len(recent) >= limit.max_notifications:
        return RateDecision((), f"rate limit reached: {len(recent)} notifications for this account in the last "
                                f"{_hours(limit.window)} (at most {limit.max_notifications})")
    return RateDecision(tuple(channels), f"{len(recent) + 1} of at most {limit.max_notifications} in "
                                         f"{_hours(limit.window)}")


def record_sent(state: Mapping[str, Any] | None, *, fingerprint: str, date: str, channels: Sequence[str],
                now: dt.datetime) -> dict[str, Any]:
    """The state after delivering on `channels`; entries older than STATE_KEEP are dropped."""
    entries = [dict(e) for e in (state or {}).get("sent", []) if parse_time(e["at"]) > now - STATE_KEEP]
    if channels:
        entries.append({"at": _iso(now), "date": date, "fingerprint": fingerprint, "channels": sorted(channels)})
    entries.sort(key=lambda e: (e["at"], e["fingerprint"]))
    return {"schema_version": 1, "sent": entries}


# --- Prometheus textfile ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """One metric family of the text exposition format: a gauge with its samples."""

    name: str
    help: str
    samples: tuple[tuple[Mapping[str, str], float | int], ...]
    type: str = "gauge"


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def exposition(families: Sequence[Family]) -> str:
    """Prometheus text format 0.0.4; families without samples are left out."""
    lines = []
    for family in families:
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value in family.samples:
            rendered = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            lines.append(f"{family.name}{{{rendered}}} {format_value(value)}")
    return "\n".join(lines) + "\n"


def _day_start(date: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.timezone.utc)


def metric_families(facts: DayFacts) -> list[Family]:
    """The account's gauges for its newest day; a figure whose input is missing has no sample."""
    a = {"account": facts.account_id}

    def one(value: float | int | None) -> tuple[tuple[Mapping[str, str], float | int], ...]:
        return () if value is None else ((a, value),)

    def by_severity(counts: Mapping[str, int]) -> tuple[tuple[Mapping[str, str], float | int], ...]:
        return tuple(({**a, "severity": s}, counts[s]) for s in SEVERITIES if s in counts)

    gate = () if facts.gate_status is None else tuple(
        ({**a, "status": s}, int(s == facts.gate_status)) for s in GATE_STATUSES)
    collected = None if facts.collected_at is None else parse_time(facts.collected_at).timestamp()
    return [
        Family("inventag_account_info", "Account name of each inventoried account (always 1).",
               (({**a, "name": facts.account_name}, 1),) if facts.account_name else ()),
        Family("inventag_day_timestamp_seconds",
               "Start (UTC) of the newest day exported for the account; alert when it falls behind.",
               ((a, int(_day_start(facts.date).timestamp())),)),
        Family("inventag_resources", "Resources in the account's snapshot of that day.", one(facts.resources)),
        Family("inventag_changes", "Resource changes against the previous snapshot, by severity.",
               by_severity(facts.changes_by_severity)),
        Family("inventag_security_score_percent", "Share of evaluated security checks that pass.",
               one(facts.security_score)),
        Family("inventag_tag_compliance_percent", "Share of resources compliant with the tag policy.",
               one(facts.tag_compliance_pct)),
        Family("inventag_failing_findings", "Failing security findings, by severity.",
               by_severity(facts.failing_by_severity)),
        Family("inventag_compliance_gate_status", "Compliance gate outcome (1 for the current status).", gate),
        Family("inventag_collection_errors", "Errors recorded while collecting the account.",
               one(facts.collection_errors)),
        Family("inventag_collection_failed_scopes", "(service, region) scopes not collected completely.",
               one(facts.scopes_failed)),
        Family("inventag_collection_duration_seconds", "Wall-clock time of the collection.",
               one(facts.collection_seconds)),
        Family("inventag_collection_api_seconds", "Time spent collecting, summed over (service, region) scopes.",
               one(facts.api_seconds)),
        Family("inventag_collected_timestamp_seconds", "When the collection finished.", one(collected)),
    ]


def prometheus_textfile(facts: DayFacts) -> str:
    """The textfile-collector file for one account, headed by a marker naming its day."""
    marker = TEXTFILE_MARKER.format(account=facts.account_id, date=facts.date)
    return f"{marker}\n{exposition(metric_families(facts))}"


def textfile_day(text: str) -> str | None:
    """The day a textfile written by `prometheus_textfile` describes, or None for any other file."""
    match = _TEXTFILE_DAY.search(text)
    return match.group(1) if match else None


# --- CloudWatch --------------------------------------------------------------------------------------------


def cloudwatch_timestamp(facts: DayFacts, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When the figures were observed (the collection time), or None with the reason CloudWatch would refuse."""
    observed = parse_time(facts.collected_at) if facts.collected_at else _day_start(facts.date) + dt.timedelta(days=1)
    if now - observed > CLOUDWATCH_MAX_AGE:
        return None, (f"observed {_iso(observed)}, more than {CLOUDWATCH_MAX_AGE.days} days ago; CloudWatch "
                      "refuses older data points")
    return min(observed, now), f"timestamped {_iso(min(observed, now))}"


def cloudwatch_metric_data(facts: DayFacts, timestamp: dt.datetime) -> list[dict[str, Any]]:
    """MetricData entries for PutMetricData, dimensioned by AccountId (and Severity for changes)."""
    account = [{"Name": "AccountId", "Value": facts.account_id}]
    data: list[dict[str, Any]] = []

    def put(name: str, value: float | int | None, unit: str, extra: Sequence[Mapping[str, str]] = ()) -> None:
        if value is not None:
            data.append({"MetricName": name, "Dimensions": [*account, *extra], "Timestamp": timestamp,
                         "Value": float(value), "Unit": unit})

    put("Resources", facts.resources, "Count")
    for severity in SEVERITIES:
        if severity in facts.changes_by_severity:
            put("Changes", facts.changes_by_severity[severity], "Count", [{"Name": "Severity", "Value": severity}])
    put("SecurityScore", facts.security_score, "Percent")
    put("TagCompliance", facts.tag_compliance_pct, "Percent")
    put("CollectionErrors", facts.collection_errors, "Count")
    put("CollectionDuration", facts.collection_seconds, "Seconds")
    return data


def batches(items: Sequence[Any], size: int = CLOUDWATCH_BATCH) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


# --- links ---------------------------------------------------------------------------------------------------


def join_url(base: str, relative: str) -> str:
    """`base` (a URL or s3:// prefix) and a store-relative path, with exactly one slash between."""
    return f"{base.rstrip('/')}/{relative.lstrip('/')}"
