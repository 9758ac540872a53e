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

"""Members of :class:`~airflow_mlflow_registry.hooks.MlflowRegistryHook` kept for one release
after 0.1.0: each warns with ``DeprecationWarning`` naming its replacement, then does what it
did. To be removed in 0.3.0.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.hooks import model_versions, runs, version_creation
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.exceptions import MlflowRequestError
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.hooks.sources import ResolvedSource, RunSearch


def _deprecated(member: str, replacement: str) -> None:
    warnings.warn(
        f"MlflowRegistryHook.{member} is deprecated and goes in 0.3.0: {replacement}.",
        DeprecationWarning,
        stacklevel=3,
    )


class DeprecatedHookMembers:
    """The hook's deprecated members; each names its replacement."""

    _registry: RegistryCalls

    @property
    def server_fields(self) -> dict[str, str]:
        """Deprecated: the ``tracking_uri`` and ``workspace`` fields of
        :meth:`model_version_record`."""
        _deprecated("server_fields", "read tracking_uri/workspace from model_version_record()")
        return self._registry.server_fields

    def request_error(self, action: str, exc: BaseException) -> MlflowRequestError:
        """Deprecated: raise ``MlflowRequestError`` with your own message."""
        _deprecated("request_error", "raise MlflowRequestError with your own message")
        return self._registry.request_error(action, exc)

    def find_model_versions(
        self, model_name: str, tags: Mapping[str, Any] | None = None
    ) -> list[ModelVersion]:
        """Deprecated: use :meth:`search_model_versions` (records, any status)."""
        _deprecated("find_model_versions", "use search_model_versions (records)")
        return model_versions.find_model_versions(self._registry, model_name, tags)

    def find_matching_version(
        self,
        model_name: str,
        *,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        newer_than_version: str | int | None = None,
    ) -> dict[str, Any] | None:
        """Deprecated: the :meth:`model_version_record` of the first of
        :meth:`find_ready_versions`, or None."""
        _deprecated(
            "find_matching_version",
            "use model_version_record() of the first of find_ready_versions()",
        )
        found = model_versions.find_ready_versions(
            self._registry,
            model_name,
            alias=alias,
            tags=tags,
            newer_than_version=newer_than_version,
        )
        if not found:
            return None
        return model_versions.version_record(self._registry, found[0], created=False)

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """Deprecated: ``registry_calls.run_url``."""
        _deprecated("run_url", "use registry_calls.run_url")
        return self._registry.run_url(experiment_id, run_id)

    def redact_secrets(self, text: str) -> str:
        """Deprecated: ``registry_calls.redact``."""
        _deprecated("redact_secrets", "use registry_calls.redact")
        return self._registry.redact(text)

    def ensure_registered_model(self, model_name: str) -> bool:
        """Deprecated: register_model_version creates the model when needed."""
        _deprecated("ensure_registered_model", "register_model_version creates the model")
        return version_creation.ensure_registered_model(self._registry, model_name)

    def find_model_versions_by_key(
        self,
        model_name: str,
        registration_key: str,
        *,
        run_id: str | None = None,
        key_tag: str = REGISTRATION_KEY_TAG,
    ) -> list[ModelVersion]:
        """Deprecated: :meth:`search_model_versions` with ``tags={key_tag: registration_key}``."""
        _deprecated("find_model_versions_by_key", "use search_model_versions(tags=...)")
        return version_creation.find_model_versions_by_key(
            self._registry, model_name, registration_key, run_id=run_id, key_tag=key_tag
        )

    def find_run_source(self, search: RunSearch) -> ResolvedSource | None:
        """Deprecated: ``register_model_version(run_search=...)`` resolves the run."""
        _deprecated("find_run_source", "use register_model_version(run_search=...)")
        return runs.find_run_source(self._registry, search)

    def registered_model_created_at(self, model_name: str) -> int | None:
        """Deprecated: ``get_conn().get_registered_model(name).creation_timestamp``."""
        _deprecated("registered_model_created_at", "read the registered model's creation_timestamp")
        return model_versions.registered_model_created_at(self._registry, model_name)
