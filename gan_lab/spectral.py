"""The largest singular value sigma(W) of a layer's weight, and dividing a layer by it (SN-GAN).

sigma(W) = max_{h != 0} ||W h||_2 / ||h||_2 is the Lipschitz constant of h -> W h, so a network whose every
weight is W / sigma(W) and whose activations are 1-Lipschitz is 1-Lipschitz itself (Miyato et al. 2018,
"Spectral Normalization for Generative Adversarial Networks"). The paper estimates sigma(W) by power
iteration with a vector u that persists across training steps; since W moves little per step, one
iteration per step keeps the estimate close:

    v <- W^T u / ||W^T u||_2,   u <- W v / ||W v||_2,   sigma(W) ~ u^T W v.

A convolution's kernel (out, in, kh, kw) is treated as the (out, in * kh * kw) matrix, as in the paper.
Weights may carry leading batch dimensions (K stacked networks: (K, out, in)); every function here works on
each slice separately.

- ``largest_singular_value``: the exact sigma(W), from a singular value decomposition;
- ``power_iteration``: the estimate u^T W v and the new u, v;
- ``SpectralNorm``: the map W -> W / sigma(W) with its persistent u, v (buffers), for a layer to apply to
  its weight on every forward pass.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import checks, settings

__all__ = ["largest_singular_value", "power_iteration", "SpectralNorm", "EPS"]

EPS = 1e-12   # the smallest norm a vector is divided by: keeps W^T u = 0 from turning into NaN


def _weight(weight) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point() or weight.dim() < 2:
        got = f"{weight.dtype} tensor of shape {tuple(weight.shape)}" if isinstance(weight, torch.Tensor) \
            else type(weight).__name__
        raise ValueError(f"weight must be a floating-point tensor with at least 2 dimensions, got {got}")
    return weight


def _as_matrices(weight: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """(*batch, out, *rest) -> (*batch, out, prod(rest)): each layer's weight as the matrix it multiplies by."""
    return weight.reshape(*weight.shape[:batch_dims + 1], -1)


def largest_singular_value(weight: torch.Tensor, *, batch_dims: Optional[int] = None) -> torch.Tensor:
    """sigma(W) = ||W||_2, the largest singular value, computed exactly (``torch.linalg.matrix_norm``, ord=2).

    ``weight`` holds one or more layers' weights; its first ``batch_dims`` dimensions index the layers, the
    next is the output dimension, and the rest are flattened into columns: a linear weight (out, in) is
    itself, a convolution kernel (out, in, kh, kw) is the (out, in kh kw) matrix of Miyato et al. 2018.
    ``batch_dims=None`` (the default) is torch's convention for matrices, (..., m, n): every dimension
    but the last two is a batch. So pass ``batch_dims=0`` for one convolution kernel and ``batch_dims=1`` for
    K stacked kernels (K, out, in, kh, kw). Returns a tensor of the batch's shape (a scalar for one layer),
    in the weight's dtype.
    """
    weight = _weight(weight)
    if batch_dims is None:
        batch_dims = weight.dim() - 2
    if not isinstance(batch_dims, int) or isinstance(batch_dims, bool) or not 0 <= batch_dims <= weight.dim() - 2:
        raise ValueError(f"batch_dims must be an integer from 0 to {weight.dim() - 2} for a weight of shape "
                         f"{tuple(weight.shape)}, got {batch_dims!r}")
    return torch.linalg.matrix_norm(_as_matrices(weight, batch_dims), ord=2)


def _check_vector(weight: torch.Tensor, u) -> None:
    if not isinstance(u, torch.Tensor) or u.dim() < 1 or u.dim() >= weight.dim() \
            or tuple(u.shape) != tuple(weight.shape[:u.dim()]):
        got = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
        raise ValueError(f"u must have shape (*batch, out) matching the weight's leading dimensions "
                         f"{tuple(weight.shape)}, got {got}")


# The same operations on every slice. train_seeds stacks K networks and must reproduce K separate runs; a
# batched matrix product or a full reduction need not give a slice the numbers the unbatched one gives, and
# in GAN training such last-bit differences grow. So every layer's weight is computed on as a batch
# (B, m, n), B = 1 for one layer, and every product W x is an elementwise product and a sum over one
# dimension of that batch, whatever batch surrounds it. (The layers' own products around this module are
# bmm against mm, which some CPUs round differently: the stack equals the separate networks to rounding,
# and the tests compare whole runs in float64.)

def _batch_of_matrices(weight: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """(*batch, out, *rest) -> (B, out, prod(rest)), B = prod(batch) (1 for a single layer)."""
    return weight.reshape(-1, weight.shape[batch_dims], _as_matrices(weight, batch_dims).shape[-1])


def _matvec(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """W x for matrices (B, m, n) and vectors (B, n)."""
    return (w * x.unsqueeze(-2)).sum(dim=-1)


def _rmatvec(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """W^T x for matrices (B, m, n) and vectors (B, m)."""
    return (w * x.unsqueeze(-1)).sum(dim=-2)


def _contiguous(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous()


def power_iteration(weight: torch.Tensor, u: torch.Tensor, n_iterations: int = 1, *,
                    eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_iterations`` steps of v <- W^T u / ||W^T u||, u <- W v / ||W v|| from the given u; returns
    (sigma, u, v) with sigma = u^T W v, the estimate of sigma(W) (Miyato et al. 2018, Algorithm 1).

    u has shape (*batch, out): its number of dimensions says how many leading dimensions of ``weight`` are a
    batch (u of shape (out,) for one layer, (K, out) for K stacked ones); each layer's remaining dimensions
    are flattened as in ``largest_singular_value``. u need not be a unit vector (only its direction
    matters); the returned u (*batch, out) and v (*batch, in) are unit vectors, new tensors (the given u is
    not modified), and carry no gradient: as in the paper, sigma's gradient is d(u^T W v)/dW = u v^T, with u
    and v held fixed. Norms below ``eps`` are divided by ``eps``, so a zero u gives sigma = 0, not NaN.
    |sigma| <= sigma(W). With r = sigma_2 / sigma_1 < 1 (the two largest singular values), the direction of u
    leaves the top singular vector u_1 by an angle that shrinks as r^(2 n) (each step multiplies u by W W^T),
    and sigma = ||W v|| is stationary at v_1, its error quadratic in v's angle, so the estimate converges twice
    as fast: (sigma(W) - sigma) / sigma(W) ~ C r^(4 n), n = ``n_iterations``, C set by the starting u. (If u
    starts in the span of u_1, u_2 alone, v_n is proportional to sigma_1^(2n-1) c_1 v_1 + sigma_2^(2n-1) c_2 v_2
    and sigma = ||W v_n|| exactly.)
    """
    weight = _weight(weight)
    _check_vector(weight, u)
    n_iterations = checks.integer("n_iterations", n_iterations, 1)
    if not (isinstance(eps, float) and 0 < eps < 1):
        raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
    batch = tuple(u.shape[:-1])
    w = _batch_of_matrices(weight, len(batch))
    with torch.no_grad():
        w_const = w.detach()
        u = u.detach().to(w.dtype).reshape(w.shape[:2])
        for _ in range(n_iterations):
            v = F.normalize(_rmatvec(w_const, u), dim=-1, eps=eps)
            u = F.normalize(_matvec(w_const, v), dim=-1, eps=eps)
    sigma = (u * _matvec(w, v)).sum(dim=-1)
    return sigma.reshape(batch), u.reshape(batch + u.shape[-1:]), v.reshape(batch + v.shape[-1:])


class SpectralNorm(nn.Module):
    """W -> W / sigma, with sigma = u^T W v the power-iteration estimate of sigma(W) (Miyato et al. 2018).

    A layer calls it on its weight in every forward pass: ``F.linear(x, norm(self.weight), self.bias)``.
    It keeps u (*batch, out) and v (*batch, in) as buffers (so they move with ``.to``, and are saved in the
    ``state_dict``). In training mode each call runs ``n_iterations`` power-iteration steps from the stored u
    and stores the new u and v; in eval mode it only uses them, so an eval pass after a training pass on the
    same weight gives the same W / sigma. The gradient reaches W through W and through sigma, whose gradient
    is u v^T (u, v held fixed).

    u starts as a standard normal vector per layer, normalised, drawn from ``settings.rng(seed)``, never from
    torch's global generator (building the layer draws nothing that would change the weights drawn next);
    v starts as W^T u / ||W^T u|| for the weight given here. ``batch_dims`` leading dimensions of ``weight``
    index separate layers (1 for K stacked networks' weights (K, out, in)).
    """

    def __init__(self, weight: torch.Tensor, *, batch_dims: int = 0, seed: int = 0, n_iterations: int = 1,
                 eps: float = EPS) -> None:
        super().__init__()
        weight = _weight(weight)
        if not isinstance(batch_dims, int) or isinstance(batch_dims, bool) \
                or not 0 <= batch_dims <= weight.dim() - 2:
            raise ValueError(f"batch_dims must be an integer from 0 to {weight.dim() - 2} for a weight of shape "
                             f"{tuple(weight.shape)}, got {batch_dims!r}")
        n_iterations = checks.integer("n_iterations", n_iterations, 1)
        if not (isinstance(eps, float) and 0 < eps < 1):
            raise ValueError(f"eps must be a float in (0, 1), got {eps!r}")
        shape = tuple(weight.shape[:batch_dims + 1])
        u = torch.randn(shape, generator=settings.rng(seed), dtype=torch.float64)
        u = F.normalize(u, dim=-1, eps=eps).to(device=weight.device, dtype=weight.dtype)
        w = _batch_of_matrices(weight.detach(), batch_dims)
        v = F.normalize(_rmatvec(w, u.reshape(w.shape[:2])), dim=-1, eps=eps)
        self.register_buffer("u", u)
        self.register_buffer("v", v.reshape(shape[:-1] + v.shape[-1:]))
        self.n_iterations, self.eps = n_iterations, eps

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """u^T W v with the stored u, v (no update): the sigma an eval-mode pass divides ``weight`` by."""
        w = _batch_of_matrices(weight, self.u.dim() - 1)
        # clones: a later training pass updates the buffers in place, which must not alter this graph's saved u, v
        u, v = self.u.clone().reshape(w.shape[:2]), self.v.clone().reshape(w.shape[0], -1)
        return (u * _matvec(w, v)).sum(dim=-1).reshape(self.u.shape[:-1])

    def normalised(self, weight: torch.Tensor) -> torch.Tensor:
        """W / sigma with the stored u, v (no update): what an eval-mode pass returns."""
        return self._divide(weight, self.sigma(weight))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.normalised(weight)
        sigma, u, v = power_iteration(weight, self.u, self.n_iterations, eps=self.eps)
        with torch.no_grad():
            self.u.copy_(u)
            self.v.copy_(v)
        return self._divide(weight, sigma)

    def _divide(self, weight: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = sigma.clamp_min(self.eps)   # an all-zero weight stays zero instead of becoming 0 / 0
        w = _batch_of_matrices(weight, self.u.dim() - 1)
        normalised = (w / sigma.reshape(-1, 1, 1)).reshape(weight.shape)
        if normalised.requires_grad:
            # The gradient reaching W / sigma is contiguous from nn.Linear but a transposed view from the
            # batched product of a StackedMLP; sigma's gradient -sum(G * W) / sigma^2 would then be summed in
            # different orders. One layout for both keeps the stack bit-identical to separate networks.
            normalised.register_hook(_contiguous)
        return normalised

    def extra_repr(self) -> str:
        return f"u={tuple(self.u.shape)}, v={tuple(self.v.shape)}, n_iterations={self.n_iterations}"
