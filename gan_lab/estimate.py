"""Estimates that need a trained network: a discriminator trained (close) to optimality.

For a fixed generator with distribution p_g, the best discriminator attains
max_D V(D, G) = -log 4 + 2 JS(p_data || p_g), so a trained discriminator turns two samples into a
(lower-bound) estimate of the Jensen-Shannon divergence: JS ~ (V + log 4) / 2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import nn

from . import losses, nets, settings
from .train import Data, _real_sampler

__all__ = ["fit_discriminator", "DiscriminatorFit"]


@dataclass
class DiscriminatorFit:
    """A trained ``discriminator`` (returns logits), its value V(D, G) on held-out samples, the JS
    estimate (V + log 4) / 2 in nats, and the value after each logged step (``curve``)."""

    discriminator: nn.Module
    value: float
    js: float
    curve: list


def fit_discriminator(p_data: Data, p_g: Data, *, steps: int = 1000, batch_size: int = 256, width: int = 128,
                      depth: int = 2, lr: float = 1e-3, eval_samples: int = 4096, seed: int = 0,
                      discriminator: Optional[nn.Module] = None,
                      device: Optional[Union[str, torch.device]] = None) -> DiscriminatorFit:
    """Train D to maximise V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)) between two fixed
    distributions (names, (n, d) tensors or samplers, as in ``gan_lab.train``), with Adam.

    Returns the discriminator and V measured on ``eval_samples`` fresh points of each distribution.
    """
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_samples", eval_samples)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    sample_p, _, dim_p = _real_sampler(p_data)
    sample_q, _, dim_q = _real_sampler(p_g)
    if dim_p != dim_q:
        raise ValueError(f"p_data is {dim_p}-D but p_g is {dim_q}-D")
    dev = settings.resolve_device(device)
    settings.seed_everything(seed)
    D = discriminator if discriminator is not None else nets.discriminator(dim_p, width=width, depth=depth)
    D = D.to(dev)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    rng = torch.Generator().manual_seed(seed)
    held = torch.Generator().manual_seed(seed + 10_000)
    x_eval, y_eval = sample_p(eval_samples, held).to(dev), sample_q(eval_samples, held).to(dev)

    def value() -> float:
        with torch.no_grad():
            return -float(losses.discriminator_loss(D(x_eval), D(y_eval)))

    curve = []
    log_every = max(1, steps // 50)
    for step in range(1, steps + 1):
        x, y = sample_p(batch_size, rng).to(dev), sample_q(batch_size, rng).to(dev)
        loss = losses.discriminator_loss(D(x), D(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            curve.append((step, value()))
    v = curve[-1][1]
    return DiscriminatorFit(D, v, (v + math.log(4.0)) / 2, curve)
