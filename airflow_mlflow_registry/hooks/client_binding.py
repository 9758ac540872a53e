"""Build an ``MlflowClient`` whose credentials, TLS and HTTP policy belong to it alone.

MLflow resolves credentials from process-wide ``MLFLOW_TRACKING_*`` environment variables on
every request and shares one REST store per URI between all clients. To keep two connections
apart inside one worker, the client built here gets its own REST stores:

- credentials and TLS: each store is constructed with a callable that returns this
  connection's fixed ``MlflowHostCreds`` (the stores' constructor argument, stable across
  MLflow 3.x);
- HTTP policy: each request the store sends goes through a :class:`RestTransport` with this
  connection's timeout, retries (creates are never re-sent) and connection pool size;
- workspace: every request the transport sends names this connection's MLflow workspace (or
  none) in its header, whatever the process's ``MLFLOW_WORKSPACE`` / ``mlflow.set_workspace``
  say; a connection with a workspace checks once that the server has it. The
  store's request is resolved with :mod:`~airflow_mlflow_registry.hooks.mlflow_compat`, which
  knows what differs between client versions; a request it does not understand is left to
  MLflow's own transport, still with this connection's credentials.

These are MLflow internals: ``mlflow-skinny`` is pinned ``<4`` and the tests in
``tests/hooks`` (credential isolation, TLS, exactly-once) pin the behaviour on the oldest and
newest supported client. This module imports mlflow at top level; the hook imports it lazily.
It is over 300 lines for one concept: the bound tracking client, registry client and artifact
repository share one transport and one set of credentials, and change together when MLflow's
internals do.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, ErrorCode
from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
from mlflow.tracking._model_registry.client import ModelRegistryClient
from mlflow.tracking._tracking_service.client import TrackingServiceClient
from mlflow.utils.proto_json_utils import parse_dict
from mlflow.utils.request_utils import augmented_raise_for_status
from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

from airflow_mlflow_registry.hooks import mlflow_compat, server_compat
from airflow_mlflow_registry.hooks.artifact_binding import (
    ProxiedArtifactRepository,
    proxied_artifact_root,
)
from airflow_mlflow_registry.hooks.connection_config import DEFAULT_POOL_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow.store.artifact.artifact_repo import ArtifactRepository

    from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.mlflow_compat import StoreRequest

log = logging.getLogger(__name__)

#: Request names that are safe to send twice. Everything else (Create*, Log*, ...) is sent once:
#: MLflow's own transport re-sends POSTs on 5xx and read timeouts, which duplicates versions.
IDEMPOTENT_REQUEST_PREFIXES = ("Get", "Search", "List", "Set", "Update", "Delete")
BACKOFF_FACTOR = 0.5
#: MLflow's default jitter and Retry-After handling, given explicitly so that the transport
#: knows which of MLflow's cached sessions its requests use (see ``_request_policy``).
BACKOFF_JITTER = 1.0
RESPECT_RETRY_AFTER_HEADER = True


def host_creds(config: MlflowConnectionConfig, host: str | None = None) -> MlflowHostCreds:
    """Return the fixed credentials and TLS settings of ``config`` for ``host``.

    ``host`` defaults to the connection's REST host (tracking server or Databricks workspace).
    """
    return MlflowHostCreds(
        host=host or config.rest_host,
        username=config.username,
        password=config.password,
        token=config.token,
        ignore_tls_verification=config.insecure_tls,
        server_cert_path=config.ca_bundle_path,
        client_cert_path=config.client_cert_path,
    )


class RestTransport:
    """Sends MLflow REST requests with one connection's credentials, timeout, retries and
    connection pool size.

    Requests go through MLflow's ``http_request``, whose ``requests`` session (one per process
    and retry policy) keeps up to ``pool_size`` open connections per host once this transport
    has sent its first request in the process: up to that many threads sharing the transport
    reuse their connections instead of opening (and discarding) new ones.
    """

    def __init__(
        self,
        creds: MlflowHostCreds,
        timeout: float,
        max_retries: int,
        pool_size: int = DEFAULT_POOL_SIZE,
        workspace: str | None = None,
    ) -> None:
        self.creds = creds
        self.timeout = timeout
        self.max_retries = max_retries
        self.pool_size = pool_size
        self.workspace = workspace
        self._pool_lock = threading.Lock()
        self._pool_widened_in_pid: int | None = None
        self._workspace_lock = threading.Lock()
        self._workspace_checked = workspace is None

    def _request_policy(self, retried: bool) -> dict[str, Any]:
        """``http_request``'s retry arguments; the sessions they select (retried or not) keep at
        least ``pool_size`` connections per host in this process (sessions are per process)."""
        pid = os.getpid()
        if self._pool_widened_in_pid != pid:
            with self._pool_lock:
                if self._pool_widened_in_pid != pid:
                    for retries in {0, self.max_retries}:
                        mlflow_compat.widen_request_pool(
                            self.pool_size,
                            max_retries=retries,
                            backoff_factor=BACKOFF_FACTOR,
                            backoff_jitter=BACKOFF_JITTER,
                            respect_retry_after_header=RESPECT_RETRY_AFTER_HEADER,
                        )
                    self._pool_widened_in_pid = pid
        return {
            "max_retries": self.max_retries if retried else 0,
            "backoff_factor": BACKOFF_FACTOR,
            "backoff_jitter": BACKOFF_JITTER,
            "respect_retry_after_header": RESPECT_RETRY_AFTER_HEADER,
        }

    def get_host_creds(self) -> MlflowHostCreds:
        """The store's credential callable: always this connection's credentials."""
        return self.creds

    def _http(
        self,
        method: str,
        endpoint: str,
        *,
        retried: bool,
        extra_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One request through MLflow's ``http_request`` with this connection's policy and
        workspace header; the response, whatever its status."""
        headers = {**(extra_headers or {}), **server_compat.workspace_headers(self.workspace)}
        return http_request(
            self.creds,
            endpoint,
            method,
            timeout=self.timeout,
            extra_headers=headers,
            **self._request_policy(retried),
            **kwargs,
        )

    def _check_workspace(self) -> None:
        """Before the first request of a connection with a workspace: check, once per
        transport, that the server has workspaces and this one.

        :raises MlflowWorkspaceError: when it does not (checked again on the next request).
        """
        if self._workspace_checked:
            return
        with self._workspace_lock:
            if self._workspace_checked:
                return
            assert self.workspace is not None  # only a transport with a workspace checks

            def get(endpoint: str, params: dict[str, str]) -> Any:
                return self._http("GET", endpoint, retried=True, params=params)

            server_compat.check_workspace(get, self.creds.host, self.workspace)
            self._workspace_checked = True

    def send(self, method: str, endpoint: str, *, retried: bool, **kwargs: Any) -> Any:
        """Send one HTTP request to ``endpoint`` (relative to the host); return the response.

        ``retried``: whether the HTTP layer may re-send it (only for idempotent requests whose
        body can be sent again). ``kwargs`` go to ``requests`` (``params``, ``data``,
        ``stream``, ...) and ``extra_headers`` to MLflow's ``http_request``.

        :raises requests.HTTPError: for an error status, with the server's message.
        :raises MlflowWorkspaceError: when the connection's workspace cannot be used.
        """
        self._check_workspace()
        response = self._http(method, endpoint, retried=retried, **kwargs)
        augmented_raise_for_status(response)
        return response

    @functools.cached_property
    def server_version(self) -> str | None:
        """The server's MLflow version (``GET /version``), asked at most once; None when it
        does not say."""
        return server_compat.reported_server_version(self.creds, self.timeout, self.workspace)

    def call(self, request: StoreRequest) -> Any:
        """Send ``request``, trying its endpoints in order while the server lacks an endpoint.

        Mirrors ``mlflow.utils.rest_utils.call_endpoint(s)`` with a per-connection policy:
        only requests named in ``IDEMPOTENT_REQUEST_PREFIXES`` are retried.

        :raises MlflowServerTooOldError: when the server lacks every endpoint of ``request``
            and reports an MLflow version older than 3 (asked only then).
        :raises MlflowWorkspaceError: when the connection's workspace cannot be used.
        """
        self._check_workspace()
        retried = request.name.startswith(IDEMPOTENT_REQUEST_PREFIXES)
        body = json.loads(request.json_body) if request.json_body is not None else None
        for index, (endpoint, method) in enumerate(request.endpoints):
            payload = {"params": body} if method == "GET" else {"json": body}
            try:
                response = self._http(
                    method,
                    endpoint,
                    retried=retried,
                    extra_headers=request.extra_headers,
                    **payload,
                )
                response = verify_rest_response(response, endpoint)
            except MlflowException as exc:
                if exc.error_code != ErrorCode.Name(ENDPOINT_NOT_FOUND):
                    raise
                if index < len(request.endpoints) - 1:
                    continue
                needs = f"{request.name} ({method} {endpoint}, answered 404 there)"
                too_old = server_compat.too_old_server_error(needs, self.server_version)
                if too_old is None:
                    raise
                raise too_old from exc
            if response.status_code != 204:
                parse_dict(js_dict=json.loads(response.text), message=request.response_proto)
            return request.response_proto
        raise AssertionError("unreachable: a StoreRequest always has an endpoint")


class PolicyRoutingMixin:
    """Mixed in front of an MLflow REST store class: the store's requests (and the registry
    store's webhook requests) go through ``self.transport`` whenever
    :mod:`~airflow_mlflow_registry.hooks.mlflow_compat` understands them.
    """

    transport: RestTransport

    def _call_endpoint(self, *args: Any, **kwargs: Any) -> Any:
        mlflow_call = super()._call_endpoint  # type: ignore[misc]
        describe = mlflow_compat.describe_store_request
        return self._through_transport(describe, mlflow_call, args, kwargs)

    def _call_webhook_endpoint(self, *args: Any, **kwargs: Any) -> Any:
        """The registry store's webhook API (MLflow 3.3+), through ``self.transport`` too."""
        mlflow_call = super()._call_webhook_endpoint  # type: ignore[misc]
        describe = mlflow_compat.describe_webhook_request
        return self._through_transport(describe, mlflow_call, args, kwargs)

    def _through_transport(
        self,
        describe: Callable[..., StoreRequest | None],
        mlflow_call: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``mlflow_call(*args, **kwargs)`` sent by ``self.transport`` when ``describe``
        resolves it, else by MLflow (still with the connection's credentials)."""
        request = describe(self, mlflow_call, args, kwargs)
        if request is None:
            return mlflow_call(*args, **kwargs)
        return self.transport.call(request)


@functools.cache
def _bound_store_class(store_class: type) -> type:
    return type(f"Bound{store_class.__name__}", (PolicyRoutingMixin, store_class), {})


def bound_rest_store(store_class: type, transport: RestTransport) -> Any:
    """A new ``store_class`` (an MLflow REST store) whose credentials and HTTP policy are
    ``transport``'s."""
    store = _bound_store_class(store_class)(transport.get_host_creds)
    store.transport = transport
    return store


class BoundTrackingServiceClient(TrackingServiceClient):
    """``TrackingServiceClient`` that always uses the store it was given, and whose artifact
    operations use repositories bound to the same connection (MLflow's own build them from
    environment credentials and cache them process-wide by run id)."""

    def __init__(self, tracking_uri: str, store: Any, transport: RestTransport) -> None:
        self._bound_store = store
        self._artifact_transport = transport
        super().__init__(tracking_uri)

    @property
    def store(self) -> Any:
        return self._bound_store

    def _get_artifact_repo(self, resource_id: str, *, resource: str = "run") -> Any:
        """The artifact repository of a run (``resource="run"``) or a logged model."""
        if resource == "run":
            location = self.get_run(resource_id).info.artifact_uri
        else:
            location = self.get_logged_model(resource_id).artifact_location
        return artifact_repository(location, self.tracking_uri, self._artifact_transport)

    def list_artifacts(self, run_id: str, path: str | None = None) -> Any:
        """The run's artifacts directly under ``path``, listed as this connection's user."""
        return self._get_artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Download the run's artifact file or directory ``path``; return its local path."""
        local_path: str = self._get_artifact_repo(run_id).download_artifacts(path, dst_path)
        return local_path


def artifact_repository(
    artifact_uri: str, tracking_uri: str, transport: RestTransport
) -> ArtifactRepository:
    """The repository for ``artifact_uri``: bound to ``transport`` when the tracking server
    proxies it, else MLflow's own (cloud stores and local paths, with their usual
    credentials: the MLflow connection carries none for them)."""
    root = proxied_artifact_root(artifact_uri, tracking_uri)
    if root is None:
        return mlflow_compat.mlflow_artifact_repository(artifact_uri, tracking_uri)
    return ProxiedArtifactRepository(artifact_uri, root, transport, tracking_uri)


class BoundModelRegistryClient(ModelRegistryClient):
    """``ModelRegistryClient`` that always uses the store it was given.

    With ``tracking_client`` (given for a Unity Catalog registry, whose store copies the model
    files into UC storage), ``create_model_version`` downloads the source through that bound
    client and hands the store the local copy, so the store does not download it with
    MLflow's environment credentials.
    """

    def __init__(
        self,
        registry_uri: str,
        tracking_uri: str,
        store: Any,
        tracking_client: BoundTrackingServiceClient | None = None,
    ) -> None:
        self._bound_store = store
        self._source_tracking_client = tracking_client
        super().__init__(registry_uri, tracking_uri)

    @property
    def store(self) -> Any:
        return self._bound_store

    def create_model_version(self, name: str, source: str, *args: Any, **kwargs: Any) -> Any:
        if self._source_tracking_client is None or kwargs.get("local_model_path") is not None:
            return super().create_model_version(name, source, *args, **kwargs)
        from airflow_mlflow_registry.hooks.model_source_download import download_model_source

        with tempfile.TemporaryDirectory(prefix="mlflow-model-source-") as download_dir:
            # The source is the caller's own (not read from a registry): cloud and local
            # sources are read as MLflow's Unity Catalog store would read them.
            kwargs["local_model_path"] = download_model_source(
                self._source_tracking_client,
                self,
                source,
                download_dir,
                allow_ambient_credentials=True,
            )
            return super().create_model_version(name, source, *args, **kwargs)


def build_client(config: MlflowConnectionConfig) -> MlflowClient:
    """Return a new ``MlflowClient`` bound to ``config`` alone.

    Local stores (``sqlite://``, ``file://``, databases, whose credentials are inside the URI)
    get a plain client. REST stores get this connection's credentials, TLS and HTTP policy;
    nothing is read from or written to ``os.environ``.

    :raises MlflowConnectionConfigError: when a certificate file of ``config`` is not readable
        here.
    """
    registry_uri = config.registry_uri or _default_registry_uri(config)
    if not config.uses_rest:
        return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=registry_uri)
    config.check_certificate_files()
    if config.insecure_tls:
        log.warning(
            "Connection %r: TLS certificate verification is OFF (insecure_tls). Anyone on the "
            "network path can read and alter MLflow traffic; set ca_bundle_path instead.",
            config.conn_id,
        )

    transport = RestTransport(
        host_creds(config), config.timeout, config.max_retries, config.pool_size, config.workspace
    )
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=registry_uri)
    tracking_store = bound_rest_store(
        mlflow_compat.tracking_store_class(config.is_databricks), transport
    )
    tracking_client = BoundTrackingServiceClient(config.tracking_uri, tracking_store, transport)
    client._tracking_client = tracking_client
    registry_store = _registry_store(config, registry_uri, transport)
    if registry_store is not None:
        copies_source = registry_uri.startswith("databricks-uc")
        client._registry_client_lazy = BoundModelRegistryClient(  # type: ignore[attr-defined]
            registry_uri,
            config.tracking_uri,
            registry_store,
            tracking_client if copies_source else None,
        )
    return client


def _default_registry_uri(config: MlflowConnectionConfig) -> str:
    # MLflow 3 defaults Databricks tracking to the Unity Catalog registry.
    return "databricks-uc" if config.is_databricks else config.tracking_uri


def _registry_store(
    config: MlflowConnectionConfig, registry_uri: str, transport: RestTransport
) -> Any | None:
    """Return the bound registry store for ``registry_uri``, or None for a local store."""
    if registry_uri in (config.tracking_uri, "databricks"):
        return bound_rest_store(RegistryRestStore, transport)
    if registry_uri.startswith("databricks-uc"):
        # The Unity Catalog store talks to its own endpoints and cloud storage; bind only its
        # credential callables (its HTTP policy stays MLflow's). It uploads model files with
        # scoped credentials it requests through them; BoundModelRegistryClient downloads the
        # source for it.
        store = mlflow_compat.uc_registry_store_class()(registry_uri, config.tracking_uri)
        store.get_host_creds = transport.get_host_creds
        store.get_tracking_host_creds = transport.get_host_creds
        return store
    if registry_uri.startswith(("http://", "https://")):
        creds = host_creds(config, host=registry_uri)
        return bound_rest_store(
            RegistryRestStore,
            RestTransport(
                creds, config.timeout, config.max_retries, config.pool_size, config.workspace
            ),
        )
    return None
