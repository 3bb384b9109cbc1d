"""HeadDataset reads both official PanoHead dataset forms as they are (spec panohead.md §8.1-8.3):
the 3DDFA cropping output (563² JPEG canvases, masks in a sibling folder) and an extracted
``dataset_tool_seg.py`` zip (``00000/img00000000.png``, masks under the same relative path)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dualinv.camera import camera_at_yaw
from dualinv.data.dataset import HeadDataset
from dualinv.errors import DatasetFormatError


def official_label(yaw: float) -> list[str]:
    """A label as the official files store it: 25 strings with 6 decimals."""
    return [f"{value:.6f}" for value in camera_at_yaw(yaw)[0].tolist()]


def test_the_cropping_output_folder_is_resized_whole_to_the_resolution(tmp_path):
    """563² canvases (spec §8.2 step 10) become 512² as dataset_tool_seg.py --resolution 512x512
    makes them: the whole canvas resized with Lanczos, no crop (step 11)."""
    images, masks = tmp_path / "testdata_img", tmp_path / "testdata_seg"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (563, 563, 3), dtype=np.uint8)
    matte = np.zeros((563, 563), dtype=np.uint8)
    matte[51:, 25:537] = 254  # the shipped soft mattes peak at 254 (spec §8.3)
    Image.fromarray(canvas).save(images / "000134.jpg", quality=95)
    Image.fromarray(matte).save(masks / "000134.png")
    (images / "dataset.json").write_text(json.dumps({"labels": [["000134.jpg", official_label(11.0)]]}))

    native = HeadDataset(images, mask_root=masks)[0]
    assert native["image"].shape == (3, 563, 563) and native["mask"].shape == (1, 563, 563)

    resized = HeadDataset(images, mask_root=masks, resolution=512, mirror=True)
    item, mirrored = resized[0], resized[1]
    with Image.open(images / "000134.jpg") as handle:
        expected_image = np.asarray(handle.convert("RGB").resize((512, 512), Image.LANCZOS), dtype=np.float32)
    expected_mask = np.asarray(Image.fromarray(matte).resize((512, 512), Image.LANCZOS), dtype=np.float32)
    np.testing.assert_allclose(item["image"].numpy(), expected_image.transpose(2, 0, 1) / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(item["mask"][0].numpy(), expected_mask / 255.0, atol=1e-6)
    np.testing.assert_array_equal(mirrored["mask"][0].numpy(), item["mask"][0].numpy()[:, ::-1])
    np.testing.assert_allclose(item["camera"].numpy(), np.asarray(official_label(11.0), dtype=np.float32))


def test_an_extracted_official_zip_finds_its_masks_by_relative_path(tmp_path):
    """The official trainer matches a mask to an image by the archive path without suffix
    (``00000/img00000000``): the extracted image and mask zips keep the ``00000/`` folder."""
    images, masks = tmp_path / "testdata_img", tmp_path / "testdata_seg"
    for folder in (images / "00000", masks / "00000"):
        folder.mkdir(parents=True)
    labels = []
    for index, yaw in enumerate((11.0, -13.0)):
        name = f"00000/img{index:08d}.png"
        Image.fromarray(np.full((512, 512, 3), 40 * index, dtype=np.uint8)).save(images / name)
        Image.fromarray(np.full((512, 512), 100 + index, dtype=np.uint8)).save(masks / name)
        labels.append([name, official_label(yaw)])
    (images / "dataset.json").write_text(json.dumps({"labels": labels}))
    dataset = HeadDataset(images, mask_root=masks, resolution=512)
    assert [round(float(dataset[index]["mask"][0, 0, 0]) * 255) for index in range(2)] == [100, 101]


def test_a_non_square_image_cannot_be_resized_to_a_crop(tmp_path):
    Image.fromarray(np.zeros((300, 200, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": [["wide.png", official_label(0.0)]]}))
    assert HeadDataset(tmp_path)[0]["image"].shape == (3, 300, 200)  # as stored when no resolution is asked
    with pytest.raises(DatasetFormatError, match="not square"):
        HeadDataset(tmp_path, resolution=512)[0]
