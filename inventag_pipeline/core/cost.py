"""Daily spend by service from Cost Explorer, joined to the inventory's resource counts.

Cost Explorer names services by their billing names ("Amazon Elastic Compute Cloud - Compute"); the
inventory by boto3 service names (`ec2`). `COST_SERVICES` is the one declared table between them.
Several billing names can land on one group of inventory services (EC2 compute, "EC2 - Other" and
VPC all go to `ec2`), and one billing name can cover several inventory services (CloudWatch bills
metrics and logs together), so the join is made per *group*: the spend of every billing name mapped
to the same services, beside the resources of those services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

COST_SCHEMA_VERSION = 1
DEFAULT_METRIC = "UnblendedCost"

# Cost Explorer `SERVICE` dimension value -> the registry services whose resources it bills.
COST_SERVICES: Mapping[str, tuple[str, ...]] = {
    "Amazon Elastic Compute Cloud - Compute": ("ec2",),
    # EBS volumes and snapshots, NAT gateways, idle Elastic IPs, data transfer.
    "EC2 - Other": ("ec2",),
    # Public IPv4 addresses, VPN connections, endpoints: the registry lists these under ec2.
    "Amazon Virtual Private Cloud": ("ec2",),
    "Amazon Simple Storage Service": ("s3",),
    "Amazon Relational Database Service": ("rds",),
    "AWS Lambda": ("lambda",),
    "Amazon DynamoDB": ("dynamodb",),
    "Amazon Simple Notification Service": ("sns",),
    "Amazon Simple Queue Service": ("sqs",),
    "AWS Key Management Service": ("kms",),
    # Both spellings occur in bills of different years.
    "Amazon Elastic Load Balancing": ("elb", "elbv2"),
    "Elastic Load Balancing": ("elb", "elbv2"),
    "Amazon ElastiCache": ("elasticache",),
    "Amazon Elastic File System": ("efs",),
    "Amazon EC2 Container Registry (ECR)": ("ecr",),
    "Amazon Elastic Container Service": ("ecs",),
    "Amazon Elastic Container Service for Kubernetes": ("eks",),
    "AWS Backup": ("backup",),
    "Amazon API Gateway": ("apigateway", "apigatewayv2"),
    "AWS CloudFormation": ("cloudformation",),
    # Metrics, alarms and logs are one line on the bill.
    "AmazonCloudWatch": ("cloudwatch", "logs"),
    "AWS CodePipeline": ("codepipeline",),
    "CloudWatch Events": ("events",),
    "Amazon EventBridge": ("events",),
    "AWS Step Functions": ("stepfunctions",),
    "AWS Systems Manager": ("ssm",),
    "AWS Secrets Manager": ("secretsmanager",),
    "AWS AppSync": ("appsync",),
    "Amazon Route 53": ("route53",),
    "AWS WAF": ("wafv2",),
    "Amazon CloudFront": ("cloudfront",),
    "AWS CloudTrail": ("cloudtrail",),
    "AWS Config": ("config",),
    "Amazon GuardDuty": ("guardduty",),
    "AWS Certificate Manager": ("acm",),
}
# Registry services that never appear on a bill: listed so the registry lint can tell them from omissions.
NOT_BILLED: tuple[str, ...] = ("iam",)

COST_SCHEMA = pa.schema([
    pa.field("group", pa.string(), nullable=False),
    pa.field("services", pa.list_(pa.string())),
    pa.field("cost_explorer_services", pa.list_(pa.string())),
    pa.field("amount", pa.float64()),
    pa.field("unit", pa.string()),
    pa.field("resources", pa.int64(), nullable=True),
    pa.field("amount_per_resource", pa.float64(), nullable=True),
])


def group_label(services: Sequence[str]) -> str:
    """`ec2`, or `cloudwatch+logs` when one bill line covers several inventory services."""
    return "+".join(sorted(services))


def cost_request(account_id: str, date: str, metric: str = DEFAULT_METRIC) -> dict[str, Any]:
    """The GetCostAndUsage parameters for one account's spend on one UTC day, by service.

    The LINKED_ACCOUNT filter matters when the credentials are the organization's management account:
    without it the call returns the whole organization's spend.
    """
    day = dt.date.fromisoformat(date)
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + dt.timedelta(days=1)).isoformat()},
        "Granularity": "DAILY",
        "Metrics": [metric],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account_id]}},
    }


def parse_cost_pages(pages: Iterable[Mapping[str, Any]], metric: str = DEFAULT_METRIC
                     ) -> tuple[dict[str, Decimal], str, bool]:
    """(amount per Cost Explorer service, unit, estimated) summed over every page and time bucket.

    Amounts are added as Decimals, as Cost Explorer sends them (strings), so totals do not drift.
    """
    amounts: dict[str, Decimal] = {}
    units: set[str] = set()
    estimated = False
    for page in pages:
        for bucket in page.get("ResultsByTime") or []:
            estimated = estimated or bool(bucket.get("Estimated"))
            for group in bucket.get("Groups") or []:
                service = (group.get("Keys") or ["(unknown)"])[0]
                value = (group.get("Metrics") or {}).get(metric) or {}
                amounts[service] = amounts.get(service, Decimal(0)) + Decimal(str(value.get("Amount", "0")))
                if value.get("Unit"):
                    units.add(value["Unit"])
    if len(units) > 1:
        raise ValueError(f"Cost Explorer returned several units for one day: {sorted(units)}")
    return amounts, (units.pop() if units else "USD"), estimated


def join_costs(amounts: Mapping[str, Decimal], resources_by_service: Mapping[str, int], unit: str = "USD"
               ) -> list[dict[str, Any]]:
    """One row per service group: its spend beside its inventoried resources.

    Groups with spend come first (largest first); inventoried services without spend follow with 0,
    so a service that costs nothing is visible too. Billing names outside `COST_SERVICES` (tax,
    support, marketplace) stay as their own rows with `resources` None: their spend is not lost.
    """
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    unmapped: list[dict[str, Any]] = []
    for name, amount in amounts.items():
        services = COST_SERVICES.get(name)
        if services is None:
            unmapped.append({"group": name, "services": [], "cost_explorer_services": [name], "amount": amount,
                             "unit": unit, "resources": None})
            continue
        key = tuple(sorted(services))
        entry = groups.setdefault(key, {"group": group_label(key), "services": list(key), "cost_explorer_services": [],
                                        "amount": Decimal(0), "unit": unit})
        entry["cost_explorer_services"].append(name)
        entry["amount"] += amount
    covered = {s for key in groups for s in key}
    for service in sorted(set(resources_by_service) - covered):
        key = _group_of(service)
        if key in groups:
            continue
        groups[key] = {"group": group_label(key), "services": list(key), "cost_explorer_services": [],
                       "amount": Decimal(0), "unit": unit}
    rows = []
    for key, entry in groups.items():
        count = sum(resources_by_service.get(s, 0) for s in key)
        rows.append({**entry, "cost_explorer_services": sorted(entry["cost_explorer_services"]), "resources": count})
    rows.extend(unmapped)
    out = []
    for row in rows:
        amount = row["amount"]
        count = row["resources"]
        out.append({**row, "amount": float(amount),
                    "amount_per_resource": float(amount / count) if count else None})
    return sorted(out, key=lambda r: (-r["amount"], r["group"]))


def _group_of(service: str) -> tuple[str, ...]:
    """The services billed together with `service` (itself alone when no bill line names it)."""
    for services in COST_SERVICES.values():
        if service in services:
            return tuple(sorted(services))
    return (service,)


def cost_summary(rows: Sequence[Mapping[str, Any]], *, account_id: str, date: str, unit: str, estimated: bool,
                 metric: str = DEFAULT_METRIC) -> dict[str, Any]:
    """cost.json for a day with data: totals, the unmapped spend, and every row."""
    total = sum((Decimal(str(r["amount"])) for r in rows), Decimal(0))
    unmapped = sum((Decimal(str(r["amount"])) for r in rows if r["resources"] is None), Decimal(0))
    return {
        "schema_version": COST_SCHEMA_VERSION,
        "status": "ok",
        "account_id": account_id,
        "date": date,
        "metric": metric,
        "unit": unit,
        "estimated": estimated,
        "total": float(total),
        "unmapped_total": float(unmapped),
        "services_with_spend": sum(1 for r in rows if r["amount"] > 0),
        "resources": sum(r["resources"] or 0 for r in rows),
        "rows": [dict(r) for r in rows],
    }


def skipped_summary(*, account_id: str, date: str, reason: str, code: str) -> dict[str, Any]:
    """cost.json for a day without Cost Explorer data: why, so "not read" never reads as "free"."""
    return {"schema_version": COST_SCHEMA_VERSION, "status": "skipped", "account_id": account_id, "date": date,
            "code": code, "reason": reason}


def cost_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows], schema=COST_SCHEMA)


def cost_markdown(rows: Sequence[Mapping[str, Any]], limit: int = 25) -> str:
    """The top groups as a Markdown table for the asset's metadata."""
    lines = ["| services | billed as | spend | resources | per resource |", "|---|---|---:|---:|---:|"]
    for r in rows[:limit]:
        per = "-" if r["amount_per_resource"] is None else f"{r['amount_per_resource']:.4f}"
        resources = "-" if r["resources"] is None else str(r["resources"])
        billed = ", ".join(r["cost_explorer_services"]) or "-"
        lines.append(f"| {r['group']} | {billed} | {r['amount']:.4f} {r['unit']} | {resources} | {per} |")
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | | | | |")
    return "\n".join(lines)
