"""Image operations of the authors' metric script (three-bee/gen_metrics), reimplemented.

Two pieces of their protocol change the numbers a user gets and are not in our own metrics:

- real images are downscaled ×2 with MATLAB-style bicubic ``imresize`` (antialiased cubic kernel,
  a = -0.5, symmetric padding at the border) before they are compared with 512² renders at 256²;
- the ID metric compares faces aligned by a 5-point similarity warp of MTCNN's landmarks onto the
  MTCNN reference template of the 112×112 square crop.

Both are pure PyTorch and exact; tests check them against independent computations.
"""
from __future__ import annotations

import math

import torch

from dualinv.eval.mtcnn import load_mtcnn

#: MTCNN's reference landmarks of the 96×112 crop (left eye, right eye, nose, left and right mouth
#: corner; x, y in pixels), as published with the MTCNN alignment code the authors use.
REFERENCE_POINTS_96X112 = (
    (30.29459953, 51.69630051),
    (65.53179932, 51.50139999),
    (48.02519989, 71.73660278),
    (33.54930115, 92.3655014),
    (62.72990036, 92.20410156),
)


def reference_points_112() -> torch.Tensor:
    """The 112×112 square template: the 96×112 one padded by 8 px on each side in x."""
    points = torch.tensor(REFERENCE_POINTS_96X112, dtype=torch.float64)
    points[:, 0] += (112 - 96) / 2
    return points


def _cubic(x: torch.Tensor) -> torch.Tensor:
    """MATLAB's bicubic kernel (Keys, a = -0.5)."""
    ax = x.abs()
    ax2, ax3 = ax ** 2, ax ** 3
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def _resize_weights(in_size: int, out_size: int, dtype: torch.dtype) -> torch.Tensor:
    """(out_size, in_size) matrix of MATLAB ``imresize`` along one axis, antialiased when shrinking.

    MATLAB maps output pixel u (1-based) to input x = u / scale + 0.5 * (1 - 1 / scale), widens the
    kernel by 1 / scale when scale < 1, normalises each row and mirrors indices at the border.
    """
    scale = out_size / in_size
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    u = torch.arange(1, out_size + 1, dtype=torch.float64)
    x = u / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(x - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    distance = x[:, None] - indices
    weights = scale * _cubic(distance * scale) if scale < 1 else _cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    zero_based = (indices - 1).long()
    period = 2 * in_size
    mirrored = torch.remainder(zero_based, period)
    mirrored = torch.where(mirrored >= in_size, period - 1 - mirrored, mirrored)
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    matrix.scatter_add_(1, mirrored, weights)
    return matrix.to(dtype)


def matlab_imresize(images: torch.Tensor, out_height: int, out_width: int) -> torch.Tensor:
    """Resize (..., H, W) images as MATLAB ``imresize(..., 'bicubic')`` does (antialiased)."""
    height, width = images.shape[-2:]
    compute = torch.float64 if images.dtype == torch.float64 else torch.float32
    rows = _resize_weights(height, out_height, compute).to(images.device)
    cols = _resize_weights(width, out_width, compute).to(images.device)
    resized = rows @ images.to(compute) @ cols.T
    return resized.to(images.dtype) if images.dtype.is_floating_point else resized


def downscale_real_images(images: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """The authors' resize of real images: MATLAB bicubic by 1 / factor (gen_metrics, ×2 down)."""
    height, width = images.shape[-2:]
    if height % factor or width % factor:
        raise ValueError(f"image size {height}x{width} is not divisible by the downscale factor {factor}")
    return matlab_imresize(images, height // factor, width // factor)


def similarity_from_points(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) source → target.

    Returns the 2×3 matrix ``[s R | t]`` mapping (x, y) pixel coordinates, the transform MTCNN's
    alignment estimates from the five landmarks (Umeyama's closed form).
    """
    source = source.to(torch.float64)
    target = target.to(torch.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = torch.linalg.svd(covariance)
    sign = torch.ones(2, dtype=torch.float64)
    if torch.det(u) * torch.det(vt) < 0:
        sign[1] = -1
    rotation = u @ torch.diag(sign) @ vt
    variance = source_centred.pow(2).sum(1).mean()
    scale = (singular * sign).sum() / variance
    translation = target_mean - scale * rotation @ source_mean
    return torch.cat([scale * rotation, translation[:, None]], dim=1)


def warp_affine(image: torch.Tensor, matrix: torch.Tensor, out_size: int = 112) -> torch.Tensor:
    """Warp a (C, H, W) image by a 2×3 pixel-coordinate matrix (source → output), bilinear.

    Pixel centres are at integer coordinates, as in OpenCV's ``warpAffine``; outside is black.
    """
    channels, height, width = image.shape
    full = torch.eye(3, dtype=torch.float64)
    full[:2] = matrix.to(torch.float64)
    inverse = torch.linalg.inv(full)[:2]
    ys, xs = torch.meshgrid(torch.arange(out_size, dtype=torch.float64),
                            torch.arange(out_size, dtype=torch.float64), indexing="ij")
    grid_out = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)
    source = grid_out @ inverse.T
    normalised = torch.stack([source[..., 0] * 2 / (width - 1) - 1,
                              source[..., 1] * 2 / (height - 1) - 1], dim=-1)
    warped = torch.nn.functional.grid_sample(image[None].to(torch.float64), normalised[None],
                                             mode="bilinear", padding_mode="zeros", align_corners=True)
    return warped[0].to(image.dtype)


def align_face(image: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """The 112² ID crop: similarity warp of five (x, y) landmarks onto the MTCNN template."""
    matrix = similarity_from_points(landmarks, reference_points_112())
    return warp_affine(image, matrix, 112)


def authors_mse(renders: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-image MSE on [0, 1] images of shape (N, C, H, W), the authors' L2."""
    return (renders.to(torch.float64) - targets.to(torch.float64)).pow(2).flatten(1).mean(1)


def authors_lpips_input(images: torch.Tensor) -> torch.Tensor:
    """Library images in [-1, 1] as the authors feed LPIPS: on [0, 1], not rescaled.

    Their LPIPS module z-scores its input with the constants of the [-1, 1] convention
    (shift -0.030/-0.088/-0.188, scale 0.458/0.448/0.450) but is called on [0, 1] images, so the
    trunk sees a contrast halved and shifted; feed the result to an LPIPS that expects [-1, 1].
    """
    return (images + 1) / 2


def id_mean_with_misses(similarities: list[float | None]) -> tuple[float | None, int]:
    """Mean ID over the pairs where MTCNN found both faces, and how many it missed.

    The authors' script records ``None`` for a miss and then averages with ``sum``, which fails on
    the first ``None``: their published numbers come from test sets without a miss. We leave misses
    out of the mean and report their count beside it.
    """
    found = [value for value in similarities if value is not None]
    misses = len(similarities) - len(found)
    return (sum(found) / len(found) if found else None), misses


AUTHORS_MTCNN_THRESHOLDS = (0.15, 0.25, 0.35)
"""P/R/O-Net score thresholds of the authors' ``MTCNN.detect_faces`` (minimum face 20 px, as facenet-pytorch's
default); lower than facenet-pytorch's (0.6, 0.7, 0.7), so fewer faces are missed."""


class FaceLandmarks:
    """Five MTCNN landmarks per image (:mod:`dualinv.eval.mtcnn`, with the P/R/O-Net weights facenet-pytorch ships).

    ``detect`` takes a (3, H, W) image in [0, 1] and returns the (5, 2) (x, y) landmarks of the most
    confident face (eyes, nose, mouth corners: the order of the alignment template), or ``None``; the
    authors' script takes the first face after non-maximum suppression, which is the most confident one.
    """

    def __init__(self, device: str = "cpu", thresholds: tuple[float, float, float] = AUTHORS_MTCNN_THRESHOLDS):
        self.detector = load_mtcnn(thresholds, device=device)

    def detect(self, image: torch.Tensor) -> torch.Tensor | None:
        pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)  # the 8-bit image MTCNN was given
        faces = self.detector.detect(pixels)
        if faces.probabilities.numel() == 0:
            return None
        return faces.landmarks[0].to(device="cpu", dtype=torch.float64)


def authors_id_similarity(real: torch.Tensor, fake: torch.Tensor, face_network: torch.nn.Module,
                          landmarks: FaceLandmarks) -> float | None:
    """ID of one pair as the authors compute it: MTCNN-aligned 112² crops of both images, the
    embeddings' dot product; ``None`` when MTCNN finds no face in either (count it, see
    :func:`id_mean_with_misses`). Images are (3, H, W) in [0, 1]; crops go to the network in [-1, 1]."""
    embeddings = []
    for image in (real, fake):
        points = landmarks.detect(image)
        if points is None:
            return None
        crop = align_face(image.to(torch.float64), points).to(torch.float32) * 2 - 1
        with torch.no_grad():
            embeddings.append(face_network(crop[None])[0])
    return float(embeddings[0].dot(embeddings[1]))
