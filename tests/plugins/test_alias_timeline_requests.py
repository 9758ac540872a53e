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

"""What the alias timeline page reads for a request, before any registry call: which
connections it uses, and the signing secret. The page against a real Airflow and MLflow is
tests/integration/test_alias_timeline_browser.py."""

from __future__ import annotations

import json

import pytest

from airflow_mlflow_registry.plugins.alias_timeline import server_signer, timeline_page
from airflow_mlflow_registry.utils.signing import SIGNING_SECRET_VARIABLE
from tests.support.airflow_env import SIGNING_SECRET, connection_env_var


def test_without_a_model_the_page_is_the_form_alone() -> None:
    status, page = timeline_page("mlflow_default", "")
    assert status == 200 and page.model_name == "" and page.error is None


@pytest.mark.parametrize("conn_id", ["", "a b", "../x", "x" * 251])
def test_a_connection_id_that_cannot_be_one_is_refused_before_any_look_up(conn_id: str) -> None:
    status, page = timeline_page(conn_id, "m")
    assert status == 400 and page.error and "connection id" in page.error


def test_a_connection_of_another_type_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user may name any connection id: the page must not send another service's login to
    that service's host as if it were an MLflow server."""
    other = {"conn_type": "http", "host": "http://127.0.0.1:9", "login": "u", "password": "pw"}
    monkeypatch.setenv(connection_env_var("internal_api"), json.dumps(other))
    status, page = timeline_page("internal_api", "m")
    assert status == 404
    assert page.error == (
        "Connection 'internal_api' cannot be used: it is not an 'mlflow' connection"
    )


def test_the_signer_comes_from_the_airflow_variable_and_is_none_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variable = f"AIRFLOW_VAR_{SIGNING_SECRET_VARIABLE.upper()}"
    monkeypatch.setenv(variable, SIGNING_SECRET)
    signer = server_signer()
    assert signer is not None and signer.secret == SIGNING_SECRET
    assert SIGNING_SECRET not in repr(signer)
    monkeypatch.setenv(variable, "short")
    assert server_signer() is None  # too short to be trusted: entries show as not verified
