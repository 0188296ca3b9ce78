"""AWS Config items -> API payloads (core.config_mapping): one canonical shape whichever source read it.

Each pair in config_fixtures is one resource as the collector stores it from the direct APIs and as
AWS Config records it. Canonicalising both must give the same record and content hash, and a delta
between a day read one way and a day read the other must report nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from inventag_pipeline.core import config_mapping as cm
from inventag_pipeline.core.canonical import (
    CanonicalRecord,
    canonical_record,
    jsonable,
    redact_secrets,
    strip_paths,
)
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.core.snapshot import records_to_table
from inventag_pipeline_tests.core import config_fixtures as fx
from inventag_pipeline_tests.core.test_registry import payload_shape, walk

COLLECTED_AT = "2025-03-02T12:00:00Z"
# Config does not record SQS's message counters: those pairs differ in volatile fields only.
LACKS_VOLATILE = {"AWS::SQS::Queue"}
PAIR_IDS = [f"{name}#{n}" for n, (name, _, _) in enumerate(fx.PAIRS)]


def stored(cfn_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What the collector writes for a payload: JSON values, secrets replaced by their digest."""
    return redact_secrets(jsonable(payload), REGISTRY[cfn_type].secret_paths)


def from_config(cfn_type: str, raw: str, *, api: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fast path's payload: mapped, merged with the type's listing, complements read from the API."""
    mapping = cm.MAPPINGS[cfn_type]
    payload = cm.to_api_payload(REGISTRY[cfn_type], cm.parse_item(raw))
    if mapping.listing:
        payload = cm.merge_listed(fx.LISTED[cfn_type], payload)
    for store_as, needed in mapping.complements.items():
        payload[store_as] = api[store_as] if api is not None and needed(payload) else None
    return stored(cfn_type, payload)


def record(cfn_type: str, payload: dict[str, Any], source: str) -> CanonicalRecord:
    return canonical_record(REGISTRY[cfn_type], payload, account_id=fx.ACCOUNT, region=fx.REGION,
                            collected_at=COLLECTED_AT, source=source)


def key_paths(value: Any, prefix: str = "") -> list[str]:
    """Every key path of a document in registry syntax (`A[].B`)."""
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.append(path)
            out += key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            out += key_paths(item, f"{prefix}[]")
    return out


# --- the fixtures are real shapes ------------------------------------------------------------------------


def test_every_api_fixture_field_exists_in_botocores_output_shapes():
    offenders = []
    for cfn_type, api, _ in fx.PAIRS:
        shape, _ = payload_shape(REGISTRY[cfn_type])
        for path in sorted(set(key_paths(api))):
            try:
                walk(shape, path)
            except KeyError as exc:
                offenders.append(f"{cfn_type}: {exc}")
    assert offenders == []


def test_every_config_fixture_is_an_advanced_query_result_of_its_type():
    for cfn_type, _, raw in fx.PAIRS:
        data = json.loads(raw)
        assert set(data) == {"resourceId", "resourceName", "resourceType", "configuration",
                             "supplementaryConfiguration", "awsRegion", "arn", "configurationItemStatus", "tags"}
        assert data["resourceType"] == REGISTRY[cfn_type].config_type
        assert set(data) - {"tags"} <= set(cm.SELECT_FIELDS)


# --- one canonical shape -------------------------------------------------------------------------------


@pytest.mark.parametrize(("cfn_type", "api", "raw"), fx.PAIRS, ids=PAIR_IDS)
def test_config_and_api_give_the_same_canonical_record_and_hash(cfn_type, api, raw):
    rtype = REGISTRY[cfn_type]
    from_api = record(cfn_type, stored(cfn_type, api), "api")
    via_config = record(cfn_type, from_config(cfn_type, raw, api=api), "config")

    assert via_config.source == "config"
    assert via_config.content_hash == from_api.content_hash
    if cfn_type in LACKS_VOLATILE:
        assert strip_paths(via_config.configuration, rtype.volatile_paths) == strip_paths(
            from_api.configuration, rtype.volatile_paths)
        via_config = dataclasses.replace(via_config, configuration=from_api.configuration)
    assert dataclasses.replace(via_config, source="api") == from_api


def test_the_pairs_cover_every_mapped_type():
    assert sorted({name for name, _, _ in fx.PAIRS}) == sorted(cm.MAPPINGS)
    assert len(cm.MAPPINGS) == 12


def test_mapped_payloads_before_canonicalisation():
    """Spot checks on the raw payloads a Config item becomes (what lands in raw files)."""
    sg = from_config("AWS::EC2::SecurityGroup", fx.SECURITY_GROUP_CONFIG)
    assert sg["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "public https"}]
    assert sg["SecurityGroupArn"] == fx.SECURITY_GROUP_API["SecurityGroupArn"]
    assert sg["Tags"] == fx.api_tags(dict(fx.TAGS, Name="web-sg"))

    bucket = from_config("AWS::S3::Bucket", fx.BUCKET_CONFIG, api=fx.BUCKET_API)
    assert {k: bucket[k] for k in ("Location", "Versioning", "Policy", "PolicyStatus")} == {
        "Location": "eu-west-1", "Versioning": {"Status": "Enabled", "MFADelete": "Disabled"},
        "Policy": fx.BUCKET_POLICY, "PolicyStatus": {"IsPublic": False}}
    assert bucket["Encryption"] == fx.BUCKET_API["Encryption"]

    role = from_config("AWS::IAM::Role", fx.ROLE_CONFIG)
    assert (role["AssumeRolePolicyDocument"], role["InlinePolicyNames"]) == (fx.TRUST, ["s3-write"])
    assert "RoleLastUsed" not in role and "InstanceProfileList" not in role

    fn = from_config("AWS::Lambda::Function", fx.FUNCTION_CONFIG, api=fx.FUNCTION_API)
    assert fn["State"] == "Active"
    assert fn["Environment"]["Variables"]["STAGE"].startswith("redacted:sha256:")
    assert fn["Environment"] == stored("AWS::Lambda::Function", fx.FUNCTION_API)["Environment"]
    assert "hunter2" not in json.dumps(fn)

    queue = from_config("AWS::SQS::Queue", fx.QUEUE_CONFIG)
    assert queue["Attributes"]["CreatedTimestamp"] == "1714550400"
    assert (queue["Attributes"]["VisibilityTimeout"], queue["Attributes"]["SqsManagedSseEnabled"]) == ("60", "true")
    assert queue["Attributes"]["RedrivePolicy"] == '{"deadLetterTargetArn":"' + fx.QUEUE_ARN + '-dlq",' \
                                                   '"maxReceiveCount":5}'

    table = from_config("AWS::DynamoDB::Table", fx.TABLE_CONFIG)
    assert table["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": fx.KEY_ARN}
    assert table["PointInTimeRecovery"] == "ENABLED"
    assert "LocalSecondaryIndexes" not in table  # Config's empty list; the API leaves it out

    key = from_config("AWS::KMS::Key", fx.KEY_CONFIG)
    assert (key["AWSAccountId"], key["KeyRotationEnabled"]) == (fx.ACCOUNT, True)


def test_a_day_read_from_config_after_a_day_read_from_the_apis_has_no_changes():
    old = [record(t, stored(t, api), "api") for t, api, _ in fx.PAIRS]
    new = [record(t, from_config(t, raw, api=api), "config") for t, api, raw in fx.PAIRS]
    scopes = sorted({(r.service, r.region) for r in old})
    coverage = [{"service": s, "region": r, "status": "ok", "resource_count": 1, "api_calls": 1, "duration_s": 0.1}
                for s, r in scopes]
    result = DeltaEngine().compute(records_to_table(old), records_to_table(new),
                                   old_coverage=[dict(c, source="api") for c in coverage],
                                   new_coverage=[dict(c, source="config") for c in coverage],
                                   previous_date="2025-03-01", date="2025-03-02")
    assert (result.resource_changes.num_rows, result.attribute_changes.num_rows) == (0, 0)
    assert result.summary["total_changes"] == 0
    assert result.summary["unverified"] == []
    # And back again: Config one day, the APIs the next.
    back = DeltaEngine().compute(records_to_table(new), records_to_table(old), previous_date="2025-03-02",
                                 date="2025-03-03")
    assert back.summary["total_changes"] == 0


def test_a_real_change_between_sources_is_still_reported():
    """Equivalence is not blindness: a rule added between an API day and a Config day shows."""
    changed = json.loads(fx.SECURITY_GROUP_CONFIG)
    changed["configuration"]["ipPermissions"].append(
        {"fromPort": 22, "ipProtocol": "tcp", "toPort": 22, "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
         "ipRanges": ["0.0.0.0/0"], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []})
    cfn_type = "AWS::EC2::SecurityGroup"
    old = [record(cfn_type, stored(cfn_type, fx.SECURITY_GROUP_API), "api")]
    new = [record(cfn_type, from_config(cfn_type, json.dumps(changed)), "config")]
    result = DeltaEngine().compute(records_to_table(old), records_to_table(new))
    assert result.attribute_changes.select(["path", "change"]).to_pylist() == [
        {"path": "IpPermissions[IpProtocol=tcp,FromPort=22,ToPort=22,Source=0.0.0.0/0]", "change": "added"}]


def test_without_the_listing_and_complements_history_lacks_exactly_these_fields():
    """Past days have no list call and no detail call: what Config alone cannot say is missing."""
    missing = {}
    for cfn_type, api, raw in fx.PAIRS:
        alone = stored(cfn_type, cm.to_api_payload(REGISTRY[cfn_type], cm.parse_item(raw)))
        volatile = REGISTRY[cfn_type].volatile_paths
        want = strip_paths(record(cfn_type, stored(cfn_type, api), "api").configuration, volatile)
        have = strip_paths(record(cfn_type, alone, "config-history").configuration, volatile)
        differs = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        if differs:
            missing[cfn_type] = differs
    assert missing == {
        "AWS::IAM::Role": ["Description", "MaxSessionDuration"],
        "AWS::Lambda::Function": ["FunctionUrlConfig"],
        "AWS::S3::Bucket": ["PolicyStatus"],
    }


# --- items, queries, recorders ---------------------------------------------------------------------------


def test_history_items_with_text_configuration_and_tag_maps_parse_like_query_results():
    item = cm.parse_item({
        "version": "1.3", "accountId": fx.ACCOUNT, "configurationItemCaptureTime": dt.datetime(
            2025, 3, 1, 10, 0, 1, tzinfo=dt.timezone.utc),
        "configurationItemStatus": "OK", "configurationStateId": "1740823201000", "arn": fx.KEY_ARN,
        "resourceType": "AWS::KMS::Key", "resourceId": fx.KEY_ID, "awsRegion": fx.REGION,
        "tags": {"Environment": "prod"}, "relatedEvents": [], "relationships": [],
        "configuration": json.dumps({"keyId": fx.KEY_ID, "enabled": True}),
        "supplementaryConfiguration": {"KeyRotationStatus": "false"}})
    assert item == cm.ConfigItem(
        config_type="AWS::KMS::Key", resource_id=fx.KEY_ID, region=fx.REGION,
        configuration={"keyId": fx.KEY_ID, "enabled": True}, supplementary={"KeyRotationStatus": False},
        tags={"Environment": "prod"}, arn=fx.KEY_ARN, resource_name=None, account_id=fx.ACCOUNT, status="OK",
        capture_time="2025-03-01T10:00:01Z")
    without_tags = cm.parse_item(json.dumps({"resourceType": "AWS::SQS::Queue", "resourceId": "q", "awsRegion": "x"}))
    assert (without_tags.tags, without_tags.configuration, without_tags.supplementary) == (None, {}, {})


def test_select_expressions():
    assert cm.select_expression(["AWS::EC2::VPC", "AWS::EC2::SecurityGroup", "AWS::EC2::VPC"]) == (
        "SELECT resourceId, resourceName, resourceType, configuration, supplementaryConfiguration, tags, awsRegion, "
        "arn, configurationItemStatus WHERE resourceType IN ('AWS::EC2::SecurityGroup', 'AWS::EC2::VPC')")
    aggregate = cm.select_expression(["AWS::S3::Bucket"], account_id=fx.ACCOUNT, regions=["us-east-1", "eu-west-1"])
    assert aggregate.endswith(
        "WHERE resourceType IN ('AWS::S3::Bucket') AND accountId = '123456789012' "
        "AND awsRegion IN ('eu-west-1', 'us-east-1')")


RECORDING = [{"name": "default", "recording": True, "lastStatus": "SUCCESS"}]
CANDIDATES = ["AWS::EC2::VPC", "AWS::IAM::Role", "AWS::S3::Bucket"]


def _recorder(**group: Any) -> dict[str, Any]:
    return {"name": "default", "roleARN": "arn:aws:iam::123456789012:role/config", "recordingGroup": group}


@pytest.mark.parametrize(("recorder", "statuses", "expected"), [
    (_recorder(allSupported=True, includeGlobalResourceTypes=True), RECORDING,
     {"AWS::EC2::VPC": "CONTINUOUS", "AWS::IAM::Role": "CONTINUOUS", "AWS::S3::Bucket": "CONTINUOUS"}),
    (_recorder(allSupported=True, includeGlobalResourceTypes=False), RECORDING,
     {"AWS::EC2::VPC": "CONTINUOUS", "AWS::S3::Bucket": "CONTINUOUS"}),
    (_recorder(allSupported=False, resourceTypes=["AWS::S3::Bucket"],
               recordingStrategy={"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}), RECORDING,
     {"AWS::S3::Bucket": "CONTINUOUS"}),
    (_recorder(allSupported=False, exclusionByResourceTypes={"resourceTypes": ["AWS::EC2::VPC"]},
               recordingStrategy={"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"}), RECORDING,
     {"AWS::IAM::Role": "CONTINUOUS", "AWS::S3::Bucket": "CONTINUOUS"}),
    (dict(_recorder(allSupported=True), recordingMode={
        "recordingFrequency": "DAILY",
        "recordingModeOverrides": [{"resourceTypes": ["AWS::S3::Bucket"], "recordingFrequency": "CONTINUOUS"}]}),
     RECORDING, {"AWS::EC2::VPC": "DAILY", "AWS::S3::Bucket": "CONTINUOUS"}),
    (_recorder(allSupported=True), [{"name": "default", "recording": False}], {}),
    (_recorder(allSupported=True), [{"name": "default", "recording": True, "lastStatus": "Failure"}], {}),
    (_recorder(allSupported=True), [{"name": "other", "recording": True}], {}),
], ids=["all+global", "all", "inclusion", "exclusion", "daily+override", "stopped", "failing", "other-recorder"])
def test_recorded_types(recorder, statuses, expected):
    assert cm.recorded_types([recorder], statuses, CANDIDATES) == expected


def _at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("status", "expected"), [
    ({"recording": True, "lastStartTime": _at(1)}, True),
    ({"recording": True, "lastStartTime": _at(5, 9)}, False),  # started during the day
    ({"recording": False, "lastStartTime": _at(1), "lastStopTime": _at(7)}, True),
    ({"recording": False, "lastStartTime": _at(1), "lastStopTime": _at(5, 18)}, False),
    ({"recording": True, "lastStartTime": _at(1), "lastStopTime": _at(5, 18)}, False),  # stopped, restarted? unknown
    ({"recording": True, "lastStartTime": "2026-01-01T00:00:00Z"}, True),
    ({"recording": True}, False),
])
def test_recording_throughout_a_day_needs_proof(status, expected):
    assert cm.recording_throughout([status], _at(5), _at(6)) is expected


def test_history_states():
    item = cm.parse_item(fx.VPC_CONFIG)
    assert cm.history_state([]) == ("absent", None)
    assert cm.history_state([item]) == ("present", item)
    gone = dataclasses.replace(item, status="ResourceDeleted")
    assert cm.history_state([gone]) == ("absent", gone)
    assert cm.history_state([dataclasses.replace(item, status="ResourceDeletedNotRecorded")])[0] == "absent"
    assert cm.history_state([dataclasses.replace(item, status="ResourceNotRecorded")])[0] == "unknown"


def test_collection_source():
    assert cm.collection_source([]) == "api"
    assert cm.collection_source([{"source": "api"}, {}]) == "api"
    assert cm.collection_source([{"source": "config"}, {"source": "config"}]) == "config"
    assert cm.collection_source([{"source": "config"}, {"source": "api"}]) == "mixed"
    assert cm.collection_source([{"source": "config-history"}]) == "config-history"


# --- value conversions ------------------------------------------------------------------------------------


def test_pascal_renames_drops_and_leaves_data_keys_alone():
    value = {"ipRanges": ["x"], "ipv4Ranges": [{"cidrIp": "x"}], "environment": {"variables": {"lower_case": "v"}}}
    assert cm.pascal(value, {"ipRanges": None, "ipv4Ranges": "IpRanges"}, frozenset({"Environment.Variables"})) == {
        "IpRanges": [{"CidrIp": "x"}], "Environment": {"Variables": {"lower_case": "v"}}}


def test_drop_empty_keeps_what_the_api_sends_empty():
    value = {"A": [], "B": {}, "C": None, "D": {"E": [], "F": 0, "G": ""}, "H": [{"I": None}], "K": []}
    assert cm.drop_empty(value, frozenset({"K"})) == {"D": {"F": 0, "G": ""}, "H": [{}], "K": []}


def test_s3_versioning_states_and_tags_from_the_tagging_document():
    item = cm.parse_item(fx.BUCKET_CONFIG)
    bucket = REGISTRY["AWS::S3::Bucket"]

    def versioning(document: dict[str, Any]) -> Any:
        changed = dict(item.supplementary, BucketVersioningConfiguration=json.dumps(document))
        return cm.to_api_payload(bucket, dataclasses.replace(item, supplementary=changed))["Versioning"]

    assert versioning({"status": "Off", "isMfaDeleteEnabled": None}) == {}
    assert versioning({"status": "Suspended", "isMfaDeleteEnabled": None}) == {"Status": "Suspended"}
    assert versioning({"status": "Enabled", "isMfaDeleteEnabled": True}) == {"Status": "Enabled",
                                                                             "MFADelete": "Enabled"}
    untagged = cm.to_api_payload(bucket, dataclasses.replace(item, tags=None))
    assert untagged["Tags"] == fx.api_tags()


def test_sqs_values_become_the_apis_strings():
    assert cm._attribute_text(True) == "true"
    assert cm._attribute_text(30) == "30"
    assert cm._attribute_text(30.0) == "30"
    assert cm._attribute_text({"b": 1, "a": [2]}) == '{"b":1,"a":[2]}'
    assert cm._epoch_text("2024-05-01T08:00:00Z") == "1714550400"
    assert cm._epoch_text("2024-05-01T08:00:00") == "1714550400"
    assert cm._epoch_text("1714550400") == "1714550400"


def test_lambda_state_is_unwrapped_in_either_recording():
    item = cm.parse_item(fx.FUNCTION_CONFIG)
    fn = REGISTRY["AWS::Lambda::Function"]
    plain = dataclasses.replace(item, configuration=dict(item.configuration, state="Inactive"))
    assert cm.to_api_payload(fn, item)["State"] == "Active"
    assert cm.to_api_payload(fn, plain)["State"] == "Inactive"
