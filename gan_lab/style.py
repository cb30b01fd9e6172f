"""A style-based generator (StyleGAN's core: a mapping network and AdaIN), for chapter 9.

Read next to Karras, Laine & Aila (2019), "A Style-Based Generator Architecture for GANs":

1. **Mapping network** f: z -> w. z is first put on the sphere of radius sqrt(d), z / sqrt(mean_j z_j^2)
   (the paper's "pixel norm" of the input), then ``depth`` Linear -> LeakyReLU(0.2) layers give
   w in R^style_dim. w lives in a learned space W whose shape need not follow the Gaussian's.
2. **Synthesis network** g: it starts from a *learned constant* c in R^(C x 4 x 4), not from z. Each
   synthesis layer l does [upsample x2] -> [Conv3x3] -> x + b_l * noise -> LeakyReLU(0.2) -> AdaIN(., y_l),
   two layers per resolution (4 x 4: the constant, then a conv), so n_styles = 2 (log2(size) - 1) layers
   take a style: 6, 8, 10 at 16, 32, 64 px.
3. **Styles**: y_l = (y_s, y_b) = A_l w, a learned affine map per layer, y_s starting at 1 and y_b at 0.
   ``adain`` normalises every feature map of every sample and gives it the style's scale and shift:
   AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i.
   Since AdaIN throws away each map's own mean and variance, a style acts on one layer only: the next
   layer's AdaIN overwrites those statistics again. That is what makes **style mixing** meaningful:
   w1 for layers < k and w2 for the rest (``style_mixing``) takes coarse attributes (layout, shape) from
   one latent and fine ones (colour, texture) from the other, where k falls between them.
4. **Noise**: per-pixel Gaussian noise, one map (n, 1, H, W) per layer shared by the channels and scaled by a
   learned per-channel weight b_l (starting at 0), gives stochastic detail that w need not encode.
5. **Output**: a 1 x 1 convolution to RGB and tanh, so G(z) is in [-1, 1]^(3 x size x size).

Randomness. ``noise="random"`` draws fresh maps from ``rng`` if given, else from the generator's own
``torch.Generator`` (seeded at construction, its state part of ``state_dict()`` so that a checkpoint resumes
the same draws); ``"const"`` uses fixed maps drawn at construction (buffers); ``"none"`` adds no noise. By
default a network in training mode uses ``"random"`` and in eval mode ``"const"``, so ``G.eval()(z)`` is a
function of z and a snapshot never advances the training draws. In training mode the generator also does
the paper's *mixing regularisation*: with probability ``mixing_prob`` a sample's layers from a random
crossover on take the style of a second random z (the paper uses 0.9), which keeps neighbouring layers'
styles from depending on each other.

Left out from the paper: the progressive growing, the equalised learning rate and the mapping network's
100x lower learning rate, the blur after upsampling (bilinear upsampling stands in for it) and the
truncation trick. ``StyleGenerator(noise_dim, size, width)`` takes the arguments of ``convnets.Generator``,
so ``images.train_images`` can train it as it trains the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn
import torch.nn.functional as F

from . import checks

__all__ = ["adain", "MappingNetwork", "StyleLayer", "StyleGenerator", "style_mixing", "mixing_attribute_transfer",
           "MixingTransfer", "NOISE_MODES", "SIZES"]

SIZES = (16, 32, 64)
NOISE_MODES = ("random", "const", "none")
_SLOPE = 0.2                 # LeakyReLU's slope everywhere, as in the paper


def _float_tensor(name: str, value, dim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() != dim:
        got = f"a {value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) \
            else type(value).__name__
        raise ValueError(f"{name} must be a {dim}-D floating-point tensor, got {got}")
    return value


# ---- AdaIN ------------------------------------------------------------------------------------------------

def adain(x: torch.Tensor, style_scale: torch.Tensor, style_bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: AdaIN(x, y)_{i,c} = y_s,ic (x_ic - mu_ic) / sigma_ic + y_b,ic.

    x has shape (n, C, H, W); mu_ic = mean_hw x_ic,hw and sigma_ic = sqrt(mean_hw (x_ic,hw - mu_ic)^2 + eps) are
    taken per sample i and per channel c over the H x W positions (the biased variance, as instance norm);
    ``style_scale`` y_s and ``style_bias`` y_b have shape (n, C). Each output map therefore has mean y_b,ic
    and standard deviation |y_s,ic| sqrt(var / (var + eps)), i.e. |y_s,ic| up to eps: the map's own first two
    moments are gone and the style's are in their place. A constant map (var = 0) becomes y_b.
    The statistics are computed in float32 (or float64 for float64 input); the result has x's dtype.
    """
    _float_tensor("x", x, 4)
    _float_tensor("style_scale", style_scale, 2)
    _float_tensor("style_bias", style_bias, 2)
    n, c = x.shape[:2]
    for name, y in (("style_scale", style_scale), ("style_bias", style_bias)):
        if tuple(y.shape) != (n, c):
            raise ValueError(f"{name} must have shape (n, C) = {(n, c)} for x of shape {tuple(x.shape)}, "
                             f"got {tuple(y.shape)}")
    eps = checks.positive_number("eps", eps)
    h = x if x.dtype == torch.float64 else x.float()
    mu = h.mean(dim=(2, 3), keepdim=True)
    var = h.var(dim=(2, 3), keepdim=True, unbiased=False)
    normalised = (h - mu) * torch.rsqrt(var + eps)
    out = style_scale.to(h.dtype)[:, :, None, None] * normalised + style_bias.to(h.dtype)[:, :, None, None]
    return out.to(x.dtype)


# ---- mapping network --------------------------------------------------------------------------------------

class MappingNetwork(nn.Module):
    """f: z -> w. z_hat = z / sqrt(mean_j z_j^2 + 1e-8) (z on the sphere of radius sqrt(noise_dim)), then
    ``depth`` layers w <- LeakyReLU_0.2(W_l w + b_l), the first from noise_dim, all to ``style_dim`` units
    (the paper: depth 8, 512 units; the default here is smaller for 32 px shapes)."""

    def __init__(self, noise_dim: int = 128, style_dim: int = 128, depth: int = 4) -> None:
        super().__init__()
        self.noise_dim = checks.integer("noise_dim", noise_dim, 1)
        self.style_dim = checks.integer("style_dim", style_dim, 1)
        self.depth = checks.integer("depth", depth, 1)
        layers: list[nn.Module] = []
        for i in range(self.depth):
            layers += [nn.Linear(self.noise_dim if i == 0 else self.style_dim, self.style_dim),
                       nn.LeakyReLU(_SLOPE)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.noise_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"MappingNetwork takes z of shape (n, {self.noise_dim}), got {got}")
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.net(z)


# ---- one synthesis layer ----------------------------------------------------------------------------------

class StyleLayer(nn.Module):
    """x -> [upsample x2 (bilinear)] -> [Conv3x3] -> x + b * noise -> LeakyReLU(0.2) -> AdaIN(., A w).

    ``noise`` is a map (n, 1, H, W) shared by the channels, b a learned per-channel weight (starting at 0),
    or None for none. A w = (y_s, y_b) is a Linear(style_dim -> 2 C) whose bias starts at (1, 0), so at
    initialisation the style scales by about 1 and shifts by about 0. ``conv=False`` (the first layer, on the
    learned constant) has no convolution; ``up=True`` upsamples first. The fixed noise map used by
    ``noise="const"`` is the buffer ``noise_const`` (1, 1, resolution, resolution)."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, resolution: int, *, conv: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        if not conv and (up or c_in != c_out):
            raise ValueError("a StyleLayer without a convolution can neither upsample nor change the channels")
        self.channels, self.resolution, self.up = c_out, resolution, up
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1) if conv else None
        self.noise_weight = nn.Parameter(torch.zeros(c_out))
        self.affine = nn.Linear(style_dim, 2 * c_out)
        with torch.no_grad():
            self.affine.bias[:c_out].fill_(1.0)
            self.affine.bias[c_out:].zero_()
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Optional[torch.Tensor]) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.conv is not None:
            x = self.conv(x)
        if noise is not None:
            x = x + self.noise_weight.view(1, -1, 1, 1) * noise.to(x.dtype)
        x = F.leaky_relu(x, _SLOPE)
        scale, bias = self.affine(w).chunk(2, dim=1)
        return adain(x, scale, bias)


# ---- the generator ----------------------------------------------------------------------------------------

class StyleGenerator(nn.Module):
    """G(z) = tanh(toRGB(g(c; A_1 f(z), ..., A_L f(z); noise))): z in R^noise_dim -> an image in [-1, 1]^(3 x
    size x size), with L = ``n_styles`` = 2 (log2(size) - 1) styled layers, ``width`` channels in every one.

    Keyword arguments: ``style_dim`` (w's dimension), ``mapping_depth`` (the mapping network's layers),
    ``mixing_prob`` (the probability that a training-mode sample gets a second style from a random crossover
    on, 0 to turn mixing regularisation off) and ``noise_seed`` (seeds the generator's own noise stream;
    None draws it from torch's global generator, so a build after ``torch.manual_seed`` is reproducible).

    ``forward(z, *, styles=None, noise=None, rng=None)``: give z (n, noise_dim), or ``styles`` (n, n_styles,
    style_dim), one w per layer (then z must be None; no mixing regularisation). ``noise``: one of
    ``NOISE_MODES`` or None (training mode: ``"random"``; eval mode: ``"const"``). ``rng``: a torch.Generator
    for this call's random draws (the mixing draws, then the noise maps, layer by layer) instead of the
    network's own stream. ``layer_resolutions[l]`` is the resolution at which layer l's style acts.
    """

    def __init__(self, noise_dim: int = 128, size: int = 32, width: int = 64, *, style_dim: int = 128,
                 mapping_depth: int = 4, mixing_prob: float = 0.9, noise_seed: Optional[int] = None) -> None:
        super().__init__()
        noise_dim = checks.integer("noise_dim", noise_dim, 1)
        if type(size) is not int or size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        width = checks.integer("width", width, 1)
        style_dim = checks.integer("style_dim", style_dim, 1)
        mapping_depth = checks.integer("mapping_depth", mapping_depth, 1)
        mixing_prob = checks.number_at_least("mixing_prob", mixing_prob, 0.0)
        if mixing_prob > 1:
            raise ValueError(f"mixing_prob must be a probability in [0, 1], got {mixing_prob!r}")
        if noise_seed is not None:
            noise_seed = checks.seed("noise_seed", noise_seed)
        self.noise_dim, self.size, self.width, self.style_dim = noise_dim, size, width, style_dim
        self.mixing_prob = mixing_prob
        self.mapping = MappingNetwork(noise_dim, style_dim, mapping_depth)
        self.const = nn.Parameter(torch.randn(1, width, 4, 4))
        layers = [StyleLayer(width, width, style_dim, 4, conv=False), StyleLayer(width, width, style_dim, 4)]
        resolution = 4
        while resolution < size:
            resolution *= 2
            layers += [StyleLayer(width, width, style_dim, resolution, up=True),
                       StyleLayer(width, width, style_dim, resolution)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.Conv2d(width, 3, 1)
        self.n_styles = len(layers)
        self.layer_resolutions = tuple(layer.resolution for layer in layers)
        if noise_seed is None:
            noise_seed = int(torch.randint(0, 2**62, (1,)).item())
        self.noise_seed = noise_seed
        self._stream = torch.Generator().manual_seed(noise_seed)

    # the noise stream's state travels with the weights, so a checkpointed run resumes the same draws
    def get_extra_state(self) -> dict:
        return {"noise_stream": self._stream.get_state()}

    def set_extra_state(self, state: dict) -> None:
        self._stream.set_state(state["noise_stream"])

    def styles(self, z: torch.Tensor) -> torch.Tensor:
        """The per-layer styles of z without mixing: w = f(z) repeated, shape (n, n_styles, style_dim)."""
        return self.mapping(z).unsqueeze(1).expand(-1, self.n_styles, -1)

    def _mixed_styles(self, z: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Mixing regularisation: sample i mixes with prob p; its layers >= k_i ~ U{1..L-1} take f(z2_i)."""
        n, L = len(z), self.n_styles
        mixes = torch.rand(n, generator=rng, device=rng.device) < self.mixing_prob
        crossover = torch.randint(1, L, (n,), generator=rng, device=rng.device)
        z2 = torch.randn(n, self.noise_dim, generator=rng, device=rng.device).to(z.device, z.dtype)
        w1, w2 = self.mapping(torch.cat([z, z2])).chunk(2)
        second = (torch.arange(L, device=rng.device)[None, :] >= crossover[:, None]) & mixes[:, None]
        return torch.where(second.to(z.device)[:, :, None], w2[:, None, :], w1[:, None, :])

    def forward(self, z: Optional[torch.Tensor] = None, *, styles: Optional[torch.Tensor] = None,
                noise: Optional[str] = None, rng: Optional[torch.Generator] = None) -> torch.Tensor:
        if (z is None) == (styles is None):
            raise ValueError("StyleGenerator takes either z or styles (per-layer w's), exactly one of them")
        if noise is None:
            noise = "random" if self.training else "const"
        checks.choice("noise", noise, NOISE_MODES)
        if rng is not None and not isinstance(rng, torch.Generator):
            raise ValueError(f"rng must be a torch.Generator or None, got {type(rng).__name__}")
        stream = self._stream if rng is None else rng
        if z is not None:
            if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.noise_dim:
                got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise ValueError(f"StyleGenerator takes noise of shape (n, {self.noise_dim}), got {got}")
            ws = self._mixed_styles(z, stream) if self.training and self.mixing_prob > 0 else self.styles(z)
        else:
            if not isinstance(styles, torch.Tensor) or styles.dim() != 3 \
                    or tuple(styles.shape[1:]) != (self.n_styles, self.style_dim):
                got = tuple(styles.shape) if isinstance(styles, torch.Tensor) else type(styles).__name__
                raise ValueError(f"styles must have shape (n, n_styles, style_dim) = (n, {self.n_styles}, "
                                 f"{self.style_dim}), got {got}")
            ws = styles
        n = len(ws)
        x = self.const.expand(n, -1, -1, -1)
        for l, layer in enumerate(self.layers):
            if noise == "random":
                r = layer.resolution
                maps = torch.randn(n, 1, r, r, generator=stream, device=stream.device).to(x.device)
            elif noise == "const":
                maps = layer.noise_const
            else:
                maps = None
            x = layer(x, ws[:, l], maps)
        return torch.tanh(self.to_rgb(x))

    def mix(self, z1: torch.Tensor, z2: torch.Tensor, crossover: int, **kwargs) -> torch.Tensor:
        """``style_mixing(self, z1, z2, crossover, **kwargs)``."""
        return style_mixing(self, z1, z2, crossover, **kwargs)

    def extra_repr(self) -> str:
        return (f"noise_dim={self.noise_dim}, size={self.size}, width={self.width}, style_dim={self.style_dim}, "
                f"n_styles={self.n_styles}, mixing_prob={self.mixing_prob}")


# ---- style mixing -----------------------------------------------------------------------------------------

def _check_generator(generator) -> StyleGenerator:
    if not isinstance(generator, StyleGenerator):
        raise ValueError(f"generator must be a StyleGenerator, got {type(generator).__name__}")
    return generator


def style_mixing(generator: StyleGenerator, z1: torch.Tensor, z2: torch.Tensor, crossover_layer: int, *,
                 noise: Optional[str] = None, rng: Optional[torch.Generator] = None) -> torch.Tensor:
    """g(w_1, ..., w_L) with w_l = f(z1) for l < k and f(z2) for l >= k, k = ``crossover_layer``.

    k = 0 is G(z2), k = n_styles is G(z1) (with the same noise); k between takes the coarse layers' styles
    (low resolutions, ``generator.layer_resolutions``) from z1 and the fine ones from z2. z1 and z2 have shape
    (n, noise_dim); ``noise`` and ``rng`` as in ``StyleGenerator.forward``.
    """
    G = _check_generator(generator)
    k = checks.integer("crossover_layer", crossover_layer, 0)
    if k > G.n_styles:
        raise ValueError(f"crossover_layer must be in [0, n_styles] = [0, {G.n_styles}], got {crossover_layer!r}")
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != G.noise_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"{name} must have shape (n, {G.noise_dim}), got {got}")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    w1, w2 = G.styles(z1), G.styles(z2)
    first = (torch.arange(G.n_styles, device=w1.device) < k)[None, :, None]
    return G(styles=torch.where(first, w1, w2), noise=noise, rng=rng)


@dataclass(frozen=True)
class MixingTransfer:
    """Which source an attribute of the mixed images follows, per crossover layer k.

    ``follows_first[j]``: the fraction of pairs whose mix at ``crossovers[j]`` is strictly nearer (in the
    attribute) to G(z1) than to G(z2); ``follows_second[j]`` the other way; ties count for neither. Only pairs
    whose two sources differ in the attribute (distance > ``tol``) count; ``pairs`` says how many did.
    """

    crossovers: tuple
    follows_first: torch.Tensor
    follows_second: torch.Tensor
    pairs: int


@torch.no_grad()
def mixing_attribute_transfer(generator: StyleGenerator, z1: torch.Tensor, z2: torch.Tensor,
                              attribute: Callable[[torch.Tensor], torch.Tensor], *,
                              crossovers: Optional[tuple] = None, noise: str = "const",
                              tol: float = 1e-6) -> MixingTransfer:
    """For each crossover k, how often attribute(mix_k) is nearer to attribute(G(z1)) than to attribute(G(z2)).

    a = ``attribute`` maps images (n, 3, size, size) to (n,) or (n, d) values (a class index, one-hot
    scores, a mean colour, a noise level); distances are Euclidean. With m_k = ``style_mixing(G, z1, z2, k)``:
    follows_first(k) = mean_i 1[|a(m_k,i) - a(x1_i)| < |a(m_k,i) - a(x2_i)|] over the pairs with
    |a(x1_i) - a(x2_i)| > tol, and follows_second(k) likewise. k = 0 gives (0, 1) and k = n_styles (1, 0) by
    construction; an attribute set by the coarse layers switches from z2 to z1 at a small k, one set by the
    fine layers only near k = n_styles. ``crossovers`` defaults to every k in 0..n_styles. ``noise`` defaults to
    the fixed maps, so the sources and their mixes share their noise.
    """
    G = _check_generator(generator)
    if not callable(attribute):
        raise ValueError(f"attribute must be a function of images, got {type(attribute).__name__}")
    ks = tuple(range(G.n_styles + 1)) if crossovers is None else tuple(crossovers)
    if not ks:
        raise ValueError("crossovers must name at least one crossover layer")
    for k in ks:
        checks.integer("crossover", k, 0)
        if k > G.n_styles:
            raise ValueError(f"crossover must be in [0, n_styles] = [0, {G.n_styles}], got {k!r}")
    checks.choice("noise", noise, ("const", "none"))      # "random" would give each mix its own noise
    tol = checks.number_at_least("tol", tol, 0.0)

    def values(images: torch.Tensor) -> torch.Tensor:
        a = attribute(images)
        if not isinstance(a, torch.Tensor) or a.dim() not in (1, 2) or len(a) != len(images):
            got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(f"attribute must return a tensor of shape (n,) or (n, d) for n = {len(images)} "
                             f"images, got {got}")
        return a.double().reshape(len(a), -1)

    a1 = values(style_mixing(G, z1, z2, G.n_styles, noise=noise))
    a2 = values(style_mixing(G, z1, z2, 0, noise=noise))
    differ = (a1 - a2).norm(dim=1) > tol
    pairs = int(differ.sum())
    first, second = [], []
    for k in ks:
        a = values(style_mixing(G, z1, z2, k, noise=noise))
        d1, d2 = (a - a1).norm(dim=1)[differ], (a - a2).norm(dim=1)[differ]
        first.append((d1 < d2).double().mean() if pairs else torch.tensor(math.nan, dtype=torch.float64))
        second.append((d2 < d1).double().mean() if pairs else torch.tensor(math.nan, dtype=torch.float64))
    return MixingTransfer(ks, torch.stack(first), torch.stack(second), pairs)
