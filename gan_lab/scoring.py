"""The critic as a scorer: a trained critic f is a function on every image, so it scores labelled test images
of classes it never saw, and the scores can be read class by class.

- ``score(critic, x)``: the scores f(x) of a batch of images, computed in chunks;
- ``ScoreLog``: an ``on_log`` callback for ``images.train_images`` that scores a test set during training;
- ``shift``, ``class_means``: f is defined up to a constant, so scores are read against a reference class m_r;
- ``one_feature_pairs``: the (test class, training class) pairs that differ in one feature
  (``data.ShapeClass.differs_from``), with ``pair_aurocs``, ``lowest_auroc``, ``settled_step`` and
  ``feature_drops`` reading the scores along them;
- ``separated_fraction``: the share of class pairs that the scores separate (AUROC near 0 or 1).

The AUROC and Spearman's rho themselves are ``metrics.auroc`` / ``metrics.pairwise_auroc`` /
``metrics.rank_correlation``.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import checks, metrics
from .data import ShapeClass

__all__ = ["score", "ScoreLog", "shift", "class_means", "OneFeaturePair", "one_feature_pairs", "pair_aurocs",
           "lowest_auroc", "settled_step", "feature_drops", "separated_fraction"]

Array = Union[torch.Tensor, np.ndarray]


def _tensor(name: str, x: Array) -> torch.Tensor:
    t = torch.as_tensor(x).detach().cpu()
    if t.dim() == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {tuple(t.shape)}")
    return t


def _labels(scores: torch.Tensor, labels: Array) -> torch.Tensor:
    lab = _tensor("labels", labels)
    if lab.dtype.is_floating_point or lab.dtype == torch.bool:
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    if lab.shape != scores.shape:
        raise ValueError(f"labels must have one entry per score: {tuple(lab.shape)} vs {tuple(scores.shape)}")
    if lab.min() < 0:
        raise ValueError(f"labels must be non-negative, got {int(lab.min())}")
    return lab.long()


@torch.no_grad()
def score(critic: nn.Module, x: torch.Tensor, *, batch_size: int = 200) -> torch.Tensor:
    """The critic's scores f(x_i) of the images ``x`` (n, 3, H, W), as a float64 tensor (n,) on the CPU.

    The images go to the critic's device ``batch_size`` at a time, so a large test set fits in memory; the
    result does not depend on ``batch_size`` beyond float rounding (the critic has no batch norm). The critic's
    train/eval mode is left as it was.
    """
    batch_size = checks.integer("batch_size", batch_size, 1)
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or len(x) == 0:
        raise ValueError(f"x must be a non-empty (n, C, H, W) tensor of images, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    try:
        device = next(critic.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out = [critic(x[i:i + batch_size].to(device)).reshape(-1).double().cpu() for i in range(0, len(x), batch_size)]
    scores = torch.cat(out)
    if scores.shape != (len(x),):
        raise ValueError(f"the critic must give one score per image, got {scores.numel()} for {len(x)} images")
    return scores


class ScoreLog:
    """An ``on_log`` callback for ``images.train_images`` that scores the images ``x`` with the current critic.

    At every logged step t with t % ``every`` == 0 or t in ``at``, ``scores[t]`` = ``score(critic, x)``; at each
    step in ``samples_at``, ``samples[t]`` = ``n_samples`` generator samples from the fixed noise of
    ``sample_seed``. A run trained for k steps is the first k steps of a longer run with the same seed (one
    seeded stream, constant learning rate), so one run scored this way stands for runs of every length.

    It is ``loop.stateful``: a checkpoint of the run keeps ``state_dict()`` (the scores and samples so far)
    and a resumed run restores it, so a run cut off and resumed ends with every step's scores. ``describe()``
    is what it computes (the images and the steps), which lets ``runs.cached`` store and reload a scored run.
    """

    def __init__(self, x: torch.Tensor, *, every: int, at: Iterable[int] = (), samples_at: Iterable[int] = (),
                 n_samples: int = 16, sample_seed: int = 1234) -> None:
        every = checks.integer("every", every, 1)
        n_samples = checks.integer("n_samples", n_samples, 1)
        sample_seed = checks.seed("sample_seed", sample_seed)
        self.x, self.every = x, every
        self.at, self.samples_at = frozenset(at), frozenset(samples_at)
        self.n_samples, self.sample_seed = n_samples, sample_seed
        self.scores: Dict[int, torch.Tensor] = {}
        self.samples: Dict[int, torch.Tensor] = {}

    def __call__(self, result) -> None:
        step = int(result.history["step"][-1])
        if step % self.every == 0 or step in self.at:
            self.scores[step] = score(result.critic, self.x)
        if step in self.samples_at:
            self.samples[step] = result.sample(self.n_samples, seed=self.sample_seed)

    def describe(self) -> dict:
        """What this callback computes, as plain values (the images x, the steps, the sampling settings)."""
        return {"x": self.x, "every": self.every, "at": sorted(self.at), "samples_at": sorted(self.samples_at),
                "n_samples": self.n_samples, "sample_seed": self.sample_seed}

    def state_dict(self) -> dict:
        """What it collected: ``{"scores": {step: f(x)}, "samples": {step: images}}``, CPU tensors."""
        return {name: {int(t): v.detach().cpu().clone() for t, v in getattr(self, name).items()}
                for name in ("scores", "samples")}

    def load_state_dict(self, state: dict) -> None:
        """Replace what it collected by ``state`` (a ``state_dict()``); anything else raises ``ValueError``."""
        if not isinstance(state, dict) or set(state) != {"scores", "samples"} or not all(
                isinstance(d, dict) and all(type(t) is int and isinstance(v, torch.Tensor) for t, v in d.items())
                for d in state.values()):
            raise ValueError(f"a ScoreLog state is {{'scores': {{step: tensor}}, 'samples': {{step: tensor}}}}, "
                             f"got {state!r:.80}")
        self.scores = {t: v.clone() for t, v in state["scores"].items()}
        self.samples = {t: v.clone() for t, v in state["samples"].items()}


def shift(scores: Array, labels: Array, reference: int = 0) -> torch.Tensor:
    """The scores moved by one constant so that class ``reference`` averages 0: s_i - m_r, a new float64 tensor.

    A critic is defined up to a constant (adding one changes neither its loss nor its gradient penalty), so
    only differences of scores mean something; this fixes the zero.
    """
    s = _tensor("scores", scores).double()
    lab = _labels(s, labels)
    chosen = lab == reference
    if not chosen.any():
        raise ValueError(f"class {reference!r} has no scores")
    return s - s[chosen].mean()


def class_means(scores: Array, labels: Array, n_classes: Optional[int] = None) -> torch.Tensor:
    """The mean score m_c of each class c = 0..C-1, a float64 tensor (C,); every class needs a score."""
    s = _tensor("scores", scores).double()
    lab = _labels(s, labels)
    n = int(lab.max()) + 1 if n_classes is None else checks.integer("n_classes", n_classes, 1)
    if lab.max() >= n:
        raise ValueError(f"label {int(lab.max())} is out of range for n_classes={n}")
    counts = torch.bincount(lab, minlength=n)
    if (counts == 0).any():
        raise ValueError(f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no scores")
    return torch.zeros(n, dtype=torch.float64).index_add_(0, lab, s) / counts


class OneFeaturePair(NamedTuple):
    """A test class that differs from a training class in exactly one ``feature``: indices into the two tables."""

    feature: str
    test: int
    train: int


def one_feature_pairs(test_classes: Sequence[ShapeClass],
                      training_classes: Sequence[ShapeClass]) -> List[OneFeaturePair]:
    """Every (test class, training class) pair that differs in exactly one feature, in table order.

    With ``data.SHAPES_TEST`` and ``data.SHAPES_TRAIN`` these are ten pairs: two each for a new shape, a new
    colour and more noise, and the two swapped classes, each one feature from both training classes.
    """
    return [OneFeaturePair(diff[0], c, t) for c, cls in enumerate(test_classes)
            for t, train in enumerate(training_classes) if len(diff := cls.differs_from(train)) == 1]


def pair_aurocs(scores: Array, labels: Array, pairs: Sequence[OneFeaturePair],
                n_classes: Optional[int] = None) -> Dict[OneFeaturePair, float]:
    """AUROC(training class, test class) for each pair: the probability that an image of the training class
    scores above one of the test class (ties 1/2), ``metrics.pairwise_auroc``'s entry A[train, test]."""
    A = metrics.pairwise_auroc(scores, labels, n_classes)
    return {p: A[p.train, p.test].item() for p in pairs}


def lowest_auroc(scores: Array, labels: Array, pairs: Sequence[OneFeaturePair],
                 n_classes: Optional[int] = None) -> float:
    """min over the pairs of AUROC(training class, test class): 1 when every training class scores above every
    image of every class one feature away from it."""
    if not pairs:
        raise ValueError("pairs is empty")
    return min(pair_aurocs(scores, labels, pairs, n_classes).values())


def settled_step(scores_by_step: Mapping[int, Array], labels: Array, pairs: Sequence[OneFeaturePair], *,
                 level: float = 0.99) -> Optional[int]:
    """The first scored step t from which ``lowest_auroc`` stays >= ``level`` at every later scored step
    (the last one included), or None if it is below ``level`` at the last step."""
    settled = None
    for step in sorted(scores_by_step):
        if lowest_auroc(scores_by_step[step], labels, pairs) >= level:
            settled = step if settled is None else settled
        else:
            settled = None
    return settled


def feature_drops(means: Array, pairs: Sequence[OneFeaturePair]) -> Dict[str, List[float]]:
    """For each feature, (m_train - m_test) / sd(m) over its pairs: how far the test class falls below its
    training class, in units of the standard deviation of the C class means (so runs on different scales
    compare). Keys in order of first appearance."""
    m = _tensor("means", means).double()
    spread = m.std()
    if not spread > 0:
        raise ValueError("the class means are all equal, so their spread is 0")
    out: Dict[str, List[float]] = {}
    for p in pairs:
        out.setdefault(p.feature, []).append(((m[p.train] - m[p.test]) / spread).item())
    return out


def separated_fraction(scores: Array, labels: Array, *, margin: float = 0.05,
                       n_classes: Optional[int] = None) -> float:
    """The fraction of the C(C-1)/2 pairs of classes {i, j} with |A_ij - 1/2| >= 1/2 - ``margin``: pairs whose
    AUROC is within ``margin`` of 0 or of 1, i.e. that the scores alone nearly always tell apart."""
    checks.number_at_least("margin", margin, 0.0, below=0.5)
    A = metrics.pairwise_auroc(scores, labels, n_classes)
    n = A.shape[0]
    if n < 2:
        raise ValueError("separated_fraction needs at least 2 classes")
    i, j = torch.triu_indices(n, n, 1)
    return ((A[i, j] - 0.5).abs() >= 0.5 - margin - 1e-12).double().mean().item()
