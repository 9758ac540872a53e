"""MLflow webhook deliveries built as MLflow 3.17's sender builds them, for tests that post
them to the provider's receiver themselves (no MLflow webhook needed)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from airflow_mlflow_registry.webhooks.signature import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)


def signed_delivery(secret: str, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """``body`` as MLflow sends it (``mlflow/webhooks/delivery.py``: ``json.dumps``, a new
    delivery id, the current Unix time, its ``v1`` signature with ``secret``): the raw body and
    the headers."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    raw = json.dumps(body).encode()
    delivery_id, stamp = str(uuid.uuid4()), str(int(time.time()))
    return raw, {
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: _generate_hmac_signature(secret, delivery_id, stamp, raw.decode()),
        "Content-Type": "application/json",
    }


def version_created(model: str, version: str) -> dict[str, Any]:
    """The payload of MLflow's ``model_version.created`` event for ``model`` ``version``."""
    return {
        "entity": "model_version",
        "action": "created",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "data": {"name": model, "version": version, "source": "s", "run_id": None, "tags": {}},
    }
