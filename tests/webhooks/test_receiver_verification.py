"""The receiver's checks before anything is recorded: signature, replay window, body size,
payload shape, and how the changes it records are de-duplicated. No Airflow process: the
receiver's FastAPI app is called in this process, the secret comes from an
``AIRFLOW_VAR_*`` variable (Airflow's environment secrets backend), and every request here
is refused before the metadata DB would be written."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from airflow_mlflow_registry.registry_event_cursor import EventCursor, cursor_key
from airflow_mlflow_registry.webhooks import receiver
from airflow_mlflow_registry.webhooks.changes import (
    ALIAS_MOVED,
    LEDGER_MAX_VERSIONS,
    NEW_VERSION,
    RegistryChange,
    emitted_by_watch,
    find_duplicate,
    ledger_with,
    parse_delivery,
    previous_alias_version,
    recorded_by_webhook,
)
from airflow_mlflow_registry.webhooks.receiver import MAX_BODY_BYTES, URL_PREFIX, create_app
from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key
from airflow_mlflow_registry.webhooks.signature import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    sign,
    verify_delivery,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "test-webhook-secret-0123456789"
CONN_ID = "mlflow_hooks_test"


def mlflow_delivery(
    body: dict | bytes, *, secret: str = SECRET, timestamp: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A body and headers exactly as MLflow 3.17's delivery builds them
    (mlflow/webhooks/delivery.py: json.dumps, delivery id, Unix timestamp, v1 signature)."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    delivery_id, stamp = str(uuid.uuid4()), str(int(timestamp or time.time()))
    headers = {
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: _generate_hmac_signature(secret, delivery_id, stamp, raw.decode()),
        "Content-Type": "application/json",
    }
    return raw, headers


def version_created(name: str = "churn", version: str = "3") -> dict:
    return {
        "entity": "model_version",
        "action": "created",
        "timestamp": "2026-12-05T19:00:00+00:00",
        "data": {"name": name, "version": version, "source": "models:/m-1", "tags": {}},
    }


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv(f"AIRFLOW_VAR_{secret_variable_key(CONN_ID).upper()}", SECRET)
    return TestClient(create_app())


def test_signature_matches_mlflows_own_signing() -> None:
    body, headers = mlflow_delivery(version_created())
    assert (
        sign(SECRET, headers[DELIVERY_ID_HEADER], headers[TIMESTAMP_HEADER], body)
        == (headers[SIGNATURE_HEADER])
    )
    assert verify_delivery(SECRET, headers, body, now=time.time()) == headers[DELIVERY_ID_HEADER]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({SIGNATURE_HEADER: None}, "no X-MLflow-Signature"),
        ({SIGNATURE_HEADER: "v1,AAAA"}, "does not match"),
        ({DELIVERY_ID_HEADER: None}, "Delivery-Id"),
        ({TIMESTAMP_HEADER: "soon"}, "Timestamp"),
    ],
)
def test_missing_or_wrong_headers_are_refused(change: dict, reason: str) -> None:
    body, headers = mlflow_delivery(version_created())
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(WebhookRejected, match=reason) as caught:
        verify_delivery(SECRET, headers, body, now=time.time())
    assert caught.value.status_code == 401


def test_body_changed_after_signing_is_refused() -> None:
    body, headers = mlflow_delivery(version_created(version="3"))
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_delivery(SECRET, headers, body.replace(b'"3"', b'"4"'), now=time.time())


def test_timestamp_outside_tolerance_is_refused_as_replay() -> None:
    body, headers = mlflow_delivery(version_created(), timestamp=time.time() - 301)
    with pytest.raises(WebhookRejected, match="outside the 300 s tolerance"):
        verify_delivery(SECRET, headers, body, now=time.time())
    verify_delivery(SECRET, headers, body, now=time.time(), tolerance_seconds=400)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def receiver_log() -> Iterator[list[logging.LogRecord]]:
    """The receiver's log records (Airflow's own logging setup varies across a session)."""
    logger = logging.getLogger(receiver.__name__)
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_forged_signature_gets_401_and_one_log_line_without_traceback(
    client: TestClient, receiver_log: list[logging.LogRecord]
) -> None:
    body, headers = mlflow_delivery(version_created(), secret="not-the-secret")
    response = client.post(f"/{CONN_ID}", content=body, headers=headers)
    assert response.status_code == 401
    [record] = [r for r in receiver_log if "Rejected MLflow webhook" in r.getMessage()]
    assert headers[DELIVERY_ID_HEADER] in record.getMessage()
    assert "does not match" in record.getMessage()
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert SECRET not in record.getMessage() and SECRET not in response.text


def test_replayed_delivery_gets_401(client: TestClient) -> None:
    body, headers = mlflow_delivery(version_created(), timestamp=time.time() - 3600)
    response = client.post(f"/{CONN_ID}", content=body, headers=headers)
    assert response.status_code == 401
    assert "tolerance" in response.json()["detail"]


def test_body_over_the_limit_gets_413_before_its_signature_is_checked(
    client: TestClient,
) -> None:
    big = version_created()
    big["data"]["description"] = "x" * MAX_BODY_BYTES
    body, headers = mlflow_delivery(big)
    response = client.post(f"/{CONN_ID}", content=body, headers=headers)
    assert response.status_code == 413


def test_signed_malformed_payload_gets_400(client: TestClient) -> None:
    for bad in (b"not json", json.dumps({"entity": "model_version"}).encode()):
        body, headers = mlflow_delivery(bad)
        response = client.post(f"/{CONN_ID}", content=body, headers=headers)
        assert response.status_code == 400, response.text
    missing_version = version_created()
    del missing_version["data"]["version"]
    body, headers = mlflow_delivery(missing_version)
    assert client.post(f"/{CONN_ID}", content=body, headers=headers).status_code == 400


def test_connection_without_secret_gets_401(client: TestClient) -> None:
    body, headers = mlflow_delivery(version_created())
    response = client.post("/other_connection", content=body, headers=headers)
    assert response.status_code == 401
    assert secret_variable_key("other_connection") in response.json()["detail"]


def test_event_that_makes_no_asset_event_is_acknowledged_and_ignored(client: TestClient) -> None:
    tag_set = {**version_created(), "entity": "model_version_tag", "action": "set"}
    body, headers = mlflow_delivery(tag_set)
    response = client.post(f"/{CONN_ID}", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"


def test_plugin_mounts_the_receiver_under_its_prefix_and_is_an_entry_point() -> None:
    from importlib.metadata import entry_points

    from airflow_mlflow_registry.get_provider_info import get_provider_info
    from airflow_mlflow_registry.webhooks.plugin import MlflowRegistryWebhookPlugin

    [declared] = get_provider_info()["plugins"]
    assert declared["plugin-class"].endswith(MlflowRegistryWebhookPlugin.__name__)
    [mounted] = MlflowRegistryWebhookPlugin.fastapi_apps
    assert mounted["url_prefix"] == URL_PREFIX
    # Airflow loads provider-info plugins only when providers are not discovered lazily.
    [entry_point] = [e for e in entry_points(group="airflow.plugins") if "mlflow" in e.name]
    assert entry_point.load() is MlflowRegistryWebhookPlugin


def test_parse_delivery_maps_mlflow_events() -> None:
    assert parse_delivery(json.dumps(version_created()).encode()) == RegistryChange(
        NEW_VERSION, "churn", "3"
    )
    alias = {
        "entity": "model_version_alias",
        "action": "created",
        "timestamp": "t",
        "data": {"name": "churn", "alias": "production", "version": "2"},
    }
    assert parse_delivery(json.dumps(alias).encode()) == RegistryChange(
        ALIAS_MOVED, "churn", "2", "production"
    )


def test_duplicates_by_version_by_newest_alias_move_and_by_delivery_id() -> None:
    recorded = [  # newest first
        {"event": ALIAS_MOVED, "alias": "production", "version": "4", "delivery_id": "d3"},
        {"event": ALIAS_MOVED, "alias": "production", "version": "3", "delivery_id": "d2"},
        {"event": NEW_VERSION, "version": "4", "delivery_id": "d1"},
    ]
    assert find_duplicate(RegistryChange(NEW_VERSION, "m", "4"), "x", recorded)
    assert find_duplicate(RegistryChange(NEW_VERSION, "m", "5"), "x", recorded) is None
    assert find_duplicate(RegistryChange(ALIAS_MOVED, "m", "4", "production"), "x", recorded)
    # A move back to 3 is a new change; the same delivery sent again is not.
    assert (
        find_duplicate(RegistryChange(ALIAS_MOVED, "m", "3", "production"), "x", recorded) is None
    )
    assert find_duplicate(RegistryChange(ALIAS_MOVED, "m", "3", "production"), "d2", recorded)
    assert previous_alias_version("production", recorded) == "4"
    assert previous_alias_version("staging", recorded) is None


def test_receiver_treats_what_a_polling_watch_emitted_or_claimed_as_duplicate() -> None:
    server = "127.0.0.1:5000"
    cursors = {
        cursor_key("conn", "m", None, {}): EventCursor(server=server, version=5)
        .with_emitted(7)
        .to_stored(),
        cursor_key("conn", "m", "production", {}): EventCursor(
            server=server, version="4"
        ).to_stored(),
        "mlflow_registry_event_cursor:other": {"not": "a cursor"},
    }

    def check(change: RegistryChange, on: str = server) -> str | None:
        return emitted_by_watch(change, "conn", on, cursors)

    assert check(RegistryChange(NEW_VERSION, "m", "5")) is not None  # at the watermark
    assert check(RegistryChange(NEW_VERSION, "m", "7")) is not None  # claimed above it
    assert check(RegistryChange(NEW_VERSION, "m", "6")) is None
    assert check(RegistryChange(ALIAS_MOVED, "m", "4", "production")) is not None
    assert check(RegistryChange(ALIAS_MOVED, "m", "5", "production")) is None
    assert check(RegistryChange(ALIAS_MOVED, "m", "4", "staging")) is None
    assert check(RegistryChange(NEW_VERSION, "m", "5"), on="elsewhere:5000") is None


def test_ledger_tells_the_watch_what_the_receiver_recorded() -> None:
    ledger = None
    for version in range(1, LEDGER_MAX_VERSIONS + 3):
        ledger = ledger_with(ledger, RegistryChange(NEW_VERSION, "m", str(version)))
    ledger = ledger_with(ledger, RegistryChange(ALIAS_MOVED, "m", "7", "production"))
    assert len(ledger["versions"]) == LEDGER_MAX_VERSIONS
    assert recorded_by_webhook(ledger, {"event": NEW_VERSION, "version": "9"})
    assert not recorded_by_webhook(ledger, {"event": NEW_VERSION, "version": "1"})  # evicted
    moved = {"event": ALIAS_MOVED, "alias": "production", "version": "7"}
    assert recorded_by_webhook(ledger, moved)
    assert not recorded_by_webhook(ledger, {**moved, "version": "8"})
    assert not recorded_by_webhook(None, {"event": NEW_VERSION, "version": "9"})
