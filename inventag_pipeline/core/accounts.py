"""Accounts configuration (DESIGN §8) and the rules partition keys must obey (DESIGN §2)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventag_pipeline.core.configfile import read_yaml_file

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


def parse_accounts(data: Any, *, source: str = "accounts file") -> list[Account]:
    """Validate a parsed accounts document; report every problem at once."""
    if not isinstance(data, Mapping) or not isinstance(data.get("accounts"), list):
        raise AccountsConfigError(f"{source}: expected a mapping with an 'accounts:' list at the top")
    problems: list[str] = []
    accounts: list[Account] = []
    seen: set[str] = set()
    allowed = {"id", "name", "role_arn", "external_id", "regions", "enabled", "tags"}
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
        accounts.append(
            Account(
                id=account_id,
                name=str(entry.get("name") or account_id),
                role_arn=role_arn,
                external_id=None if entry.get("external_id") is None else str(entry["external_id"]),
                regions=tuple(regions),
                enabled=enabled is not False,
                tags={str(k): str(v) for k, v in tags.items()},
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
