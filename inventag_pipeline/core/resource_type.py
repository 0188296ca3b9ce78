"""The declaration classes of the resource-type registry (see core.registry).

Kept apart from the declarations themselves so that per-family modules (core.types.*) can declare
types without importing the registry that gathers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Detail:
    """A per-resource read call whose result is stored under `store_as` in the raw payload.

    `params` values are templates over the listed item (`{Arn}`) or `{id}`; `result_path` is a
    JMESPath into the response (None keeps the whole response). Error codes in `absent_codes` mean
    "this optional feature is not configured" and store None instead of failing the scope.
    `only_if` names an earlier detail's `store_as`: when that stored nothing, this call would only
    answer with one of its `absent_codes` (S3's policy status without a policy), so it is not made
    and None is stored, as that answer would have stored.
    """

    operation: str
    params: Mapping[str, object]
    store_as: str
    result_path: str | None = None
    absent_codes: tuple[str, ...] = ()
    paginate: bool = False
    only_if: str | None = None


@dataclass(frozen=True)
class BulkDetails:
    """One paginated call that returns, for every resource of the type, what several detail calls return.

    `list_path` (JMESPath) selects the records, `key` is the field matching the listed item's ARN, and
    `fields` maps a detail's `store_as` to a JMESPath into the record (`|| [] literal` where an absent
    field means what the detail call answers with an empty list). A field the path does not find, a
    resource missing from the bulk answer (created meanwhile), or a bulk call that fails falls back
    to the detail calls.
    """

    operation: str
    params: Mapping[str, object]
    list_path: str
    key: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class ResourceType:
    """How one resource type is collected, identified, canonicalised and related to others."""

    cfn_type: str
    service: str
    description: str
    list_operation: str
    result_path: str
    id_field: str
    arn_field: str | None = None
    # Placeholders: {partition} {region} {account} {id}, and {id_path} (the id without a leading "/").
    arn_template: str | None = None
    name_field: str | None = None
    # With no Name tag and no name field, use the ARN's last segment (SNS topics, SQS queues).
    name_from_arn: bool = False
    list_params: Mapping[str, object] = field(default_factory=dict)
    details: tuple[Detail, ...] = ()
    # Listed once per account rather than per region (IAM, S3's ListBuckets).
    is_global: bool = False
    # Where a globally listed resource keeps its own region (S3 buckets); else region is "global".
    region_field: str | None = None
    tags_field: str | None = "Tags"
    # Paths (dotted, `[]` for every list item) excluded from the content hash and the diff.
    volatile_paths: tuple[str, ...] = ()
    # Paths whose changes are operational state: reported as `operational`/`info`, never alarming.
    operational_paths: tuple[str, ...] = ()
    # Identity fields of list items, by list path, so lists are compared as keyed sets.
    list_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Lists whose order carries meaning (everything else is compared as a set).
    ordered_paths: tuple[str, ...] = ()
    # String fields that hold JSON documents (policies) and are parsed into structure.
    json_paths: tuple[str, ...] = ()
    # Fields naming other resources: path -> target CloudFormation type.
    relationships: Mapping[str, str] = field(default_factory=dict)
    # Optional per-type reshaping applied before generic canonicalisation (see core.canonical).
    normalizer: str | None = None
    # Values that may hold secrets (environment variables, user data). The collector replaces each
    # with "redacted:sha256:<digest>" before anything is stored, so a change is still seen but the
    # value never reaches raw or snapshot files. `*` stands for every key of a mapping.
    secret_paths: tuple[str, ...] = ()
    # How the type is exercised in tests: "moto" (created in moto) or "stubber".
    tested_with: str = "moto"
    # The AWS Config resource type that records this type (usually the CloudFormation name), or None when
    # Config does not record it. Whether the fast path may use Config also needs a mapping of Config's
    # configuration item to this type's payload (core.config_mapping); without one the direct API is used.
    config_type: str | None = None
    # The Resource Groups Tagging API's resource type (e.g. "sqs", "kms:key") when its GetResources may
    # stand in for this type's own tag call: one paginated call per region (filtered by the types'
    # services) returns the tags of every tagged resource. How a resource it does not return is treated:
    # aws/collector.py `TagListing`.
    tagging_api_type: str | None = None
    # Detail calls one bulk call answers for all resources at once (IAM's GetAccountAuthorizationDetails).
    bulk_details: BulkDetails | None = None

    @property
    def arn_service(self) -> str:
        return self.service


def authorization_details(kind: str, list_path: str, fields: dict[str, str]) -> BulkDetails:
    """IAM's GetAccountAuthorizationDetails for one kind of principal or policy: its tags, attachments,
    inline policy names, group memberships or policy documents, for the whole account in a few pages."""
    return BulkDetails("get_account_authorization_details", {"Filter": [kind]}, f"{list_path}[]", "Arn", fields)


def _t(**kwargs: object) -> ResourceType:
    return ResourceType(**kwargs)  # type: ignore[arg-type]
