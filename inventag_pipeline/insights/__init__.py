"""What people see and use beyond the chain: overview, cost, cleanup plan."""

from inventag_pipeline.insights.assets import cleanup_plan, cost, inventory_overview
from inventag_pipeline.insights.resources import CleanupRulesResource, CostExplorerResource

INSIGHTS_ASSETS: list = [inventory_overview, cost, cleanup_plan]
# Cost Explorer is off unless enabled (INVENTAG_COST_EXPLORER=true): each request costs $0.01.
INSIGHTS_RESOURCES: dict = {"cost_explorer": CostExplorerResource(), "cleanup_rules": CleanupRulesResource()}
