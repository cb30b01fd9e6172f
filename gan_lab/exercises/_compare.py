"""Helpers shared by the chapter checks: comparing a reader's answer with the expected one, and building
seeded networks without touching the global random state.

Every comparison raises ``AssertionError`` naming what was checked (``name``) when the answer is wrong.
"""
from __future__ import annotations

import math
from typing import Callable, TypeVar

import torch
from torch import nn

from .. import losses, nets

T = TypeVar("T")


def scalar(name: str, got, *, finite: bool = True) -> float:
    """``got`` as a Python float: a Python number, a numpy scalar or a one-element tensor/array.

    Anything else (a string, a tensor of several numbers), and with ``finite`` NaN or +-inf too, raises
    AssertionError naming ``name``. With ``finite=False`` NaN and +-inf are returned as they are.
    """
    try:
        t = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(f"{name}: expected a number, got {got!r} ({err})") from None
    if t.numel() != 1:
        raise AssertionError(f"{name}: expected one number, got a tensor of shape {tuple(t.shape)}")
    value = t.item()
    if finite and not math.isfinite(value):
        raise AssertionError(f"{name}: your answer is {value}")
    return value


def close(name: str, got, expected: float, *, rtol: float = 0.0, atol: float = 0.0, hint: str = "",
          nan_hint: str = "") -> None:
    """``got`` must be one number with |got - expected| <= atol + rtol * |expected| (``|expected|`` floored
    at 1e-12); an infinite ``expected`` must be matched exactly. ``hint`` ends the message of a wrong
    value, ``nan_hint`` that of a NaN answer."""
    value = scalar(name, got, finite=False)
    if math.isnan(value):
        raise AssertionError(f"{name}: your answer is nan{nan_hint}")
    if value == expected:
        return
    if math.isfinite(value) and math.isfinite(expected):
        err, tol = abs(value - expected), atol + rtol * max(abs(expected), 1e-12)
        if err <= tol:
            return
        raise AssertionError(f"{name}: expected {expected:.8g}, got {value:.8g} (off by {err:.3g}, "
                             f"tolerance {tol:.3g}){hint}")
    raise AssertionError(f"{name}: expected {expected:.8g}, got {value:.8g}{hint}")


def close_tensors(name: str, got, expected, *, atol: float) -> None:
    """``got`` must have ``expected``'s shape, be finite, and be within ``atol`` of it elementwise."""
    got_t = torch.as_tensor(got, dtype=torch.float64)
    exp_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        raise AssertionError(f"{name}: expected shape {tuple(exp_t.shape)}, got {tuple(got_t.shape)}")
    if not torch.isfinite(got_t).all():
        raise AssertionError(f"{name}: your answer contains NaN or Inf: {got_t.flatten()[:6].tolist()}")
    err = (got_t - exp_t).abs().max().item()
    if err > atol:
        raise AssertionError(f"{name}: off by up to {err:.3g} (tolerance {atol:g}); "
                             f"expected {exp_t.flatten()[:4].tolist()}, got {got_t.flatten()[:4].tolist()}")


def same_parameters(name: str, module: nn.Module, reference: nn.Module, atol: float, hint: str = "") -> None:
    """Each parameter of ``module`` must be within ``atol`` (elementwise) of ``reference``'s."""
    for (label, p), q in zip(module.named_parameters(), reference.parameters()):
        err = (p.detach() - q.detach()).abs().max().item()
        if not err <= atol:
            raise AssertionError(f"{name}: parameter {label} is off by up to {err:.3g} from the reference "
                                 f"(tolerance {atol:g}){hint}")


def seeded(seed: int, build: Callable[[], T]) -> T:
    """``build()`` run with the global (CPU) random state seeded by ``seed``, which is restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def seeded_critic(seed: int, **kwargs) -> nets.MLP:
    """A float64 ``nets.critic(**kwargs)`` drawn from ``seed`` without touching the global random state."""
    return seeded(seed, lambda: nets.critic(**kwargs).double())


def seeded_generator(seed: int) -> nets.MLP:
    """A small float64 generator R^2 -> R^2 drawn from ``seed`` (its output is a fake batch with the graph
    attached)."""
    return seeded(seed, lambda: nets.generator(2, 2, width=8, depth=1).double())


def parameter_grads(value: torch.Tensor, critic: nn.Module) -> list[torch.Tensor]:
    params = list(critic.parameters())
    grads = torch.autograd.grad(value, params, allow_unused=True)
    # gan_lab's ReLU leaves hidden biases out of grad_x f, so a penalty alone gives them no gradient
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def check_penalty(name: str, fn: Callable, critic: nn.Module, real, fake, eps, one_sided: bool,
                  hint: str) -> None:
    """Check a reader's gradient penalty ``fn(critic, real, fake, eps)`` against ``losses.gradient_penalty``:
    the value, inputs left unmodified, and its gradient with respect to every critic parameter (chapters 5-6)."""
    args = [t.clone() for t in (real, fake, eps)]
    got = fn(critic, *args)
    if any(not torch.equal(a, b) for a, b in zip(args, (real, fake, eps))):
        raise AssertionError(f"{name}: real, fake or eps was modified; leave them as they are")
    expected = losses.gradient_penalty(critic, real, fake, eps=eps, one_sided=one_sided)
    close(name, got, expected.item(), rtol=1e-7, hint=hint)
    same_parameter_gradients(name, got, expected, critic, rtol=1e-7)


def same_parameter_gradients(name: str, got, expected: torch.Tensor, critic: nn.Module, *, rtol: float,
                             hint: str = "") -> None:
    """A penalty whose value is right must also train the critic like the reference: a tensor connected to the
    critic's parameters, with the same gradient with respect to each of them (relative tolerance ``rtol``)."""
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: the value is right, but it is not connected to the critic's parameters, "
                             "so training against it would do nothing: return a tensor, and take the input "
                             "gradient with torch.autograd.grad(..., create_graph=True)")
    for (label, _), g, ref in zip(critic.named_parameters(), parameter_grads(got.reshape(()), critic),
                                  parameter_grads(expected, critic)):
        g, ref = g.double(), ref.double()
        err = (g - ref).abs().max().item()
        if not err <= rtol * max(1.0, ref.abs().max().item()):
            raise AssertionError(f"{name}: the value is right, but its gradient with respect to the critic's "
                                 f"{label} is off by up to {err:.3g} from the reference's{hint}")
