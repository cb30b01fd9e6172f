"""gan_lab.scoring (a critic's scores of labelled test classes) and the ridge plot that draws them
(plots.ridge), against brute-force definitions."""
import itertools
import math
import re
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PolyCollection

from gan_lab import convnets, data, metrics, plots, scoring


class Affine(torch.nn.Module):
    """f(x) = mean of the pixels times a, plus b: an easy critic whose scores are known exactly."""

    def __init__(self, a=2.0, b=-1.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a))
        self.b = b
        self.batches = []

    def forward(self, x):
        self.batches.append(len(x))
        return self.a * x.mean(dim=(1, 2, 3)) + self.b


def labelled_scores(seed=0, n_classes=4, n=30, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(n)[torch.randperm(n_classes * n, generator=g)]
    scores = labels.double() * spread + torch.randn(len(labels), generator=g, dtype=torch.float64)
    return scores, labels


# ---- score ---------------------------------------------------------------------------------------------

def test_score_is_the_critic_on_every_image_whatever_the_batch_size():
    x = torch.randn(23, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    f = Affine()
    s = scoring.score(f, x, batch_size=5)
    assert s.dtype == torch.float64 and s.shape == (23,)
    assert f.batches == [5, 5, 5, 5, 3]                       # chunks of batch_size, the last one shorter
    torch.testing.assert_close(s, (2.0 * x.mean(dim=(1, 2, 3)) - 1.0).double())
    torch.testing.assert_close(scoring.score(f, x, batch_size=100), s)


def test_score_of_a_conv_critic_matches_one_forward_pass_and_keeps_its_mode():
    torch.manual_seed(0)
    critic = convnets.Critic(16, 8)
    critic.train()
    x = torch.rand(30, 3, 16, 16) * 2 - 1
    s = scoring.score(critic, x, batch_size=7)
    with torch.no_grad():
        torch.testing.assert_close(s, critic(x).double(), atol=1e-5, rtol=1e-5)
    assert critic.training and not s.requires_grad


@pytest.mark.parametrize("kwargs, match", [(dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
                                           (dict(batch_size=2.0), "batch_size must be an integer >= 1, got 2.0"),
                                           (dict(batch_size=True), "batch_size must be an integer >= 1, got True")])
def test_score_rejects_bad_batch_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scoring.score(Affine(), torch.zeros(2, 3, 4, 4), **kwargs)


def test_score_rejects_non_images():
    with pytest.raises(ValueError, match="tensor of images"):
        scoring.score(Affine(), torch.zeros(2, 3))


# ---- ScoreLog ------------------------------------------------------------------------------------------

def test_score_log_scores_at_every_kth_step_and_at_the_milestones():
    x = torch.randn(6, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    f = Affine()
    log = scoring.ScoreLog(x, every=4, at=[3, 10], samples_at=[10], n_samples=2)
    history = {"step": []}
    drawn = []

    def sample(n, seed):
        drawn.append((n, seed))
        return torch.zeros(n, 3, 4, 4)

    result = SimpleNamespace(history=history, critic=f, sample=sample)
    for step in range(1, 11):
        history["step"].append(step)
        log(result)
    assert sorted(log.scores) == [3, 4, 8, 10]
    assert list(log.samples) == [10] and drawn == [(2, 1234)]
    torch.testing.assert_close(log.scores[8], scoring.score(f, x))


@pytest.mark.parametrize("kwargs, match", [
    (dict(every=0), "every must be an integer >= 1, got 0"),
    (dict(every=2.0), "every must be an integer >= 1, got 2.0"),
    (dict(every=2, n_samples=True), "n_samples must be an integer >= 1, got True"),
    (dict(every=2, sample_seed=-1), "sample_seed must be an integer >= 0, got -1"),
    (dict(every=2, sample_seed="7"), "sample_seed must be an integer >= 0, got '7'"),
])
def test_score_log_refuses_bad_counts_and_seeds_when_built_before_any_training(kwargs, match):
    with pytest.raises(ValueError, match=match):
        scoring.ScoreLog(torch.zeros(2, 3, 4, 4), **kwargs)


def test_numpy_integer_batch_sizes_and_counts_are_taken_as_ints():
    x = torch.randn(9, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    f = Affine()
    assert torch.equal(scoring.score(f, x, batch_size=np.int64(4)), scoring.score(f, x, batch_size=4))
    log = scoring.ScoreLog(x, every=np.int64(3), n_samples=np.int32(2))
    assert type(log.every) is int and type(log.n_samples) is int and (log.every, log.n_samples) == (3, 2)


def test_score_log_during_a_real_run_gives_the_final_critics_scores():
    from gan_lab import images
    x = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 8, size=16, seed=0)[0])
    log = scoring.ScoreLog(x, every=2, at=[3])
    result = images.train_images(x, size=16, width=8, batch_size=8, steps=3, log_every=1, snapshots=4,
                                 progress=False, device="cpu", on_log=log)
    assert sorted(log.scores) == [2, 3]
    assert torch.equal(log.scores[3], scoring.score(result.critic, x))
    assert not torch.equal(log.scores[2], log.scores[3])        # the critic moved between the two logs


# ---- shift, class_means --------------------------------------------------------------------------------

def test_shift_puts_the_reference_class_mean_at_zero_and_keeps_the_differences():
    scores, labels = labelled_scores(2)
    before = scores.clone()
    for reference in range(4):
        moved = scoring.shift(scores, labels, reference)
        assert abs(moved[labels == reference].mean().item()) < 1e-12
        torch.testing.assert_close(moved - moved[0], scores - scores[0])
    assert torch.equal(scores, before)                            # a new tensor, input untouched


def test_shift_uses_the_mean_not_the_median():
    scores = torch.tensor([0.0, 0.0, 9.0, 5.0], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1])
    assert scoring.shift(scores, labels, 0).tolist() == [-3.0, -3.0, 6.0, 2.0]


def test_class_means_match_a_loop_and_accept_numpy_and_columns():
    scores, labels = labelled_scores(3, n_classes=5, n=7)
    expected = torch.stack([scores[labels == c].mean() for c in range(5)])
    torch.testing.assert_close(scoring.class_means(scores, labels), expected)
    torch.testing.assert_close(scoring.class_means(scores[:, None].numpy(), labels.numpy()), expected)


@pytest.mark.parametrize("call, match", [
    (lambda: scoring.class_means(torch.ones(3), torch.tensor([0, 2, 2])), r"classes \[1\] have no scores"),
    (lambda: scoring.class_means(torch.ones(3), torch.tensor([0, 1, 1]), n_classes=3), r"classes \[2\]"),
    (lambda: scoring.class_means(torch.ones(3), torch.tensor([0, 1])), "one entry per score"),
    (lambda: scoring.class_means(torch.ones(2), torch.tensor([0.0, 1.0])), "integers"),
    (lambda: scoring.class_means(torch.ones(2), torch.tensor([0, 1]), n_classes=True), "n_classes must be an integer >= 1, got True"),
    (lambda: scoring.class_means(torch.ones(2), torch.tensor([0, 1]), n_classes=2.0), "n_classes must be an integer >= 1, got 2.0"),
    (lambda: scoring.shift(torch.ones(2), torch.tensor([0, 1]), 3), "class 3 has no scores"),
    (lambda: scoring.shift(torch.ones(2), torch.tensor([0, -1])), "non-negative"),
])
def test_bad_labels_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- one-feature pairs and what reads them ---------------------------------------------------------------

def test_the_book_tables_have_ten_one_feature_pairs():
    pairs = scoring.one_feature_pairs(data.SHAPES_TEST, data.SHAPES_TRAIN)
    assert len(pairs) == 10
    by_feature = {f: sorted((p.test, p.train) for p in pairs if p.feature == f) for f in ("shape", "colour", "noise")}
    # the swaps (8: square of colour B, 9: circle of colour A) are one feature from both training classes
    assert by_feature == {"shape": [(2, 0), (3, 1), (8, 1), (9, 0)], "colour": [(4, 0), (5, 1), (8, 0), (9, 1)],
                          "noise": [(6, 0), (7, 1)]}
    for p in pairs:
        assert data.SHAPES_TEST[p.test].differs_from(data.SHAPES_TRAIN[p.train]) == (p.feature,)
    # T0 and T1 themselves are zero features away, so they are in no pair
    assert not any(p.test in (0, 1) for p in pairs)


def test_pair_aurocs_read_the_training_class_row_of_the_auroc_matrix():
    scores, labels = labelled_scores(4, n_classes=3, spread=0.5)
    pairs = [scoring.OneFeaturePair("noise", 2, 0), scoring.OneFeaturePair("shape", 1, 0)]
    A = metrics.pairwise_auroc(scores, labels)
    got = scoring.pair_aurocs(scores, labels, pairs)
    assert got == {pairs[0]: A[0, 2].item(), pairs[1]: A[0, 1].item()}
    # classes grow with the label, so the training class 0 is *below* them: AUROC < 0.5
    assert all(a < 0.5 for a in got.values())
    assert scoring.lowest_auroc(scores, labels, pairs) == min(got.values())
    with pytest.raises(ValueError, match="empty"):
        scoring.lowest_auroc(scores, labels, [])


def _separated(step_order):
    """Scores of class 0 (training) and class 1 (one feature away): class 0 above class 1 when True."""
    labels = torch.tensor([0, 0, 1, 1])
    return {step: torch.tensor([1.0, 1.1, 0.0, 0.1] if up else [0.0, 0.1, 1.0, 1.1], dtype=torch.float64)
            for step, up in step_order}, labels


def test_settled_step_is_the_start_of_the_last_unbroken_run_above_the_level():
    pairs = [scoring.OneFeaturePair("shape", 1, 0)]
    scores, labels = _separated([(5, True), (10, False), (15, True), (20, True), (25, True)])
    assert scoring.settled_step(scores, labels, pairs) == 15
    scores, labels = _separated([(20, True), (5, True), (10, True)])        # order of the dict does not matter
    assert scoring.settled_step(scores, labels, pairs) == 5
    scores, labels = _separated([(5, True), (10, False)])
    assert scoring.settled_step(scores, labels, pairs) is None


def test_feature_drops_are_mean_gaps_over_the_spread_of_the_means():
    means = torch.tensor([0.0, 1.0, -2.0, -4.0], dtype=torch.float64)
    pairs = [scoring.OneFeaturePair("noise", 2, 0), scoring.OneFeaturePair("shape", 3, 1),
             scoring.OneFeaturePair("noise", 3, 0)]
    sd = means.std().item()
    drops = scoring.feature_drops(means, pairs)
    assert list(drops) == ["noise", "shape"]
    assert drops["noise"] == pytest.approx([2.0 / sd, 4.0 / sd]) and drops["shape"] == pytest.approx([5.0 / sd])
    # invariant under an affine map with a positive slope (another critic's scale and offset)
    moved = scoring.feature_drops(3 * means + 7, pairs)
    assert all(moved[f] == pytest.approx(drops[f]) for f in drops)
    with pytest.raises(ValueError, match="spread is 0"):
        scoring.feature_drops(torch.ones(4), pairs)


def test_separated_fraction_counts_pairs_near_zero_or_one():
    # classes 0 and 1 overlap completely, class 2 is far above both: 2 of the 3 pairs are separated
    scores = torch.tensor([0.0, 1.0, 0.0, 1.0, 9.0, 9.5], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert scoring.separated_fraction(scores, labels) == pytest.approx(2 / 3)
    # with margin 0 only AUROCs of exactly 0 or 1 count: still the two pairs with class 2
    assert scoring.separated_fraction(scores, labels, margin=0.0) == pytest.approx(2 / 3)
    scores, labels = labelled_scores(5, n_classes=5, spread=3.0)
    A = metrics.pairwise_auroc(scores, labels)
    brute = np.mean([abs(A[i, j].item() - 0.5) >= 0.45 for i, j in itertools.combinations(range(5), 2)])
    assert scoring.separated_fraction(scores, labels) == pytest.approx(brute)
    for bad in (0.5, -0.1, math.nan, True, "0.1"):
        with pytest.raises(ValueError, match=re.escape(f"margin must be a finite number in [0.0, 0.5), got {bad!r}")):
            scoring.separated_fraction(scores, labels, margin=bad)


# ---- plots.ridge ---------------------------------------------------------------------------------------

@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_ridge_draws_one_row_per_class_sorted_by_mean_with_a_tick_at_each_mean(ax):
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([2.0, -1.0, 5.0, 0.5], dtype=torch.float64)
    labels = torch.arange(4).repeat(25)
    scores = centres[labels] + 0.1 * torch.randn(100, generator=g, dtype=torch.float64)
    names = ["a", "b", "c", "d"]
    assert plots.ridge(ax, scores, labels, names=names, colors=["r", "g", "b", "k"], bins=20, title="t") is ax
    order = [1, 3, 0, 2]                                                   # by mean, lowest first
    assert [t.get_text() for t in ax.get_yticklabels()] == [names[c] for c in order]
    fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(fills) == 4
    # row r is filled between r and r + 0.9: the peak of each histogram reaches 0.9 of a row
    for row, poly in enumerate(fills):
        y = poly.get_paths()[0].vertices[:, 1]
        assert y.min() == pytest.approx(row) and y.max() == pytest.approx(row + 0.9)
    ticks = [line for line in ax.lines if line.get_color() == "k"]
    means = scoring.class_means(scores, labels)
    assert [line.get_xdata()[0] for line in ticks] == pytest.approx(means[order].tolist())
    assert ax.get_title() == "t"


def test_ridge_refuses_mismatched_input(ax):
    with pytest.raises(ValueError, match="one length"):
        plots.ridge(ax, torch.zeros(3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"classes \[1\] have no scores"):
        plots.ridge(ax, torch.zeros(2), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="one entry per class"):
        plots.ridge(ax, torch.zeros(2), torch.tensor([0, 1]), names=["only one"])


@pytest.mark.parametrize("bad", [None, {"scores": {}}, {"scores": {"2": torch.zeros(3)}, "samples": {}},
                                 {"scores": {2: [1.0]}, "samples": {}}])
def test_score_log_refuses_a_state_that_is_not_its_own(bad):
    log = scoring.ScoreLog(torch.zeros(3, 3, 8, 8), every=1)
    with pytest.raises(ValueError, match="ScoreLog state"):
        log.load_state_dict(bad)
    assert log.scores == {} and log.samples == {}


def test_score_log_state_is_a_copy_that_round_trips():
    log = scoring.ScoreLog(torch.zeros(3, 3, 8, 8), every=1)
    log.scores[2] = torch.arange(3.0)
    state = log.state_dict()
    log.scores[2][0] = 99.0                     # later changes do not reach a saved state
    other = scoring.ScoreLog(torch.zeros(3, 3, 8, 8), every=1)
    other.load_state_dict(state)
    assert torch.equal(other.scores[2], torch.arange(3.0)) and other.samples == {}
