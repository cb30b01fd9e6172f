"""Captions that describe a shape class in words, and a small encoder of them: the text of chapter 9's
text-conditioned GAN.

A ``data.ShapeClass`` has four attributes, and a caption names each with one word of a fixed vocabulary:

- the shape: ``square`` / ``box``, ``circle`` / ``disc``, ``triangle``;
- the base colour b, a tone: 0.25 -> ``dark`` / ``deep``, 0.60 -> ``light`` / ``pale``;
- the offset sign s, a hue: the colour is (b, b + 0.1 s, b + 0.2 s), so s = +1 raises the blue channel
  (``blue`` / ``bluish``) and s = -1 the red one, an earthy brown (``brown`` / ``brownish`` / ``earthy``).
  The book's four colours read as they look: dark blue (slate, A), light brown (clay, B), dark brown (A'),
  light blue (B');
- the noise, a texture: 0.03 -> ``clean`` / ``smooth``, 0.10 -> ``noisy`` / ``grainy``;

plus the fillers ``a``, ``an`` and ``,``. A caption's words vary with a seed (a synonym per attribute, the
three adjectives in any order, some of them after the noun behind commas, an optional article), e.g.
``"a dark noisy blue square"``, ``"an earthy disc, pale, smooth"``, ``"box, grainy, deep, bluish"``: an
encoder must learn what the words mean, not one fixed string per class. Every caption names all four
attributes, so ``attributes_of`` inverts it exactly: ``attributes_of(caption(cls)) == cls``.

Only the base colours and noise levels of the book's class tables have words (``data.SHAPES_TEST``); a
class with another value is refused, naming it.
"""
from __future__ import annotations

import itertools
from types import MappingProxyType
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import checks, settings
from .data import ShapeClass

__all__ = ["PAD", "FILLERS", "SHAPE_WORDS", "TONE_WORDS", "HUE_WORDS", "NOISE_WORDS", "WORDS", "MAX_LEN",
           "caption", "captions", "captions_for", "wrong_captions", "tokenize", "attributes_of", "CaptionEncoder"]

PAD = "<pad>"
"""The padding token, index 0 of ``WORDS``; ``tokenize`` pads with 0 and ``CaptionEncoder`` ignores it."""
FILLERS = ("a", "an", ",")
SHAPE_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"square": ("square", "box"), "circle": ("circle", "disc"), "triangle": ("triangle",)})
TONE_WORDS: Mapping[float, tuple[str, ...]] = MappingProxyType({0.25: ("dark", "deep"), 0.60: ("light", "pale")})
HUE_WORDS: Mapping[int, tuple[str, ...]] = MappingProxyType({+1: ("blue", "bluish"),
                                                             -1: ("brown", "brownish", "earthy")})
NOISE_WORDS: Mapping[float, tuple[str, ...]] = MappingProxyType({0.03: ("clean", "smooth"),
                                                                 0.10: ("noisy", "grainy")})
_TABLES = {"shape": SHAPE_WORDS, "base_color": TONE_WORDS, "offset_sign": HUE_WORDS, "noise": NOISE_WORDS}
_ATTRIBUTES = tuple(_TABLES)            # the order of ShapeClass's fields

WORDS: tuple[str, ...] = (PAD,) + FILLERS + tuple(w for table in _TABLES.values() for ws in table.values() for w in ws)
"""The vocabulary: a word's index is its position (``PAD`` is 0)."""

# word -> (attribute, value), the table attributes_of reads
_MEANING = MappingProxyType({w: (attr, value) for attr, table in _TABLES.items()
                             for value, ws in table.items() for w in ws})

MAX_LEN = 8
"""The most tokens a caption has: article, noun and three adjectives, each after the noun behind a comma."""

_ORDERS = tuple(itertools.permutations(range(3)))     # the six orders of (tone, hue, texture)


def _check_class(cls) -> ShapeClass:
    if not isinstance(cls, ShapeClass):
        raise ValueError(f"cls must be a ShapeClass, got {cls!r}")
    for attr, table in _TABLES.items():
        value = getattr(cls, attr)
        if value not in table:
            raise ValueError(f"{cls.name!r} has {attr}={value!r}, which captions have no word for; "
                             f"they know {attr} in {tuple(table)}")
    return cls


def _check_classes(classes) -> tuple[ShapeClass, ...]:
    if isinstance(classes, ShapeClass) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty sequence of ShapeClass, got {classes!r}")
    classes = tuple(_check_class(c) for c in classes)
    if len(set(classes)) != len(classes):
        dup = next(c for i, c in enumerate(classes) if c in classes[:i])
        raise ValueError(f"class {dup.name!r} appears twice (its captions would be another class's too)")
    return classes


def _check_labels(labels, n_classes: int) -> list[int]:
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        if labels.ndim != 1 or not (labels.dtype in (torch.int32, torch.int64) if isinstance(labels, torch.Tensor)
                                    else np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(f"labels must be a 1-D sequence of integers, got a {labels.dtype} "
                             f"{type(labels).__name__} of shape {tuple(labels.shape)}")
        labels = labels.tolist()
    elif isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise ValueError(f"labels must be a 1-D sequence of integers, got {type(labels).__name__}")
    if len(labels) == 0:
        raise ValueError("labels must not be empty")
    for i, label in enumerate(labels):
        if not checks.is_number(label) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
            raise ValueError(f"labels must be class indices in [0, {n_classes}), got {label!r} at index {i}")
    return [int(label) for label in labels]


def _pick(options: Sequence, u: float):
    return options[min(int(u * len(options)), len(options) - 1)]


def _caption(cls: ShapeClass, g: torch.Generator) -> str:
    # seven uniform draws per caption, always, so the i-th caption of a seed does not depend on the classes
    # before it: article?, noun, tone, hue, texture, adjective order, how many adjectives follow the noun
    article, noun, tone, hue, texture, order, after = torch.rand(7, generator=g, dtype=torch.float64).tolist()
    adjectives = [_pick(TONE_WORDS[cls.base_color], tone), _pick(HUE_WORDS[cls.offset_sign], hue),
                  _pick(NOISE_WORDS[cls.noise], texture)]
    adjectives = [adjectives[i] for i in _pick(_ORDERS, order)]
    k = _pick(range(4), after)                            # 0 to 3 adjectives move behind the noun
    before, behind = adjectives[:3 - k], adjectives[3 - k:]
    words = before + [_pick(SHAPE_WORDS[cls.shape], noun)]
    text = " ".join(words) + "".join(f", {w}" for w in behind)
    if article < 0.5:
        text = ("an " if text[0] in "aeiou" else "a ") + text
    return text


def caption(cls: ShapeClass, *, generator: torch.Generator) -> str:
    """One caption of ``cls``: its four attributes in words, the wording drawn from ``generator``.

    E.g. ``"a pale bluish clean circle"`` or ``"square, noisy, dark, brown"``; see the module docstring
    for the vocabulary and the variation. ``attributes_of`` inverts it.
    """
    cls = _check_class(cls)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {generator!r}")
    return _caption(cls, generator)


Labels = Union[Sequence[int], torch.Tensor, np.ndarray]


def captions_for(classes: Sequence[ShapeClass], labels: Labels, *, seed: int) -> list[str]:
    """A caption of ``classes[labels[i]]`` for each i, drawn from ``settings.rng(seed)``: the right
    captions of a batch of labelled images, e.g. of ``data.shapes_dataset(classes, n)``."""
    classes = _check_classes(classes)
    labels = _check_labels(labels, len(classes))
    g = settings.rng(checks.seed("seed", seed))
    return [_caption(classes[label], g) for label in labels]


def captions(classes: Sequence[ShapeClass], n: int, *, seed: int) -> list[str]:
    """``n`` captions of each class, class by class in the order of ``classes``: item i describes image i of
    ``data.shapes_dataset(classes, n)``. The same ``seed`` gives the same strings; the wording varies
    from item to item."""
    classes = _check_classes(classes)
    n = checks.integer("n", n, 1)
    return captions_for(classes, [k for k in range(len(classes)) for _ in range(n)], seed=seed)


def wrong_captions(classes: Sequence[ShapeClass], labels: Labels, *, seed: int) -> list[str]:
    """For each i a caption of a class other than ``classes[labels[i]]``, drawn uniformly among the other
    len(classes) - 1: the mismatched pairs (x, h_wrong) of the matching-aware discriminator
    (``losses.matching_aware_discriminator_loss``). Never the item's own class; needs two classes or more."""
    classes = _check_classes(classes)
    if len(classes) < 2:
        raise ValueError(f"wrong captions need at least 2 classes (one to be wrong with), got {len(classes)}")
    labels = _check_labels(labels, len(classes))
    seed = checks.seed("seed", seed)
    g = settings.rng(seed)
    out = []
    for label in labels:
        shift = 1 + int(torch.randint(len(classes) - 1, (1,), generator=g))     # 1 .. K-1: never 0
        out.append(_caption(classes[(label + shift) % len(classes)], g))
    return out


def _words(text) -> list[str]:
    if not isinstance(text, str):
        raise ValueError(f"a caption must be a string, got {text!r}")
    words = text.lower().replace(",", " , ").split()
    if not words:
        raise ValueError(f"a caption must have words, got {text!r}")
    return words


def tokenize(texts: Sequence[str], vocab: Sequence[str] = WORDS,
             max_len: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Captions -> (tokens, lengths): tokens an int64 (n, max_len) tensor of word indices in ``vocab``
    (a word's index is its position; index 0 is ``PAD``), each row padded with 0 after its words, and
    lengths the (n,) int64 word counts. Captions are lower-cased and a comma is a word of its own.

    ``max_len=None`` pads to the longest caption; ``MAX_LEN`` fits every caption ``caption`` makes (fixed
    shapes across batches). A longer caption is refused, not cut (its last words carry meaning), and so is a
    word not in ``vocab``, naming it.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise ValueError(f"texts must be a non-empty sequence of strings, got {texts!r}")
    if isinstance(vocab, str) or not isinstance(vocab, Sequence) or len(vocab) < 2 or vocab[0] != PAD \
            or len(set(vocab)) != len(vocab):
        raise ValueError(f"vocab must be a sequence of distinct words with {PAD!r} first, got {vocab!r}")
    if max_len is not None:
        max_len = checks.integer("max_len", max_len, 1)
    index = {w: i for i, w in enumerate(vocab)}
    rows = []
    for text in texts:
        words = _words(text)
        unknown = [w for w in words if w not in index or w == PAD]
        if unknown:
            raise ValueError(f"unknown word {unknown[0]!r} in caption {text!r}; the vocabulary has no such word")
        if max_len is not None and len(words) > max_len:
            raise ValueError(f"caption {text!r} has {len(words)} tokens (a comma is one), more than max_len={max_len}")
        rows.append([index[w] for w in words])
    width = max_len if max_len is not None else max(len(r) for r in rows)
    tokens = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.int64)
    return tokens, torch.tensor([len(r) for r in rows], dtype=torch.int64)


def attributes_of(text: str) -> ShapeClass:
    """The class a caption describes: each of its words names one attribute value (fillers name none), so
    ``attributes_of(caption(cls, generator=g)) == cls`` for every class with words and every g.

    A word outside the vocabulary, an attribute named twice with different values ("dark light square"),
    or an attribute not named at all is refused, naming it.
    """
    found: dict[str, tuple[str, object]] = {}
    for w in _words(text):
        if w in FILLERS:
            continue
        if w not in _MEANING:
            raise ValueError(f"unknown word {w!r} in caption {text!r}; the vocabulary has no such word")
        attr, value = _MEANING[w]
        if attr in found and found[attr][1] != value:
            raise ValueError(f"caption {text!r} names {attr} twice: {found[attr][0]!r} and {w!r}")
        found[attr] = (w, value)
    missing = [a for a in _ATTRIBUTES if a not in found]
    if missing:
        raise ValueError(f"caption {text!r} names no {missing[0]} (it needs one of "
                         f"{tuple(w for ws in _TABLES[missing[0]].values() for w in ws)})")
    return ShapeClass(*(found[a][1] for a in _ATTRIBUTES))


class CaptionEncoder(nn.Module):
    """tokens (n, L) -> h (n, out_dim): h = MLP(mean of the word embeddings over the caption's words).

    An embedding per word (``PAD``'s fixed at 0), the mean over the non-padding positions, then Linear ->
    LeakyReLU(0.2) -> Linear. Mean pooling rather than a recurrent net: a caption here is a set of
    attribute words whose order is random by design, so an order-blind encoder has the right invariance
    built in, and masking makes it exactly blind to padding (a GRU would need packed sequences for that and
    would have to learn that order does not matter). Weights are drawn from torch's global generator like
    any ``nn`` layer: seed with ``settings.seed_everything`` before building for a reproducible encoder.
    A row of padding only (an empty caption) encodes as MLP(0).
    """

    def __init__(self, vocab_size: int, embed_dim: int, out_dim: int, *, hidden: int = 64) -> None:
        super().__init__()
        vocab_size = checks.integer("vocab_size", vocab_size, 2)
        embed_dim, out_dim = checks.integer("embed_dim", embed_dim, 1), checks.integer("out_dim", out_dim, 1)
        hidden = checks.integer("hidden", hidden, 1)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))
        self.vocab_size, self.embed_dim, self.out_dim, self.hidden = vocab_size, embed_dim, out_dim, hidden

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """The (n, embed_dim) mean embedding of each caption's words, before the MLP."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2 \
                or tokens.shape[1] == 0:
            got = f"{tokens.dtype} tensor of shape {tuple(tokens.shape)}" if isinstance(tokens, torch.Tensor) \
                else type(tokens).__name__
            raise ValueError(f"tokens must be an int64 tensor of shape (n, L) with L >= 1 (from tokenize), got {got}")
        mask = (tokens != 0).unsqueeze(-1).to(self.embed.weight.dtype)
        total = (self.embed(tokens) * mask).sum(dim=1)
        return total / mask.sum(dim=1).clamp_min(1.0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pooled(tokens))
