"""gan_lab.exercises.ch09: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import pytest
import torch
import torch.nn.functional as F

from gan_lab import losses
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
}


# ---- other right answers pass; the messages say what differed ---------------------------------------------

@pytest.mark.parametrize("check, answer", [
    (ch09.check_summed_embedding, summed_embedding_with_f_embedding),
    (ch09.check_projection_score, projection_score_with_einsum),
    (ch09.check_matching_aware_loss, matching_aware_loss_with_bce),
    (ch09.check_matching_aware_loss, losses.matching_aware_discriminator_loss),
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
