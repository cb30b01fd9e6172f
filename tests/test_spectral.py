"""gan_lab.spectral: the exact sigma(W), power iteration converging to it, and the W / sigma map."""
import math

import numpy as np
import pytest
import torch

from gan_lab import spectral


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- the exact largest singular value --------------------------------------------------------------------

def test_largest_singular_value_of_closed_forms():
    diag = torch.diag(torch.tensor([0.5, -3.0, 2.0], dtype=torch.float64))
    assert spectral.largest_singular_value(diag).item() == pytest.approx(3.0, rel=1e-12)
    x, y = torch.tensor([3.0, 4.0], dtype=torch.float64), torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)
    # rank one: x y^T has the single singular value ||x|| ||y|| = 5 * 3
    assert spectral.largest_singular_value(torch.outer(x, y)).item() == pytest.approx(15.0, rel=1e-12)


def test_largest_singular_value_of_a_batch_is_each_matrix_own():
    w = torch.randn(3, 2, 7, 5, generator=_gen(0), dtype=torch.float64)
    got = spectral.largest_singular_value(w)
    assert got.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert got[i, j].item() == pytest.approx(torch.linalg.svdvals(w[i, j])[0].item(), rel=1e-12)


def test_a_conv_kernel_is_the_out_by_in_kh_kw_matrix():
    kernel = torch.randn(16, 8, 3, 3, generator=_gen(1), dtype=torch.float64)
    expected = torch.linalg.svdvals(kernel.reshape(16, 72))[0]
    assert spectral.largest_singular_value(kernel, batch_dims=0).item() == pytest.approx(expected.item(), rel=1e-12)
    stacked = torch.stack([kernel, 2 * kernel])                       # K = 2 stacked kernels
    torch.testing.assert_close(spectral.largest_singular_value(stacked, batch_dims=1),
                               torch.stack([expected, 2 * expected]))
    # without batch_dims a 4-D tensor is torch's batch of (kh, kw) matrices, a different number
    assert spectral.largest_singular_value(kernel).shape == (16, 8)


# ---- power iteration -------------------------------------------------------------------------------------

SHAPES = [(64, 32), (32, 64), (20, 20), (1, 16), (16, 8, 3, 3), (8, 3, 5, 5)]


def _relative_errors(weight, seed, counts=(1, 10, 100)):
    exact = spectral.largest_singular_value(weight, batch_dims=0).item()
    u = torch.randn(weight.shape[0], generator=_gen(seed), dtype=weight.dtype)
    return [abs(spectral.power_iteration(weight, u, n)[0].item() - exact) / exact for n in counts]


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_iteration_converges_to_the_exact_largest_singular_value(shape, seed):
    weight = torch.randn(shape, generator=_gen(100 + seed), dtype=torch.float64)
    e1, e10, e100 = _relative_errors(weight, seed)
    assert e100 < 1e-4
    if shape[0] == 1:            # one row: v = W^T u / ||W^T u|| is already exact after one step
        assert e1 < 1e-12
    else:
        assert e1 > e10 > e100


def test_power_iteration_estimate_never_exceeds_sigma_and_grows_with_iterations():
    weight = torch.randn(40, 30, generator=_gen(3), dtype=torch.float64)
    exact = spectral.largest_singular_value(weight).item()
    u = torch.randn(40, generator=_gen(4), dtype=torch.float64)
    estimates = [spectral.power_iteration(weight, u, n)[0].item() for n in range(1, 30)]
    assert all(0 < s <= exact * (1 + 1e-12) for s in estimates)
    assert all(a <= b * (1 + 1e-12) for a, b in zip(estimates, estimates[1:]))


def _known_spectrum(s, rows=8, seed=20):
    """W = U diag(s) V^T with random orthonormal U (rows x k) and V (k x k): singular values s, vectors U, V."""
    s = torch.tensor(s, dtype=torch.float64)
    u, _ = torch.linalg.qr(torch.randn(rows, len(s), generator=_gen(seed), dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(len(s), len(s), generator=_gen(seed + 1), dtype=torch.float64))
    return u @ torch.diag(s) @ v.T, u, v


def test_power_iteration_on_two_singular_directions_matches_the_closed_form():
    """u_0 = c1 u_1 + c2 u_2: v_n is proportional to s1^(2n-1) c1 v_1 + s2^(2n-1) c2 v_2 and sigma = ||W v_n||."""
    s1, s2, c1, c2 = 2.0, 1.0, 0.6, 0.8
    weight, u, _ = _known_spectrum([s1, s2, 0.5, 0.25])
    for n in range(1, 8):
        a, b = s1 ** (2 * n - 1) * c1, s2 ** (2 * n - 1) * c2
        expected = math.sqrt((s1 ** 2 * a ** 2 + s2 ** 2 * b ** 2) / (a ** 2 + b ** 2))
        sigma = spectral.power_iteration(weight, c1 * u[:, 0] + c2 * u[:, 1], n)[0].item()
        assert sigma == pytest.approx(expected, rel=1e-13, abs=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimate_of_sigma_converges_as_the_ratio_to_the_power_4n(seed):
    """(sigma(W) - sigma_n) / sigma(W) ~ C (s2/s1)^(4n): twice the rate r^(2n) of the vector u itself."""
    s = [2.0, 1.0, 0.6, 0.4, 0.2, 0.1]                    # s2 / s1 = 1/2: the error shrinks 16-fold a step
    weight, _, _ = _known_spectrum(s)
    u = torch.randn(8, generator=_gen(seed), dtype=torch.float64)
    ns = list(range(3, 10))                                # from step 3 the smaller singular values are gone
    errors = [(s[0] - spectral.power_iteration(weight, u, n)[0].item()) / s[0] for n in ns]
    rate = s[1] / s[0]
    constants = [e / rate ** (4 * n) for e, n in zip(errors, ns)]
    assert max(constants) / min(constants) < 1.5            # e_n = C r^(4n), C one constant within a factor
    for e, e_next in zip(errors, errors[1:]):
        assert e_next / e < rate ** 2 / 2                 # far faster than the r^(2n) of u
    x = torch.tensor(ns, dtype=torch.float64)
    y = torch.log(torch.tensor(errors))
    slope = (((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).item()
    assert slope / (4 * math.log(rate)) == pytest.approx(1.0, abs=0.05)


def test_one_step_from_the_returned_u_continues_the_iteration():
    """Ten calls of one step, each from the last u, are ten steps: what a persistent u does over training."""
    weight = torch.randn(12, 9, generator=_gen(5), dtype=torch.float64)
    u = torch.randn(12, generator=_gen(6), dtype=torch.float64)
    sigma10, u10, v10 = spectral.power_iteration(weight, u, 10)
    for _ in range(10):
        sigma, u, v = spectral.power_iteration(weight, u, 1)
    torch.testing.assert_close(sigma, sigma10, rtol=1e-12, atol=0)
    torch.testing.assert_close(u, u10, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(v, v10, rtol=1e-10, atol=1e-12)


def test_power_iteration_is_batched_over_leading_dimensions():
    weight = torch.randn(4, 10, 6, generator=_gen(7), dtype=torch.float64)
    u = torch.randn(4, 10, generator=_gen(8), dtype=torch.float64)
    sigma, u_new, v = spectral.power_iteration(weight, u, 3)
    assert sigma.shape == (4,) and u_new.shape == (4, 10) and v.shape == (4, 6)
    for k in range(4):
        s_k, u_k, v_k = spectral.power_iteration(weight[k], u[k], 3)
        torch.testing.assert_close(sigma[k], s_k, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(u_new[k], u_k, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(v[k], v_k, rtol=1e-12, atol=1e-12)


def test_power_iteration_returns_unit_vectors_with_sigma_u_w_v_and_leaves_u_alone():
    weight = torch.randn(7, 5, generator=_gen(9), dtype=torch.float64)
    u = 3 * torch.randn(7, generator=_gen(10), dtype=torch.float64)
    before = u.clone()
    sigma, u_new, v = spectral.power_iteration(weight, u, 2)
    assert torch.equal(u, before)
    assert u_new.norm().item() == pytest.approx(1.0, rel=1e-12) and v.norm().item() == pytest.approx(1.0, rel=1e-12)
    assert sigma.item() == pytest.approx((u_new @ weight @ v).item(), rel=1e-12)
    # the scale of u does not matter, only its direction
    torch.testing.assert_close(spectral.power_iteration(weight, before / 3, 2)[0], sigma, rtol=1e-12, atol=0)


def test_the_gradient_of_sigma_is_u_v_transpose_with_u_and_v_held_fixed():
    weight = torch.randn(6, 4, generator=_gen(11), dtype=torch.float64, requires_grad=True)
    sigma, u, v = spectral.power_iteration(weight, torch.randn(6, generator=_gen(12), dtype=torch.float64), 1)
    assert not u.requires_grad and not v.requires_grad
    (grad,) = torch.autograd.grad(sigma, weight)
    torch.testing.assert_close(grad, torch.outer(u, v), rtol=1e-12, atol=1e-15)


def test_a_zero_vector_or_a_zero_weight_gives_sigma_zero_not_nan():
    weight = torch.randn(5, 3, generator=_gen(13), dtype=torch.float64)
    sigma, u, v = spectral.power_iteration(weight, torch.zeros(5, dtype=torch.float64))
    assert sigma.item() == 0.0 and torch.isfinite(u).all() and torch.isfinite(v).all()
    sigma, _, _ = spectral.power_iteration(torch.zeros(5, 3), torch.ones(5))
    assert sigma.item() == 0.0


@pytest.mark.parametrize("weight, u, n, pattern", [
    (torch.randn(5), torch.randn(5), 1, "at least 2 dimensions"),
    (torch.ones(5, 3, dtype=torch.int64), torch.randn(5), 1, "floating-point"),
    (torch.randn(5, 3), torch.randn(3), 1, r"u must have shape.*\(5, 3\), got \(3,\)"),
    (torch.randn(5, 3), torch.randn(5, 3), 1, r"got \(5, 3\)"),
    (torch.randn(5, 3), torch.randn(5), 0, "n_iterations.*got 0"),
    (torch.randn(5, 3), torch.randn(5), 1.0, "n_iterations.*got 1.0"),
])
def test_power_iteration_rejects_bad_input_naming_it(weight, u, n, pattern):
    with pytest.raises(ValueError, match=pattern):
        spectral.power_iteration(weight, u, n)


def test_n_iterations_is_a_count_of_at_least_one():
    for bad in (0, True, 1.0, "2"):
        with pytest.raises(ValueError, match=f"^n_iterations must be an integer >= 1, got {bad!r}$"):
            spectral.power_iteration(torch.randn(5, 3), torch.randn(5), bad)
        with pytest.raises(ValueError, match=f"^n_iterations must be an integer >= 1, got {bad!r}$"):
            spectral.SpectralNorm(torch.randn(4, 3), n_iterations=bad)
    assert type(spectral.SpectralNorm(torch.randn(4, 3), n_iterations=np.int64(2)).n_iterations) is int


def test_largest_singular_value_rejects_bad_batch_dims():
    with pytest.raises(ValueError, match="batch_dims.*got 3"):
        spectral.largest_singular_value(torch.randn(2, 3, 4), batch_dims=3)


# ---- the W / sigma map -----------------------------------------------------------------------------------

def test_spectral_norm_divides_by_the_power_iteration_estimate_and_stores_u_v():
    weight = torch.randn(8, 5, generator=_gen(14))
    norm = spectral.SpectralNorm(weight, seed=3)
    u0 = norm.u.clone()
    out = norm(weight)
    sigma, u, v = spectral.power_iteration(weight, u0, 1)
    torch.testing.assert_close(out, weight / sigma, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(norm.u, u, rtol=0, atol=0)
    torch.testing.assert_close(norm.v, v, rtol=0, atol=0)
    assert set(norm.state_dict()) == {"u", "v"}


def test_spectral_norm_in_eval_mode_updates_nothing_and_repeats_the_last_training_pass():
    weight = torch.randn(8, 5, generator=_gen(15))
    norm = spectral.SpectralNorm(weight)
    trained = norm(weight)
    u, v = norm.u.clone(), norm.v.clone()
    norm.eval()
    for _ in range(3):
        torch.testing.assert_close(norm(weight), trained, rtol=0, atol=0)
    assert torch.equal(norm.u, u) and torch.equal(norm.v, v)


def test_spectral_norm_converges_to_a_unit_largest_singular_value_over_passes():
    weight = torch.randn(30, 20, generator=_gen(16))
    norm = spectral.SpectralNorm(weight)
    after = []
    for passes in range(1, 201):
        out = norm(weight)
        if passes in (1, 10, 200):
            after.append(abs(spectral.largest_singular_value(out.double()).item() - 1))
    assert after[0] > after[1] > after[2] and after[2] < 1e-4
    # the weight itself is far from unit norm: the normalisation is doing the work
    assert abs(spectral.largest_singular_value(weight).item() - 1) > 1


def test_spectral_norm_draws_u_from_its_own_seed_not_the_global_generator():
    weight = torch.randn(6, 4, generator=_gen(17))
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a, b, c = spectral.SpectralNorm(weight, seed=1), spectral.SpectralNorm(weight, seed=1), \
        spectral.SpectralNorm(weight, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.u, b.u) and not torch.equal(a.u, c.u)
    assert a.u.norm().item() == pytest.approx(1.0, rel=1e-6)


def test_spectral_norm_of_a_stack_normalises_each_slice_by_its_own_sigma():
    scales = torch.tensor([1.0, 5.0, 0.2], dtype=torch.float64)[:, None, None]
    weights = torch.randn(3, 9, 4, generator=_gen(18), dtype=torch.float64) * scales
    norm = spectral.SpectralNorm(weights, batch_dims=1)
    assert norm.u.shape == (3, 9) and norm.v.shape == (3, 4)
    for _ in range(100):
        out = norm(weights)
    torch.testing.assert_close(spectral.largest_singular_value(out), torch.ones(3, dtype=torch.float64),
                               rtol=0, atol=1e-6)


def test_spectral_norm_keeps_the_graph_of_an_earlier_pass_usable_after_a_later_one():
    """The buffers are updated in place; a graph from an earlier pass must not see that (no autograd error)."""
    weight = torch.randn(6, 4, generator=_gen(19), requires_grad=True)
    norm = spectral.SpectralNorm(weight.detach())
    first = norm(weight).sum()
    second = norm(weight).sum()
    (first + second).backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0
    norm.eval()                       # an eval pass's graph too, when a training pass follows before backward
    first = norm(weight).sum()
    norm.train()
    second = norm(weight).sum()
    (first + second).backward()


def test_an_all_zero_weight_stays_zero():
    norm = spectral.SpectralNorm(torch.zeros(4, 3))
    assert torch.equal(norm(torch.zeros(4, 3)), torch.zeros(4, 3))



@pytest.mark.parametrize("kwargs, pattern", [(dict(batch_dims=1), "batch_dims.*got 1"),
                                             (dict(n_iterations=0), "n_iterations.*got 0"),
                                             (dict(eps=0.0), "eps.*got 0.0")])
def test_spectral_norm_rejects_bad_settings_naming_them(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        spectral.SpectralNorm(torch.randn(4, 3), **kwargs)
