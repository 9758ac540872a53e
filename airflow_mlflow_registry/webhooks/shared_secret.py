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

"""Where the webhook's shared secret lives: the Airflow variable
``mlflow_webhook_secret_<conn-id>``, one per ``mlflow`` connection.

The receiver reads it through Airflow's secrets backends (an ``AIRFLOW_VAR_...`` environment
variable, a custom backend such as Vault, or the metadata DB) only for a delivery whose headers
are well formed and fresh, and keeps what it read (the secret, or its absence) for
:data:`SECRET_CACHE_SECONDS` in each api-server process (:class:`SecretCache`): a rotated secret
applies within that time. Airflow masks it in logs and the UI: the key contains
``secret``. ``airflow-mlflow-registry webhooks create`` generates it and stores it in the
metadata DB.
"""

from __future__ import annotations

import secrets
import threading
import time

SECRET_VARIABLE_PREFIX = "mlflow_webhook_secret_"
SECRET_BYTES = 32
# How long the receiver keeps a secret it read (or its absence): the time a rotation takes.
SECRET_CACHE_SECONDS = 30.0
# Connection ids whose look-up the receiver keeps; the oldest are dropped beyond this.
MAX_CACHED_CONNECTIONS = 1024


def secret_variable_key(conn_id: str) -> str:
    """The Airflow variable holding connection ``conn_id``'s webhook secret."""
    return f"{SECRET_VARIABLE_PREFIX}{conn_id}"


def generate_secret() -> str:
    """A new random secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def read_secret(conn_id: str) -> str | None:
    """Connection ``conn_id``'s webhook secret from Airflow's secrets backends, or None.
    Imports Airflow; reads the metadata DB, so call it in a server process, not a task."""
    from airflow.models.variable import Variable

    value = Variable.get(secret_variable_key(conn_id), default_var=None)
    return str(value) if value else None


def store_secret(conn_id: str, secret: str) -> str:
    """Write ``secret`` to connection ``conn_id``'s variable in the metadata DB; return the
    variable's key."""
    from airflow.models.variable import Variable

    key = secret_variable_key(conn_id)
    Variable.set(
        key, secret, description=f"MLflow webhook secret of connection {conn_id} (do not share)"
    )
    return key


class SecretCache:
    """Webhook secrets by connection id, each look-up (:func:`read_secret`) kept
    :data:`SECRET_CACHE_SECONDS`: a secret or its absence, at most
    :data:`MAX_CACHED_CONNECTIONS` connection ids (the oldest look-up dropped first). Safe to
    share between threads."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, conn_id: str) -> str | None:
        """Connection ``conn_id``'s secret, or None when it has none; read again once the kept
        look-up is :data:`SECRET_CACHE_SECONDS` old."""
        now = time.monotonic()
        with self._lock:
            kept = self._entries.get(conn_id)
        if kept is not None and now - kept[0] < SECRET_CACHE_SECONDS:
            return kept[1]
        secret = read_secret(conn_id)
        with self._lock:
            self._entries.pop(conn_id, None)
            self._entries[conn_id] = (now, secret)
            while len(self._entries) > MAX_CACHED_CONNECTIONS:
                del self._entries[next(iter(self._entries))]
        return secret
