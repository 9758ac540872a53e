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

"""The alias timeline plugin under each matrix entry's Airflow (``compat``): the plugins
manager loads it from the package's entry point, the api-server's ``init_plugins`` mounts its
app, and the page, built with that Airflow's authorisation, refuses a request without a
login before reading anything."""

from __future__ import annotations

import pytest

from airflow_mlflow_registry.plugins.alias_timeline import URL_PREFIX, MlflowAliasTimelinePlugin
from tests.support.plugin_mounts import assert_listed_and_mounted_at

pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("airflow_db")]


def test_plugins_manager_lists_the_timeline_and_mounts_its_app_at_the_prefix() -> None:
    assert_listed_and_mounted_at(MlflowAliasTimelinePlugin, URL_PREFIX)


def test_the_page_refuses_a_request_without_a_login_before_reading_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from airflow_mlflow_registry.plugins import alias_timeline

    read: list[tuple[str, str]] = []
    monkeypatch.setattr(alias_timeline, "timeline_page", lambda *asked: read.append(asked))
    with TestClient(alias_timeline.create_app()) as client:
        response = client.get("/", params={"conn_id": "mlflow_default", "model": "m"})
    assert response.status_code == 401, response.text
    assert read == []
