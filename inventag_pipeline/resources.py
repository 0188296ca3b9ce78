"""Typed, swappable resources: where data lives and how AWS is reached.

Every field falls back to its DESIGN §8 environment variable at run time, so the same definitions
serve the simulated demo, tests (a moto server), and real accounts.
"""


import dataclasses
import datetime as dt
import os

from dagster import ConfigurableResource

from inventag_pipeline.aws.collector import Collection, collect_account, enabled_regions
from inventag_pipeline.aws.config_source import HistoryUnavailable, day_bounds, reconstruct_day
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import (
    Account,
    AccountsConfigError,
    CollectionWindowError,
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
    """The storage root of DESIGN §4: a local path or s3://bucket/prefix (INVENTAG_STORAGE_URI).

    `template_dir` (INVENTAG_TEMPLATE_DIR) holds custom Jinja2 templates for the reports written into the
    store; each file missing there falls back to the built-in one.
    """

    storage_uri: str | None = None
    template_dir: str | None = None

    def store(self) -> InventoryStore:
        return InventoryStore(self.storage_uri or os.environ.get("INVENTAG_STORAGE_URI") or None)

    def templates(self) -> str | None:
        """The custom template folder, or None for the built-in templates; a missing folder is an error."""
        folder = self.template_dir or os.environ.get("INVENTAG_TEMPLATE_DIR") or None
        if folder is not None and not os.path.isdir(folder):
            raise ValueError(f"template folder {folder!r} (INVENTAG_TEMPLATE_DIR) is not a directory")
        return folder


class AwsInventoryResource(ConfigurableResource):
    """Read-only access to the configured accounts (or the simulated one) and collection settings."""

    accounts_file: str | None = None
    regions: str | None = None
    simulator_url: str | None = None
    # Unset: INVENTAG_COLLECT_WORKERS / INVENTAG_COLLECT_DETAIL_WORKERS, else CollectionSettings' defaults.
    max_workers: int | None = None
    detail_workers: int | None = None
    max_attempts: int = 6
    collection_grace_hours: float = 24.0
    allow_outside_window: bool = False
    # With no accounts configured, start the simulated account in the background if it is not running.
    auto_start_simulator: bool = True
    # AWS Config fast path and past days: "auto" or "off" (unset: INVENTAG_USE_AWS_CONFIG, else auto).
    use_aws_config: str | None = None
    # An organization's Config aggregator, NAME or NAME@REGION (unset: INVENTAG_CONFIG_AGGREGATOR).
    config_aggregator: str | None = None

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
        workers = {k: v for k, v in (("max_workers", self.max_workers), ("detail_workers", self.detail_workers),
                                     ("use_config", self.use_aws_config), ("config_aggregator", self.config_aggregator))
                   if v is not None}
        return CollectionSettings(
            **workers,
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
        return collect_account(sessions, self._regions(account, sessions)), audit

    def _regions(self, account: Account, sessions: AccountSessions) -> list[str]:
        configured = account.regions or parse_regions(self.regions or os.environ.get("INVENTAG_REGIONS"))
        if configured:
            return list(configured)
        if account.simulated:
            return list(SIMULATED_REGIONS)
        sessions.resolve_credentials()
        return enabled_regions(sessions)

    def collect_day(self, account: Account, day: dt.date, now: dt.datetime
                    ) -> tuple[Collection, AuditLog, str | None]:
        """Partition `day` of `account`: today's state inside the window, a past day from AWS Config history.

        Outside the window (and without the override) the day is rebuilt from configuration history when
        a recorder recorded it; otherwise the window's refusal stands, with Config's reason added.
        """
        try:
            note = self.check_window(day, now)
        except CollectionWindowError as refusal:
            if now < day_bounds(day)[1] or self.settings().use_config == "off":
                raise
            audit = AuditLog()
            sessions = AccountSessions(account, self.settings(), audit)
            try:
                collection = reconstruct_day(sessions, self._regions(account, sessions), day)
            except HistoryUnavailable as why:
                raise CollectionWindowError(f"{refusal} {why}") from None
            return collection, audit, (f"{day} rebuilt from AWS Config configuration history as of "
                                       f"{collection.config[0]['as_of']}, not collected live")
        collection, audit = self.collect(account)
        return collection, audit, note


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
