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

"""The receiver's checks before anything is recorded: header form, signature, replay window,
body size, payload shape, and how the changes it records are de-duplicated. The receiver is
served by a real uvicorn process (:class:`~tests.support.webhook_receiver.ReceiverServer`); the
secret comes from an ``AIRFLOW_VAR_*`` variable (Airflow's environment secrets backend), behind
a counting secrets backend, and every request here is refused before the metadata DB would be
written."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.registry_event_cursor import EventCursor, cursor_key
from airflow_mlflow_registry.webhooks.changes import (
    ALIAS_MOVED,
    NEW_VERSION,
    RECORDED_MAX_VERSIONS,
    RegistryChange,
    emitted_by_watch,
    find_duplicate,
    parse_delivery,
    previous_alias_version,
    recorded_by_webhook,
    recorded_with,
)
from airflow_mlflow_registry.webhooks.receiver import MAX_BODY_BYTES, UNAUTHENTICATED, URL_PREFIX
from airflow_mlflow_registry.webhooks.shared_secret import secret_variable_key
from airflow_mlflow_registry.webhooks.signature import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    sign,
    verify_delivery,
)
from tests.support.webhook_delivery import signed_delivery, version_created
from tests.support.webhook_receiver import ReceiverServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

SECRET = "test-webhook-secret-0123456789"
CONN_ID = "mlflow_hooks_test"


@pytest.fixture(scope="module")
def receiver(
    airflow_db: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReceiverServer]:
    """The receiver under uvicorn on this session's metadata DB (Airflow's last secrets
    backend), with a secret for :data:`CONN_ID` only."""
    server = ReceiverServer(
        tmp_path_factory.mktemp("receiver"),
        {f"AIRFLOW_VAR_{secret_variable_key(CONN_ID).upper()}": SECRET},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


def refusal_lines(receiver: ReceiverServer, delivery_id: str, since: int) -> list[str]:
    """The receiver's log lines after character ``since`` that name ``delivery_id``."""
    return [line for line in receiver.log()[since:].splitlines() if delivery_id in line]


def test_signature_matches_mlflows_own_signing() -> None:
    body, headers = signed_delivery(SECRET, version_created("churn", "3"))
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
    body, headers = signed_delivery(SECRET, version_created("churn", "3"))
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    with pytest.raises(WebhookRejected, match=reason) as caught:
        verify_delivery(SECRET, headers, body, now=time.time())
    assert caught.value.status_code == 401


def test_body_changed_after_signing_is_refused() -> None:
    body, headers = signed_delivery(SECRET, version_created("churn", "3"))
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_delivery(SECRET, headers, body.replace(b'"3"', b'"4"'), now=time.time())


def test_timestamp_outside_tolerance_is_refused_as_replay() -> None:
    body, headers = signed_delivery(SECRET, version_created("churn", "3"), age=301)
    with pytest.raises(WebhookRejected, match="outside the 300 s tolerance"):
        verify_delivery(SECRET, headers, body, now=time.time())
    verify_delivery(SECRET, headers, body, now=time.time(), tolerance_seconds=400)


def assert_refused_once_in_log(
    receiver: ReceiverServer, response: requests.Response, delivery_id: str, since: int
) -> str:
    """``response`` is the uniform 401, and the log has one warning line for the delivery and
    no traceback; return that line."""
    assert response.status_code == 401, response.text
    assert response.json() == UNAUTHENTICATED
    [line] = refusal_lines(receiver, delivery_id, since)
    assert "Rejected MLflow webhook delivery" in line and "WARNING" in line.upper()
    assert "Traceback" not in receiver.log()[since:]
    return line


def test_forged_signature_gets_401_and_one_log_line_without_traceback(
    receiver: ReceiverServer,
) -> None:
    since = len(receiver.log())
    body, headers = signed_delivery("not-the-secret", version_created("churn", "3"))
    response = receiver.post(CONN_ID, body, headers)
    line = assert_refused_once_in_log(receiver, response, headers[DELIVERY_ID_HEADER], since)
    assert "does not match" in line
    assert SECRET not in receiver.log() and SECRET not in response.text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (TIMESTAMP_HEADER, "\u00b2"),  # "2" superscript: str.isdigit() is true, int() fails
        (TIMESTAMP_HEADER, "1" * 400),  # int() works, the float arithmetic overflows
        (TIMESTAMP_HEADER, "1" * 4400),  # beyond int()'s 4,300-digit limit
        (SIGNATURE_HEADER, "v1,\u00e9t\u00e9" + "A" * 40),  # non-ASCII: compare_digest raises
    ],
    ids=["superscript-two", "400-digits", "4400-digits", "non-ascii-signature"],
)
def test_malformed_header_gets_401_and_one_log_line_without_traceback(
    receiver: ReceiverServer, header: str, value: str
) -> None:
    since = len(receiver.log())
    body, headers = signed_delivery(SECRET, version_created("churn", "3"))
    headers[header] = value
    # http.client sends header values as Latin-1, as any client may.
    response = receiver.post(CONN_ID, body, headers)
    line = assert_refused_once_in_log(receiver, response, headers[DELIVERY_ID_HEADER], since)
    assert header in line


def test_replayed_delivery_gets_401(receiver: ReceiverServer) -> None:
    since = len(receiver.log())
    body, headers = signed_delivery(SECRET, version_created("churn", "3"), age=3600)
    response = receiver.post(CONN_ID, body, headers)
    line = assert_refused_once_in_log(receiver, response, headers[DELIVERY_ID_HEADER], since)
    assert "tolerance" in line


def test_body_over_the_limit_gets_413_before_its_signature_is_checked(
    receiver: ReceiverServer,
) -> None:
    big = version_created("churn", "3")
    big["data"]["description"] = "x" * MAX_BODY_BYTES
    # Signed with a wrong secret: only a size check made before the signature check gives 413.
    body, headers = signed_delivery("not-the-secret", big)
    assert receiver.post(CONN_ID, body, headers).status_code == 413


def test_signed_malformed_payload_gets_400(receiver: ReceiverServer) -> None:
    for bad in (b"not json", json.dumps({"entity": "model_version"}).encode()):
        body, headers = signed_delivery(SECRET, bad)
        response = receiver.post(CONN_ID, body, headers)
        assert response.status_code == 400, response.text
    missing_version = version_created("churn", "3")
    del missing_version["data"]["version"]
    body, headers = signed_delivery(SECRET, missing_version)
    assert receiver.post(CONN_ID, body, headers).status_code == 400


def test_unknown_and_known_connection_get_byte_identical_refusals(
    receiver: ReceiverServer,
) -> None:
    since = len(receiver.log())
    answers = []
    for conn_id in ("no_such_connection", CONN_ID):
        body, headers = signed_delivery("not-the-secret", version_created("churn", "3"))
        signed = receiver.post(conn_id, body, headers)
        del headers[SIGNATURE_HEADER]
        headerless = receiver.post(conn_id, body, headers)
        stale_body, stale = signed_delivery(SECRET, version_created("churn", "3"), age=3600)
        answers.append(
            [
                (r.status_code, r.headers["content-type"], r.content)
                for r in (signed, headerless, receiver.post(conn_id, stale_body, stale))
            ]
        )
    unknown, known = answers
    assert unknown == known
    assert {answer[0] for answer in known} == {401}
    assert len({answer[2] for answer in known}) == 1  # bad signature, no header, stale: alike
    assert "Traceback" not in receiver.log()[since:]


def test_headerless_or_stale_request_reads_no_variable(receiver: ReceiverServer) -> None:
    lookups = len(receiver.variable_lookups())
    for conn_id in ("never_asked_for", CONN_ID):
        body, headers = signed_delivery(SECRET, version_created("churn", "3"))
        anonymous = {"Content-Type": "application/json"}
        assert receiver.post(conn_id, body, anonymous).status_code == 401
        stale_body, stale = signed_delivery(SECRET, version_created("churn", "3"), age=3600)
        assert receiver.post(conn_id, stale_body, stale).status_code == 401
    assert receiver.variable_lookups()[lookups:] == []
    # The counting backend does see the receiver's look-ups: a well-formed delivery for a
    # connection not asked about before is one.
    body, headers = signed_delivery("not-the-secret", version_created("churn", "3"))
    assert receiver.post("never_asked_for", body, headers).status_code == 401
    assert receiver.variable_lookups()[lookups:] == [secret_variable_key("never_asked_for")]


def test_secret_is_read_once_per_cache_period(receiver: ReceiverServer) -> None:
    lookups = len(receiver.variable_lookups())
    for _ in range(3):
        body, headers = signed_delivery("not-the-secret", version_created("churn", "3"))
        assert receiver.post("asked_three_times", body, headers).status_code == 401
    assert receiver.variable_lookups()[lookups:] == [secret_variable_key("asked_three_times")]


def test_event_that_makes_no_asset_event_is_acknowledged_and_ignored(
    receiver: ReceiverServer,
) -> None:
    tag_set = {**version_created("churn", "3"), "entity": "model_version_tag", "action": "set"}
    body, headers = signed_delivery(SECRET, tag_set)
    response = receiver.post(CONN_ID, body, headers)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"


def test_plugin_mounts_the_receiver_under_its_prefix_and_is_an_entry_point() -> None:
    from importlib.metadata import entry_points

    from airflow_mlflow_registry.get_provider_info import get_provider_info
    from airflow_mlflow_registry.plugins.webhooks import MlflowRegistryWebhookPlugin

    plugins = get_provider_info()["plugins"]
    [declared] = [p for p in plugins if p["name"] == MlflowRegistryWebhookPlugin.name]
    assert declared["plugin-class"].endswith(MlflowRegistryWebhookPlugin.__name__)
    [mounted] = MlflowRegistryWebhookPlugin.fastapi_apps
    assert mounted["url_prefix"] == URL_PREFIX
    # Airflow loads provider-info plugins only when providers are not discovered lazily.
    [entry_point] = [e for e in entry_points(group="airflow.plugins") if "webhooks" in e.name]
    assert entry_point.load() is MlflowRegistryWebhookPlugin


def test_parse_delivery_maps_mlflow_events() -> None:
    assert parse_delivery(json.dumps(version_created("churn", "3")).encode()) == RegistryChange(
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


def test_the_receivers_record_tells_the_watch_what_it_recorded() -> None:
    recorded = None
    for version in range(1, RECORDED_MAX_VERSIONS + 3):
        recorded = recorded_with(recorded, RegistryChange(NEW_VERSION, "m", str(version)))
    recorded = recorded_with(recorded, RegistryChange(ALIAS_MOVED, "m", "7", "production"))
    assert len(recorded["versions"]) == RECORDED_MAX_VERSIONS
    assert recorded_by_webhook(recorded, {"event": NEW_VERSION, "version": "9"})
    assert not recorded_by_webhook(recorded, {"event": NEW_VERSION, "version": "1"})  # evicted
    moved = {"event": ALIAS_MOVED, "alias": "production", "version": "7"}
    assert recorded_by_webhook(recorded, moved)
    assert not recorded_by_webhook(recorded, {**moved, "version": "8"})
    assert not recorded_by_webhook(None, {"event": NEW_VERSION, "version": "9"})


def test_the_tests_sign_deliveries_exactly_as_mlflow_does() -> None:
    """tests/support/webhook_delivery.py signs with hmac (old clients lack mlflow.webhooks);
    pinned here against MLflow's own signing function."""
    delivery = pytest.importorskip("mlflow.webhooks.delivery")
    body, headers = signed_delivery("s3cret", version_created("m", "1"), delivery_id="d-1")
    expected = delivery._generate_hmac_signature(
        "s3cret", "d-1", headers["X-MLflow-Timestamp"], body.decode()
    )
    assert headers["X-MLflow-Signature"] == expected
