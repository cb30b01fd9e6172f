"""The book's GAN objectives by name: each is a pair of losses (the critic's, the generator's) and a
Lipschitz method, from ``losses``. A new GAN is a row of this table, not a new training loop.

=============  ==========================================================  =====================  ==========
name           critic / discriminator loss L_D                             generator loss L_G     Lipschitz
=============  ==========================================================  =====================  ==========
``gan``        -E[log D(x)] - E[log(1 - D(G(z)))]  (logits; smoothed:       -E[log D(G(z))], or    --
               real label 1 - alpha)                                        E[log(1 - D(G(z)))], or
                                                                            ||E h(x) - E h(G(z))||^2
``wgan-clip``  E[f(G(z))] - E[f(x)]                                         -E[f(G(z))]            clip to c
``wgan-gp``    E[f(G(z))] - E[f(x)] + lambda E[(||grad f(x_hat)|| - 1)^2]   -E[f(G(z))]            penalty
``lsgan``      1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]                 1/2 E[(D(G(z)) - c)^2]  --
``hinge``      E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]                 -E[D(G(z))]            --
=============  ==========================================================  =====================  ==========

(Goodfellow et al. 2014; Arjovsky et al. 2017; Gulrajani et al. 2017; Mao et al. 2017; Lim & Ye 2017 and
Miyato et al. 2018.) Spectral normalisation is a property of the critic network, not of the objective, so
it is a separate switch (``TrainConfig.spectral_norm``) that any objective can use; SN-GAN is ``hinge``
with it on. ``OPTIONS`` says which objective-specific settings apply to which objective: a training
config that sets one that does not apply (a penalty weight without a penalty) is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from . import checks, losses

__all__ = ["Objective", "objective", "override", "NAMES", "OPTIONS", "WASSERSTEIN", "GAN_GENERATOR_LOSSES",
           "smoothed_discriminator_loss", "refuse_foreign_options"]

NAMES = ("gan", "wgan-clip", "wgan-gp", "lsgan", "hinge")
# The objective-specific settings (fields of TrainConfig / ImageTrainConfig) each objective takes.
OPTIONS = {
    "gan": ("generator_loss", "label_smoothing"),
    "wgan-clip": ("clip",),
    "wgan-gp": ("penalty_weight", "one_sided"),
    "lsgan": ("targets",),
    "hinge": (),
}
# Objectives whose critic is a Wasserstein critic: E[f(x)] - E[f(G(z))] estimates W1 (up to its constant).
WASSERSTEIN = ("wgan-clip", "wgan-gp")
# The GAN generator's losses: the minimax game's, the non-saturating one, and feature matching (Salimans et al.
# 2016: the generator matches the mean hidden features h of the discriminator on real data).
GAN_GENERATOR_LOSSES = (*losses.GENERATOR_LOSSES, "feature_matching")


@dataclass(frozen=True)
class Objective:
    """One objective: ``critic_loss(real_scores, fake_scores)`` (L_D, minimised by the critic, without the
    penalty), ``generator_loss(fake_scores)`` (L_G) and its Lipschitz method ``lipschitz``: ``"clip"``,
    ``"penalty"`` or ``"none"``. With ``feature_matching`` the generator's loss takes the critic's hidden
    features of a real and a generated batch instead: ``generator_loss(h(x), h(G(z)))``."""

    name: str
    critic_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator_loss: Callable[..., torch.Tensor]
    lipschitz: str = "none"
    feature_matching: bool = False


def refuse_foreign_options(name: str, settings: Mapping[str, Any]) -> None:
    """Refuse, naming it, a setting of ``settings`` (None: unset) that belongs to another objective than ``name``."""
    checks.choice("objective", name, NAMES)
    for option, value in settings.items():
        if option not in OPTIONS[name] and value is not None:
            users = [o for o, names in OPTIONS.items() if option in names]
            raise ValueError(f"{option}={value!r} does not apply to objective {name!r} "
                             f"(only to {', '.join(map(repr, users))}); leave it unset")


def override(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """The settings ``base`` with ``overrides`` applied, where a change of objective takes the old objective's
    own settings with it: ``override(dict(objective="wgan-clip", clip=0.01, steps=400), dict(objective="wgan-gp"))``
    is ``dict(objective="wgan-gp", steps=400)``, since the clip belongs to weight clipping. (A config that sets
    an option of another objective is refused; this is how a pinned run is changed to another objective.)"""
    merged = {**base, **overrides}
    name = merged.get("objective", "wgan-gp")
    if name in OPTIONS:
        foreign = {o for names in OPTIONS.values() for o in names} - set(OPTIONS[name])
        merged = {k: v for k, v in merged.items() if k not in foreign or k in overrides}
    return merged


def smoothed_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                                smoothing: float) -> torch.Tensor:
    """One-sided label smoothing (Salimans et al. 2016): cross-entropy with label 1 - alpha for real samples
    and 0 for fakes, -(1 - alpha) E[log D(x)] - alpha E[log(1 - D(x))] - E[log(1 - D(G(z)))]. With
    alpha = 0 it is ``losses.discriminator_loss``; the optimal discriminator becomes
    (1 - alpha) p_data / (p_data + p_g), so D stops pushing real scores to certainty."""
    return ((1 - smoothing) * F.softplus(-real_logits).mean() + smoothing * F.softplus(real_logits).mean()
            + F.softplus(fake_logits).mean())


def objective(name: str, *, generator_loss: str = "non_saturating", label_smoothing: float = 0.0,
              targets: tuple = (0.0, 1.0, 1.0)) -> Objective:
    """The objective ``name`` (one of ``NAMES``). ``generator_loss`` (``"non_saturating"``,
    ``"saturating"`` or ``"feature_matching"``) and ``label_smoothing`` alpha in [0, 1) are the GAN's; ``targets`` (a, b, c) are
    LSGAN's labels: fake a, real b, and c, the value the generator wants D to give its samples."""
    checks.choice("objective", name, NAMES)
    if name == "gan":
        checks.choice("generator_loss", generator_loss, GAN_GENERATOR_LOSSES)
        alpha = checks.number_at_least("label_smoothing", label_smoothing, 0.0, below=1.0)
        if alpha == 0:
            d_loss = losses.discriminator_loss
        else:
            def d_loss(real, fake):
                return smoothed_discriminator_loss(real, fake, alpha)
        if generator_loss == "feature_matching":
            return Objective(name, d_loss, losses.feature_matching_loss, feature_matching=True)
        return Objective(name, d_loss, lambda fake: losses.generator_loss(fake, generator_loss))
    if name in WASSERSTEIN:
        return Objective(name, losses.critic_loss, losses.wasserstein_generator_loss,
                         "clip" if name == "wgan-clip" else "penalty")
    if name == "lsgan":
        if not (isinstance(targets, (tuple, list)) and len(targets) == 3 and all(checks.is_number(t) for t in targets)):
            raise ValueError(f"targets must be three numbers (a, b, c), got {targets!r}")
        a, b, c = (float(t) for t in targets)
        if a == b:
            raise ValueError(f"targets: the fake label a and the real label b must differ, got a = b = {a}")
        return Objective(name, lambda real, fake: losses.least_squares_discriminator_loss(real, fake, a=a, b=b),
                         lambda fake: losses.least_squares_generator_loss(fake, c=c))
    return Objective(name, losses.hinge_discriminator_loss, losses.hinge_generator_loss)
