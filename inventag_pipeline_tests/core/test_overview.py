"""The overview across two accounts: rows, status, totals and the Markdown table, exactly."""

from __future__ import annotations

from inventag_pipeline.core.overview import (
    AccountDocuments,
    build_overview,
    overview_document,
    overview_markdown,
    overview_table,
    overview_totals,
)

OK, FAILED = {"service": "ec2", "region": "us-east-1", "status": "ok"}, {
    "service": "s3", "region": "global", "status": "failed"}


def two_accounts() -> list[AccountDocuments]:
    prod = AccountDocuments(
        account_id="111111111111",
        snapshot_manifest={"date": "2026-11-21", "row_count": 250, "coverage": [OK]},
        delta_summary={"date": "2026-11-21", "total_changes": 11,
                       "counts": {"severity": {"critical": 2, "high": 1, "medium": 3}}},
        report={"date": "2026-11-21", "score": 73.59, "tag_compliance_percentage": 79.9, "gate": {"status": "error"}},
        raw_manifest={"date": "2026-11-21", "account_name": "prod", "coverage": [OK]},
        last_good_collection="2026-11-21",
        cost={"date": "2026-11-20", "total": 42.5, "unit": "USD"},
    )
    # Staging's newest collection failed a scope and its delta and report stopped a day earlier.
    staging = AccountDocuments(
        account_id="000000000222",
        snapshot_manifest={"date": "2026-11-21", "row_count": 40, "coverage": [OK, FAILED]},
        delta_summary={"date": "2026-11-20", "total_changes": 0, "counts": {"severity": {}}},
        report={"date": "2026-11-20", "score": 95.0, "tag_compliance_percentage": None, "gate": {"status": "pass"}},
        raw_manifest={"date": "2026-11-21", "account_name": "staging", "coverage": [OK, FAILED]},
        last_good_collection="2026-11-19",
    )
    return [prod, staging]


def test_rows_per_account_in_account_order():
    rows = build_overview(two_accounts())
    assert [(r["account_id"], r["account_name"], r["snapshot_date"], r["resources"], r["changes_date"], r["changes"],
             r["changes_critical"], r["changes_high"], r["compliance_score"], r["tag_compliance_pct"], r["gate"],
             r["last_collection"], r["last_collection_failed_scopes"], r["last_good_collection"], r["spend"],
             r["status"]) for r in rows] == [
        ("000000000222", "staging", "2026-11-21", 40, "2026-11-20", 0, None, None, 95.0, None, "pass",
         "2026-11-21", 1, "2026-11-19", None, "collection incomplete"),
        ("111111111111", "prod", "2026-11-21", 250, "2026-11-21", 11, 2, 1, 73.59, 79.9, "error",
         "2026-11-21", 0, "2026-11-21", 42.5, "gate failing"),
    ]
    assert overview_table(rows).num_rows == 2


def test_totals_for_the_asset_metadata():
    assert overview_totals(build_overview(two_accounts())) == {
        "accounts": 2, "resources": 290, "changes": 11, "changes_critical": 2, "changes_high": 1,
        "lowest_compliance_score": 73.59, "lowest_tag_compliance_pct": 79.9, "accounts_not_ok": 2,
        "accounts_collection_incomplete": 1, "accounts_gate_failing": 1,
    }


def test_status_says_what_to_look_at_first():
    fresh = AccountDocuments(account_id="333333333333")
    behind = AccountDocuments(
        account_id="444444444444", snapshot_manifest={"date": "2026-11-20", "row_count": 1},
        raw_manifest={"date": "2026-11-21", "coverage": [OK]}, last_good_collection="2026-11-21")
    chain = AccountDocuments(
        account_id="555555555555", snapshot_manifest={"date": "2026-11-21", "row_count": 1},
        delta_summary={"date": "2026-11-21", "total_changes": 0, "counts": {"severity": {}}},
        raw_manifest={"date": "2026-11-21", "coverage": [OK]}, last_good_collection="2026-11-21")
    assert [r["status"] for r in build_overview([fresh, behind, chain])] == [
        "no snapshot", "snapshot behind", "chain behind"]


def test_markdown_and_document():
    rows = build_overview(two_accounts())
    assert overview_markdown(rows).splitlines()[2:] == [
        "| 000000000222 | staging | 2026-11-21 | 40 | 0 (2026-11-20) | 0/0 | 95.0% | - | pass | 2026-11-19 | - | "
        "collection incomplete |",
        "| 111111111111 | prod | 2026-11-21 | 250 | 11 | 2/1 | 73.59% | 79.9% | error | 2026-11-21 | "
        "42.50 USD (2026-11-20) | gate failing |",
    ]
    document = overview_document(rows)
    assert (document["schema_version"], document["totals"]["accounts"], [a["account_id"] for a in document["accounts"]]
            ) == (1, 2, ["000000000222", "111111111111"])
