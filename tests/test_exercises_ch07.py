"""gan_lab.exercises.ch07: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import numpy as np
import pytest
import scipy.stats
import torch

from gan_lab import metrics
from gan_lab.exercises import ch07


# ---- reference answers and planted mistakes -----------------------------------------------------------

def auroc(pos, neg):
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).double() + 0.5 * (diff == 0).double()).mean().item()


def auroc_by_ranks(pos, neg):
    """Mann-Whitney with scipy's average ranks."""
    ranks = scipy.stats.rankdata(np.concatenate([pos.numpy(), neg.numpy()]))
    n, m = len(pos), len(neg)
    return (ranks[:n].sum() - n * (n + 1) / 2) / (n * m)


def auroc_ties_ignored(pos, neg):
    return (pos[:, None] > neg[None, :]).double().mean().item()


def auroc_ties_win(pos, neg):
    return (pos[:, None] >= neg[None, :]).double().mean().item()


def auroc_roles_swapped(pos, neg):
    return auroc(neg, pos)


def auroc_mann_whitney_wrong_count(pos, neg):
    """Subtracts n_-(n_- + 1)/2 from the positives' rank sum."""
    ranks = scipy.stats.rankdata(np.concatenate([pos.numpy(), neg.numpy()]))
    n, m = len(pos), len(neg)
    return (ranks[:n].sum() - m * (m + 1) / 2) / (n * m)


def auroc_ranks_without_tie_averaging(pos, neg):
    ranks = scipy.stats.rankdata(np.concatenate([pos.numpy(), neg.numpy()]), method="ordinal")
    n, m = len(pos), len(neg)
    return (ranks[:n].sum() - n * (n + 1) / 2) / (n * m)


def auroc_divided_by_all_points(pos, neg):
    diff = pos[:, None] - neg[None, :]
    return (((diff > 0).double() + 0.5 * (diff == 0).double()).sum() / (len(pos) + len(neg))).item()


def pairwise(scores, labels):
    n = int(labels.max()) + 1
    return torch.tensor([[auroc(scores[labels == i], scores[labels == j]) for j in range(n)] for i in range(n)])


def pairwise_transposed(scores, labels):
    return pairwise(scores, labels).T


def pairwise_upper_triangle_only(scores, labels):
    return torch.triu(pairwise(scores, labels))


def pairwise_zero_diagonal(scores, labels):
    out = pairwise(scores, labels)
    out.fill_diagonal_(0.0)
    return out


def pairwise_ties_ignored(scores, labels):
    n = int(labels.max()) + 1
    return torch.tensor([[auroc_ties_ignored(scores[labels == i], scores[labels == j]) for j in range(n)]
                         for i in range(n)])


def shift(scores, labels, reference):
    return scores - scores[labels == reference].mean()


def shift_divided(scores, labels, reference):
    return scores / scores[labels == reference].mean()


def shift_by_overall_mean(scores, labels, reference):
    return scores - scores.mean()


def shift_by_median(scores, labels, reference):
    return scores - scores[labels == reference].median()


def shift_reference_class_only(scores, labels, reference):
    out = scores.clone()
    out[labels == reference] -= scores[labels == reference].mean()
    return out


def shift_each_class_to_zero(scores, labels, reference):
    """Centres every class on its own mean, which erases the differences between classes."""
    out = scores.clone()
    for c in labels.unique():
        out[labels == c] -= scores[labels == c].mean()
    return out


def shift_always_class_zero(scores, labels, reference):
    return scores - scores[labels == 0].mean()


def shift_in_place(scores, labels, reference):
    scores -= scores[labels == reference].mean()
    return scores


def _class_means(scores, labels):
    return torch.stack([scores[labels == c].mean() for c in range(int(labels.max()) + 1)])


def spearman(scores_a, scores_b, labels):
    a, b = _class_means(scores_a, labels).numpy(), _class_means(scores_b, labels).numpy()
    return scipy.stats.spearmanr(a, b).statistic


def spearman_of_pearson(scores_a, scores_b, labels):
    a, b = _class_means(scores_a, labels).numpy(), _class_means(scores_b, labels).numpy()
    return scipy.stats.pearsonr(a, b).statistic


def spearman_ranks_without_tie_averaging(scores_a, scores_b, labels):
    a, b = _class_means(scores_a, labels), _class_means(scores_b, labels)
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    return torch.corrcoef(torch.stack([ra, rb]))[0, 1].item()


def spearman_argsort_once(scores_a, scores_b, labels):
    """argsort gives the order of the classes, not their ranks."""
    a, b = _class_means(scores_a, labels), _class_means(scores_b, labels)
    return torch.corrcoef(torch.stack([a.argsort().double(), b.argsort().double()]))[0, 1].item()


def spearman_no_ties_formula(scores_a, scores_b, labels):
    """1 - 6 sum d^2 / (n (n^2 - 1)) with average ranks: exact only without ties."""
    ra = scipy.stats.rankdata(_class_means(scores_a, labels).numpy())
    rb = scipy.stats.rankdata(_class_means(scores_b, labels).numpy())
    n = len(ra)
    return 1 - 6 * ((ra - rb) ** 2).sum() / (n * (n * n - 1))


def spearman_of_the_images(scores_a, scores_b, labels):
    """Correlates the two retrains image by image instead of class by class."""
    return scipy.stats.spearmanr(scores_a.numpy(), scores_b.numpy()).statistic


CHECKS = {
    "auroc": (ch07.check_auroc, auroc,
              [auroc_ties_ignored, auroc_ties_win, auroc_roles_swapped, auroc_mann_whitney_wrong_count,
               auroc_ranks_without_tie_averaging, auroc_divided_by_all_points]),
    "pairwise auroc": (ch07.check_pairwise_auroc, pairwise,
                       [pairwise_transposed, pairwise_upper_triangle_only, pairwise_zero_diagonal,
                        pairwise_ties_ignored]),
    "shift scores": (ch07.check_shift_scores, shift,
                     [shift_divided, shift_by_overall_mean, shift_by_median, shift_reference_class_only,
                      shift_each_class_to_zero, shift_always_class_zero, shift_in_place]),
    "rank consistency": (ch07.check_rank_consistency, spearman,
                         [spearman_of_pearson, spearman_ranks_without_tie_averaging, spearman_argsort_once,
                          spearman_no_ties_formula, spearman_of_the_images]),
}


# ---- the checks' inputs test what they claim to --------------------------------------------------------

def test_the_tie_case_of_the_rank_check_has_tied_class_means():
    g = torch.Generator().manual_seed(0)
    assert ch07._interleaved_labels(g, [3, 2]).tolist() != [0, 0, 0, 1, 1]
    # the check's second case: three classes of the second retrain share the mean 2.0 exactly
    captured = []
    ch07.check_rank_consistency(lambda a, b, labels: captured.append((a, b, labels)) or spearman(a, b, labels))
    a, b, labels = captured[1]
    means = _class_means(b, labels)
    assert (means == 2.0).sum().item() == 3
    assert spearman_no_ties_formula(a, b, labels) != pytest.approx(spearman(a, b, labels), abs=1e-6)


# ---- correct variants pass, wrong ones say what differed ----------------------------------------------------

def test_other_correct_forms_pass():
    assert ch07.check_auroc(auroc_by_ranks) is True
    assert ch07.check_auroc(metrics.auroc) is True
    assert ch07.check_pairwise_auroc(metrics.pairwise_auroc) is True
    assert ch07.check_shift_scores(lambda s, l, r: (s - s[l == r].mean()).numpy()) is True
    assert ch07.check_rank_consistency(
        lambda a, b, labels: metrics.rank_correlation(_class_means(a, labels), _class_means(b, labels))) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="roles are swapped"):
        ch07.check_auroc(auroc_roles_swapped)
    with pytest.raises(AssertionError, match="many ties.*tied pair counts 1/2"):
        ch07.check_auroc(auroc_ties_ignored)
    with pytest.raises(AssertionError, match="transpose"):
        ch07.check_pairwise_auroc(pairwise_transposed)
    with pytest.raises(AssertionError, match="diagonal is 0.5"):
        ch07.check_pairwise_auroc(pairwise_zero_diagonal)
    with pytest.raises(AssertionError, match="reference class 0: .*average 0.*not the overall mean or the median"):
        ch07.check_shift_scores(shift_by_median)
    with pytest.raises(AssertionError, match="reference class 3: .*average 0"):
        ch07.check_shift_scores(shift_always_class_zero)
    with pytest.raises(AssertionError, match="same amount"):
        ch07.check_shift_scores(shift_reference_class_only)
    with pytest.raises(AssertionError, match="modified its input"):
        ch07.check_shift_scores(shift_in_place)
    with pytest.raises(AssertionError, match="10 classes.*ranks of the means"):
        ch07.check_rank_consistency(spearman_of_pearson)
    with pytest.raises(AssertionError, match="tied.*share their average rank"):
        ch07.check_rank_consistency(spearman_ranks_without_tie_averaging)
