"""An explicit-likelihood contrast to the GAN: a small PixelCNN (van den Oord et al., 2016) on the shapes.

A GAN's generator defines a distribution only through its samples: it has no density to evaluate at a real
image. An autoregressive model writes the probability of an image exactly, by the chain rule over its
D = C H W sub-pixels in raster order (row by row, left to right, and within a pixel R, then G, then B):

    p(x) = prod_{i=1..D} p(x_i | x_<i),

each factor a categorical distribution over the ``levels`` values of one sub-pixel, given by a network that
sees only x_<i. Masked convolutions (``MaskedConv2d``) make one forward pass compute all D conditionals at
once, so log p(x) = sum_i log p(x_i | x_<i) is exact and costs one pass; sampling is exact too, but
sequential: D passes, one sub-pixel at a time (``sample``).

- ``quantise`` / ``dequantise``: images in [-1, 1] <-> integers 0..levels-1 (a categorical needs discrete
  values). ``LEVELS`` = 8 is the default. At 16 px the shapes hold 124, 101 and 78 distinct values in R, G
  and B, but only 3 clean ones each (two colours and white): the rest is the Gaussian pixel noise, std
  0.03 * 255 = 7.7. With 8 levels (spacing 255 / 7 = 36) every clean colour of ``data.SHAPES_TEST`` stays a
  distinct triple with its channel offsets (4 levels flattens colour A to the grey (1, 1, 1)), the mean
  rounding error (3.9 / 255) is half the noise's std, so the noise survives as flips between neighbouring
  levels, and the net's output is only 3 x 8 logits a pixel. Quantised, the 6 classes of 3 shapes x colours
  A and B at noise 0.03 have an entropy of 0.248 bits/dim (0.092 at 4 levels, 0.466 at 16): no model's
  expected held-out bits/dim can be lower (``shapes_entropy_bits_per_dim``: 0.2446 given the class, plus at
  most log2(6) / 768 = 0.0034 for the class itself).
- ``MaskedConv2d``, ``PixelCNN``: the network; ``log_likelihood`` (nats per image), ``bits_per_dim``
  (-log2 p(x) / D, averaged over images), ``sample``.
- ``IndependentPixels`` / ``fit_independent``: the trivial baseline, every sub-pixel an independent
  categorical fitted by counts, so a PixelCNN's bits/dim have something to be compared with.
- ``train_pixelcnn``: plain maximum likelihood, min -E log p(x), with Adam.

The same bits/dim on held-out images is what a GAN cannot report: its generator's density is not defined on
the image space (it lives on a low-dimensional manifold), so a GAN is judged by its samples (FID, KID, a
classifier), an autoregressive model by its likelihood *and* its samples.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from torch import nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checks, data, settings
from .loop import TrainingDiverged, optimizer
from .settings import resolve_device

__all__ = ["LEVELS", "MASK_TYPES", "quantise", "dequantise", "MaskedConv2d", "PixelCNN", "IndependentPixels",
           "fit_independent", "log_likelihood", "bits_per_dim", "shapes_entropy_bits_per_dim", "sample",
           "PixelCNNResult", "train_pixelcnn"]

LEVELS = 8
MASK_TYPES = ("A", "B")
_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


# ---- discretisation ------------------------------------------------------------------------------------------

def _levels(levels: object) -> int:
    return checks.integer("levels", levels, 2)


def quantise(images: torch.Tensor, levels: int = LEVELS) -> torch.Tensor:
    """Float images in [-1, 1] -> int64 levels q = round((x + 1) / 2 (levels - 1)) in 0..levels-1.

    -1 (black) is level 0, +1 (white) level levels-1, the levels evenly spaced; ``dequantise`` is the way back,
    and dequantise(quantise(x)) is x to within 1 / (levels - 1) (half a level's spacing in [-1, 1]). Any shape.
    """
    levels = _levels(levels)
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        desc = f"dtype {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"quantise takes a float tensor of images in [-1, 1], got {desc}")
    x = images.detach()
    bad = ~torch.isfinite(x)
    if bad.any():
        where = bad.nonzero()[0].tolist()
        raise ValueError(f"images hold NaN or Inf (first at index {where}: {x[tuple(where)].item()})")
    if x.numel() and (x.min() < -1 - 1e-4 or x.max() > 1 + 1e-4):
        raise ValueError(f"images must lie in [-1, 1], got values in [{x.min().item():.4g}, {x.max().item():.4g}]")
    q = torch.round((x.clamp(-1.0, 1.0) + 1.0) * (0.5 * (levels - 1)))
    return q.to(torch.int64)


def _check_levels_tensor(name: str, x: torch.Tensor, levels: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dtype not in _INTEGER_DTYPES:
        desc = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an integer tensor of levels 0..{levels - 1}, got {desc}")
    if x.numel():
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > levels - 1:
            bad = lo if lo < 0 else hi
            where = (x == bad).nonzero()[0].tolist()
            raise ValueError(f"{name} holds the value {bad} (at index {where}), outside 0..{levels - 1} for "
                             f"levels={levels}")
    return x


def dequantise(levels_tensor: torch.Tensor, levels: int = LEVELS) -> torch.Tensor:
    """Integer levels q in 0..levels-1 -> float32 values 2 q / (levels - 1) - 1 in [-1, 1] (any shape)."""
    levels = _levels(levels)
    q = _check_levels_tensor("levels_tensor", levels_tensor, levels)
    return q.to(torch.float32).mul(2.0 / (levels - 1)).sub(1.0)


# ---- the masked convolution ------------------------------------------------------------------------------------

def _groups(channels: int, colour_channels: int) -> torch.Tensor:
    """The colour group of each of ``channels`` channels: contiguous blocks, channel c in group
    c // (channels / colour_channels) (so 3 image channels are R, G, B = groups 0, 1, 2, and 3 * levels
    output logits are levels for R, then levels for G, then levels for B)."""
    return torch.arange(channels) // (channels // colour_channels)


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution ("same" padding) that sees only what comes before in the raster order.

    The model factorises p(x) = prod_i p(x_i | x_<i) over sub-pixels in raster order: pixel (r, c) comes after
    every pixel of the rows above and after the pixels to its left in its row, and within a pixel the colour
    channels come in the order R -> G -> B. The mask multiplies the kernel so that an output at pixel (r, c)
    reads only

    - the kernel's rows above the centre, and the centre row's columns left of the centre (earlier pixels);
    - at the centre, i.e. the same pixel: the input channels of an earlier colour group than the output
      channel's (mask ``"A"``, for the first layer: x_i itself must not be seen), or of an earlier or the same
      group (mask ``"B"``, for later layers, whose group-g features at (r, c) already exclude x_i).

    Channels are split into ``colour_channels`` contiguous groups (see ``_groups``), so ``in_channels`` and
    ``out_channels`` must be multiples of ``colour_channels``. ``kernel_size`` is odd. With
    ``colour_channels=1`` the centre is all masked (A) or all open (B): a greyscale PixelCNN.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str = "A",
                 colour_channels: int = 3) -> None:
        in_channels = checks.integer("in_channels", in_channels, 1)
        out_channels = checks.integer("out_channels", out_channels, 1)
        kernel_size = checks.integer("kernel_size", kernel_size, 1)
        checks.choice("mask_type", mask_type, MASK_TYPES)
        colour_channels = checks.integer("colour_channels", colour_channels, 1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (the mask needs a centre), got {kernel_size}")
        for name, ch in (("in_channels", in_channels), ("out_channels", out_channels)):
            if ch % colour_channels:
                raise ValueError(f"{name} must be a multiple of colour_channels={colour_channels}, got {ch}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type, self.colour_channels = mask_type, colour_channels
        k = kernel_size // 2
        mask = torch.zeros(out_channels, in_channels, kernel_size, kernel_size)
        mask[:, :, :k, :] = 1.0                       # rows above the centre
        mask[:, :, k, :k] = 1.0                       # left of the centre in the centre row
        g_out = _groups(out_channels, colour_channels)[:, None]
        g_in = _groups(in_channels, colour_channels)[None, :]
        centre = g_in < g_out if mask_type == "A" else g_in <= g_out
        mask[:, :, k, k] = centre.to(mask.dtype)
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}, colour_channels={self.colour_channels}"


# ---- the models ---------------------------------------------------------------------------------------------------

class PixelCNN(nn.Module):
    """A small PixelCNN: the logits of p(x_i | x_<i) for every sub-pixel of an image, in one pass.

    x (n, C, H, W), the image as ``dequantise`` gives it (values in [-1, 1]) -> logits (n, C, levels, H, W):
    ``logits[:, c, :, r, col]`` are the unnormalised log-probabilities of the ``levels`` values of channel c
    at pixel (r, col), a function of the sub-pixels before it only (causal in the raster, R -> G -> B order).

    Layers: a 7 x 7 mask-A convolution to ``width`` channels; ``depth`` residual layers
    h <- h + MaskedConv_B,3x3(ReLU(h)); then ReLU -> 1 x 1 mask-B (width) -> ReLU -> 1 x 1 mask-B to
    C * levels logits. ``width`` must be a multiple of ``colour_channels``. No normalisation layers, so train
    and eval mode compute the same function.

    As in the original PixelCNN, stacked masked 3 x 3 convolutions leave a blind spot: pixels up and to the
    right, beyond the diagonal the receptive field grows along, are never seen (Gated PixelCNN's two stacks
    remove it). The receptive field reaches 3 + ``depth`` rows up. Neither matters much for centred 16 px
    shapes, and neither breaks exactness: a conditional that ignores part of x_<i is still a conditional.
    """

    def __init__(self, levels: int = LEVELS, width: int = 48, depth: int = 6, colour_channels: int = 3) -> None:
        super().__init__()
        levels = _levels(levels)
        width = checks.integer("width", width, 1)
        depth = checks.integer("depth", depth, 0)
        colour_channels = checks.integer("colour_channels", colour_channels, 1)
        if width % colour_channels:
            raise ValueError(f"width must be a multiple of colour_channels={colour_channels}, got {width}")
        c = colour_channels
        self.first = MaskedConv2d(c, width, 7, "A", c)
        self.layers = nn.ModuleList([MaskedConv2d(width, width, 3, "B", c) for _ in range(depth)])
        self.hidden = MaskedConv2d(width, width, 1, "B", c)
        self.out = MaskedConv2d(width, c * levels, 1, "B", c)
        self.levels, self.width, self.depth, self.colour_channels = levels, width, depth, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, C, levels, H, W) of every sub-pixel's conditional, from x (n, C, H, W) in [-1, 1]."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.colour_channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"PixelCNN takes images of shape (n, {self.colour_channels}, H, W), got {shape}")
        h = self.first(x)
        for layer in self.layers:
            h = h + layer(F.relu(h))
        logits = self.out(F.relu(self.hidden(F.relu(h))))
        n, _, height, width = logits.shape
        return logits.view(n, self.colour_channels, self.levels, height, width)


class IndependentPixels(nn.Module):
    """The baseline: every sub-pixel an independent categorical, p(x) = prod_i p_i(x_i), whatever x_<i.

    ``log_probs`` (C, levels, H, W) are the log-probabilities of each sub-pixel's values (``fit_independent``
    fits them by counts). ``forward(x)`` returns them for every image of x, (n, C, levels, H, W): the same
    interface as ``PixelCNN``, trivially causal, so ``log_likelihood``, ``bits_per_dim`` and ``sample`` take it.
    """

    def __init__(self, log_probs: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 4 or not log_probs.is_floating_point():
            shape = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs).__name__
            raise ValueError(f"log_probs must be a float tensor (C, levels, H, W), got {shape}")
        total = torch.logsumexp(log_probs.double(), dim=1)
        if not torch.allclose(total, torch.zeros_like(total), atol=1e-5):
            sums = total.exp().flatten()
            raise ValueError(f"log_probs must sum to 1 over the levels (dim 1); the worst sums to "
                             f"{sums[(sums - 1).abs().argmax()].item():.6g}")
        self.register_buffer("log_probs", log_probs.detach().clone())
        self.colour_channels, self.levels = int(log_probs.shape[0]), int(log_probs.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        return self.log_probs[None, :, :, :height, :width].expand(n, -1, -1, -1, -1)


def fit_independent(images_int: torch.Tensor, levels: int = LEVELS, *, pseudocount: float = 1.0) -> IndependentPixels:
    """The maximum-likelihood independent model of ``images_int`` (n, C, H, W), smoothed:
    p_i(v) = (count_i(v) + a) / (n + a levels), with a = ``pseudocount`` (1: Laplace's rule), so that a
    value unseen in training does not get probability 0 (infinite bits) on held-out images."""
    levels = _levels(levels)
    x = _check_images(images_int, levels)
    a = checks.positive_number("pseudocount", pseudocount)
    counts = F.one_hot(x.long(), levels).sum(dim=0, dtype=torch.float64)   # (C, H, W, levels)
    probs = (counts + a) / (len(x) + a * levels)
    return IndependentPixels(probs.log().permute(0, 3, 1, 2).to(torch.float32).contiguous())


Model = Union[PixelCNN, IndependentPixels]


def _check_model(model: object) -> Model:
    if not isinstance(model, (PixelCNN, IndependentPixels)):
        raise ValueError(f"model must be a PixelCNN or IndependentPixels, got {type(model).__name__}")
    return model


def _check_images(x: torch.Tensor, levels: int, colour_channels: int = 3, name: str = "images_int") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != colour_channels or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor (n, {colour_channels}, H, W) with n > 0, got {shape}")
    return _check_levels_tensor(name, x, levels)


def _check_size(model: Model, height: int, width: int) -> None:
    if isinstance(model, IndependentPixels) and (height, width) != tuple(model.log_probs.shape[2:]):
        raise ValueError(f"this IndependentPixels was fitted to {tuple(model.log_probs.shape[2:])} images, got "
                         f"{(height, width)}")


def _placement(model: nn.Module) -> dict:
    """The device and floating dtype of the model's weights (``to`` keywords for its input)."""
    t = next(iter(model.parameters()), None)
    if t is None:
        t = next(iter(model.buffers()))
    return {"device": t.device, "dtype": t.dtype}


def _log_likelihood(model: Model, x: torch.Tensor) -> torch.Tensor:
    """sum_i log p(x_i | x_<i) per image, float32 (float64 for a float64 model) on the model's device."""
    where = _placement(model)
    x = x.to(where["device"])
    logits = model(dequantise(x, model.levels).to(**where))
    logp = F.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=2)
    return logp.gather(2, x.long().unsqueeze(2)).squeeze(2).sum(dim=(1, 2, 3))


def log_likelihood(model: Model, x_int: torch.Tensor) -> torch.Tensor:
    """log p(x) in nats for each image of ``x_int`` (n, C, H, W, levels 0..levels-1): shape (n,).

    Exact: the sum over the D = C H W sub-pixels of log p(x_i | x_<i), each a log-softmax of the model's
    logits at x_i, from one forward pass. Differentiable (the training loss is its negative mean); returned on
    the model's device.
    """
    model = _check_model(model)
    x = _check_images(x_int, model.levels, model.colour_channels, "x_int")
    _check_size(model, x.shape[2], x.shape[3])
    return _log_likelihood(model, x)


def shapes_entropy_bits_per_dim(classes: Sequence[data.ShapeClass], size: int, levels: int = LEVELS) -> float:
    """H(x | class) / D in bits: the entropy of ``quantise``d shape images given their class, per sub-pixel,
    averaged over ``classes`` (equally many images of each, as ``data.shapes_dataset`` draws them).

    Only the noise is random (``data.shapes``): sub-pixel i of a class is u_i = round(255 clamp(c_i + e_i, 0, 1))
    with c_i its clean value and e_i ~ N(0, sigma^2) on the shape's pixels (the background is exactly white),
    and then its level round(u_i (levels - 1) / 255). The sub-pixels are independent given the class, so

        H(x | class) = sum_i H(q_i | class),   P(q_i = l) = sum over the u of level l of P(u_i = u),

    each P(u_i = u) a difference of two Gaussian CDFs. Any model's expected bits/dim on these images is at
    least H(x) / D >= H(x | class) / D (Gibbs' inequality), and H(x) / D is at most this plus log2(C) / D for C
    classes; it is the floor that a likelihood model's held-out bits/dim can approach and not pass.
    """
    if isinstance(classes, data.ShapeClass) or not isinstance(classes, Sequence) or not classes or \
            not all(isinstance(c, data.ShapeClass) for c in classes):
        raise ValueError(f"classes must be a non-empty sequence of data.ShapeClass, got {classes!r:.120}")
    size = checks.integer("size", size, 8)
    levels = _levels(levels)
    u = torch.arange(256, dtype=torch.float64)
    level_of_u = torch.round(u * (levels - 1) / 255).to(torch.int64)      # no ties: 255 (2l + 1) is odd
    edges = torch.cat([torch.tensor([-math.inf]), (u[:-1] + 0.5) / 255, torch.tensor([math.inf])])
    total = 0.0
    for cls in classes:
        mask = torch.from_numpy(data.shape_mask(cls.shape, size))
        clean = torch.tensor(cls.color, dtype=torch.float32).double()    # the float32 colour data.shapes uses
        if cls.noise == 0.0:
            continue                                                       # one image: no entropy
        # P(u = k) for each channel's clean value: Phi((edge_{k+1} - c) / sigma) - Phi((edge_k - c) / sigma)
        cdf = torch.special.ndtr((edges[None, :] - clean[:, None]) / cls.noise)
        p_u = (cdf[:, 1:] - cdf[:, :-1]).clamp_min(0.0)                   # (3, 256)
        p_q = torch.zeros(3, levels, dtype=torch.float64).index_add_(1, level_of_u, p_u)
        per_channel = -(torch.special.xlogy(p_q, p_q)).sum(dim=1) / math.log(2.0)
        total += float(per_channel.sum()) * int(mask.sum())              # every shape pixel, three channels
    return total / len(classes) / (3 * size * size)


@torch.no_grad()
def bits_per_dim(model: Model, x_int: torch.Tensor, *, batch_size: int = 256) -> float:
    """The mean over images of -log2 p(x) / D, D = C H W: the code length per sub-pixel in bits.

    log2(levels) is the uniform model's; 0 would be a model certain of every sub-pixel. Computed
    ``batch_size`` images at a time, without gradients.
    """
    model = _check_model(model)
    x = _check_images(x_int, model.levels, model.colour_channels, "x_int")
    _check_size(model, x.shape[2], x.shape[3])
    batch_size = checks.integer("batch_size", batch_size, 1)
    total = sum(float(_log_likelihood(model, x[i:i + batch_size]).double().sum())
                for i in range(0, len(x), batch_size))
    return -total / (len(x) * x[0].numel() * math.log(2.0))


@torch.no_grad()
def sample(model: Model, n: int, size: int, *, seed: int) -> torch.Tensor:
    """``n`` images (n, C, size, size) of levels (int64, CPU), drawn exactly from the model's p(x).

    Ancestral sampling in the factorisation's order: for each pixel in raster order and each channel
    R -> G -> B, one forward pass gives p(x_i | x_<i) and x_i is drawn from it (``torch.multinomial`` with one
    CPU generator seeded ``seed``), so sampling costs D = C size^2 passes. The pass for a pixel of row r runs
    on rows 0..r only: by causality the rows below change nothing there. Same seed, same images.
    """
    model = _check_model(model)
    n = checks.integer("n", n, 1)
    size = checks.integer("size", size, 1)
    seed = checks.seed("seed", seed)
    _check_size(model, size, size)
    g = settings.rng(seed)
    where, c = _placement(model), model.colour_channels
    x = torch.zeros(n, c, size, size, dtype=torch.int64)
    was_training = model.training
    model.eval()
    try:
        for r in range(size):
            for col in range(size):
                for ch in range(c):
                    logits = model(dequantise(x[:, :, :r + 1], model.levels).to(**where))[:, ch, :, r, col]
                    probs = torch.softmax(logits.double().cpu(), dim=1)
                    x[:, ch, r, col] = torch.multinomial(probs, 1, generator=g).squeeze(1)
    finally:
        model.train(was_training)
    return x


# ---- maximum-likelihood training ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PixelCNNResult:
    """The trained ``model`` (eval mode) and its ``history``: lists, one entry per log, ``step`` and
    ``bits_per_dim`` (the mean training-batch bits/dim over the steps since the previous log), ``seconds``
    (training time so far)."""

    model: PixelCNN
    history: dict = field(default_factory=dict)


def train_pixelcnn(images_int: torch.Tensor, *, levels: int = LEVELS, width: int = 48, depth: int = 6,
                   steps: int = 400, batch_size: int = 32, lr: float = 2e-3, seed: int = 0, log_every: int = 50,
                   progress: bool = False, device: "str | torch.device | None" = None) -> PixelCNNResult:
    """Fit a ``PixelCNN(levels, width, depth)`` to ``images_int`` (n, 3, H, W, levels 0..levels-1) by maximum
    likelihood: ``steps`` Adam steps (lr ``lr``, betas (0.9, 0.999)) on the mean bits/dim of a batch,

        loss = -1 / (B D log 2) sum_{b=1..B} log p(x_b),

    the batch of ``batch_size`` images drawn with replacement by indices from one CPU generator
    (``settings.stream(seed, "train")``); the initial weights come from ``seed`` too (the global random state
    is left as it was), so on the CPU one seed gives bit-identical weights. Logs every ``log_every`` steps and
    at the last. A NaN or Inf loss raises ``loop.TrainingDiverged`` holding the result so far.
    """
    levels = _levels(levels)
    x = _check_images(images_int, levels)
    width = checks.integer("width", width, 1)
    depth = checks.integer("depth", depth, 0)
    steps = checks.integer("steps", steps, 1)
    batch_size = checks.integer("batch_size", batch_size, 1)
    lr = checks.positive_number("lr", lr)
    seed = checks.seed("seed", seed)
    log_every = checks.integer("log_every", log_every, 1)
    progress = checks.boolean("progress", progress)
    if width % 3:
        raise ValueError(f"width must be a multiple of 3 (the colour channels), got {width}")
    dev = resolve_device(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.shifted_seed(seed))
        model = PixelCNN(levels, width, depth)
    model = model.to(dev).train()
    opt = optimizer("adam", model.parameters(), lr, (0.9, 0.999))
    g = settings.stream(seed, "train")
    x = x.to(torch.int64)
    dims = x[0].numel() * math.log(2.0)
    history: dict = {"step": [], "bits_per_dim": [], "seconds": []}
    result = PixelCNNResult(model, history)
    running, since, start = 0.0, 0, time.perf_counter()
    for step in tqdm(range(1, steps + 1), disable=not progress, desc="PixelCNN"):
        idx = torch.randint(len(x), (batch_size,), generator=g)
        loss = -_log_likelihood(model, x[idx]).mean() / dims
        if not torch.isfinite(loss):
            model.eval()
            raise TrainingDiverged(f"PixelCNN training diverged at step {step}: loss {loss.item()}", result)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running, since = running + loss.item(), since + 1
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["bits_per_dim"].append(running / since)
            history["seconds"].append(time.perf_counter() - start)
            running, since = 0.0, 0
    model.eval()
    return result
