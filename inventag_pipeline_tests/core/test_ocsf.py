"""findings.ocsf.json: OCSF 1.1.0 Compliance Finding events with every required attribute."""

from __future__ import annotations

import pyarrow as pa

from inventag_pipeline.core.checks import FINDINGS_SCHEMA
from inventag_pipeline.core.ocsf import REQUIRED, findings_to_ocsf

ARN = "arn:aws:s3:::open-bucket"


def findings_table(*statuses: str) -> pa.Table:
    return pa.Table.from_pylist([
        {"arn": ARN, "resource_type": "AWS::S3::Bucket", "check_id": f"s3_bucket_check_{i}",
         "title": "S3 bucket blocks public access", "severity": "critical", "status": status,
         "frameworks": ["cis-aws-3.0:2.1.4", "aws-fsbp:S3.8"],
         "evidence": '{"summary": "Bucket open-bucket does not block public access"}'}
        for i, status in enumerate(statuses)], schema=FINDINGS_SCHEMA)


def test_every_judged_finding_becomes_one_event_with_the_required_attributes():
    events = findings_to_ocsf(findings_table("FAIL", "PASS", "NOT_APPLICABLE"), account_id="123456789012",
                              date="2026-11-21", product_version="0.1.0", regions_by_arn={ARN: "eu-west-1"})
    assert len(events) == 2  # NOT_APPLICABLE carries no compliance verdict
    for event in events:
        assert [k for k in REQUIRED if event.get(k) in (None, "", [], {})] == []
        assert (event["class_uid"], event["category_uid"], event["activity_id"], event["type_uid"]) == (
            2003, 2, 1, 200301)
        assert event["metadata"]["version"] == "1.1.0"
        assert event["metadata"]["product"] == {"name": "inventag-pipeline", "vendor_name": "inventag",
                                                "version": "0.1.0"}
        assert event["finding_info"]["uid"] and event["finding_info"]["title"] == "S3 bucket blocks public access"
        assert event["compliance"]["standards"] == ["aws-fsbp", "cis-aws-3.0"]
        assert event["compliance"]["requirements"] == ["aws-fsbp:S3.8", "cis-aws-3.0:2.1.4"]
        assert event["severity_id"] == 5 and event["severity"] == "Critical"
        assert event["cloud"] == {"provider": "AWS", "region": "eu-west-1",
                                  "account": {"uid": "123456789012", "type": "AWS Account", "type_id": 10}}
        assert event["resources"] == [{"uid": ARN, "type": "AWS::S3::Bucket", "region": "eu-west-1",
                                       "cloud_partition": "aws"}]
    failed, passed = events
    assert (failed["compliance"]["status"], failed["compliance"]["status_id"]) == ("Fail", 3)
    assert failed["compliance"]["status_detail"] == "Bucket open-bucket does not block public access"
    assert (passed["compliance"]["status"], passed["compliance"]["status_id"]) == ("Pass", 1)
    # The end of the partition's day, in epoch milliseconds: deterministic across re-runs.
    assert failed["time"] == 1795305599999 and failed["time_dt"] == "2026-11-21T23:59:59.999000Z"
    assert failed["finding_info"]["uid"] != passed["finding_info"]["uid"]
