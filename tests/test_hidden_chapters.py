"""classroom/hidden/ch01..ch09: the hidden tests of the chapters' code exercises.

For every exercise: the reference answer of tests/test_exercises_chNN.py and the notebook's own solution
pass; a stub still raising NotImplementedError fails with "not attempted" (an AssertionError); every
planted wrong answer fails; answers that pass the visible check but only work on its inputs fail; a
missing name is reported by name. The HIDDEN keys of each module are exactly the code exercises of its
notebooks (chapter 9 has two pages, one module), and the tests leave the global random state alone.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

import gan_lab as gl

import test_exercises_ch01 as t01
import test_exercises_ch02 as t02
import test_exercises_ch03 as t03
import test_exercises_ch04 as t04
import test_exercises_ch05 as t05
import test_exercises_ch06 as t06
import test_exercises_ch07 as t07
import test_exercises_ch08 as t08
import test_exercises_ch09 as t09
from classroom import build
from classroom.hidden import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09

BOOK = Path(__file__).resolve().parent.parent / "book"
# hidden module -> the notebooks whose code exercises it tests (every book/NN_*.ipynb maps to chNN)
NOTEBOOKS = {ch01: ["01_minimax.ipynb"], ch02: ["02_divergences.ipynb"], ch03: ["03_wasserstein.ipynb"],
             ch04: ["04_weight_clipping.ipynb"], ch05: ["05_gradient_penalty.ipynb"],
             ch06: ["06_shapes_wgan_gp.ipynb"], ch07: ["07_critic_classifier.ipynb"],
             ch08: ["08_losses_and_normalisation.ipynb"],
             ch09: ["09_conditional.ipynb", "09_digits_and_codes.ipynb"]}
NOTEBOOK_FILES = [(module, name) for module, names in NOTEBOOKS.items() for name in names]

# label -> (hidden module, the student's function name, the CHECKS table, its key)
EXERCISES = {
    "ch1-ex-optimal-d": (ch01, "optimal_discriminator", t01.CHECKS, "optimal discriminator"),
    "ch1-ex-non-saturating": (ch01, "non_saturating_loss", t01.CHECKS, "non-saturating loss"),
    "ch1-ex-value-at-optimum": (ch01, "value_at_optimum", t01.CHECKS, "value at optimum"),
    "ch2-ex-js": (ch02, "js_discrete", t02.CHECKS, "JS"),
    "ch2-ex-tv": (ch02, "tv_discrete", t02.CHECKS, "TV"),
    "ch2-ex-lines": (ch02, "lines_divergences", t02.CHECKS, "parallel lines"),
    "ch2-ex-kl-gauss": (ch02, "kl_gaussians", t02.CHECKS, "KL of Gaussians"),
    "ch3-ex-sorting": (ch03, "w1_sorted", t03.CHECKS, "sorting"),
    "ch3-ex-cdf": (ch03, "w1_grid", t03.CHECKS, "cdfs"),
    "ch3-ex-lipschitz": (ch03, "lipschitz_lower_bound", t03.CHECKS, "lipschitz"),
    "ch4-ex-clip": (ch04, "clip_weights", t04.CHECKS, "clip weights"),
    "ch4-ex-step": (ch04, "critic_step", t04.CHECKS, "clipped critic step"),
    "ch4-ex-bound": (ch04, "lipschitz_upper_bound", t04.CHECKS, "lipschitz upper bound"),
    "ch5-ex-penalty": (ch05, "gradient_penalty", t05.CHECKS, "gradient penalty"),
    "ch5-ex-one-sided": (ch05, "one_sided_penalty", t05.CHECKS, "one-sided penalty"),
    "ch5-ex-step": (ch05, "gp_critic_step", t05.CHECKS, "gp critic step"),
    "ch6-ex-diamond": (ch06, "diamond_mask", t06.CHECKS, "diamond mask"),
    "ch6-ex-colour": (ch06, "colour_shape", t06.CHECKS, "shape colour"),
    "ch6-ex-tensor": (ch06, "to_tensor", t06.CHECKS, "to tensor"),
    "ch6-ex-penalty": (ch06, "image_gradient_penalty", t06.CHECKS, "image gradient penalty"),
    "ch6-ex-fid": (ch06, "frechet_distance", t06.CHECKS, "frechet distance"),
    "ch7-ex-auroc": (ch07, "auroc", t07.CHECKS, "auroc"),
    "ch7-ex-shift": (ch07, "shift_scores", t07.CHECKS, "shift scores"),
    "ch7-ex-rank": (ch07, "rank_consistency", t07.CHECKS, "rank consistency"),
    "ch7-ex-pairwise": (ch07, "pairwise_auroc", t07.CHECKS, "pairwise auroc"),
    "ch8-ex-ls-loss": (ch08, "least_squares_discriminator_loss", t08.CHECKS, "least-squares loss"),
    "ch8-ex-ls-optimum": (ch08, "least_squares_optimal_discriminator", t08.CHECKS,
                          "least-squares optimal discriminator"),
    "ch8-ex-power-iteration": (ch08, "power_iteration_step", t08.CHECKS, "power iteration step"),
    "ch8-ex-smoothing": (ch08, "smoothed_discriminator_loss", t08.CHECKS, "one-sided label smoothing"),
    "ch8-ex-pack": (ch08, "pack", t08.CHECKS, "pack"),
    "ch9-ex-embedding": (ch09, "summed_embedding", t09.CHECKS, "summed embedding"),
    "ch9-ex-projection": (ch09, "projection_score", t09.CHECKS, "projection score"),
    "ch9-ex-cls": (ch09, "matching_aware_loss", t09.CHECKS, "matching-aware loss"),
    "ch9-ex-mi-bound": (ch09, "mutual_information_bound", t09.CHECKS, "mutual information bound"),
    "ch9-ex-gaussian-nll": (ch09, "gaussian_code_nll", t09.CHECKS, "gaussian code nll"),
    "ch9-ex-cluster-accuracy": (ch09, "cluster_accuracy", t09.CHECKS, "cluster accuracy"),
}


def _hidden(label):
    module, name, checks, key = EXERCISES[label]
    return module.HIDDEN[label], name, checks[key]


def _run(label, fn):
    test, name, _ = _hidden(label)
    test({name: fn})


# ---- answers that pass the visible check but work only on its inputs -------------------------------------

def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and torch.equal(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b and type(a) is type(b)
    return a is b


def memorised(label):
    """An answer that returns what the reference returned on the visible check's own inputs (as if copied
    from the check's messages) and, on any other input, the first of those answers."""
    _, _, (check, reference, _) = _hidden(label)
    seen = []

    def recording(*args):
        copies = [a.clone() if isinstance(a, torch.Tensor) else a.copy() if isinstance(a, np.ndarray) else a
                  for a in args]
        out = reference(*args)
        seen.append((copies, out))
        return out

    assert check(recording) is True

    def answer(*args):
        for copies, out in seen:
            if len(copies) == len(args) and all(_same(a, b) for a, b in zip(copies, args)):
                return out
        return seen[0][1]

    return answer


def d_star_1d_loop(p, q):
    """One number at a time: right for a 1-D vector, fails on a grid of points."""
    return torch.tensor([a / (a + b) for a, b in zip(p.tolist(), q.tolist())], dtype=torch.float64)


def d_star_clamped(p, q):
    """Guards the division with a floor that is below every sum the visible check uses."""
    return p / (p + q).clamp_min(1e-2)


def non_saturating_by_cases(logits):
    """Right values, but torch.where differentiates the overflowing branch too: NaN gradients at +-1000."""
    return torch.where(logits > 0, torch.log1p(torch.exp(-logits)),
                       -logits + torch.log1p(torch.exp(logits))).mean()


def non_saturating_mean_over_first_axis(logits):
    return F.softplus(-logits).mean(dim=0)


def value_on_a_coarse_grid(a, dx=0.25):
    """A grid of spacing 0.25: exact when a is a multiple of 0.25, as every checked a is."""
    x = torch.arange(-1.0, 3.0 + a, dx, dtype=torch.float64) + dx / 2
    p = ((x >= 0) & (x < 1)).double()
    q = ((x >= a) & (x < 1 + a)).double()
    d = torch.where(p + q > 0, p / (p + q).clamp_min(1e-300), 0.5)
    return float((torch.special.xlogy(p, d) + torch.special.xlogy(q, 1 - d)).sum() * dx)


def js_xlogy_of_ratio(p, q):
    """xlogy(p, p / m): fine wherever m > 0 (always in the visible check), NaN where p = q = 0."""
    m = (p + q) / 2
    return (torch.special.xlogy(p, p / m).sum() + torch.special.xlogy(q, q / m).sum()) / 2


def lines_with_a_tolerance(theta):
    """Treats |theta| < 1e-3 as 0: the smallest checked shift is 0.01."""
    if abs(theta) < 1e-3:
        return {"kl": 0.0, "js": 0.0, "tv": 0.0, "w1": 0.0}
    return t02.lines(theta)


def kl_gauss_on_a_grid(m1, s1, m2, s2):
    """Numerical integration over [-30, 30]: exact enough for the checked Gaussians, none for far ones."""
    x = torch.linspace(-30.0, 30.0, 300_001, dtype=torch.float64)
    log_p = -0.5 * ((x - m1) / s1) ** 2 - math.log(s1)
    log_q = -0.5 * ((x - m2) / s2) ** 2 - math.log(s2)
    p = torch.exp(log_p) / math.sqrt(2 * math.pi)
    return torch.trapezoid(p * (log_p - log_q), x).item()


def w1_sorting_numpy_in_place(x, y):
    """ndarray.sort() sorts the tensor's own memory: the caller's samples come back reordered."""
    a, b = x.numpy(), y.numpy()
    a.sort()
    b.sort()
    return float(np.abs(a - b).mean())


def w1_grid_in_place(p, q, dx):
    """p -= q saves memory but overwrites the caller's p."""
    p -= q
    return (torch.cumsum(p, 0).abs().sum() * dx).item()


def lipschitz_two_coordinates(f, x):
    """Written for points in the plane: the norm of the first two coordinates of the gradient only."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return torch.sqrt(grad[:, 0] ** 2 + grad[:, 1] ** 2).max().item()


def clip_the_state_dict(module, c):
    """state_dict() holds the parameters and the float buffers (batch norm's running statistics) alike."""
    for value in module.state_dict().values():
        if value.is_floating_point():
            value.clamp_(-c, c)


def critic_step_pairwise_gaps(critic, optimizer, real, fake, c):
    """E f(real) - E f(fake) as the mean of f(real_i) - f(fake_i): needs batches of one size."""
    optimizer.zero_grad()
    loss = (critic(fake.detach()) - critic(real)).mean()
    loss.backward()
    optimizer.step()
    t04.clip(critic, c)
    return -loss.item()


def upper_bound_power_iteration(mlp):
    """1000 power iterations per layer (spectral normalisation does 1 per step): not exact when the two largest
    singular values are close."""
    bound = 1.0
    for layer in mlp.modules():
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().double()
            v = torch.ones(w.shape[1], dtype=torch.float64)
            for _ in range(1000):
                v = w.T @ (w @ v)
                v = v / v.norm()
            bound *= (w @ v).norm().item()
    return bound


def _planar_norms(critic, x_hat):
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return torch.hypot(grad[:, 0], grad[:, 1])


def penalty_planar(critic, real, fake, eps):
    """torch.hypot of the two coordinates: the norm of a gradient in the plane only."""
    return ((_planar_norms(critic, eps * real + (1 - eps) * fake) - 1) ** 2).mean()


def one_sided_planar(critic, real, fake, eps):
    return (torch.relu(_planar_norms(critic, eps * real + (1 - eps) * fake) - 1) ** 2).mean()


def gp_step_lambda_10(critic, optimizer, real, fake, eps, lam):
    """lambda = 10 written in, as in the paper; the visible check happens to use 10."""
    return t05.gp_step(critic, optimizer, real, fake, eps, 10.0)


def colour_mirrored(mask, b, s):
    """Reads the mask mirrored left to right: invisible on the checked shapes, all left-right symmetric."""
    return t06.colour(mask[:, ::-1], b, s)


def image_penalty_in_float64(critic, real, fake, eps):
    """Casts x_hat to float64: fine with the float64 critics of the visible check only."""
    x_hat = (eps * real + (1 - eps) * fake).detach().double().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def frechet_by_cholesky(mu1, s1, mu2, s2):
    """Tr (L^T S2 L)^{1/2} with S1 = L L^T: right, but Cholesky needs S1 positive definite."""
    low = np.linalg.cholesky(s1)
    m = low.T @ s2 @ low
    root = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root)


def rank_of_class_sums(scores_a, scores_b, labels):
    """Ranks the class SUMS, the same ranking as the means when every class has as many images."""
    n = int(labels.max()) + 1
    sums = [torch.zeros(n, dtype=torch.float64).index_add_(0, labels, s.double()) for s in (scores_a, scores_b)]
    return scipy.stats.spearmanr(sums[0].numpy(), sums[1].numpy()).statistic


def ls_loss_column_only(real, fake, a, b):
    """Right on (n, 1) scores, but indexes column 0: scores of shape (n,) break it."""
    return 0.5 * ((real[:, 0] - b) ** 2).mean() + 0.5 * ((fake[:, 0] - a) ** 2).mean()


def ls_d_star_1d_only(p, q, a, b):
    """One number at a time: right for a vector of densities, fails on a grid."""
    out = [(b * x + a * y) / (x + y) if x + y > 0 else (a + b) / 2 for x, y in zip(p.tolist(), q.tolist())]
    return torch.tensor(out, dtype=torch.float64)


def power_step_float64_only(weight, u):
    """Builds its vectors in float64 and multiplies them by the given matrix: fails on a float32 weight."""
    v = weight.t() @ u.to(torch.float64)
    v = v / v.norm()
    u_new = weight @ v
    u_new = u_new / u_new.norm()
    return u_new @ weight @ v, u_new, v


def smoothed_column_only(real, fake, alpha):
    """Right on (n, 1) logits, but indexes column 0: logits of shape (n,) break it."""
    r, f = real[:, 0], fake[:, 0]
    return ((1 - alpha) * F.softplus(-r).mean() + alpha * F.softplus(r).mean() + F.softplus(f).mean())


def pack_with_view(x, m):
    """x.view(...): right on the contiguous batches of the visible check, an error on a transposed one."""
    n, d = x.shape
    if n % m:
        raise ValueError(f"{n} samples do not split into packs of {m}")
    return x.view(n // m, m * d)


def embedding_up_to_three_attributes(tables, labels):
    """Written out for the one to three attributes of the visible check: a fourth table is never read."""
    out = tables[0][labels[:, 0]]
    if len(tables) > 1:
        out = out + tables[1][labels[:, 1]]
    if len(tables) > 2:
        out = out + tables[2][labels[:, 2]]
    return out


def embedding_in_float64(tables, labels):
    """Accumulates into a float64 zero tensor: right on the float64 tables of the visible check only."""
    out = torch.zeros(len(labels), tables[0].shape[1], dtype=torch.float64)
    for a, table in enumerate(tables):
        out = out + table[labels[:, a]]
    return out


def projection_squeezed(features, head_weight, head_bias, embedded):
    """(n, 1) columns squeezed at the end: a 0-dim tensor for a single sample."""
    return (features @ head_weight[:, None] + head_bias + (embedded * features).sum(dim=1, keepdim=True)).squeeze()


def projection_in_float64(features, head_weight, head_bias, embedded):
    h = features.double()
    return h @ head_weight.double() + head_bias.double() + (embedded.double() * h).sum(dim=1)


def cls_column_only(real_right, real_wrong, fake_right):
    """Right on (n, 1) logits, but indexes column 0: logits of shape (n,) break it."""
    return (F.softplus(-real_right[:, 0]).mean()
            + 0.5 * (F.softplus(real_wrong[:, 0]).mean() + F.softplus(fake_right[:, 0]).mean()))


def mi_k_from_the_codes(logits, codes):
    """K read from the codes (largest + 1): right whenever the batch holds the last category, as the visible
    check's batches do."""
    return math.log(int(codes.max()) + 1) - F.cross_entropy(logits, codes)


def mi_one_hot_without_num_classes(logits, codes):
    """F.one_hot(codes) without num_classes has max(codes) + 1 columns: a shape error once a batch misses the
    last category."""
    return math.log(logits.shape[1]) + (F.one_hot(codes) * logits.log_softmax(dim=1)).sum(dim=1).mean()


def nll_clamping_log_std(mean, log_std, codes):
    """Clamps log sigma to [-5, 5], as networks' outputs often are: the visible check's lie inside."""
    return t09.gaussian_code_nll(mean, log_std.clamp(-5.0, 5.0), codes)


def cluster_counting_distinct_values(predicted, labels):
    """Sizes the table by the number of distinct values: right when both count from 0 without gaps."""
    table = np.zeros((len(torch.unique(predicted)), len(torch.unique(labels))))
    np.add.at(table, (predicted.numpy(), labels.numpy()), 1)
    rows, cols = scipy.optimize.linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(labels))


VISIBLE_ONLY = {
    "ch1-ex-optimal-d": [d_star_1d_loop, d_star_clamped],
    "ch1-ex-non-saturating": [non_saturating_by_cases, non_saturating_mean_over_first_axis],
    "ch1-ex-value-at-optimum": [value_on_a_coarse_grid],
    "ch2-ex-js": [js_xlogy_of_ratio],
    "ch2-ex-tv": ["memorised"],
    "ch2-ex-lines": [lines_with_a_tolerance],
    "ch2-ex-kl-gauss": [kl_gauss_on_a_grid],
    "ch3-ex-sorting": [w1_sorting_numpy_in_place, "memorised"],
    "ch3-ex-cdf": [w1_grid_in_place],
    "ch3-ex-lipschitz": [lipschitz_two_coordinates],
    "ch4-ex-clip": [clip_the_state_dict],
    "ch4-ex-step": [critic_step_pairwise_gaps],
    "ch4-ex-bound": [upper_bound_power_iteration],
    "ch5-ex-penalty": [penalty_planar],
    "ch5-ex-one-sided": [one_sided_planar],
    "ch5-ex-step": [gp_step_lambda_10],
    "ch6-ex-diamond": ["memorised"],
    "ch6-ex-colour": [colour_mirrored],
    "ch6-ex-tensor": ["memorised"],
    "ch6-ex-penalty": [image_penalty_in_float64],
    "ch6-ex-fid": [frechet_by_cholesky],
    "ch7-ex-auroc": ["memorised"],
    "ch7-ex-shift": ["memorised"],
    "ch7-ex-rank": [rank_of_class_sums],
    "ch7-ex-pairwise": ["memorised"],
    "ch8-ex-ls-loss": [ls_loss_column_only],       # a memorised value has no gradient: the visible check fails it
    "ch8-ex-ls-optimum": ["memorised", ls_d_star_1d_only],
    "ch8-ex-power-iteration": ["memorised", power_step_float64_only],
    "ch8-ex-smoothing": [smoothed_column_only],
    "ch8-ex-pack": [pack_with_view],               # memorising cannot raise the ValueError the check asks for
    # a memorised value is not connected to the visible check's fresh tensors: the visible check fails it
    "ch9-ex-embedding": [embedding_up_to_three_attributes, embedding_in_float64],
    "ch9-ex-projection": [projection_squeezed, projection_in_float64],
    "ch9-ex-cls": [cls_column_only],
    "ch9-ex-mi-bound": [mi_k_from_the_codes, mi_one_hot_without_num_classes],
    "ch9-ex-gaussian-nll": [nll_clamping_log_std],
    "ch9-ex-cluster-accuracy": ["memorised", cluster_counting_distinct_values],
}


def _w1_grid_loop(p, q, dx):
    total, gap = 0.0, 0.0
    for a, b in zip(p.tolist(), q.tolist()):
        gap += a - b
        total += abs(gap) * dx
    return total


def _clip_through_data(module, c):
    for p in module.parameters():
        p.data.clamp_(-c, c)


def _class_means(scores, labels):
    return torch.stack([scores[labels == c].double().mean() for c in range(int(labels.max()) + 1)])


# other correct answers, written differently from the references: the hidden tests must pass them too
OTHER_CORRECT = {
    "ch1-ex-optimal-d": [lambda p, q: 1 / (1 + q / p)],
    "ch1-ex-non-saturating": [lambda logits: -F.logsigmoid(logits).mean()],
    "ch2-ex-js": [lambda p, q: gl.theory.js_divergence(p, q)],
    "ch2-ex-tv": [lambda p, q: (p - q).clamp_min(0).sum().item()],
    "ch2-ex-lines": [lambda theta: {k: torch.tensor(v) for k, v in gl.theory.parallel_lines(theta).items()}],
    "ch2-ex-kl-gauss": [lambda m1, s1, m2, s2: 0.5 * (s1 ** 2 / s2 ** 2 + (m2 - m1) ** 2 / s2 ** 2 - 1
                                                      + 2 * math.log(s2 / s1))],
    "ch3-ex-sorting": [lambda x, y: np.abs(np.sort(x.numpy()) - np.sort(y.numpy())).mean()],
    "ch3-ex-cdf": [_w1_grid_loop],
    "ch3-ex-lipschitz": [lambda f, x: gl.estimate.input_gradient(f, x).norm(dim=1).max()],
    "ch4-ex-clip": [_clip_through_data, gl.losses.clip_weights],
    "ch4-ex-step": [t04.clipped_step_without_detach],
    "ch4-ex-bound": [lambda mlp: math.prod(torch.linalg.svdvals(m.weight.detach())[0].item()
                                           for m in mlp.modules() if isinstance(m, nn.Linear)),
                     gl.lipschitz.spectral_bound],
    "ch5-ex-penalty": [lambda f, r, g, e: gl.losses.gradient_penalty(f, r, g, eps=e)],
    "ch5-ex-one-sided": [lambda f, r, g, e: gl.losses.gradient_penalty(f, r, g, eps=e, one_sided=True)],
    "ch5-ex-step": [t05.gp_step_with_library],
    "ch6-ex-diamond": [t06.diamond_as_torch_floats],
    "ch6-ex-colour": [t06.colour_as_torch],
    "ch6-ex-tensor": [gl.data.to_tensor, lambda x: torch.as_tensor(x, dtype=torch.float64).permute(0, 3, 1, 2) / 127.5 - 1],
    "ch6-ex-penalty": [t06.image_penalty_over_dims, lambda f, r, g, e: gl.losses.gradient_penalty(f, r, g, eps=e)],
    "ch6-ex-fid": [t06.frechet_by_eigenvalues],
    "ch7-ex-auroc": [t07.auroc_by_ranks, gl.metrics.auroc],
    "ch7-ex-shift": [lambda s, l, r: (s - s[l == r].mean()).numpy(), gl.scoring.shift],
    "ch7-ex-rank": [lambda a, b, l: gl.metrics.rank_correlation(_class_means(a, l), _class_means(b, l)),
                    lambda a, b, l: scipy.stats.spearmanr(_class_means(a, l), _class_means(b, l)).statistic],
    "ch7-ex-pairwise": [gl.metrics.pairwise_auroc],
    "ch9-ex-embedding": [t09.summed_embedding_with_f_embedding,
                         lambda tables, labels: torch.stack([t.index_select(0, labels[:, a])
                                                             for a, t in enumerate(tables)]).sum(dim=0)],
    "ch9-ex-projection": [t09.projection_score_with_einsum],
    "ch9-ex-cls": [t09.matching_aware_loss_with_bce, gl.losses.matching_aware_discriminator_loss],
    "ch9-ex-mi-bound": [t09.mutual_information_bound_by_gather,
                        lambda logits, codes: gl.losses.mutual_information_lower_bound(logits, codes,
                                                                                       logits.shape[1])],
    "ch9-ex-gaussian-nll": [t09.gaussian_code_nll_with_distributions, gl.losses.gaussian_code_loss],
    "ch9-ex-cluster-accuracy": [t09.cluster_accuracy_by_permutations, gl.infogan.cluster_accuracy],
}


def _stub(*args, **kwargs):
    raise NotImplementedError("your code here")


# ---- the tests -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label", sorted(EXERCISES))
def test_the_reference_answer_passes(label):
    _, _, (_, reference, _) = _hidden(label)
    _run(label, reference)


@pytest.mark.parametrize("label", sorted(EXERCISES))
def test_a_stub_fails_as_not_attempted(label):
    with pytest.raises(AssertionError, match="not attempted"):
        _run(label, _stub)


@pytest.mark.parametrize("label,wrong", [(label, w) for label in sorted(EXERCISES)
                                         for w in _hidden(label)[2][2]], ids=lambda v: getattr(v, "__name__", v))
def test_a_planted_wrong_answer_fails(label, wrong):
    with pytest.raises(AssertionError):
        _run(label, wrong)


@pytest.mark.parametrize("label,answer", [(label, a) for label in sorted(VISIBLE_ONLY) for a in VISIBLE_ONLY[label]],
                         ids=lambda v: getattr(v, "__name__", v))
def test_an_answer_that_passes_only_the_visible_check_fails(label, answer):
    fn = memorised(label) if answer == "memorised" else answer
    _, _, (check, _, _) = _hidden(label)
    assert check(fn) is True, "the visible check should pass this answer"
    with pytest.raises(AssertionError):
        _run(label, fn)


@pytest.mark.parametrize("label,answer", [(label, a) for label in sorted(OTHER_CORRECT) for a in OTHER_CORRECT[label]],
                         ids=lambda v: getattr(v, "__name__", v))
def test_other_correct_forms_pass(label, answer):
    _run(label, answer)


def test_every_exercise_has_a_visible_only_answer():
    assert set(VISIBLE_ONLY) == set(EXERCISES)


def _code_exercises(notebook: Path) -> dict:
    """label -> the stub's source, for each {exercise} followed by an untagged stub raising NotImplementedError."""
    cells = json.loads(notebook.read_text())["cells"]
    found = {}
    for cell, following in zip(cells, cells[1:]):
        text = "".join(cell["source"])
        if cell["cell_type"] != "markdown" or "```{exercise}" not in text:
            continue
        label = re.search(r"^:label:\s*(\S+)", text, re.M).group(1)
        code = "".join(following["source"])
        if (following["cell_type"] == "code" and "solution" not in following.get("metadata", {}).get("tags", [])
                and "raise NotImplementedError" in code):
            found[label] = code
    return found


@pytest.mark.parametrize("module", list(NOTEBOOKS), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_hidden_tests_are_exactly_the_notebooks_code_exercises(module):
    """HIDDEN is the union of its notebooks' code exercises; each notebook has some, and no label is in two."""
    exercises = {}
    for name in NOTEBOOKS[module]:
        found = _code_exercises(BOOK / name)
        assert found, f"{name} should have code exercises"
        assert not set(found) & set(exercises), f"{name} repeats the labels {sorted(set(found) & set(exercises))}"
        exercises.update(found)
    assert set(module.HIDDEN) == set(exercises)
    for label, stub in exercises.items():
        name = EXERCISES[label][1]
        assert re.search(rf"^def {name}\(", stub, re.M), f"{label}: the stub should define {name}"


def test_every_notebook_with_code_exercises_has_a_hidden_module():
    with_exercises = {p.name for p in BOOK.glob("*.ipynb") if _code_exercises(p)}
    assert with_exercises == {name for _, name in NOTEBOOK_FILES}
    for module, name in NOTEBOOK_FILES:         # the module the classroom build runs for that notebook
        assert build.hidden_module_name(BOOK / name) == module.__name__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("label", sorted(EXERCISES))
def test_a_missing_name_is_reported_by_name(label):
    test, name, _ = _hidden(label)
    with pytest.raises(AssertionError, match=f"`{name}` is not defined"):
        test({})


def _solutions(notebook: Path) -> dict:
    """The notebook's solution cells run as the classroom build will: X_solution renamed X, the cell cut
    before its first assert (the visible check and what follows)."""
    import itertools
    import scipy
    namespace = {"torch": torch, "np": np, "math": math, "gl": gl, "F": F, "nn": nn, "scipy": scipy,
                 "itertools": itertools}
    for cell in json.loads(notebook.read_text())["cells"]:
        if "solution" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines = "".join(cell["source"]).splitlines()
        cut = next((i for i, line in enumerate(lines) if line.startswith("assert ")), len(lines))
        exec(re.sub(r"\b(\w+)_solution\b", r"\1", "\n".join(lines[:cut])), namespace)
    return namespace


@pytest.mark.parametrize("module, notebook", NOTEBOOK_FILES, ids=[name for _, name in NOTEBOOK_FILES])
def test_the_notebooks_own_solutions_pass(module, notebook):
    """Each notebook's solutions pass the hidden tests of its own exercises (a namespace of its own)."""
    labels = _code_exercises(BOOK / notebook)
    assert labels, f"{notebook} should have code exercises"
    namespace = _solutions(BOOK / notebook)
    for label in labels:
        module.HIDDEN[label](namespace)


def test_the_hidden_tests_leave_the_global_random_state_alone():
    def uses_the_global_rng(p, q):
        torch.rand(3)
        np.random.rand(3)
        return t01.d_star(p, q)

    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    ch01.HIDDEN["ch1-ex-optimal-d"]({"optimal_discriminator": uses_the_global_rng})
    ch05.HIDDEN["ch5-ex-penalty"]({"gradient_penalty": t05.penalty})
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_an_error_in_the_students_code_names_the_case():
    def broken(p, q):
        raise ValueError("shapes do not match")

    with pytest.raises(AssertionError, match=r"7x9 grid.*ValueError: shapes do not match"):
        ch01.HIDDEN["ch1-ex-optimal-d"]({"optimal_discriminator": broken})


def test_feedback_says_what_to_fix():
    with pytest.raises(AssertionError, match="p_g = 0 should be 1"):
        _run("ch1-ex-optimal-d", lambda p, q: torch.where(q == 0, 0.5, p / (p + q)))
    with pytest.raises(AssertionError, match="NaN gradient"):
        _run("ch1-ex-non-saturating", non_saturating_by_cases)
    with pytest.raises(AssertionError, match="0 \\* log 0"):
        _run("ch2-ex-js", js_xlogy_of_ratio)
    with pytest.raises(AssertionError, match="theta = 1e-09.*not with a tolerance"):
        _run("ch2-ex-lines", lines_with_a_tolerance)
    with pytest.raises(AssertionError, match="modified x or y"):
        _run("ch3-ex-sorting", w1_sorting_numpy_in_place)
    with pytest.raises(AssertionError, match="buffer .*state_dict"):
        _run("ch4-ex-clip", clip_the_state_dict)
    with pytest.raises(AssertionError, match="power iterations"):
        _run("ch4-ex-bound", upper_bound_power_iteration)
    with pytest.raises(AssertionError, match="lambda = 0.1.*lam you are given"):
        _run("ch5-ex-step", gp_step_lambda_10)
    with pytest.raises(AssertionError, match="MEAN score of each class"):
        _run("ch7-ex-rank", rank_of_class_sums)
