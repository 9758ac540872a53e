"""Airflow assets for registered models: ``mlflow://<tracking-host>/<model-name>``.

``<tracking-host>`` is the lower-cased ``host[:port]`` of an http(s) tracking URI followed by
its path prefix (``mlflow.example.com/team-a``: servers behind one host under different
prefixes are different registries), ``databricks`` for Databricks, and ``local`` for stores
without a server (``sqlite:``, ``file:``, ...). The model name is URL-quoted, so it is always
the last path segment. The same URI names the model's OpenLineage namespace
(``mlflow://<tracking-host>``), so assets and lineage events agree. User info and query
strings of the tracking URI never appear.

Importing this module does not import mlflow (Airflow imports :func:`normalize_model_asset_uri`
while discovering providers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from airflow.sdk import Asset

from airflow_mlflow_registry.validation import check_model_name

if TYPE_CHECKING:
    from collections.abc import Mapping
    from urllib.parse import SplitResult

    from airflow.sdk import Context

ASSET_SCHEME = "mlflow"
LOCAL_TRACKING_HOST = "local"
DATABRICKS_TRACKING_HOST = "databricks"


def model_asset(conn_id_or_tracking_host: str, model_name: str) -> Asset:
    """The asset of registered model ``model_name`` on one MLflow server.

    :param conn_id_or_tracking_host: a tracking URI with its scheme (``http://mlflow:5000``,
        ``sqlite:///srv/mlflow.db``, ``databricks``), a bare ``host:port``, or the id of an
        ``mlflow`` connection (a name without ``:`` or ``/``), whose tracking URI is read when
        this is called, i.e. at DAG parse time.
    :raises ValueError: for an invalid model name.
    """
    model_name = check_model_name(model_name)
    source = conn_id_or_tracking_host.strip()
    if "://" in source or source.lower().startswith("databricks"):
        tracking_uri = source
    elif ":" in source or "/" in source:
        tracking_uri = f"http://{source}"
    else:
        from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

        tracking_uri = MlflowRegistryHook(mlflow_conn_id=source).tracking_uri
    uri = f"{ASSET_SCHEME}://{tracking_host(tracking_uri)}/{quote(model_name, safe='')}"
    return Asset(uri=uri)


def tracking_host(tracking_uri: str) -> str:
    """The server part of asset URIs and lineage namespaces for ``tracking_uri``: for http(s),
    the lower-cased ``host[:port]`` and the path prefix without its trailing ``/``."""
    parts = urlsplit(tracking_uri.strip())
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return parts.netloc.rpartition("@")[2].lower() + parts.path.rstrip("/")
    if tracking_uri.strip().lower().startswith("databricks"):
        return DATABRICKS_TRACKING_HOST
    return LOCAL_TRACKING_HOST


def normalize_model_asset_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler for ``mlflow://``: lower-case host, quoted model name
    (the last path segment) after the tracking server's path prefix, if any.

    Airflow has already lower-cased the scheme and stripped trailing slashes.

    :raises ValueError: when the URI names no model.
    """
    prefix, _, name = uri.path.strip("/").rpartition("/")
    if not name:
        raise ValueError(
            f"An mlflow:// asset URI is mlflow://<tracking-host>/<model-name>; got path "
            f"{uri.path!r}. Build it with airflow_mlflow_registry.assets.model_asset()."
        )
    path = "/".join(part for part in ("", prefix, quote(unquote(name), safe="")) if part)
    return uri._replace(netloc=uri.netloc.lower(), path="/" + path)


def model_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """Airflow's ``asset-uris`` OpenLineage converter: the model as an OpenLineage dataset
    in namespace ``mlflow://<tracking-host>``."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    prefix, _, name = parts.path.rpartition("/")
    return Dataset(namespace=f"{ASSET_SCHEME}://{parts.netloc}{prefix}", name=unquote(name))


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
