"""gan_lab.exercises.ch06: each check passes a correct answer, says "not attempted" for a fresh
stub and returns False, and raises AssertionError on planted wrong answers."""

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_lab import data, losses
from gan_lab.exercises import ch06


# ---- reference answers and planted mistakes -----------------------------------------------------------

def _offsets(size, at_corners=False):
    """|dx| for columns and |dy| for rows, measured from pixel centres (or, wrongly, corners)."""
    pos = np.arange(size) + (0.0 if at_corners else 0.5)
    d = np.abs(pos - size / 2)
    return d[None, :], d[:, None]


def diamond(size):
    dx, dy = _offsets(size)
    return dx + dy <= 0.35 * size


def diamond_as_torch_floats(size):
    """Index arithmetic in torch, centre at (size - 1) / 2, 0/1 floats: the same mask."""
    k = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    return ((k.abs()[None, :] + k.abs()[:, None]) <= 0.35 * size).float()


def diamond_at_pixel_corners(size):
    dx, dy = _offsets(size, at_corners=True)
    return dx + dy <= 0.35 * size


def diamond_strict(size):
    dx, dy = _offsets(size)
    return dx + dy < 0.35 * size


def diamond_full_extent(size):
    """h = 0.7 size, the bounding box's side instead of its half."""
    dx, dy = _offsets(size)
    return dx + dy <= 0.7 * size


def diamond_euclidean(size):
    """A circle: the Euclidean norm instead of |dx| + |dy|."""
    dx, dy = _offsets(size)
    return np.hypot(dx, dy) <= 0.35 * size


def colour(mask, b, s):
    rgb = np.array([b, b + 0.1 * s, b + 0.2 * s])
    return np.where(mask[:, :, None], rgb, 1.0)


def colour_as_torch(mask, b, s):
    m = torch.as_tensor(mask)[:, :, None]
    return torch.where(m, torch.tensor([b, b + 0.1 * s, b + 0.2 * s], dtype=torch.float64), 1.0)


def colour_sign_ignored(mask, b, s):
    return np.where(mask[:, :, None], np.array([b, b + 0.1, b + 0.2]), 1.0)


def colour_channels_reversed(mask, b, s):
    return np.where(mask[:, :, None], np.array([b + 0.2 * s, b + 0.1 * s, b]), 1.0)


def colour_black_background(mask, b, s):
    return np.where(mask[:, :, None], np.array([b, b + 0.1 * s, b + 0.2 * s]), 0.0)


def colour_channels_first(mask, b, s):
    return np.moveaxis(colour(mask, b, s), 2, 0)


def colour_mask_inverted(mask, b, s):
    return np.where(mask[:, :, None], 1.0, np.array([b, b + 0.1 * s, b + 0.2 * s]))


def colour_on_the_255_scale(mask, b, s):
    return 255 * colour(mask, b, s)


def colour_in_place(mask, b, s):
    """Right image, but the caller's mask is overwritten (not in CHECKS: a guard, not a likely mistake)."""
    out = colour(mask, b, s)
    mask[:] = False
    return out


def to_tensor(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_tensor_by_reshape(images):
    """Right shape, scrambled pixels: a reshape does not move the channel axis."""
    return torch.from_numpy(images).float().reshape(len(images), 3, *images.shape[1:3]) / 127.5 - 1


def to_tensor_rows_and_columns_swapped(images):
    return torch.from_numpy(images).permute(0, 3, 2, 1).float() / 127.5 - 1


def to_tensor_zero_to_one(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def to_tensor_around_128(images):
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 128) / 128


def to_tensor_in_uint8(images):
    """2 x in uint8 wraps around above 127."""
    return (torch.from_numpy(images).permute(0, 3, 1, 2) * 2).float() / 255 - 1


def to_tensor_as_numpy(images):
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1


def _input_gradient(critic, real, fake, eps, create_graph=True):
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    return grad


def image_penalty(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def image_penalty_over_dims(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps)
    return ((grad.pow(2).sum(dim=(1, 2, 3)).sqrt() - 1) ** 2).mean()


def image_penalty_norm_over_channels(critic, real, fake, eps):
    """The 2-D code's grad.norm(dim=1): one norm per pixel, across the 3 channels."""
    grad = _input_gradient(critic, real, fake, eps)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def image_penalty_norm_per_channel(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps)
    return ((grad.norm(dim=(2, 3)) - 1) ** 2).mean()


def image_penalty_norm_over_batch(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps)
    return (grad.norm() - 1) ** 2


def image_penalty_squared_norm(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps)
    return ((grad.pow(2).flatten(1).sum(dim=1) - 1) ** 2).mean()


def image_penalty_without_create_graph(critic, real, fake, eps):
    grad = _input_gradient(critic, real, fake, eps, create_graph=False)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def frechet(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def frechet_by_eigenvalues(mu1, s1, mu2, s2):
    """Tr (S1 S2)^{1/2} as the sum of the square roots of the eigenvalues of S1 S2 (what torchmetrics does)."""
    ev = np.linalg.eigvals(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(ev.real.clip(0)).sum())


def frechet_without_the_two(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - root))


def frechet_elementwise_sqrt(mu1, s1, mu2, s2):
    with np.errstate(invalid="ignore"):
        root = np.sqrt(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def frechet_product_of_roots(mu1, s1, mu2, s2):
    """Tr(S1^{1/2} S2^{1/2}): right only when S1 and S2 commute."""
    root = scipy.linalg.sqrtm(s1).real @ scipy.linalg.sqrtm(s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def frechet_mean_distance_not_squared(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.linalg.norm(mu1 - mu2) + np.trace(s1 + s2 - 2 * root))


CHECKS = {
    "diamond mask": (ch06.check_diamond_mask, diamond,
                     [diamond_at_pixel_corners, diamond_strict, diamond_full_extent, diamond_euclidean]),
    "shape colour": (ch06.check_shape_colour, colour,
                     [colour_sign_ignored, colour_channels_reversed, colour_black_background,
                      colour_channels_first, colour_mask_inverted, colour_on_the_255_scale]),
    "to tensor": (ch06.check_to_tensor, to_tensor,
                  [to_tensor_by_reshape, to_tensor_rows_and_columns_swapped, to_tensor_zero_to_one,
                   to_tensor_around_128, to_tensor_in_uint8, to_tensor_as_numpy]),
    "image gradient penalty": (ch06.check_image_gradient_penalty, image_penalty,
                               [image_penalty_norm_over_channels, image_penalty_norm_per_channel,
                                image_penalty_norm_over_batch, image_penalty_squared_norm,
                                image_penalty_without_create_graph]),
    "frechet distance": (ch06.check_frechet_distance, frechet,
                         [frechet_without_the_two, frechet_elementwise_sqrt, frechet_product_of_roots,
                          frechet_mean_distance_not_squared]),
}


# ---- the checks' references agree with gan_lab ---------------------------------------------------------

@pytest.mark.parametrize("size", [8, 9, 20, 33, 64])
def test_the_reference_diamond_follows_the_rule_of_data_shapes(size):
    """Same centre and half-extent as data.shapes' square, inside it, and as wide on an odd size's middle row."""
    mask = ch06._diamond(size)
    square = data.shape_mask("square", size)
    assert np.array_equal(mask, diamond(size))
    assert not (mask & ~square).any()
    assert np.array_equal(mask, mask[::-1]) and np.array_equal(mask, mask[:, ::-1]) and np.array_equal(mask, mask.T)
    if size % 2:                                       # the middle row's centres have dy = 0
        assert np.array_equal(mask[size // 2], square[size // 2])


def test_the_strict_inequality_matters_on_some_checked_size():
    assert any(not np.array_equal(diamond(s), diamond_strict(s)) for s in (8, 9, 16, 20, 33, 40, 64))


def test_the_colour_reference_matches_noise_free_data_shapes():
    for cls in data.SHAPES_TEST:
        mask = data.shape_mask(cls.shape, 16)
        drawn = data.shapes(1, cls.shape, cls.base_color, cls.offset_sign, 0.0, size=16)[0] / 255
        assert np.abs(colour(mask, cls.base_color, cls.offset_sign) - drawn).max() <= 0.5 / 255 + 1e-12


def test_the_conv_critic_penalty_is_the_library_one_and_straddles_one():
    real, fake, eps = ch06._image_batch(80, 8, 8, 8)
    critic = ch06._conv_critic(81, real, fake, eps)
    norms = _input_gradient(critic, real, fake, eps).flatten(1).norm(dim=1)
    assert 0.2 < (norms > 1).double().mean().item() < 0.8
    assert torch.allclose(image_penalty(critic, real, fake, eps), losses.gradient_penalty(critic, real, fake, eps=eps))


def test_the_frechet_reference_matches_closed_forms():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with s the standard deviations
    assert ch06._frechet(np.array([0.5]), np.array([[4.0]]), np.array([-1.0]), np.array([[0.25]])) == \
        pytest.approx(1.5 ** 2 + 1.5 ** 2, rel=1e-12)
    # commuting (diagonal) covariances: sum of (sqrt a_i - sqrt b_i)^2
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    assert ch06._frechet(np.zeros(3), np.diag(a), np.ones(3), np.diag(b)) == \
        pytest.approx(3 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(), rel=1e-12)


# ---- correct variants pass, wrong ones say what differed ----------------------------------------------------

def test_other_correct_forms_pass():
    assert ch06.check_diamond_mask(diamond_as_torch_floats) is True
    assert ch06.check_shape_colour(colour_as_torch) is True
    assert ch06.check_to_tensor(data.to_tensor) is True
    assert ch06.check_image_gradient_penalty(image_penalty_over_dims) is True
    assert ch06.check_image_gradient_penalty(
        lambda f, r, g, e: losses.gradient_penalty(f, r, g, eps=e)) is True
    assert ch06.check_frechet_distance(frechet_by_eigenvalues) is True


def test_a_wrong_answer_says_what_differed():
    with pytest.raises(AssertionError, match="20x20.*exactly on the boundary.*<="):
        ch06.check_diamond_mask(diamond_strict)
    with pytest.raises(AssertionError, match="too big.*0.35 size"):
        ch06.check_diamond_mask(diamond_full_extent)
    with pytest.raises(AssertionError, match="not symmetric.*pixel centres"):
        ch06.check_diamond_mask(diamond_at_pixel_corners)
    with pytest.raises(AssertionError, match="s = -1: pixel .* inside the shape .*sign s multiplies"):
        ch06.check_shape_colour(colour_sign_ignored)
    with pytest.raises(AssertionError, match="in the background.*white"):
        ch06.check_shape_colour(colour_black_background)
    with pytest.raises(AssertionError, match=r"shape \(16, 16, 3\).*channels last"):
        ch06.check_shape_colour(colour_channels_first)
    with pytest.raises(AssertionError, match="mask was modified"):
        ch06.check_shape_colour(colour_in_place)
    with pytest.raises(AssertionError, match="circle"):
        ch06.check_diamond_mask(diamond_euclidean)
    with pytest.raises(AssertionError, match="in that order"):
        ch06.check_shape_colour(colour_channels_reversed)
    with pytest.raises(AssertionError, match="wrong places.*permute"):
        ch06.check_to_tensor(to_tensor_by_reshape)
    with pytest.raises(AssertionError, match="wrong places"):
        ch06.check_to_tensor(to_tensor_rows_and_columns_swapped)
    with pytest.raises(AssertionError, match="x / 127.5 - 1, computed in float"):
        ch06.check_to_tensor(to_tensor_in_uint8)
    with pytest.raises(AssertionError, match="x / 127.5 - 1"):
        ch06.check_to_tensor(to_tensor_around_128)
    with pytest.raises(AssertionError, match=r"\[0, 1\].*\[-1, 1\]"):
        ch06.check_to_tensor(to_tensor_zero_to_one)
    with pytest.raises(AssertionError, match="expected a torch tensor"):
        ch06.check_to_tensor(to_tensor_as_numpy)
    with pytest.raises(AssertionError, match="8x8.*one gradient norm per image"):
        ch06.check_image_gradient_penalty(image_penalty_norm_over_channels)
    with pytest.raises(AssertionError, match="not connected to the critic's parameters"):
        ch06.check_image_gradient_penalty(image_penalty_without_create_graph)
    with pytest.raises(AssertionError, match="3-dimensional.*neither np.sqrt of it"):
        ch06.check_frechet_distance(frechet_elementwise_sqrt)
    with pytest.raises(AssertionError, match="3-dimensional.*subtracted twice"):
        ch06.check_frechet_distance(frechet_without_the_two)
