"""Opt-in publishing of changelogs and reports: S3, webhooks, SNS, Prometheus and CloudWatch metrics."""

from dagster_aws.s3 import S3Resource

from inventag_pipeline.delivery.assets import inventory_metrics, notifications, published_reports
from inventag_pipeline.delivery.resources import DeliveryResource

DELIVERY_ASSETS: list = [published_reports, notifications, inventory_metrics]
# `delivery_s3` is dagster-aws's S3 resource for publishing only; the store keeps its own S3 access.
DELIVERY_RESOURCES: dict = {"delivery": DeliveryResource(), "delivery_s3": S3Resource()}
