"""Dual-encoder inversion (paper §3.4, Fig. 4): both encoders, the occlusion mask, the stitched tri-grid.

Encoder 1 (``encoder_visible``) and Encoder 2 (``encoder_occluded``) each turn the image into codes
and a tri-grid. The depth rendered from Encoder 1's tri-grid at the input camera gives the
occlusion mask O (Eq. 3); the final tri-grid takes visible cells from Encoder 1 and occluded cells
from Encoder 2, and renders from any camera.

Decision (the paper does not say which codes drive the background, raw ToRGB and super-resolution
of the stitched tri-grid): Encoder 1's ``ws``, because the input view, the one compared with the
photo, is its domain.

Which checkpoint goes where (:func:`check_encoder_roles`): every training checkpoint records its
experiment, and the registry says whether it was trained with a discriminator. Encoder 1 is the
visible-region encoder, trained on reconstruction losses only; Encoder 2 is the occluded-region
encoder, trained with a discriminator (§3.3). A pair whose first checkpoint was trained with a
discriminator and whose second was not is the two encoders swapped, and it is refused before
anything is loaded. Every other pair is allowed on purpose, so ablations can be stitched: a
Table 3 discriminator variant (``d_image``, ``d_triplane``) as Encoder 2, a Table 4 variant
(``real_wplus``, ...) as Encoder 1, or one encoder in both places.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dualinv.config import StudyConfig
from dualinv.dual.stitch import stitch_trigrids
from dualinv.errors import ConfigError
from dualinv.models.checkpoint import load_trained_encoder, recorded_config, recorded_experiment
from dualinv.models.experiments import Experiment
from dualinv.models.generator import build_generator
from dualinv.models.inversion import DualParts, Inversion, check_inputs, fit_side
from dualinv.models.inversion_encoder import InversionEncoder
from dualinv.occlusion import occlusion_mask
from dualinv.seeding import make_generator


class DualInverter:
    """Image + camera → stitched tri-grid → renders at any camera (batch API of the CLI and the workflow)."""

    def __init__(
        self,
        generator: torch.nn.Module,               # frozen PanoHead generator both encoders were trained against
        encoder_visible: InversionEncoder,        # paper Encoder 1 (reconstruction losses only)
        encoder_occluded: InversionEncoder,       # paper Encoder 2 (with the occlusion-aware discriminator)
        encoder_resolution: tuple[int, int],      # input sides of Encoder 1 and Encoder 2
        opacity_threshold: float = 0.5,           # rendered opacity below which a depth pixel is background
        seed: int = 0,                            # seed of the renderer's sample jitter
        generator_source: str = "given",          # where the generator came from (file, or stand-in + seed)
        stand_in: bool = False,                   # seeded random generator or encoders: never the paper's numbers
    ) -> None:
        self.generator = generator
        self.encoder_visible = encoder_visible
        self.encoder_occluded = encoder_occluded
        self.encoder_resolution = encoder_resolution
        self.opacity_threshold = opacity_threshold
        self.seed = seed
        self.generator_source = generator_source
        self.stand_in = stand_in

    max_batch_size = None
    warm_up = True

    @classmethod
    def from_checkpoints(cls, encoder1: str | Path, encoder2: str | Path, network: str | Path | None = None,
                         device: str | torch.device = "cpu", seed: int = 0) -> "DualInverter":
        """Load both encoders; both must have been trained against the same generator (checked).

        The occlusion mask uses Encoder 1's training setting of the opacity threshold. A swapped
        pair is refused before anything is loaded (module doc).
        """
        check_encoder_roles(recorded_experiment(encoder1), recorded_experiment(encoder2), (encoder1, encoder2))
        generator = identity = None
        if network is not None:
            trained = recorded_config(encoder1)
            generator, identity = build_generator(trained.generator, str(network), trained.training.seed, device)
        visible, config_visible, generator, identity = load_trained_encoder(encoder1, generator, identity, device)
        occluded, config_occluded, _, _ = load_trained_encoder(encoder2, generator, identity, device)
        return cls.from_trained(generator, (visible, config_visible), (occluded, config_occluded), seed=seed,
                                generator_source=identity.source, stand_in=identity.stand_in)

    @classmethod
    def from_trained(cls, generator: torch.nn.Module, visible: tuple[InversionEncoder, StudyConfig],
                     occluded: tuple[InversionEncoder, StudyConfig], *, seed: int = 0,
                     generator_source: str = "given", stand_in: bool = False) -> "DualInverter":
        """The inverter of two trained encoders, each given with the study config it was trained with (§3.4).

        The one place that decides the settings: each encoder reads images at its own training
        ``encoder.input_resolution``, and the occlusion mask uses Encoder 1's training
        ``training.occlusion_opacity_threshold`` (the depth it thresholds is rendered from Encoder 1's tri-grid).
        """
        (encoder_visible, config_visible), (encoder_occluded, config_occluded) = visible, occluded
        return cls(generator, encoder_visible, encoder_occluded,
                   encoder_resolution=(config_visible.encoder.input_resolution,
                                       config_occluded.encoder.input_resolution),
                   opacity_threshold=config_visible.training.occlusion_opacity_threshold, seed=seed,
                   generator_source=generator_source, stand_in=stand_in)

    @property
    def device(self) -> torch.device:
        return self.encoder_visible.front_camera.device

    @torch.no_grad()
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> Inversion:
        """images [B,3,H,W] in [-1,1] (aligned crops) and their cameras [B,25] → the stitched
        :class:`~dualinv.models.inversion.Inversion`, its ``dual`` parts holding both tri-grids and the mask."""
        check_inputs(images, cameras)
        images, cameras = images.to(self.device).float(), cameras.to(self.device).float()
        rng = make_generator(self.seed, self.device)
        ws, trigrid_visible = self.encoder_visible.encode(fit_side(images, self.encoder_resolution[0]), cameras,
                                                          self.generator, rng)
        ws_occluded, trigrid_occluded = self.encoder_occluded.encode(fit_side(images, self.encoder_resolution[1]),
                                                                     cameras, self.generator, rng)
        render = self.generator.render_trigrid(trigrid_visible, ws, cameras, generator=rng)
        rendering = self.generator.config.rendering
        mask = occlusion_mask(render["image_depth"], cameras, image_mask=render["image_mask"],
                              trigrid_resolution=rendering.triplane_size, trigrid_depth=rendering.triplane_depth,
                              box_warp=rendering.box_warp, opacity_threshold=self.opacity_threshold).occluded
        parts = DualParts(trigrid_visible=trigrid_visible, trigrid_occluded=trigrid_occluded, ws_occluded=ws_occluded,
                          depth=render["image_depth"], occlusion_mask=mask)
        return Inversion(ws=ws, trigrid=stitch_trigrids(trigrid_visible, trigrid_occluded, mask),
                         generators=(self.generator,) * images.shape[0], cameras=cameras, dual=parts)

    @torch.no_grad()
    def render(self, inversion: Inversion, cameras: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Render the stitched heads at ``cameras`` [B,25] (default: the input cameras)."""
        cameras = inversion.cameras if cameras is None else cameras.to(self.device).float()
        return self.generator.render_trigrid(inversion.trigrid, inversion.ws, cameras,
                                             generator=make_generator(self.seed, self.device))


def check_encoder_roles(visible: Experiment, occluded: Experiment, paths: tuple[str | Path, str | Path]) -> None:
    """Refuse Encoder 1 / Encoder 2 checkpoints given the wrong way round (module doc, "Which
    checkpoint goes where"): the first trained with a discriminator and the second without one."""

    if visible.discriminator != "none" and occluded.discriminator == "none":
        raise ConfigError(
            f"the encoder checkpoints are swapped: the Encoder 1 checkpoint {paths[0]} is {visible.name!r} (trained "
            f"with the {visible.discriminator!r} discriminator, an occluded-region encoder) and the Encoder 2 "
            f"checkpoint {paths[1]} is {occluded.name!r} (trained without a discriminator, a visible-region "
            f"encoder). Give {paths[1]} as --encoder1 and {paths[0]} as --encoder2.")
