"""Checks for chapter 7's exercises (the critic as an unsupervised classifier: AUROC between classes, scores
shifted to a reference class, and the rank consistency of class means across retrains).

Scores come as float64 tensors of shape (N,) and labels as int64 tensors of shape (N,), as a critic's
outputs on a labelled test set would."""
from __future__ import annotations

from typing import Callable

import torch

from .. import metrics
from ._compare import close, close_tensors, scalar

__all__ = ["check_auroc", "check_pairwise_auroc", "check_shift_scores", "check_rank_consistency"]


def _unchanged(name: str, given: tuple[torch.Tensor, ...], originals: tuple[torch.Tensor, ...]) -> None:
    if any(not torch.equal(a, b) for a, b in zip(given, originals)):
        raise AssertionError(f"{name}: your function modified its input scores or labels; work on a copy "
                             "(e.g. scores - m, not scores -= m)")


def _interleaved_labels(g: torch.Generator, counts: list[int]) -> torch.Tensor:
    """Labels with ``counts[c]`` entries of class c, in a random order (not class by class)."""
    labels = torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=g)]


# ---- AUROC --------------------------------------------------------------------------------------------------

def check_auroc(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> bool:
    """``fn(positive_scores, negative_scores)`` gets two 1-D tensors of scores (of different lengths, with ties)
    and must return the AUROC, P(s_+ > s_-) + 1/2 P(s_+ = s_-) over all (positive, negative) pairs, as a number
    (``metrics.auroc``)."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(100)
        f64 = torch.float64
        cases = {
            "30 positives against 45 negatives, no ties": (
                0.8 + torch.randn(30, generator=g, dtype=f64), torch.randn(45, generator=g, dtype=f64)),
            "25 positives against 40 negatives with integer scores (many ties)": (
                torch.randint(1, 6, (25,), generator=g).to(f64), torch.randint(0, 4, (40,), generator=g).to(f64)),
            "positives [1, 2, 3] against negatives [0, 0, 1, 1]": (
                torch.tensor([1.0, 2.0, 3.0], dtype=f64), torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=f64)),
            "6 positives and 9 negatives that all score 0.25 (should be 0.5)": (
                torch.full((6,), 0.25, dtype=f64), torch.full((9,), 0.25, dtype=f64)),
            "positives that all score below the negatives (should be 0)": (
                torch.linspace(-3, -1, 7, dtype=f64), torch.linspace(0, 1, 4, dtype=f64)),
        }
        for name, (pos, neg) in cases.items():
            given = (pos.clone(), neg.clone())
            got = fn(*given)
            _unchanged(name, given, (pos, neg))
            expected = metrics.auroc(pos, neg)
            value = scalar(f"the AUROC of {name}", got)
            hint = " (a tied pair counts 1/2; divide the count by n_+ n_-, the number of pairs)"
            if abs(value - (1 - expected)) <= 1e-6 and abs(expected - 0.5) > 1e-6:
                hint = (" (that is 1 - AUROC: the roles are swapped; AUROC is the probability that a positive "
                        "scores above a negative)")
            close(f"the AUROC of {name}", value, expected, atol=1e-6, hint=hint)
    return run_check("AUROC of two sets of scores", attempt)


def check_pairwise_auroc(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(scores, labels)`` gets scores (N,) and integer labels (N,) in 0..C-1 (every class present, in no
    particular order) and must return the (C, C) matrix A with A[i, j] = AUROC of class i's scores (the
    positives) against class j's (``metrics.pairwise_auroc``): A[i, j] + A[j, i] = 1, and the diagonal is 0.5."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(110)
        cases = {}
        labels = _interleaved_labels(g, [12, 20, 9, 15])
        shift = torch.tensor([0.0, 1.5, -0.5, 0.7], dtype=torch.float64)
        cases["4 classes with integer scores (ties within and across classes)"] = (
            torch.round(2 * torch.randn(len(labels), generator=g, dtype=torch.float64) + 2 * shift[labels]), labels)
        labels = _interleaved_labels(g, [10, 10, 10])
        cases["3 classes with continuous scores"] = (
            torch.randn(30, generator=g, dtype=torch.float64) + torch.tensor([1.0, -1.0, 0.2],
                                                                             dtype=torch.float64)[labels], labels)
        for name, (scores, labels) in cases.items():
            given = (scores.clone(), labels.clone())
            got = fn(*given)
            _unchanged(name, given, (scores, labels))
            expected = metrics.pairwise_auroc(scores, labels)
            got_t = torch.as_tensor(got, dtype=torch.float64)
            hint = (" (A[i, j] takes class i as the positives and class j as the negatives; the diagonal is 0.5; "
                    "every off-diagonal entry is filled; tied pairs count 1/2)")
            if got_t.shape == expected.shape and torch.allclose(got_t, expected.T, atol=1e-6, rtol=0):
                hint = " (your matrix is the transpose: row i should be class i as the positives)"
            try:
                close_tensors(f"the pairwise AUROC matrix of {name}", got_t, expected, atol=1e-6)
            except AssertionError as err:
                raise AssertionError(f"{err}{hint}") from None
    return run_check("pairwise AUROC between classes", attempt)


# ---- shifting scores to a reference class ----------------------------------------------------------------

def _skewed_scores(g: torch.Generator, labels: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Exponential (skewed) noise around each class's centre, so a class's mean and median differ."""
    noise = torch.empty(len(labels), dtype=torch.float64).exponential_(generator=g)
    return centres[labels] + 0.8 * noise


def check_shift_scores(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(scores, labels, reference)`` gets scores (N,), integer labels (N,) and a class ``reference``, and
    must return all the scores shifted by one common amount so that the reference class's MEAN score is 0:
    scores - mean(scores[labels == reference]), a new tensor of shape (N,) (the input is left as it is).
    A critic's scores are defined only up to such a constant, so this puts the classes on a common scale."""
    from . import run_check

    def attempt() -> None:
        g = torch.Generator().manual_seed(120)
        centres = torch.tensor([-3.0, 0.5, -1.0, 2.0, -0.2], dtype=torch.float64)
        labels = _interleaved_labels(g, [14, 10, 18, 9, 12])
        scores = _skewed_scores(g, labels, centres)
        cases = [(f"5 classes, reference class {r}", scores, labels, r) for r in (0, 3)]
        labels = _interleaved_labels(g, [8, 8, 8])
        cases.append(("3 classes whose scores are all positive, reference class 1",
                      10.0 + _skewed_scores(g, labels, centres[:3]), labels, 1))
        for name, scores, labels, ref in cases:
            given = (scores.clone(), labels.clone())
            got = fn(given[0], given[1], ref)
            _unchanged(name, given, (scores, labels))
            expected = scores - scores[labels == ref].mean()
            got_t = torch.as_tensor(got, dtype=torch.float64)
            if got_t.shape != expected.shape:
                raise AssertionError(f"{name}: expected {len(expected)} shifted scores, shape {tuple(expected.shape)}, "
                                     f"got shape {tuple(got_t.shape)}")
            ref_mean = got_t[labels == ref].mean().item()
            if not abs(ref_mean) <= 1e-6:
                raise AssertionError(f"{name}: after the shift the reference class's scores should average 0, "
                                     f"yours average {ref_mean:.6g} (subtract the mean of the reference class's "
                                     "scores, not the overall mean or the median, and do not divide)")
            moved = got_t - scores
            if not (moved - moved[0]).abs().max().item() <= 1e-6:
                raise AssertionError(f"{name}: the reference class averages 0, but the scores did not all move "
                                     "by the same amount: subtract one number from every score, whatever its "
                                     "class, so that differences between scores are kept")
            close_tensors(f"the shifted scores of {name}", got_t, expected, atol=1e-6)
    return run_check("scores shifted to a reference class", attempt)


# ---- rank consistency across retrains -----------------------------------------------------------------

def check_rank_consistency(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], float]) -> bool:
    """``fn(scores_a, scores_b, labels)`` gets the scores (N,) that two retrained critics give the same test
    images, and the images' integer labels (N,) in 0..C-1, and must return Spearman's rho between the two
    retrains' class mean scores: the C means of each retrain, ranked (equal means share their average rank),
    and the Pearson correlation of the two rank vectors (``metrics.rank_correlation`` of the means)."""
    from . import run_check

    hint = (" (average each class's scores first, one mean per class and retrain; then correlate the ranks of "
            "the means, not the means themselves; equal means share their average rank)")

    def attempt() -> None:
        g = torch.Generator().manual_seed(130)
        f64 = torch.float64
        cases = {}
        labels = _interleaved_labels(g, [12] * 10)
        level = torch.linspace(-2.0, 2.0, 10, dtype=f64)[torch.randperm(10, generator=g)]
        a = level[labels] + 1.5 * torch.randn(len(labels), generator=g, dtype=f64)
        b = torch.exp(1.5 * level[labels]) + 3.0 * torch.randn(len(labels), generator=g, dtype=f64)
        cases["10 classes, 12 images each, the second retrain on another scale"] = (a, b, labels)
        # scores on a grid of 1/8 so that some class means are exactly equal (ties)
        labels = _interleaved_labels(g, [4] * 7)
        base = torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 5.0], dtype=f64)
        a = base[labels] + torch.randint(-4, 5, (len(labels),), generator=g).to(f64) / 8
        means_b = torch.tensor([0.5, 0.0, 2.0, 2.0, 6.0, 2.0, 4.0], dtype=f64)
        b = means_b[labels].clone()
        for c in range(7):                                  # spread each class's scores, keeping its mean
            idx = torch.nonzero(labels == c).flatten()
            b[idx] += torch.tensor([0.25, -0.25, 0.125, -0.125], dtype=f64)
        cases["7 classes, 4 images each, some class means tied"] = (a, b, labels)
        for name, (a, b, labels) in cases.items():
            given = (a.clone(), b.clone(), labels.clone())
            got = fn(*given)
            _unchanged(name, given, (a, b, labels))
            n = int(labels.max()) + 1
            means = [torch.stack([s[labels == c].mean() for c in range(n)]) for s in (a, b)]
            close(f"Spearman's rho between the class means of {name}", got, metrics.rank_correlation(*means),
                  atol=1e-6, hint=hint)
    return run_check("rank consistency of class means across retrains", attempt)
