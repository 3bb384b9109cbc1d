"""Quiet third-party native logging: mediapipe's TensorFlow Lite and absl write to file descriptor 2.

Starting and running mediapipe's graphs prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
"All log messages before absl::InitializeLog() is called are written to STDERR", feedback-manager
warnings, and protobuf's ``SymbolDatabase.GetPrototype() is deprecated`` warning, on every run and with
no setting that turns them off. :func:`mediapipe_quiet` wraps exactly those calls; dualinv's own
warnings and messages outside them are kept.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Iterator

PROTOBUF_DEPRECATION = r"SymbolDatabase\.GetPrototype\(\) is deprecated"
"""protobuf's warning, raised inside mediapipe's result conversion."""


@contextlib.contextmanager
def mediapipe_quiet() -> Iterator[None]:
    """Inside: file descriptor 2 goes to the null device and protobuf's deprecation warning is ignored."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=PROTOBUF_DEPRECATION, category=UserWarning)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
