"""Every sub-command's help reads as plain text: no reStructuredText markup, no doubled percent signs."""

from __future__ import annotations

import argparse

from dualinv.cli import build_parser


def _parsers(parser, name="dualinv"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {command}")


def test_help_has_no_markup_and_no_doubled_percent():
    seen = []
    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "%%" not in text and "`" not in text, (name, text)
        seen.append(name)
    assert {"dualinv invert", "dualinv train", "dualinv evaluate", "dualinv edit"} <= set(seen)


def test_evaluate_help_shows_the_interval_as_written():
    evaluate = dict(_parsers(build_parser()))["dualinv evaluate"]
    assert "95% bootstrap intervals" in evaluate.format_help()


def test_every_option_has_plain_help():
    """Each option and positional (but -h) says what it is, or is a hidden alias (SUPPRESS); each
    subcommand has a one-line help; no text relies on format_help's markup stripping."""
    missing, marked = [], []
    for name, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                texts = {f"{name} {choice.dest}": choice.help for choice in action._choices_actions}
            else:
                texts = {f"{name} {'/'.join(action.option_strings) or action.dest}":
                         formatter._expand_help(action) if action.help else ""}
            for where, text in texts.items():
                if not (text or "").strip():
                    missing.append(where)
                elif "`" in text or "%%" in text:
                    marked.append((where, text))
    assert not missing and not marked, (missing, marked)
