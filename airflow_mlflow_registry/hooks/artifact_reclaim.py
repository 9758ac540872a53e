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

"""Freeing the storage of deleted model versions (retention's ``delete_artifacts``): the files
of an MLflow 3 logged model that no remaining version uses.

What goes: the artifacts of a logged model (``models:/m-<id>`` sources, what MLflow 3's
``log_model`` and ``register_model`` produce) once no version of any registered model on the
server uses it any more (its ``model_id``, or a ``models:/m-<id>`` source). What never goes: a
run's own artifacts (a ``runs:/`` source belongs to the run, and other sources to whoever put
them there), and files outside the artifact store the connection's server proxies.

Pending work is remembered on the registered model: before a version is deleted, the tag
``airflow.reclaim_pending.<logged model id>`` (JSON: the version numbers and the logged
model's artifact location) is set on its model. It is removed once the files are gone, or when
the logged model is found in use before retention deleted it. A run that fails part-way (a
failed listing or delete, a crash) leaves the tag, and the next retention run of that model
with ``delete_artifacts`` picks it up first.

Registrations made meanwhile: the server has no "delete these files unless a version uses
them". So the logged model is first tagged ``airflow.reclaiming`` (the lease) and then deleted
(MLflow marks it deleted; the server refuses new versions of a deleted logged model, whatever
client asks), and only then are the versions searched again. A logged model a version uses by
then keeps its files: it stays deleted (its versions still download, new versions of it are
refused) and its pending tag stays, marked ``fenced``, until a run finds no version using it.
What remains is a registration that the server had already accepted, and checked the logged
model for, when the logged model was deleted, and that commits after the search: one
request's processing time. A registration through this provider closes it: after its create it
reads the logged model and, when it is leased or deleted, deletes its new version and raises
:class:`~airflow_mlflow_registry.exceptions.LoggedModelReclaimedError`.

Costs: per logged model of a version about to be deleted, a read of the logged model and a tag
write; per run with pending work, one read of the model's tags and one search over every
version on the server (paged), and one more search after the fences; per logged model that
goes, a read, the lease tag, its delete, one listing request per directory before and after
the files' delete, the delete itself, and the removal of its pending tag.

mlflow is not imported here except through the connection's client.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.exceptions import LoggedModelReclaimedError, MlflowRequestError
from airflow_mlflow_registry.hooks.registry_calls import error_code
from airflow_mlflow_registry.hooks.sources import logged_model_id
from airflow_mlflow_registry.hooks.version_creation import delete_duplicate_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)

#: Registered-model tag prefix naming a logged model whose files are still to be reclaimed.
PENDING_TAG_PREFIX = "airflow.reclaim_pending."
#: Logged-model tag: a reclaim of its files is under way (the lease).
RECLAIMING_TAG = "airflow.reclaiming"


@dataclass
class ReclaimReport:
    """What a reclaim pass did (or, in a dry run, would do), by logged model."""

    reclaimed: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_fields(self, dry_run: bool) -> dict[str, Any]:
        """The record's fields: ``artifacts_reclaimed`` (or ``artifacts_would_reclaim``),
        ``artifacts_kept`` and ``artifacts_failed``."""
        return {
            "artifacts_would_reclaim" if dry_run else "artifacts_reclaimed": self.reclaimed,
            "artifacts_kept": self.kept,
            "artifacts_failed": self.failed,
        }

    def bytes_by_version(self) -> dict[str, int]:
        """Bytes reclaimed per deleted version (a logged model shared by several deleted
        versions counts for the lowest)."""
        result: dict[str, int] = {}
        for entry in self.reclaimed:
            first = min(entry["versions"], key=int)
            result[first] = result.get(first, 0) + entry["bytes"]
        return result


def remember_pending(
    registry: RegistryCalls, model_name: str, entries: Iterable[Mapping[str, Any]]
) -> None:
    """Tag ``model_name`` with the logged models of ``entries`` (versions about to be
    deleted) and where their files are, before the versions are deleted: the files are
    reclaimed later, by this run or the next. Two requests per logged model.

    :raises MlflowRequestError: naming the model.
    """
    client = registry.client
    for model_id, versions in _logged_models_of(entries).items():
        action = f"Remembering the files of logged model {model_id} on model {model_name!r}"
        try:
            location = client.get_logged_model(model_id).artifact_location
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                continue  # deleted already: not this run's files to reclaim
            raise registry.request_error(action, exc) from exc
        value = Pending(versions, location).as_tag_value()
        try:
            client.set_registered_model_tag(model_name, PENDING_TAG_PREFIX + model_id, value)
        except Exception as exc:
            raise registry.request_error(action, exc) from exc


def reclaim_pending(registry: RegistryCalls, model_name: str, *, page_size: int) -> ReclaimReport:
    """Delete the files of every logged model ``model_name``'s pending tags name that no
    version on the server uses; forget the ones in use. A logged model whose files could not
    all be deleted stays pending and is listed under ``failed``.

    :raises MlflowRequestError: when reading the model's tags or searching the versions fails
        (nothing pending is forgotten then).
    """
    report = ReclaimReport()
    pending = _pending(registry, model_name)
    if not pending:
        return report
    users = _version_users(registry, page_size)
    fenced: dict[str, Pending] = {}
    token = uuid.uuid4().hex
    for model_id, entry in pending.items():
        if model_id in users:
            _keep(registry, model_name, model_id, entry, users[model_id], report)
        elif _fence(registry, model_id, entry, token, report):
            fenced[model_id] = entry
    if not fenced:
        return report
    users = _version_users(registry, page_size)  # after the fences: see the module docstring
    for model_id, entry in fenced.items():
        if model_id in users:
            fenced_entry = Pending(entry.versions, entry.location, fenced=True)
            _keep(registry, model_name, model_id, fenced_entry, users[model_id], report)
            continue
        try:
            files = _files_at(registry, entry.location)
            sizes = files.sizes()
            files.delete()
            left = files.sizes()
            if left:
                raise RuntimeError(f"{len(left)} files were still listed after the delete")
        except Exception as exc:
            _failed(registry, model_name, model_id, entry.versions, exc, report)
            continue
        _forget(registry, model_name, model_id)
        log.info(
            "Model %r: deleted the %d files (%d bytes) of logged model %s (versions %s).",
            model_name,
            len(sizes),
            sum(sizes.values()),
            model_id,
            ", ".join(entry.versions),
        )
        report.reclaimed.append(_reclaimed_entry(model_id, entry.versions, sizes))
    return report


def preview(
    registry: RegistryCalls,
    model_name: str,
    entries: Iterable[Mapping[str, Any]],
    *,
    page_size: int,
) -> ReclaimReport:
    """What :func:`reclaim_pending` would delete if ``entries`` (versions of ``model_name``)
    were deleted too: the pending logged models and those of ``entries`` that no other version
    uses, with their files and bytes. Sends no write.

    :raises MlflowRequestError: when a read fails.
    """
    report = ReclaimReport()
    entries = list(entries)
    candidates = {
        model_id: entry.versions for model_id, entry in _pending(registry, model_name).items()
    }
    for model_id, versions in _logged_models_of(entries).items():
        candidates.setdefault(model_id, []).extend(versions)
    if not candidates:
        return report
    going = {f"{model_name}/{entry['version']}" for entry in entries}
    users = {
        model_id: [user for user in names if user not in going]
        for model_id, names in _version_users(registry, page_size).items()
    }
    for model_id, versions in candidates.items():
        if users.get(model_id):
            report.kept.append(_kept_entry(model_id, versions, users[model_id]))
            continue
        try:
            location = registry.client.get_logged_model(model_id).artifact_location
            sizes = _files_at(registry, location).sizes()
        except Exception as exc:
            report.failed.append(
                {"logged_model_id": model_id, "versions": versions, "error": registry.describe(exc)}
            )
            continue
        report.reclaimed.append(_reclaimed_entry(model_id, versions, sizes, listed=True))
    return report


def refuse_reclaimed_source(
    registry: RegistryCalls, model_name: str, version: str, model_uri: str
) -> None:
    """After version ``version`` of ``model_name`` was created from ``model_uri``: when that is
    a logged model being reclaimed (leased) or already deleted, delete the new version and
    raise. Sends nothing for other sources.

    :raises LoggedModelReclaimedError: naming the logged model.
    :raises MlflowRequestError: when the check or the delete fails.
    """
    model_id = logged_model_id(model_uri)
    if model_id is None:
        return
    try:
        reclaiming = RECLAIMING_TAG in (registry.client.get_logged_model(model_id).tags or {})
    except Exception as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise registry.request_error(
                f"Checking logged model {model_id} after registering it as model "
                f"{model_name!r} version {version}",
                exc,
            ) from exc
        reclaiming = True
    if not reclaiming:
        return
    delete_duplicate_version(registry, model_name, version)
    raise LoggedModelReclaimedError(
        f"Logged model {model_id} is deleted or its files are being deleted by retention "
        f"(delete_artifacts): version {version} of model {model_name!r} made from it was "
        "deleted again. Register a model that is still logged (log it again), or retry once "
        "the reclaim has finished if a version still uses it."
    )


def _logged_models_of(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Logged model id to the versions of ``entries`` registered from it."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        model_id = logged_model_id(entry.get("source"))
        if model_id is not None:
            found.setdefault(model_id, []).append(str(entry["version"]))
    return found


@dataclass(frozen=True)
class Pending:
    """A logged model whose files are to be reclaimed: the deleted versions that used it, its
    artifact location (kept in the tag: a deleted logged model can no longer be read), and
    whether retention already deleted the logged model (``fenced``: a version registered
    from it meanwhile still uses it, so it stays pending until no version does)."""

    versions: list[str]
    location: str
    fenced: bool = False

    def as_tag_value(self) -> str:
        return json.dumps(
            {"versions": self.versions, "location": self.location, "fenced": self.fenced}
        )


def _pending(registry: RegistryCalls, model_name: str) -> dict[str, Pending]:
    try:
        tags = registry.client.get_registered_model(model_name).tags or {}
    except Exception as exc:
        raise registry.request_error(
            f"Reading the pending file deletions of model {model_name!r}", exc
        ) from exc
    pending = {}
    for key, value in tags.items():
        if key.startswith(PENDING_TAG_PREFIX):
            fields = json.loads(value)
            pending[key[len(PENDING_TAG_PREFIX) :]] = Pending(
                [str(v) for v in fields["versions"]],
                str(fields["location"]),
                bool(fields.get("fenced", False)),
            )
    return pending


def _version_users(registry: RegistryCalls, page_size: int) -> dict[str, list[str]]:
    """Logged model id to the versions (``name/version``) of every registered model on the
    server that use it: by ``model_id``, or by a ``models:/m-<id>`` source."""
    client = registry.client
    users: dict[str, list[str]] = {}
    for mv in registry.all_pages(
        lambda token: client.search_model_versions(max_results=page_size, page_token=token),
        "Searching every model version for the logged models in use",
    ):
        ids = {getattr(mv, "model_id", None), logged_model_id(mv.source)}
        for model_id in ids:
            if model_id:
                users.setdefault(model_id, []).append(f"{mv.name}/{mv.version}")
    return users


def _fence(
    registry: RegistryCalls, model_id: str, entry: Pending, token: str, report: ReclaimReport
) -> bool:
    """Take the lease on the logged model, then delete it (the server refuses new versions of
    a deleted logged model); a logged model already deleted (a read answers 404: a run that
    stopped after its delete, or someone else) counts as fenced. False (reported as failed,
    still pending) when a request fails otherwise."""
    client = registry.client
    try:
        try:
            client.get_logged_model(model_id)
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return True
            raise registry.request_error(f"Reading logged model {model_id}", exc) from exc
        _ignore_missing(
            registry,
            functools.partial(client.set_logged_model_tags, model_id, {RECLAIMING_TAG: token}),
            f"Tagging logged model {model_id} as being reclaimed",
        )
        _ignore_missing(
            registry,
            functools.partial(client.delete_logged_model, model_id),
            f"Deleting logged model {model_id}",
        )
    except MlflowRequestError as exc:
        report.failed.append(
            {"logged_model_id": model_id, "versions": entry.versions, "error": str(exc)}
        )
        return False
    return True


def _ignore_missing(registry: RegistryCalls, call: Callable[[], object], action: str) -> None:
    """``call()``; a RESOURCE_DOES_NOT_EXIST answer counts as done.

    :raises MlflowRequestError: naming ``action`` for any other failure.
    """
    try:
        call()
    except Exception as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise registry.request_error(action, exc) from exc


def _failed(
    registry: RegistryCalls,
    model_name: str,
    model_id: str,
    versions: list[str],
    exc: BaseException,
    report: ReclaimReport,
) -> None:
    message = registry.describe(exc)
    log.error(
        "Model %r: the files of logged model %s (of deleted versions %s) were not all deleted "
        "(%s); they stay pending and the next run with delete_artifacts tries again.",
        model_name,
        model_id,
        ", ".join(versions),
        message,
    )
    report.failed.append({"logged_model_id": model_id, "versions": versions, "error": message})


def _keep(
    registry: RegistryCalls,
    model_name: str,
    model_id: str,
    entry: Pending,
    users: list[str],
    report: ReclaimReport,
) -> None:
    """Keep the files of a logged model in use. It is forgotten unless retention has deleted
    the logged model (``entry.fenced``): then no later deletion of its users could remember
    it again, so it stays pending (marked fenced) until no version uses it."""
    log.info(
        "Model %r: logged model %s is still used by %s; its files stay%s.",
        model_name,
        model_id,
        ", ".join(users[:5]),
        " (pending until no version uses it)" if entry.fenced else "",
    )
    if not entry.fenced:
        _forget(registry, model_name, model_id)
    else:
        try:
            registry.client.set_registered_model_tag(
                model_name, PENDING_TAG_PREFIX + model_id, entry.as_tag_value()
            )
        except Exception as exc:
            raise registry.request_error(
                f"Marking logged model {model_id} as still pending on model {model_name!r}", exc
            ) from exc
    reason = "in use; the logged model is deleted, pending" if entry.fenced else "in use"
    report.kept.append(_kept_entry(model_id, entry.versions, users, reason=reason))


def _forget(registry: RegistryCalls, model_name: str, model_id: str) -> None:
    try:
        registry.client.delete_registered_model_tag(model_name, PENDING_TAG_PREFIX + model_id)
    except Exception as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise registry.request_error(
                f"Removing the pending tag of logged model {model_id} from model {model_name!r}",
                exc,
            ) from exc


def _files_at(registry: RegistryCalls, location: str) -> Any:
    """The :class:`~airflow_mlflow_registry.hooks.client.logged_model_files.LoggedModelFiles`
    at ``location``, through the connection's client."""
    client = registry.client  # loads MLflow first
    from airflow_mlflow_registry.hooks.client.logged_model_files import LoggedModelFiles

    return LoggedModelFiles(client, location)


def _kept_entry(
    model_id: str, versions: list[str], users: list[str], *, reason: str = "in use"
) -> dict[str, Any]:
    return {"logged_model_id": model_id, "versions": versions, "reason": reason, "used_by": users}


def _reclaimed_entry(
    model_id: str, versions: list[str], sizes: Mapping[str, int], *, listed: bool = False
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "logged_model_id": model_id,
        "versions": versions,
        "files": len(sizes),
        "bytes": sum(sizes.values()),
    }
    if listed:
        entry["paths"] = sorted(sizes)
    return entry
