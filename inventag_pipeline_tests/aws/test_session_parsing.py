"""The session's cheaper botocore parts give botocore's own answers."""

from __future__ import annotations

import datetime as dt

import botocore.loaders
import botocore.utils
import pytest

from inventag_pipeline.aws.session import PlainJSONFileLoader, parse_aws_timestamp
from inventag_pipeline.core.canonical import format_timestamp

TIMESTAMPS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.123Z",
    "2026-01-01T00:00:00.123456789Z",  # more digits than microseconds: both truncate
    "2026-11-22T16:24:39.000+0000",
    "2026-01-01T05:00:00+05:00",
    "2026-01-01T00:00:00",  # no zone: both naive, read as UTC downstream
    "2026-01-01",
    "Thu, 01 Jan 2026 00:00:00 GMT",  # RFC 822: botocore's parser
    "1767225600",  # epoch text: botocore's parser, as an epoch (not as a date)
    1767225600,
    1767225600.5,
]


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_timestamps_parse_to_the_instants_botocore_parses(value):
    ours, theirs = parse_aws_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == theirs
    assert format_timestamp(ours) == format_timestamp(theirs)


def test_iso_text_takes_the_fast_path_and_other_text_still_fails_as_botocore_fails():
    assert parse_aws_timestamp("2026-01-01T00:00:00Z") == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="Invalid timestamp"):
        parse_aws_timestamp("not a time")


@pytest.mark.parametrize("service", ["ec2", "s3", "sqs", "iam"])
def test_service_models_load_as_botocore_loads_them(service):
    ours = botocore.loaders.create_loader()
    ours.file_loader = PlainJSONFileLoader()
    theirs = botocore.loaders.create_loader()
    for kind in ("service-2", "paginators-1", "endpoint-rule-set-1"):
        assert ours.load_service_model(service, kind) == theirs.load_service_model(service, kind)
    assert PlainJSONFileLoader().load_file("/nonexistent/model") is None
