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

"""The ``mlflow`` connection form as a person uses it: headless Chromium (Debian's package,
driven by Playwright) against a real ``airflow api-server``.

By default the api-server is this venv's Airflow (the newest supported); the matrix
(``.ci/matrix.sh``) also runs this file against the lowest one by naming that venv's Python
in ``BROWSER_TEST_AIRFLOW_PYTHONS`` (space-separated). Airflow 3.0/3.1 build the form from the
hook's widgets, 3.2+ from the provider info: the same labels must show on both.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.api_server import ApiServer
from tests.support.browser import chromium_page
from tests.support.connection_fields import EXPECTED_FIELDS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.support.mlflow_server import MlflowServer

# A first `airflow db migrate` and api-server start take minutes on a busy 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(900)]

AIRFLOW_PYTHONS_ENV = "BROWSER_TEST_AIRFLOW_PYTHONS"
# Airflow 3.3.2's connection list sends port 0 for a connection without a port and rejects its
# own request; fixed upstream by apache/airflow PR #73298, not in a release yet.
TEST_BUTTON_BUG = {
    "3.3.2": "Airflow 3.3.2's Test button answers 400 'The host or port to test differs from "
    "the stored connection' for every connection without a port (apache/airflow PR #73298)"
}
# That bug's answer, exactly: any other failure of the test is a failure, not the known bug.
TEST_BUTTON_BUG_ANSWER = (
    400,
    {
        "detail": "The host or port to test differs from the stored connection. Include the "
        "credentials to test in the request body."
    },
)


class KnownTestButtonBug(AssertionError):
    """The Test button got exactly :data:`TEST_BUTTON_BUG_ANSWER`."""


# Airflow 3.0.0's connection list has no Test button (only Edit and Delete).
NO_TEST_BUTTON = {"3.0.0"}
# Airflow 3.0.0's form shows extra fields of format `password` as plain text inputs.
UNMASKED_EXTRA_SECRETS = {"3.0.0"}


def airflow_pythons() -> list[str]:
    """Interpreters whose Airflow serves the UI under test."""
    import os

    return (os.environ.get(AIRFLOW_PYTHONS_ENV) or sys.executable).split()


@pytest.fixture(scope="module", params=airflow_pythons())
def api_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """A running api-server of the Airflow installed beside ``request.param``."""
    server = ApiServer(request.param, tmp_path_factory.mktemp("api-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A page of a fresh headless Chromium (its own user-data-dir under ``tmp_path``)."""
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


def airflow_version(server: ApiServer) -> str:
    return str(server.api().get(f"{server.url}/api/v2/version", timeout=30).json()["version"])


def open_connections(page: Page, server: ApiServer) -> None:
    """Admin > Connections, through the menu as a person goes there."""
    page.goto(f"{server.url}/", wait_until="networkidle")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()


def open_mlflow_form(page: Page, server: ApiServer, conn_id: str) -> None:
    """Admin > Connections > Add Connection, with ``conn_id`` and the MLflow type picked
    (listed by its hook name, "MLflow", from 3.2 on; by the type, "mlflow", before)."""
    open_connections(page, server)
    page.get_by_role("button", name="Add Connection").click()
    page.locator("input[name=connection_id]").fill(conn_id)
    page.get_by_role("combobox").first.fill("MLflow")
    page.get_by_role("option", name=re.compile("^mlflow$", re.IGNORECASE)).click()


def stored_connection(server: ApiServer, conn_id: str) -> dict[str, Any]:
    response = server.api().get(f"{server.url}/api/v2/connections/{conn_id}", timeout=30)
    response.raise_for_status()
    return dict(response.json())


def test_form_shows_every_label_saves_and_the_saved_connection_tests_ok(
    page: Page, api_server: ApiServer, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    conn_id = "mlflow_from_form"
    open_mlflow_form(page, api_server, conn_id)
    page.locator("input[name=host]").fill(mlflow_server.url)
    assert page.locator("input[name=password]").get_attribute("type") == "password"
    assert page.locator("input[name=port]").count() == 0  # hidden: the URI carries it
    page.get_by_role("button", name="Extra Fields", exact=True).click()
    page.locator("input[name=element_timeout]").fill("5")
    version = airflow_version(api_server)
    if version not in UNMASKED_EXTRA_SECRETS:
        assert page.locator("input[name=element_token]").get_attribute("type") == "password"
    labels = {text.strip().rstrip("*").strip() for text in page.locator("label").all_inner_texts()}
    assert {"Tracking URI", "Username", "Password", *EXPECTED_FIELDS.values()} <= labels
    screenshot = tmp_path / f"mlflow-form-{version}.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    page.get_by_role("button", name="Save").click()
    page.get_by_role("row").filter(has_text=conn_id).wait_for()

    stored = stored_connection(api_server, conn_id)
    assert (stored["conn_type"], stored["host"]) == ("mlflow", mlflow_server.url)
    extra = json.loads(stored["extra"])
    assert float(extra["timeout"]) == 5
    assert not extra.get("token") and not extra.get("insecure_tls")

    # What the Test button would send, but with the stored fields: the API runs test_connection.
    fields = {key: stored[key] for key in ("connection_id", "conn_type", "host", "extra")}
    tested = api_server.api().post(
        f"{api_server.url}/api/v2/connections/test", json=fields, timeout=120
    )
    assert tested.status_code == 200, tested.text
    assert tested.json()["status"] is True, tested.json()
    cli = api_server.cli("connections", "test", conn_id)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "success" in cli.stdout.lower(), cli.stdout[-2000:]


def test_test_button_in_the_connection_list_reports_success(
    page: Page, api_server: ApiServer, mlflow_server: MlflowServer, request: pytest.FixtureRequest
) -> None:
    version = airflow_version(api_server)
    reason = TEST_BUTTON_BUG.get(version)
    if reason:
        request.applymarker(
            pytest.mark.xfail(strict=True, reason=reason, raises=KnownTestButtonBug)
        )
    conn_id = "mlflow_test_button"
    connection = {"connection_id": conn_id, "conn_type": "mlflow", "host": mlflow_server.url}
    created = api_server.api().post(
        f"{api_server.url}/api/v2/connections", json=connection, timeout=30
    )
    assert created.status_code == 201, created.text
    open_connections(page, api_server)
    row = page.get_by_role("row").filter(has_text=conn_id)
    row.get_by_role("button", name="Edit Connection").wait_for()
    if version in NO_TEST_BUTTON:
        assert row.get_by_role("button", name="Test Connection").count() == 0
        return
    with page.expect_response(lambda response: response.url.endswith("/connections/test")) as info:
        row.get_by_role("button", name="Test Connection").click()
    response = info.value
    if reason and (response.status, response.json()) == TEST_BUTTON_BUG_ANSWER:
        raise KnownTestButtonBug(response.text())
    assert response.status == 200, response.text()
    assert response.json()["status"] is True, response.text()
