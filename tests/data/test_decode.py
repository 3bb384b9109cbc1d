"""Decoding edge cases: every odd file is built here, and each either decodes to upright 8-bit RGB
or is refused with its named reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dualinv.data.decode import DecodeLimits, decode_image
from dualinv.errors import BadImageError, UnusableImageError


def gradient(height: int = 96, width: int = 128) -> np.ndarray:
    """RGB test image whose columns and rows are distinguishable (so rotations are visible)."""
    rows = np.linspace(0, 255, height, dtype=np.float64)[:, None]
    cols = np.linspace(0, 255, width, dtype=np.float64)[None, :]
    return np.stack([np.broadcast_to(cols, (height, width)), np.broadcast_to(rows, (height, width)), np.full((height, width), 40.0)], axis=2).astype(np.uint8)


def test_rgb_png_round_trip(tmp_path):
    pixels = gradient()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_array_equal(decode_image(tmp_path / "a.png"), pixels)


def test_webp_lossless(tmp_path):
    pixels = gradient()
    Image.fromarray(pixels).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_array_equal(decode_image(tmp_path / "a.webp"), pixels)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (100, 80), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # pure red in CMYK
    pixels = decode_image(tmp_path / "cmyk.jpg")
    assert pixels.shape == (80, 100, 3) and pixels.dtype == np.uint8
    red, green, blue = pixels.reshape(-1, 3).mean(axis=0)
    assert red > 200 and green < 60 and blue < 60


def test_grayscale_16bit_png_scaled_to_8bit(tmp_path):
    values = np.full((70, 90), 65535, dtype=np.uint16)
    values[:, :45] = 257 * 100
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    pixels = decode_image(tmp_path / "g16.png")
    assert pixels.shape == (70, 90, 3)
    assert (pixels[:, :45] == 100).all() and (pixels[:, 45:] == 255).all()


def test_rgb_16bit_png(tmp_path):
    import cv2

    bgr16 = np.zeros((70, 90, 3), dtype=np.uint16)
    bgr16[..., 2] = 65535  # red channel at full scale (OpenCV writes BGR)
    cv2.imwrite(str(tmp_path / "rgb16.png"), bgr16)
    pixels = decode_image(tmp_path / "rgb16.png")
    assert (pixels[..., 0] == 255).all() and (pixels[..., 1:] == 0).all()


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_composited_on_matte(tmp_path, mode):
    image = Image.new(mode, (80, 80), (0, 0) if mode == "LA" else (0, 0, 0, 0))  # fully transparent black
    image.save(tmp_path / "alpha.png")
    pixels = decode_image(tmp_path / "alpha.png", matte=(10, 20, 30))
    assert (pixels == np.array([10, 20, 30], dtype=np.uint8)).all()


def test_exif_orientation_applied(tmp_path):
    pixels = gradient(96, 128)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=100)
    upright = decode_image(tmp_path / "rotated.jpg")
    assert upright.shape == (128, 96, 3)
    expected = np.rot90(pixels, k=-1)  # 90° clockwise
    assert np.abs(upright.astype(int) - expected.astype(int)).mean() < 3


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.jpg", b"", "empty"),
        ("text.jpg", b"this is a text file, not a JPEG\n", "not_an_image"),
    ],
)
def test_unusable_bytes(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UnusableImageError) as caught:
        decode_image(tmp_path / name)
    assert caught.value.reason == reason and name in str(caught.value)
    assert isinstance(caught.value, BadImageError)


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(gradient(200, 200)).save(buffer, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(UnusableImageError) as caught:
        decode_image(tmp_path / "cut.jpg")
    assert caught.value.reason == "corrupt"


def test_too_small_and_too_large(tmp_path):
    Image.fromarray(gradient(40, 40)).save(tmp_path / "tiny.png")
    with pytest.raises(UnusableImageError) as caught:
        decode_image(tmp_path / "tiny.png")
    assert caught.value.reason == "too_small"
    Image.fromarray(gradient(300, 300)).save(tmp_path / "big.png")
    with pytest.raises(UnusableImageError) as caught:
        decode_image(tmp_path / "big.png", DecodeLimits(max_pixels=300 * 300 - 1))
    assert caught.value.reason == "too_large"


def test_missing_file(tmp_path):
    with pytest.raises(UnusableImageError) as caught:
        decode_image(tmp_path / "nope.jpg")
    assert caught.value.reason == "unreadable"
