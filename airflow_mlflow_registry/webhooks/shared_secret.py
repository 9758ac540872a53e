"""Where the webhook's shared secret lives: the Airflow variable
``mlflow_webhook_secret_<conn-id>``, one per ``mlflow`` connection.

The receiver reads it through Airflow's secrets backends on each delivery (an
``AIRFLOW_VAR_...`` environment variable, a custom backend such as Vault, or the metadata DB),
so a rotated secret applies at once. Airflow masks it in logs and the UI: the key contains
``secret``. ``airflow-mlflow-registry webhooks create`` generates it and stores it in the
metadata DB.
"""

from __future__ import annotations

import secrets

SECRET_VARIABLE_PREFIX = "mlflow_webhook_secret_"
SECRET_BYTES = 32


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
