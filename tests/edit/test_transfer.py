"""Part transfer on a tiny seeded generator: source kept outside the lifted cells, reference inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dualinv.edit import EditConfig, HeadCode, transfer_part
from dualinv.errors import ConfigError
from dualinv.occlusion import lift_pixel_mask
from dualinv.seeding import make_generator
from tests.standin_heads import random_head, tiny128_generator

OPACITY = 0.1
"""The seeded stand-in head is faint (rendered opacity about 0.2–0.3), so the tests lift at 0.1."""


class BoxSegmenter:
    """Stands in for a face parser: the same central box on any image, whatever the part."""

    def __init__(self) -> None:
        self.calls = 0

    def part_mask(self, image: np.ndarray, part: str) -> np.ndarray:
        self.calls += 1
        mask = np.zeros(image.shape[:2], dtype=bool)
        height, width = mask.shape
        mask[height // 4: height // 2, width // 4: 3 * width // 4] = True
        return mask


@pytest.fixture(scope="module")
def heads():
    generator = tiny128_generator()
    return generator, random_head(generator, 1), random_head(generator, 2)


def test_hard_edit_is_source_outside_the_cells_and_reference_inside(heads) -> None:
    generator, source, reference = heads
    segmenter = BoxSegmenter()
    reference_image = np.zeros((128, 128, 3), np.uint8)
    edit = transfer_part(generator, source, reference, reference_image, segmenter, EditConfig(part="hair", feather=0, opacity_threshold=OPACITY))
    cells = edit.part_cells
    # The cells are the lifting of the segmenter's box through the reference's own depth, recomputed here.
    render = generator.render_trigrid(reference.trigrid, reference.ws, reference.camera, noise_mode="const",
                                      generator=make_generator(0))  # EditConfig.seed
    rendering = generator.config.rendering
    box = torch.from_numpy(BoxSegmenter().part_mask(reference_image, "hair"))[None, None]
    expected = lift_pixel_mask(box, render["image_depth"], reference.camera, image_mask=render["image_mask"],
                               trigrid_resolution=rendering.triplane_size, trigrid_depth=rendering.triplane_depth,
                               box_warp=rendering.box_warp, opacity_threshold=OPACITY)
    assert torch.equal(cells, expected)
    assert 0 < cells.sum() < cells.numel() // 2
    inside = cells.unsqueeze(2).expand(-1, -1, 32, -1, -1, -1)  # [1,3,C,D,H,W]
    edited = edit.head.trigrid.unflatten(2, (32, rendering.triplane_depth))
    assert torch.equal(edited[~inside], source.trigrid.unflatten(2, (32, rendering.triplane_depth))[~inside])
    assert torch.equal(edited[inside], reference.trigrid.unflatten(2, (32, rendering.triplane_depth))[inside])
    assert edit.head.ws is source.ws and segmenter.calls == 1


def test_extra_views_add_cells_and_segment_renders(heads) -> None:
    generator, source, reference = heads
    segmenter = BoxSegmenter()
    one = transfer_part(generator, source, reference, np.zeros((128, 128, 3), np.uint8), segmenter, EditConfig(feather=0, opacity_threshold=OPACITY))
    more = transfer_part(generator, source, reference, np.zeros((128, 128, 3), np.uint8), segmenter,
                         EditConfig(feather=0, extra_yaws=(60.0,), opacity_threshold=OPACITY))
    assert segmenter.calls == 3 and len(more.pixel_masks) == 2
    assert torch.all(more.part_cells >= one.part_cells) and more.part_cells.sum() > one.part_cells.sum()


def test_edit_config_is_checked_at_the_door() -> None:
    with pytest.raises(ConfigError, match="beard"):
        EditConfig(part="beard")
    with pytest.raises(ConfigError, match="feather"):
        EditConfig(feather=-1)
