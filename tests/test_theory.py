"""gan_lab.theory: closed forms against grid integrals and autograd."""
import math

import pytest
import torch

from gan_lab import data, losses, theory

DX = 1e-3
GRID = torch.arange(-20, 20, DX, dtype=torch.float64) + DX / 2     # midpoints


def normal(x, m, s):
    return torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def uniform(x, a, b):
    return ((x >= a) & (x < b)).double() / (b - a)


# ---- KL and JS -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("m1, s1, m2, s2", [(0, 1, 0, 1), (0, 1, 1, 1), (0.5, 0.7, -1, 2), (2, 3, 0, 1.5)])
def test_kl_of_two_gaussians_on_a_grid_matches_the_closed_form(m1, s1, m2, s2):
    expected = math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5
    got = theory.kl_divergence(normal(GRID, m1, s1), normal(GRID, m2, s2), DX)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_kl_is_infinite_when_p_has_mass_where_q_has_none():
    assert theory.kl_divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item() == math.inf
    # the other way round is finite: 0 log 0 = 0
    assert theory.kl_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize("p, q", [([1.0, 0.0], [0.0, 1.0]), ([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]),
                                  ([0.2, 0.3, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.1, 0.1, 0.8])])
def test_js_of_disjoint_distributions_is_log_2(p, q):
    p, q = torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
    assert theory.js_divergence(p, q).item() == pytest.approx(math.log(2), rel=1e-12)


def test_js_is_zero_for_equal_symmetric_and_between_0_and_log_2():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        p, q = torch.rand(10, generator=g, dtype=torch.float64), torch.rand(10, generator=g, dtype=torch.float64)
        p, q = p / p.sum(), q / q.sum()
        js = theory.js_divergence(p, q).item()
        assert 0 < js < math.log(2)
        assert theory.js_divergence(q, p).item() == pytest.approx(js, rel=1e-12)
        assert theory.js_divergence(p, p).item() == pytest.approx(0.0, abs=1e-15)


def test_js_of_a_discrete_pair_matches_a_hand_computation():
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.0, 0.5, 0.5])
    # M = (1/4, 1/2, 1/4): KL(P||M) = 1/2 log 2 + 1/2 log 1 = 1/2 log 2, same for Q
    assert theory.js_divergence(p, q).item() == pytest.approx(0.5 * math.log(2), rel=1e-12)


@pytest.mark.parametrize("a", [0.0, 0.3, 0.5, 0.999, 1.0, 2.0, -0.4, -3.0])
def test_js_shifted_uniforms_matches_a_grid_computation(a):
    dx = 1e-4
    x = torch.arange(-4, 6, dx, dtype=torch.float64) + dx / 2
    grid_js = theory.js_divergence(uniform(x, 0, 1), uniform(x, a, 1 + a), dx).item()
    assert theory.js_shifted_uniforms(a) == pytest.approx(grid_js, abs=1e-3)
    assert isinstance(theory.js_shifted_uniforms(a), float)


@pytest.mark.parametrize("fn", [theory.kl_divergence, theory.js_divergence])
def test_divergences_are_float64_scalars_even_for_float32_or_list_input(fn):
    for p, q in ((torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])), ([0.25, 0.75], [0.5, 0.5])):
        out = fn(p, q)
        assert out.shape == () and out.dtype == torch.float64


# ---- the optimal discriminator and the value of the game ------------------------------------------------

def test_optimal_discriminator_is_p_over_p_plus_q_with_one_half_where_both_vanish():
    p = torch.tensor([1.0, 0.0, 0.3, 0.0, 2.0])
    q = torch.tensor([1.0, 2.0, 0.1, 0.0, 0.0])
    d = theory.optimal_discriminator(p, q)
    assert d.dtype == torch.float64 and d.shape == p.shape
    torch.testing.assert_close(d, torch.tensor([0.5, 0.0, 0.75, 0.5, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("p_g", [lambda x: normal(x, 1.0, 1.0), lambda x: normal(x, 0.0, 3.0),
                                 lambda x: data.density("gaussian1d", x)])
def test_value_at_the_optimal_discriminator_is_minus_log_4_plus_2_js(p_g):
    p = data.density("bimodal1d", GRID)
    q = p_g(GRID)
    v = theory.value_function(theory.optimal_discriminator(p, q), p, q, DX)
    expected = -math.log(4) + 2 * theory.js_divergence(p, q, DX)
    assert v.item() == pytest.approx(expected.item(), abs=1e-9)
    assert -math.log(4) - 1e-9 <= v.item() <= 1e-9


def test_value_at_d_one_half_is_minus_log_4():
    p, q = data.density("bimodal1d", GRID), data.density("gaussian1d", GRID)
    assert theory.value_function(torch.full_like(GRID, 0.5), p, q, DX).item() == pytest.approx(-math.log(4), abs=1e-6)


def test_no_discriminator_beats_the_optimal_one():
    p, q = data.density("bimodal1d", GRID), normal(GRID, 0.5, 1.0)
    best = theory.value_function(theory.optimal_discriminator(p, q), p, q, DX).item()
    g = torch.Generator().manual_seed(0)
    d_star = theory.optimal_discriminator(p, q)
    for scale in (0.01, 0.1, 0.3):
        d = (d_star + scale * (torch.rand(len(GRID), generator=g, dtype=torch.float64) - 0.5)).clamp(1e-6, 1 - 1e-6)
        assert theory.value_function(d, p, q, DX).item() < best


def test_value_at_the_optimum_for_shifted_uniforms_matches_js_shifted_uniforms():
    dx = 1e-4
    x = torch.arange(-1, 4, dx, dtype=torch.float64) + dx / 2
    for a in (0.0, 0.25, 0.5, 1.0, 1.5):
        p, q = uniform(x, 0, 1), uniform(x, a, 1 + a)
        v = theory.value_function(theory.optimal_discriminator(p, q), p, q, dx).item()
        assert v == pytest.approx(-math.log(4) + 2 * theory.js_shifted_uniforms(a), abs=1e-3)


# ---- the generator's gradient -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["saturating", "non_saturating"])
def test_generator_gradient_is_the_absolute_autograd_derivative_of_the_loss(kind):
    logits = torch.linspace(-8, 8, 33, dtype=torch.float64, requires_grad=True)
    loss = losses.generator_loss(logits, kind) * len(logits)     # the loss is a batch mean: undo the 1/n
    (grad,) = torch.autograd.grad(loss, logits)
    got = theory.generator_gradient(torch.sigmoid(logits.detach()), kind)
    torch.testing.assert_close(got, grad.abs(), rtol=1e-12, atol=1e-15)


def test_generator_gradient_vanishes_only_for_the_saturating_loss_when_d_rejects():
    d = torch.tensor([1e-6, 0.5, 1 - 1e-6], dtype=torch.float64)
    torch.testing.assert_close(theory.generator_gradient(d, "saturating"), d)
    torch.testing.assert_close(theory.generator_gradient(d, "non_saturating"), 1 - d)


# ---- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [theory.kl_divergence, theory.js_divergence, theory.optimal_discriminator])
@pytest.mark.parametrize("bad, pattern", [([0.5, -0.1], "non-negative"), ([0.5, math.nan], "NaN or Inf"),
                                          ([0.5, math.inf], "NaN or Inf")])
def test_densities_must_be_finite_and_non_negative(fn, bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(torch.tensor(bad), torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("d", [[0.5, 1.5], [-0.1, 0.5], [0.5, math.nan]], ids=["above 1", "below 0", "nan"])
def test_value_function_rejects_a_d_outside_0_1(d):
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        theory.value_function(torch.tensor(d), p, p)


def test_generator_gradient_rejects_an_unknown_kind_naming_it():
    with pytest.raises(ValueError) as err:
        theory.generator_gradient(torch.tensor([0.5]), "wasserstein")
    assert str(err.value) == "unknown generator loss 'wasserstein'; use one of ('saturating', 'non_saturating')"


@pytest.mark.parametrize("theta", [0.5, -0.25, 3.0])
def test_parallel_lines_closed_forms_for_disjoint_lines(theta):
    d = theory.parallel_lines(theta)
    assert d == {"kl": math.inf, "js": pytest.approx(math.log(2)), "tv": 1.0, "w1": pytest.approx(abs(theta))}


def test_parallel_lines_are_all_zero_at_theta_0():
    assert theory.parallel_lines(0.0) == {"kl": 0.0, "js": 0.0, "tv": 0.0, "w1": 0.0}


def test_parallel_lines_js_agrees_with_the_discrete_js_of_disjoint_supports():
    # Discretise both lines on a grid of cells: for theta != 0 they occupy different cells.
    p = torch.cat([torch.full((50,), 1 / 50), torch.zeros(50)])
    q = torch.cat([torch.zeros(50), torch.full((50,), 1 / 50)])
    assert theory.js_divergence(p, q).item() == pytest.approx(theory.parallel_lines(0.1)["js"])
    assert theory.kl_divergence(p, q).item() == theory.parallel_lines(0.1)["kl"]


def test_parallel_lines_rejects_non_finite_theta_naming_it():
    with pytest.raises(ValueError, match="nan"):
        theory.parallel_lines(float("nan"))


# ---- least-squares GAN: the optimal discriminator, Pearson chi^2, the generator's objective --------------

def _random_densities(seed, n=200, zeros=20):
    """Two random probability vectors on n cells; each vanishes on its own ``zeros`` cells, some shared."""
    g = torch.Generator().manual_seed(seed)
    p, q = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    p[torch.randperm(n, generator=g)[:zeros]] = 0
    q[torch.randperm(n, generator=g)[:zeros]] = 0
    p[:3] = q[:3] = 0                                          # cells where both vanish
    return p / p.sum(), q / q.sum()


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (-1.0, 1.0), (0.5, -2.0)])
def test_ls_optimal_discriminator_is_the_argmin_of_the_pointwise_objective(a, b):
    """At every x, D*(x) minimises p_data(x) (d - b)^2 + p_g(x) (d - a)^2 over d (a grid search)."""
    p, q = _random_densities(0, n=50, zeros=5)
    d_grid = torch.linspace(min(a, b) - 1, max(a, b) + 1, 40_001, dtype=torch.float64)   # spacing 1e-4 or less
    pointwise = 0.5 * p[:, None] * (d_grid[None] - b) ** 2 + 0.5 * q[:, None] * (d_grid[None] - a) ** 2
    best = d_grid[pointwise.argmin(dim=1)]
    d_star = theory.least_squares_optimal_discriminator(p, q, a=a, b=b)
    defined = (p + q) > 0
    assert (d_star[defined] - best[defined]).abs().max().item() <= 1e-4
    assert torch.all(d_star[~defined] == (a + b) / 2)


def test_ls_optimal_discriminator_with_0_1_labels_is_the_gan_one():
    p, q = _random_densities(1)
    torch.testing.assert_close(theory.least_squares_optimal_discriminator(p, q), theory.optimal_discriminator(p, q),
                               rtol=1e-15, atol=0)


def test_pearson_chi2_of_a_discrete_pair_matches_a_hand_computation():
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.25, 0.75, 0.0])
    # (1/4)^2 / (1/4) + (1/4)^2 / (3/4) = 1/4 + 1/12; the third cell is 0/0 = 0
    assert theory.pearson_chi2_divergence(p, q).item() == pytest.approx(1 / 4 + 1 / 12, rel=1e-12)
    assert theory.pearson_chi2_divergence(p, p).item() == 0.0


@pytest.mark.parametrize("m1, m2, s", [(0.0, 1.0, 1.0), (0.5, -0.5, 2.0), (0.0, 0.0, 1.5)])
def test_pearson_chi2_of_gaussians_on_a_grid_matches_the_closed_form(m1, m2, s):
    """chi^2(N(m1, s^2) || N(m2, s^2)) = exp((m1 - m2)^2 / s^2) - 1."""
    got = theory.pearson_chi2_divergence(normal(GRID, m1, s), normal(GRID, m2, s), DX).item()
    assert got == pytest.approx(math.exp((m1 - m2) ** 2 / s ** 2) - 1, abs=1e-6)


def test_pearson_chi2_is_infinite_when_p_has_mass_where_q_has_none():
    assert theory.pearson_chi2_divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item() == math.inf
    assert theory.pearson_chi2_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])).item() == \
        pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_ls_generator_objective_with_b_minus_c_1_and_b_minus_a_2_is_half_a_pearson_chi2(seed):
    """Mao et al. 2017, Sec. 3.2: C(G) = 1/2 chi^2(2 p_g || p_data + p_g) = chi^2(p_data || (p_data + p_g)/2)."""
    p, q = _random_densities(10 + seed)
    for a, b, c in ((-1.0, 1.0, 0.0), (0.0, 2.0, 1.0), (-3.0, -1.0, -2.0)):
        got = theory.least_squares_generator_objective(p, q, a=a, b=b, c=c).item()
        assert got == pytest.approx(0.5 * theory.pearson_chi2_divergence(2 * q, p + q).item(), rel=1e-12)
        assert got == pytest.approx(theory.pearson_chi2_divergence(p, (p + q) / 2).item(), rel=1e-12)
        assert got > 0.01
    # the paper's chi^2_Pearson(p_data + p_g || 2 p_g) puts p_data + p_g in the denominator: with this module's
    # chi^2(P || Q) = integral of (p - q)^2 / q, reading its arguments in order gives a different number
    literal = 0.5 * theory.pearson_chi2_divergence(p + q, 2 * q).item()
    assert not literal == pytest.approx(got, rel=1e-3)


@pytest.mark.parametrize("a, b, c", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0), (0.0, 1.0, 0.5), (2.0, -1.0, 3.0)])
def test_ls_generator_objective_on_a_grid_matches_its_closed_form(a, b, c):
    """C(G) = 1/2 integral of ((b - c)(p_data + p_g) - (b - a) p_g)^2 / (p_data + p_g), on 1-D densities."""
    p, q = data.density("bimodal1d", GRID), normal(GRID, 0.5, 1.5)
    total = p + q
    expected = 0.5 * (((b - c) * total - (b - a) * q) ** 2 / total).sum() * DX
    got = theory.least_squares_generator_objective(p, q, DX, a=a, b=b, c=c)
    assert got.item() == pytest.approx(expected.item(), rel=1e-10)


def test_ls_generator_objective_is_zero_at_p_g_equal_p_data_only_under_the_chi2_coding():
    p, q = _random_densities(20)
    assert theory.least_squares_generator_objective(p, p, a=-1, b=1, c=0).item() == pytest.approx(0.0, abs=1e-15)
    assert theory.least_squares_generator_objective(p, q, a=-1, b=1, c=0).item() > 0.01
    # with the 0-1 coding (a = 0, b = c = 1) D* = 1/2 there and C = 1/2 (1/2)^2 (1 + 1) = 1/4 instead
    assert theory.least_squares_generator_objective(p, p).item() == pytest.approx(0.25, rel=1e-12)


@pytest.mark.parametrize("fn", [
    lambda p, q: theory.least_squares_optimal_discriminator(p, q),
    theory.pearson_chi2_divergence,
    lambda p, q: theory.least_squares_generator_objective(p, q),
], ids=["ls_optimal_discriminator", "pearson_chi2", "ls_generator_objective"])
@pytest.mark.parametrize("bad, pattern", [([0.5, -0.1], "non-negative"), ([0.5, math.nan], "NaN or Inf")])
def test_least_squares_theory_rejects_bad_densities(fn, bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(torch.tensor(bad), torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("kwargs, name", [(dict(a=math.nan), "a"), (dict(b=math.inf), "b"), (dict(c=None), "c"),
                                          (dict(a=True), "a")])
def test_ls_generator_objective_rejects_non_finite_labels_naming_them(kwargs, name):
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        theory.least_squares_generator_objective(p, p, **kwargs)
    if name != "c":
        with pytest.raises(ValueError, match=f"{name} must be a finite number"):
            theory.least_squares_optimal_discriminator(p, p, **kwargs)
