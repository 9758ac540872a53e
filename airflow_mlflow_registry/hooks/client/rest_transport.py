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

"""One connection's HTTP policy for MLflow REST requests: its fixed host credentials
(:func:`host_creds`) and the :class:`RestTransport` that sends every request of the connection's
bound REST stores and artifact repositories with its timeout, retries (creates are never
re-sent), connection pool size and workspace header.

This module imports mlflow at top level; the hook imports it lazily.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, ErrorCode
from mlflow.utils.proto_json_utils import parse_dict
from mlflow.utils.request_utils import augmented_raise_for_status
from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

from airflow_mlflow_registry.hooks.client import mlflow_compat, server_compat
from airflow_mlflow_registry.hooks.client.connection_config import DEFAULT_POOL_SIZE

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.client.mlflow_compat import StoreRequest

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
