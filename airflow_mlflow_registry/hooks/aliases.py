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

"""Aliases: reading which version an alias points at, and pointing it at another, sending no
update when it already points there.

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`; the hook's
methods of the same names state their contracts. mlflow is imported only inside functions.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow_mlflow_registry.hooks.client.mlflow_compat import registry_client_of
from airflow_mlflow_registry.hooks.registry_calls import error_code

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)


def get_version_by_alias(
    registry: RegistryCalls, model_name: str, alias: str
) -> ModelVersion | None:
    """The version ``alias`` points at, or None when the alias or the model does not exist
    (MLflow answers INVALID_PARAMETER_VALUE, resp. RESOURCE_DOES_NOT_EXIST; MLflow's
    basic-auth server answers PERMISSION_DENIED to a non-admin user for a model that does not
    exist, which a second look-up of the model tells apart).

    :raises MlflowRequestError: for any other failure, naming the model and alias.
    """
    try:
        return registry.client.get_model_version_by_alias(model_name, alias)
    except Exception as exc:
        code = error_code(exc)
        if code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            return None
        if code == "PERMISSION_DENIED" and not _registered_model_exists(registry, model_name):
            return None
        raise registry.request_error(
            f"Reading alias {alias!r} of model {model_name!r}", exc
        ) from exc


def set_model_version_alias(
    registry: RegistryCalls, model_name: str, alias: str, version: str | int
) -> str | None:
    """Point ``alias`` at ``version`` unless it already points there; return the version it
    pointed at before (None when the alias did not exist)."""
    previous = get_version_by_alias(registry, model_name, alias)
    previous_version = None if previous is None else str(previous.version)
    if previous_version == str(version):
        log.info("Alias %r of model %r already points at version %s.", alias, model_name, version)
        return previous_version
    set_registered_model_alias(registry, model_name, alias, str(version))
    log.info(
        "Alias %r of model %r moved from version %s to %s.",
        alias,
        model_name,
        previous_version or "(none)",
        version,
    )
    return previous_version


def point_aliases(
    registry: RegistryCalls, version: ModelVersion, aliases: list[str]
) -> ModelVersion:
    """Point each alias at ``version``, except those already on it (the version read from the
    server lists them). The returned version lists all its aliases."""
    for alias in aliases:
        if alias in (version.aliases or []):
            log.info(
                "Alias %r of model %r already points at version %s.",
                alias,
                version.name,
                version.version,
            )
            continue
        set_registered_model_alias(registry, version.name, alias, version.version)
        log.info(
            "Alias %r of model %r now points at version %s.", alias, version.name, version.version
        )
    version.aliases = sorted({*(version.aliases or []), *aliases})
    return version


def set_registered_model_alias(
    registry: RegistryCalls, model_name: str, alias: str, version: str
) -> None:
    """Point ``alias`` at ``version``, sending once more after a ``BAD_REQUEST``.

    MLflow's SQL store creates an alias by select-then-insert, so two tasks creating the same
    alias at once make one fail with ``BAD_REQUEST`` (a unique-index IntegrityError). Setting an
    alias is idempotent: the re-send updates the row the other task inserted. Uses the registry
    client directly: ``MlflowClient.set_registered_model_alias`` first GETs the model to rule
    out prompts, doubling the requests.

    :raises MlflowRequestError: naming the model, alias and version.
    """
    registry_client = registry_client_of(registry.client)
    try:
        try:
            registry_client.set_registered_model_alias(model_name, alias, version)
        except Exception as exc:
            if error_code(exc) != "BAD_REQUEST":
                raise
            log.warning(
                "Pointing alias %r of model %r at version %s collided with a concurrent "
                "update; sending it again.",
                alias,
                model_name,
                version,
            )
            registry_client.set_registered_model_alias(model_name, alias, version)
    except Exception as exc:
        raise registry.request_error(
            f"Pointing alias {alias!r} of model {model_name!r} at version {version}", exc
        ) from exc


def _registered_model_exists(registry: RegistryCalls, model_name: str) -> bool:
    """False when the registry answers RESOURCE_DOES_NOT_EXIST for ``model_name``, True when it
    returns the model or any other error."""
    try:
        registry.client.get_registered_model(model_name)
    except Exception as exc:
        return error_code(exc) != "RESOURCE_DOES_NOT_EXIST"
    return True
