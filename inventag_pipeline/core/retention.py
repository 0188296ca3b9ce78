"""Retention planning: which stored partitions a policy lets go, decided without touching the store.

Per account the policy keeps the last `max_snapshots` snapshots AND every partition at most
`retention_days` old; a partition goes only when it is outside both. That reduces to one date per
account, its *horizon*: the older of `today - retention_days` and the date of its `max_snapshots`-th
newest snapshot. Every partition dated before the horizon is deleted, in every kind folder at once
(raw, snapshot, delta, changelog, compliance ... of one day go together), and nothing on or after it.
An account with fewer than `max_snapshots` snapshots has no horizon and loses nothing, so an account
that stopped being collected always keeps its last snapshots however old they are.

The oldest kept delta (and compliance trend) was computed against a snapshot the plan deletes. It stays
valid: it is already computed, and its `previous_date` simply names a day no longer stored. Only
re-materialising that oldest delta would change it (there is no earlier snapshot left to diff against).

No dagster or boto3 import: the Dagster job and `inventag retention` execute the plan.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# A year of daily history plus a month, so a year-over-year comparison still has both ends; and the
# last month of snapshots of an account that is no longer collected, however old.
DEFAULT_RETENTION_DAYS = 400
DEFAULT_MAX_SNAPSHOTS = 30
LIMIT_FIELDS = ("max_snapshots", "retention_days")
SNAPSHOT_KIND = "snapshots"


class RetentionConfigError(ValueError):
    """The retention policy cannot be used; the message names every problem found."""


def limit_problem(name: str, value: Any) -> str | None:
    """Why `value` is not a usable `max_snapshots` / `retention_days` (a positive whole number), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be a positive whole number, got {value!r}"
    if value < 1:
        return f"{name} must be at least 1, got {value}"
    return None


def override_problems(entry: Any, where: str) -> list[str]:
    """Problems of one per-account override (`{max_snapshots: N, retention_days: N}`, either key optional)."""
    if not isinstance(entry, Mapping):
        return [f"{where}: expected a mapping with max_snapshots and/or retention_days, got {type(entry).__name__}"]
    problems = []
    unknown = sorted(str(k) for k in set(entry) - set(LIMIT_FIELDS))
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}; allowed: {list(LIMIT_FIELDS)}")
    if not entry:
        problems.append(f"{where}: empty; set max_snapshots and/or retention_days, or remove it")
    for name in LIMIT_FIELDS:
        if name in entry:
            problem = limit_problem(name, entry[name])
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


@dataclass(frozen=True)
class Limits:
    """One account's limits, validated on construction."""

    max_snapshots: int = DEFAULT_MAX_SNAPSHOTS
    retention_days: int = DEFAULT_RETENTION_DAYS

    def __post_init__(self) -> None:
        problems = [p for p in (limit_problem(n, getattr(self, n)) for n in LIMIT_FIELDS) if p]
        if problems:
            raise RetentionConfigError("invalid retention policy: " + "; ".join(problems))

    def to_dict(self) -> dict[str, int]:
        return {"max_snapshots": self.max_snapshots, "retention_days": self.retention_days}


@dataclass(frozen=True)
class RetentionPolicy:
    """Default limits plus complete per-account limits (partial overrides are merged by `from_settings`)."""

    default: Limits = field(default_factory=Limits)
    overrides: Mapping[str, Limits] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, max_snapshots: Any = DEFAULT_MAX_SNAPSHOTS, retention_days: Any = DEFAULT_RETENTION_DAYS,
                      overrides: Mapping[str, Mapping[str, Any]] | None = None) -> RetentionPolicy:
        """Validate everything at once; an override that sets one limit inherits the other from the default."""
        problems = [p for p in (limit_problem("max_snapshots", max_snapshots),
                                limit_problem("retention_days", retention_days)) if p]
        for account, entry in sorted((overrides or {}).items(), key=lambda item: str(item[0])):
            if not re.fullmatch(r"\d{12}", str(account)):
                problems.append(f"override for account {account!r}: not a 12-digit account id")
            problems += override_problems(entry, f"override for account {account}")
        if problems:
            raise RetentionConfigError("invalid retention policy:\n  - " + "\n  - ".join(problems))
        default = Limits(max_snapshots, retention_days)
        merged = {account: Limits(**{**default.to_dict(), **entry}) for account, entry in (overrides or {}).items()}
        return cls(default, dict(sorted(merged.items())))

    def limits(self, account: str) -> Limits:
        return self.overrides.get(account, self.default)

    def to_dict(self) -> dict[str, Any]:
        return {**self.default.to_dict(), "overrides": {a: lim.to_dict() for a, lim in self.overrides.items()}}


@dataclass(frozen=True)
class AccountRetention:
    """What the policy decides for one account; `horizon` None means nothing is old enough to delete."""

    account: str
    limits: Limits
    cutoff: str  # today - retention_days: partitions on or after it are young enough to keep
    snapshots: int  # snapshots stored before retention
    horizon: str | None
    kept: tuple[str, ...]
    deleted: tuple[str, ...]

    @property
    def oldest_kept(self) -> str | None:
        return self.kept[0] if self.kept else None

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, **self.limits.to_dict(), "cutoff": self.cutoff,
                "snapshots_stored": self.snapshots, "horizon": self.horizon, "oldest_kept": self.oldest_kept,
                "kept": len(self.kept), "deleted": list(self.deleted)}


@dataclass(frozen=True)
class FolderDeletion:
    kind: str
    account: str
    date: str


@dataclass(frozen=True)
class RetentionPlan:
    """The decision per account and the folders to delete, in the order they must be deleted."""

    today: str
    policy: RetentionPolicy
    accounts: tuple[AccountRetention, ...]
    folders: tuple[FolderDeletion, ...]

    @property
    def partitions(self) -> tuple[tuple[str, str], ...]:
        """(account, date) of every partition to delete, oldest first per account."""
        return tuple((a.account, d) for a in self.accounts for d in a.deleted)

    def horizon(self, account: str) -> str | None:
        return next((a.horizon for a in self.accounts if a.account == account), None)

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today, "policy": self.policy.to_dict(),
                "accounts": [a.to_dict() for a in self.accounts],
                "partitions": [{"account": a, "date": d} for a, d in self.partitions]}


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a YYYY-MM-DD date") from None


def plan_retention(stored: Mapping[str, Mapping[str, Iterable[str]]], policy: RetentionPolicy, today: dt.date,
                   delete_order: Sequence[str]) -> RetentionPlan:
    """The plan for a store holding `stored[kind][account] = dates`.

    `delete_order` lists every kind, the ones that depend on others first: a partition's folders are
    deleted in that order, so a run interrupted halfway leaves a day that merely looks unfinished (a
    snapshot without its delta), never a delta or report without the snapshot it was computed from.
    Partitions are deleted oldest first, one whole partition after the other.
    """
    unknown = sorted(set(stored) - set(delete_order))
    if unknown:
        raise ValueError(f"no deletion order for kind(s) {unknown}")
    if SNAPSHOT_KIND not in delete_order:
        raise ValueError(f"the deletion order must include {SNAPSHOT_KIND!r}")
    by_account: dict[str, dict[str, set[str]]] = {}
    for kind, accounts in stored.items():
        for account, dates in accounts.items():
            for date in dates:
                _date(date, f"{kind}/account={account} date")
                by_account.setdefault(account, {}).setdefault(date, set()).add(kind)
    decisions, folders = [], []
    for account in sorted(by_account):
        partitions = by_account[account]
        limits = policy.limits(account)
        cutoff = (today - dt.timedelta(days=limits.retention_days)).isoformat()
        snapshots = sorted(d for d, kinds in partitions.items() if SNAPSHOT_KIND in kinds)
        horizon = min(cutoff, snapshots[-limits.max_snapshots]) if len(snapshots) >= limits.max_snapshots else None
        dates = sorted(partitions)
        deleted = tuple(d for d in dates if horizon is not None and d < horizon)
        decisions.append(AccountRetention(account, limits, cutoff, len(snapshots), horizon,
                                          tuple(d for d in dates if d not in deleted), deleted))
        for date in deleted:
            folders += [FolderDeletion(kind, account, date) for kind in delete_order if kind in partitions[date]]
    return RetentionPlan(today.isoformat(), policy, tuple(decisions), tuple(folders))


def expired_partitions(plan: RetentionPlan, known: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Partitions from elsewhere (Dagster's records) that lie before their account's horizon, sorted.

    This lets the Dagster side catch up with partitions whose files an earlier, interrupted retention
    run already deleted. Accounts the plan has no horizon for (fewer snapshots than the policy keeps,
    or nothing stored) are left alone.
    """
    horizons = {a.account: a.horizon for a in plan.accounts if a.horizon is not None}
    return sorted({(a, d) for a, d in known if a in horizons and d < horizons[a]})
