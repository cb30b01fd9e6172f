"""Hidden tests for chapter 6 (WGAN-GP on shapes): book/06_shapes_wgan_gp.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch06``: other image sizes (including sizes whose diamond
boundary passes through pixel centres), masks that are not symmetric, all-empty and all-full masks, a
single image taller than wide, non-contiguous arrays, every uint8 value, float32 critics, images with
eps = 1, and Gaussians in 2 and 32 dimensions, with commuting covariances, a singular covariance, and
feature scales like those of real FID.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gan_lab import data

from . import answer
from .compare import call, close, close_tensors, penalty_matches, seeded, unchanged

__all__ = ["HIDDEN"]


# ---- diamond_mask ----------------------------------------------------------------------------------------

def _diamond(size: int) -> np.ndarray:
    """|dx| + |dy| <= 0.35 size at pixel centres, exactly: with u = 2 dx, v = 2 dy (integers),
    10 (|u| + |v|) <= 7 size."""
    k = np.abs(2 * np.arange(size, dtype=np.int64) + 1 - size)
    return 10 * (k[:, None] + k[None, :]) <= 7 * size


def _as_mask(name: str, got, size: int) -> np.ndarray:
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu().numpy()
    a = np.asarray(got)
    if a.shape != (size, size):
        raise AssertionError(f"{name}: expected a mask of shape ({size}, {size}), got shape {a.shape}")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf" or not np.isin(a, (0, 1)).all():
        raise AssertionError(f"{name}: expected a boolean mask (True inside the diamond), got dtype {a.dtype}")
    return a.astype(bool)


def diamond_mask(ns: dict) -> None:
    fn = answer(ns, "diamond_mask")
    for size in (10, 11, 13, 25, 60, 100, 120):
        name = f"the diamond on a {size}x{size} image"
        expected = _diamond(size)
        got = _as_mask(name, call(name, fn, size), size)
        wrong = got != expected
        if not wrong.any():
            continue
        i, j = (int(v) for v in np.argwhere(wrong)[0])
        dist = abs(j + 0.5 - size / 2) + abs(i + 0.5 - size / 2)
        where = "inside" if expected[i, j] else "outside"
        if 20 * dist == 7 * size:
            hint = " Its centre lies exactly on the boundary, which belongs to the diamond (<=, not <)."
        elif not np.array_equal(got, got[::-1, ::-1]):
            hint = " Your mask is not symmetric about the centre: measure from pixel centres (j + 0.5, i + 0.5)."
        else:
            hint = " The rule is |x - size/2| + |y - size/2| <= 0.35 size, at pixel centres, for every size."
        raise AssertionError(f"{name}: {int(wrong.sum())} pixels differ, e.g. row {i}, column {j}, whose centre "
                             f"has |dx| + |dy| = {dist:g} against h = {0.35 * size:g}, so it lies {where} the "
                             f"diamond.{hint}")


# ---- colour_shape ----------------------------------------------------------------------------------------

def colour_shape(ns: dict) -> None:
    fn = answer(ns, "colour_shape")
    rng = np.random.default_rng(1090)
    ell = np.zeros((12, 12), dtype=bool)
    ell[2:10, 2:4] = True
    ell[8:10, 2:9] = True
    cases = {
        "a random 15x15 mask (no symmetry)": (rng.random((15, 15)) < 0.4, 0.3, 1),
        "an L-shaped 12x12 mask": (ell, 0.45, -1),
        "an empty 8x8 mask (all background)": (np.zeros((8, 8), dtype=bool), 0.6, 1),
        "a full 10x10 mask (no background)": (np.ones((10, 10), dtype=bool), 0.7, -1),
        "every other pixel of a random 20x20 mask (a non-contiguous view)": ((rng.random((20, 20)) < 0.5)[::2, ::2],
                                                                            0.25, 1),
    }
    for kind, (mask, b, s) in cases.items():
        name = f"{kind}, b = {b:g}, s = {s:+d}"
        original = mask.copy()
        got = call(name, fn, mask, b, s)
        unchanged(name, (mask,), (original,), "the mask")
        got = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
        size = mask.shape[0]
        if got.shape != (size, size, 3):
            raise AssertionError(f"{name}: expected an image of shape ({size}, {size}, 3), rows, columns and RGB "
                                 f"channels last, got shape {got.shape}")
        if got.dtype.kind not in "iuf":
            raise AssertionError(f"{name}: expected real numbers, got dtype {got.dtype}")
        colour = data.ShapeClass("square", b, s, 0.0).color
        expected = np.where(mask[:, :, None], np.asarray(colour), 1.0)
        ok = (np.abs(got.astype(np.float64) - expected) <= 1e-6).all(axis=2)
        if ok.all():
            continue
        i, j = (int(v) for v in np.argwhere(~ok)[0])
        where = "inside the shape" if mask[i, j] else "in the background"
        raise AssertionError(f"{name}: pixel (row {i}, column {j}) {where} should be RGB "
                             f"({', '.join(f'{v:.4g}' for v in expected[i, j])}), got "
                             f"({', '.join(f'{v:.4g}' for v in got[i, j])}). Pixel (i, j) of the image takes "
                             "the colour given by mask[i, j]: (b, b + 0.1 s, b + 0.2 s) where it is True, white "
                             "(1, 1, 1) where it is False.")


# ---- to_tensor -------------------------------------------------------------------------------------------

def to_tensor(ns: dict) -> None:
    fn = answer(ns, "to_tensor")
    g = torch.Generator().manual_seed(1091)

    def noise(n: int, h: int, w: int) -> np.ndarray:
        x = torch.randint(0, 256, (n, h, w, 3), generator=g, dtype=torch.uint8)
        x[0, 0, 0] = torch.tensor([255, 0, 127], dtype=torch.uint8)
        return x.numpy()

    cases = {
        "one random 10x6 image (taller than wide)": noise(1, 10, 6),
        "7 random 9x9 images": noise(7, 9, 9),
        "one 16x16 image holding every value 0..255": (np.arange(768) % 256).astype(np.uint8).reshape(1, 16, 16, 3),
        "every other column of 2 random 8x16 images (a non-contiguous array)": noise(2, 8, 16)[:, :, ::2],
    }
    for name, images in cases.items():
        given = images.copy() if images.flags.c_contiguous else images
        before = images.copy()
        got = call(name, fn, given)
        unchanged(name, (given,), (before,), "the input images")
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"{name}: expected a torch tensor, got a {type(got).__name__}")
        if not got.is_floating_point():
            raise AssertionError(f"{name}: expected a float tensor, got dtype {got.dtype}")
        close_tensors(name, got, data.to_tensor(np.ascontiguousarray(images)), atol=1e-6,
                      hint=" (shape (N, 3, H, W): move the channel axis with permute(0, 3, 1, 2); values "
                           "x / 127.5 - 1 computed in float, 0 -> -1 and 255 -> 1)")


# ---- image_gradient_penalty ------------------------------------------------------------------------------

class _ConvCritic(nn.Module):
    """f: (N, 3, H, W) -> (N, 1): a tanh convolution, a strided tanh convolution, a mean over positions, a
    linear score; works for any H, W."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(5, 6, 3, stride=2, padding=1), nn.Tanh())
        self.score = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.body(x).mean(dim=(2, 3)))


def _images(seed: int, n: int, h: int, w: int, dtype):
    g = torch.Generator().manual_seed(seed)
    real = (torch.rand(n, 3, h, w, generator=g, dtype=dtype) > 0.5).to(dtype) * 1.6 - 0.8
    fake = torch.rand(n, 3, h, w, generator=g, dtype=dtype) * 2 - 1
    eps = torch.rand(n, 1, 1, 1, generator=g, dtype=dtype)
    return real, fake, eps


def _conv_critic(seed: int, real, fake, eps, median: float) -> _ConvCritic:
    critic = seeded(seed, lambda: _ConvCritic().to(real.dtype))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    with torch.no_grad():
        critic.score.weight.mul_(median / grad.flatten(1).norm(dim=1).median().item())
    return critic


def image_gradient_penalty(ns: dict) -> None:
    fn = answer(ns, "image_gradient_penalty")
    hint = (" (one gradient norm per image over all its 3*H*W entries, e.g. grad.flatten(1).norm(dim=1); then "
            "the mean of (norm - 1)^2 over the images; x_hat = eps * real + (1 - eps) * fake)")
    f64, f32 = torch.float64, torch.float32
    for seed, (n, h, w), dtype, eps_value, median in ((1092, (1, 5, 7), f64, None, 1.4),
                                                      (1093, (6, 16, 16), f32, None, 1.0),
                                                      (1094, (4, 9, 9), f64, 1.0, 0.7)):
        real, fake, eps = _images(seed, n, h, w, dtype)
        if eps_value is not None:
            eps = torch.full_like(eps, eps_value)
        critic = _conv_critic(seed + 100, real, fake, eps, median)
        label = "float32 " if dtype == f32 else ""
        name = f"the penalty of a {label}conv critic on {n} image{'s' if n > 1 else ''} of {h}x{w}" + (
            " at the real images (eps = 1)" if eps_value is not None else "")
        args = [t.clone() for t in (real, fake, eps)]
        got = call(name, fn, critic, *args)
        unchanged(name, args, (real, fake, eps), "real, fake or eps")
        penalty_matches(name, got, critic, real, fake, eps, one_sided=False,
                        rtol=1e-4 if dtype == f32 else 1e-7, hint=hint)


# ---- frechet_distance ------------------------------------------------------------------------------------

def _symmetric_root(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _frechet(mu1, s1, mu2, s2) -> float:
    """||mu1 - mu2||^2 + Tr S1 + Tr S2 - 2 Tr (S1^{1/2} S2 S1^{1/2})^{1/2} (the same trace as Tr (S1 S2)^{1/2}),
    from symmetric eigendecompositions, so it holds for singular covariances too."""
    r = _symmetric_root(s1)
    m = r @ s2 @ r
    root_trace = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root_trace)


def _covariance(rng: np.random.Generator, d: int, samples: int, scale: float) -> np.ndarray:
    a = rng.normal(size=(d, samples))
    return scale * (a @ a.T / samples)


def frechet_distance(ns: dict) -> None:
    fn = answer(ns, "frechet_distance")
    hint = (" (||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}), with the matrix square root "
            "of the product, scipy.linalg.sqrtm(sigma1 @ sigma2).real)")
    rng = np.random.default_rng(1095)
    cases = {}
    cases["two 2-dimensional Gaussians"] = (rng.normal(size=2), _covariance(rng, 2, 5, 1.0) + 0.1 * np.eye(2),
                                            rng.normal(size=2), _covariance(rng, 2, 5, 2.0) + 0.1 * np.eye(2))
    cases["two 32-dimensional Gaussians"] = (rng.normal(size=32), _covariance(rng, 32, 40, 3.0) + 0.01 * np.eye(32),
                                             rng.normal(size=32), _covariance(rng, 32, 60, 1.0) + 0.01 * np.eye(32))
    a, b = rng.uniform(0.5, 4.0, size=5), rng.uniform(0.5, 4.0, size=5)
    cases["two 5-dimensional Gaussians with diagonal covariances"] = (np.zeros(5), np.diag(a), np.ones(5), np.diag(b))
    cases["a 6-dimensional Gaussian with a singular covariance (from 3 samples) and a full one"] = (
        rng.normal(size=6), _covariance(rng, 6, 3, 1.0), rng.normal(size=6), _covariance(rng, 6, 20, 1.0))
    cases["two 10-dimensional Gaussians on the scale of real features (variances near 1e4)"] = (
        100 * rng.normal(size=10), _covariance(rng, 10, 30, 1e4) + 100 * np.eye(10),
        100 * rng.normal(size=10), _covariance(rng, 10, 30, 1e4) + 100 * np.eye(10))
    for name, args in cases.items():
        given = [x.copy() for x in args]
        got = call(name, fn, *given)
        unchanged(name, given, args, "a mean or a covariance")
        scale = float(np.trace(args[1]) + np.trace(args[3]))
        close(f"the squared Frechet distance of {name}", got, _frechet(*args), rtol=1e-6, atol=1e-9 * scale,
              hint=hint)
    diag = cases["two 5-dimensional Gaussians with diagonal covariances"]
    close("the closed form of the diagonal case", _frechet(*diag), 5 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(),
          rtol=1e-12)
    mu, s = cases["two 32-dimensional Gaussians"][:2]
    name = "the Frechet distance of a 32-dimensional Gaussian to itself (should be 0)"
    close(name, call(name, fn, mu.copy(), s.copy(), mu.copy(), s.copy()), 0.0, atol=1e-7 * float(np.trace(s)),
          hint=hint)


HIDDEN = {
    "ch6-ex-diamond": diamond_mask,
    "ch6-ex-colour": colour_shape,
    "ch6-ex-tensor": to_tensor,
    "ch6-ex-penalty": image_gradient_penalty,
    "ch6-ex-fid": frechet_distance,
}
