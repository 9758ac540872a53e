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

"""Version queries: reading one model version, searching versions by tags, alias and creation
time, waiting for READY, and the JSON-able record every operator, sensor and CLI command
returns.

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`; the hook's
methods of the same names state their contracts. mlflow is imported only inside functions.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.exceptions import ModelRegistrationError, UnsupportedByRegistryError
from airflow_mlflow_registry.hooks.aliases import get_version_by_alias
from airflow_mlflow_registry.hooks.registry_calls import SEARCH_PAGE_SIZE, error_code
from airflow_mlflow_registry.lineage import TAG_PREFIX
from airflow_mlflow_registry.utils.redaction import display_uri
from airflow_mlflow_registry.utils.search_filters import (
    check_search_tags,
    check_version_number,
    model_version_filter,
)
from airflow_mlflow_registry.utils.time_window import TimeWindow
from airflow_mlflow_registry.utils.validation import check_tags

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)

READY_POLL_INTERVAL_SECONDS = 2.0


def version_record(
    registry: RegistryCalls, version: ModelVersion, *, created: bool
) -> dict[str, Any]:
    """The JSON-able record of ``version`` (README: "The XCom record")."""
    tags = dict(version.tags or {})
    lineage = {k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)}
    registered_at = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=timezone.utc)
    return {
        "model_name": version.name,
        "version": str(version.version),
        "model_uri": f"models:/{version.name}/{version.version}",
        "source": display_uri(version.source) if version.source else version.source,
        "run_id": version.run_id or None,
        "status": version.status,
        "aliases": sorted(version.aliases or []),
        "tags": {k: v for k, v in tags.items() if not k.startswith(TAG_PREFIX)},
        "lineage": lineage,
        "created": created,
        **registry.server_fields,
        "registered_at": registered_at.isoformat(),
        "model_version_url": registry.model_version_url(version.name, version.version),
    }


def get_model_version_entity(
    registry: RegistryCalls, model_name: str, version: str | int
) -> ModelVersion:
    """The MLflow ``ModelVersion`` of ``model_name``/``version``.

    :raises MlflowRequestError: naming the model and version.
    """
    try:
        return registry.client.get_model_version(model_name, str(version))
    except Exception as exc:
        raise registry.request_error(
            f"Reading model {model_name!r} version {version}", exc
        ) from exc


def get_model_version(
    registry: RegistryCalls, model_name: str, version: str | int
) -> dict[str, Any]:
    """The JSON-able record of ``model_name``/``version`` (``created`` is False).

    :raises MlflowRequestError: naming the model and version.
    """
    entity = get_model_version_entity(registry, model_name, version)
    return version_record(registry, entity, created=False)


def set_model_version_tags(
    registry: RegistryCalls, model_name: str, version: str | int, tags: Mapping[str, str]
) -> None:
    """Set each of ``tags`` on ``model_name``/``version`` (one request per tag, in order).

    :raises MlflowRequestError: naming the model, version and tag.
    """
    for key, value in tags.items():
        try:
            registry.client.set_model_version_tag(model_name, str(version), key, value)
        except Exception as exc:
            raise registry.request_error(
                f"Setting tag {key!r} on model {model_name!r} version {version}", exc
            ) from exc


def await_ready(registry: RegistryCalls, version: ModelVersion, timeout: float) -> ModelVersion:
    """Poll until ``version`` leaves PENDING_REGISTRATION; return it READY.

    :raises ModelRegistrationError: when it ends in another status or is still pending after
        ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while version.status == "PENDING_REGISTRATION":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ModelRegistrationError(
                f"Model {version.name!r} version {version.version} is still "
                f"PENDING_REGISTRATION after {timeout:g} s "
                f"(status message: {version.status_message or 'none'}); raise "
                "await_registration_for or check the registry server."
            )
        time.sleep(min(READY_POLL_INTERVAL_SECONDS, remaining))
        version = get_model_version_entity(registry, version.name, version.version)
    if version.status != "READY":
        raise ModelRegistrationError(
            f"Model {version.name!r} version {version.version} ended in status "
            f"{version.status}: {version.status_message or 'no status message'}."
        )
    return version


def find_model_versions(
    registry: RegistryCalls, model_name: str, tags: Mapping[str, Any] | None = None
) -> list[ModelVersion]:
    """Versions of ``model_name`` (any status) carrying every tag in ``tags``, newest first;
    one search request, the server matches the tags."""
    filter_string = model_version_filter(model_name, tags)
    try:
        found = registry.client.search_model_versions(filter_string=filter_string)
    except Exception as exc:
        raise registry.request_error(
            f"Searching versions of model {model_name!r} ({filter_string})", exc
        ) from exc
    return sorted((mv for mv in found if mv.name == model_name), key=lambda mv: -int(mv.version))


def find_ready_versions(
    registry: RegistryCalls,
    model_name: str,
    *,
    alias: str | None = None,
    tags: Mapping[str, Any] | None = None,
    newer_than_version: str | int | None = None,
) -> list[ModelVersion]:
    """READY versions of ``model_name``, newest first, matching ``tags``,
    ``newer_than_version`` and ``alias`` (see the hook's method of the same name)."""
    floor = (
        0
        if newer_than_version in (None, "")
        else check_version_number(newer_than_version, "newer_than_version")
    )
    wanted = check_tags(tags)
    if alias is None:
        candidates = find_model_versions(registry, model_name, wanted)
    else:
        holder = get_version_by_alias(registry, model_name, alias)
        candidates = [holder] if holder is not None else []
    return [
        mv
        for mv in candidates
        if mv.status == "READY"
        and int(mv.version) > floor
        and wanted.items() <= dict(mv.tags or {}).items()
    ]


def find_versions_after(
    registry: RegistryCalls,
    model_name: str,
    after_version: int,
    *,
    tags: Mapping[str, Any] | None,
    limit: int,
    newest_first: bool,
) -> list[ModelVersion]:
    """Versions of ``model_name`` numbered above ``after_version`` carrying ``tags``, in
    version order (or the reverse), at most ``limit``: one search, filtered, ordered and
    bounded by the server.

    :raises UnsupportedByRegistryError: on a Unity Catalog registry (no request is sent).
    """
    check_ordered_search(
        registry,
        f"Watching new versions of model {model_name!r}",
        "watch an alias instead (MlflowRegistryEventTrigger(alias=...))",
    )
    filter_string = (
        f"{model_version_filter(model_name, tags)} AND version_number > {int(after_version)}"
    )
    order = "DESC" if newest_first else "ASC"
    try:
        found = registry.client.search_model_versions(
            filter_string=filter_string,
            max_results=limit,
            order_by=[f"version_number {order}"],
        )
    except Exception as exc:
        raise registry.request_error(
            f"Searching versions of model {model_name!r} ({filter_string})", exc
        ) from exc
    return [mv for mv in found if mv.name == model_name]


def search_model_versions(
    registry: RegistryCalls,
    model_name: str,
    *,
    alias: str | None = None,
    tags: Mapping[str, Any] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int | None = None,
    page_size: int = SEARCH_PAGE_SIZE,
) -> list[dict[str, Any]]:
    """Records of the versions of ``model_name``, newest first, matching the filters (see the
    hook's method of the same name): the server matches the tags, creation times are matched
    here, pages are read until ``limit`` records are found or the last page is read."""
    window = TimeWindow(created_after, created_before)
    wanted = check_search_tags(tags, "tags")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}.")
    candidates: Iterable[ModelVersion]
    if alias is None:
        candidates = model_versions_newest_first(
            registry, model_version_filter(model_name, wanted), page_size
        )
    else:
        holder = get_version_by_alias(registry, model_name, alias)
        candidates = [holder] if holder is not None else []
    found: list[ModelVersion] = []
    for mv in candidates:
        if (
            mv.name == model_name
            and wanted.items() <= dict(mv.tags or {}).items()
            and window.contains(mv.creation_timestamp)
        ):
            found.append(mv)
            if len(found) == limit:
                break
    # Searches return versions without their aliases: read them from the model.
    aliases = aliases_by_version(registry, model_name) if found else {}
    for mv in found:
        mv.aliases = aliases.get(str(mv.version), [])
    return [version_record(registry, mv, created=False) for mv in found]


def model_versions_newest_first(
    registry: RegistryCalls, filter_string: str, page_size: int
) -> Iterator[ModelVersion]:
    """The versions matching ``filter_string``, highest version first, page by page.

    :raises UnsupportedByRegistryError: on a Unity Catalog registry.
    """
    check_ordered_search(registry, f"Searching model versions ({filter_string})", None)
    client = registry.client
    return registry.all_pages(
        lambda token: client.search_model_versions(
            filter_string=filter_string,
            max_results=page_size,
            order_by=["version_number DESC"],
            page_token=token,
        ),
        f"Searching model versions ({filter_string})",
    )


def check_ordered_search(registry: RegistryCalls, action: str, instead: str | None) -> None:
    """Refuse, before any request, an ``action`` that needs a version search ordered by
    version number on a registry that has none: Unity Catalog (MLflow's Unity Catalog store
    rejects ``order_by``). ``instead``: what the user can do instead, if anything.

    :raises UnsupportedByRegistryError: naming ``action``, the registry and ``instead``.
    """
    if not registry.is_unity_catalog:
        return
    remedy = f"; {instead}" if instead else "; it is not supported there"
    raise UnsupportedByRegistryError(
        f"{action} needs a version search ordered by version number, which Unity Catalog "
        f"registries do not offer{remedy}."
    )


def registered_model_created_at(registry: RegistryCalls, model_name: str) -> int | None:
    """``creation_timestamp`` (milliseconds) of registered model ``model_name``, or None when
    the registry answers that it does not exist."""
    try:
        model = registry.client.get_registered_model(model_name)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise registry.request_error(f"Reading model {model_name!r}", exc) from exc
    return int(model.creation_timestamp)


def aliases_by_version(registry: RegistryCalls, model_name: str) -> dict[str, list[str]]:
    """Version number to the aliases of ``model_name`` pointing at it."""
    try:
        model = registry.client.get_registered_model(model_name)
    except Exception as exc:
        raise registry.request_error(f"Reading aliases of model {model_name!r}", exc) from exc
    by_version: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        by_version.setdefault(str(version), []).append(alias)
    return by_version
