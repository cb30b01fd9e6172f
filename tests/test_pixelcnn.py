"""gan_lab.pixelcnn: causal masks, exact normalisation, bits/dim closed forms, seeded training and sampling."""
import itertools
import math

import pytest
import torch

from gan_lab import data, pixelcnn as pc


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _random_model(levels=4, width=12, depth=2, seed=0):
    """A PixelCNN with every weight and bias random (biases too: PyTorch's default draws them small)."""
    model, g = pc.PixelCNN(levels, width, depth).double(), _gen(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5, generator=g)
    return model


def _order(r, c, ch, width, channels=3):
    """The position of sub-pixel (row r, column c, channel ch) in the raster, R -> G -> B order."""
    return (r * width + c) * channels + ch


def _input_gradient(net, x, ch, r, c):
    """d(sum of the outputs of channel ch at pixel (r, c)) / dx, for x (1, C, H, W)."""
    x = x.clone().requires_grad_(True)
    out = net(x)
    (out[0, ch, :, r, c] if out.dim() == 5 else out[0, ch, r, c]).sum().backward()
    return x.grad[0]


# ---- quantisation ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [2, 8, 16])
def test_quantise_dequantise_round_trip(levels):
    q = torch.arange(levels)
    assert pc.quantise(pc.dequantise(q, levels), levels).tolist() == q.tolist()
    assert pc.dequantise(torch.tensor([0, levels - 1]), levels).tolist() == [-1.0, 1.0]
    x = torch.rand(3, 3, 5, 5, generator=_gen(0)) * 2 - 1
    back = pc.dequantise(pc.quantise(x, levels), levels)
    assert (back - x).abs().max() <= 1.0 / (levels - 1) + 1e-6     # half the spacing 2 / (levels - 1)
    assert pc.quantise(x, levels).dtype == torch.int64


def test_quantise_matches_uint8_images_levels():
    # to_tensor's 0 and 255 are the end levels; 128 of 255 is just above the middle
    x = data.to_tensor(torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3).numpy())
    assert pc.quantise(x, 8).flatten().tolist() == [0, 4, 7]


def test_eight_levels_keep_every_clean_test_colour_distinct():
    triples = {tuple(pc.quantise(torch.tensor(c.color) * 2 - 1, 8).tolist()) for c in data.SHAPES_TEST}
    triples.add((7, 7, 7))                                          # the white background
    colours = {c.color for c in data.SHAPES_TEST}
    assert len(triples) == len(colours) + 1 == 5


# ---- masks ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_only_earlier_sub_pixels(mask_type):
    conv = pc.MaskedConv2d(3, 6, 5, mask_type).double()            # output groups: channels 0-1 R, 2-3 G, 4-5 B
    with torch.no_grad():
        conv.weight.normal_(generator=_gen(1))
    x = torch.randn(1, 3, 7, 7, generator=_gen(2), dtype=torch.float64)
    r, c = 3, 3
    for out_ch in range(6):
        group = out_ch // 2
        grad = _input_gradient(conv, x, out_ch, r, c)
        for (rr, cc, ch) in itertools.product(range(7), range(7), range(3)):
            earlier_pixel = (rr, cc) < (r, c)
            in_kernel = abs(rr - r) <= 2 and abs(cc - c) <= 2
            same = (rr, cc) == (r, c) and (ch < group or (mask_type == "B" and ch == group))
            allowed = (earlier_pixel and in_kernel) or same
            assert (grad[ch, rr, cc] != 0) == allowed, (out_ch, rr, cc, ch)


def test_mask_centre_orders_hidden_channel_groups():
    conv = pc.MaskedConv2d(6, 3, 3, "A")
    centre = conv.mask[:, :, 1, 1]
    # out R sees nothing at the centre; G sees the R group (in 0-1); B sees R and G (in 0-3)
    assert centre.tolist() == [[0] * 6, [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]]
    b = pc.MaskedConv2d(6, 3, 3, "B").mask[:, :, 1, 1]
    assert b.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1] * 6]
    assert conv.mask[:, :, 2, :].sum() == 0 and conv.mask[:, :, 1, 2].sum() == 0   # below and right: closed


POSITIONS = [(0, 0, 0), (2, 3, 0), (2, 3, 1), (2, 3, 2), (4, 0, 1), (5, 5, 2)]


@pytest.mark.parametrize("r,c,ch", POSITIONS)
def test_pixelcnn_logits_depend_on_no_later_sub_pixel(r, c, ch):
    model = _random_model()
    size = 6
    x = torch.rand(1, 3, size, size, generator=_gen(3), dtype=torch.float64) * 2 - 1
    grad = _input_gradient(model, x, ch, r, c)
    me = _order(r, c, ch, size)
    for (rr, cc, k) in itertools.product(range(size), range(size), range(3)):
        if _order(rr, cc, k, size) >= me:                           # x_i itself and everything after it
            assert grad[k, rr, cc] == 0, (rr, cc, k)
    # and it does see its nearest predecessors: the earlier channels here, the pixel left, the pixel above
    for k in range(ch):
        assert grad[k, r, c] != 0
    if c > 0:
        assert (grad[:, r, c - 1] != 0).all()
    if r > 0:
        assert (grad[:, r - 1, c] != 0).all()


def _all_images(levels, size):
    values = torch.tensor(list(itertools.product(range(levels), repeat=3 * size * size)))
    return values.view(-1, size, size, 3).permute(0, 3, 1, 2).contiguous()


@pytest.mark.parametrize("levels,size", [(4, 1), (8, 1), (2, 2)])
def test_probabilities_of_all_images_sum_to_one(levels, size):
    model = _random_model(levels=levels)
    total = pc.log_likelihood(model, _all_images(levels, size)).double().exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-9)


def test_a_mask_b_first_layer_breaks_normalisation():
    # a planted mistake: if the first layer's centre lets x_i see itself, the conditionals' product no longer
    # sums to 1 over the images (the check above would catch it)
    model = _random_model(levels=4)
    model.first.mask.copy_(pc.MaskedConv2d(3, 12, 7, "B").mask)
    total = pc.log_likelihood(model, _all_images(4, 1)).double().exp().sum()
    assert abs(total.item() - 1.0) > 1e-3


# ---- likelihood closed forms -----------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [2, 8])
def test_uniform_model_has_log2_levels_bits_per_dim(levels):
    model = pc.PixelCNN(levels, 12, 1)
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
    x = torch.randint(levels, (5, 3, 4, 4), generator=_gen(0))
    assert pc.bits_per_dim(model, x) == pytest.approx(math.log2(levels), rel=1e-6)
    torch.testing.assert_close(pc.log_likelihood(model, x), torch.full((5,), -48 * math.log(levels)))


def test_bits_per_dim_is_the_mean_of_minus_log2_p_over_d():
    model = _random_model(levels=4).float()
    x = torch.randint(4, (7, 3, 3, 3), generator=_gen(1))
    ll = pc.log_likelihood(model, x)
    expected = (-ll / (27 * math.log(2))).mean().item()
    assert pc.bits_per_dim(model, x, batch_size=3) == pytest.approx(expected, rel=1e-6)


def test_independent_baseline_is_laplace_smoothed_counts():
    x = torch.zeros(3, 3, 2, 2, dtype=torch.int64)
    x[0, 1, 0, 1] = 2
    base = pc.fit_independent(x, 4, pseudocount=1.0)
    p = base.log_probs.exp()
    assert p[1, :, 0, 1].tolist() == pytest.approx([3 / 7, 1 / 7, 2 / 7, 1 / 7])   # (count + 1) / (3 + 4)
    assert p[0, :, 0, 0].tolist() == pytest.approx([4 / 7, 1 / 7, 1 / 7, 1 / 7])
    # log p(x) is the sum of the independent log-probabilities
    expected = 11 * math.log(4 / 7) + math.log(2 / 7)
    assert pc.log_likelihood(base, x[:1]).item() == pytest.approx(expected, rel=1e-5)


# ---- sampling and training ------------------------------------------------------------------------------------

def test_sampling_is_seeded_and_in_range():
    model = _random_model(levels=4).float()
    a = pc.sample(model, 5, 4, seed=3)
    assert a.shape == (5, 3, 4, 4) and a.dtype == torch.int64
    assert a.min() >= 0 and a.max() <= 3
    assert torch.equal(a, pc.sample(model, 5, 4, seed=3))
    assert not torch.equal(a, pc.sample(model, 5, 4, seed=4))


def test_sampling_a_1x1_image_follows_its_exact_distribution():
    # 4000 draws of the 64 possible 1x1 images against log_likelihood's exact probabilities
    model = _random_model(levels=4, seed=5).float()
    draws = pc.sample(model, 4000, 1, seed=0).view(4000, 3)
    codes = draws[:, 0] * 16 + draws[:, 1] * 4 + draws[:, 2]
    freq = torch.bincount(codes, minlength=64).double() / 4000
    exact = pc.log_likelihood(model, _all_images(4, 1)).double().exp()
    assert (freq - exact).abs().sum().item() < 0.15                  # total variation < 0.075


def test_sampling_a_deterministic_independent_model_copies_its_mode():
    x = torch.randint(8, (1, 3, 4, 4), generator=_gen(2))
    base = pc.fit_independent(x, 8, pseudocount=1e-12)
    assert torch.equal(pc.sample(base, 2, 4, seed=0), x.expand(2, -1, -1, -1))


def _shapes(n_per_class=20, seed=0):
    classes = [data.ShapeClass(s, 0.25, +1, 0.03) for s in data.SHAPE_KINDS]
    images, _ = data.shapes_dataset(classes, n_per_class, size=16, seed=seed)
    return pc.quantise(data.to_tensor(images))


def test_training_is_seeded():
    x = _shapes(4)
    a = pc.train_pixelcnn(x, width=6, depth=1, steps=3, batch_size=4, seed=1, log_every=2)
    b = pc.train_pixelcnn(x, width=6, depth=1, steps=3, batch_size=4, seed=1, log_every=2)
    c = pc.train_pixelcnn(x, width=6, depth=1, steps=3, batch_size=4, seed=2, log_every=2)
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.model.out.weight, c.model.out.weight)
    assert a.history["step"] == [2, 3] and a.history["bits_per_dim"] == b.history["bits_per_dim"]


def test_a_short_training_run_lowers_bits_per_dim_on_shapes():
    train, held_out = _shapes(20, seed=0), _shapes(10, seed=1)
    untrained = pc.train_pixelcnn(train, width=24, depth=2, steps=1, batch_size=16, lr=1e-12, seed=0).model
    result = pc.train_pixelcnn(train, width=24, depth=2, steps=60, batch_size=16, lr=3e-3, seed=0, log_every=20)
    before, after = pc.bits_per_dim(untrained, held_out), pc.bits_per_dim(result.model, held_out)
    assert after < 0.6 * before
    assert after < pc.bits_per_dim(pc.fit_independent(train), held_out) + 0.5
    assert result.history["bits_per_dim"][-1] < result.history["bits_per_dim"][0]


# ---- bad input ---------------------------------------------------------------------------------------------------

def test_bad_input_is_refused_naming_the_value():
    good = torch.zeros(2, 3, 4, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"levels must be an integer >= 2, got 1"):
        pc.quantise(torch.zeros(3), 1)
    with pytest.raises(ValueError, match=r"\[-1\.5, 0\]"):
        pc.quantise(torch.tensor([-1.5, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        pc.quantise(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="float tensor"):
        pc.quantise(good)
    with pytest.raises(ValueError, match=r"the value 8 \(at index \[1\]\), outside 0..7"):
        pc.dequantise(torch.tensor([0, 8]))
    with pytest.raises(ValueError, match=r"kernel_size must be odd.*got 4"):
        pc.MaskedConv2d(3, 6, 4)
    with pytest.raises(ValueError, match=r"unknown mask_type 'C'"):
        pc.MaskedConv2d(3, 6, 3, "C")
    with pytest.raises(ValueError, match=r"out_channels must be a multiple of colour_channels=3, got 5"):
        pc.MaskedConv2d(3, 5, 3)
    with pytest.raises(ValueError, match=r"width must be a multiple of colour_channels=3, got 10"):
        pc.PixelCNN(8, 10, 1)
    model = pc.PixelCNN(8, 6, 1)
    with pytest.raises(ValueError, match=r"x_int holds the value -1"):
        pc.log_likelihood(model, good - 1)
    with pytest.raises(ValueError, match=r"x_int must be an integer tensor.*float32"):
        pc.bits_per_dim(model, good.float())
    with pytest.raises(ValueError, match=r"x_int must be a tensor \(n, 3, H, W\).*\(2, 4, 4\)"):
        pc.log_likelihood(model, good[:, 0])
    with pytest.raises(ValueError, match=r"model must be a PixelCNN or IndependentPixels, got Linear"):
        pc.sample(torch.nn.Linear(2, 2), 1, 4, seed=0)
    with pytest.raises(ValueError, match=r"fitted to \(4, 4\) images, got \(8, 8\)"):
        pc.sample(pc.fit_independent(good), 1, 8, seed=0)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
        pc.sample(model, 1, 4, seed=-1)
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1, got 0"):
        pc.train_pixelcnn(good, steps=0)
    with pytest.raises(ValueError, match=r"images_int holds the value 9"):
        pc.train_pixelcnn(good + 9)
    with pytest.raises(ValueError, match=r"width must be a multiple of 3.*got 8"):
        pc.train_pixelcnn(good, width=8)


# ---- the entropy floor of the quantised shapes ------------------------------------------------------------------

SIX = [data.ShapeClass(s, b, o, 0.03) for s in ("square", "circle", "triangle") for (b, o) in ((0.25, 1), (0.6, -1))]


def test_the_entropy_floor_matches_the_counted_entropy_of_many_drawn_images():
    """The plug-in entropy of 20,000 drawn images per sub-pixel (sub-pixels are independent given the class)
    equals the closed form to within the plug-in estimator's downward bias."""
    cls = SIX[2]
    x = pc.quantise(data.to_tensor(cls.draw(20_000, size=16, seed=5))).reshape(20_000, -1)
    p = torch.stack([torch.bincount(col, minlength=pc.LEVELS) for col in x.t()]).double() / len(x)
    counted = float(-torch.special.xlogy(p, p).sum() / math.log(2.0)) / x.shape[1]
    exact = pc.shapes_entropy_bits_per_dim([cls], 16)
    assert 0.0 < exact - counted < 2e-3, (exact, counted)


def test_the_entropy_floor_is_the_mean_over_classes_zero_without_noise_and_grows_with_the_levels():
    each = [pc.shapes_entropy_bits_per_dim([c], 16) for c in SIX]
    assert pc.shapes_entropy_bits_per_dim(SIX, 16) == pytest.approx(sum(each) / len(each), rel=1e-12)
    assert pc.shapes_entropy_bits_per_dim([data.ShapeClass("circle", 0.25, 1, 0.0)], 16) == 0.0
    floors = [pc.shapes_entropy_bits_per_dim(SIX, 16, levels) for levels in (4, 8, 16)]
    assert floors[0] < floors[1] < floors[2]
    # the values the module docstring quotes (with log2(6) / 768 for the class on top)
    assert floors[1] + math.log2(6) / 768 == pytest.approx(0.248, abs=5e-4)
    # more noise, more entropy; a larger shape, more noisy sub-pixels
    assert pc.shapes_entropy_bits_per_dim([data.ShapeClass("circle", 0.25, 1, 0.1)], 16) > each[2]


@pytest.mark.parametrize("classes, size, levels, match", [
    (SIX[0], 16, 8, "non-empty sequence of data.ShapeClass"),
    ([], 16, 8, "non-empty sequence"),
    (["circle"], 16, 8, "non-empty sequence of data.ShapeClass"),
    (SIX, 4, 8, "size"),
    (SIX, 16, 1, "levels"),
])
def test_the_entropy_floor_refuses_bad_arguments(classes, size, levels, match):
    with pytest.raises(ValueError, match=match):
        pc.shapes_entropy_bits_per_dim(classes, size, levels)
