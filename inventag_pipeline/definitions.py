"""The Dagster code location: `defs`."""

from dagster import Definitions, in_process_executor

from inventag_pipeline.compliance.assets import compliance_report, security_findings, tag_compliance
from inventag_pipeline.delivery import DELIVERY_ASSETS, DELIVERY_RESOURCES
from inventag_pipeline.insights import INSIGHTS_ASSETS, INSIGHTS_RESOURCES
from inventag_pipeline.inventory.assets import changelog, inventory_delta, inventory_snapshot, raw_inventory
from inventag_pipeline.inventory.schedules import daily_inventory_job, daily_inventory_schedule
from inventag_pipeline.inventory.sensors import account_registration_sensor
from inventag_pipeline.operations import (
    OPERATIONS_ASSETS,
    OPERATIONS_JOBS,
    OPERATIONS_RESOURCES,
    OPERATIONS_SCHEDULES,
)
from inventag_pipeline.resources import (
    AwsInventoryResource,
    ComplianceGateResource,
    DeltaRulesResource,
    InventoryStoreResource,
    TagPolicyResource,
)

# One account-day's chain is sequential and its steps take well under a second each, so a run executes
# them in its own process: the multiprocess executor would start a Python process per step, about 14 s
# of CPU per run for no parallelism (benchmarks/README.md, "run start-up").
defs = Definitions(
    executor=in_process_executor,
    assets=[raw_inventory, inventory_snapshot, inventory_delta, changelog, tag_compliance, security_findings,
            compliance_report, *OPERATIONS_ASSETS, *DELIVERY_ASSETS, *INSIGHTS_ASSETS],
    jobs=[daily_inventory_job, *OPERATIONS_JOBS],
    schedules=[daily_inventory_schedule, *OPERATIONS_SCHEDULES],
    sensors=[account_registration_sensor],
    resources={
        "aws": AwsInventoryResource(),
        "store": InventoryStoreResource(),
        "delta_rules": DeltaRulesResource(),
        "tag_policy": TagPolicyResource(),
        "compliance_gate": ComplianceGateResource(),
        **OPERATIONS_RESOURCES,
        **DELIVERY_RESOURCES,
        **INSIGHTS_RESOURCES,
    },
)
