"""How the Lipschitz constraint, weight clipping, a gradient penalty or spectral normalisation, shapes a critic.

A Wasserstein critic f must stay (close to) 1-Lipschitz for E_P f - E_Q f to estimate W1(P, Q). The
WGAN paper clamps every parameter to [-c, c] after each update; WGAN-GP instead adds
lambda E[(||grad f(x_hat)||_2 - 1)^2] at random interpolates x_hat; SN-GAN divides every weight by its
largest singular value, W / sigma(W). This module trains critics all three ways between two fixed
distributions and measures what the constraint did to them:

- ``fit_critic``: train f to (near) optimality against a fixed P and Q, with ``constraint="clip"``,
  ``"penalty"`` (``one_sided=True`` for E[max(0, ||grad f(x_hat)||_2 - 1)^2]) or ``"spectral"``;
- ``layer_gradient_norms``: ||dL/dz_l|| for every layer l of an MLP critic, L = E_Q f - E_P f, z_l the
  l-th linear layer's output (or ``wrt="weights"``: ||dL/dW_l||);
- ``weight_values`` and ``fraction_at_bounds``: the critic's weights, and the share of them sitting at +-c;
- ``falloff``: how often f falls when one steps off the data: how much of its structure f resolves;
- ``clip_lipschitz_bound`` and ``matched_clip``: the bound K(c) that clipping at c puts on an MLP critic's
  Lipschitz constant, and the c that gives a critic of another width the same K(c);
- ``spectral_bound``: prod_l ||W_l||_2, the tighter bound a given critic's weights give;
- ``interpolate_norms``: ||grad f(x_hat)||_2 at the interpolates x_hat where WGAN-GP's penalty looks;
- ``initial_critic``: the untrained critic ``fit_critic`` starts from.

P and Q are given as in ``gan_lab.train``: a data-set name, an (n, d) tensor, or a sampler (n, generator).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch
from torch import nn

from . import checks, data, estimate, losses, nets, settings, spectral
from .data import Data

__all__ = ["fit_critic", "CriticFit", "initial_critic", "layer_gradient_norms", "weight_values",
           "fraction_at_bounds", "falloff", "spectral_bound", "clip_lipschitz_bound", "matched_clip",
           "interpolate_norms", "CONSTRAINTS"]

CONSTRAINTS = ("clip", "penalty", "spectral")


class _Unset:
    """The default of ``fit_critic``'s ``clip`` and ``penalty_weight``: left unset by the caller. (None is not
    the mark, since None has always been refused as a clip or a penalty weight.)"""

    def __repr__(self) -> str:
        return "unset"


_UNSET = _Unset()
_DEFAULT_CLIP, _DEFAULT_PENALTY_WEIGHT = 0.01, 10.0


@dataclass
class CriticFit:
    """A trained ``critic`` f, its ``estimate`` E_P f - E_Q f on held-out samples, (step, estimate) after
    each logged step (``curve``), and the constraint it was trained under: ``constraint`` (``"clip"``,
    ``"penalty"`` or ``"spectral"``), ``bound`` (c for clipping, lambda for the penalty, 1 for spectral
    normalisation: the ||W_l / sigma_l||_2 every layer is held to) and ``one_sided``."""

    critic: nn.Module
    estimate: float
    curve: list
    constraint: str
    bound: float
    one_sided: bool = False


def fit_critic(real: Data, fake: Data, *, constraint: str = "penalty",
               clip: float = _UNSET, penalty_weight: float = _UNSET,  # type: ignore[assignment]
               one_sided: bool = False, steps: int = 1000,
               batch_size: int = 256, width: int = 512, depth: int = 3, lr: Optional[float] = None,
               betas: tuple = (0.5, 0.9), eval_samples: int = 4096, seed: int = 0,
               critic: Optional[nn.Module] = None,
               device: Optional[Union[str, torch.device]] = None) -> CriticFit:
    """Train a critic f to maximise E_P f - E_Q f between two fixed distributions P (``real``) and Q
    (``fake``) under a Lipschitz constraint, with Adam (``lr``, ``betas``).

    - ``constraint="clip"``: every parameter is kept in [-c, c] (c = ``clip``), as in the WGAN paper.
      The clamp is applied once before training and after every update, so every step and every
      evaluation sees clipped weights, and the returned critic is clipped. ``lr`` defaults to 5e-5.
    - ``constraint="penalty"``: the loss is E_Q f - E_P f + lambda E[(||grad f(x_hat)||_2 - 1)^2]
      (lambda = ``penalty_weight``; ``one_sided=True`` penalises only norms above 1), with x_hat on random
      segments between a P and a Q sample, as in WGAN-GP. ``lr`` defaults to 1e-4.
    - ``constraint="spectral"``: the loss is E_Q f - E_P f alone, and every linear layer of the critic is a
      ``nets.SpectralNormLinear``, which multiplies by W / sigma with sigma ~ sigma(W) = ||W||_2 from one
      power-iteration step per training forward pass (SN-GAN, Miyato et al. 2018): every layer, hence f with
      its 1-Lipschitz activations, is (about) 1-Lipschitz, ||f||_L <= prod_l ||W_l / sigma_l||_2 ~ 1
      (``spectral_bound``). ``clip`` and ``penalty_weight`` do not apply and are refused; a given ``critic``
      must have only ``SpectralNormLinear`` linear layers. ``lr`` defaults to 1e-4. The held-out evaluations
      run in training mode like the steps, so each pass also takes a power-iteration step, and the returned
      critic's stored u, v are those of its final weights.

    ``clip`` defaults to 0.01 and ``penalty_weight`` to 10. With ``"clip"`` or ``"penalty"`` the other
    constraint's setting is accepted and unused (chapter 5 passes both to both).

    The critic is ``initial_critic(d, width=width, depth=depth, seed=seed, spectral_norm=...)``
    (``nets.critic`` built right after ``seed_everything(seed)``, spectrally normalised for
    ``"spectral"``), unless ``critic`` is given (it is then trained in place).
    The WGAN paper trained its clipped critics with RMSProp; Adam is used for all three here, which changes how
    fast the weights travel, not where clipping lets them go.
    """
    checks.choice("constraint", constraint, CONSTRAINTS)
    if constraint == "spectral":
        for name, value, owner in (("clip", clip, "clip"), ("penalty_weight", penalty_weight, "penalty")):
            if value is not _UNSET:
                raise ValueError(f"{name}={value!r} does not apply to constraint='spectral' "
                                 f"(only to {owner!r}); leave it unset")
    clip = _DEFAULT_CLIP if clip is _UNSET else clip
    penalty_weight = _DEFAULT_PENALTY_WEIGHT if penalty_weight is _UNSET else penalty_weight
    checks.positive_number("clip", clip)
    checks.number_at_least("penalty_weight", penalty_weight, 0.0)
    checks.boolean("one_sided", one_sided)
    if one_sided and constraint != "penalty":
        raise ValueError("one_sided=True only applies to constraint='penalty'")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("width", width),
                        ("eval_samples", eval_samples)):
        checks.integer(name, value, 1)
    checks.integer("depth", depth, 0)
    checks.seed("seed", seed)
    if lr is None:
        lr = 5e-5 if constraint == "clip" else 1e-4
    checks.positive_number("lr", lr)
    checks.betas(betas)
    if critic is not None and not isinstance(critic, nn.Module):
        raise ValueError(f"critic must be a torch.nn.Module, got {type(critic).__name__}")
    if critic is not None and constraint == "spectral":
        linears = [m for m in critic.modules() if isinstance(m, nn.Linear)]
        plain = sum(not isinstance(m, nets.SpectralNormLinear) for m in linears)
        if not linears or plain:
            raise ValueError(f"constraint='spectral' needs a critic whose every nn.Linear is a "
                             f"nets.SpectralNormLinear (nets.critic(..., spectral_norm=True)); the critic given "
                             f"has {plain} plain of {len(linears)} linear layers")
    dim_p, dim_q = data.sampler(real, "real").dim, data.sampler(fake, "fake").dim
    if dim_p != dim_q:
        raise ValueError(f"real is {dim_p}-D but fake is {dim_q}-D")
    dev = settings.resolve_device(device)

    if critic is None:
        f = initial_critic(dim_p, width=width, depth=depth, seed=seed, spectral_norm=constraint == "spectral")
    else:
        settings.seed_everything(seed)
        f = critic
        nets.check_fits("critic", f.to(dev), dim_p, [(2,), (2, 1)], dev)

    def loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        value = losses.critic_loss(net(x), net(y))
        if constraint == "penalty" and penalty_weight > 0:
            value = value + penalty_weight * losses.gradient_penalty(net, x, y, one_sided=one_sided, generator=rng)
        return value

    clip_after_step = (lambda net: losses.clip_weights(net, clip)) if constraint == "clip" else None
    f, curve = estimate.fit_two_sample(f, real, fake, loss=loss, score=lambda net, x, y: net(x).mean() - net(y).mean(),
                                  steps=steps, batch_size=batch_size, lr=lr, betas=tuple(betas),
                                  eval_samples=eval_samples, seed=seed, device=dev, after_step=clip_after_step,
                                  names=("real", "fake"))
    bound = {"clip": float(clip), "penalty": float(penalty_weight), "spectral": 1.0}[constraint]
    return CriticFit(f, curve[-1][1], curve, constraint, bound, one_sided)


def initial_critic(data_dim: int, *, width: int = 512, depth: int = 3, seed: int = 0,
                   spectral_norm: bool = False) -> nets.MLP:
    """The untrained critic ``fit_critic(..., width=width, depth=depth, seed=seed)`` starts from:
    ``nets.critic(data_dim, width=width, depth=depth, spectral_norm=spectral_norm)`` built right after
    ``seed_everything(seed)`` (so it moves with the seed offset like every other seed); ``spectral_norm=True``
    for ``constraint="spectral"`` (the same weights W, divided by sigma(W) in every layer). Clamp it with
    ``losses.clip_weights`` to see the clipped critic before its first step."""
    for name, value, minimum in (("data_dim", data_dim, 1), ("width", width, 1), ("depth", depth, 0),
                                 ("seed", seed, 0)):
        checks.integer(name, value, minimum)
    checks.boolean("spectral_norm", spectral_norm)
    settings.seed_everything(seed)
    return nets.critic(data_dim, width=width, depth=depth, spectral_norm=spectral_norm)


def _linear_layers(critic: nn.Module) -> list[nn.Linear]:
    layers = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("the critic has no nn.Linear layers to measure")
    return layers


def layer_gradient_norms(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *,
                         wrt: str = "activations") -> torch.Tensor:
    """The size of the critic loss's gradient at every linear layer, input side first.

    L = E_Q f - E_P f = mean f(``fake``) - mean f(``real``) on the given batches. For the linear layers
    l = 1..L_layers of the critic (in the order they run), with z_l the l-th one's output on the whole batch:

    - ``wrt="activations"``: ||dL/dz_l||_F, the gradient as backpropagation carries it down the network
      (the WGAN-GP paper's Figure 1b). The last entry is ||dL/df|| = sqrt(1/n_P + 1/n_Q).
    - ``wrt="weights"``: ||dL/dW_l||_F, the gradient an optimiser sees for the l-th weight matrix.

    The batches are moved to the critic's device. Returns a float64 CPU tensor of length L_layers; the
    critic's parameters get no ``.grad``.
    """
    if wrt not in ("activations", "weights"):
        raise ValueError(f"wrt must be 'activations' or 'weights', got {wrt!r}")
    for name, x in (("real", real), ("fake", fake)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0 or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a non-empty floating-point (n, d) tensor, got {shape}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real is {real.shape[1]}-D but fake is {fake.shape[1]}-D")
    layers = _linear_layers(critic)
    outputs: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda module, args, out: outputs.append(out)) for layer in layers]
    first = next(critic.parameters(), None)
    try:
        with torch.enable_grad():
            x = torch.cat([real.detach(), fake.detach()])
            if first is not None:
                x = x.to(first.device)
            scores = critic(x)
            if len(outputs) != len(layers):
                raise ValueError(f"the critic ran {len(outputs)} linear layer calls for {len(layers)} layers; "
                                 "layer_gradient_norms needs each layer used exactly once")
            n = len(real)
            value = losses.critic_loss(scores[:n], scores[n:])
            targets = outputs if wrt == "activations" else [layer.weight for layer in layers]
            grads = torch.autograd.grad(value, targets, allow_unused=True)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.tensor([0.0 if g is None else float(g.double().norm()) for g in grads], dtype=torch.float64)


def spectral_bound(critic: nn.Module) -> float:
    """prod_l ||W_l||_2, the product of the largest singular values of the critic's Linear weights: an
    upper bound on its Lipschitz constant when every activation is 1-Lipschitz (ReLU, leaky ReLU, tanh)."""
    layers = _linear_layers(critic)
    bound = 1.0
    for layer in layers:
        bound *= spectral.largest_singular_value(_effective_weight(layer).detach().double()).item()
    return bound


def _effective_weight(layer: nn.Linear) -> torch.Tensor:
    """The weight the layer multiplies by: W / sigma(W) for a spectrally normalised layer, else W."""
    return layer.normalised_weight() if isinstance(layer, nets.SpectralNormLinear) else layer.weight


def weight_values(critic: nn.Module, *, biases: bool = False) -> torch.Tensor:
    """Every entry of the critic's linear weight matrices (and biases, if ``biases``) as one flat
    float64 tensor on the CPU: what a histogram of "the critic's weights" shows. (For a spectrally
    normalised layer: the raw parameter W, which is what clipping or an optimiser sees, not W / sigma.)"""
    layers = _linear_layers(critic)
    parts = [layer.weight.detach().reshape(-1) for layer in layers]
    if biases:
        parts += [layer.bias.detach().reshape(-1) for layer in layers if layer.bias is not None]
    return torch.cat(parts).double().cpu()


def fraction_at_bounds(weights: Union[torch.Tensor, nn.Module], c: float, *, rtol: float = 0.01) -> float:
    """The fraction of ``weights`` (a tensor of values, or a critic, whose ``weight_values`` are used)
    within ``rtol`` c of +c or -c: | |w| - c | <= rtol c."""
    checks.positive_number("c", c)
    checks.number_at_least("rtol", rtol, 0.0, below=1.0)
    values = weight_values(weights) if isinstance(weights, nn.Module) else weights
    if not isinstance(values, torch.Tensor) or values.numel() == 0:
        raise ValueError("weights must be a non-empty tensor or a critic with linear layers")
    values = values.detach().reshape(-1)
    if not values.is_floating_point():
        values = values.double()
    # in the values' own precision, so that a weight clamped to c in float32 counts as exactly at c
    return float(((values.abs() - c).abs() <= rtol * c).double().mean())


@torch.no_grad()
def falloff(critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, radius: float, *,
            directions: int = 16) -> float:
    """How often the critic falls when you step off the data: the fraction of pairs (x_i, u_k) with
    f(x_i + radius u_k) < f(x_i), over the given ``points`` x_i (n, 2) and ``directions`` unit vectors u_k
    evenly spaced around the circle.

    A critic whose level sets wrap around every cluster, or run along every arm, of the data falls in
    nearly every direction (near 1 on point-like clusters). A critic with a single smooth summit
    rises toward it and falls away from it, so it falls about half the time (0.5 for a linear f).
    Choose ``radius`` larger than the clusters' spread and smaller than the gaps between them."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2 or len(points) == 0:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must be a non-empty (n, 2) tensor, got {shape}")
    if not points.is_floating_point() or not torch.isfinite(points).all():
        raise ValueError("points must be finite floating-point numbers")
    checks.positive_number("radius", radius)
    checks.integer("directions", directions, 1)
    angles = torch.arange(directions, dtype=torch.float64) * (2 * math.pi / directions)
    steps = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()      # (k, 2)
    x = points.detach().float().cpu()
    moved = (x[:, None, :] + steps[None]).reshape(-1, 2)
    try:
        dev = next(critic.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        dev = torch.device("cpu")
    here = critic(x.to(dev)).reshape(-1).cpu()
    there = critic(moved.to(dev)).reshape(-1).cpu()
    if here.numel() != len(x) or there.numel() != len(moved):
        raise ValueError("the critic must return one value per point")
    return float((there.reshape(len(x), directions) < here[:, None]).double().mean())


def _mlp_dims(width: int, data_dim: int, depth: int) -> list[int]:
    checks.integer("width", width, 1)
    checks.integer("data_dim", data_dim, 1)
    checks.integer("depth", depth, 0)
    return [data_dim] + [width] * depth + [1]


def clip_lipschitz_bound(c: float, width: int, *, data_dim: int = 2, depth: int = 3) -> float:
    """K(c) = c^L prod_{l=1}^{L} sqrt(m_l n_l), the Lipschitz constant that clipping every weight to [-c, c]
    guarantees for the MLP critic ``data_dim -> width x depth -> 1`` (``nets.critic``; L = depth + 1 linear
    layers, W_l of shape m_l x n_l).

    Each factor bounds a layer: ||W_l||_2 <= ||W_l||_F <= c sqrt(m_l n_l); ReLU and the biases add nothing.
    For 2-D data and three hidden layers, K(c) = c^4 sqrt(2) w^3. ``spectral_bound`` gives the tighter
    prod_l ||W_l||_2 of one particular critic.
    """
    checks.positive_number("c", c)
    dims = _mlp_dims(width, data_dim, depth)
    return math.prod(c * math.sqrt(m * n) for m, n in zip(dims[:-1], dims[1:]))


def matched_clip(width: int, *, reference_width: int = 512, reference_clip: float = 0.01, data_dim: int = 2,
                 depth: int = 3) -> float:
    """The clip c at which a critic of ``width`` has the K(c) of one of ``reference_width`` clipped at
    ``reference_clip`` (``clip_lipschitz_bound``): c = c_ref (prod_ref / prod_w)^(1/L), with prod the
    product of the sqrt(m_l n_l). For three hidden layers this is c_ref (w_ref / w)^(3/4), whatever data_dim.

    The defaults are the WGAN clip 0.01 on the 3 x 512 toy networks of the WGAN-GP authors' released code.
    """
    checks.positive_number("reference_clip", reference_clip)
    layers = depth + 1
    ratio = (clip_lipschitz_bound(1.0, reference_width, data_dim=data_dim, depth=depth)
             / clip_lipschitz_bound(1.0, width, data_dim=data_dim, depth=depth))
    return reference_clip * ratio ** (1 / layers)


def interpolate_norms(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, *,
                      eps: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None
                      ) -> torch.Tensor:
    """||grad f(x_hat)||_2 at x_hat = eps x + (1 - eps) y, one interpolate per pair (x_i, y_i) of ``real``
    and ``fake`` (both (n, d)): the gradient norms that WGAN-GP's penalty lambda E[(||grad f(x_hat)||_2 - 1)^2]
    pulls toward 1.

    ``eps`` (shape (n, 1)) gives the weights; otherwise eps ~ U[0, 1] is drawn on the CPU from ``generator``
    (a ``settings.rng(seed)`` for a reproducible draw). The points are moved to the critic's device.
    Returns a float CPU tensor of n norms; the critic's parameters get no ``.grad``.
    """
    for name, x in (("real", real), ("fake", fake)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0 or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a non-empty floating-point (n, d) tensor, got {shape}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape (one pair per row), got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    n = real.shape[0]
    if eps is None:
        eps = torch.rand(n, 1, generator=generator)
    elif not isinstance(eps, torch.Tensor) or tuple(eps.shape) != (n, 1):
        shape = tuple(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
        raise ValueError(f"eps must have shape ({n}, 1), one weight per pair, got {shape}")
    x, y, e = real.detach().cpu(), fake.detach().cpu(), eps.detach().cpu().to(real.dtype)
    x_hat = e * x + (1 - e) * y
    try:
        dev = next(critic.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        dev = torch.device("cpu")
    return estimate.input_gradient(critic, x_hat.to(dev)).norm(dim=1).cpu()
