"""Build an ``MlflowClient`` whose credentials, TLS and HTTP policy belong to it alone.

MLflow resolves credentials from process-wide ``MLFLOW_TRACKING_*`` environment variables on
every request and shares one REST store per URI between all clients. To keep two connections
apart inside one worker, the client built here gets its own REST stores, constructed with a
callable that returns this connection's fixed ``MlflowHostCreds``, and those stores send their
requests with this connection's timeout and retry policy instead of MLflow's global one.

This subclasses MLflow's REST stores (internal API): ``mlflow-skinny`` is pinned ``<4`` and
``tests/hooks/test_client_binding.py`` pins the behaviour. This module imports mlflow at top
level; the hook imports it lazily.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.exceptions import RestException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, ErrorCode
from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
from mlflow.store.tracking.databricks_rest_store import DatabricksTracingRestStore
from mlflow.store.tracking.rest_store import RestStore as TrackingRestStore
from mlflow.tracking._model_registry.client import ModelRegistryClient
from mlflow.tracking._tracking_service.client import TrackingServiceClient
from mlflow.utils.proto_json_utils import parse_dict
from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig

log = logging.getLogger(__name__)

#: Request names that are safe to send twice. Everything else (Create*, Log*, ...) is sent once:
#: MLflow's own transport re-sends POSTs on 5xx and read timeouts, which duplicates versions.
IDEMPOTENT_REQUEST_PREFIXES = ("Get", "Search", "List", "Set", "Update", "Delete")
BACKOFF_FACTOR = 0.5


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
    """Sends MLflow REST requests with one connection's credentials, timeout and retries."""

    def __init__(self, creds: MlflowHostCreds, timeout: float, max_retries: int) -> None:
        self.creds = creds
        self.timeout = timeout
        self.max_retries = max_retries

    def get_host_creds(self) -> MlflowHostCreds:
        """The store's credential callable: always this connection's credentials."""
        return self.creds

    def call(
        self,
        request_name: str,
        endpoints: Sequence[tuple[str, str]],
        json_body: str | None,
        response_proto: Any,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request, trying ``endpoints`` in order while the server lacks an endpoint.

        Mirrors ``mlflow.utils.rest_utils.call_endpoint(s)`` with a per-connection policy:
        only requests named in ``IDEMPOTENT_REQUEST_PREFIXES`` are retried.
        """
        retries = self.max_retries if request_name.startswith(IDEMPOTENT_REQUEST_PREFIXES) else 0
        body = json.loads(json_body) if json_body is not None else None
        for index, (endpoint, method) in enumerate(endpoints):
            payload = {"params": body} if method == "GET" else {"json": body}
            try:
                response = http_request(
                    self.creds,
                    endpoint,
                    method,
                    max_retries=retries,
                    backoff_factor=BACKOFF_FACTOR,
                    timeout=self.timeout,
                    extra_headers=extra_headers,
                    **payload,
                )
                response = verify_rest_response(response, endpoint)
            except RestException as exc:
                last = index == len(endpoints) - 1
                if last or exc.error_code != ErrorCode.Name(ENDPOINT_NOT_FOUND):
                    raise
                continue
            if response.status_code != 204:
                parse_dict(js_dict=json.loads(response.text), message=response_proto)
            return response_proto
        raise AssertionError("unreachable: endpoints is never empty")


class BoundRegistryStore(RegistryRestStore):
    """Model-registry REST store that sends every request through one ``RestTransport``."""

    def __init__(self, transport: RestTransport) -> None:
        super().__init__(transport.get_host_creds)
        self.transport = transport

    def _call_endpoint(
        self,
        api: Any,
        json_body: str | None,
        call_all_endpoints: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        self._validate_workspace_support_if_specified()
        if call_all_endpoints:
            endpoints = self._get_all_endpoints_from_method(api)
        else:
            endpoints = [self._get_endpoint_from_method(api)]
        return self.transport.call(
            api.__name__, endpoints, json_body, self._get_response_from_method(api), extra_headers
        )


class BoundTrackingRoutingMixin:
    """Routes a tracking REST store's requests through one ``RestTransport``."""

    transport: RestTransport
    _METHOD_TO_INFO: dict[Any, tuple[str, str]]
    _V3_METHOD_TO_INFO: dict[Any, tuple[str, str]]
    _V3_APIS: Any

    def _validate_workspace_support_if_specified(self) -> None: ...  # provided by the store

    def _call_endpoint(
        self,
        api: Any,
        json_body: str | None = None,
        endpoint: str | None = None,
        retry_timeout_seconds: float | None = None,
        response_proto: Any = None,
    ) -> Any:
        method_to_info = self._V3_METHOD_TO_INFO if api in self._V3_APIS else self._METHOD_TO_INFO
        self._validate_workspace_support_if_specified()
        default_endpoint, method = method_to_info[api]
        return self.transport.call(
            api.__name__,
            [(endpoint or default_endpoint, method)],
            json_body,
            response_proto or api.Response(),
        )


class BoundTrackingStore(BoundTrackingRoutingMixin, TrackingRestStore):  # type: ignore[misc]
    """Tracking REST store (MLflow server) bound to one ``RestTransport``."""

    def __init__(self, transport: RestTransport) -> None:
        TrackingRestStore.__init__(self, transport.get_host_creds)
        self.transport = transport


class BoundDatabricksTrackingStore(BoundTrackingRoutingMixin, DatabricksTracingRestStore):  # type: ignore[misc]
    """Tracking REST store (Databricks workspace) bound to one ``RestTransport``."""

    def __init__(self, transport: RestTransport) -> None:
        DatabricksTracingRestStore.__init__(self, transport.get_host_creds)
        self.transport = transport


class BoundTrackingServiceClient(TrackingServiceClient):
    """``TrackingServiceClient`` that always uses the store it was given."""

    def __init__(self, tracking_uri: str, store: Any) -> None:
        self._bound_store = store
        super().__init__(tracking_uri)

    @property
    def store(self) -> Any:
        return self._bound_store


class BoundModelRegistryClient(ModelRegistryClient):
    """``ModelRegistryClient`` that always uses the store it was given."""

    def __init__(self, registry_uri: str, tracking_uri: str, store: Any) -> None:
        self._bound_store = store
        super().__init__(registry_uri, tracking_uri)

    @property
    def store(self) -> Any:
        return self._bound_store


def build_client(config: MlflowConnectionConfig) -> MlflowClient:
    """Return a new ``MlflowClient`` bound to ``config`` alone.

    Local stores (``sqlite://``, ``file://``, databases) carry no credentials and get a plain
    client. REST stores get this connection's credentials, TLS and HTTP policy; nothing is
    read from or written to ``os.environ``.
    """
    registry_uri = config.registry_uri or _default_registry_uri(config)
    if not config.uses_rest:
        return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=registry_uri)
    if config.insecure_tls:
        log.warning(
            "Connection %r: TLS certificate verification is OFF (insecure_tls). Anyone on the "
            "network path can read and alter MLflow traffic; set ca_bundle_path instead.",
            config.conn_id,
        )

    transport = RestTransport(host_creds(config), config.timeout, config.max_retries)
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=registry_uri)
    tracking_store_cls = (
        BoundDatabricksTrackingStore if config.is_databricks else BoundTrackingStore
    )
    client._tracking_client = BoundTrackingServiceClient(
        config.tracking_uri, tracking_store_cls(transport)
    )
    registry_store = _registry_store(config, registry_uri, transport)
    if registry_store is not None:
        client._registry_client_lazy = BoundModelRegistryClient(  # type: ignore[attr-defined]
            registry_uri, config.tracking_uri, registry_store
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
        return BoundRegistryStore(transport)
    if registry_uri.startswith("databricks-uc"):
        from mlflow.store._unity_catalog.registry.utils import get_uc_model_registry_store_class

        # The Unity Catalog store talks to its own endpoints and cloud storage; bind only its
        # credential callables (its HTTP policy stays MLflow's).
        store = get_uc_model_registry_store_class()(registry_uri, config.tracking_uri)
        store.get_host_creds = transport.get_host_creds
        store.get_tracking_host_creds = transport.get_host_creds
        return store
    if registry_uri.startswith(("http://", "https://")):
        creds = host_creds(config, host=registry_uri)
        return BoundRegistryStore(RestTransport(creds, config.timeout, config.max_retries))
    return None
