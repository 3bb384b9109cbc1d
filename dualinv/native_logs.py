"""Quiet third-party native logging: mediapipe's TensorFlow Lite and absl write to file descriptor 2.

Starting and running mediapipe's graphs prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
"All log messages before absl::InitializeLog() is called are written to STDERR" and absl/glog lines such
as ``W0000 ... inference_feedback_manager.cc:114] Feedback manager ...`` (some from mediapipe's worker
threads, after the call returned), and protobuf warns ``SymbolDatabase.GetPrototype() is deprecated``;
none has a setting that turns it off. :func:`mediapipe_quiet` wraps mediapipe's calls: it ignores the
protobuf warning there and, from its first use, passes file descriptor 2 through a filter that drops
exactly those native lines. Everything else on stderr (dualinv's messages, warnings, progress bars)
passes unchanged.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading
import warnings
from typing import Iterator

PROTOBUF_DEPRECATION = r"SymbolDatabase\.GetPrototype\(\) is deprecated"
"""protobuf's warning, raised inside mediapipe's result conversion."""

NATIVE_NOISE = re.compile(rb"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog\(\)"
                          rb"|[IWE]\d{4} [\d:.]+ +\d+ [\w/.-]+:\d+\])")
"""A line mediapipe's native code logs (TensorFlow Lite, absl/glog format ``W0000 hh:mm:ss.us tid file.cc:N]``)."""
_MAYBE_NOISE = re.compile(rb"^(I|IN|INF|INFO|INFO:.*|W|WA|WAR|WARN|WARNI|WARNIN|WARNING|WARNING:.*|[IWE]\d{1,4}( .*)?)$")
"""An unfinished line that may still become one of :data:`NATIVE_NOISE` (held until its newline)."""

_filter_lock = threading.Lock()
_installed = False


def _forward(read_end: int, target: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        out = b"".join(line + b"\n" for line in lines if not NATIVE_NOISE.match(line))
        if pending and not _MAYBE_NOISE.match(pending):  # e.g. a progress bar's "\r 40%|...": show it now
            out, pending = out + pending, b""
        if out:
            os.write(target, out)
    if pending and not NATIVE_NOISE.match(pending):
        os.write(target, pending)


def _install_stderr_filter() -> None:
    """File descriptor 2 through :func:`_forward` for the rest of the process (restored at exit)."""
    global _installed
    with _filter_lock:
        if _installed:
            return
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        reader = threading.Thread(target=_forward, args=(read_end, original), name="native-log-filter", daemon=True)
        reader.start()

        def restore() -> None:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(original, 2)  # closes the pipe's last write end: the reader drains it and stops
            reader.join(timeout=5)

        atexit.register(restore)
        _installed = True


@contextlib.contextmanager
def mediapipe_quiet() -> Iterator[None]:
    """Around a mediapipe call: protobuf's deprecation warning ignored, mediapipe's native log lines dropped."""
    _install_stderr_filter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PROTOBUF_DEPRECATION, category=UserWarning)
        yield
