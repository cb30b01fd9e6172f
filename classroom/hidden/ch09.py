"""Hidden tests for chapter 9 (conditional GANs): book/09_conditional.ipynb.

Beyond the visible checks of ``gan_lab.exercises.ch09``: float32 inputs (and the answer in their dtype),
two attributes with K = (2, 5) and every combination present, four attributes with an attribute of one
value and d = 1, a one-row batch, non-contiguous labels; projection scores of one sample, d = 1 and d = 16;
logits of shape (n,) as well as (n, 1) and mixed, one logit per batch, logits of +-5000 in every batch and
all-zero logits (the loss is 2 log 2 there); and every time the gradient with respect to each input.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from gan_lab import conditional, losses
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


HIDDEN = {
    "ch9-ex-embedding": summed_embedding,
    "ch9-ex-projection": projection_score,
    "ch9-ex-cls": matching_aware_loss,
}
