"""The objectives of the book, each next to its formula.

Notation: l(x) is the discriminator's logit and D(x) = sigmoid(l(x)); f(x) is a Wasserstein critic;
x ~ p_data are real samples and G(z) generated ones. All losses are *minimised* and averaged over the batch.
Logs are natural (nats). The hinge and least-squares losses take the critic's raw output D(x) (no sigmoid),
one score per sample: a tensor of shape (n,) or (n, 1).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import checks

__all__ = [
    "discriminator_loss",
    "generator_loss",
    "critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
    "clip_weights",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "GENERATOR_LOSSES",
    "feature_matching_loss",
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
    checks.choice("generator loss", kind, GENERATOR_LOSSES)
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


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
    c = checks.positive_number("c", c)
    for p in module.parameters():
        p.clamp_(-c, c)


# ---- hinge (SN-GAN) and least-squares (LSGAN) objectives -------------------------------------------------

def _scores(name: str, scores) -> torch.Tensor:
    """Refuse anything but a non-empty floating-point (n,) or (n, 1) tensor of critic outputs."""
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point() or scores.numel() == 0 \
            or not (scores.dim() == 1 or (scores.dim() == 2 and scores.shape[1] == 1)):
        got = f"{scores.dtype} tensor of shape {tuple(scores.shape)}" if isinstance(scores, torch.Tensor) \
            else type(scores).__name__
        raise ValueError(f"{name} must be a non-empty floating-point tensor of shape (n,) or (n, 1) "
                         f"(one critic output per sample), got {got}")
    return scores


def _target(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def hinge_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], on the critic's raw outputs D (no sigmoid).

    The hinge loss of a margin classifier with label +1 for real and -1 for fake: a real sample scored
    above 1, or a fake one below -1, costs nothing and sends no gradient (Lim & Ye 2017, "Geometric GAN";
    Miyato et al. 2018 train their spectrally normalised critics with it). Its minimum is 0.
    """
    real, fake = _scores("real", real), _scores("fake", fake)
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the hinge GAN's generator raises the critic's raw score of its samples (Lim & Ye 2017;
    Miyato et al. 2018). The same number as ``wasserstein_generator_loss``; only the critic's loss differs."""
    return -_scores("fake", fake).mean()


def least_squares_discriminator_loss(real: torch.Tensor, fake: torch.Tensor, *, a: float = 0.0,
                                     b: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]: least-squares regression of the raw output D onto the
    label b for real and a for fake samples (LSGAN, Mao et al. 2017, Sec. 3.2). The defaults a = 0, b = 1 are
    the paper's 0-1 coding; a = -1, b = 1 (with c = 0 for the generator) is the coding under which the
    generator minimises a Pearson chi^2 divergence (``theory.least_squares_generator_objective``).
    """
    real, fake = _scores("real", real), _scores("fake", fake)
    a, b = _target("a", a), _target("b", b)
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()


def least_squares_generator_loss(fake: torch.Tensor, *, c: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2]: the LSGAN generator pulls the critic's raw score of its samples toward c, the
    value it wants the discriminator to believe for fake data (Mao et al. 2017, Sec. 3.2; c = 1 = b by default).
    Unlike the saturating GAN loss, a fake that D scores far from c still gets a gradient proportional to
    the distance."""
    fake = _scores("fake", fake)
    c = _target("c", c)
    return 0.5 * ((fake - c) ** 2).mean()


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E[h(x)] - E[h(G(z))]||_2^2: feature matching (Salimans et al. 2016, Sec. 3.1). The generator matches
    the mean of the discriminator's hidden activations h on real data instead of maximising D's output, so it
    chases statistics of the data rather than the current discriminator's favourite points. The features are
    (n, k) tensors; the real ones carry no gradient."""
    if not isinstance(real_features, torch.Tensor) or not isinstance(fake_features, torch.Tensor) \
            or real_features.dim() != 2 or real_features.shape[1:] != fake_features.shape[1:]:
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                  for t in (real_features, fake_features)]
        raise ValueError(f"real_features and fake_features must be (n, k) tensors with the same k, got {shapes}")
    return (real_features.detach().mean(dim=0) - fake_features.mean(dim=0)).pow(2).sum()
