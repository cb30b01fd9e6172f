"""Multilayer perceptrons for the toy chapters: generator G(z), discriminator D(x), critic f(x).

The WGAN-GP paper's toy networks are 3 hidden layers of 512 ReLU units for both players; those are the
defaults here (``train``'s WGAN-GP default uses narrower 3 x 128 nets, see ``train._DEFAULTS``). The image chapters have their own convolutional networks.

``spectral_norm=True`` divides every Linear weight by its largest singular value (SN-GAN, Miyato et al. 2018):
the layers are ``SpectralNormLinear``s, see ``gan_lab.spectral``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import checks, spectral

__all__ = ["ReLU", "MLP", "StackedMLP", "SpectralNormLinear", "generator", "discriminator", "critic", "ParallelLines",
           "ACTIVATIONS", "check_fits"]


class _ReLUFunction(torch.autograd.Function):
    """max(x, 0) whose backward, when itself differentiated, stays off the forward graph.

    The second derivative of ReLU is 0 wherever it exists, so the input gradient
    grad * 1[x > 0] depends on the weights only through ``grad``. PyTorch's built-in ReLU still
    sends a tensor of zeros back through the forward pass when a gradient penalty differentiates
    ||grad_x f(x)||: whole matrix products of zeros. This version gives the same numbers without them,
    which makes a WGAN-GP critic step on the toy MLPs about 15% cheaper.

    One visible difference: a loss that depends on the critic *only* through its input gradient (the
    penalty alone) leaves the hidden biases with ``grad=None`` (torch's ReLU gives them zeros), since
    they do not enter grad_x f. Pass ``allow_unused=True`` to ``torch.autograd.grad`` in that case.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = x.clamp_min(0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        # y.detach(): the mask 1[y > 0] is a constant for the next differentiation.
        return torch.ops.aten.threshold_backward(grad, y.detach(), 0)


class ReLU(nn.Module):
    """ReLU, numerically identical to ``nn.ReLU``; cheaper under double backward (see ``_ReLUFunction``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReLUFunction.apply(x)


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class SpectralNormLinear(nn.Linear):
    """h -> (W / sigma) h + b: an ``nn.Linear`` whose weight W is divided by sigma ~ sigma(W), its largest
    singular value, estimated by one power-iteration step per training forward pass (SN-GAN).

    ``weight`` stays the unnormalised parameter W that the optimiser updates (and that weight clipping
    would clamp); ``normalised_weight()`` is W / sigma, the matrix the layer multiplies by. The power
    iteration's u, v live in ``spectral_norm`` (a ``spectral.SpectralNorm``); u starts from
    ``settings.rng(seed)``, so building the layer draws W and b from torch's global generator exactly as
    ``nn.Linear`` does, and nothing more. In eval mode u, v are not updated.
    """

    def __init__(self, in_features: int, out_features: int, *, seed: int = 0) -> None:
        super().__init__(in_features, out_features)
        self.spectral_norm = spectral.SpectralNorm(self.weight.detach(), seed=seed)

    def normalised_weight(self) -> torch.Tensor:
        """W / sigma with the stored u, v (no power-iteration step): the weight the last training pass used
        if W has not changed since, and the weight an eval pass uses."""
        return self.spectral_norm.normalised(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.spectral_norm(self.weight), self.bias)


class MLP(nn.Module):
    """x -> Linear -> act -> ... -> Linear: ``depth`` hidden layers of ``width`` units.

    ``spectral_norm=True`` makes every Linear a ``SpectralNormLinear`` (weight W / sigma(W)); layer l's u
    starts from ``settings.rng(l)``, so the weights are the ones the same call without it draws.
    """

    def __init__(self, in_dim: int, out_dim: int, *, width: int = 512, depth: int = 3,
                 activation: str = "relu", spectral_norm: bool = False) -> None:
        super().__init__()
        in_dim, out_dim = checks.integer("in_dim", in_dim, 1), checks.integer("out_dim", out_dim, 1)
        width, depth = checks.integer("width", width, 1), checks.integer("depth", depth, 0)
        checks.choice("activation", activation, ACTIVATIONS)
        checks.boolean("spectral_norm", spectral_norm)

        def linear(n_in: int, n_out: int, index: int) -> nn.Linear:
            return SpectralNormLinear(n_in, n_out, seed=index) if spectral_norm else nn.Linear(n_in, n_out)

        layers: list[nn.Module] = []
        dim = in_dim
        for index in range(depth):
            layers += [linear(dim, width, index), ACTIVATIONS[activation]()]
            dim = width
        layers.append(linear(dim, out_dim, depth))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim, self.width, self.depth, self.activation = in_dim, out_dim, width, depth, activation
        self.spectral_norm = spectral_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h(x), the activations of the last hidden layer (x itself if depth = 0): what feature matching
        compares (Salimans et al. 2016). ``forward(x)`` is the last Linear applied to it."""
        return self.net[:-1](x)


class StackedMLP(nn.Module):
    """K MLPs of one shape run as a single batched computation: x of shape (K, n, in) -> (K, n, out).

    Layer l keeps the K networks' weights as one tensor W_l of shape (K, out, in) and biases b_l of shape
    (K, out); slice k is network k's ``nn.Linear`` weight, and output slice k depends only on input slice k
    and the k-th network's parameters: h_k <- act(h_k W_lk^T + b_lk), one ``torch.baddbmm`` per layer for
    all K. Element-wise optimisers (Adam, RMSProp) and weight clipping treat each slice as they would the
    separate network, so training the stack equals training the K networks side by side, up to the
    summation order of the matrix products. This is what makes seed bands cheap: one pass for K seeds.

    Spectrally normalised MLPs stack too: layer l's u and v become one ``spectral.SpectralNorm`` of shape
    (K, out) and (K, in) in ``spectral_norms[l]``, and one batched power-iteration step per training pass
    normalises every W_lk by its own sigma, as network k's layer would. ``unstack`` hands back u and v.
    """

    def __init__(self, mlps: Sequence[MLP]) -> None:
        super().__init__()
        mlps = list(mlps)
        if not mlps or not all(isinstance(m, MLP) for m in mlps):
            raise ValueError(f"StackedMLP needs a non-empty list of gan_lab MLPs, got {mlps!r}")
        shape = lambda m: (m.in_dim, m.out_dim, m.width, m.depth, m.activation, m.spectral_norm)  # noqa: E731
        if len({shape(m) for m in mlps}) != 1:
            raise ValueError(f"all MLPs must share (in, out, width, depth, activation, spectral_norm), "
                             f"got {[shape(m) for m in mlps]}")
        self.in_dim, self.out_dim, self.width, self.depth, self.activation, self.spectral_norm = shape(mlps[0])
        linears = [[layer for layer in m.net if isinstance(layer, nn.Linear)] for m in mlps]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].weight.detach() for ls in linears]).clone()) for i in range(self.depth + 1))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach() for ls in linears]).clone()) for i in range(self.depth + 1))
        self.act = ACTIVATIONS[self.activation]()
        if self.spectral_norm:
            self.spectral_norms = nn.ModuleList()
            for i, w in enumerate(self.weights):
                norm = spectral.SpectralNorm(w.detach(), batch_dims=1)
                with torch.no_grad():
                    norm.u.copy_(torch.stack([ls[i].spectral_norm.u for ls in linears]))
                    norm.v.copy_(torch.stack([ls[i].spectral_norm.v for ls in linears]))
                self.spectral_norms.append(norm)

    def __len__(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[0] != len(self) or x.shape[2] != self.in_dim:
            raise ValueError(f"StackedMLP of {len(self)} networks takes x of shape ({len(self)}, n, {self.in_dim}), "
                             f"got {tuple(x.shape)}")
        return self._layers(x, len(self.weights))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(K, n, width): each network's last hidden activations h(x) (``MLP.features``)."""
        if x.dim() != 3 or x.shape[0] != len(self) or x.shape[2] != self.in_dim:
            raise ValueError(f"StackedMLP of {len(self)} networks takes x of shape ({len(self)}, n, {self.in_dim}), "
                             f"got {tuple(x.shape)}")
        return self._layers(x, len(self.weights) - 1)

    def _layers(self, x: torch.Tensor, n_layers: int) -> torch.Tensor:
        """The first ``n_layers`` Linear layers, each but the network's last followed by the activation."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights[:n_layers], self.biases[:n_layers])):
            if self.spectral_norm:
                w = self.spectral_norms[i](w)
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            if i < last:
                x = self.act(x)
        return x

    def unstack(self) -> list[MLP]:
        """The K networks as separate ``MLP``s (copies of the current weights, and of the power iteration's
        u and v if spectrally normalised, on the same device)."""
        out = []
        for k in range(len(self)):
            m = MLP(self.in_dim, self.out_dim, width=self.width, depth=self.depth, activation=self.activation,
                    spectral_norm=self.spectral_norm)
            m = m.to(self.weights[0].device)
            with torch.no_grad():
                for i, layer in enumerate(ly for ly in m.net if isinstance(ly, nn.Linear)):
                    layer.weight.copy_(self.weights[i][k])
                    layer.bias.copy_(self.biases[i][k])
                    if self.spectral_norm:
                        layer.spectral_norm.u.copy_(self.spectral_norms[i].u[k])
                        layer.spectral_norm.v.copy_(self.spectral_norms[i].v[k])
            out.append(m)
        return out


def generator(data_dim: int = 2, noise_dim: int = 2, *, width: int = 512, depth: int = 3,
              activation: str = "relu") -> MLP:
    """G: R^noise_dim -> R^data_dim, mapping noise z ~ N(0, I) to a sample G(z)."""
    return MLP(noise_dim, data_dim, width=width, depth=depth, activation=activation)


def discriminator(data_dim: int = 2, *, width: int = 512, depth: int = 3,
                  activation: str = "relu", spectral_norm: bool = False) -> MLP:
    """D: R^data_dim -> R, returning the *logit* l(x); the probability "x is real" is D(x) = sigmoid(l(x)).
    ``spectral_norm=True``: every weight W / sigma(W) (SN-GAN)."""
    return MLP(data_dim, 1, width=width, depth=depth, activation=activation, spectral_norm=spectral_norm)


def critic(data_dim: int = 2, *, width: int = 512, depth: int = 3, activation: str = "relu",
           spectral_norm: bool = False) -> MLP:
    """f: R^data_dim -> R, an unbounded score (Wasserstein critic); Lipschitz by clipping, penalty, or
    ``spectral_norm=True`` (every weight W / sigma(W), SN-GAN: each layer, hence f, is then ~1-Lipschitz)."""
    return MLP(data_dim, 1, width=width, depth=depth, activation=activation, spectral_norm=spectral_norm)


class ParallelLines(nn.Module):
    """The one-parameter generator g_theta(z) = (theta, u) of the WGAN paper's Example 1.

    It takes Gaussian noise z ~ N(0, 1) (shape (n, 1), as ``gan_lab.train`` draws it) and maps it to
    u = Phi(z) ~ U[0, 1] with the normal CDF, so its samples follow P_theta = (theta, U[0, 1]).
    """

    def __init__(self, theta: float = 1.0) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(float(theta)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != 1:
            raise ValueError(f"ParallelLines takes noise of shape (n, 1), got {tuple(z.shape)}")
        u = 0.5 * (1 + torch.erf(z / 2 ** 0.5))
        return torch.cat([self.theta.expand(len(z), 1), u], dim=1)


def check_fits(name: str, net: nn.Module, in_dim: int, shapes: Sequence[tuple], device: torch.device) -> None:
    """Refuse a user's network that does not map a (2, in_dim) input to one of ``shapes`` (e.g. [(2, d)] for
    a generator of d-D points, [(2,), (2, 1)] for a critic's scores), with a ValueError naming it, before any
    training step.

    The probe runs two zero inputs in eval mode without gradients, so it changes no parameter, no running
    statistic and no random state; the network's mode is restored.
    """
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, in_dim, device=device))
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"{name} does not take inputs of shape (n, {in_dim}): {err}") from None
    finally:
        net.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) not in [tuple(s) for s in shapes]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        want = " or ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{name} maps inputs of shape (2, {in_dim}) to {got}, expected {want}")
