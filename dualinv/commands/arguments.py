"""Argument types and hidden aliases shared by the command modules.

A type here refuses a bad value while the command line is parsed, in argparse's own format
(``dualinv invert: error: argument --frames: must be an integer >= 1, got -3``, exit status 2),
before anything is loaded or written. A hidden alias keeps an old flag name working without
showing it in ``--help``.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable


def int_at_least(least: int) -> Callable[[str], int]:
    """The argparse type of an integer option that must be ``least`` or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"must be an integer >= {least}, got {text}")
        return value

    parse.__name__ = f"int_at_least_{least}"
    return parse


def float_in(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """The argparse type of a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    if high == math.inf:
        wanted = f"a number {'>' if low_open else '>='} {low:g}"
    else:
        wanted = f"a number in {'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if low_open else value >= low) and value <= high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = "float_in"
    return parse


def finite_float(text: str) -> float:
    """The argparse type of a number with no range: anything but nan and ±inf."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


positive_int = int_at_least(1)
"""Counts and sizes: frames, batch sizes, workers."""
nonnegative_int = int_at_least(0)
"""Seeds, steps, feather widths."""
positive_float = float_in(0.0, low_open=True)
"""Rates such as ``--fps``."""
nonnegative_float = float_in(0.0)
"""Lengths that may be zero, such as ``--min-face-size``."""
unit_float = float_in(0.0, 1.0)
"""Shares and probabilities in [0, 1]."""


def add_hidden_alias(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str,
                     shown: argparse.Action) -> argparse.Action:
    """Add ``flag`` as an old name of the option ``shown``: same destination, type and choices, absent
    from ``--help`` (so command lines that use it keep working) and never suggested as a correction."""
    common = dict(dest=shown.dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    if shown.nargs == 0:  # a switch: store_true and the like
        return parser.add_argument(flag, action=type(shown), **common)
    return parser.add_argument(flag, type=shown.type, choices=shown.choices, nargs=shown.nargs,
                               metavar=shown.metavar, **common)
