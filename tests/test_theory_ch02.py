"""gan_lab.theory, the functions chapter 2 added: total variation and the KL of two Gaussians."""
import math

import pytest
import torch

from gan_lab import theory

DX = 1e-3
GRID = torch.arange(-25, 25, DX, dtype=torch.float64) + DX / 2     # midpoints


def normal(x, m, s):
    return torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


# ---- tv_distance ---------------------------------------------------------------------------------------

def test_tv_of_a_discrete_pair_matches_a_hand_computation():
    p, q = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    # |0.4| + 0 + |-0.4| = 0.8, halved; also the largest gap P(A) - Q(A), at A = {first point}: 0.4
    assert theory.tv_distance(p, q).item() == pytest.approx(0.4, rel=1e-12)


def test_tv_is_the_largest_difference_in_probability_of_an_event():
    """TV = max over events A of P(A) - Q(A), attained at A = {p > q}; check it against every event."""
    g = torch.Generator().manual_seed(0)
    p, q = torch.rand(8, generator=g, dtype=torch.float64), torch.rand(8, generator=g, dtype=torch.float64)
    p, q = p / p.sum(), q / q.sum()
    best = max(float(((p - q) * torch.tensor([(k >> i) & 1 for i in range(8)], dtype=torch.float64)).sum())
               for k in range(2 ** 8))
    assert theory.tv_distance(p, q).item() == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("p, q", [([1.0, 0.0], [0.0, 1.0]), ([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75])])
def test_tv_of_disjoint_distributions_is_1(p, q):
    assert theory.tv_distance(torch.tensor(p), torch.tensor(q)).item() == pytest.approx(1.0, rel=1e-12)


def test_tv_is_zero_for_equal_symmetric_and_at_most_1():
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        p, q = torch.rand(10, generator=g, dtype=torch.float64), torch.rand(10, generator=g, dtype=torch.float64)
        p, q = p / p.sum(), q / q.sum()
        tv = theory.tv_distance(p, q).item()
        assert 0 < tv < 1
        assert theory.tv_distance(q, p).item() == pytest.approx(tv, rel=1e-12)
        assert theory.tv_distance(p, p).item() == 0.0


@pytest.mark.parametrize("mu", [0.0, 0.3, 1.0, 2.5, -1.5])
def test_tv_of_two_shifted_gaussians_on_a_grid_matches_the_closed_form(mu):
    """N(0, 1) and N(mu, 1) cross at mu / 2, so TV = Phi(|mu| / 2) - Phi(-|mu| / 2) = erf(|mu| / (2 sqrt 2))."""
    got = theory.tv_distance(normal(GRID, 0, 1), normal(GRID, mu, 1), DX).item()
    assert got == pytest.approx(math.erf(abs(mu) / (2 * math.sqrt(2))), abs=1e-6)


def test_tv_is_a_float64_scalar_and_rejects_bad_densities():
    out = theory.tv_distance([0.25, 0.75], torch.tensor([0.5, 0.5], dtype=torch.float32))
    assert out.dtype == torch.float64 and out.dim() == 0
    with pytest.raises(ValueError, match="non-negative"):
        theory.tv_distance(torch.tensor([-0.1, 1.1]), torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        theory.tv_distance(torch.tensor([0.5, 0.5]), torch.tensor([float("nan"), 0.5]))


# ---- kl_gaussians --------------------------------------------------------------------------------------

@pytest.mark.parametrize("m1, s1, m2, s2", [(0, 1, 0, 1), (0, 1, 1, 1), (0.5, 0.7, -1, 2), (2, 3, 0, 1.5),
                                            (-1, 0.4, 0.3, 0.5)])
def test_kl_gaussians_matches_the_grid_integral(m1, s1, m2, s2):
    grid = theory.kl_divergence(normal(GRID, m1, s1), normal(GRID, m2, s2), DX).item()
    assert theory.kl_gaussians(m1, s1, m2, s2) == pytest.approx(grid, abs=1e-6)


def test_kl_gaussians_is_zero_for_equal_gaussians_and_half_mu_squared_for_a_unit_shift():
    assert theory.kl_gaussians(0.7, 1.3, 0.7, 1.3) == 0.0
    for mu in (0.5, 1.0, 3.0):
        assert theory.kl_gaussians(0.0, 1.0, mu, 1.0) == pytest.approx(mu ** 2 / 2, rel=1e-12)


def test_kl_gaussians_is_not_symmetric_when_the_spreads_differ():
    forward, backward = theory.kl_gaussians(0, 1, 0, 2), theory.kl_gaussians(0, 2, 0, 1)
    assert forward == pytest.approx(math.log(2) + 1 / 8 - 0.5, rel=1e-12)
    assert backward == pytest.approx(-math.log(2) + 2 - 0.5, rel=1e-12)
    assert forward < backward


def test_kl_gaussians_accepts_numpy_and_torch_scalars():
    import numpy as np

    expected = theory.kl_gaussians(0.0, 1.0, 1.0, 2.0)
    assert theory.kl_gaussians(np.float32(0.0), np.float64(1.0), torch.tensor(1.0), 2) == pytest.approx(expected)


@pytest.mark.parametrize("args, pattern", [((0, 0, 0, 1), "s1 .*positive"), ((0, 1, 0, -2), "s2 .*positive"),
                                           ((float("nan"), 1, 0, 1), "m1 must be a finite"),
                                           ((0, 1, float("inf"), 1), "m2 must be a finite"),
                                           ((0, True, 0, 1), "s1 must be a finite"),
                                           ((0, [1, 2], 0, 1), "s1 must be a finite")])
def test_kl_gaussians_rejects_bad_parameters_naming_them(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        theory.kl_gaussians(*args)
