"""The retention planner: which partitions a policy deletes, in which order, and how the policy is validated."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import yaml

from inventag_pipeline.core.accounts import AccountsConfigError, parse_accounts
from inventag_pipeline.core.retention import (
    DEFAULT_MAX_SNAPSHOTS,
    DEFAULT_RETENTION_DAYS,
    FolderDeletion,
    Limits,
    RetentionConfigError,
    RetentionPolicy,
    expired_partitions,
    plan_retention,
)

A, B = "111111111111", "222222222222"
ORDER = ("reports", "deltas", "snapshots", "raw")
TODAY = dt.date(2026, 11, 30)


def days(first: str, count: int, step: int = 1) -> list[str]:
    start = dt.date.fromisoformat(first)
    return [(start + dt.timedelta(days=i * step)).isoformat() for i in range(count)]


def full(account_dates: dict[str, list[str]], kinds=ORDER) -> dict[str, dict[str, list[str]]]:
    """Every kind stored for every date."""
    return {kind: dict(account_dates) for kind in kinds}


def policy(max_snapshots: int, retention_days: int, overrides=None) -> RetentionPolicy:
    return RetentionPolicy.from_settings(max_snapshots, retention_days, overrides)


def test_a_partition_goes_only_when_outside_both_rules():
    # Ten daily snapshots 11-21..11-30. Days rule (5): keep from 11-25. Count rule (3): keep 11-28..11-30.
    plan = plan_retention(full({A: days("2026-11-21", 10)}), policy(3, 5), TODAY, ORDER)
    [account] = plan.accounts
    assert (account.cutoff, account.horizon) == ("2026-11-25", "2026-11-25")
    assert account.deleted == ("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24")
    assert account.kept == tuple(days("2026-11-25", 6))
    assert plan.partitions == tuple((A, d) for d in days("2026-11-21", 4))


def test_the_count_rule_keeps_an_account_that_stopped_being_collected():
    # Last collected in September: every partition is older than 5 days, the last 3 snapshots stay.
    plan = plan_retention(full({A: days("2026-09-01", 6)}), policy(3, 5), TODAY, ORDER)
    [account] = plan.accounts
    assert account.horizon == "2026-09-04"
    assert account.kept == ("2026-09-04", "2026-09-05", "2026-09-06")
    assert account.deleted == ("2026-09-01", "2026-09-02", "2026-09-03")


def test_the_day_boundary_keeps_a_partition_exactly_retention_days_old():
    plan = plan_retention(full({A: ["2026-11-19", "2026-11-20", "2026-11-21"]}), policy(1, 10), TODAY, ORDER)
    [account] = plan.accounts
    assert account.cutoff == "2026-11-20"
    assert (account.deleted, account.kept) == (("2026-11-19",), ("2026-11-20", "2026-11-21"))


def test_fewer_snapshots_than_max_deletes_nothing_however_old():
    plan = plan_retention(full({A: ["2020-01-01", "2021-06-30"]}), policy(3, 5), TODAY, ORDER)
    [account] = plan.accounts
    assert (account.horizon, account.deleted, account.kept) == (None, (), ("2020-01-01", "2021-06-30"))
    assert plan.folders == ()


def test_the_count_rule_counts_snapshots_not_days_across_gaps():
    # Weekly snapshots with gaps; plus partitions that never got a snapshot (raw only).
    snapshots = ["2026-08-01", "2026-08-08", "2026-09-20", "2026-10-30", "2026-11-02"]
    raw_only = ["2026-07-15", "2026-09-25", "2026-11-29"]
    stored = {"raw": {A: sorted(snapshots + raw_only)}, "snapshots": {A: snapshots}, "deltas": {A: snapshots}}
    plan = plan_retention(stored, policy(2, 14), TODAY, ORDER)
    [account] = plan.accounts
    # Second-newest snapshot 10-30; cutoff 11-16 is younger, so the horizon is 10-30.
    assert (account.snapshots, account.cutoff, account.horizon) == (5, "2026-11-16", "2026-10-30")
    assert account.deleted == ("2026-07-15", "2026-08-01", "2026-08-08", "2026-09-20", "2026-09-25")
    # The raw-only day after the newest snapshot (a collection under way) is never touched.
    assert account.kept == ("2026-10-30", "2026-11-02", "2026-11-29")


def test_folders_of_a_deleted_partition_go_together_dependants_first_oldest_partition_first():
    stored = {
        "raw": {A: ["2026-01-01", "2026-01-02", "2026-11-30"]},
        "snapshots": {A: ["2026-01-01", "2026-01-02", "2026-11-30"]},
        "deltas": {A: ["2026-01-02", "2026-11-30"]},  # no delta on 01-01: only existing folders are listed
        "reports": {A: ["2026-01-01", "2026-11-30"]},
    }
    plan = plan_retention(stored, policy(1, 30), TODAY, ORDER)
    assert plan.folders == (
        FolderDeletion("reports", A, "2026-01-01"), FolderDeletion("snapshots", A, "2026-01-01"),
        FolderDeletion("raw", A, "2026-01-01"),
        FolderDeletion("deltas", A, "2026-01-02"), FolderDeletion("snapshots", A, "2026-01-02"),
        FolderDeletion("raw", A, "2026-01-02"),
    )


def test_per_account_overrides_merge_with_the_default():
    stored = full({A: days("2026-11-01", 30), B: days("2026-11-01", 30)})
    plan = plan_retention(stored, policy(5, 10, {B: {"retention_days": 20}}), TODAY, ORDER)
    a, b = plan.accounts
    assert (a.account, a.limits, a.horizon, len(a.deleted)) == (A, Limits(5, 10), "2026-11-20", 19)
    assert (b.account, b.limits, b.horizon, len(b.deleted)) == (B, Limits(5, 20), "2026-11-10", 9)
    assert plan.policy.to_dict() == {"max_snapshots": 5, "retention_days": 10,
                                     "overrides": {B: {"max_snapshots": 5, "retention_days": 20}}}


def test_defaults_are_thirty_snapshots_and_four_hundred_days():
    assert (DEFAULT_MAX_SNAPSHOTS, DEFAULT_RETENTION_DAYS) == (30, 400)
    assert RetentionPolicy().limits(A) == Limits(30, 400) == RetentionPolicy.from_settings().default


def test_invalid_policies_report_every_problem_at_once():
    with pytest.raises(RetentionConfigError) as info:
        RetentionPolicy.from_settings(0, True, {
            "12345": {"max_snapshots": 2},
            B: {"retention_days": -1, "keep": 3},
            A: {},
        })
    assert str(info.value) == (
        "invalid retention policy:\n"
        "  - max_snapshots must be at least 1, got 0\n"
        "  - retention_days must be a positive whole number, got True\n"
        f"  - override for account {A}: empty; set max_snapshots and/or retention_days, or remove it\n"
        "  - override for account '12345': not a 12-digit account id\n"
        f"  - override for account {B}: unknown key(s) ['keep']; allowed: ['max_snapshots', 'retention_days']\n"
        f"  - override for account {B}: retention_days must be at least 1, got -1"
    )


@pytest.mark.parametrize("value", [0, -3, 1.5, "30", None, False])
def test_limits_must_be_positive_whole_numbers(value):
    with pytest.raises(RetentionConfigError, match="max_snapshots"):
        Limits(max_snapshots=value)


def test_kinds_without_a_deletion_order_and_bad_dates_are_refused():
    with pytest.raises(ValueError, match=r"no deletion order for kind\(s\) \['tags'\]"):
        plan_retention({"tags": {A: ["2026-01-01"]}}, policy(1, 1), TODAY, ORDER)
    with pytest.raises(ValueError, match="raw/account=111111111111 date '2026-13-01' is not a YYYY-MM-DD date"):
        plan_retention({"raw": {A: ["2026-13-01"]}}, policy(1, 1), TODAY, ORDER)


def test_plan_as_recorded_in_the_audit():
    plan = plan_retention(full({A: ["2026-01-01", "2026-11-30"]}), policy(1, 30), TODAY, ORDER)
    assert plan.to_dict() == {
        "today": "2026-11-30",
        "policy": {"max_snapshots": 1, "retention_days": 30, "overrides": {}},
        "accounts": [{"account": A, "max_snapshots": 1, "retention_days": 30, "cutoff": "2026-10-31",
                      "snapshots_stored": 2, "horizon": "2026-10-31", "oldest_kept": "2026-11-30", "kept": 1,
                      "deleted": ["2026-01-01"]}],
        "partitions": [{"account": A, "date": "2026-01-01"}],
    }


def test_expired_partitions_catch_up_only_before_each_horizon():
    stored = full({A: days("2026-11-01", 30), B: ["2026-01-01"]})
    plan = plan_retention(stored, policy(5, 10), TODAY, ORDER)
    known = [(A, "2026-10-01"), (A, "2026-11-19"), (A, "2026-11-20"), (B, "2025-01-01"), ("333333333333", "2025-01-01")]
    # A's horizon is 11-20; B has fewer snapshots than the policy keeps; the third account stores nothing.
    assert expired_partitions(plan, known) == [(A, "2026-10-01"), (A, "2026-11-19")]


def test_random_stores_never_split_a_partition():
    rng = random.Random(7)
    for _ in range(200):
        stored: dict[str, dict[str, list[str]]] = {}
        for kind in ORDER:
            for account in (A, B):
                chosen = sorted(rng.sample(days("2026-01-01", 60, step=5), rng.randint(0, 12)))
                stored.setdefault(kind, {})[account] = chosen
        limits = policy(rng.randint(1, 6), rng.randint(1, 400))
        plan = plan_retention(stored, limits, TODAY, ORDER)
        deleted = set(plan.partitions)
        expected = [(k, a, d) for a, d in sorted(deleted) for k in ORDER if d in stored[k][a]]
        assert sorted((f.kind, f.account, f.date) for f in plan.folders) == sorted(expected)
        for account in plan.accounts:
            assert not set(account.kept) & set(account.deleted)
            snapshots = stored["snapshots"][account.account]
            kept_snapshots = [d for d in snapshots if d in account.kept]
            assert len(kept_snapshots) >= min(len(snapshots), account.limits.max_snapshots)
            cutoff = (TODAY - dt.timedelta(days=account.limits.retention_days)).isoformat()
            assert all(d < cutoff for d in account.deleted)


# --- `retention:` in the accounts file ------------------------------------------------------------------


def test_accounts_file_retention_entries_are_parsed_and_optional():
    accounts = parse_accounts(yaml.safe_load(f"""
accounts:
  - id: "{A}"
    retention: {{max_snapshots: 90}}
  - id: "{B}"
    retention: {{max_snapshots: 7, retention_days: 60}}
  - id: "333333333333"
"""))
    assert [(a.id, a.retention) for a in accounts] == [
        (A, {"max_snapshots": 90}), (B, {"max_snapshots": 7, "retention_days": 60}), ("333333333333", {})]


def test_accounts_file_retention_problems_are_reported_with_the_entry():
    with pytest.raises(AccountsConfigError) as info:
        parse_accounts(yaml.safe_load(f"""
accounts:
  - id: "{A}"
    retention: {{max_snapshots: 0, days: 3}}
  - id: "{B}"
    retention: 30
"""))
    assert str(info.value) == (
        "invalid accounts configuration:\n"
        "  - accounts file: accounts[0]: retention: unknown key(s) ['days']; allowed: ['max_snapshots', "
        "'retention_days']\n"
        "  - accounts file: accounts[0]: retention: max_snapshots must be at least 1, got 0\n"
        "  - accounts file: accounts[1]: retention: expected a mapping with max_snapshots and/or retention_days, "
        "got int"
    )
