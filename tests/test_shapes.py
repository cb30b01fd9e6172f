"""gan_lab.data shapes: the image recipe pixel by pixel, the noise, the class tables, the tensor round trip."""
import math
import re
from fractions import Fraction

import numpy as np
import pytest
import torch

from gan_lab import data

KINDS = ("square", "circle", "triangle")


def expected_mask(shape, size):
    """Membership of each pixel centre, by explicit loops in exact rational arithmetic."""
    c = Fraction(size, 2)
    h = Fraction(7, 20) * size                     # half of 0.7 size
    m = np.zeros((size, size), dtype=bool)
    for i in range(size):                          # row; y grows downwards
        for j in range(size):
            x, y = j + Fraction(1, 2), i + Fraction(1, 2)
            dx, dy = x - c, y - c
            if shape == "square":
                inside = abs(dx) <= h and abs(dy) <= h
            elif shape == "circle":
                inside = dx * dx + dy * dy <= h * h
            else:  # apex (c, c - h) at the top, base y = c + h from x = c - h to c + h
                top = c - h
                inside = top <= y <= c + h and abs(dx) <= (y - top) / 2
            m[i, j] = inside
    return m


def colour(b, s):
    return np.array([b, b + 0.1 * s, b + 0.2 * s])


# ---- the recipe, noise-free -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [8, 10, 20, 21, 64])  # 10: the square's edge falls on pixel centres
@pytest.mark.parametrize("shape", KINDS)
@pytest.mark.parametrize("b,s", [(0.25, 1), (0.6, -1), (0.7, 1)])
def test_noise_free_images_follow_the_recipe_pixel_by_pixel(shape, size, b, s):
    img = data.shapes(3, shape, b, s, 0.0, size=size, seed=0)
    assert img.dtype == np.uint8 and img.shape == (3, size, size, 3)
    mask = expected_mask(shape, size)
    assert mask.any() and not mask.all()
    for k in range(3):
        assert np.array_equal(img[k], img[0])
    im = img[0].astype(float)
    # background exactly white
    assert (im[~mask] == 255).all()
    # inside: the colour (b, b + 0.1 s, b + 0.2 s), correctly rounded to 1/255
    inside = im[mask]                               # (pixels, 3)
    assert np.abs(inside - 255 * colour(b, s)).max() <= 0.5 + 1e-9
    # membership follows the mask exactly: no inside pixel is white
    assert (inside < 255).all()


@pytest.mark.parametrize("size", [20, 40, 64, 100])
@pytest.mark.parametrize("shape", KINDS)
def test_bounding_box_is_seven_tenths_of_the_side_and_centred(shape, size):
    mask = data.shapes(1, shape, 0.3, 1, 0.0, size=size)[0, :, :, 0] < 255
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    # pixel centres in a centred interval of length 0.7 size: within 1 of 0.7 size
    assert abs(width - 0.7 * size) <= 1
    # the triangle's apex is a point, so its top row may be empty: one row fewer at most
    assert abs(height - 0.7 * size) <= (2 if shape == "triangle" else 1)
    # centred left-right; vertically the box [rows[0], rows[-1]] is centred up to the apex row
    assert cols[0] == size - 1 - cols[-1]
    if shape == "triangle":
        assert rows[0] - (size - 1 - rows[-1]) in (0, 1)
    else:
        assert rows[0] == size - 1 - rows[-1]


@pytest.mark.parametrize("size", [20, 21, 64])
def test_shapes_are_symmetric_and_the_triangle_points_up(size):
    masks = {k: data.shapes(1, k, 0.3, 1, 0.0, size=size)[0, :, :, 0] < 255 for k in KINDS}
    for k in ("square", "circle"):
        m = masks[k]
        assert np.array_equal(m, m[::-1]) and np.array_equal(m, m[:, ::-1]) and np.array_equal(m, m.T)
    t = masks["triangle"]
    assert np.array_equal(t, t[:, ::-1])
    widths = t.sum(axis=1)
    filled = widths[widths > 0]
    assert (np.diff(filled) >= 0).all() and filled[-1] > 4 * filled[0]   # narrow at the top, wide at the base


def test_the_three_shapes_differ_and_are_nested_sensibly():
    m = {k: data.shapes(1, k, 0.3, 1, 0.0, size=64)[0, :, :, 0] < 255 for k in KINDS}
    assert not np.array_equal(m["square"], m["circle"])
    assert not np.array_equal(m["square"], m["triangle"])
    assert not np.array_equal(m["circle"], m["triangle"])
    # square contains circle and triangle; areas near 0.49, 0.49 pi / 4 and 0.245 of size^2
    assert not (m["circle"] & ~m["square"]).any() and not (m["triangle"] & ~m["square"]).any()
    area = {k: v.mean() for k, v in m.items()}
    assert area["square"] == pytest.approx(0.49, abs=0.03)
    assert area["circle"] == pytest.approx(0.49 * math.pi / 4, abs=0.02)
    assert area["triangle"] == pytest.approx(0.245, abs=0.02)


# ---- noise ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("noise", [0.03, 0.1])
def test_noise_has_the_stated_std_and_zero_mean_inside_the_shape(noise):
    b, s, n, size = 0.45, 1, 200, 32
    img = data.shapes(n, "square", b, s, noise, size=size, seed=7) / 255.0
    mask = expected_mask("square", size)
    resid = img[:, mask, :] - colour(b, s)          # colours 0.45..0.65: no clipping at 4.5 sigma
    m = resid.size                                  # ~ 5e4 values
    # quantisation to 1/255 adds variance 1/(12 * 255^2), negligible next to the tolerance
    assert abs(resid.mean()) < 5 * noise / math.sqrt(m)
    assert resid.std() == pytest.approx(math.sqrt(noise ** 2 + 1 / (12 * 255 ** 2)), rel=0.02)
    # channels and pixels independent: channel correlations near 0
    r = resid.reshape(-1, 3)
    corr = np.corrcoef(r.T)
    assert np.abs(corr - np.eye(3)).max() < 0.03


@pytest.mark.parametrize("noise", [0.0, 0.03, 0.1, 0.5, 3.0])
@pytest.mark.parametrize("shape", KINDS)
def test_by_default_the_background_stays_exactly_white_whatever_the_noise(shape, noise):
    # the article's recipe: noise is written on the shape's pixels only
    size = 24
    img = data.shapes(20, shape, 0.3, 1, noise, size=size, seed=5)
    mask = expected_mask(shape, size)
    assert (img[:, ~mask, :] == 255).all()
    if noise > 0:
        # and the shape itself is noisy: many distinct values inside
        assert len(np.unique(img[:, mask, :])) > 10


def test_noise_on_image_noises_the_background_too_and_clips_it():
    img = data.shapes(50, "circle", 0.3, 1, 0.1, size=32, seed=1, noise_on="image")
    bg = img[:, ~expected_mask("circle", 32), :].astype(float)
    assert bg.max() == 255 and bg.min() < 255
    # white + N(0, 0.1^2) clipped at 1: about half the values stay 255
    assert (bg == 255).mean() == pytest.approx(0.5, abs=0.03)
    # the clipped-below part has mean 1 - 0.1 * sqrt(2 / pi) on the 0..1 scale
    below = bg[bg < 255] / 255
    assert below.mean() == pytest.approx(1 - 0.1 * math.sqrt(2 / math.pi), abs=0.005)


@pytest.mark.parametrize("noise", [0.03, 0.1])
def test_the_two_noise_variants_share_the_shape_pixels_and_differ_only_outside(noise):
    size = 20
    a = data.shapes(6, "triangle", 0.6, -1, noise, size=size, seed=9)
    b = data.shapes(6, "triangle", 0.6, -1, noise, size=size, seed=9, noise_on="image")
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    mask = expected_mask("triangle", size)
    assert np.array_equal(a[:, mask, :], b[:, mask, :])
    assert (a[:, ~mask, :] == 255).all() and (b[:, ~mask, :] < 255).any()
    # noise-free, both are the same two-colour image
    assert np.array_equal(data.shapes(2, "square", 0.4, 1, 0.0, size=size),
                          data.shapes(2, "square", 0.4, 1, 0.0, size=size, noise_on="image"))


@pytest.mark.parametrize("bad", ["background", "Shape", None, 1])
def test_bad_noise_on_raises(bad):
    with pytest.raises(ValueError, match=re.escape(f"unknown noise_on {bad!r}; use one of ('shape', 'image')")):
        data.shapes(2, "circle", 0.5, -1, 0.03, noise_on=bad)


def test_same_seed_gives_identical_images_and_another_seed_different_ones():
    a = data.shapes(5, "triangle", 0.6, -1, 0.03, size=24, seed=3)
    assert np.array_equal(a, data.shapes(5, "triangle", 0.6, -1, 0.03, size=24, seed=3))
    assert not np.array_equal(a, data.shapes(5, "triangle", 0.6, -1, 0.03, size=24, seed=4))
    # images within one draw differ
    assert not np.array_equal(a[0], a[1])


# ---- the class tables -----------------------------------------------------------------------------------

def test_class_names_are_exact():
    assert data.ShapeClass("square", 0.85, 1, 0.03).name == "square (0.85, +1) σ=0.03"
    assert data.ShapeClass("triangle", 0.6, -1, 0.1).name == "triangle (0.60, -1) σ=0.10"
    assert data.ShapeClass("circle", 0.25, +1, 0).name == "circle (0.25, +1) σ=0.00"
    assert [c.name for c in data.SHAPES_TRAIN] == ["square (0.25, +1) σ=0.03", "circle (0.60, -1) σ=0.03"]


def test_shape_class_is_frozen_validated_and_draws_like_shapes():
    c = data.ShapeClass("circle", 0.6, -1, 0.03)
    with pytest.raises(Exception):
        c.shape = "square"
    with pytest.raises(ValueError, match="hexagon"):
        data.ShapeClass("hexagon", 0.6, -1, 0.03)
    assert np.array_equal(c.draw(4, size=16, seed=2), data.shapes(4, "circle", 0.6, -1, 0.03, size=16, seed=2))
    assert c.color == pytest.approx((0.6, 0.5, 0.4))


def test_training_table_two_classes_differing_in_colour_same_low_noise():
    t0, t1 = data.SHAPES_TRAIN
    assert {t0.shape, t1.shape} == {"square", "circle"}
    assert t0.noise == t1.noise
    assert "colour" in t0.differs_from(t1)


def test_test_table_design():
    train, test = data.SHAPES_TRAIN, data.SHAPES_TEST
    assert len(test) == 10 and len(set(test)) == 10
    assert set(train) <= set(test)
    assert {c.shape for c in test} == {"square", "circle", "triangle"}
    noises = sorted({c.noise for c in test})
    assert len(noises) == 2 and noises[0] == train[0].noise
    train_colours = {(c.base_color, c.offset_sign) for c in train}
    flipped = {(b, -s) for b, s in train_colours}
    assert {(c.base_color, c.offset_sign) for c in test} == train_colours | flipped
    # every new class differs from some training class in exactly one feature, and each feature is varied
    varied = set()
    for c in test:
        if c in train:
            continue
        one = [c.differs_from(t) for t in train if len(c.differs_from(t)) == 1]
        assert one, c.name
        varied.update(f for d in one for f in d)
    assert varied == {"shape", "colour", "noise"}
    # the stated design, class by class (see the SHAPES_TEST docstring)
    t0, t1 = train
    stated = [((), ("shape", "colour")), (("shape", "colour"), ()),
              (("shape",), ("shape", "colour")), (("shape", "colour"), ("shape",)),
              (("colour",), ("shape", "colour")), (("shape", "colour"), ("colour",)),
              (("noise",), ("shape", "colour", "noise")), (("shape", "colour", "noise"), ("noise",)),
              (("colour",), ("shape",)), (("shape",), ("colour",))]
    assert [(c.differs_from(t0), c.differs_from(t1)) for c in test] == stated


@pytest.mark.parametrize("cls", data.SHAPES_TEST, ids=lambda c: c.name)
def test_class_colours_do_not_clip_and_are_far_from_white(cls):
    col = np.array(cls.color)
    assert (col >= 0.0).all() and (col <= 1.0).all()
    assert (1.0 - col).min() >= 0.15                                  # every channel clearly below white
    assert np.abs(np.diff(col)).min() >= 0.1 - 1e-12                  # channels distinct


def test_distinct_colours_in_the_tables_are_visibly_different():
    cols = sorted({cls.color for cls in data.SHAPES_TEST})
    assert len(cols) == 4
    for i in range(len(cols)):
        for j in range(i):
            assert np.abs(np.subtract(cols[i], cols[j])).max() >= 0.2


# ---- shapes_dataset -------------------------------------------------------------------------------------

def test_shapes_dataset_shapes_labels_and_class_content():
    x, y = data.shapes_dataset(data.SHAPES_TEST, 4, size=16, seed=0)
    assert x.dtype == np.uint8 and x.shape == (40, 16, 16, 3)
    assert y.dtype == np.int64 and y.shape == (40,)
    assert np.array_equal(y, np.repeat(np.arange(10), 4))
    for k, c in enumerate(data.SHAPES_TEST):
        centre = x[y == k][:, 8, 8, :].astype(float) / 255     # the centre pixel is inside every shape
        assert np.abs(centre.mean(axis=0) - np.array(c.color)).max() < 4 * c.noise + 0.01


def test_shapes_dataset_classes_are_independent_of_each_other():
    a, b = data.SHAPES_TRAIN
    extra = data.ShapeClass("triangle", 0.25, -1, 0.1)
    x1, _ = data.shapes_dataset([a, b], 5, size=16, seed=1)
    x2, _ = data.shapes_dataset([extra, b, a], 5, size=16, seed=1)
    assert np.array_equal(x1[:5], x2[10:]) and np.array_equal(x1[5:10], x2[5:10])
    # reproducible, and the seed matters
    assert np.array_equal(x1, data.shapes_dataset([a, b], 5, size=16, seed=1)[0])
    assert not np.array_equal(x1, data.shapes_dataset([a, b], 5, size=16, seed=2)[0])
    # classes with the same noise do not share their noise draws
    c = data.ShapeClass("square", 0.6, -1, 0.03)
    x3, _ = data.shapes_dataset([a, c], 5, size=16, seed=1)
    ra = x3[:5].astype(float) / 255 - np.array(a.color)
    rc = x3[5:].astype(float) / 255 - np.array(c.color)
    inside = expected_mask("square", 16)
    assert not np.allclose(ra[:, inside], rc[:, inside], atol=0.01)


def test_shapes_dataset_validation():
    with pytest.raises(ValueError, match="non-empty"):
        data.shapes_dataset([], 3)
    with pytest.raises(ValueError, match="'square'"):
        data.shapes_dataset(["square"], 3)
    with pytest.raises(ValueError, match="twice"):
        data.shapes_dataset([data.SHAPES_TRAIN[0], data.SHAPES_TRAIN[0]], 3)
    with pytest.raises(ValueError, match="n_per_class must be an integer >= 1, got 0"):
        data.shapes_dataset(data.SHAPES_TRAIN, 0)
    with pytest.raises(ValueError, match="None"):
        data.shapes_dataset(data.SHAPES_TRAIN, 3, seed=None)
    with pytest.raises(ValueError, match="-1"):
        data.shapes_dataset(data.SHAPES_TRAIN, 3, seed=-1)
    with pytest.raises(ValueError, match="size must be an integer >= 8, got 4"):
        data.shapes_dataset(data.SHAPES_TRAIN, 3, size=4)


# ---- tensors --------------------------------------------------------------------------------------------

def test_to_tensor_is_channels_first_in_minus_one_one_and_to_images_inverts_it():
    x, _ = data.shapes_dataset(data.SHAPES_TEST, 2, size=12, seed=5)
    t = data.to_tensor(x)
    assert t.dtype == torch.float32 and t.shape == (20, 3, 12, 12)
    assert t.min() >= -1 and t.max() <= 1
    assert t[3, 1, 4, 7].item() == pytest.approx(x[3, 4, 7, 1] / 127.5 - 1.0, abs=1e-6)
    ramp = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    tr = data.to_tensor(ramp)
    assert tr.min() == -1 and tr.max() == 1
    assert np.array_equal(data.to_images(tr), ramp)
    back = data.to_images(t)
    assert back.dtype == np.uint8 and np.array_equal(back, x)
    assert torch.equal(data.to_tensor(torch.from_numpy(x)), t)


def test_to_images_clamps_and_accepts_tensors_with_grad():
    t = torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0]).reshape(1, 1, 1, 5).repeat(1, 3, 1, 1).requires_grad_()
    img = data.to_images(t)
    assert img.shape == (1, 1, 5, 3)
    assert img[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8, 3), dtype=np.float32), np.zeros((8, 8, 3), dtype=np.uint8),
                                 np.zeros((2, 3, 8, 8), dtype=np.uint8), [[1, 2, 3]]])
def test_to_tensor_rejects_wrong_input(bad):
    with pytest.raises(ValueError, match="uint8 images of shape"):
        data.to_tensor(bad)


@pytest.mark.parametrize("bad", [torch.zeros(2, 8, 8, 3), torch.zeros(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                                 np.zeros((2, 3, 8, 8), dtype=np.float32)])
def test_to_images_rejects_wrong_input(bad):
    with pytest.raises(ValueError, match="float tensor of shape"):
        data.to_images(bad)


# ---- validation -----------------------------------------------------------------------------------------

GOOD = dict(n=2, shape="square", base_color=0.5, offset_sign=1, noise=0.03)


@pytest.mark.parametrize("field,value,message", [
    ("shape", "hexagon", "unknown shape 'hexagon'"),
    ("shape", None, "unknown shape None"),
    ("base_color", 1.2, "base_color must be a number in [0, 1], got 1.2"),
    ("base_color", -0.1, "got -0.1"),
    ("base_color", float("nan"), "got nan"),
    ("base_color", "0.5", "got '0.5'"),
    ("offset_sign", 0, "offset_sign must be +1 or -1, got 0"),
    ("offset_sign", 2, "got 2"),
    ("offset_sign", True, "got True"),
    ("noise", -0.01, "noise must be a finite number >= 0.0, got -0.01"),
    ("noise", float("inf"), "got inf"),
    ("noise", float("nan"), "got nan"),
    ("n", 0, "n must be an integer >= 1, got 0"),
    ("n", 2.0, "got 2.0"),
    ("n", True, "got True"),
])
def test_every_bad_argument_raises_a_value_error_naming_it(field, value, message):
    kwargs = dict(GOOD, **{field: value})
    with pytest.raises(ValueError) as e:
        data.shapes(**kwargs)
    assert message in str(e.value)


@pytest.mark.parametrize("size,message", [(7, "got 7"), (16.0, "got 16.0"), (True, "got True"), (-64, "got -64")])
def test_bad_size_raises(size, message):
    with pytest.raises(ValueError, match="size must be an integer >= 8") as e:
        data.shapes(2, "circle", 0.5, -1, 0.0, size=size)
    assert message in str(e.value)


@pytest.mark.parametrize("seed,message", [(-1, "got -1"), (1.5, "got 1.5"), ("0", "got '0'")])
def test_bad_seed_raises(seed, message):
    with pytest.raises(ValueError, match="seed must be an integer >= 0") as e:
        data.shapes(2, "circle", 0.5, -1, 0.0, seed=seed)
    assert message in str(e.value)


def test_numpy_integer_counts_sizes_and_seeds_draw_what_the_python_ints_draw():
    # gan_lab.checks takes NumPy integers wherever it takes ints (an np.arange loop variable, say)
    a = data.shapes(np.int64(3), "triangle", 0.6, -1, 0.03, size=np.int64(16), seed=np.int64(2))
    assert np.array_equal(a, data.shapes(3, "triangle", 0.6, -1, 0.03, size=16, seed=2))
    x, y = data.shapes_dataset(data.SHAPES_TRAIN, np.int32(2), size=np.int64(12), seed=np.int64(5))
    x0, y0 = data.shapes_dataset(data.SHAPES_TRAIN, 2, size=12, seed=5)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)
    with pytest.raises(ValueError, match=r"size must be an integer >= 8, got .*4"):
        data.shapes(2, "circle", 0.5, -1, 0.0, size=np.int64(4))


def test_validation_happens_before_any_work(monkeypatch):
    calls = []
    monkeypatch.setattr(data, "shape_mask", lambda *a: calls.append(a))
    with pytest.raises(ValueError):
        data.shapes(2, "circle", 0.5, -1, 0.0, size=16, seed=-3)
    assert calls == []
