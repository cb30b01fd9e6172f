"""Estimates that need a trained network, between two fixed distributions P and Q.

- ``fit_discriminator``: for a fixed generator with distribution p_g, the best discriminator attains
  max_D V(D, G) = -log 4 + 2 JS(p_data || p_g), so a trained discriminator turns two samples into a
  (lower-bound) estimate of the Jensen-Shannon divergence: JS ~ (V + log 4) / 2.
- ``wasserstein1_dual``: the Kantorovich-Rubinstein duality W1(P, Q) = sup over 1-Lipschitz f of
  E_P f - E_Q f; a critic trained with the gradient penalty gives the estimate E_P f - E_Q f.

- ``GeneratorGradientLog``: an ``on_log`` callback that records ||grad_theta L_G|| against the current critic
  (and theta, for a one-parameter generator) while ``gan_lab.train`` trains: chapter 3's vanishing gradient.

P and Q are given as in ``gan_lab.train``: a data-set name, an (n, d) tensor, or a sampler (n, generator)
(``gan_lab.data.sampler``). ``fit_two_sample`` is the loop they share (and ``lipschitz.fit_critic`` uses).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch
from torch import nn

from . import checks, data, loop, losses, nets, settings
from .data import Data

__all__ = ["fit_discriminator", "DiscriminatorFit", "wasserstein1_dual", "DualEstimate", "generator_gradient_norm",
           "GeneratorGradientLog",
           "input_gradient", "js_estimate", "fit_two_sample"]


@dataclass
class DiscriminatorFit:
    """A trained ``discriminator`` (returns logits), its value V(D, G) on held-out samples, the JS
    estimate (V + log 4) / 2 in nats, and (step, V) after each logged step (``curve``)."""

    discriminator: nn.Module
    value: float
    js: float
    curve: list


@dataclass
class DualEstimate:
    """A trained ``critic`` f, the dual estimate E_P f - E_Q f of W1(P, Q) on held-out samples, and
    (step, estimate) after each logged step (``curve``)."""

    critic: nn.Module
    estimate: float
    curve: list


def _check_settings(steps: int, batch_size: int, eval_samples: int, lr: float) -> None:
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_samples", eval_samples)):
        checks.integer(name, v, 1)
    checks.positive_number("lr", lr)


def _check_net(name: str, net: Optional[nn.Module]) -> None:
    if net is not None and not isinstance(net, nn.Module):
        raise ValueError(f"{name} must be a torch.nn.Module or None, got {type(net).__name__}")


def _check_pair(names: tuple[str, str], p: Data, q: Data) -> None:
    """Both distributions valid and of one dimension; the errors name the caller's arguments."""
    dim_p, dim_q = data.sampler(p, names[0]).dim, data.sampler(q, names[1]).dim
    if dim_p != dim_q:
        raise ValueError(f"{names[0]} is {dim_p}-D but {names[1]} is {dim_q}-D")


def fit_two_sample(net: nn.Module, p: Data, q: Data, loss: Callable, score: Callable, *, steps: int,
                   batch_size: int, lr: float, betas: tuple, eval_samples: int, seed: int,
                   device: torch.device, after_step: Optional[Callable[[nn.Module], None]] = None,
                   names: tuple[str, str] = ("P", "Q")) -> tuple[nn.Module, list]:
    """Train a network between two fixed distributions: minimise ``loss(net, x, y, rng)`` over batches x ~ P, y ~ Q with Adam; every steps/50 steps record
    ``score(net, x_eval, y_eval)`` on fixed held-out samples. Returns the net and the (step, score) curve.
    ``after_step(net)``, if given, runs once before training and after every update (e.g. clipping), so
    every forward pass, every score and the returned net satisfy it. ``names`` are the caller's names for P
    and Q, for the error messages."""
    sample_p, sample_q = data.sampler(p, names[0]), data.sampler(q, names[1])
    if sample_p.dim != sample_q.dim:
        raise ValueError(f"{names[0]} is {sample_p.dim}-D but {names[1]} is {sample_q.dim}-D")
    net = net.to(device)
    opt = loop.optimizer("adam", net.parameters(), lr, betas, fused=False)
    rng = settings.stream(seed, "train")
    held = settings.stream(seed, "eval_real")
    x_eval, y_eval = sample_p(eval_samples, held).to(device), sample_q(eval_samples, held).to(device)
    curve, log_every = [], max(1, steps // 50)
    if after_step is not None:
        after_step(net)
    for step in range(1, steps + 1):
        x, y = sample_p(batch_size, rng).to(device), sample_q(batch_size, rng).to(device)
        value = loss(net, x, y, rng)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        if after_step is not None:
            after_step(net)
        if step % log_every == 0 or step == steps:
            with torch.no_grad():
                curve.append((step, float(score(net, x_eval, y_eval))))
    return net, curve


def _data_dim(p: Data) -> int:
    return data.sampler(p).dim


def fit_discriminator(p_data: Data, p_g: Data, *, steps: int = 1000, batch_size: int = 256, width: int = 128,
                      depth: int = 2, lr: float = 1e-3, eval_samples: int = 4096, seed: int = 0,
                      discriminator: Optional[nn.Module] = None,
                      device: Optional[Union[str, torch.device]] = None) -> DiscriminatorFit:
    """Train D to maximise V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)) between two fixed
    distributions, with Adam; V is measured on ``eval_samples`` fresh points of each."""
    _check_settings(steps, batch_size, eval_samples, lr)
    _check_net("discriminator", discriminator)
    _check_pair(("p_data", "p_g"), p_data, p_g)
    dev = settings.resolve_device(device)
    settings.seed_everything(seed)
    D = discriminator if discriminator is not None else nets.discriminator(_data_dim(p_data), width=width, depth=depth)
    if discriminator is not None:
        nets.check_fits("discriminator", D.to(dev), _data_dim(p_data), [(2,), (2, 1)], dev)
    D, curve = fit_two_sample(
        D, p_data, p_g,
        loss=lambda net, x, y, rng: losses.discriminator_loss(net(x), net(y)),
        score=lambda net, x, y: -losses.discriminator_loss(net(x), net(y)),
        steps=steps, batch_size=batch_size, lr=lr, betas=(0.9, 0.999), eval_samples=eval_samples,
        seed=seed, device=dev, names=("p_data", "p_g"))
    v = curve[-1][1]
    return DiscriminatorFit(D, v, (v + math.log(4.0)) / 2, curve)


def wasserstein1_dual(p: Data, q: Data, *, steps: int = 2000, batch_size: int = 256, width: int = 64,
                      depth: int = 2, penalty_weight: float = 30.0, lr: float = 1e-3,
                      betas: tuple = (0.5, 0.9), eval_samples: int = 4096, seed: int = 0,
                      critic: Optional[nn.Module] = None,
                      device: Optional[Union[str, torch.device]] = None) -> DualEstimate:
    """Estimate W1(P, Q) = sup_{||f||_L <= 1} E_P f - E_Q f by training a critic f.

    The critic maximises E_P f - E_Q f - lambda E[(||grad f(x_hat)||_2 - 1)^2] (the WGAN-GP penalty at
    random interpolates between P and Q samples, lambda = ``penalty_weight``), with Adam. The returned
    estimate is E_P f - E_Q f on ``eval_samples`` fresh points of each distribution.

    The penalty is soft, so the estimate is biased upwards: for a pure shift by W1 the best penalised
    critic has slope 1 + W1 / (2 lambda), and the estimate is W1 (1 + W1 / (2 lambda)). The default
    lambda = 30 keeps that under 2% for W1 <= 1; raise it for distributions further apart.
    A critic that ends constant on the evaluation samples (all ReLUs dead) triggers a warning.
    """
    _check_settings(steps, batch_size, eval_samples, lr)
    checks.number_at_least("penalty_weight", penalty_weight, 0.0)
    checks.betas(betas)
    _check_net("critic", critic)
    _check_pair(("p", "q"), p, q)
    dev = settings.resolve_device(device)
    settings.seed_everything(seed)
    f = critic if critic is not None else nets.critic(_data_dim(p), width=width, depth=depth)
    if critic is not None:
        nets.check_fits("critic", f.to(dev), _data_dim(p), [(2,), (2, 1)], dev)

    def loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        value = losses.critic_loss(net(x), net(y))       # E_Q f - E_P f, minimised
        if penalty_weight > 0:
            value = value + penalty_weight * losses.gradient_penalty(net, x, y, generator=rng)
        return value

    spread = []

    def score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = net(x), net(y)
        spread.append(float(torch.cat([fx, fy]).std()))
        return fx.mean() - fy.mean()

    f, curve = fit_two_sample(f, p, q, loss=loss, score=score, steps=steps, batch_size=batch_size, lr=lr,
                         betas=tuple(betas), eval_samples=eval_samples, seed=seed, device=dev, names=("p", "q"))
    if spread[-1] == 0.0:
        warnings.warn("the critic is constant on the evaluation samples (its ReLUs died), so the estimate "
                      f"{curve[-1][1]:.4g} means nothing: lower lr or widen the critic", RuntimeWarning)
    return DualEstimate(f, curve[-1][1], curve)


def generator_gradient_norm(generator: nn.Module, discriminator: nn.Module, kind: str = "non_saturating", *,
                            n: int = 1024, noise_dim: Optional[int] = None, seed: int = 0) -> float:
    """||grad_theta L_G||_2: the norm of the generator loss's gradient over all generator parameters theta,
    against a fixed discriminator or critic, on ``n`` samples G(z), z ~ N(0, I) drawn with ``seed``.

    ``kind`` is ``"saturating"`` (L_G = E log(1 - D(G(z))), D from logits), ``"non_saturating"``
    (L_G = -E log D(G(z))) or ``"wasserstein"`` (L_G = -E f(G(z)) for a critic f).
    The discriminator or critic is not changed and gets no gradient.
    """
    checks.integer("n", n, 1)
    if kind not in losses.GENERATOR_LOSSES + ("wasserstein",):
        raise ValueError(f"unknown generator loss {kind!r}; use one of {losses.GENERATOR_LOSSES + ('wasserstein',)}")
    params = [p for p in generator.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the generator has no trainable parameters")
    if noise_dim is None:
        noise_dim = getattr(generator, "in_dim", None)
        if noise_dim is None:
            raise ValueError("pass noise_dim: the generator does not say its input size (in_dim)")
    device = params[0].device
    z = torch.randn(n, noise_dim, generator=settings.rng(seed)).to(device)
    frozen = [p.requires_grad for p in discriminator.parameters()]
    discriminator.requires_grad_(False)
    try:
        scores = discriminator(generator(z))
        loss = losses.wasserstein_generator_loss(scores) if kind == "wasserstein" \
            else losses.generator_loss(scores, kind)
        grads = torch.autograd.grad(loss, params)
    finally:
        for p, flag in zip(discriminator.parameters(), frozen):
            p.requires_grad_(flag)
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))


class GeneratorGradientLog:
    """An ``on_log`` callback for ``gl.train``: at every log, ``{"grad": ||grad_theta L_G||}`` against the
    current critic (``generator_gradient_norm`` with the run's own generator loss: the GAN's
    ``generator_loss``, or -E f(G(z)) for WGANs and the hinge loss) on ``n`` samples from ``seed``, and
    ``"theta"``, the generator's parameter, for a one-parameter generator such as ``nets.ParallelLines``.
    ``describe()`` says what it computes, so ``runs.cached`` can key and store a run that uses it."""

    def __init__(self, *, n: int = 1024, noise_dim: Optional[int] = None, seed: int = 0) -> None:
        self.n = checks.integer("n", n, 1)
        self.noise_dim = None if noise_dim is None else checks.integer("noise_dim", noise_dim, 1)
        self.seed = checks.seed("seed", seed)

    def __call__(self, result) -> dict:
        g, d, c = result.generator, result.critic, result.config
        if c.objective == "gan":
            kind = c.generator_loss
        elif c.objective in ("wgan-clip", "wgan-gp", "hinge"):
            kind = "wasserstein"
        else:
            raise ValueError(f"GeneratorGradientLog has no generator loss for objective {c.objective!r}; it "
                             "knows 'gan', 'wgan-clip', 'wgan-gp' and 'hinge'")
        out = {"grad": generator_gradient_norm(g, d, kind, n=self.n, noise_dim=self.noise_dim, seed=self.seed)}
        theta = getattr(g, "theta", None)
        if isinstance(theta, torch.Tensor) and theta.numel() == 1:
            out["theta"] = theta.item()
        return out

    def describe(self) -> dict:
        return {"n": self.n, "noise_dim": self.noise_dim, "seed": self.seed}


def input_gradient(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x fn(x) at every point: for points ``x`` of shape (n, d) and a scalar function ``fn`` that maps
    them to n values (shape (n,) or (n, 1)), the (n, d) tensor whose row i is the gradient of fn at x_i.

    Used to look at a critic's slope |f'(x)| (its Lipschitz constant is at least the largest norm seen) or at
    a discriminator's, e.g. ``input_gradient(lambda x: torch.sigmoid(D(x)), x)`` for dD/dx. It differentiates
    the sum of the outputs, which gives every row its own gradient as long as fn treats points independently
    (true of the book's MLPs). Works under ``torch.no_grad()``; no parameter of ``fn`` gets a ``.grad``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a non-empty (n, d) tensor of points, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        out = fn(xg)
        if out.shape not in ((len(x),), (len(x), 1)):
            raise ValueError(f"fn must return one value per point, shape ({len(x)},) or ({len(x)}, 1), "
                             f"got {tuple(out.shape)}")
        (grad,) = torch.autograd.grad(out.sum(), xg)
    return grad.detach()


def js_estimate(discriminator: nn.Module, p_data: Data, p_g: Data, *, n: int = 200_000, seed: int = 0) -> float:
    """(V(D, G) + log 4) / 2 for a trained discriminator (logits), with V measured on ``n`` fresh points of
    each distribution: a lower bound on JS(p_data || p_g) up to sampling noise.

    ``fit_discriminator`` reports the same quantity on its held-out set; use this one for a larger, fresh
    sample when log D varies from point to point (overlapping supports) and 4,096 points are too noisy.
    """
    checks.integer("n", n, 1)
    sample_p, sample_q = data.sampler(p_data, "p_data"), data.sampler(p_g, "p_g")
    if sample_p.dim != sample_q.dim:
        raise ValueError(f"p_data is {sample_p.dim}-D but p_g is {sample_q.dim}-D")
    device = next(discriminator.parameters()).device
    g = settings.rng(seed)
    x, y = sample_p(n, g).to(device), sample_q(n, g).to(device)
    with torch.no_grad():
        value = -float(losses.discriminator_loss(discriminator(x), discriminator(y)))
    return (value + math.log(4.0)) / 2
