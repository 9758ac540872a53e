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

"""Does registration stay flat as a model grows, on SQLite and on PostgreSQL? In one run, a
local ``mlflow server`` on a SQLite store and one on a PostgreSQL database (started like the
stack tier's), each with a model of 10 existing versions and one of 10,000 (and, on
PostgreSQL, one of 100,000), measured interleaved in a shuffled order:

- the exactly-once key look-up (``find_model_versions_by_key``: one search with
  ``name = ... AND tags.`airflow.registration_key` = ...``, for a key not there yet, as on
  every first attempt);
- the provider's registration: ``register_model_version`` with lineage and one alias (key
  search, create version, set alias: 3 requests, counted at the proxy);
- plain MLflow: ``MlflowClient.create_model_version`` plus ``set_registered_model_alias``.

Prints the seeding times and two Markdown tables (medians, p90, the slowdowns, the targets).

Seeding writes rows through MLflow's own ``SqlAlchemyStore`` on the server's database, with
the ORM classes and constructor arguments of ``SqlAlchemyStore.create_model_version`` and the
tags a registration by the hook writes (see :func:`seed_versions`); before measuring, a seeded
version and one registered by the hook are read back through the REST API and compared.

    .venv/bin/python benchmarks/scale.py [--small 10] [--big 10000] [--huge 100000]
        [--samples 50] [--stores sqlite,postgresql] [--tag-value-index]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from _common import (
    exit_on_sigterm,
    local_registry,
    markdown_table,
    median,
    p90,
    postgres_database,
)

from airflow_mlflow_registry.hooks.registration import SOURCE_URI_TAG
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG, TaskInstanceLineage
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow import MlflowClient

    from airflow_mlflow_registry.hooks import MlflowRegistryHook
    from tests.support.bearer_proxy import BearerProxy

SEED_BATCH = 5_000  # versions per transaction
STORES = ("sqlite", "postgresql")
KEY_LOOKUP = "key look-up"
PROVIDER = "provider registration"
PLAIN = "plain create + alias"
# Fields of a version that differ between any two versions by nature, not by how they were made.
VOLATILE_FIELDS = {"version", "creation_timestamp", "last_updated_timestamp", "source", "tags"}


def registration_tags(model: str, lineage: TaskInstanceLineage, source: str) -> dict[str, str]:
    """The tags ``register_model_version`` sends in its create request for ``lineage`` and
    ``source`` (no user tags): the lineage tags, the registration key and the source."""
    return {
        **lineage.as_tags(),
        REGISTRATION_KEY_TAG: lineage.registration_key(model),
        SOURCE_URI_TAG: display_uri(source),
    }


def seed_versions(db_uri: str, model: str, versions: int) -> float:
    """Create registered model ``model`` with ``versions`` versions in the database at
    ``db_uri``; return the seconds spent writing the versions.

    The rows are the ones ``SqlAlchemyStore.create_model_version`` writes for a registration
    by the hook (same ORM classes, same constructor arguments, column defaults left to the
    ORM, each version's own creation time, the registered model's ``last_updated_time``
    moved): version ``i`` gets the tags of a registration by task instance
    ``seed/register/seed__i`` from ``s3://bucket/seed/i``. Only the per-version HTTP request
    and ``max(version)`` query are left out (versions are numbered 1..``versions``), and
    ``SEED_BATCH`` versions share one transaction. Uses MLflow internals of 3.17
    (``_get_registered_model``, ``_with_workspace_field``), as a benchmark may.

    On PostgreSQL the seeding ends with ``ANALYZE``, which autovacuum does on its own to tables
    that grew by real registrations: without statistics for the freshly loaded rows the
    planner chose a plan that made the key look-up take 1.3-1.6 s at 1,000 versions (8-16 ms
    after ``ANALYZE``). SQLite has no such daemon and MLflow never analyzes it, so neither
    does this.
    """
    import sqlalchemy
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlModelVersionTag
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.time import get_current_time_millis

    store = SqlAlchemyStore(db_uri)
    store.create_registered_model(model)
    started = time.perf_counter()
    for first in range(1, versions + 1, SEED_BATCH):
        with store.ManagedSessionMaker(read_only=False) as session:
            rows: list[Any] = []
            for version in range(first, min(first + SEED_BATCH, versions + 1)):
                source = f"s3://bucket/seed/{version}"
                lineage = TaskInstanceLineage("seed", "register", f"seed__{version}")
                now = get_current_time_millis()
                row = store._with_workspace_field(
                    SqlModelVersion(
                        name=model,
                        version=version,
                        creation_time=now,
                        last_updated_time=now,
                        source=source,
                        storage_location=source,
                        # What the server passes for fields the request leaves unset.
                        run_id="",
                        run_link="",
                        description="",
                    )
                )
                row.model_version_tags = [
                    store._with_workspace_field(
                        SqlModelVersionTag(name=model, version=version, key=key, value=value)
                    )
                    for key, value in registration_tags(model, lineage, source).items()
                ]
                rows.append(row)
            registered_model = store._get_registered_model(session, model)
            registered_model.last_updated_time = get_current_time_millis()
            session.add_all([registered_model, *rows])
    if store.db_type == "postgresql":
        with store.engine.connect() as connection:
            connection.execute(sqlalchemy.text("ANALYZE"))
            connection.commit()
    seconds = time.perf_counter() - started
    store.engine.dispose()
    return seconds


def add_tag_value_index(db_uri: str) -> None:
    """Create a hash index on ``model_version_tags.value`` in the PostgreSQL database at
    ``db_uri``: a deployment's own addition, not part of MLflow's schema. MLflow's SQL for
    ``tags.k = 'v'`` filters the tag table by key and value without the model name, which
    without it visits every row of that key. A hash index, because a B-tree entry is limited to
    about 2.7 kB and tag values may hold 5,000 characters."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(db_uri)
    with engine.connect() as connection:
        connection.execute(
            sqlalchemy.text(
                "CREATE INDEX model_version_tags_value_hash ON model_version_tags "
                "USING hash (value)"
            )
        )
        connection.execute(sqlalchemy.text("ANALYZE model_version_tags"))
        connection.commit()
    engine.dispose()


def check_seeded_like_registered(client: MlflowClient, model: str, registered: str) -> None:
    """Raise ``AssertionError`` unless seeded version 1 of ``model`` reads back through the
    REST API like version ``registered`` (made by the hook): the same fields with the same
    values except those that differ between any two versions, and the same tag keys."""
    seeded_version = client.get_model_version(model, "1")
    registered_version = client.get_model_version(model, registered)
    seeded, real = dict(seeded_version), dict(registered_version)
    different = {
        key
        for key in seeded.keys() | real.keys()
        if key not in VOLATILE_FIELDS and seeded.get(key) != real.get(key)
    }
    if registered_version.aliases:  # the hook's alias is the one expected difference
        different.discard("aliases")
    assert not different, [(key, seeded.get(key), real.get(key)) for key in sorted(different)]
    assert set(seeded_version.tags) == set(registered_version.tags), (
        seeded_version.tags,
        registered_version.tags,
    )


@dataclass
class StoreUnderTest:
    """One server's store and the clients measuring it; ``models`` maps version count to name."""

    name: str
    hook: MlflowRegistryHook
    client: MlflowClient
    proxy: BearerProxy
    models: dict[int, str]
    seeding_seconds: dict[int, float] = field(default_factory=dict)
    #: Per operation, each distinct sequence of requests (method and path) it sent.
    requests: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)


def measure(stores: list[StoreUnderTest], samples: int) -> dict[tuple[str, int, str], list[float]]:
    """Time every operation on every model of every store, ``samples`` times after three
    unrecorded warm-up rounds, in a freshly shuffled order each round; return the seconds per
    (store, version count, operation)."""
    timings: dict[tuple[str, int, str], list[float]] = {}
    runs = [(store, size) for store in stores for size in store.models]
    for index in range(-3, samples):
        order = [
            (store, size, name) for store, size in runs for name in (KEY_LOOKUP, PROVIDER, PLAIN)
        ]
        random.Random(index).shuffle(order)
        for store, size, name in order:
            operation = _operation(store, name)
            store.proxy.reset_counts()
            started = time.perf_counter()
            operation(store.models[size], index)
            elapsed = time.perf_counter() - started
            sent = tuple(
                f"{method} {path.split('?')[0]}" for method, path in store.proxy.requests_seen
            )
            store.requests.setdefault(name, set()).add(sent)
            if index >= 0:
                timings.setdefault((store.name, size, name), []).append(elapsed)
    return timings


def _operation(store: StoreUnderTest, name: str) -> Callable[[str, int], object]:
    def key_lookup(model: str, _: int) -> object:
        return store.hook.find_model_versions_by_key(model, uuid.uuid4().hex * 2)

    def register(model: str, index: int) -> object:
        return store.hook.register_model_version(
            model,
            f"s3://bucket/{index}",
            lineage=TaskInstanceLineage("scale", "register", f"run__{uuid.uuid4().hex}"),
            aliases=["staging"],
        )

    def plain(model: str, index: int) -> object:
        version = store.client.create_model_version(model, f"s3://bucket/plain/{index}")
        store.client.set_registered_model_alias(model, "plain", version.version)
        return version

    return {KEY_LOOKUP: key_lookup, PROVIDER: register, PLAIN: plain}[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10, help="versions of the small model")
    parser.add_argument("--big", type=int, default=10_000, help="versions of the big model")
    parser.add_argument(
        "--huge",
        type=int,
        default=100_000,
        help="versions of a third model, PostgreSQL only (0: none)",
    )
    parser.add_argument("--samples", type=int, default=50, help="measurements per model")
    parser.add_argument(
        "--stores", default=",".join(STORES), help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--tag-value-index",
        action="store_true",
        help="on PostgreSQL, add a hash index on model_version_tags.value before measuring",
    )
    args = parser.parse_args()
    exit_on_sigterm()
    with contextlib.ExitStack() as stack:
        from mlflow import MlflowClient

        from airflow_mlflow_registry.hooks import MlflowRegistryHook

        stores = []
        suffix = uuid.uuid4().hex[:6]
        for store_name in args.stores.split(","):
            db_uri = (
                stack.enter_context(postgres_database()) if store_name == "postgresql" else None
            )
            server, proxy = stack.enter_context(local_registry(f"bench_{store_name}", db_uri))
            sizes = [args.small, args.big] + ([args.huge] if db_uri and args.huge else [])
            store = StoreUnderTest(
                name=store_name,
                hook=MlflowRegistryHook(f"bench_{store_name}"),
                client=MlflowClient(tracking_uri=proxy.url),  # through the proxy, like the hook
                proxy=proxy,
                models={size: f"scale-{size}-{suffix}" for size in sizes},
            )
            for size, model in store.models.items():
                store.seeding_seconds[size] = seed_versions(server.backend_store_uri, model, size)
                registered = _operation(store, PROVIDER)(model, -1)
                check_seeded_like_registered(store.client, model, registered["version"])
            if db_uri and args.tag_value_index:
                add_tag_value_index(db_uri)
            stores.append(store)
        timings = measure(stores, args.samples)
    print_results(stores, timings, args.small)


def print_results(
    stores: list[StoreUnderTest], timings: dict[tuple[str, int, str], list[float]], small: int
) -> None:
    """Print seeding times, the per-operation table and the targets table."""
    for store in stores:
        seeding = ", ".join(
            f"{size:,} versions in {seconds:.1f} s ({size / seconds:,.0f}/s)"
            for size, seconds in store.seeding_seconds.items()
        )
        print(f"{store.name}: seeded {seeding}")
        for name, sequences in store.requests.items():
            for sent in sorted(sequences):
                print(f"  {name}: {len(sent)} requests: {', '.join(sent)}")
    print()

    def slowdown(store: str, size: int, name: str) -> float:
        return median(timings[store, size, name]) / median(timings[store, small, name])

    rows = [
        [
            store.name,
            name,
            f"{size:,}",
            f"{median(timings[store.name, size, name]) * 1000:.1f}",
            f"{p90(timings[store.name, size, name]) * 1000:.1f}",
            f"{slowdown(store.name, size, name):.2f}x",
        ]
        for store in stores
        for name in (KEY_LOOKUP, PROVIDER, PLAIN)
        for size in store.models
    ]
    headers = [
        "store",
        "operation",
        "versions",
        "median (ms)",
        "p90 (ms)",
        f"median / {small:,}-version median",
    ]
    print(markdown_table(headers, rows))
    print()
    targets = []
    for store in stores:
        for size in list(store.models)[1:]:
            provider, plain = (
                slowdown(store.name, size, PROVIDER),
                slowdown(store.name, size, PLAIN),
            )
            lookup = slowdown(store.name, size, KEY_LOOKUP)
            targets.append(
                [
                    store.name,
                    f"{size:,}",
                    f"{provider:.2f}x",
                    f"{plain:.2f}x",
                    f"{provider / plain:.2f} ({'met' if provider / plain <= 1.1 else 'missed'})",
                    f"{lookup:.2f}x ({'met' if lookup <= 1.5 else 'missed'})",
                ]
            )
    print(
        markdown_table(
            [
                "store",
                "versions",
                "provider slowdown",
                "plain slowdown",
                "provider / plain (target <= 1.1)",
                "key look-up slowdown (target <= 1.5x)",
            ],
            targets,
        )
    )


if __name__ == "__main__":
    main()
