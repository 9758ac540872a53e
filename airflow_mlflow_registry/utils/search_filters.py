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

"""Server-side filters for ``search_model_versions``: versions of one model carrying given tags.

MLflow cannot escape a single quote inside a filter value (``''`` and ``\\'`` silently match
nothing), so a model name or tag value holding one is rejected instead of matching nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.utils.validation import check_tags, is_templated

if TYPE_CHECKING:
    from collections.abc import Mapping


def check_search_tags(tags: Any, argument: str, *, at_parse: bool = False) -> dict[str, Any]:
    """Return ``tags`` checked like :func:`check_tags`; no value may contain a single quote.

    With ``at_parse``, templated values pass through and are checked after rendering.

    :raises ValueError: naming ``argument`` and the tag.
    """
    checked = check_tags(tags, argument, at_parse=at_parse)
    for key, value in checked.items():
        if isinstance(value, str) and "'" in value and not (at_parse and is_templated(value)):
            raise ValueError(
                f"{argument}[{key!r}] = {value!r} contains a single quote, which MLflow search "
                "filters cannot escape; use a tag value without quotes (e.g. a hex digest)."
            )
    return checked


def model_version_filter(model_name: str, tags: Mapping[str, str] | None = None) -> str:
    """The filter ``name = '<model>' AND tags.`<key>` = '<value>' ...`` for ``tags``.

    :raises ValueError: when the model name or a tag value contains a single quote.
    """
    if "'" in model_name:
        raise ValueError(
            f"model_name {model_name!r} contains a single quote, which MLflow search filters "
            "cannot escape; searching its versions by tag is not possible."
        )
    clauses = [f"name = '{model_name}'"]
    for key, value in check_search_tags(tags, "tags").items():
        clauses.append(f"tags.`{key}` = '{value}'")
    return " AND ".join(clauses)


def check_version_number(version: Any, argument: str) -> int:
    """Return ``version`` (an int or a numeric string) as a version number, at least 1.

    :raises ValueError: naming ``argument``.
    """
    try:
        number = int(str(version).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{argument} must be a version number (1, 2, ...), got {version!r}.")
    return number
