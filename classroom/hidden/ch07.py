"""Hidden tests for chapter 7 (the critic as a classifier): book/07_critic_classifier.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch07``: other seeds, float32 scores, single scores,
scores of zero of both signs, large batches, classes of very different sizes (where class sums and class
means rank differently), two classes only, a reference class that is the last one or holds one image.
"""
from __future__ import annotations

import torch

from gan_lab import metrics, scoring

from . import answer
from .compare import as_float64, call, close, close_tensors, unchanged

__all__ = ["HIDDEN"]

f64 = torch.float64


def _labels(g: torch.Generator, counts: list[int]) -> torch.Tensor:
    """``counts[c]`` labels of class c, shuffled."""
    labels = torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=g)]


def auroc(ns: dict) -> None:
    fn = answer(ns, "auroc")
    g = torch.Generator().manual_seed(1100)
    cases = {
        "one positive against one negative, tied (should be 0.5)": (torch.tensor([1.5], dtype=f64),
                                                                    torch.tensor([1.5], dtype=f64)),
        "one positive above 5 negatives but tied with one (should be 0.9)": (
            torch.tensor([2.0], dtype=f64), torch.tensor([0.0, 1.0, 2.0, -1.0, 1.9], dtype=f64)),
        "scores of 0.0 and -0.0 (equal numbers, so ties)": (torch.tensor([0.0, -0.0, 1.0], dtype=f64),
                                                             torch.tensor([-0.0, 0.0], dtype=f64)),
        "float32 scores, 300 positives against 17 negatives": (
            torch.randn(300, generator=g) + 0.5, torch.randn(17, generator=g)),
        "2000 positives against 1500 negatives rounded to 0.5 (many ties)": (
            torch.round(2 * torch.randn(2000, generator=g, dtype=f64) + 0.4) / 2,
            torch.round(2 * torch.randn(1500, generator=g, dtype=f64)) / 2),
        "positives all above the negatives (should be 1)": (torch.linspace(5, 6, 9, dtype=f64),
                                                            torch.linspace(-1, 4.9, 3, dtype=f64)),
    }
    for name, (pos, neg) in cases.items():
        case = f"the AUROC of {name}"
        given = (pos.clone(), neg.clone())
        got = call(case, fn, *given)
        unchanged(case, given, (pos, neg), "its input scores")
        close(case, got, metrics.auroc(pos, neg), atol=1e-9,
              hint=" (the fraction of the n_+ n_- pairs where the positive is higher, a tie counting 1/2)")


def shift_scores(ns: dict) -> None:
    fn = answer(ns, "shift_scores")
    g = torch.Generator().manual_seed(1101)
    centres = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=f64)
    labels = _labels(g, [20, 7, 1, 13])
    scores = centres[labels] + torch.empty(len(labels), dtype=f64).exponential_(generator=g)
    cases = [("4 classes, reference class 3 (the last)", scores, labels, 3),
             ("4 classes, reference class 2 (a single image)", scores, labels, 2),
             ("4 classes of float32 scores, reference class 1", scores.float(), labels, 1),
             ("scores given with int32 labels, reference class 0", scores, labels.to(torch.int32), 0)]
    for name, s, lab, ref in cases:
        given = (s.clone(), lab.clone())
        got = call(name, fn, given[0], given[1], ref)
        unchanged(name, given, (s, lab), "its input scores or labels")
        expected = scoring.shift(s.double(), lab.long(), ref)
        got_t = as_float64(name, got)
        if tuple(got_t.shape) == tuple(expected.shape):
            ref_mean = got_t[lab.long() == ref].mean().item()
            if abs(ref_mean) > 1e-5:
                raise AssertionError(f"{name}: after the shift the reference class's scores should average 0, "
                                     f"yours average {ref_mean:.6g} (subtract the mean of class `reference`)")
        close_tensors(f"the shifted scores of {name}", got_t, expected, atol=1e-5 if s.dtype == torch.float32 else 1e-9,
                      hint=" (every score minus one number, the mean score of class `reference`)")


def rank_consistency(ns: dict) -> None:
    fn = answer(ns, "rank_consistency")
    g = torch.Generator().manual_seed(1102)
    cases = {}
    labels = _labels(g, [40, 3, 25, 6, 12, 2])
    level = torch.tensor([0.0, 2.0, 1.0, 3.0, -1.0, 4.0], dtype=f64)
    cases["6 classes of very different sizes (3 to 40 images)"] = (
        level[labels] + 0.3 * torch.randn(len(labels), generator=g, dtype=f64),
        -level[labels] ** 2 + 0.3 * torch.randn(len(labels), generator=g, dtype=f64), labels)
    labels = _labels(g, [5, 9])
    cases["2 classes, ranked in opposite order by the two runs (should be -1)"] = (
        torch.where(labels == 0, 1.0, 0.0).to(f64) + 0.01 * torch.randn(14, generator=g, dtype=f64),
        torch.where(labels == 0, -5.0, 5.0).to(f64), labels)
    labels = _labels(g, [2, 4, 6, 2, 4])
    spread = torch.tensor([0.25, -0.25], dtype=f64).repeat(9)          # sums to 0 over each class exactly
    order = torch.argsort(labels, stable=True)
    offsets = torch.empty(18, dtype=f64)
    offsets[order] = spread
    cases["5 classes of unequal sizes whose means tie within each run"] = (
        torch.tensor([0.0, 1.0, 1.0, 2.0, 1.0], dtype=f64)[labels] + offsets,
        torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0], dtype=f64)[labels] - offsets, labels)
    labels = _labels(g, [8, 8, 8, 8, 8])
    cases["5 classes of float32 scores"] = (
        torch.randn(40, generator=g) + labels.float(), torch.randn(40, generator=g) * 2 + labels.float().flip(0), labels)
    for name, (a, b, labels) in cases.items():
        given = (a.clone(), b.clone(), labels.clone())
        got = call(name, fn, *given)
        unchanged(name, given, (a, b, labels), "its input scores or labels")
        means = [scoring.class_means(s.double(), labels) for s in (a, b)]
        close(f"Spearman's rho between the class means of {name}", got, metrics.rank_correlation(*means),
              atol=1e-6, hint=" (the MEAN score of each class, not the sum: classes differ in size; then the "
                              "Pearson correlation of the ranks of the means, ties sharing their average rank)")


def pairwise_auroc(ns: dict) -> None:
    fn = answer(ns, "pairwise_auroc")
    g = torch.Generator().manual_seed(1103)
    cases = {}
    labels = _labels(g, [6, 1, 30, 4, 11, 9])
    cases["6 classes, one of them a single image, with ties"] = (
        torch.round(torch.randn(len(labels), generator=g, dtype=f64) * 2 + labels.to(f64) * 0.5), labels)
    labels = _labels(g, [25, 16])
    cases["2 classes of float32 scores"] = (torch.randn(41, generator=g) + labels.float(), labels)
    for name, (scores, labels) in cases.items():
        given = (scores.clone(), labels.clone())
        got = call(name, fn, *given)
        unchanged(name, given, (scores, labels), "its input scores or labels")
        close_tensors(f"the pairwise AUROC matrix of {name}", got, metrics.pairwise_auroc(scores, labels), atol=1e-6,
                      hint=" (A[i, j]: class i's scores as the positives against class j's as the negatives; "
                           "0.5 on the diagonal; every entry filled)")


HIDDEN = {
    "ch7-ex-auroc": auroc,
    "ch7-ex-shift": shift_scores,
    "ch7-ex-rank": rank_consistency,
    "ch7-ex-pairwise": pairwise_auroc,
}
