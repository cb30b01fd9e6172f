"""Toy data sets, made procedurally (nothing is downloaded).

2-D sets follow the recipes of the WGAN-GP paper's toy experiments (Gulrajani et al., 2017):

- ``"8gaussians"``: centres on the circle of radius 2 (axes and diagonals), std 0.02, all scaled by 1/1.414;
- ``"25gaussians"``: centres on the grid (2i, 2j), i, j in -2..2, std 0.05, all scaled by 1/2.828;
- ``"swissroll"``: the 3-D Swiss roll (noise 0.25) seen from its side, columns x and z, scaled by 1/7.5.

1-D sets (chapter 1) have closed-form densities, so the optimal discriminator can be written down:

- ``"gaussian1d"``: N(0, 1);
- ``"bimodal1d"``: the mixture 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2).

Images (the shapes chapter, after "Unsupervised Classification with Generative Models"):

- ``shapes``: n RGB images (uint8, (n, size, size, 3)) of one centred square, circle or upright triangle
  of colour (b, b + 0.1 s, b + 0.2 s) on white, with Gaussian pixel noise on the shape's pixels (the
  background stays exactly white, as in the article; ``noise_on="image"`` noises the background too);
- ``ShapeClass``: one (shape, base colour b, offset sign s, noise) combination; ``SHAPES_TRAIN`` (2 classes)
  and ``SHAPES_TEST`` (10 classes) are the class tables, ``shapes_dataset`` draws labelled images of a table;
- ``to_tensor`` / ``to_images``: uint8 images <-> float tensors (N, 3, H, W) in [-1, 1], the form the conv
  nets take.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from numbers import Real
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch

from . import checks, settings

__all__ = ["sample", "sampler", "Sampler", "Data", "shape_mask", "density", "modes", "parallel_lines", "ParallelLinesData", "NAMES", "Modes",
           "shapes", "NOISE_ON", "ShapeClass", "SHAPE_KINDS", "SHAPES_TRAIN", "SHAPES_TEST", "shapes_dataset",
           "to_tensor", "to_images"]


@dataclass(frozen=True)
class Modes:
    """The mixture components of a data set: ``centers`` (k, d) and the common ``std``."""

    centers: torch.Tensor
    std: float


def _generator(seed: Optional[int]) -> Optional[torch.Generator]:
    if seed is None:
        return None
    return settings.rng(checks.seed("seed", seed))


def _eight_centers() -> torch.Tensor:
    s = 1.0 / math.sqrt(2.0)
    pts = [(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)]
    return 2.0 * torch.tensor(pts, dtype=torch.float32)


def _grid_centers() -> torch.Tensor:
    r = torch.arange(-2, 3, dtype=torch.float32) * 2.0
    return torch.cartesian_prod(r, r)


_MIXTURES = {
    # name: (centres before scaling, std before scaling, scale divisor)
    "8gaussians": (_eight_centers, 0.02, 1.414),
    "25gaussians": (_grid_centers, 0.05, 2.828),
}


def _mixture(name: str, n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    make_centers, std, divisor = _MIXTURES[name]
    centers = make_centers()
    idx = torch.randint(len(centers), (n,), generator=g)
    noise = torch.randn(n, 2, generator=g) * std
    return (centers[idx] + noise) / divisor


def _swissroll(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    # The 3-D roll: t in [1.5 pi, 4.5 pi], point (t cos t, h, t sin t) plus N(0, 0.25^2) noise per
    # coordinate; we keep the two coordinates that show the spiral.
    t = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(n, generator=g))
    xy = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    return (xy + 0.25 * torch.randn(n, 2, generator=g)) / 7.5


def _gaussian1d(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    return torch.randn(n, 1, generator=g)


def _bimodal1d(n: int, g: Optional[torch.Generator]) -> torch.Tensor:
    sign = torch.randint(2, (n, 1), generator=g) * 2.0 - 1.0
    return 2.0 * sign + 0.5 * torch.randn(n, 1, generator=g)


_SAMPLERS: dict[str, Callable[[int, Optional[torch.Generator]], torch.Tensor]] = {
    "8gaussians": lambda n, g: _mixture("8gaussians", n, g),
    "25gaussians": lambda n, g: _mixture("25gaussians", n, g),
    "swissroll": _swissroll,
    "gaussian1d": _gaussian1d,
    "bimodal1d": _bimodal1d,
}
NAMES = tuple(_SAMPLERS)


def sample(name: str, n: int, *, seed: Optional[int] = None,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw ``n`` points of the data set ``name`` as a float32 tensor of shape (n, d).

    d is 2 for the 2-D sets and 1 for the 1-D sets. ``seed`` makes the draw reproducible;
    alternatively pass a ``torch.Generator`` (e.g. inside a training loop). With neither,
    torch's global generator is used.
    """
    checks.choice("data set", name, NAMES)
    n = checks.integer("n", n, 1)
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    g = generator if generator is not None else _generator(seed)
    return _SAMPLERS[name](n, g).to(torch.float32)


Data = Union[str, torch.Tensor, Callable[[int, torch.Generator], torch.Tensor]]
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


@dataclass(frozen=True)
class Sampler:
    """Real points on demand: ``sampler(n, generator)`` is an (n, ``dim``) float tensor; ``name`` is the data
    set's name when it has one (mode coverage needs it), else None."""

    draw: Callable[[int, torch.Generator], torch.Tensor]
    name: Optional[str]
    dim: int

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.draw(n, generator)


def sampler(data: Data, arg: str = "data") -> Sampler:
    """A ``Sampler`` of ``data``: a data-set name of ``NAMES``, an (n, d) tensor of points (drawn from with
    replacement) or a callable (n, generator) -> (n, d) tensor (its output shape checked at every draw).
    Everything is checked now, with errors naming ``arg`` (the argument's name in the caller)."""
    if isinstance(data, str):
        if data not in NAMES:     # checks.choice's wording, with the caller's argument named as well
            raise ValueError(f"unknown data set {arg}={data!r}; use one of {NAMES}")
        dim = sample(data, 1, seed=0).shape[1]
        return Sampler(lambda n, g: sample(data, n, generator=g), data, dim)
    if isinstance(data, torch.Tensor):
        if data.is_complex() or not (data.is_floating_point() or data.dtype in _INTEGER_DTYPES):
            raise ValueError(f"{arg} tensor must hold real numbers, got dtype {data.dtype}")
        if data.dim() != 2 or data.shape[0] == 0:
            raise ValueError(f"{arg} tensor must have shape (n, d) with n > 0, got {tuple(data.shape)}")
        if not torch.isfinite(data).all():
            bad = (~torch.isfinite(data)).nonzero()[0].tolist()
            raise ValueError(f"{arg} contains NaN or Inf (first at index {bad}: {data[bad[0], bad[1]].item()})")
        points = data.detach().to(torch.float32).cpu()
        return Sampler(lambda n, g: points[torch.randint(len(points), (n,), generator=g)], None, points.shape[1])
    if callable(data):
        probe = data(2, torch.Generator().manual_seed(0))
        if not isinstance(probe, torch.Tensor) or probe.dim() != 2 or probe.shape[0] != 2:
            shape = tuple(probe.shape) if isinstance(probe, torch.Tensor) else type(probe).__name__
            raise ValueError(f"a {arg} callable must return an (n, d) tensor for (n, generator); for n = 2 it "
                             f"returned {shape}")
        if probe.is_complex() or not probe.is_floating_point():
            raise ValueError(f"the {arg} callable must return real floating-point points, got dtype {probe.dtype}")
        if not torch.isfinite(probe).all():
            raise ValueError(f"the {arg} callable returned NaN or Inf: {probe.tolist()}")
        dim = probe.shape[1]

        def checked(n: int, g: torch.Generator) -> torch.Tensor:   # a shape compare per batch: free
            x = data(n, g)
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, dim):
                shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ValueError(f"the {arg} callable returned {shape} for n = {n}; it must return ({n}, {dim})")
            return x

        return Sampler(checked, None, dim)
    raise ValueError(f"{arg} must be a data-set name, an (n, d) tensor or a callable, got {type(data).__name__}")


def _normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


def density(name: str, x: torch.Tensor) -> torch.Tensor:
    """The probability density p(x) of a 1-D data set at the points ``x`` (any shape)."""
    checks.choice("data set", name, NAMES)
    x = torch.as_tensor(x, dtype=torch.float64)
    if name == "gaussian1d":
        return _normal_pdf(x, 0.0, 1.0)
    if name == "bimodal1d":
        return 0.5 * _normal_pdf(x, -2.0, 0.5) + 0.5 * _normal_pdf(x, 2.0, 0.5)
    raise ValueError(f"density is only defined for the 1-D sets gaussian1d and bimodal1d, not {name!r}")


def modes(name: str) -> Modes:
    """Centres and std of a Gaussian-mixture data set, in the same (scaled) units as ``sample``."""
    if name not in _MIXTURES:
        raise ValueError(f"{name!r} has no modes; mixtures are {', '.join(_MIXTURES)}")
    make_centers, std, divisor = _MIXTURES[name]
    return Modes(centers=make_centers() / divisor, std=std / divisor)


def parallel_lines(n: int, theta: float, *, seed: Optional[int] = None,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``n`` points (theta, z) with z ~ U[0, 1]: the distribution P_theta of the WGAN paper's Example 1."""
    n = checks.integer("n", n, 1)
    theta = checks.finite_number("theta", theta)
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    g = generator if generator is not None else _generator(seed)
    z = torch.rand(n, 1, generator=g)
    return torch.cat([torch.full((n, 1), theta), z], dim=1)


@dataclass(frozen=True)
class ParallelLinesData:
    """P_theta as training data: ``ParallelLinesData(theta)(n, generator)`` is
    ``parallel_lines(n, theta, generator=generator)``. Unlike a lambda it says what it draws
    (``describe()``), so ``runs.cached`` can key a run on it."""

    theta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "theta", checks.finite_number("theta", self.theta))

    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return parallel_lines(n, self.theta, generator=generator)

    def describe(self) -> dict:
        return {"theta": self.theta}


# ---- images: procedurally drawn shapes ----------------------------------------------------------------

SHAPE_KINDS = ("square", "circle", "triangle")
_EXTENT = 0.7  # the shape's bounding box, as a fraction of the image side


def _is_real(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_shape_args(shape: str, base_color: float, offset_sign: int, noise: float) -> None:
    checks.choice("shape", shape, SHAPE_KINDS)
    if not _is_real(base_color) or not 0.0 <= float(base_color) <= 1.0:
        raise ValueError(f"base_color must be a number in [0, 1], got {base_color!r}")
    if not _is_real(offset_sign) or offset_sign not in (1, -1):
        raise ValueError(f"offset_sign must be +1 or -1, got {offset_sign!r}")
    checks.number_at_least("noise", noise, 0.0)


def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask: which pixel centres lie in the shape (exact integer arithmetic).

    Pixel (i, j) (row, column) has its centre at (x, y) = (j + 0.5, i + 0.5); the image centre is
    (size/2, size/2) and the half-extent h = 0.35 size. With u = 2x - size and v = 2y - size (twice the
    offsets from the centre, integers) and everything multiplied by 20, the tests below are exact.
    """
    checks.choice("shape", shape, SHAPE_KINDS)
    size = checks.integer("size", size, 1)
    k = 2 * np.arange(size, dtype=np.int64) + 1 - size
    v, u = k[:, None], k[None, :]               # v: rows (down), u: columns (right)
    h20 = 7 * size                              # 20 h, h = 0.35 size
    if shape == "square":                       # |dx| <= h and |dy| <= h
        return (10 * np.abs(u) <= h20) & (10 * np.abs(v) <= h20)
    if shape == "circle":                       # dx^2 + dy^2 <= h^2
        return 100 * (u * u + v * v) <= 49 * size * size
    # upright triangle: apex (0, -h), base from (-h, h) to (h, h): |dy| <= h and 2 |dx| <= dy + h
    return (10 * np.abs(v) <= h20) & (20 * np.abs(u) <= 10 * v + h20)


NOISE_ON = ("shape", "image")


def shapes(n: int, shape: str, base_color: float, offset_sign: int, noise: float, *,
           size: int = 64, seed: Optional[int] = None, noise_on: str = "shape") -> np.ndarray:
    """``n`` RGB images of one centred shape, a uint8 array of shape (n, size, size, 3).

    - The shape (``"square"``, ``"circle"`` or ``"triangle"``) fills a centred bounding box of side
      0.7 size: the square's side, the circle's diameter, the upright triangle's base and height
      (apex at the top centre, base horizontal at the bottom of the box).
    - A pixel belongs to the shape when its centre, (j + 0.5, i + 0.5) for row i and column j, lies in
      the closed shape (boundary included). The rule is computed exactly, so the square and circle are
      symmetric under both flips and transposition and the triangle under the left-right flip. Because
      the triangle's apex is a point, its top row of pixels may be empty: it then spans one row fewer
      than 0.7 size.
    - Inside the shape the channels are (b, b + 0.1 s, b + 0.2 s) with b = ``base_color`` and
      s = ``offset_sign``; the background is white (1).
    - Gaussian noise of std σ = ``noise`` (on the [0, 1] colour scale), independent per pixel and
      channel, is added to the shape's pixels only (``noise_on="shape"``, the default): the background
      stays exactly white (255) whatever σ, as in the article "Unsupervised Classification with
      Generative Models" (S. Rakhmanova Shchegrova), whose generator writes noise on the shape alone.
      ``noise_on="image"`` adds it to the whole image, background included. Then the image is clipped
      to [0, 1], multiplied by 255 and rounded; with ``noise_on="image"`` about half the background
      values are clipped at 255. Noise-free images have exactly two colours either way.
    - Both variants draw the same noise field, so for one ``seed`` their shape pixels are identical
      and they differ only in the background.

    ``seed`` makes the draw reproducible (only the noise is random). All arguments are checked before
    any work.
    """
    n = checks.integer("n", n, 1)
    _check_shape_args(shape, base_color, offset_sign, noise)
    size = checks.integer("size", size, 8)
    checks.choice("noise_on", noise_on, NOISE_ON)
    g = _generator(seed)
    b, s, sigma = float(base_color), int(offset_sign), float(noise)
    colour = torch.tensor([b, b + 0.1 * s, b + 0.2 * s], dtype=torch.float32)
    mask = torch.from_numpy(shape_mask(shape, size))[:, :, None]
    clean = torch.where(mask, colour, torch.ones(()))               # (size, size, 3)
    if sigma > 0.0:
        eps = torch.randn(n, size, size, 3, generator=g).mul_(sigma)
        if noise_on == "shape":
            eps.mul_(mask)                                          # background: exactly 0 noise
        img = eps.add_(clean)
    else:
        img = clean.expand(n, size, size, 3).clone()
    img = img.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    return img.numpy()


@dataclass(frozen=True)
class ShapeClass:
    """One class of shape images: the ``shape``, the colour (``base_color``, ``offset_sign``) and ``noise``.

    See ``shapes`` for the recipe; ``draw(n)`` makes n images of the class.
    """

    shape: str
    base_color: float
    offset_sign: int
    noise: float

    def __post_init__(self) -> None:
        _check_shape_args(self.shape, self.base_color, self.offset_sign, self.noise)
        object.__setattr__(self, "base_color", float(self.base_color))
        object.__setattr__(self, "offset_sign", int(self.offset_sign))
        object.__setattr__(self, "noise", float(self.noise))

    @property
    def name(self) -> str:
        """E.g. ``"square (0.85, +1) σ=0.03"``: shape, (base colour, offset sign), noise std."""
        return f"{self.shape} ({self.base_color:.2f}, {self.offset_sign:+d}) σ={self.noise:.2f}"

    @property
    def color(self) -> tuple[float, float, float]:
        """The clean RGB colour inside the shape, on the [0, 1] scale."""
        b, s = self.base_color, self.offset_sign
        return (b, b + 0.1 * s, b + 0.2 * s)

    def differs_from(self, other: "ShapeClass") -> tuple[str, ...]:
        """The features (``"shape"``, ``"colour"``, ``"noise"``) in which this class differs from ``other``."""
        diff = []
        if self.shape != other.shape:
            diff.append("shape")
        if (self.base_color, self.offset_sign) != (other.base_color, other.offset_sign):
            diff.append("colour")
        if self.noise != other.noise:
            diff.append("noise")
        return tuple(diff)

    def draw(self, n: int, *, size: int = 64, seed: Optional[int] = None) -> np.ndarray:
        """``n`` images of this class, uint8 (n, size, size, 3); see ``shapes``."""
        return shapes(n, self.shape, self.base_color, self.offset_sign, self.noise, size=size, seed=seed)


# The class tables. Two colours A = (0.25, +1) -> (0.25, 0.35, 0.45), a slate blue, and
# B = (0.60, -1) -> (0.60, 0.50, 0.40), a clay brown; flipping their signs gives A' = (0.25, -1) ->
# (0.25, 0.15, 0.05), a dark brown, and B' = (0.60, +1) -> (0.60, 0.70, 0.80), a light blue. No channel
# clips and none is near white. Noise: 0.03 (training level) and 0.10.
_LOW, _HIGH = 0.03, 0.10
SHAPES_TRAIN: tuple[ShapeClass, ...] = (
    ShapeClass("square", 0.25, +1, _LOW),   # T0: square, colour A
    ShapeClass("circle", 0.60, -1, _LOW),   # T1: circle, colour B
)
"""The training classes (300 images each in the book): a square of colour A and a circle of colour B,
both at noise 0.03. They differ in shape and colour at once."""

SHAPES_TEST: tuple[ShapeClass, ...] = (
    SHAPES_TRAIN[0],                          # 0: T0 itself
    SHAPES_TRAIN[1],                          # 1: T1 itself
    ShapeClass("triangle", 0.25, +1, _LOW),   # 2: T0 with another shape
    ShapeClass("triangle", 0.60, -1, _LOW),   # 3: T1 with another shape
    ShapeClass("square", 0.25, -1, _LOW),     # 4: T0 with another colour (A')
    ShapeClass("circle", 0.60, +1, _LOW),     # 5: T1 with another colour (B')
    ShapeClass("square", 0.25, +1, _HIGH),    # 6: T0 with more noise
    ShapeClass("circle", 0.60, -1, _HIGH),    # 7: T1 with more noise
    ShapeClass("square", 0.60, -1, _LOW),     # 8: T0's shape, T1's colour
    ShapeClass("circle", 0.25, +1, _LOW),     # 9: T1's shape, T0's colour
)
"""The test classes (40 images each in the book), designed so each new class differs from a training
class in exactly one feature:

- 0, 1: the training classes T0 (square, A) and T1 (circle, B) themselves;
- 2, 3: shape only: triangles of colour A and B (vs T0 and T1);
- 4, 5: colour only: T0 with colour A' = (0.25, -1) and T1 with B' = (0.60, +1), the training colours
  with the offset sign flipped (same base, the channel gradient reversed);
- 6, 7: noise only: T0 and T1 at noise 0.10 instead of 0.03;
- 8, 9: recombinations: square of colour B and circle of colour A, each one feature from both
  training classes (8 is T0 in colour, T1 in shape; 9 is T1 in colour, T0 in shape), so they show
  whether the critic learned the shape-colour pairing or each feature alone.

``ShapeClass.differs_from`` lists the differing features of any two classes."""


def _class_seed(seed: int, cls: ShapeClass) -> int:
    # a seed derived from the data set's seed and the class itself (not its position), so adding,
    # removing or reordering classes leaves every other class's images unchanged
    key = f"{seed}|{cls.shape}|{cls.base_color!r}|{cls.offset_sign}|{cls.noise!r}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1


def shapes_dataset(classes: Sequence[ShapeClass], n_per_class: int, *, size: int = 64,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labelled images of several classes: (images uint8 (N, size, size, 3), labels int64 (N,)).

    N = len(classes) * n_per_class; the images come class by class, in the order of ``classes``
    (no shuffling), labelled with the class's index. Each class is drawn with its own seed derived
    from ``seed`` and the class itself, so a class's images do not depend on the other classes. A class
    appearing in two data sets drawn with the same ``seed`` gets the same images: draw a test set with
    another seed than its training set.
    """
    if isinstance(classes, ShapeClass) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty sequence of ShapeClass, got {classes!r}")
    for c in classes:
        if not isinstance(c, ShapeClass):
            raise ValueError(f"classes must contain only ShapeClass objects, got {c!r}")
    if len(set(classes)) != len(classes):
        dup = next(c for i, c in enumerate(classes) if c in classes[:i])
        raise ValueError(f"class {dup.name!r} appears twice (it would get identical images)")
    n_per_class = checks.integer("n_per_class", n_per_class, 1)
    size = checks.integer("size", size, 8)
    seed = checks.seed("seed", seed)
    images = np.concatenate([c.draw(n_per_class, size=size, seed=_class_seed(seed, c)) for c in classes])
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), n_per_class)
    return images, labels


def to_tensor(images: Union[np.ndarray, torch.Tensor]) -> torch.Tensor:
    """uint8 images (N, H, W, 3) -> float32 tensor (N, 3, H, W) in [-1, 1] (0 -> -1, 255 -> 1)."""
    t = torch.as_tensor(images) if isinstance(images, (np.ndarray, torch.Tensor)) else None
    if t is None or t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        desc = (f"{type(images).__name__} of dtype {t.dtype} and shape {tuple(t.shape)}" if t is not None
                else repr(type(images)))
        raise ValueError(f"to_tensor expects uint8 images of shape (N, H, W, 3), got {desc}")
    return t.permute(0, 3, 1, 2).to(torch.float32).div(127.5).sub(1.0).contiguous()


def to_images(tensor: torch.Tensor) -> np.ndarray:
    """Float tensor (N, 3, H, W) in [-1, 1] -> uint8 images (N, H, W, 3); the inverse of ``to_tensor``.

    Finite values outside [-1, 1] (e.g. a generator's output) are clamped first. NaN and Inf have no pixel
    value (casting would make a NaN black, silently): they raise ``ValueError``.
    """
    if (not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or tensor.ndim != 4
            or tensor.shape[1] != 3):
        desc = (f"tensor of dtype {tensor.dtype} and shape {tuple(tensor.shape)}"
                if isinstance(tensor, torch.Tensor) else repr(type(tensor)))
        raise ValueError(f"to_images expects a float tensor of shape (N, 3, H, W), got {desc}")
    x = tensor.detach().to("cpu", torch.float32)
    bad = ~torch.isfinite(x)
    if bad.any():
        raise ValueError(f"to_images got a tensor holding NaN or Inf ({int(bad.sum())} of {x.numel()} values, "
                         f"first at index {bad.nonzero()[0].tolist()}): a diverged generator's output has no "
                         "pixel values")
    x = x.clamp(-1.0, 1.0)
    x = x.add(1.0).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()
