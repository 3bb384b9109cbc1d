"""3DDFA_V2's TDDFA regressor and BFM decoding, in PyTorch and numpy (PanoHead's pose step, spec
panohead.md §8.2 step 3; Guo et al. 2020, "Towards Fast, Accurate and Stable 3D Dense Face Alignment").

TDDFA is a MobileNet v1 (width 1.0 or 0.5) that regresses 62 numbers from a 120² BGR crop of the face:
a 3×4 affine camera (12), 40 BFM shape and 10 expression coefficients, each whitened by the
published mean/std (``param_mean_std_62d_120x120.pkl``). Its crop ("ROI box") is a square grown from
a face box (``roi_box_from_face_box``) or from landmarks (``roi_box_from_landmarks``).

Every file is read without running code: the regressor with ``torch.load(weights_only=True)``, the
two pickles (param mean/std, ``bfm_noneck_v3.pkl``) with :func:`read_array_pickle`, which only
rebuilds numpy arrays of plain dtypes inside dicts and lists.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dualinv.errors import CheckpointError, MissingWeightsError

INPUT_SIZE = 120
"""Side of the regressor's input crop."""
PARAM_COUNT = 62
"""12 camera + 40 shape + 10 expression coefficients."""
SHAPE_DIM = 40
EXPRESSION_DIM = 10
PIXEL_MEAN = 127.5
PIXEL_STD = 128.0
WIDTHS = (1.0, 0.5)
"""The published widths: ``mb1_120x120.pth`` and ``mb05_120x120.pth``."""
WEIGHTS_SOURCE = "https://github.com/cleardusk/3DDFA_V2 (weights/mb1_120x120.pth, weights/mb05_120x120.pth, " \
                 "configs/param_mean_std_62d_120x120.pkl, configs/bfm_noneck_v3.pkl)"


# --- pickles of numpy arrays, read without running code ---------------------------------------

def _plain_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise CheckpointError(f"numpy dtype {dtype} holds Python objects; refused")
    return dtype


def _reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise CheckpointError("only numpy.ndarray may be rebuilt from this pickle")
    return np.ndarray.__new__(np.ndarray, shape, _plain_dtype(dtype_code))


def _scalar(dtype: np.dtype, data: bytes) -> Any:
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise CheckpointError("a numpy scalar in the pickle is not a plain number")
    return np.frombuffer(data, dtype=dtype)[0]


class _ArrayUnpickler(pickle.Unpickler):
    """Allows exactly the globals a pickled dict of numpy arrays uses; refuses every other one."""

    _ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _plain_dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "scalar"): _scalar,
        ("numpy._core.multiarray", "scalar"): _scalar,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(f"the pickle asks for {module}.{name}, which a file of numpy arrays never needs; "
                                  "refused (nothing was run)") from None


def read_array_pickle(path: str | Path) -> Any:
    """The content of a pickle holding only numpy arrays in dicts/lists (3DDFA_V2's config files)."""
    data = Path(path).read_bytes()
    try:
        return _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file
        raise CheckpointError(f"{path} is not a readable pickle of numpy arrays ({type(error).__name__}: {error})") from None


def _existing(path: str | Path | None, what: str, filename: str) -> Path:
    if path is None or not Path(path).expanduser().is_file():
        raise MissingWeightsError(f"{what} file {filename} not found at {str(path)!r}: get {filename} from "
                                  f"{WEIGHTS_SOURCE} and set its path in the config")
    return Path(path).expanduser()


# --- the regressor ----------------------------------------------------------------------------

class _DepthwiseSeparable(nn.Module):
    """3×3 depthwise conv + BN + ReLU, then 1×1 conv + BN + ReLU (parameter names as the checkpoint's)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)
        self.bn_dw = nn.BatchNorm2d(in_channels)
        self.conv_sep = nn.Conv2d(in_channels, out_channels, 1, 1, 0, bias=False)
        self.bn_sep = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn_dw(self.conv_dw(x)))
        return torch.relu(self.bn_sep(self.conv_sep(x)))


_BLOCKS = (  # (name, in, out, stride) at width 1
    ("dw2_1", 32, 64, 1), ("dw2_2", 64, 128, 2), ("dw3_1", 128, 128, 1), ("dw3_2", 128, 256, 2),
    ("dw4_1", 256, 256, 1), ("dw4_2", 256, 512, 2), ("dw5_1", 512, 512, 1), ("dw5_2", 512, 512, 1),
    ("dw5_3", 512, 512, 1), ("dw5_4", 512, 512, 1), ("dw5_5", 512, 512, 1), ("dw5_6", 512, 1024, 2),
    ("dw6", 1024, 1024, 1),
)


class MobileNetV1(nn.Module):
    """The TDDFA backbone: a stride-2 3×3 conv, 13 depthwise-separable blocks, global average pool,
    one linear layer to the 62 whitened parameters."""

    def __init__(self, width: float = 1.0, outputs: int = PARAM_COUNT) -> None:
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"TDDFA width must be one of {WIDTHS}, got {width}")
        self.width = width
        self.conv1 = nn.Conv2d(3, int(32 * width), 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(int(32 * width))
        for name, cin, cout, stride in _BLOCKS:
            setattr(self, name, _DepthwiseSeparable(int(cin * width), int(cout * width), stride))
        self.fc = nn.Linear(int(1024 * width), outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        for name, *_ in _BLOCKS:
            x = getattr(self, name)(x)
        return self.fc(x.mean(dim=(2, 3)))


def regressor_state(checkpoint: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A 3DDFA_V2 checkpoint's ``state_dict`` under this module's names: the multi-GPU ``module.``
    prefix dropped and ``fc_param`` read as ``fc``, as the official loader does."""
    state = {}
    for name, tensor in checkpoint.items():
        name = name.replace("module.", "")
        state[name.replace("fc_param.", "fc.")] = tensor
    return state


def load_regressor(path: str | Path | None, width: float) -> MobileNetV1:
    """The regressor from ``mb1_120x120.pth`` (width 1.0) or ``mb05_120x120.pth`` (0.5), in eval mode."""
    filename = "mb1_120x120.pth" if width == 1.0 else "mb05_120x120.pth"
    checked = _existing(path, "TDDFA regressor", filename)
    try:
        loaded = torch.load(checked, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001
        raise CheckpointError(f"{checked} cannot be read by torch.load(weights_only=True) "
                              f"({type(error).__name__}); get {filename} from {WEIGHTS_SOURCE}") from None
    checkpoint = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{checked} holds no state dict; expected {filename} from {WEIGHTS_SOURCE}")
    model = MobileNetV1(width)
    state = regressor_state(checkpoint)
    expected = model.state_dict()
    problems = [name for name, tensor in expected.items()
                if name not in state or tuple(state[name].shape) != tuple(tensor.shape)]
    if problems:
        raise CheckpointError(f"{checked} does not match the width-{width} TDDFA regressor "
                              f"(first mismatched names: {problems[:3]}); is it {filename}?")
    model.load_state_dict({name: state[name] for name in expected})
    return model.eval()


def seeded_regressor(width: float, seed: int) -> MobileNetV1:
    """A labelled stand-in regressor with :func:`seed_parameters` weights."""
    return seed_parameters(MobileNetV1(width), seed).eval()


def seed_parameters(model: nn.Module, seed: int) -> nn.Module:
    """Every parameter and BN statistic of ``model`` drawn from numpy's seeded generator in state-dict
    order (normal·0.1 for weights/biases/means, BN running var uniform [0.5, 1.5]), so the official
    code can be given bit-identical weights (tests/data/fixtures)."""
    generator = np.random.default_rng(seed)
    state = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = tensor
        elif name.endswith("running_var"):
            state[name] = torch.from_numpy(generator.uniform(0.5, 1.5, tuple(tensor.shape)).astype(np.float32))
        else:
            state[name] = torch.from_numpy((0.1 * generator.standard_normal(tuple(tensor.shape))).astype(np.float32))
    model.load_state_dict(state)
    return model


@dataclass(frozen=True)
class ParamWhitening:
    """Mean and std of the 62 parameters (``param_mean_std_62d_120x120.pkl``)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def from_file(cls, path: str | Path | None) -> "ParamWhitening":
        content = read_array_pickle(_existing(path, "TDDFA parameter mean/std", "param_mean_std_62d_120x120.pkl"))
        if not isinstance(content, dict) or "mean" not in content or "std" not in content:
            raise CheckpointError(f"{path} has no 'mean' and 'std' entries; expected param_mean_std_62d_120x120.pkl")
        mean, std = (np.asarray(content[key], dtype=np.float32).reshape(-1) for key in ("mean", "std"))
        if mean.shape != (PARAM_COUNT,) or std.shape != (PARAM_COUNT,):
            raise CheckpointError(f"{path}: mean/std are not 62 values each")
        return cls(mean, std)

    @classmethod
    def seeded(cls, seed: int) -> "ParamWhitening":
        """A labelled stand-in: camera entries near a 3DDFA-like affine camera, coefficients small."""
        generator = np.random.default_rng(seed)
        mean = np.zeros(PARAM_COUNT, dtype=np.float32)
        mean[:12] = np.array([5e-4, 0, 0, 60, 0, 5e-4, 0, 60, 0, 0, 5e-4, 60], dtype=np.float32)
        std = np.concatenate([np.full(12, 1e-4), generator.uniform(1e3, 2e3, 40), generator.uniform(0.5, 1.0, 10)])
        std[[3, 7, 11]] = 5.0
        return cls(mean, std.astype(np.float32))


# --- the ROI crop and the forward pass ---------------------------------------------------------

def roi_box_from_face_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """TDDFA's square crop from a face detector box (left, top, right, bottom): side ⌊1.58·mean side⌋,
    centre moved down by 0.14 of the mean side."""
    left, top, right, bottom = box[:4]
    old = (right - left + bottom - top) / 2
    centre_x = right - (right - left) / 2.0
    centre_y = bottom - (bottom - top) / 2.0 + old * 0.14
    side = int(old * 1.58)
    return (centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2)


def roi_box_from_landmarks(points: np.ndarray) -> tuple[float, float, float, float]:
    """TDDFA's square crop from landmarks [N, 2]: the diagonal of their bounding square, centred."""
    points = np.asarray(points, dtype=np.float64)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    centre = (low + high) / 2
    radius = (high - low).max() / 2
    side = float(np.hypot(2 * radius, 2 * radius))
    return (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2)


def crop_roi(image: np.ndarray, roi_box: tuple[float, float, float, float]) -> np.ndarray:
    """The ROI of ``image`` [H, W, 3] at integer-rounded corners, zero outside the picture."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (int(round(value)) for value in roi_box)
    out = np.zeros((y1 - y0, x1 - x0) + image.shape[2:], dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


class Tddfa:
    """Regressor + whitening: :meth:`params` gives the 62 de-whitened parameters of one face."""

    def __init__(self, regressor: MobileNetV1, whitening: ParamWhitening) -> None:
        self.regressor = regressor.eval()
        self.whitening = whitening

    @torch.no_grad()
    def params(self, image_bgr: np.ndarray, roi_box: tuple[float, float, float, float]) -> np.ndarray:
        """62 parameters [62] float32 for the face in ``roi_box`` of a BGR uint8 image (3DDFA_V2 reads
        photos with OpenCV, so the regressor was trained on BGR)."""
        import cv2  # OpenCV loads only when this runs, not on CLI start-up

        crop = cv2.resize(crop_roi(image_bgr, roi_box), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        batch = (torch.from_numpy(crop.transpose(2, 0, 1).copy()).float()[None] - PIXEL_MEAN) / PIXEL_STD
        raw = self.regressor(batch).numpy().reshape(-1).astype(np.float32)
        return raw * self.whitening.std + self.whitening.mean


# --- the affine camera ------------------------------------------------------------------------

def decompose_camera(params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation [3, 3], translation [3]) of the 3×4 affine camera in ``params[:12]``: rows 1-2
    normalised, row 3 their cross product, scale the mean of the two row norms (3DDFA_V2 ``P2sRt``)."""
    camera = np.asarray(params[:12], dtype=np.float64).reshape(3, 4)
    row1, row2 = camera[0, :3], camera[1, :3]
    scale = (np.linalg.norm(row1) + np.linalg.norm(row2)) / 2.0
    r1, r2 = row1 / np.linalg.norm(row1), row2 / np.linalg.norm(row2)
    return float(scale), np.stack([r1, r2, np.cross(r1, r2)]), camera[:, 3].copy()


def rotation_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """3DDFA_V2's (yaw, pitch, roll) in degrees of a rotation (its ``matrix2angle``, gimbal cases included)."""
    r = rotation
    if r[2, 0] > 0.998:
        yaw, pitch, roll = np.pi / 2, np.arctan2(-r[0, 1], -r[0, 2]), 0.0
    elif r[2, 0] < -0.998:
        yaw, pitch, roll = -np.pi / 2, np.arctan2(r[0, 1], r[0, 2]), 0.0
    else:
        yaw = np.arcsin(r[2, 0])
        pitch = np.arctan2(r[2, 1] / np.cos(yaw), r[2, 2] / np.cos(yaw))
        roll = np.arctan2(r[1, 0] / np.cos(yaw), r[0, 0] / np.cos(yaw))
    return tuple(float(np.degrees(angle)) for angle in (yaw, pitch, roll))


# --- the Basel Face Model ---------------------------------------------------------------------

@dataclass(frozen=True)
class Bfm:
    """3DDFA_V2's BFM (``bfm_noneck_v3.pkl``): mean shape ``u`` [3V] (x, y, z interleaved per vertex),
    shape basis [3V, 40], expression basis [3V, 10], and the vertex indices of the 68 landmarks
    ``keypoints`` [204] (into ``u``'s flat layout)."""

    mean_shape: np.ndarray
    shape_basis: np.ndarray
    expression_basis: np.ndarray
    keypoints: np.ndarray
    stand_in: bool = False

    @classmethod
    def from_file(cls, path: str | Path | None) -> "Bfm":
        content = read_array_pickle(_existing(path, "BFM", "bfm_noneck_v3.pkl"))
        if not isinstance(content, dict) or not {"u", "w_shp", "w_exp", "keypoints"} <= set(content):
            raise CheckpointError(f"{path} lacks u/w_shp/w_exp/keypoints; expected bfm_noneck_v3.pkl")
        return cls(np.asarray(content["u"], dtype=np.float32).reshape(-1),
                   np.asarray(content["w_shp"], dtype=np.float32)[:, :SHAPE_DIM],
                   np.asarray(content["w_exp"], dtype=np.float32)[:, :EXPRESSION_DIM],
                   np.asarray(content["keypoints"]).astype(np.int64).reshape(-1))

    @classmethod
    def seeded(cls, seed: int, vertices: int = 200) -> "Bfm":
        """A labelled stand-in of the same layout: a head-sized ellipsoid (units as BFM's, ~1e5 span)
        with seeded bases and 68 keypoint vertices."""
        generator = np.random.default_rng(seed)
        direction = generator.standard_normal((vertices, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        points = direction * np.array([75000.0, 95000.0, 60000.0]) + np.array([0.0, 0.0, 20000.0])
        mean_shape = points.reshape(-1).astype(np.float32)
        shape_basis = (generator.standard_normal((3 * vertices, SHAPE_DIM)) * 10.0).astype(np.float32)
        expression_basis = (generator.standard_normal((3 * vertices, EXPRESSION_DIM)) * 1e3).astype(np.float32)
        landmark_vertices = generator.choice(vertices, 68, replace=False)
        keypoints = (3 * landmark_vertices[:, None] + np.arange(3)[None]).reshape(-1)
        return cls(mean_shape, shape_basis, expression_basis, keypoints.astype(np.int64), stand_in=True)

    def centre_depth(self) -> float:
        """Mean z of the mean shape (what PanoHead's recentring moves the head centre by, half of it)."""
        return float(self.mean_shape.reshape(-1, 3)[:, 2].mean())

    def vertices(self, params: np.ndarray, roi_box: tuple[float, float, float, float], dense: bool = False) -> np.ndarray:
        """[3, N] vertices in image pixels: R·(u + W_shp·α + W_exp·β) + offset in the 120² crop frame,
        then mapped to the photo (3DDFA_V2 ``recon_vers`` + ``similar_transform``). ``dense=False``
        gives the 68 landmarks."""
        params = np.asarray(params, dtype=np.float32)
        camera = params[:12].reshape(3, 4)
        alpha_shape = params[12:12 + SHAPE_DIM].reshape(-1, 1)
        alpha_expression = params[12 + SHAPE_DIM:].reshape(-1, 1)
        rows = slice(None) if dense else self.keypoints
        flat = (self.mean_shape[rows].reshape(-1, 1) + self.shape_basis[rows] @ alpha_shape
                + self.expression_basis[rows] @ alpha_expression)
        points = camera[:, :3] @ flat.reshape(3, -1, order="F") + camera[:, 3:]
        return to_image(points, roi_box)


def to_image(points: np.ndarray, roi_box: tuple[float, float, float, float], size: int = INPUT_SIZE) -> np.ndarray:
    """Crop-frame points [3, N] (1-based x, y up from the crop's bottom) -> photo pixels, z shifted to min 0."""
    points = np.array(points, dtype=np.float32)
    points[0] -= 1
    points[2] -= 1
    points[1] = size - points[1]
    x0, y0, x1, y1 = roi_box
    scale_x, scale_y = (x1 - x0) / size, (y1 - y0) / size
    points[0] = points[0] * scale_x + x0
    points[1] = points[1] * scale_y + y0
    points[2] *= (scale_x + scale_y) / 2
    points[2] -= points[2].min()
    return points
