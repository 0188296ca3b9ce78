"""Registers configured accounts as partitions; never removes one (history is kept)."""


from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from inventag_pipeline.core.accounts import AccountsConfigError
from inventag_pipeline.partitions import ACCOUNTS_PARTITION, accounts_partitions
from inventag_pipeline.resources import AwsInventoryResource


@sensor(minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
        description="Registers every account in the accounts configuration as an `aws_accounts` partition.")
def account_registration_sensor(context: SensorEvaluationContext, aws: AwsInventoryResource):
    try:
        configured = [a.id for a in aws.accounts()]
    except AccountsConfigError as exc:
        return SkipReason(f"accounts configuration is invalid, nothing registered: {exc}")
    known = set(context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION))
    new = [a for a in configured if a not in known]
    if not new:
        return SkipReason(f"all {len(configured)} configured account(s) already registered")
    return SensorResult(dynamic_partitions_requests=[accounts_partitions.build_add_request(new)])
