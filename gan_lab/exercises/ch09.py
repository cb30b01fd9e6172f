"""Checks for chapter 9's exercises, on its two pages: book/09_conditional.ipynb (conditional GANs: the summed
label embedding, the projection critic and GAN-CLS's matching-aware discriminator loss) and
book/09_digits_and_codes.ipynb (InfoGAN: the mutual-information lower bound of a categorical code, the
Gaussian negative log-likelihood of a continuous code, and the accuracy of a clustering under its best
relabelling)."""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import torch
from torch import nn

from .. import conditional, infogan, losses
from ._compare import close, close_tensors, seeded

__all__ = ["check_summed_embedding", "check_projection_score", "check_matching_aware_loss",
           "check_mutual_information_bound", "check_gaussian_code_nll", "check_cluster_accuracy",
           "IdentityFeatures"]

# (condition, d, n): one attribute (where a concatenation and a mean equal the sum), a first table with the
# most rows (so that reading every attribute from it gives wrong numbers, not an IndexError), three attributes
CONDITIONS = (((6,), 3, 8), ((5, 3), 4, 12), ((3, 4, 2), 5, 15))

NOT_CONNECTED = ("return a tensor built from the given tensors themselves (no .detach(), .item(), .numpy() "
                 "or torch.tensor(...) copies), so that training can move them")


def _labels(seed: int, condition: Sequence[int], n: int) -> torch.Tensor:
    """n label rows (column a in {0..K_a-1}): random rows with the first three repeated at the end, and in the
    middle one held-out row that no other row equals."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack([torch.randint(k, (n - 4,), generator=g) for k in condition], dim=1)
    seen = {tuple(r) for r in rows.tolist()}
    held_out = next(c for c in itertools.product(*(range(k) for k in condition)) if c not in seen)
    return torch.cat([rows[: n // 2], torch.tensor([held_out]), rows[n // 2:], rows[:3]])


def _shape(name: str, got, shape: tuple, hint: str = "") -> None:
    """``got`` must be a tensor or array of ``shape``; AssertionError naming both shapes otherwise."""
    have = tuple(getattr(got, "shape", ()))
    if not hasattr(got, "shape"):
        raise AssertionError(f"{name}: expected a tensor of shape {shape}, got {type(got).__name__}")
    if have != shape:
        raise AssertionError(f"{name}: expected shape {shape}, got {have}{hint}")


def _same_gradients(name: str, got, expected: torch.Tensor, inputs: Sequence[torch.Tensor],
                    labels: Sequence[str], hint: str = "") -> None:
    """``got`` must be a tensor connected to each of ``inputs`` with the gradient of ``expected`` (the
    reference, computed from the same inputs); both are weighted by a fixed random tensor first, so every
    entry counts."""
    if not (isinstance(got, torch.Tensor) and got.requires_grad):
        raise AssertionError(f"{name}: the value is right, but it is not a tensor connected to the inputs: "
                             f"{NOT_CONNECTED}")
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    want = torch.autograd.grad((expected.double() * weights).sum(), inputs, retain_graph=True, allow_unused=True)
    have = torch.autograd.grad((got.reshape(expected.shape).double() * weights).sum(), inputs, allow_unused=True)
    for label, x, g, w in zip(labels, inputs, have, want):
        if g is None:
            raise AssertionError(f"{name}: the value is right, but its gradient does not reach {label}: "
                                 f"{NOT_CONNECTED}")
        w = torch.zeros_like(x) if w is None else w
        err = (g.double() - w.double()).abs().max().item()
        if not err <= 1e-9 * max(1.0, w.abs().max().item()):
            raise AssertionError(f"{name}: the value is right, but its gradient with respect to {label} is off "
                                 f"by up to {err:.3g} from the reference's{hint}")


def _close_tensors(name: str, got, expected: torch.Tensor, hint: str) -> None:
    """``close_tensors`` at atol 1e-12, with ``hint`` ending its message."""
    try:
        close_tensors(name, got, expected, atol=1e-12)
    except AssertionError as err:
        raise AssertionError(f"{err}{hint}") from None


def _unchanged(name: str, given: Sequence[torch.Tensor], copies: Sequence[torch.Tensor], what: str) -> None:
    if any(not torch.equal(a.detach(), b) for a, b in zip(given, copies)):
        raise AssertionError(f"{name}: {what} were modified; leave them as they are and return a new tensor")


def _embedding(seed: int, condition: Sequence[int], d: int) -> conditional.AttributeEmbedding:
    """A float64 ``conditional.AttributeEmbedding(condition, d)`` drawn from ``seed``."""
    return seeded(seed, lambda: conditional.AttributeEmbedding(tuple(condition), d).double())


def check_summed_embedding(fn: Callable[[list, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(tables, labels)`` must return e(y) = sum_a E_a[y_a], (n, d), from a list of A tables (table a of
    shape (K_a, d)) and a LongTensor of labels (n, A) (column a in {0..K_a-1}), as
    ``gl.conditional.AttributeEmbedding`` does, leaving both as they were and with a gradient that reaches
    every table."""
    from . import run_check

    def attempt() -> None:
        for k, (condition, d, n) in enumerate(CONDITIONS):
            encoder = _embedding(130 + k, condition, d)
            tables = [t.weight.detach().clone().requires_grad_(True) for t in encoder.tables]
            labels = _labels(140 + k, condition, n)
            table_copies, label_copy = [t.detach().clone() for t in tables], labels.clone()
            name = (f"e(y) for {len(condition)} attribute{'s' if len(condition) > 1 else ''} with K = {condition}, "
                    f"d = {d}, {n} label rows (some repeated, one seen nowhere else)")
            got = fn(list(tables), labels)
            _unchanged(name, tables, table_copies, "the tables")
            if not torch.equal(labels, label_copy):
                raise AssertionError(f"{name}: the labels were modified; leave them as they are")
            _shape(name, got, (n, d), " (e(y) adds the A rows E_a[y_a], each of size d, into one vector of size "
                                      "d: a sum, not a concatenation)")
            hint = " (row y_a of table a for each attribute a, the A rows added: a sum, not a mean)"
            _close_tensors(name, got, encoder(labels), hint)
            expected = sum(t[labels[:, a]] for a, t in enumerate(tables))   # the same, on the tensors given to fn
            _same_gradients(name, got, expected, tables, [f"table {a}" for a in range(len(tables))], hint)
    return run_check("the summed label embedding", attempt)


class IdentityFeatures(nn.Module):
    """A critic whose phi is the identity on (n, d) inputs and psi a Linear(d, 1) head: what
    ``ProjectionCritic`` needs (``features``, ``head``, ``num_features``)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d
        self.head = nn.Linear(d, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _projection_case(seed: int, condition: Sequence[int], d: int, n: int):
    """A float64 ``ProjectionCritic`` on identity features, with its inputs: features (n, d) as leaves, labels."""
    critic = conditional.ProjectionCritic(seeded(seed, lambda: IdentityFeatures(d).double()), _embedding(seed + 1,
                                                                                                 condition, d))
    g = torch.Generator().manual_seed(seed + 2)
    features = (torch.randn(n, d, generator=g, dtype=torch.float64) + 0.3).requires_grad_(True)
    return critic, features, _labels(seed + 3, condition, n)


def _projection_hint(shape: tuple, n: int) -> str:
    """What an answer of the wrong ``shape`` for n scores most likely did."""
    if shape == (n, n):
        return (" (<e(y), phi(x)> pairs row i of embedded with row i of features only: "
                "(embedded * features).sum(dim=1); features @ embedded.T pairs every sample with every label, and "
                "an (n, 1) head output added to an (n,) projection broadcasts to (n, n) too)")
    if shape == (n, 1):
        return " (one score per sample: flatten the head's (n, 1) output, e.g. with .view(-1), or use h @ head_weight)"
    if shape == ():
        return " (one score per sample, not one number for the batch: sum over the features only, dim=1)"
    return " (one score per sample)"


def check_projection_score(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                                        torch.Tensor]) -> bool:
    """``fn(features, head_weight, head_bias, embedded)`` must return the projection critic's scores
    f(x, y) = psi(phi(x)) + <e(y), phi(x)>, shape (n,), from phi(x) = ``features`` (n, d), the head
    psi(h) = h @ head_weight + head_bias (head_weight of shape (d,), head_bias 0-dimensional) and
    e(y) = ``embedded`` (n, d), as ``gl.conditional.ProjectionCritic`` does, with its inputs left as they were
    and a gradient that reaches all four."""
    from . import run_check

    def attempt() -> None:
        for k, (condition, d, n) in enumerate((((5, 3), 4, 12), ((3, 4, 2), 6, 7))):
            critic, features, labels = _projection_case(150 + 10 * k, condition, d, n)
            head_weight = critic.critic.head.weight.view(-1)     # (d,) and 0-dim views of the real head
            head_bias = critic.critic.head.bias.view(())
            embedded = critic.encoder(labels)
            args = (features, head_weight, head_bias, embedded)
            copies = [a.detach().clone() for a in args]
            name = f"the scores of {n} samples with d = {d} features"
            got = fn(*args)
            _unchanged(name, args, copies, "features, head_weight, head_bias or embedded")
            _shape(name, got, (n,), _projection_hint(tuple(getattr(got, "shape", ())), n))
            expected = critic(features, labels)
            hint = (" (f = psi(phi(x)) + <e(y), phi(x)>: the head's score h . w + b of row i of features plus the "
                    "dot product of row i of embedded with row i of features)")
            _close_tensors(name, got, expected, hint)
            _same_gradients(name, got, expected,
                            [features, critic.critic.head.weight, critic.critic.head.bias,
                             *(t.weight for t in critic.encoder.tables)],
                            ["features", "head_weight", "head_bias", *(["embedded"] * len(condition))], hint)
    return run_check("the projection critic's score", attempt)


def _logits(seed: int, sizes: Sequence[int], scale: float = 2.0):
    """Three float64 (n, 1) logit batches of the given sizes, around +1 (matching pairs), -0.5, -1."""
    g = torch.Generator().manual_seed(seed)
    return [scale * (torch.randn(m, 1, generator=g, dtype=torch.float64) + shift)
            for m, shift in zip(sizes, (1.0, -0.5, -1.0))]


def _check_cls(name: str, fn: Callable, batches: Sequence[torch.Tensor], hint: str) -> None:
    leaves = [b.clone().requires_grad_(True) for b in batches]
    got = fn(*leaves)
    _unchanged(name, leaves, batches, "the logits")
    expected = losses.matching_aware_discriminator_loss(*leaves)
    close(name, got, expected.item(), rtol=1e-10, atol=1e-12, hint=hint)
    _same_gradients(name, got, expected, leaves, ["real_right", "real_wrong", "fake_right"], hint)


def check_matching_aware_loss(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(real_right, real_wrong, fake_right)`` must return GAN-CLS's discriminator loss
    -E[log D(x, h)] - 1/2 (E[log(1 - D(x, h_wrong))] + E[log(1 - D(G(z, h), h))]) with D = sigmoid(logit),
    from the logits of real images with their captions, real images with wrong captions and fakes with their
    captions (batches of any sizes), finite for logits as large as +-5000, as a tensor the three batches can be
    differentiated through (``gl.losses.matching_aware_discriminator_loss``)."""
    from . import run_check

    def attempt() -> None:
        hint = (" (matching pairs are labelled real, wrong captions and fakes both fake; each term is a mean over "
                "its own batch, and the two fake kinds share the real kind's weight: 1/2 each)")
        for k, sizes in enumerate(((48, 20, 33), (5, 64, 9))):
            _check_cls(f"the loss with {sizes[0]} matching, {sizes[1]} wrong-caption and {sizes[2]} fake logits",
                       fn, _logits(160 + k, sizes), hint)
        big = torch.tensor([[-5000.0], [-50.0], [0.0], [50.0], [5000.0]], dtype=torch.float64)
        _check_cls("the loss on logits as large as +-5000", fn, [big, big.flip(0)[:4], big[1:]],
                   " (log D = -softplus(-l) and log(1 - D) = -softplus(l) stay finite where sigmoid rounds to "
                   "0 or 1)")
    return run_check("GAN-CLS matching-aware loss", attempt)


# ---- InfoGAN (book/09_digits_and_codes.ipynb) -------------------------------------------------------------

def _code_batch(seed: int, n: int, k: int, scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, K) float64 logits and (n,) codes in {0..K-1}, unbalanced but each category present (the last one
    too, so that K is also codes.max() + 1); the logits lean towards the right code."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.cat([torch.arange(k), torch.randint(k, (n - k,), generator=g)])
    codes = codes[torch.randperm(n, generator=g)]
    logits = scale * torch.randn(n, k, generator=g, dtype=torch.float64)
    logits[torch.arange(n), codes] += 1.5
    return logits, codes


def _check_bound(name: str, fn: Callable, logits: torch.Tensor, codes: torch.Tensor, hint: str) -> None:
    leaf, given = logits.clone().requires_grad_(True), codes.clone()
    got = fn(leaf, given)
    _unchanged(name, [leaf, given], [logits, codes], "the logits or the codes")
    expected = losses.mutual_information_lower_bound(leaf, codes, logits.shape[1])
    close(name, got, expected.item(), rtol=1e-10, atol=1e-12, hint=hint)
    _same_gradients(name, got, expected, [leaf], ["logits"], hint)


def check_mutual_information_bound(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(logits, codes)`` must return InfoGAN's lower bound L_I = log K + E[log Q(c | x)] (in nats) for a code
    c drawn uniformly from K = ``logits.shape[1]`` categories, with Q(c | x) = softmax(logits)_c, from Q's logits
    (n, K) and the (n,) int64 codes that made each x; finite for logits as large as +-5000, as a tensor the
    logits can be differentiated through (``gl.losses.mutual_information_lower_bound``)."""
    from . import run_check

    def attempt() -> None:
        hint = (" (L_I = H(c) + E[log Q(c | x)]: log K in nats, K the number of columns of logits (the prior "
                "is uniform), minus the cross-entropy averaged over the batch)")
        for k, (n, categories) in enumerate(((40, 3), (17, 5))):
            _check_bound(f"the bound for {n} samples of a code with K = {categories} categories", fn,
                         *_code_batch(170 + k, n, categories), hint)
        big = torch.tensor([[5000.0, -5000.0, 0.0], [-5000.0, 5000.0, 0.0], [0.0, 0.0, 5000.0],
                            [5000.0, 0.0, -5000.0]], dtype=torch.float64)
        _check_bound("the bound on logits as large as +-5000 (K = 3)", fn, big, torch.tensor([0, 0, 1, 2]),
                     " (log Q = log_softmax(logits), or F.cross_entropy: log(softmax(...)) is log 0 = -inf where "
                     "softmax rounds to 0)")
    return run_check("InfoGAN's mutual-information bound", attempt)


def _gaussian_case(seed: int, n: int, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 means, log-stds in [-1.5, 1] (none near 0, where log sigma vanishes) and codes, each (n, d)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(n, d, generator=g, dtype=torch.float64)
    log_std = torch.rand(n, d, generator=g, dtype=torch.float64) * 1.2 - 1.5
    log_std[::2] += 1.5                                            # half the rows with sigma > 1
    codes = mean + torch.randn(n, d, generator=g, dtype=torch.float64) * log_std.exp() * 1.3
    return mean, log_std, codes


def check_gaussian_code_nll(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(mean, log_std, codes)`` must return -E[log N(c; mu, sigma^2)] with sigma = exp(log_std), all three
    of shape (n, d): per sample the sum over the d dimensions of log sigma + (c - mu)^2 / (2 sigma^2)
    + 1/2 log(2 pi), averaged over the batch, in nats, as a tensor whose gradient reaches mean and log_std
    (``gl.losses.gaussian_code_loss``)."""
    from . import run_check

    def attempt() -> None:
        hint = (" (per sample, summed over the d code dimensions: log sigma + (c - mu)^2 / (2 sigma^2) + "
                "1/2 log(2 pi), with sigma = exp(log_std) a standard deviation; then the mean over the batch)")
        for k, (n, d) in enumerate(((30, 2), (7, 3))):
            mean, log_std, codes = _gaussian_case(180 + k, n, d)
            leaves = [mean.clone().requires_grad_(True), log_std.clone().requires_grad_(True)]
            given = [*leaves, codes.clone()]
            name = f"the NLL of {n} codes with d = {d} dimensions"
            got = fn(*given)
            _unchanged(name, given, [mean, log_std, codes], "mean, log_std or codes")
            expected = losses.gaussian_code_loss(leaves[0], leaves[1], codes)
            close(name, got, expected.item(), rtol=1e-10, atol=1e-12, hint=hint)
            _same_gradients(name, got, expected, leaves, ["mean", "log_std"], hint)
    return run_check("the Gaussian code's negative log-likelihood", attempt)


def _clustering(table: Sequence[Sequence[int]], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, labels), int64 tensors in a shuffled order, whose contingency table is ``table``
    (entry [k][y]: how many samples cluster k holds of label y)."""
    pairs = [(k, y) for k, row in enumerate(table) for y, count in enumerate(row) for _ in range(count)]
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    both = torch.tensor(pairs)[order]
    return both[:, 0].contiguous(), both[:, 1].contiguous()


# (what the case is, its contingency table): the truth under a relabelling; a table where matching the largest
# count first (or each cluster in turn to its best free label) loses to the best matching and where purity
# (each cluster its majority label, shared) overcounts; and four clusters for three labels, the best matching
# leaving cluster 2 unmatched
CLUSTERINGS = (
    ("the truth relabelled, 5 clusters", [[0, 0, 4, 0, 0], [0, 0, 0, 0, 6], [5, 0, 0, 0, 0], [0, 0, 0, 3, 0],
                                          [0, 7, 0, 0, 0]]),
    ("3 clusters of 3 labels", [[6, 5, 0], [5, 0, 1], [0, 1, 4]]),
    ("4 clusters of 3 labels", [[5, 0, 0], [0, 4, 1], [0, 3, 0], [1, 0, 6]]),
)


def check_cluster_accuracy(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> bool:
    """``fn(predicted, labels)`` must return the accuracy of a clustering under its best one-to-one relabelling,
    max over maps pi from clusters to labels, one cluster per label, of (1/n) #{i : pi(predicted_i) = labels_i},
    as a number (``gl.infogan.cluster_accuracy``), from two (n,) int64 tensors (cluster ids and labels, each
    counting from 0), leaving both as they were. With more clusters than labels, the samples of a cluster left
    without a label count as wrong."""
    from . import run_check

    def attempt() -> None:
        hint = (" (build the table of counts cluster x label, then pick one cell per cluster and per label with "
                "the largest total: scipy.optimize.linear_sum_assignment(table, maximize=True), or every "
                "permutation for a few clusters; neither each cluster's majority label, which two clusters may "
                "share, nor the largest cells first)")
        for k, (what, table) in enumerate(CLUSTERINGS):
            predicted, labels = _clustering(table, 190 + k)
            given = [predicted.clone(), labels.clone()]
            name = f"the accuracy of {what} ({len(labels)} samples)"
            got = fn(*given)
            if not (torch.equal(given[0], predicted) and torch.equal(given[1], labels)):
                raise AssertionError(f"{name}: predicted or labels were modified; leave them as they are")
            close(name, got, infogan.cluster_accuracy(predicted, labels), atol=1e-12, hint=hint)
    return run_check("the clustering's accuracy", attempt)
