"""gan_lab.exercises.ch09: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import torch
import torch.nn.functional as F

from gan_lab import infogan, losses
from gan_lab.exercises import ch09


# ---- the summed label embedding ---------------------------------------------------------------------------

def summed_embedding(tables, labels):
    return sum(table[labels[:, a]] for a, table in enumerate(tables))


def summed_embedding_with_f_embedding(tables, labels):
    return torch.stack([F.embedding(labels[:, a], table) for a, table in enumerate(tables)]).sum(dim=0)


def embedding_concatenated(tables, labels):
    return torch.cat([table[labels[:, a]] for a, table in enumerate(tables)], dim=1)


def embedding_one_table(tables, labels):
    """Reads every attribute from the first table."""
    return sum(tables[0][labels[:, a]] for a in range(len(tables)))


def embedding_mean(tables, labels):
    return torch.stack([table[labels[:, a]] for a, table in enumerate(tables)]).mean(dim=0)


def embedding_off_by_one(tables, labels):
    """Labels read as if they counted from 1: row y_a - 1 (and the last row for y_a = 0)."""
    return sum(table[labels[:, a] - 1] for a, table in enumerate(tables))


def embedding_first_attribute_only(tables, labels):
    return tables[0][labels[:, 0]]


def embedding_detached(tables, labels):
    return sum(table.detach()[labels[:, a]] for a, table in enumerate(tables))


def embedding_through_numpy(tables, labels):
    return torch.as_tensor(sum(table.detach().numpy()[labels[:, a].numpy()] for a, table in enumerate(tables)))


def embedding_in_place(tables, labels):
    out = tables[0].data[labels[:, 0]]
    tables[0].data.mul_(1.0).add_(0.0)
    labels[:, 0] = labels[:, 0]
    labels.add_(0)
    out = summed_embedding(tables, labels)
    tables[0].data[0, 0] += 1.0
    return out


def embedding_labels_in_place(tables, labels):
    labels.clamp_(max=1)
    return summed_embedding(tables, labels)


# ---- the projection critic's score ------------------------------------------------------------------------

def projection_score(features, head_weight, head_bias, embedded):
    return features @ head_weight + head_bias + (embedded * features).sum(dim=1)


def projection_score_with_einsum(features, head_weight, head_bias, embedded):
    return torch.einsum("nd,nd->n", features, embedded + head_weight) + head_bias


def projection_matrix_product(features, head_weight, head_bias, embedded):
    """The broadcasting mistake: every sample paired with every label, (n, n)."""
    return features @ head_weight + head_bias + features @ embedded.T


def projection_column(features, head_weight, head_bias, embedded):
    return features @ head_weight[:, None] + head_bias + (embedded * features).sum(dim=1, keepdim=True)


def projection_column_plus_row(features, head_weight, head_bias, embedded):
    """psi as an (n, 1) column added to the (n,) projection: broadcasts to (n, n)."""
    return features @ head_weight[:, None] + head_bias + (embedded * features).sum(dim=1)


def projection_without_psi(features, head_weight, head_bias, embedded):
    return (embedded * features).sum(dim=1)


def projection_without_bias(features, head_weight, head_bias, embedded):
    return features @ head_weight + (embedded * features).sum(dim=1)


def projection_without_projection(features, head_weight, head_bias, embedded):
    return features @ head_weight + head_bias


def projection_subtracted(features, head_weight, head_bias, embedded):
    return features @ head_weight + head_bias - (embedded * features).sum(dim=1)


def projection_summed_over_the_batch(features, head_weight, head_bias, embedded):
    return (features @ head_weight + head_bias + (embedded * features).sum(dim=1)).sum()


def projection_detached_embedding(features, head_weight, head_bias, embedded):
    return features @ head_weight + head_bias + (embedded.detach() * features).sum(dim=1)


def projection_detached_features(features, head_weight, head_bias, embedded):
    h = features.detach()
    return h @ head_weight + head_bias + (embedded * h).sum(dim=1)


def projection_as_numpy(features, head_weight, head_bias, embedded):
    return projection_score(features, head_weight, head_bias, embedded).detach().numpy()


def projection_in_place(features, head_weight, head_bias, embedded):
    out = projection_score(features, head_weight, head_bias, embedded)
    features.data[0, 0] += 1.0
    return out


# ---- GAN-CLS's matching-aware discriminator loss ----------------------------------------------------------

def matching_aware_loss(real_right, real_wrong, fake_right):
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake_right).mean())


def matching_aware_loss_with_bce(real_right, real_wrong, fake_right):
    bce = F.binary_cross_entropy_with_logits
    return (bce(real_right, torch.ones_like(real_right)) + 0.5 * bce(real_wrong, torch.zeros_like(real_wrong))
            + 0.5 * bce(fake_right, torch.zeros_like(fake_right)))


def cls_thirds(real_right, real_wrong, fake_right):
    return (F.softplus(-real_right).mean() + F.softplus(real_wrong).mean() + F.softplus(fake_right).mean()) / 3


def cls_without_the_half(real_right, real_wrong, fake_right):
    return F.softplus(-real_right).mean() + F.softplus(real_wrong).mean() + F.softplus(fake_right).mean()


def cls_wrong_captions_as_real(real_right, real_wrong, fake_right):
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(-real_wrong).mean() + F.softplus(fake_right).mean())


def cls_via_log_sigmoid(real_right, real_wrong, fake_right):
    """The right formula, but log(sigmoid(l)) is -inf once sigmoid rounds to 0 (or 1)."""
    d_rr, d_rw, d_fr = torch.sigmoid(real_right), torch.sigmoid(real_wrong), torch.sigmoid(fake_right)
    return -torch.log(d_rr).mean() - 0.5 * (torch.log(1 - d_rw).mean() + torch.log(1 - d_fr).mean())


def cls_over_the_whole_fake_batch(real_right, real_wrong, fake_right):
    """One mean over both fake kinds together: weights them by their sizes."""
    return F.softplus(-real_right).mean() + F.softplus(torch.cat([real_wrong, fake_right])).mean()


def cls_without_wrong_captions(real_right, real_wrong, fake_right):
    return F.softplus(-real_right).mean() + F.softplus(fake_right).mean()


def cls_as_float(real_right, real_wrong, fake_right):
    return matching_aware_loss(real_right, real_wrong, fake_right).item()


def cls_detached_wrong_captions(real_right, real_wrong, fake_right):
    return matching_aware_loss(real_right, real_wrong.detach(), fake_right)


# ---- InfoGAN's mutual-information bound (book/09_digits_and_codes.ipynb) ----------------------------------

def mutual_information_bound(logits, codes):
    return math.log(logits.shape[1]) - F.cross_entropy(logits, codes)


def mutual_information_bound_by_gather(logits, codes):
    return math.log(logits.shape[1]) + logits.log_softmax(dim=1).gather(1, codes[:, None]).mean()


def mi_without_log_k(logits, codes):
    """E[log Q(c | x)] alone: H(c) = log K forgotten."""
    return -F.cross_entropy(logits, codes)


def mi_log_of_softmax(logits, codes):
    """The right formula, but log(softmax) is log 0 = -inf once softmax rounds a probability to 0."""
    q = torch.softmax(logits, dim=1)
    return math.log(logits.shape[1]) + torch.log(q[torch.arange(len(codes)), codes]).mean()


def mi_log_of_softmax_plus_eps(logits, codes):
    """log(softmax + 1e-8): finite, but off everywhere, and by thousands at +-5000."""
    q = torch.softmax(logits, dim=1)
    return math.log(logits.shape[1]) + torch.log(q[torch.arange(len(codes)), codes] + 1e-8).mean()


def mi_summed_over_the_batch(logits, codes):
    return math.log(logits.shape[1]) + logits.log_softmax(dim=1).gather(1, codes[:, None]).sum()


def mi_in_bits(logits, codes):
    return math.log2(logits.shape[1]) - F.cross_entropy(logits, codes) / math.log(2)


def mi_sign_flipped(logits, codes):
    """The loss to minimise (cross-entropy - log K) handed back as the bound."""
    return F.cross_entropy(logits, codes) - math.log(logits.shape[1])


def mi_plus_the_cross_entropy(logits, codes):
    return math.log(logits.shape[1]) + F.cross_entropy(logits, codes)


def mi_softmax_over_the_batch(logits, codes):
    """log_softmax over dim 0: each category normalised across the samples, not each sample across the K."""
    return math.log(logits.shape[1]) + logits.log_softmax(dim=0).gather(1, codes[:, None]).mean()


def mi_entropy_of_the_batch_codes(logits, codes):
    """H(c) estimated from the codes of this batch instead of the uniform prior's log K."""
    p = torch.bincount(codes, minlength=logits.shape[1]).double() / len(codes)
    h = -(p[p > 0] * p[p > 0].log()).sum()
    return h - F.cross_entropy(logits, codes)


def mi_as_float(logits, codes):
    return mutual_information_bound(logits, codes).item()


def mi_codes_in_place(logits, codes):
    out = mutual_information_bound(logits, codes)
    codes.clamp_(max=1)
    return out


# ---- the Gaussian code's negative log-likelihood ----------------------------------------------------------

def gaussian_code_nll(mean, log_std, codes):
    nll = log_std + 0.5 * ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)
    return nll.sum(dim=1).mean()


def gaussian_code_nll_with_distributions(mean, log_std, codes):
    return -torch.distributions.Normal(mean, log_std.exp()).log_prob(codes).sum(dim=1).mean()


def nll_without_the_constant(mean, log_std, codes):
    return (log_std + 0.5 * ((codes - mean) / log_std.exp()) ** 2).sum(dim=1).mean()


def nll_log_std_as_log_variance(mean, log_std, codes):
    """exp(log_std) read as the variance: log sigma = log_std / 2 and (c - mu)^2 / (2 exp(log_std))."""
    nll = 0.5 * log_std + (codes - mean) ** 2 / (2 * log_std.exp()) + 0.5 * math.log(2 * math.pi)
    return nll.sum(dim=1).mean()


def nll_mean_over_the_dimensions(mean, log_std, codes):
    nll = log_std + 0.5 * ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)
    return nll.mean()


def nll_without_log_sigma(mean, log_std, codes):
    return (0.5 * ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)).sum(dim=1).mean()


def nll_without_the_half(mean, log_std, codes):
    nll = log_std + ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)
    return nll.sum(dim=1).mean()


def nll_summed_over_the_batch(mean, log_std, codes):
    nll = log_std + 0.5 * ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)
    return nll.sum()


def nll_per_sample(mean, log_std, codes):
    nll = log_std + 0.5 * ((codes - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)
    return nll.sum(dim=1)


def nll_log_likelihood(mean, log_std, codes):
    """E[log N(c; mu, sigma^2)]: the minus sign forgotten."""
    return -gaussian_code_nll(mean, log_std, codes)


def nll_detached_log_std(mean, log_std, codes):
    return gaussian_code_nll(mean, log_std.detach(), codes)


def nll_as_float(mean, log_std, codes):
    return gaussian_code_nll(mean, log_std, codes).item()


# ---- the accuracy of a clustering -------------------------------------------------------------------------

def _table(predicted, labels):
    table = np.zeros((int(predicted.max()) + 1, int(labels.max()) + 1))
    np.add.at(table, (predicted.numpy(), labels.numpy()), 1)
    return table


def cluster_accuracy(predicted, labels):
    table = _table(predicted, labels)
    rows, cols = scipy.optimize.linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(labels))


def cluster_accuracy_by_permutations(predicted, labels):
    """Every assignment of labels to clusters (a few clusters only: K! of them)."""
    k = max(int(predicted.max()), int(labels.max())) + 1
    table = np.zeros((k, k))
    np.add.at(table, (predicted.numpy(), labels.numpy()), 1)
    return max(table[range(k), list(perm)].sum() for perm in itertools.permutations(range(k))) / len(labels)


def cluster_plain_accuracy(predicted, labels):
    """Cluster k read as label k: no relabelling."""
    return (predicted == labels).double().mean().item()


def cluster_purity(predicted, labels):
    """Each cluster its majority label, two clusters free to share one: purity, not a one-to-one matching."""
    return float(_table(predicted, labels).max(axis=1).sum() / len(labels))


def cluster_greedy_largest_first(predicted, labels):
    """Matches the largest remaining count first: not the best matching in general."""
    table, total = _table(predicted, labels), 0.0
    for _ in range(min(table.shape)):
        k, y = np.unravel_index(np.argmax(table), table.shape)
        total += table[k, y]
        table[k, :], table[:, y] = -1, -1
    return float(total / len(labels))


def cluster_greedy_cluster_by_cluster(predicted, labels):
    """Each cluster in turn takes its best label not yet taken."""
    table, taken, total = _table(predicted, labels), set(), 0.0
    for row in table:
        free = [y for y in np.argsort(-row) if y not in taken]
        if free:
            taken.add(free[0])
            total += row[free[0]]
    return float(total / len(labels))


def cluster_minimum_matching(predicted, labels):
    """linear_sum_assignment minimises by default: the worst matching, without maximize=True."""
    table = _table(predicted, labels)
    rows, cols = scipy.optimize.linear_sum_assignment(table)
    return float(table[rows, cols].sum() / len(labels))


def cluster_first_clusters_only(predicted, labels):
    """Permutations of the labels given to clusters 0..K-1 only: with more clusters than labels, a later
    cluster is never matched."""
    table = _table(predicted, labels)
    k = table.shape[1]
    return max(table[range(k), list(perm)].sum() for perm in itertools.permutations(range(k))) / len(labels)


def cluster_over_the_matched_samples(predicted, labels):
    """Divides by the samples of the matched clusters instead of all n."""
    table = _table(predicted, labels)
    rows, cols = scipy.optimize.linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table[rows].sum())


def cluster_sorting_in_place(predicted, labels):
    """Sorts the caller's tensors (together) before counting: the table is the same, the inputs are not."""
    order = torch.argsort(labels)
    predicted.copy_(predicted[order])
    labels.copy_(labels[order])
    return cluster_accuracy(predicted, labels)


CHECKS = {
    "summed embedding": (ch09.check_summed_embedding, summed_embedding,
                         [embedding_concatenated, embedding_one_table, embedding_mean, embedding_off_by_one,
                          embedding_first_attribute_only, embedding_detached, embedding_through_numpy,
                          embedding_in_place, embedding_labels_in_place]),
    "projection score": (ch09.check_projection_score, projection_score,
                         [projection_matrix_product, projection_column, projection_column_plus_row,
                          projection_without_psi, projection_without_bias, projection_without_projection,
                          projection_subtracted, projection_summed_over_the_batch, projection_detached_embedding,
                          projection_detached_features, projection_as_numpy, projection_in_place]),
    "matching-aware loss": (ch09.check_matching_aware_loss, matching_aware_loss,
                            [cls_thirds, cls_without_the_half, cls_wrong_captions_as_real, cls_via_log_sigmoid,
                             cls_over_the_whole_fake_batch, cls_without_wrong_captions, cls_as_float,
                             cls_detached_wrong_captions]),
    "mutual information bound": (ch09.check_mutual_information_bound, mutual_information_bound,
                                 [mi_without_log_k, mi_log_of_softmax, mi_log_of_softmax_plus_eps,
                                  mi_summed_over_the_batch, mi_in_bits, mi_sign_flipped, mi_plus_the_cross_entropy,
                                  mi_softmax_over_the_batch, mi_entropy_of_the_batch_codes, mi_as_float,
                                  mi_codes_in_place]),
    "gaussian code nll": (ch09.check_gaussian_code_nll, gaussian_code_nll,
                          [nll_without_the_constant, nll_log_std_as_log_variance, nll_mean_over_the_dimensions,
                           nll_without_log_sigma, nll_without_the_half, nll_summed_over_the_batch, nll_per_sample,
                           nll_log_likelihood, nll_detached_log_std, nll_as_float]),
    "cluster accuracy": (ch09.check_cluster_accuracy, cluster_accuracy,
                         [cluster_plain_accuracy, cluster_purity, cluster_greedy_largest_first,
                          cluster_greedy_cluster_by_cluster, cluster_minimum_matching, cluster_first_clusters_only,
                          cluster_over_the_matched_samples, cluster_sorting_in_place]),
}


# ---- other right answers pass; the messages say what differed ---------------------------------------------

@pytest.mark.parametrize("check, answer", [
    (ch09.check_summed_embedding, summed_embedding_with_f_embedding),
    (ch09.check_projection_score, projection_score_with_einsum),
    (ch09.check_matching_aware_loss, matching_aware_loss_with_bce),
    (ch09.check_matching_aware_loss, losses.matching_aware_discriminator_loss),
    (ch09.check_mutual_information_bound, mutual_information_bound_by_gather),
    (ch09.check_mutual_information_bound, lambda logits, codes: losses.mutual_information_lower_bound(
        logits, codes, logits.shape[1])),
    (ch09.check_gaussian_code_nll, gaussian_code_nll_with_distributions),
    (ch09.check_gaussian_code_nll, losses.gaussian_code_loss),
    (ch09.check_cluster_accuracy, cluster_accuracy_by_permutations),
    (ch09.check_cluster_accuracy, infogan.cluster_accuracy),
])
def test_other_correct_answers_pass(check, answer):
    assert check(answer) is True


@pytest.mark.parametrize("wrong, message", [
    (embedding_concatenated, r"K = \(5, 3\).*expected shape \(12, 4\), got \(12, 8\).*not a concatenation"),
    (embedding_one_table, r"K = \(5, 3\).*off by"),
    (embedding_mean, r"K = \(5, 3\).*off by"),
    (embedding_off_by_one, r"K = \(6,\).*off by"),
    (embedding_detached, r"not a tensor connected.*no \.detach\(\)"),
    (embedding_through_numpy, r"not a tensor connected.*\.numpy\(\)"),
    (embedding_in_place, "the tables were modified"),
    (embedding_labels_in_place, "the labels were modified"),
])
def test_the_embedding_check_says_what_differed(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch09.check_summed_embedding(wrong)


def test_a_table_the_gradient_misses_is_named():
    def second_table_detached(tables, labels):
        return tables[0][labels[:, 0]] + tables[1].detach()[labels[:, 1]]

    with pytest.raises(AssertionError, match=r"gradient does not reach table 1.*no \.detach\(\)"):
        ch09.check_summed_embedding(lambda t, y: summed_embedding(t, y) if len(t) == 1
                                    else second_table_detached(t, y))


@pytest.mark.parametrize("wrong, message", [
    (projection_matrix_product, r"expected shape \(12,\), got \(12, 12\).*features @ embedded\.T"),
    (projection_column, r"expected shape \(12,\), got \(12, 1\).*flatten"),
    (projection_column_plus_row, r"got \(12, 12\).*broadcasts"),
    (projection_summed_over_the_batch, r"expected shape \(12,\), got \(\).*not one number"),
    (projection_without_bias, "off by"),
    (projection_detached_embedding, "gradient does not reach embedded"),
    (projection_detached_features, "gradient does not reach features"),
    (projection_as_numpy, "not a tensor connected"),
    (projection_in_place, "were modified"),
])
def test_the_projection_check_says_what_differed(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch09.check_projection_score(wrong)


@pytest.mark.parametrize("wrong, message", [
    (cls_thirds, "48 matching.*1/2 each"),
    (cls_without_the_half, "48 matching.*1/2 each"),
    (cls_wrong_captions_as_real, "48 matching.*wrong captions and fakes both fake"),
    (cls_via_log_sigmoid, r"\+-5000: expected .*, got inf.*softplus"),
    (cls_over_the_whole_fake_batch, "its own batch"),
    (cls_as_float, "not a tensor connected"),
    (cls_detached_wrong_captions, "gradient does not reach real_wrong"),
])
def test_the_cls_check_says_what_differed(wrong, message):
    with pytest.raises(AssertionError, match=message):
        ch09.check_matching_aware_loss(wrong)


def test_the_label_rows_repeat_and_hold_one_out():
    for condition, _, n in ch09.CONDITIONS:
        labels = ch09._labels(0, condition, n)
        assert labels.shape == (n, len(condition)) and labels.dtype == torch.int64
        rows = [tuple(r) for r in labels.tolist()]
        assert len(set(rows)) < len(rows)
        assert rows.count(rows[n // 2]) == 1
        for a, k in enumerate(condition):
            assert 0 <= labels[:, a].min() and labels[:, a].max() < k


def test_the_one_table_mistake_is_wrong_not_an_index_error():
    """The second condition's first table has the most rows, so reading every attribute from it is a wrong
    number, which the check reports, and not an IndexError before any check could speak."""
    condition = ch09.CONDITIONS[1][0]
    assert condition[0] == max(condition)


@pytest.mark.parametrize("check, wrong, message", [
    (ch09.check_mutual_information_bound, mi_without_log_k, "40 samples.*K = 3.*log K in nats"),
    (ch09.check_mutual_information_bound, mi_log_of_softmax, r"\+-5000 \(K = 3\): expected .*, got -inf.*log_softmax"),
    (ch09.check_mutual_information_bound, mi_summed_over_the_batch, "40 samples.*averaged over the batch"),
    (ch09.check_mutual_information_bound, mi_as_float, "not a tensor connected"),
    (ch09.check_mutual_information_bound, mi_codes_in_place, "the logits or the codes were modified"),
    (ch09.check_gaussian_code_nll, nll_without_the_constant, r"30 codes with d = 2.*1/2 log\(2 pi\)"),
    (ch09.check_gaussian_code_nll, nll_log_std_as_log_variance, "30 codes.*a standard deviation"),
    (ch09.check_gaussian_code_nll, nll_per_sample, r"expected one number, got a tensor of shape \(30,\)"),
    (ch09.check_gaussian_code_nll, nll_detached_log_std, "gradient does not reach log_std"),
    (ch09.check_cluster_accuracy, cluster_plain_accuracy,
     r"truth relabelled.*expected 1, got 0\.12.*linear_sum_assignment"),
    (ch09.check_cluster_accuracy, cluster_purity, r"3 clusters of 3 labels.*expected 0\.636.*got 0\.681.*majority label"),
    (ch09.check_cluster_accuracy, cluster_greedy_largest_first, "3 clusters of 3 labels.*largest cells first"),
    (ch09.check_cluster_accuracy, cluster_first_clusters_only, "4 clusters of 3 labels"),
    (ch09.check_cluster_accuracy, cluster_sorting_in_place, "predicted or labels were modified"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_the_infogan_checks_say_what_differed(check, wrong, message):
    """Each planted InfoGAN mistake fails its check with a message saying what differed."""
    with pytest.raises(AssertionError, match=message):
        check(wrong)


def test_the_crafted_clusterings_tell_the_mistakes_apart():
    """Each planted clustering mistake is wrong on at least one of the check's tables, and where the check
    says the greedy and the purity answers fail, they do (not by a rounding)."""
    (_, relabelled), (_, crafted), (_, extra) = ch09.CLUSTERINGS
    p, y = ch09._clustering(crafted, 0)
    best = infogan.cluster_accuracy(p, y)
    assert best == 14 / 22
    assert infogan.purity(p, y) == 15 / 22
    assert cluster_greedy_largest_first(p, y) == 10 / 22 and cluster_greedy_cluster_by_cluster(p, y) == 8 / 22
    p, y = ch09._clustering(extra, 0)
    assert infogan.cluster_accuracy(p, y) == 15 / 20 and cluster_first_clusters_only(p, y) == 9 / 20
    p, y = ch09._clustering(relabelled, 0)
    assert infogan.cluster_accuracy(p, y) == 1.0 and cluster_plain_accuracy(p, y) < 0.5


def test_the_code_batches_hold_every_category():
    for seed, (n, k) in enumerate(((40, 3), (17, 5))):
        logits, codes = ch09._code_batch(seed, n, k)
        assert logits.shape == (n, k) and codes.dtype == torch.int64
        assert set(codes.tolist()) == set(range(k))
        assert len(set(torch.bincount(codes).tolist())) > 1, "unbalanced, so H(batch codes) != log K"
