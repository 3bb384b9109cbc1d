"""mediapipe's native TensorFlow Lite / absl logs and protobuf's deprecation warning are silenced where
mediapipe runs; dualinv's own output and warnings are kept (dualinv.native_logs)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import sys, warnings
    from skimage import data
    from dualinv.data.background import SelfieMatting
    from dualinv.data.pose import FaceFinder
    image = data.astronaut()
    with FaceFinder() as finder:
        face = finder.largest_face(image)
    matting = SelfieMatting()
    matting.matte(image)
    matting.close()
    warnings.warn("ours, kept")
    print("ours on stderr", file=sys.stderr)
    sys.stderr.write("\\r 50%|progress")  # an unfinished line (a progress bar) still passes
    print("face", face is not None)
""")


def test_mediapipe_runs_quietly_and_our_messages_are_kept():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "face True"
    for noise in ("TensorFlow Lite", "absl::InitializeLog", "inference_feedback_manager", "GetPrototype"):
        assert noise not in done.stderr, done.stderr
    assert "ours, kept" in done.stderr and "ours on stderr" in done.stderr and "50%|progress" in done.stderr


def test_only_native_log_lines_are_dropped():
    from dualinv.native_logs import NATIVE_NOISE

    for line in (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
                 b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                 b"W0000 00:00:1796221360.347164    4944 inference_feedback_manager.cc:114] Feedback manager"):
        assert NATIVE_NOISE.match(line), line
    for line in (b"WARNING: weights.u2net missing", b"INFO ours", b"Warning: dualinv", b" 40%|####"):
        assert not NATIVE_NOISE.match(line), line
