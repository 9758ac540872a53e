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

"""Standalone mode: this package used in a process that has not imported Airflow.

Importing Airflow costs seconds of CPU (its configuration, settings and ORM load with it). The
``airflow-mlflow-registry`` command line needs none of it when its connection comes from an
``AIRFLOW_CONN_<ID>`` variable, so it calls :func:`enter_standalone_mode` before it imports the
rest of the package. In standalone mode:

- secrets are not registered with Airflow's secrets masker (there is none; the command line
  redacts its own output);
- a registration has no running task whose lineage it could record.

Nothing else enters standalone mode, and it cannot be entered once Airflow is imported: in
workers, triggerers, DAG processors, the API server, user scripts and test processes, secrets
are masked as before.
This module imports nothing but the standard library.
"""

from __future__ import annotations

import sys

_standalone = False


def enter_standalone_mode() -> bool:
    """Enter standalone mode unless Airflow is already imported; return whether this process
    is (now) in standalone mode. Call it before importing the rest of this package."""
    global _standalone
    if "airflow" not in sys.modules:
        _standalone = True
    return _standalone


def is_standalone() -> bool:
    """True when this process entered standalone mode (see the module docstring)."""
    return _standalone
