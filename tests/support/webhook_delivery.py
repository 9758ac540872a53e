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

"""MLflow registry webhook deliveries as MLflow's server sends them, signed here.

The format is MLflow's (``mlflow/webhooks/delivery.py`` of 3.17): the body is ``json.dumps`` of
``{entity, action, timestamp, data}``; the headers carry a random delivery id, the Unix time
and ``v1,`` + base64 HMAC-SHA256 of ``"<delivery id>.<timestamp>.<body>"`` under the webhook's
secret. It is computed here rather than with MLflow's own function because the clients of the
matrix's older entries (mlflow-skinny before 3.3) have no ``mlflow.webhooks``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"


def signed_delivery(
    secret: str,
    body: dict[str, Any] | bytes,
    *,
    delivery_id: str | None = None,
    age: int = 0,
) -> tuple[bytes, dict[str, str]]:
    """A delivery of ``body`` signed with ``secret`` as MLflow signs it: its JSON bytes and its
    headers, stamped ``age`` seconds ago, with ``delivery_id`` (new by default)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"{delivery_id}.{stamp}.".encode() + raw, hashlib.sha256)
    return raw, {
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "v1," + base64.b64encode(digest.digest()).decode(),
        "Content-Type": "application/json",
    }


def version_created(model: str, version: str, **fields: Any) -> dict[str, Any]:
    """MLflow's ``model_version.created`` payload; ``fields`` are added at the top level (such
    as ``workspace``)."""
    return {
        "entity": "model_version",
        "action": "created",
        "timestamp": "2026-12-05T19:00:00+00:00",
        "data": {"name": model, "version": version, "source": "s", "run_id": None, "tags": {}},
        **fields,
    }


def alias_created(model: str, alias: str, version: str, **fields: Any) -> dict[str, Any]:
    """MLflow's ``model_version_alias.created`` payload (an alias set or moved)."""
    return {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "2026-12-05T19:00:00+00:00",
        "data": {"name": model, "alias": alias, "version": version},
        **fields,
    }
