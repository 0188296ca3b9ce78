"""Insights settings: Cost Explorer stays off unless asked for; cleanup thresholds from fields or environment."""

from __future__ import annotations

import pytest

from inventag_pipeline.core.cleanup import DEFAULT_PROTECTED_TYPES, CleanupConfigError, CleanupSettings
from inventag_pipeline.insights.resources import CleanupRulesResource, CostExplorerResource


def test_cost_explorer_is_opt_in(monkeypatch):
    assert CostExplorerResource().is_enabled() is False
    monkeypatch.setenv("INVENTAG_COST_EXPLORER", "true")
    assert CostExplorerResource().is_enabled() is True
    assert CostExplorerResource(enabled=False).is_enabled() is False
    monkeypatch.setenv("INVENTAG_COST_EXPLORER", "maybe")
    with pytest.raises(ValueError, match="INVENTAG_COST_EXPLORER must be true or false, got 'maybe'"):
        CostExplorerResource().is_enabled()


def test_cost_metric(monkeypatch):
    assert CostExplorerResource().metric_name() == "UnblendedCost"
    monkeypatch.setenv("INVENTAG_COST_METRIC", "AmortizedCost")
    assert CostExplorerResource().metric_name() == "AmortizedCost"
    with pytest.raises(ValueError, match="cost metric must be one of"):
        CostExplorerResource(metric="Dollars").metric_name()


def test_cleanup_settings_from_fields_then_environment(monkeypatch):
    assert CleanupRulesResource().settings() == CleanupSettings()
    monkeypatch.setenv("INVENTAG_CLEANUP_STOPPED_DAYS", "14")
    monkeypatch.setenv("INVENTAG_CLEANUP_PROTECT_TAGS", "Keep, legal-hold")
    monkeypatch.setenv("INVENTAG_CLEANUP_PROTECTED_TYPES", "")
    settings = CleanupRulesResource(untagged_days=30, rules="ebs_volume_unattached").settings()
    assert settings == CleanupSettings(stopped_days=14, untagged_days=30, protect_tags=("Keep", "legal-hold"),
                                       protected_types=(), rules=("ebs_volume_unattached",))
    assert CleanupRulesResource(protected_types=None).settings().protected_types == ()
    monkeypatch.delenv("INVENTAG_CLEANUP_PROTECTED_TYPES")
    assert CleanupRulesResource().settings().protected_types == DEFAULT_PROTECTED_TYPES
    monkeypatch.setenv("INVENTAG_CLEANUP_MIN_AGE_DAYS", "a week")
    with pytest.raises(CleanupConfigError, match="INVENTAG_CLEANUP_MIN_AGE_DAYS must be a whole number of days"):
        CleanupRulesResource().settings()
