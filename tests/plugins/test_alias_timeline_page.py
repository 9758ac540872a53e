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

"""The alias timeline page's HTML: registry text escaped everywhere, untrusted entries flagged,
links only to the tracking server. Entries are real ledger tags read back with a signer."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from airflow_mlflow_registry.alias_ledger import MoveKind, new_entry, read_entries
from airflow_mlflow_registry.plugins.alias_timeline_page import (
    CONTENT_SECURITY_POLICY,
    TimelinePage,
    render_page,
)
from airflow_mlflow_registry.utils.signing import RecordSigner

SIGNER = RecordSigner("s" * 40)
TRACKING = "http://mlflow.example:5000"
#: The elements the page is made of; anything else came from registry text.
PAGE_ELEMENTS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "form", "label",
    "input", "button", "p", "code", "section", "table", "thead", "tbody", "tr", "th", "td",
    "span", "a", "ul", "li", "b",
}  # fmt: skip
HOSTILE = "<script>alert(1)</script><img src=https://attacker.example/x onerror=alert(2)>'\""


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> Elements:
    elements = Elements()
    elements.feed(document)
    return elements


def version_url(version: str) -> str:
    return f"{TRACKING}/#/models/m/versions/{version}"


def ledger(*tags: tuple[str, str]) -> list:  # type: ignore[type-arg]
    return read_entries("m", dict(tags), SIGNER)


def signed(entry, signer=SIGNER) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return entry.tag_key, entry.tag_value(signer)


def forged(entry, **changes: object) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """``entry``'s signed tag with fields changed afterwards, as a registry user would."""
    key, value = signed(entry)
    record = json.loads(value)
    record.update(changes)
    return key, json.dumps(record)


def page(entries: list, **fields: object) -> str:  # type: ignore[type-arg]
    return render_page(
        TimelinePage(conn_id="mlflow_default", model_name="m", entries=entries,
                     version_url=version_url, **fields)  # type: ignore[arg-type]
    )  # fmt: skip


def test_hostile_text_in_every_field_of_a_forged_entry_makes_no_element_or_attribute() -> None:
    entry = new_entry("m", "champion", "1", "2", MoveKind.APPROVAL, {"approvers": "ann"}, at=1000)
    hostile = forged(entry, by=HOSTILE, kind=HOSTILE, to="2" + HOSTILE, why={HOSTILE: HOSTILE})
    alias_entry = new_entry("m", "x" + HOSTILE, None, "1", MoveKind.SET_ALIAS, at=500)
    document = render_page(
        TimelinePage(
            conn_id="c" + HOSTILE,
            model_name="m" + HOSTILE,
            entries=ledger(hostile, forged(alias_entry)),
            version_url=version_url,
        )
    )
    elements = parse(document)
    assert {tag for tag, _ in elements.tags} <= PAGE_ELEMENTS
    assert "<script" not in document.lower() and "<img" not in document.lower()
    attributes = [name for _, attrs in elements.tags for name in attrs]
    assert not [name for name in attributes if name.startswith("on")], attributes
    # The hostile text shows as written, everywhere it was put.
    text = "".join(elements.text)
    assert text.count("<script>alert(1)</script>") >= 5, text
    assert f"v2{HOSTILE}" in text  # a version that is no number gets no link
    hrefs = [attrs["href"] for tag, attrs in elements.tags if tag == "a"]
    assert all(href and href.startswith(f"{TRACKING}/#/models/") for href in hrefs), hrefs
    values = [attrs.get("value") for tag, attrs in elements.tags if tag == "input"]
    assert values == ["c" + HOSTILE, "m" + HOSTILE]  # attribute values stay whole


def test_untrusted_entries_are_flagged_in_words_and_trusted_ones_verified() -> None:
    why = {"approvers": "ann, bob"}
    approval = new_entry("m", "champion", "1", "2", MoveKind.APPROVAL, why, at=1000)
    why = {"reason": "check failed"}
    rollback = new_entry("m", "champion", "2", "1", MoveKind.ROLLBACK, why, at=2000)
    tampered = forged(new_entry("m", "champion", "1", "3", MoveKind.CLI, at=3000), to="9")
    unsigned = signed(new_entry("m", "champion", "9", "4", MoveKind.CLI, at=4000), signer=None)
    other = RecordSigner("o" * 40)
    other_key = signed(new_entry("m", "champion", "4", "5", MoveKind.CLI, at=5000), other)
    entries = ledger(signed(approval), signed(rollback), tampered, unsigned, other_key)
    elements = parse(page(entries))
    rows = {attrs["data-entry"]: attrs for tag, attrs in elements.tags if tag == "tr" and attrs}
    statuses = sorted((attrs["data-status"], attrs["class"]) for attrs in rows.values())
    assert statuses == [
        ("other key", "untrusted"),
        ("tampered", "untrusted"),
        ("unsigned", "untrusted"),
        ("verified", "trusted"),
        ("verified", "trusted"),
    ]
    text = "".join(elements.text)
    for flag in ("TAMPERED — not trusted", "UNSIGNED — not trusted", "OTHER KEY — not trusted"):
        assert flag in text
    assert "3 entries not trusted" in text
    # Who and why, the approvers and the rollback's reason included.
    assert "approvers: ann, bob" in text and "reason: check failed" in text
    assert "rollback" in text and "approval" in text and "cli:" in text
    # The holder is the last trusted entry's: the rollback to v1, not the forged v9 or later.
    assert "points at version v1 by its last trusted entry" in text


def test_versions_link_to_the_tracking_server_only_when_a_link_is_given() -> None:
    entries = ledger(signed(new_entry("m", "champion", "1", "2", MoveKind.SET_ALIAS)))
    hrefs = [a["href"] for tag, a in parse(page(entries)).tags if tag == "a"]
    assert hrefs == [version_url("2"), version_url("1"), version_url("2")]  # holder, move
    unlinked = render_page(TimelinePage(model_name="m", entries=entries))
    assert [tag for tag, _ in parse(unlinked).tags if tag == "a"] == []


def test_a_garbage_ledger_tag_is_shown_as_unreadable_and_tampered() -> None:
    entries = read_entries("m", {"airflow.ledger.1.x": "<b>not json</b>"}, SIGNER)
    text = "".join(parse(page(entries)).text)
    assert "(unreadable entries)" in text and "TAMPERED — not trusted" in text
    assert "not json" not in text  # nothing of an unreadable entry is shown as fact


def test_without_a_signing_secret_the_page_says_nothing_can_be_verified() -> None:
    entries = read_entries("m", dict([signed(new_entry("m", "a", None, "1", MoveKind.CLI))]), None)
    text = "".join(parse(page(entries, signing_configured=False)).text)
    assert "no entry can be verified" in text and "UNSIGNED — not trusted" in text


def test_an_error_replaces_the_timeline_and_the_policy_forbids_scripts_and_images() -> None:
    text = "".join(parse(page([], error="Connection 'x' cannot be used: <b>no</b>")).text)
    assert "Connection 'x' cannot be used: <b>no</b>" in text
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'none' covers scripts
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'none';")
    assert "img-src" not in CONTENT_SECURITY_POLICY
