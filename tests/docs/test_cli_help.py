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
