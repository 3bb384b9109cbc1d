"""pSp, e4e, TriPlaneNet v2 and GOAE through the :class:`~dualinv.baselines.Inverter` protocol.

A trained baseline encoder is anything with ``encode(images [B,3,r,r], cameras [B,25], generator)
-> (ws [B,L,K], trigrid [B,3,D*C,H,W])`` (the training branch's ``InversionEncoder``, and the e4e
and GOAE encoders of :mod:`dualinv.encoders`). The adapter resizes inputs to the encoder side the
way the encoders were trained (average pooling, pSp), times the batch, and renders with the shared
frozen generator.
"""

from __future__ import annotations

import time
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from dualinv.baselines.result import InversionResult, check_inputs, synchronise


class TrainedEncoder(Protocol):
    def encode(self, image: torch.Tensor, camera: torch.Tensor, generator: nn.Module
               ) -> tuple[torch.Tensor, torch.Tensor]: ...


def fit_encoder_side(images: torch.Tensor, side: int) -> torch.Tensor:
    """Average-pool (or bilinearly enlarge) images to the encoder's input side."""
    if images.shape[-1] >= side:
        return F.adaptive_avg_pool2d(images, side)
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)


class EncoderInverter:
    """One forward pass per batch: the encoder baselines' rows of Tables 1 and 2."""

    def __init__(
        self,
        encoder: TrainedEncoder,       # trained baseline encoder, eval mode
        generator: nn.Module,          # the frozen PanoHead generator it was trained with
        encoder_resolution: int,       # side of the encoder's input images (paper 256)
    ):
        self.encoder, self.generator, self.encoder_resolution = encoder, generator, encoder_resolution

    @torch.no_grad()
    def invert(self, images: torch.Tensor, cameras: torch.Tensor) -> InversionResult:
        check_inputs(images, cameras)
        started = time.perf_counter()
        ws, trigrid = self.encoder.encode(fit_encoder_side(images, self.encoder_resolution), cameras, self.generator)
        synchronise(images.device)
        seconds = (time.perf_counter() - started) / images.shape[0]
        batch = images.shape[0]
        return InversionResult(ws=ws, trigrid=trigrid, generators=(self.generator,) * batch,
                               seconds_per_image=(seconds,) * batch)
