"""The objectives of the book, each next to its formula.

Notation: l(x) is the discriminator's logit and D(x) = sigmoid(l(x)); f(x) is a Wasserstein critic;
x ~ p_data are real samples and G(z) generated ones. All losses are *minimised* and averaged over the batch.
Logs are natural (nats).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "discriminator_loss",
    "generator_loss",
    "critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
    "clip_weights",
    "GENERATOR_LOSSES",
]

GENERATOR_LOSSES = ("saturating", "non_saturating")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) = -E[log D(x)] - E[log(1 - D(G(z)))], computed stably from logits.

    log D = -softplus(-l) and log(1 - D) = -softplus(l), so this is binary cross-entropy with
    label 1 for real and 0 for fake.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on the logits l(G(z)).

    - ``"saturating"``: E[log(1 - D(G(z)))] = -E[softplus(l)], the minimax game as written. When D
      rejects the fakes (D(G(z)) -> 0, l -> -inf) its gradient dies: d/dl = -sigmoid(l) -> 0.
    - ``"non_saturating"``: -E[log D(G(z))] = E[softplus(-l)], same fixed points, and its gradient
      d/dl = -(1 - sigmoid(l)) -> -1 exactly when D rejects the fakes.
    """
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"unknown generator loss {kind!r}; use one of {GENERATOR_LOSSES}")


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E[f(G(z))] - E[f(x)]: minimising it maximises the critic's estimate E[f(x)] - E[f(G(z))] of W1."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-E[f(G(z))]: the generator moves its samples up the critic."""
    return -fake_scores.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, *, one_sided: bool = False,
                     generator: Optional[torch.Generator] = None, eps: Optional[torch.Tensor] = None,
                     reduction: str = "mean") -> torch.Tensor:
    """The WGAN-GP penalty E[(||grad f(x_hat)||_2 - 1)^2], unscaled by lambda.

    x_hat = eps * x + (1 - eps) * G(z) with eps ~ U[0, 1] per sample, on random interpolates between
    paired real and fake samples. The result is differentiable with respect to the critic's parameters
    (``create_graph=True``), so ``(critic_loss + lam * penalty).backward()`` trains against it.
    ``one_sided=True`` penalises only norms above 1: E[max(0, ||grad f(x_hat)||_2 - 1)^2].
    ``fake`` is detached: the penalty constrains the critic, not the generator.
    ``eps`` (shape (n, 1, ...)) gives the interpolation weights instead of drawing them from ``generator``;
    ``reduction="none"`` returns the n per-sample terms (||grad f(x_hat_i)||_2 - 1)^2 instead of their mean.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    if eps is None:
        eps = torch.rand(eps_shape, generator=generator, dtype=real.dtype).to(real.device)
    elif tuple(eps.shape) != eps_shape:
        raise ValueError(f"eps must have shape {eps_shape} (one weight per sample), got {tuple(eps.shape)}")
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp_min(0)
    terms = excess ** 2
    return terms.mean() if reduction == "mean" else terms


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` to [-c, c] in place (the WGAN paper's Lipschitz constraint)."""
    c = float(c)
    if not c > 0 or c != c or c == float("inf"):
        raise ValueError(f"clip value c must be a positive finite number, got {c!r}")
    for p in module.parameters():
        p.clamp_(-c, c)
