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

"""The page a reviewer reads before approving a promotion: the candidate version beside the
version the alias points at now, in Markdown (the ``body`` of Airflow's human-in-the-loop
request, rendered in the Airflow UI).

The page shows, for both versions: the source runs' metrics side by side with the difference
(candidate minus current), the parameters whose values differ, the user tags, the source run
and model source, the lineage (the DAG, run and task that registered the version) and links to
both versions and runs in MLflow and back to the Airflow run that asks. Without a current
version (a first promotion) it says so and shows the candidate alone.

Text read from MLflow (tag and parameter values, names, lineage) is a registry user's: it is
put on one line and escaped, so it shows as written and makes no link, image, heading,
emphasis or bare-URL link. The page links only to the connection's MLflow server (URLs the hook
builds) and to the Airflow UI (``[api] base_url``). mlflow is imported only through the hook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from airflow_mlflow_registry.lineage import TAG_PREFIX
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

#: Rows per table at most; the rest are counted in a last row.
MAX_ROWS = 50
MAX_CELL_CHARACTERS = 200
#: Characters escaped in registry text: Markdown syntax, HTML, entities, and the ``:``/``@``
#: that GitHub-flavoured Markdown turns into links when written as bare URLs or e-mail addresses.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:@&=^$%\"'])")
MISSING = "—"
#: GitHub-flavoured Markdown (the Airflow UI's) turns ``http(s)://...``, ``www.x.y`` and
#: ``a@b.c`` in text into links after escapes are resolved, so escaping cannot stop it: a zero
#: width space after ``:``, ``www`` and ``@`` breaks those patterns and changes nothing visible.
_AUTOLINK_TRIGGER = re.compile(r"(?i)(:(?=//)|www(?=\.)|@)")
ZERO_WIDTH_SPACE = "\u200b"


@dataclass(frozen=True)
class VersionView:
    """What the page shows of one version (read once, through the hook)."""

    version: str
    source: str
    run_id: str | None
    run_name: str | None
    registered_at: str
    version_url: str | None = None
    run_url: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lineage: dict[str, str] = field(default_factory=dict)


def version_view(hook: MlflowRegistryHook, version: ModelVersion) -> VersionView:
    """Read ``version``'s source run (one request; none without a run) into a view."""
    run = hook.source_run(version)
    tags = dict(version.tags or {})
    registered = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=timezone.utc)
    return VersionView(
        version=str(version.version),
        source=display_uri(version.source) if version.source else "",
        run_id=version.run_id or None,
        run_name=run.info.run_name if run is not None else None,
        registered_at=registered.isoformat(timespec="seconds"),
        version_url=hook.model_version_url(version.name, version.version),
        run_url=(
            hook.registry_calls.run_url(run.info.experiment_id, run.info.run_id)
            if run is not None
            else None
        ),
        metrics={k: float(v) for k, v in run.data.metrics.items()} if run is not None else {},
        params=dict(run.data.params) if run is not None else {},
        tags={k: v for k, v in tags.items() if not k.startswith(TAG_PREFIX)},
        lineage={
            k.removeprefix(TAG_PREFIX): v for k, v in tags.items() if k.startswith(TAG_PREFIX)
        },
    )


def review_page(
    model_name: str,
    alias: str,
    candidate: VersionView,
    current: VersionView | None,
    *,
    metrics: Sequence[str] | None = None,
    airflow_run_url: str | None = None,
    guard: str | None = None,
) -> str:
    """The Markdown page comparing ``candidate`` with ``current`` (the version ``alias``
    points at; None for a first promotion). ``metrics`` picks the metrics to show (default:
    every metric either run logged); ``guard`` is a sentence on the automatic check that
    passed, shown first. A lineage link to the Airflow UI is kept only when it lies under the
    base of ``airflow_run_url`` (the Airflow UI's own address)."""
    airflow_base = _airflow_base(airflow_run_url)
    sections = [_summary(model_name, alias, candidate, current)]
    if guard:
        sections.append(f"**Automatic check passed:** {_text(guard)}")
    columns = _columns(alias, candidate, current)
    sections += [
        "#### Metrics\n\n" + _metrics_table(candidate, current, metrics, columns),
        "#### Parameters" + _params_section(candidate, current, columns),
        "#### Tags\n\n" + _tags_table(candidate, current, columns),
        "#### Source and lineage\n\n" + _lineage_table(candidate, current, columns, airflow_base),
        "#### Links\n\n" + _links(alias, candidate, current, airflow_run_url),
    ]
    return "\n\n".join(sections) + "\n"


def _summary(
    model_name: str, alias: str, candidate: VersionView, current: VersionView | None
) -> str:
    head = (
        f"Promote version **{candidate.version}** of model **{_text(model_name)}** to "
        f"alias **{_text(alias)}**."
    )
    if current is None:
        return (
            f"{head}\n\n**First promotion:** {_text(alias)} does not point at any version "
            f"yet; approving makes version {candidate.version} its first holder."
        )
    return (
        f"{head}\n\n{_text(alias)} points at version **{current.version}** now; approving "
        f"moves it to version {candidate.version}, rejecting leaves it where it is."
    )


def _columns(alias: str, candidate: VersionView, current: VersionView | None) -> list[str]:
    names = [f"Candidate (version {candidate.version})"]
    if current is not None:
        names.append(f"Current {_text(alias)} (version {current.version})")
    return names


def _metrics_table(
    candidate: VersionView,
    current: VersionView | None,
    chosen: Sequence[str] | None,
    columns: list[str],
) -> str:
    keys = (
        list(chosen)
        if chosen
        else sorted({*candidate.metrics, *(current.metrics if current else {})})
    )
    if not keys:
        return "Neither source run logged metrics."
    rows = []
    for key in keys:
        value = candidate.metrics.get(key)
        row = [_text(key), _number(value)]
        if current is not None:
            held = current.metrics.get(key)
            difference = None if value is None or held is None else value - held
            row += [_number(held), MISSING if difference is None else f"{difference:+.6g}"]
        rows.append(row)
    header = ["Metric", *columns] + (["Difference"] if current is not None else [])
    return _table(header, rows)


def _params_section(candidate: VersionView, current: VersionView | None, columns: list[str]) -> str:
    if current is None:
        rows = [[_text(k), _text(v)] for k, v in sorted(candidate.params.items())]
        if not rows:
            return "\n\nThe candidate's source run logged no parameters."
        return "\n\n" + _table(["Parameter", *columns], rows)
    keys = sorted({*candidate.params, *current.params})
    differing = [k for k in keys if candidate.params.get(k) != current.params.get(k)]
    if not differing:
        return "\n\nNo parameter differs between the two source runs."
    rows = [
        [_text(k), _text(candidate.params.get(k)), _text(current.params.get(k))] for k in differing
    ]
    return " that differ\n\n" + _table(["Parameter", *columns], rows)


def _tags_table(candidate: VersionView, current: VersionView | None, columns: list[str]) -> str:
    keys = sorted({*candidate.tags, *(current.tags if current else {})})
    if not keys:
        return "No tags besides Airflow's own."
    views = [candidate] if current is None else [candidate, current]
    rows = [[_text(k), *(_text(view.tags.get(k)) for view in views)] for k in keys]
    return _table(["Tag", *columns], rows)


def _lineage_table(
    candidate: VersionView,
    current: VersionView | None,
    columns: list[str],
    airflow_base: str | None,
) -> str:
    views = [candidate] if current is None else [candidate, current]
    rows = [
        ["Source run", *(_run_cell(view) for view in views)],
        ["Model source", *(_code(view.source) for view in views)],
        ["Registered at", *(view.registered_at for view in views)],
        ["Registered by", *(_registered_by(view, airflow_base) for view in views)],
    ]
    return _table(["", *columns], rows)


def _links(
    alias: str, candidate: VersionView, current: VersionView | None, airflow_run_url: str | None
) -> str:
    items = [_version_links(f"Candidate version {candidate.version}", candidate)]
    if current is not None:
        items.append(_version_links(f"Current {_text(alias)} version {current.version}", current))
    if airflow_run_url:
        items.append(f"- [This Airflow run]({_target(airflow_run_url)})")
    return "\n".join(items)


def _version_links(label: str, view: VersionView) -> str:
    links = []
    if view.version_url:
        links.append(f"[model version in MLflow]({_target(view.version_url)})")
    if view.run_url:
        links.append(f"[source run in MLflow]({_target(view.run_url)})")
    return f"- {label}: " + (", ".join(links) if links else "no MLflow UI for this server")


def _run_cell(view: VersionView) -> str:
    if not view.run_id:
        return MISSING
    name = f"{_text(view.run_name)} ({_code(view.run_id)})" if view.run_name else _code(view.run_id)
    return f"[{name}]({_target(view.run_url)})" if view.run_url else name


def _registered_by(view: VersionView, airflow_base: str | None) -> str:
    """Who registered the version, from its lineage tags (a registry user's text): a link to
    the task only when it points into this Airflow UI."""
    lineage = view.lineage
    if not lineage.get("dag_id"):
        return "not registered by Airflow"
    text = (
        f"DAG {_code(lineage['dag_id'])}, run {_code(lineage.get('run_id'))}, "
        f"task {_code(lineage.get('task_id'))}"
    )
    link = lineage.get("run_link") or ""
    if airflow_base and link.startswith(airflow_base):
        return f"{text} ([task in Airflow]({_target(link)}))"
    return text


def _airflow_base(airflow_run_url: str | None) -> str | None:
    """``scheme://host[:port]/`` of the Airflow UI, from a link into it."""
    if not airflow_run_url:
        return None
    parts = urlsplit(airflow_run_url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.scheme in ("http", "https") else None


def _target(url: str) -> str:
    """``url`` percent-encoded where Markdown would end or change a link target."""
    return quote(url, safe=":/?#&=%+,;@!$*'~")


def _table(header: list[str], rows: list[list[str]]) -> str:
    shown = rows[:MAX_ROWS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in shown]
    if len(rows) > MAX_ROWS:
        lines.append(f"| … {len(rows) - MAX_ROWS} more |" + " |" * (len(header) - 1))
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.6g}"


def _text(value: str | None) -> str:
    """``value`` as literal Markdown text on one line, cut to ``MAX_CELL_CHARACTERS``."""
    if value is None:
        return MISSING
    text = " ".join(str(value).split())
    if len(text) > MAX_CELL_CHARACTERS:
        text = text[: MAX_CELL_CHARACTERS - 1] + "…"
    text = _AUTOLINK_TRIGGER.sub(lambda match: match.group(1) + ZERO_WIDTH_SPACE, text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text) if text else '""'


def _code(value: str | None) -> str:
    """``value`` in a code span (literal; a backtick, pipe, line break or other unprintable
    character inside falls back to text)."""
    if not value:
        return MISSING
    if "`" in value or "|" in value or not value.isprintable() or len(value) > MAX_CELL_CHARACTERS:
        return _text(value)
    return f"`{value}`"
