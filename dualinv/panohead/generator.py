"""The PanoHead generator with the official module names and call signatures (specs/panohead.md §1).

``PanoHeadGenerator(config)`` has exactly the state-dict names of the official ``G_ema``, so official
weights load with ``strict=True``. Unlike the official module, ``synthesis`` never writes
``neural_rendering_resolution``; only the official ``cache_backbone=True`` flag stores the planes.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.errors import CheckpointError
from dualinv.panohead.config import PanoHeadConfig
from dualinv.panohead.decoder import OSGDecoder
from dualinv.panohead.layers import ToRGBLayer
from dualinv.panohead.mapping import MappingNetwork
from dualinv.panohead.rendering import rays_from_cameras, render_volume, run_decoder
from dualinv.panohead.superresolution import SUPERRESOLUTION_SPECS, Superresolution
from dualinv.panohead.synthesis import SynthesisNetwork
from dualinv.panohead.trigrid import TRIGRID_FEATURES
from dualinv.shapes import assert_shape

TRANSLATION_INDICES = (3, 7, 11)
"""Camera-label slots of the cam2world translation column (§1.5 step 2)."""
SYNTHESIS_KWARGS = frozenset({"noise_mode", "force_fp32", "fused_modconv"})
"""The extra keyword arguments the official synthesis forwards to its layers."""
EXTRA_OFFICIAL_KEY = "dataset_label_std"
"""The one buffer the training loop adds after construction (§1.2)."""


class TrigridBackbone(nn.Module):
    """StyleGAN2 ``backbone``: ``synthesis`` (tri-grid) then ``mapping`` (same order as the official state dict)."""

    def __init__(self, config: PanoHeadConfig):
        super().__init__()
        rendering = config.rendering
        self.synthesis = SynthesisNetwork(
            config.w_dim,
            img_resolution=rendering.triplane_size,
            img_channels=3 * TRIGRID_FEATURES * rendering.triplane_depth,
            channel_base=config.channel_base,
            channel_max=config.channel_max,
            num_fp16_res=config.num_fp16_res,
            conv_clamp=config.conv_clamp,
            fused_modconv_default=config.fused_modconv_default,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, self.num_ws, num_layers=config.mapping_layers)


class PanoHeadGenerator(nn.Module):
    """Tri-grid 3D-aware GAN: mapping → tri-grid → volume rendering → background → super-resolution."""

    def __init__(self, config: PanoHeadConfig):
        super().__init__()
        self.config = config
        rendering = config.rendering
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.register_buffer(EXTRA_OFFICIAL_KEY, torch.ones([config.c_dim]) if config.dataset_label_std else None)
        self.backbone = TrigridBackbone(config)
        self.superresolution = Superresolution(
            SUPERRESOLUTION_SPECS[rendering.superresolution_class],
            channels=TRIGRID_FEATURES,
            sr_num_fp16_res=config.sr_num_fp16_res,
            sr_antialias=rendering.sr_antialias,
            fused_modconv_default=True if config.sr_kwargs.fused_modconv_default is None else config.sr_kwargs.fused_modconv_default,
        )
        self.decoder = OSGDecoder(TRIGRID_FEATURES, TRIGRID_FEATURES, rendering.decoder_lr_mul, rendering.decoder_activation)
        self.torgb = ToRGBLayer(TRIGRID_FEATURES, 3, config.w_dim) if rendering.use_torgb_raw else None
        self.bcg_synthesis = None
        if rendering.use_background:
            self.bcg_synthesis = SynthesisNetwork(
                config.w_dim,
                img_resolution=self.superresolution.input_resolution,
                img_channels=TRIGRID_FEATURES,
                channel_base=config.channel_base // 2,
                channel_max=config.channel_max,
                num_fp16_res=config.num_fp16_res,
                conv_clamp=config.conv_clamp,
                fused_modconv_default=config.fused_modconv_default,
            )
        self.t_mapping = MappingNetwork(
            config.z_dim, config.c_dim, 3, num_ws=1, num_layers=config.mapping_layers, lr_multiplier=1.0, last_activation="linear"
        )
        self._last_planes: torch.Tensor | None = None  # only written by synthesis(cache_backbone=True)

    # ----------------------------------------------------------------------------------- attributes
    @property
    def neural_rendering_resolution(self) -> int:
        """Default R of the volume-rendered image (from the config; never changed by a call)."""
        return self.config.neural_rendering_resolution

    @property
    def rendering_kwargs(self) -> dict[str, Any]:
        """The official ``rendering_kwargs`` as a plain dict (a fresh copy; editing it changes nothing)."""
        return self.config.rendering.to_dict()

    @property
    def num_ws(self) -> int:
        """Number of style vectors: the backbone's (14 in the release)."""
        return self.backbone.num_ws

    # -------------------------------------------------------------------------------------- mapping
    def _conditioning(self, c: torch.Tensor) -> torch.Tensor:
        if self.config.rendering.c_gen_conditioning_zero:
            c = torch.zeros_like(c)
        return c * self.config.rendering.c_scale

    def mapping(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False) -> torch.Tensor:
        """``z [B,z_dim]``, conditioning camera ``c [B,25]`` → ``ws [B,num_ws,w_dim]`` (§1.4)."""
        return self.backbone.mapping(z, self._conditioning(c), truncation_psi, truncation_cutoff, update_emas)

    def apply_delta_c(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        """Camera with the learned translation offset Δt added at slots 3, 7, 11 (§1.5 step 2) and Δt [B,3]."""
        delta = self.t_mapping(z, self._conditioning(c), truncation_psi, truncation_cutoff, update_emas)[:, 0]
        camera = c.clone()
        camera[:, list(TRANSLATION_INDICES)] += delta
        return camera, delta

    # ------------------------------------------------------------------------------------ synthesis
    def synthesize_trigrid(self, ws: torch.Tensor, noise_mode: str = "const", generator: torch.Generator | None = None,
                           update_emas: bool = False, **synthesis_kwargs) -> torch.Tensor:
        """``ws [B,num_ws,w_dim]`` → tri-grid ``[B,3,D*C,H,W]`` (backbone output viewed per plane, §3.1)."""
        _check_synthesis_kwargs(synthesis_kwargs)
        planes = self.backbone.synthesis(ws, noise_mode=noise_mode, generator=generator, update_emas=update_emas, **synthesis_kwargs)
        return planes.view(planes.shape[0], 3, -1, planes.shape[-2], planes.shape[-1])  # [B,3,D*C,H,W]

    def render_trigrid(
        self,
        trigrid: torch.Tensor,
        ws: torch.Tensor,
        c: torch.Tensor,
        neural_rendering_resolution: int | None = None,
        generator: torch.Generator | None = None,
        ws_bcg: torch.Tensor | None = None,
        update_emas: bool = False,
        **synthesis_kwargs,
    ) -> dict[str, torch.Tensor]:
        """Render any tri-grid ``[B,3,D*C,H,W]`` from cameras ``c [B,25]`` (§1.5 steps 3.1, 3.3–3.9).

        ``ws`` drives the background, raw ToRGB and super-resolution. Returns ``image [B,3,S,S]``,
        ``image_raw [B,3,R,R]``, ``image_depth [B,1,R,R]`` (ray distance) and ``image_mask [B,1,R,R]``.
        """
        _check_synthesis_kwargs(synthesis_kwargs)
        rendering = self.config.rendering
        batch = trigrid.shape[0]
        assert_shape(trigrid, [None, 3, TRIGRID_FEATURES * rendering.triplane_depth, None, None], "trigrid")
        assert_shape(c, [batch, 25], "c")
        resolution = self.neural_rendering_resolution if neural_rendering_resolution is None else neural_rendering_resolution
        origins, directions = rays_from_cameras(c, resolution)
        features, depth, weight_total = render_volume(trigrid, self.decoder, origins, directions, rendering, generator)
        feature_image = features.permute(0, 2, 1).reshape(batch, features.shape[-1], resolution, resolution)
        depth_image = depth.permute(0, 2, 1).reshape(batch, 1, resolution, resolution)
        weight_image = weight_total.permute(0, 2, 1).reshape(batch, 1, resolution, resolution)
        if self.decoder.activation == "sigmoid":
            feature_image = feature_image * 2 - 1
        if self.bcg_synthesis is not None:
            background = self.bcg_synthesis(
                _background_ws(ws if ws_bcg is None else ws_bcg, self.bcg_synthesis.num_ws),
                generator=generator, update_emas=update_emas, **synthesis_kwargs,
            )
            background = F.interpolate(background, size=feature_image.shape[2:], mode="bilinear",
                                       align_corners=False, antialias=rendering.sr_antialias)
            feature_image = feature_image + (1 - weight_image) * background
        if self.torgb is not None:
            rgb_image = self.torgb(feature_image, ws[:, -1], fused_modconv=False).to(torch.float32)
        else:
            rgb_image = feature_image[:, :3]
        sr_kwargs = {k: v for k, v in synthesis_kwargs.items() if k != "noise_mode"}
        image = self.superresolution(rgb_image, feature_image, ws, noise_mode=rendering.superresolution_noise_mode,
                                     generator=generator, **sr_kwargs)
        mask = weight_image * (1 + 2 * 0.001) - 0.001
        return {"image": image, "image_raw": rgb_image, "image_depth": depth_image, "image_mask": mask}

    def synthesis(self, ws, c, neural_rendering_resolution=None, update_emas=False, ws_bcg=None,
                  cache_backbone=False, use_cached_backbone=False, generator: torch.Generator | None = None,
                  **synthesis_kwargs) -> dict[str, torch.Tensor]:
        """Official ``G.synthesis`` (§1.5 step 3); the default ``noise_mode`` is ``'random'`` as upstream.

        ``cache_backbone=True`` stores the tri-grid in ``_last_planes`` and ``use_cached_backbone=True``
        reuses it (official API; the only state a call may change).
        """
        synthesis_kwargs.setdefault("noise_mode", "random")
        if use_cached_backbone and self._last_planes is not None:
            trigrid = self._last_planes
        else:
            trigrid = self.synthesize_trigrid(ws, generator=generator, update_emas=update_emas, **synthesis_kwargs)
        if cache_backbone:
            self._last_planes = trigrid
        return self.render_trigrid(trigrid, ws, c, neural_rendering_resolution, generator=generator, ws_bcg=ws_bcg,
                                   update_emas=update_emas, **synthesis_kwargs)

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, neural_rendering_resolution=None, update_emas=False,
                cache_backbone=False, use_cached_backbone=False, generator: torch.Generator | None = None,
                **synthesis_kwargs) -> dict[str, torch.Tensor]:
        """Official ``G(z, c)``: mapping, the Δt camera offset, then synthesis with the offset camera."""
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)
        camera, _ = self.apply_delta_c(z, c, truncation_psi, truncation_cutoff, update_emas)
        return self.synthesis(ws, camera, neural_rendering_resolution, update_emas, cache_backbone=cache_backbone,
                              use_cached_backbone=use_cached_backbone, generator=generator, **synthesis_kwargs)

    # ------------------------------------------------------------------------- point queries (§4.5)
    def sample_mixed(self, coordinates, directions, ws, truncation_psi=1, truncation_cutoff=None, update_emas=False,
                     generator: torch.Generator | None = None, **synthesis_kwargs) -> dict[str, torch.Tensor]:
        """Raw decoder output at ``coordinates [B,M,3]``: ``{'sigma' [B,M,1], 'rgb' [B,M,32], 'xyz'}``; no crop."""
        del truncation_psi, truncation_cutoff  # accepted and unused, as upstream
        synthesis_kwargs.setdefault("noise_mode", "random")
        trigrid = self.synthesize_trigrid(ws, generator=generator, update_emas=update_emas, **synthesis_kwargs)
        return run_decoder(trigrid, self.decoder, coordinates, directions, self.config.rendering, generator)

    def sample(self, coordinates, directions, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False,
               generator: torch.Generator | None = None, **synthesis_kwargs) -> dict[str, torch.Tensor]:
        """Like ``sample_mixed`` but from ``z`` and a conditioning camera ``c``."""
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)
        return self.sample_mixed(coordinates, directions, ws, update_emas=update_emas, generator=generator, **synthesis_kwargs)

    # ---------------------------------------------------------------------------------- loading
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        # Adopt the training-time ``dataset_label_std`` buffer when a checkpoint carries it (§1.2).
        key = prefix + EXTRA_OFFICIAL_KEY
        if key in state_dict and getattr(self, EXTRA_OFFICIAL_KEY) is None:
            value = state_dict[key]
            device = next(self.parameters()).device
            self.register_buffer(EXTRA_OFFICIAL_KEY, torch.empty(value.shape, dtype=value.dtype, device=device))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def load_official_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Strict load of an official ``G_ema`` state dict; ``dataset_label_std`` may be present or absent.

        Raises ``CheckpointError`` naming every missing, unexpected or mis-shaped key.
        """
        state_dict = dict(state_dict)
        own = self.state_dict()
        if EXTRA_OFFICIAL_KEY in own and EXTRA_OFFICIAL_KEY not in state_dict:
            state_dict[EXTRA_OFFICIAL_KEY] = own[EXTRA_OFFICIAL_KEY]
        expected = set(own) | {EXTRA_OFFICIAL_KEY}
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - expected)
        shapes = sorted(k for k in set(own) & set(state_dict) if tuple(own[k].shape) != tuple(state_dict[k].shape))
        if missing or unexpected or shapes:
            details = [f"missing {missing}" if missing else "", f"unexpected {unexpected}" if unexpected else "",
                       "shape mismatch " + ", ".join(f"{k}: ours {list(own[k].shape)} vs {list(state_dict[k].shape)}" for k in shapes)
                       if shapes else ""]
            raise CheckpointError(
                "the state dict does not fit this PanoHead configuration (" + "; ".join(d for d in details if d)
                + "); build the generator from the checkpoint's own init_kwargs"
            )
        self.load_state_dict(state_dict, strict=True)


def load_official_state_dict(generator: PanoHeadGenerator, state_dict: dict[str, torch.Tensor]) -> PanoHeadGenerator:
    """Function form of :meth:`PanoHeadGenerator.load_official_state_dict`; returns the generator."""
    generator.load_official_state_dict(state_dict)
    return generator


def _background_ws(ws: torch.Tensor, num_ws: int) -> torch.Tensor:
    """The first ``num_ws`` ws, padded by repeating the last one (§1.5 step 3.5)."""
    ws = ws[:, :num_ws]
    if ws.shape[1] < num_ws:
        ws = torch.cat([ws, ws[:, -1:].repeat(1, num_ws - ws.shape[1], 1)], 1)
    return ws


def _check_synthesis_kwargs(kwargs: dict[str, Any]) -> None:
    unknown = set(kwargs) - SYNTHESIS_KWARGS
    if unknown:
        raise TypeError(f"unexpected synthesis keyword argument(s) {sorted(unknown)}; allowed: {sorted(SYNTHESIS_KWARGS)}")
