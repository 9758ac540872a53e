"""``MlflowRegistryHook``: one ``mlflow`` connection, one isolated MLflow client, and one method
per registry operation the operators, sensor, trigger and CLI are built on.

The hook is a facade: its methods state the contracts, and the work lives in modules named for
their concepts, each taking the connection's
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`:

- :mod:`~airflow_mlflow_registry.hooks.version_registration` and
  :mod:`~airflow_mlflow_registry.hooks.version_creation`: registering a version exactly once
  (the rules: :mod:`airflow_mlflow_registry.registration`);
- :mod:`~airflow_mlflow_registry.hooks.model_versions`: reading and searching versions, and
  their JSON-able record;
- :mod:`~airflow_mlflow_registry.hooks.aliases`: reading and moving aliases;
- :mod:`~airflow_mlflow_registry.hooks.runs`: finding the run to register, run metrics;
- :mod:`~airflow_mlflow_registry.hooks.backfill_registrations`: registering past runs;
- :mod:`airflow_mlflow_registry.retention`: deleting the versions a retention rule lets go;
- :mod:`airflow_mlflow_registry.version_copy`: copying a version from another connection's
  registry.

mlflow is imported only inside functions: importing this module at DAG-parse time stays cheap.
This module is over 300 lines because it carries each public method's contract, the
provider's API reference.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.backfill import DEFAULT_CONCURRENCY as DEFAULT_BACKFILL_CONCURRENCY
from airflow_mlflow_registry.hooks import (
    model_versions,
    runs,
    version_creation,
    version_registration,
)
from airflow_mlflow_registry.hooks.aliases import get_version_by_alias, set_model_version_alias
from airflow_mlflow_registry.hooks.backfill_registrations import backfill_registrations
from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig
from airflow_mlflow_registry.hooks.connection_form import (
    connection_form_widgets,
    ui_field_behaviour,
)
from airflow_mlflow_registry.hooks.registry_calls import (
    SEARCH_PAGE_SIZE,
    RegistryCalls,
    new_client,
)
from airflow_mlflow_registry.hooks.version_registration import DEFAULT_AWAIT_REGISTRATION_SECONDS
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from airflow_mlflow_registry.retention import delete_expired_versions
from airflow_mlflow_registry.sources import DEFAULT_ARTIFACT_PATH
from airflow_mlflow_registry.utils.redaction import mask_secrets
from airflow_mlflow_registry.version_compat import BaseHook
from airflow_mlflow_registry.version_copy import copy_model_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime
    from types import ModuleType

    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.exceptions import MlflowRequestError
    from airflow_mlflow_registry.lineage import TaskInstanceLineage
    from airflow_mlflow_registry.retention import RetentionRule
    from airflow_mlflow_registry.sources import ResolvedSource, RunSearch

TEST_CONNECTION_TIMEOUT_SECONDS = 5.0


class MlflowRegistryHook(BaseHook):
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
    def server_fields(self) -> dict[str, str]:
        """``tracking_uri``, and ``workspace`` when the connection names an MLflow workspace:
        where the connection's models live, as records and lineage name it."""
        return self._registry.server_fields

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

    def redact_secrets(self, text: str) -> str:
        """``text`` with the connection's password and token replaced by ``***``."""
        return self._registry.redact(text)

    def request_error(self, action: str, exc: BaseException) -> MlflowRequestError:
        """The error to raise when ``action`` (a phrase naming the model, version, ...) failed
        with ``exc`` on this connection: one line, the connection's secrets redacted."""
        return self._registry.request_error(action, exc)

    def model_version_url(self, model_name: str, version: str | int) -> str | None:
        """The MLflow UI page of a model version, or None when the server is not http(s)."""
        return self._registry.model_version_url(model_name, version)

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """The MLflow UI page of a run, or None when the server is not http(s)."""
        return self._registry.run_url(experiment_id, run_id)

    # ------------------------------------------------------------------------ registering

    def log_model(
        self, flavor: ModuleType, model: Any, *, run_id: str, name: str = "model", **kwargs: Any
    ) -> dict[str, str]:
        """Log ``model`` as an MLflow 3 logged model of run ``run_id``, as this connection's
        user: the per-connection counterpart of ``flavor.log_model`` (e.g. ``mlflow.sklearn``),
        which uses process-global state (active run, environment credentials).

        ``kwargs`` (``pip_requirements``, ``signature``, ``input_example``, ``params``,
        ``tags``, ``model_type``, ...) are those of :func:`.model_logging.log_model`. Returns
        ``{"model_id", "model_uri", "run_id", "name", "artifact_location"}``; register
        ``model_uri`` (``models:/<model_id>``).
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
        and source.

        The version carries ``tags``, the ``airflow.*`` lineage tags, the source it registers
        (``airflow.source_uri``) and a registration key derived from (model, dag, run, task,
        map index), all in the create request. A later attempt of the same task instance
        (retry, clear, backfill re-run) finds the versions carrying that key (see
        :mod:`airflow_mlflow_registry.registration`):

        - the task instance's current version registered the same source: it is returned
          (``created`` false) and nothing is created;
        - it registered another source (a cleared task that retrained, a reordered ``expand``):
          a new version is created with ``airflow.supersedes_version`` naming the old one,
          which is logged, and the aliases move to the new version.

        A create whose response was lost is looked up again before it is re-sent; if a re-sent
        create made a second version, the lowest live version is kept and the duplicate
        deleted. A call that may overlap another registration with the same key (an attempt
        with try number above 1, which may overlap an earlier attempt still running, and every
        call given an ``idempotency_key``) checks after its create, with one search, that no
        lower version of the same registration exists, and gives way to it (deleting its own
        and returning the lower one with ``created`` false). Failed registrations are never
        reused.

        Give either ``model_uri`` or ``run_search``: the latter is resolved with
        :meth:`find_run_source` on every attempt (so a cleared task registers what the search
        chooses now), and the chosen run and filter are recorded as ``airflow.source_*`` tags.

        ``lineage`` defaults to the running task's context; outside a task (no context) there is
        no key and every call creates a version. ``idempotency_key`` (a string without single
        quotes, e.g. a hex digest), when given, replaces the lineage's key: calls with the same
        key and source register one version, inside or outside a task, also when they run at
        the same time (threads, processes, hosts): each returns the lowest version of the
        key and source, and only the call that created it gets ``created`` true. While two
        such calls overlap, a higher duplicate exists from its create until its caller's
        check deletes it (the same request burst); it is kept when the lowest version is not
        READY yet (``PENDING_REGISTRATION``, which the open-source server never returns), so
        that a version that then fails leaves the other. ``provenance_tags``
        are further ``airflow.*`` tags written with the lineage (where a copied version came
        from: :mod:`~airflow_mlflow_registry.version_copy`). ``source_identity`` (default:
        ``model_uri``) is what attempts compare to decide whether an earlier version
        registered the same source, recorded as ``airflow.source_uri``: a caller whose
        attempts each make their own ``model_uri`` for one source (a copy uploads the files
        to a new logged model) passes what they have in common, so overlapping attempts
        converge on one version instead of superseding each other.

        Waits up to ``await_registration_for`` seconds for status READY, then points each alias
        at the version (moving it from an older version; aliases already on it are not sent).

        :return: a JSON-able record (see README: "The XCom record"); ``aliases`` lists every
            alias of the version, not only those this call set.
        :raises ValueError: for invalid arguments, naming the argument.
        :raises MlflowRequestError: when MLflow rejects a request or cannot be reached.
        :raises ModelRegistrationError: when the version fails or is not READY in time.
        :raises NoMatchingRunError: when ``run_search`` finds no run.
        :raises ExperimentNotFoundError: when ``run_search``'s experiment does not exist.
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

    def ensure_registered_model(self, model_name: str) -> bool:
        """Create the registered model unless it exists. Returns True when this call created it.

        "Already exists" (for example from a concurrent task) is not an error. A create whose
        outcome is unknown (transport failure) returns False: callers must not assume the model
        is new.
        """
        return version_creation.ensure_registered_model(self._registry, model_name)

    def find_model_versions_by_key(
        self,
        model_name: str,
        registration_key: str,
        *,
        run_id: str | None = None,
        key_tag: str = REGISTRATION_KEY_TAG,
    ) -> list[ModelVersion]:
        """Versions of ``model_name`` whose tag ``key_tag`` (default
        ``airflow.registration_key``) is ``registration_key`` (any status, tags readable),
        lowest version first.

        One search request (``name = ... AND tags.<key> = ...``), except on a Unity Catalog
        registry, whose version search accepts a single ``name =`` or ``run_id =`` condition and
        returns versions without tags: there it searches by ``run_id`` (when given; the versions
        registered from that run) or else by name, and reads each candidate with
        ``get_model_version`` (one request per candidate) to match the key.

        :raises MlflowRequestError: naming the model.
        """
        return version_creation.find_model_versions_by_key(
            self._registry, model_name, registration_key, run_id=run_id, key_tag=key_tag
        )

    def find_run_source(self, search: RunSearch) -> ResolvedSource | None:
        """The first run matching ``search`` and the model URI to register from it, or None
        when no run matches.

        Prefers the run's MLflow 3 logged model (named ``search.artifact_path`` when it has
        several) as ``models:/<model_id>``; falls back to ``runs:/<run_id>/<artifact_path>``,
        also on an MLflow 2 server (which has no logged models).

        :raises ExperimentNotFoundError: when the experiment does not exist or is deleted (a
            misspelled name is a configuration error, not "no run matched").
        :raises MlflowRequestError: when a search fails.
        """
        return runs.find_run_source(self._registry, search)

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
        ``[start, end)`` (naive datetimes mean UTC) and matches the MLflow ``run_filter``, as
        a version of ``model_name``, oldest run first.

        A run that already has a version of ``model_name`` (any version whose ``run_id`` is
        the run, whoever registered it) is skipped, so a second backfill registers nothing.
        Each registration resolves the run's source like :meth:`find_run_source` (its logged
        model, else ``runs:/<run_id>/<artifact_path>``), records it in ``airflow.source_*``
        tags, and carries the key :func:`~airflow_mlflow_registry.backfill.run_registration_key`
        so a create interrupted in flight is found, not repeated, by the next backfill. A run
        that fails is reported and the backfill goes on. With ``dry_run`` nothing is
        registered and the runs to register are reported as ``would_register``.

        ``aliases`` are pointed once, after the runs, at the version of the newest run of the
        window that has one (registered now or before; a failed run is passed over), so a
        backfill of older runs never moves an alias from a newer run of the window to an older
        one. The report's ``aliases`` says, per alias, that version and run and the version the
        alias pointed at before (with ``dry_run``: where it would point; nothing is moved).

        Up to ``concurrency`` runs (1 to 32) are registered at the same time, each exactly
        once; the oldest run to register goes first and alone, so a model that does not exist
        yet is created once. The report lists the runs oldest first whatever order they finish
        in.

        Overlapping backfills of the same runs (started while another is still running): for
        each run, the lowest live version carrying the run's key (per source) is the one that
        stays, and no backfill deletes it. Another backfill may create a version of a run too:
        after its creates, each backfill searches its runs' versions again and deletes each of
        its own versions that has a lower duplicate (``failed``, naming both, when the delete
        fails); a backfill that starts deletes the higher duplicates it finds, also those of a
        backfill still running. Every row of every backfill that finishes names the version
        that stays (``already_registered`` when another backfill's version won, or deleted
        this one's as a duplicate), and the aliases are pointed at such a version, never at a
        deleted or failed one. Remaining windows: a higher duplicate exists for a run from its
        create until a backfill deletes it, and duplicates of a version that is not READY yet
        are kept.

        When stopped after listing its runs, by an interrupt (``KeyboardInterrupt``) or a
        failed request: runs not started are left for the next backfill, the registrations in
        flight are waited for, the runs registered are checked against overlapping backfills
        as above (best effort), the partial report (``stopped`` says why, runs not reached are
        ``not_started``, aliases not yet pointed are missing) is passed to ``on_stopped``
        (else logged as a warning), and the exception is raised.
        Each thread keeps one HTTP connection: the connection's ``pool_size`` (default 32)
        covers any ``concurrency``.

        ``on_progress(done, total)`` is called, in the calling thread, once the runs are known
        (``done`` counting the runs already registered) and after each run registered.

        :return: the report of :func:`~airflow_mlflow_registry.backfill.backfill_report`.
        :raises ValueError: for an invalid model name, alias or ``concurrency``, or an empty
            time window.
        :raises ExperimentNotFoundError: when the experiment does not exist or is deleted.
        :raises MlflowRequestError: when searching the runs, their logged models or the
            model's versions fails.
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
        does not exist (MLflow answers INVALID_PARAMETER_VALUE, resp. RESOURCE_DOES_NOT_EXIST;
        MLflow's basic-auth server answers PERMISSION_DENIED to a non-admin user for a model
        that does not exist, which a second look-up of the model tells apart).

        :raises MlflowRequestError: for any other failure, naming the model and alias.
        """
        return get_version_by_alias(self._registry, model_name, alias)

    def set_model_version_alias(
        self, model_name: str, alias: str, version: str | int
    ) -> str | None:
        """Point ``alias`` of ``model_name`` at ``version``.

        Sends no update when the alias already points at ``version``.

        :return: the version the alias pointed at before (equal to ``version`` when nothing
            changed), or None when the alias did not exist.
        :raises MlflowRequestError: naming the model, alias and version.
        """
        return set_model_version_alias(self._registry, model_name, alias, version)

    # ------------------------------------------------------------------ reading versions

    def get_model_version_entity(self, model_name: str, version: str | int) -> ModelVersion:
        """The MLflow ``ModelVersion`` of ``model_name``/``version``."""
        return model_versions.get_model_version_entity(self._registry, model_name, version)

    def get_model_version(self, model_name: str, version: str | int) -> dict[str, Any]:
        """The JSON-able record of ``model_name``/``version`` (``created`` is False)."""
        return model_versions.get_model_version(self._registry, model_name, version)

    def find_model_versions(
        self, model_name: str, tags: Mapping[str, Any] | None = None
    ) -> list[ModelVersion]:
        """Versions of ``model_name`` (any status) carrying every tag in ``tags``, newest first.

        One search request; the server matches the tags.

        :raises ValueError: when the model name or a tag value contains a single quote.
        :raises MlflowRequestError: naming the model and the filter.
        """
        return model_versions.find_model_versions(self._registry, model_name, tags)

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

    def find_matching_version(
        self,
        model_name: str,
        *,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        newer_than_version: str | int | None = None,
    ) -> dict[str, Any] | None:
        """The record (as :meth:`get_model_version`) of the newest version matching
        :meth:`find_ready_versions`, or None. The condition of ``ModelVersionSensor``, in
        poke mode and in its trigger alike.
        """
        found = self.find_ready_versions(
            model_name, alias=alias, tags=tags, newer_than_version=newer_than_version
        )
        if not found:
            return None
        return model_versions.version_record(self._registry, found[0], created=False)

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

    def registered_model_created_at(self, model_name: str) -> int | None:
        """``creation_timestamp`` (milliseconds) of registered model ``model_name``, or None
        when it does not exist. One request.

        :raises MlflowRequestError: for any other failure, naming the model.
        """
        return model_versions.registered_model_created_at(self._registry, model_name)

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
        self, model_name: str, rule: RetentionRule, **options: Any
    ) -> dict[str, Any]:
        """Delete the versions ``rule`` lets go: :func:`.retention.delete_expired_versions`."""
        return delete_expired_versions(self._registry, model_name, rule, **options)

    # ----------------------------------------------------------------------- version copy

    def copy_model_version_from(
        self, source: MlflowRegistryHook, model_name: str, **options: Any
    ) -> dict[str, Any]:
        """Copy a version of ``source``'s registry here:
        :func:`.version_copy.copy_model_version`."""
        return copy_model_version(source._registry, self._registry, model_name, **options)
