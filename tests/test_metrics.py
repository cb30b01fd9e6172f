"""gan_lab.metrics: exact W1 against closed forms, and mode coverage."""
import math

import numpy as np
import pytest
import torch

from gan_lab import data, metrics


# ---- wasserstein1 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shift", [(0.5, 0.0), (-1.0, 2.0), (0.0, -0.03), (3.0, 4.0)])
def test_w1_between_a_cloud_and_its_translate_is_the_length_of_the_shift(shift):
    x = torch.randn(80, 2, generator=torch.Generator().manual_seed(0))
    t = torch.tensor(shift)
    assert metrics.wasserstein1(x, x + t) == pytest.approx(t.norm().item(), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_w1_of_1d_samples_is_the_mean_gap_between_sorted_samples(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=200), rng.standard_t(3, size=200) + 0.5
    expected = np.abs(np.sort(x) - np.sort(y)).mean()
    assert metrics.wasserstein1(x, y) == pytest.approx(expected, rel=1e-9)
    assert metrics.wasserstein1(torch.tensor(x[:, None]), torch.tensor(y[:, None])) == pytest.approx(expected, rel=1e-9)


def test_w1_with_different_sample_sizes():
    # all mass at 0 vs half at 1 and half at 3: every unit of mass travels to its point
    assert metrics.wasserstein1(np.zeros((3, 1)), np.array([[1.0], [3.0]])) == pytest.approx(2.0)
    # one point at the origin vs four points on the unit circle
    circle = np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1]])
    assert metrics.wasserstein1(np.zeros((1, 2)), circle) == pytest.approx(1.0)


def test_w1_is_symmetric_and_zero_for_identical_clouds():
    x = data.sample("8gaussians", 150, seed=0)
    y = data.sample("25gaussians", 120, seed=1)
    assert metrics.wasserstein1(x, y) == pytest.approx(metrics.wasserstein1(y, x), rel=1e-9)
    assert metrics.wasserstein1(x, x) == pytest.approx(0.0, abs=1e-9)
    assert metrics.wasserstein1(x, x[torch.randperm(len(x))]) == pytest.approx(0.0, abs=1e-9)
    assert metrics.wasserstein1(x, y) > 0.1


def test_w1_satisfies_the_triangle_inequality():
    x, y, z = (data.sample(name, 100, seed=s) for s, name in enumerate(["8gaussians", "swissroll", "25gaussians"]))
    assert metrics.wasserstein1(x, z) <= metrics.wasserstein1(x, y) + metrics.wasserstein1(y, z) + 1e-9


def test_w1_returns_a_python_float_for_torch_and_numpy_input():
    x = torch.randn(10, 2)
    assert isinstance(metrics.wasserstein1(x, x.numpy() + 1), float)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("which", ["x", "y"])
def test_w1_rejects_nan_or_inf_naming_the_argument(bad, which):
    good = torch.zeros(5, 2)
    broken = good.clone()
    broken[2, 1] = bad
    args = (broken, good) if which == "x" else (good, broken)
    with pytest.raises(ValueError, match=f"^{which} contains NaN or Inf"):
        metrics.wasserstein1(*args)


def test_w1_rejects_clouds_of_different_dimensions_naming_both():
    with pytest.raises(ValueError, match="2 and 3"):
        metrics.wasserstein1(torch.zeros(5, 2), torch.zeros(5, 3))


def re_shape(shape):
    return r"\(" + r", ".join(str(s) for s in shape) + r"\)"


@pytest.mark.parametrize("shape", [(0, 2), (2, 2, 2)])
def test_w1_rejects_empty_or_non_2d_arrays_naming_the_shape(shape):
    with pytest.raises(ValueError, match=re_shape(shape)):
        metrics.wasserstein1(np.zeros(shape), np.zeros((3, 2)))


# ---- mode_coverage ----------------------------------------------------------------------------------

def test_samples_exactly_at_every_centre_cover_every_mode():
    m = data.modes("8gaussians")
    pts = m.centers.repeat_interleave(25, dim=0)
    cov = metrics.mode_coverage(pts, "8gaussians")
    assert (cov.modes_covered, cov.n_modes, cov.high_quality_fraction) == (8, 8, 1.0)
    assert cov.counts == (25,) * 8


def test_a_mode_needs_min_count_high_quality_samples():
    m = data.modes("25gaussians")
    counts = [30] * 3 + [19] * 2 + [0] * 20
    pts = torch.cat([c.repeat(k, 1) for c, k in zip(m.centers, counts)])
    cov = metrics.mode_coverage(pts, "25gaussians")
    assert cov.modes_covered == 3 and cov.n_modes == 25 and cov.counts == tuple(counts)
    assert metrics.mode_coverage(pts, "25gaussians", min_count=19).modes_covered == 5


def test_samples_beyond_n_std_are_low_quality_and_not_counted():
    m = data.modes("8gaussians")
    c = m.centers[0]
    direction = c / c.norm()
    near = c + 2.9 * m.std * direction          # within 3 std
    far = c + 3.1 * m.std * direction           # beyond 3 std, still nearest to centre 0
    pts = torch.stack([near] * 30 + [far] * 10)
    cov = metrics.mode_coverage(pts, "8gaussians")
    assert cov.high_quality_fraction == pytest.approx(0.75)
    assert cov.counts[0] == 30 and sum(cov.counts) == 30
    assert metrics.mode_coverage(pts, "8gaussians", n_std=3.2).counts[0] == 40


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_real_samples_cover_every_mode_with_high_quality(name):
    cov = metrics.mode_coverage(data.sample(name, 5000, seed=0), name)
    assert cov.modes_covered == cov.n_modes
    assert cov.high_quality_fraction > 0.98   # 1 - exp(-9/2) ~ 0.989 lie within 3 std in 2-D


def test_mode_coverage_accepts_a_modes_object():
    m = data.Modes(centers=torch.tensor([[0.0, 0.0], [10.0, 0.0]]), std=1.0)
    pts = torch.cat([torch.zeros(20, 2), torch.full((5, 2), 50.0)])
    cov = metrics.mode_coverage(pts, m)
    assert (cov.modes_covered, cov.n_modes, cov.counts) == (1, 2, (20, 0))
    assert cov.high_quality_fraction == pytest.approx(0.8)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(n_std=0), "n_std.*got 0"),
    (dict(n_std=-1.0), "n_std.*got -1.0"),
    (dict(n_std=float("nan")), "n_std.*got nan"),
    (dict(min_count=0), "min_count.*got 0"),
], ids=["n_std=0", "n_std=-1", "n_std=nan", "min_count=0"])
def test_mode_coverage_rejects_bad_thresholds_naming_them(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.mode_coverage(data.sample("8gaussians", 50, seed=0), "8gaussians", **kwargs)


def test_mode_coverage_rejects_an_unknown_mixture_and_a_dimension_mismatch():
    with pytest.raises(ValueError, match="'swissroll'"):
        metrics.mode_coverage(torch.zeros(5, 2), "swissroll")
    with pytest.raises(ValueError, match="3-D.*2-D"):
        metrics.mode_coverage(torch.zeros(5, 3), "8gaussians")
    with pytest.raises(ValueError, match="samples contains NaN"):
        metrics.mode_coverage(torch.full((5, 2), math.nan), "8gaussians")


# ---- refused, never a number (issue 16) -----------------------------------------------------------------

@pytest.mark.parametrize("x, y, match", [
    (np.zeros((0, 2)), np.zeros((3, 2)), r"^x must be a non-empty"),
    (np.zeros((3, 2)), np.zeros((0, 2)), r"^y must be a non-empty"),
    (np.full((3, 2), math.nan), np.zeros((3, 2)), r"^x contains NaN"),
    (np.array([["0.5", "1"]]), np.zeros((1, 2)), r"^x must hold real numbers, got dtype <U3"),
    (np.zeros((2, 2)), torch.zeros(2, 2, dtype=torch.complex64), r"^y must hold real numbers, got dtype complex64"),
    (np.zeros((2, 2), dtype=bool), np.zeros((2, 2)), r"^x must hold real numbers, got dtype bool"),
])
def test_w1_refuses_empty_non_finite_and_coerced_input_naming_the_argument(x, y, match):
    with pytest.raises(ValueError, match=match):
        metrics.wasserstein1(x, y)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(samples=torch.zeros(0, 2)), "samples must be a non-empty"),
    (dict(n_std=True), "n_std.*got True"),
    (dict(n_std=math.inf), "n_std.*got inf"),
    (dict(n_std="3"), "n_std.*got '3'"),
    (dict(min_count=True), "min_count.*got True"),
    (dict(min_count=2.5), "min_count.*got 2.5"),
    (dict(min_count="20"), "min_count.*got '20'"),
    (dict(mixture=None), "mixture must be a data-set name or a Modes, got NoneType"),
])
def test_mode_coverage_refuses_empty_samples_and_non_numbers_naming_them(kwargs, pattern):
    args = {"samples": data.sample("8gaussians", 50, seed=0), "mixture": "8gaussians", **kwargs}
    with pytest.raises(ValueError, match=pattern):
        metrics.mode_coverage(args.pop("samples"), args.pop("mixture"), **args)
