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

"""What differs between the MLflow 3.x clients this provider supports, detected by feature.

Every difference between ``mlflow-skinny`` 3.x releases that the client binding depends on is
answered here, by looking at what the installed MLflow offers (``hasattr``, signatures), never
by parsing its version number. The rest of the package asks these functions instead of
touching the differing MLflow internals itself.

Differences handled (read in the sources of mlflow-skinny 3.0.0, 3.1.0, 3.4.0, 3.7.0 and
3.17.2):

- The Databricks tracking store class ``DatabricksTracingRestStore`` exists from a release
  after 3.4 on; 3.0-3.4 use the plain tracking ``RestStore`` for Databricks.
- The tracking store's endpoint table is a module constant up to 3.4 and a class attribute
  (``_METHOD_TO_INFO``) later; late clients route some APIs to ``/api/3.0`` (``_V3_APIS``).
- The stores' ``_call_endpoint`` gained an argument (``response_proto``) after 3.4 and, in late
  3.x, a check of the process's active workspace (``_validate_workspace_support_if_specified``)
  before each request. The bound stores skip it: each connection's transport names its own
  workspace (:mod:`~airflow_mlflow_registry.hooks.client.server_compat`).
- ``ArtifactRepository.__init__`` and ``get_artifact_repository`` take the tracking URI from a
  release after 3.1 on (3.0 and 3.1 take only the artifact URI); so does
  ``S3ArtifactRepository.__init__``, whose every request goes through its ``_get_s3_client``
  method in all of them (the binding to a connection's AWS identity overrides it).
- Registry webhooks (``MlflowClient.create_webhook``, ``list_webhooks``, ``delete_webhook``,
  ``test_webhook``) exist in clients from 3.3 on; :func:`supports_webhooks` tells.
- Not a difference but an internal relied on: ``http_request`` sends through a
  ``requests.Session`` cached per process and retry policy by
  ``mlflow.utils.request_utils._get_request_session`` (same six parameters in 2.22, 3.0, 3.1,
  3.7 and 3.17), whose pool size comes from ``MLFLOW_HTTP_POOL_MAXSIZE`` (default 10). When
  the function is missing or its parameters differ, pools keep MLflow's size.

Checked and not different (so nothing here handles it): ``search_model_versions(filter_string,
max_results, order_by, page_token)`` has the same signature in 3.0.0 and 3.17.2, and the REST
store sends filter, bound and ordering to the server unchanged; ``version_number >`` filters
and ``version_number ASC|DESC`` ordering are the server's (the registry event trigger relies on
them). What differs is the registry, not the client: the Unity Catalog store refuses any
``order_by`` before sending (``_require_arg_unspecified``).

The internals the binding relies on are checked once per process, before the first client
is built (:func:`require_binding_internals`): a client release that changed them fails there
with one error naming the installed release and what to pin, not deep inside a request.

This module imports mlflow inside its functions, so that the check can run before anything
else of MLflow's internals is imported; the hook imports it lazily anyway.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.exceptions import UnsupportedMlflowClientError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repo import ArtifactRepository
    from mlflow.tracking._model_registry.client import ModelRegistryClient
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

#: The newest mlflow-skinny release the compatibility matrix pins (.ci/matrix/entries.txt; a
#: test keeps the two equal). Named by :class:`UnsupportedMlflowClientError`.
NEWEST_TESTED_CLIENT = "3.18.0"

#: The MLflow internals the client binding (and this module) use, as ``(module, attribute
#: path)``; an empty path names the module itself. Present in every supported 3.x client.
BINDING_INTERNALS: tuple[tuple[str, str], ...] = (
    ("mlflow.tracking.client", "MlflowClient._get_registry_client"),
    ("mlflow.tracking._tracking_service.client", "TrackingServiceClient.store"),
    ("mlflow.tracking._model_registry.client", "ModelRegistryClient.store"),
    ("mlflow.store.tracking.rest_store", "RestStore._call_endpoint"),
    ("mlflow.store.model_registry.rest_store", "RestStore._call_endpoint"),
    ("mlflow.store.model_registry.rest_store", "RestStore._get_endpoint_from_method"),
    ("mlflow.store.model_registry.rest_store", "RestStore._get_all_endpoints_from_method"),
    ("mlflow.store.artifact.artifact_repo", "ArtifactRepository"),
    ("mlflow.store.artifact.artifact_repository_registry", "get_artifact_repository"),
    ("mlflow.store.artifact.s3_artifact_repo", "S3ArtifactRepository._get_s3_client"),
    ("mlflow.store.artifact.utils.models", "_parse_model_uri"),
    ("mlflow.store.artifact.utils.models", "get_model_name_and_version"),
    ("mlflow.utils.rest_utils", "http_request"),
    ("mlflow.utils.rest_utils", "verify_rest_response"),
    ("mlflow.utils.rest_utils", "MlflowHostCreds"),
    ("mlflow.utils.request_utils", "augmented_raise_for_status"),
    ("mlflow.utils.request_utils", "_TRANSIENT_FAILURE_RESPONSE_CODES"),
    ("mlflow.utils.proto_json_utils", "parse_dict"),
)

#: Arguments of the stores' ``_call_endpoint`` that :func:`describe_store_request` understands.
#: ``retry_timeout_seconds`` only tunes the Databricks SDK's retries, which the bound transport
#: replaces by its own policy.
KNOWN_CALL_ARGUMENTS = frozenset(
    {
        "api",
        "json_body",
        "endpoint",
        "call_all_endpoints",
        "extra_headers",
        "response_proto",
        "retry_timeout_seconds",
    }
)


#: Parameters of ``request_utils._get_request_session``, which :func:`widen_request_pool`
#: calls as ``http_request`` does.
SESSION_KEY_PARAMETERS = (
    "max_retries",
    "backoff_factor",
    "backoff_jitter",
    "retry_codes",
    "raise_on_status",
    "respect_retry_after_header",
)


@dataclass(frozen=True)
class StoreRequest:
    """One REST request of a store, resolved: what to send, where, and what comes back."""

    name: str
    endpoints: list[tuple[str, str]]
    json_body: str | None
    response_proto: Any
    extra_headers: dict[str, str] | None


def require_binding_internals() -> None:
    """Check that the installed MLflow has every internal the client binding uses
    (:data:`BINDING_INTERNALS`, and the ``MlflowClient`` attributes it replaces). Imports those
    MLflow modules; sends nothing. Call it once per process, before the first client is built.

    :raises UnsupportedMlflowClientError: naming the installed client release, what it lacks,
        the newest release tested, and what to pin.
    """
    missing = [
        f"{module_name}.{path}" if path else module_name
        for module_name, path in BINDING_INTERNALS
        if not _has_internal(module_name, path)
    ]
    if not missing:
        missing = _missing_client_attributes()
    if missing:
        raise UnsupportedMlflowClientError(
            installed=_installed_client_version(),
            newest_tested=NEWEST_TESTED_CLIENT,
            missing=missing,
        )


def _has_internal(module_name: str, path: str) -> bool:
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError:
        return False
    for name in filter(None, path.split(".")):
        if not hasattr(found, name):
            return False
        found = getattr(found, name)
    return True


def _missing_client_attributes() -> list[str]:
    """The ``MlflowClient`` instance attributes the binding replaces that this client lacks:
    the tracking client it builds in its constructor, and the registry client that
    ``_get_registry_client`` returns once set. Builds one client for an address it never
    contacts."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9")
    missing = []
    if "_tracking_client" not in vars(client):
        missing.append("MlflowClient._tracking_client")
    marker = object()
    client._registry_client_lazy = marker  # type: ignore[attr-defined]
    if client._get_registry_client() is not marker:
        missing.append("MlflowClient._registry_client_lazy")
    return missing


def _installed_client_version() -> str:
    try:
        from mlflow.version import VERSION
    except ImportError:
        return "unknown"
    return str(VERSION)


def tracking_store_class(is_databricks: bool) -> type:
    """The tracking REST store class MLflow uses for an http(s) server or for Databricks."""
    import mlflow.store.tracking.rest_store as tracking_rest_store

    if is_databricks:
        try:
            from mlflow.store.tracking.databricks_rest_store import DatabricksTracingRestStore
        except ImportError:  # clients before 3.5: Databricks used the plain REST store
            return tracking_rest_store.RestStore
        return DatabricksTracingRestStore
    return tracking_rest_store.RestStore


def uc_registry_store_class() -> type:
    """The Unity Catalog registry store class MLflow uses for ``databricks-uc``.

    Late clients choose between two classes (``get_uc_model_registry_store_class``, driven by an
    environment flag); earlier ones have ``UcModelRegistryStore`` only.
    """
    try:
        from mlflow.store._unity_catalog.registry.utils import get_uc_model_registry_store_class
    except ImportError:
        from mlflow.store._unity_catalog.registry.rest_store import UcModelRegistryStore

        return UcModelRegistryStore
    store_class: type = get_uc_model_registry_store_class()
    return store_class


def describe_store_request(
    store: Any, call_endpoint: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> StoreRequest | None:
    """Resolve a call of ``store._call_endpoint(*args, **kwargs)`` into a :class:`StoreRequest`.

    ``call_endpoint`` is the store's own (MLflow's) ``_call_endpoint``; its signature names the
    arguments. Returns None when the call carries an argument this module does not know or the
    store offers no endpoint table for the API: the caller then lets MLflow send the request.
    """
    try:
        arguments = inspect.signature(call_endpoint).bind(*args, **kwargs).arguments
    except TypeError:
        return None
    if not set(arguments) <= KNOWN_CALL_ARGUMENTS or "api" not in arguments:
        return None
    api = arguments["api"]
    endpoints = _endpoints(
        store, api, arguments.get("endpoint"), bool(arguments.get("call_all_endpoints"))
    )
    if not endpoints:
        return None
    return StoreRequest(
        name=api.__name__,
        endpoints=endpoints,
        json_body=arguments.get("json_body"),
        response_proto=arguments.get("response_proto") or api.Response(),
        extra_headers=arguments.get("extra_headers"),
    )


#: Arguments of the registry store's ``_call_webhook_endpoint`` (MLflow 3.3+ webhooks) that
#: :func:`describe_webhook_request` understands.
KNOWN_WEBHOOK_CALL_ARGUMENTS = frozenset({"api", "json_body", "webhook_id"})


def describe_webhook_request(
    store: Any, call_endpoint: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> StoreRequest | None:
    """Resolve a call of the registry store's ``_call_webhook_endpoint(*args, **kwargs)`` (its
    webhook API, which does not go through ``_call_endpoint``) into a :class:`StoreRequest`.

    Returns None when the call carries an argument this module does not know or the store has
    no webhook endpoint table: the caller then lets MLflow send the request.
    """
    try:
        arguments = inspect.signature(call_endpoint).bind(*args, **kwargs).arguments
    except TypeError:
        return None
    table = getattr(store, "_get_webhook_endpoint_from_method", None)
    if not set(arguments) <= KNOWN_WEBHOOK_CALL_ARGUMENTS or table is None:
        return None
    api = arguments["api"]
    endpoint, method = table(api)
    if arguments.get("webhook_id"):
        endpoint = endpoint.format(webhook_id=arguments["webhook_id"])
    return StoreRequest(
        name=api.__name__,
        endpoints=[(endpoint, method)],
        json_body=arguments.get("json_body"),
        response_proto=api.Response(),
        extra_headers=None,
    )


def _endpoints(
    store: Any, api: Any, endpoint: str | None, call_all_endpoints: bool
) -> list[tuple[str, str]] | None:
    """The ``(path, method)`` pairs to try for ``api``, as the store itself would choose them."""
    if hasattr(store, "_get_endpoint_from_method"):  # model-registry stores
        if call_all_endpoints:
            return list(store._get_all_endpoints_from_method(api))
        return [store._get_endpoint_from_method(api)]
    import mlflow.store.tracking.rest_store as tracking_rest_store

    if api in getattr(store, "_V3_APIS", ()):
        table = store._V3_METHOD_TO_INFO
    else:
        table = getattr(store, "_METHOD_TO_INFO", None) or tracking_rest_store.__dict__.get(
            "_METHOD_TO_INFO", {}
        )
    if api not in table:
        return None
    default_endpoint, method = table[api]
    return [(endpoint or default_endpoint, method)]


def artifact_repository_init_kwargs(
    tracking_uri: str | None, repository_class: type | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``repository_class.__init__`` (default ``ArtifactRepository``)
    beyond the artifact URI."""
    if repository_class is None:
        from mlflow.store.artifact.artifact_repo import ArtifactRepository

        repository_class = ArtifactRepository
    if "tracking_uri" in inspect.signature(repository_class).parameters:
        return {"tracking_uri": tracking_uri}
    return {}


def mlflow_artifact_repository(artifact_uri: str, tracking_uri: str) -> ArtifactRepository:
    """MLflow's own artifact repository for ``artifact_uri`` (cloud stores, local paths)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    if "tracking_uri" in inspect.signature(get_artifact_repository).parameters:
        return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)
    return get_artifact_repository(artifact_uri)


def widen_request_pool(
    pool_size: int,
    *,
    max_retries: int,
    backoff_factor: float,
    backoff_jitter: float,
    respect_retry_after_header: bool,
) -> bool:
    """Make the ``requests`` session that ``http_request`` uses for this retry policy (with
    MLflow's default retry codes and ``raise_on_status=True``) keep up to ``pool_size`` open
    connections per host, so that as many threads can reuse their connections; a larger pool
    is kept. Return False (nothing changed) when this MLflow has no such session.

    The session is MLflow's, one per process and retry policy, shared by every client sending
    with that policy. It holds connections only: credentials travel in each request's headers.
    Widening it replaces its connection pools, so call it before the threads that share it
    start sending.
    """
    from mlflow.utils import request_utils

    get_session = getattr(request_utils, "_get_request_session", None)
    if get_session is None or tuple(inspect.signature(get_session).parameters) != (
        SESSION_KEY_PARAMETERS
    ):
        return False
    from requests.adapters import HTTPAdapter

    retry_codes = request_utils._TRANSIENT_FAILURE_RESPONSE_CODES
    session = get_session(
        max_retries, backoff_factor, backoff_jitter, retry_codes, True, respect_retry_after_header
    )
    for adapter in {id(adapter): adapter for adapter in session.adapters.values()}.values():
        if isinstance(adapter, HTTPAdapter) and adapter._pool_maxsize < pool_size:
            adapter.init_poolmanager(
                adapter._pool_connections, pool_size, block=adapter._pool_block
            )
    return True


def supports_webhooks(client: Any) -> bool:
    """Whether ``client`` (an ``MlflowClient``) has the registry webhook API (mlflow 3.3+)."""
    return all(
        hasattr(client, name)
        for name in ("create_webhook", "list_webhooks", "delete_webhook", "test_webhook")
    )


def registry_client_of(client: MlflowClient) -> ModelRegistryClient:
    """The registry client inside ``client``: one request per call, where ``MlflowClient``'s
    own methods may add one (``set_registered_model_alias`` first reads the model to rule out
    prompts). An internal the binding check covers (:data:`BINDING_INTERNALS`)."""
    return client._get_registry_client()


def tracking_client_of(client: MlflowClient) -> TrackingServiceClient:
    """The tracking client inside ``client`` (an attribute :func:`_missing_client_attributes`
    checks is present)."""
    return client._tracking_client
