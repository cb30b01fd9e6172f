"""gan_lab.data: the toy data sets follow their recipes (WGAN-GP toys, closed-form 1-D sets)."""
import math
import re

import numpy as np
import pytest
import torch

from gan_lab import data

N = 20_000
DIMS = {"8gaussians": 2, "25gaussians": 2, "swissroll": 2, "gaussian1d": 1, "bimodal1d": 1}


def test_names_lists_every_data_set():
    assert set(data.NAMES) == set(DIMS)


@pytest.mark.parametrize("name", DIMS)
def test_sample_returns_float32_n_by_d(name):
    x = data.sample(name, 17, seed=0)
    assert x.dtype == torch.float32 and x.shape == (17, DIMS[name])
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", DIMS)
def test_same_seed_gives_the_same_sample_and_another_seed_a_different_one(name):
    assert torch.equal(data.sample(name, 100, seed=3), data.sample(name, 100, seed=3))
    assert not torch.equal(data.sample(name, 100, seed=3), data.sample(name, 100, seed=4))


def test_a_generator_gives_the_same_sample_as_the_same_seed():
    g = torch.Generator().manual_seed(5)
    assert torch.equal(data.sample("8gaussians", 50, generator=g), data.sample("8gaussians", 50, seed=5))


# ---- the mixtures -------------------------------------------------------------------------------------

RECIPES = {  # centres before scaling, per-coordinate std before scaling, divisor
    "8gaussians": ([(2, 0), (-2, 0), (0, 2), (0, -2)] + [(2 * a / math.sqrt(2), 2 * b / math.sqrt(2))
                                                         for a in (1, -1) for b in (1, -1)], 0.02, 1.414),
    "25gaussians": ([(2 * i, 2 * j) for i in range(-2, 3) for j in range(-2, 3)], 0.05, 2.828),
}


@pytest.mark.parametrize("name", RECIPES)
def test_modes_are_the_recipes_centres_and_std_after_scaling(name):
    centers, std, divisor = RECIPES[name]
    m = data.modes(name)
    expected = torch.tensor(centers, dtype=torch.float32) / divisor
    assert m.centers.shape == expected.shape
    # same set of centres, in any order
    d = torch.cdist(expected, m.centers)
    assert d.min(dim=1).values.max() < 1e-6 and d.min(dim=0).values.max() < 1e-6
    assert m.std == pytest.approx(std / divisor, rel=1e-12)


@pytest.mark.parametrize("name", RECIPES)
def test_mixture_points_lie_near_a_centre_with_the_recipes_spread(name):
    centers, std, divisor = RECIPES[name]
    c = torch.tensor(centers, dtype=torch.float64) / divisor
    s = std / divisor
    x = data.sample(name, N, seed=1).double()
    dist = torch.cdist(x, c)
    nearest = dist.argmin(dim=1)
    offsets = x - c[nearest]
    # every point within 6 std of a centre (P(radius > 6 std) = exp(-18) per point)
    assert dist.min(dim=1).values.max() < 6 * s
    # per-coordinate offsets: mean 0, std s (standard errors s / sqrt(N) and s / sqrt(2N))
    assert offsets.mean(dim=0).abs().max() < 5 * s / math.sqrt(N)
    assert (offsets.std(dim=0) - s).abs().max() < 5 * s / math.sqrt(2 * N)
    # components equally likely
    k = len(centers)
    counts = torch.bincount(nearest, minlength=k).double()
    assert (counts - N / k).abs().max() < 5 * math.sqrt(N / k)


@pytest.mark.parametrize("name", RECIPES)
def test_mixture_sample_mean_is_zero(name):
    x = data.sample(name, N, seed=2).double()
    spread = x.std(dim=0).max().item()
    assert x.mean(dim=0).abs().max() < 5 * spread / math.sqrt(N)


def test_swissroll_radius_spans_the_recipes_range():
    x = data.sample("swissroll", N, seed=0).double()
    r = x.norm(dim=1)
    lo, hi = 1.5 * math.pi / 7.5, 4.5 * math.pi / 7.5   # t in [1.5 pi, 4.5 pi], scaled by 1/7.5
    noise = 0.25 / 7.5
    assert r.min() > lo - 6 * noise and r.max() < hi + 6 * noise
    assert r.min() < lo + 0.05 and r.max() > hi - 0.05       # the whole range is used
    # t is uniform, so the radius is roughly uniform on [lo, hi]: mean in the middle
    assert r.mean().item() == pytest.approx((lo + hi) / 2, abs=0.02)


def test_swissroll_points_follow_the_spiral_t_cos_t_t_sin_t():
    x = data.sample("swissroll", 2000, seed=0).double() * 7.5
    t = torch.linspace(1.5 * math.pi, 4.5 * math.pi, 5001, dtype=torch.float64)   # curve points ~0.03 apart
    curve = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    gap = torch.cdist(x, curve).min(dim=1).values
    # noise 0.25 per coordinate: the distance to the curve is at most a few times 0.25
    assert gap.max() < 6 * 0.25 * math.sqrt(2)
    assert gap.mean() < 0.3


@pytest.mark.parametrize("name, mean, std", [("gaussian1d", 0.0, 1.0), ("bimodal1d", 0.0, math.sqrt(4 + 0.25))])
def test_one_dimensional_sets_have_the_stated_mean_and_std(name, mean, std):
    x = data.sample(name, N, seed=0).double()
    assert abs(x.mean().item() - mean) < 5 * std / math.sqrt(N)
    assert abs(x.std().item() - std) < 5 * std / math.sqrt(N)   # generous: se of std <= std / sqrt(N) here


def test_bimodal1d_has_two_equal_modes_at_plus_and_minus_2():
    x = data.sample("bimodal1d", N, seed=0).double().squeeze(1)
    pos, neg = x[x > 0], x[x < 0]
    assert abs(len(pos) / N - 0.5) < 5 * 0.5 / math.sqrt(N)
    for half, centre in ((pos, 2.0), (neg, -2.0)):
        assert abs(half.mean().item() - centre) < 0.03 and abs(half.std().item() - 0.5) < 0.03


# ---- densities --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gaussian1d", "bimodal1d"])
def test_density_integrates_to_one_on_a_grid(name):
    x = torch.linspace(-12, 12, 24_001, dtype=torch.float64)
    p = data.density(name, x)
    assert p.shape == x.shape and p.dtype == torch.float64 and (p >= 0).all()
    assert (p.sum() * (x[1] - x[0])).item() == pytest.approx(1.0, abs=1e-8)


def test_density_values_match_the_closed_forms():
    x = torch.tensor([-2.0, 0.0, 1.0, 2.0], dtype=torch.float64)
    phi = lambda u, m, s: math.exp(-0.5 * ((u - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))  # noqa: E731
    assert torch.allclose(data.density("gaussian1d", x), torch.tensor([phi(u, 0, 1) for u in x.tolist()],
                                                                      dtype=torch.float64), rtol=1e-12)
    expected = [0.5 * phi(u, -2, 0.5) + 0.5 * phi(u, 2, 0.5) for u in x.tolist()]
    assert torch.allclose(data.density("bimodal1d", x), torch.tensor(expected, dtype=torch.float64), rtol=1e-12)


def test_density_agrees_with_a_histogram_of_samples():
    x = data.sample("bimodal1d", N, seed=0).double().squeeze(1)
    edges = torch.linspace(-4, 4, 17, dtype=torch.float64)
    hist = torch.histogram(x, bins=edges).hist / (N * (edges[1] - edges[0]))
    mids = (edges[1:] + edges[:-1]) / 2
    # bin width 0.5 blurs the density; compare with the bin average of the density on a fine grid
    fine = torch.linspace(-4, 4, 16 * 200 + 1, dtype=torch.float64)
    pf = data.density("bimodal1d", (fine[1:] + fine[:-1]) / 2).reshape(16, 200).mean(dim=1)
    assert (hist - pf).abs().max() < 0.03, (mids, hist, pf)


@pytest.mark.parametrize("name", ["8gaussians", "swissroll"])
def test_density_of_a_2d_set_raises_value_error_naming_it(name):
    with pytest.raises(ValueError, match=name):
        data.density(name, torch.zeros(3))


@pytest.mark.parametrize("name", ["swissroll", "gaussian1d", "nope"])
def test_modes_of_a_non_mixture_raises_value_error_naming_it(name):
    with pytest.raises(ValueError, match=name):
        data.modes(name)


# ---- parallel lines ----------------------------------------------------------------------------------

@pytest.mark.parametrize("theta", [0.0, -1.5, 3.0])
def test_parallel_lines_first_column_is_theta_and_second_uniform_on_0_1(theta):
    x = data.parallel_lines(N, theta, seed=0)
    assert x.shape == (N, 2) and x.dtype == torch.float32
    assert (x[:, 0] == theta).all()
    z = x[:, 1].double()
    assert z.min() >= 0 and z.max() <= 1
    assert abs(z.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(z.var().item() - 1 / 12) < 0.005


def test_parallel_lines_is_reproducible_with_a_seed():
    assert torch.equal(data.parallel_lines(10, 0.5, seed=1), data.parallel_lines(10, 0.5, seed=1))
    assert not torch.equal(data.parallel_lines(10, 0.5, seed=1), data.parallel_lines(10, 0.5, seed=2))


# ---- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, pattern", [
    (dict(name="8gaussians", n=0), "got 0"),
    (dict(name="8gaussians", n=-5), "got -5"),
    (dict(name="8gaussians", n=2.5), "got 2.5"),
    (dict(name="9gaussians", n=10), "'9gaussians'"),
    (dict(name="8gaussians", n=10, seed=-1), "got -1"),
    (dict(name="8gaussians", n=10, seed=1.5), "got 1.5"),
    (dict(name="8gaussians", n=10, seed="0"), "got '0'"),
])
def test_sample_rejects_bad_input_with_value_error_naming_it(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.sample(kwargs.pop("name"), kwargs.pop("n"), **kwargs)


def test_sample_takes_numpy_integers_and_draws_what_python_ints_draw():
    assert torch.equal(data.sample("8gaussians", np.int64(7), seed=np.int64(3)), data.sample("8gaussians", 7, seed=3))
    assert torch.equal(data.parallel_lines(np.int32(5), 0.5, seed=np.uint8(1)), data.parallel_lines(5, 0.5, seed=1))


@pytest.mark.parametrize("name", ["9gaussians", None, True, ["8gaussians"]])
def test_an_unknown_data_set_is_refused_naming_it_and_the_choices(name):
    with pytest.raises(ValueError, match=re.escape(f"unknown data set {name!r}; use one of {data.NAMES}")):
        data.sample(name, 10)
    with pytest.raises(ValueError, match=re.escape(f"unknown data set {name!r}")):
        data.density(name, torch.zeros(3))


def test_sample_rejects_both_seed_and_generator():
    with pytest.raises(ValueError, match="seed or generator"):
        data.sample("8gaussians", 5, seed=0, generator=torch.Generator())


@pytest.mark.parametrize("theta", [math.inf, -math.inf, math.nan])
def test_parallel_lines_rejects_non_finite_theta_naming_it(theta):
    with pytest.raises(ValueError, match=f"got {theta!r}"):
        data.parallel_lines(10, theta)


@pytest.mark.parametrize("n, seed, pattern", [(0, None, "got 0"), (10, -3, "got -3")])
def test_parallel_lines_rejects_bad_n_and_seed(n, seed, pattern):
    with pytest.raises(ValueError, match=pattern):
        data.parallel_lines(n, 0.0, seed=seed)


def test_parallel_lines_with_a_generator_equals_the_same_seed():
    a = data.parallel_lines(100, 0.3, seed=4)
    b = data.parallel_lines(100, 0.3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="either seed or generator"):
        data.parallel_lines(10, 0.3, seed=1, generator=torch.Generator())


# ---- to_images: a pixel only from a finite value (issue 16) ---------------------------------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_to_images_refuses_non_finite_values_instead_of_making_black_or_white_pixels(bad):
    t = torch.zeros(2, 3, 4, 4)
    t[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match=r"to_images .*NaN or Inf \(1 of 96 values, first at index \[1, 2, 3, 0\]\)"):
        data.to_images(t)
    t[1, 2, 3, 0] = 7.0          # a finite value out of range is still clamped (a generator's overshoot)
    assert data.to_images(t)[1, 3, 0, 2] == 255
