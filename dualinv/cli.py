"""The ``dualinv`` command.

Each command family is a module of :mod:`dualinv.commands` that exposes ``register(subparsers)``:
it adds its parser(s) and sets ``func`` (a callable taking the parsed arguments and returning an
exit code). This file only assembles them and turns
:class:`dualinv.errors.DualinvError` into a one-line message and exit status 2, without a traceback.

Every parser is an :class:`ExactFlagParser`: argparse's prefix matching is off, so a flag is only
ever the flag it spells (``--mesh`` can never be read as ``--mesh-resolution``, and adding a
flag later cannot change what an existing command line means).
"""

from __future__ import annotations

import argparse
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

    def format_help(self) -> str:
        """The help without the reStructuredText markup of the docstrings it quotes (``x`` -> x, `x` -> 'x')."""
        return _plain_text(super().format_help())


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
