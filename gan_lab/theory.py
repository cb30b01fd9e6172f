"""Closed forms and grid integrals that the chapters check their experiments against.

Densities are given as values on a uniform grid with spacing ``dx``; with ``dx=1`` the same functions
take probability vectors of discrete distributions. All logs are natural (nats), with 0 log 0 = 0.
"""
from __future__ import annotations

import math

import torch

from . import checks

__all__ = [
    "optimal_discriminator",
    "value_function",
    "kl_divergence",
    "js_divergence",
    "js_shifted_uniforms",
    "generator_gradient",
    "parallel_lines",
    "tv_distance",
    "kl_gaussians",
    "least_squares_optimal_discriminator",
    "pearson_chi2_divergence",
    "least_squares_generator_objective",
]


def _as64(name: str, x) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or Inf")
    if (t < 0).any():
        raise ValueError(f"{name} must be non-negative (a density or probabilities), min is {t.min().item():.3g}")
    return t


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), given both densities at the same points.

    Where both densities vanish, D* is undefined (it never matters for V); we return 1/2 there.
    """
    p, q = _as64("p_data", p_data), _as64("p_g", p_g)
    total = p + q
    return torch.where(total > 0, p / torch.where(total > 0, total, 1.0), torch.full_like(total, 0.5))


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.special.xlogy(x, y)


def value_function(d: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """V(D, G) = integral of p_data log D + p_g log(1 - D), as a Riemann sum with spacing dx."""
    d = torch.as_tensor(d, dtype=torch.float64)
    if not ((d >= 0) & (d <= 1)).all():
        raise ValueError("d must hold probabilities in [0, 1]")
    p, q = _as64("p_data", p_data), _as64("p_g", p_g)
    return (_xlogy(p, d) + _xlogy(q, 1 - d)).sum() * dx


def kl_divergence(p: torch.Tensor, q: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """KL(P || Q) = integral of p log(p / q); +inf when P puts mass where Q has none."""
    p, q = _as64("p", p), _as64("q", q)
    if ((p > 0) & (q == 0)).any():
        return torch.tensor(math.inf, dtype=torch.float64)
    return (_xlogy(p, p) - _xlogy(p, q)).sum() * dx


def js_divergence(p: torch.Tensor, q: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """JS(P || Q) = KL(P || M)/2 + KL(Q || M)/2 with M = (P + Q)/2; between 0 and log 2."""
    p, q = _as64("p", p), _as64("q", q)
    m = (p + q) / 2
    return (kl_divergence(p, m, dx) + kl_divergence(q, m, dx)) / 2


def js_shifted_uniforms(a: float) -> float:
    """JS(U[0, 1] || U[a, 1 + a]) = min(|a|, 1) log 2: each distribution has mass min(|a|, 1) where
    the other has none, and there the mixture's density is half its own."""
    return min(abs(float(a)), 1.0) * math.log(2.0)


def generator_gradient(d_of_fake: torch.Tensor, kind: str) -> torch.Tensor:
    """|d loss / d l| for the generator's loss at a fake sample with D(G(z)) = sigmoid(l) = d.

    saturating, loss log(1 - D): |-sigmoid(l)| = d, which vanishes as D rejects the fake (d -> 0);
    non-saturating, loss -log D: |-(1 - sigmoid(l))| = 1 - d, which is largest there.
    """
    checks.choice("generator loss", kind, ("saturating", "non_saturating"))
    d = torch.as_tensor(d_of_fake, dtype=torch.float64)
    return d if kind == "saturating" else 1 - d


def parallel_lines(theta: float) -> dict:
    """The WGAN paper's Example 1 in closed form: P_0 = (0, Z) and P_theta = (theta, Z), Z ~ U[0, 1].

    For theta != 0 the two segments are disjoint: KL = +inf (P_0 puts mass where P_theta has none),
    JS = log 2, TV = 1, and W1 = |theta| (move every point sideways by |theta|). At theta = 0 all are 0.
    Keys: ``"kl"``, ``"js"``, ``"tv"``, ``"w1"``; values in nats where logs appear.
    """
    theta = checks.finite_number("theta", theta)
    if theta == 0.0:
        return {"kl": 0.0, "js": 0.0, "tv": 0.0, "w1": 0.0}
    return {"kl": math.inf, "js": math.log(2.0), "tv": 1.0, "w1": abs(theta)}


def tv_distance(p: torch.Tensor, q: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """TV(P, Q) = sup over events A of |P(A) - Q(A)| = integral of |p - q| / 2, as a Riemann sum with
    spacing dx. Between 0 and 1; it is 1 exactly when P and Q live on disjoint sets."""
    p, q = _as64("p", p), _as64("q", q)
    return (p - q).abs().sum() * dx / 2


def kl_gaussians(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2, in nats.

    Not symmetric: swapping the two Gaussians changes the value unless s1 = s2.
    """
    values = {}
    for name, v in (("m1", m1), ("s1", s1), ("m2", m2), ("s2", s2)):
        # a 0-d tensor (a parameter read off a model) counts as its number
        values[name] = checks.finite_number(name, v.item() if isinstance(v, torch.Tensor) and v.dim() == 0 else v)
    for name in ("s1", "s2"):
        if not values[name] > 0:
            raise ValueError(f"{name} is a standard deviation and must be positive, got {values[name]!r}")
    m1, s1, m2, s2 = values["m1"], values["s1"], values["m2"], values["s2"]
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


# ---- least-squares GAN (Mao et al. 2017, Sec. 3.2) ---------------------------------------------------------

def least_squares_optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor, *, a: float = 0.0,
                                        b: float = 1.0) -> torch.Tensor:
    """D*(x) = (b p_data(x) + a p_g(x)) / (p_data(x) + p_g(x)): the output that minimises the LSGAN
    discriminator's objective 1/2 E_data[(D(x) - b)^2] + 1/2 E_g[(D(x) - a)^2] point by point (labels b for
    real, a for fake), given both densities at the same points. With a = 0, b = 1 it is
    ``optimal_discriminator``'s p_data / (p_data + p_g).

    Where both densities vanish, D* is undefined (it never matters for the objective); we return the
    midpoint (a + b) / 2 there, its value where p_data = p_g.
    """
    a, b = checks.finite_number("a", a), checks.finite_number("b", b)
    p, q = _as64("p_data", p_data), _as64("p_g", p_g)
    total = p + q
    return torch.where(total > 0, (b * p + a * q) / torch.where(total > 0, total, 1.0),
                       torch.full_like(total, (a + b) / 2))


def pearson_chi2_divergence(p: torch.Tensor, q: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """chi^2_Pearson(P || Q) = integral of (p - q)^2 / q, the f-divergence of f(t) = (t - 1)^2; +inf when P
    puts mass where Q has none, and 0 / 0 = 0 where both vanish. p and q need not integrate to 1."""
    p, q = _as64("p", p), _as64("q", q)
    if ((p > 0) & (q == 0)).any():
        return torch.tensor(math.inf, dtype=torch.float64)
    return torch.where(q > 0, (p - q) ** 2 / torch.where(q > 0, q, 1.0), torch.zeros_like(q)).sum() * dx


def least_squares_generator_objective(p_data: torch.Tensor, p_g: torch.Tensor, dx: float = 1.0, *,
                                      a: float = 0.0, b: float = 1.0, c: float = 1.0) -> torch.Tensor:
    """C(G) = 1/2 E_{x ~ p_data}[(D*(x) - c)^2] + 1/2 E_{x ~ p_g}[(D*(x) - c)^2], the LSGAN generator's
    objective at the optimal discriminator D* = ``least_squares_optimal_discriminator(p_data, p_g, a=a, b=b)``,
    computed from this definition as a Riemann sum with spacing dx.

    The first term does not depend on G for a fixed D, so adding it leaves the generator's gradient as
    ``losses.least_squares_generator_loss`` gives it (Mao et al. 2017 add it to relate LSGAN to a divergence);
    at D*, though, it depends on p_g through D*. Substituting D* gives
    C(G) = 1/2 integral of ((b - c)(p_data + p_g) - (b - a) p_g)^2 / (p_data + p_g), so with b - c = 1 and
    b - a = 2 (e.g. a = -1, b = 1, c = 0)

        C(G) = 1/2 integral of (2 p_g - (p_data + p_g))^2 / (p_data + p_g)
             = 1/2 pearson_chi2_divergence(2 p_g, p_data + p_g)
             = pearson_chi2_divergence(p_data, (p_data + p_g) / 2),

    which is 0 exactly when p_g = p_data. The paper writes the same integral as
    chi^2_Pearson(p_data + p_g || 2 p_g) and states 2 C(G) = chi^2_Pearson: its notation puts the first
    argument in the denominator, so with chi^2_Pearson(P || Q) = integral of (p - q)^2 / q, as here, the
    arguments are swapped.
    """
    a, b, c = checks.finite_number("a", a), checks.finite_number("b", b), checks.finite_number("c", c)
    p, q = _as64("p_data", p_data), _as64("p_g", p_g)
    d_star = least_squares_optimal_discriminator(p, q, a=a, b=b)
    return 0.5 * (p * (d_star - c) ** 2).sum() * dx + 0.5 * (q * (d_star - c) ** 2).sum() * dx
