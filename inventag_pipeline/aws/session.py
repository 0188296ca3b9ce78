"""Sessions for one account: credentials resolved once, a fresh guarded session per thread.

boto3 sessions and clients are not shared across threads; this factory hands each worker its own
session built from the same (assumed-role or simulated) credentials, with the read-only guard
installed, adaptive retries so throttling costs time instead of data, and endpoint overrides
honoured the way boto3 documents them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.loaders
import botocore.session

from inventag_pipeline.aws.guard import AuditLog, ReadOnlyGuard
from inventag_pipeline.core.accounts import Account


class CredentialsError(RuntimeError):
    """No usable credentials for an account; the message says what to do."""


DEFAULT_CIRCUIT_BREAKER_THRESHOLD = 3


def circuit_breaker_threshold_from_env() -> int:
    """`INVENTAG_CIRCUIT_BREAKER_THRESHOLD`, read when settings are built (0 turns the breaker off)."""
    text = os.environ.get("INVENTAG_CIRCUIT_BREAKER_THRESHOLD", "").strip()
    if not text:
        return DEFAULT_CIRCUIT_BREAKER_THRESHOLD
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"INVENTAG_CIRCUIT_BREAKER_THRESHOLD must be a whole number >= 0 (0 = off), got {text!r}")
    return value


@dataclass(frozen=True)
class CollectionSettings:
    max_workers: int = 8
    max_attempts: int = 6
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    simulator_url: str = "http://127.0.0.1:5555"
    # Consecutive failing resource types after which the rest of a (service, region) scope is not tried.
    circuit_breaker_threshold: int = field(default_factory=circuit_breaker_threshold_from_env)
    # Lifetime of an assumed-role session; botocore refreshes it before expiry, so a collection that
    # outlives it keeps working.
    role_session_seconds: int = 3600


def endpoint_for(service: str, fallback: str | None) -> str | None:
    """boto3's own precedence: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, then ours."""
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or fallback


class AccountSessions:
    """Builds guarded sessions and clients for one account."""

    def __init__(self, account: Account, settings: CollectionSettings, audit: AuditLog | None = None):
        self.account = account
        self.settings = settings
        self.audit = audit or AuditLog()
        self.guard = ReadOnlyGuard(self.audit)
        self._credentials: dict[str, str] | None = None
        self._role_credentials: botocore.credentials.RefreshableCredentials | None = None
        # One loader for all sessions: service models are parsed once, not once per thread.
        self._loader = botocore.loaders.create_loader()
        self.client_config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            user_agent_extra="inventag-pipeline",
            max_pool_connections=max(10, settings.max_workers),
        )

    def _new_session(self, credentials: dict[str, str] | None) -> boto3.session.Session:
        core = botocore.session.get_session()
        core.register_component("data_loader", self._loader)
        if credentials is None and self._role_credentials is not None:
            # One refreshable credential object shared by every thread's session (it locks itself).
            core._credentials = self._role_credentials
        session = boto3.session.Session(**(credentials or {}), region_name="us-east-1", botocore_session=core)
        return self.guard.install(session)

    def _endpoint(self, service: str) -> str | None:
        return endpoint_for(service, self.settings.simulator_url if self.account.simulated else None)

    def resolve_credentials(self) -> None:
        """Resolve credentials once: simulated keys, the ambient chain, or the account's role."""
        if self.account.simulated:
            self._credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            return
        base = self._new_session(None)
        if base.get_credentials() is None:
            raise CredentialsError(
                f"no AWS credentials found for account {self.account.id} ({self.account.name}). Configure them "
                "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO or an instance role), or unset "
                "INVENTAG_ACCOUNTS_FILE to run against the simulated demo account."
            )
        if not self.account.role_arn:
            self._credentials = None
            return
        sts = base.client("sts", endpoint_url=self._endpoint("sts"), config=self.client_config)
        self._credentials = None
        self._role_credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
            metadata=self._assume_role(sts), refresh_using=lambda: self._assume_role(sts), method="assume-role")

    def _assume_role(self, sts: Any) -> dict[str, str]:
        """Fresh credentials for the account's role, in the shape botocore's refresher expects."""
        assert self.account.role_arn
        kwargs: dict[str, Any] = {"RoleArn": self.account.role_arn, "RoleSessionName": "inventag-pipeline",
                                  "DurationSeconds": self.settings.role_session_seconds}
        if self.account.external_id:
            kwargs["ExternalId"] = self.account.external_id
        try:
            creds = sts.assume_role(**kwargs)["Credentials"]
        except botocore.exceptions.ClientError as exc:
            raise CredentialsError(
                f"cannot assume {self.account.role_arn} for account {self.account.id}: "
                f"{exc.response['Error'].get('Code')}: {exc.response['Error'].get('Message')}"
            ) from exc
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

    def session(self) -> boto3.session.Session:
        """A new guarded session for the calling thread."""
        return self._new_session(self._credentials)

    def client(self, session: boto3.session.Session, service: str, region: str):
        return session.client(
            service, region_name=region, endpoint_url=self._endpoint(service), config=self.client_config
        )

    def verify_identity(self) -> str:
        """`sts:GetCallerIdentity` with the resolved credentials; the account must be the one asked for."""
        try:
            identity = self.client(self.session(), "sts", "us-east-1").get_caller_identity()
        except botocore.exceptions.NoCredentialsError as exc:
            raise CredentialsError(
                f"no AWS credentials found for account {self.account.id}. Configure them or unset "
                "INVENTAG_ACCOUNTS_FILE to use the simulated demo account."
            ) from exc
        except botocore.exceptions.EndpointConnectionError as exc:
            if self.account.simulated:
                raise CredentialsError(
                    f"the simulated AWS account is not answering at {self._endpoint('sts')}. Start it with "
                    "`make dev` or `inventag simulator serve`, or configure real accounts with "
                    "INVENTAG_ACCOUNTS_FILE."
                ) from exc
            raise CredentialsError(f"cannot reach AWS STS for account {self.account.id}: {exc}") from exc
        except botocore.exceptions.ClientError as exc:
            raise CredentialsError(
                f"credentials for account {self.account.id} were rejected: {exc.response['Error'].get('Code')}"
            ) from exc
        if identity["Account"] != self.account.id:
            raise CredentialsError(
                f"credentials belong to account {identity['Account']}, not {self.account.id}: set role_arn "
                "for this account in the accounts file"
            )
        return identity["Arn"]
