"""The ``dualinv`` command.

Each command family is a module of :mod:`dualinv.commands` that exposes ``register(subparsers)``:
it adds its parser(s) and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). This file only assembles them and turns
:class:`dualinv.errors.DualinvError` into a one-line message and exit status 2, without a traceback.

Every parser is an :class:`ExactFlagParser`: argparse's prefix matching is off, so a flag is only
ever the flag it spells (``--mesh`` can never be read as ``--mesh-resolution``, and adding a
flag later cannot change what an existing command line means). Errors of the command line itself are
argparse's error line, from the (sub)command they belong to (one line, without the usage block): an unknown flag is reported by the
subcommand that was selected, with the closest flag of that subcommand (``unrecognized arguments:
--mesh-res (did you mean --mesh-resolution?)``), and a misspelt subcommand or choice gets the
closest valid one.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from types import ModuleType
from typing import Sequence

from dualinv import __version__
from dualinv.commands import data, edit, evaluate, invert, panohead, train
from dualinv.errors import DualinvError

# Modules that contribute subcommands, in the order they appear in ``dualinv --help``.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    data,       # prepare, pose
    panohead,   # panohead render | convert
    train,      # train
    invert,     # invert
    edit,       # edit
    evaluate,   # evaluate, report
)


class ExactFlagParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that never accepts an abbreviated long flag (``allow_abbrev=False``);
    sub-command parsers are of the same class (argparse builds them with ``type(parent)``)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        """As argparse's, but unknown arguments are reported by the subcommand that was selected (its
        usage line, its prog) with a did-you-mean from that subcommand's own flags."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            selected = _selected_parser(self, parsed)
            selected.error(f"unrecognized arguments: {' '.join(extras)}{_flag_suggestions(selected, extras)}")
        return parsed

    def _check_value(self, action: argparse.Action, value) -> None:
        """As argparse's, plus the closest valid choice for a misspelt word (a subcommand, ``--part``)."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:
            words = [choice for choice in action.choices or () if isinstance(choice, str)]
            close = difflib.get_close_matches(value, words, n=1) if isinstance(value, str) else []
            if not close:
                raise
            raise argparse.ArgumentError(action, f"{error.message} (did you mean {close[0]}?)") from None

    def error(self, message: str):
        """argparse's error line, ``<prog>: error: <message>``, alone (exit status 2): one line, like every
        other refusal of the CLI; ``<prog> --help`` shows the usage."""
        self.exit(2, f"{self.prog}: error: {message}\n")

    def format_help(self) -> str:
        """The help without the reStructuredText markup of the docstrings it quotes (``x`` -> x, `x` -> 'x')."""
        return _plain_text(super().format_help())


def _selected_parser(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)parser the parsed command line selected (``dualinv panohead render``: render's)."""
    while True:
        commands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        if not commands or getattr(parsed, commands[0].dest, None) not in commands[0].choices:
            return parser
        parser = commands[0].choices[getattr(parsed, commands[0].dest)]


def _flag_suggestions(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """`` (did you mean --x?)`` for the unknown flags among ``extras`` that are close to a shown flag of
    ``parser``: the flags the typed one abbreviates (``--mesh-res``) first, else the closest spelling."""
    shown = [flag for action in parser._actions if action.help != argparse.SUPPRESS
             for flag in action.option_strings]
    found = []
    for extra in extras:
        typed = extra.split("=", 1)[0]
        if not typed.startswith("-") or typed in ("-", "--") or parser._negative_number_matcher.match(typed):
            continue
        completions = [flag for flag in shown if flag.startswith(typed)]
        close = difflib.get_close_matches(typed, completions, n=3, cutoff=0.0) if completions else \
            difflib.get_close_matches(typed, shown, n=1)
        if close:
            found.append((typed, " or ".join(close)))
    if not found:
        return ""
    if len(found) == 1:
        return f" (did you mean {found[0][1]}?)"
    return " (did you mean " + ", ".join(f"{flags} for {typed}" for typed, flags in found) + "?)"


def _plain_text(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"'\1'", re.sub(r"``([^`]+)``", r"\1", text))


def build_parser() -> argparse.ArgumentParser:
    parser = ExactFlagParser(
        prog="dualinv",
        description="Dual encoder GAN inversion: one portrait in, a 360-degree PanoHead head out.",
    )
    parser.add_argument("--version", action="version", version=f"dualinv {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except DualinvError as error:
        print(f"dualinv: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dualinv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
