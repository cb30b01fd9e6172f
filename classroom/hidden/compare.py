"""Helpers shared by the hidden tests: calling a student's function safely and comparing what it returns.

Every helper raises ``AssertionError`` whose message starts with the case it checked (``name``), so the
feedback says which input went wrong and how.

- :func:`call` runs the student's function with the global random state (torch, numpy, ``random``) saved
  and restored, and turns an exception from the student's code into an AssertionError naming the case;
  a function that still raises ``NotImplementedError`` fails with "not attempted".
- :func:`number`, :func:`close`, :func:`close_tensors` compare numbers and arrays.
- :func:`seeded` builds a network from a seed without touching the global random state.
- :func:`penalty_matches` compares a gradient penalty's value and its gradient with respect to the
  critic's parameters with ``gan_lab.losses.gradient_penalty`` (chapters 5 and 6).
"""
from __future__ import annotations

import math
import random
from typing import Callable, TypeVar

import numpy as np
import torch
from torch import nn

from gan_lab import losses
from gan_lab.exercises import same_parameter_gradients

__all__ = ["call", "number", "close", "close_tensors", "as_float64", "seeded", "unchanged",
           "parameters_match", "penalty_matches"]

T = TypeVar("T")


def call(name: str, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the global random states restored afterwards.

    NotImplementedError becomes AssertionError "not attempted"; any other exception raised by ``fn``
    becomes AssertionError naming ``name`` and the exception, so the student sees which input broke it.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            return fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"{name}: not attempted (your function still raises NotImplementedError)") from None
    except AssertionError as err:
        raise AssertionError(f"{name}: your function failed an assertion of its own: {err}") from None
    except Exception as err:                               # noqa: BLE001 - the student's code may raise anything
        raise AssertionError(f"{name}: your function raised {type(err).__name__}: {err}") from None
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def number(name: str, got) -> float:
    """``got`` as a finite Python float: a Python number, a numpy scalar, or a tensor/array of one element."""
    if isinstance(got, (complex, np.complexfloating)) or (isinstance(got, (np.ndarray, torch.Tensor))
                                                          and got.dtype in (np.complex64, np.complex128,
                                                                            torch.complex64, torch.complex128)):
        raise AssertionError(f"{name}: expected a real number, got the complex value {got!r} "
                             "(keep the real part)")
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu()
    try:
        t = torch.as_tensor(np.asarray(got, dtype=np.float64) if not isinstance(got, torch.Tensor) else got,
                            dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(f"{name}: expected a number, got {got!r} ({err})") from None
    if t.numel() != 1:
        raise AssertionError(f"{name}: expected one number, got an array of shape {tuple(t.shape)}")
    return t.item()


def close(name: str, got, expected: float, *, rtol: float = 0.0, atol: float = 0.0, hint: str = "",
          nan_hint: str = "") -> None:
    """``got`` must be one number within ``atol + rtol |expected|`` of ``expected``; an infinite
    ``expected`` must be matched exactly, and NaN never passes. ``hint`` ends the message of a wrong
    number, ``nan_hint`` (default: ``hint``) that of a NaN."""
    value = number(name, got)
    if value == expected:
        return
    if math.isnan(value):
        raise AssertionError(f"{name}: expected {expected:.8g}, got nan{nan_hint or hint}")
    if math.isfinite(value) and math.isfinite(expected):
        err, tol = abs(value - expected), atol + rtol * abs(expected)
        if err <= tol:
            return
        raise AssertionError(f"{name}: expected {expected:.8g}, got {value:.8g} (off by {err:.3g}, "
                             f"tolerance {tol:.3g}){hint}")
    raise AssertionError(f"{name}: expected {expected:.8g}, got {value:.8g}{hint}")


def as_float64(name: str, got) -> torch.Tensor:
    """A tensor or array answer as a float64 CPU tensor (detached); anything else raises AssertionError."""
    if isinstance(got, torch.Tensor):
        return got.detach().cpu().to(torch.float64)
    try:
        a = np.asarray(got)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"dtype {a.dtype}")
        return torch.as_tensor(a.astype(np.float64))
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{name}: expected an array of numbers, got {type(got).__name__} ({err})") from None


def close_tensors(name: str, got, expected, *, atol: float, rtol: float = 0.0, hint: str = "") -> None:
    """``got`` must have ``expected``'s shape, be finite, and be within ``atol + rtol |expected|`` of it
    elementwise."""
    got_t, exp_t = as_float64(name, got), as_float64(name, expected)
    if tuple(got_t.shape) != tuple(exp_t.shape):
        raise AssertionError(f"{name}: expected shape {tuple(exp_t.shape)}, got {tuple(got_t.shape)}{hint}")
    bad = ~torch.isfinite(got_t)
    if bad.any():
        raise AssertionError(f"{name}: your answer contains NaN or Inf at {int(bad.sum())} of {got_t.numel()} "
                             f"entries{hint}")
    err = (got_t - exp_t).abs()
    over = err > atol + rtol * exp_t.abs()
    if over.any():
        k = int(over.flatten().nonzero()[0, 0])
        index = tuple(int(i) for i in np.unravel_index(k, tuple(exp_t.shape))) if exp_t.dim() else ()
        raise AssertionError(f"{name}: {int(over.sum())} of {got_t.numel()} entries differ, e.g. at index "
                             f"{index}: expected {exp_t.flatten()[k].item():.8g}, got {got_t.flatten()[k].item():.8g}"
                             f"{hint}")


def seeded(seed: int, build: Callable[[], T]) -> T:
    """``build()`` run with the global torch random state seeded by ``seed``, restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def unchanged(name: str, given, originals, what: str = "its inputs") -> None:
    """Each of ``given`` (tensors or arrays) must still equal its copy in ``originals``."""
    for a, b in zip(given, originals):
        same = torch.equal(a, b) if isinstance(a, torch.Tensor) else np.array_equal(a, b)
        if not same:
            raise AssertionError(f"{name}: your function modified {what}; work on a copy and leave them as "
                                 "they are")


def parameters_match(name: str, module: nn.Module, reference: nn.Module, *, atol: float, rtol: float = 0.0,
                     hint: str = "") -> None:
    """Each parameter of ``module`` must be within ``atol + rtol |reference|`` of ``reference``'s."""
    for (label, p), q in zip(module.named_parameters(), reference.parameters()):
        p, q = p.detach().double(), q.detach().double()
        err = (p - q).abs()
        if not (err <= atol + rtol * q.abs()).all():
            raise AssertionError(f"{name}: parameter {label} is off by up to {err.max().item():.3g} from the "
                                 f"reference step{hint}")


def penalty_matches(name: str, got, critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    eps: torch.Tensor, *, one_sided: bool, rtol: float, hint: str = "") -> None:
    """``got`` (the student's penalty for these arguments) must equal ``losses.gradient_penalty`` in value
    and in its gradient with respect to every parameter of ``critic``."""
    expected = losses.gradient_penalty(critic, real, fake, eps=eps, one_sided=one_sided)
    close(name, got, expected.item(), rtol=rtol, atol=rtol * 1e-3, hint=hint)
    same_parameter_gradients(name, got, expected, critic, rtol=rtol, hint=hint)
