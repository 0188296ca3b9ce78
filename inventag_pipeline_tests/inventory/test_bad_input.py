"""Bad input gets a clear error naming the problem, and loses nothing."""

from __future__ import annotations

import pytest
from dagster import instance_for_test

from inventag_pipeline.core.accounts import AccountsConfigError
from inventag_pipeline.partitions import partition_key
from inventag_pipeline_tests.inventory.helpers import failure_message, run_day

DAY = "2026-11-21"


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def _accounts_file(tmp_path, text: str) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(text)
    return str(path)


def test_malformed_accounts_file_fails_the_run_with_the_yaml_error(tmp_path, instance, moto_url):
    path = _accounts_file(tmp_path, "accounts:\n  - id: '111111111111\n    name: [broken\n")
    result = run_day(instance, moto_url, str(tmp_path / "store"), DAY, account="111111111111",
                     accounts_file=path, raise_on_error=False)
    assert not result.success
    assert f"accounts file '{path}' is not valid YAML" in failure_message(result)
    assert not (tmp_path / "store").exists()


def test_unquoted_account_id_is_rejected_with_advice(tmp_path, instance, moto_url):
    path = _accounts_file(tmp_path, "accounts:\n  - id: 111111111111\n    name: prod\n")
    result = run_day(instance, moto_url, str(tmp_path / "store"), DAY, account="111111111111",
                     accounts_file=path, raise_on_error=False)
    assert "account id 111111111111 must be a quoted string of 12 digits" in failure_message(result)


@pytest.mark.parametrize("bad", ["12345", "1234567890123", "12345678901a", "123456789012|x", ""])
def test_invalid_account_ids_never_become_partitions(bad):
    with pytest.raises(AccountsConfigError, match="is not 12 digits"):
        partition_key(bad, DAY)


def test_missing_credentials_name_the_account_and_the_fix(tmp_path, instance, moto_url):
    path = _accounts_file(tmp_path, "accounts:\n  - id: '111111111111'\n    name: prod\n    regions: [us-east-1]\n")
    result = run_day(instance, moto_url, str(tmp_path / "store"), DAY, account="111111111111",
                     accounts_file=path, raise_on_error=False)
    message = failure_message(result)
    assert "no AWS credentials found for account 111111111111 (prod)" in message
    assert "unset INVENTAG_ACCOUNTS_FILE to run against the simulated demo account" in message
    assert not (tmp_path / "store").exists()


def test_account_no_longer_configured_keeps_history_but_is_not_collected(tmp_path, instance, moto_url):
    path = _accounts_file(tmp_path, "accounts:\n  - id: '222222222222'\n    name: other\n")
    result = run_day(instance, moto_url, str(tmp_path / "store"), DAY, account="111111111111",
                     accounts_file=path, raise_on_error=False)
    assert "account 111111111111 is a registered partition but is not in the accounts configuration" in (
        failure_message(result))


def test_collection_window_is_enforced_without_override(tmp_path, instance, moto_url):
    result = run_day(instance, moto_url, str(tmp_path / "store"), "2026-01-05", allow_outside_window=False,
                     raise_on_error=False)
    message = failure_message(result)
    assert "2026-01-05 can no longer be collected: its window closed at 2026-01-07 00:00 UTC" in message
    assert not (tmp_path / "store").exists()


def test_simulator_not_running_says_how_to_start_it(tmp_path, instance, closed_port_url):
    result = run_day(instance, closed_port_url, str(tmp_path / "store"), DAY, max_attempts=1,
                     auto_start_simulator=False, raise_on_error=False)
    message = failure_message(result)
    assert f"the simulated AWS account is not answering at {closed_port_url}" in message
    assert "make dev" in message
