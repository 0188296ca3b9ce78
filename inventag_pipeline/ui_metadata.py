"""Metadata the Dagster UI shows on each materialization: numbers it plots, Markdown previews, report links.

Dagster plots every numeric metadata key across a partition's materializations, so each figure worth a trend
(resources per service, changes per severity, compliance percentages, durations) is a plain int or float under
a stable key. Previews are short Markdown (the UI renders it); links point at the files in the store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from dagster import MaterializeResult, MetadataValue

from inventag_pipeline.core.classify import SEVERITY_RANK

T = TypeVar("T")
PREVIEW_ROWS = 8
# The UI shows Markdown shorter than 1000 characters inline and longer text behind a button.
INLINE_MARKDOWN = 1000


def timed(build: Callable[[T], MaterializeResult]) -> Callable[[T], MaterializeResult]:
    """`build` with its wall time added as `duration_seconds`, so slow partitions show up in the UI's plot."""
    def run(part: T) -> MaterializeResult:
        started = time.perf_counter()
        result = build(part)
        metadata = {**(result.metadata or {}), "duration_seconds": round(time.perf_counter() - started, 3)}
        return MaterializeResult(metadata=metadata, check_results=result.check_results,
                                 data_version=result.data_version, tags=result.tags)

    return run


def counts(prefix: str, values: Mapping[str, int]) -> dict[str, int]:
    """One numeric entry per key (`resources_ec2`, …): Dagster plots each as its own series."""
    return {f"{prefix}{key}": int(value) for key, value in sorted(values.items())}


def report_links(paths: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, MetadataValue]:
    """`labels` maps a metadata key to a key of `paths`; the UI shows each as a path with a copy button.

    A path rather than a file:// URL: browsers refuse to open local files from the UI's http page, while a
    copied path opens anywhere (and an s3:// URI is what the AWS tools take).
    """
    return {key: MetadataValue.path(paths[source]) for key, source in labels.items() if source in paths}


def _cell(value: Any, limit: int = 70) -> str:
    text = " ".join(str(value if value is not None else "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: list[str], rows: list[str], total: int, more: str) -> MetadataValue:
    """A Markdown table, shortened by rows until the UI shows it inline, with a line for what was left out."""
    while True:
        hidden = total - len(rows)
        text = "\n".join(header + rows) + (f"\n\n… and {hidden} {more}" if hidden > 0 else "")
        if len(text) < INLINE_MARKDOWN or len(rows) <= 1:
            return MetadataValue.md(text)
        rows = rows[:-1]


def _what_changed(row: Mapping[str, Any]) -> str:
    """The riskiest change's description; for a re-created resource its old and new id, unless a change
    to it is high or critical (which says more to a reviewer than the new id)."""
    risky = sorted(row["changes"], key=lambda c: -SEVERITY_RANK[c["severity"]])
    if row["change_type"] == "replaced":
        moved = next((c for c in row["changes"] if c.get("path") == "arn"), None)
        if moved and not (risky and risky[0]["severity"] in ("critical", "high")):
            old, new = (str(json.loads(moved[k])).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
                        for k in ("old_value", "new_value"))
            return f"re-created: {old} → {new}"
    return risky[0]["description"] if risky else f"{row['resource_type']} {row['change_type']}"


def top_changes(context: Mapping[str, Any], limit: int = PREVIEW_ROWS) -> MetadataValue:
    """The day's most severe changes as a Markdown table (the changelog's context, severity first)."""
    if not context["all_changes"]:
        return MetadataValue.md(context["headline"])
    rows = []
    for row in context["all_changes"][:limit]:
        what = _what_changed(row)
        kind = row["resource_type"].removeprefix("AWS::")
        rows.append(f"| **{row['severity']}** {row['change_type']} | {_cell(row['name'] or row['arn'], 40)} "
                    f"({kind}) | {_cell(what, 60)} |")
    # Three narrow columns: the UI's metadata pane is about 900 pixels wide.
    return _table(["| change | resource | what |", "|---|---|---|"], rows, len(context["all_changes"]),
                  "more in the changelog.")


def failing_checks(report: Mapping[str, Any], limit: int = PREVIEW_ROWS) -> MetadataValue:
    """The failing checks, most severe and most widespread first, as a Markdown table."""
    failing = sorted((c for c in report["checks"] if c["failed"]),
                     key=lambda c: (-SEVERITY_RANK[c["severity"]], -c["failed"], c["check_id"]))
    if not failing:
        return MetadataValue.md("No check is failing.")
    rows = [f"| **{c['severity']}** | {_cell(c['title'], 50)} | {c['failed']} | {c['passed']} |"
            for c in failing[:limit]]
    return _table(["| severity | check | failing | passing |", "|---|---|---:|---:|"], rows, len(failing),
                  "more failing checks in the report.")
