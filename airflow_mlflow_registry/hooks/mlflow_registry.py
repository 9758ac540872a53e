"""``MlflowRegistryHook``: one ``mlflow`` connection, one isolated MLflow client, and the
registry operations the operators are built on.

mlflow is imported only inside methods: importing this module at DAG-parse time stays cheap.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseHook

from airflow_mlflow_registry.exceptions import (
    MlflowRegistryError,
    MlflowRequestError,
    ModelRegistrationError,
    NoMatchingRunError,
    describe_mlflow_error,
)
from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TAG_PREFIX, TaskInstanceLineage
from airflow_mlflow_registry.sources import ResolvedSource, RunSearch
from airflow_mlflow_registry.validation import (
    check_aliases,
    check_model_name,
    check_model_uri,
    check_tags,
    check_timeout,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

TEST_CONNECTION_TIMEOUT_SECONDS = 5.0
READY_POLL_INTERVAL_SECONDS = 2.0


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

    @cached_property
    def config(self) -> MlflowConnectionConfig:
        """The validated connection settings.

        :raises MlflowConnectionConfigError: naming the misconfigured field.
        """
        config = MlflowConnectionConfig.from_connection(self.get_connection(self.mlflow_conn_id))
        from airflow.sdk.log import mask_secret

        for secret in (config.password, config.token):
            if secret:
                mask_secret(secret)
        return config

    @property
    def tracking_uri(self) -> str:
        """The tracking URI of the connection (never contains credentials)."""
        return self.config.tracking_uri

    def get_conn(self) -> MlflowClient:
        """Return this hook's ``MlflowClient``, built once and bound to this connection alone."""
        return self._client

    @cached_property
    def _client(self) -> MlflowClient:
        from airflow_mlflow_registry.hooks.client_binding import build_client

        return build_client(self.config)

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
            from airflow_mlflow_registry.hooks.client_binding import build_client

            build_client(probe).search_registered_models(max_results=1)
        except Exception as exc:
            reason = describe_mlflow_error(exc, self._secrets())
            return False, f"MLflow at {config.tracking_uri}: {reason}"
        return True, f"Connected to the MLflow model registry at {config.tracking_uri}."

    def _secrets(self) -> tuple[str | None, ...]:
        try:
            return (self.config.password, self.config.token)
        except Exception:
            return ()

    def _request_error(self, action: str, exc: BaseException) -> MlflowRequestError:
        return MlflowRequestError(f"{action} failed: {describe_mlflow_error(exc, self._secrets())}")

    # ------------------------------------------------------------------ registry operations

    def model_version_url(self, model_name: str, version: str | int) -> str | None:
        """The MLflow UI page of a model version, or None when the server is not http(s)."""
        base = self.config.ui_base_url
        if base is None:
            return None
        return f"{base}/#/models/{quote(model_name, safe='')}/versions/{version}"

    def ensure_registered_model(self, model_name: str) -> bool:
        """Create the registered model unless it exists. Returns True when this call created it.

        "Already exists" (for example from a concurrent task) is not an error. A create whose
        outcome is unknown (transport failure) returns False: callers must not assume the model
        is new.
        """
        client = self.get_conn()
        try:
            client.create_registered_model(model_name)
        except Exception as exc:
            if getattr(exc, "error_code", None) == "RESOURCE_ALREADY_EXISTS":
                return False
            if _is_definitive(exc):
                raise self._request_error(f"Creating registered model {model_name!r}", exc) from exc
            log.warning(
                "Creating registered model %r: outcome unknown (%s); continuing.",
                model_name,
                describe_mlflow_error(exc, self._secrets()),
            )
            return False
        log.info("Created registered model %r.", model_name)
        return True

    def find_model_versions_by_key(
        self, model_name: str, registration_key: str
    ) -> list[ModelVersion]:
        """Versions of ``model_name`` tagged with ``registration_key``, lowest version first."""
        tag_filter = f"tags.`{REGISTRATION_KEY_TAG}` = '{registration_key}'"
        name_filter = f"name = '{model_name}' AND " if "'" not in model_name else ""
        try:
            found = self.get_conn().search_model_versions(filter_string=name_filter + tag_filter)
        except Exception as exc:
            raise self._request_error(
                f"Looking up earlier registrations of model {model_name!r}", exc
            ) from exc
        return sorted((mv for mv in found if mv.name == model_name), key=lambda mv: int(mv.version))

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
        await_registration_for: float = 300,
    ) -> dict[str, Any]:
        """Register ``model_uri`` as a version of ``model_name``, exactly once per task instance.

        The version carries ``tags``, the ``airflow.*`` lineage tags and a registration key
        derived from (model, dag, run, task, map index), all in the create request. A later
        attempt of the same task instance (retry, clear, backfill re-run) finds the version by
        that key and returns it (``created`` false) instead of creating another; a create whose
        response was lost is looked up again before it is re-sent, and if a re-sent create made
        a second version, the lowest version is kept and the duplicate deleted.

        Give either ``model_uri`` or ``run_search``: the latter is resolved with
        :meth:`find_run_source` only when no earlier attempt registered a version, and the
        chosen run and filter are recorded as ``airflow.source_*`` tags.

        ``lineage`` defaults to the running task's context; outside a task (no context) there is
        no key and every call creates a version.

        Waits up to ``await_registration_for`` seconds for status READY, then points each alias
        at the version (moving it from an older version).

        :return: a JSON-able record (see README: "The XCom record").
        :raises ValueError: for invalid arguments, naming the argument.
        :raises MlflowRequestError: when MLflow rejects a request or cannot be reached.
        :raises ModelRegistrationError: when the version fails or is not READY in time.
        :raises NoMatchingRunError: when ``run_search`` finds no run.
        """
        model_name = check_model_name(model_name)
        if (model_uri is None) == (run_search is None):
            raise ValueError("Give exactly one of model_uri and run_search.")
        if model_uri is not None:
            model_uri = check_model_uri(model_uri)
        user_tags = check_tags(tags)
        alias_list = check_aliases(aliases)
        wait_seconds = check_timeout(await_registration_for, "await_registration_for")
        lineage = lineage or _current_lineage()
        key = lineage.registration_key(model_name) if lineage else None
        version_tags = dict(user_tags)
        if lineage is not None and key is not None:
            version_tags.update(lineage.as_tags())
            version_tags[REGISTRATION_KEY_TAG] = key

        earlier = self.find_model_versions_by_key(model_name, key) if key else []
        if earlier:
            version, created = earlier[0], False
            log.info(
                "Model %r version %s was registered by an earlier attempt of this task "
                "instance; reusing it.",
                model_name,
                version.version,
            )
        else:
            if run_search is not None:
                source = self.find_run_source(run_search)
                if source is None:
                    raise NoMatchingRunError(
                        f"No run to register as model {model_name!r}: nothing matched in "
                        f"{run_search.describe()}."
                    )
                model_uri, run_id = source.model_uri, source.run_id
                version_tags.update(source.as_tags())
            assert model_uri is not None
            run_id = run_id or _run_id_from_uri(model_uri)
            self.ensure_registered_model(model_name)
            version = self._create_model_version_once(
                model_name, model_uri, run_id, description, version_tags, key
            )
            created = True
            log.info(
                "Registered model %r version %s from %s.", model_name, version.version, model_uri
            )
        version = self._await_ready(version, wait_seconds)
        version = self._point_aliases(version, alias_list)
        return self._version_record(version, created=created)

    def _create_model_version_once(
        self,
        model_name: str,
        source: str,
        run_id: str | None,
        description: str | None,
        tags: dict[str, str],
        key: str | None,
    ) -> ModelVersion:
        """Create the version; after an ambiguous failure, look it up before sending again."""
        client = self.get_conn()
        model_id = _logged_model_id(source)
        attempts = 1 + self.config.max_retries
        failure: BaseException | None = None
        for attempt in range(attempts):
            try:
                version = client.create_model_version(
                    name=model_name,
                    source=source,
                    run_id=run_id,
                    tags=tags,
                    description=description,
                    await_creation_for=0,
                    model_id=model_id,
                )
            except Exception as exc:
                action = f"Registering {source} as a version of model {model_name!r}"
                if _is_definitive(exc) or key is None:
                    raise self._request_error(action, exc) from exc
                failure = exc
                log.warning(
                    "%s: no confirmation (%s); checking whether the server created it.",
                    action,
                    describe_mlflow_error(exc, self._secrets()),
                )
                found = self.find_model_versions_by_key(model_name, key)
                if found:
                    return found[0]
                time.sleep(min(2**attempt, 5))
                continue
            if failure is not None and key is not None:
                return self._drop_duplicates(model_name, key, version)
            return version
        assert failure is not None
        raise self._request_error(
            f"Registering {source} as a version of model {model_name!r} ({attempts} attempts)",
            failure,
        ) from failure

    def _drop_duplicates(self, model_name: str, key: str, created: ModelVersion) -> ModelVersion:
        """Keep the lowest version carrying ``key``; delete higher ones made by re-sent creates."""
        found = self.find_model_versions_by_key(model_name, key) or [created]
        for duplicate in found[1:]:
            log.warning(
                "Model %r version %s duplicates version %s (a re-sent create); deleting it.",
                model_name,
                duplicate.version,
                found[0].version,
            )
            self.get_conn().delete_model_version(model_name, duplicate.version)
        return found[0]

    def _await_ready(self, version: ModelVersion, timeout: float) -> ModelVersion:
        """Poll until ``version`` leaves PENDING_REGISTRATION; fail on FAILED or timeout."""
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
            version = self.get_model_version_entity(version.name, version.version)
        if version.status != "READY":
            raise ModelRegistrationError(
                f"Model {version.name!r} version {version.version} ended in status "
                f"{version.status}: {version.status_message or 'no status message'}."
            )
        return version

    def _point_aliases(self, version: ModelVersion, aliases: list[str]) -> ModelVersion:
        """Point each alias at ``version`` (idempotent: re-pointing is a no-op on the server)."""
        # The registry client directly: MlflowClient.set_registered_model_alias first GETs the
        # model to rule out prompts, doubling the requests.
        registry = self.get_conn()._get_registry_client()
        for alias in aliases:
            try:
                registry.set_registered_model_alias(version.name, alias, version.version)
            except Exception as exc:
                raise self._request_error(
                    f"Pointing alias {alias!r} of model {version.name!r} at version "
                    f"{version.version}",
                    exc,
                ) from exc
            log.info(
                "Alias %r of model %r now points at version %s.",
                alias,
                version.name,
                version.version,
            )
        version.aliases = sorted({*(version.aliases or []), *aliases})
        return version

    def find_run_source(self, search: RunSearch) -> ResolvedSource | None:
        """The first run matching ``search`` and the model URI to register from it, or None.

        Prefers the run's MLflow 3 logged model (named ``search.artifact_path`` when it has
        several) as ``models:/<model_id>``; falls back to ``runs:/<run_id>/<artifact_path>``.
        """
        client = self.get_conn()
        try:
            experiment_id = search.experiment_id or self._experiment_id(search.experiment_name)
            runs = client.search_runs(
                [experiment_id],
                filter_string=search.run_filter,
                order_by=list(search.order_by) or None,
                max_results=1,
            )
            if not runs:
                return None
            run_id = runs[0].info.run_id
            logged = client.search_logged_models(
                [experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
        except MlflowRegistryError:
            raise
        except Exception as exc:
            raise self._request_error(f"Searching runs in {search.describe()}", exc) from exc
        named = [m for m in logged if m.name == search.artifact_path]
        chosen = named or (logged if len(logged) == 1 else [])
        if chosen:
            model_id = chosen[0].model_id
            return ResolvedSource(f"models:/{model_id}", run_id, experiment_id, search, model_id)
        uri = f"runs:/{run_id}/{search.artifact_path.strip('/')}"
        return ResolvedSource(uri, run_id, experiment_id, search)

    def _experiment_id(self, experiment_name: str | None) -> str:
        experiment = self.get_conn().get_experiment_by_name(experiment_name or "")
        if experiment is None:
            raise NoMatchingRunError(
                f"Experiment {experiment_name!r} does not exist on {self.tracking_uri}; check "
                "experiment_name (names are case-sensitive)."
            )
        return str(experiment.experiment_id)

    def get_model_version_entity(self, model_name: str, version: str | int) -> ModelVersion:
        """The MLflow ``ModelVersion`` of ``model_name``/``version``."""
        try:
            return self.get_conn().get_model_version(model_name, str(version))
        except Exception as exc:
            raise self._request_error(
                f"Reading model {model_name!r} version {version}", exc
            ) from exc

    def get_model_version(self, model_name: str, version: str | int) -> dict[str, Any]:
        """The JSON-able record of ``model_name``/``version`` (``created`` is False)."""
        return self._version_record(
            self.get_model_version_entity(model_name, version), created=False
        )

    def _version_record(self, version: ModelVersion, *, created: bool) -> dict[str, Any]:
        import pendulum

        tags = dict(version.tags or {})
        lineage = {k: v for k, v in tags.items() if k.startswith(TAG_PREFIX)}
        registered_at = pendulum.from_timestamp(version.creation_timestamp / 1000, tz="UTC")
        return {
            "model_name": version.name,
            "version": str(version.version),
            "model_uri": f"models:/{version.name}/{version.version}",
            "source": version.source,
            "run_id": version.run_id or None,
            "status": version.status,
            "aliases": sorted(version.aliases or []),
            "tags": {k: v for k, v in tags.items() if not k.startswith(TAG_PREFIX)},
            "lineage": lineage,
            "created": created,
            "tracking_uri": self.tracking_uri,
            "registered_at": registered_at.isoformat(),
            "model_version_url": self.model_version_url(version.name, version.version),
        }


def _is_definitive(exc: BaseException) -> bool:
    """True when the server certainly rejected the request (a 4xx other than 408/429).

    Anything else (5xx, timeouts, dropped connections, unparsable replies) may have been
    committed by the server, so the caller must look before sending again.
    """
    getter = getattr(exc, "get_http_status_code", None)
    if getter is None:
        return False
    status = int(getter())
    return 400 <= status < 500 and status not in (408, 429)


def _run_id_from_uri(model_uri: str) -> str | None:
    if model_uri.startswith("runs:/"):
        return model_uri[len("runs:/") :].strip("/").split("/")[0]
    return None


def _logged_model_id(model_uri: str) -> str | None:
    """The MLflow 3 logged-model id of a ``models:/m-<id>`` URI, else None."""
    if model_uri.startswith("models:/m-"):
        rest = model_uri[len("models:/") :].strip("/")
        return rest.split("/")[0]
    return None


def _current_lineage() -> TaskInstanceLineage | None:
    """Lineage of the running task, or None outside a task."""
    from airflow.sdk import get_current_context

    try:
        return TaskInstanceLineage.from_context(get_current_context())
    except Exception:
        return None
