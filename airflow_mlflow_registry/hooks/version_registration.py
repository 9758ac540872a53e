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

"""Registering a model version exactly once per task instance and source: the steps of the
protocol whose rules live in :mod:`airflow_mlflow_registry.hooks.registration`.

A registration resolves its source (a model URI, or the run a search chooses), looks up the
versions carrying its key, reuses what an earlier attempt of the task instance registered from
the same source or supersedes it (:mod:`~airflow_mlflow_registry.hooks.version_creation`
creates the new version exactly once), waits for READY and points the aliases.

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`;
:meth:`MlflowRegistryHook.register_model_version` states the contract. mlflow is imported only
inside functions.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.exceptions import NoMatchingRunError
from airflow_mlflow_registry.hooks.aliases import MoveReason, point_aliases
from airflow_mlflow_registry.hooks.artifact_reclaim import refuse_reclaimed_source
from airflow_mlflow_registry.hooks.model_versions import (
    await_ready,
    get_model_version_entity,
    version_record,
)
from airflow_mlflow_registry.hooks.registration import (
    SOURCE_URI_TAG,
    SUPERSEDES_TAG,
    EarlierRegistration,
    earlier_registration,
    registered_source,
)
from airflow_mlflow_registry.hooks.runs import find_run_source
from airflow_mlflow_registry.hooks.version_creation import (
    create_version_once,
    find_model_versions_by_key,
)
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from airflow_mlflow_registry.utils.redaction import display_uri
from airflow_mlflow_registry.utils.standalone import is_standalone
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_idempotency_key,
    check_model_name,
    check_model_uri,
    check_tags,
    check_timeout,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.hooks.sources import RunSearch

log = logging.getLogger(__name__)

DEFAULT_AWAIT_REGISTRATION_SECONDS = 300


def register_model_version(
    registry: RegistryCalls,
    model_name: str,
    model_uri: str | None = None,
    *,
    run_search: RunSearch | None = None,
    run_id: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    aliases: Iterable[str] | None = None,
    lineage: TaskInstanceLineage | None = None,
    await_registration_for: float = DEFAULT_AWAIT_REGISTRATION_SECONDS,
    idempotency_key: str | None = None,
    provenance_tags: Mapping[str, str] | None = None,
    source_identity: str | None = None,
    key_looked_up: bool = False,
    alias_reason: MoveReason | None = None,
) -> dict[str, Any]:
    """Register ``model_uri`` (or the source ``run_search`` resolves to) as a version of
    ``model_name``, exactly once per task instance and source; return its record.

    ``source_identity``: see :meth:`MlflowRegistryHook.register_model_version`.
    ``key_looked_up``: the caller has already found that no version carries the key (a
    backfill searches its runs' versions in bulk) and settles overlapping registrations
    itself, so no look-up is sent before the create.
    ``alias_reason``: the ledger's reason for the alias moves (default: kind ``register``).

    :raises LoggedModelReclaimedError: when ``model_uri`` is a logged model whose files
        retention is deleting or has deleted (the new version is deleted again; see
        :mod:`~airflow_mlflow_registry.hooks.artifact_reclaim`).
    """
    model_name = check_model_name(model_name)
    if (model_uri is None) == (run_search is None):
        raise ValueError("Give exactly one of model_uri and run_search.")
    if model_uri is not None:
        model_uri = check_model_uri(model_uri)
        registry.hide_model_uri_secrets(model_uri)
    user_tags = check_tags(tags)
    alias_list = check_aliases(aliases)
    wait_seconds = check_timeout(await_registration_for, "await_registration_for")
    idempotency_key = check_idempotency_key(idempotency_key)
    lineage = lineage or current_lineage()
    key = idempotency_key or (lineage.registration_key(model_name) if lineage else None)
    version_tags = dict(user_tags)
    if lineage is not None:
        version_tags.update(lineage.as_tags())
    version_tags.update(provenance_tags or {})  # airflow.* tags of our own, e.g. a copy's
    if run_search is not None:
        source = find_run_source(registry, run_search)
        if source is None:
            raise NoMatchingRunError(
                f"No run to register as model {model_name!r}: nothing matched in "
                f"{run_search.describe()}."
            )
        model_uri, run_id = source.model_uri, source.run_id
        version_tags.update(source.as_tags())
    assert model_uri is not None
    run_id = run_id or _run_id_from_uri(model_uri)
    earlier = EarlierRegistration()
    if key is not None:
        version_tags[REGISTRATION_KEY_TAG] = key
        version_tags[SOURCE_URI_TAG] = display_uri(source_identity or model_uri)
        if not key_looked_up:
            found = find_model_versions_by_key(registry, model_name, key, run_id=run_id)
            earlier = earlier_registration(found, source_identity or model_uri)

    if earlier.reusable is not None:
        version, created = earlier.reusable, False
        log.info(
            "Model %r version %s was registered from %s by an earlier attempt of this task "
            "instance; reusing it.",
            model_name,
            version.version,
            display_uri(model_uri),
        )
        if not registry.is_unity_catalog:  # UC look-ups already read each version
            # Search results carry no aliases: read the version for them and its status.
            version = get_model_version_entity(registry, model_name, version.version)
    else:
        if earlier.superseded is not None:
            version_tags[SUPERSEDES_TAG] = str(earlier.superseded.version)
        version, created = create_version_once(
            registry,
            model_name,
            model_uri,
            run_id,
            description,
            version_tags,
            key,
            may_overlap=_may_overlap(idempotency_key, lineage, key_looked_up),
        )
        if created:
            refuse_reclaimed_source(registry, model_name, str(version.version), model_uri)
        if earlier.superseded is not None:
            log.warning(
                "Model %r version %s (from %s) supersedes version %s (from %s), which an "
                "earlier attempt of this task instance registered; the aliases move to "
                "version %s.",
                model_name,
                version.version,
                display_uri(model_uri),
                earlier.superseded.version,
                registered_source(earlier.superseded),
                version.version,
            )
    version = await_ready(registry, version, wait_seconds)
    version = point_aliases(
        registry, version, alias_list, alias_reason or MoveReason(MoveKind.REGISTER)
    )
    return version_record(registry, version, created=created)


def _may_overlap(
    idempotency_key: str | None, lineage: TaskInstanceLineage | None, key_looked_up: bool
) -> bool:
    """Whether another registration with the same key may be creating at the same time, so
    the create is checked (one search) and settled: always with a caller's own
    ``idempotency_key`` (nothing stops two processes from using it at once), and for a task
    attempt after the first (it may overlap an earlier attempt still running). Never when
    ``key_looked_up``: that caller settles overlaps itself."""
    if key_looked_up:
        return False
    return idempotency_key is not None or (lineage is not None and lineage.try_number > 1)


def _run_id_from_uri(model_uri: str) -> str | None:
    if model_uri.startswith("runs:/"):
        return model_uri[len("runs:/") :].strip("/").split("/")[0]
    return None


def current_lineage() -> TaskInstanceLineage | None:
    """Lineage of the running task, or None outside a task (always in standalone mode: a
    process without Airflow runs no task)."""
    if is_standalone():
        return None
    from airflow.sdk import get_current_context

    try:
        return TaskInstanceLineage.from_context(get_current_context())
    except Exception:
        return None
