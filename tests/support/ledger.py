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


"""Alias-ledger histories for tests: moves the hook signs, and tags written by hand, as a
registry user without Airflow's key can."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_mlflow_registry.alias_ledger import LEDGER_TAG_PREFIX
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from airflow_mlflow_registry.hooks import MlflowRegistryHook


def forge_entry(
    client: MlflowClient,
    model_name: str,
    alias: str,
    from_version: str | None,
    to_version: str,
    at: int,
    by: str = "alice",
    suffix: str = "forged00",
) -> str:
    """Write a ledger tag ``<at>.<suffix>`` for a move of ``alias`` that never happened,
    carrying the signature of the model's first signed entry (copied over, as a forger would;
    a made-up one when there is none); return its tag key."""
    tags = client.get_registered_model(model_name).tags
    signature = next(
        (
            json.loads(value)["sig"]
            for key, value in sorted(tags.items())
            if key.startswith(LEDGER_TAG_PREFIX) and "sig" in json.loads(value)
        ),
        "v1:000000000000:" + "0" * 64,
    )
    key = f"{LEDGER_TAG_PREFIX}{at:013d}.{suffix}"
    record = {
        "alias": alias, "from": from_version, "to": to_version, "at": at, "by": by,
        "kind": "set_alias", "why": {}, "sig": signature,
    }  # fmt: skip
    client.set_registered_model_tag(model_name, key, json.dumps(record))
    return key


def promoted(
    client: MlflowClient,
    hook: MlflowRegistryHook,
    holders: int,
    extra: int = 0,
    prefix: str = "rollback",
) -> str:
    """A new model with ``holders + extra`` versions whose ``champion`` the hook moved through
    versions 1..``holders``, each move a signed ledger entry.

    :param client: registers the versions.
    :param hook: moves the alias (its connection's signing secret signs the entries).
    :param prefix: the start of the model's :func:`unique` name.
    :return: the model's name.
    """
    model = unique(prefix)
    for _ in range(holders + extra):
        add_version(client, model)
    for version in range(1, holders + 1):
        hook.set_model_version_alias(model, "champion", str(version))
    return model
