"""Checks for chapter 6's exercises (WGAN-GP on shapes: drawing the images, feeding them to a conv critic,
the gradient penalty on images, and FID's formula)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg
import torch
from torch import nn

from .. import data
from ._compare import check_penalty, close, close_tensors, seeded

__all__ = ["check_diamond_mask", "check_shape_colour", "check_to_tensor", "check_image_gradient_penalty",
           "check_frechet_distance"]


# ---- drawing a shape ---------------------------------------------------------------------------------------

def _diamond(size: int, tenths: int = 7) -> np.ndarray:
    """The reference diamond |dx| + |dy| <= h at pixel centres, h = (tenths / 20) size (0.35 size), in exact
    integer arithmetic: with u = 2 dx and v = 2 dy (integers), the test is 10 (|u| + |v|) <= tenths size."""
    k = np.abs(2 * np.arange(size, dtype=np.int64) + 1 - size)
    return 10 * (k[:, None] + k[None, :]) <= tenths * size


def _as_mask(name: str, got, size: int) -> np.ndarray:
    """The reader's mask as a numpy bool array of shape (size, size); anything else raises AssertionError."""
    if isinstance(got, torch.Tensor):
        got = got.detach().cpu().numpy()
    a = np.asarray(got)
    if a.shape != (size, size):
        raise AssertionError(f"{name}: expected a mask of shape ({size}, {size}), got shape {a.shape}")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf" or not np.isin(a, (0, 1)).all():
        raise AssertionError(f"{name}: expected a boolean mask (True inside the shape), got values of dtype "
                             f"{a.dtype} such as {np.unique(a)[:4].tolist()}")
    return a.astype(bool)


def check_diamond_mask(fn: Callable[[int], np.ndarray]) -> bool:
    """``fn(size)`` must return the boolean (size, size) mask of a centred diamond, drawn by the rule of
    ``data.shapes``: pixel (i, j) (row i, column j) is in the shape when its centre (x, y) = (j + 0.5, i + 0.5)
    satisfies |x - size/2| + |y - size/2| <= h, with h = 0.35 size (boundary included). A numpy array or a
    tensor of booleans (or of 0/1) is accepted."""
    from . import run_check

    def attempt() -> None:
        for size in (8, 9, 16, 20, 33, 40, 64):
            name = f"the diamond on a {size}x{size} image"
            expected = _diamond(size)
            got = _as_mask(name, fn(size), size)
            wrong = got != expected
            if not wrong.any():
                continue
            i, j = (int(v) for v in np.argwhere(wrong)[0])
            dist = abs(j + 0.5 - size / 2) + abs(i + 0.5 - size / 2)
            where = "inside" if expected[i, j] else "outside"
            if 20 * dist == 7 * size:                  # exact: dist is a multiple of 1/2
                hint = " It lies exactly on the boundary, which belongs to the diamond: use <=, not <."
            elif not np.array_equal(got, got[::-1, ::-1]):
                hint = (" Your mask is not symmetric about the centre: measure from pixel centres "
                        "(j + 0.5, i + 0.5), not from pixel corners (j, i).")
            elif np.array_equal(got, _diamond(size, 14)):
                hint = " Your diamond is too big: h is the half-diagonal, 0.35 size, not the full 0.7 size."
            else:
                hint = (" The rule is |dx| + |dy| <= h, the sum of the absolute offsets (not the Euclidean "
                        "distance, which gives a circle, nor the larger offset, which gives a square).")
            raise AssertionError(f"{name}: {int(wrong.sum())} pixels differ, e.g. row {i}, column {j}, whose "
                                 f"centre has |dx| + |dy| = {dist:g} against h = {0.35 * size:g} and so lies "
                                 f"{where} the diamond.{hint}")
    return run_check("the diamond's mask", attempt)


def check_shape_colour(fn: Callable[[np.ndarray, float, int], np.ndarray]) -> bool:
    """``fn(mask, base_color, offset_sign)`` gets a boolean (size, size) numpy mask, b and s (+1 or -1), and
    must return the noise-free image as a float array of shape (size, size, 3) on the [0, 1] scale:
    RGB (b, b + 0.1 s, b + 0.2 s) where the mask is True, white (1, 1, 1) elsewhere (``data.shapes``
    before noise, with channels last)."""
    from . import run_check

    def attempt() -> None:
        masks = {"square": data.shape_mask("square", 16), "triangle": data.shape_mask("triangle", 16),
                 "circle": data.shape_mask("circle", 9), "diamond": _diamond(12)}
        colours = list(dict.fromkeys((c.base_color, c.offset_sign) for c in data.SHAPES_TEST)) + [(0.5, -1)]
        for k, (kind, mask) in enumerate(masks.items()):
            for b, s in colours[k:] + colours[:k]:
                reference = data.ShapeClass("square", b, s, 0.0).color
                name = f"the {mask.shape[0]}x{mask.shape[0]} {kind} with b = {b:g}, s = {s:+d}"
                given = mask.copy()
                got = fn(given, b, s)
                if not np.array_equal(given, mask):
                    raise AssertionError(f"{name}: the mask was modified; leave it as it is")
                got = got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
                if got.shape != mask.shape + (3,):
                    raise AssertionError(f"{name}: expected an image of shape {mask.shape + (3,)} (rows, columns, "
                                         f"RGB channels last), got shape {got.shape}")
                expected = np.where(mask[:, :, None], np.asarray(reference), 1.0)
                if not np.issubdtype(got.dtype, np.number) or got.dtype.kind == "c":
                    raise AssertionError(f"{name}: expected real numbers, got dtype {got.dtype}")
                ok = (np.abs(got.astype(np.float64) - expected) <= 1e-6).all(axis=2)   # NaN is not ok
                if ok.all():
                    continue
                i, j = (int(v) for v in np.argwhere(~ok)[0])
                where = "inside the shape" if mask[i, j] else "in the background"
                pixel = ", ".join(f"{v:.4g}" for v in got[i, j])
                hint = (" Inside, the channels are red = b, green = b + 0.1 s, blue = b + 0.2 s, in that order "
                        "(the sign s multiplies both offsets)." if mask[i, j] else
                        " The background is white: 1 in every channel, on the [0, 1] scale.")
                raise AssertionError(f"{name}: pixel (row {i}, column {j}) {where} should be RGB "
                                     f"({', '.join(f'{v:.4g}' for v in expected[i, j])}), got ({pixel}).{hint}")
    return run_check("the shape's colour", attempt)


def check_to_tensor(fn: Callable[[np.ndarray], torch.Tensor]) -> bool:
    """``fn(images)`` gets uint8 images, a numpy array of shape (N, H, W, 3), and must return what the conv
    nets take: a float tensor of shape (N, 3, H, W) with 0 -> -1 and 255 -> 1 linearly (x / 127.5 - 1),
    as ``data.to_tensor`` does. The input must not be modified."""
    from . import run_check

    def attempt() -> None:
        def noise(n: int, h: int, w: int) -> np.ndarray:
            x = torch.randint(0, 256, (n, h, w, 3), generator=g, dtype=torch.uint8)
            x[0, 0, 0] = torch.tensor([0, 128, 255], dtype=torch.uint8)
            return x.numpy()

        g = torch.Generator().manual_seed(65)
        cases = {"5 random 8x8 images": noise(5, 8, 8),
                 "3 random 6x10 images (wider than tall)": noise(3, 6, 10),
                 "4 noisy 16x16 triangles of data.shapes": data.shapes(4, "triangle", 0.6, -1, 0.1, size=16,
                                                                        seed=66)}
        for name, images in cases.items():
            given = images.copy()
            got = fn(given)
            if not np.array_equal(given, images):
                raise AssertionError(f"{name}: the input images were modified; leave them as they are")
            if not isinstance(got, torch.Tensor):
                raise AssertionError(f"{name}: expected a torch tensor, got a {type(got).__name__}")
            if not got.is_floating_point():
                raise AssertionError(f"{name}: expected a float tensor, got dtype {got.dtype} "
                                     "(convert to float before dividing)")
            expected = data.to_tensor(images)
            if tuple(got.shape) == tuple(expected.shape) and (got.min() >= -1e-6 and got.max() > 1 - 1e-4
                                                              and got.max() <= 1 + 1e-6):
                raise AssertionError(f"{name}: your values lie in [0, 1]; the nets take [-1, 1] "
                                     "(0 -> -1, 255 -> 1: x / 127.5 - 1)")
            try:
                close_tensors(name, got, expected, atol=1e-6)
            except AssertionError as err:
                hint = ""
                if tuple(got.shape) == tuple(expected.shape):
                    same_values = torch.allclose(got.detach().double().flatten().sort().values,
                                                 expected.double().flatten().sort().values, atol=1e-6)
                    hint = (" (the values are right but in the wrong places: move the channel axis with "
                            "permute(0, 3, 1, 2); a reshape or view to (N, 3, H, W) keeps the memory order and "
                            "scrambles the pixels, and rows (H) stay before columns (W))" if same_values else
                            " (the pixels map linearly, 0 -> -1 and 255 -> 1: x / 127.5 - 1, computed in float; "
                            "uint8 arithmetic wraps around above 255)")
                raise AssertionError(f"{err}{hint}") from None
    return run_check("uint8 images to the nets' tensors", attempt)


# ---- the gradient penalty on images ------------------------------------------------------------------

class _TinyConvCritic(nn.Module):
    """f: (N, 3, H, W) -> (N, 1): two tanh convolutions, a mean over positions, a linear score (any H, W)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.Tanh())
        self.score = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.body(x).mean(dim=(2, 3)))


def _image_batch(seed: int, n: int, h: int, w: int):
    """real: noisy shapes-like images, fake: noise, eps (n, 1, 1, 1); all float64 in about [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    real = (torch.rand(n, 3, h, w, generator=g, dtype=torch.float64) > 0.5).double() * 1.4 - 0.7
    real = real + 0.1 * torch.randn(n, 3, h, w, generator=g, dtype=torch.float64)
    fake = torch.rand(n, 3, h, w, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.rand(n, 1, 1, 1, generator=g, dtype=torch.float64)
    return real, fake, eps


def _conv_critic(seed: int, real, fake, eps) -> _TinyConvCritic:
    """A tiny tanh conv critic, its score rescaled so that about half its gradient norms (at the
    interpolates) are above 1 (the median is 1)."""
    critic = seeded(seed, lambda: _TinyConvCritic().double())
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    median = grad.flatten(1).norm(dim=1).median().item()
    with torch.no_grad():
        critic.score.weight.div_(median)
    return critic


def check_image_gradient_penalty(fn: Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor],
                                              torch.Tensor]) -> bool:
    """``fn(critic, real, fake, eps)`` gets images real and fake of shape (N, 3, H, W) and weights ``eps`` of
    shape (N, 1, 1, 1), and must return E[(||grad f(x_hat)||_2 - 1)^2] at x_hat = eps real + (1 - eps) fake,
    where each image's gradient norm runs over all its 3 H W entries, as a tensor differentiable with respect
    to the critic's parameters (``losses.gradient_penalty``)."""
    from . import run_check

    hint = (" (one gradient norm per image, over all its C*H*W entries, e.g. grad.flatten(1).norm(dim=1): not "
            "one per channel or per pixel, not one for the whole batch, and not squared; then average "
            "(norm - 1)^2 over the images)")

    def attempt() -> None:
        for seed, (n, h, w) in ((80, (8, 8, 8)), (82, (5, 12, 6))):
            real, fake, eps = _image_batch(seed, n, h, w)
            check_penalty(f"the penalty of a small conv critic on {n} images of {h}x{w}", fn,
                           _conv_critic(seed + 1, real, fake, eps), real, fake, eps, False, hint)
    return run_check("gradient penalty on images", attempt)


# ---- FID's formula -----------------------------------------------------------------------------------

def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}), with Tr (S1 S2)^{1/2} taken in the symmetric form
    Tr (S1^{1/2} S2 S1^{1/2})^{1/2} (same eigenvalues) from scipy's sqrtm and eigvalsh."""
    r = np.real(scipy.linalg.sqrtm(s1))
    m = r @ s2 @ r
    root_trace = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root_trace)


def _covariance(g: np.random.Generator, d: int, scale: float) -> np.ndarray:
    a = g.normal(size=(d, d + 3))
    return scale * (a @ a.T / (d + 3) + 0.05 * np.eye(d))


def check_frechet_distance(fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]) -> bool:
    """``fn(mu1, sigma1, mu2, sigma2)`` gets the means (d,) and covariance matrices (d, d) of two Gaussians as
    float64 numpy arrays and must return the squared Frechet distance that FID reports,
    ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}), as a number; the square root is the
    matrix square root (e.g. ``scipy.linalg.sqrtm``; keep its real part)."""
    from . import run_check

    hint = (" (the mean term is the squared distance; (sigma1 sigma2)^{1/2} is the matrix square root of the "
            "matrix product, which is neither np.sqrt of it nor sqrtm(sigma1) @ sqrtm(sigma2); and it is "
            "subtracted twice)")
    nan_hint = " (np.sqrt is element-wise; the matrix square root is scipy.linalg.sqrtm)"

    def attempt() -> None:
        g = np.random.default_rng(90)
        cases = {}
        for d, scale in ((3, 1.0), (16, 0.5)):
            mu1, mu2 = g.normal(size=d), g.normal(size=d) * 0.5
            cases[f"two {d}-dimensional Gaussians"] = (mu1, _covariance(g, d, scale), mu2,
                                                       _covariance(g, d, scale * 2.0))
        s = _covariance(g, 8, 1.0)
        mu = g.normal(size=8)
        cases["two 8-dimensional Gaussians with the same covariance"] = (mu, s, mu + 0.3, s.copy())
        cases["two 1-dimensional Gaussians, N(0.5, 4) and N(-1, 0.25)"] = (
            np.array([0.5]), np.array([[4.0]]), np.array([-1.0]), np.array([[0.25]]))
        for name, args in cases.items():
            given = [a.copy() for a in args]
            got = fn(*given)
            if any(not np.array_equal(a, b) for a, b in zip(given, args)):
                raise AssertionError(f"{name}: a mean or covariance was modified; leave them as they are")
            expected = _frechet(*args)
            scale = float(np.trace(args[1]) + np.trace(args[3]))
            close(f"the squared Frechet distance of {name}", got, expected, rtol=1e-6, atol=1e-9 * scale,
                  hint=hint, nan_hint=nan_hint)
        mu, s = cases["two 8-dimensional Gaussians with the same covariance"][:2]
        close("the Frechet distance of a Gaussian to itself (should be 0)", fn(mu.copy(), s.copy(), mu.copy(),
                                                                                 s.copy()), 0.0,
              atol=1e-7 * float(np.trace(s)), hint=hint, nan_hint=nan_hint)
    return run_check("FID's Frechet distance of two Gaussians", attempt)
