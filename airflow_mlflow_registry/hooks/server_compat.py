"""What differs between the MLflow tracking servers this provider talks to, told by the server.

The client is MLflow 3.x; the server may be older. Measured against real servers (see
README, "Compatibility"): an MLflow 2.22 server serves everything the registry operators,
aliases, the sensor and run searches need, but not MLflow 3's logged models
(``/api/2.0/mlflow/logged-models/...``: ``models:/<model_id>`` sources, ``log_model``). It
answers a request for a missing endpoint with a plain 404, which MLflow reports as
``ENDPOINT_NOT_FOUND`` with the server's HTML error page.

Only then is the server asked its version (``GET /version``, which every MLflow server
answers), so that the error names it and says what to upgrade: a server whose answers are
fine is never asked, and a registration costs no extra request. Detection is by the server's
answer, not by a version check up front.

This module imports mlflow inside its functions; the hook imports it lazily anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowServerTooOldError

if TYPE_CHECKING:
    from mlflow.utils.rest_utils import MlflowHostCreds

#: The oldest MLflow server major version that serves every request of the 3.x client.
REQUIRED_SERVER_MAJOR = 3
VERSION_ENDPOINT = "/version"


def reported_server_version(creds: MlflowHostCreds, timeout: float) -> str | None:
    """The version the server at ``creds.host`` reports on ``GET /version``, sent once with
    ``creds`` and no retries; None when it answers anything but a version number (Databricks,
    a proxy, an error).
    """
    from mlflow.utils.rest_utils import http_request
    from packaging.version import InvalidVersion, Version

    try:
        response = http_request(creds, VERSION_ENDPOINT, "GET", max_retries=0, timeout=timeout)
    except Exception:
        return None
    text = response.text.strip() if response.status_code == 200 else ""
    try:
        Version(text)
    except InvalidVersion:
        return None
    return text


def too_old_server_error(needs: str, server_version: str | None) -> MlflowServerTooOldError | None:
    """The error for a server that failed what ``needs`` describes (a request it lacks, a
    logged-model source): one message naming the server's version and the upgrade, if
    ``server_version`` is older than MLflow 3; else None (the server's own error then stands:
    a 3.x server that fails is not a version problem this provider can name).
    """
    from packaging.version import Version

    if server_version is None or Version(server_version).major >= REQUIRED_SERVER_MAJOR:
        return None
    return MlflowServerTooOldError(
        f"The MLflow tracking server is MLflow {server_version}; {needs} needs an MLflow "
        f"{REQUIRED_SERVER_MAJOR}.x server: upgrade the tracking server to MLflow "
        f"{REQUIRED_SERVER_MAJOR}.x.",
        server_version=server_version,
    )
