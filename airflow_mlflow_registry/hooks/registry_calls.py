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

"""One connection's MLflow client as the hook's modules use it: the client, the secrets to keep
out of every message, and how a failed request is reported.

Each module behind :class:`~airflow_mlflow_registry.hooks.MlflowRegistryHook` (version
registration, version queries, aliases, runs, backfill) takes a :class:`RegistryCalls` as its
first argument and sends its requests through :attr:`RegistryCalls.client`. mlflow is imported
only inside functions.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.utils.redaction import mask_secrets, redact, uri_secrets
from airflow_mlflow_registry.utils.request_errors import describe_mlflow_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mlflow import MlflowClient
    from mlflow.store.entities import PagedList

    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig

# Items per page of paginated searches.
SEARCH_PAGE_SIZE = 500

_MLFLOW_IMPORT_LOCK = threading.Lock()
_mlflow_loaded = False


def load_mlflow() -> None:
    """Import MLflow (with the client binding) once per process, one thread at a time.

    MLflow's modules import each other in cycles. When two threads import them for the first
    time at once (the triggerer runs every trigger's requests in threads), one of them can be
    handed a half-initialised module ("cannot import name 'LiveSpan' from partially initialized
    module 'mlflow.entities.span'"), and the failed import leaves MLflow unusable in that
    process for good. Every first use of MLflow by the hook's modules comes through here.

    The MLflow internals the client binding uses are checked first, once per process
    (:func:`~airflow_mlflow_registry.hooks.client.mlflow_compat.require_binding_internals`).

    :raises UnsupportedMlflowClientError: when the installed MLflow client lacks one of them.
    """
    global _mlflow_loaded
    if _mlflow_loaded:
        return
    with _MLFLOW_IMPORT_LOCK:
        if not _mlflow_loaded:
            from airflow_mlflow_registry.hooks.client.mlflow_compat import require_binding_internals

            require_binding_internals()
            import airflow_mlflow_registry.hooks.client.client_binding  # noqa: F401  (imports mlflow)

            _mlflow_loaded = True


def new_client(config: MlflowConnectionConfig) -> MlflowClient:
    """A new ``MlflowClient`` bound to ``config`` alone
    (:func:`~airflow_mlflow_registry.hooks.client.client_binding.build_client`), MLflow imported
    first through :func:`load_mlflow`. Every client the provider builds comes from here."""
    load_mlflow()
    from airflow_mlflow_registry.hooks.client.client_binding import build_client

    return build_client(config)


class RegistryCalls:
    """The MLflow client of one connection and how its failures are reported.

    ``config`` and ``client`` are called on first use (the hook parses its connection and builds
    its client lazily), so creating this object reads no connection and sends nothing, and a
    misconfigured connection raises its own error, not a request error.
    """

    def __init__(
        self,
        config: Callable[[], MlflowConnectionConfig],
        client: Callable[[], MlflowClient],
    ) -> None:
        self._config = config
        self._client = client
        # Credentials found in model URIs these calls were given (pre-signed URLs, user info).
        self._model_uri_secrets: set[str] = set()

    @classmethod
    def building(cls, config: Callable[[], MlflowConnectionConfig]) -> RegistryCalls:
        """Calls whose ``config()`` is called once, on first use, and whose client is built
        from it (:func:`new_client`) on first
        request: what the command line uses, without the hook."""
        read_config = functools.cache(config)

        @functools.cache
        def client() -> MlflowClient:
            return new_client(read_config())

        return cls(read_config, client)

    @property
    def config(self) -> MlflowConnectionConfig:
        """The validated connection settings.

        :raises MlflowConnectionConfigError: naming the misconfigured field.
        """
        return self._config()

    @property
    def client(self) -> MlflowClient:
        """The ``MlflowClient`` bound to this connection alone."""
        return self._client()

    @cached_property
    def single_attempt_client(self) -> MlflowClient:
        """A client of the same connection whose requests are each sent once: no HTTP
        retries. For a request that must be preceded by a fresh check every time it is sent
        (retention's delete of a version, checked for aliases just before), so that a
        transport retry never re-sends it after a back-off without that check."""
        return new_client(dataclasses.replace(self.config, max_retries=0))

    @property
    def tracking_uri(self) -> str:
        """The tracking URI as it may be shown and stored (user info and query values
        redacted)."""
        return self.config.display_tracking_uri

    @property
    def server_fields(self) -> dict[str, str]:
        """Where a record's model lives, for records and lineage: ``tracking_uri``
        (:attr:`tracking_uri`), and ``workspace`` when the connection names an MLflow
        workspace (absent otherwise, so records without workspaces keep their shape)."""
        fields = {"tracking_uri": self.tracking_uri}
        if self.config.workspace:
            fields["workspace"] = self.config.workspace
        return fields

    @cached_property
    def is_unity_catalog(self) -> bool:
        """True when this connection's registry is Unity Catalog (``databricks-uc``/``uc``)."""
        load_mlflow()
        from mlflow.utils.uri import is_databricks_unity_catalog_uri, is_oss_unity_catalog_uri

        registry_uri = self.client._registry_uri
        return is_databricks_unity_catalog_uri(registry_uri) or is_oss_unity_catalog_uri(
            registry_uri
        )

    def model_version_url(self, model_name: str, version: str | int) -> str | None:
        """The MLflow UI page of a model version, or None when the server is not http(s)."""
        base = self.config.ui_base_url
        if base is None:
            return None
        return f"{base}/#/models/{quote(model_name, safe='')}/versions/{version}"

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """The MLflow UI page of a run, or None when the server is not http(s)."""
        base = self.config.ui_base_url
        if base is None:
            return None
        return f"{base}/#/experiments/{quote(experiment_id, safe='')}/runs/{quote(run_id, safe='')}"

    def secrets(self) -> tuple[str, ...]:
        """The connection's secrets (none when it cannot be parsed) and those of the model URIs
        seen so far."""
        try:
            connection_secrets = self.config.secrets
        except Exception:
            connection_secrets = ()
        return (*connection_secrets, *self._model_uri_secrets)

    def hide_model_uri_secrets(self, model_uri: str) -> None:
        """Mask the credentials inside ``model_uri`` in Airflow's logs and redact them from
        every later message of these calls."""
        found = uri_secrets(model_uri)
        self._model_uri_secrets.update(found)
        mask_secrets(found)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        return redact(text, self.secrets())

    def describe(self, exc: BaseException) -> str:
        """One secret-free line saying what went wrong with a request."""
        return describe_mlflow_error(exc, self.secrets())

    def request_error(self, action: str, exc: BaseException) -> MlflowRequestError:
        """The error to raise when ``action`` (naming the model, version, ...) failed."""
        return MlflowRequestError(f"{action} failed: {self.describe(exc)}")

    def download_model_source(
        self, source: str, download_dir: str, *, allow_ambient_credentials: bool
    ) -> str:
        """Download the files of the model source ``source`` into ``download_dir`` through
        this connection's tracking server and registry; return their local directory
        (:func:`~airflow_mlflow_registry.hooks.client.model_source_download.download_through_client`).

        :raises MlflowRegistryError: when the connection names a local store.
        :raises AmbientSourceRefusedError: when the files are neither served by the
            connection's tracking server nor in its ``artifact_buckets`` and
            ``allow_ambient_credentials`` is false (nothing is read).
        :raises Exception: what MLflow raises when resolving or downloading fails.
        """
        client = self.client  # loads MLflow first (new_client)
        from airflow_mlflow_registry.hooks.client.model_source_download import (
            download_through_client,
        )

        return download_through_client(
            client, source, download_dir, allow_ambient_credentials=allow_ambient_credentials
        )

    def all_pages(
        self, search_page: Callable[[str | None], PagedList[Any]], action: str
    ) -> Iterator[Any]:
        """Every item of a paginated MLflow search; ``search_page(token)`` fetches one page.
        Pages are fetched as the items are consumed.

        :raises MlflowRequestError: naming ``action``.
        """
        token: str | None = None
        while True:
            try:
                page = search_page(token)
            except Exception as exc:
                raise self.request_error(action, exc) from exc
            yield from page
            token = page.token
            if not token:
                return


def error_code(exc: BaseException) -> str | None:
    """MLflow's error code of a failed request (``RESOURCE_DOES_NOT_EXIST``, ...), or None
    when the server did not answer with one."""
    return getattr(exc, "error_code", None)


def is_definitive(exc: BaseException) -> bool:
    """True when the server certainly rejected the request (a 4xx other than 408/429).

    Anything else (5xx, timeouts, dropped connections, unparsable replies) may have been
    committed by the server, so the caller must look before sending again.
    """
    getter = getattr(exc, "get_http_status_code", None)
    if getter is None:
        return False
    status = int(getter())
    return 400 <= status < 500 and status not in (408, 429)
