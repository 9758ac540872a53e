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

"""A half-open time window ``[start, end)`` over MLflow timestamps (epoch milliseconds).

Used to pick model versions by creation time and runs by start time. Naive datetimes mean
UTC, so a window reads the same on every machine whatever its local time zone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class TimeWindow:
    """``start <= t < end``; either bound may be None (unbounded on that side).

    :raises ValueError: when both bounds are given and ``start`` is not before ``end``.
    """

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ValueError(
                f"The time window is empty: start {_iso(self.start)} is not before end "
                f"{_iso(self.end)}."
            )

    @property
    def start_ms(self) -> int | None:
        """The start as MLflow epoch milliseconds, or None."""
        return _epoch_ms(self.start)

    @property
    def end_ms(self) -> int | None:
        """The end as MLflow epoch milliseconds, or None."""
        return _epoch_ms(self.end)

    def contains(self, timestamp_ms: int) -> bool:
        """True when ``timestamp_ms`` (epoch milliseconds) lies in the window."""
        start, end = self.start_ms, self.end_ms
        return (start is None or timestamp_ms >= start) and (end is None or timestamp_ms < end)

    def run_start_filter(self) -> str:
        """MLflow run-search clauses selecting runs that started in the window ('' if none)."""
        clauses = []
        if self.start_ms is not None:
            clauses.append(f"attributes.start_time >= {self.start_ms}")
        if self.end_ms is not None:
            clauses.append(f"attributes.start_time < {self.end_ms}")
        return " AND ".join(clauses)

    def as_dict(self) -> dict[str, str | None]:
        """``{"start": ..., "end": ...}`` in ISO-8601 UTC (None for an open side)."""
        return {"start": _iso(self.start), "end": _iso(self.end)}

    def describe(self) -> str:
        """``[start, end)`` in ISO-8601 UTC, for messages."""
        return f"[{_iso(self.start) or '-inf'}, {_iso(self.end) or '+inf'})"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _epoch_ms(value: datetime | None) -> int | None:
    if value is None:
        return None
    # Integer arithmetic (works for pendulum too): float timestamps can land 1 ms short.
    utc = _utc(value)
    return calendar.timegm(utc.utctimetuple()) * 1000 + utc.microsecond // 1000


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()
