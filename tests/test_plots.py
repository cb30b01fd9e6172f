"""gan_lab.plots: each function draws what it says on the Axes it is given (Agg backend)."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection

from gan_lab import nets, plots


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_the_backend_is_agg():
    assert matplotlib.get_backend().lower() == "agg"


def test_samples_scatters_real_and_fake_in_the_square(ax):
    real, fake = torch.randn(30, 2), np.random.default_rng(0).normal(size=(20, 2))
    assert plots.samples(ax, real, fake, lim=3.0, title="step 5") is ax
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in scatters] == [30, 20]
    np.testing.assert_allclose(scatters[0].get_offsets(), real.numpy())
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-3.0, 3.0)
    assert ax.get_title() == "step 5"
    assert ax.get_legend_handles_labels()[1] == ["real", "generated"]


def test_samples_draws_only_what_it_is_given(ax):
    plots.samples(ax, fake=torch.zeros(4, 2))
    assert ax.get_legend_handles_labels()[1] == ["generated"]


def test_samples_accepts_tensors_that_require_grad(ax):
    plots.samples(ax, real=torch.randn(5, 2, requires_grad=True))
    assert len(ax.collections) == 1


def test_surface_evaluates_fn_once_on_an_n_by_n_grid_and_adds_a_colorbar(ax):
    calls = []

    def fn(x):
        calls.append(x.shape)
        return x[:, 0] ** 2 + x[:, 1]

    assert plots.surface(ax, fn, n=20, lim=1.5) is ax
    assert calls == [(400, 2)]
    assert len(ax.figure.axes) == 2          # the plot and its colorbar
    assert len(ax.collections) > 0


def test_surface_of_a_network_without_a_colorbar(ax):
    plots.surface(ax, nets.critic(2, width=8, depth=1), n=10, colorbar=False)
    assert len(ax.figure.axes) == 1 and len(ax.collections) > 0


def test_curves_plots_the_median_over_seeds_and_a_min_max_band(ax):
    steps = np.arange(5)
    values = np.array([[1, 2, 3, 4, 5], [2, 2, 2, 2, 2], [0, 5, 1, 3, 9]], dtype=float)
    assert plots.curves(ax, steps, values, label="w1") is ax
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), np.median(values, axis=0))
    assert line.get_label() == "w1 (3 seeds)"
    (band,) = ax.collections
    verts = band.get_paths()[0].vertices
    assert verts[:, 1].min() == pytest.approx(values.min()) and verts[:, 1].max() == pytest.approx(values.max())


def test_curves_std_band_is_the_mean_plus_minus_one_std(ax):
    values = torch.tensor([[0.0, 2.0], [2.0, 6.0]])
    plots.curves(ax, [10, 20], values, band="std")
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 4.0])
    verts = ax.collections[0].get_paths()[0].vertices
    assert verts[:, 1].min() == pytest.approx(0.0) and verts[:, 1].max() == pytest.approx(6.0)


def test_curves_with_one_seed_draws_a_line_and_no_band(ax):
    plots.curves(ax, [1, 2, 3], [0.5, 0.4, 0.3], label="one")
    assert len(ax.get_lines()) == 1 and len(ax.collections) == 0
    assert ax.get_lines()[0].get_label() == "one"


@pytest.mark.parametrize("kwargs, pattern", [(dict(values=np.zeros((2, 4))), "4 columns but there are 3 steps"),
                                             (dict(band="iqr"), "'iqr'")])
def test_curves_rejects_mismatched_shapes_and_unknown_bands(ax, kwargs, pattern):
    args = dict(steps=[1, 2, 3], values=np.zeros((2, 3)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        plots.curves(ax, **args)


def test_grid_of_samples_has_one_titled_panel_per_snapshot():
    snaps = [(f"step {s}", torch.randn(10, 2)) for s in (1, 10, 100)]
    fig = plots.grid_of_samples(snaps, real=torch.randn(20, 2), lim=2.5)
    try:
        assert [a.get_title() for a in fig.axes] == ["step 1", "step 10", "step 100"]
        assert all(len(a.collections) == 2 and a.get_xlim() == (-2.5, 2.5) for a in fig.axes)
    finally:
        plt.close(fig)


def test_density_is_a_normalised_histogram_with_the_mass_where_the_points_are():
    points = torch.tensor([[0.5, 0.5]] * 30 + [[-1.5, -1.5]] * 10)
    fig, ax = plt.subplots()
    plots.density(ax, points, lim=2.0, bins=4)
    image = ax.get_images()[0].get_array()
    cell = (4 / 4) ** 2                                   # area of one of the 4 x 4 cells
    assert np.isclose(np.asarray(image).sum() * cell, 1.0)
    assert np.asarray(image)[2, 2] == pytest.approx(0.75 / cell)   # (0.5, 0.5): row 2, column 2 (y, x)
    assert np.asarray(image)[0, 0] == pytest.approx(0.25 / cell)
    plt.close(fig)


def test_density_rejects_points_that_are_not_2d():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"\(5, 3\)"):
        plots.density(ax, torch.zeros(5, 3))
    plt.close(fig)
