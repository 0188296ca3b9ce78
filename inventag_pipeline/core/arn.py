"""The two ARN fields the pipeline reads: `arn:PARTITION:service:region:ACCOUNT:resource`."""

from __future__ import annotations


def arn_account(arn: str) -> str | None:
    """The account field, or None for ARNs without one (S3 buckets) and for non-ARNs."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" and parts[4] else None


def arn_partition(arn: str) -> str:
    """The partition (`aws`, `aws-cn`, `aws-us-gov`); `aws` when the value is not an ARN."""
    parts = arn.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "arn" and parts[1] else "aws"
