"""The ``dualinv`` command.

Each command family lives next to the code it drives, in a ``commands`` module that exposes
``register(subparsers)``: it adds its parser(s) and sets ``func`` (a callable taking the parsed
arguments and returning an exit code). This file only assembles them and turns
:class:`dualinv.errors.DualinvError` into a one-line message and exit status 2, without a traceback.

Every parser is an :class:`ExactFlagParser`: argparse's prefix matching is off, so a flag is only
ever the flag it spells (``--mesh`` can never be read as ``--mesh-resolution``, and adding a
flag later cannot change what an existing command line means).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import Sequence

from dualinv import __version__
from dualinv.errors import DualinvError

# Modules that contribute subcommands, in the order they appear in ``dualinv --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "dualinv.data.commands",       # prepare, pose
    "dualinv.panohead.commands",   # panohead render | convert
    "dualinv.training.commands",   # train
    "dualinv.dual.commands",       # invert
    "dualinv.edit.commands",       # edit
    "dualinv.eval.commands",       # evaluate, report
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
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # A command family that is not written yet; a broken import inside one still raises.
            if error.name is not None and module_name.startswith(error.name):
                continue
            raise
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
