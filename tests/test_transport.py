"""gan_lab.transport (exact transport plans between small samples, and drawing them) and
gan_lab.estimate.input_gradient (a function's gradient with respect to its input, point by point)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gan_lab import estimate, metrics, nets, transport


# ---- transport_plan --------------------------------------------------------------------------------------

def _cloud(n=30, d=2, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_the_plan_of_two_equal_size_samples_is_a_matching_with_mass_one_over_n():
    x, y = _cloud(seed=0), _cloud(seed=1)
    plan, cost = transport.transport_plan(x, y)
    assert plan.shape == (30, 30)
    # a permutation matrix divided by n: one non-zero per row and per column, each 1/n
    assert ((plan > 1e-12).sum(axis=0) == 1).all() and ((plan > 1e-12).sum(axis=1) == 1).all()
    assert plan[plan > 1e-12] == pytest.approx(np.full(30, 1 / 30))
    assert len(transport.transport_plan(x, y).pairs()) == 30


def test_the_cost_is_exact_w1_and_the_plan_has_the_right_marginals():
    x, y = _cloud(25, seed=2), _cloud(40, seed=3) + 0.5
    result = transport.transport_plan(x, y)
    assert result.cost == pytest.approx(metrics.wasserstein1(x, y), rel=1e-9)
    assert result.plan.sum(axis=1) == pytest.approx(np.full(25, 1 / 25))
    assert result.plan.sum(axis=0) == pytest.approx(np.full(40, 1 / 40))
    assert (result.plan >= 0).all()
    dist = torch.cdist(x.double(), y.double()).numpy()
    assert result.cost == pytest.approx((result.plan * dist).sum(), rel=1e-12)


def test_a_translate_is_matched_point_to_point_and_costs_the_length_of_the_shift():
    x = _cloud(20, seed=4) * 0.1        # a tight cloud: moving it sideways by 3 is the only sensible plan
    shift = torch.tensor([3.0, 4.0])
    plan, cost = transport.transport_plan(x, x + shift)
    assert cost == pytest.approx(5.0, rel=1e-9)
    assert np.array_equal(transport.Transport(plan, cost).pairs(), np.stack([np.arange(20)] * 2, axis=1))


def test_1d_points_match_in_sorted_order():
    x = torch.tensor([3.0, -1.0, 0.5, 2.0])
    y = torch.tensor([0.0, 10.0, -2.0, 1.0])
    result = transport.transport_plan(x, y)
    expected = (np.sort(x.numpy()) - np.sort(y.numpy())).__abs__().mean()
    assert result.cost == pytest.approx(expected, rel=1e-12)
    # x's order is (-1, 0.5, 2, 3) -> indices (1, 2, 3, 0); y's is (-2, 0, 1, 10) -> (2, 0, 3, 1)
    assert sorted(map(tuple, result.pairs())) == sorted([(1, 2), (2, 0), (3, 3), (0, 1)])


def test_weights_on_a_shared_grid_give_the_integral_of_the_cdf_gap():
    grid = torch.arange(5.0)
    a = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0], dtype=torch.float64)
    b = torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5], dtype=torch.float64)
    # every half unit of mass moves 3: W1 = 3
    assert transport.transport_plan(grid, grid, a, b).cost == pytest.approx(3.0, rel=1e-12)
    rng = np.random.default_rng(0)
    p, q = rng.random(12), rng.random(12)
    p, q = p / p.sum(), q / q.sum()
    x = np.linspace(0.0, 2.2, 12)
    expected = np.abs(np.cumsum(p - q))[:-1].sum() * (x[1] - x[0])
    assert transport.transport_plan(x, x, p, q).cost == pytest.approx(expected, rel=1e-9)


def test_a_distribution_against_itself_costs_nothing():
    x = _cloud(15, seed=5)
    plan, cost = transport.transport_plan(x, x)
    assert cost == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(plan, np.eye(15) / 15)


def test_transport_accepts_numpy_and_returns_a_float_and_an_array():
    result = transport.transport_plan(np.zeros((3, 2)), np.ones((2, 2)))
    assert isinstance(result.cost, float) and isinstance(result.plan, np.ndarray)
    assert result.cost == pytest.approx(math.sqrt(2))
    plan, cost = result                  # unpacks as a pair
    assert cost == result.cost and plan is result.plan


@pytest.mark.parametrize("x, y, kw, fragment", [
    (torch.zeros(3, 2), torch.zeros(3, 3), {}, "different dimensions"),
    (torch.zeros(0, 2), torch.zeros(3, 2), {}, "non-empty"),
    (torch.tensor([[0.0, float("nan")]]), torch.zeros(3, 2), {}, "NaN or Inf"),
    (torch.zeros(3, 2), torch.zeros(2, 2), dict(a=[0.5, 0.5]), "one mass per point"),
    (torch.zeros(3, 2), torch.zeros(2, 2), dict(b=[0.7, 0.7]), "sum to 1"),
    (torch.zeros(2, 2), torch.zeros(2, 2), dict(a=[1.5, -0.5]), "non-negative"),
])
def test_bad_inputs_are_rejected_naming_the_problem(x, y, kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        transport.transport_plan(x, y, **kw)


# ---- draw_plan ---------------------------------------------------------------------------------------------

def test_draw_plan_draws_one_segment_per_matched_pair_and_both_clouds():
    x, y = _cloud(6, seed=6), _cloud(6, seed=7) + 2
    plan, _ = transport.transport_plan(x, y)
    fig, ax = plt.subplots()
    try:
        assert transport.draw_plan(ax, x, y, plan) is ax
        assert len(ax.lines) == 6
        assert len(ax.collections) == 2
        seg = ax.lines[0].get_xydata()
        i, j = np.argwhere(plan > 1e-12)[0]
        assert np.allclose(seg, [x[i].numpy(), y[j].numpy()])
    finally:
        plt.close(fig)


def test_draw_plan_rejects_a_plan_of_the_wrong_shape_and_non_2d_points():
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="shape"):
            transport.draw_plan(ax, _cloud(3), _cloud(4), np.eye(3))
        with pytest.raises(ValueError, match="2-D"):
            transport.draw_plan(ax, torch.zeros(3, 1), torch.zeros(3, 1), np.eye(3) / 3)
    finally:
        plt.close(fig)


# ---- estimate.input_gradient ------------------------------------------------------------------------------

def test_input_gradient_of_a_linear_function_is_its_weight_at_every_point():
    w = torch.tensor([0.6, -0.8])
    x = _cloud(50, seed=8)
    grad = estimate.input_gradient(lambda z: z @ w, x)
    assert grad.shape == (50, 2)
    assert torch.allclose(grad, w.expand(50, 2))


def test_input_gradient_matches_a_closed_form_per_point():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)[:, None]
    grad = estimate.input_gradient(lambda z: torch.sigmoid(3 * z), x)        # (n, 1) outputs
    s = torch.sigmoid(3 * x)
    assert torch.allclose(grad, 3 * s * (1 - s))
    grad_sq = estimate.input_gradient(lambda z: (z ** 2).sum(dim=1), _cloud(7, 3, seed=9))
    assert torch.allclose(grad_sq, 2 * _cloud(7, 3, seed=9))


def test_input_gradient_of_an_mlp_matches_finite_differences_and_leaves_parameters_alone():
    torch.manual_seed(0)
    f = nets.critic(2, width=16, depth=2).double()
    x = _cloud(10, seed=10).double()
    with torch.no_grad():                     # works under no_grad too
        grad = estimate.input_gradient(f, x)
    h = 1e-6
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = h
        fd = (f(x + e) - f(x - e))[:, 0] / (2 * h)
        assert torch.allclose(grad[:, k], fd, atol=1e-6)
    assert all(p.grad is None for p in f.parameters())
    assert not grad.requires_grad


def test_input_gradient_rejects_bad_points_and_functions_that_mix_points():
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        estimate.input_gradient(lambda z: z.sum(1), torch.zeros(5))
    with pytest.raises(ValueError, match="floating-point"):
        estimate.input_gradient(lambda z: z.sum(1), torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="one value per point"):
        estimate.input_gradient(lambda z: z.sum(), torch.zeros(5, 2))


# ---- estimate.generator_gradient_norm(..., "wasserstein") ----------------------------------------------------------

def _linear_critic(w):
    f = torch.nn.Linear(2, 1)
    with torch.no_grad():
        f.weight.copy_(torch.tensor([w]))
        f.bias.zero_()
    return f


def test_wasserstein_gradient_of_the_parallel_lines_is_the_critics_slope_along_theta():
    # L_G = -E f(theta, u) with f(x) = 0.7 x1 - 3 x2: dL_G/dtheta = -0.7 whatever the noise
    g, f = nets.ParallelLines(0.4), _linear_critic([0.7, -3.0])
    assert estimate.generator_gradient_norm(g, f, "wasserstein", n=64, noise_dim=1) == pytest.approx(0.7, rel=1e-6)


def test_wasserstein_gradient_leaves_the_critic_untouched_and_counts_every_generator_parameter():
    torch.manual_seed(0)
    g, f = nets.generator(2, 3, width=8, depth=1), nets.critic(2, width=8, depth=1)
    before = [p.detach().clone() for p in f.parameters()]
    norm = estimate.generator_gradient_norm(g, f, "wasserstein", n=128, seed=1)   # noise_dim from g.in_dim
    z = torch.randn(128, 3, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad(-f(g(z)).mean(), list(g.parameters()))
    assert norm == pytest.approx(torch.sqrt(sum((x ** 2).sum() for x in grads)).item(), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(before, f.parameters()))
    assert all(p.grad is None and p.requires_grad for p in f.parameters())
    assert all(p.grad is None for p in g.parameters())


def test_wasserstein_gradient_rejects_bad_settings():
    with pytest.raises(ValueError, match="n must be"):
        estimate.generator_gradient_norm(nets.ParallelLines(), _linear_critic([1.0, 0.0]), "wasserstein", n=0, noise_dim=1)
    with pytest.raises(ValueError, match="noise_dim"):
        estimate.generator_gradient_norm(nets.ParallelLines(), _linear_critic([1.0, 0.0]), "wasserstein")
    frozen = nets.ParallelLines().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        estimate.generator_gradient_norm(frozen, _linear_critic([1.0, 0.0]), "wasserstein", noise_dim=1)
