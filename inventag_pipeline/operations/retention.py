"""Retention: delete partitions the policy lets go, in every kind folder, and make Dagster forget them.

The plan comes from `core.retention`; this module lists the store, deletes folders in a crash-safe order,
writes an audit record under `operations/retention/`, and removes from the Dagster instance the runs that
only materialised deleted partitions. Dagster cannot wipe single partitions of a multi-partitioned asset
(`wipe_asset_partitions` raises NotImplementedError on SQLite and PostgreSQL storage in 1.13), and its
partition status is derived from run events, so deleting those runs is what makes the UI stop showing
files that are gone. Runs that also materialised kept partitions are kept and reported.
"""

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    Config,
    ConfigurableResource,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    Failure,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    job,
    op,
    partition_loading_context,
    schedule,
)

from inventag_pipeline.core.accounts import load_accounts
from inventag_pipeline.core.retention import (
    DEFAULT_MAX_SNAPSHOTS,
    DEFAULT_RETENTION_DAYS,
    RetentionConfigError,
    RetentionPlan,
    RetentionPolicy,
    expired_partitions,
    plan_retention,
)
from inventag_pipeline.insights.inputs import INSIGHTS_FOLDERS
from inventag_pipeline.integrity import ASSET_OF_KIND
from inventag_pipeline.resources import InventoryStoreResource
from inventag_pipeline.store.store import KINDS, InventoryStore, Partition

AUDIT_FOLDER = "operations/retention"
# Dependants before what they were computed from (the reverse of integrity.DEPENDENTS), raw last: an
# interrupted run leaves days that look unfinished, never a delta or report whose inputs are gone.
DELETE_ORDER = ("cleanup", "cost", "reports", "security", "tags", "changelogs", "deltas", "relationships",
                "snapshots", "raw")
# Every dated folder a day has: the store's kinds and the partitioned insights (a cost or cleanup plan
# kept for a day whose inventory is gone would describe resources nobody can look up any more).
DATED_FOLDERS = {**KINDS, **INSIGHTS_FOLDERS}
PARTITION_TAG = "dagster/partition"
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
_ASSET_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_FAILED_TO_MATERIALIZE,
                 DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_OBSERVATION}
_IN_PARTITION = re.compile(r"^account=([^/]+)/date=([^/]+)(?:/.*)?$")
_CHUNK = 500  # partition keys per query, well under SQLite's bound-parameter limit


class RetentionResource(ConfigurableResource):
    """Retention limits: fields, else INVENTAG_RETENTION_MAX_SNAPSHOTS / INVENTAG_RETENTION_DAYS, else 30 / 400.

    Per-account limits come from `retention:` entries in the accounts file (INVENTAG_ACCOUNTS_FILE) and
    from `overrides` (account id -> {max_snapshots, retention_days}), which win over the file.
    """

    max_snapshots: int | None = None
    retention_days: int | None = None
    overrides: dict[str, dict[str, int]] = {}
    accounts_file: str | None = None

    def policy(self) -> RetentionPolicy:
        max_snapshots = _setting(self.max_snapshots, "INVENTAG_RETENTION_MAX_SNAPSHOTS", DEFAULT_MAX_SNAPSHOTS)
        retention_days = _setting(self.retention_days, "INVENTAG_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
        path = self.accounts_file or os.environ.get("INVENTAG_ACCOUNTS_FILE") or None
        overrides: dict[str, dict[str, int]] = {a.id: dict(a.retention) for a in load_accounts(path) if a.retention}
        for account, entry in self.overrides.items():
            overrides[account] = {**overrides.get(account, {}), **entry}
        return RetentionPolicy.from_settings(max_snapshots, retention_days, overrides)


def _setting(configured: int | None, env: str, default: int) -> Any:
    if configured is not None:
        return configured
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise RetentionConfigError(f"{env}={value!r} is not a whole number") from None


# --- the store side ---------------------------------------------------------------------------------------


def scan_store(store: InventoryStore) -> tuple[dict[str, dict[str, list[str]]], dict[tuple[str, str, str], list[int]]]:
    """Dates per kind and account, and [files, bytes] per partition folder: one recursive listing per kind."""
    stored: dict[str, dict[str, set[str]]] = {}
    sizes: dict[tuple[str, str, str], list[int]] = {}
    for kind, folder in DATED_FOLDERS.items():
        prefix = store.path(folder) + "/"
        selector = pafs.FileSelector(store.path(folder), recursive=True, allow_not_found=True)
        for info in store.fs.get_file_info(selector):
            match = _IN_PARTITION.match(info.path[len(prefix):])
            if not match:
                continue
            account, date = match.groups()
            stored.setdefault(kind, {}).setdefault(account, set()).add(date)
            entry = sizes.setdefault((kind, account, date), [0, 0])
            if info.type == pafs.FileType.File:
                entry[0] += 1
                entry[1] += info.size or 0
    return {k: {a: sorted(d) for a, d in accounts.items()} for k, accounts in stored.items()}, sizes


@dataclass
class RetentionReport:
    """One retention run, as the audit record stores it and the job and the command report it."""

    plan: RetentionPlan
    dry_run: bool
    store: str
    started_at: str
    source: str
    run_id: str | None = None
    status: str = "planned"  # planned -> completed | failed
    folders: list[dict[str, Any]] = field(default_factory=list)
    dagster: dict[str, Any] | None = None
    audit_path: str = ""
    error: str | None = None

    def totals(self) -> dict[str, int]:
        done = [f for f in self.folders if f["deleted"]]
        return {
            "partitions_planned": len(self.plan.partitions),
            "partitions_deleted": len({(f["account"], f["date"]) for f in done}),
            "folders_planned": len(self.folders),
            "folders_deleted": len(done),
            "files_planned": sum(f["files"] for f in self.folders),
            "files_deleted": sum(f["files"] for f in done),
            "bytes_planned": sum(f["bytes"] for f in self.folders),
            "bytes_freed": sum(f["bytes"] for f in done),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "dry_run": self.dry_run, "store": self.store, "source": self.source,
                "run_id": self.run_id, "started_at": self.started_at, "error": self.error,
                **self.plan.to_dict(), "totals": self.totals(), "folders": self.folders, "dagster": self.dagster}

    def render_text(self) -> str:
        t = self.totals()
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"Retention {'(dry run) ' if self.dry_run else ''}of {self.store} on {self.plan.today}: "
                 f"{self.status}",
                 f"policy: keep the last {self.plan.policy.default.max_snapshots} snapshots and "
                 f"{self.plan.policy.default.retention_days} days per account"
                 + (f" ({len(self.plan.policy.overrides)} account override(s))" if self.plan.policy.overrides else "")]
        for a in self.plan.accounts:
            lines.append(f"  {a.account}  keep {a.limits.max_snapshots} snapshots / {a.limits.retention_days} days: "
                         f"{len(a.kept)} kept (oldest {a.oldest_kept or '-'}), {len(a.deleted)} to delete"
                         + (f" ({a.deleted[0]} .. {a.deleted[-1]})" if a.deleted else ""))
        count = t["partitions_planned"] if self.dry_run else t["partitions_deleted"]
        size = t["bytes_planned"] if self.dry_run else t["bytes_freed"]
        files = t["files_planned"] if self.dry_run else t["files_deleted"]
        lines.append(f"{verb} {count} partition(s): {files} file(s), {size} bytes")
        if self.dagster is not None:
            d = self.dagster
            lines.append(f"Dagster: {'would delete' if self.dry_run else 'deleted'} {len(d['runs_deleted'])} run(s) "
                         f"of {len(d['partitions'])} partition(s); {len(d['runs_kept'])} run(s) kept")
            lines += [f"  kept run {r['run_id'] or '(runless events)'}: {r['reason']}" for r in d["runs_kept"]]
        else:
            lines.append("Dagster: no instance (DAGSTER_HOME unset); run history not changed")
        if self.error:
            lines.append(f"error: {self.error}")
        lines.append(f"audit record: {self.audit_path}")
        return "\n".join(lines)


def run_retention(store: InventoryStore, policy: RetentionPolicy, today: dt.date, *, dry_run: bool,
                  instance: DagsterInstance | None = None, run_id: str | None = None,
                  source: str = "dagster", log: Any = None) -> RetentionReport:
    """Plan, record the plan, delete (unless dry run), forget in Dagster, record the outcome.

    The audit record is written before anything is deleted and rewritten at the end, so even a crash
    leaves a record of what was about to go.
    """
    started = dt.datetime.now(dt.timezone.utc)
    stored, sizes = scan_store(store)
    plan = plan_retention(stored, policy, today, DELETE_ORDER)
    report = RetentionReport(plan, dry_run, store.display("").rstrip("/"), started.isoformat(), source, run_id)
    audit = f"{AUDIT_FOLDER}/{started:%Y%m%dT%H%M%S%fZ}{'-dry-run' if dry_run else ''}.json"
    report.audit_path = store.display(audit)
    for f in plan.folders:
        folder = f"{DATED_FOLDERS[f.kind]}/account={f.account}/date={f.date}"
        files, size = sizes.get((f.kind, f.account, f.date), [0, 0])
        report.folders.append({"kind": f.kind, "account": f.account, "date": f.date, "path": folder,
                               "files": files, "bytes": size, "deleted": False})
    store.write_json(audit, report.to_dict())
    try:
        if not dry_run:
            for entry in report.folders:
                store.delete_folder(entry["path"])
                entry["deleted"] = True
        if instance is not None:
            report.dagster = forget_partitions(instance, plan, dry_run=dry_run, current_run_id=run_id)
        report.status = "completed"
    except Exception as exc:
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        store.write_json(audit, report.to_dict())
        if log is not None:
            log.info(report.render_text())
    return report


# --- the Dagster side -------------------------------------------------------------------------------------

RECORDED_ASSETS = tuple(AssetKey(name) for name in dict.fromkeys(ASSET_OF_KIND.values()))


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start:start + _CHUNK])


def _record_runs(instance: DagsterInstance, keys: Sequence[str]) -> set[str]:
    """Runs with a materialisation or a failure recorded for one of these partition keys, or tagged with one."""
    run_ids: set[str] = set()
    for chunk in _chunks(keys):
        for asset_key in RECORDED_ASSETS:
            for fetch in (instance.fetch_materializations, instance.fetch_failed_materializations):
                cursor = None
                while True:
                    result = fetch(AssetRecordsFilter(asset_key=asset_key, asset_partitions=chunk), limit=1000,
                                   cursor=cursor)
                    run_ids.update(r.run_id for r in result.records)
                    if not result.has_more:
                        break
                    cursor = result.cursor
        run_ids.update(r.run_id for r in instance.get_runs(RunsFilter(tags={PARTITION_TAG: chunk})))
    return run_ids


def _touched(instance: DagsterInstance, run_id: str) -> tuple[set[str], set[AssetKey], str | None]:
    """Partition keys a run's asset events name, their asset keys, and why the run's reach is unclear (or None)."""
    partitions: set[str] = set()
    asset_keys: set[AssetKey] = set()
    unclear = None
    for entry in instance.all_logs(run_id, of_type=_ASSET_EVENTS):
        event = entry.dagster_event
        if event is None or event.asset_key is None:
            continue
        asset_keys.add(event.asset_key)
        if event.partition is not None:
            partitions.add(event.partition)
        elif event.partitions_subset is not None:
            # One planned event for a whole batch (DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS).
            try:
                with partition_loading_context(dynamic_partitions_store=instance):
                    partitions.update(event.partitions_subset.get_partition_keys())
            except Exception as exc:  # a subset Dagster cannot expand here: keep the run, say why
                unclear = f"its planned partitions of {event.asset_key.to_user_string()} cannot be listed ({exc})"
        else:
            unclear = f"also materialised the unpartitioned asset {event.asset_key.to_user_string()}"
    return partitions, asset_keys, unclear


def recorded_partitions(instance: DagsterInstance) -> set[tuple[str, str]]:
    """(account, date) of every partition Dagster shows as materialised for the store's assets."""
    out = set()
    for asset_key in RECORDED_ASSETS:
        for key in instance.get_materialized_partitions(asset_key):
            if "|" in key:
                account, date = key.split("|", 1)
                out.add((account, date))
    return out


def forget_partitions(instance: DagsterInstance, plan: RetentionPlan, *, dry_run: bool,
                      current_run_id: str | None = None) -> dict[str, Any]:
    """Delete the runs that only touched partitions before their account's horizon; refresh the status cache.

    Besides the partitions this plan deletes, partitions Dagster still shows but an earlier
    (interrupted) retention run already removed from the store are included, so the instance catches up.
    """
    partitions = sorted(set(plan.partitions) | set(expired_partitions(plan, recorded_partitions(instance))))
    keys = [Partition(a, d).key for a, d in partitions]
    expired = set(keys)
    deleted: list[str] = []
    kept: list[dict[str, str]] = []
    refreshed: set[AssetKey] = set()
    for run_id in sorted(_record_runs(instance, keys)) if keys else []:
        run = instance.get_run_by_id(run_id) if run_id else None
        if run is None:
            kept.append({"run_id": run_id, "reason": "events reported without a run; Dagster can only forget "
                                                      "them by wiping the whole asset"})
            continue
        if run_id == current_run_id or run.status not in _FINISHED:
            kept.append({"run_id": run_id, "reason": f"run is {run.status.value}, not finished"})
            continue
        touched, asset_keys, unclear = _touched(instance, run_id)
        tagged = run.tags.get(PARTITION_TAG)
        if tagged:
            touched.add(tagged)
        others = sorted(touched - expired)
        if others or unclear:
            reason = f"also materialised kept partition(s) {', '.join(others[:5])}" if others else unclear
            kept.append({"run_id": run_id, "reason": str(reason)})
            continue
        if not dry_run:
            instance.delete_run(run_id)
        deleted.append(run_id)
        refreshed |= asset_keys
    if refreshed and not dry_run:
        # Dagster caches partition status incrementally; without this the UI keeps the forgotten partitions.
        instance.wipe_asset_cached_status(sorted(refreshed, key=lambda k: k.to_user_string()))
    return {"partitions": keys, "runs_deleted": deleted, "runs_kept": kept,
            "asset_keys_refreshed": sorted(k.to_user_string() for k in refreshed)}


# --- job and schedule --------------------------------------------------------------------------------------


class RetentionConfig(Config):
    dry_run: bool = False
    today: str | None = None  # YYYY-MM-DD the policy counts from; default: today (UTC)


def retention_metadata(report: RetentionReport) -> dict[str, Any]:
    rows = "\n".join(
        f"| {a.account} | {a.limits.max_snapshots} | {a.limits.retention_days} | {a.horizon or '-'} | {len(a.kept)} | "
        f"{a.oldest_kept or '-'} | {len(a.deleted)} |" for a in report.plan.accounts)
    dagster = report.dagster or {"runs_deleted": [], "runs_kept": []}
    return {
        **report.totals(),
        "dry_run": report.dry_run,
        "today": MetadataValue.text(report.plan.today),
        "runs_deleted": len(dagster["runs_deleted"]),
        "runs_kept": len(dagster["runs_kept"]),
        "audit_record": MetadataValue.path(report.audit_path),
        "plan": MetadataValue.md(
            "| account | max snapshots | days | horizon | kept | oldest kept | deleted |\n"
            "|---|---:|---:|---|---:|---|---:|\n" + rows),
    }


@op(
    out=Out(Nothing),
    description="Delete the partitions the retention policy lets go (every kind folder, audited) and the runs "
                "that only materialised them; with dry_run, only plan and record.",
)
def apply_retention(context: OpExecutionContext, config: RetentionConfig, store: InventoryStoreResource,
                    retention: RetentionResource):
    try:
        policy = retention.policy()
        today = dt.date.fromisoformat(config.today) if config.today else dt.datetime.now(dt.timezone.utc).date()
    except ValueError as exc:  # RetentionConfigError, AccountsConfigError and bad dates are ValueErrors
        raise Failure(description=f"retention not run: {exc}", allow_retries=False) from None
    report = run_retention(store.store(), policy, today, dry_run=config.dry_run, instance=context.instance,
                           run_id=context.run_id, log=context.log)
    yield Output(None, metadata=retention_metadata(report))


@job(
    name="retention",
    description="Apply the retention policy: delete old partitions in every store folder consistently, write an "
                "audit record under operations/retention/, and remove their runs so the UI stays true.",
)
def retention_job():
    apply_retention()


@schedule(job=retention_job, cron_schedule="30 3 * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="At 03:30 UTC, after the daily collection, apply the retention policy for real (not a dry "
                      "run). Stopped until an operator starts it: deletion should be a decision.")
def retention_schedule(context: ScheduleEvaluationContext):
    today = context.scheduled_execution_time.astimezone(dt.timezone.utc).date().isoformat()
    return RunRequest(run_key=f"retention|{today}",
                      run_config={"ops": {"apply_retention": {"config": {"dry_run": False, "today": today}}}})

