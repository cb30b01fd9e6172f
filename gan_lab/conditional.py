"""Conditional GANs: a generator G(z, y) and a projection critic f(x, y) conditioned on a label y.

A label is not one flat class id but a small vector of attributes, y = (y_1, ..., y_A) with y_a in
{0, ..., K_a - 1}: for the shapes, (shape, colour, noise). ``condition = (K_1, ..., K_A)`` says how many
values each attribute takes; digits are the one-attribute case, ``condition = (10,)``.

- **Embedding.** e(y) = sum_a E_a[y_a], one table E_a in R^(K_a x d) per attribute (``AttributeEmbedding``).
  A sum rather than one table over all K_1 ... K_A combinations: a combination held out of training
  ("triangle" with colour B) still has an embedding, E_shape[triangle] + E_colour[B], whose every term was
  trained, in other combinations. The sum loses nothing a concatenation would keep: a linear layer
  after [E_1[y_1], ..., E_A[y_A]] is a sum of one linear map per attribute.
- **Generator.** G(z, y) = G_0([z, e_G(y)]): the embedding is concatenated to z and fed to any
  unconditional generator G_0 built for noise_dim + d inputs (``ConditionalGenerator``). That works for
  every generator of ``convnets.GENERATORS`` (and ``style.StyleGenerator``, through its mapping network)
  unchanged. Conditional batch norm (a per-class scale and shift in every BN, as in Miyato & Koyama's
  ResNets and BigGAN) conditions every layer, but would need its own version of each generator and does
  not exist for the generators without batch norm; for the book's shapes, whose classes differ in global
  properties (outline, colour, grain), the input is enough.
- **Critic.** The projection discriminator (Miyato & Koyama, 2018):
  f(x, y) = psi(phi(x)) + <e_f(y), phi(x)>, with phi(x) the critic's features (``convnets.Critic.features``)
  and psi its linear head (``ProjectionCritic``). It is the form the optimal log-ratio takes when
  p(y | x) is a log-linear model of phi(x); with the summed embedding the class term is a sum of one
  inner product per attribute. Nothing in it needs batch statistics, so it works with the gradient
  penalty, the hinge loss, layer norm and spectral norm (with ``spectral=True`` every table is divided by
  its largest singular value, as the paper does).

``generate(G, labels, seed=...)`` asks a trained generator for images of given labels ("a red triangle")
from an explicit seed; ``label_grid`` is the fixed grid of labels a run's snapshots show; ``check_labels``
is the one check of a label tensor against a condition. ``images.train_images(x, config, labels=y)``
trains the pair.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import checks, settings

__all__ = ["AttributeEmbedding", "ConditionalGenerator", "ProjectionCritic", "check_condition", "check_labels",
           "label_grid", "generate"]

Labels = Union[torch.Tensor, np.ndarray]


def check_condition(condition: Sequence[int], name: str = "condition") -> tuple[int, ...]:
    """``condition`` as a tuple of plain ints K_a >= 1, one per attribute (a tuple or list; () for none)."""
    if not isinstance(condition, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of value counts, one per attribute (e.g. (3, 2) or (10,)), "
                         f"got {condition!r}")
    for k in condition:
        if not checks.is_number(k) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{name} must hold integers >= 1 (the number of values of each attribute), "
                             f"got {tuple(condition)!r}")
    return tuple(int(k) for k in condition)


def check_labels(labels: Labels, condition: Sequence[int], n: Optional[int] = None, *,
                 name: str = "labels") -> torch.Tensor:
    """``labels`` as a LongTensor (n, A) on the CPU, checked against ``condition`` = (K_1, ..., K_A).

    A tensor or NumPy array of an integer dtype, of shape (n, A), or (n,) when A = 1 (one class id per
    image), with column a in {0, ..., K_a - 1}; ``n`` (when given) is the number of rows it must have.
    Anything else raises ``ValueError`` naming the value."""
    condition = check_condition(condition)
    if not condition:
        raise ValueError("labels need a condition with at least one attribute, got condition=()")
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels) if labels.dtype != object else labels
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"{name} must be an integer tensor of shape (n, {len(condition)}), got "
                         f"{type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must have an integer dtype (torch.long), got dtype {labels.dtype}")
    a = len(condition)
    if labels.dim() == 1 and a == 1:
        labels = labels[:, None]
    rows = n if n is not None else (labels.shape[0] if labels.dim() >= 1 else "n")
    if labels.dim() != 2 or labels.shape[1] != a or (n is not None and labels.shape[0] != n) or labels.shape[0] == 0:
        one = " or (n,)" if a == 1 else ""
        raise ValueError(f"{name} must have shape ({rows}, {a}){one} for condition {condition}, one row per image, "
                         f"got {tuple(labels.shape)}")
    labels = labels.detach().to("cpu", torch.long)
    for j, k in enumerate(condition):
        column = labels[:, j]
        bad = ((column < 0) | (column >= k)).nonzero()
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"{name}[:, {j}] must lie in {{0, ..., {k - 1}}} (condition[{j}] = {k} values), "
                             f"got {int(column[i])} at row {i}")
    return labels


def label_grid(condition: Sequence[int], n: int) -> torch.Tensor:
    """n labels (LongTensor (n, A)) running through every combination of ``condition`` in order, the last
    attribute fastest, and round again: row i is the (i mod K_1 ... K_A)-th combination. The fixed labels
    of a conditional run's snapshots, held-out combinations included."""
    condition = check_condition(condition)
    if not condition:
        raise ValueError("label_grid needs a condition with at least one attribute, got condition=()")
    n = checks.integer("n", n, 0)
    i = torch.arange(n) % math.prod(condition)
    columns = []
    for k in reversed(condition):
        columns.append(i % k)
        i = i // k
    return torch.stack(columns[::-1], dim=1)


class AttributeEmbedding(nn.Module):
    """e(y) = sum_a E_a[y_a]: one table E_a of K_a rows in R^dim per attribute; (n, A) labels -> (n, dim).

    The tables start as N(0, std^2) (``nn.Embedding``'s N(0, 1) draw, scaled: a seeded build draws the
    same numbers whatever ``std``). ``spectral=True`` divides each table by its largest singular value
    (one power-iteration step per training-mode pass, as ``convnets.Critic(norm="spectral")``; the start
    vectors come from a forked copy of torch's generator, so the draws after the build do not move).
    ``forward`` checks the shape and dtype only (no device sync); ``check`` does the full check."""

    def __init__(self, condition: Sequence[int], dim: int, *, std: float = 1.0, spectral: bool = False) -> None:
        super().__init__()
        self.condition = check_condition(condition)
        if not self.condition:
            raise ValueError("an AttributeEmbedding needs at least one attribute, got condition=()")
        self.dim = checks.integer("dim", dim, 1)
        std = checks.positive_number("std", std)
        checks.boolean("spectral", spectral)
        self.tables = nn.ModuleList(nn.Embedding(k, self.dim) for k in self.condition)
        with torch.no_grad():
            for table in self.tables:
                table.weight.mul_(std)
        if spectral:
            with torch.random.fork_rng(devices=[]):
                for table in self.tables:
                    nn.utils.parametrizations.spectral_norm(table)

    def check(self, labels: Labels, n: Optional[int] = None) -> torch.Tensor:
        """``check_labels(labels, self.condition, n)``."""
        return check_labels(labels, self.condition, n)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        a = len(self.condition)
        if y.dim() == 1 and a == 1:
            y = y[:, None]
        if y.dim() != 2 or y.shape[1] != a or y.is_floating_point() or y.dtype == torch.bool:
            raise ValueError(f"AttributeEmbedding takes integer labels of shape (n, {a}), got {tuple(y.shape)} "
                             f"of dtype {y.dtype}")
        out = self.tables[0](y[:, 0])
        for j in range(1, a):
            out = out + self.tables[j](y[:, j])
        return out

    def extra_repr(self) -> str:
        return f"condition={self.condition}, dim={self.dim}"


class ConditionalGenerator(nn.Module):
    """G(z, y) = G_0([z, e(y)]): ``encoder`` maps the labels to e(y) in R^d, ``generator`` is any G_0 for
    noise of ``noise_dim + d`` dimensions (``convnets.generator_for(name, noise_dim + d, size, width)``).
    ``noise_dim`` is that of z alone."""

    def __init__(self, generator: nn.Module, encoder: nn.Module) -> None:
        super().__init__()
        d, total = getattr(encoder, "dim", None), getattr(generator, "noise_dim", None)
        if not isinstance(d, int) or not isinstance(total, int) or total <= d:
            raise ValueError(f"ConditionalGenerator needs an encoder with an int dim ({d!r}) and a generator for "
                             f"more inputs than that (noise_dim {total!r})")
        self.generator, self.encoder = generator, encoder
        self.noise_dim = total - d
        self.size = getattr(generator, "size", None)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.noise_dim:
            raise ValueError(f"ConditionalGenerator takes noise of shape (n, {self.noise_dim}), got {tuple(z.shape)}")
        e = self.encoder(y)
        if len(e) != len(z):
            raise ValueError(f"ConditionalGenerator got {len(z)} noise vectors but {len(e)} labels")
        return self.generator(torch.cat([z, e.to(z.dtype)], dim=1))


class ProjectionCritic(nn.Module):
    """f(x, y) = psi(phi(x)) + <e(y), phi(x)> (Miyato & Koyama, 2018); (n, 3, s, s) images and n labels ->
    (n,) scores.

    ``critic`` supplies phi (its ``features(x)``, (n, d)) and psi (its ``head``, a Linear(d, 1)): a
    ``convnets.Critic``, whose ``num_features`` is d. ``encoder`` maps the labels to e(y) in R^d.
    ``features(x)`` is phi(x), for a head that reads the critic's features (InfoGAN's Q)."""

    def __init__(self, critic: nn.Module, encoder: nn.Module) -> None:
        super().__init__()
        d = getattr(critic, "num_features", None)
        if not callable(getattr(critic, "features", None)) or not isinstance(getattr(critic, "head", None), nn.Module):
            raise ValueError(f"ProjectionCritic needs a critic with features(x) and a head, got {type(critic).__name__}")
        if getattr(encoder, "dim", None) != d:
            raise ValueError(f"the encoder's dim ({getattr(encoder, 'dim', None)!r}) must equal the critic's "
                             f"num_features ({d!r})")
        self.critic, self.encoder = critic, encoder
        self.size = getattr(critic, "size", None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), (n, num_features)."""
        return self.critic.features(x)

    def projection(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The class term <e(y), phi(x)> alone, (n,)."""
        return (self.encoder(y) * self.features(x)).sum(dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        e = self.encoder(y)
        if len(e) != len(h):
            raise ValueError(f"ProjectionCritic got {len(h)} images but {len(e)} labels")
        return self.critic.head(h).view(-1) + (e * h).sum(dim=1)


def _condition_of(generator: nn.Module) -> tuple:
    if not isinstance(generator, ConditionalGenerator):
        raise ValueError(f"generate takes a ConditionalGenerator (a conditional run's result.generator), got "
                         f"{type(generator).__name__}")
    return getattr(generator.encoder, "condition", ())


@torch.no_grad()
def generate(generator: nn.Module, labels: Union[Labels, Sequence[int], int], *, seed: int,
             n: Optional[int] = None) -> torch.Tensor:
    """Images G(z, y) in [-1, 1], (n, 3, size, size) on the CPU, with z ~ N(0, I) drawn from
    ``settings.rng(seed)`` (the z of ``ImageTrainResult.sample(n, seed=seed)``) and batch norm in eval mode.

    ``labels``: a tensor (n, A) (or (n,) for one attribute), one label per image; or one label as a
    tuple / list of A ints (an int for one attribute), repeated ``n`` times (default 1), e.g.
    ``generate(G, (TRIANGLE, RED, CLEAN), n=16, seed=0)``."""
    condition = _condition_of(generator)
    seed = checks.seed("seed", seed)
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        y = check_labels(labels, condition)
        if n is not None and checks.integer("n", n, 1) != len(y):
            raise ValueError(f"n={n!r} but labels has {len(y)} rows (give n only with a single label)")
    else:
        one = (labels,) if checks.is_number(labels) else labels
        if not isinstance(one, (tuple, list)) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                         for v in one):
            raise ValueError(f"labels must be a tensor (n, {len(condition)}) or one label of {len(condition)} "
                             f"ints, got {labels!r:.80}")
        n = 1 if n is None else checks.integer("n", n, 1)
        y = check_labels(torch.tensor([list(one)], dtype=torch.long).expand(n, -1) if len(one) else
                         torch.zeros(n, 0, dtype=torch.long), condition, name="label")
    device = next(generator.parameters()).device
    z = torch.randn(len(y), generator.noise_dim, generator=settings.rng(seed)).to(device)
    was_training = generator.training
    generator.eval()
    try:
        return generator(z, y.to(device)).float().cpu()
    finally:
        generator.train(was_training)
