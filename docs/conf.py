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

"""Sphinx configuration of the user documentation (built by ``bash .ci/docs.sh``).

Warnings are errors there (``-W --keep-going -n``): a broken include, a missing
``[START ...]``/``[END ...]`` marker, an unresolved cross-reference or a malformed docstring
fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from airflow_mlflow_registry import __version__  # noqa: E402

project = "airflow-mlflow-registry"
author = "airflow-mlflow-registry developers"
copyright = "the airflow-mlflow-registry developers, Apache License 2.0"
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "sphinx_copybutton",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "snippets"]
root_doc = "index"
rst_epilog = f"""
.. |version| replace:: ``{__version__}``
"""

html_theme = "furo"
html_title = f"airflow-mlflow-registry {__version__}"
html_static_path: list[str] = []
copybutton_prompt_text = r"\$ "
copybutton_prompt_is_regexp = True

# API reference from the docstrings (autodoc imports the package; mlflow is imported lazily
# by the package, so it is not needed here).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_inherit_docstrings = False

# Every cross-reference must resolve, except to the libraries whose documentation is not
# built here (there is no network for intersphinx inventories).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(airflow|mlflow|pendulum|datetime|collections|typing|urllib|concurrent)\..*"),
    (r"py:.*", r"(Any|Context|Mapping|Sequence|Iterable|Callable|Iterator|AsyncIterator)"),
    (r"py:.*", r"(ModelVersion|MlflowClient|Run|Asset|AssetWatcher|TriggerEvent|BaseOperator)"),
    (r"py:.*", r"(timedelta|datetime|SplitResult|Path|ModuleType|T|Self)"),
    (r"py:.*", r"(optional|NoneType|None|default)"),
    # Internal modules the docstrings point contributors to; the reference documents only the
    # public classes (refs to those are still checked).
    (
        r"py:.*",
        r"airflow_mlflow_registry\.(?!(operators|sensors|triggers|links|exceptions|retention)"
        r"\.[A-Z]|assets\.model_asset|hooks\.MlflowRegistryHook).*",
    ),
    (r"py:.*", r"[a-z_]+\.[a-z_]+(\.\w+)*"),
    # Internal types in the hook's signatures.
    (r"py:class", r"(ResolvedSource|RunSearch|TaskInstanceLineage|RetentionPlan|BackfillReport)"),
    (r"py:class", r"(RecordSigner|SignatureCheck)"),
    # Short names inside class docstrings of members the reference does not list.
    (r"py:meth", r"(run|get_link|execute|execute_complete|MlflowRegistryHook\..*)"),
    (r"py:class", r"(MlflowModelVersionTrigger|MlflowRegistryHook)"),
]
