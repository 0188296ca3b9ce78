"""Where the insights assets keep their files, and what the overview reads from the store.

Their files live under `insights/`, beside the §4 kinds rather than among them: `inventag validate`,
storage statistics and retention walk the §4 kinds only, and these files are derived views that any
run rebuilds from the chain's stored data.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow.fs as pafs

from inventag_pipeline.core.overview import AccountDocuments, all_scopes_ok
from inventag_pipeline.integrity import store_accounts
from inventag_pipeline.store.store import InventoryStore, MissingDataError, Partition

INSIGHTS_FOLDERS = {"cost": "insights/cost", "cleanup": "insights/cleanup"}
OVERVIEW_FOLDER = "insights/overview"
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def insight_folder(kind: str, part: Partition) -> str:
    return f"{INSIGHTS_FOLDERS[kind]}/account={part.account}/date={part.date}"


def _dates(store: InventoryStore, folder: str) -> list[str]:
    """Dates with a `date=` folder below `folder`, ascending."""
    selector = pafs.FileSelector(store.path(folder), allow_not_found=True)
    return sorted(m.group(1) for info in store.fs.get_file_info(selector)
                  if info.type == pafs.FileType.Directory and (m := _DATE_DIR.match(info.base_name)))


def _read(store: InventoryStore, relative: str, notes: list[str]) -> dict[str, Any] | None:
    """A stored JSON document; None (with a note) when it is missing or unreadable."""
    try:
        value = store.read_json(relative)
    except MissingDataError:
        return None
    except (OSError, ValueError) as exc:
        notes.append(f"{store.display(relative)} could not be read ({exc}); run `inventag validate`")
        return None
    return value if isinstance(value, dict) else None


def newest_document(store: InventoryStore, kind: str, account: str, name: str, notes: list[str]
                    ) -> dict[str, Any] | None:
    """The newest readable `name` of one §4 kind for an account (days without it are skipped over)."""
    for date in reversed(store.dates(kind, account)):
        document = _read(store, f"{Partition(account, date).folder(kind)}/{name}", notes)
        if document is not None:
            return document
    return None


def collections(store: InventoryStore, account: str, notes: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    """(the newest raw manifest, the date of the newest one with every scope collected)."""
    newest = None
    for date in reversed(store.dates("raw", account)):
        manifest = _read(store, f"{Partition(account, date).folder('raw')}/manifest.json", notes)
        if manifest is None:
            continue
        newest = newest or manifest
        if all_scopes_ok(manifest):
            return newest, date
    return newest, None


def newest_cost(store: InventoryStore, account: str, notes: list[str]) -> dict[str, Any] | None:
    """The newest cost.json with data (skipped days say nothing about spend)."""
    for date in reversed(_dates(store, f"{INSIGHTS_FOLDERS['cost']}/account={account}")):
        document = _read(store, f"{insight_folder('cost', Partition(account, date))}/cost.json", notes)
        if document is not None and document.get("status") == "ok":
            return document
    return None


def account_documents(store: InventoryStore, account: str) -> AccountDocuments:
    notes: list[str] = []
    raw, last_good = collections(store, account, notes)
    return AccountDocuments(
        account_id=account,
        snapshot_manifest=newest_document(store, "snapshots", account, "manifest.json", notes),
        delta_summary=newest_document(store, "deltas", account, "summary.json", notes),
        report=newest_document(store, "reports", account, "report.json", notes),
        raw_manifest=raw,
        last_good_collection=last_good,
        cost=newest_cost(store, account, notes),
        notes=notes,
    )


def all_account_documents(store: InventoryStore) -> list[AccountDocuments]:
    """Every account with anything stored under the §4 kinds."""
    return [account_documents(store, account) for account in store_accounts(store)]


def write_json_and_markdown(store: InventoryStore, folder: str, stem: str, document: dict[str, Any],
                            markdown: str) -> dict[str, str]:
    """`stem.json` and `stem.md` in `folder`; returns their display paths."""
    store.write_bytes(f"{folder}/{stem}.json", (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
    store.write_bytes(f"{folder}/{stem}.md", markdown.encode())
    return {"json": store.display(f"{folder}/{stem}.json"), "md": store.display(f"{folder}/{stem}.md")}
