"""Settings of the insights assets: opt-in Cost Explorer reads and the cleanup plan's thresholds.

Every field falls back to an INVENTAG_* environment variable at run time, like the other resources.
"""

import os

from dagster import ConfigurableResource

from inventag_pipeline.core.cleanup import (
    DEFAULT_PROTECT_TAGS,
    DEFAULT_PROTECTED_TYPES,
    CleanupConfigError,
    CleanupSettings,
)
from inventag_pipeline.core.cost import DEFAULT_METRIC

COST_METRICS = ("AmortizedCost", "BlendedCost", "NetAmortizedCost", "NetUnblendedCost", "UnblendedCost")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("", "false", "0", "no", "off")


class CostExplorerResource(ConfigurableResource):
    """Cost Explorer for the `cost` asset: off unless enabled (INVENTAG_COST_EXPLORER=true), because AWS
    charges $0.01 per GetCostAndUsage request (one per account per day)."""

    enabled: bool | None = None
    # Unset: INVENTAG_COST_METRIC, else UnblendedCost.
    metric: str | None = None

    def is_enabled(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        text = os.environ.get("INVENTAG_COST_EXPLORER", "").strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"INVENTAG_COST_EXPLORER must be true or false, got {text!r}")

    def metric_name(self) -> str:
        metric = self.metric or os.environ.get("INVENTAG_COST_METRIC", "").strip() or DEFAULT_METRIC
        if metric not in COST_METRICS:
            raise ValueError(f"cost metric must be one of {', '.join(COST_METRICS)}, got {metric!r}")
        return metric


def _whole(field: str, configured: int | None) -> int | None:
    if configured is not None:
        return configured
    name = f"INVENTAG_CLEANUP_{field.upper()}"
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise CleanupConfigError(f"{name} must be a whole number of days, got {text!r}") from None


def _names(field: str, configured: str | None) -> tuple[str, ...] | None:
    text = configured if configured is not None else os.environ.get(f"INVENTAG_CLEANUP_{field.upper()}")
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


class CleanupRulesResource(ConfigurableResource):
    """Thresholds and protections of `cleanup_plan` (unset fields: INVENTAG_CLEANUP_*, then the defaults of
    core.cleanup.CleanupSettings). Lists are comma-separated; an empty `protected_types` protects no type."""

    stopped_days: int | None = None
    untagged_days: int | None = None
    min_age_days: int | None = None
    protect_tags: str | None = None
    protected_types: str | None = None
    # Rule ids to run (comma-separated); unset runs every rule.
    rules: str | None = None

    def settings(self) -> CleanupSettings:
        values: dict = {}
        for field in ("stopped_days", "untagged_days", "min_age_days"):
            value = _whole(field, getattr(self, field))
            if value is not None:
                values[field] = value
        tags = _names("protect_tags", self.protect_tags)
        types = _names("protected_types", self.protected_types)
        rules = _names("rules", self.rules)
        return CleanupSettings(
            **values,
            protect_tags=DEFAULT_PROTECT_TAGS if tags is None else tags,
            protected_types=DEFAULT_PROTECTED_TYPES if types is None else types,
            rules=rules or (),
        )
