"""`StateManager`: the seed documents' state API over the store of DESIGN §4 and the pipeline's steps.

A state is one partition: one account's day, identified by its Dagster partition key `ACCOUNT|YYYY-MM-DD`
(the seed's timestamp ids map onto days: saving twice on one day replaces that day, as re-materialising
does). Saving runs the same steps, in the same order, as the daily job's assets: raw inventory, snapshot,
delta, changelog, tag compliance, security findings and compliance report. So a store written from a
script is one the Dagster UI, `inventag validate`, retention and the history queries read as their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, overload

import pyarrow as pa

from inventag_pipeline import steps
from inventag_pipeline.api.delta import DeltaDetector, DeltaReport, Side, raw_item
from inventag_pipeline.aws.collector import Collection, RawItem, ScopeResult, plan_scopes
from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.core.accounts import validate_account_id
from inventag_pipeline.core.canonical import format_timestamp, jsonable
from inventag_pipeline.core.changelog import changelog_provenance
from inventag_pipeline.core.delta import DeltaResult
from inventag_pipeline.core.registry import GLOBAL_REGION, RESOURCE_TYPES, get_type
from inventag_pipeline.core.report import GateThresholds
from inventag_pipeline.core.retention import DEFAULT_MAX_SNAPSHOTS, DEFAULT_RETENTION_DAYS, RetentionPolicy
from inventag_pipeline.core.tagpolicy import load_policy
from inventag_pipeline.core.trends import change_series
from inventag_pipeline.history import EXPORT_FORMATS, export_snapshot, snapshot_records, timeline
from inventag_pipeline.integrity import storage_statistics, validate_store
from inventag_pipeline.store.store import InventoryStore, MissingDataError, Partition

# What `save_state` was told beyond the resources (the seed's tags, discovery method and analyses), kept
# beside the raw inventory it describes, so retention and re-collection remove it with that partition.
STATE_METADATA = "state_metadata.json"


class StateNotFoundError(LookupError):
    """No complete state (snapshot with its manifest) for the id asked for."""


class StateResources(Sequence[dict[str, Any]]):
    """A stored snapshot's resources as JSON-ready records, decoded only when read.

    It is what `load_state(...).resources` and a comparison's `['resources']` hold: a sequence for scripts,
    and, for `DeltaDetector`, the verified snapshot table with its coverage and relationships.
    """

    def __init__(self, table: pa.Table, *, store: InventoryStore, partition: Partition, manifest: dict[str, Any],
                 raw_manifest: dict[str, Any] | None, relationships: pa.Table | None):
        self.table = table
        self.store = store
        self.partition = partition
        self.manifest = manifest
        self.raw_manifest = raw_manifest
        self.relationships = relationships

    def __len__(self) -> int:
        return self.table.num_rows

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"resource {index} of {len(self)}")
        return next(snapshot_records(self.table.slice(index % len(self), 1)))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return snapshot_records(self.table)

    def __repr__(self) -> str:
        return f"<StateResources {self.partition.key}: {len(self)} resources>"

    def as_side(self) -> Side:
        return Side(self.table, coverage=self.manifest.get("coverage", []), relationships=self.relationships,
                    state_id=self.partition.key, date=self.partition.date, account_id=self.partition.account,
                    stored=self)

    def provenance(self, old: StateResources | None) -> dict[str, Any]:
        return changelog_provenance(self.manifest, old.manifest if old else None, self.raw_manifest)

    def history(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The account's stored daily summaries of the chart window, with this comparison's as its last day."""
        earlier = steps.window_documents(self.store, self.partition, "deltas", "summary.json")
        return change_series({**earlier, self.partition.date: summary}, self.partition.date)


@dataclass
class StateSnapshot:
    """One stored state, as `load_state` returns it."""

    state_id: str
    account_id: str
    date: str
    timestamp: str  # collected_at
    regions: list[str]
    resources: StateResources
    checksum: str  # SHA-256 of snapshot.parquet, from its manifest
    discovery_method: str
    tags: dict[str, str] = field(default_factory=dict)
    compliance_data: Any = None
    network_analysis: Any = None
    security_analysis: Any = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def resource_count(self) -> int:
        return len(self.resources)

    def as_side(self) -> Side:
        return self.resources.as_side()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _timestamp(value: str | dt.datetime) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"collected_at {value!r} is not an ISO-8601 timestamp") from None
    return format_timestamp(value)


class StateManager:
    """Saves, loads, lists, compares, exports, checks and prunes inventory states in one store.

    `state_dir` is the store root (a folder or `s3://bucket/prefix`; default INVENTAG_STORAGE_URI, then the
    pipeline's default). `retention_days` and `max_snapshots` are the retention policy of
    `cleanup_old_states` (a day is deleted only when it is beyond both). `account_id` is the default account
    for `save_state` and for bare-date state ids. The tag policy and template folder default to
    INVENTAG_TAG_POLICY_FILE and INVENTAG_TEMPLATE_DIR, as in the pipeline.
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None,
                 retention_days: int = DEFAULT_RETENTION_DAYS, max_snapshots: int = DEFAULT_MAX_SNAPSHOTS, *,
                 account_id: str | None = None, detector: DeltaDetector | None = None,
                 tag_policy_file: str | None = None, template_dir: str | None = None,
                 gate: GateThresholds | None = None, auto_cleanup: bool = False):
        self.store = InventoryStore(str(state_dir) if state_dir else os.environ.get("INVENTAG_STORAGE_URI") or None)
        self.retention = RetentionPolicy.from_settings(max_snapshots, retention_days)
        self.account_id = validate_account_id(account_id) if account_id else None
        self.detector = detector or DeltaDetector()
        self.tag_policy = load_policy(tag_policy_file or os.environ.get("INVENTAG_TAG_POLICY_FILE") or None)
        self.template_dir = template_dir or os.environ.get("INVENTAG_TEMPLATE_DIR") or None
        self.gate = gate or GateThresholds()
        self.auto_cleanup = auto_cleanup

    # --- ids -------------------------------------------------------------------------------------------------

    def partition(self, state_id: str) -> Partition:
        """`ACCOUNT|YYYY-MM-DD`, or a bare date when the manager's account or the store makes it unambiguous."""
        account, _, date = str(state_id).rpartition("|")
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise ValueError(f"state id {state_id!r} is not ACCOUNT|YYYY-MM-DD (the partition key)") from None
        if account:
            return Partition(validate_account_id(account), date)
        if self.account_id:
            return Partition(self.account_id, date)
        having = [a for a in self.store.accounts("snapshots") if date in self.store.dates("snapshots", a)]
        if len(having) != 1:
            raise ValueError(f"state id {state_id!r} names no account and {len(having)} accounts have a state "
                             f"on {date}: use ACCOUNT|{date}")
        return Partition(having[0], date)

    def _account(self, account_id: str | None) -> str:
        """The account asked for, else the manager's, else the store's only account."""
        if account_id or self.account_id:
            return validate_account_id(account_id or self.account_id)
        accounts = self.store.accounts("snapshots")
        if len(accounts) != 1:
            raise ValueError(f"the store holds {len(accounts)} accounts: name one with account_id=")
        return accounts[0]

    # --- save ------------------------------------------------------------------------------------------------

    def save_state(self, resources: Iterable[Mapping[str, Any] | RawItem], account_id: str | None = None,
                   regions: Sequence[str] | None = None, discovery_method: str = "api",
                   compliance_data: Any = None, network_analysis: Any = None, security_analysis: Any = None,
                   tags: Mapping[str, str] | None = None, *, date: str | dt.date | None = None,
                   collected_at: str | dt.datetime | None = None, services: Sequence[str] | None = None,
                   account_name: str | None = None) -> str:
        """Store one day's inventory and run the day's pipeline steps on it; returns the state id.

        `resources` are raw items as the collector yields them: `{"resource_type": "AWS::EC2::Instance",
        "region": "us-east-1", "payload": {...API response...}}`. The list is taken as the complete inventory
        of `regions` (default: the regions of the regional items) for `services` (default: every registered
        service): a resource missing from it is reported removed. `date` defaults to `collected_at`'s day
        (default: now); a past `date` without `collected_at` is taken as collected at the end of that day.
        """
        if not (account_id or self.account_id):
            raise ValueError("save_state needs the account_id (here or in StateManager(account_id=...))")
        account = validate_account_id(account_id or self.account_id)
        if collected_at is None:
            today = _utc_now().date().isoformat()
            day = str(date) if date is not None else today
            collected = format_timestamp(_utc_now()) if day >= today else f"{day}T23:59:59Z"
        else:
            collected = _timestamp(collected_at)
        day = str(date) if date is not None else collected[:10]
        part = self.partition(f"{account}|{day}")
        items = [raw_item(r) for r in resources]
        collection = self._collection(account, items, regions, services, collected)
        steps.write_raw(self.store, part, collection, AuditLog(), account_name=account_name or account,
                        window_note=f"saved through the Python API (discovery method: {discovery_method})")
        self.store.write_json(f"{part.folder('raw')}/{STATE_METADATA}", jsonable({
            "discovery_method": discovery_method, "tags": dict(tags or {}), "compliance_data": compliance_data,
            "network_analysis": network_analysis, "security_analysis": security_analysis}))
        steps.build_snapshot(self.store, part)
        steps.compute_delta(self.store, part, self.detector.engine(self.tag_policy.required_keys))
        steps.write_changelog(self.store, part, account_name=account_name, template_dir=self.template_dir)
        steps.write_tag_compliance(self.store, part, self.tag_policy)
        steps.write_security_findings(self.store, part)
        steps.write_compliance_report(self.store, part, self.gate, template_dir=self.template_dir)
        if self.auto_cleanup:
            self.cleanup_old_states()
        return part.key

    @staticmethod
    def _collection(account: str, items: list[RawItem], regions: Sequence[str] | None,
                    services: Sequence[str] | None, collected_at: str) -> Collection:
        """The items as a collection that covered every (service, region) of `services` in `regions` completely."""
        item_types = {i.resource_type: get_type(i.resource_type) for i in items}
        regional = sorted({i.region for i in items if not item_types[i.resource_type].is_global})
        scope_regions = list(dict.fromkeys([*(regions or ()), *regional]))
        types = [t for t in RESOURCE_TYPES if services is None or t.service in services]
        outside = sorted({t.service for t in item_types.values()} - {t.service for t in types})
        if outside:
            raise ValueError(f"resources of service(s) {outside} given, but services= leaves them out")
        scopes = {(service, region): ScopeResult(service, region, "ok")
                  for service, region, _ in plan_scopes(scope_regions, types)}
        for item in items:
            rtype = item_types[item.resource_type]
            scopes[(rtype.service, GLOBAL_REGION if rtype.is_global else item.region)].items.append(item)
        for scope in scopes.values():
            scope.type_counts = dict(Counter(i.resource_type for i in scope.items))
        return Collection(account_id=account, regions=scope_regions, started_at=collected_at,
                          collected_at=collected_at, scopes=list(scopes.values()), identity_arn=None)

    # --- list and load ---------------------------------------------------------------------------------------

    def _manifest(self, part: Partition) -> dict[str, Any] | None:
        try:
            return self.store.read_json(f"{part.folder('snapshots')}/manifest.json")
        except MissingDataError:
            return None

    def _metadata(self, part: Partition) -> dict[str, Any]:
        try:
            return self.store.read_json(f"{part.folder('raw')}/{STATE_METADATA}")
        except MissingDataError:
            return {}

    def _info(self, part: Partition, manifest: Mapping[str, Any]) -> dict[str, Any]:
        meta = self._metadata(part)
        return {"state_id": part.key, "account_id": part.account, "date": part.date,
                "timestamp": manifest.get("collected_at"), "resource_count": manifest.get("row_count"),
                "regions": list(manifest.get("regions") or []), "checksum": manifest.get("sha256"),
                "discovery_method": meta.get("discovery_method") or manifest.get("source", "api"),
                "tags": meta.get("tags") or {}}

    def list_states(self, limit: int | None = None, account_id: str | None = None) -> list[dict[str, Any]]:
        """Complete states, newest day first (accounts in order within a day): `state_id`, `account_id`,
        `date`, `timestamp`, `resource_count`, `regions`, `checksum`, `discovery_method`, `tags`.

        Give `account_id` (or the manager's) when comparing the two newest states of a multi-account store.
        """
        account = account_id or self.account_id
        accounts = [validate_account_id(account)] if account else self.store.accounts("snapshots")
        candidates = sorted(((d, a) for a in accounts for d in self.store.dates("snapshots", a)),
                            key=lambda c: c[1])
        candidates.sort(key=lambda c: c[0], reverse=True)
        out = []
        for date, acct in candidates:
            if limit is not None and len(out) >= limit:
                break
            part = Partition(acct, date)
            manifest = self._manifest(part)
            if manifest is not None:  # a day whose snapshot is being written, or failed, is not a state
                out.append(self._info(part, manifest))
        return out

    def load_state(self, state_id: str | None = None) -> StateSnapshot:
        """One state, checksum-verified; without an id, the newest (of the manager's account, if set)."""
        if state_id is None:
            newest = self.list_states(limit=1)
            if not newest:
                raise StateNotFoundError(f"no states stored in {self.store.display('')}")
            state_id = newest[0]["state_id"]
        part = self.partition(state_id)
        try:
            table, manifest = steps.load_snapshot(self.store, part)
        except steps.StepError:
            raise StateNotFoundError(f"no state {part.key} in {self.store.display('')}: list_states() shows what "
                                     "is stored") from None
        return self._snapshot(part, table, manifest)

    def load_state_as_of(self, date: str | dt.date, account_id: str | None = None) -> StateSnapshot:
        """The account's newest state on or before `date` (a day without a snapshot had its previous state)."""
        part = self.partition(f"{self._account(account_id)}|{date}")
        if self._manifest(part) is None:
            earlier = steps.previous_snapshot(self.store, part)
            if earlier is None:
                raise StateNotFoundError(f"no state of account {part.account} on or before {part.date} in "
                                         f"{self.store.display('')}")
            part = earlier
        return self.load_state(part.key)

    def _snapshot(self, part: Partition, table: pa.Table, manifest: dict[str, Any]) -> StateSnapshot:
        try:
            raw_manifest = self.store.read_json(f"{part.folder('raw')}/manifest.json")
        except MissingDataError:
            raw_manifest = None
        info, meta = self._info(part, manifest), self._metadata(part)
        resources = StateResources(table, store=self.store, partition=part, manifest=manifest,
                                   raw_manifest=raw_manifest, relationships=steps.load_relationships(self.store, part))
        return StateSnapshot(state_id=part.key, account_id=part.account, date=part.date, timestamp=info["timestamp"],
                             regions=info["regions"], resources=resources, checksum=info["checksum"],
                             discovery_method=info["discovery_method"], tags=info["tags"],
                             compliance_data=meta.get("compliance_data"),
                             network_analysis=meta.get("network_analysis"),
                             security_analysis=meta.get("security_analysis"), manifest=manifest)

    # --- compare ---------------------------------------------------------------------------------------------

    def get_state_comparison_data(self, state_id1: str, state_id2: str) -> dict[str, Any]:
        """Both states for `DeltaDetector.detect_changes`: `state1`/`state2` with `resources` and metadata."""
        first, second = self.load_state(state_id1), self.load_state(state_id2)
        if first.account_id != second.account_id:
            raise ValueError(f"{first.state_id} and {second.state_id} are states of different accounts: a delta "
                             "compares one account's days")

        def side(state: StateSnapshot) -> dict[str, Any]:
            return {"state_id": state.state_id, "account_id": state.account_id, "date": state.date,
                    "timestamp": state.timestamp, "regions": state.regions, "resources": state.resources,
                    "resource_count": state.resource_count, "checksum": state.checksum, "tags": state.tags,
                    "discovery_method": state.discovery_method, "coverage": state.manifest.get("coverage", [])}

        return {"state1": side(first), "state2": side(second),
                "comparison_metadata": {"account_id": first.account_id, "state1_id": first.state_id,
                                        "state2_id": second.state_id, "days_apart": (
                                            dt.date.fromisoformat(second.date)
                                            - dt.date.fromisoformat(first.date)).days}}

    def load_delta_report(self, state_id: str | None = None) -> DeltaReport:
        """The delta the pipeline stored for a state (against the account's previous one), without recomputing."""
        part = self.load_state(state_id).resources.partition
        resources, attributes, summary = steps.load_delta(self.store, part)
        previous = summary.get("previous_date")
        current = self.load_state(part.key).resources
        try:
            old = self.load_state(Partition(part.account, previous).key).resources if previous else None
        except StateNotFoundError:  # deleted by retention since: the delta stays readable
            old = None
        return DeltaReport(DeltaResult(resources, attributes, summary),
                           Partition(part.account, previous).key if previous else None, part.key,
                           provenance=current.provenance(old), history=current.history(summary))

    # --- export, statistics, integrity, retention ---------------------------------------------------------------

    def export_state(self, state_id: str, export_format: str = "json",
                     output_file: str | os.PathLike[str] | None = None, include_metadata: bool = True) -> str:
        """Write a verified state as json, yaml, csv or parquet; returns the file's path.

        With `include_metadata`, the state's manifest and listing entry go beside it as `<name>.metadata.json`.
        """
        if export_format not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {export_format!r}: choose one of {', '.join(EXPORT_FORMATS)}")
        part = self.partition(state_id)
        manifest = self._manifest(part)
        if manifest is None:
            raise StateNotFoundError(f"no state {part.key} in {self.store.display('')}")
        path = Path(output_file or f"state_{part.account}_{part.date}.{export_format}")
        path.parent.mkdir(parents=True, exist_ok=True)
        export_snapshot(self.store, part.account, part.date, export_format, path)
        if include_metadata:
            meta = {"state": self._info(part, manifest), "manifest": manifest}
            path.with_name(f"{path.stem}.metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return str(path)

    def get_storage_stats(self) -> dict[str, Any]:
        """integrity.storage_statistics plus the seed's `total_states` and `total_size_mb`."""
        stats = storage_statistics(self.store)
        return {**stats, "total_states": stats["snapshots"], "total_size_mb": round(stats["total_bytes"] / 2**20, 3)}

    def validate_state_integrity(self, account_id: str | None = None) -> dict[str, Any]:
        """integrity.validate_store over the store (or one account), by state.

        `invalid_states`: every partition with an error-severity problem (a corrupted or unverifiable
        snapshot, a missing or unreadable file of that day); `valid_states`: the other stored snapshots.
        `problems` lists each finding with what to re-materialise; `text` is `inventag validate`'s report.
        """
        account = account_id or self.account_id
        report = validate_store(self.store, [validate_account_id(account)] if account else None)
        broken = {(p.account, p.date) for p in report.problems if p.severity == "error" and p.date}
        accounts = [account] if account else self.store.accounts("snapshots")
        stored = {(a, d) for a in accounts for d in self.store.dates("snapshots", a)}
        return {"valid_states": sorted(Partition(*p).key for p in stored - broken),
                "invalid_states": sorted(Partition(*p).key for p in broken),
                "ok": report.ok, "counts": report.counts(), "checked": dict(report.checked),
                "problems": [asdict(p) for p in report.problems], "text": report.render_text()}

    def cleanup_old_states(self, *, dry_run: bool = False, today: dt.date | None = None,
                           instance: Any = None) -> dict[str, Any]:
        """Apply the retention policy with the retention job's own code (audited under operations/retention/).

        `instance` (a DagsterInstance) also makes Dagster forget the deleted partitions' runs. Returns the
        audit record, plus `state_ids`: the states deleted (or, in a dry run, that would be).
        """
        from inventag_pipeline.operations.retention import run_retention  # imports Dagster: only when pruning

        report = run_retention(self.store, self.retention, today or _utc_now().date(), dry_run=dry_run,
                               instance=instance, source="api")
        return {**report.to_dict(), "state_ids": [Partition(a, d).key for a, d in report.plan.partitions]}

    def get_resource_timeline(self, arn: str, account_id: str | None = None) -> list[dict[str, Any]]:
        """Every recorded change to one resource, oldest first (history.timeline)."""
        return timeline(self.store, arn, account_id or self.account_id)
