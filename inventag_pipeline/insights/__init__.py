"""What people see and use beyond the chain: overview, cost, cleanup plan."""

INSIGHTS_ASSETS: list = []
INSIGHTS_RESOURCES: dict = {}
