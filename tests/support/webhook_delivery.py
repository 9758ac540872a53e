"""MLflow registry webhook deliveries as MLflow's server sends them, signed here.

The format is MLflow's (``mlflow/webhooks/delivery.py`` of 3.17): the body is ``json.dumps`` of
``{entity, action, timestamp, data}``; the headers carry a random delivery id, the Unix time
and ``v1,`` + base64 HMAC-SHA256 of ``"<delivery id>.<timestamp>.<body>"`` under the webhook's
secret. It is computed here rather than with MLflow's own function because the clients of the
matrix's floor (mlflow-skinny before 3.3) have no ``mlflow.webhooks``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"


def model_version_created(name: str, version: str, source: str, run_id: str | None) -> dict:
    """The payload of a ``model_version.created`` event for that version (no tags)."""
    return {
        "entity": "model_version",
        "action": "created",
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "data": {
            "name": name,
            "version": version,
            "source": source,
            "run_id": run_id,
            "tags": {},
            "description": None,
        },
    }


def signed_delivery(
    payload: dict[str, Any], secret: str, *, timestamp: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """``payload``'s body and headers, signed with ``secret`` at ``timestamp`` (default now).

    :return: the body bytes and the headers, ``Content-Type`` included.
    """
    body = json.dumps(payload)
    delivery_id = str(uuid.uuid4())
    stamp = str(int(time.time() if timestamp is None else timestamp))
    digest = hmac.new(
        secret.encode(), f"{delivery_id}.{stamp}.{body}".encode(), hashlib.sha256
    ).digest()
    headers = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "v1," + base64.b64encode(digest).decode(),
    }
    return body.encode(), headers
