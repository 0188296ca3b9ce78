"""Sessions for one account: credentials resolved once, guarded sessions and shared clients.

boto3 sessions are not shared across threads; this factory builds guarded sessions from the same
(assumed-role or simulated) credentials, with the read-only guard installed, botocore retries so
throttling costs time instead of data, and endpoint overrides honoured the way boto3 documents them.
A collection uses one thread-safe client per (service, region), built once under a lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import importlib.metadata
import json
import os
import platform
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.loaders
import botocore.session
import botocore.utils

from inventag_pipeline.aws import errors as collection_errors
from inventag_pipeline.aws.guard import AuditLog, ReadOnlyGuard
from inventag_pipeline.core.accounts import Account
from inventag_pipeline.core.registry import GLOBAL_REGION


class CredentialsError(RuntimeError):
    """No usable credentials for an account; the message says what to do."""


DEFAULT_CIRCUIT_BREAKER_THRESHOLD = 3
DEFAULT_WORKERS = 16
DEFAULT_DETAIL_WORKERS = 32
DEFAULT_THROTTLE_RETRIES = 4


def _whole_number_from_env(name: str, default: int, minimum: int, meaning: str) -> int:
    """A whole-number setting from the environment, read when settings are built; a clear error if invalid."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}{meaning}, got {text!r}")
    return value


def circuit_breaker_threshold_from_env() -> int:
    """`INVENTAG_CIRCUIT_BREAKER_THRESHOLD`, read when settings are built (0 turns the breaker off)."""
    return _whole_number_from_env("INVENTAG_CIRCUIT_BREAKER_THRESHOLD", DEFAULT_CIRCUIT_BREAKER_THRESHOLD, 0,
                                  " (0 = off)")


USE_CONFIG_MODES = ("auto", "off")


def use_config_from_env() -> str:
    """`INVENTAG_USE_AWS_CONFIG`: `auto` (default) reads what a recording AWS Config recorder holds, `off` never."""
    text = os.environ.get("INVENTAG_USE_AWS_CONFIG", "").strip().lower() or "auto"
    text = {"on": "auto", "true": "auto", "1": "auto", "false": "off", "0": "off"}.get(text, text)
    if text not in USE_CONFIG_MODES:
        raise ValueError(f"INVENTAG_USE_AWS_CONFIG must be one of {', '.join(USE_CONFIG_MODES)}, got {text!r}")
    return text


TAGGING_API_MODES = ("on", "strict", "off")


def tagging_api_mode(value: bool | str) -> str:
    """One of TAGGING_API_MODES; booleans and 1/0/true/false are on/off."""
    text = str(value).strip().lower() or "on"
    text = {"true": "on", "1": "on", "false": "off", "0": "off"}.get(text, text)
    if text not in TAGGING_API_MODES:
        raise ValueError(f"INVENTAG_TAGGING_API must be one of {', '.join(TAGGING_API_MODES)}, got {value!r}")
    return text


def tagging_api_from_env() -> str:
    """`INVENTAG_TAGGING_API`: how tags are read in bulk from the Resource Groups Tagging API.

    `on` (default): a resource the listing leaves out is untagged where the listing holds the ARN of
    another of its type in the region (else it is asked); `strict`: each resource the listing leaves out is asked;
    `off`: a tag call per resource.
    """
    return tagging_api_mode(os.environ.get("INVENTAG_TAGGING_API", ""))


def config_aggregator_from_env() -> str | None:
    """`INVENTAG_CONFIG_AGGREGATOR`: `NAME` or `NAME@REGION` of an organization's AWS Config aggregator."""
    return os.environ.get("INVENTAG_CONFIG_AGGREGATOR", "").strip() or None


RETRY_MODES = ("standard", "adaptive")


def retry_mode_from_env() -> str:
    """`INVENTAG_RETRY_MODE`: botocore's retry mode, `standard` (default) or `adaptive`."""
    text = os.environ.get("INVENTAG_RETRY_MODE", "").strip().lower() or "standard"
    if text not in RETRY_MODES:
        raise ValueError(f"INVENTAG_RETRY_MODE must be one of {', '.join(RETRY_MODES)}, got {text!r}")
    return text


def workers_from_env() -> int:
    """`INVENTAG_COLLECT_WORKERS`: (service, region) scopes collected at once per account."""
    return _whole_number_from_env("INVENTAG_COLLECT_WORKERS", DEFAULT_WORKERS, 1, "")


def detail_workers_from_env() -> int:
    """`INVENTAG_COLLECT_DETAIL_WORKERS`: per-resource detail calls in flight at once per account."""
    return _whole_number_from_env("INVENTAG_COLLECT_DETAIL_WORKERS", DEFAULT_DETAIL_WORKERS, 1, "")


def throttle_retries_from_env() -> int:
    """`INVENTAG_THROTTLE_RETRIES`: further tries of a call botocore gave up on while throttled."""
    return _whole_number_from_env("INVENTAG_THROTTLE_RETRIES", DEFAULT_THROTTLE_RETRIES, 0, "")


@dataclass(frozen=True)
class CollectionSettings:
    # Scopes in flight and detail calls in flight, per account: each call mostly waits on the network,
    # so these, not CPU, set the speed against AWS (see benchmarks/bench_collect.py).
    max_workers: int = field(default_factory=workers_from_env)
    detail_workers: int = field(default_factory=detail_workers_from_env)
    max_attempts: int = 6
    retry_mode: str = field(default_factory=retry_mode_from_env)
    # After botocore's own attempts: how often a throttled call is tried again before its type fails,
    # first after about `throttle_base_delay_s`, then twice as long each time (at most 20 s).
    throttle_retries: int = field(default_factory=throttle_retries_from_env)
    throttle_base_delay_s: float = 1.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    simulator_url: str = "http://127.0.0.1:5555"
    # Consecutive failing resource types after which the rest of a (service, region) scope is not tried.
    circuit_breaker_threshold: int = field(default_factory=circuit_breaker_threshold_from_env)
    # Lifetime of an assumed-role session; botocore refreshes it before expiry, so a collection that
    # outlives it keeps working.
    role_session_seconds: int = 3600
    # AWS Config fast path and past days (aws/config_source.py): "auto" or "off".
    use_config: str = field(default_factory=use_config_from_env)
    # Query this aggregator (with the base credentials) instead of each region's recorder.
    config_aggregator: str | None = field(default_factory=config_aggregator_from_env)
    # Tags of the types with a `tagging_api_type` from one GetResources listing per region instead of a
    # tag call per resource: "on", "strict" or "off" (tagging_api_from_env); True / False are on / off.
    tagging_api: bool | str = field(default_factory=tagging_api_from_env)


class PlainJSONFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's model file loader, decoding into plain dicts (ordered since Python 3.7).

    botocore decodes every model into OrderedDicts, which takes twice the CPU; loading the models
    is a third of building a collection's hundred-odd clients.
    """

    def load_file(self, file_path: str) -> Any:
        for extension, opener in ((".json", open), (".json.gz", gzip.open)):
            if os.path.isfile(file_path + extension):
                with opener(file_path + extension, "rb") as file:
                    return json.loads(file.read().decode("utf-8"))
        return None


def parse_aws_timestamp(value: Any) -> dt.datetime:
    """botocore's timestamp parser with a fast path: `datetime.fromisoformat` for ISO-8601 text.

    botocore's own tries the text as an epoch number, then parses it with dateutil, building a
    `tzlocal` each time: about a tenth of a collection's CPU. The values are the same instants; epoch
    numbers (JSON protocols), RFC 822 dates and anything else still go to botocore's parser.
    """
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            with contextlib.suppress(ValueError):
                return dt.datetime.fromisoformat(value)
    return botocore.utils.parse_timestamp(value)


def user_agent() -> str:
    """`inventag-pipeline/<version> Botocore/<version> Python/<version>`."""
    try:
        version = importlib.metadata.version("inventag-pipeline")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"inventag-pipeline/{version} Botocore/{botocore.__version__} Python/{platform.python_version()}"


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
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._shared_session: boto3.session.Session | None = None
        # One loader for all sessions: service models are parsed once, not once per thread.
        self._loader = botocore.loaders.create_loader()
        self._loader.file_loader = PlainJSONFileLoader()
        self.client_config = botocore.config.Config(
            retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # A fixed User-Agent: names the tool in CloudTrail, and spares botocore rebuilding and
            # sanitising its many-part default on every request (about a tenth of a collection's CPU).
            user_agent=user_agent(),
            # A scope's client carries all of its type's detail calls at once: one connection each.
            max_pool_connections=max(10, settings.detail_workers + 2),
        )

    def _new_session(self, credentials: dict[str, str] | None) -> boto3.session.Session:
        core = botocore.session.get_session()
        core.register_component("data_loader", self._loader)
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_aws_timestamp)
        if credentials is None and self._role_credentials is not None:
            # One refreshable credential object shared by every thread's session (it locks itself).
            core._credentials = self._role_credentials
        session = boto3.session.Session(**(credentials or {}), region_name="us-east-1", botocore_session=core)
        return self.guard.install(session)

    def _endpoint(self, service: str) -> str | None:
        return endpoint_for(service, self.settings.simulator_url if self.account.simulated else None)

    @property
    def served_by_simulator(self) -> bool:
        """The simulated account, or an account whose AWS endpoint is the simulator (the demo's organization)."""
        simulator = self.settings.simulator_url.rstrip("/")
        return self.account.simulated or (self._endpoint("ec2") or "").rstrip("/") == simulator

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

    def shared_client(self, service: str, region: str) -> Any:
        """The collection's one client for (service, region), used by every thread that needs it.

        Built clients are thread-safe, but building one (and its session) is not and costs milliseconds
        of CPU, which at hundreds of scopes and thousands of calls is most of a collection's CPU. Sharing
        also gives each (service, region) one retry quota (and, in adaptive mode, one rate limiter), as AWS
        throttles per API and region. `region` may be the registry's "global", whose services answer in
        us-east-1. Call after `resolve_credentials`.
        """
        key = (service, "us-east-1" if region == GLOBAL_REGION else region)  # global services answer there
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._clients_lock:
            if key not in self._clients:
                if self._shared_session is None:
                    self._shared_session = self.session()
                self._clients[key] = self.client(self._shared_session, *key)
            return self._clients[key]

    def _caller_identity(self) -> dict[str, Any]:
        """GetCallerIdentity with the collector's patience for throttling: a throttle says nothing about
        the credentials, so a burst that outlasts botocore's retries is waited out, then reported as such."""
        client = self.client(self.session(), "sts", "us-east-1")
        patience = collection_errors.Patience(retries=self.settings.throttle_retries,
                                              base_delay_s=self.settings.throttle_base_delay_s)
        try:
            return collection_errors.patiently(client.get_caller_identity, patience)
        except botocore.exceptions.ClientError as exc:
            if not collection_errors.botocore_gave_up_throttled(exc):
                raise
            raise CredentialsError(
                f"AWS kept throttling sts:GetCallerIdentity for account {self.account.id} after "
                f"{patience.retries + 1} tries, so its credentials could not be checked; the next run will "
                "try again") from exc

    def verify_identity(self) -> str:
        """`sts:GetCallerIdentity` with the resolved credentials; the account must be the one asked for."""
        try:
            identity = self._caller_identity()
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
