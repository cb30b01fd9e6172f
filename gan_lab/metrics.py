"""Scores for generated samples: exact Wasserstein-1, mode coverage, and rank metrics (AUROC, Spearman's rho
and its exact tail under independence)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import ot
import torch

from . import checks
from .data import Modes, modes as _modes

__all__ = ["wasserstein1", "mode_coverage", "ModeCoverage", "average_ranks", "auroc", "pairwise_auroc",
           "rank_correlation", "rank_correlation_tail"]

Array = Union[torch.Tensor, np.ndarray]


def _real_array(name: str, x: Array) -> np.ndarray:
    """``x`` as a float64 array, refusing what would be coerced silently: booleans, strings, complex numbers."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


def as_points(name: str, x: Array) -> np.ndarray:
    a = _real_array(name, x)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array of points, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def wasserstein1(x: Array, y: Array) -> float:
    """Exact W1(P_x, P_y) = min over transport plans of sum_ij pi_ij ||x_i - y_j||_2.

    P_x and P_y are the empirical distributions putting equal mass on each point of ``x`` (n, d) and
    ``y`` (m, d). Solved as a linear program by POT's network simplex (``ot.emd2``).
    """
    a, b = as_points("x", x), as_points("y", y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y live in different dimensions: {a.shape[1]} and {b.shape[1]}")
    cost = ot.dist(a, b, metric="euclidean")
    wa = np.full(len(a), 1.0 / len(a))
    wb = np.full(len(b), 1.0 / len(b))
    return float(ot.emd2(wa, wb, cost, numItermax=10_000_000))


@dataclass(frozen=True)
class ModeCoverage:
    """How a sample covers a mixture's modes.

    ``counts[k]``: high-quality samples whose nearest centre is mode k. A sample is high quality when
    it lies within ``n_std`` standard deviations of its nearest centre; a mode is covered when it holds
    at least ``min_count`` of them (the PacGAN protocol).
    """

    modes_covered: int
    n_modes: int
    high_quality_fraction: float
    counts: tuple


def mode_coverage(samples: Array, mixture: Union[str, Modes], *, n_std: float = 3.0,
                  min_count: int = 20) -> ModeCoverage:
    """Count the modes of ``mixture`` (a data-set name such as ``"8gaussians"``, or ``Modes``) that
    ``samples`` (n, 2) cover, and the fraction of samples that are high quality."""
    if not isinstance(mixture, (str, Modes)):
        raise ValueError(f"mixture must be a data-set name or a Modes, got {type(mixture).__name__}")
    m = _modes(mixture) if isinstance(mixture, str) else mixture
    checks.positive_number("n_std", n_std)
    checks.integer("min_count", min_count, 1)
    x = as_points("samples", samples)
    centers = m.centers.double().numpy()
    if x.shape[1] != centers.shape[1]:
        raise ValueError(f"samples are {x.shape[1]}-D but the modes are {centers.shape[1]}-D")
    dist = np.linalg.norm(x[:, None, :] - centers[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(x)), nearest] <= n_std * m.std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return ModeCoverage(
        modes_covered=int((counts >= min_count).sum()),
        n_modes=len(centers),
        high_quality_fraction=float(good.mean()),
        counts=tuple(int(c) for c in counts),
    )


# ---- rank metrics ----------------------------------------------------------------------------------------

def _scores(name: str, x: Array) -> np.ndarray:
    """``x`` as a 1-D float64 array of scores; an (n, 1) column (a critic's output) is flattened."""
    a = _real_array(name, x)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of scores, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D float array (already checked); ties share the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])      # first sorted position of each distinct value
    ends = np.r_[starts[1:], len(x)]                              # one past its last position
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2)[group]               # mean of the ranks starts+1 .. ends
    return ranks


def average_ranks(x: Array) -> np.ndarray:
    """The ranks r_i in 1..n of the n scores ``x`` (rank 1 for the smallest); tied values share the mean of
    the ranks they occupy, so r_i = 1 + #{j : x_j < x_i} + (#{j : x_j = x_i} - 1) / 2. Float64 array."""
    return _average_ranks(_scores("x", x))


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    ranks = _average_ranks(np.concatenate([pos, neg]))
    n_pos, n_neg = len(pos), len(neg)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def auroc(positive_scores: Array, negative_scores: Array) -> float:
    """Area under the ROC curve: P(s_+ > s_-) + 1/2 P(s_+ = s_-) for a random positive and a random negative.

    Exact, via the Mann-Whitney statistic: rank all n_+ + n_- scores together (ties get their average
    rank), R_+ = the sum of the positives' ranks, U = R_+ - n_+(n_+ + 1)/2, and AUROC = U / (n_+ n_-).
    1 means every positive scores above every negative, 0.5 is chance, and
    auroc(a, b) = 1 - auroc(b, a). Costs one sort, O((n_+ + n_-) log(n_+ + n_-)).
    """
    return _auroc(_scores("positive_scores", positive_scores), _scores("negative_scores", negative_scores))


def pairwise_auroc(scores: Array, labels: Array, n_classes: Optional[int] = None) -> torch.Tensor:
    """The (C, C) matrix A with A[i, j] = auroc(scores of class i, scores of class j).

    ``labels`` are integers in 0..C-1, C = ``n_classes`` (default: max label + 1); every class needs at
    least one score, and there must be at least two classes (with one there is nothing to compare, so a
    ValueError, not a matrix [[0.5]]). A[i, j] > 0.5 says class i tends to score higher than class j;
    A[i, j] + A[j, i] = 1 and the diagonal is 0.5. Returned as float64.
    """
    s = _scores("scores", scores)
    lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if lab.shape != s.shape:
        raise ValueError(f"labels must have one entry per score: shape {lab.shape} vs scores {s.shape}")
    if lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    if lab.min() < 0:
        raise ValueError(f"labels must be non-negative, got {int(lab.min())}")
    if n_classes is None:
        n_classes = int(lab.max()) + 1
    elif checks.integer("n_classes", n_classes, 1) <= lab.max():
        raise ValueError(f"label {int(lab.max())} is out of range for n_classes={n_classes}")
    if n_classes < 2:
        raise ValueError(f"pairwise_auroc needs scores of at least two classes; the labels hold only class "
                         f"{np.unique(lab).tolist()} (n_classes={n_classes})")
    counts = np.bincount(lab.astype(np.int64), minlength=n_classes)
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no scores")
    groups = [s[lab == c] for c in range(n_classes)]
    out = torch.full((n_classes, n_classes), 0.5, dtype=torch.float64)
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            a = _auroc(groups[i], groups[j])
            out[i, j], out[j, i] = a, 1.0 - a
    return out


def rank_correlation(a: Array, b: Array) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks of ``a`` and of ``b``.

    rho = sum_i (r_i - rbar)(q_i - qbar) / sqrt(sum_i (r_i - rbar)^2 sum_i (q_i - qbar)^2), with r, q the
    ranks (ties share their average rank). Without ties this is 1 - 6 sum_i (r_i - q_i)^2 / (n (n^2 - 1)).
    It is unchanged by any strictly increasing transform of either argument. Undefined (ValueError) when
    either argument is constant.
    """
    x, y = _scores("a", a), _scores("b", b)
    if len(x) != len(y):
        raise ValueError(f"a and b must have the same length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"rank correlation needs at least 2 pairs, got {len(x)}")
    for name, v in (("a", x), ("b", y)):
        if (v == v[0]).all():
            raise ValueError(f"{name} is constant, so its rank correlation is undefined")
    r, q = _average_ranks(x), _average_ranks(y)
    r, q = r - r.mean(), q - q.mean()
    return float((r * q).sum() / np.sqrt((r * r).sum() * (q * q).sum()))


MAX_TAIL_N = 12  # the exact tail walks all 2^n subsets of ranks


def rank_correlation_tail(n: int, rho: float) -> float:
    """P(rho_S >= ``rho``) for Spearman's rho_S between two independent, uniformly random orders of n items.

    Without ties rho_S = 1 - 6 D / (n (n^2 - 1)) with D = sum_i (i - pi(i))^2 for a uniform permutation pi, so
    the tail is #{pi : D(pi) <= (1 - rho) n (n^2 - 1) / 6} / n!. It is computed exactly (no sampling) by
    dynamic programming over the set of ranks already assigned: the number of partial permutations of
    the first k positions by their partial sum of squares, O(2^n n^3) work, for 2 <= n <= 12.
    This is the chance that two unrelated rankings agree at least as well as ``rho``: a p-value.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 2 <= n <= MAX_TAIL_N:
        raise ValueError(f"n must be an integer in 2..{MAX_TAIL_N}, got {n!r}")
    rho = checks.finite_number("rho", rho)
    n = int(n)
    d_max_total = n * (n * n - 1) // 3                       # D of the reversed order (rho = -1)
    bound = (1.0 - float(rho)) * n * (n * n - 1) / 6.0
    if bound < 0:
        return 0.0
    d_limit = int(np.floor(bound + 1e-9))                    # D is an integer; allow for rounding in rho
    counts = np.zeros((1 << n, d_max_total + 1), dtype=np.int64)
    counts[0, 0] = 1
    popcount = [bin(m).count("1") for m in range(1 << n)]
    for mask in range(1 << n):                               # a superset always has a larger mask
        row = counts[mask]
        if not row.any():
            continue
        position = popcount[mask]                            # ranks 0..k-1 are placed, k = popcount
        for value in range(n):
            if mask >> value & 1:
                continue
            d = (position - value) ** 2
            counts[mask | 1 << value, d:] += row[:d_max_total + 1 - d]
    full = counts[(1 << n) - 1]
    total = full.sum()                                       # n!
    return float(full[:min(d_limit, d_max_total) + 1].sum() / total)
