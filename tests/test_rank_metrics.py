"""gan_lab.metrics rank metrics: auroc, pairwise_auroc and rank_correlation against brute-force counts."""
import itertools
import math

import numpy as np
import pytest
import torch

from gan_lab import metrics


def brute_auroc(pos, neg):
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def brute_ranks(x):
    """Average ranks by definition: 1 + #smaller + (#equal - 1) / 2."""
    x = np.asarray(x, float)
    return np.array([1 + (x < v).sum() + ((x == v).sum() - 1) / 2 for v in x])


def brute_spearman(a, b):
    r, q = brute_ranks(a), brute_ranks(b)
    return np.corrcoef(r, q)[0, 1]


# ---- auroc ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_auroc_equals_the_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    # integer scores on a small range: many ties within and between the groups
    pos = rng.integers(0, 8, size=rng.integers(1, 60)) + (seed % 3)
    neg = rng.integers(0, 8, size=rng.integers(1, 60))
    assert metrics.auroc(pos, neg) == pytest.approx(brute_auroc(pos, neg), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_auroc_of_continuous_scores_and_tensor_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    pos, neg = torch.randn(70, generator=g) + 0.7, torch.randn(40, generator=g)
    expected = brute_auroc(pos.numpy(), neg.numpy())
    assert metrics.auroc(pos, neg) == pytest.approx(expected, abs=1e-12)
    # a critic's (n, 1) output column is accepted as is
    assert metrics.auroc(pos[:, None], neg[:, None]) == pytest.approx(expected, abs=1e-12)


def test_auroc_extremes_and_chance():
    assert metrics.auroc([3.0, 4.0, 5.0], [0.0, 1.0, 2.9]) == 1.0
    assert metrics.auroc([0.0, 1.0], [2.0, 3.0, 4.0]) == 0.0
    x = np.random.default_rng(0).normal(size=50)
    assert metrics.auroc(x, x) == 0.5                     # identical samples: every comparison is a tie...
    assert metrics.auroc(x, x.copy()) == 0.5
    assert metrics.auroc([1.0] * 5, [1.0] * 9) == 0.5     # ...or all ties
    assert metrics.auroc([1.0, 2.0], [1.0]) == 0.75       # one tie (1/2) and one win (1) out of 2


@pytest.mark.parametrize("seed", range(3))
def test_auroc_is_antisymmetric_and_invariant_under_monotone_maps(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=45).round(1), rng.normal(0.3, size=33).round(1)
    assert metrics.auroc(a, b) == pytest.approx(1 - metrics.auroc(b, a), abs=1e-12)
    assert metrics.auroc(np.exp(a), np.exp(b)) == pytest.approx(metrics.auroc(a, b), abs=1e-12)
    assert metrics.auroc(-a, -b) == pytest.approx(metrics.auroc(b, a), abs=1e-12)


def test_auroc_is_fast_on_large_samples():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1.0, size=200_000), rng.normal(size=150_000)
    # two unit Gaussians a distance 1 apart: AUROC = Phi(1 / sqrt(2))
    assert metrics.auroc(pos, neg) == pytest.approx(0.5 * (1 + math.erf(0.5)), abs=3e-3)


@pytest.mark.parametrize("bad, match", [
    (([], [1.0]), "positive_scores must be a non-empty"),
    (([1.0], np.zeros((0,))), "negative_scores must be a non-empty"),
    (([1.0, float("nan")], [1.0]), "positive_scores contains NaN"),
    (([1.0], [float("inf")]), "negative_scores contains NaN or Inf"),
    ((np.zeros((3, 2)), [1.0]), r"shape \(3, 2\)"),
])
def test_auroc_rejects_bad_scores(bad, match):
    with pytest.raises(ValueError, match=match):
        metrics.auroc(*bad)


# ---- pairwise_auroc ------------------------------------------------------------------------------------

def test_pairwise_auroc_matches_auroc_per_pair_and_is_complementary():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=200)
    scores = (labels * 0.4 + rng.normal(size=200)).round(1)
    A = metrics.pairwise_auroc(torch.tensor(scores), torch.tensor(labels))
    assert A.shape == (4, 4) and A.dtype == torch.float64
    for i, j in itertools.product(range(4), repeat=2):
        if i == j:
            assert A[i, j] == 0.5
        else:
            assert A[i, j].item() == pytest.approx(brute_auroc(scores[labels == i], scores[labels == j]), abs=1e-12)
    assert torch.allclose(A + A.T, torch.ones(4, 4, dtype=torch.float64))
    # scores grow with the label, so a higher class beats a lower one
    assert (A[torch.triu_indices(4, 4, 1).unbind()] < 0.5).all()


def test_pairwise_auroc_of_separated_classes_and_explicit_n_classes():
    scores = [0.0, 0.1, 5.0, 5.2, 9.0]
    labels = [0, 0, 1, 1, 2]
    A = metrics.pairwise_auroc(scores, labels, n_classes=3)
    expected = torch.tensor([[0.5, 0.0, 0.0], [1.0, 0.5, 0.0], [1.0, 1.0, 0.5]], dtype=torch.float64)
    assert torch.equal(A, expected)


@pytest.mark.parametrize("scores, labels, n_classes, match", [
    ([1.0, 2.0], [0], None, "one entry per score"),
    ([1.0, 2.0], [0.0, 1.0], None, "labels must be integers"),
    ([1.0, 2.0], [0, -1], None, "non-negative"),
    ([1.0, 2.0], [0, 2], None, r"classes \[1\] have no scores"),
    ([1.0, 2.0], [0, 1], 3, r"classes \[2\] have no scores"),
    ([1.0, 2.0], [0, 3], 2, "out of range for n_classes=2"),
    ([1.0, 2.0], [0, 1], 0, "n_classes must be an integer >= 1, got 0"),
    ([1.0, 2.0], [0, 1], True, "n_classes must be an integer >= 1, got True"),
    ([1.0, 2.0], [0, 1], 2.0, "n_classes must be an integer >= 1, got 2.0"),
    ([1.0, float("nan")], [0, 1], None, "scores contains NaN"),
])
def test_pairwise_auroc_rejects_bad_input(scores, labels, n_classes, match):
    with pytest.raises(ValueError, match=match):
        metrics.pairwise_auroc(np.array(scores), np.array(labels), n_classes)


# ---- average_ranks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_average_ranks_match_the_definition_with_ties(seed):
    x = np.random.default_rng(seed).integers(0, 5, size=25).astype(float)
    np.testing.assert_allclose(metrics.average_ranks(x), brute_ranks(x))
    np.testing.assert_allclose(metrics.average_ranks(torch.tensor(x)[:, None]), brute_ranks(x))
    assert metrics.average_ranks(x).sum() == pytest.approx(25 * 26 / 2)     # ties keep the total


def test_average_ranks_known_values():
    assert metrics.average_ranks([3.0, 1.0, 2.0]).tolist() == [3.0, 1.0, 2.0]
    assert metrics.average_ranks([5.0, 1.0, 5.0, 0.0]).tolist() == [3.5, 2.0, 3.5, 1.0]


# ---- rank_correlation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_spearman_equals_the_pearson_correlation_of_brute_force_average_ranks(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, size=40).astype(float)        # heavy ties
    b = a + rng.integers(-3, 4, size=40)
    assert metrics.rank_correlation(a, b) == pytest.approx(brute_spearman(a, b), abs=1e-12)


def test_spearman_without_ties_matches_the_textbook_formula():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=30), rng.normal(size=30)
    r, q = brute_ranks(a), brute_ranks(b)
    n = len(a)
    expected = 1 - 6 * ((r - q) ** 2).sum() / (n * (n * n - 1))
    assert metrics.rank_correlation(a, b) == pytest.approx(expected, abs=1e-12)


def test_spearman_known_values():
    assert metrics.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1,2,3,4,5) vs (2,1,4,3,5): sum d^2 = 4, rho = 1 - 24/120 = 0.8
    assert metrics.rank_correlation([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    # ties: a ranks (1.5, 1.5, 3), b ranks (1, 2, 3) -> Pearson of those = sqrt(3)/2
    assert metrics.rank_correlation([0, 0, 1], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)


def test_spearman_is_invariant_under_increasing_maps_and_flips_under_decreasing():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=50), rng.normal(size=50) + rng.normal(size=50)
    rho = metrics.rank_correlation(a, b)
    assert metrics.rank_correlation(np.exp(a), b ** 3) == pytest.approx(rho, abs=1e-12)
    assert metrics.rank_correlation(torch.tensor(a), torch.tensor(b)) == pytest.approx(rho, abs=1e-12)
    assert metrics.rank_correlation(-a, b) == pytest.approx(-rho, abs=1e-12)
    assert metrics.rank_correlation(a, b) == pytest.approx(metrics.rank_correlation(b, a), abs=1e-12)


@pytest.mark.parametrize("a, b, match", [
    ([1.0, 2.0], [1.0], "same length"),
    ([1.0], [2.0], "at least 2 pairs"),
    ([], [], "a must be a non-empty"),
    ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "a is constant"),
    ([1.0, 2.0, 3.0], [5.0, 5.0, 5.0], "b is constant"),
    ([1.0, float("inf")], [1.0, 2.0], "a contains NaN or Inf"),
])
def test_spearman_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        metrics.rank_correlation(a, b)


# ---- rank_correlation_tail -----------------------------------------------------------------------------

def brute_tail(n, rho):
    """P(rho_S >= rho) by listing all n! orders of the second ranking against the identity."""
    hits = 0
    for perm in itertools.permutations(range(n)):
        d = sum((i - v) ** 2 for i, v in enumerate(perm))
        hits += 1 - 6 * d / (n * (n * n - 1)) >= rho - 1e-12
    return hits / math.factorial(n)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_spearman_tail_equals_the_count_over_all_permutations(n):
    for rho in (-1.0, -0.4, 0.0, 0.1, 0.5, 0.8, 0.95, 1.0):
        assert metrics.rank_correlation_tail(n, rho) == pytest.approx(brute_tail(n, rho), abs=1e-12), rho


def test_spearman_tail_known_values_and_symmetry():
    # n = 3: rho takes 1, 1/2, -1/2, -1 for 1, 2, 2, 1 of the 6 orders
    assert metrics.rank_correlation_tail(3, 0.5) == pytest.approx(0.5)
    assert metrics.rank_correlation_tail(3, 0.6) == pytest.approx(1 / 6)
    assert metrics.rank_correlation_tail(10, 1.0) == pytest.approx(1 / math.factorial(10))
    assert metrics.rank_correlation_tail(10, -1.0) == 1.0
    assert metrics.rank_correlation_tail(10, 1.5) == 0.0
    # rho_S is symmetric about 0 (reverse one ranking), so P(rho >= r) = P(rho <= -r) = 1 - P(rho > -r);
    # rho moves in steps of 12 / (n (n^2 - 1)), so P(rho > x) = P(rho >= x + 1e-6)
    for n, r in itertools.product((6, 10), (0.2, 0.5, 0.75, 1 - 12 / 990 * 7)):
        assert metrics.rank_correlation_tail(n, r) == pytest.approx(
            1 - metrics.rank_correlation_tail(n, -r + 1e-6), abs=1e-12), (n, r)


def test_spearman_tail_agrees_with_random_orders_of_ten():
    # the exact tail against 200,000 random permutations (a sampling error of about 2e-4 at p = 0.0075)
    g = torch.Generator().manual_seed(0)
    ranks = torch.argsort(torch.rand(200_000, 10, generator=g), 1).double()
    rho = 1 - 6 * ((ranks - torch.arange(10)) ** 2).sum(1) / (10 * 99)
    exact = metrics.rank_correlation_tail(10, 0.75)
    assert 0.005 < exact < 0.01
    assert abs((rho >= 0.75 - 1e-12).double().mean().item() - exact) < 1e-3


@pytest.mark.parametrize("n, rho, match", [(1, 0.5, "n must be"), (13, 0.5, "n must be"), (3.0, 0.5, "n must be"),
                                           (5, float("nan"), "rho must be"), (5, "0.5", "rho must be")])
def test_spearman_tail_rejects_bad_input(n, rho, match):
    with pytest.raises(ValueError, match=match):
        metrics.rank_correlation_tail(n, rho)


# ---- one class, empty sides, coerced types: refused, never a number (issue 16) ----------------------------

@pytest.mark.parametrize("labels, n_classes", [([0, 0, 0], None), ([0, 0, 0], 1)])
def test_pairwise_auroc_with_a_single_class_refuses_naming_the_class_present(labels, n_classes):
    with pytest.raises(ValueError, match=r"at least two classes.*only class \[%d\]" % labels[0]):
        metrics.pairwise_auroc(np.array([0.1, 0.2, 0.3]), np.array(labels), n_classes)


@pytest.mark.parametrize("pos, neg, match", [
    ([], [1.0, 2.0], "positive_scores must be a non-empty"),
    ([1.0, 2.0], [], "negative_scores must be a non-empty"),
    (["0.5", "0.7"], [0.1], "positive_scores must hold real numbers, got dtype <U3"),
    ([True, False], [0.1], "positive_scores must hold real numbers, got dtype bool"),
    ([1.0], np.array([1 + 2j]), "negative_scores must hold real numbers, got dtype complex128"),
    ([math.nan], [0.1], "positive_scores contains NaN"),
])
def test_auroc_refuses_empty_sides_and_values_it_would_have_to_coerce(pos, neg, match):
    with pytest.raises(ValueError, match=match):
        metrics.auroc(pos, neg)


def test_rank_correlation_refuses_string_numbers_instead_of_parsing_them():
    with pytest.raises(ValueError, match="a must hold real numbers"):
        metrics.rank_correlation(["1", "2", "3"], [1.0, 2.0, 3.0])
