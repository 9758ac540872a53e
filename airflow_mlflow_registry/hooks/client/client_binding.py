# Copyright 2026 The airflow-mlflow-registry authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Build an ``MlflowClient`` whose credentials, TLS and HTTP policy belong to it alone.

MLflow resolves credentials from process-wide ``MLFLOW_TRACKING_*`` environment variables on
every request and shares one REST store per URI between all clients. To keep two connections
apart inside one worker, the client built here gets its own REST stores:

- credentials and TLS: each store is constructed with a callable that returns this
  connection's fixed ``MlflowHostCreds`` (the stores' constructor argument, stable across
  MLflow 3.x);
- HTTP policy and workspace: each request the store sends goes through the connection's
  :class:`~airflow_mlflow_registry.hooks.client.rest_transport.RestTransport`. The store's
  request is resolved with :mod:`~airflow_mlflow_registry.hooks.client.mlflow_compat`, which
  knows what differs between client versions; a request it does not understand is left to
  MLflow's own transport, still with this connection's credentials;
- artifacts: the tracking client's artifact operations go through repositories bound to the
  same transport, or to the AWS connection the connection names for its S3 artifact store
  (:mod:`~airflow_mlflow_registry.hooks.client.artifact_binding`).

These are MLflow internals: ``mlflow-skinny`` is pinned ``<4`` and the tests in
``tests/hooks`` (credential isolation, TLS, exactly-once) pin the behaviour on the oldest and
newest supported client. This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
from mlflow.tracking._model_registry.client import ModelRegistryClient

from airflow_mlflow_registry.hooks.client import mlflow_compat
from airflow_mlflow_registry.hooks.client.artifact_binding import (
    ArtifactAccess,
    BoundTrackingServiceClient,
)
from airflow_mlflow_registry.hooks.client.model_source_download import download_model_source
from airflow_mlflow_registry.hooks.client.rest_transport import RestTransport, host_creds
from airflow_mlflow_registry.hooks.client.s3_artifact_store import ConnectionS3Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.client.mlflow_compat import StoreRequest

log = logging.getLogger(__name__)


class PolicyRoutingMixin:
    """Mixed in front of an MLflow REST store class: the store's requests (and the registry
    store's webhook requests) go through ``self.transport`` whenever
    :mod:`~airflow_mlflow_registry.hooks.client.mlflow_compat` understands them.
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
    tracking_client = BoundTrackingServiceClient(
        config.tracking_uri, tracking_store, _artifact_access(config, transport)
    )
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


def _artifact_access(config: MlflowConnectionConfig, transport: RestTransport) -> ArtifactAccess:
    """The artifact stores ``config``'s client reaches as itself: the tracking server's proxied
    store through ``transport``, and its S3 buckets when it names an AWS connection."""
    s3_store = None
    if config.aws_conn_id:
        s3_store = ConnectionS3Store(config.conn_id, config.aws_conn_id, config.artifact_buckets)
    return ArtifactAccess(config.tracking_uri, transport, s3_store)


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
