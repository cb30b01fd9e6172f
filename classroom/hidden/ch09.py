"""Hidden tests for chapter 9, on its two pages: book/09_conditional.ipynb (conditional GANs) and
book/09_digits_and_codes.ipynb (InfoGAN).

Beyond the visible checks of ``gan_lab.exercises.ch09``: float32 inputs (and the answer in their dtype),
two attributes with K = (2, 5) and every combination present, four attributes with an attribute of one
value and d = 1, a one-row batch, non-contiguous labels; projection scores of one sample, d = 1 and d = 16;
logits of shape (n,) as well as (n, 1) and mixed, one logit per batch, logits of +-5000 in every batch and
all-zero logits (the loss is 2 log 2 there); and every time the gradient with respect to each input.

InfoGAN: the mutual-information bound with K = 2 and K = 10, float32 logits, one sample, a batch whose codes
miss categories (K is the number of columns, not the largest code + 1), +-5000 in every row, a non-contiguous
view, all-zero logits (the bound is 0) and a certain Q (it is log K); the Gaussian NLL with d = 1, d = 5,
one sample, float32, log-stds from -8 to 7 (no clamping), sigma = 1 and codes equal to the means, with the
gradient with respect to mean and log_std each time; the clustering accuracy of a single sample, a constant
prediction (1/K), labels that do not count from 0, fewer and more clusters than labels, a table where
greedy matching loses and a noisy clustering of 7 clusters (every id below 8, so that an answer trying every
permutation stays quick).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from gan_lab import conditional, infogan, losses
from gan_lab.exercises.ch09 import IdentityFeatures

from . import answer
from .compare import call, close, close_tensors, seeded, unchanged

__all__ = ["HIDDEN"]

NOT_CONNECTED = "return a tensor built from the given tensors (no .detach(), .item(), .numpy() or copies)"


def _gradients_match(name: str, got, expected: torch.Tensor, inputs: Sequence[torch.Tensor],
                     labels: Sequence[str], *, tol: float, hint: str = "") -> None:
    """``got`` must be a tensor connected to each of ``inputs``, with the gradient of ``expected`` (weighted by a
    fixed random tensor, so that every entry counts)."""
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: {NOT_CONNECTED}")
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    want = torch.autograd.grad((expected.double() * weights).sum(), inputs, retain_graph=True, allow_unused=True)
    try:
        have = torch.autograd.grad((got.reshape(expected.shape).double() * weights).sum(), inputs,
                                   allow_unused=True)
    except RuntimeError as err:
        raise AssertionError(f"{name}: your answer cannot be differentiated ({err})") from None
    for label, x, g, w in zip(labels, inputs, have, want):
        if g is None:
            raise AssertionError(f"{name}: the gradient does not reach {label}: {NOT_CONNECTED}")
        close_tensors(f"{name}: the gradient with respect to {label}", g, torch.zeros_like(x) if w is None else w,
                      atol=tol, rtol=tol, hint=hint)


def _same_dtype(name: str, got, dtype: torch.dtype) -> None:
    if isinstance(got, torch.Tensor) and got.dtype != dtype:
        raise AssertionError(f"{name}: the inputs are {dtype}, your answer is {got.dtype}; keep the inputs' dtype "
                             "(the network that reads it works in that dtype)")


# ---- the summed label embedding ---------------------------------------------------------------------------

def _labels(seed: int, condition: Sequence[int], n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(k, (n,), generator=g) for k in condition], dim=1)


def _embedding_case(name: str, fn, condition: Sequence[int], d: int, labels: torch.Tensor, dtype, seed: int,
                    tol: float) -> None:
    encoder = seeded(seed, lambda: conditional.AttributeEmbedding(tuple(condition), d)).to(dtype)
    tables = [t.weight.detach().clone().requires_grad_(True) for t in encoder.tables]
    originals = [t.detach().clone() for t in tables] + [labels.clone()]
    got = call(name, fn, list(tables), labels)
    unchanged(name, [t.detach() for t in tables] + [labels], originals, "the tables or the labels")
    hint = " (e(y) = sum over the attributes a of row y_a of table a, shape (n, d))"
    close_tensors(name, got, encoder(labels), atol=tol, rtol=tol, hint=hint)
    _same_dtype(name, got, dtype)
    expected = sum(t[labels[:, a]] for a, t in enumerate(tables))
    _gradients_match(name, got, expected, tables, [f"table {a}" for a in range(len(tables))], tol=tol, hint=hint)


def summed_embedding(ns: dict) -> None:
    fn = answer(ns, "summed_embedding")
    every = torch.tensor([[i, j] for i in range(2) for j in range(5)])
    labels = torch.cat([every, every[[3, 3, 7, 0]]])
    _embedding_case("two attributes with K = (2, 5), d = 7, float32 tables, every combination", fn, (2, 5), 7,
                    labels, torch.float32, 900, 1e-6)
    _embedding_case("four attributes with K = (3, 1, 4, 2) (one with a single value), d = 1", fn, (3, 1, 4, 2), 1,
                    _labels(901, (3, 1, 4, 2), 25), torch.float64, 902, 1e-12)
    _embedding_case("one label row, three attributes with K = (7, 2, 3), d = 5", fn, (7, 2, 3), 5,
                    torch.tensor([[6, 1, 2]]), torch.float64, 903, 1e-12)
    wide = _labels(904, (4, 6), 30).t().contiguous().t()            # a non-contiguous (n, A) view
    _embedding_case("non-contiguous labels, K = (4, 6), d = 3", fn, (4, 6), 3, wide, torch.float64, 905, 1e-12)
    _embedding_case("one attribute with K = (10,), d = 16, float32", fn, (10,), 16, _labels(906, (10,), 40),
                    torch.float32, 907, 1e-6)


# ---- the projection critic's score ------------------------------------------------------------------------

def _projection_case(name: str, fn, condition: Sequence[int], d: int, n: int, dtype, seed: int,
                     tol: float) -> None:
    critic = conditional.ProjectionCritic(seeded(seed, lambda: IdentityFeatures(d)),
                                          seeded(seed + 1, lambda: conditional.AttributeEmbedding(condition, d)))
    critic = critic.to(dtype)
    g = torch.Generator().manual_seed(seed + 2)
    features = (2.0 * torch.randn(n, d, generator=g, dtype=torch.float64) - 0.5).to(dtype).requires_grad_(True)
    labels = _labels(seed + 3, condition, n)
    head = critic.critic.head
    args = (features, head.weight.view(-1), head.bias.view(()), critic.encoder(labels))
    originals = [a.detach().clone() for a in args]
    got = call(name, fn, *args)
    unchanged(name, [a.detach() for a in args], originals, "features, head_weight, head_bias or embedded")
    hint = " (f = h . w + b + <e, h> for each row h of features and e of embedded: one score per row, (n,))"
    expected = critic(features, labels)
    close_tensors(name, got, expected, atol=tol, rtol=tol, hint=hint)
    _same_dtype(name, got, dtype)
    _gradients_match(name, got, expected,
                     [features, head.weight, head.bias, *(t.weight for t in critic.encoder.tables)],
                     ["features", "head_weight", "head_bias", *(["embedded"] * len(condition))], tol=tol, hint=hint)


def projection_score(ns: dict) -> None:
    fn = answer(ns, "projection_score")
    _projection_case("the score of a single sample (n = 1), d = 6", fn, (3, 2), 6, 1, torch.float64, 910, 1e-12)
    _projection_case("one feature (d = 1), 9 samples", fn, (4,), 1, 9, torch.float64, 920, 1e-12)
    _projection_case("float32 features, d = 16, 33 samples", fn, (2, 5), 16, 33, torch.float32, 930, 1e-5)
    _projection_case("2 samples with d = 2 (n = d)", fn, (3,), 2, 2, torch.float64, 940, 1e-12)


# ---- GAN-CLS's matching-aware discriminator loss ----------------------------------------------------------

def _cls_case(name: str, fn, batches: Sequence[torch.Tensor], tol: float, hint: str) -> None:
    leaves = [b.clone().requires_grad_(True) for b in batches]
    got = call(name, fn, *leaves)
    unchanged(name, [x.detach() for x in leaves], batches, "the logits")
    expected = losses.matching_aware_discriminator_loss(*leaves)
    close(name, got, expected.item(), rtol=tol, atol=tol, hint=hint)
    _gradients_match(name, got, expected, leaves, ["real_right", "real_wrong", "fake_right"], tol=tol, hint=hint)


def _logits(seed: int, sizes: Sequence[int], *, dtype=torch.float64, column: Sequence[bool] = (True, True, True),
            scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for m, shift, col in zip(sizes, (0.8, -0.2, -0.9), column):
        x = scale * (torch.randn(m, 1, generator=g, dtype=torch.float64) + shift)
        out.append((x if col else x[:, 0]).to(dtype))
    return out


def matching_aware_loss(ns: dict) -> None:
    fn = answer(ns, "matching_aware_loss")
    hint = (" (softplus(-l) averaged over the matching pairs, plus 1/2 of softplus(l) averaged over the "
            "wrong-caption pairs and 1/2 of it averaged over the fakes)")
    _cls_case("logits of shape (n,), batches of 30, 11 and 17", fn, _logits(950, (30, 11, 17), column=(False,) * 3),
              1e-10, hint)
    _cls_case("one batch (n, 1), two (n,)", fn, _logits(951, (8, 25, 3), column=(True, False, False)), 1e-10, hint)
    _cls_case("one logit per batch", fn, _logits(952, (1, 1, 1)), 1e-10, hint)
    _cls_case("float32 logits", fn, _logits(953, (40, 40, 12), dtype=torch.float32), 1e-5, hint)
    huge = torch.tensor([[5000.0], [-5000.0], [3.0]], dtype=torch.float64)
    _cls_case("logits of +-5000 in every batch", fn, [huge, -huge, -huge.flip(0)], 1e-10,
              " (use softplus: sigmoid rounds to 0 and 1 at +-5000)")
    zeros = [torch.zeros(k, 1, dtype=torch.float64) for k in (4, 6, 2)]
    close("the loss at logits all 0 (D = 1/2 everywhere: log 2 + 1/2 (log 2 + log 2) = 2 log 2)",
          call("the loss at zero logits", fn, *zeros), 2 * math.log(2.0), rtol=1e-12)


# ---- InfoGAN's mutual-information bound -------------------------------------------------------------------

def _bound_case(name: str, fn, logits: torch.Tensor, codes: torch.Tensor, tol: float, hint: str) -> None:
    leaf, given = logits.clone().requires_grad_(True), codes.clone()
    got = call(name, fn, leaf, given)
    unchanged(name, [leaf.detach(), given], [logits, codes], "the logits or the codes")
    expected = losses.mutual_information_lower_bound(leaf, codes, logits.shape[1])
    close(name, got, expected.item(), rtol=tol, atol=tol, hint=hint)
    _gradients_match(name, got, expected, [leaf], ["logits"], tol=tol, hint=hint)


def _code_logits(seed: int, n: int, k: int, *, dtype=torch.float64, scale: float = 2.5):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(k, (n,), generator=g)
    logits = scale * torch.randn(n, k, generator=g, dtype=torch.float64)
    logits[torch.arange(n), codes] += 1.0
    return logits.to(dtype), codes


def mutual_information_bound(ns: dict) -> None:
    fn = answer(ns, "mutual_information_bound")
    hint = (" (L_I = log K - the cross-entropy averaged over the batch, in nats, with K = logits.shape[1], the "
            "number of categories, whichever codes this batch holds)")
    _bound_case("K = 2 categories, 25 samples", fn, *_code_logits(960, 25, 2), 1e-10, hint)
    _bound_case("K = 10 categories, float32 logits, 64 samples", fn, *_code_logits(961, 64, 10, dtype=torch.float32),
                1e-5, hint)
    _bound_case("one sample, K = 4", fn, *_code_logits(962, 1, 4), 1e-10, hint)
    logits, _ = _code_logits(963, 6, 10)
    _bound_case("K = 10 categories, 6 samples whose codes (0, 3, 3, 1, 5, 2) miss most categories", fn, logits,
                torch.tensor([0, 3, 3, 1, 5, 2]), 1e-10, hint)
    huge = torch.tensor([[5000.0, -5000.0, 5000.0, 0.0], [-5000.0, -5000.0, 0.0, 5000.0],
                         [0.0, 5000.0, -5000.0, 0.0], [5000.0, 5000.0, 5000.0, 5000.0]], dtype=torch.float64)
    _bound_case("logits of +-5000 in every row, K = 4", fn, huge, torch.tensor([2, 0, 1, 3]), 1e-10,
                " (log Q is log_softmax(logits); log(softmax(...)) is -inf where softmax rounds to 0)")
    wide, codes = _code_logits(964, 5, 9)
    _bound_case("a non-contiguous (transposed) view of the logits, K = 5", fn, wide.t().contiguous().t()[:, :5],
                codes % 5, 1e-10, hint)
    zeros = torch.zeros(7, 3, dtype=torch.float64)
    close("the bound at all-zero logits (Q uniform: log 3 - log 3 = 0)",
          call("the bound at zero logits", fn, zeros, torch.tensor([0, 1, 2, 2, 1, 0, 0])), 0.0, atol=1e-12,
          hint=hint)
    sure = torch.full((4, 6), -1000.0, dtype=torch.float64)
    sure[torch.arange(4), torch.tensor([5, 0, 2, 2])] = 1000.0
    close("the bound of a Q certain of every code (L_I = H(c) = log 6)",
          call("the bound of a certain Q", fn, sure, torch.tensor([5, 0, 2, 2])), math.log(6.0), rtol=1e-12,
          hint=hint)


# ---- the Gaussian code's negative log-likelihood ----------------------------------------------------------

def _nll_case(name: str, fn, mean: torch.Tensor, log_std: torch.Tensor, codes: torch.Tensor, tol: float,
              hint: str) -> None:
    leaves = [mean.clone().requires_grad_(True), log_std.clone().requires_grad_(True)]
    given = [*leaves, codes.clone()]
    got = call(name, fn, *given)
    unchanged(name, [x.detach() for x in given], [mean, log_std, codes], "mean, log_std or codes")
    expected = losses.gaussian_code_loss(leaves[0], leaves[1], codes)
    close(name, got, expected.item(), rtol=tol, atol=tol, hint=hint)
    _gradients_match(name, got, expected, leaves, ["mean", "log_std"], tol=tol, hint=hint)


def _gaussian(seed: int, n: int, d: int, *, low: float = -1.5, high: float = 1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mean = 2.0 * torch.randn(n, d, generator=g, dtype=torch.float64)
    log_std = low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)
    codes = mean + torch.randn(n, d, generator=g, dtype=torch.float64) * log_std.exp()
    return mean.to(dtype), log_std.to(dtype), codes.to(dtype)


def gaussian_code_nll(ns: dict) -> None:
    fn = answer(ns, "gaussian_code_nll")
    hint = (" (per sample, the sum over the d dimensions of log sigma + (c - mu)^2 / (2 sigma^2) + 1/2 log(2 pi), "
            "sigma = exp(log_std) as given; then the mean over the batch)")
    _nll_case("one code dimension (d = 1), 20 samples", fn, *_gaussian(970, 20, 1), 1e-10, hint)
    _nll_case("one sample, d = 4", fn, *_gaussian(971, 1, 4), 1e-10, hint)
    _nll_case("float32, 50 samples, d = 3", fn, *_gaussian(972, 50, 3, dtype=torch.float32), 1e-5, hint)
    _nll_case("log-stds from -8 to 7 (sigma from 3e-4 to 1100), d = 5, 12 samples", fn,
              *_gaussian(973, 12, 5, low=-8.0, high=7.0), 1e-10, hint)
    mean, _, codes = _gaussian(974, 9, 2)
    _nll_case("sigma = 1 (log_std = 0), d = 2", fn, mean, torch.zeros_like(mean), codes, 1e-10, hint)
    mean, log_std, _ = _gaussian(975, 6, 3)
    _nll_case("codes equal to the means (the NLL is sum log sigma + d/2 log(2 pi))", fn, mean, log_std, mean.clone(),
              1e-10, hint)
    mean, log_std, codes = (x.t().contiguous().t() for x in _gaussian(976, 8, 3))
    _nll_case("non-contiguous (transposed) views, d = 3", fn, mean, log_std, codes, 1e-10, hint)


# ---- the accuracy of a clustering -------------------------------------------------------------------------

def _accuracy_case(name: str, fn, predicted: torch.Tensor, labels: torch.Tensor, hint: str) -> None:
    originals = [predicted.clone(), labels.clone()]
    got = call(name, fn, predicted, labels)          # as given: the views of the last case stay views
    unchanged(name, [predicted, labels], originals, "predicted or labels")
    close(name, got, infogan.cluster_accuracy(predicted, labels), atol=1e-12, hint=hint)


def cluster_accuracy(ns: dict) -> None:
    fn = answer(ns, "cluster_accuracy")
    hint = (" (the largest total over one-to-one matchings of clusters to labels, divided by all n samples: "
            "the Hungarian algorithm on the table of counts, linear_sum_assignment(table, maximize=True); a "
            "cluster left without a label counts as wrong)")
    _accuracy_case("a single sample (accuracy 1)", fn, torch.tensor([0]), torch.tensor([0]), hint)
    _accuracy_case("a single sample in cluster 3 with label 1 (accuracy 1)", fn, torch.tensor([3]),
                   torch.tensor([1]), hint)
    balanced = torch.arange(4).repeat(6)
    _accuracy_case("one cluster for 4 balanced labels (accuracy 1/4)", fn, torch.zeros(24, dtype=torch.int64),
                   balanced, hint)
    g = torch.Generator().manual_seed(980)
    truth = torch.randint(3, (30,), generator=g)
    labels = torch.tensor([5, 7, 2])[truth]
    predicted = torch.tensor([1, 0, 2])[truth]
    predicted[:4] = (predicted[:4] + 1) % 3
    _accuracy_case("labels 2, 5 and 7 only (not counting from 0), 30 samples", fn, predicted, labels, hint)
    labels = torch.randint(4, (40,), generator=g)
    _accuracy_case("2 clusters for 4 labels, 40 samples", fn, labels // 2, labels, hint)
    truth = torch.randint(3, (60,), generator=g)
    predicted = truth * 2 + torch.randint(2, (60,), generator=g)    # each label split over two clusters
    _accuracy_case("6 clusters for 3 labels, each label split in two, 60 samples", fn, predicted, truth, hint)
    truth = torch.randint(7, (200,), generator=g)
    predicted = torch.tensor([3, 6, 0, 5, 1, 2, 4])[truth]
    noise = torch.rand(200, generator=g) < 0.3
    predicted[noise] = torch.randint(7, (int(noise.sum()),), generator=g)
    _accuracy_case("7 clusters of 7 labels, 30 % of the samples in a random cluster, 200 samples", fn, predicted,
                   truth, hint)
    # greedy matching (the largest count first, or cluster by cluster) reaches 18 of the best 22; purity 24
    table = [[8, 7, 0, 0], [7, 0, 0, 2], [0, 0, 5, 4], [0, 3, 4, 0]]
    pairs = torch.tensor([(k, y) for k, row in enumerate(table) for y, m in enumerate(row) for _ in range(m)])
    pairs = pairs[torch.randperm(len(pairs), generator=g)]
    _accuracy_case("4 clusters of 4 labels whose best matching is not the greedy one, 40 samples", fn,
                   pairs[:, 0].contiguous(), pairs[:, 1].contiguous(), hint)
    _accuracy_case("non-contiguous views (every other sample)", fn, predicted.clone()[::2], truth.clone()[::2],
                   hint)


HIDDEN = {
    "ch9-ex-embedding": summed_embedding,
    "ch9-ex-projection": projection_score,
    "ch9-ex-cls": matching_aware_loss,
    "ch9-ex-mi-bound": mutual_information_bound,
    "ch9-ex-gaussian-nll": gaussian_code_nll,
    "ch9-ex-cluster-accuracy": cluster_accuracy,
}
