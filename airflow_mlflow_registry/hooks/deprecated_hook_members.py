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

from airflow_mlflow_registry.hooks import model_versions

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.exceptions import MlflowRequestError
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls


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
