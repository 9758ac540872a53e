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

"""Argument checks shared by the hook (at run time) and the operators (at DAG parse).

Each check raises ``ValueError`` naming the argument and what a valid value looks like. The
limits are MLflow's own, checked here so the error comes at parse time, not from the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_mlflow_registry.utils.redaction import display_uri

TAG_KEY_MAX_LENGTH = 250
TAG_VALUE_MAX_LENGTH = 5000
MODEL_NAME_MAX_LENGTH = 256
MODEL_URI_SCHEMES = (
    "runs:/",
    "models:/",
    "mlflow-artifacts:/",
    "file:",
    "s3://",
    "gs://",
    "wasbs://",
    "abfss://",
    "hdfs://",
    "dbfs:/",
    "http://",
    "https://",
)
_TAG_KEY = re.compile(r"^[\w\-. :/]+$")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_VERSION_LIKE = re.compile(r"^[vV]\d+$")


def is_templated(value: Any) -> bool:
    """True for a value resolved only at run time: a string holding Jinja markup, an
    ``XComArg`` (anything with ``resolve``), or a list or dict holding one. Such values are
    checked again after rendering."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_templated(key) or is_templated(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(is_templated(item) for item in value)
    return hasattr(value, "resolve")


def check_model_name(model_name: Any, argument: str = "model_name") -> str:
    """Return ``model_name`` stripped; it must be a non-empty string of at most 256 chars."""
    if not isinstance(model_name, str) or not model_name.strip():
        raise ValueError(f"{argument} must be a non-empty string, e.g. 'churn-classifier'.")
    name = model_name.strip()
    if len(name) > MODEL_NAME_MAX_LENGTH or "/" in name or ":" in name:
        raise ValueError(
            f"{argument} {name[:60]!r} is not a valid registered model name: use at most "
            f"{MODEL_NAME_MAX_LENGTH} characters, without '/' or ':'."
        )
    return name


def check_model_uri(model_uri: Any, argument: str = "model_uri") -> str:
    """Return ``model_uri``; it must be a ``runs:/``, ``models:/`` or artifact-store URI."""
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise ValueError(
            f"{argument} must be a non-empty URI such as runs:/<run_id>/model or "
            "models:/<logged_model_id>."
        )
    uri = model_uri.strip()
    if not uri.startswith(MODEL_URI_SCHEMES) and not uri.startswith("/"):
        raise ValueError(
            f"{argument} {display_uri(uri)[:80]!r} has an unsupported scheme; use "
            "runs:/<run_id>/<path>, models:/<logged_model_id>, or an artifact location "
            "(mlflow-artifacts:/, s3://, file://, ...)."
        )
    if uri.startswith("runs:/") and len([p for p in uri[len("runs:/") :].split("/") if p]) < 2:
        raise ValueError(
            f"{argument} {display_uri(uri)!r} needs a run id and an artifact path: "
            "runs:/<run_id>/<path>."
        )
    return uri


def check_idempotency_key(key: Any, argument: str = "idempotency_key") -> str | None:
    """Return ``key`` (None stays None); it must be a non-empty string without single quotes
    (MLflow's search filters cannot match a quoted value, so such a key would never find its
    version) and fit in a tag value."""
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or "'" in key:
        raise ValueError(
            f"{argument} must be a non-empty string without single quotes (e.g. a CI job id or "
            f"a hex digest), got {key!r}."
        )
    if len(key) > TAG_VALUE_MAX_LENGTH:
        raise ValueError(
            f"{argument} is {len(key)} characters long; MLflow allows at most "
            f"{TAG_VALUE_MAX_LENGTH} (use a digest)."
        )
    return key


def check_tags(tags: Any, argument: str = "tags", *, at_parse: bool = False) -> dict[str, Any]:
    """Return ``tags`` as ``{str: str}``; keys and values are strings (numbers and bools are
    converted) within MLflow's limits, and keys may not use the reserved prefix.

    With ``at_parse``, values resolved at run time (``XComArg``) pass through unchecked; keys
    are always checked, since Airflow renders only the values of a templated dict.
    """
    if tags is None:
        return {}
    if at_parse and hasattr(tags, "resolve"):
        return tags
    if not isinstance(tags, Mapping):
        raise ValueError(f"{argument} must be a dict of str to str, got {type(tags).__name__}.")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{argument} has a key {key!r} that is not a non-empty string.")
        if not _TAG_KEY.match(key):
            raise ValueError(
                f"{argument} key {key[:60]!r} may only contain letters, digits, '_', '-', '.', "
                "' ', ':' and '/' (keys are not templated; template the value instead)."
            )
        if len(key) > TAG_KEY_MAX_LENGTH:
            raise ValueError(
                f"{argument} key {key[:40]!r}... is {len(key)} characters long; MLflow allows "
                f"at most {TAG_KEY_MAX_LENGTH}."
            )
        if key.startswith("airflow."):
            raise ValueError(
                f"{argument} key {key!r} uses the reserved prefix 'airflow.' (lineage tags); "
                "rename it."
            )
        if at_parse and hasattr(value, "resolve"):
            checked[key] = value
            continue
        if isinstance(value, (bool, int, float)):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            raise ValueError(
                f"{argument}[{key!r}] must be a string (or number), got {type(value).__name__}; "
                "serialise it first, e.g. json.dumps(value)."
            )
        if len(value) > TAG_VALUE_MAX_LENGTH:
            raise ValueError(
                f"{argument}[{key!r}] is {len(value)} characters long; MLflow allows at most "
                f"{TAG_VALUE_MAX_LENGTH}."
            )
        checked[key] = value
    return checked


def check_aliases(aliases: Any, argument: str = "aliases") -> list[str]:
    """Return ``aliases`` as a list; each is letters, digits, '_' or '-', not 'latest' or 'v<N>'."""
    if aliases is None:
        return []
    if isinstance(aliases, str) or not isinstance(aliases, Iterable):
        raise ValueError(f"{argument} must be a list of strings, e.g. ['staging'].")
    checked: list[str] = []
    for alias in aliases:
        if not isinstance(alias, str) or not _ALIAS.match(alias):
            raise ValueError(
                f"{argument} entry {alias!r} is not a valid alias: use letters, digits, '_' "
                "and '-' only (e.g. 'staging')."
            )
        if alias.lower() == "latest" or _VERSION_LIKE.match(alias):
            raise ValueError(
                f"{argument} entry {alias!r} is reserved by MLflow ('latest' and 'v<number>' "
                "name versions); choose another alias."
            )
        if alias not in checked:
            checked.append(alias)
    return checked


def check_optional_alias(alias: Any, argument: str) -> Any:
    """One alias checked as :func:`check_aliases` does; None and templates pass through (at
    DAG-parse time a template is left for the rendered value, checked at run time).

    :raises ValueError: naming ``argument``.
    """
    if alias is None or is_templated(alias):
        return alias
    return check_aliases([alias], argument)[0]


def check_timeout(seconds: Any, argument: str) -> float:
    """Return ``seconds`` as a float; it must be a non-negative number."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"{argument} must be a number of seconds >= 0, got {seconds!r}.")
    return float(seconds)
