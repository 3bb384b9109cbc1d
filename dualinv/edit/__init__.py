"""Reference-based 3D editing in tri-grid space (paper §5.3, Fig. 10): parts, lifting, blending."""

from dualinv.edit.blend import blend_trigrids, feather_cells
from dualinv.edit.face_parsing import FaceParsingSegmenter
from dualinv.edit.parts import SUPPORTED_PARTS, PartSegmenter, PartSegmenterConfig, part_mask_from_landmarks
from dualinv.edit.transfer import EditConfig, HeadCode, PartEdit, localise_part, transfer_part

__all__ = ["EditConfig", "FaceParsingSegmenter", "HeadCode", "PartEdit", "PartSegmenter", "PartSegmenterConfig",
           "SUPPORTED_PARTS", "blend_trigrids", "feather_cells", "localise_part", "part_mask_from_landmarks",
           "transfer_part"]
