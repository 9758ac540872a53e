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

"""The HTTP endpoint MLflow delivers to: ``POST <url prefix>/<conn-id>``.

For each delivery, in this order (each refusal is one warning line in the api-server's log,
without a stack trace, naming the connection, the delivery id and the reason):

1. a connection id that cannot be one -> 404;
2. a missing or malformed ``X-MLflow-*`` header, or a timestamp outside the tolerance -> 401
   (:func:`~.signature.read_signed_headers`), before the body is read and before any secrets
   look-up;
3. a body over :data:`MAX_BODY_BYTES` -> 413;
4. no secret configured for the connection (:mod:`.shared_secret`, kept
   :data:`~.shared_secret.SECRET_CACHE_SECONDS`) or a wrong signature -> 401. Every 401 has
   the same body (:data:`UNAUTHENTICATED`), whatever the reason and whether the connection
   exists: only the log says why;
5. a body that is not MLflow's payload -> 400; an event that makes no asset event -> 200
   ``ignored``;
6. a delivery from another MLflow workspace than the connection's (its ``workspace`` field;
   none: the server's default workspace) -> 403;
7. no active asset ``model_asset(conn_id, model)`` (no DAG uses the model) -> 200 ``ignored``;
   a change already recorded (redelivery, or the polling watch was first) -> 200 ``duplicate``;
8. the version is read from the MLflow server through the connection (the event carries the
   hook's version record, as the trigger's events do): for an alias move, the version the
   alias points at now, and a move it no longer shows (a late or replayed delivery, or an
   alias deleted since) -> 200 ``ignored``; a version that is not READY, or no longer exists,
   is left to the polling watch -> 200 ``ignored``; the server unreachable -> 503, which
   MLflow retries;
9. the asset event is recorded (:mod:`.recording`) -> 200 ``recorded``.

The answer comes once the event is committed: typically tens of milliseconds after a short
read of the version from MLflow.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_mlflow_registry.webhooks.changes import (
    ALIAS_MOVED,
    RegistryChange,
    find_duplicate,
    parse_delivery,
)
from airflow_mlflow_registry.webhooks.shared_secret import SecretCache, secret_variable_key
from airflow_mlflow_registry.webhooks.signature import (
    DELIVERY_ID_HEADER,
    SignedHeaders,
    WebhookRejected,
    check_signature,
    read_signed_headers,
)

if TYPE_CHECKING:
    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig

log = logging.getLogger(__name__)

URL_PREFIX = "/mlflow-registry/webhooks"
# MLflow's registry payloads are a few KiB (tags included); anything far larger is not one.
MAX_BODY_BYTES = 256 * 1024
#: The body of every 401: it tells no caller whether the connection exists, or what failed.
UNAUTHENTICATED = {"detail": "delivery not authenticated"}
# The workspace MLflow serves a request that names none (``DEFAULT_WORKSPACE_NAME`` in
# ``mlflow.utils.workspace_utils``).
DEFAULT_WORKSPACE = "default"
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")


def create_app() -> FastAPI:
    """The receiver's FastAPI app (mounted by the plugin at :data:`URL_PREFIX`), with its own
    :class:`~airflow_mlflow_registry.webhooks.shared_secret.SecretCache`."""
    app = FastAPI(title="MLflow registry webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    secrets = SecretCache()

    @app.post("/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        delivery = _printable(request.headers.get(DELIVERY_ID_HEADER, ""))
        try:
            if not _CONN_ID.fullmatch(conn_id):
                raise WebhookRejected(404, "not a connection id")
            signed = read_signed_headers(request.headers, now=time.time())
            body = await _read_body(request)
            result = await asyncio.to_thread(handle_delivery, conn_id, signed, body, secrets)
        except WebhookRejected as exc:
            log.warning(
                "Rejected MLflow webhook delivery %s for connection %r: %s (HTTP %d).",
                delivery or "(no id)",
                _printable(conn_id),
                exc.reason,
                exc.status_code,
            )
            detail = UNAUTHENTICATED if exc.status_code == 401 else {"detail": exc.reason}
            return JSONResponse(detail, status_code=exc.status_code)
        return JSONResponse(result)

    return app


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it exceeds :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared and (not _CONTENT_LENGTH.fullmatch(declared) or int(declared) > MAX_BODY_BYTES):
        raise WebhookRejected(413, f"body of {_printable(declared)} bytes exceeds {MAX_BODY_BYTES}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise WebhookRejected(413, f"body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def handle_delivery(
    conn_id: str, signed: SignedHeaders, body: bytes, secrets: SecretCache
) -> dict[str, Any]:
    """Authenticate and record one delivery whose headers passed
    :func:`~airflow_mlflow_registry.webhooks.signature.read_signed_headers` (steps 4-9
    above); return the JSON answer.

    :raises WebhookRejected: with the HTTP status of a refused delivery.
    """
    secret = secrets.get(conn_id)
    if secret is None:
        raise WebhookRejected(
            401, f"no webhook secret configured (Airflow variable {secret_variable_key(conn_id)})"
        )
    check_signature(secret, signed, body)
    change = parse_delivery(body)
    if change is None:
        return _answer("ignored", signed.delivery_id, "event not turned into asset events")
    config = _connection_config(conn_id)
    served = config.workspace or DEFAULT_WORKSPACE
    named = change.workspace or DEFAULT_WORKSPACE
    if named != served:
        raise WebhookRejected(
            403,
            f"delivery from MLflow workspace {named!r}; connection {conn_id!r} serves "
            f"workspace {served!r}",
        )
    return _record(config, change, signed.delivery_id)


def _record(
    config: MlflowConnectionConfig, change: RegistryChange, delivery_id: str
) -> dict[str, Any]:
    from airflow.utils.session import create_session

    from airflow_mlflow_registry.assets import model_asset
    from airflow_mlflow_registry.webhooks.recording import (
        find_asset_id,
        recent_payloads,
        record_change,
    )

    conn_id = config.conn_id
    try:
        uri = model_asset(conn_id, change.model_name).uri
    except ValueError as exc:
        raise WebhookRejected(400, str(exc)) from None
    with create_session() as session:
        asset_id = find_asset_id(session, uri)
        duplicate = None
        if asset_id is not None:
            duplicate = find_duplicate(change, delivery_id, recent_payloads(session, asset_id))
    if asset_id is None:
        return _answer("ignored", delivery_id, f"no DAG uses asset {uri}")
    if duplicate is not None:
        log.info("MLflow webhook delivery %s: %s; no new event.", delivery_id, duplicate)
        return _answer("duplicate", delivery_id, duplicate)
    record = _read_version(config, change)
    if record is None:
        return _answer("ignored", delivery_id, _gone(change))
    if record["version"] != change.version:
        return _answer(
            "ignored",
            delivery_id,
            f"alias {change.alias!r} points at version {record['version']} now, not "
            f"{change.version} (a late or replayed delivery)",
        )
    if record["status"] != "READY":
        return _answer("ignored", delivery_id, f"version {change.version} is {record['status']}")
    with create_session() as session:
        duplicate = record_change(session, conn_id, asset_id, change, delivery_id, record)
    if duplicate is not None:
        log.info("MLflow webhook delivery %s: %s; no new event.", delivery_id, duplicate)
        return _answer("duplicate", delivery_id, duplicate)
    log.info(
        "MLflow webhook delivery %s: %s of model %r version %s recorded on %s.",
        delivery_id,
        change.event,
        change.model_name,
        change.version,
        uri,
    )
    return _answer("recorded", delivery_id, f"{change.event} {change.version}")


def _connection_config(conn_id: str) -> MlflowConnectionConfig:
    """Connection ``conn_id``, parsed.

    :raises WebhookRejected: 503 when it cannot be read or is invalid (it may be fixed before
        MLflow's retry).
    """
    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.client.connection_env import airflow_connection

    try:
        return MlflowConnectionConfig.from_connection(airflow_connection(conn_id))
    except Exception as exc:
        raise WebhookRejected(503, f"connection {conn_id!r} cannot be used: {exc}") from None


def _read_version(config: MlflowConnectionConfig, change: RegistryChange) -> dict[str, Any] | None:
    """The hook's record of the version the change shows now: for an alias move, the version
    the alias points at (which may differ from ``change.version``), with ``ledger_entry``, the
    alias ledger's entry of the move (recorded as seen when the ledger did not show it; the
    signing secret read with :func:`~airflow_mlflow_registry.utils.signing.server_signer`);
    otherwise the announced version. None when the registry no longer has it (or the alias).

    :raises WebhookRejected: 503 when the registry cannot be read (MLflow then retries).
    """
    from airflow_mlflow_registry.hooks.aliases import get_version_by_alias, observe_alias
    from airflow_mlflow_registry.hooks.model_versions import get_model_version, version_record
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls, error_code
    from airflow_mlflow_registry.utils.signing import server_signer

    registry = RegistryCalls.building(lambda: config)
    try:
        if change.event == ALIAS_MOVED and change.alias is not None:
            current = get_version_by_alias(registry, change.model_name, change.alias)
            if current is None:
                return None
            record = version_record(registry, current, created=False)
            if record["version"] == change.version:
                entry = observe_alias(registry, change.model_name, change.alias, server_signer())
                record["ledger_entry"] = None if entry is None else entry.as_dict()
            return record
        return get_model_version(registry, change.model_name, change.version)
    except Exception as exc:
        if error_code(exc.__cause__ or exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise WebhookRejected(503, f"reading the version from MLflow failed: {exc}") from None


def _gone(change: RegistryChange) -> str:
    """Why a change whose version (or alias) the registry no longer has is not recorded."""
    if change.alias is not None:
        return f"alias {change.alias!r} no longer exists"
    return f"version {change.version} is gone"


def _answer(status: str, delivery_id: str, detail: str) -> dict[str, Any]:
    return {"status": status, "delivery_id": delivery_id, "detail": detail}


def _printable(text: str) -> str:
    """``text`` cut to 128 characters with anything but printable ASCII replaced, for logs."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:128])
