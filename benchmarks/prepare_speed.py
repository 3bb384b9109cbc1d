"""Images per second of ``prepare`` on CPU with 1 and 2 workers (selfie matting, no weights needed).

Usage: python benchmarks/prepare_speed.py [--copies N]
The inputs are N copies of each public-domain portrait shipped with scikit-image and matplotlib.
Worker start-up (mediapipe graphs) is included, as a user would see it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def make_inputs(folder: Path, copies: int) -> int:
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    grace = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    for index in range(copies):
        Image.fromarray(skimage.data.astronaut()).save(folder / f"astronaut_{index:03d}.jpg", quality=95)
        shutil.copy(grace, folder / f"grace_{index:03d}.jpg")
    return 2 * copies


def main() -> None:
    from dualinv.data import PrepareConfig, prepare_images

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=10, help="copies of each portrait (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        inputs = Path(scratch) / "in"
        inputs.mkdir()
        count = make_inputs(inputs, args.copies)
        for workers in (1, 2):
            started = time.perf_counter()
            summary = prepare_images(inputs, Path(scratch) / f"out{workers}", PrepareConfig(workers=workers, progress=False))
            seconds = time.perf_counter() - started
            print(f"workers={workers}: {summary.prepared}/{count} images in {seconds:.1f} s = {summary.prepared / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
