"""Opt-in publishing of changelogs and reports: S3, webhooks, SNS, Prometheus and CloudWatch metrics."""

DELIVERY_ASSETS: list = []
DELIVERY_RESOURCES: dict = {}
