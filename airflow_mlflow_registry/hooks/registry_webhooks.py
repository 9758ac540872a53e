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

"""MLflow registry webhooks of one connection: create, list, delete and test them.

Records are plain dicts (``webhook_id``, ``name``, ``url``, ``events``, ``status``,
``description``, ``created_at``) and never carry the webhook's secret. Webhooks need an MLflow
3.3+ server with a SQL backend store.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.exceptions import UnsupportedByRegistryError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient
    from mlflow.entities.webhook import Webhook, WebhookEvent

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls


def webhook_client(registry: RegistryCalls) -> MlflowClient:
    """The connection's client, when it has MLflow's webhook API.

    :raises UnsupportedByRegistryError: for an mlflow-skinny older than 3.3.
    """
    from airflow_mlflow_registry.hooks.client.mlflow_compat import supports_webhooks

    client = registry.client
    if not supports_webhooks(client):
        raise UnsupportedByRegistryError(
            "Registry webhooks need mlflow-skinny 3.3 or newer on this machine (and an MLflow "
            "3.3+ server with a SQL store): upgrade mlflow-skinny."
        )
    return client


def webhook_record(webhook: Webhook) -> dict[str, Any]:
    """The JSON-able record of ``webhook`` (no secret)."""
    created = datetime.fromtimestamp(webhook.creation_timestamp / 1000, tz=timezone.utc)
    return {
        "webhook_id": webhook.webhook_id,
        "name": webhook.name,
        "url": webhook.url,
        "events": [str(event) for event in webhook.events],
        "status": str(webhook.status),
        "description": webhook.description,
        "created_at": created.isoformat(),
    }


def webhook_event(name: str) -> WebhookEvent:
    """MLflow's event ``name`` (``entity.action``, e.g. ``model_version.created``).

    :raises ValueError: naming the event and the valid form.
    """
    from mlflow.entities.webhook import WebhookEvent

    try:
        return WebhookEvent.from_str(name)  # type: ignore[arg-type]
    except Exception:
        raise ValueError(
            f"{name!r} is not an MLflow webhook event: use entity.action, e.g. "
            "model_version.created or model_version_alias.created."
        ) from None


def create_webhook(
    registry: RegistryCalls,
    name: str,
    url: str,
    events: Sequence[str],
    *,
    secret: str,
    description: str | None = None,
) -> dict[str, Any]:
    """Create an active webhook that signs its deliveries with ``secret``; return its record.

    :raises MlflowRequestError: naming the webhook (e.g. a URL the server refuses, a server
        without webhooks).
    """
    parsed: list[Any] = [webhook_event(event) for event in events]
    client = webhook_client(registry)
    try:
        webhook = client.create_webhook(
            name=name, url=url, events=parsed, description=description, secret=secret
        )
    except Exception as exc:
        raise registry.request_error(f"Creating webhook {name!r}", exc) from exc
    return webhook_record(webhook)


def list_webhooks(registry: RegistryCalls) -> list[dict[str, Any]]:
    """Records of every webhook of the registry.

    :raises MlflowRequestError: when the server cannot list them.
    """
    client = webhook_client(registry)
    pages = registry.all_pages(
        lambda token: client.list_webhooks(max_results=100, page_token=token),
        "Listing webhooks",
    )
    return [webhook_record(webhook) for webhook in pages]


def delete_webhook(registry: RegistryCalls, webhook_id: str) -> None:
    """Delete webhook ``webhook_id``.

    :raises MlflowRequestError: naming the webhook (e.g. it does not exist).
    """
    client = webhook_client(registry)
    try:
        client.delete_webhook(webhook_id)
    except Exception as exc:
        raise registry.request_error(f"Deleting webhook {webhook_id!r}", exc) from exc


def test_webhook(
    registry: RegistryCalls, webhook_id: str, event: str | None = None
) -> dict[str, Any]:
    """Have the MLflow server send webhook ``webhook_id`` an example delivery of ``event``
    (default: its first event). Returns ``success``, ``response_status``, ``response_body`` and
    ``error_message`` as the server reported them.

    :raises MlflowRequestError: when the server cannot run the test (e.g. no such webhook).
    """
    client = webhook_client(registry)
    try:
        result = client.test_webhook(
            webhook_id, event=None if event is None else webhook_event(event)
        )
    except Exception as exc:
        raise registry.request_error(f"Testing webhook {webhook_id!r}", exc) from exc
    return {
        "success": bool(result.success),
        "response_status": result.response_status,
        "response_body": result.response_body,
        "error_message": result.error_message,
    }
