"""Typed, swappable resources: where data lives and how AWS is reached.

Every field falls back to its DESIGN §8 environment variable at run time, so the same definitions
serve the simulated demo, tests (a moto server), and real accounts.
"""


import dataclasses
import datetime as dt
import os

from dagster import ConfigurableResource

from inventag_pipeline.aws.collector import Collection, collect_account, enabled_regions
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import (
    Account,
    AccountsConfigError,
    check_collection_window,
    discovered_accounts,
    load_accounts,
    load_organization,
    parse_regions,
)
from inventag_pipeline.core.classify import Classifier, load_rules_file
from inventag_pipeline.core.delta import DeltaEngine
from inventag_pipeline.core.report import GateThresholds
from inventag_pipeline.core.tagpolicy import TagPolicy, load_policy
from inventag_pipeline.store.store import InventoryStore

SIMULATED_REGIONS = ("us-east-1", "eu-west-1")


class InventoryStoreResource(ConfigurableResource):
    """The storage root of DESIGN §4: a local path or s3://bucket/prefix (INVENTAG_STORAGE_URI)."""

    storage_uri: str | None = None

    def store(self) -> InventoryStore:
        return InventoryStore(self.storage_uri or os.environ.get("INVENTAG_STORAGE_URI") or None)


class AwsInventoryResource(ConfigurableResource):
    """Read-only access to the configured accounts (or the simulated one) and collection settings."""

    accounts_file: str | None = None
    regions: str | None = None
    simulator_url: str | None = None
    max_workers: int = 8
    max_attempts: int = 6
    collection_grace_hours: float = 24.0
    allow_outside_window: bool = False
    # With no accounts configured, start the simulated account in the background if it is not running.
    auto_start_simulator: bool = True

    def accounts(self) -> list[Account]:
        """The accounts file's accounts, plus the organization's members when discovery is configured."""
        path = self.accounts_file or os.environ.get("INVENTAG_ACCOUNTS_FILE") or None
        configured = load_accounts(path)
        discovery = load_organization(path)
        if discovery is None:
            return configured
        from inventag_pipeline.aws.organizations import list_member_accounts

        members = list_member_accounts(discovery, self.settings())
        return configured + discovered_accounts(members, discovery, configured)

    def account(self, account_id: str) -> Account:
        for account in self.accounts():
            if account.id == account_id:
                return account
        raise AccountsConfigError(
            f"account {account_id} is a registered partition but is not in the accounts configuration "
            "(INVENTAG_ACCOUNTS_FILE); its history is kept, but it can no longer be collected"
        )

    def settings(self) -> CollectionSettings:
        return CollectionSettings(
            max_workers=self.max_workers,
            max_attempts=self.max_attempts,
            simulator_url=self.simulator_url
            or os.environ.get("INVENTAG_SIMULATOR_URL")
            or CollectionSettings.simulator_url,
        )

    def check_window(self, day: dt.date, now: dt.datetime) -> str | None:
        """None inside the window; a note when the operator overrode it; raises otherwise."""
        if self.allow_outside_window:
            try:
                check_collection_window(day, now, self.collection_grace_hours)
            except Exception as exc:
                return f"collected outside its window by explicit override: {exc}"
            return None
        check_collection_window(day, now, self.collection_grace_hours)
        return None

    def ensure_simulator(self, account: Account) -> int | None:
        """Start the simulated account if it is the target and nothing answers; returns the new PID."""
        if not (account.simulated and self.auto_start_simulator):
            return None
        from inventag_pipeline.aws.simulator_launch import ensure_simulator

        return ensure_simulator(self.settings().simulator_url)

    def collect(self, account: Account) -> tuple[Collection, AuditLog]:
        audit = AuditLog()
        sessions = AccountSessions(account, self.settings(), audit)
        configured = account.regions or parse_regions(self.regions or os.environ.get("INVENTAG_REGIONS"))
        if configured:
            regions = list(configured)
        elif account.simulated:
            regions = list(SIMULATED_REGIONS)
        else:
            sessions.resolve_credentials()
            regions = enabled_regions(sessions)
        return collect_account(sessions, regions), audit


class DeltaRulesResource(ConfigurableResource):
    """Classification rules and ignored fields added to the defaults (INVENTAG_DELTA_RULES_FILE)."""

    rules_file: str | None = None

    def engine(self, required_tags: tuple[str, ...] | None = None) -> DeltaEngine:
        """The delta engine; `required_tags` (from the tag policy) drive its compliance impact."""
        path = self.rules_file or os.environ.get("INVENTAG_DELTA_RULES_FILE")
        classifier = Classifier()
        if path:
            rules, ignore = load_rules_file(path)
            classifier = classifier.with_overrides(rules, ignore)
        return DeltaEngine(classifier, required_tags) if required_tags else DeltaEngine(classifier)



class TagPolicyResource(ConfigurableResource):
    """The tag policy (INVENTAG_TAG_POLICY_FILE); without one, Environment, Owner and CostCenter."""

    policy_file: str | None = None

    def policy(self) -> TagPolicy:
        return load_policy(self.policy_file or os.environ.get("INVENTAG_TAG_POLICY_FILE") or None)


class ComplianceGateResource(ConfigurableResource):
    """Thresholds of the compliance gate on `compliance_report` (unset fields: INVENTAG_GATE_* env, then defaults).

    Breaching a `min_*`/`max_*` threshold fails the gate with ERROR severity (downstream assets are held);
    crossing a `warn_*` threshold fails it with WARN.
    """

    min_score: float | None = None
    max_critical: int | None = None
    min_tag_pct: float | None = None
    warn_score: float | None = None
    warn_high: int | None = None
    warn_tag_pct: float | None = None

    def thresholds(self) -> GateThresholds:
        values: dict[str, float | int] = {}
        for field in dataclasses.fields(GateThresholds):
            configured = getattr(self, field.name)
            env = os.environ.get(f"INVENTAG_GATE_{field.name.upper()}")
            if configured is not None:
                values[field.name] = configured
            elif env:
                try:
                    values[field.name] = int(env) if field.type in (int, "int") else float(env)
                except ValueError:
                    raise ValueError(f"INVENTAG_GATE_{field.name.upper()}={env!r} is not a number") from None
        return GateThresholds(**values)
