"""One of the paper's encoders as a single module: latent stage (W+/Z/Z+) plus optional F stage.

Eq. 1 and §3.2: ``ws = E(I)`` (W+ offsets from ``w_avg``, or Z / Z+ codes through the mapping with
the front camera, Table 4), ``T = G(ws)``, and with the F stage (TriPlaneNet v2, A.2)
``T ← T + F(render of ws, I − render, mirror(I) − render at the mirrored camera)``. Training and
dual inference both call :meth:`InversionEncoder.encode`, so the two can never disagree.

Design decision (not stated by the paper): the W+ and F stages are trained jointly by one
optimiser on the loss of the final render; the F-stage inputs use the W+ renders detached, as in
TriPlaneNet v2 (encoders-baselines.md §3.1).
"""

from __future__ import annotations

import torch
from torch import nn

from dualinv.camera import mirror_label
from dualinv.encoders import TriPlaneFeatureEncoder, WPlusEncoder, feature_stage_input
from dualinv.models.inversion import fit_side
from dualinv.seeding import in_parts


class InversionEncoder(nn.Module):
    """image [B,3,r,r] + camera [B,25] → (ws [B,L,K], tri-grid [B,3,D*C,H,W]) for a frozen generator."""

    def __init__(
        self,
        latent: nn.Module,                              # WPlusEncoder, ZPlusEncoder or ZEncoder
        feature_stage: TriPlaneFeatureEncoder | None,   # F stage, or None (Table 4 ablations)
        front_camera: torch.Tensor,                     # [25] conditioning of Z / Z+ codes (A.2)
    ) -> None:
        super().__init__()
        self.latent = latent
        self.feature_stage = feature_stage
        self.register_buffer("front_camera", front_camera.detach().reshape(25).float().clone(), persistent=False)

    def latent_codes(self, image: torch.Tensor, generator: nn.Module) -> torch.Tensor:
        """ws [B, num_ws, w_dim] (Table 4: W+ directly, Z / Z+ through the mapping at the front camera)."""
        if isinstance(self.latent, WPlusEncoder):
            return self.latent(image)
        return self.latent.to_ws(image, generator.mapping, self.front_camera)

    def encode(self, image: torch.Tensor, camera: torch.Tensor, generator: nn.Module,
               rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 1 (+ F stage): the codes and the tri-grid of ``image`` seen from ``camera``."""
        ws = self.latent_codes(image, generator)
        trigrid = generator.synthesize_trigrid(ws, noise_mode="const")
        if self.feature_stage is None:
            return ws, trigrid
        return ws, self.refine(image, camera, generator, ws, trigrid, rng)

    def refine(self, image: torch.Tensor, camera: torch.Tensor, generator: nn.Module, ws: torch.Tensor,
               trigrid: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """The F stage alone: ``trigrid + F(...)`` for given W+ codes and their tri-grid (A.2, TriPlaneNet v2)."""
        side = image.shape[-1]
        with torch.no_grad():
            cameras = torch.cat([camera, mirror_label(camera)])  # [2B, 25]: input and mirrored views
            renders = generator.render_trigrid(torch.cat([trigrid, trigrid]).detach(), torch.cat([ws, ws]).detach(),
                                               cameras, generator=in_parts(rng, 2))["image"]
            renders = fit_side(renders.float(), side)
            render, render_mirrored = renders.chunk(2)
        stack = feature_stage_input(image, render, image.flip(-1), render_mirrored)  # [B, 9, r, r]
        return self.feature_stage(stack, trigrid)

    def forward(self, image, camera, generator, rng=None):
        return self.encode(image, camera, generator, rng)
