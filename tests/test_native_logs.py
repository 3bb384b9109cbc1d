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
    print("face", face is not None)
""")


def test_mediapipe_runs_quietly_and_our_messages_are_kept():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "face True"
    for noise in ("TensorFlow Lite", "absl::InitializeLog", "inference_feedback_manager", "GetPrototype"):
        assert noise not in done.stderr, done.stderr
    assert "ours, kept" in done.stderr and "ours on stderr" in done.stderr
