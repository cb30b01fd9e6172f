"""gan_lab.captions: faithful, seeded captions of shape classes, their tokens, and an encoder blind to padding."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_lab import captions as C
from gan_lab import data, settings
from gan_lab.data import ShapeClass

ALL = tuple(ShapeClass(shape, b, s, noise) for shape in data.SHAPE_KINDS for b in (0.25, 0.60) for s in (1, -1)
            for noise in (0.03, 0.10))       # every class the vocabulary can describe: 3 * 2 * 2 * 2 = 24


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---- the vocabulary --------------------------------------------------------------------------------------

def test_the_vocabulary_starts_with_pad_and_each_word_means_one_thing():
    assert C.WORDS[0] == C.PAD and len(set(C.WORDS)) == len(C.WORDS)
    attribute_words = [w for table in (C.SHAPE_WORDS, C.TONE_WORDS, C.HUE_WORDS, C.NOISE_WORDS)
                       for ws in table.values() for w in ws]
    assert len(attribute_words) == len(set(attribute_words))              # no word in two attributes
    assert set(C.WORDS) == {C.PAD, *C.FILLERS, *attribute_words}
    assert set(C.SHAPE_WORDS) == set(data.SHAPE_KINDS)


def test_every_base_colour_and_noise_of_the_book_s_class_tables_has_words():
    for cls in data.SHAPES_TEST + data.SHAPES_TRAIN:
        assert cls.base_color in C.TONE_WORDS and cls.offset_sign in C.HUE_WORDS and cls.noise in C.NOISE_WORDS


def test_colour_words_say_how_the_colours_look():
    """Tone: the base b (0.25 dark, 0.60 light); hue: the offset sign raises blue (+1) or red (-1)."""
    for cls in ALL:
        r, _, b = cls.color
        words = C.TONE_WORDS[cls.base_color] + C.HUE_WORDS[cls.offset_sign]
        assert ("dark" in words) == (sum(cls.color) / 3 < 0.5)
        assert ("blue" in words) == (b > r) and ("brown" in words) == (r > b)


# ---- captions --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL, ids=[c.name for c in ALL])
def test_a_caption_is_faithful_for_every_class_and_many_seeds(cls):
    g = _gen(0)
    texts = [C.caption(cls, generator=g) for _ in range(200)]
    assert all(C.attributes_of(t) == cls for t in texts)
    assert len(set(texts)) > 20                                           # the wording varies


def test_captions_vary_in_synonyms_word_order_fillers_and_placement():
    texts = C.captions([data.SHAPES_TRAIN[0]], 400, seed=0)               # square, dark blue, clean
    words = [t.replace(",", " , ").split() for t in texts]
    used = {w for ws in words for w in ws}
    assert {"square", "box", "dark", "deep", "blue", "bluish", "clean", "smooth", "a", ","} <= used
    assert "an" not in used                                               # no vowel-initial word for this class
    first = {ws[0] for ws in words}
    assert {"a", "dark", "blue", "clean", "square"} <= first              # any adjective (or the noun) can lead
    commas = {ws.count(",") for ws in words}
    assert commas == {0, 1, 2, 3}
    assert all(ws[-1] != "," and ws[0] != "," for ws in words)
    earthy = C.captions([data.SHAPES_TEST[1]], 400, seed=0)               # circle, light brown
    assert any(t.startswith("an earthy") for t in earthy) and not any("a earthy" in t for t in earthy)


def test_captions_come_class_by_class_like_shapes_dataset():
    texts = C.captions(data.SHAPES_TEST, 7, seed=3)
    _, labels = data.shapes_dataset(data.SHAPES_TEST, 7, size=8, seed=0)
    assert len(texts) == len(labels) == 70
    assert [C.attributes_of(t) for t in texts] == [data.SHAPES_TEST[k] for k in labels]


def test_captions_for_labels_describe_each_label_s_class():
    labels = np.array([3, 0, 0, 9, 5, 1])
    texts = C.captions_for(data.SHAPES_TEST, labels, seed=1)
    assert [C.attributes_of(t) for t in texts] == [data.SHAPES_TEST[k] for k in labels]
    assert C.captions_for(data.SHAPES_TEST, torch.tensor(labels), seed=1) == texts
    assert C.captions_for(data.SHAPES_TEST, labels.tolist(), seed=1) == texts


def test_captions_are_determined_by_the_seed():
    a = C.captions(data.SHAPES_TEST, 20, seed=5)
    assert C.captions(data.SHAPES_TEST, 20, seed=5) == a
    b = C.captions(data.SHAPES_TEST, 20, seed=6)
    assert b != a and sum(x != y for x, y in zip(a, b)) > 100
    g1, g2 = settings.rng(5), settings.rng(5)
    assert [C.caption(data.SHAPES_TEST[0], generator=g1) for _ in range(5)] == \
        [C.caption(data.SHAPES_TEST[0], generator=g2) for _ in range(5)]


def test_one_class_captions_do_not_depend_on_the_classes_before_it():
    """A fixed number of draws per caption: item i's wording depends only on the seed and i."""
    alone = C.captions_for(data.SHAPES_TEST, [2] * 6, seed=4)
    mixed = C.captions_for(data.SHAPES_TEST, [2, 7, 2, 0, 2, 2], seed=4)
    assert [mixed[i] for i in (0, 2, 4, 5)] == [alone[i] for i in (0, 2, 4, 5)]


def test_wrong_captions_never_describe_the_item_s_own_class():
    labels = torch.arange(10).repeat(30)
    texts = C.wrong_captions(data.SHAPES_TEST, labels, seed=0)
    classes = [C.attributes_of(t) for t in texts]
    assert all(c != data.SHAPES_TEST[k] for c, k in zip(classes, labels.tolist()))
    # uniform over the other 9: each class is the wrong one for about 30 items (a planted "always k+1" fails)
    index = {c: i for i, c in enumerate(data.SHAPES_TEST)}
    wrong = [index[c] for c in classes]
    assert set(wrong) == set(range(10))
    assert len({(k, w) for k, w in zip(labels.tolist(), wrong)}) > 60
    assert C.wrong_captions(data.SHAPES_TEST, labels, seed=0) == texts
    assert C.wrong_captions(data.SHAPES_TEST, labels, seed=1) != texts


def test_wrong_captions_with_two_classes_are_the_other_class():
    texts = C.wrong_captions(data.SHAPES_TRAIN, [0, 1, 1, 0], seed=2)
    assert [C.attributes_of(t) for t in texts] == [data.SHAPES_TRAIN[k] for k in (1, 0, 0, 1)]


@pytest.mark.parametrize("call, pattern", [
    (lambda: C.caption("square", generator=_gen(0)), "cls must be a ShapeClass, got 'square'"),
    (lambda: C.caption(ShapeClass("square", 0.4, 1, 0.03), generator=_gen(0)),
     r"base_color=0.4, which captions have no word for.*\(0.25, 0.6\)"),
    (lambda: C.caption(ShapeClass("circle", 0.25, 1, 0.05), generator=_gen(0)), "noise=0.05"),
    (lambda: C.caption(data.SHAPES_TEST[0], generator=0), "generator must be a torch.Generator, got 0"),
    (lambda: C.captions(data.SHAPES_TEST[0], 3, seed=0), "classes must be a non-empty sequence"),
    (lambda: C.captions([], 3, seed=0), "classes must be a non-empty sequence"),
    (lambda: C.captions([data.SHAPES_TEST[0]] * 2, 3, seed=0), "appears twice"),
    (lambda: C.captions(data.SHAPES_TEST, 0, seed=0), "n must be an integer >= 1, got 0"),
    (lambda: C.captions(data.SHAPES_TEST, 2, seed=-1), "seed must be an integer >= 0, got -1"),
    (lambda: C.captions_for(data.SHAPES_TEST, [0, 10], seed=0), r"\[0, 10\), got 10 at index 1"),
    (lambda: C.captions_for(data.SHAPES_TEST, [0, True], seed=0), "got True at index 1"),
    (lambda: C.captions_for(data.SHAPES_TEST, [], seed=0), "labels must not be empty"),
    (lambda: C.captions_for(data.SHAPES_TEST, torch.zeros(2, 2, dtype=torch.int64), seed=0), r"1-D.*\(2, 2\)"),
    (lambda: C.captions_for(data.SHAPES_TEST, torch.zeros(3), seed=0), "1-D sequence of integers.*float32"),
    (lambda: C.captions_for(data.SHAPES_TEST, "012", seed=0), "got str"),
    (lambda: C.wrong_captions(data.SHAPES_TEST[:1], [0], seed=0), "at least 2 classes.*got 1"),
    (lambda: C.wrong_captions(data.SHAPES_TRAIN, [2], seed=0), r"\[0, 2\), got 2 at index 0"),
], ids=["not_a_class", "unknown_base", "unknown_noise", "bad_generator", "one_class", "empty", "duplicate",
        "n0", "seed", "label_range", "label_bool", "no_labels", "labels_2d", "labels_float", "labels_str",
        "wrong_one_class", "wrong_label"])
def test_caption_functions_reject_bad_input_naming_it(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---- attributes_of ---------------------------------------------------------------------------------------

def test_attributes_of_reads_any_order_case_and_fillers():
    expected = ShapeClass("triangle", 0.60, +1, 0.10)
    for text in ("a pale bluish noisy triangle", "triangle, grainy, light, blue", "Noisy Light Blue Triangle",
                 "light triangle,blue , noisy", "a , a triangle light blue noisy"):
        assert C.attributes_of(text) == expected


@pytest.mark.parametrize("text, pattern", [
    ("a dark blue clean hexagon", "unknown word 'hexagon'"),
    ("a dark blue clean square!", r"unknown word 'square!'"),
    ("a dark light blue clean square", "names base_color twice: 'dark' and 'light'"),
    ("a dark blue clean square disc", "names shape twice"),
    ("a dark blue square", r"names no noise \(it needs one of \('clean', 'smooth', 'noisy', 'grainy'\)\)"),
    ("dark clean square", "names no offset_sign"),
    ("", "must have words"),
    (" , ", "names no shape"),
    (3, "a caption must be a string, got 3"),
])
def test_attributes_of_refuses_what_is_not_a_full_caption_naming_it(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        C.attributes_of(text)


def test_attributes_of_accepts_a_repeated_word_or_synonym_of_the_same_value():
    assert C.attributes_of("dark deep blue blue clean square") == ShapeClass("square", 0.25, 1, 0.03)


# ---- tokenize --------------------------------------------------------------------------------------------

def test_tokenize_gives_word_indices_padded_with_zero_and_the_lengths():
    tokens, lengths = C.tokenize(["a dark square, blue, clean", "Noisy box"])
    ix = C.WORDS.index
    assert tokens.dtype == torch.int64 and lengths.dtype == torch.int64
    assert tokens.tolist() == [[ix(w) for w in ("a", "dark", "square", ",", "blue", ",", "clean")],
                               [ix("noisy"), ix("box"), 0, 0, 0, 0, 0]]
    assert lengths.tolist() == [7, 2]
    assert (tokens[1, 2:] == 0).all() and 0 not in tokens[0].tolist()


def test_tokenize_pads_to_max_len_and_max_len_fits_every_caption():
    texts = C.captions(data.SHAPES_TEST, 40, seed=0)
    tokens, lengths = C.tokenize(texts, max_len=C.MAX_LEN)
    assert tokens.shape == (400, C.MAX_LEN) and lengths.max().item() == C.MAX_LEN and lengths.min().item() == 4
    short, short_lengths = C.tokenize(texts[:3])
    assert torch.equal(short_lengths, lengths[:3]) and short.shape[1] == lengths[:3].max().item()
    torch.testing.assert_close(tokens[:3, :short.shape[1]], short, rtol=0, atol=0)
    assert (torch.arange(C.MAX_LEN)[None] < lengths[:, None]).eq(tokens != 0).all()   # padding exactly after


def test_tokenize_uses_the_given_vocabulary_s_positions():
    vocab = (C.PAD, "square", "dark")
    tokens, _ = C.tokenize(["dark square", "square"], vocab)
    assert tokens.tolist() == [[2, 1], [1, 0]]


@pytest.mark.parametrize("call, pattern", [
    (lambda: C.tokenize(["a dark purple square"]), "unknown word 'purple' in caption 'a dark purple square'"),
    (lambda: C.tokenize(["a <pad> square"]), "unknown word '<pad>'"),
    (lambda: C.tokenize(["dark square, blue", "clean"], max_len=3), r"'dark square, blue' has 4 tokens \(a comma is one\), more than max_len=3"),
    (lambda: C.tokenize("dark square"), "texts must be a non-empty sequence of strings, got 'dark square'"),
    (lambda: C.tokenize([]), "texts must be a non-empty sequence"),
    (lambda: C.tokenize(["square", None]), "a caption must be a string, got None"),
    (lambda: C.tokenize(["square", "  "]), "must have words"),
    (lambda: C.tokenize(["square"], max_len=0), "max_len must be an integer >= 1, got 0"),
    (lambda: C.tokenize(["square"], ("square", C.PAD)), "with '<pad>' first"),
    (lambda: C.tokenize(["square"], (C.PAD, "square", "square")), "distinct words"),
], ids=["unknown", "pad_word", "too_long", "one_string", "empty", "none", "blank", "max_len", "pad_not_first",
        "duplicate_vocab"])
def test_tokenize_rejects_bad_input_naming_it(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---- the encoder -----------------------------------------------------------------------------------------

def _encoder(seed=0, **kw):
    settings.seed_everything(seed)
    return C.CaptionEncoder(len(C.WORDS), 16, 8, **kw)


def test_encoder_output_shape_and_the_masked_mean_it_pools():
    enc = _encoder()
    tokens, lengths = C.tokenize(["a dark blue clean square", "noisy pale disc, brown"])
    h = enc(tokens)
    assert h.shape == (2, 8) and h.dtype == torch.float32
    emb = enc.embed.weight
    expected = torch.stack([emb[tokens[i, :lengths[i]]].mean(dim=0) for i in range(2)])
    torch.testing.assert_close(enc.pooled(tokens), expected)
    torch.testing.assert_close(h, enc.mlp(expected))


def test_encoder_ignores_padding():
    enc = _encoder()
    texts = C.captions(data.SHAPES_TEST, 5, seed=0)
    tight, _ = C.tokenize(texts)
    padded, _ = C.tokenize(texts, max_len=30)
    torch.testing.assert_close(enc(padded), enc(tight), rtol=1e-6, atol=1e-7)
    # even a non-zero vector at index 0 changes nothing: the mask, not only padding_idx, drops it
    with torch.no_grad():
        enc.embed.weight[0] = 5.0
    torch.testing.assert_close(enc(padded), enc(tight), rtol=1e-6, atol=1e-7)
    # a planted unmasked mean would see the padding
    unmasked = enc.mlp(enc.embed(padded).mean(dim=1))
    assert not torch.allclose(unmasked, enc(tight), atol=1e-3)


def test_encoder_is_blind_to_word_order_and_gives_padding_no_gradient():
    enc = _encoder()
    tokens, _ = C.tokenize(["a dark blue clean square", "square clean blue dark a"], max_len=9)
    h = enc(tokens)
    torch.testing.assert_close(h[0], h[1])
    h.sum().backward()
    assert enc.embed.weight.grad[0].abs().sum() == 0 and enc.embed.weight.grad[C.WORDS.index("dark")].abs().sum() > 0


def test_encoder_is_reproducible_from_a_seed():
    tokens, _ = C.tokenize(C.captions(data.SHAPES_TRAIN, 3, seed=0))
    assert torch.equal(_encoder(1)(tokens), _encoder(1)(tokens))
    assert not torch.equal(_encoder(1)(tokens), _encoder(2)(tokens))


def test_encoder_learns_the_class_from_captions_it_never_saw():
    """A linear read-out of the encoder, trained on captions of seed 0, names the class of held-out captions
    (seed 1) of all 24 describable classes: the words' meaning is learnable beyond fixed strings."""
    enc = _encoder(0, hidden=64)
    head = torch.nn.Linear(8, len(ALL))
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-2)
    train = C.captions(ALL, 20, seed=0)
    x_train, _ = C.tokenize(train, max_len=C.MAX_LEN)
    y_train = torch.arange(len(ALL)).repeat_interleave(20)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(head(enc(x_train)), y_train).backward()
        opt.step()
    test = C.captions(ALL, 10, seed=1)
    x_test, _ = C.tokenize(test, max_len=C.MAX_LEN)
    y_test = torch.arange(len(ALL)).repeat_interleave(10)
    assert len(set(test) - set(train)) > 100                              # most held-out captions are new strings
    with torch.no_grad():
        accuracy = (head(enc(x_test)).argmax(dim=1) == y_test).float().mean().item()
    assert accuracy > 0.97


@pytest.mark.parametrize("call, pattern", [
    (lambda e: e(torch.zeros(2, 3)), r"tokens must be an int64 tensor of shape \(n, L\).*torch.float32"),
    (lambda e: e(torch.zeros(3, dtype=torch.int64)), r"\(3,\)"),
    (lambda e: e(torch.zeros(2, 0, dtype=torch.int64)), r"\(2, 0\)"),
    (lambda e: e([[1, 2]]), "got list"),
], ids=["float", "one_d", "no_columns", "list"])
def test_encoder_rejects_bad_tokens_naming_them(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(_encoder())


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(vocab_size=1, embed_dim=4, out_dim=4), "vocab_size must be an integer >= 2, got 1"),
    (dict(vocab_size=22, embed_dim=0, out_dim=4), "embed_dim must be an integer >= 1, got 0"),
    (dict(vocab_size=22, embed_dim=4, out_dim=2.0), "out_dim must be an integer >= 1, got 2.0"),
    (dict(vocab_size=22, embed_dim=4, out_dim=4, hidden=True), "hidden must be an integer >= 1, got True"),
])
def test_encoder_rejects_bad_sizes_naming_them(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        C.CaptionEncoder(**kwargs)
