"""AWS Config as a collection source: the fast path for today, configuration history for past days.

Fast path. Per region the recorders' status and recording group say which registry types Config
records continuously; those with a mapping (core.config_mapping) are read with one advanced query
per region (`select_resource_config`, or one `select_aggregate_resource_config` over every region
when an aggregator is configured) instead of a list call plus a detail call per resource each.
Everything else (not recorded, recorded only daily, not mapped, or whose Config read failed) goes
through the direct-API collector as before, type by type. Coverage entries say which source each
(service, region) scope used: `api`, `config`, or `mixed` with the types Config served listed.

Past days. A day outside the collection window is rebuilt from configuration history: every resource
Config discovered there (deleted ones included), its latest configuration item at the end of that
day, minus those deleted by then. A scope whose types Config did not record throughout that day is
left `skipped` (or `failed` when only some of its types could be rebuilt): never today's state under
a past date.

Every call goes through the account's guarded sessions, so the guard classifies and audits them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import jmespath

from inventag_pipeline.aws import errors as collection_errors
from inventag_pipeline.aws.collector import Collection, RawItem, ScopeResult, default_types, plan_scopes
from inventag_pipeline.aws.guard import ReadOnlyViolation
from inventag_pipeline.aws.session import AccountSessions
from inventag_pipeline.core.canonical import format_timestamp, get_path, jsonable, redact_secrets
from inventag_pipeline.core.config_mapping import (
    CONTINUOUS,
    DELETED_STATUSES,
    GLOBAL_CONFIG_TYPES,
    MAPPINGS,
    NOT_RECORDED_STATUS,
    SOURCE_CONFIG,
    SOURCE_HISTORY,
    SOURCE_MIXED,
    ConfigItem,
    history_state,
    merge_listed,
    parse_item,
    recorded_types,
    recording_throughout,
    select_expression,
    to_api_payload,
)
from inventag_pipeline.core.registry import GLOBAL_REGION, ResourceType

Plan = list[tuple[str, str, tuple[ResourceType, ...]]]
# Advanced query and discovery pages: the most the APIs return per call.
PAGE_SIZE = 100
# The tagging API takes at most 100 ARNs per call.
TAGGING_BATCH = 100
NOT_DISCOVERED = "ResourceNotDiscoveredException"


class HistoryUnavailable(RuntimeError):
    """AWS Config cannot rebuild the day; the message says why, region by region."""


class _Fallback(RuntimeError):
    """This type cannot be served from Config after all; the direct API collects it."""


# --- plumbing: call counts --------------------------------------------------------


class _Calls:
    """API calls made by the Config path, by the key they are attributed to (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[Any] = Counter()

    def add(self, key: Any, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n


def _reason(exc: BaseException) -> str:
    return f"{collection_errors.error_code(exc)}: {exc}"[:500]


# --- recorders --------------------------------------------------------------------------------------


@dataclass
class RegionRecording:
    """What a region's recorders record (Config type -> CONTINUOUS | DAILY), or why it is unknown."""

    region: str
    recorded: dict[str, str] = field(default_factory=dict)
    recorders: int = 0
    statuses: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def records(self, config_type: str) -> bool:
        return self.recorded.get(config_type) == CONTINUOUS


def detect_recording(sessions: AccountSessions, region: str, candidates: Iterable[str], calls: _Calls
                     ) -> RegionRecording:
    """The region's recorders and their status: two calls, never raising for an AWS error."""
    found = RegionRecording(region)
    client = sessions.shared_client("config", region)
    try:
        calls.add(region)
        recorders = client.describe_configuration_recorders().get("ConfigurationRecorders", [])
        calls.add(region)
        statuses = client.describe_configuration_recorder_status().get("ConfigurationRecordersStatus", [])
    except ReadOnlyViolation:
        raise
    except Exception as exc:
        found.error = _reason(exc)
        return found
    found.recorders = len(recorders)
    found.statuses = [dict(s) for s in statuses]
    found.recorded = recorded_types(recorders, statuses, candidates)
    return found


def _why_not(recording: RegionRecording | None, config_type: str) -> str:
    if recording is None:
        return "region not collected"
    if recording.error:
        return f"recorders unreadable ({recording.error})"
    if not recording.recorders:
        return "no configuration recorder"
    if not any(s.get("recording") is True for s in recording.statuses):
        return "recorder not recording"
    if recording.recorded.get(config_type):
        return f"recorded {recording.recorded[config_type].lower()} only"
    return "not in the recording group"


@dataclass(frozen=True, eq=False)
class Route:
    """One planned type Config can serve: its scope and the regions whose recorders hold its items.

    Compared by identity: each route is made once per collection and keys the results that follow.
    """

    rtype: ResourceType
    service: str
    scope_region: str
    regions: tuple[str, ...]


def route_types(plan: Plan, recordings: Mapping[str, RegionRecording], regions: Sequence[str]
                ) -> tuple[list[Route], dict[str, str]]:
    """Which planned types Config serves, and for every mapped type it cannot, why (key `type@region`).

    Regional types come from their own region. IAM's global types come from the first region whose
    recorder includes them. Types listed once per account but recorded per region (S3 buckets) come
    from every region recording them; the type's listing then proves none is missing.
    """
    routes: list[Route] = []
    reasons: dict[str, str] = {}
    for service, region, types in plan:
        for rtype in types:
            config_type = rtype.config_type
            if rtype.cfn_type not in MAPPINGS or not config_type:
                continue
            if region != GLOBAL_REGION:
                recording = recordings.get(region)
                if recording is not None and recording.records(config_type):
                    routes.append(Route(rtype, service, region, (region,)))
                else:
                    reasons[f"{rtype.cfn_type}@{region}"] = _why_not(recording, config_type)
                continue
            holding = tuple(r for r in regions if recordings[r].records(config_type))
            if not holding:
                reasons[f"{rtype.cfn_type}@{region}"] = "; ".join(
                    f"{r}: {_why_not(recordings[r], config_type)}" for r in regions) or "no regions"
            elif config_type in GLOBAL_CONFIG_TYPES:
                routes.append(Route(rtype, service, region, holding[:1]))
            else:
                routes.append(Route(rtype, service, region, holding))
    return routes, reasons


# --- reading Config ------------------------------------------------------------------------------------


def select_items(client: Any, expression: str, count: Callable[[], None], aggregator: str | None = None
                 ) -> list[ConfigItem]:
    """Every page of one advanced query (NextToken), as configuration items."""
    items: list[ConfigItem] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"Expression": expression, "Limit": PAGE_SIZE}
        if token:
            params["NextToken"] = token
        count()
        if aggregator:
            page = client.select_aggregate_resource_config(ConfigurationAggregatorName=aggregator, **params)
        else:
            page = client.select_resource_config(**params)
        items.extend(parse_item(result) for result in page.get("Results") or ())
        token = page.get("NextToken")
        if not token:
            return items


def merge_tags(sessions: AccountSessions, items: list[ConfigItem], count: Callable[[str], None]) -> list[ConfigItem]:
    """Fill the tags of items Config recorded without any from the Resource Groups Tagging API."""
    lacking: dict[str, list[str]] = {}
    for item in items:
        if item.tags is None and item.arn:
            region = GLOBAL_REGION if item.config_type in GLOBAL_CONFIG_TYPES else item.region
            lacking.setdefault(region, []).append(item.arn)
    found: dict[str, dict[str, str]] = {}
    for region, arns in sorted(lacking.items()):
        client = sessions.shared_client("resourcegroupstaggingapi", region)
        for start in range(0, len(arns), TAGGING_BATCH):
            token = ""
            while True:
                params: dict[str, Any] = {"ResourceARNList": arns[start:start + TAGGING_BATCH]}
                if token:
                    params["PaginationToken"] = token
                count(region)
                page = client.get_resources(**params)
                for mapping in page.get("ResourceTagMappingList") or ():
                    found[mapping["ResourceARN"]] = {t["Key"]: t.get("Value", "") for t in mapping.get("Tags") or ()}
                token = page.get("PaginationToken") or ""
                if not token:
                    break
    if not lacking:
        return items
    # An ARN the tagging API does not return has never been tagged.
    return [dataclasses.replace(i, tags=found.get(i.arn, {})) if i.tags is None and i.arn else i for i in items]


def _resource_id(rtype: ResourceType, payload: Mapping[str, Any]) -> str | None:
    found = get_path(payload, rtype.id_field)
    return str(found[0]) if found else None


def list_type(client: Any, rtype: ResourceType, count: Callable[[], None]) -> dict[str, dict[str, Any]]:
    """The type's own list call (every page), by resource id: who exists, with the list's fields."""
    out: dict[str, dict[str, Any]] = {}
    operation = rtype.list_operation
    pages = (client.get_paginator(operation).paginate(**dict(rtype.list_params)) if client.can_paginate(operation)
             else [getattr(client, operation)(**dict(rtype.list_params))])
    for page in pages:
        count()
        for item in jmespath.search(rtype.result_path, page) or ():
            listed = dict(item) if isinstance(item, Mapping) else {rtype.id_field: item}
            out[str(get_path(listed, rtype.id_field)[0])] = jsonable(listed)
    return out


def _render(template: Any, payload: Mapping[str, Any], resource_id: str) -> Any:
    if isinstance(template, list):
        return [_render(t, payload, resource_id) for t in template]
    if isinstance(template, Mapping):
        return {k: _render(v, payload, resource_id) for k, v in template.items()}
    if template == "{id}":
        return resource_id
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        found = get_path(payload, template[1:-1])
        return found[0] if found else None
    return template


def read_detail(client: Any, rtype: ResourceType, store_as: str, payload: Mapping[str, Any],
                count: Callable[[], None]) -> Any:
    """One registry detail call for one resource, exactly as the collector makes it."""
    detail = next(d for d in rtype.details if d.store_as == store_as)
    resource_id = _resource_id(rtype, payload) or ""
    params = {k: _render(v, payload, resource_id) for k, v in detail.params.items()}
    count()
    try:
        response = getattr(client, detail.operation)(**params)
    except botocore.exceptions.ClientError as exc:
        if collection_errors.error_code(exc) in detail.absent_codes:
            return None
        raise
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    return jsonable(jmespath.search(detail.result_path, response) if detail.result_path else response)


def _item_region(rtype: ResourceType, scope_region: str, payload: Mapping[str, Any]) -> str:
    if rtype.region_field and payload.get(rtype.region_field):
        return str(payload[rtype.region_field])
    return scope_region


# --- the fast path --------------------------------------------------------------------------------------


@dataclass
class FastPath:
    """The collector's plan split in two: what the direct API still collects, and what Config served."""

    api_plan: Plan
    config_scopes: list[ScopeResult] = field(default_factory=list)
    # Calls of no single scope (recorders, queries, tags) by region; merged into one scope of the region.
    overhead: dict[str, int] = field(default_factory=dict)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, api_results: Sequence[ScopeResult]) -> list[ScopeResult]:
        """One result per (service, region): the API's and Config's items of a scope together."""
        by_key = {(r.service, r.region): r for r in api_results}
        for served in self.config_scopes:
            key = (served.service, served.region)
            mine = by_key.get(key)
            if mine is None:
                by_key[key] = served
                continue
            mine.items.extend(served.items)
            mine.type_counts.update(served.type_counts)
            mine.api_calls += served.api_calls
            mine.duration_s += served.duration_s
            mine.config_types = sorted(served.config_types)
            mine.source = SOURCE_MIXED
        results = [by_key[k] for k in sorted(by_key)]
        for region, calls in sorted(self.overhead.items()):
            home = next((r for r in results if (r.service, r.region) == ("config", region)), None) or next(
                (r for r in results if r.region == region), None)
            if home is not None:
                home.api_calls += calls
        return results


def _query_regions(routes: Sequence[Route]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for route in routes:
        for region in route.regions:
            wanted.setdefault(region, set()).add(str(route.rtype.config_type))
    return wanted


def _aggregator(value: str | None, regions: Sequence[str]) -> tuple[str, str] | None:
    """`NAME` or `NAME@REGION` (default: the first collected region)."""
    if not value:
        return None
    name, _, region = value.partition("@")
    return name, region or regions[0]


def aggregator_sessions(sessions: AccountSessions) -> AccountSessions:
    """Sessions for the organization's aggregator account: the base credentials, without the member's role.

    Shares the account's audit log and guard, so aggregator queries are refused or audited like any call.
    """
    base = AccountSessions(dataclasses.replace(sessions.account, role_arn=None, external_id=None),
                           sessions.settings, sessions.audit)
    base.resolve_credentials()
    return base


def _query_config(sessions: AccountSessions, pool: ThreadPoolExecutor, routes: Sequence[Route],
                  regions: Sequence[str], calls: _Calls) -> tuple[dict[tuple[str, str], list[ConfigItem]],
                                                               dict[str, str]]:
    """Items by (Config type, region) for every routed type, and the regions whose query failed."""
    wanted = _query_regions(routes)
    items: dict[tuple[str, str], list[ConfigItem]] = {}
    failed: dict[str, str] = {}
    aggregator = _aggregator(sessions.settings.config_aggregator, regions)

    homes = {str(r.rtype.config_type): r.regions[0] for r in routes if r.rtype.config_type in GLOBAL_CONFIG_TYPES}

    def keep(found: Iterable[ConfigItem], queried: str | None = None) -> None:
        for item in found:
            # IAM's items say awsRegion "global": they belong to the region whose recorder holds them.
            region = queried or (homes.get(item.config_type) if item.region == GLOBAL_REGION else item.region)
            if region in wanted and item.config_type in wanted[region]:
                items.setdefault((item.config_type, region), []).append(item)

    if aggregator is not None:
        name, home = aggregator
        expression = select_expression(set().union(*wanted.values()), account_id=sessions.account.id,
                                       regions=sorted(wanted))
        try:
            base = aggregator_sessions(sessions)
            found = select_items(base.shared_client("config", home), expression, lambda: calls.add(home), name)
            keep(merge_tags(sessions, found, calls.add))
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            failed = dict.fromkeys(wanted, f"aggregator {name}: {_reason(exc)}")
        return items, failed

    def query(region: str) -> list[ConfigItem]:
        expression = select_expression(wanted[region])
        found = select_items(sessions.shared_client("config", region), expression, lambda: calls.add(region))
        return merge_tags(sessions, found, calls.add)

    futures = {region: pool.submit(query, region) for region in sorted(wanted)}
    for region, future in futures.items():
        try:
            keep(future.result(), region)
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            failed[region] = _reason(exc)
    return items, failed


def _serve(sessions: AccountSessions, route: Route, items: list[ConfigItem], calls: _Calls
           ) -> tuple[list[RawItem], float]:
    """Payloads of one routed type: mapped, reconciled with its listing, completed, redacted (and seconds)."""
    started = time.perf_counter()
    rtype = route.rtype
    mapping = MAPPINGS[rtype.cfn_type]
    scope = (route.service, route.scope_region)
    if any(i.status == NOT_RECORDED_STATUS for i in items):
        raise _Fallback("AWS Config holds a resource without its configuration (ResourceNotRecorded)")
    payloads = [to_api_payload(rtype, i, mapping) for i in items if i.status not in DELETED_STATUSES]
    if mapping.listing:
        listed = list_type(sessions.shared_client(rtype.service, route.scope_region), rtype, lambda: calls.add(scope))
        mapped = {_resource_id(rtype, p): p for p in payloads}
        missing = sorted(set(listed) - set(mapped))
        if missing:
            raise _Fallback(f"{len(missing)} listed resource(s) not in AWS Config (recorded elsewhere or not yet): "
                            + ", ".join(missing[:5]))
        payloads = [merge_listed(listed[i], mapped[i]) for i in listed]
    out = []
    for payload in payloads:
        for store_as, needed in mapping.complements.items():
            if needed(payload):
                region = _item_region(rtype, route.scope_region, payload)
                payload[store_as] = read_detail(sessions.shared_client(rtype.service, region), rtype, store_as, payload,
                                                lambda: calls.add(scope))
            else:
                payload[store_as] = None
        clean = redact_secrets(jsonable(payload), rtype.secret_paths)
        out.append(RawItem(rtype.cfn_type, _item_region(rtype, route.scope_region, clean), clean,
                           source=SOURCE_CONFIG))
    return out, time.perf_counter() - started


def fast_path(sessions: AccountSessions, regions: Sequence[str], plan: Plan) -> FastPath:
    """Decide per region which planned types Config serves, and read them; the rest stays planned."""
    candidates = {str(t.config_type) for _, _, types in plan for t in types
                  if t.cfn_type in MAPPINGS and t.config_type}
    if sessions.settings.use_config == "off" or not candidates or not regions:
        return FastPath(api_plan=list(plan))
    calls = _Calls()
    timings: dict[tuple[str, str], float] = {}
    with ThreadPoolExecutor(max_workers=sessions.settings.max_workers, thread_name_prefix="config") as pool:
        recordings = dict(zip(regions, pool.map(lambda r: detect_recording(sessions, r, candidates, calls), regions),
                              strict=True))
        routes, reasons = route_types(plan, recordings, regions)
        served: dict[Route, list[RawItem]] = {}
        if routes:
            started = time.perf_counter()
            items, failed_regions = _query_config(sessions, pool, routes, regions, calls)
            query_s = time.perf_counter() - started
            jobs: dict[Route, Future[tuple[list[RawItem], float]]] = {}
            for route in routes:
                broken = [r for r in route.regions if r in failed_regions]
                if broken:
                    reasons[f"{route.rtype.cfn_type}@{route.scope_region}"] = "query failed: " + "; ".join(
                        f"{r}: {failed_regions[r]}" for r in broken)
                    continue
                found = [i for r in route.regions for i in items.get((str(route.rtype.config_type), r), [])]
                jobs[route] = pool.submit(_serve, sessions, route, found, calls)
            for route, job in jobs.items():
                try:
                    served[route], seconds = job.result()
                    key = (route.service, route.scope_region)
                    timings[key] = timings.get(key, 0.0) + seconds
                except ReadOnlyViolation:
                    raise
                except Exception as exc:
                    reason = str(exc) if isinstance(exc, _Fallback) else _reason(exc)
                    reasons[f"{route.rtype.cfn_type}@{route.scope_region}"] = reason
            for route in served:
                timings[(route.service, route.scope_region)] = (
                    timings.get((route.service, route.scope_region), 0.0) + query_s / max(1, len(served)))
    return _assemble(plan, regions, recordings, served, reasons, calls, timings)


def _assemble(plan: Plan, regions: Sequence[str], recordings: Mapping[str, RegionRecording],
              served: Mapping[Route, list[RawItem]], reasons: Mapping[str, str], calls: _Calls,
              timings: Mapping[tuple[str, str], float]) -> FastPath:
    served_types = {(r.service, r.scope_region, r.rtype.cfn_type) for r in served}
    api_plan: Plan = []
    for service, region, types in plan:
        left = tuple(t for t in types if (service, region, t.cfn_type) not in served_types)
        if left:
            api_plan.append((service, region, left))
    scopes: dict[tuple[str, str], ScopeResult] = {}
    for route, raw in served.items():
        key = (route.service, route.scope_region)
        scope = scopes.setdefault(key, ScopeResult(service=key[0], region=key[1], status="ok", source=SOURCE_CONFIG))
        scope.items.extend(raw)
        scope.type_counts[route.rtype.cfn_type] = len(raw)
        scope.config_types.append(route.rtype.cfn_type)
    for key, scope in scopes.items():
        scope.api_calls = calls.counts.get(key, 0)
        scope.duration_s = timings.get(key, 0.0)
        scope.config_types.sort()
    summary = []
    for region in [*regions, GLOBAL_REGION]:
        recording = recordings.get(region)
        entry: dict[str, Any] = {"region": region}
        if recording is not None:
            entry.update(recorder="unreadable" if recording.error else "recording" if any(
                s.get("recording") is True for s in recording.statuses) else "none" if not recording.recorders
                else "stopped", error=recording.error, api_calls=calls.counts.get(region, 0))
        entry["config_types"] = sorted(r.rtype.cfn_type for r in served if r.scope_region == region)
        entry["api_fallback"] = {k.split("@")[0]: v for k, v in sorted(reasons.items()) if k.endswith(f"@{region}")}
        if recording is not None or entry["config_types"] or entry["api_fallback"]:
            summary.append(entry)
    overhead = {k: n for k, n in calls.counts.items() if isinstance(k, str) and n}
    return FastPath(api_plan=api_plan, config_scopes=[scopes[k] for k in sorted(scopes)], overhead=overhead,
                    summary=summary)


# --- past days -------------------------------------------------------------------------------------------


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC day; the state "at the end of the day" is the last one before `end`."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


def _history_of(sessions: AccountSessions, route: Route, region: str, later: dt.datetime, calls: _Calls
                ) -> tuple[list[ConfigItem], int]:
    """Items of one type in one region as they were at `later`, and how many were unknown then."""
    client = sessions.shared_client("config", region)
    config_type = str(route.rtype.config_type)
    identifiers: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"resourceType": config_type, "includeDeletedResources": True, "limit": PAGE_SIZE}
        if token:
            params["nextToken"] = token
        calls.add(region)
        page = client.list_discovered_resources(**params)
        identifiers.extend(page.get("resourceIdentifiers") or ())
        token = page.get("nextToken")
        if not token:
            break
    present: list[ConfigItem] = []
    unknown = 0
    for identifier in identifiers:
        deleted = identifier.get("resourceDeletionTime")
        if isinstance(deleted, dt.datetime) and (deleted if deleted.tzinfo else deleted.replace(
                tzinfo=dt.timezone.utc)) <= later:
            continue  # gone before the end of the day: no history call needed
        calls.add(region)
        try:
            answer = client.get_resource_config_history(resourceType=config_type,
                                                        resourceId=identifier["resourceId"], laterTime=later, limit=1)
        except botocore.exceptions.ClientError as exc:
            if collection_errors.error_code(exc) == NOT_DISCOVERED:
                continue
            raise
        state, item = history_state([parse_item(ci) for ci in answer.get("configurationItems") or ()])
        if state == "present" and item is not None:
            present.append(item)
        elif state == "unknown":
            unknown += 1
    return present, unknown


def _explain(regions: Sequence[str], recordings: Mapping[str, RegionRecording], day: dt.date,
             proven: set[str]) -> str:
    parts = []
    for region in regions:
        recording = recordings[region]
        if recording.error:
            parts.append(f"{region}: recorders unreadable ({recording.error})")
        elif not recording.recorders:
            parts.append(f"{region}: no configuration recorder")
        elif region not in proven:
            parts.append(f"{region}: no recorder was recording throughout {day}")
        else:
            parts.append(f"{region}: the recorder records none of the types history can rebuild")
    return "AWS Config configuration history cannot rebuild it either: " + "; ".join(parts) + "."


def reconstruct_day(sessions: AccountSessions, regions: Sequence[str], day: dt.date,
                    types: Sequence[ResourceType] | None = None, *, clock: Callable[[], float] = time.time
                    ) -> Collection:
    """The account's state at the end of `day`, from AWS Config configuration history.

    Raises HistoryUnavailable when no recorder in any region recorded throughout the day a type history
    can rebuild. Scopes left without a source are `skipped`; scopes rebuilt only in part are `failed`, so
    the delta never reports resources there as added or removed.
    """
    types = default_types(sessions) if types is None else types
    started_at = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    sessions.resolve_credentials()
    identity = sessions.verify_identity()
    start, end = day_bounds(day)
    later = end - dt.timedelta(milliseconds=1)
    plan = plan_scopes(regions, types)
    candidates = {str(t.config_type) for t in types if t.cfn_type in MAPPINGS and t.config_type}
    calls = _Calls()
    with ThreadPoolExecutor(max_workers=sessions.settings.max_workers, thread_name_prefix="history") as pool:
        recordings = dict(zip(regions, pool.map(lambda r: detect_recording(sessions, r, candidates, calls), regions),
                              strict=True))
        proven = {r for r, rec in recordings.items()
                  if not rec.error and recording_throughout(rec.statuses, start, end)}
        usable = {r: rec if r in proven else dataclasses.replace(rec, recorded={}) for r, rec in recordings.items()}
        routes, reasons = route_types(plan, usable, regions)
        if not routes:
            raise HistoryUnavailable(_explain(regions, recordings, day, proven))
        jobs = {(route, region): pool.submit(_history_of, sessions, route, region, later, calls)
                for route in routes for region in route.regions}
        results: dict[Route, list[RawItem]] = {}
        problems: dict[Route, list[str]] = {}
        for (route, region), job in jobs.items():
            try:
                present, unknown = job.result()
            except ReadOnlyViolation:
                raise
            except Exception as exc:
                problems.setdefault(route, []).append(f"{region}: {_reason(exc)}")
                continue
            if unknown:
                problems.setdefault(route, []).append(f"{region}: {unknown} resource(s) without a recorded state")
            for item in present:
                payload = redact_secrets(jsonable(to_api_payload(route.rtype, item)), route.rtype.secret_paths)
                results.setdefault(route, []).append(RawItem(
                    route.rtype.cfn_type, _item_region(route.rtype, route.scope_region, payload), payload,
                    source=SOURCE_HISTORY))
    scopes = _history_scopes(plan, routes, results, problems, reasons, regions, calls)
    finished = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    return Collection(account_id=sessions.account.id, regions=list(regions), started_at=format_timestamp(started_at),
                      collected_at=format_timestamp(finished), scopes=scopes, identity_arn=identity,
                      config=[{"as_of": format_timestamp(later), "proven_regions": sorted(proven),
                               "api_calls": sum(calls.counts.values())}])


def _history_scopes(plan: Plan, routes: Sequence[Route], results: Mapping[Route, list[RawItem]],
                    problems: Mapping[Route, list[str]], reasons: Mapping[str, str], regions: Sequence[str],
                    calls: _Calls) -> list[ScopeResult]:
    by_scope = {(r.service, r.scope_region, r.rtype.cfn_type): r for r in routes}
    scopes = []
    for service, region, types in plan:
        scope = ScopeResult(service=service, region=region, status="ok", source=SOURCE_HISTORY)
        missing: list[str] = []
        for rtype in types:
            route = by_scope.get((service, region, rtype.cfn_type))
            if route is None:
                why = reasons.get(f"{rtype.cfn_type}@{region}") or "no AWS Config mapping"
                missing.append(f"{rtype.cfn_type}: {why}")
                scope.skipped_types.append(rtype.cfn_type)
                continue
            if region == GLOBAL_REGION and rtype.config_type not in GLOBAL_CONFIG_TYPES and len(route.regions) < len(
                    regions):
                # Listed once per account, recorded per region: regions without a record may hold some.
                missing.append(f"{rtype.cfn_type}: recorded only in {', '.join(route.regions)}")
            raw = results.get(route, [])
            scope.items.extend(raw)
            scope.type_counts[rtype.cfn_type] = len(raw)
            scope.config_types.append(rtype.cfn_type)
            missing += [f"{rtype.cfn_type}: {p}" for p in problems.get(route, ())]
        if missing:
            scope.status = "failed" if scope.config_types else "skipped"
            scope.error = ("not rebuilt from AWS Config history: " + "; ".join(missing))[:2000]
            scope.error_class = "config_history_incomplete" if scope.config_types else "not_recorded_by_config"
        scopes.append(scope)
    # Discovery and history calls are per region; attribute each region's to its first rebuilt scope.
    for region, count in sorted((k, n) for k, n in calls.counts.items() if isinstance(k, str)):
        home = next((s for s in scopes if s.region == region and s.config_types), None) or next(
            (s for s in scopes if s.region == region), None)
        if home is not None:
            home.api_calls += count
    return scopes
