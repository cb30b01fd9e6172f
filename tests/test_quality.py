"""gan_lab.quality: the shapes classifier, and FID / KID in its feature space checked against numpy/scipy."""
import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gan_lab import quality

SIZE = 32
BASE = np.array([[200, 60, 60], [60, 190, 70], [70, 90, 210]])  # red squares, green discs, blue diamonds


def draw(kind, n, rng, shift=0):
    """n images (n, SIZE, SIZE, 3) uint8 of class ``kind``: a jittered shape in a jittered colour on a dark
    background; ``shift`` adds to every colour channel (a drift away from the class)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    img = np.full((n, SIZE, SIZE, 3), 25, np.uint8)
    for k in range(n):
        cx, cy = rng.uniform(11, SIZE - 11, 2)
        r = rng.uniform(6, 9)
        colour = np.clip(BASE[kind] + rng.integers(-30, 31, 3) + shift, 0, 255)
        if kind == 0:
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
        elif kind == 1:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        else:
            mask = np.abs(xx - cx) + np.abs(yy - cy) < 1.3 * r
        img[k][mask] = colour
    return img


def to_float(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def labelled(n_per_class, seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([draw(k, n_per_class, rng) for k in range(3)])
    return x, np.repeat(np.arange(3), n_per_class)


@pytest.fixture(scope="module")
def net():
    x, y = labelled(100, seed=0)
    return quality.train_classifier(x, y, epochs=8, batch_size=32, lr=3e-3, width=8, num_features=32, seed=0,
                                    device="cpu")


@pytest.fixture(scope="module")
def discs():
    """Three independent samples: 300 discs, 300 more discs, 300 squares."""
    rng = np.random.default_rng(1)
    return draw(1, 300, rng), draw(1, 300, rng), draw(0, 300, rng)


def features(net, images):
    with torch.no_grad():
        return net.features(to_float(images)).double().numpy()


def scipy_fid(fr, fg):
    mu_r, mu_g = fr.mean(0), fg.mean(0)
    s_r, s_g = np.cov(fr, rowvar=False), np.cov(fg, rowvar=False)
    root = scipy.linalg.sqrtm(s_r @ s_g).real
    return float(((mu_r - mu_g) ** 2).sum() + np.trace(s_r + s_g - 2 * root))


def numpy_mmd2(fx, fy):
    d = fx.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m = len(fx)
    kxx, kyy, kxy = k(fx, fx), k(fy, fy), k(fx, fy)
    off = lambda K: K.sum() - np.trace(K)  # noqa: E731
    return (off(kxx) + off(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


# ---- the classifier ------------------------------------------------------------------------------------

def test_classifier_shapes_and_feature_layer():
    model = quality.ShapesClassifier(5, 64, 4, num_features=24)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    assert model(x).shape == (3, 5)
    assert model.features(x).shape == (3, 24) and model.num_features == 24
    with pytest.raises(ValueError, match=r"shape \(N, 3, 64, 64\), got \(3, 3, 32, 32\)"):
        model(torch.zeros(3, 3, 32, 32))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_classes=0), "n_classes must be an integer >= 1"),
    (dict(n_classes=3, size=48), "size must be a power of two"),
    (dict(n_classes=3, size=4), "size must be a power of two"),
    (dict(n_classes=3, width=0), "width must be an integer >= 1"),
    (dict(n_classes=3, num_features=2.5), "num_features must be an integer >= 1"),
])
def test_classifier_rejects_bad_shapes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quality.ShapesClassifier(**kwargs)


def test_classifier_learns_the_easy_classes(net):
    x_test, y_test = labelled(60, seed=7)
    assert quality.accuracy(net, x_test, y_test) > 0.9
    assert quality.accuracy(net, to_float(x_test), torch.tensor(y_test)) > 0.9   # float input, same answer
    assert not net.training


def test_same_seed_gives_the_same_weights_and_leaves_the_global_rng_alone():
    x, y = labelled(10, seed=3)
    kw = dict(epochs=2, batch_size=8, width=4, num_features=8, device="cpu")
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = quality.train_classifier(x, y, seed=5, **kw)
    assert torch.equal(torch.rand(3), before)
    b = quality.train_classifier(x, y, seed=5, **kw)
    c = quality.train_classifier(x, y, seed=6, **kw)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("images, labels, kwargs, match", [
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(3, int), {}, r"labels must have shape \(4,\)"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4), {}, "labels must be integers"),
    (np.zeros((4, 32, 32, 3), np.uint8), -np.ones(4, int), {}, "non-negative"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, int), dict(size=64), "size=64 but the images are 32x32"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.arange(4), dict(n_classes=3), "label 3 is out of range"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, int), dict(epochs=0), "epochs must be an integer >= 1"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, int), dict(lr=-1.0), r"^lr must be a positive finite number, got -1.0$"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, int), dict(lr=True), r"^lr must be a positive finite number, got True$"),
    (np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, int), dict(seed=-1), r"^seed must be an integer >= 0, got -1$"),
    (np.zeros((4, 3, 32, 32), np.uint8), np.zeros(4, int), {}, r"\(N, H, W, 3\)"),
    (torch.full((4, 3, 32, 32), 255.0), np.zeros(4, int), {}, r"must lie in \[-1, 1\], got values in \[255, 255\]"),
    (torch.zeros(4, 3, 32, 16), np.zeros(4, int), {}, "must be square"),
])
def test_train_classifier_rejects_bad_input(images, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        quality.train_classifier(images, labels, **kwargs)


# ---- FID ------------------------------------------------------------------------------------------------

def test_fid_matches_an_independent_scipy_computation(net, discs):
    real, fake, other = discs
    for a, b in ((real, fake), (real, other), (other, real[:150])):
        expected = scipy_fid(features(net, a), features(net, b))
        assert quality.frechet_distance(a, b, net, batch_size=64) == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_fid_is_small_within_a_distribution_and_grows_with_the_drift(net, discs):
    real, fake, other = discs
    same = quality.frechet_distance(real, fake, net)
    assert 0 <= same < 1.0
    assert quality.frechet_distance(real, other, net) > 100 * same
    rng = np.random.default_rng(2)
    drifts = [quality.frechet_distance(real, draw(1, 300, rng, shift=s), net) for s in (0, 40, 80, 160)]
    assert all(lo < hi for lo, hi in zip(drifts, drifts[1:])), drifts
    # a float (N, 3, H, W) batch in [-1, 1] is the same images as the uint8 (N, H, W, 3) one, up to float32
    # rounding: the two conversions to [-1, 1] may differ in the last bit, and a convolution's sums change order
    # with the thread count (CI's 2 threads gave a relative difference of 9e-7 on this FID of 0.2)
    assert quality.frechet_distance(to_float(real), fake, net) == pytest.approx(same, rel=1e-5)


def test_fid_with_a_plain_module_as_feature_net():
    torch.manual_seed(0)
    phi = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 6)).train()  # no .features, no .num_features
    rng = np.random.default_rng(4)
    a, b = draw(2, 80, rng), draw(0, 80, rng)
    with torch.no_grad():
        fa, fb = (phi(to_float(t)).double().numpy() for t in (a, b))
    assert quality.frechet_distance(a, b, phi) == pytest.approx(scipy_fid(fa, fb), rel=1e-5)
    assert phi.training                                                              # mode restored
    assert np.allclose(quality.extract_features(phi, a).numpy(), fa)


@pytest.mark.parametrize("real, fake, match", [
    (np.zeros((1, SIZE, SIZE, 3), np.uint8), np.zeros((5, SIZE, SIZE, 3), np.uint8), "real needs at least 2"),
    (np.zeros((5, SIZE, SIZE, 3), np.uint8), np.zeros((0, SIZE, SIZE, 3), np.uint8), "fake must have shape"),
    (np.zeros((5, SIZE, SIZE, 3), np.uint8), np.zeros((5, 16, 16, 3), np.uint8), "differ in shape"),
    (torch.full((4, 3, SIZE, SIZE), float("nan")), np.zeros((5, SIZE, SIZE, 3), np.uint8), "real contains NaN"),
    ([[0.0]], np.zeros((5, SIZE, SIZE, 3), np.uint8), "real must be a torch tensor or numpy array"),
])
def test_fid_rejects_bad_input(net, real, fake, match):
    with pytest.raises(ValueError, match=match):
        quality.frechet_distance(real, fake, net)


def test_fid_rejects_a_feature_net_that_is_not_a_module():
    x = np.zeros((4, SIZE, SIZE, 3), np.uint8)
    with pytest.raises(ValueError, match="feature_net must be a torch.nn.Module"):
        quality.frechet_distance(x, x, lambda t: t)


# ---- KID ------------------------------------------------------------------------------------------------

def test_kid_with_one_full_subset_is_the_unbiased_mmd2_of_all_features(net, discs):
    real, _, other = discs
    a, b = real[:120], other[:120]
    mean, std = quality.kernel_inception_distance(a, b, net, subsets=1, subset_size=120)
    # float32 features: the test's conversion and convolution sums can differ from the package's in the last
    # bits (with 2 threads, CI measured a relative difference of 4e-8); a wrong kernel or a biased estimator
    # is off by far more than 1e-6
    assert mean == pytest.approx(numpy_mmd2(features(net, a), features(net, b)), rel=1e-6)
    assert std == 0.0


def test_kid_is_near_zero_within_a_distribution_and_positive_between(net, discs):
    real, fake, other = discs
    same_mean, same_std = quality.kernel_inception_distance(real, fake, net, subsets=20, subset_size=100, seed=0)
    diff_mean, diff_std = quality.kernel_inception_distance(real, other, net, subsets=20, subset_size=100, seed=0)
    assert diff_mean > 0 and diff_std >= 0
    assert abs(same_mean) < 1e-3 * diff_mean
    assert diff_mean > 5 * diff_std / np.sqrt(20)


def test_kid_is_reproducible_from_its_seed_and_leaves_the_global_rng_alone(net, discs):
    real, fake, _ = discs
    torch.manual_seed(9)
    before = torch.rand(2)
    torch.manual_seed(9)
    kw = dict(subsets=5, subset_size=50)
    r0 = quality.kernel_inception_distance(real, fake, net, seed=0, **kw)
    assert torch.equal(torch.rand(2), before)
    assert quality.kernel_inception_distance(real, fake, net, seed=0, **kw) == r0
    assert quality.kernel_inception_distance(real, fake, net, seed=1, **kw) != r0


@pytest.mark.parametrize("kwargs, match", [
    (dict(subsets=0), "subsets must be an integer >= 1"),
    (dict(subset_size=1), r"^subset_size must be an integer >= 2, got 1$"),
    (dict(subset_size=2.0), r"^subset_size must be an integer >= 2, got 2.0$"),
    (dict(subset_size=11), r"subset_size=11 exceeds the smaller sample \(10 real, 12 fake\)"),
    (dict(seed=-3), r"^seed must be an integer >= 0, got -3$"),
    (dict(seed=2**63), r"^seed must be below 2\*\*63"),
])
def test_kid_rejects_bad_arguments(net, kwargs, match):
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match=match):
        quality.kernel_inception_distance(draw(1, 10, rng), draw(1, 12, rng), net, **kwargs)


def test_predict_is_the_arg_max_batch_by_batch_and_restores_the_mode():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5)).train()
    x = torch.rand(37, 3, 8, 8) * 2 - 1
    got = quality.predict(net, x, batch_size=10)
    assert got.dtype == torch.int64 and got.shape == (37,) and net.training
    assert torch.equal(got, net(x).argmax(dim=1))
    assert quality.accuracy(net, x, got) == 1.0 and quality.accuracy(net, x, (got + 1) % 5) == 0.0
    with pytest.raises(ValueError, match="batch_size"):
        quality.predict(net, x, batch_size=0)
