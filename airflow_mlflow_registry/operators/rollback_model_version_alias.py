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

"""``RollbackModelVersionAliasOperator``: point an alias back at the version it held before, by
the verified alias ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.operators.model_version_outputs import (
    ModelVersionOutputsMixin,
    version_location,
)
from airflow_mlflow_registry.utils.search_filters import check_version_number
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_model_name,
    check_optional_alias,
    is_templated,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class RollbackModelVersionAliasOperator(ModelVersionOutputsMixin, BaseOperator):
    """Point ``alias`` of ``model_name`` back at an earlier holder, by the alias ledger's
    verified entries (:func:`~airflow_mlflow_registry.alias_rollback.rollback_alias`): the
    previous holder, ``steps`` holders back, or ``to_version`` (any READY version). The move is
    recorded in the ledger with kind ``rollback`` and ``reason``; this task instance is its
    author. Needs Airflow's signing secret (the variable ``mlflow_registry_signing_secret``).

    Fails with :class:`~airflow_mlflow_registry.exceptions.RollbackRefusedError`, naming the
    rule, when the alias has no verified history, is not where the ledger's last verified entry
    says (moved outside the provider), or the target is deleted, not READY or the current
    holder. Safe to retry: when the ledger's last verified entry is this task instance's own
    rollback (another try) and the alias is still there, nothing moves and that rollback is
    returned again.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``alias``, ``version`` (where
    the alias points now), ``previous_version``, ``steps`` (holders back; None for a version
    the alias never held), ``reason``, ``ledger_entry`` (the recorded entry), ``changed``
    (true), ``model_uri``, ``model_version_url``, ``source``, ``run_id``, ``tracking_uri``.

    :param model_name: registered model name. Templated.
    :param alias: alias to roll back, e.g. ``"champion"``. Templated.
    :param to_version: roll back to this version. Templated.
    :param steps: roll back this many holders (default 1 when ``to_version`` is not given).
        Templated.
    :param reason: why, recorded in the ledger entry. Templated.
    :param emit_asset: declare the model's asset as an outlet and record an event for the move
        (see ``SetModelVersionAliasOperator``). Needs a literal ``model_name``.
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = ("model_name", "alias", "to_version", "steps", "reason")
    ui_color = "#f7d9d0"

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        to_version: str | int | None = None,
        steps: int | str | None = None,
        reason: str = "",
        emit_asset: bool = False,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if to_version is not None and steps is not None:
            raise ValueError("Give to_version or steps, not both (steps counts holders back).")
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        self.alias = check_optional_alias(alias, "alias")
        if to_version is not None and not is_templated(to_version):
            to_version = check_version_number(to_version, "to_version")
        self.to_version = to_version
        if steps is not None and not is_templated(steps):
            steps = _check_steps(steps)
        self.steps = steps
        self.reason = reason
        self.mlflow_conn_id = mlflow_conn_id
        self._declare_model_asset(emit_asset, model_name, mlflow_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlflow_registry.alias_ledger import current_actor
        from airflow_mlflow_registry.alias_rollback import rollback_alias

        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        outcome = rollback_alias(
            hook.registry_calls,
            check_model_name(self.model_name),
            check_aliases([self.alias], "alias")[0],
            to_version=(
                None
                if self.to_version is None
                else str(check_version_number(self.to_version, "to_version"))
            ),
            steps=None if self.steps is None else _check_steps(self.steps),
            reason=str(self.reason or ""),
            resume_by=current_actor(),
        )
        version_record = hook.model_version_record(outcome.target)
        record = {
            **outcome.as_dict(),
            "changed": True,
            **version_location(version_record),
        }
        return self._publish(context, record, record["alias"], changed=True)


def _check_steps(value: Any) -> int:
    """``value`` (an int or a rendered template) as a count of at least 1.

    :raises ValueError: naming ``steps`` and the fix.
    """
    try:
        steps = int(str(value).strip())
    except ValueError:
        steps = 0
    if isinstance(value, (bool, float)) or steps < 1:
        raise ValueError(
            f"steps must be a whole number of at least 1 (holders back), got {value!r}."
        )
    return steps
