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

"""What Airflow learns from the provider info: the `mlflow` connection form in the 3.x UI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_mlflow_registry.get_provider_info import get_provider_info
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.connection_fields import EXPECTED_FIELDS

pytestmark = pytest.mark.compat


def test_ui_hook_meta_lists_mlflow_form_with_labels_and_sensitive_token() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    metas = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    meta = metas["mlflow"]
    assert meta.hook_name == "MLflow"
    assert meta.hook_class_name.endswith("MlflowRegistryHook")
    standard = meta.standard_fields
    assert standard is not None
    assert standard.host is not None and standard.host.title == "Tracking URI"
    assert standard.port is not None and standard.port.hidden is True
    extra = meta.extra_fields or {}
    labels = {name: field["schema"]["title"] for name, field in extra.items()}
    assert labels == EXPECTED_FIELDS
    assert extra["token"]["schema"].get("format") == "password"
    assert extra["insecure_tls"]["value"] is False


def test_provider_info_points_at_importable_hook() -> None:
    info = get_provider_info()
    [conn_type] = info["connection-types"]
    module_name, _, class_name = conn_type["hook-class-name"].rpartition(".")
    module = __import__(module_name, fromlist=[class_name])
    hook_class = getattr(module, class_name)
    assert hook_class.conn_type == conn_type["connection-type"] == "mlflow"
    assert hook_class.hook_name == conn_type["hook-name"]
    assert hook_class.default_conn_name == "mlflow_default"
    assert hook_class.conn_name_attr == "mlflow_conn_id"


def test_hook_form_widgets_mirror_conn_fields_for_airflow_3_0_and_3_1() -> None:
    from wtforms import PasswordField, StringField

    widgets = MlflowRegistryHook.get_connection_form_widgets()
    assert {name: widget.args[0] for name, widget in widgets.items()} == EXPECTED_FIELDS
    secret = {name for name, widget in widgets.items() if widget.field_class is PasswordField}
    assert secret == {"token"}
    # The timeout (a number) is text in the form; the connection parser accepts "10".
    assert widgets["timeout"].field_class is StringField
    assert widgets["timeout"].kwargs["default"] == "10"
    assert widgets["insecure_tls"].kwargs["default"] is False


def test_hook_field_behaviour_is_the_provider_info_behaviour() -> None:
    [conn_type] = get_provider_info()["connection-types"]
    behaviour = MlflowRegistryHook.get_ui_field_behaviour()
    assert behaviour == {
        "hidden_fields": ["port", "schema"],
        "relabeling": conn_type["ui-field-behaviour"]["relabeling"],
        "placeholders": conn_type["ui-field-behaviour"]["placeholders"],
    }
    assert behaviour["relabeling"]["host"] == "Tracking URI"


def test_importing_hooks_and_operators_and_building_the_form_does_not_import_mlflow() -> None:
    code = (
        "import sys, airflow_mlflow_registry.hooks, airflow_mlflow_registry.operators; "
        "hook = airflow_mlflow_registry.hooks.MlflowRegistryHook; "
        "hook.get_connection_form_widgets(); hook.get_ui_field_behaviour(); "
        "print(sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_airflow_providers_list_shows_package(airflow_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "plain"],
        capture_output=True,
        text=True,
        env=airflow_env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "airflow-mlflow-registry" in result.stdout


def test_provider_info_lists_every_operator_module() -> None:
    import airflow_mlflow_registry.operators as operators

    [entry] = get_provider_info()["operators"]
    exported = {getattr(operators, name).__module__ for name in operators.__all__}
    assert exported == set(entry["python-modules"])
