"""Accounts configuration (DESIGN §8) and the rules partition keys must obey (DESIGN §2)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventag_pipeline.core.arn import arn_partition
from inventag_pipeline.core.configfile import read_yaml_file
from inventag_pipeline.core.retention import override_problems

ACCOUNT_ID_RE = re.compile(r"\d{12}")
REGION_RE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d")

SIMULATED_ACCOUNT_ID = "123456789012"
SIMULATED_ACCOUNT_NAME = "simulated-demo"


class AccountsConfigError(ValueError):
    """The accounts file cannot be used; the message names every problem found."""


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    role_arn: str | None = None
    external_id: str | None = None
    regions: tuple[str, ...] = ()
    enabled: bool = True
    simulated: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    # `retention:` of the entry, only the limits it sets (core/retention.py merges it with the defaults).
    retention: Mapping[str, int] = field(default_factory=dict)


def validate_account_id(value: object) -> str:
    """Exactly 12 digits, as a string. YAML turns unquoted ids into ints and drops leading zeros."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise AccountsConfigError(
            f"account id {value!r} must be a quoted string of 12 digits (unquoted YAML numbers lose leading zeros)"
        )
    text = str(value)
    if not ACCOUNT_ID_RE.fullmatch(text):
        raise AccountsConfigError(f"account id {text!r} is not 12 digits")
    return text


def simulated_account() -> Account:
    return Account(id=SIMULATED_ACCOUNT_ID, name=SIMULATED_ACCOUNT_NAME, simulated=True)


@dataclass(frozen=True)
class OrganizationDiscovery:
    """`organization:` in the accounts file: find member accounts with AWS Organizations.

    Run from the management account or a delegated administrator. Discovered accounts are collected
    through `role_name` in each of them; explicit `accounts:` entries override discovered ones.
    """

    role_name: str = "InventagReadOnly"
    external_id: str | None = None
    include_ous: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def role_arn(self, account_id: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account_id}:role/{self.role_name}"


OU_ID_RE = re.compile(r"(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})")
INACTIVE_STATES = frozenset({"SUSPENDED", "PENDING_CLOSURE", "CLOSED"})


def parse_organization(entry: Any, *, source: str = "accounts file") -> OrganizationDiscovery | None:
    """The optional `organization:` block; None when absent or `enabled: false`."""
    if entry is None:
        return None
    where = f"{source}: organization"
    if not isinstance(entry, Mapping):
        raise AccountsConfigError(f"{where}: expected a mapping")
    allowed = {"enabled", "role_name", "external_id", "include_ous", "exclude_accounts", "regions"}
    problems = []
    unknown = sorted(set(entry) - allowed)
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    if entry.get("enabled", True) is False:
        return None
    role_name = str(entry.get("role_name") or "InventagReadOnly")
    if not re.fullmatch(r"[\w+=,.@/-]{1,64}", role_name):
        problems.append(f"{where}: role_name {role_name!r} is not an IAM role name")
    ous = entry.get("include_ous") or []
    if not isinstance(ous, list) or not all(isinstance(o, str) and OU_ID_RE.fullmatch(o) for o in ous):
        problems.append(f"{where}: include_ous must be a list of OU or root ids like ou-ab12-cd34ef56, got {ous!r}")
        ous = []
    excluded = []
    for value in entry.get("exclude_accounts") or []:
        try:
            excluded.append(validate_account_id(value))
        except AccountsConfigError as exc:
            problems.append(f"{where}: exclude_accounts: {exc}")
    regions = entry.get("regions") or []
    if not isinstance(regions, list) or not all(isinstance(r, str) and REGION_RE.fullmatch(r) for r in regions):
        problems.append(f"{where}: 'regions' must be a list of region names like us-east-1, got {regions!r}")
        regions = []
    if problems:
        raise AccountsConfigError("invalid accounts configuration:\n  - " + "\n  - ".join(problems))
    external_id = entry.get("external_id")
    return OrganizationDiscovery(role_name=role_name, external_id=None if external_id is None else str(external_id),
                                 include_ous=tuple(ous), exclude_accounts=tuple(excluded), regions=tuple(regions))


def discovered_accounts(members: Sequence[Mapping[str, Any]], discovery: OrganizationDiscovery,
                        configured: Sequence[Account] = ()) -> list[Account]:
    """Accounts from Organizations `ListAccounts` records, as the collector should see them.

    Suspended, closing and closed members are kept but disabled (their history stays, nothing is
    collected); excluded ids are dropped; an account also listed under `accounts:` keeps that entry.
    """
    explicit = {a.id for a in configured}
    out = []
    for member in sorted(members, key=lambda m: str(m.get("Id"))):
        account_id = str(member.get("Id"))
        if account_id in explicit or account_id in discovery.exclude_accounts:
            continue
        state = str(member.get("State") or member.get("Status") or "ACTIVE").upper()
        out.append(Account(
            id=account_id, name=str(member.get("Name") or account_id),
            role_arn=discovery.role_arn(account_id, arn_partition(str(member.get("Arn") or ""))),
            external_id=discovery.external_id, regions=discovery.regions,
            enabled=state not in INACTIVE_STATES, tags={"inventag:source": "organizations", "state": state},
        ))
    return out


def parse_accounts(data: Any, *, source: str = "accounts file") -> list[Account]:
    """Validate a parsed accounts document; report every problem at once."""
    if isinstance(data, Mapping) and data.get("organization") and data.get("accounts") is None:
        data = {**data, "accounts": []}  # discovery alone is a valid configuration
    if not isinstance(data, Mapping) or not isinstance(data.get("accounts"), list):
        raise AccountsConfigError(f"{source}: expected a mapping with an 'accounts:' list at the top")
    unknown_top = sorted(set(data) - {"accounts", "organization"})
    if unknown_top:
        raise AccountsConfigError(f"{source}: unknown top-level key(s) {unknown_top}; allowed: accounts, organization")
    parse_organization(data.get("organization"), source=source)  # validated here, used by load_organization
    problems: list[str] = []
    accounts: list[Account] = []
    seen: set[str] = set()
    allowed = {"id", "name", "role_arn", "external_id", "regions", "enabled", "tags", "retention"}
    for i, entry in enumerate(data["accounts"]):
        where = f"{source}: accounts[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a mapping, got {type(entry).__name__}")
            continue
        unknown = sorted(set(entry) - allowed)
        if unknown:
            problems.append(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        account_id = ""
        if "id" not in entry:
            problems.append(f"{where}: missing 'id'")
        else:
            try:
                account_id = validate_account_id(entry["id"])
            except AccountsConfigError as exc:
                problems.append(f"{where}: {exc}")
        if account_id and account_id in seen:
            problems.append(f"{where}: account {account_id} listed twice")
        seen.add(account_id)
        regions = entry.get("regions") or []
        if not isinstance(regions, list) or not all(isinstance(r, str) and REGION_RE.fullmatch(r) for r in regions):
            problems.append(f"{where}: 'regions' must be a list of region names like us-east-1, got {regions!r}")
            regions = []
        role_arn = entry.get("role_arn")
        if role_arn is not None and not re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+", str(role_arn)):
            problems.append(f"{where}: role_arn {role_arn!r} is not an IAM role ARN")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(f"{where}: 'enabled' must be true or false, got {enabled!r}")
        tags = entry.get("tags") or {}
        if not isinstance(tags, Mapping):
            problems.append(f"{where}: 'tags' must be a mapping of key: value, got {type(tags).__name__}")
            tags = {}
        retention = entry.get("retention")
        retention_problems = [] if retention is None else override_problems(retention, f"{where}: retention")
        problems += retention_problems
        accounts.append(
            Account(
                id=account_id,
                name=str(entry.get("name") or account_id),
                role_arn=role_arn,
                external_id=None if entry.get("external_id") is None else str(entry["external_id"]),
                regions=tuple(regions),
                enabled=enabled is not False,
                tags={str(k): str(v) for k, v in tags.items()},
                retention=dict(retention) if retention is not None and not retention_problems else {},
            )
        )
    if problems:
        raise AccountsConfigError("invalid accounts configuration:\n  - " + "\n  - ".join(problems))
    return accounts


def load_accounts(path: str | Path | None) -> list[Account]:
    """Accounts from a YAML file; with no file configured, the simulated demo account."""
    if not path:
        return [simulated_account()]
    data = read_yaml_file(path, "accounts file", "INVENTAG_ACCOUNTS_FILE", AccountsConfigError)
    return parse_accounts(data, source=str(path))


def load_organization(path: str | Path | None) -> OrganizationDiscovery | None:
    """The accounts file's `organization:` block, if discovery is configured."""
    if not path:
        return None
    data = read_yaml_file(path, "accounts file", "INVENTAG_ACCOUNTS_FILE", AccountsConfigError)
    return parse_organization(data.get("organization") if isinstance(data, Mapping) else None, source=str(path))


def parse_regions(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """`INVENTAG_REGIONS` ("us-east-1,eu-west-1") as a validated tuple; empty means "enabled regions"."""
    if not value:
        return ()
    items = [r.strip() for r in value.split(",")] if isinstance(value, str) else list(value)
    regions = tuple(r for r in items if r)
    bad = [r for r in regions if not REGION_RE.fullmatch(r)]
    if bad:
        raise AccountsConfigError(f"not region names: {bad} (expected e.g. us-east-1,eu-west-1)")
    return regions


# --- the collection window (DESIGN §2) ---------------------------------------------------------


class CollectionWindowError(RuntimeError):
    """Collecting this day now would label today's state as another day's."""


def check_collection_window(day: dt.date, now: dt.datetime, grace_hours: float = 24.0) -> None:
    """Partition `day` is the state at its end (UTC): collectable during the day and the grace after."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)
    end = start + dt.timedelta(days=1) + dt.timedelta(hours=grace_hours)
    if now < start:
        raise CollectionWindowError(f"{day} has not started yet (now {now:%Y-%m-%d %H:%M} UTC)")
    if now >= end:
        raise CollectionWindowError(
            f"{day} can no longer be collected: its window closed at {end:%Y-%m-%d %H:%M} UTC "
            f"({grace_hours:g} h after the day ended). Collecting now would record today's state as {day}. "
            "Re-materialise downstream assets from stored data instead, or set allow_outside_window=true "
            "on the aws resource if you really want today's state stored under that date."
        )
