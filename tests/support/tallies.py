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

"""What the reliability tallies share: the outcome of task instances retried the way Airflow
retries a task, the faults one task instance was given and how many of them fired, the count
of versions per registration key read back from the server, and the tally line that CI greps
(every line starts with ``<name> tally``)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from mlflow.entities.model_registry import ModelVersion

    from tests.support.fault_proxy import FaultKind, FaultProxy

#: Airflow ``retries=3``: the attempts a task instance gets.
MAX_ATTEMPTS = 4


@dataclass
class AttemptTally:
    """Counts over the attempts of many task instances, and the record each one ended with
    (by task instance or key). Update it under ``lock`` when attempts run in threads."""

    injected: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class FiredFaults:
    """How many injections one task instance's faults were planned for, and how many fired."""

    plan: str
    planned: int
    fired: int


class PlannedFaults:
    """The faults of one task instance on ``proxy``: added on entry as
    ``(method, path fragment, kind, times, add_fault options)``, cleared on exit (a fault its
    attempts did not reach must not leak into the next task instance); :attr:`fired` is then
    how many of them fired."""

    def __init__(
        self,
        proxy: FaultProxy,
        plan: str,
        faults: Iterable[tuple[str, str, FaultKind, int, dict[str, Any]]],
    ) -> None:
        self._proxy = proxy
        self._plan = plan
        self._faults = list(faults)
        self._before = 0
        self.fired: FiredFaults | None = None

    def __enter__(self) -> PlannedFaults:
        for method, path, kind, times, options in self._faults:
            self._proxy.add_fault(method, path, kind, times, **options)
        self._before = self._proxy.faults_injected
        return self

    def __exit__(self, *exc: object) -> None:
        fired = self._proxy.faults_injected - self._before
        self._proxy.clear_faults()
        planned = sum(times for _, _, _, times, _ in self._faults)
        self.fired = FiredFaults(self._plan, planned, fired)


def versions_per_key(stored: Iterable[ModelVersion], keys: Iterable[str]) -> tuple[int, int]:
    """``(duplicates, losses)`` of the versions ``stored`` on the server: versions beyond the
    first carrying one of ``keys`` in their registration-key tag, and keys no version carries.
    """
    per_key = Counter(version.tags.get(REGISTRATION_KEY_TAG) for version in stored)
    wanted = list(keys)
    duplicates = sum(max(per_key[key] - 1, 0) for key in wanted)
    losses = sum(1 for key in wanted if per_key[key] == 0)
    return duplicates, losses


def publish_tally(summary_lines: list[str], line: str) -> None:
    """Print the tally ``line`` and show it in pytest's terminal summary."""
    print(f"\n{line}")
    summary_lines.append(line)


def run_collecting_errors(targets: Sequence[Callable[[], object]]) -> list[str]:
    """Run ``targets`` in threads started together, wait for all of them, and return what each
    one raised (``repr``, empty when none did): a thread's exception would otherwise only be
    printed as a warning."""
    errors: list[str] = []
    lock = threading.Lock()

    def guarded(target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as exc:  # an assertion in the thread included
            with lock:
                errors.append(f"{getattr(target, '__name__', target)!s}: {exc!r}")

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
