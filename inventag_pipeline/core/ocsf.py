"""Security findings as OCSF Compliance Finding events (class 2003), the shape Prowler and AWS
Security Lake consume, so findings.parquet can feed a SIEM without a converter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from inventag_pipeline.core.arn import arn_partition
from inventag_pipeline.core.checks import CHECKS, FAIL, PASS, Check

OCSF_VERSION = "1.1.0"
CLASS_UID, CATEGORY_UID, ACTIVITY_CREATE = 2003, 2, 1
# The attributes OCSF 1.1.0 marks required for this class (and the cloud profile we declare).
REQUIRED = ("activity_id", "category_uid", "class_uid", "compliance", "finding_info", "metadata", "severity_id",
            "time", "type_uid", "cloud")
SEVERITY_IDS = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
COMPLIANCE_STATUS_IDS = {PASS: 1, FAIL: 3}


def findings_to_ocsf(findings: pa.Table, *, account_id: str, date: str, product_version: str,
                     regions_by_arn: Mapping[str, str] | None = None,
                     checks: Mapping[str, Check] = CHECKS) -> list[dict[str, Any]]:
    """One event per PASS or FAIL finding; NOT_APPLICABLE rows carry no compliance verdict and are left out.

    `time` is the end of the partition's day (UTC), so re-running a day yields identical events.
    """
    day_end = dt.datetime.fromisoformat(date).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1, milliseconds=-1)
    time_ms = int(day_end.timestamp() * 1000)
    regions = regions_by_arn or {}
    events = []
    for row in findings.to_pylist():
        if row["status"] not in COMPLIANCE_STATUS_IDS:
            continue
        declared = checks.get(row["check_id"])
        summary = json.loads(row["evidence"]).get("summary", "") if row["evidence"] else ""
        region = regions.get(row["arn"])
        events.append({
            "activity_id": ACTIVITY_CREATE,
            "activity_name": "Create",
            "category_uid": CATEGORY_UID,
            "category_name": "Findings",
            "class_uid": CLASS_UID,
            "class_name": "Compliance Finding",
            "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
            "type_name": "Compliance Finding: Create",
            "time": time_ms,
            "time_dt": day_end.isoformat().replace("+00:00", "Z"),
            "severity_id": SEVERITY_IDS[row["severity"]],
            "severity": row["severity"].capitalize(),
            "status_id": 1,
            "status": "New",
            "metadata": {
                "version": OCSF_VERSION,
                "profiles": ["cloud"],
                "event_code": row["check_id"],
                "product": {"name": "inventag-pipeline", "vendor_name": "inventag", "version": product_version},
            },
            "finding_info": {
                "uid": f"inventag-{account_id}-{row['check_id']}-{row['arn']}",
                "title": row["title"],
                "desc": declared.risk if declared else row["title"],
                "types": ["Software and Configuration Checks"],
                "created_time": time_ms,
            },
            "compliance": {
                "control": row["check_id"],
                "requirements": sorted(row["frameworks"] or []),
                "standards": sorted({f.split(":", 1)[0] for f in row["frameworks"] or []}) or ["inventag"],
                "status": "Pass" if row["status"] == PASS else "Fail",
                "status_id": COMPLIANCE_STATUS_IDS[row["status"]],
                "status_detail": summary,
            },
            "resources": [{"uid": row["arn"], "type": row["resource_type"], "region": region,
                           "cloud_partition": arn_partition(row["arn"])}],
            "cloud": {"provider": "AWS", "account": {"uid": account_id, "type": "AWS Account", "type_id": 10},
                      "region": region},
            "remediation": {"desc": declared.remediation if declared else ""},
        })
    return events
