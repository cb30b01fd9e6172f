"""Hidden tests for chapter 5 (the gradient penalty): book/05_gradient_penalty.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch05``: points in 3 and 5 dimensions, float32 critics
and batches, a single point, eps at 0 and 1 (x_hat at the fake or the real points), critics whose gradient
norms are all above or all below 1, other values of lambda (0.1 and 0), SGD instead of Adam.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from gan_lab import estimate, losses, nets

from . import answer
from .compare import call, close, parameters_match, penalty_matches, seeded

__all__ = ["HIDDEN"]


def _points(seed: int, n: int, d: int, dtype=torch.float64):
    """real, fake (n, d) and weights eps (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g, dtype=dtype) * 0.5 + 1.0
    fake = torch.randn(n, d, generator=g, dtype=dtype) * 1.5
    eps = torch.rand(n, 1, generator=g, dtype=dtype)
    return real, fake, eps


def _critic(seed: int, d: int, real, fake, eps, median: float = 1.0, dtype=torch.float64,
            activation: str = "relu") -> nets.MLP:
    """A random critic rescaled so that the median gradient norm at the interpolates is ``median``."""
    critic = seeded(seed, lambda: nets.critic(d, width=16, depth=2, activation=activation).to(dtype))
    x_hat = eps * real + (1 - eps) * fake
    now = estimate.input_gradient(critic, x_hat).norm(dim=1).median().item()
    with torch.no_grad():
        critic.net[-1].weight.mul_(median / now)
    return critic


def _check(fn, name: str, critic: nn.Module, real, fake, eps, one_sided: bool, rtol: float, hint: str) -> None:
    args = [t.clone() for t in (real, fake, eps)]
    got = call(name, fn, critic, *args)
    if any(not torch.equal(a, b) for a, b in zip(args, (real, fake, eps))):
        raise AssertionError(f"{name}: real, fake or eps was modified; leave them as they are")
    penalty_matches(name, got, critic, real, fake, eps, one_sided=one_sided, rtol=rtol, hint=hint)


_HINT = (" (x_hat = eps * real + (1 - eps) * fake; one Euclidean norm per point over all its d coordinates, "
         "e.g. grad.norm(dim=1); (norm - 1)^2 point by point, then the mean)")


def _no_gradient_to_generator(fn, name: str, d: int) -> None:
    g = torch.Generator().manual_seed(1053)
    maker = seeded(1054, lambda: nets.generator(d, d, width=8, depth=1).double())
    real = torch.randn(24, d, generator=g, dtype=torch.float64)
    eps = torch.rand(24, 1, generator=g, dtype=torch.float64)
    fake = maker(torch.randn(24, d, generator=g, dtype=torch.float64))
    critic = seeded(1055, lambda: nets.critic(d, width=16, depth=2, activation="tanh").double())
    got = call(name, fn, critic, real, fake, eps)
    if isinstance(got, torch.Tensor) and got.requires_grad:
        grads = torch.autograd.grad(got.reshape(()), list(maker.parameters()), allow_unused=True)
        if any(gr is not None and gr.abs().max().item() > 0 for gr in grads):
            raise AssertionError(f"{name}: the penalty sends gradient into the generator that made fake; build "
                                 "x_hat from real.detach() and fake.detach()")


def gradient_penalty(ns: dict) -> None:
    fn = answer(ns, "gradient_penalty")
    real, fake, eps = _points(1056, 96, 3)
    _check(fn, "the penalty of a critic of 3-D points, norms on both sides of 1", _critic(1057, 3, real, fake, eps),
           real, fake, eps, False, 1e-7, _HINT)
    real, fake, eps = _points(1058, 50, 5, torch.float32)
    _check(fn, "the penalty of a float32 critic of 5-D points", _critic(1059, 5, real, fake, eps, 1.3, torch.float32),
           real, fake, eps, False, 1e-4, _HINT)
    real, fake, _ = _points(1060, 30, 2)
    critic = _critic(1061, 2, real, fake, torch.full((30, 1), 0.5, dtype=torch.float64), 2.0, activation="tanh")
    for where, value in (("fake points (eps = 0)", 0.0), ("real points (eps = 1)", 1.0)):
        eps = torch.full((30, 1), value, dtype=torch.float64)
        _check(fn, f"the penalty of a tanh critic at the {where}", critic, real, fake, eps, False, 1e-7,
               " (x_hat = eps * real + (1 - eps) * fake: eps = 1 gives the real points)")
    real, fake, eps = _points(1062, 1, 2)
    _check(fn, "the penalty of a single point", _critic(1063, 2, real, fake, eps, 0.4), real, fake, eps, False,
           1e-7, _HINT)
    _no_gradient_to_generator(fn, "the penalty of a tanh critic of 3-D points when fake comes from a generator", 3)


def one_sided_penalty(ns: dict) -> None:
    fn = answer(ns, "one_sided_penalty")
    hint = (" (max(0, norm - 1) squared for each point, averaged over ALL n points, those below 1 counting 0; "
            "one Euclidean norm per point over all its coordinates)")
    real, fake, eps = _points(1064, 80, 3)
    _check(fn, "the one-sided penalty of a critic of 3-D points, norms on both sides of 1",
           _critic(1065, 3, real, fake, eps), real, fake, eps, True, 1e-7, hint)
    real, fake, eps = _points(1066, 40, 2, torch.float32)
    _check(fn, "the one-sided penalty of a float32 critic whose norms are mostly above 1",
           _critic(1067, 2, real, fake, eps, 1.8, torch.float32), real, fake, eps, True, 1e-4, hint)
    real, fake, eps = _points(1068, 40, 4)
    critic = _critic(1069, 4, real, fake, eps, 0.05)
    name = "the one-sided penalty of a critic of 4-D points whose norms are all far below 1 (should be 0)"
    close(name, call(name, fn, critic, real, fake, eps), 0.0, atol=1e-12, hint=hint)
    _no_gradient_to_generator(fn, "the one-sided penalty of a tanh critic when fake comes from a generator", 2)


def gp_critic_step(ns: dict) -> None:
    fn = answer(ns, "gp_critic_step")
    settings = [
        ("Adam, lambda = 0.1, 3-D points", 3, 0.1, torch.float64,
         lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.9)), 1e-6, 1e-9),
        ("SGD, lambda = 0 (the penalty plays no part)", 2, 0.0, torch.float64,
         lambda params: torch.optim.SGD(params, lr=0.01), 1e-7, 1e-10),
        ("SGD with momentum on a float32 critic, lambda = 5", 2, 5.0, torch.float32,
         lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9), 1e-4, 1e-6),
    ]
    for k, (label, d, lam, dtype, make_optimizer, rtol, atol) in enumerate(settings):
        critic = seeded(1070 + k, lambda: nets.critic(d, width=16, depth=2).to(dtype))
        reference = copy.deepcopy(critic)
        optimizer, ref_optimizer = make_optimizer(critic.parameters()), make_optimizer(reference.parameters())
        for step in (1, 2):
            name = f"{label}, step {step} of 2"
            real, fake, eps = _points(1080 + 10 * k + step, 48, d, dtype)
            copies = [t.clone() for t in (real, fake, eps)]
            ref_optimizer.zero_grad()
            loss = (losses.critic_loss(reference(real), reference(fake))
                    + lam * losses.gradient_penalty(reference, real, fake, eps=eps))
            expected = loss.item()
            loss.backward()
            ref_optimizer.step()

            got = call(name, fn, critic, optimizer, real, fake, eps, lam)
            if any(not torch.equal(a, b) for a, b in zip((real, fake, eps), copies)):
                raise AssertionError(f"{name}: real, fake or eps was modified; leave them as they are")
            close(f"{name}: the loss E f(fake) - E f(real) + lam * penalty before the update", got, expected,
                  rtol=rtol, atol=atol, hint=" (use the lam you are given, on the penalty only)")
            parameters_match(name, critic, reference, atol=atol, rtol=rtol,
                             hint=" after the update, though the loss is right (does the penalty reach the "
                                  "parameters, create_graph=True? are the gradients zeroed before backward?)")


HIDDEN = {
    "ch5-ex-penalty": gradient_penalty,
    "ch5-ex-one-sided": one_sided_penalty,
    "ch5-ex-step": gp_critic_step,
}
