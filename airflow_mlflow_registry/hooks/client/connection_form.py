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

"""The ``mlflow`` connection form for Airflow 3.0 and 3.1, built from the provider info.

Airflow 3.2+ builds the form from the provider info's ``conn-fields`` and
``ui-field-behaviour`` without importing the hook. Airflow 3.0 and 3.1 know only the hook's
``get_connection_form_widgets()`` (WTForms fields, which the API server swaps for stand-ins
that turn them into JSON schema) and ``get_ui_field_behaviour()``. Both are derived here from
the same provider-info declaration, so every minor shows the same labels, descriptions,
defaults and secret field. Imports neither mlflow nor anything of this package beyond
:mod:`airflow_mlflow_registry.get_provider_info`.
"""

from __future__ import annotations

from typing import Any

from airflow_mlflow_registry.get_provider_info import get_provider_info

CONNECTION_TYPE = "mlflow"


def connection_type_info() -> dict[str, Any]:
    """The provider-info entry of the ``mlflow`` connection type."""
    [info] = (
        entry
        for entry in get_provider_info()["connection-types"]
        if entry["connection-type"] == CONNECTION_TYPE
    )
    return info


def connection_form_widgets() -> dict[str, Any]:
    """WTForms fields for every ``conn-fields`` entry, keyed by the same bare name.

    The field class follows the JSON schema: ``format: password`` gives a ``PasswordField``
    (masked, and treated as a secret by Airflow), booleans a ``BooleanField``, integers an
    ``IntegerField``, anything else (strings, and numbers such as the timeout, which the
    connection parser accepts as text) a ``StringField``. All fields are optional.

    :raises ImportError: when ``wtforms`` is not installed (Airflow then logs that the form's
        custom fields are missing).
    """
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import Optional

    widgets: dict[str, Any] = {}
    for name, field in connection_type_info()["conn-fields"].items():
        schema = field["schema"]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        default = schema.get("default")
        if schema.get("format") == "password":
            field_class = PasswordField
        elif "boolean" in types:
            field_class = BooleanField
        elif "integer" in types:
            field_class = IntegerField
        else:
            field_class = StringField
            default = None if default is None else str(default)
        widgets[name] = field_class(
            field["label"],
            validators=[Optional()],
            description=field.get("description", ""),
            default=default,
        )
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """Hidden, relabelled and placeholder standard fields, in the hook-method spelling
    (``hidden_fields``, ``relabeling``, ``placeholders``) of the provider info's
    ``ui-field-behaviour``.
    """
    behaviour = connection_type_info()["ui-field-behaviour"]
    return {key.replace("-", "_"): value for key, value in behaviour.items()}
