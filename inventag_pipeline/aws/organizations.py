"""AWS Organizations discovery: the member accounts to collect, read through the read-only guard."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from inventag_pipeline.aws.guard import AuditLog
from inventag_pipeline.aws.session import AccountSessions, CollectionSettings
from inventag_pipeline.core.accounts import Account, OrganizationDiscovery


class DiscoveryError(RuntimeError):
    """Organizations could not be read; the message says why and what to do."""


def list_member_accounts(discovery: OrganizationDiscovery, settings: CollectionSettings | None = None,
                         audit: AuditLog | None = None) -> list[dict[str, Any]]:
    """`ListAccounts` of the organization, or only the accounts under `include_ous` (recursively).

    Runs with the pipeline's own credentials, which must belong to the management account or a
    delegated administrator of AWS Organizations.
    """
    caller = Account(id="organization", name="organization management account")
    sessions = AccountSessions(caller, settings or CollectionSettings(), audit)
    organizations = sessions.client(sessions.session(), "organizations", "us-east-1")
    try:
        if not discovery.include_ous:
            return _pages(organizations, "list_accounts", "Accounts")
        members: dict[str, dict[str, Any]] = {}
        pending = list(discovery.include_ous)
        while pending:
            parent = pending.pop()
            for account in _pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent):
                members[account["Id"]] = account
            pending += [ou["Id"] for ou in _pages(organizations, "list_organizational_units_for_parent",
                                                  "OrganizationalUnits", ParentId=parent)]
        return [members[k] for k in sorted(members)]
    except botocore.exceptions.ClientError as exc:
        code = exc.response["Error"].get("Code")
        hint = {
            "AWSOrganizationsNotInUseException": "this account is not part of an organization",
            "AccessDeniedException": "run from the management account or a delegated administrator, with "
                                     "organizations:ListAccounts (and ListAccountsForParent / "
                                     "ListOrganizationalUnitsForParent for include_ous)",
            "ParentNotFoundException": "an id in include_ous does not exist in this organization",
        }.get(code or "", exc.response["Error"].get("Message", ""))
        raise DiscoveryError(f"AWS Organizations discovery failed ({code}): {hint}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise DiscoveryError(f"AWS Organizations discovery failed: {exc}") from exc


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**params):
        out += page.get(key, [])
    return out
