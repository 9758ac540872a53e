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

"""Creating a model version exactly once: the look-up of the versions carrying a registration
key, and a create that survives lost responses and overlapping attempts.

A create whose outcome is unknown (5xx, timeout, dropped connection) is never simply sent
again: the versions carrying the key are looked up first. After a re-sent create, or when
another attempt of the same task instance may be registering at the same time, the generation
is settled by the rules of :mod:`airflow_mlflow_registry.hooks.registration`: its lowest live
version wins and the others are deleted. The registered model is created only when the server
answers that it is missing, which saves a request on every version but the first.

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`. mlflow is
imported only inside functions.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowRequestError, MlflowServerTooOldError
from airflow_mlflow_registry.hooks.client import server_compat
from airflow_mlflow_registry.hooks.model_versions import get_model_version_entity
from airflow_mlflow_registry.hooks.registration import (
    SOURCE_URI_TAG,
    SUPERSEDES_TAG,
    Generation,
    generation_of,
    generation_winner,
    live_versions,
)
from airflow_mlflow_registry.hooks.registry_calls import (
    SEARCH_PAGE_SIZE,
    error_code,
    is_definitive,
)
from airflow_mlflow_registry.hooks.sources import logged_model_id
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from airflow_mlflow_registry.utils.redaction import display_uri
from airflow_mlflow_registry.utils.search_filters import model_version_filter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)


def find_model_versions_by_key(
    registry: RegistryCalls,
    model_name: str,
    registration_key: str,
    *,
    run_id: str | None,
    key_tag: str = REGISTRATION_KEY_TAG,
) -> list[ModelVersion]:
    """Versions of ``model_name`` whose tag ``key_tag`` is ``registration_key``, lowest first:
    one search, or on Unity Catalog a search by run id (else name) and one read per
    candidate."""
    action = f"Looking up earlier registrations of model {model_name!r}"
    found: Iterable[ModelVersion]
    if not registry.is_unity_catalog:
        tag_filter = f"tags.`{key_tag}` = '{registration_key}'"
        name_filter = f"name = '{model_name}' AND " if "'" not in model_name else ""
        client = registry.client  # outside the try: a misconfigured connection is no request
        try:
            found = client.search_model_versions(filter_string=name_filter + tag_filter)
        except Exception as exc:
            raise registry.request_error(action, exc) from exc
    else:
        by_run = run_id is not None and "'" not in run_id
        only_filter = f"run_id = '{run_id}'" if by_run else model_version_filter(model_name)
        client = registry.client
        candidates = [
            mv
            for mv in registry.all_pages(
                lambda token: client.search_model_versions(
                    filter_string=only_filter, max_results=SEARCH_PAGE_SIZE, page_token=token
                ),
                action,
            )
            if mv.name == model_name
        ]
        versions = [get_model_version_entity(registry, model_name, mv.version) for mv in candidates]
        found = [mv for mv in versions if mv.tags.get(key_tag) == registration_key]
    return sorted((mv for mv in found if mv.name == model_name), key=lambda mv: int(mv.version))


#: Pauses before each further create of a version after a 403 on a model that another task
#: just created (see :func:`_create_in_model`): about 3.5 s in all.
PERMISSION_GRANT_WAITS = (0.5, 1.0, 2.0)


def ensure_registered_model(registry: RegistryCalls, model_name: str) -> bool:
    """Create the registered model unless it exists; True when this call created it. "Already
    exists" is no error; a create whose outcome is unknown returns False."""
    try:
        registry.client.create_registered_model(model_name)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_ALREADY_EXISTS":
            return False
        if is_definitive(exc):
            raise registry.request_error(f"Creating registered model {model_name!r}", exc) from exc
        log.warning(
            "Creating registered model %r: outcome unknown (%s); continuing.",
            model_name,
            registry.describe(exc),
        )
        return False
    log.info("Created registered model %r.", model_name)
    return True


def create_version_once(
    registry: RegistryCalls,
    model_name: str,
    source: str,
    run_id: str | None,
    description: str | None,
    tags: dict[str, str],
    key: str | None,
    *,
    may_overlap: bool,
) -> tuple[ModelVersion, bool]:
    """Create the version exactly once; return the version that counts and whether this call
    created it.

    After an ambiguous failure the version is looked up before the create is sent again. After
    a re-sent create, or when ``may_overlap`` (another attempt of the task instance may be
    registering at the same time), the generation is settled: its lowest live version wins and
    the others are deleted.
    """
    client = registry.client

    def create_version() -> ModelVersion:
        return client.create_model_version(
            name=model_name,
            source=source,
            run_id=run_id,
            tags=tags,
            description=description,
            await_creation_for=0,
            model_id=logged_model_id(source),
        )

    generation = (tags.get(SOURCE_URI_TAG) or display_uri(source), tags.get(SUPERSEDES_TAG))
    attempts = 1 + registry.config.max_retries
    failure: BaseException | None = None
    for attempt in range(attempts):
        try:
            version = _create_in_model(registry, model_name, create_version)
        except MlflowRequestError:
            raise  # creating the registered model failed, and said why
        except Exception as exc:
            action = f"Registering {display_uri(source)} as a version of model {model_name!r}"
            too_old = _logged_model_on_old_server_error(registry, source)
            if too_old is not None:
                raise too_old from exc
            if is_definitive(exc) or key is None:
                raise registry.request_error(action, exc) from exc
            failure = exc
            log.warning(
                "%s: no confirmation (%s); checking whether the server created it.",
                action,
                registry.describe(exc),
            )
            found = find_model_versions_by_key(registry, model_name, key, run_id=run_id)
            winner = generation_winner(found, generation)
            if winner is not None:
                return winner, True
            time.sleep(min(2**attempt, 5))
            continue
        if key is None or not (failure is not None or may_overlap):
            return version, True
        winner = _settle_generation(registry, model_name, key, version, generation, run_id)
        return winner, failure is not None or winner.version == version.version
    assert failure is not None
    raise registry.request_error(
        f"Registering {display_uri(source)} as a version of model {model_name!r} "
        f"({attempts} attempts)",
        failure,
    ) from failure


def _create_in_model(
    registry: RegistryCalls, model_name: str, create_version: Callable[[], ModelVersion]
) -> ModelVersion:
    """``create_version()``; when the server answers that the registered model does not exist
    (a definitive 404: nothing was created), create the model and call it once more. Creating
    the model only then saves a request on every version but the first.

    A server with access control answers 403 instead when the model does not exist (no
    permission on a model nobody owns): the model is ensured in the same way and the version
    sent once more. When the model already exists by then, a concurrent task of the same user
    may have just created it, and MLflow's basic-auth server grants its creator permission only
    after saving it: a 403 is then sent again up to ``PERMISSION_GRANT_WAITS`` times, after
    those pauses (seconds). A user who really lacks permission gets the last 403.
    """
    try:
        return create_version()
    except Exception as exc:
        if error_code(exc) not in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"):
            raise
    if ensure_registered_model(registry, model_name):
        return create_version()
    for pause in PERMISSION_GRANT_WAITS:
        try:
            return create_version()
        except Exception as exc:
            if error_code(exc) != "PERMISSION_DENIED":
                raise
            log.info(
                "Model %r: no permission to add a version yet (a concurrent creator's grant may "
                "be pending); trying again in %.1f s.",
                model_name,
                pause,
            )
        time.sleep(pause)
    return create_version()


def _settle_generation(
    registry: RegistryCalls,
    model_name: str,
    key: str,
    created: ModelVersion,
    generation: Generation,
    run_id: str | None,
) -> ModelVersion:
    """Return the lowest live version of ``generation`` (``created`` when the look-up misses
    it) and delete the generation's other live versions: duplicates from re-sent creates or
    from overlapping attempts. Failed versions are neither kept nor a reason to delete; while
    the winner is not READY yet, nothing is deleted.
    """
    found = find_model_versions_by_key(registry, model_name, key, run_id=run_id)
    return settle_duplicates(registry, model_name, found, generation, created)


def settle_duplicates(
    registry: RegistryCalls,
    model_name: str,
    found: Iterable[ModelVersion],
    generation: Generation,
    created: ModelVersion,
) -> ModelVersion:
    """Return the lowest live version of ``generation`` among ``found``, the versions carrying
    one registration key (``created`` when it is not among them), and delete the generation's
    other live versions, unless that winner is not READY yet (then nothing is deleted).

    :raises MlflowRequestError: when a delete fails, naming the model and version.
    """
    found = list(found)
    winner = generation_winner(found, generation) or created
    duplicates = [
        mv
        for mv in live_versions(found)
        if generation_of(mv) == generation and mv.version != winner.version
    ]
    if duplicates and winner.status != "READY":
        log.warning(
            "Model %r versions %s duplicate version %s, which is %s; keeping them until it is "
            "READY.",
            model_name,
            ", ".join(str(mv.version) for mv in duplicates),
            winner.version,
            winner.status,
        )
        return winner
    for duplicate in duplicates:
        log.warning(
            "Model %r version %s duplicates version %s (a re-sent create, or an overlapping "
            "registration with the same key); deleting it.",
            model_name,
            duplicate.version,
            winner.version,
        )
        delete_duplicate_version(registry, model_name, duplicate.version)
    return winner


def delete_duplicate_version(registry: RegistryCalls, model_name: str, version: str) -> None:
    """Delete ``version``; one that no longer exists (a re-sent delete) is not an error.

    :raises MlflowRequestError: naming the model and version.
    """
    try:
        registry.client.delete_model_version(model_name, version)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return
        raise registry.request_error(
            f"Deleting duplicate version {version} of model {model_name!r}", exc
        ) from exc


def _logged_model_on_old_server_error(
    registry: RegistryCalls, source: str
) -> MlflowServerTooOldError | None:
    """After registering ``source`` failed: if it is a logged model (``models:/<id>``) and the
    server predates MLflow 3 (no logged models; an MLflow 2 server answers 500 "Not a proper
    models:/ URI"), the error that names the server's version; else None. Asks the server its
    version, on this failure path only.
    """
    config = registry.config
    if logged_model_id(source) is None or not config.uses_rest:
        return None
    from airflow_mlflow_registry.hooks.client.rest_transport import host_creds

    version = server_compat.reported_server_version(
        host_creds(config), config.timeout, config.workspace
    )
    return server_compat.too_old_server_error(
        f"registering the logged model {display_uri(source)}", version
    )
