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

Workspaces (MLflow 3.10+, ``mlflow server --enable-workspaces``): the server reads the
workspace of each request from the ``X-MLFLOW-WORKSPACE`` header; without it, or with it
empty, the request goes to the default workspace. A server without workspaces refuses a
non-empty header; one older than 3.10 ignores it. So a connection that names a workspace asks
the server once whether it has workspaces (``GET /api/3.0/mlflow/server-info``) and whether the
workspace exists (a one-item model search there answers 404 only for a missing workspace).

This module imports mlflow inside its functions; the hook imports it lazily anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowServerTooOldError, MlflowWorkspaceError

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests
    from mlflow.utils.rest_utils import MlflowHostCreds

#: The oldest MLflow server major version that serves every request of the 3.x client.
REQUIRED_SERVER_MAJOR = 3
VERSION_ENDPOINT = "/version"
#: The request header naming the MLflow workspace (``WORKSPACE_HEADER_NAME`` in MLflow 3.10+).
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
SERVER_INFO_ENDPOINT = "/api/3.0/mlflow/server-info"
#: A request that every workspace serves to every user (filtered by permissions), and that
#: answers 404 only when the workspace itself does not exist.
WORKSPACE_PROBE_ENDPOINT = "/api/2.0/mlflow/registered-models/search"


def workspace_headers(workspace: str | None) -> dict[str, str]:
    """The workspace header of every request of a connection with ``workspace``: the name,
    or empty for none, which the server reads as its default workspace. Sent always, so that
    MLflow's process-wide workspace (``MLFLOW_WORKSPACE``, ``mlflow.set_workspace``), which
    ``http_request`` adds only when the header is absent, never reaches the server."""
    return {WORKSPACE_HEADER: workspace or ""}


def reported_server_version(
    creds: MlflowHostCreds, timeout: float, workspace: str | None = None
) -> str | None:
    """The version the server at ``creds.host`` reports on ``GET /version``, sent once with
    ``creds`` (and the header of ``workspace``) and no retries; None when it answers anything
    but a version number (Databricks, a proxy, an error).
    """
    from mlflow.utils.rest_utils import http_request
    from packaging.version import InvalidVersion, Version

    try:
        response = http_request(
            creds,
            VERSION_ENDPOINT,
            "GET",
            max_retries=0,
            timeout=timeout,
            extra_headers=workspace_headers(workspace),
        )
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


def check_workspace(
    get: Callable[[str, dict[str, str]], requests.Response], server: str, workspace: str
) -> None:
    """Check that the server has workspaces and that ``workspace`` exists there. ``get(endpoint,
    params)`` sends one GET with the connection's credentials and workspace header, and returns
    the response whatever its status. ``server`` names the server in messages.

    An answer that decides nothing (401, 403, 5xx) passes: the connection's requests then fail
    with the server's own error.

    :raises MlflowWorkspaceError: when the server has no workspaces (MLflow older than 3.10,
        or started without ``--enable-workspaces``) or ``workspace`` does not exist.
    """
    info = get(SERVER_INFO_ENDPOINT, {})
    enabled: bool | None = None
    if info.status_code == 404:
        enabled = False
    elif info.status_code == 200:
        enabled = bool(_json_or_empty(info).get("workspaces_enabled", False))
    if enabled is False:
        raise MlflowWorkspaceError(
            f"The connection names MLflow workspace {workspace!r}, but the MLflow server at "
            f"{server} does not have workspaces enabled (MLflow 3.10+ started with `mlflow "
            "server --enable-workspaces` and a SQL backend store). Clear the connection's extra "
            "'workspace', or enable workspaces on the server."
        )
    probe = get(WORKSPACE_PROBE_ENDPOINT, {"max_results": "1"})
    if probe.status_code == 404 and (
        _json_or_empty(probe).get("error_code") == "RESOURCE_DOES_NOT_EXIST"
    ):
        raise MlflowWorkspaceError(
            f"MLflow workspace {workspace!r} does not exist on the MLflow server at {server}. "
            "Fix the connection's extra 'workspace', or have a server admin create the "
            "workspace (mlflow.MlflowClient().create_workspace, or POST "
            "/api/3.0/mlflow/workspaces)."
        )


def _json_or_empty(response: requests.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
