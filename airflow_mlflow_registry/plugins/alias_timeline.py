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

"""The Airflow plugin that shows a model's alias timeline (its alias ledger) in the Airflow UI.

``GET <URL_PREFIX>/?conn_id=<mlflow connection>&model=<registered model>`` answers the page
(:mod:`.alias_timeline_page`); the plugin's external view puts it in the UI's *Browse* menu
(Airflow 3.1+, framed in the UI; 3.0 has no plugin views and ignores the entry, so the page is
reached at its URL only). Registered like the webhook receiver (entry point and provider info).

Only an authenticated Airflow user allowed to read assets (a model's timeline is the history
of its asset) gets the page: Airflow's own ``requires_access_asset("GET")`` dependency, which
reads the UI's session cookie or a bearer token; any other request is refused (401/403) before
anything is read. The page reads the connection, the registered model (one request) and the
signing secret (Airflow variable ``mlflow_registry_signing_secret``, through Airflow's secrets
backends) in the api-server; the secret is used to check entries and never shown.

The page's app is built on its first request: the other Airflow processes, which load plugins
too, never import the api-server's security code.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from airflow.plugins_manager import AirflowPlugin

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI
    from starlette.types import Receive, Scope, Send

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.plugins.alias_timeline_page import TimelinePage
    from airflow_mlflow_registry.utils.signing import RecordSigner

log = logging.getLogger(__name__)

URL_PREFIX = "/mlflow-registry/alias-timeline"
#: The UI route of the framed page (``<base url>/plugin/<UI_ROUTE>``).
UI_ROUTE = "mlflow-alias-timeline"
#: The only connection type the page reads through (the hook's ``conn_type``).
MLFLOW_CONN_TYPE = "mlflow"
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_MAX_MODEL_NAME = 500


class _BuiltOnFirstRequest:
    """An ASGI app that builds the app it serves (``build()``) on its first request."""

    def __init__(self, build: Callable[[], FastAPI]) -> None:
        self._build = build
        self._app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


def create_app() -> FastAPI:
    """The page's FastAPI app (mounted by the plugin at :data:`URL_PREFIX`); imports only
    FastAPI until its first request."""
    from fastapi import FastAPI

    app = FastAPI(title="MLflow alias timeline", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/", _BuiltOnFirstRequest(_page_app))
    return app


def _page_app() -> FastAPI:
    import asyncio

    from airflow.api_fastapi.core_api.security import requires_access_asset
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    from airflow_mlflow_registry.plugins.alias_timeline_page import (
        CONTENT_SECURITY_POLICY,
        render_page,
    )

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", dependencies=[Depends(requires_access_asset("GET"))])
    async def timeline(conn_id: str = "", model: str = "") -> HTMLResponse:
        status, page = await asyncio.to_thread(timeline_page, conn_id.strip(), model.strip())
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(render_page(page), status_code=status, headers=headers)

    return app


def timeline_page(conn_id: str, model_name: str) -> tuple[int, TimelinePage]:
    """The page for ``model_name`` through connection ``conn_id`` and its HTTP status: the
    form alone without a model; 400, 404 or 502 with an error message naming what failed."""
    from airflow_mlflow_registry.hooks.aliases import read_ledger
    from airflow_mlflow_registry.plugins.alias_timeline_page import TimelinePage

    if not model_name:
        return 200, TimelinePage(conn_id=conn_id)
    asked = TimelinePage(conn_id=conn_id, model_name=model_name)
    if not _CONN_ID.fullmatch(conn_id) or len(model_name) > _MAX_MODEL_NAME:
        error = "Give an mlflow connection id (letters, digits, '_.-') and a model name."
        return 400, _with_error(asked, error)
    try:
        registry = _registry(conn_id)
    except Exception as exc:
        return 404, _with_error(asked, f"Connection {conn_id!r} cannot be used: {exc}")
    signer = server_signer()
    try:
        entries = read_ledger(registry, model_name, signer)
    except Exception as exc:
        return 502, _with_error(asked, str(exc))
    return 200, TimelinePage(
        conn_id=conn_id,
        model_name=model_name,
        entries=entries,
        version_url=lambda version: registry.model_version_url(model_name, version),
        signing_configured=signer is not None,
    )


def server_signer() -> RecordSigner | None:
    """Airflow's signer, read in a server process (the metadata DB or a secrets backend), or
    None when the signing secret is not set or too short (logged, without the secret)."""
    from airflow.models.variable import Variable

    from airflow_mlflow_registry.utils.signing import SIGNING_SECRET_VARIABLE, RecordSigner

    value = Variable.get(SIGNING_SECRET_VARIABLE, default_var=None)
    if not value:
        log.warning("Alias timeline: Airflow variable %r is not set.", SIGNING_SECRET_VARIABLE)
        return None
    try:
        return RecordSigner(str(value))
    except ValueError as exc:
        log.warning("Alias timeline: %s", exc)
        return None


def _registry(conn_id: str) -> RegistryCalls:
    """The registry calls of connection ``conn_id``.

    :raises ValueError: when it is not an ``mlflow`` connection (the page never sends another
        connection's credentials anywhere).
    :raises Exception: when it is not defined or invalid (Airflow's or the config's message).
    """
    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.client.connection_env import airflow_connection
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

    connection = airflow_connection(conn_id)
    if getattr(connection, "conn_type", None) != MLFLOW_CONN_TYPE:
        raise ValueError(f"it is not an {MLFLOW_CONN_TYPE!r} connection")
    config = MlflowConnectionConfig.from_connection(connection)
    return RegistryCalls.building(lambda: config)


def _with_error(page: TimelinePage, error: str) -> TimelinePage:
    from dataclasses import replace

    return replace(page, error=error)


class MlflowAliasTimelinePlugin(AirflowPlugin):
    """Mounts the alias timeline page at :data:`URL_PREFIX` and lists it in the UI's menu."""

    name = "mlflow_registry_alias_timeline"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "MLflow alias timeline"}
    ]
    external_views = [
        {
            "name": "MLflow alias timeline",
            "href": f"{URL_PREFIX}/",
            "url_route": UI_ROUTE,
            "destination": "nav",
            "category": "browse",
        }
    ]
