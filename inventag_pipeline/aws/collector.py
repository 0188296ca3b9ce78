"""The one generic collector: reads the registry, pages, calls details, records coverage.

Work is split into (service, region) scopes run on a bounded thread pool, sharing the account's one
thread-safe client per (service, region). A scope that fails is recorded as `failed` with its error
class and does not stop the others; "couldn't read" never becomes "empty". Every error is classified
(aws/errors.py); a region that is not enabled makes its scopes `skipped`, and a circuit breaker stops
a scope after `circuit_breaker_threshold` consecutive failing types instead of hammering a broken
service.

Against AWS each call costs tens of milliseconds of waiting, so throughput comes from calls in
flight: `max_workers` scopes at once, and inside a scope the per-resource detail calls of a type fan
out over a second, account-wide pool of `detail_workers` threads (a separate pool, so a scope waiting
for its details can never starve them). Throttling costs time, never data: botocore retries (its
`standard` mode by default), and a call whose botocore retries ran out while throttled is tried again
after a growing pause, `throttle_retries` times, before the type is recorded as failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import jmespath

from inventag_pipeline.aws import errors as collection_errors
from inventag_pipeline.aws.errors import NO_PATIENCE, Patience, patiently
from inventag_pipeline.aws.garbage import fewer_gc_passes
from inventag_pipeline.aws.guard import ReadOnlyViolation
from inventag_pipeline.aws.session import AccountSessions, tagging_api_mode
from inventag_pipeline.core.canonical import format_timestamp, get_path, jsonable, redact_secrets, resolve_arn
from inventag_pipeline.core.registry import GLOBAL_REGION, RESOURCE_TYPES, ResourceType
from inventag_pipeline.core.resource_type import Detail


@dataclass
class RawItem:
    resource_type: str
    region: str
    payload: dict[str, Any]
    source: str = "api"  # or "config" / "config-history" (aws/config_source.py)


@dataclass
class ScopeResult:
    service: str
    region: str
    status: str
    items: list[RawItem] = field(default_factory=list)
    error: str | None = None
    error_class: str | None = None
    api_calls: int = 0
    duration_s: float = 0.0
    type_counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    circuit_open: bool = False
    skipped_types: list[str] = field(default_factory=list)
    # "api", "config" (every type from AWS Config), "mixed" (config_types from Config), "config-history".
    source: str = "api"
    config_types: list[str] = field(default_factory=list)
    # Resources whose tags came from the region's Resource Groups Tagging API listing, and why that
    # listing could not be used (then every tag was asked for per resource).
    tags_from_tagging_api: int = 0
    tagging_api_error: str | None = None

    def coverage(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "region": self.region,
            "status": self.status,
            "error": self.error,
            "error_class": self.error_class,
            "resource_count": len(self.items),
            "api_calls": self.api_calls,
            "duration_s": round(self.duration_s, 3),
            "types": dict(sorted(self.type_counts.items())),
            "errors": [dict(e) for e in self.errors],
            "circuit_open": self.circuit_open,
            "skipped_types": list(self.skipped_types),
            "source": self.source,
            "config_types": list(self.config_types),
            "tags_from_tagging_api": self.tags_from_tagging_api,
            "tagging_api_error": self.tagging_api_error,
        }


class CollectionFailed(RuntimeError):
    """Nothing at all could be collected; the message says why and what to do."""


CIRCUIT_OPEN = "circuit_open"


def error_class(exc: BaseException) -> str:
    """A short, stable name for the manifest: the AWS error code, else the exception class."""
    return collection_errors.error_code(exc)


def _render(template: object, payload: Mapping[str, Any], resource_id: str) -> Any:
    """Fill `{id}` / `{Field}` placeholders, also inside list and mapping parameters (`names=["{id}"]`)."""
    if isinstance(template, list):
        return [_render(t, payload, resource_id) for t in template]
    if isinstance(template, Mapping):
        return {k: _render(v, payload, resource_id) for k, v in template.items()}
    if not isinstance(template, str):
        return template
    if template == "{id}":
        return resource_id
    if template.startswith("{") and template.endswith("}"):
        found = get_path(payload, template[1:-1])
        return found[0] if found else None
    return template


def _strip_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


class _Counter:
    """API calls made by one scope; shared by the threads enriching its resources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        # Resources whose tag call the region's tagging-API listing made unnecessary.
        self.tags_from_tagging_api = 0
        # The operation in flight, for errors that do not carry one (network errors).
        self.operation: str | None = None

    def add(self) -> None:
        with self._lock:
            self.calls += 1

    def add_tags_served(self) -> None:
        with self._lock:
            self.tags_from_tagging_api += 1


# Set on an exception raised by a call: the API operation in flight, since with detail calls running
# on other threads the scope's `counter.operation` may name another call by then.
_OPERATION_ATTR = "inventag_operation"


def _call(client: Any, operation: str, params: Mapping[str, Any], counter: _Counter, paginate: bool
          ) -> Iterator[dict[str, Any]]:
    api_name = client.meta.method_to_api_mapping.get(operation, operation)
    counter.operation = api_name
    try:
        if paginate and client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**params):
                counter.add()
                yield page
        else:
            counter.add()
            yield getattr(client, operation)(**params)
    except Exception as exc:
        if getattr(exc, _OPERATION_ATTR, None) is None:
            setattr(exc, _OPERATION_ATTR, api_name)
        raise


def _merge_pages(pages: list[dict[str, Any]], path: str | None) -> Any:
    if path is None:
        merged: dict[str, Any] = {}
        for page in pages:
            merged.update(_strip_metadata(page))
        return merged
    values = [jmespath.search(path, page) for page in pages]
    if len(values) == 1:
        return values[0]
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    return flat


class RegionTags:
    """Per region, every tagged resource's tags from one Resource Groups Tagging API listing.

    Fetched once, by the first scope of the region that needs it (the others wait for it), for the
    registry types that declare a `tagging_api_type`. The listing is filtered by those types' services
    (`sqs`, `logs`, ...): a service filter cannot be misspelt the way a `service:type` one can, and the
    lookup is by ARN, so a service's other resources in the listing do no harm. A region whose listing
    fails (no `tag:GetResources` permission, throttled beyond patience) is remembered as unavailable and
    its resources' tags are asked for one by one, as without it.
    """

    def __init__(self, get_client: Callable[[str], Any], types: Sequence[ResourceType], account_id: str,
                 mode: bool | str = "on"):
        self._client = get_client
        self.account_id = account_id
        self.mode = tagging_api_mode(mode)
        self.filters = sorted({t.tagging_api_type.split(":", 1)[0] for t in types if t.tagging_api_type})
        self.enabled = self.mode != "off" and bool(self.filters)
        self._lock = threading.Lock()
        self._region_locks: dict[str, threading.Lock] = {}
        self._maps: dict[str, TagListing | None] = {}
        self.errors: dict[str, str] = {}

    def for_region(self, region: str, counter: _Counter, patience: Patience) -> TagListing | None:
        """The region's listing, or None when the listing is off or failed."""
        if not self.enabled or region == GLOBAL_REGION:
            return None
        with self._lock:
            region_lock = self._region_locks.setdefault(region, threading.Lock())
        with region_lock:
            if region not in self._maps:
                self._maps[region] = self._fetch(region, counter, patience)
            return self._maps[region]

    def _fetch(self, region: str, counter: _Counter, patience: Patience) -> TagListing | None:
        params = {"ResourceTypeFilters": self.filters, "ResourcesPerPage": 100}
        pages, error = _pages_that_save_calls(self._client(region), "get_resources", params, counter, patience)
        if pages is None:
            self.errors[region] = error or ""
            return None
        return TagListing(self.account_id, region, {
            mapping["ResourceARN"]: list(mapping.get("Tags") or [])
            for page in pages for mapping in page.get("ResourceTagMappingList") or []},
            trust_absence=self.mode == "on")


class TagListing:
    """One region's tagging-API listing (ARN -> [{Key, Value}]) and what its silence may be taken to mean.

    GetResources returns every resource that is or was tagged, so a resource it leaves out has no tags,
    but only where the listing covers the resource's type and writes its ARN as the collector does: a
    misspelt filter, a service the API does not reach, or an ARN written differently would otherwise
    erase real tags. So silence is trusted for a type in a region only when the listing holds the ARN
    of at least one of that type's resources there (`matched`, complete once every item of the type is
    in: `collect_type` settles the unlisted ones last); else each unlisted resource is asked. With
    `trust_absence` off (`INVENTAG_TAGGING_API=strict`) every unlisted resource is asked at once.
    """

    def __init__(self, account_id: str, region: str, tags: Mapping[str, list[dict[str, str]]],
                 trust_absence: bool = True):
        self.account_id = account_id
        self.region = region
        self.tags = tags
        self.trust_absence = trust_absence
        self.matched: set[str] = set()  # types with at least one resource whose ARN the listing holds

    def lookup(self, rtype: ResourceType, payload: Mapping[str, Any], resource_id: str) -> list[dict[str, str]] | None:
        """The resource's listed tags, or None when the listing does not hold its ARN."""
        found = self.tags.get(resolve_arn(rtype, payload, resource_id, self.account_id, self.region))
        if found is not None:
            self.matched.add(rtype.cfn_type)
        return found


def collect_type(rtype: ResourceType, client_for: Callable[[str], Any], region: str, counter: _Counter,
                 *, pool: Executor | None = None, patience: Patience = NO_PATIENCE,
                 region_tags: RegionTags | None = None) -> list[RawItem]:
    """List one type in one region (or globally) and enrich each item with its detail calls.

    With a `pool`, the items' detail calls run concurrently on it; the items keep their listed order.
    With `region_tags`, a type that declares a `tagging_api_type` takes a listed resource's tags from
    the region's tagging-API listing instead of its own tag call.
    """
    client = client_for(region)

    def listing() -> list[dict[str, Any]]:
        return list(_call(client, rtype.list_operation, dict(rtype.list_params), counter, paginate=True))

    items: list[Any] = []
    for page in patiently(listing, patience):
        items.extend(jmespath.search(rtype.result_path, page) or [])
    tag_map = None
    if region_tags is not None and rtype.tagging_api_type and items:
        tag_map = region_tags.for_region(region, counter, patience)
    bulk = _bulk_records(rtype, client, counter, patience) if rtype.bulk_details and items else {}

    def record_of(item: Any) -> Mapping[str, Any] | None:
        arn = get_path(item, rtype.arn_field) if bulk and rtype.arn_field and isinstance(item, Mapping) else []
        return bulk.get(str(arn[0])) if arn else None

    if pool is None or not rtype.details or len(items) < 2:
        enriched = [_enrich(rtype, item, client_for, region, counter, patience, tag_map, record_of(item))
                    for item in items]
    else:
        futures = [pool.submit(_enrich, rtype, item, client_for, region, counter, patience, tag_map,
                               record_of(item)) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            # The type fails as a whole: drop what has not started, let running calls finish (their
            # clients and counter are shared), then report the first error in listed order.
            for future in pending:
                future.cancel()
            wait(pending)
            failed[0].result()  # raises it
        enriched = [f.result() for f in futures]
    if tag_map is not None:
        _settle_unlisted_tags(rtype, enriched, tag_map, client_for, region, counter, patience, pool)
    return enriched


def _bulk_records(rtype: ResourceType, client: Any, counter: _Counter, patience: Patience
                  ) -> dict[str, Mapping[str, Any]]:
    """The type's bulk answer by key (ARN); empty when the call fails, so every detail is asked."""
    bulk = rtype.bulk_details
    assert bulk is not None
    pages, _ = _pages_that_save_calls(client, bulk.operation, dict(bulk.params), counter, patience)
    records = [record for page in pages or [] for record in jmespath.search(bulk.list_path, page) or []]
    return {str(record[bulk.key]): record for record in records if isinstance(record, Mapping) and record.get(bulk.key)}


def _pages_that_save_calls(client: Any, operation: str, params: Mapping[str, Any], counter: _Counter,
                           patience: Patience) -> tuple[list[dict[str, Any]] | None, str | None]:
    """All pages of a call whose answer only spares per-resource calls: on failure, no pages and why.

    Any failure (a refused permission, throttling beyond patience) just costs the calls it would have
    saved; only the read-only guard's refusal is raised, as everywhere.
    """
    try:
        return patiently(lambda: list(_call(client, operation, dict(params), counter, paginate=True)), patience), None
    except ReadOnlyViolation:
        raise
    except Exception as exc:
        return None, f"{error_class(exc)}: {exc}"[:500]


def _detail_value(rtype: ResourceType, detail: Detail, payload: Mapping[str, Any], resource_id: str,
                  client_for: Callable[[str], Any], region: str, counter: _Counter, patience: Patience,
                  responses: dict[str, list[dict[str, Any]]]) -> Any:
    """A detail's value for one item, from one call shared (`responses`) by every detail that needs it."""
    detail_region = region
    if rtype.region_field and payload.get(rtype.region_field):
        detail_region = str(payload[rtype.region_field])
    params = {k: _render(v, payload, resource_id) for k, v in detail.params.items()}
    key = repr((detail_region, detail.operation, sorted(params.items()), detail.paginate))
    try:
        if key not in responses:
            responses[key] = patiently(lambda: list(
                _call(client_for(detail_region), detail.operation, params, counter, detail.paginate)), patience)
        return _merge_pages(responses[key], detail.result_path)
    except botocore.exceptions.ClientError as exc:
        if error_class(exc) not in detail.absent_codes:
            raise
        return None


def _settle_unlisted_tags(rtype: ResourceType, items: list[RawItem], tag_map: TagListing,
                          client_for: Callable[[str], Any], region: str, counter: _Counter, patience: Patience,
                          pool: Executor | None) -> None:
    """Tags of the type's resources the listing left out: none where it matched others of the type, else asked."""
    unlisted = [item for item in items if rtype.tags_field not in item.payload]
    if not unlisted:
        return
    if rtype.cfn_type in tag_map.matched:
        for item in unlisted:
            item.payload[rtype.tags_field] = []
            counter.add_tags_served()
        return
    [detail] = [d for d in rtype.details if d.store_as == rtype.tags_field]

    def ask(item: RawItem) -> None:
        resource_id = str(get_path(item.payload, rtype.id_field)[0])
        item.payload[rtype.tags_field] = jsonable(_detail_value(
            rtype, detail, item.payload, resource_id, client_for, region, counter, patience, {}))

    list(pool.map(ask, unlisted) if pool is not None else map(ask, unlisted))


def _enrich(rtype: ResourceType, item: Any, client_for: Callable[[str], Any], region: str, counter: _Counter,
            patience: Patience, tag_map: TagListing | None = None, bulk: Mapping[str, Any] | None = None) -> RawItem:
    """One listed item plus its detail calls; an identical call serves every detail that needs it.

    With `tag_map` (the region's tagging-API listing) the tags come from it when it holds the resource's
    ARN; an unlisted resource's tags are left to `_settle_unlisted_tags` (or, in strict mode, asked).
    Details the type's bulk answer holds for this resource (`bulk`) are taken from it.
    """
    payload = dict(item) if isinstance(item, Mapping) else {rtype.id_field: item}
    resource_id = str(get_path(payload, rtype.id_field)[0])
    responses: dict[str, list[dict[str, Any]]] = {}

    def detail_value(detail: Detail) -> Any:
        return _detail_value(rtype, detail, payload, resource_id, client_for, region, counter, patience, responses)

    bulk_fields = rtype.bulk_details.fields if bulk is not None and rtype.bulk_details else {}
    for detail in rtype.details:
        if detail.store_as in bulk_fields:
            found = jmespath.search(bulk_fields[detail.store_as], bulk)
            if found is not None:
                payload[detail.store_as] = found
                continue
        if tag_map is not None and detail.store_as == rtype.tags_field:
            listed = tag_map.lookup(rtype, payload, resource_id)
            if listed is not None:
                payload[detail.store_as] = listed
                counter.add_tags_served()
                continue
            if tag_map.trust_absence:
                payload.pop(detail.store_as, None)  # unset: `_settle_unlisted_tags` decides once all are in
                continue
        value = None if detail.only_if and not payload.get(detail.only_if) else detail_value(detail)
        if rtype.region_field and detail.store_as == rtype.region_field:
            value = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(value, value)
        if detail.store_as:
            payload[detail.store_as] = value
        elif isinstance(value, Mapping):
            payload.update(value)
    item_region = str(payload.get(rtype.region_field)) if rtype.region_field else region
    return RawItem(rtype.cfn_type, item_region, redact_secrets(jsonable(payload), rtype.secret_paths))


def collect_scope(sessions: AccountSessions, service: str, region: str, types: Sequence[ResourceType],
                  detail_pool: Executor | None = None, region_tags: RegionTags | None = None) -> ScopeResult:
    """Every type of one service in one region; failures are recorded and classified, never raised.

    Types run one after another, so the breaker can spare calls: a `region_not_enabled` error before
    any type succeeded ends the scope as `skipped`, and after `circuit_breaker_threshold` consecutive
    failing types (0 = never) the types left are not tried and the scope fails as `circuit_open`; a
    success resets the count. Detail calls of a type run on `detail_pool` when one is given.
    """
    started = time.perf_counter()

    def client_for(client_region: str) -> Any:
        return sessions.shared_client(service, client_region)

    result = ScopeResult(service=service, region=region, status="ok")
    counter = _Counter()
    threshold = sessions.settings.circuit_breaker_threshold
    patience = Patience(retries=sessions.settings.throttle_retries,
                        base_delay_s=sessions.settings.throttle_base_delay_s)
    messages: list[str] = []
    consecutive = 0
    for index, rtype in enumerate(types):
        counter.operation = None
        try:
            items = collect_type(rtype, client_for, region, counter, pool=detail_pool, patience=patience,
                                 region_tags=region_tags)
        except ReadOnlyViolation:
            raise
        except Exception as exc:
            operation = getattr(exc, _OPERATION_ATTR, None) or counter.operation
            entry = collection_errors.error_entry(exc, rtype.cfn_type, service,
                                                  None if region == GLOBAL_REGION else region, operation)
            result.errors.append(entry)
            messages.append(f"{rtype.cfn_type}: {error_class(exc)}: {exc}")
            result.error_class = result.error_class or error_class(exc)
            consecutive += 1
            remaining = [t.cfn_type for t in types[index + 1:]]
            if entry["class"] == collection_errors.REGION_NOT_ENABLED and not result.type_counts:
                # The region refuses these credentials: every other type would fail the same way.
                result.skipped_types = remaining
                break
            if threshold and consecutive >= threshold and remaining:
                result.circuit_open = True
                result.skipped_types = remaining
                result.error_class = CIRCUIT_OPEN
                messages.append(f"circuit open after {consecutive} consecutive failing types; not attempted: "
                                + ", ".join(remaining))
                break
            continue
        consecutive = 0
        result.items.extend(items)
        result.type_counts[rtype.cfn_type] = len(items)
    if result.errors:
        only_not_enabled = all(e["class"] == collection_errors.REGION_NOT_ENABLED for e in result.errors)
        result.status = "skipped" if only_not_enabled and not result.type_counts else "failed"
        # The breaker's note goes first so that truncation never hides it.
        ordered = messages[-1:] + messages[:-1] if result.circuit_open else messages
        result.error = "; ".join(ordered)[:2000]
    result.api_calls = counter.calls
    result.tags_from_tagging_api = counter.tags_from_tagging_api
    if region_tags is not None and any(t.tagging_api_type for t in types):
        result.tagging_api_error = region_tags.errors.get(region)
    result.duration_s = time.perf_counter() - started
    return result


def _scope_weight(types: Sequence[ResourceType]) -> int:
    """A rough cost of a scope for ordering: its types, with detail calls weighing more."""
    return sum(1 + 2 * len(t.details) for t in types)


def plan_scopes(regions: Sequence[str], types: Sequence[ResourceType] = RESOURCE_TYPES
                ) -> list[tuple[str, str, tuple[ResourceType, ...]]]:
    """(service, region, types) work units: regional types per region, global ones once."""
    scopes: dict[tuple[str, str], list[ResourceType]] = {}
    for rtype in types:
        for region in [GLOBAL_REGION] if rtype.is_global else regions:
            scopes.setdefault((rtype.service, region), []).append(rtype)
    return [(s, r, tuple(ts)) for (s, r), ts in sorted(scopes.items())]


@dataclass
class Collection:
    account_id: str
    regions: list[str]
    started_at: str
    collected_at: str
    scopes: list[ScopeResult]
    identity_arn: str | None
    # Per region: the AWS Config recorder found, the types it served, why others fell back to the API.
    config: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coverage(self) -> list[dict[str, Any]]:
        return [s.coverage() for s in self.scopes]


def collection_health(coverage: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts an operator watches across runs, from a manifest's coverage entries.

    Entries written before errors were classified (no `errors` key) count their failure as one
    `unknown` error, so old and new manifests can be compared.
    """
    by_class = dict.fromkeys(collection_errors.ERROR_CLASSES, 0)
    by_status = {"ok": 0, "failed": 0, "skipped": 0}
    circuit_open: list[str] = []
    types_not_attempted = 0
    slowest: Mapping[str, Any] | None = None
    for scope in coverage:
        by_status[scope["status"]] = by_status.get(scope["status"], 0) + 1
        errors = scope.get("errors")
        if errors is None and scope["status"] != "ok":
            errors = [{"class": collection_errors.UNKNOWN}]
        for error in errors or ():
            by_class[error["class"]] = by_class.get(error["class"], 0) + 1
        if scope.get("circuit_open"):
            circuit_open.append(f"{scope['service']}/{scope['region']}")
        types_not_attempted += len(scope.get("skipped_types") or ())
        if slowest is None or scope["duration_s"] > slowest["duration_s"]:
            slowest = scope
    return {
        "scopes": len(coverage),
        "scopes_ok": by_status["ok"],
        "scopes_failed": by_status["failed"],
        "scopes_skipped": by_status["skipped"],
        "collection_errors": sum(by_class.values()),
        "errors_by_class": by_class,
        "circuit_open_scopes": sorted(circuit_open),
        "types_not_attempted": types_not_attempted,
        "api_calls": sum(scope["api_calls"] for scope in coverage),
        "slowest_scope": None if slowest is None else {
            "service": slowest["service"], "region": slowest["region"], "duration_s": slowest["duration_s"]},
    }


def enabled_regions(sessions: AccountSessions) -> list[str]:
    """The account's enabled regions (opted-in or not requiring opt-in)."""
    client = sessions.client(sessions.session(), "ec2", "us-east-1")
    regions = client.describe_regions(AllRegions=False)["Regions"]
    return sorted(r["RegionName"] for r in regions if r.get("OptInStatus") != "not-opted-in")


def default_types(sessions: AccountSessions) -> tuple[ResourceType, ...]:
    """Every registry type; accounts in the simulator (moto) only the types moto implements.

    moto answers the others with its own built-in data (thousands of public AMI snapshots), not an estate.
    """
    if sessions.served_by_simulator:
        return tuple(t for t in RESOURCE_TYPES if t.tested_with == "moto")
    return RESOURCE_TYPES


@fewer_gc_passes()
def collect_account(sessions: AccountSessions, regions: Sequence[str],
                    types: Sequence[ResourceType] | None = None, *, clock: Callable[[], float] = time.time
                    ) -> Collection:
    """Collect every scope concurrently; raise only when nothing at all could be read.

    With fewer garbage-collector passes meanwhile (aws/garbage.py).
    """
    import datetime as dt

    from inventag_pipeline.aws.config_source import fast_path

    types = default_types(sessions) if types is None else types
    started = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    sessions.resolve_credentials()
    identity = sessions.verify_identity()
    plan = plan_scopes(regions, types)
    fast = fast_path(sessions, regions, plan)  # types AWS Config records leave the plan, already read
    plan = fast.api_plan
    settings = sessions.settings
    region_tags = RegionTags(lambda region: sessions.shared_client("resourcegroupstaggingapi", region),
                             [t for _, _, ts in plan for t in ts], sessions.account.id, mode=settings.tagging_api)
    with ThreadPoolExecutor(max_workers=settings.detail_workers, thread_name_prefix="detail") as details, \
            ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="collect") as pool:
        # Largest scopes first: a long scope started last would otherwise set the wall time alone.
        ordered = sorted(plan, key=lambda scope: -_scope_weight(scope[2]))
        futures = {(s, r): pool.submit(collect_scope, sessions, s, r, ts, details, region_tags)
                   for s, r, ts in ordered}
        results = [futures[(s, r)].result() for s, r, _ in plan]
    results = fast.merge(results)
    failed = [r for r in results if r.status != "ok"]
    if results and len(failed) == len(results):
        sample = failed[0]
        raise CollectionFailed(
            f"every scope failed for account {sessions.account.id} ({len(failed)} scopes); first error: "
            f"{sample.service}/{sample.region}: {sample.error}. Check the role's permissions "
            "(ReadOnlyAccess, or SecurityAudit + ViewOnlyAccess) and network access to AWS."
        )
    finished = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    return Collection(
        account_id=sessions.account.id,
        regions=list(regions),
        started_at=format_timestamp(started),
        collected_at=format_timestamp(finished),
        scopes=results,
        identity_arn=identity,
        config=fast.summary,
    )
