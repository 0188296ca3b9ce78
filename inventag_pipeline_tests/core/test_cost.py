"""Cost Explorer answers parsed exactly and joined to inventory counts through the declared table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventag_pipeline.core.cost import (
    COST_SERVICES,
    NOT_BILLED,
    cost_request,
    cost_summary,
    cost_table,
    join_costs,
    parse_cost_pages,
)
from inventag_pipeline.core.registry import services


def page(groups: dict[str, str], *, estimated: bool = True, token: str | None = None) -> dict:
    """One GetCostAndUsage page in AWS's own shape (amounts are strings)."""
    response = {
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "ResultsByTime": [{
            "TimePeriod": {"Start": "2026-11-21", "End": "2026-11-22"},
            "Total": {},
            "Groups": [{"Keys": [name], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
                       for name, amount in groups.items()],
            "Estimated": estimated,
        }],
        "DimensionValueAttributes": [],
    }
    if token:
        response["NextPageToken"] = token
    return response


def test_every_registry_service_is_billed_somewhere_or_declared_free():
    mapped = {s for group in COST_SERVICES.values() for s in group}
    registry = set(services())
    assert sorted(mapped - registry) == []
    assert sorted(registry - mapped - set(NOT_BILLED)) == []
    assert sorted(set(NOT_BILLED) & mapped) == []


def test_groups_never_overlap():
    """A service billed under two different groups would be counted twice in the join."""
    groups = {tuple(sorted(g)) for g in COST_SERVICES.values()}
    seen: dict[str, tuple[str, ...]] = {}
    for group in sorted(groups):
        for service in group:
            assert service not in seen, f"{service} is in {seen.get(service)} and {group}"
            seen[service] = group


def test_request_is_one_utc_day_by_service_for_the_account_only():
    assert cost_request("123456789012", "2026-12-31") == {
        "TimePeriod": {"Start": "2026-12-31", "End": "2027-01-01"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["123456789012"]}},
    }


def test_pages_are_summed_as_decimals():
    pages = [page({"Amazon Elastic Compute Cloud - Compute": "1.1", "EC2 - Other": "0.2"}, token="t"),
             page({"Amazon Elastic Compute Cloud - Compute": "2.2", "Tax": "0.30"}, estimated=False)]
    amounts, unit, estimated = parse_cost_pages(pages)
    assert amounts == {"Amazon Elastic Compute Cloud - Compute": Decimal("3.3"), "EC2 - Other": Decimal("0.2"),
                       "Tax": Decimal("0.30")}
    assert (unit, estimated) == ("USD", True)


def test_mixed_units_are_refused():
    pages = [page({"AWS Lambda": "1"})]
    pages[0]["ResultsByTime"][0]["Groups"].append(
        {"Keys": ["Amazon DynamoDB"], "Metrics": {"UnblendedCost": {"Amount": "1", "Unit": "CNY"}}})
    with pytest.raises(ValueError, match="several units"):
        parse_cost_pages(pages)


def test_join_groups_bill_lines_and_keeps_free_and_unmapped_services():
    amounts = {
        "Amazon Elastic Compute Cloud - Compute": Decimal("10.50"),
        "EC2 - Other": Decimal("1.50"),
        "AmazonCloudWatch": Decimal("0.75"),
        "Amazon Simple Storage Service": Decimal("0.25"),
        "Tax": Decimal("2.00"),
    }
    counts = {"ec2": 8, "s3": 5, "logs": 2, "iam": 9, "sqs": 1}
    rows = join_costs(amounts, counts)
    assert [(r["group"], r["cost_explorer_services"], r["amount"], r["resources"], r["amount_per_resource"])
            for r in rows] == [
        ("ec2", ["Amazon Elastic Compute Cloud - Compute", "EC2 - Other"], 12.0, 8, 1.5),
        ("Tax", ["Tax"], 2.0, None, None),
        ("cloudwatch+logs", ["AmazonCloudWatch"], 0.75, 2, 0.375),
        ("s3", ["Amazon Simple Storage Service"], 0.25, 5, 0.05),
        ("iam", [], 0.0, 9, 0.0),
        ("sqs", [], 0.0, 1, 0.0),
    ]
    summary = cost_summary(rows, account_id="123456789012", date="2026-11-21", unit="USD", estimated=False)
    assert {k: summary[k] for k in ("status", "total", "unmapped_total", "services_with_spend", "resources")} == {
        "status": "ok", "total": 15.0, "unmapped_total": 2.0, "services_with_spend": 4, "resources": 25}
    table = cost_table(rows)
    assert table.num_rows == 6
    assert table.column("resources").to_pylist() == [8, None, 2, 5, 9, 1]


def test_no_spend_and_no_inventory_is_an_empty_join():
    assert join_costs({}, {}) == []
