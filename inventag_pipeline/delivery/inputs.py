"""What delivery reads from the store: the day's documents as facts, the files it publishes, its own state."""

from __future__ import annotations

from typing import Any

from inventag_pipeline.aws.collector import collection_health
from inventag_pipeline.core.notify import DayFacts, facts_from_documents, join_url
from inventag_pipeline.delivery.resources import DeliverySettings
from inventag_pipeline.store.store import InventoryStore, MissingDataError, Partition

# Outside the partitioned folders: one sliding record per account of the notifications sent.
STATE_PATH = "delivery/notifications/account={account}/state.json"

# The files published for a day: (store kind, file name, content type).
# Every reading of the changelog and the report: the full HTML pages, their executive-summary and audit
# variants (which link to each other and to the Markdown and JSON beside them), and the data.
_HTML = "text/html; charset=utf-8"
PUBLISHED = (
    ("changelogs", "changelog.html", _HTML),
    ("changelogs", "changelog.summary.html", _HTML),
    ("changelogs", "changelog.audit.html", _HTML),
    ("changelogs", "changelog.md", "text/markdown; charset=utf-8"),
    ("changelogs", "changelog.json", "application/json"),
    ("reports", "report.html", _HTML),
    ("reports", "report.summary.html", _HTML),
    ("reports", "report.audit.html", _HTML),
    ("reports", "report.json", "application/json"),
    ("reports", "report.md", "text/markdown; charset=utf-8"),
)
# What a notification links to: (label, store kind, file name).
LINKED = (("changelog", "changelogs", "changelog.html"), ("compliance report", "reports", "report.html"))


def read_optional(store: InventoryStore, relative: str) -> Any | None:
    try:
        return store.read_json(relative)
    except MissingDataError:
        return None


def gather(store: InventoryStore, part: Partition) -> tuple[DayFacts, list[str]]:
    """The day's facts, and the documents that were missing (their figures are None, never zero)."""
    documents = {
        "raw inventory manifest": read_optional(store, f"{part.folder('raw')}/manifest.json"),
        "snapshot manifest": read_optional(store, f"{part.folder('snapshots')}/manifest.json"),
        "delta summary": read_optional(store, f"{part.folder('deltas')}/summary.json"),
        "compliance report": read_optional(store, f"{part.folder('reports')}/report.json"),
    }
    raw, snapshot, summary, report = documents.values()
    facts = facts_from_documents(
        part.account, part.date,
        account_name=raw.get("account_name") if raw else None,
        snapshot_manifest=snapshot, delta_summary=summary, report=report, raw_manifest=raw,
        collection_errors=collection_health(raw["coverage"])["collection_errors"] if raw else None,
    )
    return facts, [name for name, document in documents.items() if document is None]


def report_links(settings: DeliverySettings, store: InventoryStore, part: Partition) -> dict[str, str]:
    """Where a reader opens the day's changelog and report: under the public base URL when one is set,
    else the published S3 copy, else the store itself. Files that do not exist are not linked."""
    links = {}
    for label, kind, name in LINKED:
        relative = f"{part.folder(kind)}/{name}"
        if not store.exists(relative):
            continue
        if settings.report_base_url:
            links[label] = join_url(settings.report_base_url, relative)
        elif settings.s3_uri:
            links[label] = join_url(settings.s3_uri, relative)
        else:
            links[label] = store.display(relative)
    return links


def read_state(store: InventoryStore, account: str) -> dict[str, Any] | None:
    return read_optional(store, STATE_PATH.format(account=account))


def write_state(store: InventoryStore, account: str, state: dict[str, Any]) -> str:
    relative = STATE_PATH.format(account=account)
    store.write_json(relative, state)
    return store.display(relative)
