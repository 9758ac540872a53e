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

"""Airflow assets for registered models: ``mlflow://<registry>/<model-name>``.

``<registry>`` names the registry without reading any connection, so building an asset at DAG
parse time calls neither the metadata DB nor a secrets backend:

- for a connection id (any name without ``:`` or ``/``, ``databricks_prod`` included),
  ``airflow_connection/<conn-id>`` (URL-quoted, case kept): the registry that connection points
  at, so two Databricks connections of two workspaces are two assets. ``airflow_connection``
  has an underscore, which no DNS host name has, so it never collides with a server's host;
- for a tracking URI written in the DAG, the lower-cased ``host[:port]`` of an http(s) URI
  followed by its path prefix (``mlflow.example.com/team-a``: servers behind one host under
  different prefixes are different registries; a Databricks workspace by its URL,
  ``adb-1234.5.azuredatabricks.net``), and ``local`` for stores without a server (``sqlite:``,
  ``file:``, ...). A ``databricks://`` URI names no workspace host and is refused.

The model name is URL-quoted, so it is always the last path segment. OpenLineage names the
model in namespace ``mlflow://<tracking-host>`` (the server form), which for a connection's
asset is resolved when lineage is extracted, in the worker, never at parse time. User info and
query strings of tracking URIs never appear.

MLflow workspaces (a server with ``--enable-workspaces``): the same model name in two
workspaces is two models. The server form and OpenLineage namespaces then end in
``/workspaces/<workspace>`` (``mlflow://mlflow.example.com/workspaces/team-a/churn``); without a
workspace they are unchanged. A connection's asset names the connection, whose ``workspace``
field says where the model is: two connections for two workspaces are two assets.

Importing this module does not import mlflow (Airflow imports :func:`normalize_model_asset_uri`
while discovering providers).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from airflow.sdk import Asset

from airflow_mlflow_registry.utils.validation import check_model_name

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from urllib.parse import SplitResult

    from airflow.sdk import AssetWatcher, Context

log = logging.getLogger(__name__)

ASSET_SCHEME = "mlflow"
LOCAL_TRACKING_HOST = "local"
DATABRICKS_TRACKING_HOST = "databricks"
CONNECTION_REGISTRY_HOST = "airflow_connection"
# Tracking URIs of Databricks (``databricks://<profile>``), which name no workspace host.
DATABRICKS_URI_PREFIXES = ("databricks://", "databricks-uc://")


def model_asset(
    registry: str,
    model_name: str,
    *,
    watchers: Sequence[AssetWatcher] = (),
    workspace: str | None = None,
) -> Asset:
    """The asset of registered model ``model_name`` in ``registry``. Reads no connection.

    :param registry: the id of an ``mlflow`` connection (a name without ``:`` or ``/``), giving
        ``mlflow://airflow_connection/<conn-id>/<model>``; or a tracking URI with its scheme
        (``http://mlflow:5000/team-a``, ``sqlite:///srv/mlflow.db``, a Databricks workspace URL
        ``https://adb-1234.5.azuredatabricks.net``) or a bare ``host:port[/prefix]``, giving
        ``mlflow://<tracking-host>/<model>``. Producers and consumers of one model must use the
        same form (the same connection id, or the same server): the two forms are different
        assets.
    :param watchers: ``AssetWatcher`` objects for event-driven scheduling (see
        :class:`~airflow_mlflow_registry.triggers.MlflowRegistryEventTrigger`).
    :param workspace: with a tracking URI, the MLflow workspace of the model on that server
        (``mlflow://<tracking-host>/workspaces/<workspace>/<model>``). A connection names its
        own workspace.
    :raises ValueError: for an invalid model name, an empty ``registry``, a ``databricks://``
        or ``databricks-uc://`` URI (it names no workspace host), or a ``workspace`` given with
        a connection id.
    """
    model_name = check_model_name(model_name)
    source = registry.strip()
    if not source:
        raise ValueError("model_asset needs a connection id or a tracking URI, got ''.")
    if source.lower().startswith(DATABRICKS_URI_PREFIXES):
        raise ValueError(
            f"model_asset({source!r}, ...): a Databricks tracking URI does not say which "
            "workspace holds the model; name the model by its connection id, or by the "
            "workspace URL (https://<workspace-host>)."
        )
    if "://" in source:
        server = tracking_host(source, workspace)
    elif ":" in source or "/" in source:
        server = tracking_host(f"http://{source}", workspace)
    elif workspace:
        raise ValueError(
            f"model_asset({source!r}, ...) names a connection, whose extra 'workspace' gives the "
            "model's MLflow workspace; remove workspace=, or name the server by its tracking URI."
        )
    else:
        server = f"{CONNECTION_REGISTRY_HOST}/{quote(source, safe='')}"
    uri = f"{ASSET_SCHEME}://{server}/{quote(model_name, safe='')}"
    return Asset(uri=uri, watchers=list(watchers))


def tracking_host(tracking_uri: str, workspace: str | None = None) -> str:
    """The server part of asset URIs and lineage namespaces for ``tracking_uri``: for http(s),
    the lower-cased ``host[:port]`` and the path prefix without its trailing ``/``, then
    ``/workspaces/<workspace>`` for a model in an MLflow workspace."""
    parts = urlsplit(tracking_uri.strip())
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        server = parts.netloc.rpartition("@")[2].lower() + parts.path.rstrip("/")
        return f"{server}/workspaces/{quote(workspace, safe='')}" if workspace else server
    if tracking_uri.strip().lower().startswith("databricks"):
        return DATABRICKS_TRACKING_HOST
    return LOCAL_TRACKING_HOST


def normalize_model_asset_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler for ``mlflow://``: lower-case host, quoted model name
    (the last path segment) after the tracking server's path prefix, if any; for
    ``airflow_connection``, exactly one quoted connection id before the model name.

    Airflow has already lower-cased the scheme and stripped trailing slashes.

    :raises ValueError: when the URI names no model, or a connection URI no connection id.
    """
    netloc = uri.netloc.lower()
    prefix, _, name = uri.path.strip("/").rpartition("/")
    if not name:
        raise ValueError(
            f"An mlflow:// asset URI is mlflow://<tracking-host>/<model-name> or "
            f"mlflow://{CONNECTION_REGISTRY_HOST}/<conn-id>/<model-name>; got path "
            f"{uri.path!r}. Build it with airflow_mlflow_registry.assets.model_asset()."
        )
    if netloc == CONNECTION_REGISTRY_HOST:
        if not prefix or "/" in prefix:
            raise ValueError(
                f"An mlflow://{CONNECTION_REGISTRY_HOST}/ asset URI names one connection id and "
                f"a model: mlflow://{CONNECTION_REGISTRY_HOST}/<conn-id>/<model-name>; got path "
                f"{uri.path!r}. Build it with airflow_mlflow_registry.assets.model_asset()."
            )
        prefix = quote(unquote(prefix), safe="")
    path = "/".join(part for part in ("", prefix, quote(unquote(name), safe="")) if part)
    return uri._replace(netloc=netloc, path="/" + path)


def model_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """Airflow's ``asset-uris`` OpenLineage converter: the model as an OpenLineage dataset
    in namespace ``mlflow://<tracking-host>``, the namespace the operators report.

    A connection's asset (``mlflow://airflow_connection/<conn-id>/...``) is resolved here, when
    lineage is extracted in the worker, from the connection's tracking URI; when the connection
    cannot be read, the namespace stays ``mlflow://airflow_connection/<conn-id>``.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    prefix, _, name = parts.path.rpartition("/")
    namespace = f"{ASSET_SCHEME}://{parts.netloc}{prefix}"
    if parts.netloc == CONNECTION_REGISTRY_HOST:
        conn_id = unquote(prefix.strip("/"))
        try:
            from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

            config = MlflowRegistryHook(mlflow_conn_id=conn_id).config
            # A Databricks connection's tracking URI is just "databricks": its workspace URL
            # names the registry.
            tracking_uri = config.rest_host if config.is_databricks else config.display_tracking_uri
            server = tracking_host(tracking_uri, config.workspace)
            namespace = f"{ASSET_SCHEME}://{server}"
        except Exception as exc:
            log.warning(
                "OpenLineage: connection %r of asset %s could not be read (%s); namespace %s.",
                conn_id,
                asset.uri,
                type(exc).__name__,
                namespace,
            )
    return Dataset(namespace=namespace, name=unquote(name))


def record_model_asset_event(
    context: Context, asset: Asset, record: Mapping[str, Any], alias: str | None
) -> None:
    """Attach ``version``, ``alias``, ``run_id`` (the MLflow source run) and ``model_uri`` of
    ``record`` to the asset event this task emits for ``asset``."""
    context["outlet_events"][asset].extra = {
        "version": record["version"],
        "alias": alias,
        "run_id": record.get("run_id"),
        "model_uri": record["model_uri"],
    }
