"""The last 30 days of an account, as series the HTML reports chart: changes per day and compliance scores.

Pure functions: the caller reads the earlier partitions' `summary.json` / `report.json` (only the days
inside the window) and passes them in by date. A day without a document is a gap in the chart, never a
zero: "not collected" must not look like "nothing changed". The chart geometry is computed here too, so the
templates only draw what they are given and every number in the SVG comes from one tested place.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from inventag_pipeline.core.classify import SEVERITIES

SERIES_DAYS = 30
# Drawing box of every chart (SVG user units; the SVG scales to the page width).
WIDTH, HEIGHT = 720, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 24


def window(end_date: str, days: int = SERIES_DAYS) -> list[str]:
    """The `days` calendar dates ending at `end_date` (inclusive), oldest first."""
    end = dt.date.fromisoformat(end_date)
    return [(end - dt.timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def change_series(summaries: Mapping[str, Mapping[str, Any]], end_date: str,
                  days: int = SERIES_DAYS) -> list[dict[str, Any]]:
    """One point per day from the deltas' summary.json: changes by severity, and tag compliance.

    A first snapshot (no previous date) is a baseline, not a day of changes: it carries no count.
    """
    points = []
    for date in window(end_date, days):
        summary = summaries.get(date)
        if summary is None:
            points.append({"date": date, "missing": True, "baseline": False, "total": None, "severity": None,
                           "tag_pct": None})
            continue
        baseline = summary.get("previous_date") is None
        severity = (summary.get("counts") or {}).get("severity") or {}
        tag_pct = (((summary.get("compliance_changes") or {}).get("new_compliance_stats") or {})
                   .get("compliance_percentage"))
        points.append({
            "date": date, "missing": False, "baseline": baseline,
            "total": None if baseline else int(summary.get("total_changes") or 0),
            "severity": None if baseline else {s: int(severity.get(s) or 0) for s in SEVERITIES},
            "tag_pct": tag_pct,
        })
    return points


def compliance_series(reports: Mapping[str, Mapping[str, Any]], end_date: str,
                      days: int = SERIES_DAYS) -> list[dict[str, Any]]:
    """One point per day from report.json: security score, tag compliance and failing findings by severity."""
    points = []
    for date in window(end_date, days):
        report = reports.get(date)
        if report is None:
            points.append({"date": date, "missing": True, "score": None, "tag_pct": None, "severity": None,
                           "total": None})
            continue
        severity = report.get("severity_counts") or {}
        counts = {s: int(severity.get(s) or 0) for s in SEVERITIES}
        points.append({"date": date, "missing": False, "score": report.get("score"),
                       "tag_pct": report.get("tag_compliance_percentage"), "severity": counts,
                       "total": sum(counts.values())})
    return points


# --- chart geometry ----------------------------------------------------------------------------------


def _nice_ceiling(value: float) -> int:
    """The smallest of 1, 2 or 5 times a power of ten at or above `value` (at least 1), so axis labels read well."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)


def _x_labels(points: Sequence[Mapping[str, Any]], centre: Any) -> list[dict[str, Any]]:
    """A date label every seven days counted back from the last day, so the newest day is always labelled."""
    last = len(points) - 1
    return [{"x": round(centre(i), 1), "text": points[i]["date"][5:]} for i in range(last, -1, -7)][::-1]


def _frame(y_max: float, unit: str) -> dict[str, Any]:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = [{"y": round(TOP + plot_h - plot_h * f, 1), "text": f"{y_max * f:g}{unit}"} for f in (0, 0.5, 1)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "y_ticks": ticks}


def bar_chart(points: Sequence[Mapping[str, Any]], *, label: str) -> dict[str, Any]:
    """Stacked bars (critical at the bottom) of `severity` counts; gaps and baselines get a marker instead.

    Each bar carries a tooltip text, so the chart answers "what happened that day" without script.
    """
    n = max(len(points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = round(max(slot * 0.7, 1.0), 1)
    y_max = _nice_ceiling(max((p["total"] or 0) for p in points) if points else 1)

    def centre(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    bars, markers = [], []
    for i, p in enumerate(points):
        x = round(centre(i) - bar_w / 2, 1)
        if p["missing"] or p["severity"] is None:
            kind = "missing" if p["missing"] else "baseline"
            tip = f"{p['date']}: {'no data for this day' if p['missing'] else 'first snapshot (baseline)'}"
            markers.append({"x": x, "y": HEIGHT - BOTTOM - 3, "w": bar_w, "h": 3, "kind": kind, "title": tip})
            continue
        segments, base = [], float(HEIGHT - BOTTOM)
        for severity in SEVERITIES:
            count = p["severity"][severity]
            if not count:
                continue
            h = plot_h * count / y_max
            base -= h
            segments.append({"severity": severity, "y": round(base, 1), "h": round(h, 1)})
        parts = ", ".join(f"{p['severity'][s]} {s}" for s in SEVERITIES if p["severity"][s])
        bars.append({"x": x, "w": bar_w, "date": p["date"], "total": p["total"], "segments": segments,
                     "title": f"{p['date']}: {p['total']} change{'s' if p['total'] != 1 else ''}"
                              + (f" ({parts})" if parts else "")})
    return {**_frame(y_max, ""), "label": label, "bars": bars, "markers": markers,
            "x_labels": _x_labels(points, centre), "days": len(points)}


def line_chart(points: Sequence[Mapping[str, Any]], lines: Sequence[tuple[str, str]], *,
               label: str) -> dict[str, Any]:
    """Percent lines (0 to 100 %) for each (key, name) in `lines`; a missing day breaks the line."""
    n = max(len(points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n

    def centre(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    drawn = []
    for index, (key, name) in enumerate(lines):
        segments: list[list[tuple[float, float]]] = []
        dots = []
        current: list[tuple[float, float]] = []
        for i, p in enumerate(points):
            value = p.get(key)
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            xy = (round(centre(i), 1), round(TOP + plot_h - plot_h * max(0.0, min(float(value), 100.0)) / 100, 1))
            current.append(xy)
            dots.append({"x": xy[0], "y": xy[1], "title": f"{p['date']}: {name} {value:g}%"})
        if current:
            segments.append(current)
        drawn.append({"key": key, "name": name, "series": index,
                      "polylines": [" ".join(f"{x},{y}" for x, y in seg) for seg in segments if len(seg) > 1],
                      "dots": dots, "latest": next((p[key] for p in reversed(points) if p.get(key) is not None),
                                                   None)})
    return {**_frame(100, "%"), "label": label, "lines": drawn, "x_labels": _x_labels(points, centre),
            "days": len(points)}
