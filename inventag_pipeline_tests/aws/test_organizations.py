"""Many accounts: Organizations discovery, assumed roles that refresh, and the registration sensor (moto)."""

from __future__ import annotations

import pytest
from dagster import SensorResult, build_sensor_context, instance_for_test

from inventag_pipeline.aws.collector import collect_account
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.organizations import DiscoveryError, list_member_accounts
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import Account, OrganizationDiscovery, discovered_accounts
from inventag_pipeline.core.registry import REGISTRY
from inventag_pipeline.inventory.sensors import account_registration_sensor
from inventag_pipeline.partitions import ACCOUNTS_PARTITION
from inventag_pipeline.resources import AwsInventoryResource
from inventag_pipeline_tests.conftest import client


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """A "real" (not simulated) account whose AWS endpoint is moto: the pipeline's ambient credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_url


def organization(url: str) -> dict[str, str]:
    """An organization with two active members (one under an OU) and one closed member."""
    org = client(url, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    ids = {}
    for name in ("payments", "sandbox", "retired"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        ids[name] = status["AccountId"]
    org.move_account(AccountId=ids["payments"], SourceParentId=root, DestinationParentId=ou)
    org.close_account(AccountId=ids["retired"])
    return {"root": root, "ou": ou, **ids}


def test_discovery_lists_members_keeps_closed_ones_disabled_and_filters_by_ou(aws_env):
    ids = organization(aws_env)
    audit = AuditLog()
    members = list_member_accounts(OrganizationDiscovery(), audit=audit)
    discovery = OrganizationDiscovery(role_name="InventagReadOnly", regions=("eu-west-1",),
                                      exclude_accounts=(ids["sandbox"],))
    accounts = {a.name: a for a in discovered_accounts(members, discovery)}
    assert set(accounts) >= {"payments", "retired"} and "sandbox" not in accounts  # excluded by id
    assert accounts["payments"].enabled is True
    assert accounts["payments"].role_arn == f"arn:aws:iam::{ids['payments']}:role/InventagReadOnly"
    assert accounts["payments"].regions == ("eu-west-1",)
    assert accounts["retired"].enabled is False  # closed: history kept, nothing collected
    assert {e.operation for e in audit.entries} == {"ListAccounts"}
    assert audit.summary()["all_read_only"] is True

    under_ou = list_member_accounts(OrganizationDiscovery(include_ous=(ids["ou"],)))
    assert [m["Id"] for m in under_ou] == [ids["payments"]]


def test_explicit_accounts_override_discovered_ones():
    members = [{"Id": "111111111111", "Name": "a", "Status": "ACTIVE"},
               {"Id": "222222222222", "Name": "b", "Status": "SUSPENDED"}]
    explicit = [Account(id="111111111111", name="prod", role_arn="arn:aws:iam::111111111111:role/Custom")]
    found = discovered_accounts(members, OrganizationDiscovery(), explicit)
    assert [(a.id, a.enabled, a.tags["state"]) for a in found] == [("222222222222", False, "SUSPENDED")]


def test_discovery_failure_is_one_clear_error(closed_port_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(DiscoveryError) as info:
        list_member_accounts(OrganizationDiscovery(), CollectionSettings(max_attempts=1))
    assert str(info.value).startswith(f'AWS Organizations discovery failed: Could not connect to the endpoint URL: '
                                      f'"{closed_port_url}/"')


def test_role_credentials_are_assumed_per_account_and_refreshed_before_expiry(aws_env):
    account = Account(id="123456789012", name="member", role_arn="arn:aws:iam::123456789012:role/InventagReadOnly",
                      external_id="agreed")
    client(aws_env, "sqs").create_queue(QueueName="in-member")
    audit = AuditLog()
    # 900 s sessions sit inside botocore's 15-minute advisory window: every use refreshes them, which
    # is what a multi-hour collection sees near each expiry.
    sessions = AccountSessions(account, CollectionSettings(role_session_seconds=900), audit)
    collection = collect_account(sessions, ["us-east-1"], [REGISTRY["AWS::SQS::Queue"]])
    assert [i.payload["QueueUrl"].rsplit("/", 1)[-1] for s in collection.scopes for i in s.items] == ["in-member"]
    assert collection.identity_arn.startswith("arn:aws:sts::123456789012:assumed-role/InventagReadOnly/")
    assumed = [e for e in audit.entries if e.operation == "AssumeRole"]
    assert len(assumed) >= 2 and all(e.outcome == "ok" for e in assumed)
    assert audit.summary()["all_read_only"] is True


def test_sensor_registers_discovered_accounts_and_requests_their_first_collection(aws_env, tmp_path):
    ids = organization(aws_env)
    accounts_file = tmp_path / "accounts.yaml"
    accounts_file.write_text("organization:\n  role_name: InventagReadOnly\n  regions: [us-east-1]\n")
    aws = AwsInventoryResource(accounts_file=str(accounts_file))
    with instance_for_test() as instance:
        with build_sensor_context(instance=instance) as context:
            result = account_registration_sensor(context, aws=aws)
        assert isinstance(result, SensorResult)
        [request] = result.dynamic_partitions_requests
        assert request.partitions_def_name == ACCOUNTS_PARTITION
        assert {ids["payments"], ids["sandbox"], ids["retired"]} <= set(request.partition_keys)
        requested = {r.partition_key.split("|")[0] for r in result.run_requests}
        assert {ids["payments"], ids["sandbox"]} <= requested and ids["retired"] not in requested
        assert all(r.tags["inventag/first_collection"] == "true" for r in result.run_requests)
