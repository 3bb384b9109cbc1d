"""Ranger = RAdam + Lookahead + gradient centralisation, the optimiser of paper §4.1 (lr 1e-4).

Written from the update rule in encoders-baselines.md §7 (pSp/e4e/TriPlaneNet ``ranger.py``,
"version 20.4.11"), with the same defaults: betas (0.95, 0.999), eps 1e-5, Lookahead alpha 0.5
every k = 6 steps, rectification threshold 5, gradient centralisation on every gradient with more
than one dimension, L2-style weight decay (0 here).

Warm-up decision (§7, "Important finding"). While the variance estimate is not yet rectifiable
(rho_t <= 5, steps 1-5 for beta2 = 0.999) we take the **bias-corrected momentum-SGD step**
``p -= lr / (1 - beta1^t) * m`` exactly like the 20.4.11 reference. We do *not* reproduce
pytorch-optimizer's default (``degenerated_to_sgd=False``), which multiplies that step by -1 and
moves uphill for the first five steps; a test checks the first step decreases a quadratic.

Other differences from the reference, none of which change the trajectory: ``p.grad`` is not
modified by centralisation (the reference centralises it in place), a ``closure`` is evaluated
(the reference ignores it), and the step size is computed per parameter rather than read from a
10-entry cache keyed by step (the cached values are the same numbers).

State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and the Lookahead
``slow_buffer``; all of it lives in ``self.state`` so ``state_dict()``/``load_state_dict()``
resume bit-exactly (for fp32/fp64 parameters: ``torch.optim.Optimizer.load_state_dict`` casts the
moments to the parameter dtype, so fp16/bf16 parameters would lose the fp32 moments on resume).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from dualinv.errors import ConfigError

PAPER_LEARNING_RATE = 1e-4
"""Learning rate of both encoders and the discriminator (paper §4.1)."""


def rectification(step: int, beta2: float) -> tuple[float, float]:
    """RAdam's (rho_t, rho_inf) for 1-based ``step`` (§7): ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    beta2_t = beta2 ** step
    return rho_inf - 2.0 * step * beta2_t / (1.0 - beta2_t), rho_inf


class Ranger(torch.optim.Optimizer):
    """RAdam with Lookahead and gradient centralisation (§7); defaults are the pSp recipe at lr 1e-4."""

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = PAPER_LEARNING_RATE,            # learning rate (paper §4.1: 1e-4)
        betas: tuple[float, float] = (0.95, 0.999),  # moment decay rates (reference defaults)
        eps: float = 1e-5,                           # added to sqrt(v) in the rectified step
        weight_decay: float = 0.0,                   # L2-style decay p -= wd * lr * p; 0 in the paper
        alpha: float = 0.5,                          # Lookahead interpolation towards the fast weights
        k: int = 6,                                  # Lookahead sync period, in the parameter's own steps
        rectify_threshold: float = 5.0,              # rho_t above which the adaptive step is used
        centralize_gradients: bool = True,           # subtract the per-output mean of >1-D gradients
    ):
        if lr <= 0 or eps <= 0 or weight_decay < 0 or not 0 < alpha <= 1 or k < 1:
            raise ConfigError(f"invalid Ranger settings lr={lr}, eps={eps}, weight_decay={weight_decay}, "
                              f"alpha={alpha}, k={k}")
        if not all(0 <= beta < 1 for beta in betas):
            raise ConfigError(f"Ranger betas must lie in [0, 1), got {betas}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, alpha=alpha, k=k,
                        rectify_threshold=rectify_threshold, centralize_gradients=centralize_gradients)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: torch.Tensor, group: dict) -> None:
        if param.grad.is_sparse:
            raise RuntimeError("Ranger does not support sparse gradients")
        compute_dtype = torch.promote_types(param.dtype, torch.float32)  # fp32 or better, as the reference
        grad = param.grad.to(compute_dtype)
        if group["centralize_gradients"] and grad.dim() > 1:
            grad = grad - grad.mean(dim=tuple(range(1, grad.dim())), keepdim=True)
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param, dtype=compute_dtype)
            state["exp_avg_sq"] = torch.zeros_like(param, dtype=compute_dtype)
            state["slow_buffer"] = param.detach().clone()
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)

        weights = param.to(compute_dtype)
        if group["weight_decay"] != 0:
            weights.add_(weights, alpha=-group["weight_decay"] * lr)
        rho_t, rho_inf = rectification(step, beta2)
        bias_correction1 = 1.0 - beta1 ** step
        if rho_t > group["rectify_threshold"]:
            factor = math.sqrt((1.0 - beta2 ** step) * (rho_t - 4.0) / (rho_inf - 4.0)
                               * (rho_t - 2.0) / rho_t * rho_inf / (rho_inf - 2.0))
            weights.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-lr * factor / bias_correction1)
        else:  # warm-up: bias-corrected momentum SGD, downhill (module docstring)
            weights.add_(exp_avg, alpha=-lr / bias_correction1)
        param.copy_(weights)

        if step % group["k"] == 0:  # Lookahead: slow <- slow + alpha (fast - slow); fast <- slow
            slow = state["slow_buffer"]
            slow.add_(param - slow, alpha=group["alpha"])
            param.copy_(slow)
