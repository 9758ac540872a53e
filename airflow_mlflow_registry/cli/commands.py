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

"""The command line's commands: each takes the parsed arguments, calls the function behind the
hook's method for the same job with the connection's
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`, prints the result
(:mod:`~airflow_mlflow_registry.cli.output`) and returns the exit code. The provider's modules
are imported inside each command, after the connection decided whether Airflow is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.cli.output import (
    print_alias_history,
    print_backfill_summary,
    print_error,
    print_json,
    print_record,
    print_table,
    progress_bar,
)

if TYPE_CHECKING:
    import argparse

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def reads_airflow_variables(args: argparse.Namespace) -> bool:
    """Whether the command reads the signing secret (an Airflow variable, so it imports
    Airflow): the alias commands, and a registration or backfill that moves aliases (their
    ledger entries are signed)."""
    if args.command == "aliases":
        return True
    return args.command in ("register-version", "backfill") and bool(args.alias)


def run_register_version(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``register-version``: one new version, or with ``--idempotency-key`` the one version of
    that key and source (``lineage=None``: outside a task there is no other key)."""
    from airflow_mlflow_registry.hooks.version_registration import register_model_version

    record = register_model_version(
        registry,
        args.name,
        args.model_uri,
        description=args.description,
        tags=dict(args.tag),
        aliases=args.alias,
        lineage=None,
        idempotency_key=args.idempotency_key,
    )
    print_record(record, args.json)
    return EXIT_OK


def run_get_version(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``get-version``: the record of one version."""
    from airflow_mlflow_registry.hooks.model_versions import get_model_version

    print_record(get_model_version(registry, args.name, args.version), args.json)
    return EXIT_OK


def run_list_versions(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``list-versions``: matching versions, newest first."""
    from airflow_mlflow_registry.hooks.model_versions import search_model_versions

    records = search_model_versions(
        registry,
        args.name,
        alias=args.alias,
        tags=dict(args.tag),
        created_after=args.created_after,
        created_before=args.created_before,
        limit=args.limit,
    )
    if args.json:
        print_json(records)
    elif not records:
        print(f"No version of model {args.name!r} matches.")
    else:
        print_table(
            ("VERSION", "CREATED", "STATUS", "ALIASES", "RUN ID", "SOURCE"),
            [
                (
                    r["version"],
                    r["registered_at"],
                    r["status"],
                    r["aliases"],
                    r["run_id"],
                    r["source"],
                )
                for r in records
            ],
        )
    return EXIT_OK


def run_backfill(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``backfill``: register each run's model once; exit 1 when any run failed. A backfill
    that stops early (Ctrl-C, a failed request) prints its partial report before the error."""
    from airflow_mlflow_registry.hooks.backfill_registrations import backfill_registrations

    def print_report(report: dict[str, Any]) -> None:
        if args.json:
            print_json(report)
        else:
            print_backfill_summary(report)

    action = "Checking runs for" if args.dry_run else "Backfilling"
    with progress_bar(f"{action} {args.name}") as on_progress:
        report = backfill_registrations(
            registry,
            args.name,
            experiment_name=args.experiment,
            start=args.start,
            end=args.end,
            run_filter=args.filter,
            artifact_path=args.artifact_path,
            aliases=args.alias,
            dry_run=args.dry_run,
            on_progress=on_progress,
            concurrency=args.concurrency,
            on_stopped=print_report,
        )
    print_report(report)
    failed = report["counts"]["failed"]
    if failed:
        print_error(
            f"{failed} of {len(report['runs'])} runs failed; run the same backfill "
            "again to retry them (registered runs are skipped)."
        )
        return EXIT_FAILED
    return EXIT_OK


def run_webhooks_create(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``webhooks create``: an MLflow webhook to the receiver, signed with the connection's
    webhook secret (generated and stored in the Airflow variable the receiver reads, unless
    one exists: every webhook of a connection shares it). The secret is never printed."""
    from airflow_mlflow_registry.hooks.registry_webhooks import create_webhook
    from airflow_mlflow_registry.webhooks.shared_secret import (
        generate_secret,
        read_secret,
        secret_variable_key,
        store_secret,
    )

    secret = read_secret(args.conn_id)
    if secret is None:
        secret = generate_secret()
        store_secret(args.conn_id, secret)
    record = create_webhook(
        registry,
        args.name or f"airflow-{args.conn_id}",
        args.url,
        args.events,
        secret=secret,
        description=args.description,
    )
    record["secret_variable"] = secret_variable_key(args.conn_id)
    print_record(record, args.json)
    return EXIT_OK


def run_webhooks_list(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``webhooks list``: every webhook of the connection's registry."""
    from airflow_mlflow_registry.hooks.registry_webhooks import list_webhooks

    records = list_webhooks(registry)
    if args.json:
        print_json(records)
    elif not records:
        print("No webhooks.")
    else:
        print_table(
            ("ID", "NAME", "STATUS", "EVENTS", "URL"),
            [(r["webhook_id"], r["name"], r["status"], r["events"], r["url"]) for r in records],
        )
    return EXIT_OK


def run_webhooks_delete(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``webhooks delete``: remove one webhook (the connection's secret variable stays)."""
    from airflow_mlflow_registry.hooks.registry_webhooks import delete_webhook

    delete_webhook(registry, args.webhook_id)
    if args.json:
        print_json({"webhook_id": args.webhook_id, "deleted": True})
    else:
        print(f"Deleted webhook {args.webhook_id}.")
    return EXIT_OK


def run_webhooks_test(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``webhooks test``: MLflow sends the webhook an example delivery; exit 1 unless the
    receiver accepted it."""
    from airflow_mlflow_registry.hooks.registry_webhooks import test_webhook

    result = test_webhook(registry, args.webhook_id, args.event)
    print_record(result, args.json)
    if not result["success"]:
        print_error(
            f"the test delivery of webhook {args.webhook_id} failed: "
            f"{result['error_message'] or 'HTTP ' + str(result['response_status'])}"
        )
        return EXIT_FAILED
    return EXIT_OK


def run_aliases_history(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``aliases history``: every ledger entry of the model (or of one alias), oldest first,
    with its signature status. Without the signing secret nothing can be verified: every entry
    is shown unsigned, and the output says so."""
    from airflow_mlflow_registry.alias_ledger import ledger_signer
    from airflow_mlflow_registry.hooks.aliases import read_ledger

    signer = ledger_signer()
    entries = [
        entry
        for entry in read_ledger(registry, args.name, signer)
        if args.alias is None or entry.alias == args.alias
    ]
    if args.json:
        print_json(
            {
                "model_name": args.name,
                "alias": args.alias,
                "verifiable": signer is not None,
                "entries": [entry.as_dict() for entry in entries],
            }
        )
    else:
        print_alias_history(args.name, args.alias, entries, verifiable=signer is not None)
    return EXIT_OK


def run_aliases_rollback(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``aliases rollback``: point the alias back at an earlier holder by the trusted ledger
    (refused, exit 1, when a rule forbids it; the message names the rule)."""
    from airflow_mlflow_registry.alias_rollback import rollback_alias

    outcome = rollback_alias(
        registry,
        args.name,
        args.alias,
        to_version=args.to,
        steps=args.steps,
        reason=args.reason,
    )
    print_record(outcome.as_dict(), args.json)
    return EXIT_OK
