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

"""``MlflowRegistryHook``: one ``mlflow`` connection, one isolated MLflow client, and one method
per registry operation the operators, sensor, trigger and CLI are built on.

The hook is a facade: its methods state the contracts, and the work lives in modules named for
their concepts, each taking the connection's
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`:

- :mod:`~airflow_mlflow_registry.hooks.version_registration` and
  :mod:`~airflow_mlflow_registry.hooks.version_creation`: registering a version exactly once
  (the rules: :mod:`airflow_mlflow_registry.hooks.registration`);
- :mod:`~airflow_mlflow_registry.hooks.model_versions`: reading and searching versions, and
  their JSON-able record;
- :mod:`~airflow_mlflow_registry.hooks.aliases`: reading and moving aliases;
- :mod:`~airflow_mlflow_registry.hooks.runs`: finding the run to register, run metrics;
- :mod:`~airflow_mlflow_registry.hooks.backfill_registrations`: registering past runs;
- :mod:`~airflow_mlflow_registry.hooks.version_deletion`: deleting the versions a retention
  rule (:mod:`airflow_mlflow_registry.retention`) lets go;
- :mod:`airflow_mlflow_registry.hooks.version_copy`: copying from another connection's registry.

mlflow is imported only inside functions: importing this module at parse time stays cheap.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.hooks import (
    model_versions,
    runs,
    version_registration,
)
from airflow_mlflow_registry.hooks.aliases import (
    MoveReason,
    get_version_by_alias,
    set_model_version_alias,
)
from airflow_mlflow_registry.hooks.backfill import (
    DEFAULT_CONCURRENCY as DEFAULT_BACKFILL_CONCURRENCY,
)
from airflow_mlflow_registry.hooks.backfill_registrations import backfill_registrations
from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
from airflow_mlflow_registry.hooks.client.connection_form import (
    connection_form_widgets,
    ui_field_behaviour,
)
from airflow_mlflow_registry.hooks.deprecated_hook_members import DeprecatedHookMembers
from airflow_mlflow_registry.hooks.registry_calls import (
    SEARCH_PAGE_SIZE,
    RegistryCalls,
    new_client,
)
from airflow_mlflow_registry.hooks.sources import DEFAULT_ARTIFACT_PATH
from airflow_mlflow_registry.hooks.version_copy import copy_model_version
from airflow_mlflow_registry.hooks.version_deletion import delete_expired_versions
from airflow_mlflow_registry.hooks.version_registration import DEFAULT_AWAIT_REGISTRATION_SECONDS
from airflow_mlflow_registry.utils.redaction import mask_secrets
from airflow_mlflow_registry.version_compat import BaseHook

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from types import ModuleType

    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion
    from typing_extensions import Unpack

    from airflow_mlflow_registry.hooks.sources import RunSearch
    from airflow_mlflow_registry.hooks.version_copy import CopyOptions
    from airflow_mlflow_registry.lineage import TaskInstanceLineage
    from airflow_mlflow_registry.retention import RetentionRule

TEST_CONNECTION_TIMEOUT_SECONDS = 5.0


class MlflowRegistryHook(DeprecatedHookMembers, BaseHook):
    """Interact with an MLflow tracking server and model registry through one connection.

    Each hook builds its own ``MlflowClient`` whose credentials, TLS settings, timeout and
    retries come from its connection alone; nothing is read from or written to ``os.environ``,
    so hooks for different connections can run side by side in one worker process.

    :param mlflow_conn_id: id of an Airflow connection of type ``mlflow``.
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.mlflow_conn_id = mlflow_conn_id
        self._registry = RegistryCalls(lambda: self.config, self.get_conn)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's custom fields for Airflow 3.0 and 3.1 (3.2+ reads the
        provider info's ``conn-fields`` instead): same names, labels and secret field."""
        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled standard fields for Airflow 3.0 and 3.1 (3.2+ reads the
        provider info's ``ui-field-behaviour`` instead)."""
        return ui_field_behaviour()

    # ------------------------------------------------------------- connection and client

    @cached_property
    def config(self) -> MlflowConnectionConfig:
        """The validated connection settings.

        :raises MlflowConnectionConfigError: naming the misconfigured field.
        """
        config = MlflowConnectionConfig.from_connection(self.get_connection(self.mlflow_conn_id))
        mask_secrets(config.secrets)
        return config

    @property
    def tracking_uri(self) -> str:
        """The tracking URI of the connection as it may be shown and stored: user info and
        query values replaced by ``***`` (the client alone connects with the real one)."""
        return self.config.display_tracking_uri

    @property
    def registry_calls(self) -> RegistryCalls:
        """This connection's :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`,
        for the modules that take them (the alias ledger's history and rollback)."""
        return self._registry

    def get_conn(self) -> MlflowClient:
        """Return this hook's ``MlflowClient``, built once and bound to this connection alone."""
        return self._client

    @cached_property
    def _client(self) -> MlflowClient:
        return new_client(self.config)

    def test_connection(self) -> tuple[bool, str]:
        """Check that the registry API answers with these credentials. Never raises.

        Uses a short timeout and no retries, so the UI's Test button answers within seconds.
        """
        try:
            config = self.config
        except Exception as exc:
            return False, str(exc)
        probe = dataclasses.replace(
            config, timeout=min(config.timeout, TEST_CONNECTION_TIMEOUT_SECONDS), max_retries=0
        )
        try:
            new_client(probe).search_registered_models(max_results=1)
        except Exception as exc:
            reason = self._registry.describe(exc)
            return False, f"MLflow at {config.display_tracking_uri}: {reason}"
        return True, f"Connected to the MLflow model registry at {config.display_tracking_uri}."

    def model_version_url(self, model_name: str, version: str | int) -> str | None:
        """The MLflow UI page of a model version, or None when the server is not http(s)."""
        return self._registry.model_version_url(model_name, version)

    # ------------------------------------------------------------------------ registering

    def log_model(
        self, flavor: ModuleType, model: Any, *, run_id: str, name: str = "model", **kwargs: Any
    ) -> dict[str, str]:
        """Log ``model`` as an MLflow 3 logged model of run ``run_id``, as this connection's
        user: the per-connection counterpart of ``flavor.log_model`` (e.g. ``mlflow.sklearn``),
        which uses process-global state (active run, environment credentials).

        :param kwargs: those of :func:`.model_logging.log_model` (``signature``, ...).
        :return: ``{"model_id", "model_uri", "run_id", "name", "artifact_location"}``; register
            ``model_uri`` (``models:/<model_id>``).

        .. seealso:: :ref:`log-model`
        """
        from airflow_mlflow_registry.hooks.model_logging import log_model

        return log_model(self.get_conn(), flavor, model, run_id=run_id, name=name, **kwargs)

    def register_model_version(
        self,
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
    ) -> dict[str, Any]:
        """Register ``model_uri`` as a version of ``model_name``, exactly once per task instance
        and source, and point ``aliases`` at it once it is READY.

        A later attempt of the same task instance returns the version it registered from the
        same source (``created`` false), or supersedes it when the source changed. Outside a
        task every call creates a version, unless ``idempotency_key`` (a string without single
        quotes, e.g. a hex digest) names the registration: calls with the same key and source,
        also concurrent ones, return one version.

        :param model_name: the registered model (created when missing).
        :param model_uri: the source to register; give either it or ``run_search``.
        :param run_search: the run to register from, resolved on every attempt like
            :func:`.runs.find_run_source`; recorded as ``airflow.source_*`` tags.
        :param run_id: the run to link the version to.
        :param description: the version's description.
        :param tags: user tags, written in the create request.
        :param aliases: aliases to point at the version.
        :param lineage: the task instance; defaults to the running task's context.
        :param await_registration_for: seconds to wait for status READY.
        :param idempotency_key: replaces the lineage's registration key.
        :param provenance_tags: further ``airflow.*`` tags written with the lineage.
        :param source_identity: what attempts compare to decide whether an earlier version
            registered the same source (default: ``model_uri``).
        :return: a JSON-able record (the operator's XCom record); ``aliases`` lists every
            alias of the version, not only those this call set.
        :raises ValueError: for invalid arguments, naming the argument.
        :raises MlflowRequestError: when MLflow rejects a request or cannot be reached.
        :raises ModelRegistrationError: when the version fails or is not READY in time.
        :raises NoMatchingRunError: when ``run_search`` finds no run.
        :raises ExperimentNotFoundError: when ``run_search``'s experiment does not exist.

        .. seealso:: :doc:`/operators/register_model_version` (retries, clears and re-runs).
        """
        return version_registration.register_model_version(
            self._registry,
            model_name,
            model_uri,
            run_search=run_search,
            run_id=run_id,
            description=description,
            tags=tags,
            aliases=aliases,
            lineage=lineage,
            await_registration_for=await_registration_for,
            idempotency_key=idempotency_key,
            provenance_tags=provenance_tags,
            source_identity=source_identity,
        )

    def backfill_registrations(
        self,
        model_name: str,
        *,
        experiment_name: str,
        start: datetime,
        end: datetime,
        run_filter: str = "",
        artifact_path: str = DEFAULT_ARTIFACT_PATH,
        aliases: Iterable[str] | None = None,
        dry_run: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
        concurrency: int = DEFAULT_BACKFILL_CONCURRENCY,
        on_stopped: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Register the model of every run of ``experiment_name`` that started in
        ``[start, end)`` and matches ``run_filter`` as a version of ``model_name``, oldest run
        first, each exactly once; runs that already have a version of ``model_name`` are
        skipped. A run that fails is reported and the backfill goes on.

        :param model_name: the registered model.
        :param experiment_name: the experiment whose runs are registered.
        :param start: start of the window (inclusive; naive means UTC).
        :param end: end of the window (exclusive; naive means UTC).
        :param run_filter: an MLflow run filter the runs must also match.
        :param artifact_path: the model's artifact path in runs without a logged model.
        :param aliases: pointed once, after the runs, at the version of the newest run of the
            window that has one.
        :param dry_run: register nothing; report the runs as ``would_register``.
        :param on_progress: called as ``on_progress(done, total)`` in the calling thread once
            the runs are known and after each run.
        :param concurrency: runs registered at the same time (1 to 32).
        :param on_stopped: given the partial report when an interrupt or a failed request
            stops the backfill after listing its runs (default: logged); the exception is then
            raised.
        :return: the report of :func:`~airflow_mlflow_registry.hooks.backfill.backfill_report`.
        :raises ValueError: for an invalid model name, alias or ``concurrency``, or an empty
            time window.
        :raises ExperimentNotFoundError: when the experiment does not exist or is deleted.
        :raises MlflowRequestError: when searching the runs, their logged models or the
            model's versions fails.

        .. seealso:: :doc:`/howto/backfill` (overlapping backfills, interruptions).
        """
        return backfill_registrations(
            self._registry,
            model_name,
            experiment_name=experiment_name,
            start=start,
            end=end,
            run_filter=run_filter,
            artifact_path=artifact_path,
            aliases=aliases,
            dry_run=dry_run,
            on_progress=on_progress,
            concurrency=concurrency,
            on_stopped=on_stopped,
        )

    # --------------------------------------------------------------------------- aliases

    def get_version_by_alias(self, model_name: str, alias: str) -> ModelVersion | None:
        """The version ``alias`` of ``model_name`` points at, or None when the alias or the model
        does not exist.

        :raises MlflowRequestError: for any other failure, naming the model and alias.
        """
        return get_version_by_alias(self._registry, model_name, alias)

    def set_model_version_alias(
        self,
        model_name: str,
        alias: str,
        version: str | int,
        reason: MoveReason | None = None,
    ) -> str | None:
        """Point ``alias`` of ``model_name`` at ``version``, recording the move in the model's
        alias ledger with ``reason`` (default: kind ``set_alias``).

        Sends no update when the alias already points at ``version``.

        :return: the version the alias pointed at before (equal to ``version`` when nothing
            changed), or None when the alias did not exist.
        :raises MlflowRequestError: naming the model, alias and version.
        """
        return set_model_version_alias(
            self._registry, model_name, alias, version, reason or MoveReason(MoveKind.SET_ALIAS)
        )

    # ------------------------------------------------------------------ reading versions

    def get_model_version_entity(self, model_name: str, version: str | int) -> ModelVersion:
        """The MLflow ``ModelVersion`` of ``model_name``/``version``."""
        return model_versions.get_model_version_entity(self._registry, model_name, version)

    def get_model_version(self, model_name: str, version: str | int) -> dict[str, Any]:
        """The JSON-able record of ``model_name``/``version`` (``created`` is False)."""
        return model_versions.get_model_version(self._registry, model_name, version)

    def find_ready_versions(
        self,
        model_name: str,
        *,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        newer_than_version: str | int | None = None,
    ) -> list[ModelVersion]:
        """READY versions of ``model_name``, newest first, that carry every tag in ``tags``, are
        newer than ``newer_than_version`` (when given) and, when ``alias`` is given, are the
        version the alias points at (so at most one).

        :raises ValueError: for a ``newer_than_version`` that is not a version number, or a
            tag value containing a single quote.
        """
        return model_versions.find_ready_versions(
            self._registry,
            model_name,
            alias=alias,
            tags=tags,
            newer_than_version=newer_than_version,
        )

    def find_versions_after(
        self,
        model_name: str,
        after_version: int,
        *,
        tags: Mapping[str, Any] | None = None,
        limit: int = 1,
        newest_first: bool = False,
    ) -> list[ModelVersion]:
        """Versions of ``model_name`` numbered above ``after_version`` and carrying every tag in
        ``tags`` (any status), in version order (``newest_first``: the reverse), at most
        ``limit``. One search request, filtered, ordered and bounded by the server, however
        many versions the model has (the registry trigger's poll).

        :raises ValueError: for a tag value or model name with a single quote.
        :raises MlflowRequestError: naming the model and the filter (also for Unity Catalog,
            whose searches accept neither ``version_number`` nor an ordering).
        """
        return model_versions.find_versions_after(
            self._registry,
            model_name,
            after_version,
            tags=tags,
            limit=limit,
            newest_first=newest_first,
        )

    def model_version_record(self, version: ModelVersion) -> dict[str, Any]:
        """The JSON-able record (as :meth:`get_model_version`) of a ``ModelVersion`` already
        read, without a request. ``aliases`` is what ``version`` carries: versions from a
        search carry none on MLflow's SQL stores."""
        return model_versions.version_record(self._registry, version, created=False)

    def search_model_versions(
        self,
        model_name: str,
        *,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        page_size: int = SEARCH_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Records (as :meth:`get_model_version`) of the versions of ``model_name``, newest
        (highest version) first, that carry every tag in ``tags``, were created in
        ``[created_after, created_before)`` (naive datetimes mean UTC) and, when ``alias`` is
        given, are the version the alias points at (so at most one). At most ``limit``.

        The server matches the tags; creation times are matched here (MLflow cannot filter on
        them). Pages of ``page_size`` versions are read until ``limit`` records are found or
        the last page is read.

        :raises ValueError: for an empty time window, a ``limit`` below 1, or a model name or
            tag value containing a single quote.
        :raises MlflowRequestError: naming the model.
        """
        return model_versions.search_model_versions(
            self._registry,
            model_name,
            alias=alias,
            tags=tags,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            page_size=page_size,
        )

    def set_model_version_tags(
        self, model_name: str, version: str | int, tags: Mapping[str, str]
    ) -> None:
        """Set each of ``tags`` on ``model_name``/``version``, overwriting values already there
        (one request per tag, in order: a failure leaves the earlier ones set).

        :raises MlflowRequestError: naming the model, version and tag.
        """
        model_versions.set_model_version_tags(self._registry, model_name, version, tags)

    # ----------------------------------------------------------------------- run metrics

    def source_run(self, version: ModelVersion) -> Run | None:
        """The MLflow ``Run`` that produced ``version`` (metrics, params, tags, experiment).

        :return: None when the version has no source run or the run no longer exists.
        :raises MlflowRequestError: naming the model version and run.
        """
        return runs.source_run(self._registry, version)

    def source_run_metric(self, version: ModelVersion, metric: str) -> float | None:
        """The latest value of ``metric`` logged in the run that produced ``version``.

        :return: None when the version has no source run, the run no longer exists, or it
            never logged ``metric``.
        :raises MlflowRequestError: naming the model version and run.
        """
        return runs.source_run_metric(self._registry, version, metric)

    def best_version_by_metric(
        self, versions: Iterable[ModelVersion], metric: str, direction: str
    ) -> tuple[ModelVersion, float] | None:
        """The version whose source run has the highest (``direction="max"``) or lowest
        (``"min"``) value of ``metric``, with that value; ties go to the newest version.
        Versions without the metric are skipped (logged). None when no version has it.

        Sends one request per version (its source run).
        """
        return runs.best_version_by_metric(self._registry, versions, metric, direction)

    # ------------------------------------------------------------------------- retention

    def delete_expired_versions(
        self,
        model_name: str,
        rule: RetentionRule,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        max_deletions: int | None = None,
        page_size: int = SEARCH_PAGE_SIZE,
        delete_artifacts: bool = False,
    ) -> dict[str, Any]:
        """Delete the versions of ``model_name`` that ``rule`` lets go as of ``now`` (default:
        the current time), oldest first, at most ``max_deletions`` (None: all); with
        ``dry_run`` delete nothing and report what would go; with ``delete_artifacts`` also
        the logged-model files no remaining version uses.

        :return: the record of :func:`.version_deletion.delete_expired_versions`.
        :raises ValueError: for an invalid model name, ``max_deletions`` below 1, or ``now``
            without a time zone.
        :raises MlflowRequestError: naming the model (and version) when a request fails.

        .. seealso:: :doc:`/howto/retention`
        """
        return delete_expired_versions(
            self._registry,
            model_name,
            rule,
            now=now,
            dry_run=dry_run,
            max_deletions=max_deletions,
            page_size=page_size,
            delete_artifacts=delete_artifacts,
        )

    # ----------------------------------------------------------------------- version copy

    def copy_model_version_from(
        self, source: MlflowRegistryHook, model_name: str, **options: Unpack[CopyOptions]
    ) -> dict[str, Any]:
        """Copy ``model_name`` ``version`` (or the one ``alias`` points at) from ``source``'s
        registry here as ``target_model_name``, files included, once per task instance.
        ``options`` are the keyword arguments of :func:`.version_copy.copy_model_version`
        (``version`` or ``alias``, ``target_model_name``, ``aliases``, ``tags``, ...).

        :return: the record of :func:`.version_copy.copy_model_version`.
        :raises ValueError: for invalid arguments, naming the argument.
        :raises SourceVersionNotFoundError: when the source version or alias does not exist,
            or the version is not READY.
        :raises AmbientSourceRefusedError: when the files are neither served by ``source``'s
            tracking server nor in its ``artifact_buckets`` and ``allow_ambient_credentials``
            is false.
        :raises MlflowRequestError: when a request to either registry or the download fails.

        .. seealso:: :doc:`/howto/copy_between_registries`
        """
        return copy_model_version(source._registry, self._registry, model_name, **options)
