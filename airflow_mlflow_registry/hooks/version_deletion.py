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

"""Deleting the versions a :class:`~airflow_mlflow_registry.retention.RetentionRule` lets go,
with one connection's :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`.

:func:`delete_expired_versions` applies a rule with one paginated search of the model's versions
(the tags matched by the server, newest first) and one read of the model's aliases, then two
requests per deletion (a read of the model's aliases, then the delete), and one more read of the
aliases after the last deletion.

Aliases and the window that remains: MLflow deletes the aliases pointing at a version together
with the version, without saying so, and has no conditional delete ("delete unless an alias
points at it"). So the model's aliases are read (one request) immediately before each delete
is sent, and the version is kept if an alias now points at it. What remains is the time
between the server answering that read and the server committing the delete: an alias pointed
at that version in between is deleted with it. That is one request's trip to the server and
back (milliseconds on a local network); it is longer only while the server is slow to process
the delete (for a delete the client gave up on after its timeout, until the server gets to
it). It never spans a retry's back-off: the delete is sent without HTTP retries, and after a
5xx, a timeout or a lost connection the aliases are read again before the delete is sent
again. An alias set before that read is seen; one set after the delete is refused by the
registry (the version no longer exists).

Such a loss is reported, not silent, when the alias already existed (pointing at another
version, as when a rollback moves ``production``): the read before the next delete (or one
more read after the last) finds it missing, and it is logged as an error and listed under
``aliases_vanished`` (``alias``, ``pointed_at`` before, ``while_deleting``), so that it can be
pointed again. An alias created in that window (it existed nowhere before) is lost without a
report; an alias deleted by someone else, or with another version someone else deleted,
while retention runs is reported the same way. ``keep_latest`` is counted at the search:
versions registered later only add to the newest, so a version ranked out stays out, unless
someone else deletes newer versions meanwhile.

With ``delete_artifacts``, the files only the deleted versions used go too
(:mod:`~airflow_mlflow_registry.hooks.artifact_reclaim`).

Deleting is idempotent: a version already gone is not an error, and a retry after a partial
run searches again and deletes what is left.

mlflow is not imported here: the connection's client does the requests.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import artifact_reclaim
from airflow_mlflow_registry.hooks.client.mlflow_compat import registry_client_of
from airflow_mlflow_registry.hooks.model_versions import search_model_versions
from airflow_mlflow_registry.hooks.registry_calls import error_code, is_definitive
from airflow_mlflow_registry.retention import (
    FAILED,
    check_max_deletions,
    describe_rule,
    keep_reason,
    plan_retention,
)
from airflow_mlflow_registry.utils.search_filters import model_version_filter
from airflow_mlflow_registry.utils.validation import check_model_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.retention import RetentionRule

log = logging.getLogger(__name__)

#: Seconds before the first re-check of a version whose delete got no definite answer;
#: doubled for each further attempt.
DELETE_RETRY_BACKOFF_SECONDS = 0.5


def delete_expired_versions(
    registry: RegistryCalls,
    model_name: str,
    rule: RetentionRule,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    max_deletions: int | None = None,
    page_size: int = 500,
    delete_artifacts: bool = False,
) -> dict[str, Any]:
    """Delete the versions of ``model_name`` that ``rule`` lets go as of ``now`` (default: the
    current time), oldest first, at most ``max_deletions`` (None: all); with ``dry_run``
    delete nothing and report what would go.

    :return: a JSON-able record: ``model_name``, ``dry_run``, ``rule``, ``cutoff`` (ISO-8601
        or None), ``examined`` (versions carrying the rule's tags), ``deleted`` (this call's
        deletions: ``version``, ``registered_at``, ``run_id``, ``source``, ``status``),
        ``would_delete`` (the same, in a dry run), ``failed_registrations_deleted`` (the
        deleted versions that were ``FAILED_REGISTRATION``), ``already_gone`` (versions someone
        else deleted meanwhile), ``protected`` (``version``, ``reason``: the aliases pointing at
        it, or its registration state), ``remaining`` (versions left for a later run by
        ``max_deletions``), ``aliases_vanished`` (aliases found missing after a deletion:
        ``alias``, ``pointed_at``, ``while_deleting``; see the module docstring),
        ``tracking_uri``. With ``delete_artifacts``, also each deleted (or would-be deleted)
        entry's ``bytes_reclaimed``, and ``artifacts_reclaimed`` (``artifacts_would_reclaim``
        in a dry run, with the ``paths``), ``artifacts_kept`` and ``artifacts_failed`` (still
        pending, retried by the next run), each by logged model: ``logged_model_id``,
        ``versions``, ``files``, ``bytes`` / ``reason``, ``used_by`` / ``error``.
    :raises ValueError: for an invalid model name, ``max_deletions`` below 1, or ``now``
        without a time zone.
    :raises MlflowRequestError: naming the model (and version) when a request fails; the
        versions deleted before stay deleted, and a retry deletes the rest.
    """
    model_name = check_model_name(model_name)
    model_version_filter(model_name)  # a quote in the name would make every search miss
    max_deletions = check_max_deletions(max_deletions)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}.")
    versions = search_model_versions(registry, model_name, tags=rule.tags, page_size=page_size)
    plan = plan_retention(versions, rule, now, _recent_holders(registry, model_name, rule))
    chosen = plan.expired if max_deletions is None else plan.expired[:max_deletions]
    cutoff = rule.cutoff(now)
    record: dict[str, Any] = {
        "model_name": model_name,
        "dry_run": dry_run,
        "rule": rule.as_record(),
        "cutoff": None if cutoff is None else cutoff.isoformat(),
        "examined": plan.examined,
        "deleted": [],
        "would_delete": chosen if dry_run else [],
        "failed_registrations_deleted": [],
        "already_gone": [],
        "aliases_vanished": [],
        "protected": plan.protected,
        "remaining": len(plan.expired) - len(chosen),
        **registry.server_fields,
    }
    if delete_artifacts:
        _delete_with_artifacts(registry, model_name, chosen, record, page_size)
    elif not dry_run:
        _delete(registry, model_name, chosen, record)
    log.info(
        "Model %r (%s): examined %d versions; %s %d, protected %d, already gone %d, "
        "left for a later run %d.",
        model_name,
        describe_rule(rule),
        plan.examined,
        "would delete" if dry_run else "deleted",
        len(record["would_delete"] if dry_run else record["deleted"]),
        len(record["protected"]),
        len(record["already_gone"]),
        record["remaining"],
    )
    return record


def _recent_holders(
    registry: RegistryCalls, model_name: str, rule: RetentionRule
) -> dict[str, list[str]]:
    """The versions among the last ``rule.keep_alias_holders`` holders of each alias, by the
    verified ledger (one read of the model; none without the signing secret: then no entry
    verifies, and a warning says so)."""
    from airflow_mlflow_registry.alias_ledger import ledger_signer
    from airflow_mlflow_registry.alias_rollback import protected_holders

    if rule.keep_alias_holders < 1:
        return {}
    return protected_holders(registry, model_name, rule.keep_alias_holders, ledger_signer())


def _delete_with_artifacts(
    registry: RegistryCalls,
    model_name: str,
    chosen: list[dict[str, Any]],
    record: dict[str, Any],
    page_size: int,
) -> None:
    """:func:`_delete` (unless ``record`` is a dry run), remembering the logged models of
    ``chosen`` first and reclaiming what no version uses after; fill ``record``'s artifact
    fields."""
    dry_run = record["dry_run"]
    if dry_run:
        report = artifact_reclaim.preview(registry, model_name, chosen, page_size=page_size)
    else:
        artifact_reclaim.remember_pending(registry, model_name, chosen)
        _delete(registry, model_name, chosen, record)
        report = artifact_reclaim.reclaim_pending(registry, model_name, page_size=page_size)
    record.update(report.as_fields(dry_run))
    reclaimed = report.bytes_by_version()
    for entry in record["would_delete" if dry_run else "deleted"]:
        entry["bytes_reclaimed"] = reclaimed.get(str(entry["version"]), 0)


def _delete(
    registry: RegistryCalls,
    model_name: str,
    chosen: list[dict[str, Any]],
    record: dict[str, Any],
) -> None:
    """Delete ``chosen`` (oldest first), each right after a read of the model's aliases that
    finds none on it; fill ``record``'s ``deleted``, ``failed_registrations_deleted``,
    ``already_gone``, ``protected`` and ``aliases_vanished``."""
    watch = _AliasWatch(registry, model_name, record["aliases_vanished"])
    for entry in chosen:
        version = entry["version"]
        try:
            outcome = _delete_unless_kept(registry, model_name, entry, watch)
        except MlflowRequestError:
            log.error(
                "Model %r: deleted %d of %d versions before this failure; a retry deletes the "
                "rest.",
                model_name,
                len(record["deleted"]),
                len(chosen),
            )
            raise
        if outcome == _GONE:
            log.info("Model %r version %s is already gone.", model_name, version)
            record["already_gone"].append(version)
        elif outcome != _DELETED:
            log.info("Model %r version %s is kept: %s.", model_name, version, outcome)
            record["protected"].append({"version": version, "reason": outcome})
        elif entry["status"] == FAILED:
            log.info(
                "Model %r version %s failed its registration (%s); deleted it.",
                model_name,
                version,
                FAILED,
            )
            record["deleted"].append(entry)
            record["failed_registrations_deleted"].append(version)
        else:
            log.info("Deleted model %r version %s.", model_name, version)
            record["deleted"].append(entry)
    watch.close()


_DELETED = "deleted"


_GONE = "already gone"


class _AliasWatch:
    """Reads the model's aliases (one request) and reports, in ``vanished``, every alias that
    existed at the read before a delete and is missing at the read after it: MLflow deletes
    the aliases of a version it deletes, so such an alias may have been moved onto the deleted
    version just after the check (or deleted by someone else meanwhile)."""

    def __init__(
        self, registry: RegistryCalls, model_name: str, vanished: list[dict[str, str]]
    ) -> None:
        self._registry = registry
        self._model_name = model_name
        self._vanished = vanished
        self._seen: dict[str, str] = {}
        self._deleting: str | None = None

    def read(self) -> dict[str, list[str]]:
        """The model's aliases now, by version.

        :raises MlflowRequestError: naming the model.
        """
        try:
            model = registry_client_of(self._registry.client).get_registered_model(self._model_name)
        except Exception as exc:
            raise self._registry.request_error(
                f"Reading the aliases of model {self._model_name!r} before deleting a version",
                exc,
            ) from exc
        seen = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        if self._deleting is not None:
            for alias, version in self._seen.items():
                if alias not in seen:
                    self._report(alias, version, self._deleting)
        self._seen, self._deleting = seen, None
        by_version: dict[str, list[str]] = {}
        for alias, version in seen.items():
            by_version.setdefault(version, []).append(alias)
        return by_version

    def deleting(self, version: str) -> None:
        """A delete of ``version`` is being sent: the next read compares with the last."""
        self._deleting = version

    def close(self) -> None:
        """Read once more after a last delete, so that its vanished aliases are reported too."""
        if self._deleting is not None:
            self.read()

    def _report(self, alias: str, pointed_at: str, deleted: str) -> None:
        log.error(
            "Model %r: alias %r (on version %s before) disappeared while version %s was being "
            "deleted. MLflow deletes the aliases of a version it deletes: if the alias was "
            "moved onto version %s after retention checked it, it was deleted with it. Point "
            "the alias again.",
            self._model_name,
            alias,
            pointed_at,
            deleted,
            deleted,
        )
        self._vanished.append({"alias": alias, "pointed_at": pointed_at, "while_deleting": deleted})


def _delete_unless_kept(
    registry: RegistryCalls, model_name: str, entry: Mapping[str, Any], watch: _AliasWatch
) -> str:
    """Read the model's aliases and, unless one points at ``entry``'s version, delete it at
    once (its status comes from the search: READY and FAILED_REGISTRATION are final). The
    delete is sent without HTTP retries; when it gets no definite answer (5xx, timeout, lost
    connection) the aliases are read again before it is sent again, up to the connection's
    ``max_retries`` more times.

    :return: ``_DELETED``, ``_GONE`` (someone else deleted it, or a delete whose reply was
        lost did), or why it is kept (:func:`keep_reason`).
    :raises MlflowRequestError: naming the model and version.
    """
    # The registry client: MlflowClient's own method would first read the model to rule out
    # prompts, one more request between the check and the delete.
    deleter = registry_client_of(registry.single_attempt_client)
    version = entry["version"]
    attempts = registry.config.max_retries + 1
    for attempt in range(1, attempts + 1):
        reason = keep_reason(entry["status"], watch.read().get(version, []))
        if reason is not None:
            return reason
        watch.deleting(version)
        try:
            deleter.delete_model_version(model_name, version)
        except Exception as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return _GONE
            if is_definitive(exc) or attempt == attempts:
                raise registry.request_error(
                    f"Deleting model {model_name!r} version {version} (retention needs "
                    "MANAGE permission on the model)",
                    exc,
                ) from exc
            log.warning(
                "Deleting model %r version %s got no definite answer (%s); reading the "
                "aliases again before sending the delete again.",
                model_name,
                version,
                registry.describe(exc),
            )
            time.sleep(DELETE_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))
            continue
        return _DELETED
    raise AssertionError("unreachable: the last attempt returns or raises")
