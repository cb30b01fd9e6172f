"""The objectives of the book, each next to its formula.

Notation: l(x) is the discriminator's logit and D(x) = sigmoid(l(x)); f(x) is a Wasserstein critic;
x ~ p_data are real samples and G(z) generated ones. All losses are *minimised* and averaged over the batch.
Logs are natural (nats). The hinge and least-squares losses take the critic's raw output D(x) (no sigmoid),
one score per sample: a tensor of shape (n,) or (n, 1). Chapter 9's losses (cycle consistency, the
matching-aware discriminator of text-to-image GANs, InfoGAN's code losses) are at the end.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import checks

__all__ = [
    "discriminator_loss",
    "generator_loss",
    "critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
    "clip_weights",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "GENERATOR_LOSSES",
    "feature_matching_loss",
    "cycle_consistency_loss",
    "matching_aware_discriminator_loss",
    "categorical_code_loss",
    "mutual_information_lower_bound",
    "gaussian_code_loss",
]

GENERATOR_LOSSES = ("saturating", "non_saturating")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) = -E[log D(x)] - E[log(1 - D(G(z)))], computed stably from logits.

    log D = -softplus(-l) and log(1 - D) = -softplus(l), so this is binary cross-entropy with
    label 1 for real and 0 for fake.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on the logits l(G(z)).

    - ``"saturating"``: E[log(1 - D(G(z)))] = -E[softplus(l)], the minimax game as written. When D
      rejects the fakes (D(G(z)) -> 0, l -> -inf) its gradient dies: d/dl = -sigmoid(l) -> 0.
    - ``"non_saturating"``: -E[log D(G(z))] = E[softplus(-l)], same fixed points, and its gradient
      d/dl = -(1 - sigmoid(l)) -> -1 exactly when D rejects the fakes.
    """
    checks.choice("generator loss", kind, GENERATOR_LOSSES)
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """E[f(G(z))] - E[f(x)]: minimising it maximises the critic's estimate E[f(x)] - E[f(G(z))] of W1."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """-E[f(G(z))]: the generator moves its samples up the critic."""
    return -fake_scores.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, *, one_sided: bool = False,
                     generator: Optional[torch.Generator] = None, eps: Optional[torch.Tensor] = None,
                     reduction: str = "mean") -> torch.Tensor:
    """The WGAN-GP penalty E[(||grad f(x_hat)||_2 - 1)^2], unscaled by lambda.

    x_hat = eps * x + (1 - eps) * G(z) with eps ~ U[0, 1] per sample, on random interpolates between
    paired real and fake samples. The result is differentiable with respect to the critic's parameters
    (``create_graph=True``), so ``(critic_loss + lam * penalty).backward()`` trains against it.
    ``one_sided=True`` penalises only norms above 1: E[max(0, ||grad f(x_hat)||_2 - 1)^2].
    ``fake`` is detached: the penalty constrains the critic, not the generator.
    ``eps`` (shape (n, 1, ...)) gives the interpolation weights instead of drawing them from ``generator``;
    ``reduction="none"`` returns the n per-sample terms (||grad f(x_hat_i)||_2 - 1)^2 instead of their mean.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    if eps is None:
        eps = torch.rand(eps_shape, generator=generator, dtype=real.dtype).to(real.device)
    elif tuple(eps.shape) != eps_shape:
        raise ValueError(f"eps must have shape {eps_shape} (one weight per sample), got {tuple(eps.shape)}")
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    excess = norms - 1
    if one_sided:
        excess = excess.clamp_min(0)
    terms = excess ** 2
    return terms.mean() if reduction == "mean" else terms


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` to [-c, c] in place (the WGAN paper's Lipschitz constraint)."""
    c = checks.positive_number("c", c)
    for p in module.parameters():
        p.clamp_(-c, c)


# ---- hinge (SN-GAN) and least-squares (LSGAN) objectives -------------------------------------------------

def _scores(name: str, scores) -> torch.Tensor:
    """Refuse anything but a non-empty floating-point (n,) or (n, 1) tensor of critic outputs."""
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point() or scores.numel() == 0 \
            or not (scores.dim() == 1 or (scores.dim() == 2 and scores.shape[1] == 1)):
        got = f"{scores.dtype} tensor of shape {tuple(scores.shape)}" if isinstance(scores, torch.Tensor) \
            else type(scores).__name__
        raise ValueError(f"{name} must be a non-empty floating-point tensor of shape (n,) or (n, 1) "
                         f"(one critic output per sample), got {got}")
    return scores


def hinge_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], on the critic's raw outputs D (no sigmoid).

    The hinge loss of a margin classifier with label +1 for real and -1 for fake: a real sample scored
    above 1, or a fake one below -1, costs nothing and sends no gradient (Lim & Ye 2017, "Geometric GAN";
    Miyato et al. 2018 train their spectrally normalised critics with it). Its minimum is 0.
    """
    real, fake = _scores("real", real), _scores("fake", fake)
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the hinge GAN's generator raises the critic's raw score of its samples (Lim & Ye 2017;
    Miyato et al. 2018). The same number as ``wasserstein_generator_loss``; only the critic's loss differs."""
    return -_scores("fake", fake).mean()


def least_squares_discriminator_loss(real: torch.Tensor, fake: torch.Tensor, *, a: float = 0.0,
                                     b: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]: least-squares regression of the raw output D onto the
    label b for real and a for fake samples (LSGAN, Mao et al. 2017, Sec. 3.2). The defaults a = 0, b = 1 are
    the paper's 0-1 coding; a = -1, b = 1 (with c = 0 for the generator) is the coding under which the
    generator minimises a Pearson chi^2 divergence (``theory.least_squares_generator_objective``).
    """
    real, fake = _scores("real", real), _scores("fake", fake)
    a, b = checks.finite_number("a", a), checks.finite_number("b", b)
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()


def least_squares_generator_loss(fake: torch.Tensor, *, c: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2]: the LSGAN generator pulls the critic's raw score of its samples toward c, the
    value it wants the discriminator to believe for fake data (Mao et al. 2017, Sec. 3.2; c = 1 = b by default).
    Unlike the saturating GAN loss, a fake that D scores far from c still gets a gradient proportional to
    the distance."""
    fake = _scores("fake", fake)
    c = checks.finite_number("c", c)
    return 0.5 * ((fake - c) ** 2).mean()


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E[h(x)] - E[h(G(z))]||_2^2: feature matching (Salimans et al. 2016, Sec. 3.1). The generator matches
    the mean of the discriminator's hidden activations h on real data instead of maximising D's output, so it
    chases statistics of the data rather than the current discriminator's favourite points. The features are
    (n, k) tensors; the real ones carry no gradient."""
    if not isinstance(real_features, torch.Tensor) or not isinstance(fake_features, torch.Tensor) \
            or real_features.dim() != 2 or real_features.shape[1:] != fake_features.shape[1:]:
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                  for t in (real_features, fake_features)]
        raise ValueError(f"real_features and fake_features must be (n, k) tensors with the same k, got {shapes}")
    return (real_features.detach().mean(dim=0) - fake_features.mean(dim=0)).pow(2).sum()


# ---- chapter 9: conditioning, latent codes and translation -----------------------------------------------

def _float_tensor(name: str, value) -> torch.Tensor:
    """Refuse anything but a non-empty floating-point tensor."""
    if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.numel() == 0:
        got = f"{value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) \
            else type(value).__name__
        raise ValueError(f"{name} must be a non-empty floating-point tensor, got {got}")
    return value


def _same_shape(names: tuple[str, str], a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def cycle_consistency_loss(x: torch.Tensor, x_reconstructed: torch.Tensor) -> torch.Tensor:
    """E|x - x_hat|: the cycle-consistency loss of CycleGAN (Zhu et al. 2017, Eq. 2) and DiscoGAN (Kim et al.
    2017), the mean absolute error over all elements between x and its round trip x_hat = F(G(x)).

    An L1 distance, so a reconstruction that is right on most pixels and wrong on a few costs what those few
    cost (no squaring that would let many small errors blur the image instead). Gradients flow into both
    arguments; in a translation step x is data and only x_hat carries a graph.
    """
    x, x_reconstructed = _float_tensor("x", x), _float_tensor("x_reconstructed", x_reconstructed)
    _same_shape(("x", "x_reconstructed"), x, x_reconstructed)
    return (x - x_reconstructed).abs().mean()


def matching_aware_discriminator_loss(real_right: torch.Tensor, real_wrong: torch.Tensor,
                                      fake_right: torch.Tensor) -> torch.Tensor:
    """-E[log D(x, h)] - 1/2 (E[log(1 - D(x, h_wrong))] + E[log(1 - D(G(z, h), h))]), from logits.

    The matching-aware discriminator of text-to-image GANs (GAN-CLS, Reed et al. 2016, Alg. 1). D(x, h) =
    sigmoid(l(x, h)) scores an image *together with* a text embedding h, on three kinds of pairs:

    - ``real_right``: logits l(x, h) of real images with their own captions: labelled real (1);
    - ``real_wrong``: logits l(x, h_wrong) of real images with a caption of another class: labelled fake (0),
      so that D must check that image and text agree, not only that the image looks real;
    - ``fake_right``: logits l(G(z, h), h) of generated images with the caption they were made from: fake (0).

    The two fake kinds share the weight of the one real kind (1/2 each). As in ``discriminator_loss``,
    log D = -softplus(-l) and log(1 - D) = -softplus(l), so the loss is finite for any finite logit.
    Each argument is one logit per pair, shape (n,) or (n, 1); the three batches may differ in size.
    The generator's side is the plain ``generator_loss`` on l(G(z, h), h).
    """
    real_right = _scores("real_right", real_right)
    real_wrong, fake_right = _scores("real_wrong", real_wrong), _scores("fake_right", fake_right)
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake_right).mean())


def _code_logits(logits, codes) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 2 \
            or logits.numel() == 0:
        got = f"{logits.dtype} tensor of shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) \
            else type(logits).__name__
        raise ValueError(f"logits must be a non-empty floating-point tensor of shape (n, K) (Q's logits of the "
                         f"K categories), got {got}")
    n, k = logits.shape
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.int64 or tuple(codes.shape) != (n,):
        got = f"{codes.dtype} tensor of shape {tuple(codes.shape)}" if isinstance(codes, torch.Tensor) \
            else type(codes).__name__
        raise ValueError(f"codes must be an int64 tensor of shape ({n},) (one category per row of logits), "
                         f"got {got}")
    bad = (codes < 0) | (codes >= k)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"codes must lie in [0, {k}) (K = {k} categories), got {int(codes[i])} at index {i}")
    return logits, codes


def categorical_code_loss(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """-E[log Q(c | x)]: the cross-entropy of InfoGAN's recognition network Q on a categorical code
    (Chen et al. 2016, Sec. 5), with x = G(z, c) made from the code c it should recover.

    ``logits`` are Q's (n, K) logits, Q(c | x) = softmax(logits)_c; ``codes`` the (n,) int64 categories that
    made each x. log Q is computed as a log-softmax, so the loss is finite for any finite logit. In InfoGAN
    both G and Q minimise it (lambda times it is added to G's loss); ``mutual_information_lower_bound``
    turns it into the bound L_I = H(c) - this loss.
    """
    logits, codes = _code_logits(logits, codes)
    return F.cross_entropy(logits, codes)


def mutual_information_lower_bound(logits: torch.Tensor, codes: torch.Tensor, n_categories: int) -> torch.Tensor:
    """L_I = H(c) + E[log Q(c | x)] = log K - ``categorical_code_loss``: InfoGAN's variational lower bound on
    the mutual information I(c; G(z, c)) for a code c drawn uniformly from K = ``n_categories`` categories
    (Chen et al. 2016, Lemma 5.1), in nats.

    I(c; x) = H(c) - H(c | x) >= H(c) + E[log Q(c | x)] for any Q, with equality when Q is the true posterior.
    A cross-entropy is >= 0, so L_I <= H(c) = log K, reached by a Q that recovers every code with
    certainty. ``n_categories`` must equal the number of columns of ``logits``: it states the uniform prior
    the bound assumes.
    """
    k = checks.integer("n_categories", n_categories, 1)
    logits, codes = _code_logits(logits, codes)
    if logits.shape[1] != k:
        raise ValueError(f"n_categories must equal the number of columns of logits ({logits.shape[1]}), got {k}")
    return math.log(k) - F.cross_entropy(logits, codes)


def gaussian_code_loss(mean: torch.Tensor, log_std: Optional[torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
    """-E[log N(c; mu, sigma^2)]: the negative log-likelihood of a continuous code c under Q's factored
    Gaussian, InfoGAN's term for continuous codes (Chen et al. 2016, Sec. 5 and Sec. 7.1), in nats.

    Per sample, summed over the d code dimensions: sum_j [log sigma_j + (c_j - mu_j)^2 / (2 sigma_j^2)
    + 1/2 log(2 pi)], then averaged over the batch. The constant 1/2 log(2 pi) per dimension is kept, so this
    is the exact NLL (``torch.distributions.Normal(mu, sigma).log_prob`` agrees) and H(c) - loss is a bound
    on I(c; x) in the same nats as ``mutual_information_lower_bound``; it adds no gradient.

    ``mean`` (mu), ``log_std`` (log sigma) and ``codes`` have shape (n,) or (n, d). ``log_std=None`` fixes
    sigma = 1 (the common variant that treats Q's output as the mean only): 1/2 (c - mu)^2 + 1/2 log(2 pi).
    ``log_std`` is used as given; a very negative one makes the loss huge (the density is a spike), so
    a network's log-std output is often clamped by the caller.
    """
    mean, codes = _float_tensor("mean", mean), _float_tensor("codes", codes)
    if mean.dim() not in (1, 2):
        raise ValueError(f"mean must have shape (n,) or (n, d), got {tuple(mean.shape)}")
    _same_shape(("mean", "codes"), mean, codes)
    if log_std is not None:
        log_std = _float_tensor("log_std", log_std)
        _same_shape(("mean", "log_std"), mean, log_std)
        nll = log_std + 0.5 * ((codes - mean) * torch.exp(-log_std)) ** 2
    else:
        nll = 0.5 * (codes - mean) ** 2
    nll = nll + 0.5 * math.log(2 * math.pi)
    per_sample = nll if nll.dim() == 1 else nll.sum(dim=1)
    return per_sample.mean()
