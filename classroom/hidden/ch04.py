"""Hidden tests for chapter 4 (weight clipping): book/04_weight_clipping.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch04``: float32 networks, convolutions, a network with
batch-norm buffers (which are not parameters and must not be clipped), an integer c, other optimizers
(Adam, SGD with momentum) and batches of different sizes, a one-layer MLP, a tanh MLP, and a layer whose
two largest singular values are almost equal.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from gan_lab import lipschitz, losses, nets

from . import answer
from .compare import call, close, parameters_match, seeded

__all__ = ["HIDDEN"]


def _snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in list(module.parameters()) + list(module.buffers())]


def _same_as(name: str, module: nn.Module, before: list[torch.Tensor]) -> None:
    for t, old in zip(list(module.parameters()) + list(module.buffers()), before):
        if not torch.equal(t.detach(), old):
            raise AssertionError(f"{name}: your function changed the network's weights; it should only read them")


# ---- clip_weights ----------------------------------------------------------------------------------------

def _with_batch_norm() -> nn.Module:
    module = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))
    with torch.no_grad():
        module[1].weight.uniform_(-2.0, 2.0)
        module[1].running_mean.copy_(torch.linspace(-3.0, 3.0, 6))
        module[1].running_var.fill_(4.0)
    return module


def clip_weights(ns: dict) -> None:
    fn = answer(ns, "clip_weights")
    cases = {
        "a float32 critic 2 -> 24 -> 24 -> 1, c = 0.02": (
            seeded(1040, lambda: nets.critic(2, width=24, depth=2)), 0.02),
        "a convolution 3 -> 5 channels, c = 0.1": (seeded(1041, lambda: nn.Conv2d(3, 5, 3)), 0.1),
        "a network with batch norm, c = 0.05 (its running statistics are buffers, not parameters)": (
            seeded(1042, _with_batch_norm), 0.05),
        "a float64 critic, integer c = 1": (seeded(1043, lambda: nets.critic(3, width=8, depth=1).double()), 1),
    }
    for name, (module, c) in cases.items():
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(4.0)                                 # every kind of parameter sticks out of the box
        reference = copy.deepcopy(module)
        losses.clip_weights(reference, c)
        ids = [id(p) for p in module.parameters()]
        buffers = [b.clone() for b in module.buffers()]
        returned = call(name, fn, module, c)
        if [id(p) for p in module.parameters()] != ids:
            raise AssertionError(f"{name}: the parameters were replaced by new objects; clamp them in place "
                                 "(the optimizer keeps references to the old ones)")
        for (label, p), q in zip(module.named_parameters(), reference.parameters()):
            p = p.detach()
            if torch.equal(p, q):
                continue
            outside = ((p < -c) | (p > c)).sum().item()
            if outside:
                raise AssertionError(f"{name}: {outside} entries of {label} are still outside [-c, c] (every "
                                     "parameter is clipped, biases and batch-norm weights included)")
            raise AssertionError(f"{name}: {label} is inside [-c, c] but differs from clamping by up to "
                                 f"{(p - q).abs().max().item():.3g}: entries inside stay, entries beyond c "
                                 "become c, entries below -c become -c")
        for (label, b), old in zip(module.named_buffers(), buffers):
            if not torch.equal(b, old):
                raise AssertionError(f"{name}: the buffer {label} changed; clip the parameters only "
                                     "(module.parameters(), not module.state_dict(), which holds buffers too)")
        if returned is not None:
            raise AssertionError(f"{name}: the function should work in place and return None, it returned "
                                 f"a {type(returned).__name__}")


# ---- critic_step -----------------------------------------------------------------------------------------

def _run_steps(fn, label: str, critic: nn.Module, make_optimizer, c: float, batches, rtol: float,
               atol: float) -> None:
    losses.clip_weights(critic, c)
    reference = copy.deepcopy(critic)
    optimizer, ref_optimizer = make_optimizer(critic.parameters()), make_optimizer(reference.parameters())
    for step, (real, fake) in enumerate(batches, start=1):
        name = f"{label}, step {step} of {len(batches)}"
        real_copy, fake_copy = real.clone(), fake.detach().clone()
        ref_optimizer.zero_grad()
        with torch.no_grad():
            expected = (reference(real).mean() - reference(fake).mean()).item()
        losses.critic_loss(reference(real), reference(fake.detach())).backward()
        ref_optimizer.step()
        losses.clip_weights(reference, c)

        got = call(name, fn, critic, optimizer, real, fake, c)
        if not (torch.equal(real, real_copy) and torch.equal(fake.detach(), fake_copy)):
            raise AssertionError(f"{name}: the batches real and fake were modified; leave them as they are")
        close(f"{name}: the estimate E f(real) - E f(fake) before the update", got, expected, rtol=rtol,
              atol=atol, hint=" (average f over each batch separately: real and fake may differ in size)")
        for p_label, p in critic.named_parameters():
            if (p.detach().abs() > c * (1 + 1e-6)).any():
                raise AssertionError(f"{name}: parameter {p_label} is outside [-c, c] after your step; clip "
                                     "after optimizer.step()")
        parameters_match(name, critic, reference, atol=atol, rtol=rtol,
                         hint=" (minimise E f(fake) - E f(real) with the optimizer you are given; zero the "
                              "gradients before backward; clip after the step)")


def critic_step(ns: dict) -> None:
    fn = answer(ns, "critic_step")
    g = torch.Generator().manual_seed(1044)
    f64 = torch.float64
    maker = seeded(1045, lambda: nets.generator(3, 3, width=8, depth=1).double())
    batches = [(torch.randn(40, 3, generator=g, dtype=f64) + 1.0,
                maker(torch.randn(56, 3, generator=g, dtype=f64))) for _ in range(3)]
    _run_steps(fn, "Adam, 40 real against 56 fake points in 3-D, c = 0.02",
               seeded(1046, lambda: nets.critic(3, width=12, depth=2).double()),
               lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.9)), 0.02, batches, 1e-6, 1e-9)
    batches = [(torch.randn(32, 2, generator=g) * 0.5 + 1.0, torch.randn(32, 2, generator=g)) for _ in range(2)]
    _run_steps(fn, "SGD with momentum on a float32 critic, c = 0.1",
               seeded(1047, lambda: nets.critic(2, width=16, depth=2)),
               lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9), 0.1, batches, 1e-4, 1e-6)


# ---- lipschitz_upper_bound -------------------------------------------------------------------------------

def _nearly_degenerate() -> nets.MLP:
    """4 -> 4 -> 1 with W1 = U diag(2, 1.9999, 0.5, 0.1) V^T (U, V random rotations) and ||W2|| = 1: bound 2."""
    g = torch.Generator().manual_seed(1048)
    u, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    mlp = seeded(1049, lambda: nets.MLP(4, 1, width=4, depth=1).double())
    with torch.no_grad():
        mlp.net[0].weight.copy_(u @ torch.diag(torch.tensor([2.0, 1.9999, 0.5, 0.1], dtype=torch.float64)) @ v.T)
        mlp.net[2].weight.copy_(torch.tensor([[0.6, 0.0, -0.8, 0.0]], dtype=torch.float64))
    return mlp


def lipschitz_upper_bound(ns: dict) -> None:
    fn = answer(ns, "lipschitz_upper_bound")
    cases = {
        "an MLP whose first layer has singular values 2, 1.9999, 0.5, 0.1 and whose last has norm 1 (bound 2)":
            (_nearly_degenerate(), 1e-9),
        "a float32 critic 3 -> 20 -> 20 -> 20 -> 1": (seeded(1050, lambda: nets.critic(3, width=20, depth=3)), 1e-5),
        "a critic with a single Linear layer 6 -> 1": (seeded(1051, lambda: nets.critic(6, depth=0).double()), 1e-9),
        "a tanh critic 2 -> 40 -> 40 -> 1": (
            seeded(1052, lambda: nets.critic(2, width=40, depth=2, activation="tanh").double()), 1e-9),
    }
    for name, (net, rtol) in cases.items():
        before = _snapshot(net)
        got = call(name, fn, net)
        _same_as(name, net, before)
        close(name, got, lipschitz.spectral_bound(net), rtol=rtol,
              hint=" (the exact largest singular value of each Linear weight, e.g. "
                   "torch.linalg.matrix_norm(W, ord=2); a few power iterations are not exact when the two "
                   "largest singular values are close)")
    close("the reference bound of the nearly degenerate MLP", lipschitz.spectral_bound(_nearly_degenerate()), 2.0,
          rtol=1e-12)


HIDDEN = {
    "ch4-ex-clip": clip_weights,
    "ch4-ex-step": critic_step,
    "ch4-ex-bound": lipschitz_upper_bound,
}
