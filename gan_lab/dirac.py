"""The Dirac-GAN: the smallest game on which GAN training can fail to converge.

The data distribution is a point mass at 0, the generator a point mass at theta (p_theta = delta_theta)
and the critic linear, f_psi(x) = psi x. The Wasserstein-form value of the game is

    V(theta, psi) = E_data f_psi - E_{p_theta} f_psi = psi * 0 - psi * theta = -psi theta,

which the critic ascends in psi and the generator descends in theta. Its only equilibrium is
(theta, psi) = (0, 0): the generator on the data, the critic flat. The gradients are
dV/dpsi = -theta and dV/dtheta = -psi, so one gradient step of size eta (``lr``) is

    simultaneous:  theta' = theta + eta psi,   psi' = psi - eta theta
    alternating:   psi'   = psi - eta theta,   theta' = theta + eta psi'   (critic first, as gl.train)

A penalty (gamma / 2) psi^2 on the critic, the R1 penalty (gamma / 2) ||grad_x f_psi(x)||^2 at the data,
adds -eta gamma psi to the critic's step. Every update here is linear, z' = A z with z = (theta, psi), so
the dynamics are exactly those of the matrix A (``update_matrix``); with J = [[0, 1], [-1, -gamma]] the
simultaneous update is A = I + eta J. Unregularised simultaneous steps multiply the distance to the
equilibrium by exactly sqrt(1 + eta^2) every step (they spiral outward); alternating steps have det A = 1
and circle for ever; with the penalty the simultaneous update contracts iff eta < gamma (for gamma < 2 the
spectral radius is sqrt(1 - eta gamma + eta^2)).

Every function works elementwise on tensors, so a batch of starting points runs at once.
"""
from __future__ import annotations

from typing import Callable, Union

import torch

from . import checks

__all__ = ["UPDATES", "value", "gradient_step", "iterate", "simulate", "distance", "update_matrix",
           "eigenvalues", "spectral_radius"]

UPDATES = ("simultaneous", "alternating")
Number = Union[float, torch.Tensor]
Step = Callable[[torch.Tensor, torch.Tensor, float], tuple]


def _check_step(lr: float, update: str, penalty: float) -> tuple[float, float]:
    """(lr, penalty) as floats, once the step size, the update and the penalty are checked."""
    lr = checks.positive_number("lr", lr)
    checks.choice("update", update, UPDATES)
    return lr, checks.number_at_least("penalty", penalty, 0.0)


def _as_tensor(name: str, x: Number) -> torch.Tensor:
    if isinstance(x, bool) or not isinstance(x, (int, float, torch.Tensor)):
        raise ValueError(f"{name} must be a number or a tensor, got {type(x).__name__}")
    t = torch.as_tensor(x, dtype=torch.float64) if not isinstance(x, torch.Tensor) else x
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {t}")
    return t


def value(theta: Number, psi: Number) -> torch.Tensor:
    """V(theta, psi) = E_data f_psi - E_{p_theta} f_psi = -psi theta (data at 0, f_psi(x) = psi x)."""
    return -_as_tensor("psi", psi) * _as_tensor("theta", theta)


def gradient_step(theta: torch.Tensor, psi: torch.Tensor, lr: float, *, update: str = "simultaneous",
                  penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of gradient descent (generator) / ascent (critic) on V = -psi theta, size eta = ``lr``.

    The critic ascends V - (gamma / 2) psi^2 (gamma = ``penalty``, the R1 penalty at the data):
    psi' = psi - eta theta - eta gamma psi. The generator descends V: theta' = theta + eta psi, with the
    old psi (``update="simultaneous"``) or the critic's new psi' (``"alternating"``, critic first).
    """
    lr, penalty = _check_step(lr, update, penalty)
    psi_new = psi - lr * theta - lr * penalty * psi
    theta_new = theta + lr * (psi if update == "simultaneous" else psi_new)
    return theta_new, psi_new


def iterate(step: Step, theta0: Number, psi0: Number, *, lr: float, steps: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``step(theta, psi, lr) -> (theta', psi')`` ``steps`` times from (theta0, psi0).

    Returns (thetas, psis), each of shape (steps + 1, *shape of theta0): row t is the state after t steps
    (row 0 the start). theta0 and psi0 must have the same shape (a batch of starting points is one tensor
    each). A step that returns NaN or Inf raises ValueError naming the step.
    """
    checks.positive_number("lr", lr)
    steps = checks.integer("steps", steps, 0)
    if not callable(step):
        raise ValueError(f"step must be a function (theta, psi, lr) -> (theta, psi), got {step!r}")
    theta, psi = _as_tensor("theta0", theta0), _as_tensor("psi0", psi0)
    if theta.shape != psi.shape:
        raise ValueError(f"theta0 and psi0 must have the same shape, got {tuple(theta.shape)} and "
                         f"{tuple(psi.shape)}")
    thetas, psis = [theta], [psi]
    for t in range(1, steps + 1):
        out = step(theta, psi, lr)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(f"step must return a pair (theta, psi), got {type(out).__name__}")
        theta, psi = (torch.as_tensor(v, dtype=theta.dtype).expand(theta.shape) for v in out)
        if not (torch.isfinite(theta).all() and torch.isfinite(psi).all()):
            raise ValueError(f"step {t} returned NaN or Inf")
        thetas.append(theta)
        psis.append(psi)
    return torch.stack(thetas), torch.stack(psis)


def simulate(theta0: Number, psi0: Number, *, lr: float, steps: int, update: str = "simultaneous",
             penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` gradient steps (``gradient_step``) from (theta0, psi0); (thetas, psis) as in ``iterate``."""
    _check_step(lr, update, penalty)
    return iterate(lambda th, ps, eta: gradient_step(th, ps, eta, update=update, penalty=penalty),
                   theta0, psi0, lr=lr, steps=steps)


def distance(theta: Number, psi: Number) -> torch.Tensor:
    """||(theta, psi) - (0, 0)||_2 = sqrt(theta^2 + psi^2), the distance to the equilibrium, elementwise."""
    return torch.hypot(_as_tensor("theta", theta), _as_tensor("psi", psi))


def update_matrix(lr: float, *, update: str = "simultaneous", penalty: float = 0.0) -> torch.Tensor:
    """The 2 x 2 matrix A with (theta', psi') = A (theta, psi) for ``gradient_step`` (float64).

    simultaneous: A = I + eta J, J = [[0, 1], [-1, -gamma]];
    alternating:  A = [[1 - eta^2, eta (1 - eta gamma)], [-eta, 1 - eta gamma]] (critic first).
    """
    eta, gamma = _check_step(lr, update, penalty)
    if update == "simultaneous":
        rows = [[1.0, eta], [-eta, 1.0 - eta * gamma]]
    else:
        rows = [[1.0 - eta * eta, eta * (1.0 - eta * gamma)], [-eta, 1.0 - eta * gamma]]
    return torch.tensor(rows, dtype=torch.float64)


def eigenvalues(lr: float, *, update: str = "simultaneous", penalty: float = 0.0) -> torch.Tensor:
    """The two (complex) eigenvalues of ``update_matrix``: the factors the dynamics multiply by per step.

    Unregularised simultaneous: 1 +- i eta (modulus sqrt(1 + eta^2)); alternating: e^{+- i omega} with
    cos omega = 1 - eta^2 / 2 for eta < 2 (modulus 1)."""
    return torch.linalg.eigvals(update_matrix(lr, update=update, penalty=penalty))


def spectral_radius(lr: float, *, update: str = "simultaneous", penalty: float = 0.0) -> float:
    """max |lambda| over ``eigenvalues``: below 1 the iterates converge to (0, 0) from every start, above 1
    they run away from almost every start."""
    return float(eigenvalues(lr, update=update, penalty=penalty).abs().max())
