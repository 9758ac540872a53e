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

"""The HTML of the alias timeline page: a model's alias ledger, one table per alias, oldest
move first.

Every text on the page that comes from the registry (model and alias names, versions, ``by``,
``why``, entry ids) is a registry user's and is HTML-escaped, in text and in attributes alike.
The page holds no script and no image; its only links are to version pages of the
connection's MLflow server (built by the caller, for version numbers only). An entry whose
signature does not verify is drawn in a row of its own colour with its status in words
(``TAMPERED``, ``UNSIGNED``, ``OTHER KEY``) and "not trusted": nothing in it decides anything.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from airflow_mlflow_registry.alias_ledger import AliasHistory, EntryStatus, LedgerEntry

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Content-Security-Policy of the page: no script, no image, no frame, no request elsewhere;
#: inline styles only; forms post back to the page; framed only by this Airflow.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
UNREADABLE_ALIAS = "(unreadable entries)"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; }
form { margin-bottom: 1.5rem; } label { margin-right: 1rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.6rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
tr.untrusted td { background: #ffebe9; }
.status-verified { color: #1a7f37; } .status-untrusted { color: #cf222e; font-weight: bold; }
.kind { font-family: monospace; } .note { color: #57606a; }
.error { background: #ffebe9; border: 1px solid #cf222e; padding: 0.6rem; }
ul.why { margin: 0; padding-left: 1.1rem; }
"""


@dataclass(frozen=True)
class TimelinePage:
    """What the page shows.

    :param conn_id: the ``mlflow`` connection id asked for ('' before the form is sent).
    :param model_name: the registered model asked for ('' before the form is sent).
    :param entries: the model's ledger, oldest first, signatures checked.
    :param version_url: the MLflow page of a version number, or None (no link).
    :param signing_configured: False when the api-server has no signing secret (then no entry
        can verify; the page says so).
    :param error: a message to show instead of the timeline (already free of secrets).
    """

    conn_id: str = ""
    model_name: str = ""
    entries: Sequence[LedgerEntry] = ()
    version_url: Callable[[str], str | None] = field(default=lambda version: None)
    signing_configured: bool = True
    error: str | None = None


def render_page(page: TimelinePage) -> str:
    """The whole HTML document of ``page``, every registry text escaped."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>MLflow alias timeline</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>MLflow alias timeline</h1>",
        _form(page.conn_id, page.model_name),
    ]
    if page.error is not None:
        parts.append(f"<p class='error' role='alert'>{_text(page.error)}</p>")
    elif page.model_name:
        parts.append(_timeline(page))
    parts.append("</body></html>")
    return "".join(parts)


def _form(conn_id: str, model_name: str) -> str:
    return (
        "<form method='get'>"
        "<label>MLflow connection id <input name='conn_id' required "
        f"value='{_text(conn_id or 'mlflow_default')}'></label>"
        f"<label>Model <input name='model' required value='{_text(model_name)}'></label>"
        "<button type='submit'>Show timeline</button></form>"
    )


def _timeline(page: TimelinePage) -> str:
    parts = [f"<h2>Model {_text(page.model_name)}</h2>"]
    if not page.signing_configured:
        parts.append(
            "<p class='error' role='alert'>The signing secret (Airflow variable "
            "<code>mlflow_registry_signing_secret</code>) is not readable by the api-server: "
            "no entry can be verified, every entry is shown as not trusted.</p>"
        )
    if not page.entries:
        parts.append("<p>The alias ledger of this model has no entries.</p>")
        return "".join(parts)
    aliases = sorted({entry.alias for entry in page.entries})
    for alias in aliases:
        history = AliasHistory.of(page.model_name, alias, page.entries)
        parts.append(_alias_section(history, page.version_url))
    return "".join(parts)


def _alias_section(history: AliasHistory, version_url: Callable[[str], str | None]) -> str:
    name = history.alias or UNREADABLE_ALIAS
    last = history.last
    holder = (
        f"points at version {_version(last.to_version, version_url)} by its last trusted entry"
        if last is not None and last.to_version is not None
        else "has no trusted holder in the ledger"
    )
    untrusted = len(history.untrusted())
    flagged = (
        f" <span class='status-untrusted'>{untrusted} entr{'y' if untrusted == 1 else 'ies'} "
        "not trusted</span>"
        if untrusted
        else ""
    )
    rows = "".join(_row(entry, version_url) for entry in history.entries)
    return (
        f"<section data-alias='{_text(history.alias)}'>"
        f"<h3>Alias <code>{_text(name)}</code></h3>"
        f"<p class='note'>{holder}.{flagged}</p>"
        "<table><thead><tr><th>When (UTC)</th><th>Move</th><th>Kind</th><th>By</th>"
        "<th>Why</th><th>Signature</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _row(entry: LedgerEntry, version_url: Callable[[str], str | None]) -> str:
    trusted = entry.status is EntryStatus.VERIFIED
    move = (
        f"{_version(entry.from_version, version_url)} &rarr; "
        f"{_version(entry.to_version, version_url)}"
    )
    status = (
        "<span class='status-verified'>verified</span>"
        if trusted
        else f"<span class='status-untrusted'>{_text(entry.status.value.upper())} "
        "&mdash; not trusted</span>"
    )
    return (
        f"<tr class='{'trusted' if trusted else 'untrusted'}' "
        f"data-entry='{_text(entry.entry_id)}' data-status='{_text(entry.status.value)}'>"
        f"<td>{_when(entry.at)}</td><td>{move}</td>"
        f"<td class='kind'>{_text(entry.kind)}</td><td>{_text(entry.by)}</td>"
        f"<td>{_why(entry.why)}</td><td>{status}</td></tr>"
    )


def _version(version: str | None, version_url: Callable[[str], str | None]) -> str:
    if version is None:
        return "<span class='note'>(none)</span>"
    url = version_url(version) if version.isdigit() else None
    label = f"v{_text(version)}"
    return f"<a href='{_text(url)}' rel='noreferrer'>{label}</a>" if url else label


def _why(why: dict[str, str]) -> str:
    if not why:
        return ""
    items = "".join(f"<li><b>{_text(key)}</b>: {_text(value)}</li>" for key, value in why.items())
    return f"<ul class='why'>{items}</ul>"


def _when(at: int) -> str:
    try:
        moment = datetime.fromtimestamp(at / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return _text(str(at))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _text(value: str) -> str:
    """``value`` HTML-escaped for text and quoted attributes (both quote kinds)."""
    return html.escape(value, quote=True)
