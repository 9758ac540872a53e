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

"""What ``--help`` says of each command of ``airflow-mlflow-registry`` holds for that command."""

from __future__ import annotations

import argparse

from airflow_mlflow_registry.cli.arguments import build_parser


def every_parser(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """``parser`` and every sub-command's parser below it, by program name."""
    found = {parser.prog: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(every_parser(sub))
    return found


def test_help_mentions_tags_only_for_commands_that_take_tag() -> None:
    parsers = every_parser(build_parser())
    assert any(prog.endswith("webhooks create") for prog in parsers)
    for prog, parser in parsers.items():
        takes_tag = any("--tag" in action.option_strings for action in parser._actions)
        if not takes_tag:
            assert "--tag" not in parser.format_help(), prog
            assert "Tags are" not in parser.format_help(), prog
