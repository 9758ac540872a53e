"""The HTTP endpoint MLflow delivers to: ``POST <url prefix>/<conn-id>``.

For each delivery, in this order (each refusal is one warning line in the api-server's log,
without a stack trace, naming the connection, the delivery id and the reason):

1. a body over :data:`MAX_BODY_BYTES` -> 413; a connection id that cannot be one -> 404;
2. no secret configured for the connection (:mod:`.shared_secret`), a missing or wrong
   signature, or a timestamp outside the tolerance -> 401 (:mod:`.signature`);
3. a body that is not MLflow's payload -> 400; an event that makes no asset event -> 200
   ``ignored``;
4. no active asset ``model_asset(conn_id, model)`` (no DAG uses the model) -> 200 ``ignored``;
   a change already recorded (redelivery, or the polling watch was first) -> 200 ``duplicate``;
5. the version is read from the MLflow server through the connection (the event carries the
   hook's version record, as the trigger's events do; a version that is not READY, or no
   longer exists, is left to the polling watch -> 200 ``ignored``); the server unreachable
   -> 503, which MLflow retries;
6. the asset event is recorded (:mod:`.recording`) -> 200 ``recorded``.

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

from airflow_mlflow_registry.webhooks.changes import RegistryChange, find_duplicate, parse_delivery
from airflow_mlflow_registry.webhooks.shared_secret import read_secret, secret_variable_key
from airflow_mlflow_registry.webhooks.signature import (
    DELIVERY_ID_HEADER,
    WebhookRejected,
    verify_delivery,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

URL_PREFIX = "/mlflow-registry/webhooks"
# MLflow's registry payloads are a few KiB (tags included); anything far larger is not one.
MAX_BODY_BYTES = 256 * 1024
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


def create_app() -> FastAPI:
    """The receiver's FastAPI app (mounted by the plugin at :data:`URL_PREFIX`)."""
    app = FastAPI(title="MLflow registry webhooks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/{conn_id}")
    async def receive(conn_id: str, request: Request) -> JSONResponse:
        delivery = _printable(request.headers.get(DELIVERY_ID_HEADER, ""))
        try:
            body = await _read_body(request)
            result = await asyncio.to_thread(
                handle_delivery, conn_id, request.headers, body, time.time()
            )
        except WebhookRejected as exc:
            log.warning(
                "Rejected MLflow webhook delivery %s for connection %r: %s (HTTP %d).",
                delivery or "(no id)",
                _printable(conn_id),
                exc.reason,
                exc.status_code,
            )
            return JSONResponse({"detail": exc.reason}, status_code=exc.status_code)
        return JSONResponse(result)

    return app


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it exceeds :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookRejected(413, f"body of {declared} bytes exceeds {MAX_BODY_BYTES}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise WebhookRejected(413, f"body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def handle_delivery(
    conn_id: str, headers: Mapping[str, str], body: bytes, now: float
) -> dict[str, Any]:
    """Verify and record one delivery (steps 1-6 above); return the JSON answer.

    :raises WebhookRejected: with the HTTP status of a refused delivery.
    """
    if not _CONN_ID.match(conn_id):
        raise WebhookRejected(404, "not a connection id")
    secret = read_secret(conn_id)
    if secret is None:
        raise WebhookRejected(
            401, f"no webhook secret configured (Airflow variable {secret_variable_key(conn_id)})"
        )
    delivery_id = verify_delivery(secret, headers, body, now=now)
    change = parse_delivery(body)
    if change is None:
        return _answer("ignored", delivery_id, "event not turned into asset events")
    return _record(conn_id, change, delivery_id)


def _record(conn_id: str, change: RegistryChange, delivery_id: str) -> dict[str, Any]:
    from airflow.utils.session import create_session

    from airflow_mlflow_registry.assets import model_asset
    from airflow_mlflow_registry.webhooks.recording import (
        find_asset_id,
        recent_payloads,
        record_change,
    )

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
    record = _read_version(conn_id, change)
    if record is None or record["status"] != "READY":
        state = "gone" if record is None else record["status"]
        return _answer("ignored", delivery_id, f"version {change.version} is {state}")
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


def _read_version(conn_id: str, change: RegistryChange) -> dict[str, Any] | None:
    """The hook's record of the announced version, or None when the registry no longer has it.

    :raises WebhookRejected: 503 when the registry cannot be read (MLflow then retries).
    """
    from airflow_mlflow_registry.cli.connection import airflow_connection
    from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.model_versions import get_model_version
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls, error_code

    registry = RegistryCalls.building(
        lambda: MlflowConnectionConfig.from_connection(airflow_connection(conn_id))
    )
    try:
        return get_model_version(registry, change.model_name, change.version)
    except Exception as exc:
        if error_code(exc.__cause__ or exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise WebhookRejected(503, f"reading the version from MLflow failed: {exc}") from None


def _answer(status: str, delivery_id: str, detail: str) -> dict[str, Any]:
    return {"status": status, "delivery_id": delivery_id, "detail": detail}


def _printable(text: str) -> str:
    """``text`` cut to 128 characters with anything but printable ASCII replaced, for logs."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:128])
