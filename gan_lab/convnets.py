"""Convolutional generator G(z) and critic f(x) for the image chapters (WGAN-GP on images).

Two families, one resolution ladder. Both start or end at a 4 x 4 (DCGAN) or 8 x 8 (ResNet) feature map
and double or halve the resolution once per block, so ``size`` = 16, 32 or 64 takes 2, 3 or 4 steps:

- ``"dcgan"`` (Radford et al., 2016, as used for WGAN-GP's DCGAN baseline). G: z -> Linear -> 4 x 4 x C,
  then [ConvTranspose 4x4 stride 2 -> BatchNorm -> ReLU] halving the channels at each doubling, the last
  one to 3 channels and tanh. f: the mirror image, [Conv 4x4 stride 2 -> LeakyReLU(0.2)] doubling the
  channels at each halving, then Linear to one score.
- ``"resnet"`` (the WGAN-GP paper's image models, He et al.'s pre-activation blocks). G: z -> Linear ->
  4 x 4 x width, residual blocks [BN -> ReLU -> upsample -> Conv3x3 -> BN -> ReLU -> Conv3x3] + a 1x1
  shortcut, then BN -> ReLU -> Conv3x3 -> tanh. f: residual blocks with mean-pool downsampling down to
  8 x 8, two more blocks at 8 x 8, ReLU, global mean over positions, Linear to one score.

The critic has *no BatchNorm*: the gradient penalty E[(||grad f(x_hat)||_2 - 1)^2] constrains f sample by
sample, and batch statistics would make f(x_hat_i) depend on the other samples. ``norm="layer"`` puts a
per-sample layer norm (GroupNorm with one group, over C x H x W) where BatchNorm would go;
``norm="spectral"`` divides every weight W of the critic by sigma(W), its largest singular value (SN-GAN,
Miyato et al. 2018). Everything is built from standard modules (and ``nets.ReLU`` / ``LeakyReLU``, the same
functions with a cheaper double backward), so the penalty's double backward works.

The WGAN paper's robustness experiment (Arjovsky et al. 2017, Sec. 4.3) takes away what makes a DCGAN
generator easy to train: ``Generator(..., batch_norm=False, constant_width=True)`` has no normalisation
layer and ``width`` channels in every block, and ``MLPGenerator`` is a plain ReLU MLP. ``generator_for``
builds each generator the book trains by its name in ``GENERATORS``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from . import checks
from .nets import MLP, ReLU
from .style import StyleGenerator

__all__ = ["Generator", "MLPGenerator", "Critic", "LeakyReLU", "generator_for", "SIZES", "KINDS", "NORMS",
           "GENERATORS"]

SIZES = (16, 32, 64)
KINDS = ("dcgan", "resnet")
NORMS = ("none", "layer", "spectral")
GENERATORS = ("dcgan", "resnet", "dcgan-no-bn-constant-width", "mlp", "style")   # the names ``generator_for`` builds


def _check(noise_dim: "int | None", size: int, width: int, kind: str, norm: str = "none") -> tuple:
    """(noise_dim, width) as ints, once every argument is checked (noise_dim None: a critic has none)."""
    if noise_dim is not None:
        noise_dim = checks.integer("noise_dim", noise_dim, 1)
    width = checks.integer("width", width, 1)
    if type(size) is not int or size not in SIZES:      # exactly an int: 32.0 or a NumPy 32 is refused
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    checks.choice("kind", kind, KINDS)
    checks.choice("critic norm", norm, NORMS)
    return noise_dim, width


class _LeakyReLUFunction(torch.autograd.Function):
    """LeakyReLU whose backward, when itself differentiated, stays off the forward graph (as ``nets.ReLU``).

    The input gradient grad * (1 if x > 0 else slope) depends on x only through a piecewise-constant mask,
    so its derivative with respect to x is 0. ``nn.LeakyReLU`` still sends a tensor of zeros back through
    the forward pass when the gradient penalty differentiates ||grad_x f(x)||; this version skips that work
    (about 20% off a DCGAN critic step with the penalty) and gives the same numbers bit for bit.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return F.leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return torch.ops.aten.leaky_relu_backward(grad, x.detach(), ctx.slope, False), None


class LeakyReLU(nn.Module):
    """max(x, slope * x), numerically identical to ``nn.LeakyReLU``; cheaper under double backward."""

    def __init__(self, slope: float = 0.2) -> None:
        super().__init__()
        self.slope = float(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LeakyReLUFunction.apply(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


def _layer_norm(channels: int) -> nn.Module:
    """Layer norm of a conv feature map: mean and variance over (C, H, W) of each sample, per-channel affine."""
    return nn.GroupNorm(1, channels)


# ---- residual blocks ------------------------------------------------------------------------------------

class UpBlock(nn.Module):
    """x -> x_up + F(x): F = BN -> ReLU -> upsample x2 -> Conv3x3 -> BN -> ReLU -> Conv3x3, shortcut
    upsample x2 -> Conv1x1 (nearest-neighbour upsampling). ``batch_norm=False`` leaves out both BNs."""

    def __init__(self, c_in: int, c_out: int, *, batch_norm: bool = True) -> None:
        super().__init__()

        def bn(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if batch_norm else nn.Identity()

        self.bn1, self.conv1 = bn(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn2, self.conv2 = bn(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest")) + h


class DownBlock(nn.Module):
    """x -> s(x) + F(x) for the critic: F = [norm] -> ReLU -> Conv3x3 -> [norm] -> ReLU -> Conv3x3
    [-> mean-pool 2x2], s = Conv1x1 [-> mean-pool] (identity when nothing changes).

    ``first=True`` is the block that sees the image: no activation before its first conv (the input is
    pixels, not features) and the shortcut pools before its 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, *, down: bool, first: bool = False, norm: str = "none") -> None:
        super().__init__()
        self.down, self.first = down, first
        self.norm1 = _layer_norm(c_in) if norm == "layer" and not first else nn.Identity()
        self.norm2 = _layer_norm(c_out) if norm == "layer" else nn.Identity()
        self.act1, self.act2 = (nn.Identity() if first else ReLU()), ReLU()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act1(self.norm1(x)))
        h = self.conv2(self.act2(self.norm2(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
            s = self.shortcut(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.shortcut(x), 2)
        else:
            s = self.shortcut(x)
        return s + h


# ---- the two players ------------------------------------------------------------------------------------

class Generator(nn.Module):
    """G: z in R^noise_dim -> an image in [-1, 1]^(3 x size x size), through tanh.

    ``dcgan``: Linear -> 4 x 4 x (width * 2^(k-1)) -> BN -> ReLU, then k = log2(size / 4) transposed
    convolutions (4x4, stride 2) each doubling the resolution and halving the channels (BN -> ReLU between),
    the last to 3 channels. ``resnet``: Linear -> 4 x 4 x width, k residual ``UpBlock``s of ``width``
    channels, BN -> ReLU -> Conv3x3 to 3 channels.

    ``batch_norm=False`` leaves out every normalisation layer (each BN -> ReLU becomes ReLU), the WGAN paper's
    generator without batch norm (Arjovsky et al. 2017, Sec. 4.3). ``constant_width=True`` gives the ``dcgan``
    generator ``width`` channels in every block instead of halving from width * 2^(k-1): the paper's
    constant number of filters in every layer (its released code's no-BN generator still halves them, which
    is ``batch_norm=False`` alone). The ``resnet`` generator already has ``width`` channels
    throughout, so ``constant_width`` changes nothing there. Leaving out BN draws no fewer random numbers
    (BN starts at scale 1, shift 0): a seeded build has the same conv and linear weights with or without it.
    """

    def __init__(self, noise_dim: int = 128, size: int = 32, width: int = 64, kind: str = "dcgan", *,
                 batch_norm: bool = True, constant_width: bool = False) -> None:
        super().__init__()
        noise_dim, width = _check(noise_dim, size, width, kind)
        checks.boolean("batch_norm", batch_norm)
        checks.boolean("constant_width", constant_width)
        self.noise_dim, self.size, self.width, self.kind = noise_dim, size, width, kind
        self.batch_norm, self.constant_width = batch_norm, constant_width
        k = int(math.log2(size // 4))                       # number of doublings from 4 x 4
        doubling = kind == "dcgan" and not constant_width
        c = self.stem_channels = width * 2 ** (k - 1) if doubling else width
        if kind == "dcgan":
            stem: list[nn.Module] = [nn.Linear(noise_dim, 4 * 4 * c)]
            if batch_norm:
                stem.append(nn.BatchNorm1d(4 * 4 * c))
            self.stem = nn.Sequential(*stem, nn.ReLU())
            layers: list[nn.Module] = []
            for i in range(k):
                c_out = 3 if i == k - 1 else (c // 2 if doubling else c)
                layers.append(nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1))
                if i < k - 1:
                    if batch_norm:
                        layers.append(nn.BatchNorm2d(c_out))
                    layers.append(nn.ReLU())
                c = c_out
            self.body = nn.Sequential(*layers)
        else:
            self.stem = nn.Sequential(nn.Linear(noise_dim, 4 * 4 * c))
            head: list[nn.Module] = [nn.BatchNorm2d(c)] if batch_norm else []
            self.body = nn.Sequential(*[UpBlock(c, c, batch_norm=batch_norm) for _ in range(k)],
                                      *head, nn.ReLU(), nn.Conv2d(c, 3, 3, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.noise_dim:
            raise ValueError(f"Generator takes noise of shape (n, {self.noise_dim}), got {tuple(z.shape)}")
        h = self.stem(z).view(len(z), self.stem_channels, 4, 4)
        return torch.tanh(self.body(h))


class MLPGenerator(nn.Module):
    """G: z in R^noise_dim -> tanh(MLP(z)) reshaped to an image in [-1, 1]^(3 x size x size).

    The MLP has ``depth`` hidden layers of ``width`` ReLU units and a linear output of 3 size^2 pixels
    (``nets.MLP``): no convolution, no normalisation. The defaults are the WGAN paper's MLP generator, 4
    layers of 512 ReLU units (Arjovsky et al. 2017, Sec. 4.3), read as 4 hidden layers; the authors'
    released code has 3 hidden ReLU layers before its output layer (4 linear layers in all), which is
    ``depth=3``, and no tanh. The tanh here keeps G(z) in the data's range [-1, 1]. Parameter count, for
    depth >= 1: noise_dim w + w + (depth - 1)(w^2 + w) + (w + 1) 3 size^2 with w = ``width``.
    """

    def __init__(self, noise_dim: int = 128, size: int = 32, *, width: int = 512, depth: int = 4) -> None:
        super().__init__()
        noise_dim, width = _check(noise_dim, size, width, "dcgan")
        depth = checks.integer("depth", depth, 1)
        self.noise_dim, self.size, self.width, self.depth = noise_dim, size, width, depth
        self.mlp = MLP(noise_dim, 3 * size * size, width=width, depth=depth, activation="relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.noise_dim:
            raise ValueError(f"MLPGenerator takes noise of shape (n, {self.noise_dim}), got {tuple(z.shape)}")
        return torch.tanh(self.mlp(z)).view(len(z), 3, self.size, self.size)


def generator_for(name: str, noise_dim: int = 128, size: int = 32, width: int = 64) -> nn.Module:
    """The generator the book calls ``name`` (one of ``GENERATORS``), for noise_dim-dimensional z and
    3 x size x size images.

    - ``"dcgan"``, ``"resnet"``: ``Generator(noise_dim, size, width, name)``, with batch norm;
    - ``"dcgan-no-bn-constant-width"``: the WGAN paper's robustness generator, ``Generator(noise_dim, size,
      width, "dcgan", batch_norm=False, constant_width=True)`` (Arjovsky et al. 2017, Sec. 4.3);
    - ``"mlp"``: ``MLPGenerator(noise_dim, size)``, the paper's 4 x 512 ReLU MLP. ``width`` counts
      convolution channels and does not apply to it (its hidden layers have 512 units);
    - ``"style"``: ``style.StyleGenerator(noise_dim, size=size, width=width)``, the style-based generator
      (Karras et al. 2019: mapping network, AdaIN, noise inputs).
    """
    checks.choice("generator", name, GENERATORS)
    if name == "style":
        return StyleGenerator(noise_dim, size=size, width=width)
    if name == "mlp":
        _check(noise_dim, size, width, "dcgan")
        return MLPGenerator(noise_dim, size)
    if name == "dcgan-no-bn-constant-width":
        return Generator(noise_dim, size, width, "dcgan", batch_norm=False, constant_width=True)
    return Generator(noise_dim, size, width, name)


class Critic(nn.Module):
    """f: an image (3 x size x size) -> a real score; ``forward`` maps (n, 3, size, size) to (n,).

    ``dcgan``: k = log2(size / 4) convolutions (4x4, stride 2), width, 2 width, 4 width, ... channels, each
    halving the resolution, LeakyReLU(0.2) between, then Linear(4 x 4 x C -> 1). ``resnet``: residual
    ``DownBlock``s of ``width`` channels with mean-pool downsampling to 8 x 8, two more at 8 x 8, ReLU,
    mean over positions, Linear(width -> 1). No BatchNorm; ``norm="layer"`` adds per-sample layer norms.
    ``features(x)`` is the head's input phi(x), of ``num_features`` dimensions: f(x) = head(phi(x)).

    ``norm="spectral"``: every convolution and linear layer (shortcuts and head included) multiplies by
    W / sigma(W), sigma(W) the largest singular value of the kernel as an (out, in kh kw) matrix, estimated by
    one power-iteration step per training-mode forward pass with a vector u kept between passes (Miyato et
    al. 2018; ``torch.nn.utils.parametrizations.spectral_norm``). The parameter the optimiser updates is
    ``layer.parametrizations.weight.original`` (W); ``layer.weight`` is W / sigma. A seeded build draws the
    same W as ``norm="none"`` and leaves torch's global generator where ``norm="none"`` leaves it: u's start
    is drawn on a forked copy of that generator. sigma(W) bounds the matrix, not the convolution operator's
    norm, so f is only roughly 1-Lipschitz (as in the paper). An eval-mode pass reuses the stored u.
    """

    def __init__(self, size: int = 32, width: int = 64, kind: str = "dcgan", norm: str = "none") -> None:
        super().__init__()
        _, width = _check(None, size, width, kind, norm)
        self.size, self.width, self.kind, self.norm = size, width, kind, norm
        if kind == "dcgan":
            k = int(math.log2(size // 4))
            layers: list[nn.Module] = []
            c_in, c = 3, width
            for i in range(k):
                layers.append(nn.Conv2d(c_in, c, 4, stride=2, padding=1))
                if norm == "layer" and i > 0:               # DCGAN leaves the first layer unnormalised
                    layers.append(_layer_norm(c))
                layers.append(LeakyReLU(0.2))
                c_in, c = c, 2 * c
            self.body = nn.Sequential(*layers, nn.Flatten())
            self.num_features = 4 * 4 * c_in
            self.head = nn.Linear(self.num_features, 1)
        else:
            n_down = int(math.log2(size // 8))               # to 8 x 8
            blocks = [DownBlock(3, width, down=True, first=True, norm=norm)]
            blocks += [DownBlock(width, width, down=True, norm=norm) for _ in range(n_down - 1)]
            blocks += [DownBlock(width, width, down=False, norm=norm) for _ in range(2)]
            self.body = nn.Sequential(*blocks, ReLU())
            self.num_features = width
            self.head = nn.Linear(width, 1)
        if norm == "spectral":
            _spectrally_normalise(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), the input of the linear head: (n, ``num_features``), the flattened 4 x 4 x C map (``dcgan``)
        or the mean over positions of the last block (``resnet``). f(x) = head(phi(x)); the projection
        critic of ``gan_lab.conditional`` adds <e(y), phi(x)>."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.size, self.size):
            raise ValueError(f"Critic takes images of shape (n, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        h = self.body(x)
        if self.kind == "resnet":
            h = h.mean(dim=(2, 3))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1)


def _spectrally_normalise(net: nn.Module) -> None:
    """Puts torch's spectral-norm parametrisation W -> W / sigma(W) on every Conv2d and Linear of ``net``.

    Each one draws its power iteration's start vector u from torch's global generator; forking it first
    keeps every later draw (the next network's weights, a loop's noise) where it was without the norm."""
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.random.fork_rng(devices=[]):
        for layer in layers:
            nn.utils.parametrizations.spectral_norm(layer)
