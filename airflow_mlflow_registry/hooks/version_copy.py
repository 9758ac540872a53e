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

"""Copying a model version from one connection's registry to another's, files included,
exactly once per task instance.

The source version (by number or alias) is read, and its files downloaded, through the source
connection's client (its credentials; files outside the source server's proxied artifact store
only on request: :mod:`~airflow_mlflow_registry.hooks.client.model_source_download`). They are
uploaded to an MLflow 3 logged model on the target, created through the target connection's
client (its credentials), and registered there like
:meth:`~airflow_mlflow_registry.hooks.MlflowRegistryHook.register_model_version`
(the exactly-once protocol of :mod:`~airflow_mlflow_registry.hooks.registration`), with
``airflow.copied_from.*`` tags naming the source: tracking URI (without user info or query
values), model, version and run.

Exactly once: the logged model on the target carries a copy key, a digest of the task
instance's registration key and the source version. A retry finds that logged model instead
of uploading again (an upload cut short is sent again into it, then it is marked READY), so
it registers the same ``models:/<model_id>`` source and the registration returns the version
registered before. Two attempts running at the same time (a zombie and its retry) may each
upload to a logged model of their own: both register with the task instance's key and the
same source identity (``models:/<name>/<version> on <source tracking URI>``, recorded as
``airflow.source_uri``), each checks after its create, the lowest version wins and the other
is deleted, as for any overlapping registration; the losing attempt returns the winner and
deletes its own logged model. A cleared task whose alias now names another source version
copies and registers that one, superseding its earlier version (as registration does for a
new source).

Both connections come as :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`.
mlflow is imported inside functions; the bound clients do every request.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from typing import TYPE_CHECKING, Any, TypedDict

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.exceptions import (
    AmbientSourceRefusedError,
    MlflowRegistryError,
    MlflowRequestError,
    SourceVersionNotFoundError,
)
from airflow_mlflow_registry.hooks.aliases import MoveReason, get_version_by_alias
from airflow_mlflow_registry.hooks.model_versions import get_model_version_entity
from airflow_mlflow_registry.hooks.version_registration import (
    current_lineage,
    register_model_version,
)
from airflow_mlflow_registry.lineage import TAG_PREFIX
from airflow_mlflow_registry.utils.redaction import display_uri
from airflow_mlflow_registry.utils.search_filters import check_version_number
from airflow_mlflow_registry.utils.validation import check_aliases, check_model_name, check_tags

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from mlflow.entities import LoggedModel
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.lineage import TaskInstanceLineage

log = logging.getLogger(__name__)

COPIED_FROM_PREFIX = "airflow.copied_from."
COPY_KEY_TAG = "airflow.copy_key"
DEFAULT_TARGET_EXPERIMENT = "airflow-model-copies"
DEFAULT_COPY_AWAIT_SECONDS = 300.0


class CopyOptions(TypedDict, total=False):
    """The keyword arguments of :func:`copy_model_version`, for callers that pass them on."""

    version: str | int | None
    alias: str | None
    target_model_name: str | None
    aliases: Iterable[str] | None
    tags: Mapping[str, Any] | None
    description: str | None
    target_experiment_name: str
    lineage: TaskInstanceLineage | None
    await_registration_for: float
    allow_ambient_credentials: bool


def copy_model_version(
    source: RegistryCalls,
    target: RegistryCalls,
    model_name: str,
    *,
    version: str | int | None = None,
    alias: str | None = None,
    target_model_name: str | None = None,
    aliases: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    target_experiment_name: str = DEFAULT_TARGET_EXPERIMENT,
    lineage: TaskInstanceLineage | None = None,
    await_registration_for: float = DEFAULT_COPY_AWAIT_SECONDS,
    allow_ambient_credentials: bool = False,
) -> dict[str, Any]:
    """Copy ``model_name`` version ``version`` (or the one ``alias`` points at) from
    ``source``'s registry to ``target``'s as a version of ``target_model_name`` (default: the
    same name), and point ``aliases`` at it there.

    The files are read only through ``source``'s connection: the version's source
    (``models:/<name>/<version>`` or ``models:/<name>@<alias>``, ``runs:/``, a logged model
    ``models:/<model_id>``, an ``mlflow-artifacts:`` URI) is resolved through ``source``'s
    registry and tracking server, and downloaded from the artifact store that server proxies,
    with the connection's credentials, or from its ``artifact_buckets`` with its AWS
    connection. Files stored anywhere else (other ``s3://`` buckets, ``gs://``, ``file://``, a
    local path, another server) would be read with the worker's own identity,
    which whoever registered the source version may lack: they are refused unless
    ``allow_ambient_credentials`` is true. Nothing is created on the target until the download
    has succeeded.

    The copy carries the source version's user tags (``tags`` added over them), its
    description unless ``description`` is given, the task's lineage tags and the
    ``airflow.copied_from.*`` tags. Its files go to a logged model in the target's experiment
    ``target_experiment_name`` (created when missing).

    :return: the target version's record (as ``register_model_version``), plus
        ``copied_from``: ``tracking_uri``, ``model_name``, ``version``, ``run_id`` of the
        source.
    :raises ValueError: for invalid arguments, naming the argument.
    :raises SourceVersionNotFoundError: when the source version or alias does not exist, or
        the version is not READY.
    :raises AmbientSourceRefusedError: when the files are neither served by ``source``'s
        tracking server nor in its ``artifact_buckets`` and ``allow_ambient_credentials`` is
        false (nothing is read or created).
    :raises MlflowRequestError: when a request to either registry fails, or the download
        (naming the source connection and version; nothing is created on the target).
    """
    model_name = check_model_name(model_name)
    target_model_name = check_model_name(target_model_name or model_name, "target_model_name")
    if (version is None) == (alias is None):
        raise ValueError("Give exactly one of version and alias (the source version to copy).")
    alias_list = check_aliases(aliases)
    user_tags = check_tags(tags)
    if lineage is None:
        lineage = current_lineage()
    chosen = _source_version(source, model_name, version, alias)
    copied_from = {
        **source.server_fields,
        "model_name": model_name,
        "version": str(chosen.version),
        "run_id": chosen.run_id or None,
    }
    registration_key = lineage.registration_key(target_model_name) if lineage else None
    copy_key = None if registration_key is None else _copy_key(registration_key, copied_from)
    model_id = _copy_files(
        source, target, chosen, target_experiment_name, copy_key, allow_ambient_credentials
    )
    source_tags = {k: v for k, v in (chosen.tags or {}).items() if not k.startswith(TAG_PREFIX)}
    record = register_model_version(
        target,
        target_model_name,
        f"models:/{model_id}",
        description=description if description is not None else (chosen.description or None),
        tags={**source_tags, **user_tags},
        aliases=alias_list,
        lineage=lineage,
        await_registration_for=await_registration_for,
        # Every attempt checks after its create for an overlapping one (the key), and
        # attempts that uploaded to different logged models are one registration (identity).
        idempotency_key=registration_key,
        source_identity=f"models:/{model_name}/{chosen.version} on {source.tracking_uri}",
        alias_reason=MoveReason(
            MoveKind.COPY,
            {"copied_from": f"models:/{model_name}/{chosen.version} on {source.tracking_uri}"},
        ),
        provenance_tags={
            COPIED_FROM_PREFIX + key: value for key, value in copied_from.items() if value
        },
    )
    if record["source"] != f"models:/{model_id}":
        _discard_logged_model(target, model_id, record)
    return {**record, "copied_from": copied_from}


def _discard_logged_model(target: RegistryCalls, model_id: str, kept: Mapping[str, Any]) -> None:
    """Delete the logged model ``model_id`` that this attempt uploaded, now that an
    overlapping attempt's version ``kept`` counts; a failed delete is logged, not raised (the
    copy itself is complete)."""
    log.warning(
        "Model %r version %s on %s, registered from %s by an overlapping attempt of this "
        "task instance, is the copy; deleting this attempt's logged model %s.",
        kept["model_name"],
        kept["version"],
        target.tracking_uri,
        kept["source"],
        model_id,
    )
    try:
        target.client.delete_logged_model(model_id)
    except Exception as exc:
        log.warning(
            "Could not delete the unused logged model %s on %s: %s",
            model_id,
            target.tracking_uri,
            target.redact(str(exc)),
        )


def _source_version(
    source: RegistryCalls, model_name: str, version: str | int | None, alias: str | None
) -> ModelVersion:
    """The READY source version chosen by number or alias.

    :raises MlflowRequestError: naming the source connection, when reading it fails.
    """
    alias = None if alias is None else check_aliases([alias], "alias")[0]
    number = None if alias is not None else check_version_number(version, "version")
    try:
        if number is None:
            chosen = get_version_by_alias(source, model_name, str(alias))
        else:
            chosen = get_model_version_entity(source, model_name, number)
    except MlflowRequestError as exc:
        raise MlflowRequestError(
            f"Source connection {source.config.conn_id!r} ({source.tracking_uri}): {exc}"
        ) from exc
    if chosen is None:
        raise SourceVersionNotFoundError(
            f"Alias {alias!r} of model {model_name!r} does not exist on "
            f"{source.tracking_uri} (or the model does not): nothing to copy."
        )
    if chosen.status != "READY":
        raise SourceVersionNotFoundError(
            f"Model {model_name!r} version {chosen.version} on {source.tracking_uri} is "
            f"{chosen.status}, not READY: nothing to copy."
        )
    return chosen


def _copy_key(registration_key: str, copied_from: Mapping[str, Any]) -> str:
    """A hex digest naming (task instance's registration, source version)."""
    source_identity = [copied_from[k] for k in ("tracking_uri", "model_name", "version")]
    if "workspace" in copied_from:  # absent without workspaces: those keys stay as they were
        source_identity.append(copied_from["workspace"])
    identity = "\x1f".join([registration_key, *source_identity])
    return hashlib.sha256(identity.encode()).hexdigest()


def _copy_files(
    source: RegistryCalls,
    target: RegistryCalls,
    chosen: ModelVersion,
    experiment_name: str,
    copy_key: str | None,
    allow_ambient_credentials: bool,
) -> str:
    """The id of a READY logged model on the target holding the files of ``chosen``: the one
    an earlier attempt made (``copy_key``), else a new one. Downloads with the source's
    client, then (only once the download succeeded) uploads with the target's."""
    from mlflow.entities import LoggedModelStatus

    target_client = target.client
    action = f"Copying model {chosen.name!r} version {chosen.version} to {target.tracking_uri}"
    experiment_id = _existing_experiment_id(target, experiment_name)
    earlier = _earlier_copy(target, experiment_id, copy_key) if copy_key and experiment_id else None
    if earlier is not None and earlier.status == LoggedModelStatus.READY:
        log.info(
            "Model %r version %s was copied by an earlier attempt of this task instance "
            "(logged model %s on %s); not copying again.",
            chosen.name,
            chosen.version,
            earlier.model_id,
            target.tracking_uri,
        )
        return str(earlier.model_id)
    with tempfile.TemporaryDirectory(prefix="mlflow-model-copy-") as download_dir:
        local_dir = _download(source, chosen, download_dir, allow_ambient_credentials)
        experiment_id = experiment_id or _new_experiment_id(target, experiment_name)
        try:
            logged = earlier or target_client.create_logged_model(
                experiment_id,
                name=chosen.name,
                tags={COPY_KEY_TAG: copy_key} if copy_key else None,
            )
            target_client.log_model_artifacts(logged.model_id, local_dir)
            target_client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        except Exception as exc:
            raise target.request_error(action, exc) from exc
    log.info(
        "Copied the files of model %r version %s from %s to logged model %s on %s.",
        chosen.name,
        chosen.version,
        source.tracking_uri,
        logged.model_id,
        target.tracking_uri,
    )
    return str(logged.model_id)


def _download(
    source: RegistryCalls,
    chosen: ModelVersion,
    download_dir: str,
    allow_ambient_credentials: bool,
) -> str:
    """Download the files of ``chosen`` with the source's client; return their directory."""
    if not source.config.uses_rest:
        raise MlflowRegistryError(
            f"Copying from {source.tracking_uri} is not supported: the source connection "
            "must name an MLflow tracking server (http:// or https://), not a local store."
        )
    model_source = str(chosen.source or "")
    copying = (
        f"model {chosen.name!r} version {chosen.version} "
        f"({display_uri(model_source)}) through source connection {source.config.conn_id!r} "
        f"({source.tracking_uri})"
    )
    try:
        return source.download_model_source(
            model_source, download_dir, allow_ambient_credentials=allow_ambient_credentials
        )
    except AmbientSourceRefusedError as exc:
        raise AmbientSourceRefusedError(
            f"Not copying {copying}, nothing was created on the target: {exc}"
        ) from exc
    except Exception as exc:
        raise source.request_error(
            f"Downloading the files of {copying} (nothing was created on the target)", exc
        ) from exc


def _earlier_copy(target: RegistryCalls, experiment_id: str, copy_key: str) -> LoggedModel | None:
    """The oldest logged model in ``experiment_id`` tagged with ``copy_key``, or None."""
    try:
        found = target.client.search_logged_models(
            [experiment_id], filter_string=f"tags.`{COPY_KEY_TAG}` = '{copy_key}'"
        )
    except Exception as exc:
        raise target.request_error(
            f"Looking up earlier copies in experiment {experiment_id} on {target.tracking_uri}",
            exc,
        ) from exc
    return min(found, key=lambda m: (m.creation_timestamp, m.model_id), default=None)


def _existing_experiment_id(target: RegistryCalls, experiment_name: str) -> str | None:
    """The id of the target's experiment ``experiment_name``, or None when it is missing.

    :raises MlflowRegistryError: when it is deleted, or the look-up fails.
    """
    try:
        experiment = target.client.get_experiment_by_name(experiment_name)
    except Exception as exc:
        raise target.request_error(
            f"Looking up experiment {experiment_name!r} on {target.tracking_uri}", exc
        ) from exc
    if experiment is None:
        return None
    if experiment.lifecycle_stage == "deleted":
        raise MlflowRegistryError(
            f"Experiment {experiment_name!r} on {target.tracking_uri} is deleted; restore "
            "it or set target_experiment_name to another experiment."
        )
    return str(experiment.experiment_id)


def _new_experiment_id(target: RegistryCalls, experiment_name: str) -> str:
    """The id of the target's experiment ``experiment_name``, created now (a concurrent
    creation is fine)."""
    try:
        return str(target.client.create_experiment(experiment_name))
    except Exception as exc:
        if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
            raise target.request_error(
                f"Creating experiment {experiment_name!r} on {target.tracking_uri}", exc
            ) from exc
    created_by_another = _existing_experiment_id(target, experiment_name)
    assert created_by_another is not None  # it exists: its creation just collided
    return created_by_another
